//! The write-merge protocol with one reply slot per waiting writer:
//! [`GroupCommit`].
//!
//! See the [crate docs](crate) for the protocol and how each part maps to
//! goleveldb. In short, one mutex guards the meeting point ([`State`]): the
//! write-lock token, the queue of offered writes, the queue of writers that
//! only want the lock, and the sticky errors. A writer that must wait puts
//! a [`Slot`] in a queue and sleeps on the slot's own condition variable; a
//! leader answers it by filling the slot, which never blocks the leader.

use std::collections::VecDeque;
use std::io;
use std::mem;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use batch::{Batch, Record, SeqNum};

use crate::metrics::Counters;
use crate::offer::{self, merge_limit, Offer, Own};
use crate::sync::{lock, wait, AtomicBool, AtomicU64, Condvar, Mutex};
use crate::{Backend, Metrics, Options, RoomError, WriteError, WriteOptions};

/// The group-commit writer: shared by every writer thread (by `&` or
/// [`Arc`]), it serialises writes through one leader at a time, which merges
/// the writes waiting behind it into one journal record and at most one
/// fsync.
///
/// See the [crate docs](crate) for the protocol, its guarantees and an
/// example.
pub struct GroupCommit {
    /// The writers' meeting point.
    state: Mutex<State>,
    /// Signalled when the token comes back to [`State::token`] while `close`
    /// waits for it.
    idle: Condvar,
    /// Options fixed at construction.
    options: Options,
    /// The last sequence number applied to the memtable, for
    /// [`last_seq`](GroupCommit::last_seq).
    // Invariant: written only by the token holder, after `Memtable::apply`.
    published: AtomicU64,
    /// The counters behind [`metrics`](GroupCommit::metrics).
    counters: Counters,
    /// A hint: whether the write lock is held. A writer that sees it set
    /// copies its write for the leader before taking the state mutex, so
    /// that it takes the mutex once rather than twice.
    // Invariant: stored under the state mutex whenever the token leaves or
    // re-enters `State::token`. Read without the mutex, so it may be stale;
    // nothing depends on it but speed.
    lock_held: AtomicBool,
    /// Writes in the last group, for [`gather`](GroupCommit::gather).
    last_group: AtomicU64,
    /// A moving average of the backend's sync time in nanoseconds (0 before
    /// the first), for [`gather`](GroupCommit::gather).
    sync_nanos: AtomicU64,
}

/// Everything writers meet over, under [`GroupCommit::state`].
struct State {
    /// The write lock (goleveldb `writeLockC`): `Some` when free. Taking it
    /// out is acquiring the lock; whoever holds the [`Token`] holds the lock
    /// and the backend.
    // Invariant: while the token is free and the writer is not closed, both
    // queues are empty: a releasing leader hands the token to the oldest
    // waiter rather than put it back.
    token: Option<Box<Token>>,
    /// Writes offered to the leader, oldest first (goleveldb `writeMergeC`).
    /// A writer in this queue is also waiting for the lock, as goleveldb's
    /// `select` sends on both `writeMergeC` and `writeLockC`.
    offers: VecDeque<Waiter>,
    /// Writers that wait for the lock but do not merge (merging off for
    /// them), and maintenance tasks (`with_backend`), oldest first.
    lockers: VecDeque<Waiter>,
    /// The ticket of the next waiter, to find the oldest of both queues.
    next_ticket: u64,
    /// Set by `close` (goleveldb `closeC`). Never cleared.
    closed: bool,
    /// Whether `close` waits on [`GroupCommit::idle`].
    closer_waiting: bool,
    /// The journal error that poisoned the writer. Never cleared.
    poisoned: Option<Arc<io::Error>>,
    /// The persistent background error (goleveldb `compPerErrC`). Never
    /// cleared.
    background: Option<RoomError>,
}

/// The write lock and what only its holder may touch.
struct Token {
    /// The journal, memtable and flush side.
    backend: Box<dyn Backend>,
    /// The last sequence number used by a committed group.
    last_seq: SeqNum,
    /// The group being built: reused across groups to save allocations.
    // Invariant: cleared at the start of every group.
    group: Batch,
    /// The writes merged into the group being built, in merge order.
    // Invariant: empty outside a group commit.
    members: Vec<Arc<Slot>>,
}

impl Token {
    /// Step 4: gives the group built in `group` the sequence numbers after
    /// the last one used; returns its first and last.
    fn number_group(&mut self) -> Result<(SeqNum, SeqNum), WriteError> {
        let n_records = self.group.len() as u64;
        let first = self.last_seq.checked_add(1);
        let last = first.and_then(|first| first.checked_add(n_records - 1));
        let (Some(first), Some(last)) = (first, last) else {
            return Err(WriteError::SeqOverflow {
                last: self.last_seq,
                n_records,
            });
        };
        self.group.set_seq(first);
        Ok((first, last))
    }
}

/// A writer waiting in a queue.
struct Waiter {
    /// Arrival order across both queues.
    ticket: u64,
    /// Where its answer goes.
    slot: Arc<Slot>,
    /// A `with_backend` call rather than a write: it fails only on close.
    maintenance: bool,
}

/// One waiting writer's offer and the place for its answer: goleveldb's
/// `writeMergedC` and `writeAckC`, private to this writer.
struct Slot {
    /// The offered write.
    offer: Offer,
    /// The answer, once given, and the writers this one must wake after
    /// taking it (see [`WakeNext`]).
    // Invariant: filled exactly once.
    reply: Mutex<Option<(Reply, WakeNext)>>,
    /// Signalled when `reply` is filled.
    ready: Condvar,
    /// Whether the writer went to sleep on `ready` (see [`Slot::wake`]).
    // Invariant: set only under the `reply` mutex, while `reply` is empty.
    parked: AtomicBool,
}

/// The answer to a waiting writer.
enum Reply {
    /// Done: the result of the group it was merged into, or a reason it was
    /// never attempted (closed, poisoned, background error).
    Done(Result<SeqNum, WriteError>),
    /// The write lock is yours: the writer leads a group of its own. Carries
    /// the token, handed over without being released.
    Lock(Box<Token>),
}

/// Merged writers a woken writer wakes in turn: the wake tree.
///
/// Waking a sleeping thread costs a futex syscall, and on two cores the
/// woken thread often preempts its waker at once: a leader that woke each of
/// 60 members itself measured about 10 µs per member, more than a 150 µs
/// fsync for the whole group. So the leader fills every member's slot
/// (cheap, and all before it releases the lock), then wakes only the first
/// [`FAN_OUT`]; member `k` wakes members `FAN_OUT * (k + 1)` to
/// `FAN_OUT * (k + 1) + FAN_OUT - 1` as soon as it runs. A member's result
/// is fixed when its slot is filled; the tree only delivers it, spread over
/// the members' own threads.
type WakeNext = [Option<Arc<Slot>>; FAN_OUT];

/// Children per node of the wake tree. Four rather than two: the last
/// member of a group of 14 is woken at depth 2 instead of 3, and of 40 at
/// depth 3 instead of 5, each level being a wake-up latency; fillsync at 16
/// and 64 threads measured about 7% faster in paired runs (8 did no better).
const FAN_OUT: usize = 4;

/// How a writer came out of waiting.
enum Acquired {
    /// It holds the write lock.
    Lock(Box<Token>),
    /// It is done, with this result.
    Done(Result<SeqNum, WriteError>),
}

impl GroupCommit {
    /// A writer over `backend`, whose last used sequence number is `last_seq`
    /// (the first write gets `last_seq + 1`).
    pub fn new(backend: Box<dyn Backend>, last_seq: SeqNum, options: Options) -> GroupCommit {
        let token = Token {
            backend,
            last_seq,
            group: Batch::new(),
            members: Vec::new(),
        };
        GroupCommit {
            state: Mutex::new(State {
                token: Some(Box::new(token)),
                offers: VecDeque::new(),
                lockers: VecDeque::new(),
                next_ticket: 0,
                closed: false,
                closer_waiting: false,
                poisoned: None,
                background: None,
            }),
            idle: Condvar::new(),
            options,
            published: AtomicU64::new(last_seq.0),
            counters: Counters::default(),
            lock_held: AtomicBool::new(false),
            last_group: AtomicU64::new(0),
            sync_nanos: AtomicU64::new(0),
        }
    }

    /// Writes `batch` atomically and returns the sequence number of its
    /// first record; its records take that and the following ones.
    ///
    /// The batch is read, never modified. An empty batch returns at once with
    /// [`last_seq`](GroupCommit::last_seq) and consumes no sequence number.
    ///
    /// # Errors
    ///
    /// See [`WriteError`]. On any error nothing of the batch is visible.
    pub fn write(&self, batch: &Batch, opts: WriteOptions) -> Result<SeqNum, WriteError> {
        if batch.is_empty() {
            if lock(&self.state).closed {
                return Err(WriteError::Closed);
            }
            return Ok(self.last_seq());
        }
        self.write_own(Own::Batch(batch), opts)
    }

    /// Writes one put of `key` to `value` and returns its sequence number.
    ///
    /// It is merged as a single record, without building a batch for it.
    ///
    /// # Errors
    ///
    /// See [`WriteError`].
    pub fn put(&self, key: &[u8], value: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError> {
        self.write_own(Own::Record(Record::Put { key, value }), opts)
    }

    /// Writes one delete of `key` and returns its sequence number.
    ///
    /// # Errors
    ///
    /// See [`WriteError`].
    pub fn delete(&self, key: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError> {
        self.write_own(Own::Record(Record::Delete { key }), opts)
    }

    /// Sets the persistent background error (goleveldb's `compPerErrC`):
    /// every writer waiting now gets it at once, and so does every later
    /// write. The write in flight finishes with its own result.
    ///
    /// The first error set stays; later ones are ignored.
    pub fn set_background_error(&self, err: RoomError) {
        let failed = {
            let mut state = lock(&self.state);
            if state.background.is_some() {
                return;
            }
            state.background = Some(err.clone());
            state.drain_writes()
        };
        answer_all(failed, &WriteError::Background(err));
    }

    /// Closes the writer: every waiting writer returns
    /// [`WriteError::Closed`] at once, the group in flight finishes (its
    /// writers get their real result), and then `close` returns. Later writes
    /// and [`with_backend`](GroupCommit::with_backend) calls get `Closed`.
    ///
    /// No acknowledged write is lost: every write answered `Ok` was
    /// journaled and applied before its answer.
    ///
    /// # Errors
    ///
    /// [`WriteError::Closed`] if already closed.
    pub fn close(&self) -> Result<(), WriteError> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(WriteError::Closed);
        }
        state.closed = true;
        let failed = state.drain_all();
        // Answer outside the lock, so that the woken writers do not block on
        // it; nobody else can reach these slots any more.
        drop(state);
        answer_all(failed, &WriteError::Closed);

        let mut state = lock(&self.state);
        while state.token.is_none() {
            state.closer_waiting = true;
            state = wait(&self.idle, state);
        }
        state.closer_waiting = false;
        // The token stays in `state`, where `closed` keeps anyone from taking
        // it: the write lock is never released again.
        Ok(())
    }

    /// The last sequence number applied to the memtable.
    pub fn last_seq(&self) -> SeqNum {
        SeqNum(self.published.load(Ordering::Acquire))
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        let mut metrics = self.counters.snapshot();
        let state = lock(&self.state);
        metrics.waiting = (state.offers.len() + state.lockers.len()) as u64;
        metrics
    }

    /// Runs `f` on the backend while holding the write lock, with no write
    /// in flight: for maintenance such as forcing a memtable rotation.
    ///
    /// It waits for the lock like a write that does not merge, and works
    /// even when the writer is poisoned or has a background error. Use
    /// [`Backend::as_any_mut`] to reach the concrete type.
    /// If `f` panics, the writer is poisoned: the backend's state is unknown.
    ///
    /// # Errors
    ///
    /// [`WriteError::Closed`] if the writer is closed, before or while
    /// waiting.
    pub fn with_backend<R>(&self, f: impl FnOnce(&mut dyn Backend) -> R) -> Result<R, WriteError> {
        let token = match self.acquire_maintenance()? {
            Acquired::Lock(token) => token,
            Acquired::Done(Err(err)) => return Err(err),
            Acquired::Done(Ok(_)) => unreachable!("a maintenance waiter is never merged"),
        };
        let mut leader = Leader::new(self, token);
        let result = f(&mut *leader.token().backend);
        leader.release(None);
        Ok(result)
    }

    /// Takes the backend back, for example to close the journal after
    /// [`close`](GroupCommit::close).
    ///
    /// `None` only if a thread panicked while holding the write lock in a
    /// way the leader guard could not recover from, which should not happen.
    pub fn into_backend(self) -> Option<Box<dyn Backend>> {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.token.map(|token| token.backend)
    }

    /// The whole protocol for one write (a writer, steps 1 and 2).
    fn write_own(&self, own: Own<'_>, opts: WriteOptions) -> Result<SeqNum, WriteError> {
        offer::validate(own)?;
        let merge = opts.merge && self.options.merge;
        match self.acquire(own, opts.sync, merge)? {
            Acquired::Done(result) => result,
            Acquired::Lock(token) => Leader::new(self, token).commit(own, opts.sync, merge),
        }
    }

    /// Writer step 1: take the free write lock, or queue (offering the write
    /// when `merge`) and wait to be merged or handed the lock.
    fn acquire(&self, own: Own<'_>, sync: bool, merge: bool) -> Result<Acquired, WriteError> {
        if !self.lock_held.load(Ordering::Relaxed) {
            // The lock looks free: try to take it without copying the write.
            let mut state = lock(&self.state);
            state.check_write()?;
            if let Some(token) = self.take_token(&mut state) {
                return Ok(Acquired::Lock(token));
            }
        }
        // The lock is busy: copy the write for the leader outside the mutex,
        // then queue, unless the lock came free meanwhile.
        let slot = Arc::new(Slot::new(Offer::new(own, sync, merge)));
        {
            let mut state = lock(&self.state);
            state.check_write()?;
            if let Some(token) = self.take_token(&mut state) {
                return Ok(Acquired::Lock(token));
            }
            state.enqueue(Arc::clone(&slot), merge, false);
        }
        Ok(slot.wait())
    }

    /// Takes the write lock if it is free.
    fn take_token(&self, state: &mut State) -> Option<Box<Token>> {
        let token = state.token.take()?;
        self.lock_held.store(true, Ordering::Relaxed);
        Some(token)
    }

    /// As [`acquire`](GroupCommit::acquire) for `with_backend`: waits for
    /// the lock only, and fails only when closed.
    fn acquire_maintenance(&self) -> Result<Acquired, WriteError> {
        let slot = {
            let mut state = lock(&self.state);
            if state.closed {
                return Err(WriteError::Closed);
            }
            if let Some(token) = self.take_token(&mut state) {
                return Ok(Acquired::Lock(token));
            }
            let slot = Arc::new(Slot::new(Offer::lock_only()));
            state.enqueue(Arc::clone(&slot), false, true);
            slot
        };
        Ok(slot.wait())
    }
}

impl State {
    /// Why a write arriving now fails at once, if it does: closed, then
    /// poisoned, then a background error.
    fn check_write(&self) -> Result<(), WriteError> {
        if self.closed {
            Err(WriteError::Closed)
        } else if let Some(cause) = &self.poisoned {
            Err(WriteError::Poisoned(Arc::clone(cause)))
        } else if let Some(err) = &self.background {
            Err(WriteError::Background(err.clone()))
        } else {
            Ok(())
        }
    }

    fn enqueue(&mut self, slot: Arc<Slot>, merge: bool, maintenance: bool) {
        let waiter = Waiter {
            ticket: self.next_ticket,
            slot,
            maintenance,
        };
        self.next_ticket += 1;
        if merge {
            self.offers.push_back(waiter);
        } else {
            self.lockers.push_back(waiter);
        }
    }

    /// Removes the oldest waiter of both queues.
    fn pop_oldest(&mut self) -> Option<Waiter> {
        let offers_first = match (self.offers.front(), self.lockers.front()) {
            (Some(offer), Some(locker)) => offer.ticket < locker.ticket,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if offers_first {
            self.offers.pop_front()
        } else {
            self.lockers.pop_front()
        }
    }

    /// Removes every waiting write, keeping maintenance waiters.
    fn drain_writes(&mut self) -> Vec<Arc<Slot>> {
        let mut failed: Vec<Arc<Slot>> = self.offers.drain(..).map(|w| w.slot).collect();
        self.lockers.retain(|waiter| {
            if waiter.maintenance {
                true
            } else {
                failed.push(Arc::clone(&waiter.slot));
                false
            }
        });
        failed
    }

    /// Removes every waiter.
    fn drain_all(&mut self) -> Vec<Arc<Slot>> {
        let offers = self.offers.drain(..);
        offers
            .chain(self.lockers.drain(..))
            .map(|w| w.slot)
            .collect()
    }
}

impl Slot {
    fn new(offer: Offer) -> Slot {
        Slot {
            offer,
            reply: Mutex::new(None),
            ready: Condvar::new(),
            parked: AtomicBool::new(false),
        }
    }

    /// Fills the slot with its answer without waking the writer; `wake_next`
    /// are the writers it must wake once it runs.
    fn fill(&self, reply: Reply, wake_next: WakeNext) {
        let mut slot = lock(&self.reply);
        debug_assert!(slot.is_none(), "a writer was answered twice");
        *slot = Some((reply, wake_next));
    }

    /// Wakes the writer, whose slot is filled, if it sleeps: a writer that
    /// found its answer while yielding needs no futex wake-up.
    fn wake(&self) {
        // `parked` is stored under the `reply` mutex before the writer
        // sleeps, and the slot was filled under that mutex before this call:
        // by this thread, or by the leader, which fills a child's slot
        // before its parent's (`ack` goes from the last member back), and
        // the parent calling this took its own answer under its mutex
        // since. So either the store happened before the fill, and is
        // visible here through those mutexes, or the writer sees the answer
        // and never sleeps.
        if self.parked.load(Ordering::Relaxed) {
            self.ready.notify_one();
        }
    }

    /// Gives the waiting writer its answer and wakes it. Never blocks on the
    /// writer: it only fills the slot and signals, and the writer runs on its
    /// own time.
    fn answer(&self, reply: Reply) {
        self.fill(reply, Default::default());
        self.wake();
    }

    /// Waits for the answer, then wakes the writers this one must wake.
    ///
    /// A write that did not ask for sync is answered within a few
    /// microseconds (one journal append and memtable insert), so before it
    /// parks it yields its core a few times and looks again: with more
    /// threads than cores, the threads it yields to are the writers that
    /// join the group, and an answer found this way costs no futex sleep
    /// and wake-up. (Measured in `writer/README.md`; a synced write, whose
    /// answer takes an fsync, parks at once.)
    fn wait(&self) -> Acquired {
        if !cfg!(loom) && !self.offer.sync {
            for _ in 0..UNSYNCED_YIELDS {
                if self.reply.try_lock().is_ok_and(|reply| reply.is_some()) {
                    break;
                }
                std::thread::yield_now();
            }
        }
        let mut slot = lock(&self.reply);
        let (reply, wake_next) = loop {
            match slot.take() {
                Some(answer) => break answer,
                None => {
                    self.parked.store(true, Ordering::Relaxed);
                    slot = wait(&self.ready, slot);
                }
            }
        };
        drop(slot);
        for next in wake_next.into_iter().flatten() {
            next.wake();
        }
        match reply {
            Reply::Done(result) => Acquired::Done(result),
            Reply::Lock(token) => Acquired::Lock(token),
        }
    }
}

/// Answers every slot with `err`.
fn answer_all(slots: Vec<Arc<Slot>>, err: &WriteError) {
    for slot in slots {
        slot.answer(Reply::Done(Err(err.clone())));
    }
}

/// The holder of the write lock, running one group commit (or a maintenance
/// task).
///
/// Its `Drop` is the safety net of raft-engine's leader guard: if the
/// backend panics mid-group, it poisons the writer, answers every merged
/// writer, and releases or hands off the lock, so that no writer hangs.
struct Leader<'a> {
    gc: &'a GroupCommit,
    /// The write lock, until released.
    token: Option<Box<Token>>,
    /// The write that did not fit, taken from the queue: it gets the lock
    /// when this group is done.
    overflow: Option<Arc<Slot>>,
}

impl<'a> Leader<'a> {
    fn new(gc: &'a GroupCommit, token: Box<Token>) -> Leader<'a> {
        Leader {
            gc,
            token: Some(token),
            overflow: None,
        }
    }

    fn token(&mut self) -> &mut Token {
        self.token
            .as_mut()
            .expect("the leader holds the token until it ends")
    }

    /// The leader's group commit, steps 1 to 8, with `own` first.
    fn commit(mut self, own: Own<'_>, sync: bool, merge: bool) -> Result<SeqNum, WriteError> {
        let gc = self.gc;
        let own_len = own.internal_len();
        if self.token().backend.is_large(own_len) {
            return self.commit_large(own);
        }

        // Step 1: make room for our own write.
        let started = Instant::now();
        let room = self.token().backend.make_room(own_len);
        gc.counters.room_wait(started.elapsed());
        let free = match room {
            Ok(free) => free,
            Err(err) => {
                // Nothing merged yet: only we see the error.
                self.release(None);
                return Err(WriteError::Room(err));
            }
        };

        // Steps 2 and 3: merge the writes already waiting, up to the limit.
        let mut group_sync = sync;
        if merge && sync {
            gc.gather();
        }
        if merge {
            let limit = merge_limit(own_len, free);
            if limit > 0 {
                let Leader {
                    token, overflow, ..
                } = &mut self;
                let token = token.as_mut().expect("the leader holds the token");
                let Token {
                    backend, members, ..
                } = &mut **token;
                let is_large = |n| backend.is_large(n);
                *overflow =
                    gc.take_offers(limit, own.n_records(), members, &mut group_sync, &is_large);
            }
        }

        // Step 4: sequence numbers.
        let token = self.token();
        token.group.clear();
        own.append_to(&mut token.group);
        for member in &token.members {
            member.offer.append_to(&mut token.group);
        }
        let (first, last) = match token.number_group() {
            Ok(range) => range,
            Err(err) => return self.finish(Err(err), own.n_records(), None),
        };

        // Step 5: one journal record, and at most one fsync.
        if let Err(err) = token.backend.append(&token.group) {
            return self.fail_journal(err, own.n_records());
        }
        if group_sync {
            Counters::add(&gc.counters.fsyncs, 1);
            let started = Instant::now();
            if let Err(err) = token.backend.sync() {
                return self.fail_journal(err, own.n_records());
            }
            gc.note_sync(started.elapsed());
        }

        // Step 6: the memtable, then the publication of the new last
        // sequence number (done by `apply` for readers, and here for
        // `last_seq`).
        token.backend.apply(&token.group);
        token.last_seq = last;
        gc.published.store(last.0, Ordering::Release);

        // Step 7: rotate the memtable if full. An error here cannot undo the
        // group, which is journaled and applied: it poisons later writes.
        let applied = token.group.internal_len();
        if token.group.as_bytes().len() > MAX_KEPT_GROUP_BYTES {
            token.group = Batch::new();
        }
        if let Err(err) = token.backend.after_write(applied) {
            gc.set_background_error(err);
        }

        // Step 8.
        self.finish(Ok(first), own.n_records(), None)
    }

    /// The group commit of a large write (see [`Room::is_large`]): alone,
    /// numbered as step 4 numbers a group, then made durable and visible
    /// by the backend in one step in place of steps 1, 5, 6 and 7. A
    /// failure leaves nothing behind (the backend's promise), so the
    /// sequence numbers are not consumed and the writer is not poisoned.
    ///
    /// [`Room::is_large`]: crate::Room::is_large
    fn commit_large(mut self, own: Own<'_>) -> Result<SeqNum, WriteError> {
        let gc = self.gc;
        let token = self.token();
        token.group.clear();
        own.append_to(&mut token.group);
        let (first, last) = match token.number_group() {
            Ok(range) => range,
            Err(err) => return self.finish(Err(err), own.n_records(), None),
        };
        let started = Instant::now();
        let written = token.backend.write_large(&token.group);
        gc.counters.room_wait(started.elapsed());
        if token.group.as_bytes().len() > MAX_KEPT_GROUP_BYTES {
            token.group = Batch::new();
        }
        if let Err(err) = written {
            return self.finish(Err(WriteError::Room(err)), own.n_records(), None);
        }
        token.last_seq = last;
        gc.published.store(last.0, Ordering::Release);
        self.finish(Ok(first), own.n_records(), None)
    }

    /// A failed journal append or sync: the group fails, and the writer is
    /// poisoned so that no later group reuses its sequence numbers or
    /// retries the fsync.
    fn fail_journal(self, err: io::Error, own_records: usize) -> Result<SeqNum, WriteError> {
        let cause = Arc::new(err);
        let poison = if cfg!(feature = "seeded_bug_seq_reuse_after_error") {
            // Seeded bug: treat the failure as transient, as goleveldb does
            // (its quirk (a)): the next group starts at the same sequence
            // number.
            None
        } else {
            Some(Arc::clone(&cause))
        };
        self.finish(Err(WriteError::Log(cause)), own_records, poison)
    }

    /// Step 8: answer every merged writer with the group's one result, and
    /// only then release the lock or hand it to the overflow writer.
    /// `own_records` is the leader's own record count, which comes first in
    /// the group. Returns the leader's own result.
    fn finish(
        mut self,
        result: Result<SeqNum, WriteError>,
        own_records: usize,
        poison: Option<Arc<io::Error>>,
    ) -> Result<SeqNum, WriteError> {
        let mut members = mem::take(&mut self.token().members);
        let roots: WakeNext = std::array::from_fn(|i| members.get(i).cloned());
        if cfg!(feature = "seeded_bug_ack_after_unlock") {
            // Seeded bug (goleveldb #136, fixed by PR #137): release the lock
            // first and answer the group afterwards.
            self.release(poison);
            self.gc.ack(&members, own_records, &result);
        } else {
            self.gc.ack(&members, own_records, &result);
            // Keep the members' allocation for the next group.
            members.clear();
            self.token().members = members;
            self.release(poison);
        }
        // Every member's answer is fixed; now deliver it, through the wake
        // tree, after the next leader was woken.
        for root in roots.into_iter().flatten() {
            root.wake();
        }
        result
    }

    /// Releases the lock, or hands it to the overflow writer.
    fn release(&mut self, poison: Option<Arc<io::Error>>) {
        let token = self.token.take().expect("the leader holds the token");
        let overflow = self.overflow.take();
        self.gc.release_token(token, overflow, poison);
    }
}

/// The group buffer is dropped after a group larger than this, rather than
/// kept for the next group, so one huge batch does not pin its memory.
const MAX_KEPT_GROUP_BYTES: usize = 2 * crate::MERGE_LIMIT_LARGE;

/// How often an unsynced writer yields its core, looking for its answer,
/// before it parks (see [`Slot::wait`]).
const UNSYNCED_YIELDS: usize = 8;

/// The longest a synced group's leader waits for the previous group's
/// writers to come back, whatever the sync time.
const GATHER_MAX: Duration = Duration::from_micros(300);

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let Some(mut token) = self.token.take() else {
            return;
        };
        // Only a panic in the backend (or a bug) gets here: the group's
        // state is unknown, so poison the writer and answer everyone.
        let cause = Arc::new(io::Error::other(
            "a group-commit leader panicked; the journal's state is unknown",
        ));
        let members = mem::take(&mut token.members);
        let err = WriteError::Poisoned(Arc::clone(&cause));
        for member in &members {
            member.answer(Reply::Done(Err(err.clone())));
        }
        let overflow = self.overflow.take();
        self.gc.release_token(token, overflow, Some(cause));
    }
}

impl GroupCommit {
    /// Leader step 3: take the writes already waiting, oldest first, while
    /// they fit in `limit`; returns the first that does not (the overflow
    /// writer), or the first that `is_large`, which leads its own group
    /// whatever the limit. Merging a write is taking it out of the queue: that is the
    /// answer "merged" (goleveldb's `writeMergedC <- true`), given without
    /// waking the writer, which sleeps on until its ack.
    fn take_offers(
        &self,
        mut limit: usize,
        mut n_records: usize,
        members: &mut Vec<Arc<Slot>>,
        group_sync: &mut bool,
        is_large: &dyn Fn(usize) -> bool,
    ) -> Option<Arc<Slot>> {
        let mut state = lock(&self.state);
        while limit > 0 {
            let Some(front) = state.offers.front() else {
                break;
            };
            let offer = &front.slot.offer;
            if !offer.fits(limit, n_records) || is_large(offer.internal_len) {
                Counters::add(&self.counters.overflows, 1);
                return state.offers.pop_front().map(|waiter| waiter.slot);
            }
            limit -= offer.internal_len;
            n_records += offer.n_records;
            if !cfg!(feature = "seeded_bug_dropped_sync_flag") {
                *group_sync |= offer.sync;
            }
            let waiter = state.offers.pop_front().expect("front exists");
            members.push(waiter.slot);
        }
        None
    }

    /// Commit delay (PostgreSQL's `commit_delay`, MySQL's
    /// `binlog_group_commit_sync_delay`): before a synced group merges, wait
    /// briefly for the writers of the previous group, which are being woken
    /// now and will offer their next write, so that one fsync serves them
    /// too instead of a second cohort's.
    ///
    /// The wait is a bet, and it stops as soon as it stops paying. A group
    /// of `g` writes that waited `w` costs `(sync + w) / g` per write; one
    /// more writer lowers that only if it arrives within that cost. So the
    /// wait ends when all the writers expected are queued (the previous
    /// group's size plus those waiting at the start), when no writer arrived
    /// for that cost, when the pace of arrivals says the rest would come
    /// after the wait's end, or at that end: one sync time, at most
    /// `GATHER_MAX`. With few threads it gathers the whole previous group;
    /// with many threads on few cores, where waking them is the bottleneck,
    /// it stops early and lets the rest form the next group during this
    /// group's fsync (measured in `writer/README.md`).
    ///
    /// It changes only when the merge loop runs, never what it may merge:
    /// the loop still takes only writers already waiting, within the limits.
    /// The loom models leave it out (a timed spin would only multiply their
    /// interleavings without adding a new one).
    fn gather(&self) {
        if cfg!(loom) {
            return;
        }
        let previous = self.last_group.load(Ordering::Relaxed) as usize;
        let sync = Duration::from_nanos(self.sync_nanos.load(Ordering::Relaxed));
        if previous <= 1 || sync.is_zero() {
            return;
        }
        let started = Instant::now();
        let mut waiting = lock(&self.state).offers.len();
        let expected = previous + waiting;
        let max_wait = sync.min(GATHER_MAX);
        let at_start = waiting;
        let mut last_arrival = started;
        loop {
            let now = Instant::now();
            let group = waiting + 1;
            let waited = now - started;
            if group >= expected || waited >= max_wait {
                break;
            }
            let cost_per_write = (sync + waited) / group as u32;
            if now - last_arrival > cost_per_write {
                break;
            }
            let arrived = waiting - at_start;
            // Once a quarter of the writers expected came back, their pace
            // predicts the rest: stop if the whole group would not be in
            // before the wait's end (many threads on few cores).
            if arrived >= 2.max((expected - at_start) / 4) {
                let projected = waited + waited / arrived as u32 * (expected - group) as u32;
                if projected > max_wait {
                    break;
                }
            }
            std::thread::yield_now();
            let now_waiting = lock(&self.state).offers.len();
            if now_waiting > waiting {
                waiting = now_waiting;
                last_arrival = Instant::now();
            }
        }
    }

    /// Folds one sync time into the moving average (weight 1/8).
    fn note_sync(&self, took: Duration) {
        if cfg!(loom) {
            return; // as `gather`: no use there, and extra interleavings
        }
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = self.sync_nanos.load(Ordering::Relaxed);
        let new = if old == 0 {
            took
        } else {
            old - old / 8 + took / 8
        };
        // Only the leader stores it: a plain store suffices.
        self.sync_nanos.store(new, Ordering::Relaxed);
    }

    /// The ack half of step 8: every merged writer gets the group's result;
    /// on success each its own first sequence number.
    fn ack(&self, members: &[Arc<Slot>], own_records: usize, result: &Result<SeqNum, WriteError>) {
        self.counters
            .group_answered(1 + members.len() as u64, result.is_ok());
        self.last_group
            .store(1 + members.len() as u64, Ordering::Relaxed);
        // Fill from the last member back: a member's children in the wake
        // tree come after it, so they are answered before it is. A member
        // that finds its answer without waiting for its wake-up (an unsynced
        // writer looks before it parks) may wake its children at once, and
        // they must find theirs.
        let total: u64 = members.iter().map(|m| m.offer.n_records as u64).sum();
        let mut seq_after = result
            .as_ref()
            .map_or(0, |first| first.0 + own_records as u64 + total);
        for (k, member) in members.iter().enumerate().rev() {
            let reply = match result {
                Ok(_) => {
                    seq_after -= member.offer.n_records as u64;
                    Ok(SeqNum(seq_after))
                }
                // Seeded bug (goleveldb-style #3096): followers are told OK
                // though the journal write failed.
                Err(_) if cfg!(feature = "seeded_bug_follower_ok_after_error") => Ok(SeqNum(0)),
                Err(err) => Err(err.clone()),
            };
            let wake_next: WakeNext =
                std::array::from_fn(|i| members.get(FAN_OUT * (k + 1) + i).cloned());
            member.fill(Reply::Done(reply), wake_next);
        }
    }

    /// The unlock half of step 8: record the poison, then hand the token to
    /// the overflow writer, or to the oldest waiter, or put it back. When the
    /// writer is closed, poisoned or has a background error, nobody gets it:
    /// the waiters (the overflow writer included) are answered with the
    /// error instead.
    fn release_token(
        &self,
        token: Box<Token>,
        overflow: Option<Arc<Slot>>,
        poison: Option<Arc<io::Error>>,
    ) {
        let mut state = lock(&self.state);
        if let Some(cause) = poison {
            state.poisoned.get_or_insert(cause);
        }
        let (failed, err) = match state.check_write() {
            Ok(()) => (Vec::new(), None),
            Err(err) => {
                let mut failed = if state.closed {
                    state.drain_all()
                } else {
                    state.drain_writes()
                };
                failed.extend(overflow.clone());
                (failed, Some(err))
            }
        };
        let next = match (err.is_none(), overflow) {
            (true, Some(overflow)) => Some(overflow),
            _ if state.closed => None,
            _ => state.pop_oldest().map(|waiter| waiter.slot),
        };
        let handed = match next {
            Some(next) => Some((next, token)),
            None => {
                state.token = Some(token);
                self.lock_held.store(false, Ordering::Relaxed);
                if state.closer_waiting {
                    self.idle.notify_all();
                }
                None
            }
        };
        drop(state);
        if let Some(err) = err {
            answer_all(failed, &err);
        }
        if let Some((next, token)) = handed {
            next.answer(Reply::Lock(token));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend that does nothing, for tests of the answer path alone.
    struct Nop;

    impl crate::Log for Nop {
        fn append(&mut self, _group: &Batch) -> io::Result<()> {
            Ok(())
        }
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl crate::Memtable for Nop {
        fn apply(&mut self, _group: &Batch) {}
    }

    impl crate::Room for Nop {
        fn make_room(&mut self, n: usize) -> Result<usize, RoomError> {
            Ok(n)
        }
        fn after_write(&mut self, _applied: usize) -> Result<(), RoomError> {
            Ok(())
        }
    }

    /// A member may find its answer before anyone wakes it (an unsynced
    /// writer looks before it parks) and then wakes its children in the
    /// wake tree at once: they must already be answered, or a parked
    /// child's only wake-up is lost and it waits forever. (The loom models
    /// have too few writers for a tree deeper than its roots.)
    #[test]
    fn children_in_the_wake_tree_are_answered_before_their_parent() {
        use std::sync::atomic::AtomicBool as StdAtomicBool;
        let gc = GroupCommit::new(Box::new(Nop), SeqNum(0), Options { merge: true });
        for _ in 0..300 {
            let members: Vec<Arc<Slot>> = (0..64)
                .map(|_| Arc::new(Slot::new(Offer::lock_only())))
                .collect();
            let spinning = Arc::new(StdAtomicBool::new(false));
            let parent = {
                let (members, spinning) = (members.clone(), Arc::clone(&spinning));
                std::thread::spawn(move || {
                    spinning.store(true, Ordering::Release);
                    while !members[0].reply.try_lock().is_ok_and(|r| r.is_some()) {
                        std::hint::spin_loop();
                    }
                    (FAN_OUT..2 * FAN_OUT).all(|c| lock(&members[c].reply).is_some())
                })
            };
            while !spinning.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            gc.ack(&members, 1, &Ok(SeqNum(1)));
            assert!(
                parent.join().unwrap(),
                "member 0 was answered before its children"
            );
        }
    }

    #[test]
    fn shared_by_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<GroupCommit>();
        send_sync::<Slot>();
    }
}

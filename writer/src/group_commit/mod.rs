//! The write-merge protocol with one reply slot per waiting writer:
//! [`GroupCommit`].
//!
//! See the [crate docs](crate) for the protocol and how each part maps to
//! goleveldb. In short, one mutex guards the meeting point ([`State`]): the
//! write-lock token, the queue of offered writes, the queue of writers that
//! only want the lock, and the sticky errors. A writer that must wait puts
//! a [`Slot`] in a queue and sleeps on the slot's own condition variable; a
//! leader answers it by filling the slot, which never blocks the leader.
//!
//! One job per file, protocol apart from policy:
//!
//! | file | job | steps of `WRITE-MERGE.md` |
//! |---|---|---|
//! | `mod.rs` | the writer: its public API, and a write's way to its answer or to the lock | a writer, step 1 (offer, or take the lock) |
//! | `state.rs` | the meeting point under the state mutex: the lock token, the queues, the sticky errors | |
//! | `slot.rs` | one waiting writer's slot: its answer and its wait | a writer, step 1 (wait) |
//! | `leader.rs` | the leader's group commit, in order; large writes; poisoning; the panic guard | lead: steps 1 and 4 to 7, and the order of step 8 |
//! | `merge.rs` | the merge limit and the merge loop | merge: steps 2 and 3 |
//! | `unlock.rs` | answering the group, then moving the lock on | answer and hand over: step 8 |
//! | `policy.rs` | how much and how fast, never what: merge limits, commit delay, spinning before parking, the wake tree's fan-out, the kept buffer | |
//!
//! Every tuning constant is in `policy.rs`, with why it has its value.

mod leader;
mod merge;
mod pipeline;
pub(crate) mod policy;
mod slot;
mod state;
mod unlock;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use batch::{Batch, Record, SeqNum};

use self::leader::Leader;
use self::pipeline::Pipeline;
use self::policy::{CommitDelay, Parking};
use self::slot::{answer_all, Acquired, Slot};
use self::state::{State, Token, Waiting};
use crate::metrics::Counters;
use crate::offer::{self, Durability, Merge, Offer, Own};
use crate::sync::{lock, wait, AtomicBool, AtomicU64, Condvar, Mutex};
use crate::{Backend, Metrics, Options, RoomError, WriteError, WriteOptions};
// Names the unit tests below reach through `super::*`.
#[cfg(test)]
use self::policy::FAN_OUT;
#[cfg(test)]
use std::io;

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
    /// What the commit delay remembers between groups (policy).
    commit_delay: CommitDelay,
    /// The pipelined commit's sync side (`pipeline.rs`): `Some` when
    /// [`Options::pipelined`] asks for it and the backend gives a
    /// [`Syncer`](crate::Syncer).
    pipeline: Option<Pipeline>,
}

impl GroupCommit {
    /// A writer over `backend`, whose last used sequence number is `last_seq`
    /// (the first write gets `last_seq + 1`).
    /// With [`Options::pipelined`], the backend's
    /// [`Log::syncer`](crate::Log::syncer) is asked for here, once.
    pub fn new(mut backend: Box<dyn Backend>, last_seq: SeqNum, options: Options) -> GroupCommit {
        let pipeline = if options.pipelined {
            backend.syncer().map(Pipeline::new)
        } else {
            None
        };
        GroupCommit {
            pipeline,
            state: Mutex::new(State::new(Token::new(backend, last_seq))),
            idle: Condvar::new(),
            options,
            published: AtomicU64::new(last_seq.0),
            counters: Counters::default(),
            lock_held: AtomicBool::new(false),
            commit_delay: CommitDelay::new(),
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
        drop(state);
        // Pipelined groups handed the lock on before their answers.
        if let Some(pipeline) = &self.pipeline {
            pipeline.wait_idle();
        }
        Ok(())
    }

    /// Whether groups commit pipelined: [`Options::pipelined`] asked, and
    /// the backend gave a [`Syncer`](crate::Syncer).
    pub fn is_pipelined(&self) -> bool {
        self.pipeline.is_some()
    }

    /// Poisons the writer after a failed fsync of the pipeline: every write
    /// arriving from now on fails, and the next hand-over fails every
    /// waiting one (`release_token`).
    fn poison(&self, cause: Arc<std::io::Error>) {
        lock(&self.state).poisoned.get_or_insert(cause);
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

    /// Takes the backend out of a closed writer, so that its owner can
    /// release what the backend holds (its journal, its threads) while
    /// others still hold the `GroupCommit`, as a `close` through an `Arc`
    /// must. `None` if the writer is not closed, or the backend was taken
    /// already.
    ///
    /// Nobody waits for the write lock of a closed writer (every way to
    /// it checks `closed` first), so taking the token out strands nobody.
    pub fn take_backend(&self) -> Option<Box<dyn Backend>> {
        let mut state = lock(&self.state);
        if !state.closed {
            return None;
        }
        state.token.take().map(|token| token.backend)
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
        let durability = Durability::of(opts);
        let merge = Merge::of(self.options, opts);
        match self.acquire(own, durability, merge)? {
            Acquired::Done(result) => result,
            Acquired::Lock(token) => Leader::new(self, token).commit(own, durability, merge),
        }
    }

    /// Writer step 1: take the free write lock, or queue (offering the write
    /// when `merge` allows) and wait to be merged or handed the lock.
    fn acquire(
        &self,
        own: Own<'_>,
        durability: Durability,
        merge: Merge,
    ) -> Result<Acquired, WriteError> {
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
        let slot = Arc::new(Slot::new(Offer::new(own, durability, merge)));
        {
            let mut state = lock(&self.state);
            state.check_write()?;
            if let Some(token) = self.take_token(&mut state) {
                return Ok(Acquired::Lock(token));
            }
            state.enqueue(Arc::clone(&slot), Waiting::write(merge));
        }
        let sync = self.commit_delay.sync_average();
        Ok(slot.wait(Parking::of(durability, sync)))
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
            state.enqueue(Arc::clone(&slot), Waiting::Maintenance);
            slot
        };
        Ok(slot.wait(Parking::of(slot.offer.durability, Duration::ZERO)))
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
        let gc = GroupCommit::new(Box::new(Nop), SeqNum(0), Options::new());
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

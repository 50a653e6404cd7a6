//! The reference design: goleveldb's write-merge protocol with its channels
//! one for one, on crossbeam-channel rendezvous channels.
//!
//! [`GroupCommit`] here has the same API and the same semantics as
//! [`crate::GroupCommit`], and exists to measure what the refinement buys
//! (see the crate docs and `benches/group_commit.rs`): every merged writer
//! costs the leader two rendezvous hops (`writeMergedC <- true`, then
//! `writeAckC <- err`), each of which waits until that writer's thread runs.
//!
//! One extension is needed because our writes return their sequence number:
//! `writeMergedC` carries the follower's first sequence number instead of
//! `true` (the leader knows it when it merges, since only the lock holder
//! assigns sequence numbers), while `writeAckC` carries the shared result as
//! in goleveldb. It is not model-checked: loom cannot model crossbeam's
//! channels (under `--cfg loom` it builds, on loom's primitives, but is not
//! run).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use batch::{Batch, Record, SeqNum};
use crossbeam_channel::{bounded, select, Receiver, Sender};

use crate::metrics::Counters;
use crate::offer::{self, Durability, Merge, Offer, Own};
use crate::sync::{lock, AtomicU64, Mutex};
use crate::{merge_limit, Backend, Metrics, Options, RoomError, WriteError, WriteOptions};

/// The group-commit writer built on goleveldb's channels; see the
/// [module docs](self).
pub struct GroupCommit {
    /// Options fixed at construction.
    options: Options,
    /// What only the write-lock holder touches.
    // Invariant: locked only by the holder of the `write_lock` token, so
    // never contended.
    inner: Mutex<Inner>,
    /// `writeMergeC`: a waiting writer offers its write (capacity 0).
    merge_tx: Sender<Offer>,
    merge_rx: Receiver<Offer>,
    /// `writeMergedC`: the leader's answer to an offer (capacity 0).
    merged_tx: Sender<Merged>,
    merged_rx: Receiver<Merged>,
    /// `writeAckC`: the group's result, once per merged writer (capacity 0).
    ack_tx: Sender<Result<(), WriteError>>,
    ack_rx: Receiver<Result<(), WriteError>>,
    /// `writeLockC`: the write lock; sending the token acquires it
    /// (capacity 1).
    lock_tx: Sender<()>,
    lock_rx: Receiver<()>,
    /// `compPerErrC`: ready for ever once a background error is set.
    per_err: Signal,
    /// `closeC`: ready for ever once closed.
    close: Signal,
    /// Whether `close` was called.
    closed: AtomicBool,
    /// The background error, once set.
    background: Mutex<Option<RoomError>>,
    /// The journal error that poisoned the writer, once set.
    poisoned: Mutex<Option<Arc<io::Error>>>,
    /// The last sequence number applied.
    published: AtomicU64,
    /// The counters behind `metrics`.
    counters: Counters,
}

/// The write-lock holder's state.
struct Inner {
    backend: Box<dyn Backend>,
    last_seq: SeqNum,
    /// The group being built, reused.
    group: Batch,
    /// The offers merged into the group being built.
    members: Vec<Offer>,
}

/// An answer on `writeMergedC`.
enum Merged {
    /// Merged (goleveldb's `true`): wait for the ack; your write starts at
    /// this sequence number.
    Yes(SeqNum),
    /// Not merged (goleveldb's `false`): the write lock is now yours.
    No,
}

/// A channel that is never sent on and becomes ready for ever when its
/// sender is dropped: goleveldb's `close(closeC)`.
struct Signal {
    tx: Mutex<Option<Sender<()>>>,
    rx: Receiver<()>,
}

impl Signal {
    fn new() -> Signal {
        let (tx, rx) = bounded(0);
        Signal {
            tx: Mutex::new(Some(tx)),
            rx,
        }
    }

    fn fire(&self) {
        lock(&self.tx).take();
    }
}

impl GroupCommit {
    /// A writer over `backend`, whose last used sequence number is
    /// `last_seq`.
    pub fn new(backend: Box<dyn Backend>, last_seq: SeqNum, options: Options) -> GroupCommit {
        let (merge_tx, merge_rx) = bounded(0);
        let (merged_tx, merged_rx) = bounded(0);
        let (ack_tx, ack_rx) = bounded(0);
        let (lock_tx, lock_rx) = bounded(1);
        GroupCommit {
            options,
            inner: Mutex::new(Inner {
                backend,
                last_seq,
                group: Batch::new(),
                members: Vec::new(),
            }),
            merge_tx,
            merge_rx,
            merged_tx,
            merged_rx,
            ack_tx,
            ack_rx,
            lock_tx,
            lock_rx,
            per_err: Signal::new(),
            close: Signal::new(),
            closed: AtomicBool::new(false),
            background: Mutex::new(None),
            poisoned: Mutex::new(None),
            published: AtomicU64::new(last_seq.0),
            counters: Counters::default(),
        }
    }

    /// As [`crate::GroupCommit::write`].
    ///
    /// # Errors
    ///
    /// See [`WriteError`].
    pub fn write(&self, batch: &Batch, opts: WriteOptions) -> Result<SeqNum, WriteError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(WriteError::Closed);
        }
        if batch.is_empty() {
            return Ok(self.last_seq());
        }
        self.write_own(Own::Batch(batch), opts)
    }

    /// As [`crate::GroupCommit::put`] (goleveldb's `putRec`).
    ///
    /// # Errors
    ///
    /// See [`WriteError`].
    pub fn put(&self, key: &[u8], value: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError> {
        self.write_own(Own::Record(Record::Put { key, value }), opts)
    }

    /// As [`crate::GroupCommit::delete`].
    ///
    /// # Errors
    ///
    /// See [`WriteError`].
    pub fn delete(&self, key: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError> {
        self.write_own(Own::Record(Record::Delete { key }), opts)
    }

    /// As [`crate::GroupCommit::set_background_error`].
    pub fn set_background_error(&self, err: RoomError) {
        let mut background = lock(&self.background);
        if background.is_none() {
            *background = Some(err);
            drop(background);
            self.per_err.fire();
        }
    }

    /// As [`crate::GroupCommit::close`]: closes `closeC`, then takes the
    /// write lock and never gives it back.
    ///
    /// # Errors
    ///
    /// [`WriteError::Closed`] if already closed.
    pub fn close(&self) -> Result<(), WriteError> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Err(WriteError::Closed);
        }
        self.close.fire();
        self.lock_tx.send(()).expect("the writer holds both ends");
        Ok(())
    }

    /// As [`crate::GroupCommit::last_seq`].
    pub fn last_seq(&self) -> SeqNum {
        SeqNum(self.published.load(Ordering::Acquire))
    }

    /// As [`crate::GroupCommit::metrics`]; `waiting` is always 0, since a
    /// rendezvous channel does not count its blocked senders.
    pub fn metrics(&self) -> Metrics {
        self.counters.snapshot()
    }

    /// As [`crate::GroupCommit::with_backend`].
    ///
    /// # Errors
    ///
    /// [`WriteError::Closed`] if the writer is closed.
    pub fn with_backend<R>(&self, f: impl FnOnce(&mut dyn Backend) -> R) -> Result<R, WriteError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(WriteError::Closed);
        }
        select! {
            send(self.lock_tx, ()) -> sent => sent.expect("the writer holds both ends"),
            recv(self.close.rx) -> _ => return Err(WriteError::Closed),
        }
        let result = {
            let mut inner = lock(&self.inner);
            f(&mut *inner.backend)
        };
        self.lock_rx.recv().expect("the writer holds both ends");
        Ok(result)
    }

    /// Writer steps 1 and 2 (goleveldb `Write` / `putRec`).
    fn write_own(&self, own: Own<'_>, opts: WriteOptions) -> Result<SeqNum, WriteError> {
        offer::validate(own)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(WriteError::Closed);
        }
        if let Some(cause) = &*lock(&self.poisoned) {
            return Err(WriteError::Poisoned(Arc::clone(cause)));
        }
        let merge = opts.merge && self.options.merge;
        let sync = opts.sync;
        if merge {
            let offer = Offer::new(own, Durability::of(opts), Merge::Allowed);
            select! {
                send(self.merge_tx, offer) -> sent => {
                    sent.expect("the writer holds both ends");
                    match self.merged_rx.recv().expect("the writer holds both ends") {
                        Merged::Yes(seq) => {
                            let ack = self.ack_rx.recv().expect("the writer holds both ends");
                            return ack.map(|()| seq);
                        }
                        Merged::No => {}
                    }
                }
                send(self.lock_tx, ()) -> sent => sent.expect("the writer holds both ends"),
                recv(self.per_err.rx) -> _ => return Err(self.background_error()),
                recv(self.close.rx) -> _ => return Err(WriteError::Closed),
            }
        } else {
            select! {
                send(self.lock_tx, ()) -> sent => sent.expect("the writer holds both ends"),
                recv(self.per_err.rx) -> _ => return Err(self.background_error()),
                recv(self.close.rx) -> _ => return Err(WriteError::Closed),
            }
        }
        self.write_locked(own, merge, sync)
    }

    fn background_error(&self) -> WriteError {
        let err = lock(&self.background).clone();
        WriteError::Background(err.expect("compPerErrC fires only once the error is set"))
    }

    /// The leader (goleveldb `writeLocked`).
    fn write_locked(&self, own: Own<'_>, merge: bool, sync: bool) -> Result<SeqNum, WriteError> {
        if self.closed.load(Ordering::Acquire) {
            return self.unlock_write(false, 0, Err(WriteError::Closed));
        }
        if let Some(cause) = lock(&self.poisoned).clone() {
            return self.unlock_write(false, 0, Err(WriteError::Poisoned(cause)));
        }
        if let Some(err) = lock(&self.background).clone() {
            // goleveldb's compaction goroutine holds the write lock while in
            // the persistent-error state; here a writer that won the lock
            // gives up instead.
            return self.unlock_write(false, 0, Err(WriteError::Background(err)));
        }
        let (overflow, merged, result) = {
            let mut inner = lock(&self.inner);
            self.commit(&mut inner, own, merge, sync)
        };
        match merged {
            // Room failed: no group was formed.
            None => self.unlock_write(overflow, 0, result),
            Some(merged) => {
                self.counters
                    .group_answered(1 + merged as u64, result.is_ok());
                self.unlock_write(overflow, merged, result)
            }
        }
    }

    /// The group commit proper, under the lock: returns whether a write
    /// overflowed, how many were merged (`None` if making room failed) and
    /// the group's result.
    fn commit(
        &self,
        inner: &mut Inner,
        own: Own<'_>,
        merge: bool,
        sync: bool,
    ) -> (bool, Option<usize>, Result<SeqNum, WriteError>) {
        let own_len = own.internal_len();
        if inner.backend.is_large(own_len) {
            // goleveldb's large-batch transaction: alone, straight to the
            // backend, under the write lock.
            return (false, Some(0), self.commit_large(inner, own));
        }
        let started = Instant::now();
        let room = inner.backend.make_room(own_len);
        self.counters.room_wait(started.elapsed());
        let free = match room {
            Ok(free) => free,
            Err(err) => return (false, None, Err(WriteError::Room(err))),
        };

        let first = inner.last_seq.checked_add(1).unwrap_or(SeqNum(0));
        let mut overflow = false;
        let mut group_sync = sync;
        let mut n_records = own.n_records();
        if merge {
            let mut limit = merge_limit(own_len, free);
            while limit > 0 {
                let Ok(offer) = self.merge_rx.try_recv() else {
                    break;
                };
                if !offer.fits(limit, n_records) || inner.backend.is_large(offer.internal_len) {
                    Counters::add(&self.counters.overflows, 1);
                    overflow = true;
                    break;
                }
                let seq = SeqNum(first.0 + n_records as u64);
                limit -= offer.internal_len;
                n_records += offer.n_records;
                group_sync |= offer.durability == Durability::Synced;
                inner.members.push(offer);
                // The rendezvous: blocks until that writer's thread runs.
                self.merged_tx
                    .send(Merged::Yes(seq))
                    .expect("the writer holds both ends");
            }
        }
        let merged = inner.members.len();

        inner.group.clear();
        own.append_to(&mut inner.group);
        for member in inner.members.drain(..) {
            member.append_to(&mut inner.group);
        }
        let n_records = inner.group.len() as u64;
        let Some(last) = inner.last_seq.checked_add(n_records) else {
            let err = WriteError::SeqOverflow {
                last: inner.last_seq,
                n_records,
            };
            return (overflow, Some(merged), Err(err));
        };
        inner.group.set_seq(first);

        let journaled = inner.backend.append(&inner.group).and_then(|()| {
            if group_sync {
                Counters::add(&self.counters.fsyncs, 1);
                inner.backend.sync()
            } else {
                Ok(())
            }
        });
        if let Err(err) = journaled {
            let cause = Arc::new(err);
            lock(&self.poisoned).get_or_insert_with(|| Arc::clone(&cause));
            return (overflow, Some(merged), Err(WriteError::Log(cause)));
        }
        inner.backend.apply(&inner.group);
        inner.last_seq = last;
        self.published.store(last.0, Ordering::Release);
        if let Err(err) = inner.backend.after_write(inner.group.internal_len()) {
            self.set_background_error(err);
        }
        (overflow, Some(merged), Ok(first))
    }

    /// A large write (see `Room::is_large`): numbered, then made durable
    /// and visible by the backend in one step; a failure consumes no
    /// sequence number.
    fn commit_large(&self, inner: &mut Inner, own: Own<'_>) -> Result<SeqNum, WriteError> {
        inner.group.clear();
        own.append_to(&mut inner.group);
        let n_records = inner.group.len() as u64;
        let (Some(first), Some(last)) = (
            inner.last_seq.checked_add(1),
            inner.last_seq.checked_add(n_records),
        ) else {
            return Err(WriteError::SeqOverflow {
                last: inner.last_seq,
                n_records,
            });
        };
        inner.group.set_seq(first);
        let started = Instant::now();
        let written = inner.backend.write_large(&inner.group);
        self.counters.room_wait(started.elapsed());
        written.map_err(WriteError::Room)?;
        inner.last_seq = last;
        self.published.store(last.0, Ordering::Release);
        Ok(first)
    }

    /// goleveldb `unlockWrite`: ack every merged writer, then hand the lock
    /// to the overflow writer or release it. Every send is a rendezvous.
    fn unlock_write(
        &self,
        overflow: bool,
        merged: usize,
        result: Result<SeqNum, WriteError>,
    ) -> Result<SeqNum, WriteError> {
        let ack = result.as_ref().map(|_| ()).map_err(WriteError::clone);
        for _ in 0..merged {
            self.ack_tx
                .send(ack.clone())
                .expect("the writer holds both ends");
        }
        if overflow {
            self.merged_tx
                .send(Merged::No)
                .expect("the writer holds both ends");
        } else {
            self.lock_rx.recv().expect("the writer holds both ends");
        }
        result
    }
}

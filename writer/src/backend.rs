//! The three sides the protocol talks to, as traits: the journal ([`Log`]),
//! the memtable ([`Memtable`]) and the flush/compaction side ([`Room`]).
//!
//! The writer does no I/O of its own: everything durable or visible happens
//! through these calls, and only the holder of the write lock makes them, one
//! at a time.
//! So an implementation needs no locking of its own against the writer
//! (it must be [`Send`], not [`Sync`]).

use std::any::Any;
use std::io;
use std::sync::Arc;

use batch::Batch;

use crate::RoomError;

/// The journal side. Called only by the leader, under the write lock.
pub trait Log: Send {
    /// Writes `group` (header included: its sequence number is the group's
    /// first) as ONE journal record, and flushes it to the operating system.
    ///
    /// # Errors
    ///
    /// Any I/O error. The writer is then poisoned: it never retries, and
    /// never writes again.
    fn append(&mut self, group: &Batch) -> io::Result<()>;

    /// Makes every record appended so far durable (fsync).
    ///
    /// # Errors
    ///
    /// Any I/O error. As for [`append`](Log::append), the writer is then
    /// poisoned; the fsync is not retried, since after a failed fsync the
    /// kernel may have dropped the dirty pages it could not write.
    fn sync(&mut self) -> io::Result<()>;

    /// The journal's [`Syncer`], if it can fsync beside appends: what a
    /// pipelined writer ([`Options::pipelined`](crate::Options::pipelined))
    /// syncs with, after handing the write lock on. `None` (the default)
    /// keeps every fsync under the write lock, by [`sync`](Log::sync).
    /// Called once, when the writer is made.
    fn syncer(&mut self) -> Option<Arc<dyn Syncer>> {
        None
    }
}

/// A journal's fsync that runs beside the write-lock holder's appends (the
/// pipelined commit). The writer calls it from one thread at a time.
pub trait Syncer: Send + Sync {
    /// Makes durable every record whose [`Log::append`] returned before
    /// this call began.
    ///
    /// # Errors
    ///
    /// Any I/O error. The writer is then poisoned, as after a failed
    /// [`Log::sync`]: every group the fsync was to cover fails, and no
    /// fsync is tried again.
    fn sync(&self) -> io::Result<()>;
}

/// The memtable side. Called only by the leader, under the write lock, after
/// the group is in the journal (and synced if asked).
pub trait Memtable: Send {
    /// Inserts every record of `group`, record `i` at sequence number
    /// `group.seq() + i`, and then publishes `group.seq() + group.len() - 1`
    /// as the last visible sequence number, so that readers see all of the
    /// group or none of it.
    fn apply(&mut self, group: &Batch);
}

/// The flush/compaction side.
pub trait Room: Send {
    /// Makes room for a write of `n` internal bytes (see
    /// [`Batch::internal_len`]) and returns the memtable's free room after
    /// making it, in the same units.
    ///
    /// It may rotate the memtable, stall while level 0 is full, or fail; it
    /// runs with the write lock held but without blocking other writers from
    /// queueing. The time it takes is counted in
    /// [`Metrics::room_wait`](crate::Metrics::room_wait).
    /// The leader merges at most the returned room minus its own write.
    ///
    /// A stall must end on close: the writer's
    /// [`close`](crate::GroupCommit::close) waits for the group in flight, so
    /// the implementation must wake a stalled `make_room` (with an error)
    /// when the database closes, as goleveldb's `closeC` wakes
    /// `compTriggerWait`.
    ///
    /// # Errors
    ///
    /// A [`RoomError`]: the leading write fails with
    /// [`WriteError::Room`](crate::WriteError::Room); nothing was merged yet,
    /// so no other write sees it.
    fn make_room(&mut self, n: usize) -> Result<usize, RoomError>;

    /// Called after a group of `applied` internal bytes was applied to the
    /// memtable (step 7: rotate the memtable if it is full).
    ///
    /// # Errors
    ///
    /// A [`RoomError`]. The group's own result stays `Ok`: its data is
    /// journaled and applied, so telling its writers it failed would be a
    /// lie (goleveldb returns the rotation error to the whole group here; we
    /// do not). Instead the error becomes the persistent background error,
    /// as if passed to
    /// [`set_background_error`](crate::GroupCommit::set_background_error):
    /// every later write fails with
    /// [`WriteError::Background`](crate::WriteError::Background).
    fn after_write(&mut self, applied: usize) -> Result<(), RoomError>;

    /// Whether a write of `n` internal bytes is *large*: too big for any
    /// memtable, so that the backend takes it whole by
    /// [`write_large`](Room::write_large) instead of the journal and the
    /// memtable (goleveldb's large-batch transaction writes such a batch
    /// straight to tables). The default is never.
    fn is_large(&self, n: usize) -> bool {
        let _ = n;
        false
    }

    /// Makes `group`, a large write alone in its group (sequence numbers
    /// set), durable and visible in one step, without
    /// [`Log::append`] and [`Memtable::apply`], and publishes its last
    /// sequence number as `apply` does. Called by the leader, under the
    /// write lock, only for a write [`is_large`](Room::is_large) accepted;
    /// nothing is merged beside it.
    ///
    /// # Errors
    ///
    /// A [`RoomError`]: the write fails, and must have left nothing durable
    /// or visible, so that its sequence numbers are taken again by the next
    /// write. A backend that cannot promise that (the commit's outcome is
    /// unknown) must also refuse every later write, as a failed journal
    /// does.
    fn write_large(&mut self, group: &Batch) -> Result<(), RoomError> {
        let _ = group;
        Err(RoomError::new("this backend takes no large write"))
    }
}

/// Everything the writer needs, in one trait object: implemented for every
/// type that is a [`Log`], a [`Memtable`] and a [`Room`].
pub trait Backend: Log + Memtable + Room {
    /// The backend as [`Any`], so that code running in
    /// [`GroupCommit::with_backend`](crate::GroupCommit::with_backend) can
    /// downcast it to its concrete type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Log + Memtable + Room + Any> Backend for T {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

//! What happens to a memtable once rotation freezes it, on the background
//! thread.
//!
//! Rotation hands each frozen memtable to a [`Flush`]. The one used,
//! [`Background`], wakes a thread that works in lanes, journal durability
//! first (TABLES.md §6), so that a synced writer never waits behind a
//! table write:
//!
//! 1. fault in memory for the next memtable;
//! 2. sync the journals rotation closed (`wal::closed`);
//! 3. zero-fill the next journal if one is wanted (`wal::prepared`);
//! 4. flush frozen memtables to level-0 tables, oldest first, recording
//!    the synced journals' lengths in the manifest with the edit
//!    ([`flush`]);
//!
//! A third thread, the deleter, unmaps and unlinks each obsolete table as
//! soon as the last version holding it drops (TABLES.md §8), wherever that
//! drop happens: a table a long scan held goes when the scan ends, not at
//! the next flush.
//!
//! A second thread, the compaction lane, runs leveled compactions while
//! any level is over its target ([`level`], choosing with the pure
//! [`pick`], merging with [`merge`]), woken by every flush and large
//! batch: a compaction that takes seconds never delays a journal sync, a
//! zero-fill or a flush, and the two threads use both cores.
//!
//! A table write error is retried with back-off (the memtable stays
//! frozen and readable meanwhile; a compaction's inputs stay live); a
//! manifest error stops the background work and poisons writes, reads
//! keep working (TABLES.md §6). Writers are held back while level 0 or
//! the frozen memtables outgrow what the lanes drain ([`stall`]).

pub(crate) mod build;
pub(crate) mod flush;
pub(crate) mod large;
pub(crate) mod level;
pub(crate) mod merge;
pub(crate) mod pick;

use crate::state::{Lane, Shared};
use crate::tuning::{ARENA_QUARTERS, FLUSH_RETRY_MAX, FLUSH_RETRY_MIN, POOL_MEMTABLES};
use memdb::{BlockPool, MemDb};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The pool of memtable memory for a database with memtables of
/// `write_buffer_size` bytes: the memory of [`POOL_MEMTABLES`] flushed
/// memtables, reused by the next ones instead of fresh pages.
pub(crate) fn memtable_pool(write_buffer_size: usize) -> Arc<BlockPool> {
    BlockPool::new(write_buffer_size.saturating_mul(POOL_MEMTABLES))
}

/// Receives each memtable frozen by rotation, on the write path.
///
/// It must not block for long: the group-commit leader calls it while
/// holding the write lock.
pub(crate) trait Flush: Send {
    /// `memdb` will receive no more writes.
    fn frozen(&mut self, memdb: Arc<MemDb>);
    /// Wakes the background work: a journal to prepare.
    fn wake(&mut self);
}

/// The background thread, woken by each rotation.
///
/// Dropping this value (with the write path, when the database closes)
/// ends the thread and waits for it, so that it touches no file once the
/// database has released its directory.
#[derive(Debug)]
pub(crate) struct Background {
    /// Capacity 1: a wake-up already pending covers this one too. `None`
    /// only while dropping.
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    /// The compaction lane (woken through `Lanes::wake_compaction`).
    compactor: Option<JoinHandle<()>>,
    /// The deleter of obsolete tables (its channel is `Shared::deleter`).
    deleter: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Background {
    /// Starts the thread for a database whose memtables have a budget of
    /// `write_buffer_size` bytes.
    pub fn start(shared: Arc<Shared>, write_buffer_size: usize) -> std::io::Result<Background> {
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let background = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("tributary-background".into())
            .spawn(move || run(&background, write_buffer_size, &woken))?;
        // Recovery may have left frozen memtables to flush.
        let _ = wake.try_send(());
        let (compact_wake, compact_woken) = mpsc::sync_channel::<()>(1);
        let lane = Arc::clone(&shared);
        let compactor = std::thread::Builder::new()
            .name("tributary-compaction".into())
            .spawn(move || compaction_lane(&lane, &compact_woken))?;
        // The tables recovery found may be over their targets.
        let _ = compact_wake.try_send(());
        shared.lanes.set_compaction_wake(Some(compact_wake));
        let deleter = match shared.deleter.take_receiver() {
            Some(retired) => {
                let fs = Arc::clone(shared.files.fs());
                Some(
                    std::thread::Builder::new()
                        .name("tributary-deleter".into())
                        .spawn(move || {
                            for message in retired.iter() {
                                if !crate::version::deleter::delete(&*fs, message) {
                                    break;
                                }
                            }
                        })?,
                )
            }
            None => None,
        };
        Ok(Background {
            wake: Some(wake),
            thread: Some(thread),
            compactor: Some(compactor),
            deleter,
            shared,
        })
    }
}

/// The thread's loop: one round per wake-up, and a retry round after a
/// failed flush.
fn run(shared: &Shared, write_buffer_size: usize, woken: &Receiver<()>) {
    let mut retry: Option<Duration> = None;
    loop {
        if !wait(woken, retry) {
            break;
        }
        shared
            .blocks
            .prefill(write_buffer_size / 4 * ARENA_QUARTERS);
        // A failure is kept for the write path to report.
        let _ = shared.journals.sync_closed();
        shared.journals.prepare(write_buffer_size);
        let flushed = flush_now(shared);
        shared
            .lanes
            .note(Lane::Flush, flushed.is_err() && !stopped(shared));
        retry = match flushed {
            Ok(()) => None,
            Err(_) if stopped(shared) => {
                // The manifest failed: nothing more is committed. The
                // thread stays to prepare journals and sync closed ones,
                // which reads after the failure do not need but the error
                // reporting of `Db::sync` does.
                None
            }
            Err(_) => Some(back_off(retry)),
        };
    }
    // Closing: the journals synced since the last round (the close's own
    // sync among them) are recorded, so that the next open can verify
    // them; frozen memtables stay in their journals, as in LevelDB.
    let _ = shared.journals.sync_closed();
    if let Err(e) = flush::record_synced(shared, shared.journals.take_synced()) {
        log::warn!("cannot record synced journals at close: {e}");
    }
    shared.delete_retired();
}

/// The compaction lane: while a level is over its target, the compaction
/// it needs most (`level`), on its own thread, so that journal syncs,
/// zero-filling and flushes never wait behind it. A failure is retried
/// with the flush's back-off; after a manifest failure it stops.
fn compaction_lane(shared: &Shared, woken: &Receiver<()>) {
    let mut retry: Option<Duration> = None;
    let mut recheck: Option<Duration> = None;
    loop {
        if !wait(woken, retry.or(recheck)) {
            return;
        }
        recheck = None;
        while !stopped(shared) && !shared.lanes.paused() {
            if let Err(mpsc::TryRecvError::Disconnected) = woken.try_recv() {
                return; // closing: the rest waits for the next open
            }
            let compacted = level::compact_once(shared, &shared.shape);
            shared.lanes.note(Lane::Compaction, compacted.is_err());
            match compacted {
                Ok(true) => retry = None,
                Ok(false) => {
                    retry = None;
                    recheck = batch_ends(shared);
                    break;
                }
                Err(e) => {
                    if !note_stopped(shared, &e) {
                        log::error!("compaction failed, will retry: {e}");
                        retry = Some(back_off(retry));
                    }
                    break;
                }
            }
        }
    }
}

/// When level 0 holds enough tables to be due but waits for a batch
/// while the writes flow: how long until they count as stopped, so that
/// the lane looks again then and compacts level 0 for the reads that
/// follow (no flush would wake it).
fn batch_ends(shared: &Shared) -> Option<Duration> {
    let level0 = shared.read.view().version.levels[0].len();
    if level0 < shared.shape.l0_due(false) {
        return None;
    }
    // Past the end, not at it: `writes_flowing` must say no by then.
    Some(shared.lanes.writes_flowing(shared.shape.writes_quiet)? + Duration::from_millis(1))
}

/// A lane's wait for its next round: a wake-up, or the end of `retry`
/// after a failure. False once the lane is told to stop (its sender
/// dropped).
fn wait(woken: &Receiver<()>, retry: Option<Duration>) -> bool {
    let woke = match retry {
        None => woken.recv().map_err(|_| RecvTimeoutError::Disconnected),
        Some(delay) => woken.recv_timeout(delay),
    };
    woke != Err(RecvTimeoutError::Disconnected)
}

/// The delay before the next retry after a failure: the first, or the
/// last doubled, at most the longest.
fn back_off(last: Option<Duration>) -> Duration {
    last.map_or(FLUSH_RETRY_MIN, |d| (d * 2).min(FLUSH_RETRY_MAX))
}

/// Flushes every frozen memtable; an error is logged (and, for the
/// manifest, kept as the background error that poisons writes).
pub(crate) fn flush_now(shared: &Shared) -> Result<(), crate::error::Error> {
    match flush::flush_frozen(shared, shared.journals.take_synced()) {
        Ok(_) => Ok(()),
        Err(e) => {
            if !note_stopped(shared, &e) {
                log::error!("flush failed, will retry: {e}");
            }
            Err(e)
        }
    }
}

/// After the error `e` of a flush or commit: whether it stopped writes
/// (a manifest failure, a committed table that cannot be opened, or any
/// earlier failure), in which case the stalled writers are woken to see
/// it; otherwise the lane retries.
pub(crate) fn note_stopped(shared: &Shared, e: &crate::error::Error) -> bool {
    if !stopped(shared) {
        return false;
    }
    log::error!("commits stopped: {e}");
    shared.lanes.gate.notify();
    true
}

/// Whether a failure stopped writes, and with them every commit.
fn stopped(shared: &Shared) -> bool {
    shared.failure.is_set()
}

impl Drop for Background {
    fn drop(&mut self) {
        // Disconnecting ends each thread's loop after its current round.
        drop(self.wake.take());
        self.shared.lanes.set_compaction_wake(None);
        for thread in [self.thread.take(), self.compactor.take()]
            .into_iter()
            .flatten()
        {
            // A panic there was already reported on stderr; reads stayed
            // correct without the thread.
            let _ = thread.join();
        }
        // The deleter last: the threads above retire tables until they end
        // (the closing round waits for their deletion).
        if let Some(deleter) = self.deleter.take() {
            self.shared.deleter.stop();
            let _ = deleter.join();
        }
        self.shared.journals.discard_prepared();
    }
}

impl Flush for Background {
    fn frozen(&mut self, _memdb: Arc<MemDb>) {
        self.wake();
    }

    fn wake(&mut self) {
        // Full: a wake-up is already pending, and it covers this one.
        // Disconnected: the thread panicked; reads stay correct, frozen
        // memtables stay in memory, and rotation creates journals itself,
        // so the write path goes on.
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

//! [`Shared`]: what the write path, the background lanes and readers of one
//! open database share, as one struct per owner.
//!
//! | part | owner | what it holds |
//! |---|---|---|
//! | `files` | `files` | directory, file system, file numbers |
//! | `read` | `read` | the published view and last sequence number |
//! | `versions` | `version` | the catalog and manifest (one table change at a time) |
//! | `journals` | `wal` | closed and prepared journals, live sizes |
//! | `failure` | `failure` | the one sticky failure |
//! | `deleter` | `version::deleter` | obsolete tables on their way out |
//! | `lanes` | [`Lanes`] | wake-ups, stalls, failing flags, the compaction in progress |
//! | `counters` | [`Counters`] | what `Stats` reports |
//!
//! # Lock order
//!
//! A thread holding one of these may take one further down, never one
//! further up:
//!
//! 1. `Lanes::compacting` (the compaction running, for its whole length);
//! 2. `versions` (one table change: commit, then install);
//! 3. the read state's view lock (only to swap or clone the view);
//! 4. the leaf locks, held for a few statements and never around another:
//!    the file numbers, the journals' queues, the gate, the compaction
//!    wake-up, the quarantine, the deleter's receiver.
//!
//! The group-commit leader's write lock (in `writer`) sits above all of
//! them: the leader may take `versions` (a large batch) and the view lock
//! (rotation), and no lane waits for the write lock.

use crate::error::Error;
use crate::failure::Failure;
use crate::files::Files;
use crate::read::{Change, ReadState};
use crate::shape::Shape;
use crate::stall::WriteGate;
use crate::sync::lock;
use crate::version::{Deleter, Version, VersionSet};
use crate::wal::Journals;
use memdb::BlockPool;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the write path, the background lanes and readers share (see the
/// module docs for each part's owner and the lock order).
#[derive(Debug)]
pub(crate) struct Shared {
    /// The directory, its file system and the file numbers.
    pub files: Arc<Files>,
    /// The published view and last sequence number.
    pub read: ReadState,
    /// The catalog and manifest; `None` in a read-only database. Held by
    /// the one table change (flush, large batch, compaction) that may
    /// commit at a time, from its commit through its install.
    pub versions: Mutex<Option<VersionSet>>,
    /// The journals the leader shares with the lanes.
    pub journals: Arc<Journals>,
    /// The one sticky failure: once set, every write is refused with it
    /// and the lanes commit nothing.
    pub failure: Arc<Failure>,
    /// Where obsolete tables go to be deleted.
    pub deleter: Deleter,
    /// How the lanes and the write path wait for each other.
    pub lanes: Lanes,
    /// Counters since open, for `Stats`.
    pub counters: Counters,
    /// Memory of dropped memtables, for the next ones.
    pub blocks: Arc<BlockPool>,
    /// The tree's shape (level targets, table size), from the options.
    pub shape: Shape,
}

impl Shared {
    /// The shared state of a database just opened in `files`, reading
    /// `read`, committing through `versions` (none: read-only).
    pub fn new(
        files: Arc<Files>,
        failure: Arc<Failure>,
        read: ReadState,
        versions: Option<VersionSet>,
        deleter: Deleter,
        blocks: Arc<BlockPool>,
        shape: Shape,
    ) -> Shared {
        let journals = Arc::new(Journals::new(&files, &failure));
        Shared {
            files,
            read,
            versions: Mutex::new(versions),
            journals,
            failure,
            deleter,
            lanes: Lanes::default(),
            counters: Counters::default(),
            blocks,
            shape,
        }
    }

    /// Publishes `version`, just committed, with `change`
    /// ([`ReadState::install`]), then lets the lanes and stalled writers
    /// know the tables changed. A flush or a large batch is a table gone
    /// into level 0: the writes flow ([`Lanes::writes_flowing`]).
    pub fn install(&self, version: Version, change: Change<'_>) {
        if matches!(change, Change::Flushed(_) | Change::LargeBatch(_)) {
            self.lanes.note_flushed();
        }
        self.read.install(version, change);
        self.lanes.tables_changed();
    }

    /// Stops the write path for good with `error`, unless a failure
    /// stopped it already: every later write refuses with it, and every
    /// stalled writer wakes to see it.
    pub fn stop(&self, error: Error) {
        self.failure.set(error);
        self.lanes.gate.notify();
    }

    /// Deletes the tables retired so far ([`Deleter::delete_retired`]).
    pub fn delete_retired(&self) {
        self.deleter.delete_retired(&**self.files.fs());
    }
}

/// How the background lanes and the write path wait for each other.
#[derive(Debug, Default)]
pub(crate) struct Lanes {
    /// Held by the compaction running, so that only one runs at a time
    /// and its inputs stay live until it commits. First in the lock order.
    compacting: Mutex<()>,
    /// Wakes the compaction lane; `None` when it does not run (a
    /// read-only database, or once it is told to stop). A leaf lock.
    wake: Mutex<Option<SyncSender<()>>>,
    /// Where stalled writers wait for the lanes, and the stall counters
    /// (`stall`).
    pub gate: WriteGate,
    /// A test hook: while set, the compaction lane starts no compaction.
    paused: AtomicBool,
    /// Whether the last flush failed and is being retried: frozen
    /// memtables then stop no write (`stall`).
    flush_failing: AtomicBool,
    /// Whether the last compaction failed and is being retried: level 0
    /// then stops no write.
    compaction_failing: AtomicBool,
    /// Tables a compaction found damaged (number to what it found): the
    /// picker goes around them. A leaf lock.
    quarantined: Mutex<BTreeMap<u64, String>>,
    /// When a table last went into level 0 (a flush or a large batch):
    /// while they come faster than `Shape::writes_quiet` apart, level 0
    /// is compacted in batches (`compaction::pick`). A leaf lock.
    last_flush: Mutex<Option<Instant>>,
}

/// Which lane a failure or recovery is noted for ([`Lanes::note`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Flushes of frozen memtables.
    Flush,
    /// Leveled compactions.
    Compaction,
}

impl Lanes {
    /// The right to run a compaction, for as long as it is held.
    pub fn compacting(&self) -> MutexGuard<'_, ()> {
        lock(&self.compacting)
    }

    /// Sets where [`wake_compaction`](Lanes::wake_compaction) sends, or
    /// (`None`) stops waking: the compaction lane then ends.
    pub fn set_compaction_wake(&self, wake: Option<SyncSender<()>>) {
        *lock(&self.wake) = wake;
    }

    /// Wakes the compaction lane, if it runs: the tables changed.
    pub fn wake_compaction(&self) {
        if let Some(wake) = &*lock(&self.wake) {
            // Full: a wake-up is pending and covers this one.
            let _ = wake.try_send(());
        }
    }

    /// A table went into level 0 just now.
    pub fn note_flushed(&self) {
        *lock(&self.last_flush) = Some(Instant::now());
    }

    /// How long level 0 keeps batching from now, if a table went into it
    /// within the last `quiet` (`Shape::writes_quiet`): the writes are
    /// flowing.
    pub fn writes_flowing(&self, quiet: Duration) -> Option<Duration> {
        let last = (*lock(&self.last_flush))?;
        quiet.checked_sub(last.elapsed()).filter(|d| !d.is_zero())
    }

    /// A new version was published (a flush, a compaction, a large
    /// batch): the compaction lane may have work, and a stalled writer
    /// may go on.
    pub fn tables_changed(&self) {
        self.wake_compaction();
        self.gate.notify();
    }

    /// Records whether `lane`'s last round failed; a lane that starts to
    /// fail wakes the stalled writers, whose stop it lifts.
    pub fn note(&self, lane: Lane, failed: bool) {
        let flag = match lane {
            Lane::Flush => &self.flush_failing,
            Lane::Compaction => &self.compaction_failing,
        };
        if flag.swap(failed, Ordering::AcqRel) != failed && failed {
            self.gate.notify();
        }
    }

    /// Whether `lane`'s last round failed.
    pub fn failing(&self, lane: Lane) -> bool {
        match lane {
            Lane::Flush => self.flush_failing.load(Ordering::Acquire),
            Lane::Compaction => self.compaction_failing.load(Ordering::Acquire),
        }
    }

    /// Pauses or resumes the start of compactions (a test hook).
    #[cfg(feature = "fault-injection")]
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Release);
    }

    /// Whether compactions are paused.
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// Keeps table `number` out of compactions, for `why`.
    pub fn quarantine(&self, number: u64, why: String) {
        lock(&self.quarantined).insert(number, why);
    }

    /// The tables kept out of compactions, with why.
    pub fn quarantined(&self) -> BTreeMap<u64, String> {
        lock(&self.quarantined).clone()
    }
}

/// Counters since open, for `Stats`: each only grows.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    rotations: AtomicU64,
    flushes: AtomicU64,
    large_batches: AtomicU64,
    compactions: AtomicU64,
    data_bytes_raw: AtomicU64,
    data_bytes_stored: AtomicU64,
    /// Bytes of tables written into each level (their sum: all tables
    /// written).
    table_bytes: [AtomicU64; crate::version::NUM_LEVELS],
}

/// One of the [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    /// Memtable rotations.
    Rotations,
    /// Flushes of frozen memtables.
    Flushes,
    /// Batches larger than the write buffer, written straight to tables.
    LargeBatches,
    /// Compactions, leveled and full.
    Compactions,
    /// Bytes of the data blocks of tables written, before compression.
    DataBytesRaw,
    /// The same blocks' bytes as stored.
    DataBytesStored,
}

impl Counters {
    fn counter(&self, count: Count) -> &AtomicU64 {
        match count {
            Count::Rotations => &self.rotations,
            Count::Flushes => &self.flushes,
            Count::LargeBatches => &self.large_batches,
            Count::Compactions => &self.compactions,
            Count::DataBytesRaw => &self.data_bytes_raw,
            Count::DataBytesStored => &self.data_bytes_stored,
        }
    }

    /// Adds `n` to `count`.
    pub fn add(&self, count: Count, n: u64) {
        self.counter(count).fetch_add(n, Ordering::Relaxed);
    }

    /// The value of `count`.
    pub fn get(&self, count: Count) -> u64 {
        self.counter(count).load(Ordering::Relaxed)
    }

    /// Adds `n` bytes of tables written into `level`.
    pub fn add_table_bytes(&self, level: usize, n: u64) {
        self.table_bytes[level].fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes of tables written into each level, level 0 first.
    pub fn table_bytes(&self) -> Vec<u64> {
        self.table_bytes
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }
}

//! The read state: the published [`View`] (the memtables and the sorted
//! run under them), the published last sequence number, and
//! [`Shared::snapshot`], which pairs them so that a read sees whole groups
//! only.
//!
//! Readers take no lock a writer holds for long: a view is an `Arc` behind
//! an `RwLock` that rotation and compaction hold only to swap it, and the
//! last sequence number is an atomic.

use crate::compaction::pick::Shape;
use crate::compaction::stall::WriteGate;
use crate::error::Error;
use crate::failure::Failure;
use crate::files::Files;
use crate::fs::Fs;
use crate::version::{Lookup as TableLookup, Retired, Version, VersionSet};
use crate::wal::Journals;
use batch::SeqNum;
use memdb::{BlockPool, Lookup, MemDb};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, RwLock};

/// What a read consults: the active memtable, the frozen ones from newest to
/// oldest, then the tables of the version under them all.
///
/// A view never changes once published; rotation and flush publish new
/// ones. Every record with a sequence number at or below the published last
/// sequence number is in the view that was current when that number was
/// read: records only move (from the active memtable to a frozen one, from
/// a frozen one to a table), and a flush keeps every version.
#[derive(Debug)]
pub(crate) struct View {
    pub active: Arc<MemDb>,
    /// The journal the active memtable's records begin in.
    pub active_journal: u64,
    /// Newest first.
    pub frozen: Vec<Arc<Frozen>>,
    /// The tables.
    pub version: Arc<Version>,
}

/// A memtable that takes no more writes, waiting for its flush.
#[derive(Debug)]
pub(crate) struct Frozen {
    pub memdb: Arc<MemDb>,
    /// The journal its records begin in: once it is flushed, journals below
    /// the next memtable's first journal hold nothing unflushed.
    pub journal: u64,
}

/// What a table change publishes beside its version
/// ([`Shared::install`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change<'a> {
    /// Only the tables change: a compaction.
    Tables,
    /// The oldest frozen memtable is now in a table: a flush.
    Flushed(&'a Arc<Frozen>),
    /// A batch larger than the write buffer is now in a table, and its
    /// last sequence number becomes readable with it.
    LargeBatch(u64),
}

impl View {
    /// The memtables, newest first.
    pub fn memtables(&self) -> impl Iterator<Item = &Arc<MemDb>> {
        std::iter::once(&self.active).chain(self.frozen.iter().map(|f| &f.memdb))
    }

    /// The value of `key` at `seq`: the memtables newest first, then the
    /// tables. The first holding a version at or below `seq` decides.
    pub fn get(&self, key: &[u8], seq: SeqNum) -> Result<Option<Vec<u8>>, Error> {
        for memdb in self.memtables() {
            match memdb.get(key, seq) {
                Lookup::Found(value) => return Ok(Some(value.to_vec())),
                Lookup::Deleted => return Ok(None),
                Lookup::Absent => {}
            }
        }
        match self.version.get(key, seq)? {
            TableLookup::Found(value) => Ok(Some(value.to_vec())),
            TableLookup::Deleted | TableLookup::Absent => Ok(None),
        }
    }
}

/// State shared between the write path, the background thread and
/// readers.
///
/// Beside the read state (the view and the last sequence number) it carries
/// what the write path and the background thread share: the directory and
/// file system, the file numbers, the version set, counters, the block
/// pool, and the closed and prepared journals (`wal`).
#[derive(Debug)]
pub(crate) struct Shared {
    /// The directory, its file system and the file numbers.
    pub files: Arc<Files>,
    pub view: RwLock<Arc<View>>,
    /// The last sequence number whose batch is fully applied: the snapshot a
    /// new read takes.
    // Invariant: stored (Release) only after the memtable insert of every
    // record up to it, so a reader that loads it (Acquire) sees them all,
    // and never sees part of a group.
    pub last_seq: AtomicU64,
    /// The catalog and manifest; `None` in a read-only database. Held by
    /// the one flush that may run at a time.
    pub versions: Mutex<Option<VersionSet>>,
    /// Where obsolete tables go to be deleted.
    pub retire: Option<Sender<Retired>>,
    /// The other end, until the deleter thread takes it
    /// (`compaction::Background`); `delete_retired` drains it here
    /// before then.
    pub retired: Mutex<Option<Receiver<Retired>>>,
    /// Full compactions since open.
    pub compactions: AtomicU64,
    /// The journals the leader shares with the lanes (`wal`).
    pub journals: Arc<Journals>,
    /// The one sticky failure: once set, every write is refused with it
    /// and the lanes commit nothing (`crate::failure`).
    pub failure: Arc<Failure>,
    /// Memtable rotations since open.
    pub rotations: AtomicU64,
    /// Flushes since open.
    pub flushes: AtomicU64,
    /// Batches larger than the write buffer written straight to tables
    /// since open (`compaction::large`).
    pub large_batches: AtomicU64,
    /// Bytes of tables written since open.
    pub table_bytes_written: AtomicU64,
    /// Memory of dropped memtables, for the next ones.
    pub blocks: Arc<BlockPool>,
    /// The tree's shape (level targets, table size), from the options.
    pub shape: Shape,
    /// Held by the compaction running, so that only one runs at a time
    /// and its inputs stay live until it commits.
    pub compacting: Mutex<()>,
    /// Wakes the compaction lane; `None` when it does not run (a
    /// read-only database, or once it is told to stop).
    pub compaction_wake: Mutex<Option<SyncSender<()>>>,
    /// Where stalled writers wait for the background, and the stall
    /// counters (`compaction::stall`).
    pub gate: WriteGate,
    /// A test hook: while set, the compaction lane starts no compaction
    /// (stall tests fill level 0 with it).
    pub compaction_paused: AtomicBool,
    /// Whether the last flush failed and is being retried: frozen
    /// memtables then stop no write (`compaction::stall`).
    pub flush_failing: AtomicBool,
    /// Whether the last compaction failed and is being retried: level 0
    /// then stops no write.
    pub compaction_failing: AtomicBool,
    /// Tables a compaction found damaged (number to what it found): the
    /// picker goes around them (`compaction::level`).
    pub quarantined: Mutex<BTreeMap<u64, String>>,
}

pub(crate) use crate::sync::lock;

impl Shared {
    /// The shared state of a database just opened in `files`, publishing
    /// `view` at `last_seq`.
    #[allow(clippy::too_many_arguments)] // until the split of step 2
    pub fn new(
        files: Arc<Files>,
        failure: Arc<Failure>,
        view: View,
        last_seq: SeqNum,
        versions: Option<VersionSet>,
        retire: Option<(Sender<Retired>, Receiver<Retired>)>,
        blocks: Arc<BlockPool>,
        shape: Shape,
    ) -> Shared {
        let (retire, retired) = match retire {
            Some((tx, rx)) => (Some(tx), Some(rx)),
            None => (None, None),
        };
        let journals = Arc::new(Journals::new(&files, &failure));
        Shared {
            files,
            view: RwLock::new(Arc::new(view)),
            last_seq: AtomicU64::new(last_seq.0),
            versions: Mutex::new(versions),
            retire,
            retired: Mutex::new(retired),
            compactions: AtomicU64::new(0),
            journals,
            rotations: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            large_batches: AtomicU64::new(0),
            table_bytes_written: AtomicU64::new(0),
            blocks,
            failure,
            shape,
            compacting: Mutex::new(()),
            compaction_wake: Mutex::new(None),
            gate: WriteGate::default(),
            compaction_paused: AtomicBool::new(false),
            flush_failing: AtomicBool::new(false),
            compaction_failing: AtomicBool::new(false),
            quarantined: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records whether a lane's last round failed (`flag` is
    /// `flush_failing` or `compaction_failing`); a lane that starts to fail
    /// wakes the stalled writers, whose stop it lifts.
    pub fn note_lane(&self, flag: &AtomicBool, failed: bool) {
        if flag.swap(failed, Ordering::AcqRel) != failed && failed {
            self.gate.notify();
        }
    }

    /// A new version was published (a flush, a compaction, a large
    /// batch): the compaction lane may have work, and a stalled writer
    /// may go on.
    pub fn tables_changed(&self) {
        self.wake_compaction();
        self.gate.notify();
    }

    /// Stops the write path for good with `error`, unless a failure
    /// stopped it already: every later write refuses with it, and every
    /// stalled writer wakes to see it.
    pub fn stop(&self, error: Error) {
        self.failure.set(error);
        self.gate.notify();
    }

    /// Publishes `version`, which `VersionSet::log_and_apply` just
    /// committed, with what `change` says: the one swap of the read state
    /// for a table change (rotation swaps only the memtables). The caller
    /// holds the version set, so no other table change runs meanwhile.
    pub fn install(&self, version: Version, change: Change<'_>) {
        {
            let mut current = self.view.write().unwrap_or_else(|e| e.into_inner());
            let frozen = match change {
                Change::Flushed(oldest) => {
                    // Rotations only put memtables in front, and only a
                    // flush (holding the version set) removes them: the
                    // one flushed is still the last.
                    debug_assert!(current
                        .frozen
                        .last()
                        .is_some_and(|f| Arc::ptr_eq(f, oldest)));
                    current.frozen[..current.frozen.len() - 1].to_vec()
                }
                Change::Tables | Change::LargeBatch(_) => current.frozen.clone(),
            };
            *current = Arc::new(View {
                active: Arc::clone(&current.active),
                active_journal: current.active_journal,
                frozen,
                version: Arc::new(version),
            });
            if let Change::LargeBatch(last) = change {
                // Publication point, as `Memtable::apply`'s, while the
                // view is still locked: a reader that can load the new
                // view loads this number too, and never spins in
                // `snapshot` waiting for it.
                self.last_seq.store(last, Ordering::Release);
            }
        }
        self.tables_changed();
    }

    /// Publishes the memtables of a rotation: `active`, whose records
    /// begin in journal `active_journal`, in front of `frozen`, the
    /// memtable it replaces, in front of the frozen ones. The one swap of
    /// the read state besides [`install`](Shared::install).
    pub fn rotate_memtables(&self, active: Arc<MemDb>, active_journal: u64, frozen: Arc<Frozen>) {
        let mut view = self.view.write().unwrap_or_else(|e| e.into_inner());
        let mut all_frozen = Vec::with_capacity(view.frozen.len() + 1);
        all_frozen.push(frozen);
        all_frozen.extend(view.frozen.iter().cloned());
        *view = Arc::new(View {
            active,
            active_journal,
            frozen: all_frozen,
            version: Arc::clone(&view.version),
        });
    }

    /// Wakes the compaction lane, if it runs: the tables changed.
    pub fn wake_compaction(&self) {
        if let Some(wake) = &*lock(&self.compaction_wake) {
            // Full: a wake-up is pending and covers this one.
            let _ = wake.try_send(());
        }
    }

    /// The current view.
    pub fn view(&self) -> Arc<View> {
        Arc::clone(&self.view.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn last_seq(&self) -> SeqNum {
        SeqNum(self.last_seq.load(Ordering::Acquire))
    }

    /// A sequence number and a view that agree: every record at or below
    /// the number is readable in the view.
    pub fn snapshot(&self) -> (SeqNum, Arc<View>) {
        loop {
            // The number before the view: views only lose records by moving
            // them (to a frozen memtable, to a table), so every record at or
            // below `seq` is in the view loaded after it...
            let seq = self.last_seq();
            let view = self.view();
            // ...except the versions a compaction dropped because a newer
            // one hides them: those tables cannot answer below their newest
            // record. That record was published before its table was, so
            // loading the number again after seeing the tables ends the
            // loop (a flush never writes an unpublished record).
            if view.version.max_seq <= seq.0 {
                return (seq, view);
            }
            std::hint::spin_loop();
        }
    }

    /// Unmaps and unlinks the tables no version holds any more
    /// (TABLES.md §8), off every reader's thread, and returns once every
    /// table retired before the call is gone: on the deleter's thread when
    /// it runs (a barrier through its channel), here before it starts.
    pub fn delete_retired(&self) {
        let retired = lock(&self.retired);
        if let Some(retired) = retired.as_ref() {
            for message in retired.try_iter() {
                delete_retired(&**self.files.fs(), message);
            }
            return;
        }
        drop(retired);
        let Some(retire) = &self.retire else { return };
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        // A deleter that stopped (the database closed) answers nothing:
        // the send or the wait fails at once.
        if retire.send(Retired::Barrier(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

/// The deleter's work on one message: unmap and unlink a retired table,
/// or answer a barrier. False for [`Retired::Stop`].
pub(crate) fn delete_retired(fs: &dyn Fs, message: Retired) -> bool {
    match message {
        Retired::Table { path, table } => {
            drop(table);
            match fs.remove(&path) {
                Ok(()) => log::debug!("deleted obsolete table {}", path.display()),
                Err(e) => log::warn!("cannot delete obsolete table {}: {e}", path.display()),
            }
        }
        Retired::Barrier(done) => {
            let _ = done.send(());
        }
        Retired::Stop => return false,
    }
    true
}

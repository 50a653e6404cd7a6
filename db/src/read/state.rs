//! The read state ([`ReadState`]): the published [`View`] (the memtables
//! and the tables of a version under them), the published last sequence
//! number, and [`ReadState::snapshot`], which pairs them so that a read
//! sees whole groups only.
//!
//! Readers take no lock a writer holds for long: a view is an `Arc` behind
//! an `RwLock` that rotation and a table change hold only to swap it, and
//! the last sequence number is an atomic.

use crate::error::Error;
use crate::version::{Lookup as TableLookup, Version};
use batch::SeqNum;
use memdb::{Lookup, MemDb};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

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
    /// A read-only database's view carries the last sequence number it
    /// was loaded at, so that a refresh swaps number and view at once
    /// ([`ReadState::replace`]); `None` in a writable database's, whose
    /// number moves on its own.
    pub loaded_at: Option<SeqNum>,
    /// The bytes of each table source a scan merges (each level-0 table,
    /// then each deeper level), summed by the first scan of the view: a
    /// scan reads its sources largest first, and summing a level's tables
    /// at every new iterator cost a seek of 10 entries about 5% of its time.
    pub table_sizes: OnceLock<Box<[u64]>>,
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
/// ([`ReadState::install`]).
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
            TableLookup::Found(value) => Ok(Some(value.into_owned())),
            TableLookup::Deleted | TableLookup::Absent => Ok(None),
        }
    }
}

/// The published view and last sequence number.
#[derive(Debug)]
pub(crate) struct ReadState {
    /// Swapped whole by [`install`](ReadState::install) (a table change,
    /// holding the version set) and
    /// [`rotate_memtables`](ReadState::rotate_memtables) (the leader);
    /// read by every read. The lock is held only for the swap or the
    /// `Arc` clone, and nothing else is locked inside it.
    view: RwLock<Arc<View>>,
    /// The last sequence number whose batch is fully applied: the snapshot a
    /// new read takes.
    // Invariant: stored (Release) only after the memtable insert of every
    // record up to it, so a reader that loads it (Acquire) sees them all,
    // and never sees part of a group.
    last_seq: AtomicU64,
}

impl ReadState {
    /// The read state of a database just opened: `view`, at `last_seq`.
    pub fn new(view: View, last_seq: SeqNum) -> ReadState {
        ReadState {
            view: RwLock::new(Arc::new(view)),
            last_seq: AtomicU64::new(last_seq.0),
        }
    }

    /// The current view.
    pub fn view(&self) -> Arc<View> {
        Arc::clone(&self.view.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The last sequence number published.
    pub fn last_seq(&self) -> SeqNum {
        SeqNum(self.last_seq.load(Ordering::Acquire))
    }

    /// Publishes `last`: every record up to it is in the active memtable
    /// (`Memtable::apply`, after the insert).
    pub fn publish(&self, last: u64) {
        debug_assert!(last >= self.last_seq.load(Ordering::Relaxed));
        self.last_seq.store(last, Ordering::Release);
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
            if let Some(loaded_at) = view.loaded_at {
                return (loaded_at, view);
            }
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

    /// Publishes `version`, which `VersionSet::log_and_apply` just
    /// committed, with what `change` says: the one swap of the read state
    /// for a table change. The caller holds the version set, so no other
    /// table change runs meanwhile.
    pub fn install(&self, version: Version, change: Change<'_>) {
        let mut current = self.view.write().unwrap_or_else(|e| e.into_inner());
        let frozen = match change {
            Change::Flushed(oldest) => {
                // Rotations only put memtables in front, and only a flush
                // (holding the version set) removes them: the one flushed
                // is still the last.
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
            loaded_at: None,
            table_sizes: OnceLock::new(),
        });
        if let Change::LargeBatch(last) = change {
            // Publication point, as `Memtable::apply`'s, while the view is
            // still locked: a reader that can load the new view loads this
            // number too, and never spins in `snapshot` waiting for it.
            self.publish(last);
        }
    }

    /// Publishes the memtables of a rotation: `active`, whose records
    /// begin in journal `active_journal`, in front of `frozen`, the
    /// memtable it replaces, in front of the frozen ones. The one swap of
    /// the read state besides [`install`](ReadState::install).
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
            loaded_at: None,
            table_sizes: OnceLock::new(),
        });
    }

    /// Swaps in the view a read-only database's refresh loaded, with the
    /// number it was loaded at (which `snapshot` takes from the view, so
    /// that a read never pairs the old number with the new view).
    pub fn replace(&self, view: View) {
        debug_assert!(
            view.loaded_at.is_some(),
            "only a read-only load replaces the view"
        );
        let mut current = self.view.write().unwrap_or_else(|e| e.into_inner());
        if let Some(seq) = view.loaded_at {
            self.last_seq.store(seq.0, Ordering::Release);
        }
        *current = Arc::new(view);
    }
}

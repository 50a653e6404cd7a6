//! The read state: the published [`View`] (the memtables and the sorted
//! run under them), the published last sequence number, and
//! [`Shared::snapshot`], which pairs them so that a read sees whole groups
//! only.
//!
//! Readers take no lock a writer holds for long: a view is an `Arc` behind
//! an `RwLock` that rotation and compaction hold only to swap it, and the
//! last sequence number is an atomic.

use crate::filter::{KeyFilter, KeyHash};
use crate::fs::Fs;
use crate::run::SortedRun;
use crate::wal::{ClosedJournals, NextJournal};
use batch::SeqNum;
use memdb::{BlockPool, Lookup, MemDb};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// What a read consults: the active memtable, the frozen ones from newest to
/// oldest, then the sorted run under them all.
///
/// A view never changes once published; rotation and compaction publish new
/// ones. Every record with a sequence number at or below the published last
/// sequence number is in the view that was current when that number was
/// read, except versions a compaction dropped because a newer version or a
/// tombstone hides them at that number (see `Shared::snapshot`).
#[derive(Debug)]
pub(crate) struct View {
    pub active: Arc<MemDb>,
    /// Newest first.
    pub frozen: Vec<Arc<Frozen>>,
    /// The merged frozen memtables of earlier compactions, if any.
    pub run: Option<Arc<SortedRun>>,
}

/// A memtable that takes no more writes, with a filter over its keys once
/// the background thread has built it.
///
/// Building the filter walks the whole memtable: a few milliseconds that
/// rotation, which holds the write lock, does not pay. Until it is built,
/// gets probe the memtable itself.
#[derive(Debug)]
pub(crate) struct Frozen {
    pub memdb: Arc<MemDb>,
    filter: OnceLock<KeyFilter>,
}

impl Frozen {
    /// Freezes `memdb`, which must receive no more writes.
    pub fn new(memdb: Arc<MemDb>) -> Frozen {
        Frozen {
            memdb,
            filter: OnceLock::new(),
        }
    }

    /// Whether a get of the key of `hash` must probe this memtable: false
    /// only when the filter is built and rules the key out.
    pub fn may_contain(&self, hash: KeyHash) -> bool {
        self.filter.get().is_none_or(|f| f.may_contain(hash))
    }

    /// Builds the filter, if not yet built.
    pub fn build_filter(&self) {
        self.filter.get_or_init(|| KeyFilter::build(&self.memdb));
    }
}

impl View {
    /// The memtables, newest first.
    pub fn memtables(&self) -> impl Iterator<Item = &Arc<MemDb>> {
        std::iter::once(&self.active).chain(self.frozen.iter().map(|f| &f.memdb))
    }

    /// The value of `key` at `seq`, which must be at or above the run's
    /// newest sequence number.
    pub fn get(&self, key: &[u8], seq: SeqNum) -> Option<Vec<u8>> {
        let hash = KeyHash::new(key);
        let frozen = self
            .frozen
            .iter()
            .filter(|f| f.may_contain(hash))
            .map(|f| &f.memdb);
        for memdb in std::iter::once(&self.active).chain(frozen) {
            match memdb.get(key, seq) {
                Lookup::Found(value) => return Some(value.to_vec()),
                Lookup::Deleted => return None,
                Lookup::Absent => {}
            }
        }
        let run = self.run.as_ref()?;
        debug_assert!(run.max_seq() <= seq, "a run read below its newest record");
        run.get(key, hash).map(<[u8]>::to_vec)
    }
}

/// State shared between the write path and readers.
///
/// Beside the read state (the view and the last sequence number) it carries
/// what the write path and the background thread share: the directory and
/// file system, counters, the block pool, and the closed and prepared
/// journals (`wal`).
#[derive(Debug)]
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub fs: Arc<dyn Fs>,
    pub view: RwLock<Arc<View>>,
    /// The last sequence number whose batch is fully applied: the snapshot a
    /// new read takes.
    // Invariant: stored (Release) only after the memtable insert of every
    // record up to it, so a reader that loads it (Acquire) sees them all,
    // and never sees part of a group.
    pub last_seq: AtomicU64,
    /// Bytes of live journals other than the current one.
    pub old_journal_bytes: AtomicU64,
    /// Size of the current journal.
    pub journal_bytes: AtomicU64,
    /// Memtable rotations since open.
    pub rotations: AtomicU64,
    /// Held by the one compaction that may run at a time.
    pub compaction: Mutex<()>,
    /// Compactions since open.
    pub compactions: AtomicU64,
    /// Memory of dropped memtables, for the next ones.
    pub blocks: Arc<BlockPool>,
    /// Journals closed by rotation, waiting for their sync.
    pub closed_journals: ClosedJournals,
    /// The journal to rotate into, zero-filled ahead for synced workloads.
    pub next_journal: NextJournal,
}

impl Shared {
    /// The shared state of a database just recovered in `dir`: its active
    /// memtable, the frozen ones (newest first), the last sequence number
    /// and the bytes of its journals.
    pub fn recovered(
        dir: &std::path::Path,
        fs: &Arc<dyn Fs>,
        active: Arc<MemDb>,
        frozen: Vec<Arc<MemDb>>,
        last_seq: SeqNum,
        journal_bytes: u64,
        blocks: Arc<BlockPool>,
    ) -> Shared {
        Shared {
            dir: dir.to_path_buf(),
            fs: Arc::clone(fs),
            view: RwLock::new(Arc::new(View {
                active,
                frozen: frozen
                    .into_iter()
                    .map(|memdb| Arc::new(Frozen::new(memdb)))
                    .collect(),
                run: None,
            })),
            last_seq: AtomicU64::new(last_seq.0),
            old_journal_bytes: AtomicU64::new(journal_bytes),
            journal_bytes: AtomicU64::new(0),
            rotations: AtomicU64::new(0),
            compaction: Mutex::new(()),
            compactions: AtomicU64::new(0),
            blocks,
            closed_journals: ClosedJournals::default(),
            next_journal: NextJournal::default(),
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
            // them (to a frozen memtable, to the run), so every record at or
            // below `seq` is in the view loaded after it.
            let seq = self.last_seq();
            let view = self.view();
            // But a run holds only the newest version of each key, so it
            // cannot answer below its newest record. That record was
            // published before the run was, so loading the number again
            // after seeing the run ends the loop.
            if view.run.as_ref().is_none_or(|r| r.max_seq() <= seq) {
                return (seq, view);
            }
            std::hint::spin_loop();
        }
    }
}

/// Builders for the unit tests of the read state and of what publishes it.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::fs::OsFs;
    use batch::Batch;

    /// A memtable holding `k` = `v1` at 1 and `k` = `v2` at 2.
    pub(crate) fn two_versions_of_k() -> Arc<MemDb> {
        let (memdb, mut inserter) = MemDb::new(1 << 16);
        let mut b = Batch::new();
        b.put(b"k", b"v1");
        b.put(b"k", b"v2");
        inserter.apply(SeqNum(1), &b);
        memdb
    }

    pub(crate) fn shared_with(view: View, last_seq: u64) -> Arc<Shared> {
        Arc::new(Shared {
            dir: PathBuf::from("/db"),
            // Never touched: compaction and snapshots change no file.
            fs: Arc::new(OsFs),
            view: RwLock::new(Arc::new(view)),
            last_seq: AtomicU64::new(last_seq),
            old_journal_bytes: AtomicU64::new(0),
            journal_bytes: AtomicU64::new(0),
            rotations: AtomicU64::new(0),
            compaction: Mutex::new(()),
            compactions: AtomicU64::new(0),
            blocks: BlockPool::new(0),
            closed_journals: ClosedJournals::default(),
            next_journal: NextJournal::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{shared_with, two_versions_of_k};
    use super::*;
    use std::time::Duration;

    /// A frozen memtable is probed for every key until its filter is built,
    /// then only for keys the filter may hold.
    #[test]
    fn a_frozen_memtable_is_probed_until_its_filter_is_built() {
        let frozen = Frozen::new(two_versions_of_k());
        let absent: Vec<KeyHash> = (0..100)
            .map(|i| KeyHash::new(format!("absent{i}").as_bytes()))
            .collect();
        assert!(absent.iter().all(|&h| frozen.may_contain(h)));
        frozen.build_filter();
        assert!(frozen.may_contain(KeyHash::new(b"k")));
        let ruled_out = absent.iter().filter(|&&h| !frozen.may_contain(h)).count();
        assert!(ruled_out >= 90, "{ruled_out} of 100 absent keys ruled out");
    }

    /// A snapshot never pairs a sequence number with a run holding newer
    /// records: it waits until the number catches up.
    #[test]
    fn snapshot_waits_until_the_number_covers_the_run() {
        let run = SortedRun::merge(&[&two_versions_of_k()], None).unwrap();
        assert_eq!(run.max_seq(), SeqNum(2));
        let (active, _inserter) = MemDb::new(1 << 16);
        // As if a reader loaded the number just before seq 2 was published
        // and the run built from it.
        let shared = shared_with(
            View {
                active,
                frozen: Vec::new(),
                run: Some(Arc::new(run)),
            },
            1,
        );
        let reader = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || shared.snapshot())
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(!reader.is_finished(), "a snapshot at 1 over a run at 2");
        shared.last_seq.store(2, Ordering::Release);
        let (seq, view) = reader.join().unwrap();
        assert_eq!(seq, SeqNum(2));
        assert_eq!(view.get(b"k", seq).as_deref(), Some(&b"v2"[..]));
    }
}

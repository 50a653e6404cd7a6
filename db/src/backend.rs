//! The database side of group commit: the journal file, the active memtable
//! and rotation, behind the `writer` crate's traits.
//!
//! The group-commit leader owns the [`Backend`] while it holds the write lock,
//! so everything here runs on one thread at a time and needs no lock of its
//! own; readers see its effects only through [`Shared`].

use crate::error::io_context;
use crate::files;
use crate::filter::{KeyFilter, KeyHash};
use crate::flush::Flush;
use crate::fs::Fs;
use crate::run::SortedRun;
use crate::wal::{self, ClosedJournals, JournalWriter, NextJournal};
use batch::{Batch, SeqNum};
use memdb::{BlockPool, Inserter, Lookup, MemDb};
use std::io;
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

    /// Merges every frozen memtable of the current view, with the run under
    /// them, into a new run, and publishes a view with it.
    ///
    /// Returns false, changing nothing, if there was nothing to merge, the
    /// run would be too large for its index, or it would hold a record not
    /// yet published.
    pub fn compact(&self) -> bool {
        let _one_at_a_time = self.compaction.lock().unwrap_or_else(|e| e.into_inner());
        let view = self.view();
        if view.frozen.is_empty() {
            return false;
        }
        let inputs: Vec<&MemDb> = view.frozen.iter().map(|f| &*f.memdb).collect();
        let Ok(run) = SortedRun::merge(&inputs, view.run.as_deref()) else {
            return false;
        };
        // A frozen memtable holds only published records, except after a
        // backend panic mid-group (the writer is then poisoned and the
        // number never moves again): a run above the number would make
        // every snapshot wait for it forever.
        if run.max_seq() > self.last_seq() {
            return false;
        }
        let run = Arc::new(run);
        let mut current = self.view.write().unwrap_or_else(|e| e.into_inner());
        // Rotations since `view` only put memtables in front; nothing else
        // removes them while this compaction holds the lock. So the merged
        // memtables are the oldest `inputs.len()` of the current view.
        let keep = current.frozen.len() - inputs.len();
        debug_assert!(current.frozen[keep..]
            .iter()
            .zip(&view.frozen)
            .all(|(a, b)| Arc::ptr_eq(a, b)));
        *current = Arc::new(View {
            active: Arc::clone(&current.active),
            frozen: current.frozen[..keep].to_vec(),
            run: Some(run),
        });
        self.compactions.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// What the group-commit leader drives.
pub(crate) struct Backend {
    shared: Arc<Shared>,
    journal: JournalWriter,
    journal_path: PathBuf,
    journal_number: u64,
    inserter: Inserter,
    write_buffer_size: usize,
    flush: Box<dyn Flush>,
    /// Whether the next journal was asked for since the current one began.
    next_requested: bool,
    /// Whether the current journal is zero-filled (see `wal::prepared`).
    journal_zeroed: bool,
    /// The error of a rotation that failed. It is kept, and every later
    /// write refuses with it: the journal lifecycle is in doubt (a journal
    /// may exist without a durable name), and a journal error poisons the
    /// write path until the database is reopened.
    rotation_failure: Option<Arc<io::Error>>,
}

impl Backend {
    pub fn new(
        shared: Arc<Shared>,
        journal: JournalWriter,
        journal_number: u64,
        inserter: Inserter,
        write_buffer_size: usize,
        flush: Box<dyn Flush>,
    ) -> Backend {
        let journal_path = files::journal_path(&shared.dir, journal_number);
        Backend {
            shared,
            journal,
            journal_path,
            journal_number,
            inserter,
            write_buffer_size,
            flush,
            next_requested: false,
            journal_zeroed: false,
            rotation_failure: None,
        }
    }

    /// Makes journal `number` the current one; returns the one it replaces.
    fn start_journal(
        &mut self,
        number: u64,
        journal: JournalWriter,
        zeroed: bool,
    ) -> JournalWriter {
        let old = std::mem::replace(&mut self.journal, journal);
        self.shared
            .old_journal_bytes
            .fetch_add(old.size(), Ordering::Relaxed);
        self.shared.journal_bytes.store(0, Ordering::Relaxed);
        self.journal_number = number;
        self.journal_path = files::journal_path(&self.shared.dir, number);
        self.journal_zeroed = zeroed;
        self.next_requested = false;
        old
    }

    /// Makes every journal durable: the closed ones first, as a synced write
    /// must not outlive an earlier one, then the current one.
    pub fn sync_journals(&mut self) -> io::Result<()> {
        self.shared.closed_journals.sync_all()?;
        self.journal
            .sync()
            .map_err(io_context("fdatasync", &self.journal_path))
    }

    /// Whether the active memtable holds no record.
    pub fn active_is_empty(&self) -> bool {
        self.inserter.memdb().is_empty()
    }

    /// Freezes the active memtable and starts a new memtable and journal.
    ///
    /// The old journal is queued for its sync, which the background thread
    /// does, and every later synced group waits for (see
    /// `wal::closed`). An error leaves the memtables as they were and is
    /// kept: every later write refuses with it.
    pub fn rotate(&mut self) -> io::Result<()> {
        if let Some(failure) = &self.rotation_failure {
            return Err(io::Error::new(
                failure.kind(),
                format!("refusing writes after a failed rotation: {failure}"),
            ));
        }
        if let Err(e) = self.start_next_journal() {
            log::error!("rotation failed: {e}; refusing writes until reopened");
            let e = Arc::new(e);
            self.rotation_failure = Some(Arc::clone(&e));
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        let (memdb, inserter) = MemDb::with_pool(self.write_buffer_size, &self.shared.blocks);
        let old = std::mem::replace(&mut self.inserter, inserter);
        // The old memtable takes no more writes now; the background thread,
        // woken below, builds its filter.
        let frozen = Arc::new(Frozen::new(Arc::clone(old.memdb())));
        {
            let mut view = self.shared.view.write().unwrap_or_else(|e| e.into_inner());
            let mut all_frozen = Vec::with_capacity(view.frozen.len() + 1);
            all_frozen.push(frozen);
            all_frozen.extend(view.frozen.iter().cloned());
            *view = Arc::new(View {
                active: memdb,
                frozen: all_frozen,
                run: view.run.clone(),
            });
        }
        let frozen = Arc::clone(old.memdb());
        self.shared.rotations.fetch_add(1, Ordering::Relaxed);
        log::debug!(
            "rotated to {} ({} bytes in the frozen memtable)",
            self.journal_path.display(),
            frozen.used()
        );
        self.flush.frozen(frozen);
        Ok(())
    }
}

impl Backend {
    /// Moves to the next journal, prepared or created now, and queues the
    /// old one for its sync.
    fn start_next_journal(&mut self) -> io::Result<()> {
        let number = self.journal_number.checked_add(1).ok_or_else(|| {
            io::Error::other(format!(
                "{} holds the largest file number",
                self.journal_path.display()
            ))
        })?;
        let (journal, zeroed) = match self.shared.next_journal.take(number) {
            Some(journal) => (journal, true),
            None => (
                wal::create(&*self.shared.fs, &self.shared.dir, number)?,
                false,
            ),
        };
        let old_path = self.journal_path.clone();
        let old = self.start_journal(number, journal, zeroed);
        self.shared.closed_journals.push(old_path, old);
        Ok(())
    }
}

impl writer::Log for Backend {
    fn append(&mut self, group: &Batch) -> io::Result<()> {
        let path = &self.journal_path;
        self.journal
            .append(group.as_bytes())
            .and_then(|()| self.journal.flush())
            .map_err(io_context("write", path))?;
        self.shared
            .journal_bytes
            .store(self.journal.size(), Ordering::Relaxed);
        Ok(())
    }

    /// A synced group's sync.
    fn sync(&mut self) -> io::Result<()> {
        let next = self.journal_number.checked_add(1);
        if let (false, Some(next)) = (self.next_requested, next) {
            // A synced workload: have the next journal zero-filled ahead.
            self.next_requested = true;
            self.shared.next_journal.request(next);
            self.flush.wake();
        }
        self.sync_journals()?;
        if let (false, Some(next)) = (self.journal_zeroed, next) {
            // Leave an appended journal for a zero-filled one as soon as it
            // is ready. The old one was just synced whole: nothing waits on
            // it.
            if let Some(journal) = self.shared.next_journal.take_ready(next) {
                self.start_journal(next, journal, true);
            }
        }
        Ok(())
    }
}

impl writer::Memtable for Backend {
    fn apply(&mut self, group: &Batch) {
        self.inserter.apply(group.seq(), group);
        let last = group.seq().0 + group.len() as u64 - 1;
        // Publication point: readers taking a snapshot from now on see the
        // whole group (see the invariant on `Shared::last_seq`).
        self.shared.last_seq.store(last, Ordering::Release);
    }
}

impl writer::Room for Backend {
    fn make_room(&mut self, n: usize) -> Result<usize, writer::RoomError> {
        if let Err(err) = self.shared.closed_journals.check() {
            // A journal's data may be lost: no write may follow it.
            return Err(writer::RoomError::with_source(
                "refusing writes",
                Box::new(err),
            ));
        }
        if let Some(failure) = &self.rotation_failure {
            // The journal lifecycle is in doubt: no write may follow, even
            // one that would fit.
            return Err(writer::RoomError::with_source(
                "refusing writes after a failed rotation",
                Box::new(io::Error::new(failure.kind(), failure.to_string())),
            ));
        }
        let memdb = self.inserter.memdb();
        if memdb.free() >= n {
            return Ok(memdb.free());
        }
        if memdb.is_empty() {
            // An empty memtable takes a write larger than its budget whole
            // (goleveldb lets its empty memdb grow the same way); the merge
            // limit then admits nobody beside it.
            return Ok(n);
        }
        self.rotate().map_err(|e| {
            let msg = format!("rotating from {}", self.journal_path.display());
            writer::RoomError::with_source(&msg, Box::new(e))
        })?;
        Ok(self.inserter.memdb().free().max(n))
    }

    fn after_write(&mut self, _applied: usize) -> Result<(), writer::RoomError> {
        // Rotation happens in `make_room`, before the write that needs it:
        // rotating here too would only move the same work earlier.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::OsFs;
    use batch::Batch;
    use std::time::Duration;

    /// Unpublished records (left by a backend panic mid-group) never go
    /// into a run, which no snapshot could then read.
    #[test]
    fn compaction_refuses_unpublished_records() {
        let shared = shared_with(
            View {
                active: MemDb::new(1 << 16).0,
                frozen: vec![Arc::new(Frozen::new(two_versions_of_k()))],
                run: None,
            },
            1,
        );
        assert!(!shared.compact());
        assert!(shared.view().run.is_none());
        let (seq, view) = shared.snapshot();
        assert_eq!(seq, SeqNum(1));
        assert_eq!(view.get(b"k", seq).as_deref(), Some(&b"v1"[..]));
        shared.last_seq.store(2, Ordering::Release);
        assert!(shared.compact());
        assert_eq!(shared.view().frozen.len(), 0);
    }

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

    /// A memtable holding `k` = `v1` at 1 and `k` = `v2` at 2.
    fn two_versions_of_k() -> Arc<MemDb> {
        let (memdb, mut inserter) = MemDb::new(1 << 16);
        let mut b = Batch::new();
        b.put(b"k", b"v1");
        b.put(b"k", b"v2");
        inserter.apply(SeqNum(1), &b);
        memdb
    }

    fn shared_with(view: View, last_seq: u64) -> Arc<Shared> {
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

//! What happens to a memtable once rotation freezes it.
//!
//! Rotation hands each frozen memtable to a [`Flush`]. The one used today,
//! [`BackgroundCompaction`], wakes a thread that faults in memory for the
//! next memtable, syncs the journals rotation closed (see
//! `wal::closed`), zero-fills the next journal if one is wanted (see
//! `wal::prepared`), builds the Bloom filters of the frozen memtables, then
//! merges the frozen memtables
//! into the sorted run under them when enough have piled up
//! ([`compaction_due`]); their journals stay live, so recovery replays them.
//! A later table issue puts a flush to table files behind the same seam: it
//! writes the run to a file, records it in a manifest with the journal
//! number it covers, and deletes the journals.

use crate::read::{Shared, View};
use crate::run::SortedRun;
use crate::tuning::{ARENA_QUARTERS, MIN_FROZEN, POOL_COMPACTIONS, RUN_FRACTION};
use memdb::{BlockPool, MemDb};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The pool of memtable memory for a database with memtables of
/// `write_buffer_size` bytes.
///
/// A background compaction frees at least `MIN_FROZEN` memtables at once;
/// the pool keeps `POOL_COMPACTIONS` (2) times their budget (a memtable's arena is larger than its
/// budget by the skiplist's links), so the memtables filled before the next
/// compaction reuse that memory instead of faulting in fresh pages.
pub(crate) fn memtable_pool(write_buffer_size: usize) -> Arc<BlockPool> {
    BlockPool::new(write_buffer_size.saturating_mul(POOL_COMPACTIONS * MIN_FROZEN))
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

/// Whether `view` has enough frozen memtables for a background compaction.
pub(crate) fn compaction_due(view: &View) -> bool {
    let frozen_bytes: usize = view.frozen.iter().map(|f| f.memdb.used()).sum();
    let run_bytes = view.run.as_ref().map_or(0, |r| r.data_bytes());
    view.frozen.len() >= MIN_FROZEN && frozen_bytes * RUN_FRACTION >= run_bytes
}

/// Compacts on a thread of its own, woken by each rotation.
///
/// The thread holds the shared state. Dropping this value (with the write
/// path, when the database closes) ends the thread and waits for it, so
/// that it touches no file once the database has released its directory.
#[derive(Debug)]
pub(crate) struct BackgroundCompaction {
    /// Capacity 1: a wake-up already pending covers this one too. `None`
    /// only while dropping.
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl BackgroundCompaction {
    /// Starts the thread for a database whose memtables have a budget of
    /// `write_buffer_size` bytes.
    pub fn start(
        shared: Arc<Shared>,
        write_buffer_size: usize,
    ) -> std::io::Result<BackgroundCompaction> {
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let background = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("tributary-compaction".into())
            .spawn(move || {
                let shared = background;
                while woken.recv().is_ok() {
                    // First what the new memtable needs: memory faulted in
                    // here, not in its inserts (an arena is about a quarter
                    // larger than its budget).
                    shared
                        .blocks
                        .prefill(write_buffer_size / 4 * ARENA_QUARTERS);
                    // A failure is kept for the write path to report.
                    let _ = shared.closed_journals.sync_all();
                    shared
                        .next_journal
                        .prepare(&*shared.fs, &shared.dir, write_buffer_size);
                    let view = shared.view();
                    // Memtables about to be merged need no filter.
                    if !(compaction_due(&view) && shared.compact()) {
                        for frozen in &view.frozen {
                            frozen.build_filter();
                        }
                    }
                }
            })?;
        // Recovery may have left frozen memtables enough for a compaction.
        let _ = wake.try_send(());
        Ok(BackgroundCompaction {
            wake: Some(wake),
            thread: Some(thread),
            shared,
        })
    }
}

impl Drop for BackgroundCompaction {
    fn drop(&mut self) {
        // Disconnecting ends the thread's loop after its current round.
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            // A panic there was already reported on stderr; reads stayed
            // correct without the thread.
            let _ = thread.join();
        }
        self.shared
            .next_journal
            .discard(&*self.shared.fs, &self.shared.dir);
    }
}

impl Flush for BackgroundCompaction {
    fn frozen(&mut self, _memdb: Arc<MemDb>) {
        self.wake();
    }

    fn wake(&mut self) {
        // Full: a wake-up is already pending, and it covers this one.
        // Disconnected: the thread panicked; reads stay correct, only
        // slower, and rotation creates journals itself, so the write path
        // goes on.
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Shared {
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

#[cfg(test)]
mod tests {
    use crate::read::test_support::{shared_with, two_versions_of_k};
    use crate::read::{Frozen, View};
    use batch::SeqNum;
    use memdb::MemDb;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

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
}

//! Journals closed by rotation, synced off the write path.
//!
//! Rotation does not `fdatasync` the journal it leaves: that is about 4 MiB
//! of writeback, and on the write path it stalled a one-thread `fillseq`
//! for 7% of its run. Nothing needs that data durable at that moment, only
//! before a later promise of durability. So rotation queues the old journal
//! here and the background thread syncs it; the promises wait for it:
//!
//! - A synced group, and [`Db::sync`](crate::Db::sync), first call
//!   [`ClosedJournals::sync_all`]: a synced write in journal `n` is never
//!   acknowledged while a write in a journal before `n` could still be lost
//!   (the ALICE case of RELIABILITY.md D1), so recovery after power loss
//!   still returns a prefix of the acknowledged history. RocksDB does the
//!   same: a synced write syncs every live WAL not yet synced.
//! - A failed sync is never retried (the kernel may have dropped the dirty
//!   pages and cleared the error). It is kept: from then on every write,
//!   synced or not, and every `Db::sync` fail with it until the database is
//!   reopened.

use super::JournalWriter;
use crate::error::Error;
use crate::failure::Failure;
use crate::sync::lock;
use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Closed journals whose data may not be durable yet, oldest first.
#[derive(Default)]
pub(crate) struct ClosedJournals {
    /// Journals waiting for their sync: number, path, writer.
    queue: Mutex<VecDeque<(u64, PathBuf, JournalWriter)>>,
    /// Held for the whole of a [`sync_all`](ClosedJournals::sync_all).
    // Invariant: a journal leaves `queue` only under this lock, and is
    // synced (or `failure` set) before the lock is released. So when a
    // caller holds it, every journal closed before the call is synced
    // unless `failure` is set.
    syncing: Mutex<()>,
    /// The database's one sticky failure (`crate::failure`): a failed
    /// sync is kept there, and no journal is synced once it is set.
    failure: Arc<Failure>,
    /// Journals synced since the last [`take_synced`], with the length
    /// synced: the manifest records them (issue #13, journal tracking).
    ///
    /// [`take_synced`]: ClosedJournals::take_synced
    synced: Mutex<Vec<(u64, u64)>>,
}

impl ClosedJournals {
    /// No journal yet, keeping a failed sync in `failure`.
    pub fn new(failure: Arc<Failure>) -> ClosedJournals {
        ClosedJournals {
            failure,
            ..ClosedJournals::default()
        }
    }

    /// Queues journal `number` at `path`, just closed by rotation, for its
    /// sync. Never blocks on a sync in progress.
    pub fn push(&self, number: u64, path: PathBuf, journal: JournalWriter) {
        lock(&self.queue).push_back((number, path, journal));
    }

    /// Syncs every queued journal, oldest first; returns once all closed
    /// before this call are durable.
    ///
    /// # Errors
    ///
    /// The first sync that failed, now or in an earlier call. A failed
    /// journal is not synced again.
    pub fn sync_all(&self) -> io::Result<()> {
        let _one_at_a_time = lock(&self.syncing);
        loop {
            self.check()?;
            // The queue lock is not held during the sync, so rotation can
            // queue the next journal meanwhile.
            let Some((number, path, mut journal)) = lock(&self.queue).pop_front() else {
                return Ok(());
            };
            match journal.sync() {
                Ok(()) => lock(&self.synced).push((number, journal.size())),
                Err(source) => {
                    self.failure.set(Error::Io {
                        op: "fdatasync",
                        path,
                        source,
                    });
                }
            }
        }
    }

    /// The failure of an earlier sync, or any other that stopped writes:
    /// no journal is synced after it. Never blocks.
    pub fn check(&self) -> io::Result<()> {
        self.failure.check_io()
    }

    /// Records that journal `number` was synced whole, at `len` bytes,
    /// outside the queue (the write path leaving a journal it just synced).
    pub fn note_synced(&self, number: u64, len: u64) {
        lock(&self.synced).push((number, len));
    }

    /// The journals synced since the last call, with their synced lengths.
    pub fn take_synced(&self) -> Vec<(u64, u64)> {
        std::mem::take(&mut *lock(&self.synced))
    }

    /// Journals waiting for their sync.
    #[cfg(all(test, feature = "fault-injection"))]
    pub fn queued(&self) -> usize {
        lock(&self.queue).len()
    }
}

impl std::fmt::Debug for ClosedJournals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queue = lock(&self.queue);
        let paths: Vec<&PathBuf> = queue.iter().map(|(_, p, _)| p).collect();
        f.debug_struct("ClosedJournals")
            .field("queued", &paths)
            .field("failure", &self.failure.get())
            .finish()
    }
}

// The tests run over `FaultFs`, which only the `fault-injection` feature
// builds (the package's tests always turn it on).
#[cfg(all(test, feature = "fault-injection"))]
mod tests {
    use super::*;
    use crate::fs::{FaultFs, FaultKind, FaultOp, Fs};
    use std::path::Path;

    fn journal(fs: &FaultFs, name: &str) -> JournalWriter {
        let mut journal = journal::Writer::new(fs.create(Path::new(name)).unwrap());
        journal.append(name.as_bytes()).unwrap();
        journal.flush().unwrap();
        journal
    }

    #[test]
    fn sync_all_syncs_every_queued_journal_once() {
        let fs = FaultFs::recording();
        let closed = ClosedJournals::default();
        closed.push(1, "/db/000001.log".into(), journal(&fs, "/db/000001.log"));
        closed.push(2, "/db/000002.log".into(), journal(&fs, "/db/000002.log"));
        assert_eq!(closed.queued(), 2);
        let before = fs.mutations();
        closed.sync_all().unwrap();
        assert_eq!(closed.queued(), 0);
        assert_eq!(fs.mutations() - before, 2, "one sync per journal");
        closed.sync_all().unwrap();
        assert_eq!(fs.mutations() - before, 2, "nothing left to sync");
    }

    #[test]
    fn a_failed_sync_is_kept_and_never_retried() {
        let fs = FaultFs::new();
        let closed = ClosedJournals::default();
        closed.push(7, "/db/000007.log".into(), journal(&fs, "/db/000007.log"));
        closed.push(8, "/db/000008.log".into(), journal(&fs, "/db/000008.log"));
        fs.set_fault(Some(crate::fs::Fault {
            op: FaultOp::Sync,
            nth: 1,
            persistent: false,
            kind: FaultKind::Eio,
        }));
        closed.check().unwrap();
        let err = closed.sync_all().unwrap_err();
        assert!(
            err.to_string().contains("fdatasync /db/000007.log"),
            "{err}"
        );
        let err = closed.check().unwrap_err();
        assert!(
            err.to_string().contains("fdatasync /db/000007.log"),
            "{err}"
        );
        // Journal 8 is not synced past the failure, and the next sync,
        // which would succeed, does not clear it.
        let before = fs.mutations();
        let err = closed.sync_all().unwrap_err();
        assert!(
            err.to_string().contains("fdatasync /db/000007.log"),
            "{err}"
        );
        assert_eq!(closed.queued(), 1);
        assert_eq!(fs.mutations(), before, "nothing retried or synced");
    }
}

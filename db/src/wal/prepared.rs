//! The next journal, zero-filled ahead of rotation by the background thread.
//!
//! An `fdatasync` after an append must make the new file size durable too,
//! which on ext4 is a file-system journal commit; over blocks that are
//! already written and synced it writes only the data. So a journal that
//! takes synced writes is faster as a file of zeros written over from its
//! start (35% more one-thread synced writes here; ARCHITECTURE.md,
//! Durability).
//! LevelDB's log format reserves the zero chunk type for such preallocated
//! files, and the reader takes zeros to the end of a file as its end.
//!
//! Zero-filling costs a write of the whole journal (and overwriting cached
//! zeros costs unsynced writes about 3%), so it is done only for a synced
//! workload, and off the write path:
//!
//! 1. The database opens on an empty journal, appended to.
//! 2. The first synced group in a journal asks for the next one
//!    ([`NextJournal::request`]).
//! 3. The background thread zero-fills it ([`NextJournal::prepare`]).
//! 4. Rotation takes it if it is ready ([`NextJournal::take`]), and
//!    otherwise creates an empty journal itself. A journal that is
//!    appended to also gives way to it after the next synced group, once it
//!    is ready ([`NextJournal::take_ready`]): the memtable stays, only the
//!    file changes.

use super::JournalWriter;
use crate::files;
use crate::fs::Fs;
use crate::tuning::ZEROED_JOURNAL_QUARTERS;
use std::io;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

/// The size of a zero-filled journal for memtables of `write_buffer_size`:
/// a journal holds one memtable's records, with their journal and batch
/// headers, a little more than its budget.
pub(crate) fn zeroed_len(write_buffer_size: usize) -> u64 {
    (write_buffer_size as u64).saturating_mul(ZEROED_JOURNAL_QUARTERS) / 4
}

/// Creates journal `number` in `dir` zero-filled for `write_buffer_size`,
/// and makes its name durable. A failure leaves no file behind.
pub(crate) fn create_zeroed(
    fs: &dyn Fs,
    dir: &Path,
    number: u64,
    write_buffer_size: usize,
) -> io::Result<JournalWriter> {
    let path = files::journal_path(dir, number);
    // On failure `create_zeroed` removes what it created.
    let file = fs.create_zeroed(&path, zeroed_len(write_buffer_size))?;
    if let Err(e) = fs.sync_dir(dir) {
        // Ours, and all zeros: removed at once, so that it takes no space
        // from the live journal on a full disk.
        drop(file);
        let _ = fs.remove(&path);
        return Err(e);
    }
    Ok(journal::Writer::new(file))
}

/// The journal to rotate into next, if one is asked for or ready.
#[derive(Default)]
pub(crate) struct NextJournal {
    state: Mutex<State>,
    /// Signalled when a preparation ends.
    prepared: Condvar,
}

#[derive(Default)]
enum State {
    #[default]
    Idle,
    /// Journal `n` is wanted; the background thread has not started it.
    Wanted(u64),
    /// The background thread is creating journal `n`.
    Preparing(u64),
    /// Journal `n` is zero-filled, synced and named durably.
    Ready(u64, JournalWriter),
}

impl NextJournal {
    /// Asks for journal `number` to be prepared, unless one is already
    /// under way.
    pub fn request(&self, number: u64) {
        let mut state = self.lock();
        if matches!(*state, State::Idle) {
            *state = State::Wanted(number);
        }
    }

    /// Prepares the journal asked for, if any (the background thread).
    /// A failure is dropped: rotation then creates the journal itself and
    /// reports its own error if the disk is really failing.
    pub fn prepare(&self, fs: &dyn Fs, dir: &Path, write_buffer_size: usize) {
        let number = {
            let mut state = self.lock();
            let State::Wanted(number) = *state else {
                return;
            };
            *state = State::Preparing(number);
            number
        };
        // A panic must not leave the state `Preparing`: rotation would wait
        // for it forever.
        let journal = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            create_zeroed(fs, dir, number, write_buffer_size)
        }));
        let mut state = self.lock();
        *state = match journal {
            Ok(Ok(journal)) => State::Ready(number, journal),
            Ok(Err(_)) | Err(_) => State::Idle,
        };
        self.prepared.notify_all();
    }

    /// Journal `number` if it is prepared (the write path, at rotation).
    ///
    /// Waits if it is being prepared right now, so that rotation never
    /// creates the file the background thread is writing; anything else
    /// asked for or prepared is dropped.
    pub fn take(&self, number: u64) -> Option<JournalWriter> {
        let mut state = self.lock();
        while matches!(*state, State::Preparing(n) if n == number) {
            state = self.prepared.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        match std::mem::take(&mut *state) {
            State::Ready(n, journal) if n == number => Some(journal),
            // Another number (the database moved on) or not started: a
            // zero-filled file left behind holds no record, and recovery
            // reads it as an empty journal.
            State::Ready(..) | State::Wanted(_) | State::Idle => None,
            State::Preparing(n) => {
                // Another number: let it finish; its file stays empty.
                *state = State::Preparing(n);
                None
            }
        }
    }

    /// Journal `number` if it is prepared; never waits.
    pub fn take_ready(&self, number: u64) -> Option<JournalWriter> {
        let mut state = self.lock();
        match std::mem::take(&mut *state) {
            State::Ready(n, journal) if n == number => Some(journal),
            other => {
                *state = other;
                None
            }
        }
    }

    /// Removes a prepared journal no rotation took (the database is
    /// closing), so that a closed database leaves no file of zeros behind.
    /// Were the removal lost in a crash, recovery would read the file as an
    /// empty journal.
    pub fn discard(&self, fs: &dyn Fs, dir: &Path) {
        if let State::Ready(number, journal) = std::mem::take(&mut *self.lock()) {
            drop(journal);
            let _ = fs.remove(&files::journal_path(dir, number));
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for NextJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &*self.lock() {
            State::Idle => "idle".to_owned(),
            State::Wanted(n) => format!("wanted {n}"),
            State::Preparing(n) => format!("preparing {n}"),
            State::Ready(n, _) => format!("ready {n}"),
        };
        f.debug_struct("NextJournal")
            .field("state", &state)
            .finish()
    }
}

// The tests run over `FaultFs`, which only the `fault-injection` feature
// builds (the package's tests always turn it on).
#[cfg(all(test, feature = "fault-injection"))]
mod tests {
    use super::*;
    use crate::fs::FaultFs;
    use std::path::PathBuf;

    fn dir() -> PathBuf {
        PathBuf::from("/db")
    }

    #[test]
    fn a_requested_journal_is_prepared_zero_filled_and_taken_once() {
        let fs = FaultFs::new();
        fs.create_dir_all(&dir()).unwrap();
        let next = NextJournal::default();
        // Nothing asked for: nothing prepared.
        next.prepare(&fs, &dir(), 4096);
        assert!(next.take(3).is_none());

        next.request(3);
        next.request(4); // One at a time: ignored.
        next.prepare(&fs, &dir(), 4096);
        let path = files::journal_path(&dir(), 3);
        assert_eq!(fs.contents(&path), Some(vec![0; 5120]));
        assert!(!fs.exists(&files::journal_path(&dir(), 4)));

        assert!(next.take_ready(4).is_none(), "another number");
        let mut journal = next.take_ready(3).unwrap();
        assert!(next.take(3).is_none(), "taken once");
        journal.append(b"record").unwrap();
        journal.flush().unwrap();
        let contents = fs.contents(&path).unwrap();
        assert_eq!(contents.len(), 5120, "written over the zeros");
        assert_ne!(contents[..13], [0; 13]);
        assert!(contents[13..].iter().all(|&b| b == 0));
    }

    /// A zero-filled journal that fails (a full disk, say) is removed at
    /// once: left behind, it would take the space the live journal needs.
    #[test]
    fn a_journal_that_fails_to_prepare_leaves_no_file() {
        use crate::fs::{Fault, FaultKind, FaultOp};
        for op in [FaultOp::Write, FaultOp::Sync, FaultOp::SyncDir] {
            let fs = FaultFs::new();
            fs.create_dir_all(&dir()).unwrap();
            fs.set_fault(Some(Fault {
                op,
                nth: 1,
                persistent: false,
                kind: FaultKind::NoSpace,
            }));
            let next = NextJournal::default();
            next.request(3);
            next.prepare(&fs, &dir(), 4096);
            assert!(!fs.exists(&files::journal_path(&dir(), 3)), "{op:?}");
            assert!(next.take(3).is_none(), "{op:?}");
        }
    }

    #[test]
    fn a_journal_prepared_for_another_number_is_not_taken() {
        let fs = FaultFs::new();
        fs.create_dir_all(&dir()).unwrap();
        let next = NextJournal::default();
        next.request(5);
        next.prepare(&fs, &dir(), 4096);
        assert!(next.take(6).is_none());
        // Dropped: a new request can go ahead.
        next.request(7);
        next.prepare(&fs, &dir(), 4096);
        assert!(next.take(7).is_some());
    }
}

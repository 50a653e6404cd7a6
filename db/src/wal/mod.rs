//! The journal lifecycle: every journal file the database writes, from its
//! creation to the sync that makes it safe to leave behind.
//!
//! A journal is, in turn:
//!
//! 1. **Prepared** ([`prepared`]): for a synced workload, the next journal
//!    is created ahead of rotation by the background thread, zero-filled
//!    and synced, so that synced writes overwrite allocated blocks instead
//!    of growing the file. Unsynced workloads skip this state, and rotation
//!    creates an empty journal itself ([`create`]).
//! 2. **Current**: the one journal the group-commit leader appends to,
//!    held by [`Wal`], which the write backend (`backend.rs`) drives: it
//!    rotates away from it when the memtable is full, and moves to a
//!    prepared journal once one is ready.
//! 3. **Closed, awaiting sync** ([`closed`]): rotation queues the journal
//!    it leaves; the background thread syncs it off the write path, and
//!    every synced group syncs whatever is still queued first.
//! 4. **Obsolete**: once a flush has put its records in a level-0 table
//!    and the manifest's log number has moved past it, a journal is
//!    deleted; an open does the same for the journals it replayed. A
//!    prepared journal no rotation took is removed when the database
//!    closes.
//!
//! Every journal is created new (`O_EXCL`) and its name made durable with a
//! directory fsync before any write in it is acknowledged.
//!
//! Two types own all of it. [`Wal`] is the leader's: the current journal,
//! its number, whether it is zero-filled, the number asked for next, and
//! the first journal of the active memtable; only the group-commit leader
//! touches it (it holds the write lock), so it needs no lock. [`Journals`]
//! is what the background lanes and `Stats` share with it: the closed
//! queue, the prepared journal, the sizes of the live journals, and their
//! deletion once a flush made them obsolete.

pub(crate) mod closed;
pub(crate) mod prepared;

use crate::error::{io_context, Error};
use crate::failure::Failure;
use crate::files::{self, Files};
use crate::fs::{Fs, WritableFile};
use crate::sync::lock;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) use closed::ClosedJournals;
pub(crate) use prepared::NextJournal;

/// The journal writer of one journal file.
pub(crate) type JournalWriter = journal::Writer<Box<dyn WritableFile>>;

/// Creates journal `number` in `dir`, empty for appending, and makes its
/// name durable, so that a synced write in it survives a crash.
///
/// # Errors
///
/// The file system's error, naming the operation (`create`, `directory
/// fsync`) and the path.
pub(crate) fn create(fs: &dyn Fs, dir: &Path, number: u64) -> io::Result<JournalWriter> {
    let journal = create_unnamed(fs, dir, number)?;
    fs.sync_dir(dir)
        .map_err(io_context("directory fsync", dir))?;
    Ok(journal)
}

/// Creates journal `number` as [`create`] does, but leaves making its name
/// durable to the caller's next directory fsync, which must come before
/// any write in it is acknowledged: an open creates its journal before
/// the manifest that names it, and writing that manifest syncs the
/// directory.
///
/// # Errors
///
/// The file system's error, naming the operation and the path.
pub(crate) fn create_unnamed(fs: &dyn Fs, dir: &Path, number: u64) -> io::Result<JournalWriter> {
    let path = files::journal_path(dir, number);
    let file = fs.create(&path).map_err(io_context("create", &path))?;
    Ok(journal::Writer::new(file))
}

/// The journals the leader shares with the background lanes and `Stats`:
/// the closed ones waiting for their sync, the prepared next one, and the
/// live ones with their sizes, until a flush makes them obsolete.
#[derive(Debug)]
pub(crate) struct Journals {
    files: Arc<Files>,
    closed: ClosedJournals,
    next: NextJournal,
    /// Live journals before the current one: number to bytes written.
    live: Mutex<BTreeMap<u64, u64>>,
    /// Bytes in the current journal (written by the leader alone).
    current_bytes: AtomicU64,
    /// Bytes appended to journals since open.
    bytes_written: AtomicU64,
    /// The current journal's path and its fsync from another thread, for
    /// the pipelined commit ([`Journals::sync_appended`]); set by the
    /// leader each time it moves to a journal.
    current_sync: Mutex<Option<SyncTarget>>,
    /// Set by each pipelined fsync: a synced workload runs, and the leader
    /// should keep a zero-filled journal ready ([`Wal::after_append`]).
    synced_seen: AtomicBool,
}

/// A journal's path and its fsync from another thread.
#[derive(Clone)]
struct SyncTarget {
    path: PathBuf,
    handle: Arc<dyn journal::SyncHandle>,
}

impl SyncTarget {
    fn of(journal: &JournalWriter, path: PathBuf) -> Option<SyncTarget> {
        let handle = journal.sync_handle()?;
        Some(SyncTarget { path, handle })
    }
}

impl std::fmt::Debug for SyncTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncTarget")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Journals {
    /// The journals of the database in `files`, keeping a failed sync in
    /// `failure`.
    pub fn new(files: &Arc<Files>, failure: &Arc<Failure>) -> Journals {
        Journals {
            files: Arc::clone(files),
            closed: ClosedJournals::new(Arc::clone(failure)),
            next: NextJournal::default(),
            live: Mutex::new(BTreeMap::new()),
            current_bytes: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            current_sync: Mutex::new(None),
            synced_seen: AtomicBool::new(false),
        }
    }

    /// The pipelined commit's fsync (`backend::JournalSync`): makes every
    /// record appended before the call durable, beside the leader's
    /// appends. The current journal is read first, then the closed ones
    /// are synced, then it: an append that finished before the call went
    /// to a journal that was either current then, or closed (queued)
    /// before, so one of the two syncs covers it.
    ///
    /// # Errors
    ///
    /// A failed sync, now or before (no sync is retried), or no journal
    /// that can sync from another thread.
    pub fn sync_appended(&self) -> io::Result<()> {
        self.synced_seen.store(true, Ordering::Relaxed);
        let current = lock(&self.current_sync).clone();
        self.sync_closed()?;
        let current =
            current.ok_or_else(|| io::Error::other("the journal cannot sync beside appends"))?;
        current
            .handle
            .sync_data()
            .map_err(io_context("fdatasync", &current.path))
    }

    /// Whether the current journal can sync from another thread.
    pub fn can_sync_appended(&self) -> bool {
        lock(&self.current_sync).is_some()
    }

    /// Syncs every journal rotation closed (`closed`); returns once all
    /// closed before the call are durable.
    ///
    /// # Errors
    ///
    /// A sync that failed, now or before, or an earlier failure that
    /// stopped writes: no sync is retried.
    pub fn sync_closed(&self) -> io::Result<()> {
        self.closed.sync_all()
    }

    /// The closed journals synced since the last call: (number, length
    /// synced), for the manifest to record.
    pub fn take_synced(&self) -> Vec<(u64, u64)> {
        self.closed.take_synced()
    }

    /// Zero-fills the journal the leader asked for, if any (the background
    /// thread; `prepared`).
    pub fn prepare(&self, write_buffer_size: usize) {
        self.next
            .prepare(&**self.files.fs(), self.files.dir(), write_buffer_size);
    }

    /// Removes a prepared journal no rotation took (the database is
    /// closing).
    pub fn discard_prepared(&self) {
        self.next.discard(&**self.files.fs(), self.files.dir());
    }

    /// Tracks journal `number`, of `bytes`, as live (the open's journals
    /// whose records stay in memory until their flush).
    pub fn track(&self, number: u64, bytes: u64) {
        lock(&self.live).insert(number, bytes);
    }

    /// Deletes the live journals below `log_number`: a committed edit
    /// says their records are all in tables. One that cannot be deleted
    /// stays an orphan the next open removes.
    pub fn delete_below(&self, log_number: u64) {
        let obsolete: Vec<u64> = lock(&self.live)
            .range(..log_number)
            .map(|(&n, _)| n)
            .collect();
        for number in obsolete {
            let path = files::journal_path(self.files.dir(), number);
            match self.files.fs().remove(&path) {
                Ok(()) => {
                    lock(&self.live).remove(&number);
                }
                Err(e) => log::warn!("cannot delete obsolete journal {}: {e}", path.display()),
            }
        }
    }

    /// Bytes in every live journal, the current one's included.
    pub fn bytes(&self) -> u64 {
        lock(&self.live).values().sum::<u64>() + self.current_bytes.load(Ordering::Relaxed)
    }

    /// Bytes appended to journals since open.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.load(Ordering::Relaxed)
    }

    /// Sets the size of the current journal (a read-only open reports the
    /// journals it replayed this way).
    pub fn set_current_bytes(&self, bytes: u64) {
        self.current_bytes.store(bytes, Ordering::Relaxed);
    }
}

/// The leader's side of the journals: the current journal and what it
/// takes to leave it. Only the group-commit leader holds it.
pub(crate) struct Wal {
    journals: Arc<Journals>,
    current: JournalWriter,
    number: u64,
    path: PathBuf,
    /// Whether the current journal is zero-filled (`prepared`).
    zeroed: bool,
    /// The number taken for the next journal, asked to be zero-filled
    /// ahead, since the current one began.
    next_requested: Option<u64>,
    /// The journal the active memtable's records begin in (a memtable
    /// spans two journals when the leader moves to a zero-filled one).
    memtable_began: u64,
}

/// What a synced group's sync asks of the background thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Nothing.
    No,
    /// A journal to zero-fill ahead.
    Prepare,
}

impl Wal {
    /// The leader's side over `current`, journal `number`, whose name the
    /// open made durable.
    pub fn new(journals: &Arc<Journals>, current: JournalWriter, number: u64) -> Wal {
        let path = files::journal_path(journals.files.dir(), number);
        *lock(&journals.current_sync) = SyncTarget::of(&current, path.clone());
        Wal {
            journals: Arc::clone(journals),
            path,
            current,
            number,
            zeroed: false,
            next_requested: None,
            memtable_began: number,
        }
    }

    /// The current journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` (one group's batch) to the current journal and
    /// hands it to the operating system.
    ///
    /// # Errors
    ///
    /// The write error, naming the journal; the journal writer refuses
    /// every later append.
    pub fn append(&mut self, record: &[u8]) -> io::Result<()> {
        let before = self.current.size();
        self.current
            .append(record)
            .and_then(|()| self.current.flush())
            .map_err(io_context("write", &self.path))?;
        let size = self.current.size();
        self.journals.current_bytes.store(size, Ordering::Relaxed);
        self.journals
            .bytes_written
            .fetch_add(size - before, Ordering::Relaxed);
        Ok(())
    }

    /// Makes every journal durable: the closed ones first, as a synced
    /// write must not outlive an earlier one, then the current one.
    ///
    /// # Errors
    ///
    /// The first sync that failed, or an earlier failure.
    pub fn sync_all(&mut self) -> io::Result<()> {
        self.journals.sync_closed()?;
        self.current
            .sync()
            .map_err(io_context("fdatasync", &self.path))
    }

    /// A synced group's sync: [`sync_all`](Wal::sync_all), after asking
    /// for the next journal to be zero-filled ahead if none is (the
    /// answer says whether to wake the background thread for it); then,
    /// if the current journal is appended to and the zero-filled one is
    /// ready, moves to it. The old one was just synced whole: nothing
    /// waits on it, and the manifest may record its length.
    ///
    /// # Errors
    ///
    /// As [`sync_all`](Wal::sync_all).
    pub fn sync_group(&mut self) -> io::Result<Wake> {
        let wake = self.request_next();
        self.sync_all()?;
        if let (false, Some(next)) = (self.zeroed, self.next_requested) {
            if let Some(journal) = self.journals.next.take_ready(next) {
                let (number, old) = self.start(next, journal, true);
                self.journals.closed.note_synced(number, old.size());
            }
        }
        Ok(wake)
    }

    /// After an append by a pipelined leader, whose fsyncs run on other
    /// threads (`Journals::sync_appended`): once one has run, does what a
    /// synced group's [`sync_group`](Wal::sync_group) does around its
    /// fsync. It asks for the next journal to be zero-filled ahead if none
    /// is (the answer says whether to wake the background thread for it),
    /// and moves to it once it is ready, queueing the old journal for its
    /// sync (`closed`), which the next fsync covers.
    pub fn after_append(&mut self) -> Wake {
        if !self.journals.synced_seen.swap(false, Ordering::Relaxed) {
            return Wake::No;
        }
        let wake = self.request_next();
        if let (false, Some(next)) = (self.zeroed, self.next_requested) {
            if let Some(journal) = self.journals.next.take_ready(next) {
                let old_path = self.path.clone();
                let (number, old) = self.start(next, journal, true);
                self.journals.closed.push(number, old_path, old);
            }
        }
        wake
    }

    /// Asks for the next journal to be zero-filled ahead, if none is
    /// asked for yet; says whether to wake the background thread for it.
    fn request_next(&mut self) -> Wake {
        if self.next_requested.is_some() {
            return Wake::No;
        }
        match self.journals.files.new_journal() {
            Ok(number) => {
                self.next_requested = Some(number);
                self.journals.next.request(number);
                Wake::Prepare
            }
            Err(_) => Wake::No,
        }
    }

    /// Leaves the current journal for the next, prepared or created now,
    /// and queues the old one for its sync; the active memtable is being
    /// frozen. Returns the journal the frozen memtable's records begin in.
    ///
    /// # Errors
    ///
    /// No number is left, or the journal cannot be created: nothing
    /// changed.
    pub fn rotate(&mut self) -> io::Result<u64> {
        let number = match self.next_requested {
            Some(number) => number,
            None => self.journals.files.new_journal().map_err(|e| match e {
                Error::FileNumberExhausted { path } => {
                    io::Error::other(format!("{} holds the largest file number", path.display()))
                }
                other => io::Error::other(other.to_string()),
            })?,
        };
        let (journal, zeroed) = match self.journals.next.take(number) {
            Some(journal) => (journal, true),
            None => (
                create(
                    &**self.journals.files.fs(),
                    self.journals.files.dir(),
                    number,
                )?,
                false,
            ),
        };
        let old_path = self.path.clone();
        let (old_number, old) = self.start(number, journal, zeroed);
        self.journals.closed.push(old_number, old_path, old);
        Ok(std::mem::replace(&mut self.memtable_began, number))
    }

    /// The journal the active memtable's records begin in.
    pub fn memtable_began(&self) -> u64 {
        self.memtable_began
    }

    /// Makes journal `number` the current one; returns the number and
    /// writer of the one it replaces, which stays live.
    fn start(&mut self, number: u64, journal: JournalWriter, zeroed: bool) -> (u64, JournalWriter) {
        self.path = files::journal_path(self.journals.files.dir(), number);
        *lock(&self.journals.current_sync) = SyncTarget::of(&journal, self.path.clone());
        let old = std::mem::replace(&mut self.current, journal);
        let old_number = std::mem::replace(&mut self.number, number);
        lock(&self.journals.live).insert(old_number, old.size());
        self.journals.current_bytes.store(0, Ordering::Relaxed);
        self.zeroed = zeroed;
        self.next_requested = None;
        (old_number, old)
    }
}

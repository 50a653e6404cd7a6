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
//! 2. **Current**: the one journal the group-commit leader appends to. It
//!    is held by the write backend (`backend.rs`), which rotates away from
//!    it when the memtable is full, or moves to a prepared journal once one
//!    is ready.
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

pub(crate) mod closed;
pub(crate) mod prepared;

use crate::error::io_context;
use crate::files;
use crate::fs::{Fs, WritableFile};
use std::io;
use std::path::Path;

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

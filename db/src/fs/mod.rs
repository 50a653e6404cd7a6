//! The file system seam: everything the database does to files goes through
//! [`Fs`], so that crash and fault tests can run the real code over
//! `FaultFs`, an in-memory file system that forgets what was not synced.
//!
//! An application needs this module only to set
//! [`Options::fs`](crate::Options::fs): the default, [`OsFs`], is the
//! operating system's, and the one to use in production. A test of the
//! application may pass `FaultFs` instead (built with the crate's
//! `fault-injection` feature) to simulate a power loss or a failing disk
//! under its own code; any other file system implements [`Fs`].
//!
//! - [`OsFs`] (`os.rs`): the operating system's file system, the default.
//! - `FaultFs` (`fault.rs`): crash and fault injection for tests, built only
//!   with the `fault-injection` feature, so that test machinery never
//!   reaches a production build.
//!
//! The database needs little of a file system: directories it creates and
//! lists, new append-only files it writes and syncs, whole files it reads,
//! renames and removes, directory syncs, an advisory lock, and `lstat`.
//!
//! Two things are left out on purpose, so that no code of the database can
//! destroy bytes by accident: there is no truncate (only
//! [`Fs::trim_zeros`], which refuses to cut anything but zeros) and no way
//! to open an existing file for writing. A file is created new (failing if the name
//! exists, so nothing is ever written through a link someone left there),
//! and the only way to replace one is to rename another over it, which
//! recovery does only after keeping the old one (see `recovery::lost`).

#[cfg(feature = "fault-injection")]
mod fault;
mod lock;
mod os;

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

#[cfg(feature = "fault-injection")]
pub use fault::{CrashMode, Fault, FaultFs, FaultKind, FaultOp, Mutation};
pub use os::OsFs;

pub use journal::SyncWrite;

/// An append-only file open for writing, which can make its bytes durable.
pub trait WritableFile: journal::SyncWrite + Send {}

impl<T: journal::SyncWrite + Send> WritableFile for T {}

impl journal::SyncWrite for Box<dyn WritableFile> {
    fn sync_data(&mut self) -> io::Result<()> {
        (**self).sync_data()
    }

    fn sync_handle(&self) -> Option<std::sync::Arc<dyn journal::SyncHandle>> {
        (**self).sync_handle()
    }
}

/// The contents of an immutable file, read in place (see [`Fs::map`]).
pub type MappedFile = Box<dyn AsRef<[u8]> + Send + Sync>;

/// A held advisory lock; dropping it releases the lock.
pub trait FileLock: Send + Sync + fmt::Debug {}

/// How [`Fs::lock`] takes the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Exclusive, creating the file if it is missing: the one writer.
    Write,
    /// Shared with other readers, on an existing file opened read-only
    /// (never created, so that it works on a read-only file system): a
    /// missing file is [`io::ErrorKind::NotFound`].
    Read,
}

/// What a directory entry is, as `lstat` sees it: links are not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else: a FIFO, a socket, a device.
    Other,
}

/// What [`Fs::stat`] tells of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    /// What it is.
    pub kind: FileKind,
    /// Its length in bytes (a regular file's contents).
    pub len: u64,
    /// Its hard-link count: how many names it has.
    pub links: u64,
}

/// The file operations the database uses.
///
/// Paths are absolute or relative to the process's directory; the database
/// only ever passes paths inside its own directory.
pub trait Fs: Send + Sync + fmt::Debug {
    /// Creates `dir` and its parents if they do not exist.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Creates the directory `dir`, whose parent exists; fails if the name
    /// exists.
    fn create_dir(&self, dir: &Path) -> io::Result<()>;
    /// The names of the entries of `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> bool;
    /// What the entry `path` is, without following a link (`lstat`).
    fn stat(&self, path: &Path) -> io::Result<Metadata>;
    /// Creates `path`, empty, for appending; fails with
    /// [`io::ErrorKind::AlreadyExists`] if the name exists.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Creates `path` (failing if the name exists) holding `len` zero
    /// bytes, synced, and opens it for writing from its start, over the
    /// zeros. If it fails after creating the file, it removes it: a file of
    /// zeros holds nothing, and left behind it would only take space.
    ///
    /// An `fdatasync` after an append must also make the new file size
    /// durable, a file-system journal commit; after overwriting blocks that
    /// are already allocated and synced it writes only the data (35% more
    /// one-thread synced writes on ext4; ARCHITECTURE.md, Durability).
    fn create_zeroed(&self, path: &Path, len: u64) -> io::Result<Box<dyn WritableFile>>;
    /// Opens `path` for reading from the start.
    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + Send>>;
    /// The whole contents of `path`, which must never change again (a
    /// table file): [`OsFs`] maps it into memory.
    fn map(&self, path: &Path) -> io::Result<MappedFile>;
    /// Cuts the zeros at the end of `path` from `len` on, and syncs it;
    /// fails with [`io::ErrorKind::InvalidData`], changing nothing, unless
    /// every byte from `len` to the end is zero. The one way to shorten a
    /// file: zeros are the unwritten part of a zero-filled journal, not
    /// data, and reading them at every open costs as much as the journal.
    fn trim_zeros(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file `path`.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the entries of `dir` (creates, renames, removes) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes an advisory lock on `path`, as `mode` says. Fails with
    /// [`io::ErrorKind::WouldBlock`] if a holder in this process or another
    /// has a lock that conflicts: a [`LockMode::Write`] lock conflicts with
    /// every other, [`LockMode::Read`] locks only with a write lock.
    fn lock(&self, path: &Path, mode: LockMode) -> io::Result<Box<dyn FileLock>>;
}

//! The directory lock of [`OsFs`](super::OsFs): a POSIX record lock
//! (`fcntl(F_SETLK)`) on the whole file, with a table of the locks this
//! process holds, as LevelDB's `PosixLockTable` and `LockFile`.
//!
//! Why not `flock(2)` (std's `File::try_lock`): a flock belongs to the
//! open file description, and a child process shares every descriptor
//! from its fork until its exec closes it (`O_CLOEXEC`). A database
//! closed and reopened while another thread of the program starts a
//! process found its own lock still held by the child: 164 of 300
//! reopens failed with `Error::Locked` beside a thread running `true` in
//! a loop, and a CI run failed so. A record lock belongs to the process,
//! and no child ever holds it.
//!
//! The catch of record locks, which the table answers: the process's lock
//! goes when it closes *any* descriptor of the file, and the process never
//! conflicts with itself. So a lock is looked up by path (`stat`, no
//! descriptor) in the table first; a file the table has is never opened
//! again, and its one descriptor is closed only when its last holder lets
//! go. A second exclusive lock in this process is refused by the table;
//! shared locks count their holders.

use super::{FileLock, LockMode};
use crate::sync::lock;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::Mutex;

/// A file by device and inode: the same whatever path names it.
type FileId = (u64, u64);

/// The locks this process holds.
static HELD: Mutex<BTreeMap<FileId, Held>> = Mutex::new(BTreeMap::new());

/// One locked file of [`HELD`].
#[derive(Debug)]
struct Held {
    mode: LockMode,
    /// Holders of a shared lock; 1 for an exclusive one.
    holders: usize,
    /// The descriptor the lock was taken through. Dropping it, with the
    /// entry, releases the lock.
    _file: File,
}

/// A held lock; dropping it lets go, and the last holder releases it.
#[derive(Debug)]
struct OsLock(FileId);

impl FileLock for OsLock {}

impl Drop for OsLock {
    fn drop(&mut self) {
        let mut held = lock(&HELD);
        if let Some(entry) = held.get_mut(&self.0) {
            entry.holders -= 1;
            if entry.holders == 0 {
                held.remove(&self.0);
            }
        }
    }
}

/// The error of a lock someone holds: [`io::ErrorKind::WouldBlock`].
fn conflict(who: &str) -> io::Error {
    io::Error::new(io::ErrorKind::WouldBlock, format!("held by {who}"))
}

/// Takes the lock on `path` in `mode` ([`Fs::lock`](super::Fs::lock)).
pub(super) fn take(path: &Path, mode: LockMode) -> io::Result<Box<dyn FileLock>> {
    let mut held = lock(&HELD);
    // Opening the file would not be safe if this process holds it: the
    // descriptor's close would release the lock. Look by path first.
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_file() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ))
        }
        Ok(meta) => {
            let id = (meta.dev(), meta.ino());
            if let Some(entry) = held.get_mut(&id) {
                return match (mode, entry.mode) {
                    (LockMode::Read, LockMode::Read) => {
                        entry.holders += 1;
                        Ok(Box::new(OsLock(id)))
                    }
                    _ => Err(conflict("another open database in this process")),
                };
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let file = match mode {
        LockMode::Write => OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?,
        // A shared record lock needs only read access.
        LockMode::Read => File::open(path)?,
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let id = (meta.dev(), meta.ino());
    if held.contains_key(&id) {
        // The path named another file a moment ago, and now one this
        // process holds (renamed over it meanwhile). Closing this
        // descriptor would release that lock: keep it open for good.
        std::mem::forget(file);
        return Err(conflict("another open database in this process"));
    }
    set_lock(&file, mode)?;
    held.insert(
        id,
        Held {
            mode,
            holders: 1,
            _file: file,
        },
    );
    Ok(Box::new(OsLock(id)))
}

/// `fcntl(F_SETLK)` over the whole of `file`, without waiting.
fn set_lock(file: &File, mode: LockMode) -> io::Result<()> {
    #[allow(unsafe_code)]
    // SAFETY: `flock` is a plain C struct of integers, for which all
    // zeros is a valid value (an unlock of nothing); the fields that
    // matter are set below.
    let mut request: libc::flock = unsafe { std::mem::zeroed() };
    request.l_type = match mode {
        LockMode::Write => libc::F_WRLCK,
        LockMode::Read => libc::F_RDLCK,
    } as libc::c_short;
    request.l_whence = libc::SEEK_SET as libc::c_short;
    request.l_start = 0;
    request.l_len = 0; // to the end of the file, however long it grows
    #[allow(unsafe_code)]
    // SAFETY: the descriptor is open for as long as `file` lives, which
    // covers the call, and `request` is a valid `flock` the call only
    // reads (F_SETLK).
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &request) };
    if rc == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Err(conflict("another process")),
        _ => Err(e),
    }
}

//! The database's error type.

use std::path::PathBuf;
use std::{error, fmt, io};

/// Everything that can go wrong in a database call.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    Io {
        /// What the database was doing.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A file of the database is damaged or contradicts the others: the
    /// history in the journals has a hole and strict recovery refuses to
    /// open, a table or the manifest does not read, or a file changed
    /// while it was read. [`Reason::kind`] says what kind of damage.
    Corruption {
        /// The damaged file.
        path: PathBuf,
        /// Byte offset of the damage in that file.
        offset: u64,
        /// What is wrong: its kind, and a description (it reads as a
        /// `str`).
        reason: Reason,
    },
    /// An entry of the database directory is named like one of the
    /// database's files but is not one it may touch: not a regular file (a
    /// FIFO, a device, a socket, a directory, a symbolic link), a file with
    /// more than one name (a hard link), or a number above 2^53, the
    /// largest the database takes. Found before anything was changed.
    ForeignFile {
        /// The entry.
        path: PathBuf,
        /// What it is.
        reason: String,
    },
    /// A file's number is the largest there is (2^53), so no new file can
    /// follow it (file numbers never wrap).
    FileNumberExhausted {
        /// The file holding the largest number.
        path: PathBuf,
    },
    /// Another open database, in this process or another, holds the
    /// directory's `LOCK`.
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The directory holds a database and `error_if_exists` is set.
    AlreadyExists {
        /// The directory.
        path: PathBuf,
    },
    /// The directory holds no database and `create_if_missing` is off.
    NotFound {
        /// The directory.
        path: PathBuf,
    },
    /// An option is out of range; the message names it.
    InvalidOptions(String),
    /// Bytes offered as a batch are not one.
    InvalidBatch(batch::DecodeError),
    /// A batch is larger than `Options::max_batch_size`; nothing was written.
    BatchTooLarge {
        /// The batch's `internal_len`.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A key is longer than [`MAX_KEY_SIZE`](crate::MAX_KEY_SIZE); nothing
    /// was written.
    KeyTooLarge {
        /// The key's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The write path failed: a journal error (the database is then
    /// poisoned until reopened), a close, or a background error.
    Write(writer::WriteError),
    /// The database is closed.
    Closed,
    /// The database was opened with
    /// [`Db::open_read_only`](crate::Db::open_read_only): nothing may
    /// change it.
    ReadOnly,
    /// [`Db::export_leveldb`](crate::Db::export_leveldb) cannot hand the
    /// directory to LevelDB: a table of it is one LevelDB cannot read.
    /// Nothing was changed.
    Unexportable {
        /// The table.
        path: PathBuf,
        /// Why LevelDB cannot read it.
        reason: String,
    },
}

/// The kind of damage an [`Error::Corruption`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CorruptionKind {
    /// A journal's framing: a chunk whose checksum, length or type is
    /// wrong, a journal missing or shorter than the manifest records as
    /// synced, or a journal that changed while it was read.
    Journal,
    /// A journal record that reads but is not a well-formed batch.
    Batch,
    /// A table: a block, its index or footer, or a table that is not the
    /// one the manifest lists (missing, of another size, another's).
    Table,
    /// The manifest or `CURRENT`: a record that does not read or
    /// contradicts those before it, or levels out of order.
    Manifest,
    /// The sequence numbers of the history: a gap between journals, or
    /// numbers that do not follow on.
    Sequence,
}

impl fmt::Display for CorruptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CorruptionKind::Journal => "journal",
            CorruptionKind::Batch => "batch",
            CorruptionKind::Table => "table",
            CorruptionKind::Manifest => "manifest",
            CorruptionKind::Sequence => "sequence",
        })
    }
}

/// Why an [`Error::Corruption`] was reported: the kind of damage, and a
/// description naming what was found. It reads as the description
/// (`Deref<Target = str>`, `Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    kind: CorruptionKind,
    text: String,
}

impl Reason {
    /// Damage of `kind`, described by `text`.
    pub fn new(kind: CorruptionKind, text: impl Into<String>) -> Reason {
        Reason {
            kind,
            text: text.into(),
        }
    }

    /// The kind of damage.
    pub fn kind(&self) -> CorruptionKind {
        self.kind
    }

    /// The description.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::ops::Deref for Reason {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A copy of the error, as RocksDB's `Status` copies: what a
/// [`Cursor`](crate::Cursor) hands out each time its status is asked.
/// `std::io::Error` is not `Clone`, so an [`Error::Io`]'s copy keeps the
/// operating system's error kind and message (and its raw OS error code
/// when it has one) but not an inner error's own `source()`.
impl Clone for Error {
    fn clone(&self) -> Error {
        match self {
            Error::Io { op, path, source } => Error::Io {
                op,
                path: path.clone(),
                source: copy_io_error(source),
            },
            Error::Corruption {
                path,
                offset,
                reason,
            } => Error::Corruption {
                path: path.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            Error::ForeignFile { path, reason } => Error::ForeignFile {
                path: path.clone(),
                reason: reason.clone(),
            },
            Error::FileNumberExhausted { path } => {
                Error::FileNumberExhausted { path: path.clone() }
            }
            Error::Locked { path } => Error::Locked { path: path.clone() },
            Error::AlreadyExists { path } => Error::AlreadyExists { path: path.clone() },
            Error::NotFound { path } => Error::NotFound { path: path.clone() },
            Error::InvalidOptions(message) => Error::InvalidOptions(message.clone()),
            Error::InvalidBatch(e) => Error::InvalidBatch(e.clone()),
            Error::BatchTooLarge { size, max } => Error::BatchTooLarge {
                size: *size,
                max: *max,
            },
            Error::KeyTooLarge { len, max } => Error::KeyTooLarge {
                len: *len,
                max: *max,
            },
            Error::Write(e) => Error::Write(e.clone()),
            Error::Closed => Error::Closed,
            Error::ReadOnly => Error::ReadOnly,
            Error::Unexportable { path, reason } => Error::Unexportable {
                path: path.clone(),
                reason: reason.clone(),
            },
        }
    }
}

/// An `io::Error` like `e`: its raw OS error if it has one (which carries
/// kind and message), else its kind and message.
fn copy_io_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

impl Error {
    /// An [`Error::Corruption`] of `kind` in `path` at `offset`.
    pub(crate) fn corruption(
        kind: CorruptionKind,
        path: impl Into<PathBuf>,
        offset: u64,
        text: impl Into<String>,
    ) -> Error {
        Error::Corruption {
            path: path.into(),
            offset,
            reason: Reason::new(kind, text),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, path, source } => write!(f, "{op} {}: {source}", path.display()),
            Error::Corruption {
                path,
                offset,
                reason,
            } => write!(
                f,
                "corruption in {} at offset {offset}: {reason}",
                path.display()
            ),
            Error::ForeignFile { path, reason } => write!(
                f,
                "{} is not a file of this database: {reason}; nothing was changed",
                path.display()
            ),
            Error::FileNumberExhausted { path } => write!(
                f,
                "{} holds the largest file number: no new file can follow it",
                path.display()
            ),
            Error::Locked { path } => write!(
                f,
                "database is locked: {} is held by another open database",
                path.display()
            ),
            Error::AlreadyExists { path } => {
                write!(
                    f,
                    "a database exists in {} and error_if_exists is set",
                    path.display()
                )
            }
            Error::NotFound { path } => write!(f, "no database in {}", path.display()),
            Error::InvalidOptions(msg) => write!(f, "invalid options: {msg}"),
            Error::InvalidBatch(e) => write!(f, "invalid batch: {e}"),
            Error::BatchTooLarge { size, max } => {
                write!(
                    f,
                    "batch of {size} bytes is larger than max_batch_size {max}"
                )
            }
            Error::KeyTooLarge { len, max } => {
                write!(f, "key of {len} bytes is longer than the maximum, {max}")
            }
            Error::Write(e) => write!(f, "write failed: {e}"),
            Error::Closed => write!(f, "database is closed"),
            Error::ReadOnly => write!(f, "database is open read-only: writes are refused"),
            Error::Unexportable { path, reason } => write!(
                f,
                "cannot export for LevelDB: table {} is not readable there: {reason}; \
                 nothing was changed",
                path.display()
            ),
        }
    }
}

impl error::Error for Error {
    fn source(&self) -> Option<&(dyn error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::InvalidBatch(e) => Some(e),
            Error::Write(e) => Some(e),
            _ => None,
        }
    }
}

impl From<batch::DecodeError> for Error {
    fn from(e: batch::DecodeError) -> Error {
        Error::InvalidBatch(e)
    }
}

impl From<writer::WriteError> for Error {
    fn from(e: writer::WriteError) -> Error {
        Error::Write(e)
    }
}

/// The error of a damaged table at `path`, for `map_err`: where in the
/// file, and what the table reader found.
pub(crate) fn table_err(path: &std::path::Path) -> impl FnOnce(crate::table::TableError) -> Error {
    let path = path.to_path_buf();
    move |e| {
        Error::corruption(
            CorruptionKind::Table,
            path,
            e.offset,
            format!("table {}", e.kind),
        )
    }
}

/// Wraps an I/O error with the operation and path, for `map_err`.
pub(crate) fn io_err(op: &'static str, path: &std::path::Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { op, path, source }
}

/// Puts the operation and path in front of an I/O error's message, keeping
/// its kind, for errors that travel as `io::Error` (the write path's).
///
/// It borrows and formats nothing until an error comes: the write path
/// passes one on every append and sync.
pub(crate) fn io_context<'a>(
    op: &'a str,
    path: &'a std::path::Path,
) -> impl FnOnce(io::Error) -> io::Error + 'a {
    move |e| io::Error::new(e.kind(), format!("{op} {}: {e}", path.display()))
}

/// The error of taking the lock at `path`: [`Error::Locked`] if another
/// holder has it, else the real cause.
pub(crate) fn lock_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| {
        if source.kind() == std::io::ErrorKind::WouldBlock {
            Error::Locked { path }
        } else {
            Error::Io {
                op: "lock",
                path,
                source,
            }
        }
    }
}

/// Says, in a corruption error that stops an open, that a repair can fix
/// it: damage in the manifest, a missing or damaged table, a break in the
/// history that strict recovery refuses.
pub(crate) fn repair_can_fix(e: Error) -> Error {
    match e {
        Error::Corruption {
            path,
            offset,
            reason,
        } => Error::Corruption {
            path,
            offset,
            reason: Reason::new(
                reason.kind(),
                format!(
                    "{reason} (`tributary repair DIR`, or `Db::repair`, rebuilds the database \
                 from whatever is readable, keeping damaged files in DIR/lost)"
                ),
            ),
        },
        e => e,
    }
}

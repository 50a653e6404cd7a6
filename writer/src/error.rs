//! The errors of a write: [`WriteError`], and [`RoomError`] from the
//! flush/compaction side.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

use batch::SeqNum;

/// Why a write failed.
///
/// Every member of a group gets the group's one result, so a group's error is
/// cloned to all of them; the `io::Error`s are shared through an [`Arc`] for
/// that. Two writers that failed in the same group hold the same `Arc`, and
/// [`Poisoned`](WriteError::Poisoned) holds the very `Arc` of the failure that
/// poisoned the writer, so callers can tell causes apart with
/// [`Arc::ptr_eq`].
///
/// Whatever the variant, nothing of a failed write is visible in the
/// memtable, and the write's sequence numbers are never given to another
/// write.
/// Only [`Log`](WriteError::Log) leaves a doubt about the journal: a failed
/// append may have left part of the group's record in the file, and a failed
/// sync leaves all of it there unsynced. Recovery may or may not find it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WriteError {
    /// The journal append or fsync of this write's group failed.
    /// The writer is now poisoned: later writes get
    /// [`Poisoned`](WriteError::Poisoned) with this same error.
    Log(Arc<io::Error>),
    /// An earlier group's journal append or fsync failed (or a leader
    /// panicked), so this write was not attempted.
    /// Holds the original cause; there is no retry, and no sequence number is
    /// reused.
    Poisoned(Arc<io::Error>),
    /// Making room for this write failed (`Room::make_room`): the memtable
    /// could not be rotated, or a stall ended in an error.
    /// Only the write that was leading gets it; it is not sticky.
    Room(RoomError),
    /// A persistent background error, from
    /// [`GroupCommit::set_background_error`](crate::GroupCommit::set_background_error)
    /// or from `Room::after_write`: every write that would have had to wait
    /// gets it.
    Background(RoomError),
    /// The writer is closed.
    Closed,
    /// The group would take sequence numbers past [`batch::MAX_SEQ`].
    /// Nothing was written.
    SeqOverflow {
        /// The last sequence number used.
        last: SeqNum,
        /// Records the group needed.
        n_records: u64,
    },
    /// A key or value is 4 GiB or longer, beyond what the batch format can
    /// encode. Nothing was written.
    TooLarge {
        /// The offending length in bytes.
        len: usize,
    },
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Log(err) => write!(f, "journal failed: {err}"),
            WriteError::Poisoned(err) => {
                write!(f, "writer poisoned by an earlier journal failure: {err}")
            }
            WriteError::Room(err) => write!(f, "no room for the write: {err}"),
            WriteError::Background(err) => write!(f, "background error: {err}"),
            WriteError::Closed => f.write_str("writer closed"),
            WriteError::SeqOverflow { last, n_records } => write!(
                f,
                "sequence numbers exhausted: last is {last}, {n_records} more needed"
            ),
            WriteError::TooLarge { len } => {
                write!(f, "key or value of {len} bytes is too large for a batch")
            }
        }
    }
}

impl Error for WriteError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            WriteError::Log(err) | WriteError::Poisoned(err) => Some(&**err),
            WriteError::Room(err) | WriteError::Background(err) => Some(err),
            WriteError::Closed | WriteError::SeqOverflow { .. } | WriteError::TooLarge { .. } => {
                None
            }
        }
    }
}

/// An error from the flush/compaction side: making room failed, or a
/// persistent background error.
///
/// It carries a message and optionally the underlying error, both behind
/// [`Arc`]s so that it is cheap to clone to every writer that must see it.
#[derive(Clone)]
pub struct RoomError {
    /// What failed, for people.
    message: Arc<str>,
    /// The underlying error, if any.
    source: Option<Arc<dyn Error + Send + Sync + 'static>>,
}

impl RoomError {
    /// An error with a message and no underlying cause.
    pub fn new(message: &str) -> RoomError {
        RoomError {
            message: Arc::from(message),
            source: None,
        }
    }

    /// An error with a message and the error that caused it, which
    /// [`Error::source`] returns.
    pub fn with_source(message: &str, source: Box<dyn Error + Send + Sync + 'static>) -> RoomError {
        RoomError {
            message: Arc::from(message),
            source: Some(Arc::from(source)),
        }
    }

    /// The message, without the cause.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Debug for RoomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomError")
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for RoomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Error for RoomError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.source {
            Some(source) => Some(&**source),
            None => None,
        }
    }
}

//! What the reader reports: the read error, the kinds of damage, and dropped
//! byte ranges.

use std::{error, fmt, io};

use crate::format::ChunkType;

/// Why a [`Reader`](crate::Reader) could not return the next record.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The underlying reader failed.
    Io(io::Error),
    /// Damage in the middle of the journal, found in
    /// [`Recovery::Strict`](crate::Recovery::Strict) mode.
    Corrupt {
        /// File offset of the chunk (or zeroed header) where the damage was
        /// found.
        offset: u64,
        /// What is wrong there.
        reason: Corruption,
    },
}

/// What is wrong with a stretch of the journal.
///
/// The first group of variants is damage in the middle of the journal:
/// [`Recovery::Strict`](crate::Recovery::Strict) stops with
/// [`ReadError::Corrupt`] and [`Recovery::Tolerant`](crate::Recovery::Tolerant)
/// lists a [`Dropped`] range and goes on.
/// The last four (`Truncated*` and `ZeroedTail`) only describe a torn tail,
/// the normal result of a crash, reported by
/// [`Reader::torn_tail`](crate::Reader::torn_tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Corruption {
    /// A chunk's stored checksum does not match its type and data.
    ChecksumMismatch,
    /// A chunk header declares more data than the rest of its block holds.
    LengthOverflowsBlock,
    /// A chunk header has a type byte other than 1 to 4.
    UnknownChunkType(u8),
    /// A chunk header is seven zero bytes, but data follows later in the file:
    /// a zeroed range, not a zeroed tail.
    ZeroedHeader,
    /// A `middle` or `last` chunk (the type given) arrived when no record was
    /// in progress: its `first` chunk is missing.
    OrphanChunk(ChunkType),
    /// A `first` or `full` chunk (the type given) arrived while a record was
    /// in progress: that record never got its `last` chunk.
    PartialRecord(ChunkType),
    /// Torn tail: the file ends inside a chunk header.
    TruncatedHeader,
    /// Torn tail: the file ends inside a chunk's data.
    TruncatedChunk,
    /// Torn tail: the file ends between the chunks of a record, before its
    /// `last` chunk.
    TruncatedRecord,
    /// Torn tail: an all-zero chunk header, and nothing but zeros from there
    /// to the end of the file.
    ZeroedTail,
}

/// A byte range of the journal that the reader skipped, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dropped {
    /// File offset of the first skipped byte.
    pub offset: u64,
    /// Number of bytes skipped.
    pub len: u64,
    /// Why they were skipped.
    pub reason: Corruption,
}

impl Corruption {
    /// Whether this describes a torn tail (the end of a crashed write) rather
    /// than damage in the middle of the journal.
    pub fn is_torn_tail(&self) -> bool {
        matches!(
            self,
            Corruption::TruncatedHeader
                | Corruption::TruncatedChunk
                | Corruption::TruncatedRecord
                | Corruption::ZeroedTail
        )
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "journal read failed: {e}"),
            ReadError::Corrupt { offset, reason } => {
                write!(f, "corrupt journal at offset {offset}: {reason}")
            }
        }
    }
}

impl error::Error for ReadError {
    fn source(&self) -> Option<&(dyn error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            ReadError::Corrupt { .. } => None,
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::ChecksumMismatch => write!(f, "chunk checksum mismatch"),
            Corruption::LengthOverflowsBlock => write!(f, "chunk length overflows its block"),
            Corruption::UnknownChunkType(byte) => write!(f, "unknown chunk type {byte:#04x}"),
            Corruption::ZeroedHeader => write!(f, "zeroed chunk header with data after it"),
            Corruption::OrphanChunk(t) => {
                write!(f, "{} chunk without a first chunk", t.name())
            }
            Corruption::PartialRecord(t) => {
                write!(
                    f,
                    "record without a last chunk, cut off by a {} chunk",
                    t.name()
                )
            }
            Corruption::TruncatedHeader => write!(f, "file ends inside a chunk header"),
            Corruption::TruncatedChunk => write!(f, "file ends inside a chunk's data"),
            Corruption::TruncatedRecord => write!(f, "file ends before the record's last chunk"),
            Corruption::ZeroedTail => write!(f, "zeroed bytes to the end of the file"),
        }
    }
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dropped {} bytes at offset {}: {}",
            self.len, self.offset, self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_and_where() {
        let e = ReadError::Corrupt {
            offset: 32768,
            reason: Corruption::UnknownChunkType(9),
        };
        assert_eq!(
            e.to_string(),
            "corrupt journal at offset 32768: unknown chunk type 0x09"
        );
        let d = Dropped {
            offset: 7,
            len: 10,
            reason: Corruption::OrphanChunk(ChunkType::Middle),
        };
        assert_eq!(
            d.to_string(),
            "dropped 10 bytes at offset 7: middle chunk without a first chunk"
        );
        assert_eq!(
            Corruption::PartialRecord(ChunkType::Full).to_string(),
            "record without a last chunk, cut off by a full chunk"
        );
        let io = ReadError::Io(io::Error::other("disk on fire"));
        assert_eq!(io.to_string(), "journal read failed: disk on fire");
        assert!(error::Error::source(&io).is_some());
    }

    #[test]
    fn tail_reasons_are_not_mid_journal_damage() {
        assert!(Corruption::ZeroedTail.is_torn_tail());
        assert!(Corruption::TruncatedRecord.is_torn_tail());
        assert!(!Corruption::ZeroedHeader.is_torn_tail());
        assert!(!Corruption::ChecksumMismatch.is_torn_tail());
    }
}

//! The decode error.

use std::{error, fmt};

/// Why bytes are not a well-formed batch, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset in the decoded bytes (header included) where the fault is.
    pub offset: usize,
    /// What is wrong there.
    pub kind: DecodeErrorKind,
}

/// The fault found by [`Batch::decode`](crate::Batch::decode).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input is shorter than the 12-byte header.
    HeaderTooShort {
        /// The input's length.
        len: usize,
    },
    /// A record starts with a kind byte other than 0 (delete) or 1 (put).
    UnknownKind {
        /// The kind byte found.
        byte: u8,
    },
    /// A varint runs past the end of the input.
    VarintTruncated,
    /// A varint32 does not end within 5 bytes, or overflows 32 bits.
    VarintTooLong,
    /// A key or value length runs past the end of the input.
    LengthPastEnd {
        /// The length read.
        len: u32,
        /// Bytes left after the length.
        available: usize,
    },
    /// The header's count disagrees with the number of records present.
    CountMismatch {
        /// The count in the header.
        header: u32,
        /// Records found, counting to the end or to the first record past
        /// the header's count.
        found: u64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed batch at offset {}: ", self.offset)?;
        match &self.kind {
            DecodeErrorKind::HeaderTooShort { len } => {
                write!(f, "header too short ({len} bytes, need 12)")
            }
            DecodeErrorKind::UnknownKind { byte } => write!(f, "unknown record kind {byte:#04x}"),
            DecodeErrorKind::VarintTruncated => write!(f, "truncated varint"),
            DecodeErrorKind::VarintTooLong => write!(f, "varint32 longer than 5 bytes"),
            DecodeErrorKind::LengthPastEnd { len, available } => {
                write!(f, "length {len} runs past the end ({available} bytes left)")
            }
            DecodeErrorKind::CountMismatch { header, found } => {
                write!(f, "header counts {header} records, found {found}")
            }
        }
    }
}

impl error::Error for DecodeError {}

//! Byte-layout constants of the batch format.
//!
//! ```text
//! +----------------+-------------+---------------------------------------+
//! | seq: u64 LE    | count: u32  | records...                            |
//! +----------------+-------------+---------------------------------------+
//!  0                8             12
//!
//! record: | kind: u8 | key_len: varint32 | key | [value_len: varint32 | value] |
//! ```

/// Length of the batch header: an 8-byte sequence number and a 4-byte count.
pub const HEADER_LEN: usize = 12;

/// Length of the internal-key trailer that each record gets in the memtable:
/// `(seq << 8) | kind` as a little-endian `u64`.
pub const TRAILER_LEN: usize = 8;

/// The largest usable sequence number, `2^56 - 1`: the trailer keeps the low
/// 8 bits for the record kind.
pub const MAX_SEQ: u64 = (1 << 56) - 1;

/// Longest varint32 encoding, in bytes.
pub(crate) const MAX_VARINT32_LEN: usize = 5;

/// The kind byte of a record, as on the wire and in the internal-key trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Kind {
    /// A delete (tombstone): `0x00`.
    Delete = 0,
    /// A put: `0x01`.
    Put = 1,
}

impl Kind {
    /// The kind for a wire byte, or `None` for an unknown one.
    pub fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            0 => Some(Kind::Delete),
            1 => Some(Kind::Put),
            _ => None,
        }
    }
}

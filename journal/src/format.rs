//! Byte-layout constants of the journal format, and the chunk checksum.
//!
//! ```text
//! file    := block* [last block, possibly short]
//! block   := chunk* [trailer]                         (BLOCK_SIZE = 32768 bytes)
//! trailer := 1..=6 zero bytes, written when fewer than HEADER_LEN bytes remain
//!
//! chunk:
//!   0          4          6       7                      7 + length
//!   +----------+----------+-------+----------------------+
//!   | checksum |  length  | type  | data                 |
//!   |  u32 LE  |  u16 LE  |  u8   | (length bytes)       |
//!   +----------+----------+-------+----------------------+
//!
//! type     := 1 full | 2 first | 3 middle | 4 last
//! checksum := mask(crc32c(type byte ++ data))
//! mask(c)  := ((c >> 15) | (c << 17)) + 0xa282ead8          (wrapping, on u32)
//!
//! record  := full | first middle* last
//! ```
//!
//! A chunk never crosses a block boundary.
//! When exactly `HEADER_LEN` bytes remain in a block, a record that does not
//! fit starts there with a `first` chunk that holds no data.
//! This is LevelDB's `log_format.h` and goleveldb's `journal` package, byte for
//! byte.

/// Size of a block. Chunks never cross a block boundary, so a reader can
/// resynchronise at the next block after damage.
pub const BLOCK_SIZE: usize = 32 * 1024;

/// Length of a chunk header: checksum (4), length (2) and type (1).
pub const HEADER_LEN: usize = 7;

/// The most data one chunk can hold: a block less one header.
pub const MAX_CHUNK_DATA: usize = BLOCK_SIZE - HEADER_LEN;

/// Added to the rotated CRC by [`mask`], as in LevelDB's `crc32c::Mask`.
const MASK_DELTA: u32 = 0xa282_ead8;

/// The type byte of a chunk: which part of a record it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ChunkType {
    /// A whole record in one chunk: `1`.
    Full = 1,
    /// The first part of a record split across chunks: `2`.
    First = 2,
    /// An inner part of a split record: `3`.
    Middle = 3,
    /// The final part of a split record: `4`.
    Last = 4,
}

impl ChunkType {
    /// The chunk type for a type byte, or `None` for any byte but 1 to 4.
    pub fn from_byte(byte: u8) -> Option<ChunkType> {
        match byte {
            1 => Some(ChunkType::Full),
            2 => Some(ChunkType::First),
            3 => Some(ChunkType::Middle),
            4 => Some(ChunkType::Last),
            _ => None,
        }
    }

    /// The type of a chunk from its place in the record.
    pub(crate) fn for_position(is_first: bool, is_last: bool) -> ChunkType {
        match (is_first, is_last) {
            (true, true) => ChunkType::Full,
            (true, false) => ChunkType::First,
            (false, false) => ChunkType::Middle,
            (false, true) => ChunkType::Last,
        }
    }

    /// The name used in messages: `full`, `first`, `middle` or `last`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ChunkType::Full => "full",
            ChunkType::First => "first",
            ChunkType::Middle => "middle",
            ChunkType::Last => "last",
        }
    }
}

/// LevelDB's checksum mask: rotate right by 15 bits, then add a constant.
///
/// Storing a masked CRC keeps a CRC computed over bytes that themselves
/// contain CRCs from being trivially zero. LevelDB's table files mask their
/// block checksums the same way, so this is the one definition of it.
pub fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// The inverse of [`mask`].
pub fn unmask(masked: u32) -> u32 {
    masked.wrapping_sub(MASK_DELTA).rotate_left(15)
}

/// The CRC-32C polynomial, bit-reversed (the form the CRC is computed in).
const CRC32C_POLY_REFLECTED: u32 = 0x82F6_3B78;

/// Where the one flipped bit that [`correct_one_bit`] found was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlippedBit {
    /// In the stored checksum: the message is intact.
    InChecksum,
    /// In the message, at this byte and bit (0 the least significant);
    /// flipped back.
    At {
        /// The byte's offset in the message.
        byte: usize,
        /// The bit in it.
        bit: u8,
    },
}

/// Finds the single flipped bit that explains why `message` does not
/// match `stored`, its masked CRC-32C (a journal chunk's type and data, a
/// table block's contents and type), and flips it back: the most common
/// damage (one bit of a sector or of memory) undone exactly, with no
/// guess. `None` if the message matches, or if no single bit explains the
/// mismatch (more damage than that; the caller then drops the message).
///
/// A CRC is linear, so the checksum of the damaged message differs from
/// the stored one by the CRC of the error alone; every single-bit error of
/// a message shorter than the polynomial's period (2^31 bits for
/// CRC-32C) has its own such difference, so at most one bit can match.
/// The differences are walked from the last bit back, one shift each.
pub fn correct_one_bit(message: &mut [u8], stored: u32) -> Option<FlippedBit> {
    let actual = crc32c::crc32c(message);
    if mask(actual) == stored {
        return None;
    }
    if (mask(actual) ^ stored).count_ones() == 1 {
        return Some(FlippedBit::InChecksum);
    }
    let last = message.len().checked_sub(1)?;
    let wanted = actual ^ unmask(stored);
    // The difference a flip of the last bit processed makes (the most
    // significant bit of the last byte: the CRC takes each byte's bits
    // least significant first).
    message[last] ^= 0x80;
    let mut difference = crc32c::crc32c(message) ^ actual;
    message[last] ^= 0x80;
    let mut found = None;
    for byte in (0..message.len()).rev() {
        for bit in (0..8u8).rev() {
            if difference == wanted {
                if found.is_some() {
                    return None;
                }
                found = Some((byte, bit));
            }
            // One bit further from the end: one more zero bit shifted in.
            difference = (difference >> 1)
                ^ if difference & 1 == 1 {
                    CRC32C_POLY_REFLECTED
                } else {
                    0
                };
        }
    }
    let (byte, bit) = found?;
    message[byte] ^= 1 << bit;
    debug_assert_eq!(mask(crc32c::crc32c(message)), stored);
    Some(FlippedBit::At { byte, bit })
}

/// The stored checksum of a chunk: the masked CRC-32C of its type byte
/// followed by its data.
pub(crate) fn chunk_checksum(type_byte: u8, data: &[u8]) -> u32 {
    mask(crc32c::crc32c_append(crc32c::crc32c(&[type_byte]), data))
}

/// Encodes a chunk header.
pub(crate) fn encode_header(chunk_type: ChunkType, data: &[u8]) -> [u8; HEADER_LEN] {
    debug_assert!(data.len() <= MAX_CHUNK_DATA);
    let checksum = chunk_checksum(chunk_type as u8, data).to_le_bytes();
    let length = (data.len() as u16).to_le_bytes();
    [
        checksum[0],
        checksum[1],
        checksum[2],
        checksum[3],
        length[0],
        length[1],
        chunk_type as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The standard check value of CRC-32C (Castagnoli).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    #[allow(clippy::manual_rotate)] // The formula as FORMATS.md writes it.
    fn mask_matches_the_formula() {
        for c in [0u32, 1, 0xa0cc_26e6, 0xffff_ffff, 0x8000_0000, 0x1234_5678] {
            let by_formula = ((c >> 15) | (c << 17)).wrapping_add(0xa282_ead8);
            assert_eq!(mask(c), by_formula, "c = {c:#010x}");
        }
        // goleveldb's batch vector: crc32c(type ++ data) = a0cc26e6, masked f0502c70.
        assert_eq!(mask(0xa0cc_26e6), 0xf050_2c70);
    }

    #[test]
    fn chunk_type_bytes_round_trip() {
        for byte in 0..=u8::MAX {
            match ChunkType::from_byte(byte) {
                Some(t) => assert_eq!(t as u8, byte),
                None => assert!(byte == 0 || byte > 4),
            }
        }
        assert_eq!(ChunkType::for_position(true, true), ChunkType::Full);
        assert_eq!(ChunkType::for_position(true, false), ChunkType::First);
        assert_eq!(ChunkType::for_position(false, false), ChunkType::Middle);
        assert_eq!(ChunkType::for_position(false, true), ChunkType::Last);
    }

    #[test]
    fn header_encodes_little_endian() {
        let header = encode_header(ChunkType::Last, b"abc");
        let checksum = chunk_checksum(4, b"abc");
        assert_eq!(header[..4], checksum.to_le_bytes());
        assert_eq!(header[4..], [3, 0, 4]);
    }
}

#[cfg(test)]
mod one_bit_tests {
    use super::*;

    #[test]
    fn a_single_flipped_bit_is_found_and_undone() {
        // Under Miri a shorter message: each correction walks every bit.
        let len: usize = if cfg!(miri) { 300 } else { 3000 };
        let original: Vec<u8> = (0..len).map(|i| (i * 7 + i / 13) as u8).collect();
        let stored = mask(crc32c::crc32c(&original));
        for at in [0, 1, len / 4 + 27, len - 2, len - 1] {
            for bit in 0..8u8 {
                let mut damaged = original.clone();
                damaged[at] ^= 1 << bit;
                assert_eq!(
                    correct_one_bit(&mut damaged, stored),
                    Some(FlippedBit::At { byte: at, bit })
                );
                assert_eq!(damaged, original);
            }
        }
        // Intact: nothing to do. A bit of the checksum: the message stands.
        let mut intact = original.clone();
        assert_eq!(correct_one_bit(&mut intact, stored), None);
        assert_eq!(
            correct_one_bit(&mut intact, stored ^ 0x100),
            Some(FlippedBit::InChecksum)
        );
        // Two flipped bits: no single bit explains it, and nothing changes.
        let mut twice = original.clone();
        twice[10] ^= 1;
        twice[20] ^= 1;
        let before = twice.clone();
        assert_eq!(correct_one_bit(&mut twice, stored), None);
        assert_eq!(twice, before);
    }
}

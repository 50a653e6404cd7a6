//! The small encodings of the table format: varints, block handles, the
//! block trailer and the footer.

use super::{Corruption, TableError};

/// Bytes after every block: a type byte and a masked CRC-32C.
pub const BLOCK_TRAILER_LEN: usize = 5;
/// The footer's length: two handles padded to 40 bytes, then the magic.
pub const FOOTER_LEN: usize = 48;
/// LevelDB's table magic number, the footer's last 8 bytes (little-endian).
pub const MAGIC: u64 = 0xdb47_7524_8b80_fb57;
/// The longest encoding of a handle: two varint64s of 10 bytes.
const MAX_HANDLE_LEN: usize = 20;

/// The block type byte of an uncompressed block.
pub const NO_COMPRESSION: u8 = 0;
/// The block type byte of a Snappy-compressed block (raw format).
pub const SNAPPY: u8 = 1;
/// The block type byte of a zstd-compressed block (LevelDB's main branch).
pub const ZSTD: u8 = 2;

/// Appends `v` as a LevelDB varint (7 bits a byte, low bits first).
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes a varint of at most `max_bytes` bytes at the start of `bytes`:
/// the value and the bytes it took, or `None` if it runs off the end, is
/// longer, or overflows 64 bits.
#[inline]
fn get_varint(bytes: &[u8], max_bytes: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().take(max_bytes).enumerate() {
        let bits = u64::from(b & 0x7f);
        let shift = 7 * i as u32;
        if shift == 63 && bits > 1 {
            return None;
        }
        v |= bits << shift;
        if b < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Decodes a varint32 at the start of `bytes`.
#[inline]
pub fn get_varint32(bytes: &[u8]) -> Option<(u32, usize)> {
    let (v, n) = get_varint(bytes, 5)?;
    Some((u32::try_from(v).ok()?, n))
}

/// Decodes a varint64 at the start of `bytes`.
#[inline]
pub fn get_varint64(bytes: &[u8]) -> Option<(u64, usize)> {
    get_varint(bytes, 10)
}

/// Where a block lies in a table file; `size` excludes the trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockHandle {
    /// Offset of the block's first byte.
    pub offset: u64,
    /// Length of the block's contents, without the 5-byte trailer.
    pub size: u64,
}

impl BlockHandle {
    /// Appends the handle's encoding: two varint64s.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        put_varint(out, self.offset);
        put_varint(out, self.size);
    }

    /// Decodes a handle at the start of `bytes`, with the bytes it took.
    pub fn decode(bytes: &[u8]) -> Option<(BlockHandle, usize)> {
        let (offset, a) = get_varint64(bytes)?;
        let (size, b) = get_varint64(&bytes[a..])?;
        Some((BlockHandle { offset, size }, a + b))
    }

    /// The byte range of the block's contents in a file of `file_len`
    /// bytes, checked to leave room for the trailer; `at` names where the
    /// handle was read, for the error.
    pub fn range(&self, file_len: usize, at: u64) -> Result<std::ops::Range<usize>, TableError> {
        let end = self
            .offset
            .checked_add(self.size)
            .and_then(|e| e.checked_add(BLOCK_TRAILER_LEN as u64))
            .filter(|&e| e <= file_len as u64);
        match end {
            Some(end) => Ok(self.offset as usize..(end as usize - BLOCK_TRAILER_LEN)),
            None => Err(TableError::new(at, Corruption::BadHandle(*self))),
        }
    }
}

/// The masked CRC-32C a block's trailer holds: over the contents, then the
/// type byte.
pub fn block_checksum(contents: &[u8], block_type: u8) -> u32 {
    journal::mask(crc32c::crc32c_append(
        crc32c::crc32c(contents),
        &[block_type],
    ))
}

/// The footer: where the metaindex and index blocks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The metaindex block (the filter's handle, and any extensions).
    pub metaindex: BlockHandle,
    /// The index block (one separator and handle per data block).
    pub index: BlockHandle,
}

impl Footer {
    /// The 48 footer bytes.
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = Vec::with_capacity(FOOTER_LEN);
        self.metaindex.encode_to(&mut out);
        self.index.encode_to(&mut out);
        out.resize(2 * MAX_HANDLE_LEN, 0);
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.try_into().expect("footer is 48 bytes")
    }

    /// Decodes the footer at the end of a file.
    pub fn decode(file: &[u8]) -> Result<Footer, TableError> {
        let Some(start) = file.len().checked_sub(FOOTER_LEN) else {
            return Err(TableError::new(0, Corruption::TooShort(file.len() as u64)));
        };
        let footer = &file[start..];
        let magic = u64::from_le_bytes(footer[40..].try_into().expect("8 bytes"));
        if magic != MAGIC {
            return Err(TableError::new(
                start as u64 + 40,
                Corruption::BadMagic(magic),
            ));
        }
        let bad = || TableError::new(start as u64, Corruption::BadFooter);
        let (metaindex, n) = BlockHandle::decode(&footer[..40]).ok_or_else(bad)?;
        let (index, _) = BlockHandle::decode(&footer[n..40]).ok_or_else(bad)?;
        Ok(Footer { metaindex, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_overlong() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(get_varint64(&out), Some((v, out.len())));
        }
        assert_eq!(
            get_varint32(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
            Some((u32::MAX, 5))
        );
        assert_eq!(get_varint32(&[0xff, 0xff, 0xff, 0xff, 0x1f]), None);
        assert_eq!(get_varint32(&[0x80, 0x80]), None);
        assert_eq!(
            get_varint64(&[0xff; 9].iter().chain(&[0x02]).copied().collect::<Vec<_>>()),
            None
        );
    }

    #[test]
    fn footer_round_trips_and_is_48_bytes() {
        let f = Footer {
            metaindex: BlockHandle {
                offset: 1000,
                size: 30,
            },
            index: BlockHandle {
                offset: 1035,
                size: 70000,
            },
        };
        let bytes = f.encode();
        assert_eq!(&bytes[40..], &MAGIC.to_le_bytes());
        assert_eq!(Footer::decode(&bytes), Ok(f));
        let mut bad = bytes;
        bad[47] ^= 1;
        assert!(matches!(
            Footer::decode(&bad).unwrap_err().kind,
            Corruption::BadMagic(_)
        ));
    }
}

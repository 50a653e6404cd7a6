//! Looking for a written record past damage, at every byte offset.
//!
//! A reader that meets damage resynchronises at the next block, as LevelDB's
//! does, so records later in the damaged block are skipped unseen. To tell a
//! torn tail (nothing written after the damage) from damage in the middle
//! (records written after it), [`record_start_at_or_after`] looks at every
//! offset instead: a `full` or `first` chunk with data, inside its block,
//! whose checksum verifies, is a record someone wrote. A stray match in
//! random bytes needs a 32-bit checksum to agree by chance (one in 2^32 per
//! offset tried).

use std::io::{self, Read};

use crate::format::{chunk_checksum, ChunkType, BLOCK_SIZE, HEADER_LEN};

/// The offset of the first chunk at or after `from` that starts a record:
/// a `full` or `first` chunk holding data, within its block, with a valid
/// checksum. `None` if there is none before the end of `source`.
///
/// `source` yields the journal from offset 0. Memory: one block.
///
/// # Errors
///
/// The source's read errors.
pub fn record_start_at_or_after<R: Read>(mut source: R, from: u64) -> io::Result<Option<u64>> {
    let mut block = vec![0u8; BLOCK_SIZE];
    let mut block_start = 0u64;
    loop {
        let len = fill(&mut source, &mut block)?;
        if len == 0 {
            return Ok(None);
        }
        let block = &block[..len];
        let mut at = from.saturating_sub(block_start).min(len as u64) as usize;
        // Only offsets whose type byte is `full` or `first` can start a
        // record; finding those skips zeros (the unwritten part of a
        // zero-filled journal) a word at a time.
        while let Some(type_at) = next_start_type(block, at + HEADER_LEN - 1) {
            at = type_at + 1 - HEADER_LEN;
            if starts_record(block, at) {
                return Ok(Some(block_start + at as u64));
            }
            at += 1;
        }
        if len < BLOCK_SIZE {
            return Ok(None);
        }
        block_start += BLOCK_SIZE as u64;
    }
}

/// The first index at or after `from` holding a `full` or `first` type byte.
fn next_start_type(block: &[u8], from: usize) -> Option<usize> {
    let is_start = |b: u8| b == ChunkType::Full as u8 || b == ChunkType::First as u8;
    let mut i = from;
    while i + 8 <= block.len() {
        let word = u64::from_le_bytes(block[i..i + 8].try_into().expect("eight bytes"));
        if word != 0 {
            if let Some(j) = block[i..i + 8].iter().position(|&b| is_start(b)) {
                return Some(i + j);
            }
        }
        i += 8;
    }
    (i..block.len()).find(|&j| is_start(block[j]))
}

/// Whether a record-starting chunk with a valid checksum begins at `at`.
fn starts_record(block: &[u8], at: usize) -> bool {
    let header = &block[at..at + HEADER_LEN];
    let chunk_type = header[6];
    if chunk_type != ChunkType::Full as u8 && chunk_type != ChunkType::First as u8 {
        return false;
    }
    let len = u16::from_le_bytes([header[4], header[5]]) as usize;
    let end = at + HEADER_LEN + len;
    if len == 0 || end > block.len() {
        return false;
    }
    let stored = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    stored == chunk_checksum(chunk_type, &block[at + HEADER_LEN..end])
}

/// Reads until `buf` is full or the source ends; returns the bytes read.
fn fill<R: Read>(source: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match source.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Writer;

    fn journal(records: &[&[u8]]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        for r in records {
            w.append(r).unwrap();
        }
        w.flush().unwrap();
        w.into_inner()
    }

    #[test]
    fn finds_each_record_start_at_or_after_an_offset() {
        let bytes = journal(&[b"one", b"two", &[7u8; 40_000], b"four"]);
        let mut reader = crate::Reader::new(&bytes[..], crate::Recovery::Strict);
        let mut starts = Vec::new();
        while reader.next_record().unwrap().is_some() {
            starts.push(reader.record_offset());
        }
        assert_eq!(starts[..3], [0, 10, 20]);
        for (i, &start) in starts.iter().enumerate() {
            assert_eq!(
                record_start_at_or_after(&bytes[..], start).unwrap(),
                Some(start)
            );
            // Just past a start, the next start is the next record's: the
            // big record's `last` chunk, in the next block, starts none.
            let next = starts.get(i + 1).copied();
            assert_eq!(
                record_start_at_or_after(&bytes[..], start + 1).unwrap(),
                next
            );
        }
    }

    #[test]
    fn damage_hides_only_the_damaged_record() {
        let mut bytes = journal(&[b"one", b"two", b"three"]);
        bytes[8] ^= 1; // The data of "one".
        assert_eq!(record_start_at_or_after(&bytes[..], 0).unwrap(), Some(10));
    }

    #[test]
    fn zeros_and_garbage_start_no_record() {
        // Small under Miri, which runs each checksum a thousand times slower.
        let (zeros, garbage) = if cfg!(miri) {
            (40_000, 3_000)
        } else {
            (70_000, 100_000)
        };
        assert_eq!(
            record_start_at_or_after(&vec![0u8; zeros][..], 0).unwrap(),
            None
        );
        let mut rng = 1u64;
        let garbage: Vec<u8> = (0..garbage)
            .map(|_| {
                rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (rng >> 33) as u8
            })
            .collect();
        assert_eq!(record_start_at_or_after(&garbage[..], 0).unwrap(), None);
    }
}

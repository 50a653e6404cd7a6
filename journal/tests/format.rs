//! Byte-exact layout: the golden vector, where chunks and trailers go for
//! record sizes around a block's end, and the writer against an independent
//! model of the format (goleveldb-write-path.md §8 item 11).

mod common;

use batch::{Batch, SeqNum};
use common::{hex, layout, read_all, record, write_journal, ChunkAt, Rng};
use journal::{ChunkType, Recovery, Writer, BLOCK_SIZE, HEADER_LEN, MAX_CHUNK_DATA};

use ChunkType::{First, Full, Last, Middle};

const BLOCK: u64 = BLOCK_SIZE as u64;

/// goleveldb's batch vector as the first record of a journal.
#[test]
fn golden_batch_record() {
    let mut b = Batch::new();
    b.put(b"foo", b"bar");
    b.delete(b"k");
    b.set_seq(SeqNum(1));
    let batch_bytes = hex("01000000000000000200000001 03666f6f 03626172 00016b");
    assert_eq!(b.as_bytes(), &batch_bytes[..]);

    let journal = write_journal(&[b.as_bytes()]);
    let mut want = hex("702c50f0 1800 01");
    want.extend_from_slice(&batch_bytes);
    assert_eq!(journal, want);

    // And back: the bytes as goleveldb writes them decode to the batch.
    let o = read_all(&want, Recovery::Strict);
    assert_eq!(o.records.len(), 1);
    assert_eq!(Batch::decode(&o.records[0]).unwrap(), b);
}

/// Writes `lens` (records of those lengths) and checks every chunk as
/// `(offset, type, data length)`, that trailers are zeros, and that the
/// journal reads back.
fn check(lens: &[usize], expect: &[(u64, ChunkType, usize)]) {
    let records: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| record(i, n))
        .collect();
    let bytes = write_journal(&records);

    let mut found = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let room = BLOCK_SIZE - at % BLOCK_SIZE;
        if room < HEADER_LEN {
            assert!(
                bytes[at..at + room].iter().all(|&b| b == 0),
                "trailer at {at}"
            );
            at += room;
            continue;
        }
        let len = usize::from(u16::from_le_bytes([bytes[at + 4], bytes[at + 5]]));
        let chunk_type = ChunkType::from_byte(bytes[at + 6]).expect("chunk type");
        found.push((at as u64, chunk_type, len));
        at += HEADER_LEN + len;
    }
    assert_eq!(at, bytes.len());
    assert_eq!(found, expect, "lens {lens:?}");

    let o = read_all(&bytes, Recovery::Strict);
    assert!(o.error.is_none() && o.torn_tail.is_none());
    assert_eq!(o.records, records);
}

#[test]
fn chunk_layout_around_the_block_end() {
    let b = BLOCK;
    check(&[], &[]);
    check(&[0], &[(0, Full, 0)]);
    check(&[1], &[(0, Full, 1)]);
    // 32754 leaves exactly 7 bytes: the next record starts with an empty
    // `first` chunk there.
    check(
        &[32754, 5],
        &[(0, Full, 32754), (b - 7, First, 0), (b, Last, 5)],
    );
    // ... and an empty record fits there as an empty `full` chunk.
    check(
        &[32754, 0, 5],
        &[(0, Full, 32754), (b - 7, Full, 0), (b, Full, 5)],
    );
    // 32755..=32760 leave 6..=1 bytes: a zero trailer, and the next record in
    // the next block.
    for n in 32755..=32760 {
        check(&[n, 5], &[(0, Full, n), (b, Full, 5)]);
    }
    // 32761 fills the block exactly: no trailer.
    check(&[32761, 5], &[(0, Full, 32761), (b, Full, 5)]);
    check(&[32762], &[(0, First, 32761), (b, Last, 1)]);
    check(&[2 * 32761], &[(0, First, 32761), (b, Last, 32761)]);
    check(
        &[2 * 32761 + 1],
        &[(0, First, 32761), (b, Middle, 32761), (2 * b, Last, 1)],
    );
    check(
        &[100_000, 0],
        &[
            (0, First, 32761),
            (b, Middle, 32761),
            (2 * b, Middle, 32761),
            (3 * b, Last, 1717),
            (3 * b + 1724, Full, 0),
        ],
    );
}

/// A record that ends `t` bytes before a block end, for every trailer length
/// (0 is an exact fill), followed by records of 0, 1 and 100,000 bytes.
#[test]
fn trailers_of_every_length() {
    for t in 0..=6usize {
        let first = BLOCK_SIZE - HEADER_LEN - t;
        for next in [0usize, 1, 100_000] {
            let (model, end) = layout(&[first, next]);
            assert_eq!(model[0].end(), BLOCK - t as u64);
            assert_eq!(model[1].start(), BLOCK, "t = {t}");
            let records = [record(0, first), record(1, next)];
            let bytes = write_journal(&records);
            assert_eq!(bytes.len() as u64, end);
            assert!(bytes[BLOCK_SIZE - t..BLOCK_SIZE].iter().all(|&b| b == 0));
            let o = read_all(&bytes, Recovery::Strict);
            assert_eq!(o.records, records);
            assert_eq!(o.positions[1], (BLOCK, end));
        }
    }
}

/// Parses the chunk headers the model predicts and compares them, for many
/// pseudo-random sequences of record lengths.
#[test]
fn writer_matches_the_model() {
    let mut rng = Rng::new(11);
    let n_cases = if cfg!(debug_assertions) { 50 } else { 500 };
    for _ in 0..n_cases {
        let lens: Vec<usize> = (0..rng.below(20))
            .map(|_| match rng.below(4) {
                0 => rng.below(8) as usize,
                1 => MAX_CHUNK_DATA - 8 + rng.below(16) as usize,
                2 => rng.below(100_000) as usize,
                _ => rng.below(2_000) as usize,
            })
            .collect();
        let records: Vec<Vec<u8>> = lens.iter().map(|&n| rng.bytes(n)).collect();
        let bytes = write_journal(&records);
        let (model, end) = layout(&lens);
        assert_eq!(bytes.len() as u64, end);
        for (rec, at) in records.iter().zip(&model) {
            let mut data = Vec::new();
            for &ChunkAt {
                start,
                end,
                chunk_type,
            } in &at.chunks
            {
                let (s, e) = (start as usize, end as usize);
                assert_eq!(bytes[s + 6], chunk_type as u8);
                assert_eq!(
                    usize::from(u16::from_le_bytes([bytes[s + 4], bytes[s + 5]])),
                    e - s - 7
                );
                let sum = u32::from_le_bytes(bytes[s..s + 4].try_into().unwrap());
                assert_eq!(sum, common::checksum(chunk_type as u8, &bytes[s + 7..e]));
                data.extend_from_slice(&bytes[s + 7..e]);
            }
            assert_eq!(&data, rec);
        }
        let o = read_all(&bytes, Recovery::Strict);
        assert_eq!(o.records, records);
        let want: Vec<(u64, u64)> = model.iter().map(|r| (r.start(), r.end())).collect();
        assert_eq!(o.positions, want);
    }
}

/// `size` counts flushed and buffered bytes, trailers included, from the
/// first append; flushing in the middle changes nothing in the bytes.
#[test]
fn size_and_flush_points() {
    let lens = [10, 32740, 3, 70_000, 0, 1];
    let records: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| record(i, n))
        .collect();
    let all_at_once = write_journal(&records);
    let (model, _) = layout(&lens);
    let mut w = Writer::new(Vec::new());
    for (r, at) in records.iter().zip(&model) {
        w.append(r).unwrap();
        assert_eq!(w.size(), at.end());
        w.flush().unwrap();
        assert_eq!(w.get_ref().len() as u64, at.end());
    }
    assert_eq!(w.into_inner(), all_at_once);
}

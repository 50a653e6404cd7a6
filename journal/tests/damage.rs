//! Exhaustive damage (RELIABILITY B2): every prefix truncation and every
//! single-byte flip of one journal, read in both modes, against exact
//! expectations worked out from the layout.
//!
//! Meant to be run in release mode:
//!
//! ```text
//! cargo test --release -p tributary-journal --test damage -- --nocapture
//! ```
//!
//! In release the journal is about 355 KiB over 12 blocks, with records of
//! 0 B to 100 KiB (`Middle` chunks included), trailers of every length 1 to
//! 6, an exact block fill, an empty `first` chunk at a block end, empty
//! records, and a last block that ends short: some 363,000 truncations and
//! as many flips, each read in both modes, in about 10 s of one core.
//! In a debug build (`cfg!(debug_assertions)`) it is about 35 KiB over 2
//! blocks (with the empty `first` chunk and an empty record), so that a plain
//! `cargo test` stays quick.
//!
//! Each case starts from a [`Snapshot`] of a reader that has read the
//! undamaged journal up to the last record before the damage, which is sound
//! because a reader cannot depend on bytes it has not read yet.
//!
//! What is checked, per case:
//!
//! - Truncation to every length `L` (both modes): exactly the records that
//!   end at or before `L`, in order; nothing dropped; no error; a torn tail
//!   exactly when bytes of an incomplete record (or a partial trailer) remain,
//!   with its offset, length and reason; `offset()` at the end of the last
//!   record.
//! - Flip of every byte (xor `0x01` at even offsets, `0x80` at odd): a flip
//!   in a block trailer changes nothing. Any other flip is found at the chunk
//!   `c` that holds the byte. Tolerant mode returns every record except those
//!   with a chunk starting between `c` and the end of its block, and lists
//!   exactly the expected dropped ranges; strict mode returns the records
//!   before `c`'s record and then the exact error, with `c`'s offset.
//!   The one exception is a length byte in the file's last, short block that
//!   makes the chunk run past the end of the file (but not past its block):
//!   that reads as a torn tail in both modes, as in LevelDB.
//!
//! A flip of a checksum, type or data byte is an error burst of at most 8
//! bits, which CRC-32C always detects, so those expectations are exact, not
//! probabilistic. A flip of a length byte checksums a different span
//! instead; a collision there would show up as a failure of this
//! deterministic test, and there is none.

mod common;

use common::{layout, record, RecordAt, Rng};
use journal::{
    ChunkType, Corruption, Dropped, ReadError, Reader, Recovery, Writer, BLOCK_SIZE, HEADER_LEN,
};
use std::time::Instant;

const BLOCK: u64 = BLOCK_SIZE as u64;
const MODES: [Recovery; 2] = [Recovery::Strict, Recovery::Tolerant];

/// The journal under test, and its layout.
struct Journal {
    bytes: Vec<u8>,
    records: Vec<Vec<u8>>,
    model: Vec<RecordAt>,
    /// Every chunk in file order, with the index of its record.
    chunks: Vec<(usize, common::ChunkAt)>,
    /// For each byte, the index in `chunks` of the chunk holding it, or
    /// `TRAILER`.
    owner: Vec<u32>,
}

const TRAILER: u32 = u32::MAX;

/// Trailer lengths left at the crafted block ends, in order; 7 means an
/// empty `first` chunk (or an empty `full` one) at the block end, 0 an exact
/// fill. The debug journal takes the first one.
const TRAILERS: [u64; 8] = [7, 0, 3, 6, 1, 4, 2, 5];

/// Record lengths: in each segment a free record (0 B to 100 KiB), then one
/// sized to end `t` bytes before a block end, for each `t` in `TRAILERS`;
/// then three short records, so that the file ends inside a block.
fn plan(n_segments: usize, big: usize) -> Vec<usize> {
    let mut rng = Rng::new(0xda3a_9e00);
    let mut lens: Vec<u64> = Vec::new();
    for (i, &t) in TRAILERS[..n_segments].iter().enumerate() {
        let free = match i {
            0 => rng.below(2_000),
            1 => 1 + rng.below(100), // starts with an empty `first` chunk
            2 => big as u64,
            3 | 7 => 0,
            4 => rng.below(16),
            _ => rng.below(2_000),
        };
        lens.push(free);
        let end = layout(&to_usize(&lens)).1;
        let room = BLOCK - end % BLOCK;
        let header = HEADER_LEN as u64;
        let crafted = if room >= header + t {
            room - header - t
        } else if room >= header {
            // A `first` chunk filling this block, a `last` one in the next.
            room - header + (BLOCK - header - t)
        } else {
            // After this block's trailer.
            BLOCK - header - t
        };
        lens.push(crafted);
    }
    // 2616 = 0x0a38: a flip of either length byte, with either mask, can
    // make this last chunk run past the end of the file (a torn tail).
    // A short record first, so that after a 7-byte room it starts with an
    // empty `first` chunk even when there is only one segment.
    lens.extend([1 + rng.below(100), 0, 2_616]);
    to_usize(&lens)
}

fn to_usize(lens: &[u64]) -> Vec<usize> {
    lens.iter().map(|&n| n as usize).collect()
}

fn build(n_segments: usize, big: usize) -> Journal {
    let lens = plan(n_segments, big);
    let records: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| record(i, n))
        .collect();
    let mut w = Writer::new(Vec::new());
    for r in &records {
        w.append(r).unwrap();
    }
    w.flush().unwrap();
    let bytes = w.into_inner();
    let (model, end) = layout(&lens);
    assert_eq!(bytes.len() as u64, end);

    let mut chunks = Vec::new();
    for (i, r) in model.iter().enumerate() {
        chunks.extend(r.chunks.iter().map(|&c| (i, c)));
    }
    let mut owner = vec![TRAILER; bytes.len()];
    for (idx, (_, c)) in chunks.iter().enumerate() {
        owner[c.start as usize..c.end as usize].fill(idx as u32);
    }
    Journal {
        bytes,
        records,
        model,
        chunks,
        owner,
    }
}

/// How a read ended.
#[derive(Debug, PartialEq)]
struct End {
    error: Option<(u64, Corruption)>,
    dropped: Vec<Dropped>,
    torn_tail: Option<Dropped>,
    offset: u64,
}

/// A reader part-way through the undamaged journal, to start cases from.
///
/// A reader's state after it has taken `consumed` bytes from its source
/// cannot depend on the bytes after them; so for damage at or after
/// `consumed`, a clone of this reader with the damaged bytes from `consumed`
/// on as its source is in the state a fresh reader of the damaged journal
/// would reach. Starting there keeps each case to the blocks it can affect.
struct Snapshot<'a> {
    reader: Reader<&'a [u8]>,
    /// Bytes the reader has taken from its source.
    consumed: usize,
    /// Records it has returned.
    n_returned: usize,
}

/// A snapshot at the start and after every record, in file order.
fn snapshots(bytes: &[u8], mode: Recovery) -> Vec<Snapshot<'_>> {
    let mut reader = Reader::new(bytes, mode);
    let mut out = vec![Snapshot {
        reader: reader.clone(),
        consumed: 0,
        n_returned: 0,
    }];
    loop {
        if reader.next_record().unwrap().is_none() {
            return out;
        }
        out.push(Snapshot {
            consumed: bytes.len() - reader.get_ref().len(),
            n_returned: out.len(),
            reader: reader.clone(),
        });
    }
}

/// The last snapshot that has not read byte `at` (or, for a truncation to
/// `at` bytes, past it).
fn snapshot_before<'s, 'a>(snaps: &'s [Snapshot<'a>], at: usize) -> &'s Snapshot<'a> {
    let i = snaps.partition_point(|s| s.consumed <= at);
    &snaps[i - 1]
}

/// Goes on reading from `snap` with `rest` as the source (the journal from
/// `snap.consumed` on, damaged or cut), and checks that the records returned
/// from there are exactly `records[i]` for each `i` in `want` not yet
/// returned by the snapshot, in order, without copying them.
fn read_checked(
    snap: &Snapshot<'_>,
    rest: &[u8],
    j: &Journal,
    want: impl Iterator<Item = usize>,
    case: &dyn Fn() -> String,
) -> End {
    let mut reader = snap.reader.clone();
    *reader.get_mut() = rest;
    let mut want = want.skip_while(|&i| i < snap.n_returned);
    let error = loop {
        match reader.next_record() {
            Ok(Some(got)) => {
                let Some(i) = want.next() else {
                    panic!("{}: extra record of {} bytes", case(), got.len());
                };
                if got != &j.records[i][..] {
                    panic!("{}: record {i} differs", case());
                }
                assert_eq!(reader.record_offset(), j.model[i].start(), "{}", case());
                assert_eq!(reader.offset(), j.model[i].end(), "{}", case());
            }
            Ok(None) => break None,
            Err(ReadError::Corrupt { offset, reason }) => break Some((offset, reason)),
            Err(e) => panic!("{}: {e}", case()),
        }
    };
    if let Some(i) = want.next() {
        panic!("{}: record {i} missing", case());
    }
    End {
        error,
        dropped: reader.dropped().to_vec(),
        torn_tail: reader.torn_tail(),
        offset: reader.offset(),
    }
}

/// The expected torn tail of the journal cut to `len` bytes, where the first
/// `k` records are complete.
fn expected_tail(j: &Journal, len: u64, k: usize) -> Option<Dropped> {
    let e = if k == 0 { 0 } else { j.model[k - 1].end() };
    if len == e {
        return None;
    }
    let Some(next) = j.model.get(k) else {
        unreachable!("bytes after the last record");
    };
    let s = next.start();
    if len <= s {
        // Only trailer bytes after the last complete record.
        return (len < s).then_some(Dropped {
            offset: e,
            len: len - e,
            reason: Corruption::TruncatedHeader,
        });
    }
    // Inside record `k`: find the first chunk that is not complete.
    let mut prev_end = s;
    let mut reason = Corruption::TruncatedRecord;
    for c in &next.chunks {
        if c.end <= len {
            prev_end = c.end;
            continue;
        }
        reason = if len == prev_end || len == c.start {
            Corruption::TruncatedRecord
        } else if len < c.start || len - c.start < HEADER_LEN as u64 {
            // Inside a header (or a trailer between chunks, which the writer
            // never leaves, since only a record's last chunk can end short of
            // its block).
            Corruption::TruncatedHeader
        } else {
            Corruption::TruncatedChunk
        };
        break;
    }
    Some(Dropped {
        offset: s,
        len: len - s,
        reason,
    })
}

fn truncations(j: &Journal, snaps: &[Vec<Snapshot<'_>>; 2]) -> u64 {
    let mut k = 0; // records complete in the prefix
    let mut n_torn = 0;
    for len in 0..=j.bytes.len() {
        while k < j.model.len() && j.model[k].end() <= len as u64 {
            k += 1;
        }
        let want_tail = expected_tail(j, len as u64, k);
        n_torn += u64::from(want_tail.is_some());
        let want = End {
            error: None,
            dropped: Vec::new(),
            torn_tail: want_tail,
            offset: if k == 0 { 0 } else { j.model[k - 1].end() },
        };
        for (mode, snaps) in MODES.iter().zip(snaps) {
            let case = || format!("truncation to {len} bytes, {mode:?}");
            let snap = snapshot_before(snaps, len);
            let got = read_checked(snap, &j.bytes[snap.consumed..len], j, 0..k, &case);
            assert_eq!(got, want, "{}", case());
        }
    }
    n_torn
}

/// What a flip at one byte does, worked out from the layout.
enum Effect {
    /// In a trailer: nothing.
    None,
    /// Damage found at chunk `c` (index in `chunks`) with this reason.
    Corrupt(usize, Corruption),
    /// A length that now runs past the end of the file: a torn tail at
    /// chunk `c`.
    Torn(usize),
}

fn effect(j: &Journal, at: usize, mask: u8) -> Effect {
    let idx = j.owner[at];
    if idx == TRAILER {
        return Effect::None;
    }
    let idx = idx as usize;
    let c = j.chunks[idx].1;
    let file_len = j.bytes.len() as u64;
    let block_start = c.start / BLOCK * BLOCK;
    let block_len = (file_len - block_start).min(BLOCK);
    match at as u64 - c.start {
        6 => {
            let t = j.bytes[at] ^ mask;
            match ChunkType::from_byte(t) {
                None => Effect::Corrupt(idx, Corruption::UnknownChunkType(t)),
                Some(_) => Effect::Corrupt(idx, Corruption::ChecksumMismatch),
            }
        }
        4 | 5 => {
            let mut len_bytes = [j.bytes[c.start as usize + 4], j.bytes[c.start as usize + 5]];
            len_bytes[at - c.start as usize - 4] ^= mask;
            let data_end = c.start - block_start
                + HEADER_LEN as u64
                + u64::from(u16::from_le_bytes(len_bytes));
            if data_end <= block_len {
                Effect::Corrupt(idx, Corruption::ChecksumMismatch)
            } else if block_len < BLOCK && data_end <= BLOCK {
                Effect::Torn(idx)
            } else {
                Effect::Corrupt(idx, Corruption::LengthOverflowsBlock)
            }
        }
        _ => Effect::Corrupt(idx, Corruption::ChecksumMismatch),
    }
}

/// Counts of flip outcomes.
#[derive(Debug, Default)]
struct FlipCounts {
    in_trailer: u64,
    torn: u64,
    checksum: u64,
    length: u64,
    chunk_type: u64,
}

fn flips(j: &Journal, snaps: &[Vec<Snapshot<'_>>; 2]) -> FlipCounts {
    let mut damaged = j.bytes.clone();
    let mut counts = FlipCounts::default();
    let file_len = j.bytes.len() as u64;
    let n = j.records.len();
    for at in 0..j.bytes.len() {
        let mask = if at % 2 == 0 { 0x01 } else { 0x80 };
        let effect = effect(j, at, mask);
        let case = || format!("flip {mask:#04x} at {at}");
        damaged[at] ^= mask;
        let (want_tolerant, want_strict, lost) = match effect {
            Effect::None => {
                counts.in_trailer += 1;
                let end = End {
                    error: None,
                    dropped: Vec::new(),
                    torn_tail: None,
                    offset: j.model.last().map_or(0, RecordAt::end),
                };
                (end, None, (n, n))
            }
            Effect::Torn(idx) => {
                counts.torn += 1;
                let lo = j.chunks[idx].0;
                let start = j.model[lo].start();
                let end = End {
                    error: None,
                    dropped: Vec::new(),
                    torn_tail: Some(Dropped {
                        offset: start,
                        len: file_len - start,
                        reason: Corruption::TruncatedChunk,
                    }),
                    offset: if lo == 0 { 0 } else { j.model[lo - 1].end() },
                };
                (end, None, (lo, n))
            }
            Effect::Corrupt(idx, reason) => {
                match reason {
                    Corruption::ChecksumMismatch => counts.checksum += 1,
                    Corruption::LengthOverflowsBlock => counts.length += 1,
                    _ => counts.chunk_type += 1,
                }
                let c = j.chunks[idx].1;
                let lo = j.chunks[idx].0;
                let block_end = ((c.start / BLOCK + 1) * BLOCK).min(file_len);
                // The last record with a chunk starting in the rest of the block.
                let hi = j.chunks[idx..]
                    .iter()
                    .take_while(|(_, c)| c.start < block_end)
                    .last()
                    .unwrap()
                    .0;
                let start = j.model[lo].start();
                let mut dropped = vec![Dropped {
                    offset: start,
                    len: block_end - start,
                    reason,
                }];
                // The rest of record `hi` after the block: orphan chunks.
                for c in j.model[hi].chunks.iter().filter(|c| c.start >= block_end) {
                    let reason = Corruption::OrphanChunk(c.chunk_type);
                    match dropped.last_mut() {
                        Some(d) if d.reason == reason && d.offset + d.len == c.start => {
                            d.len += c.end - c.start;
                        }
                        _ => dropped.push(Dropped {
                            offset: c.start,
                            len: c.end - c.start,
                            reason,
                        }),
                    }
                }
                let last_kept = if hi + 1 < n {
                    j.model[n - 1].end()
                } else if lo > 0 {
                    j.model[lo - 1].end()
                } else {
                    0
                };
                let tolerant = End {
                    error: None,
                    dropped,
                    torn_tail: None,
                    offset: last_kept,
                };
                let strict = End {
                    error: Some((c.start, reason)),
                    dropped: Vec::new(),
                    torn_tail: None,
                    offset: if lo == 0 { 0 } else { j.model[lo - 1].end() },
                };
                (tolerant, Some(strict), (lo, hi + 1))
            }
        };
        // Records `lo..hi` are lost; strict mode stops before `lo`.
        let (lo, hi) = lost;
        let snap = snapshot_before(&snaps[1], at);
        let rest = &damaged[snap.consumed..];
        let got = read_checked(snap, rest, j, (0..lo).chain(hi..n), &case);
        assert_eq!(got, want_tolerant, "{} (tolerant)", case());
        let want_strict = want_strict.unwrap_or(want_tolerant);
        let snap = snapshot_before(&snaps[0], at);
        let got = read_checked(snap, &damaged[snap.consumed..], j, 0..lo, &case);
        assert_eq!(got, want_strict, "{} (strict)", case());
        damaged[at] ^= mask;
    }
    counts
}

#[test]
fn every_truncation_and_every_flip() {
    let j = if cfg!(debug_assertions) {
        build(1, 0)
    } else {
        build(TRAILERS.len(), 100 * 1024)
    };
    let len = j.bytes.len() as u64;
    let n_blocks = len.div_ceil(BLOCK);

    // The journal has what the tests are for.
    let trailers: Vec<u64> = (1..n_blocks)
        .map(|b| b * BLOCK)
        .map(|boundary| {
            let last_end = j
                .chunks
                .iter()
                .map(|(_, c)| c.end)
                .filter(|&e| e <= boundary)
                .max()
                .unwrap();
            boundary - last_end
        })
        .collect();
    let n_trailer_bytes: u64 = trailers.iter().sum();
    let has_empty_first = j
        .chunks
        .iter()
        .any(|(_, c)| c.chunk_type == ChunkType::First && c.end - c.start == HEADER_LEN as u64);
    let longest = j.records.iter().map(Vec::len).max().unwrap();
    eprintln!(
        "journal: {len} bytes, {n_blocks} blocks, {} records of 0..={longest} bytes, trailers {trailers:?}",
        j.records.len()
    );
    assert!(has_empty_first, "no empty first chunk at a block end");
    assert!(j.records.iter().any(Vec::is_empty));
    if !cfg!(debug_assertions) {
        assert!(j
            .chunks
            .iter()
            .any(|(_, c)| c.chunk_type == ChunkType::Middle));
        assert!(len >= 256 * 1024 && n_blocks >= 9);
        assert_eq!(longest, 100 * 1024);
        for t in 0..=6 {
            assert!(trailers.contains(&t), "no trailer of {t} bytes");
        }
    }

    let snaps = MODES.map(|mode| snapshots(&j.bytes, mode));
    let started = Instant::now();
    let n_torn = truncations(&j, &snaps);
    let truncation_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "truncations: {} checked in both modes ({n_torn} with a torn tail), {truncation_secs:.1} s",
        len + 1
    );
    // Clean ends: length 0, every record's end, and every block end after a
    // trailer (trailers only ever follow a record's last chunk).
    let n_clean = 1 + j.records.len() as u64 + trailers.iter().filter(|&&t| t > 0).count() as u64;
    assert_eq!(n_torn, len + 1 - n_clean);

    let started = Instant::now();
    let counts = flips(&j, &snaps);
    let flip_secs = started.elapsed().as_secs_f64();
    eprintln!("flips: {len} checked in both modes: {counts:?}, {flip_secs:.1} s");
    assert_eq!(
        counts.in_trailer + counts.torn + counts.checksum + counts.length + counts.chunk_type,
        len
    );
    assert_eq!(counts.in_trailer, n_trailer_bytes);
    assert!(counts.length > 0 && counts.chunk_type > 0 && counts.checksum > 0);
    assert!(counts.torn > 0);
}

//! The cases of LevelDB's `db/log_test.cc`, restated for this crate (RELIABILITY
//! B1).
//!
//! Where LevelDB counts dropped bytes through its `Reporter`, these tests
//! check the exact [`Dropped`] ranges in tolerant mode and the exact error in
//! strict mode.
//! Not ported: the `initial_offset` family (`ReadStart`, `ReadSecondOneOff`,
//! ..., `ReadPastEnd`) because this reader has no initial offset (goleveldb's
//! has none either); `SkipIntoMultiRecord` is restated as a journal whose
//! first block is missing, which is what that test exercises.
//! `OpenForAppend` uses [`Writer::with_offset`].

mod common;

use common::{fix_checksum, read_all, write_journal, Outcome, Rng};
use journal::{
    ChunkType, Corruption, Dropped, ReadError, Reader, Recovery, Writer, BLOCK_SIZE, HEADER_LEN,
};
use std::io;

const BLOCK: u64 = BLOCK_SIZE as u64;

/// `partial` repeated to `n` bytes (LevelDB's `BigString`).
fn big(partial: &str, n: usize) -> String {
    partial.chars().cycle().take(n).collect()
}

fn strict(bytes: &[u8]) -> Outcome {
    read_all(bytes, Recovery::Strict)
}

fn tolerant(bytes: &[u8]) -> Outcome {
    read_all(bytes, Recovery::Tolerant)
}

/// Reads in both modes and checks they agree on a journal with no damage in
/// the middle; returns the outcome.
fn clean(bytes: &[u8]) -> Outcome {
    let s = strict(bytes);
    let t = tolerant(bytes);
    assert!(s.error.is_none(), "{:?}", s.error);
    assert!(t.error.is_none(), "{:?}", t.error);
    assert_eq!(t.dropped, vec![]);
    assert_eq!(s.records, t.records);
    assert_eq!(s.torn_tail, t.torn_tail);
    assert_eq!(s.offset, t.offset);
    t
}

fn dropped(offset: u64, len: u64, reason: Corruption) -> Dropped {
    Dropped {
        offset,
        len,
        reason,
    }
}

#[test]
fn empty() {
    let o = clean(b"");
    assert!(o.records.is_empty());
    assert_eq!(o.torn_tail, None);
    assert_eq!(o.offset, 0);
}

#[test]
fn read_write() {
    let bytes = write_journal(&["foo", "bar", "", "xxxx"]);
    let o = clean(&bytes);
    assert_eq!(o.strings(), ["foo", "bar", "", "xxxx"]);
    assert_eq!(o.torn_tail, None);
    assert_eq!(o.positions, [(0, 10), (10, 20), (20, 27), (27, 38)]);
    assert_eq!(o.offset, bytes.len() as u64);
}

#[test]
fn many_blocks() {
    let records: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
    let bytes = write_journal(&records);
    assert!(bytes.len() > 20 * BLOCK_SIZE);
    let o = clean(&bytes);
    assert_eq!(o.strings(), records);
    assert_eq!(o.torn_tail, None);
}

#[test]
fn fragmentation() {
    let records = [
        "small".to_string(),
        big("medium", 50_000),
        big("large", 100_000),
    ];
    let bytes = write_journal(&records);
    let o = clean(&bytes);
    assert_eq!(o.strings(), records);
    assert_eq!(o.torn_tail, None);
}

/// A record that leaves exactly a header's room in the block, then an empty
/// record that fits there exactly.
#[test]
fn marginal_trailer() {
    let n = BLOCK_SIZE - 2 * HEADER_LEN;
    let mut w = Writer::new(Vec::new());
    w.append(big("foo", n).as_bytes()).unwrap();
    assert_eq!(w.size(), BLOCK - HEADER_LEN as u64);
    w.append(b"").unwrap();
    assert_eq!(w.size(), BLOCK);
    w.append(b"bar").unwrap();
    w.flush().unwrap();
    let o = clean(w.get_ref());
    assert_eq!(o.strings(), [big("foo", n), String::new(), "bar".into()]);
    assert_eq!(o.positions[1], (BLOCK - 7, BLOCK));
}

/// The same room, taken by a record that does not fit: an empty `first`
/// chunk at the block end, then its `last` chunk.
#[test]
fn marginal_trailer2() {
    let n = BLOCK_SIZE - 2 * HEADER_LEN;
    let bytes = write_journal(&[big("foo", n), "bar".into()]);
    let o = clean(&bytes);
    assert_eq!(o.strings(), [big("foo", n), "bar".into()]);
    assert_eq!(o.positions[1], (BLOCK - 7, BLOCK + 10));
    assert_eq!(o.torn_tail, None);
}

#[test]
fn short_trailer() {
    let n = BLOCK_SIZE - 2 * HEADER_LEN + 4;
    let mut w = Writer::new(Vec::new());
    w.append(big("foo", n).as_bytes()).unwrap();
    assert_eq!(w.size(), BLOCK - HEADER_LEN as u64 + 4);
    w.append(b"").unwrap();
    w.append(b"bar").unwrap();
    w.flush().unwrap();
    let o = clean(w.get_ref());
    assert_eq!(o.strings(), [big("foo", n), String::new(), "bar".into()]);
    assert_eq!(o.positions[1], (BLOCK, BLOCK + 7));
}

/// The file ends where a trailer would start: no trailer is written.
#[test]
fn aligned_eof() {
    let n = BLOCK_SIZE - 2 * HEADER_LEN + 4;
    let mut w = Writer::new(Vec::new());
    w.append(big("foo", n).as_bytes()).unwrap();
    assert_eq!(w.size(), BLOCK - HEADER_LEN as u64 + 4);
    w.flush().unwrap();
    let o = clean(w.get_ref());
    assert_eq!(o.strings(), [big("foo", n)]);
    assert_eq!(o.torn_tail, None);
}

#[test]
fn open_for_append() {
    let mut w = Writer::new(Vec::new());
    w.append(b"hello").unwrap();
    w.flush().unwrap();
    let (file, size) = (w.get_ref().clone(), w.size());
    let mut w = Writer::with_offset(file, size);
    w.append(b"world").unwrap();
    w.flush().unwrap();
    assert_eq!(clean(w.get_ref()).strings(), ["hello", "world"]);

    // Reopening at every distance from a block end, trailers included.
    for room in 0..=HEADER_LEN + 1 {
        let first = big("a", BLOCK_SIZE - HEADER_LEN - room);
        let mut w = Writer::new(Vec::new());
        w.append(first.as_bytes()).unwrap();
        w.flush().unwrap();
        let offset = clean(w.get_ref()).offset;
        assert_eq!(offset, w.size());
        let mut w = Writer::with_offset(w.into_inner(), offset);
        w.append(b"second").unwrap();
        w.flush().unwrap();
        assert_eq!(clean(w.get_ref()).strings(), [first, "second".into()]);
    }
}

#[test]
fn random_read() {
    const N: usize = 500;
    let mut rng = Rng::new(301);
    // Skewed lengths as in LevelDB: mostly short, sometimes long.
    let records: Vec<Vec<u8>> = (0..N)
        .map(|_| {
            let bits = rng.below(17);
            let len = rng.below(1 << bits) as usize;
            rng.bytes(len)
        })
        .collect();
    let bytes = write_journal(&records);
    let o = clean(&bytes);
    assert_eq!(o.records, records);
}

/// A source that serves `ok` bytes and then fails.
struct FailingSource<'a> {
    data: &'a [u8],
    ok: usize,
    interrupted_once: bool,
}

impl io::Read for FailingSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.interrupted_once {
            // A signal: the reader must retry.
            self.interrupted_once = true;
            return Err(io::ErrorKind::Interrupted.into());
        }
        if self.ok == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.ok).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn read_error() {
    let bytes = write_journal(&["foo", &big("bar", BLOCK_SIZE)]);
    for mode in [Recovery::Strict, Recovery::Tolerant] {
        // Failing at once.
        let source = FailingSource {
            data: &bytes,
            ok: 0,
            interrupted_once: false,
        };
        let mut r = Reader::new(source, mode);
        let e = r.next_record().unwrap_err();
        assert!(matches!(&e, ReadError::Io(io) if io.to_string() == "disk on fire"));
        assert_eq!(e.to_string(), "journal read failed: disk on fire");
        // Sticky, with the same message.
        let again = r.next_record().unwrap_err();
        assert_eq!(again.to_string(), e.to_string());

        // Failing after the first block: the record inside it comes first,
        // then the error, not a partial record.
        let source = FailingSource {
            data: &bytes,
            ok: BLOCK_SIZE,
            interrupted_once: false,
        };
        let mut r = Reader::new(source, mode);
        assert_eq!(r.next_record().unwrap(), Some(&b"foo"[..]));
        assert!(matches!(r.next_record(), Err(ReadError::Io(_))));
        assert!(matches!(r.next_record(), Err(ReadError::Io(_))));
        assert_eq!(r.dropped(), []);
    }
}

#[test]
fn bad_record_type() {
    let mut bytes = write_journal(&["foo"]);
    bytes[6] += 100;
    fix_checksum(&mut bytes, 0);
    let t = tolerant(&bytes);
    assert!(t.records.is_empty());
    assert_eq!(
        t.dropped,
        [dropped(0, 10, Corruption::UnknownChunkType(101))]
    );
    assert_eq!(t.torn_tail, None);
    let s = strict(&bytes);
    assert_eq!(s.corrupt(), Some((0, Corruption::UnknownChunkType(101))));
    assert_eq!(
        s.error.unwrap().to_string(),
        "corrupt journal at offset 0: unknown chunk type 0x65"
    );
}

#[test]
fn truncated_trailing_record_is_ignored() {
    let bytes = write_journal(&["foo"]);
    // Drop all the data and one header byte.
    let o = clean(&bytes[..bytes.len() - 4]);
    assert!(o.records.is_empty());
    assert_eq!(
        o.torn_tail,
        Some(dropped(0, 6, Corruption::TruncatedHeader))
    );
}

#[test]
fn bad_length() {
    let payload = BLOCK_SIZE - HEADER_LEN;
    let mut bytes = write_journal(&[big("bar", payload), "foo".into()]);
    // A length one past the block.
    bytes[4] += 1;
    let t = tolerant(&bytes);
    assert_eq!(t.strings(), ["foo"]);
    assert_eq!(
        t.dropped,
        [dropped(0, BLOCK, Corruption::LengthOverflowsBlock)]
    );
    let s = strict(&bytes);
    assert!(s.records.is_empty());
    assert_eq!(s.corrupt(), Some((0, Corruption::LengthOverflowsBlock)));
}

#[test]
fn bad_length_at_end_is_ignored() {
    let bytes = write_journal(&["foo"]);
    let o = clean(&bytes[..bytes.len() - 1]);
    assert!(o.records.is_empty());
    assert_eq!(o.torn_tail, Some(dropped(0, 9, Corruption::TruncatedChunk)));
}

#[test]
fn checksum_mismatch() {
    let mut bytes = write_journal(&["foooooo"]);
    bytes[0] = bytes[0].wrapping_add(14);
    let t = tolerant(&bytes);
    assert!(t.records.is_empty());
    assert_eq!(t.dropped, [dropped(0, 14, Corruption::ChecksumMismatch)]);
    let s = strict(&bytes);
    assert_eq!(s.corrupt(), Some((0, Corruption::ChecksumMismatch)));
}

#[test]
fn unexpected_middle_type() {
    let mut bytes = write_journal(&["foo"]);
    bytes[6] = ChunkType::Middle as u8;
    fix_checksum(&mut bytes, 0);
    let reason = Corruption::OrphanChunk(ChunkType::Middle);
    let t = tolerant(&bytes);
    assert!(t.records.is_empty());
    assert_eq!(t.dropped, [dropped(0, 10, reason)]);
    assert_eq!(strict(&bytes).corrupt(), Some((0, reason)));
}

#[test]
fn unexpected_last_type() {
    let mut bytes = write_journal(&["foo"]);
    bytes[6] = ChunkType::Last as u8;
    fix_checksum(&mut bytes, 0);
    let reason = Corruption::OrphanChunk(ChunkType::Last);
    let t = tolerant(&bytes);
    assert!(t.records.is_empty());
    assert_eq!(t.dropped, [dropped(0, 10, reason)]);
    assert_eq!(strict(&bytes).corrupt(), Some((0, reason)));
}

#[test]
fn unexpected_full_type() {
    let mut bytes = write_journal(&["foo", "bar"]);
    bytes[6] = ChunkType::First as u8;
    fix_checksum(&mut bytes, 0);
    let reason = Corruption::PartialRecord(ChunkType::Full);
    let t = tolerant(&bytes);
    assert_eq!(t.strings(), ["bar"]);
    assert_eq!(t.dropped, [dropped(0, 10, reason)]);
    let s = strict(&bytes);
    assert!(s.records.is_empty());
    assert_eq!(s.corrupt(), Some((10, reason)));
}

#[test]
fn unexpected_first_type() {
    let bar = big("bar", 100_000);
    let mut bytes = write_journal(&["foo".to_string(), bar.clone()]);
    bytes[6] = ChunkType::First as u8;
    fix_checksum(&mut bytes, 0);
    let reason = Corruption::PartialRecord(ChunkType::First);
    let t = tolerant(&bytes);
    assert_eq!(t.strings(), [bar]);
    assert_eq!(t.dropped, [dropped(0, 10, reason)]);
    assert_eq!(strict(&bytes).corrupt(), Some((10, reason)));
}

#[test]
fn missing_last_is_ignored() {
    let bytes = write_journal(&[big("bar", BLOCK_SIZE)]);
    // Drop the whole `last` chunk, header included: the file ends at the
    // block boundary.
    let cut = &bytes[..bytes.len() - 14];
    assert_eq!(cut.len(), BLOCK_SIZE);
    let o = clean(cut);
    assert!(o.records.is_empty());
    assert_eq!(
        o.torn_tail,
        Some(dropped(0, BLOCK, Corruption::TruncatedRecord))
    );
}

#[test]
fn partial_last_is_ignored() {
    let bytes = write_journal(&[big("bar", BLOCK_SIZE)]);
    let cut = &bytes[..bytes.len() - 1];
    let o = clean(cut);
    assert!(o.records.is_empty());
    let len = cut.len() as u64;
    assert_eq!(
        o.torn_tail,
        Some(dropped(0, len, Corruption::TruncatedChunk))
    );
}

/// LevelDB starts a reader at an offset inside a record and expects the
/// record's remaining chunks to be skipped. Here the same bytes are a journal
/// whose first block is gone: its orphan chunks are damage.
#[test]
fn skip_into_multi_record() {
    let bytes = write_journal(&[big("foo", 3 * BLOCK_SIZE), "correct".into()]);
    let suffix = &bytes[BLOCK_SIZE..];
    let t = tolerant(suffix);
    assert_eq!(t.strings(), ["correct"]);
    assert_eq!(
        t.dropped,
        [
            // The two `middle` chunks, merged into one range.
            dropped(0, 2 * BLOCK, Corruption::OrphanChunk(ChunkType::Middle)),
            dropped(2 * BLOCK, 28, Corruption::OrphanChunk(ChunkType::Last)),
        ]
    );
    assert_eq!(t.positions, [(2 * BLOCK + 28, 2 * BLOCK + 42)]);
    let s = strict(suffix);
    assert_eq!(
        s.corrupt(),
        Some((0, Corruption::OrphanChunk(ChunkType::Middle)))
    );
}

/// `first(R1) last(R1) first(R2) last(R2)` with the middle two chunks wiped:
/// `first(R1)` and `last(R2)` must not be joined into a record.
#[test]
fn error_joins_records() {
    let mut bytes = write_journal(&[
        big("foo", BLOCK_SIZE),
        big("bar", BLOCK_SIZE),
        "correct".into(),
    ]);
    bytes[BLOCK_SIZE..2 * BLOCK_SIZE].fill(b'x');
    let t = tolerant(&bytes);
    assert_eq!(t.strings(), ["correct"]);
    let total = t.dropped_bytes();
    assert!((2 * BLOCK..=2 * BLOCK + 100).contains(&total), "{total}");
    assert_eq!(
        t.dropped,
        [
            // `first(R1)` and the wiped block, read as a bad chunk type.
            dropped(0, 2 * BLOCK, Corruption::UnknownChunkType(b'x')),
            dropped(2 * BLOCK, 28, Corruption::OrphanChunk(ChunkType::Last)),
        ]
    );
    let s = strict(&bytes);
    assert!(s.records.is_empty());
    assert_eq!(
        s.corrupt(),
        Some((BLOCK, Corruption::UnknownChunkType(b'x')))
    );
}

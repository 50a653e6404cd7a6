//! The journal reader: reassembles records from chunks, and tells a torn tail
//! (the normal end of a crashed journal) from damage in the middle.
//!
//! Mirrors LevelDB `log::Reader::ReadRecord` and goleveldb `journal.Reader`,
//! with their `Reporter`/`Dropper` callback replaced by data
//! ([`Reader::dropped`], [`Reader::torn_tail`]) and their `strict, checksum`
//! flags by [`Recovery`].
//! The rule that separates a torn tail from corruption is on [`Reader`].

use std::io::{self, Read};
use std::ops::Range;

use crate::error::{Corruption, Dropped, ReadError};
use crate::format::{chunk_checksum, ChunkType, BLOCK_SIZE, HEADER_LEN};

/// What a [`Reader`] does about damage in the middle of the journal.
///
/// A torn tail is not damage: both modes end the journal there quietly.
/// [`Reader`] states the exact rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recovery {
    /// Stop at the first damage with [`ReadError::Corrupt`].
    Strict,
    /// Skip damage to the next block, list it in [`Reader::dropped`], and go
    /// on. Records are still returned whole or not at all.
    Tolerant,
}

/// Reads records back from a journal.
///
/// It reads the source 32 KiB at a time, so a plain `File` needs no
/// `BufReader`; the first read that returns no bytes is the end of the
/// journal.
/// Memory: one block buffer plus the largest record; nothing is sized from a
/// length found in the input.
/// It never panics, whatever the input.
///
/// # Torn tail or corruption
///
/// Each chunk header is checked in order: all zeros, then the type byte, then
/// the length, then the checksum.
/// The journal ends quietly, with `Ok(None)` and the skipped bytes in
/// [`torn_tail`](Reader::torn_tail), exactly when one of these comes after
/// the last complete record:
///
/// - the file ends with 1 to 6 bytes after the last chunk
///   ([`TruncatedHeader`](Corruption::TruncatedHeader));
/// - a header with a valid type declares data that runs past the end of the
///   file but not past the end of its block
///   ([`TruncatedChunk`](Corruption::TruncatedChunk)); LevelDB has the same
///   rule, and it means a length damaged in the file's last block reads as a
///   torn tail;
/// - the file ends at a chunk boundary while a record waits for its `last`
///   chunk ([`TruncatedRecord`](Corruption::TruncatedRecord));
/// - a header is seven zero bytes and so is every byte from there to the end
///   of the file ([`ZeroedTail`](Corruption::ZeroedTail)): a file extended
///   with zeros that were never overwritten.
///
/// Everything else irregular is corruption: an unknown type; a length that
/// overflows its block; a checksum mismatch (including a chunk whose data is
/// partly zeroed); a `middle` or `last` chunk with no record in progress; a
/// `first` or `full` chunk while a record with data is in progress; and a
/// zero header with a non-zero byte anywhere after it, in its block or any
/// later one.
/// [`Recovery::Strict`] returns the first as [`ReadError::Corrupt`], at the
/// offset of the chunk header where it was found (for a record cut short,
/// the chunk that cut it; for zeros, the first zero header).
/// [`Recovery::Tolerant`] lists it in [`dropped`](Reader::dropped), starting
/// at the record in progress if any, drops the rest of the block (only the
/// chunk for an out-of-order chunk, whose own checksum is good; up to the
/// next non-zero block for a zeroed range), and goes on.
///
/// Two things are deliberately not reported, as in LevelDB.
/// The trailer of a block (fewer than 7 bytes after its last chunk) is
/// skipped unread: it cannot hold a record, so damage there changes nothing.
/// An empty `first` chunk followed by a `first` or `full` chunk is dropped
/// silently: old LevelDB writers left that pair at block ends.
pub struct Reader<R: io::Read> {
    /// The journal.
    source: R,
    mode: Recovery,
    /// The current block's bytes.
    // Invariant: `block.len() <= BLOCK_SIZE`. Unless `at_eof`, the length is
    // 0 (before the first read) or `BLOCK_SIZE`.
    block: Vec<u8>,
    /// Whether the source is exhausted: `block` is the file's last block.
    at_eof: bool,
    /// File offset of `block[0]`.
    block_start: u64,
    /// Where the next chunk header starts in `block`.
    // Invariant: `pos <= block.len()`.
    pos: usize,
    /// Data of the record in progress, or of the last record returned.
    record: Vec<u8>,
    /// File offset of the first chunk of the record in progress.
    // Invariant: `None` when no record is in progress; `record` then holds
    // nothing that will be returned.
    pending: Option<u64>,
    /// File offset of the first chunk of the last record returned.
    record_offset: u64,
    /// File offset just past the last chunk of the last record returned.
    offset: u64,
    /// Damage skipped in tolerant mode.
    // Invariant: sorted by offset, non-overlapping; two adjacent ranges with
    // the same reason are merged into one.
    dropped: Vec<Dropped>,
    torn_tail: Option<Dropped>,
    state: State,
}

/// Whether a reader can go on.
#[derive(Clone)]
enum State {
    Reading,
    /// The journal ended (cleanly or at a torn tail): every later call
    /// returns `Ok(None)`.
    Ended,
    /// An error was returned: every later call returns it again.
    Failed(Failure),
}

/// A copy of the error a reader stopped with (`io::Error` is not `Clone`).
#[derive(Clone)]
enum Failure {
    Io {
        kind: io::ErrorKind,
        message: String,
    },
    Corrupt {
        offset: u64,
        reason: Corruption,
    },
}

/// One chunk that passed every check.
struct Chunk {
    chunk_type: ChunkType,
    /// File offset of the header.
    offset: u64,
    /// The data, in `block`.
    data: Range<usize>,
}

impl Chunk {
    /// File offset just past the chunk.
    fn end(&self) -> u64 {
        self.offset + (HEADER_LEN + self.data.len()) as u64
    }
}

/// Where a returned record's bytes are.
enum Found {
    /// One `full` chunk, still in the block buffer.
    InBlock(Range<usize>),
    /// Reassembled in `record`.
    Assembled,
}

impl<R: io::Read> Reader<R> {
    /// A reader for the journal that `source` yields from offset 0.
    pub fn new(source: R, mode: Recovery) -> Reader<R> {
        Reader {
            source,
            mode,
            block: Vec::new(),
            at_eof: false,
            block_start: 0,
            pos: 0,
            record: Vec::new(),
            pending: None,
            record_offset: 0,
            offset: 0,
            dropped: Vec::new(),
            torn_tail: None,
            state: State::Reading,
        }
    }

    /// The next record, whole, or `None` at the end of the journal
    /// (including a torn tail).
    ///
    /// The slice is valid until the next call.
    ///
    /// # Errors
    ///
    /// [`ReadError::Io`] if the source fails, and in [`Recovery::Strict`]
    /// mode [`ReadError::Corrupt`] at the first damage in the middle of the
    /// journal.
    /// Errors are sticky: every later call returns the same error.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>, ReadError> {
        match &self.state {
            State::Reading => {}
            State::Ended => return Ok(None),
            State::Failed(failure) => return Err(failure.to_error()),
        }
        match self.find_record() {
            Ok(Some(Found::InBlock(range))) => Ok(Some(&self.block[range])),
            Ok(Some(Found::Assembled)) => Ok(Some(&self.record)),
            Ok(None) => {
                self.state = State::Ended;
                Ok(None)
            }
            Err(e) => {
                self.state = State::Failed(Failure::from_error(&e));
                Err(e)
            }
        }
    }

    /// Every range skipped as damage so far ([`Recovery::Tolerant`] only), in
    /// file order. A torn tail is not listed here: see
    /// [`torn_tail`](Reader::torn_tail).
    pub fn dropped(&self) -> &[Dropped] {
        &self.dropped
    }

    /// The torn tail that ended the journal, if it ended at one: from the
    /// start of the incomplete record (or the partial header, or the zeros)
    /// to the end of the file.
    pub fn torn_tail(&self) -> Option<Dropped> {
        self.torn_tail
    }

    /// File offset of the first chunk header of the last record returned
    /// (0 before any).
    pub fn record_offset(&self) -> u64 {
        self.record_offset
    }

    /// File offset just past the last chunk of the last record returned (0
    /// before any): the end of the good journal so far.
    ///
    /// After the journal ends, truncating the file here removes the torn
    /// tail or damage after the last record, and
    /// [`Writer::with_offset`](crate::Writer::with_offset) can go on from
    /// here.
    /// A complete chunk of an unfinished record is not counted: cutting the
    /// file after it would leave a record without its end.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The recovery mode the reader was built with.
    pub fn mode(&self) -> Recovery {
        self.mode
    }

    /// The source.
    pub fn get_ref(&self) -> &R {
        &self.source
    }

    /// The source, mutably. The reader has already taken the bytes of the
    /// current block from it; whatever is read from it next is the next
    /// block.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.source
    }

    /// The source, giving up the current block and any record in progress.
    pub fn into_inner(self) -> R {
        self.source
    }

    fn find_record(&mut self) -> Result<Option<Found>, ReadError> {
        loop {
            let Some(chunk) = self.next_chunk()? else {
                return Ok(None);
            };
            match chunk.chunk_type {
                ChunkType::Full => {
                    self.end_pending(&chunk)?;
                    self.record_offset = chunk.offset;
                    self.offset = chunk.end();
                    return Ok(Some(Found::InBlock(chunk.data)));
                }
                ChunkType::First => {
                    self.end_pending(&chunk)?;
                    self.record.clear();
                    self.record
                        .extend_from_slice(&self.block[chunk.data.clone()]);
                    self.pending = Some(chunk.offset);
                }
                ChunkType::Middle | ChunkType::Last => {
                    let Some(start) = self.pending else {
                        let reason = Corruption::OrphanChunk(chunk.chunk_type);
                        self.damage(chunk.offset, chunk.end(), reason)?;
                        continue;
                    };
                    self.record
                        .extend_from_slice(&self.block[chunk.data.clone()]);
                    if chunk.chunk_type == ChunkType::Last {
                        self.pending = None;
                        self.record_offset = start;
                        self.offset = chunk.end();
                        return Ok(Some(Found::Assembled));
                    }
                }
            }
        }
    }

    /// Deals with a record in progress when `chunk` (a `first` or `full`)
    /// starts a new one.
    fn end_pending(&mut self, chunk: &Chunk) -> Result<(), ReadError> {
        if self.pending.is_none() {
            return Ok(());
        }
        if self.record.is_empty() {
            // An empty `first` chunk then a new record: what LevelDB writers
            // before 1.x left at block ends. LevelDB drops it silently too.
            self.pending = None;
            return Ok(());
        }
        let reason = Corruption::PartialRecord(chunk.chunk_type);
        self.damage(chunk.offset, chunk.offset, reason)
    }

    /// The next chunk that passes every check, or `None` at the end of the
    /// journal. Damage is handled here (by mode) and skipped.
    fn next_chunk(&mut self) -> Result<Option<Chunk>, ReadError> {
        loop {
            let left = self.block.len() - self.pos;
            if left < HEADER_LEN {
                if !self.at_eof {
                    // The rest of a full block is a trailer: skip it unread.
                    self.load_block()?;
                    continue;
                }
                if left > 0 {
                    self.torn(self.here(), Corruption::TruncatedHeader);
                } else if self.pending.is_some() {
                    self.torn(self.here(), Corruption::TruncatedRecord);
                }
                return Ok(None);
            }

            let offset = self.here();
            let header = &self.block[self.pos..self.pos + HEADER_LEN];
            if header.iter().all(|&b| b == 0) {
                if self.zeroed_header(offset)? {
                    return Ok(None);
                }
                continue;
            }
            let checksum = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let len = usize::from(u16::from_le_bytes([header[4], header[5]]));
            let type_byte = header[6];

            let Some(chunk_type) = ChunkType::from_byte(type_byte) else {
                self.damage_rest_of_block(offset, Corruption::UnknownChunkType(type_byte))?;
                continue;
            };
            let data = self.pos + HEADER_LEN..self.pos + HEADER_LEN + len;
            if data.end > self.block.len() {
                if self.at_eof && data.end <= BLOCK_SIZE {
                    self.torn(offset, Corruption::TruncatedChunk);
                    return Ok(None);
                }
                self.damage_rest_of_block(offset, Corruption::LengthOverflowsBlock)?;
                continue;
            }
            if chunk_checksum(type_byte, &self.block[data.clone()]) != checksum {
                self.damage_rest_of_block(offset, Corruption::ChecksumMismatch)?;
                continue;
            }
            self.pos = data.end;
            return Ok(Some(Chunk {
                chunk_type,
                offset,
                data,
            }));
        }
    }

    /// Handles a header of seven zero bytes at file offset `at`.
    /// Returns whether it is a zeroed tail (the journal ends); otherwise the
    /// damage was handled and parsing goes on.
    fn zeroed_header(&mut self, at: u64) -> Result<bool, ReadError> {
        if self.block[self.pos..].iter().any(|&b| b != 0) {
            self.damage_rest_of_block(at, Corruption::ZeroedHeader)?;
            return Ok(false);
        }
        // The rest of this block is zeros: look for data in later blocks.
        loop {
            if self.at_eof {
                self.torn(at, Corruption::ZeroedTail);
                return Ok(true);
            }
            self.load_block()?;
            if self.block.iter().any(|&b| b != 0) {
                // Resume parsing at the start of this block.
                self.damage(at, self.block_start, Corruption::ZeroedHeader)?;
                return Ok(false);
            }
        }
    }

    /// Reads the next block into `block`.
    fn load_block(&mut self) -> Result<(), ReadError> {
        self.block_start += self.block.len() as u64;
        self.block.clear();
        self.pos = 0;
        if self.block.capacity() < BLOCK_SIZE {
            self.block.reserve_exact(BLOCK_SIZE);
        }
        let res = (&mut self.source)
            .take(BLOCK_SIZE as u64)
            .read_to_end(&mut self.block);
        match res {
            Ok(_) => {
                self.at_eof = self.block.len() < BLOCK_SIZE;
                Ok(())
            }
            Err(e) => Err(ReadError::Io(e)),
        }
    }

    /// File offset of `block[pos]`.
    fn here(&self) -> u64 {
        self.block_start + self.pos as u64
    }

    /// Damage found at `at` that spoils the rest of the block.
    fn damage_rest_of_block(&mut self, at: u64, reason: Corruption) -> Result<(), ReadError> {
        self.pos = self.block.len();
        self.damage(at, self.here(), reason)
    }

    /// Damage found at `at`: in strict mode, stop; in tolerant mode, drop
    /// the record in progress and everything from `at` to `end`.
    fn damage(&mut self, at: u64, end: u64, reason: Corruption) -> Result<(), ReadError> {
        if self.mode == Recovery::Strict {
            return Err(ReadError::Corrupt { offset: at, reason });
        }
        let start = self.pending.take().unwrap_or(at);
        self.record.clear();
        let new = Dropped {
            offset: start,
            len: end - start,
            reason,
        };
        match self.dropped.last_mut() {
            Some(last) if last.offset + last.len == new.offset && last.reason == new.reason => {
                last.len += new.len;
            }
            _ => self.dropped.push(new),
        }
        Ok(())
    }

    /// The journal ends at a torn tail starting at `at` (or at the record in
    /// progress) and running to the end of the file.
    fn torn(&mut self, at: u64, reason: Corruption) {
        debug_assert!(self.at_eof);
        let start = self.pending.take().unwrap_or(at);
        self.record.clear();
        self.pos = self.block.len();
        self.torn_tail = Some(Dropped {
            offset: start,
            len: self.here() - start,
            reason,
        });
    }
}

impl Failure {
    fn from_error(e: &ReadError) -> Failure {
        match e {
            ReadError::Io(e) => Failure::Io {
                kind: e.kind(),
                message: e.to_string(),
            },
            ReadError::Corrupt { offset, reason } => Failure::Corrupt {
                offset: *offset,
                reason: *reason,
            },
        }
    }

    fn to_error(&self) -> ReadError {
        match self {
            Failure::Io { kind, message } => ReadError::Io(io::Error::new(*kind, message.clone())),
            Failure::Corrupt { offset, reason } => ReadError::Corrupt {
                offset: *offset,
                reason: *reason,
            },
        }
    }
}

/// A checkpoint: the clone goes on independently from the same point, with
/// a clone of the source (for a byte slice, the same position).
impl<R: io::Read + Clone> Clone for Reader<R> {
    fn clone(&self) -> Reader<R> {
        Reader {
            source: self.source.clone(),
            mode: self.mode,
            block: self.block.clone(),
            at_eof: self.at_eof,
            block_start: self.block_start,
            pos: self.pos,
            // The last record returned is dead once `next_record` is called
            // again; only a record in progress needs copying.
            record: if self.pending.is_some() {
                self.record.clone()
            } else {
                Vec::new()
            },
            pending: self.pending,
            record_offset: self.record_offset,
            offset: self.offset,
            dropped: self.dropped.clone(),
            torn_tail: self.torn_tail,
            state: self.state.clone(),
        }
    }
}

impl<R: io::Read> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("mode", &self.mode)
            .field("block_start", &self.block_start)
            .field("pos", &self.pos)
            .field("record_offset", &self.record_offset)
            .field("offset", &self.offset)
            .field("dropped", &self.dropped)
            .field("torn_tail", &self.torn_tail)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    //! Small cases for each branch of the reader (small enough for Miri);
    //! the integration tests cover the rest.

    use super::*;
    use crate::format::encode_header;
    use crate::Writer;

    fn journal(records: &[&[u8]]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        for r in records {
            w.append(r).unwrap();
        }
        w.flush().unwrap();
        w.into_inner()
    }

    /// A chunk with a correct checksum.
    fn chunk(chunk_type: ChunkType, data: &[u8]) -> Vec<u8> {
        let mut out = encode_header(chunk_type, data).to_vec();
        out.extend_from_slice(data);
        out
    }

    /// All records, then the error or `None`.
    fn read(bytes: &[u8], mode: Recovery) -> (Vec<Vec<u8>>, Option<ReadError>, Reader<&[u8]>) {
        let mut r = Reader::new(bytes, mode);
        let mut records = Vec::new();
        let error = loop {
            match r.next_record() {
                Ok(Some(rec)) => records.push(rec.to_vec()),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        (records, error, r)
    }

    fn corrupt(e: Option<ReadError>) -> (u64, Corruption) {
        match e {
            Some(ReadError::Corrupt { offset, reason }) => (offset, reason),
            other => panic!("not corruption: {other:?}"),
        }
    }

    #[test]
    fn records_and_offsets() {
        let bytes = journal(&[b"one", b"", b"three"]);
        let mut r = Reader::new(&bytes[..], Recovery::Strict);
        assert_eq!(r.next_record().unwrap(), Some(&b"one"[..]));
        assert_eq!((r.record_offset(), r.offset()), (0, 10));
        assert_eq!(r.next_record().unwrap(), Some(&b""[..]));
        assert_eq!((r.record_offset(), r.offset()), (10, 17));
        assert_eq!(r.next_record().unwrap(), Some(&b"three"[..]));
        assert_eq!((r.record_offset(), r.offset()), (17, 29));
        assert_eq!(r.next_record().unwrap(), None);
        assert_eq!(r.next_record().unwrap(), None);
        assert_eq!(r.torn_tail(), None);
        assert_eq!(r.mode(), Recovery::Strict);
    }

    #[test]
    fn record_across_blocks() {
        let big = vec![9u8; BLOCK_SIZE + 10];
        let bytes = journal(&[b"a", &big, b"z"]);
        let (records, error, r) = read(&bytes, Recovery::Strict);
        assert!(error.is_none());
        assert_eq!(records, [b"a".to_vec(), big, b"z".to_vec()]);
        assert_eq!(r.offset(), bytes.len() as u64);
    }

    #[test]
    fn torn_tails() {
        let bytes = journal(&[b"one", b"two"]);
        let cases = [
            (13, Corruption::TruncatedHeader),
            (18, Corruption::TruncatedChunk),
        ];
        for (len, reason) in cases {
            for mode in [Recovery::Strict, Recovery::Tolerant] {
                let (records, error, r) = read(&bytes[..len], mode);
                assert!(error.is_none());
                assert_eq!(records, [b"one".to_vec()]);
                let tail = Dropped {
                    offset: 10,
                    len: len as u64 - 10,
                    reason,
                };
                assert_eq!(r.torn_tail(), Some(tail));
                assert_eq!(r.dropped(), []);
            }
        }
    }

    #[test]
    fn zeros_to_the_end_are_a_tail_but_zeros_before_data_are_not() {
        let mut bytes = journal(&[b"one"]);
        bytes.resize(100, 0);
        let (records, error, r) = read(&bytes, Recovery::Strict);
        assert!(error.is_none());
        assert_eq!(records.len(), 1);
        assert_eq!(
            r.torn_tail().map(|t| (t.offset, t.reason)),
            Some((10, Corruption::ZeroedTail))
        );

        bytes.extend_from_slice(&chunk(ChunkType::Full, b"later"));
        assert_eq!(
            corrupt(read(&bytes, Recovery::Strict).1),
            (10, Corruption::ZeroedHeader)
        );
        let (records, error, r) = read(&bytes, Recovery::Tolerant);
        assert!(error.is_none());
        // The rest of the block is dropped, "later" with it.
        assert_eq!(records, [b"one".to_vec()]);
        let dropped = Dropped {
            offset: 10,
            len: bytes.len() as u64 - 10,
            reason: Corruption::ZeroedHeader,
        };
        assert_eq!(r.dropped(), [dropped]);
        assert_eq!(r.torn_tail(), None);
    }

    #[test]
    fn chunks_out_of_order() {
        let mut bytes = chunk(ChunkType::Middle, b"m");
        bytes.extend(chunk(ChunkType::First, b"f"));
        bytes.extend(chunk(ChunkType::Full, b"x"));
        assert_eq!(
            corrupt(read(&bytes, Recovery::Strict).1),
            (0, Corruption::OrphanChunk(ChunkType::Middle))
        );
        let (records, _, r) = read(&bytes, Recovery::Tolerant);
        assert_eq!(records, [b"x".to_vec()]);
        let orphan = Dropped {
            offset: 0,
            len: 8,
            reason: Corruption::OrphanChunk(ChunkType::Middle),
        };
        let partial = Dropped {
            offset: 8,
            len: 8,
            reason: Corruption::PartialRecord(ChunkType::Full),
        };
        assert_eq!(r.dropped(), [orphan, partial]);
    }

    #[test]
    fn empty_first_then_full_is_old_leveldb_and_accepted() {
        let mut bytes = chunk(ChunkType::First, b"");
        bytes.extend(chunk(ChunkType::Full, b"x"));
        let (records, error, r) = read(&bytes, Recovery::Strict);
        assert!(error.is_none());
        assert_eq!(records, [b"x".to_vec()]);
        assert_eq!(r.dropped(), []);
        assert_eq!(r.record_offset(), 7);
    }

    #[test]
    fn bad_chunks_drop_the_rest_of_the_block() {
        let good = journal(&[b"abc", b"def"]);
        let mut bad_type = good.clone();
        bad_type[6] = 9;
        let mut bad_sum = good.clone();
        bad_sum[0] ^= 1;
        let mut bad_len = good.clone();
        bad_len[5] = 0xff;
        for (bytes, reason) in [
            (bad_type, Corruption::UnknownChunkType(9)),
            (bad_sum, Corruption::ChecksumMismatch),
            (bad_len, Corruption::LengthOverflowsBlock),
        ] {
            assert_eq!(corrupt(read(&bytes, Recovery::Strict).1), (0, reason));
            let (records, error, r) = read(&bytes, Recovery::Tolerant);
            assert!(error.is_none() && records.is_empty());
            let dropped = Dropped {
                offset: 0,
                len: 20,
                reason,
            };
            assert_eq!(r.dropped(), [dropped]);
        }
    }

    #[test]
    fn errors_are_sticky_and_clones_are_independent() {
        let mut bytes = journal(&[b"one", b"two"]);
        bytes[10] ^= 1;
        let mut r = Reader::new(&bytes[..], Recovery::Strict);
        let mut checkpoint = r.clone();
        assert_eq!(r.next_record().unwrap(), Some(&b"one"[..]));
        // The whole (short) block is read, so a clone now carries the damage.
        let mut late_clone = r.clone();
        let e = r.next_record().unwrap_err();
        assert_eq!(
            e.to_string(),
            "corrupt journal at offset 10: chunk checksum mismatch"
        );
        assert_eq!(r.next_record().unwrap_err().to_string(), e.to_string());
        assert_eq!(
            late_clone.next_record().unwrap_err().to_string(),
            e.to_string()
        );
        // The first clone has read nothing: given good bytes, it reads them.
        let good = journal(&[b"one", b"two"]);
        *checkpoint.get_mut() = &good[..];
        assert_eq!(checkpoint.next_record().unwrap(), Some(&b"one"[..]));
        assert_eq!(checkpoint.next_record().unwrap(), Some(&b"two"[..]));
        assert_eq!(checkpoint.next_record().unwrap(), None);
        assert_eq!(checkpoint.into_inner(), &[] as &[u8]);
    }

    /// A source that returns one byte per call, with interruptions.
    struct Trickle<'a> {
        data: &'a [u8],
        interrupt: bool,
    }

    impl io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.data.len()).min(1);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn short_and_interrupted_reads() {
        let bytes = journal(&[b"one", b"two"]);
        let source = Trickle {
            data: &bytes,
            interrupt: false,
        };
        let mut r = Reader::new(source, Recovery::Strict);
        assert_eq!(r.next_record().unwrap(), Some(&b"one"[..]));
        assert_eq!(r.next_record().unwrap(), Some(&b"two"[..]));
        assert_eq!(r.next_record().unwrap(), None);
    }
}

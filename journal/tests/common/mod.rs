//! Helpers shared by the integration tests: writing and reading whole
//! journals, an independent model of where the writer puts chunks, chunk
//! crafting with an independent checksum, and a seeded generator.
#![allow(dead_code)] // Each test file uses a different subset.

use journal::{ChunkType, Dropped, ReadError, Reader, Recovery, Writer, BLOCK_SIZE, HEADER_LEN};

/// Bytes from hex digits, ignoring whitespace.
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// splitmix64: a small, seeded, deterministic generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), near enough for tests.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let x = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.fill(&mut v);
        v
    }
}

/// A record of `len` bytes whose content depends on `idx`, so that records
/// of equal length differ.
pub fn record(idx: usize, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(0x5eed_0000 ^ ((idx as u64) << 20) ^ len as u64);
    rng.bytes(len)
}

/// The journal holding `records`, flushed.
pub fn write_journal<T: AsRef<[u8]>>(records: &[T]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    for r in records {
        w.append(r.as_ref()).unwrap();
    }
    w.flush().unwrap();
    assert_eq!(w.size(), w.get_ref().len() as u64);
    w.into_inner()
}

/// Everything a reader said about a journal.
#[derive(Debug)]
pub struct Outcome {
    pub records: Vec<Vec<u8>>,
    /// `(record_offset, offset)` after each record.
    pub positions: Vec<(u64, u64)>,
    pub error: Option<ReadError>,
    pub dropped: Vec<Dropped>,
    pub torn_tail: Option<Dropped>,
    pub offset: u64,
}

impl Outcome {
    /// The records as strings, for readable assertions on short ones.
    pub fn strings(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }

    pub fn dropped_bytes(&self) -> u64 {
        self.dropped.iter().map(|d| d.len).sum()
    }

    /// The strict-mode error as `(offset, reason)`.
    pub fn corrupt(&self) -> Option<(u64, journal::Corruption)> {
        match &self.error {
            Some(ReadError::Corrupt { offset, reason }) => Some((*offset, *reason)),
            _ => None,
        }
    }
}

/// Reads every record of `bytes` until the end or an error.
pub fn read_all(bytes: &[u8], mode: Recovery) -> Outcome {
    let mut reader = Reader::new(bytes, mode);
    let mut records = Vec::new();
    let mut positions = Vec::new();
    let mut error = None;
    loop {
        match reader.next_record() {
            Ok(Some(r)) => {
                records.push(r.to_vec());
                positions.push((reader.record_offset(), reader.offset()));
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    // The end is sticky.
    match (&error, reader.next_record()) {
        (None, Ok(None)) | (Some(_), Err(_)) => {}
        (before, after) => panic!("not sticky: {before:?} then {after:?}"),
    }
    Outcome {
        records,
        positions,
        error,
        dropped: reader.dropped().to_vec(),
        torn_tail: reader.torn_tail(),
        offset: reader.offset(),
    }
}

/// One chunk as the writer places it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkAt {
    /// File offset of the header.
    pub start: u64,
    /// File offset just past the data.
    pub end: u64,
    pub chunk_type: ChunkType,
}

/// Where the writer puts one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAt {
    pub chunks: Vec<ChunkAt>,
}

impl RecordAt {
    pub fn start(&self) -> u64 {
        self.chunks[0].start
    }

    pub fn end(&self) -> u64 {
        self.chunks.last().unwrap().end
    }
}

/// The layout of records of the given lengths written from offset 0, worked
/// out from the format rules alone (not from the writer's code), and the
/// journal's total length.
pub fn layout(lens: &[usize]) -> (Vec<RecordAt>, u64) {
    let block = BLOCK_SIZE as u64;
    let header = HEADER_LEN as u64;
    let mut at: u64 = 0;
    let mut out = Vec::new();
    for &len in lens {
        let mut left = len as u64;
        let mut chunks = Vec::new();
        loop {
            let room = block - at % block;
            if room < header {
                at += room; // trailer
            }
            let room = block - at % block - header;
            let n = left.min(room);
            let is_first = chunks.is_empty();
            let is_last = n == left;
            let chunk_type = match (is_first, is_last) {
                (true, true) => ChunkType::Full,
                (true, false) => ChunkType::First,
                (false, false) => ChunkType::Middle,
                (false, true) => ChunkType::Last,
            };
            chunks.push(ChunkAt {
                start: at,
                end: at + header + n,
                chunk_type,
            });
            at += header + n;
            left -= n;
            if is_last {
                break;
            }
        }
        out.push(RecordAt { chunks });
    }
    (out, at)
}

/// The stored checksum of a chunk, computed here independently of the crate.
#[allow(clippy::manual_rotate)] // The formula as FORMATS.md writes it.
pub fn checksum(type_byte: u8, data: &[u8]) -> u32 {
    let mut buf = Vec::with_capacity(1 + data.len());
    buf.push(type_byte);
    buf.extend_from_slice(data);
    let c = crc32c::crc32c(&buf);
    ((c >> 15) | (c << 17)).wrapping_add(0xa282_ead8)
}

/// A chunk with any type byte and a correct checksum.
pub fn chunk(type_byte: u8, data: &[u8]) -> Vec<u8> {
    let mut out = checksum(type_byte, data).to_le_bytes().to_vec();
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.push(type_byte);
    out.extend_from_slice(data);
    out
}

/// Recomputes the checksum of the chunk whose header starts at `at`, after
/// a test changed its type or data.
pub fn fix_checksum(bytes: &mut [u8], at: usize) {
    let len = usize::from(u16::from_le_bytes([bytes[at + 4], bytes[at + 5]]));
    let type_byte = bytes[at + 6];
    let sum = checksum(type_byte, &bytes[at + HEADER_LEN..at + HEADER_LEN + len]);
    bytes[at..at + 4].copy_from_slice(&sum.to_le_bytes());
}

//! Block compression: the codec a block's type byte names.
//!
//! | type | codec | as written by |
//! |---|---|---|
//! | 0 | none | everyone |
//! | 1 | Snappy, raw format (not the framing format) | LevelDB, goleveldb, RocksDB, Pebble (their default) |
//! | 2 | one zstd frame, its content size in the header | LevelDB's main branch, RocksDB (as type 7 there: not read) |
//!
//! A block is stored compressed only if that saves at least an eighth of
//! it (LevelDB's rule: below that, reading would pay a decompression for
//! little disk); otherwise it is stored as type 0. The trailer's checksum
//! covers the stored bytes, so damage is caught before any codec runs.
//! A block that passes its checksum but does not decompress, or
//! decompresses to another length than its header promises, is
//! [`Corruption::BadCompressedBlock`].

use super::format::{NO_COMPRESSION, SNAPPY, ZSTD};
use super::Corruption;
use std::cell::RefCell;
use std::fmt;

/// How a table's blocks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Stored as they are (type 0).
    None,
    /// Snappy (type 1): fast both ways, about half the size of text-like
    /// values. The default, as in LevelDB, goleveldb, RocksDB and Pebble.
    #[default]
    Snappy,
    /// zstd at level 1 (type 2, LevelDB's `kZstdCompression`): smaller
    /// than Snappy at about twice the cost to write. LevelDB 1.23 and
    /// goleveldb cannot read it.
    Zstd,
}

/// The zstd level [`Compression::Zstd`] writes (LevelDB's default).
const ZSTD_LEVEL: i32 = 1;

/// The most a compressed block may claim to decompress to: four times the
/// largest batch a writer accepts by default, far above any block a
/// database writes, and low enough that a forged length cannot ask for
/// all of memory.
pub const MAX_DECOMPRESSED_LEN: usize = 1 << 30;

/// Snappy's densest element, a 3-byte copy of 64 bytes, expands 64/3
/// times: a block claiming more than this per stored byte is forged.
const SNAPPY_MAX_RATIO: usize = 22;

impl Compression {
    /// The block type byte this compression writes.
    pub fn block_type(self) -> u8 {
        match self {
            Compression::None => NO_COMPRESSION,
            Compression::Snappy => SNAPPY,
            Compression::Zstd => ZSTD,
        }
    }

    /// The compression of a name as the command line and the options
    /// spell it: `none`, `snappy` or `zstd`.
    pub fn from_name(name: &str) -> Option<Compression> {
        match name {
            "none" => Some(Compression::None),
            "snappy" => Some(Compression::Snappy),
            "zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// Its name, as [`from_name`](Compression::from_name) reads it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A block compressor: the codec's state kept between blocks, so that no
/// block pays for setting it up (a table builder holds one).
pub struct Compressor {
    compression: Compression,
    snappy: Option<snap::raw::Encoder>,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    /// The compressed bytes of the last block.
    out: Vec<u8>,
}

impl fmt::Debug for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compressor")
            .field("compression", &self.compression)
            .finish()
    }
}

impl Compressor {
    /// A compressor writing `compression`'s blocks.
    pub fn new(compression: Compression) -> Compressor {
        Compressor {
            compression,
            snappy: None,
            zstd: None,
            out: Vec::new(),
        }
    }

    /// The bytes to store for the block `raw`, and their type: compressed
    /// if that saves at least an eighth, else `raw` itself as type 0.
    pub fn compress<'a>(&'a mut self, raw: &'a [u8]) -> (&'a [u8], u8) {
        let stored = match self.compression {
            Compression::None => None,
            Compression::Snappy => {
                let encoder = self.snappy.get_or_insert_with(snap::raw::Encoder::new);
                self.out.resize(snap::raw::max_compress_len(raw.len()), 0);
                encoder.compress(raw, &mut self.out).ok()
            }
            Compression::Zstd => {
                let zstd = match &mut self.zstd {
                    Some(zstd) => Some(zstd),
                    None => zstd::bulk::Compressor::new(ZSTD_LEVEL)
                        .ok()
                        .map(|c| self.zstd.insert(c)),
                };
                zstd.and_then(|zstd| {
                    self.out.clear();
                    self.out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
                    zstd.compress_to_buffer(raw, &mut self.out).ok()
                })
            }
        };
        // A codec that fails (it never should) leaves the block raw, which
        // every reader reads.
        match stored {
            Some(len) if len < raw.len() - raw.len() / 8 => {
                (&self.out[..len], self.compression.block_type())
            }
            _ => (raw, NO_COMPRESSION),
        }
    }
}

thread_local! {
    /// Each reading thread's zstd context: setting one up costs more than
    /// decompressing a 4 KiB block.
    static ZSTD_READER: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// The contents of a block stored as `stored` under `block_type` (not 0).
///
/// # Errors
///
/// [`Corruption::Unsupported`] for a type other than Snappy's or zstd's;
/// [`Corruption::BadCompressedBlock`] for bytes that do not decompress, or
/// not to the length their header gives, or claim more than
/// [`MAX_DECOMPRESSED_LEN`].
pub fn decompress(block_type: u8, stored: &[u8]) -> Result<Vec<u8>, Corruption> {
    let bad = Corruption::BadCompressedBlock(block_type);
    match block_type {
        SNAPPY => {
            let len = snap::raw::decompress_len(stored).map_err(|_| bad.clone())?;
            if len > MAX_DECOMPRESSED_LEN || len > stored.len().saturating_mul(SNAPPY_MAX_RATIO) {
                return Err(bad);
            }
            snap::raw::Decoder::new()
                .decompress_vec(stored)
                .map_err(|_| bad)
        }
        ZSTD => {
            let len = match zstd::zstd_safe::get_frame_content_size(stored) {
                Ok(Some(len)) if len <= MAX_DECOMPRESSED_LEN as u64 => len as usize,
                _ => return Err(bad),
            };
            let mut out = Vec::with_capacity(len);
            let written = ZSTD_READER.with(|reader| {
                let mut reader = reader.borrow_mut();
                let reader = match &mut *reader {
                    Some(reader) => reader,
                    None => reader.insert(zstd::bulk::Decompressor::new().ok()?),
                };
                reader.decompress_to_buffer(stored, &mut out).ok()
            });
            match written {
                Some(n) if n == len && out.len() == len => Ok(out),
                _ => Err(bad),
            }
        }
        other => Err(Corruption::Unsupported(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text-like bytes that every codec halves.
    fn compressible(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| b"tributary "[i % 10] ^ (i / 97) as u8)
            .collect()
    }

    #[test]
    fn every_codec_round_trips_and_keeps_the_eighth_rule() {
        for compression in [Compression::Snappy, Compression::Zstd] {
            let raw = compressible(4096);
            let mut c = Compressor::new(compression);
            let (stored, block_type) = c.compress(&raw);
            assert_eq!(block_type, compression.block_type());
            assert!(
                stored.len() < raw.len() / 2,
                "{compression}: {}",
                stored.len()
            );
            let stored = stored.to_vec();
            assert_eq!(decompress(block_type, &stored).unwrap(), raw);

            // Random bytes do not shrink by an eighth: stored raw.
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            let noise: Vec<u8> = (0..4096)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let (stored, block_type) = c.compress(&noise);
            assert_eq!((stored, block_type), (&noise[..], NO_COMPRESSION));
        }
        let raw = compressible(100);
        assert_eq!(
            Compressor::new(Compression::None).compress(&raw),
            (&raw[..], NO_COMPRESSION)
        );
    }

    #[test]
    fn bad_compressed_bytes_are_typed_errors() {
        let raw = compressible(4096);
        for compression in [Compression::Snappy, Compression::Zstd] {
            let t = compression.block_type();
            let stored = Compressor::new(compression).compress(&raw).0.to_vec();
            // Every truncation, and every byte flipped.
            for len in 0..stored.len() {
                if let Ok(out) = decompress(t, &stored[..len]) {
                    panic!(
                        "{compression}: a {len}-byte prefix decompressed to {}",
                        out.len()
                    );
                }
            }
            for i in 0..stored.len() {
                let mut bad = stored.clone();
                bad[i] ^= 0x5a;
                match decompress(t, &bad) {
                    Ok(out) => assert_eq!(out.len(), raw.len(), "{compression}: flip at {i}"),
                    Err(e) => assert_eq!(e, Corruption::BadCompressedBlock(t)),
                }
            }
        }
        assert_eq!(decompress(9, b"x"), Err(Corruption::Unsupported(9)));
        // A Snappy header claiming 1 GiB from four bytes.
        assert_eq!(
            decompress(SNAPPY, &[0x80, 0x80, 0x80, 0x04]),
            Err(Corruption::BadCompressedBlock(SNAPPY))
        );
    }
}

//! Writing a table: entries in internal-key order in, LevelDB's bytes out.

use super::block::BlockBuilder;
use super::compress::{Compression, Compressor};
use super::filter::{FilterBuilder, FILTER_META_KEY};
use super::format::{block_checksum, BlockHandle, Footer, NO_COMPRESSION};
use batch::key;
use std::io::{self, Write};

/// A data block is cut once it reaches this many bytes, unless the
/// builder is given another size (LevelDB's `Options::block_size`).
pub const BLOCK_SIZE: usize = 4096;
/// Entries between restart points in a data block (LevelDB's
/// `block_restart_interval`).
pub const RESTART_INTERVAL: usize = 16;

/// How a table is written: where its data blocks are cut and how its
/// blocks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableOptions {
    /// The size at which a data block is cut (LevelDB's
    /// `Options::block_size`): larger blocks make a smaller index and
    /// faster scans, smaller ones cheaper point reads. Default:
    /// [`BLOCK_SIZE`].
    pub block_size: usize,
    /// How the data, index and metaindex blocks are compressed (a block is
    /// kept compressed only if that saves an eighth of it; the filter is
    /// always stored raw, as LevelDB stores it). Default: none, so that a
    /// bare builder writes exactly what LevelDB writes without Snappy.
    pub compression: Compression,
}

impl Default for TableOptions {
    fn default() -> TableOptions {
        TableOptions {
            block_size: BLOCK_SIZE,
            compression: Compression::None,
        }
    }
}

/// What a finished table holds, for the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// The file's length in bytes.
    pub size: u64,
    /// Entries written.
    pub entries: u64,
    /// The first internal key.
    pub smallest: Vec<u8>,
    /// The last internal key.
    pub largest: Vec<u8>,
    /// Bytes of the data blocks before compression (trailers excluded).
    pub data_raw: u64,
    /// Bytes of the data blocks as stored (trailers excluded).
    pub data_stored: u64,
}

/// Writes one table to `W`, entry by entry.
///
/// Keys must be valid internal keys added in strictly increasing
/// internal-key order; the builder does not sort. A table with no entry is
/// never written: [`finish`](TableBuilder::finish) refuses it.
#[derive(Debug)]
pub struct TableBuilder<W: Write> {
    out: W,
    offset: u64,
    data: BlockBuilder,
    index: BlockBuilder,
    filter: FilterBuilder,
    /// The handle of the last data block written, whose index entry waits
    /// for the next key (to pick a short separator).
    pending: Option<BlockHandle>,
    entries: u64,
    smallest: Vec<u8>,
    /// The last key added: the start of the next separator.
    last_key: Vec<u8>,
    /// The size at which a data block is cut.
    block_size: usize,
    /// The file number to record ([`TableBuilder::set_number`]).
    number: Option<u64>,
    /// Compresses the data, index and metaindex blocks (the filter is
    /// always stored raw, as LevelDB stores it).
    compressor: Compressor,
    /// Data block bytes before and after compression.
    data_raw: u64,
    data_stored: u64,
}

/// The metaindex key of a table's entry count, a Tributary property
/// (LevelDB ignores metaindex entries it does not know): 8 bytes, LE.
pub const ENTRIES_META_KEY: &[u8] = b"tributary.entries";
/// The metaindex key of a table's own file number: 8 bytes, LE. A table
/// copied or renamed over another is known by it.
pub const NUMBER_META_KEY: &[u8] = b"tributary.number";
/// The metaindex key of the bytes of a table's data blocks before
/// compression: 8 bytes, LE (`stats` sets them against the bytes stored).
pub const RAW_DATA_META_KEY: &[u8] = b"tributary.raw";

impl<W: Write> TableBuilder<W> {
    /// A builder writing to `out` from its current position, taken as
    /// offset 0, with the default [`TableOptions`].
    pub fn new(out: W) -> TableBuilder<W> {
        TableBuilder::with_options(out, TableOptions::default())
    }

    /// A builder as [`new`](TableBuilder::new)'s, writing as `options` say.
    pub fn with_options(out: W, options: TableOptions) -> TableBuilder<W> {
        let mut filter = FilterBuilder::new();
        filter.start_block(0);
        TableBuilder {
            out,
            offset: 0,
            data: BlockBuilder::new(RESTART_INTERVAL),
            index: BlockBuilder::new(1),
            filter,
            pending: None,
            entries: 0,
            smallest: Vec::new(),
            last_key: Vec::new(),
            block_size: options.block_size,
            number: None,
            compressor: Compressor::new(options.compression),
            data_raw: 0,
            data_stored: 0,
        }
    }

    /// Records `number` as the table's file number, and its entry count,
    /// in the metaindex (`tributary.number`, `tributary.entries`), so that
    /// a reader can tell it from another table of the same size. Without
    /// this call the table is byte for byte what LevelDB writes.
    pub fn set_number(&mut self, number: u64) {
        self.number = Some(number);
    }

    /// Entries added so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Bytes written so far plus the open data block: about the file's
    /// size if finished now, to cut output files at a size target.
    pub fn size_estimate(&self) -> u64 {
        self.offset + self.data.size_estimate() as u64
    }

    /// Adds an entry. `internal_key` must sort after every key added
    /// before: a table out of order answers reads wrongly with every
    /// checksum intact, so this is checked always (callers refuse
    /// disordered input before it gets here).
    pub fn add(&mut self, internal_key: &[u8], value: &[u8]) -> io::Result<()> {
        assert!(
            self.entries == 0 || key::compare(&self.last_key, internal_key).is_lt(),
            "keys must be added in increasing order"
        );
        if let Some(handle) = self.pending.take() {
            shortest_separator(&mut self.last_key, internal_key);
            let separator = std::mem::take(&mut self.last_key);
            self.add_index_entry(&separator, handle);
            self.last_key = separator;
        }
        if self.entries == 0 {
            self.smallest = internal_key.to_vec();
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(internal_key);
        self.filter.add_key(key::user_key(internal_key));
        self.data.add(internal_key, value);
        self.entries += 1;
        if self.data.size_estimate() >= self.block_size {
            self.flush_data_block()?;
        }
        Ok(())
    }

    fn add_index_entry(&mut self, separator: &[u8], handle: BlockHandle) {
        let mut value = Vec::with_capacity(20);
        handle.encode_to(&mut value);
        self.index.add(separator, &value);
    }

    fn flush_data_block(&mut self) -> io::Result<()> {
        if self.data.is_empty() {
            return Ok(());
        }
        let contents = self.data.finish();
        let handle = self.write_block(&contents, true)?;
        self.data_raw += contents.len() as u64;
        self.data_stored += handle.size;
        self.pending = Some(handle);
        self.filter.start_block(self.offset);
        Ok(())
    }

    /// Writes the block `raw`, compressed if `compress` and that pays.
    fn write_block(&mut self, raw: &[u8], compress: bool) -> io::Result<BlockHandle> {
        let (contents, block_type) = match compress {
            true => self.compressor.compress(raw),
            false => (raw, NO_COMPRESSION),
        };
        let handle = BlockHandle {
            offset: self.offset,
            size: contents.len() as u64,
        };
        let mut trailer = [block_type, 0, 0, 0, 0];
        trailer[1..].copy_from_slice(&block_checksum(contents, block_type).to_le_bytes());
        self.out.write_all(contents)?;
        self.out.write_all(&trailer)?;
        self.offset += (contents.len() + trailer.len()) as u64;
        Ok(handle)
    }

    /// Writes the filter, metaindex and index blocks and the footer, and
    /// returns the writer and what the table holds. The caller syncs.
    pub fn finish(mut self) -> io::Result<(W, TableSummary)> {
        if self.entries == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a table must hold at least one entry",
            ));
        }
        let largest = self.last_key.clone();
        self.flush_data_block()?;
        let filter = std::mem::take(&mut self.filter).finish();
        let filter_handle = self.write_block(&filter, false)?;

        let mut metaindex = BlockBuilder::new(RESTART_INTERVAL);
        let mut handle = Vec::new();
        filter_handle.encode_to(&mut handle);
        metaindex.add(FILTER_META_KEY, &handle);
        // Bytewise order: "filter..." < "tributary.entries" <
        // "tributary.number" < "tributary.raw".
        if let Some(number) = self.number {
            metaindex.add(ENTRIES_META_KEY, &self.entries.to_le_bytes());
            metaindex.add(NUMBER_META_KEY, &number.to_le_bytes());
            metaindex.add(RAW_DATA_META_KEY, &self.data_raw.to_le_bytes());
        }
        let metaindex_handle = self.write_block(&metaindex.finish(), true)?;

        if let Some(handle) = self.pending.take() {
            let mut successor = largest.clone();
            short_successor(&mut successor);
            self.add_index_entry(&successor, handle);
        }
        let index = self.index.finish();
        let index_handle = self.write_block(&index, true)?;
        let footer = Footer {
            metaindex: metaindex_handle,
            index: index_handle,
        };
        let footer = footer.encode();
        self.out.write_all(&footer)?;
        self.offset += footer.len() as u64;
        self.out.flush()?;
        let summary = TableSummary {
            size: self.offset,
            entries: self.entries,
            smallest: self.smallest,
            largest,
            data_raw: self.data_raw,
            data_stored: self.data_stored,
        };
        Ok((self.out, summary))
    }
}

/// The trailer LevelDB appends to a shortened separator: the largest
/// sequence number with the seek kind (put), so that it sorts before every
/// real version of its user key.
fn max_trailer() -> [u8; 8] {
    key::trailer(batch::SeqNum(batch::MAX_SEQ), batch::Kind::Put).to_le_bytes()
}

/// Shortens the internal key `start` to a key in `[start, limit)`
/// (LevelDB's `InternalKeyComparator::FindShortestSeparator` over the
/// bytewise user order), so that index blocks stay small.
///
/// Only a user key that gets physically shorter is used, with the largest
/// trailer; otherwise `start` stays as it is. Copying the rule exactly
/// keeps our index blocks byte-identical to LevelDB's.
pub fn shortest_separator(start: &mut Vec<u8>, limit: &[u8]) {
    let user_start = key::user_key(start);
    let user_limit = key::user_key(limit);
    let diff = user_start
        .iter()
        .zip(user_limit)
        .take_while(|(a, b)| a == b)
        .count();
    if diff >= user_start.len().min(user_limit.len()) {
        // One user key is a prefix of the other: no shorter separator.
        return;
    }
    let byte = user_start[diff];
    if byte < 0xff && byte + 1 < user_limit[diff] && diff + 1 < user_start.len() {
        start.truncate(diff + 1);
        start[diff] += 1;
        start.extend_from_slice(&max_trailer());
    }
}

/// Shortens the internal key `k` to a short key at or after it (LevelDB's
/// `FindShortSuccessor`): the user key cut after its first byte that is
/// not `0xff`, that byte incremented, if that makes it shorter.
pub fn short_successor(k: &mut Vec<u8>) {
    let user = key::user_key(k);
    if let Some(i) = user.iter().position(|&b| b != 0xff) {
        if i + 1 < user.len() {
            k.truncate(i + 1);
            k[i] += 1;
            k.extend_from_slice(&max_trailer());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use batch::{Kind, SeqNum};

    fn ikey(user: &[u8], seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        key::encode(&mut out, user, SeqNum(seq), Kind::Put);
        out
    }

    #[test]
    fn separators_follow_leveldb() {
        // From LevelDB's dbformat_test.cc.
        let cases: &[(&[u8], &[u8], Vec<u8>)] = &[
            (b"foo", b"foo", ikey(b"foo", 100)),
            (b"foo", b"bar", ikey(b"foo", 100)),
            (b"foo", b"hello", ikey(b"g", batch::MAX_SEQ)),
            (b"foo", b"foobar", ikey(b"foo", 100)),
            (b"foobar", b"foo", ikey(b"foobar", 100)),
        ];
        for (start, limit, want) in cases {
            let mut s = ikey(start, 100);
            shortest_separator(&mut s, &ikey(limit, 99));
            assert_eq!(&s, want);
        }
        let mut s = ikey(b"foo", 100);
        short_successor(&mut s);
        assert_eq!(s, ikey(b"g", batch::MAX_SEQ));
        let mut s = ikey(b"\xff\xff", 100);
        short_successor(&mut s);
        assert_eq!(s, ikey(b"\xff\xff", 100));
    }
}

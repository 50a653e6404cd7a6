//! Table files in LevelDB's format, byte for byte: the format alone.
//!
//! ```text
//! file     := data_block* filter_block metaindex_block index_block footer
//! block    := contents | type: u8 (0 none, 1 snappy, 2 zstd) | crc: u32 LE
//! crc      := mask(crc32c(contents ++ type))        journal::mask, LevelDB's
//! handle   := offset: varint64 | size: varint64      size excludes the trailer
//! footer   := metaindex handle | index handle | zeros to 40 bytes
//!             | magic: u64 LE 0xdb4775248b80fb57     (48 bytes)
//! ```
//!
//! - **Data blocks** hold entries keyed by internal key
//!   ([`batch::key`]: user key ascending, newest version first), prefix
//!   compressed with a restart point every 16 entries ([`block`]), cut at
//!   4 KiB.
//! - **The index block** has one entry per data block: a separator key
//!   (at or after the block's last key, before the next block's first) and
//!   the block's handle. A separator is never taken for a real key: a
//!   table's smallest and largest keys come from its data
//!   ([`TableSummary`]).
//! - **The filter block** (`filter.leveldb.BuiltinBloomFilter2`, [`filter`])
//!   holds a Bloom filter over the user keys of each 2 KiB range of data
//!   block offsets.
//! - **The metaindex** maps the filter's name to its handle, and, in the
//!   tables the database writes, `tributary.entries` and
//!   `tributary.number` to the entry count and the table's own file
//!   number ([`Properties`]; LevelDB ignores entries it does not know).
//!   Damage in the metaindex or the filter leaves the table readable
//!   without them ([`Table::meta_damage`]).
//! - **Compression** ([`compress`]): data, index and metaindex blocks are
//!   stored compressed when that saves an eighth (LevelDB's rule), the
//!   filter never. The checksum covers the stored bytes. Blocks stored
//!   uncompressed are read in place from the map; a compressed block is
//!   decompressed on each visit (a cursor keeps it while it stays in the
//!   block), with no block cache: the page cache holds the compressed
//!   bytes.
//!
//! This module knows nothing of the database: bytes in, entries out. It
//! uses no `crate::` item, so its only ties are the internal key
//! ([`batch::key`]) and the checksum mask ([`journal::mask`]).
//!
//! # Reading is checked
//!
//! LevelDB skips block checksums unless asked; we never do. [`Table::open`]
//! checks the footer, the index, the metaindex and the filter whole. Each
//! data block's checksum is checked on its first read, and every entry a
//! cursor decodes is checked as it goes (it lies in the block, its shared
//! prefix exists, its key is an internal key, each step moves). Damage is
//! a [`TableError`] naming the offset, never a panic or a loop.
//!
//! What a checksum cannot catch, a block written wrong and checksummed
//! after (keys out of order, a restart point off its entry), only a buggy
//! or hostile writer makes; [`Table::verify_all`] (`tributary check`) and
//! [`Table::iter_rechecked`] (every compaction input) check each block
//! whole for it, so such a table is reported by `check` and never copied
//! into another. Checking every data block whole on its first read too
//! had cost a 5 M-key `seekrandom` a third of its speed (147 k against
//! 215 k seeks/s), for bytes whose checksum already matched.
//!
//! # Example
//!
//! ```
//! use batch::{key, Kind, SeqNum};
//! use tributary::table::{Table, TableBuilder};
//!
//! let mut builder = TableBuilder::new(Vec::new());
//! for (user_key, seq) in [(&b"apple"[..], 7), (b"pear", 3)] {
//!     let mut internal = Vec::new();
//!     key::encode(&mut internal, user_key, SeqNum(seq), Kind::Put);
//!     builder.add(&internal, b"value")?;
//! }
//! let (bytes, summary) = builder.finish()?;
//! assert_eq!(summary.entries, 2);
//!
//! let table = Table::open(bytes).expect("a table we just wrote");
//! let found = table.get(b"pear", SeqNum(10)).unwrap().unwrap();
//! assert_eq!((found.seq, &*found.value), (SeqNum(3), &b"value"[..]));
//! // Below its sequence number, the key is not there yet.
//! assert_eq!(table.get(b"pear", SeqNum(2)).unwrap(), None);
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod block;
pub mod builder;
pub mod compress;
pub mod filter;
pub mod format;
pub mod reader;

#[cfg(test)]
mod tests;

pub use builder::{TableBuilder, TableOptions, TableSummary, BLOCK_SIZE};
pub use compress::Compression;
pub use reader::{restore_table, Found, Properties, Table, TableIter};

use format::BlockHandle;
use std::cmp::Ordering;
use std::fmt;

/// The order of a block's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Bytewise (the metaindex).
    Bytewise,
    /// Internal keys ([`batch::key::compare`]): data and index blocks.
    Internal,
}

impl Order {
    /// Compares two keys in this order.
    #[inline]
    pub fn compare(self, a: &[u8], b: &[u8]) -> Ordering {
        match self {
            Order::Bytewise => a.cmp(b),
            Order::Internal => batch::key::compare(a, b),
        }
    }

    /// Whether `key` is well formed in this order.
    fn valid(self, key: &[u8]) -> bool {
        match self {
            Order::Bytewise => true,
            Order::Internal => batch::key::parse(key).is_some(),
        }
    }
}

/// A damaged or unreadable table: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    /// Byte offset in the file of the first bad byte found (or of the
    /// structure that is bad).
    pub offset: u64,
    /// What is wrong.
    pub kind: Corruption,
}

impl TableError {
    pub(crate) fn new(offset: u64, kind: Corruption) -> TableError {
        TableError { offset, kind }
    }
}

/// What is wrong with a table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The file is shorter than a footer (its length).
    TooShort(u64),
    /// The footer's magic number is not LevelDB's table magic.
    BadMagic(u64),
    /// The footer's handles do not decode.
    BadFooter,
    /// A block handle points outside the file.
    BadHandle(BlockHandle),
    /// A block's checksum does not match its contents.
    Checksum {
        /// The checksum stored in the trailer.
        stored: u32,
        /// The checksum of the bytes read.
        actual: u32,
    },
    /// A block type this reader does not read (it reads 0, 1 Snappy and
    /// 2 zstd).
    Unsupported(u8),
    /// A compressed block (of this type) whose checksum holds but which
    /// does not decompress, or not to the length its header gives.
    BadCompressedBlock(u8),
    /// A block's structure is malformed.
    BadBlock(&'static str),
    /// Keys that do not strictly increase.
    KeysOutOfOrder,
    /// A key that is not an internal key (too short, or an unknown kind).
    BadKey,
    /// An index entry whose value is not a block handle.
    BadIndexEntry,
    /// The filter rules out a key that its data block holds.
    FilterMissesKey,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::TooShort(len) => write!(f, "{len} bytes is shorter than a table footer"),
            Corruption::BadMagic(m) => write!(f, "bad table magic {m:#018x}"),
            Corruption::BadFooter => f.write_str("footer handles do not decode"),
            Corruption::BadHandle(h) => {
                write!(
                    f,
                    "block handle (offset {}, size {}) outside the file",
                    h.offset, h.size
                )
            }
            Corruption::Checksum { stored, actual } => {
                write!(
                    f,
                    "block checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
                )
            }
            Corruption::Unsupported(t) => {
                write!(
                    f,
                    "unsupported block type {t} (0 none, 1 Snappy and 2 zstd are read)"
                )
            }
            Corruption::BadCompressedBlock(t) => {
                write!(
                    f,
                    "block of type {t} does not decompress to the length it records"
                )
            }
            Corruption::BadBlock(what) => write!(f, "malformed block: {what}"),
            Corruption::KeysOutOfOrder => f.write_str("keys out of order"),
            Corruption::BadKey => f.write_str("not an internal key"),
            Corruption::BadIndexEntry => f.write_str("index entry is not a block handle"),
            Corruption::FilterMissesKey => {
                f.write_str("the filter rules out a key its data block holds")
            }
        }
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.kind)
    }
}

impl std::error::Error for TableError {}

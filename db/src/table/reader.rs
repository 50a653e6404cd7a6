//! Reading a table: point lookups and a cursor, over bytes that stay put
//! (a memory map, or a vector in tests).

use super::block::{Block, Cursor, Layout};
use super::compress::decompress;
use super::filter::{FilterReader, FILTER_META_KEY};
use super::format::{block_checksum, BlockHandle, Footer, BLOCK_TRAILER_LEN, NO_COMPRESSION};
use super::{Corruption, Order, TableError};
use batch::{key, Kind, SeqNum};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

/// The bytes of a table file: anything that derefs to a stable slice.
pub type TableBytes = Box<dyn AsRef<[u8]> + Send + Sync>;

/// An open table: its index in memory, its blocks read in place.
pub struct Table {
    bytes: TableBytes,
    /// One entry per data block, in order.
    pub(super) index: Vec<IndexEntry>,
    /// The separators of `index`, concatenated.
    separators: Vec<u8>,
    /// The user-key bytes every separator but the last starts with (the
    /// last is often a short successor of the table's last key, such as
    /// `"1"` after `"0999"`, and would leave nothing in common).
    common: Vec<u8>,
    /// For each separator but the last, the 8 user-key bytes after
    /// `common`, zero padded, as a big-endian number:
    /// [`find_block`](Table::find_block) searches these 8 bytes a step in
    /// one contiguous array, and compares whole keys only among separators
    /// that tie on them.
    words: Vec<u64>,
    /// The filter block, if the table has one.
    pub(super) filter: Option<StoredFilter>,
    /// One bit per data block: its checksum was checked.
    verified: Box<[AtomicU64]>,
    /// What the metaindex records of the table (none for LevelDB's).
    properties: Properties,
    /// Damage found in the metaindex or the filter block at open: the
    /// table is read without them (LevelDB does the same), and `check`
    /// reports it ([`Table::verify_all`]).
    meta_damage: Option<TableError>,
    /// The types of the index, metaindex and filter blocks (the filter's
    /// repeats the index's if there is none).
    head_types: [u8; 3],
}

/// What a table's metaindex records of it beyond LevelDB's entries
/// (`builder::set_number`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Properties {
    /// Its file number (`tributary.number`).
    pub number: Option<u64>,
    /// Its entry count (`tributary.entries`).
    pub entries: Option<u64>,
    /// The bytes of its data blocks before compression (`tributary.raw`).
    pub data_raw: Option<u64>,
}

#[derive(Debug, Clone)]
pub(super) struct IndexEntry {
    separator: Range<usize>,
    pub(super) handle: BlockHandle,
    /// The block's contents in the file, checked against its length.
    pub(super) contents: Range<usize>,
}

/// A filter block: where it is stored in the file (its trailer after) and
/// its contents.
pub(super) type StoredFilter = (Range<usize>, Contents);

/// A block's contents: in place in the file when stored uncompressed
/// (reads borrow them from the map: the fast path), else decompressed.
#[derive(Debug)]
pub(super) enum Contents {
    /// Stored uncompressed, at this range of the file.
    InFile(Range<usize>),
    /// Stored compressed: the decompressed bytes.
    Decompressed(Vec<u8>),
}

impl Contents {
    /// The contents' bytes, `file` being the table's.
    pub(super) fn bytes<'a>(&'a self, file: &'a [u8]) -> &'a [u8] {
        match self {
            Contents::InFile(range) => &file[range.clone()],
            Contents::Decompressed(bytes) => bytes,
        }
    }

    /// Where in the file the byte at `offset` of these contents lies, for
    /// the block at file offset `block_at`: for decompressed contents,
    /// which no file byte holds one for one, the block's own offset.
    fn file_offset(&self, block_at: u64, offset: usize) -> u64 {
        match self {
            Contents::InFile(_) => block_at + offset as u64,
            Contents::Decompressed(_) => block_at,
        }
    }
}

/// The newest version of a user key found in a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<'a> {
    /// Its sequence number.
    pub seq: SeqNum,
    /// Put or delete.
    pub kind: Kind,
    /// The value (empty for a delete): borrowed from the file when its
    /// block is stored uncompressed, else copied out of the decompressed
    /// block.
    pub value: Cow<'a, [u8]>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("len", &self.len())
            .field("data_blocks", &self.index.len())
            .field("filter", &self.filter.is_some())
            .finish()
    }
}

/// The 8 bytes of `user_key` from `at`, zero padded, as a big-endian
/// number: such words order as the bytes they hold (ties aside), so a sort
/// or a search can compare them before whole keys.
pub(crate) fn word_after(user_key: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    let tail = user_key.get(at..).unwrap_or(&[]);
    let n = tail.len().min(8);
    word[..n].copy_from_slice(&tail[..n]);
    u64::from_be_bytes(word)
}

/// What is wrong with where `cursor` stands in the data block at file
/// offset `at`, of `contents`, if anything: the malformed entry that
/// stopped it, or a key that is not an internal key. With none, a valid
/// cursor's key parses.
fn cursor_fault(cursor: &Cursor, contents: &Contents, at: u64) -> Option<TableError> {
    match cursor.corruption() {
        Some((offset, kind)) => Some(TableError::new(contents.file_offset(at, offset), kind)),
        None if cursor.valid() && key::parse(cursor.key()).is_none() => {
            Some(TableError::new(at, Corruption::BadKey))
        }
        None => None,
    }
}

/// The contents of the block stored at `stored` (its trailer after it),
/// its checksum checked first when `check`, decompressed if it was stored
/// compressed.
fn read_block(file: &[u8], stored: Range<usize>, check: bool) -> Result<Contents, TableError> {
    let at = stored.start as u64;
    let trailer = &file[stored.end..stored.end + BLOCK_TRAILER_LEN];
    let block_type = trailer[0];
    if check {
        let expected = u32::from_le_bytes(trailer[1..].try_into().expect("4 bytes"));
        let actual = block_checksum(&file[stored.clone()], block_type);
        if expected != actual {
            return Err(TableError::new(
                at,
                Corruption::Checksum {
                    stored: expected,
                    actual,
                },
            ));
        }
    }
    if block_type == NO_COMPRESSION {
        return Ok(Contents::InFile(stored));
    }
    decompress(block_type, &file[stored])
        .map(Contents::Decompressed)
        .map_err(|kind| TableError::new(at, kind))
}

/// Checks `contents`, of the block at file offset `at`, whole as a block
/// of keys in `order`.
fn verify<'a>(
    contents: &'a Contents,
    file: &'a [u8],
    at: u64,
    order: Order,
) -> Result<Block<'a>, TableError> {
    Block::verify(contents.bytes(file), order)
        .map_err(|(offset, kind)| TableError::new(contents.file_offset(at, offset), kind))
}

/// Reads the metaindex block at `range`: the filter block's contents (its
/// checksum checked) and the table's [`Properties`].
fn read_meta(
    file: &[u8],
    range: Range<usize>,
) -> Result<(Option<StoredFilter>, Properties), TableError> {
    let at = range.start as u64;
    let contents = read_block(file, range, true)?;
    let meta = verify(&contents, file, at, Order::Bytewise)?;
    let bad = || TableError::new(at, Corruption::BadIndexEntry);
    let mut cursor = Cursor::default();
    let mut filter = None;
    cursor.seek(&meta, FILTER_META_KEY, Order::Bytewise);
    if cursor.valid() && cursor.key() == FILTER_META_KEY {
        let (handle, _) = BlockHandle::decode(cursor.value(&meta)).ok_or_else(bad)?;
        let stored = handle.range(file.len(), at)?;
        filter = Some((stored.clone(), read_block(file, stored, true)?));
    }
    let mut property = |name: &[u8]| -> Result<Option<u64>, TableError> {
        cursor.seek(&meta, name, Order::Bytewise);
        if !(cursor.valid() && cursor.key() == name) {
            return Ok(None);
        }
        let value: [u8; 8] = cursor.value(&meta).try_into().map_err(|_| bad())?;
        Ok(Some(u64::from_le_bytes(value)))
    };
    let properties = Properties {
        entries: property(super::builder::ENTRIES_META_KEY)?,
        number: property(super::builder::NUMBER_META_KEY)?,
        data_raw: property(super::builder::RAW_DATA_META_KEY)?,
    };
    Ok((filter, properties))
}

/// Restores, in place, the block of `file` at `contents` (its trailer
/// after it) where one flipped bit explains its checksum; true if the
/// block then checks (or checked already).
fn restore_block(file: &mut [u8], contents: Range<usize>) -> bool {
    let end = contents.end;
    let Ok(stored) = file[end + 1..end + BLOCK_TRAILER_LEN].try_into() else {
        return false;
    };
    let stored = u32::from_le_bytes(stored);
    let message = &mut file[contents.start..=end];
    if journal::mask(crc32c::crc32c(message)) == stored {
        return true;
    }
    match journal::correct_one_bit(message, stored) {
        Some(journal::FlippedBit::At { .. }) => true,
        Some(journal::FlippedBit::InChecksum) => {
            // The contents stand; the stored checksum is what flipped.
            let right = journal::mask(crc32c::crc32c(message)).to_le_bytes();
            file[end + 1..end + BLOCK_TRAILER_LEN].copy_from_slice(&right);
            true
        }
        None => false,
    }
}

/// For a repair: the bytes of a table file whose footer, index or
/// metaindex block has one flipped bit, restored so that the table opens
/// (each block's checksum restores it exactly; the footer, which has
/// none, is taken from the one single-bit variant under which both blocks
/// it points at check). Returns the file offsets restored; the bytes are
/// unchanged if no such fix opens the table.
pub fn restore_table(bytes: &mut [u8]) -> Vec<u64> {
    let len = bytes.len();
    let Some(footer_at) = len.checked_sub(super::format::FOOTER_LEN) else {
        return Vec::new();
    };
    let magic = super::format::MAGIC.to_le_bytes();
    let try_footer = |bytes: &mut [u8], flip: Option<usize>| -> Option<Vec<u64>> {
        let mut footer = bytes[footer_at..].to_vec();
        footer[40..].copy_from_slice(&magic);
        if let Some(bit) = flip {
            footer[bit / 8] ^= 1 << (bit % 8);
        }
        let decoded = Footer::decode(&footer).ok()?;
        let index = decoded.index.range(len, 0).ok()?;
        let meta = decoded.metaindex.range(len, 0).ok()?;
        if index.start < meta.end && meta.start < index.end + BLOCK_TRAILER_LEN {
            return None;
        }
        // Only a footer under which both blocks check (as they are or with
        // one bit undone) is taken.
        let mut scratch_index = bytes[index.start..index.end + BLOCK_TRAILER_LEN].to_vec();
        let mut scratch_meta = bytes[meta.start..meta.end + BLOCK_TRAILER_LEN].to_vec();
        let ok = restore_block(&mut scratch_index, 0..index.len())
            && restore_block(&mut scratch_meta, 0..meta.len());
        if !ok {
            return None;
        }
        let mut restored = Vec::new();
        if bytes[footer_at..] != footer[..] {
            restored.push(footer_at as u64);
            bytes[footer_at..].copy_from_slice(&footer);
        }
        for (range, scratch) in [(index, scratch_index), (meta, scratch_meta)] {
            let whole = range.start..range.end + BLOCK_TRAILER_LEN;
            if bytes[whole.clone()] != scratch[..] {
                restored.push(range.start as u64);
                bytes[whole].copy_from_slice(&scratch);
            }
        }
        Some(restored)
    };
    if let Some(restored) = try_footer(bytes, None) {
        return restored;
    }
    (0..40 * 8)
        .find_map(|bit| try_footer(bytes, Some(bit)))
        .unwrap_or_default()
}

impl Table {
    /// Opens a table over its whole file, checking the footer, the index,
    /// the metaindex and the filter.
    pub fn open(bytes: impl AsRef<[u8]> + Send + Sync + 'static) -> Result<Table, TableError> {
        Table::open_boxed(Box::new(bytes))
    }

    /// [`open`](Table::open) over bytes already boxed (a memory map).
    pub fn open_boxed(bytes: TableBytes) -> Result<Table, TableError> {
        let file = (*bytes).as_ref();
        let footer = Footer::decode(file)?;
        let footer_at = (file.len() - super::format::FOOTER_LEN) as u64;

        let index_range = footer.index.range(file.len(), footer_at)?;
        let index_contents = read_block(file, index_range.clone(), true)?;
        let index_block = verify(
            &index_contents,
            file,
            index_range.start as u64,
            Order::Internal,
        )?;
        let mut index = Vec::new();
        let mut separators = Vec::new();
        let mut cursor = Cursor::default();
        cursor.seek_to_first(&index_block);
        while cursor.valid() {
            let value = cursor.value(&index_block);
            let bad = || TableError::new(index_range.start as u64, Corruption::BadIndexEntry);
            let (handle, used) = BlockHandle::decode(value).ok_or_else(bad)?;
            if used != value.len() {
                return Err(bad());
            }
            let contents = handle.range(file.len(), index_range.start as u64)?;
            let start = separators.len();
            separators.extend_from_slice(cursor.key());
            index.push(IndexEntry {
                separator: start..separators.len(),
                handle,
                contents,
            });
            cursor.next(&index_block);
        }

        // The metaindex and the filter only speed reads up (and name the
        // table): damage there is noted and the table read without them,
        // where the footer and the index are needed for every read.
        let meta_range = footer.metaindex.range(file.len(), footer_at)?;
        let meta_end = meta_range.end;
        let (filter, properties, meta_damage) = match read_meta(file, meta_range) {
            Ok((filter, properties)) => (filter, properties, None),
            Err(e) => (None, Properties::default(), Some(e)),
        };
        let filter_end = filter.as_ref().map_or(index_range.end, |(at, _)| at.end);
        let head_types = [file[index_range.end], file[meta_end], file[filter_end]];

        let verified = (0..index.len().div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        let user = |e: &IndexEntry| key::user_key(&separators[e.separator.clone()]);
        // Sorted keys: what the first and last share, all between share.
        let searched = &index[..index.len().saturating_sub(1)];
        let common = match (searched.first(), searched.last()) {
            (Some(first), Some(last)) => {
                let (a, b) = (user(first), user(last));
                a[..a.iter().zip(b).take_while(|(x, y)| x == y).count()].to_vec()
            }
            _ => Vec::new(),
        };
        let words = searched
            .iter()
            .map(|e| word_after(user(e), common.len()))
            .collect();
        Ok(Table {
            bytes,
            index,
            separators,
            common,
            words,
            filter,
            verified,
            properties,
            meta_damage,
            head_types,
        })
    }

    /// What the metaindex records of the table.
    pub fn properties(&self) -> Properties {
        self.properties
    }

    /// Damage found in the metaindex or filter block at open, if any: the
    /// table reads without them.
    pub fn meta_damage(&self) -> Option<&TableError> {
        self.meta_damage.as_ref()
    }

    /// The table's first and last internal keys, from its first and last
    /// data blocks (checked as any read checks them).
    pub fn bounds(&self) -> Result<(Vec<u8>, Vec<u8>), TableError> {
        let empty = || TableError::new(0, Corruption::BadIndexEntry);
        let last = self.index.len().checked_sub(1).ok_or_else(empty)?;
        let mut cursor = Cursor::default();
        let contents = self.contents(0)?;
        cursor.seek_to_first(&self.parse(0, &contents)?);
        let at = self.index[0].handle.offset;
        if let Some(fault) = cursor_fault(&cursor, &contents, at) {
            return Err(fault);
        }
        let first = cursor
            .valid()
            .then(|| cursor.key().to_vec())
            .ok_or_else(empty)?;
        let contents = self.contents(last)?;
        cursor.seek_to_last(&self.parse(last, &contents)?);
        let at = self.index[last].handle.offset;
        if let Some(fault) = cursor_fault(&cursor, &contents, at) {
            return Err(fault);
        }
        let largest = cursor
            .valid()
            .then(|| cursor.key().to_vec())
            .ok_or_else(empty)?;
        Ok((first, largest))
    }

    pub(super) fn file(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }

    /// The file's length.
    pub fn len(&self) -> u64 {
        self.file().len() as u64
    }

    /// Whether the file is empty (never, for a table that opened).
    pub fn is_empty(&self) -> bool {
        self.file().is_empty()
    }

    /// Data blocks in the table.
    pub fn data_blocks(&self) -> usize {
        self.index.len()
    }

    /// The bytes of the data blocks as stored (trailers excluded): with
    /// [`Properties::data_raw`], what compression kept.
    pub fn data_stored(&self) -> u64 {
        self.index.iter().map(|e| e.handle.size).sum()
    }

    /// Whether the table has a filter block.
    pub fn has_filter(&self) -> bool {
        self.filter.is_some()
    }

    /// Every block type the table stores (0 none, 1 Snappy, 2 zstd), from
    /// the trailers of its data, index, metaindex and filter blocks: what
    /// a reader needs to read it all. Touches one byte per data block.
    pub fn block_types(&self) -> std::collections::BTreeSet<u8> {
        // Each block's type byte follows its contents.
        let file = self.file();
        self.index
            .iter()
            .map(|entry| file[entry.contents.end])
            .chain(self.head_types)
            .collect()
    }

    pub(super) fn separator(&self, i: usize) -> &[u8] {
        &self.separators[self.index[i].separator.clone()]
    }

    /// The first data block whose separator is at or after `target`.
    ///
    /// Zero-padded big-endian words order as the bytes they hold do
    /// (ties aside), so a separator whose word is below the target's is
    /// below it, and one whose word is above is above it: only the run of
    /// equal words needs whole keys compared.
    pub(super) fn find_block(&self, target: &[u8]) -> usize {
        let below = |i: usize| key::compare(self.separator(i), target).is_lt();
        // Among every separator but the last (see `common`).
        let searched = self.words.len();
        let user = key::user_key(target);
        let head = &user[..user.len().min(self.common.len())];
        let i = match head.cmp(&self.common[..head.len()]) {
            std::cmp::Ordering::Less => 0,
            std::cmp::Ordering::Greater => searched,
            std::cmp::Ordering::Equal => {
                let word = word_after(user, self.common.len());
                let lo = self.words.partition_point(|&w| w < word);
                let hi = lo + self.words[lo..].partition_point(|&w| w == word);
                // The first in [lo, hi) not below the target.
                let (mut a, mut b) = (lo, hi);
                while a < b {
                    let mid = a + (b - a) / 2;
                    if below(mid) {
                        a = mid + 1;
                    } else {
                        b = mid;
                    }
                }
                a
            }
        };
        // Past every searched separator: the last decides.
        if i == searched && i < self.index.len() && below(i) {
            i + 1
        } else {
            i
        }
    }

    /// The contents of data block `i`, its checksum checked on its first
    /// read; its entries are checked as a cursor decodes them.
    fn contents(&self, i: usize) -> Result<Contents, TableError> {
        let (word, bit) = (&self.verified[i / 64], 1u64 << (i % 64));
        let checked = word.load(AtomicOrdering::Relaxed) & bit != 0;
        let contents = read_block(self.file(), self.index[i].contents.clone(), !checked)?;
        if !checked {
            // Relaxed: checking is idempotent, so a thread that misses the
            // bit only checks again.
            word.fetch_or(bit, AtomicOrdering::Relaxed);
        }
        Ok(contents)
    }

    /// Data block `i` over its `contents`, as far as its restart array.
    fn parse<'a>(&'a self, i: usize, contents: &'a Contents) -> Result<Block<'a>, TableError> {
        Block::trusted(contents.bytes(self.file())).map_err(|(o, kind)| {
            TableError::new(contents.file_offset(self.index[i].handle.offset, o), kind)
        })
    }

    /// The contents of data block `i`, checked whole now, whatever earlier
    /// reads found: its checksum, its structure and key order
    /// ([`Block::verify`]), and that its keys lie after the previous
    /// separator and at or before its own.
    fn verified_contents(&self, i: usize) -> Result<Contents, TableError> {
        let entry = &self.index[i];
        let file = self.file();
        let contents = read_block(file, entry.contents.clone(), true)?;
        let block = verify(&contents, file, entry.handle.offset, Order::Internal)?;
        self.check_place(i, &block)?;
        Ok(contents)
    }

    /// Checks that the keys of `block`, data block `i`'s, lie after the
    /// previous separator and at or before its own.
    fn check_place(&self, i: usize, block: &Block<'_>) -> Result<(), TableError> {
        let out_of_place = TableError::new(self.index[i].handle.offset, Corruption::KeysOutOfOrder);
        let mut cursor = Cursor::default();
        cursor.seek_to_last(block);
        if cursor.valid() && key::compare(cursor.key(), self.separator(i)).is_gt() {
            return Err(out_of_place);
        }
        if i > 0 {
            cursor.seek_to_first(block);
            if cursor.valid() && key::compare(cursor.key(), self.separator(i - 1)).is_le() {
                return Err(out_of_place);
            }
        }
        Ok(())
    }

    /// As [`visit_block`](Self::visit_block), for a repair: a block whose
    /// checksum fails because of one flipped bit is first restored exactly
    /// ([`journal::correct_one_bit`]), then checked whole as any block.
    /// Returns where the bit was, if one was flipped back.
    pub fn salvage_block(
        &self,
        i: usize,
        mut visit: impl FnMut(&[u8], &[u8]),
    ) -> Result<Option<u64>, TableError> {
        let error = match self.visit_block(i, &mut visit) {
            Ok(()) => return Ok(None),
            Err(e) if matches!(e.kind, Corruption::Checksum { .. }) => e,
            Err(e) => return Err(e),
        };
        let entry = &self.index[i];
        let file = self.file();
        // The checksum covers the contents and the type byte after them.
        let end = entry.contents.end;
        let mut message = file[entry.contents.start..=end].to_vec();
        let stored = u32::from_le_bytes(file[end + 1..end + 5].try_into().expect("4 bytes"));
        let at = match journal::correct_one_bit(&mut message, stored) {
            Some(journal::FlippedBit::At { byte, .. }) => entry.handle.offset + byte as u64,
            Some(journal::FlippedBit::InChecksum) => (end + 1) as u64,
            None => return Err(error),
        };
        let (stored, block_type) = message.split_at(message.len() - 1);
        let contents = match block_type[0] {
            NO_COMPRESSION => Cow::Borrowed(stored),
            compressed => Cow::Owned(
                decompress(compressed, stored)
                    .map_err(|kind| TableError::new(entry.handle.offset, kind))?,
            ),
        };
        let block = Block::verify(&contents, Order::Internal).map_err(|(o, kind)| {
            let at = match block_type[0] {
                NO_COMPRESSION => entry.handle.offset + o as u64,
                _ => entry.handle.offset,
            };
            TableError::new(at, kind)
        })?;
        self.check_place(i, &block)?;
        let mut cursor = Cursor::default();
        cursor.seek_to_first(&block);
        while cursor.valid() {
            visit(cursor.key(), cursor.value(&block));
            cursor.next(&block);
        }
        Ok(Some(at))
    }

    /// Whether the filter rules out `user_key` in the block at `offset`.
    pub(super) fn filtered_out(&self, offset: u64, user_key: &[u8]) -> bool {
        match &self.filter {
            Some((_, filter)) => {
                !FilterReader::new(filter.bytes(self.file())).may_match(offset, user_key)
            }
            None => false,
        }
    }

    /// The newest version of `user_key` at or below `snapshot`, if the
    /// table holds one.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNum) -> Result<Option<Found<'_>>, TableError> {
        let target = key::seek_target(user_key, key::lookup_trailer(snapshot));
        let mut i = self.find_block(&target);
        if i >= self.index.len() || self.filtered_out(self.index[i].handle.offset, user_key) {
            return Ok(None);
        }
        let mut cursor = Cursor::default();
        loop {
            let contents = self.contents(i)?;
            cursor.seek(&self.parse(i, &contents)?, &target, Order::Internal);
            if let Some(e) = cursor_fault(&cursor, &contents, self.index[i].handle.offset) {
                return Err(e);
            }
            if cursor.valid() {
                let (found_user, seq, kind) =
                    key::parse(cursor.key()).expect("cursor_fault checked the key");
                if found_user != user_key {
                    return Ok(None);
                }
                let r = cursor.value_range();
                let value = match &contents {
                    Contents::InFile(at) => {
                        Cow::Borrowed(&self.file()[at.start + r.start..at.start + r.end])
                    }
                    Contents::Decompressed(bytes) => Cow::Owned(bytes[r].to_vec()),
                };
                return Ok(Some(Found { seq, kind, value }));
            }
            // Only past a separator no longer than the block's last key can
            // the next block hold the answer; for our own tables and
            // LevelDB's this never runs.
            i += 1;
            if i >= self.index.len() {
                return Ok(None);
            }
        }
    }

    /// Hands every entry of data block `i` to `visit`, in order, once the
    /// whole block checks out (checksum, structure, key order, and its place
    /// between the separators);
    /// a damaged block visits nothing. What a repair salvages, block by
    /// block.
    pub fn visit_block(
        &self,
        i: usize,
        mut visit: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), TableError> {
        let contents = self.verified_contents(i)?;
        let block = self.parse(i, &contents)?;
        let mut cursor = Cursor::default();
        cursor.seek_to_first(&block);
        while cursor.valid() {
            visit(cursor.key(), cursor.value(&block));
            cursor.next(&block);
        }
        Ok(())
    }

    /// Checks every data block whole (for `check`): returns the number of
    /// entries.
    ///
    /// Damage in the metaindex or the filter, which reads go around, is
    /// reported too, after the data blocks check out. That includes a
    /// filter whose checksum holds but which rules out a key its block
    /// holds (a writer's bug, or bytes forged with a fresh checksum): a
    /// get would answer "absent" for that key.
    pub fn verify_all(&self) -> Result<u64, TableError> {
        let mut entries = 0;
        let mut filter_miss = None;
        let mut cursor = Cursor::default();
        for i in 0..self.index.len() {
            let contents = self.verified_contents(i)?;
            let block = self.parse(i, &contents)?;
            let offset = self.index[i].handle.offset;
            cursor.seek_to_first(&block);
            while cursor.valid() {
                entries += 1;
                if filter_miss.is_none() && self.filtered_out(offset, key::user_key(cursor.key())) {
                    filter_miss = self.filter.as_ref().map(|(at, _)| at.start as u64);
                }
                cursor.next(&block);
            }
        }
        if let Some(damage) = &self.meta_damage {
            return Err(damage.clone());
        }
        match filter_miss {
            Some(at) => Err(TableError::new(at, Corruption::FilterMissesKey)),
            None => Ok(entries),
        }
    }

    /// A cursor over the table's entries, holding the table.
    pub fn iter(self: &Arc<Table>) -> TableIter {
        TableIter {
            table: Arc::clone(self),
            block: None,
            contents: Contents::InFile(0..0),
            cursor: Cursor::default(),
            layout: Layout::default(),
            error: None,
            recheck: false,
        }
    }

    /// A cursor as [`iter`](Table::iter)'s that checks each block whole
    /// as it enters it (checksum, structure and key order), whatever
    /// earlier reads found: for a compaction's inputs, so that damage done
    /// since a block was first read (a flipped bit in the page cache, a
    /// write by another program) is reported instead of copied into a new
    /// table, and an output never inherits keys out of order.
    pub fn iter_rechecked(self: &Arc<Table>) -> TableIter {
        TableIter {
            recheck: true,
            ..self.iter()
        }
    }
}

/// A cursor over a table's entries in internal-key order, forward and
/// backward.
///
/// It starts unpositioned; a seek positions it. A damaged block met on the
/// way ends the walk: [`valid`](TableIter::valid) turns false and
/// [`error`](TableIter::error) holds the cause, so a scan can never end
/// short in silence.
#[derive(Debug)]
pub struct TableIter {
    table: Arc<Table>,
    /// The data block the cursor is in.
    block: Option<usize>,
    /// The contents of the last block entered (held, so that a compressed
    /// block is decompressed once per visit, not once per step).
    contents: Contents,
    cursor: Cursor,
    /// The layout of the block the cursor is in.
    layout: Layout,
    error: Option<TableError>,
    /// Whether each block's checksum is checked again on entering it
    /// ([`Table::iter_rechecked`]).
    recheck: bool,
}

impl TableIter {
    /// Whether the cursor is on an entry.
    pub fn valid(&self) -> bool {
        self.block.is_some() && self.cursor.valid()
    }

    /// The error that stopped the cursor, if any.
    pub fn error(&self) -> Option<&TableError> {
        self.error.as_ref()
    }

    /// The current internal key. Only while [`valid`](TableIter::valid).
    pub fn key(&self) -> &[u8] {
        self.cursor.key()
    }

    /// The current value. Only while [`valid`](TableIter::valid).
    pub fn value(&self) -> &[u8] {
        match self.block {
            // The cursor's range lies in the block's contents.
            Some(_) => &self.contents.bytes(self.table.file())[self.cursor.value_range()],
            None => &[],
        }
    }

    /// Runs `f` on block `i`, stopping the cursor on an error: a block
    /// that fails its checks, a malformed entry, or a key that is not an
    /// internal key. While the cursor is valid its key parses.
    fn with_block(&mut self, i: usize, f: impl FnOnce(&mut Cursor, &Block<'_>)) {
        let entered = self.block == Some(i);
        if !entered {
            self.block = None;
            let loaded = if self.recheck {
                self.table.verified_contents(i)
            } else {
                self.table.contents(i)
            };
            match loaded {
                Ok(contents) => self.contents = contents,
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
        let parsed = if entered {
            // A step within the block: its layout was found on entering
            // it (parsing it again at every step was a few percent of a
            // long scan).
            Ok(Block::with_layout(
                self.contents.bytes(self.table.file()),
                self.layout,
            ))
        } else {
            self.table.parse(i, &self.contents)
        };
        let fault = match parsed {
            Ok(block) => {
                self.layout = block.layout();
                f(&mut self.cursor, &block);
                let sound = self.cursor.corruption().is_none()
                    && (!self.cursor.valid() || key::parse(self.cursor.key()).is_some());
                if sound {
                    None
                } else {
                    let at = self.table.index[i].handle.offset;
                    cursor_fault(&self.cursor, &self.contents, at)
                }
            }
            Err(e) => Some(e),
        };
        match fault {
            Some(e) => {
                self.block = None;
                self.error = Some(e);
            }
            None => self.block = Some(i),
        }
    }

    /// Moves forward over empty blocks until on an entry or past the end.
    fn skip_forward(&mut self) {
        while let Some(i) = self.block {
            if self.cursor.valid() {
                return;
            }
            if i + 1 >= self.table.index.len() {
                self.block = None;
                return;
            }
            self.with_block(i + 1, |c, b| c.seek_to_first(b));
        }
    }

    /// Moves backward over empty blocks until on an entry or before the
    /// start.
    fn skip_backward(&mut self) {
        while let Some(i) = self.block {
            if self.cursor.valid() {
                return;
            }
            if i == 0 {
                self.block = None;
                return;
            }
            self.with_block(i - 1, |c, b| c.seek_to_last(b));
        }
    }

    /// Moves to the first entry.
    pub fn seek_to_first(&mut self) {
        self.error = None;
        self.block = None;
        if !self.table.index.is_empty() {
            self.with_block(0, |c, b| c.seek_to_first(b));
            self.skip_forward();
        }
    }

    /// Moves to the last entry.
    pub fn seek_to_last(&mut self) {
        self.error = None;
        self.block = None;
        if let Some(last) = self.table.index.len().checked_sub(1) {
            self.with_block(last, |c, b| c.seek_to_last(b));
            self.skip_backward();
        }
    }

    /// Moves to the first entry at or after the internal key `target`.
    pub fn seek(&mut self, target: &[u8]) {
        self.error = None;
        self.block = None;
        let i = self.table.find_block(target);
        if i < self.table.index.len() {
            self.with_block(i, |c, b| c.seek(b, target, Order::Internal));
            self.skip_forward();
        }
    }

    /// Moves to the next entry. Only while [`valid`](TableIter::valid).
    pub fn next(&mut self) {
        if let Some(i) = self.block {
            self.with_block(i, |c, b| c.next(b));
            self.skip_forward();
        }
    }

    /// Moves to the previous entry. Only while [`valid`](TableIter::valid).
    pub fn prev(&mut self) {
        if let Some(i) = self.block {
            self.with_block(i, |c, b| c.prev(b));
            self.skip_backward();
        }
    }
}

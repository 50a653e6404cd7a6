//! Blocks: prefix-compressed sorted entries with restart points.
//!
//! ```text
//! contents := entry* | restart: u32 LE * n | n: u32 LE
//! entry    := shared: varint32 | unshared: varint32 | value_len: varint32
//!             | key[shared..] | value
//! ```
//!
//! An entry stores only the part of its key that differs from the previous
//! key; at a restart point `shared` is 0, so a search can binary-search the
//! restart points and decode forward from one.
//!
//! [`Block::verify`] checks a block's whole structure: every entry, restart
//! point and key, and the keys' order. Index and metaindex blocks are
//! verified when a table opens, data blocks by `check` and by compaction
//! (whose outputs must never inherit disorder). Reads take data blocks
//! whose checksum matched ([`Block::trusted`]) and let the [`Cursor`]
//! check each entry it decodes: a malformed one stops it with
//! [`Cursor::corruption`], never a panic, and every step moves the
//! cursor strictly forward or back, so no walk can loop.

use super::format::get_varint32;
use super::{Corruption, Order};
use std::cmp::Ordering;

/// Builds one block's contents.
#[derive(Debug)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    /// Entries since the last restart point.
    counter: usize,
    restart_interval: usize,
    last_key: Vec<u8>,
}

impl BlockBuilder {
    /// A builder with a restart point every `restart_interval` entries.
    pub fn new(restart_interval: usize) -> BlockBuilder {
        assert!(restart_interval >= 1);
        BlockBuilder {
            buf: Vec::new(),
            restarts: vec![0],
            counter: 0,
            restart_interval,
            last_key: Vec::new(),
        }
    }

    /// Whether no entry was added since the last reset.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The size of the block if finished now.
    pub fn size_estimate(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// Adds an entry; keys must be added in increasing order.
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.counter < self.restart_interval {
            common_prefix(&self.last_key, key)
        } else {
            self.restarts.push(self.buf.len() as u32);
            self.counter = 0;
            0
        };
        let unshared = key.len() - shared;
        for n in [shared, unshared, value.len()] {
            super::format::put_varint(&mut self.buf, n as u64);
        }
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(&key[shared..]);
        self.counter += 1;
    }

    /// Appends the restart array and returns the contents; the builder is
    /// then reset for the next block.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.restarts.clear();
        self.restarts.push(0);
        self.counter = 0;
        self.last_key.clear();
        out
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A block's contents split into entries and restart array: checked whole
/// by [`verify`](Block::verify), or only its restart count by
/// [`trusted`](Block::trusted).
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    data: &'a [u8],
    /// Where the entries end and the restart array begins.
    entries_end: usize,
    restarts: usize,
}

/// Where a block's restart array begins and how many restart points it
/// holds: what [`Block::trusted`] finds, kept by a table cursor so that each
/// step within a block does not parse it again.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    entries_end: usize,
    restarts: usize,
}

/// One decoded entry header: where its key delta and value lie.
#[derive(Debug, Clone)]
struct Entry {
    shared: usize,
    key: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
}

impl Entry {
    fn end(&self) -> usize {
        self.value.end
    }
}

/// Decodes the entry at `at` of `data[..end]`.
#[inline]
fn decode_entry(data: &[u8], at: usize, end: usize) -> Option<Entry> {
    let bytes = data.get(at..end)?;
    let (shared, unshared, value_len, header) = match *bytes {
        // Three lengths below 128 take a byte each, as in most blocks
        // (short keys, values under 128 bytes): read them at once, as
        // LevelDB's `DecodeEntry` does, instead of three varint loops.
        [s, u, v, ..] if (s | u | v) < 0x80 => (u32::from(s), u32::from(u), u32::from(v), 3),
        _ => {
            let (shared, a) = get_varint32(bytes)?;
            let (unshared, b) = get_varint32(&bytes[a..])?;
            let (value_len, c) = get_varint32(&bytes[a + b..])?;
            (shared, unshared, value_len, a + b + c)
        }
    };
    let key_start = at + header;
    let key_end = key_start.checked_add(unshared as usize)?;
    let value_end = key_end.checked_add(value_len as usize)?;
    if value_end > end {
        return None;
    }
    Some(Entry {
        shared: shared as usize,
        key: key_start..key_end,
        value: key_end..value_end,
    })
}

impl<'a> Block<'a> {
    /// Checks a block's contents: every entry, restart point and key, in
    /// `order`. An error gives the offset within the block and what is
    /// wrong.
    pub fn verify(data: &'a [u8], order: Order) -> Result<Block<'a>, (usize, Corruption)> {
        let block = Block::trusted(data)?;
        let (n, entries_end) = (block.restarts, block.entries_end);
        // An empty block (LevelDB writes one as metaindex when there is no
        // filter) has one restart point, at 0.
        if entries_end == 0 {
            return match block.restart(0) {
                0 if n == 1 => Ok(block),
                _ => Err((
                    entries_end,
                    Corruption::BadBlock("restart point outside the entries"),
                )),
            };
        }
        let (mut key, mut previous) = (Vec::new(), Vec::new());
        let mut at = 0;
        let mut next_restart = 0;
        while at < entries_end {
            let entry = decode_entry(data, at, entries_end)
                .ok_or((at, Corruption::BadBlock("entry runs past the block")))?;
            if entry.shared > key.len() {
                return Err((
                    at,
                    Corruption::BadBlock("shared prefix longer than the previous key"),
                ));
            }
            let is_restart = next_restart < n && block.restart(next_restart) == at;
            if is_restart {
                if entry.shared != 0 {
                    return Err((
                        at,
                        Corruption::BadBlock("restart point with a shared prefix"),
                    ));
                }
                next_restart += 1;
            } else if next_restart < n && block.restart(next_restart) < at {
                return Err((at, Corruption::BadBlock("restart point inside an entry")));
            } else if at == 0 {
                return Err((
                    0,
                    Corruption::BadBlock("first entry is not a restart point"),
                ));
            }
            // Two buffers, swapped, so the walk allocates only while keys grow.
            previous.clear();
            previous.extend_from_slice(&key[..entry.shared]);
            previous.extend_from_slice(&data[entry.key.clone()]);
            std::mem::swap(&mut key, &mut previous);
            if !order.valid(&key) {
                return Err((at, Corruption::BadKey));
            }
            if at > 0 && order.compare(&previous, &key) != Ordering::Less {
                return Err((at, Corruption::KeysOutOfOrder));
            }
            at = entry.end();
        }
        if next_restart != n {
            return Err((
                entries_end,
                Corruption::BadBlock("restart point outside the entries"),
            ));
        }
        Ok(block)
    }

    /// A block whose entries are checked as a cursor decodes them: only
    /// its restart count is checked here.
    pub fn trusted(data: &'a [u8]) -> Result<Block<'a>, (usize, Corruption)> {
        let len = data.len();
        if len < 4 {
            return Err((0, Corruption::BadBlock("shorter than its restart count")));
        }
        let n = u32::from_le_bytes(data[len - 4..].try_into().expect("4 bytes")) as usize;
        if n == 0 || n > (len - 4) / 4 {
            return Err((len - 4, Corruption::BadBlock("restart count out of range")));
        }
        Ok(Block {
            data,
            entries_end: len - 4 - 4 * n,
            restarts: n,
        })
    }

    /// Its layout, for [`with_layout`](Block::with_layout).
    pub fn layout(&self) -> Layout {
        Layout {
            entries_end: self.entries_end,
            restarts: self.restarts,
        }
    }

    /// The block over `data` with the `layout` that [`trusted`](Block::trusted)
    /// or [`verify`](Block::verify) found for these same bytes: no check
    /// again. (Other bytes would only make the cursor's slicing panic, never
    /// read out of bounds.)
    pub fn with_layout(data: &'a [u8], layout: Layout) -> Block<'a> {
        debug_assert_eq!(
            data.len(),
            layout.entries_end + 4 * layout.restarts + 4,
            "a layout found for other bytes"
        );
        Block {
            data,
            entries_end: layout.entries_end,
            restarts: layout.restarts,
        }
    }

    /// Whether the block holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries_end == 0
    }

    fn restart(&self, i: usize) -> usize {
        let at = self.entries_end + 4 * i;
        u32::from_le_bytes(self.data[at..at + 4].try_into().expect("4 bytes")) as usize
    }

    /// The entry at `at`, if one decodes there.
    fn entry(&self, at: usize) -> Option<Entry> {
        decode_entry(self.data, at, self.entries_end)
    }

    /// The key of the entry at a restart point (stored whole there), if
    /// one decodes there.
    fn restart_key(&self, i: usize) -> Option<&'a [u8]> {
        let entry = self.entry(self.restart(i))?;
        (entry.shared == 0).then(|| &self.data[entry.key])
    }
}

/// A position in a block: the current entry's key (rebuilt from its
/// prefix) and value.
#[derive(Debug, Default)]
pub struct Cursor {
    /// Offset of the current entry; `None` before the first or after the
    /// last.
    at: Option<usize>,
    /// Offset of the entry after the current one.
    next: usize,
    key: Vec<u8>,
    value: std::ops::Range<usize>,
    /// The malformed entry that stopped the cursor: its offset in the
    /// block, and what is wrong. Cleared by the next positioning call.
    bad: Option<(usize, &'static str)>,
}

impl Cursor {
    /// Whether the cursor is on an entry.
    pub fn valid(&self) -> bool {
        self.at.is_some()
    }

    /// What stopped the cursor, if a malformed entry did: the offset in
    /// the block and the corruption.
    pub fn corruption(&self) -> Option<(usize, Corruption)> {
        self.bad.map(|(at, what)| (at, Corruption::BadBlock(what)))
    }

    /// Stops the cursor on the malformed entry at `at`.
    fn fail(&mut self, at: usize, what: &'static str) {
        self.at = None;
        self.bad = Some((at, what));
    }

    /// The current key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The current value, in `block`.
    pub fn value<'a>(&self, block: &Block<'a>) -> &'a [u8] {
        &block.data[self.value.clone()]
    }

    /// Where the current value lies in the block's contents.
    pub fn value_range(&self) -> std::ops::Range<usize> {
        self.value.clone()
    }

    /// Decodes the entry at `at`, whose predecessor's key is in `self.key`;
    /// false (and the cursor stopped) if it is malformed.
    fn load(&mut self, block: &Block<'_>, at: usize) -> bool {
        let Some(entry) = block.entry(at) else {
            self.fail(at, "entry runs past the block");
            return false;
        };
        if entry.shared > self.key.len() {
            self.fail(at, "shared prefix longer than the previous key");
            return false;
        }
        self.key.truncate(entry.shared);
        self.key.extend_from_slice(&block.data[entry.key.clone()]);
        self.value = entry.value.clone();
        self.at = Some(at);
        // At least the three length bytes: the walk always moves on.
        self.next = entry.end();
        true
    }

    fn load_restart(&mut self, block: &Block<'_>, i: usize) -> bool {
        self.key.clear();
        let at = block.restart(i);
        if block.entry(at).is_some_and(|e| e.shared != 0) {
            self.fail(at, "restart point with a shared prefix");
            return false;
        }
        self.load(block, at)
    }

    /// Moves to the first entry.
    pub fn seek_to_first(&mut self, block: &Block<'_>) {
        self.bad = None;
        if block.is_empty() {
            self.at = None;
        } else {
            self.load_restart(block, 0);
        }
    }

    /// Moves to the last entry.
    pub fn seek_to_last(&mut self, block: &Block<'_>) {
        self.bad = None;
        if block.is_empty() {
            self.at = None;
            return;
        }
        if !self.load_restart(block, block.restarts - 1) {
            return;
        }
        while self.next < block.entries_end {
            if !self.load(block, self.next) {
                return;
            }
        }
    }

    /// Moves to the next entry, or past the end.
    pub fn next(&mut self, block: &Block<'_>) {
        if self.at.is_none() {
            return;
        }
        if self.next >= block.entries_end {
            self.at = None;
        } else {
            self.load(block, self.next);
        }
    }

    /// Moves to the previous entry, or before the start.
    pub fn prev(&mut self, block: &Block<'_>) {
        let Some(at) = self.at else { return };
        if at == 0 {
            self.at = None;
            return;
        }
        // The last restart point before the current entry, then forward.
        let (mut lo, mut hi) = (0, block.restarts);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if block.restart(mid) < at {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        if block.restart(lo) >= at {
            // Only in a malformed block: stepping back must move back.
            self.fail(at, "restart point inside an entry");
            return;
        }
        if !self.load_restart(block, lo) {
            return;
        }
        while self.next < at {
            if !self.load(block, self.next) {
                return;
            }
        }
    }

    /// Moves to the first entry whose key is at or after `target` in
    /// `cmp`'s order, or past the end.
    pub fn seek(&mut self, block: &Block<'_>, target: &[u8], order: Order) {
        self.bad = None;
        if block.is_empty() {
            self.at = None;
            return;
        }
        // The last restart point whose key is before the target.
        let (mut lo, mut hi) = (0, block.restarts);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            let Some(key) = block.restart_key(mid) else {
                self.fail(block.restart(mid), "restart point off an entry");
                return;
            };
            if order.compare(key, target) == Ordering::Less {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        if !self.load_restart(block, lo) {
            return;
        }
        while order.compare(&self.key, target) == Ordering::Less {
            self.next(block);
            if self.at.is_none() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BYTEWISE: Order = Order::Bytewise;

    fn build(keys: &[Vec<u8>], interval: usize) -> Vec<u8> {
        let mut b = BlockBuilder::new(interval);
        for k in keys {
            b.add(k, &[k.len() as u8]);
        }
        b.finish()
    }

    #[test]
    fn cursor_walks_and_seeks_both_ways() {
        let keys: Vec<Vec<u8>> = (0..100u32)
            .map(|i| format!("key{:04}", i * 2).into_bytes())
            .collect();
        for interval in [1, 2, 16, 1000] {
            let data = build(&keys, interval);
            let block = Block::verify(&data, BYTEWISE).unwrap();
            let mut c = Cursor::default();
            c.seek_to_first(&block);
            for k in &keys {
                assert_eq!(c.key(), &k[..]);
                c.next(&block);
            }
            assert!(!c.valid());
            c.seek_to_last(&block);
            for k in keys.iter().rev() {
                assert_eq!(c.key(), &k[..]);
                c.prev(&block);
            }
            assert!(!c.valid());
            c.seek(&block, b"key0051", BYTEWISE);
            assert_eq!(c.key(), b"key0052");
            c.seek(&block, b"key0052", BYTEWISE);
            assert_eq!(c.key(), b"key0052");
            c.seek(&block, b"a", BYTEWISE);
            assert_eq!(c.key(), b"key0000");
            c.seek(&block, b"z", BYTEWISE);
            assert!(!c.valid());
        }
    }

    #[test]
    fn empty_block_parses_and_has_no_entries() {
        let data = BlockBuilder::new(16).finish();
        assert_eq!(data, [0, 0, 0, 0, 1, 0, 0, 0]);
        let block = Block::verify(&data, BYTEWISE).unwrap();
        let mut c = Cursor::default();
        c.seek_to_first(&block);
        assert!(!c.valid());
    }

    #[test]
    fn cursor_stops_on_a_malformed_entry_of_a_trusted_block() {
        // Two entries of 5 bytes: shared 0, unshared 1, value length 1.
        let mut data = build(&[b"a".to_vec(), b"b".to_vec()], 16);
        data[5] = 9; // the second entry shares 9 bytes of a 1-byte key
        assert!(Block::verify(&data, BYTEWISE).is_err());
        let block = Block::trusted(&data).unwrap();
        let mut c = Cursor::default();
        c.seek_to_first(&block);
        assert_eq!((c.key(), c.corruption()), (&b"a"[..], None));
        c.next(&block);
        assert!(!c.valid());
        assert_eq!(
            c.corruption(),
            Some((
                5,
                Corruption::BadBlock("shared prefix longer than the previous key")
            ))
        );
        c.seek_to_last(&block);
        assert!(!c.valid() && c.corruption().is_some());

        // Restart points at 0 and 5; the first moved onto the second entry:
        // stepping back from it must not land on it again.
        let mut data = build(&[b"a".to_vec(), b"b".to_vec()], 1);
        let n = data.len();
        data[n - 12] = 5;
        let block = Block::trusted(&data).unwrap();
        c.seek_to_last(&block);
        assert_eq!(c.key(), b"b");
        c.prev(&block);
        assert!(!c.valid() && c.corruption().is_some());
    }

    #[test]
    fn parse_rejects_disorder_and_bad_restarts() {
        let data = build(&[b"b".to_vec(), b"a".to_vec()], 16);
        assert_eq!(
            Block::verify(&data, BYTEWISE).unwrap_err().1,
            Corruption::KeysOutOfOrder
        );
        let mut data = build(&[b"a".to_vec(), b"b".to_vec()], 1);
        let n = data.len();
        data[n - 8] = 1; // second restart point inside the first entry
        assert!(Block::verify(&data, BYTEWISE).is_err());
        let mut data = build(&[b"a".to_vec()], 1);
        let n = data.len();
        data[n - 4] = 9;
        assert!(Block::verify(&data, BYTEWISE).is_err());
    }
}

//! The memtable: a skiplist over internal keys that holds the newest writes
//! until they are flushed to a table.
//!
//! The group-commit leader applies each merged [`batch::Batch`] here, after
//! it is in the journal, through the one [`Inserter`]; any number of readers
//! look up keys and iterate through an `Arc<MemDb>` at the same time,
//! without locks.
//!
//! # Format
//!
//! Each record of a batch becomes one entry keyed by its internal key
//! (FORMATS.md, as LevelDB):
//!
//! ```text
//! internal_key := user_key | trailer: u64 LE    where trailer = (seq << 8) | kind
//! ```
//!
//! Entries are ordered by user key ascending (by the [`Comparator`],
//! [`Bytewise`] by default), then by sequence number descending, so the
//! newest version of a key comes first. A lookup at snapshot `s` finds the
//! first entry of the user key with `seq <= s`; if that entry is a delete,
//! the key is deleted at `s`.
//!
//! # Invariants
//!
//! - Entries are only added, never changed or removed: a memtable is
//!   dropped whole once flushed. Keys and values returned by reference stay
//!   valid as long as the `MemDb` is borrowed.
//! - One writer: [`Inserter`] is the only way to insert, is not `Clone`, and
//!   its [`apply`](Inserter::apply) and [`insert`](Inserter::insert) take
//!   `&mut self`.
//! - Readers never block and never see a partly written entry. An entry
//!   becomes visible to readers while [`apply`](Inserter::apply) runs, so the
//!   database publishes a batch's last sequence number only after `apply`
//!   returns, and readers ask at a snapshot no later than the published one;
//!   entries above the snapshot are skipped.
//! - Budget: [`used`](MemDb::used) grows by exactly
//!   [`Batch::internal_len`](batch::Batch::internal_len) per applied batch
//!   (key + value + 8 bytes per record), as goleveldb's `kvData`, so
//!   [`free`](MemDb::free) is exact.
//!
//! The skiplist is LevelDB's design (single writer, lock-free readers,
//! atomic links published with `Release`) with nodes, keys and values inline
//! in an append-only arena, RocksDB `InlineSkipList` style; see the
//! `skiplist` module. That module and its `arena` hold the `unsafe` code
//! (plus the one call that pairs the list with its [`Inserter`]); the unit
//! tests run under Miri.
//!
//! # Example
//!
//! ```
//! use std::ops::Bound;
//!
//! use batch::{Batch, SeqNum};
//! use memdb::{Lookup, MemDb};
//!
//! let (memdb, mut inserter) = MemDb::new(4 << 20);
//! let mut b = Batch::new();
//! b.put(b"apple", b"red");
//! b.put(b"pear", b"green");
//! inserter.apply(SeqNum(1), &b); // seqs 1 and 2
//!
//! let mut b = Batch::new();
//! b.delete(b"apple");
//! inserter.apply(SeqNum(3), &b);
//!
//! assert_eq!(memdb.get(b"apple", SeqNum(2)), Lookup::Found(b"red"));
//! assert_eq!(memdb.get(b"apple", SeqNum(3)), Lookup::Deleted);
//! assert_eq!(memdb.get(b"plum", SeqNum(3)), Lookup::Absent);
//!
//! let visible: Vec<_> = memdb.range(.., SeqNum(3)).collect();
//! assert_eq!(visible, [(&b"pear"[..], &b"green"[..])]);
//! let from_b: (Bound<&[u8]>, _) = (Bound::Included(b"b"), Bound::Unbounded);
//! assert_eq!(memdb.range(from_b, SeqNum(2)).count(), 1);
//!
//! assert_eq!(memdb.len(), 3);
//! assert_eq!(memdb.used(), (5 + 3 + 8) + (4 + 5 + 8) + (5 + 8));
//! assert_eq!(memdb.free(), (4 << 20) - memdb.used());
//! ```

mod arena;
mod comparator;
mod iter;
mod skiplist;

#[cfg(test)]
mod tests;

pub use arena::BlockPool;
pub use comparator::{Bytewise, Comparator};
pub use iter::{Iter, Range};

use std::cmp::Ordering;
use std::fmt;
use std::ops::RangeBounds;
use std::sync::atomic::{self, AtomicUsize};
use std::sync::Arc;

use batch::{Batch, Kind, Record, SeqNum};

use crate::comparator::{trailer_kind, Cmp};
use crate::skiplist::SkipList;
use batch::key::{lookup_trailer, trailer};

/// A memtable: entries keyed by internal key, one writer, lock-free readers.
///
/// Shared by readers as `Arc<MemDb>`; written through its [`Inserter`].
/// See the [crate docs](crate) for the order and invariants.
pub struct MemDb {
    list: SkipList,
    /// The budget in `internal_len` units.
    capacity: usize,
    /// Sum of `internal_len` of the applied records.
    // Invariant: only the inserter adds to it, after each batch.
    used: AtomicUsize,
    /// Number of entries.
    // Invariant: only the inserter adds to it, after each batch.
    len: AtomicUsize,
}

/// The one right to insert into a [`MemDb`].
///
/// `Send` but not `Clone`: the write-lock holder (the group-commit leader)
/// keeps it, so inserts never run concurrently.
pub struct Inserter {
    memdb: Arc<MemDb>,
    // Invariant: created with `memdb.list`, and used with no other list.
    writer: skiplist::Writer,
}

/// The answer of [`MemDb::get`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lookup<'a> {
    /// The newest entry visible at the snapshot is a put of this value. The
    /// value lives in the memtable: copy it to keep it past the borrow.
    Found(&'a [u8]),
    /// The newest entry visible at the snapshot is a delete. Older tables
    /// must not be consulted.
    Deleted,
    /// No entry for the key is visible at the snapshot. Older tables may
    /// hold it.
    Absent,
}

impl MemDb {
    /// An empty memtable with a budget of `capacity` bytes in
    /// [`internal_len`](batch::Batch::internal_len) units, ordered bytewise.
    pub fn new(capacity: usize) -> (Arc<MemDb>, Inserter) {
        MemDb::build(capacity, Cmp::Bytewise, None, true)
    }

    /// As [`new`](MemDb::new), with the arena's 2 MiB blocks taken from
    /// `pool` when it has some and given back to it when the memtable
    /// drops. A database shares one pool between its memtables, so that
    /// each new memtable reuses the memory of a flushed one.
    pub fn with_pool(capacity: usize, pool: &Arc<BlockPool>) -> (Arc<MemDb>, Inserter) {
        MemDb::build(capacity, Cmp::Bytewise, Some(Arc::clone(pool)), true)
    }

    /// As [`with_pool`](MemDb::with_pool), but the blocks it allocates
    /// itself, when the pool has none, stay on ordinary pages.
    ///
    /// A huge page faults in and zeroes 2 MiB at its first touch, and the
    /// kernel may first compact memory to find one; a memtable the write
    /// path fills spreads that over many writes, or a background prefill
    /// takes it on. Where nothing can wait (a database's open: a memtable
    /// filled at once with a journal's replay, and the first empty one,
    /// whose head is written at once) ordinary pages fault in as the
    /// entries fill them: on the benchmark's VM, each 2 MiB huge page cost
    /// the open of a 10 M-key database 0.3 to 5 ms.
    pub fn with_pool_ordinary_pages(
        capacity: usize,
        pool: &Arc<BlockPool>,
    ) -> (Arc<MemDb>, Inserter) {
        MemDb::build(capacity, Cmp::Bytewise, Some(Arc::clone(pool)), false)
    }

    /// An empty memtable ordered by `cmp`, with a budget as in
    /// [`new`](MemDb::new).
    pub fn with_comparator(capacity: usize, cmp: Arc<dyn Comparator>) -> (Arc<MemDb>, Inserter) {
        MemDb::build(capacity, Cmp::Custom(cmp), None, true)
    }

    fn build(
        capacity: usize,
        cmp: Cmp,
        pool: Option<Arc<BlockPool>>,
        huge_pages: bool,
    ) -> (Arc<MemDb>, Inserter) {
        let (list, writer) = SkipList::new(cmp, capacity, pool, huge_pages);
        let memdb = Arc::new(MemDb {
            list,
            capacity,
            used: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
        });
        let inserter = Inserter {
            memdb: Arc::clone(&memdb),
            writer,
        };
        (memdb, inserter)
    }

    /// Looks up `user_key` as of `snapshot`: the newest entry for it with a
    /// sequence number at or below `snapshot`.
    ///
    /// The value is borrowed from the memtable, with no copy.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNum) -> Lookup<'_> {
        let trailer = lookup_trailer(snapshot);
        let list = &self.list;
        match list.find_first(|n| list.is_before(n, user_key, trailer)) {
            Some(node) if list.cmp().compare(node.user_key(), user_key) == Ordering::Equal => {
                match trailer_kind(node.trailer()) {
                    Kind::Put => Lookup::Found(node.value()),
                    Kind::Delete => Lookup::Deleted,
                }
            }
            _ => Lookup::Absent,
        }
    }

    /// A cursor over every entry, all versions and deletes included.
    pub fn iter(&self) -> Iter<'_> {
        Iter::new(&self.list)
    }

    /// The user keys in `range` as seen at `snapshot`, with their values:
    /// for each key its newest entry at or below `snapshot`, unless that is
    /// a delete. Forward and backward.
    ///
    /// Takes `..` or a pair of bounds, `(Bound<&[u8]>, Bound<&[u8]>)`, as
    /// `BTreeMap::range` does for unsized keys: for example
    /// `(Bound::Included(a), Bound::Excluded(b))` for `a..b`. (The std range
    /// types `a..b` implement `RangeBounds<&[u8]>`, not `RangeBounds<[u8]>`.)
    /// A range whose start is after its end is empty.
    ///
    /// The bounds are resolved when this is called; entries inserted after
    /// are above any snapshot a reader may hold, so they would not show
    /// anyway.
    pub fn range<R: RangeBounds<[u8]>>(&self, range: R, snapshot: SeqNum) -> Range<'_> {
        Range::new(&self.list, range.start_bound(), range.end_bound(), snapshot)
    }

    /// The number of entries (puts and deletes, all versions).
    pub fn len(&self) -> usize {
        self.len.load(atomic::Ordering::Acquire)
    }

    /// Whether the memtable holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sum of [`internal_len`](batch::Record::internal_len) of the entries:
    /// their keys, values and 8-byte trailers. The budget is counted in
    /// these units.
    pub fn used(&self) -> usize {
        self.used.load(atomic::Ordering::Acquire)
    }

    /// Memory the memtable holds: the bytes of its arena blocks, which hold
    /// every entry with its node overhead (links, lengths and alignment,
    /// about 30 bytes an entry on 64-bit) and the unused tail of the current
    /// block.
    pub fn approximate_size(&self) -> usize {
        self.list.reserved()
    }

    /// The budget set at creation, in [`used`](MemDb::used) units.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// `capacity - used`, or zero once the budget is spent (goleveldb's
    /// `Free`). The write-merge limit keeps a merged batch within it.
    ///
    /// The budget is not enforced here: [`Inserter::apply`] accepts any
    /// batch, for example a batch larger than the capacity into an empty
    /// memtable.
    pub fn free(&self) -> usize {
        self.capacity.saturating_sub(self.used())
    }

    /// The user-key comparator.
    pub fn comparator(&self) -> &dyn Comparator {
        self.list.cmp().comparator()
    }
}

impl fmt::Debug for MemDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemDb")
            .field("comparator", self.list.cmp())
            .field("len", &self.len())
            .field("used", &self.used())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Inserter {
    /// Inserts every record of `batch`; record `i` gets sequence number
    /// `first_seq + i`. The batch's own header sequence number is ignored.
    ///
    /// [`used`](MemDb::used) grows by exactly `batch.internal_len()` and
    /// [`len`](MemDb::len) by `batch.len()`, once all records are in.
    /// Readers may see the records while this runs, so publish their
    /// sequence numbers to readers only after it returns.
    ///
    /// Sequence numbers should be new: an entry equal to an existing one
    /// (same user key, sequence number and kind) is kept beside it and found
    /// first.
    ///
    /// # Panics
    ///
    /// If a record's sequence number would exceed [`batch::MAX_SEQ`].
    pub fn apply(&mut self, first_seq: SeqNum, batch: &Batch) {
        if batch.is_empty() {
            return;
        }
        assert!(
            first_seq.checked_add(batch.len() as u64 - 1).is_some(),
            "memdb: sequence numbers {first_seq}..+{} exceed MAX_SEQ",
            batch.len()
        );
        for (idx, record) in batch.records().enumerate() {
            self.link(SeqNum(first_seq.0 + idx as u64), record, false);
        }
        self.count(batch.internal_len(), batch.len());
    }

    /// Inserts one record, numbered `seq`: the way to fill a memtable from
    /// entries already in internal-key order, as recovery does with a
    /// journal's sorted records.
    ///
    /// A record that sorts after every entry in the memtable is linked
    /// behind the last one with a single comparison and no search (RocksDB's
    /// hinted insert): the 23 k records of a journal, sorted and inserted,
    /// took a third of the time [`apply`](Inserter::apply) took in journal
    /// order. Any other record is inserted as `apply` would.
    ///
    /// [`used`](MemDb::used) grows by `record.internal_len()` and
    /// [`len`](MemDb::len) by one; readers may see the entry at once, as
    /// with `apply`.
    ///
    /// # Panics
    ///
    /// If `seq` exceeds [`batch::MAX_SEQ`].
    pub fn insert(&mut self, seq: SeqNum, record: Record<'_>) {
        assert!(
            seq.0 <= batch::MAX_SEQ,
            "memdb: sequence number {seq} exceeds MAX_SEQ"
        );
        self.link(seq, record, true);
        self.count(record.internal_len(), 1);
    }

    /// Links `record`, numbered `seq`, into the list (`append`: see
    /// `SkipList::insert`); the counters are the caller's to add to.
    // The one `unsafe` outside `arena` and `skiplist`: the call that pairs
    // the list with its writer.
    #[allow(unsafe_code)]
    fn link(&mut self, seq: SeqNum, record: Record<'_>, append: bool) {
        // SAFETY: `self.writer` was created with `memdb.list` in
        // `MemDb::build` and is used with no other list (the field's
        // invariant); `self.memdb` keeps that list alive.
        unsafe {
            self.memdb.list.insert(
                &mut self.writer,
                record.key(),
                trailer(seq, record.kind()),
                record.value().unwrap_or(&[]),
                append,
            )
        };
    }

    /// Adds `bytes` to [`used`](MemDb::used) and `entries` to
    /// [`len`](MemDb::len), published for readers.
    fn count(&self, bytes: usize, entries: usize) {
        let memdb = &*self.memdb;
        // Only this inserter writes the counters, so load-then-store is exact.
        let used = memdb.used.load(atomic::Ordering::Relaxed) + bytes;
        memdb.used.store(used, atomic::Ordering::Release);
        let len = memdb.len.load(atomic::Ordering::Relaxed) + entries;
        memdb.len.store(len, atomic::Ordering::Release);
    }

    /// The memtable this inserter writes to.
    pub fn memdb(&self) -> &Arc<MemDb> {
        &self.memdb
    }
}

impl fmt::Debug for Inserter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inserter")
            .field("memdb", &self.memdb)
            .finish()
    }
}

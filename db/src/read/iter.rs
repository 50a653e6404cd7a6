//! Range scans over a snapshot: a merge of every memtable of a view and
//! the sorted run under them.
//!
//! The scan reads in chunks. Each refill asks every memtable for its next
//! [`SCAN_CHUNK`] visible versions (the newest version at or below the snapshot
//! of each key, tombstones included) inside the part of the range not yet
//! returned, merges them with the newest memtable winning on a tie, and
//! keeps only keys up to the smallest "last key" of a memtable that may
//! hold more. Tombstones hide the key. The iterator owns its view, so it
//! holds no borrow of the database, and since a snapshot's records never
//! change, chunks taken at different times fit together exactly.
//!
//! Front and back narrow the same remaining range, so a scan can be walked
//! from both ends at once; [`Iter::seek`] and [`Iter::seek_for_prev`]
//! restart it on part of its range.

use super::View;
use crate::error::{table_err, Error};
use crate::table::{Table, TableError, TableIter};
use crate::tuning::SCAN_CHUNK;
use crate::version::TableFile;
use batch::{key, Kind, SeqNum};
use memdb::MemDb;
use std::collections::{BTreeMap, VecDeque};
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

/// The key range of a scan, owned.
#[derive(Debug, Clone)]
pub(crate) struct ScanRange {
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
}

impl ScanRange {
    pub fn all() -> ScanRange {
        ScanRange {
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
        }
    }

    pub fn from_bounds<K: AsRef<[u8]>, R: RangeBounds<K>>(range: &R) -> ScanRange {
        let own = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        ScanRange {
            lower: own(range.start_bound()),
            upper: own(range.end_bound()),
        }
    }

    /// Keys starting with `prefix`: from the prefix up to, excluding, the
    /// smallest key greater than every key with the prefix.
    pub fn prefix(prefix: &[u8]) -> ScanRange {
        let mut end = prefix.to_vec();
        let upper = loop {
            match end.pop() {
                None => break Bound::Unbounded,
                Some(0xff) => continue,
                Some(b) => {
                    end.push(b + 1);
                    break Bound::Excluded(end);
                }
            }
        };
        ScanRange {
            lower: Bound::Included(prefix.to_vec()),
            upper,
        }
    }

    fn is_empty(&self) -> bool {
        match (&self.lower, &self.upper) {
            (Bound::Included(l), Bound::Included(u)) => l > u,
            (Bound::Included(l), Bound::Excluded(u))
            | (Bound::Excluded(l), Bound::Included(u))
            | (Bound::Excluded(l), Bound::Excluded(u)) => l >= u,
            _ => false,
        }
    }

    fn above_lower(&self, key: &[u8]) -> bool {
        match &self.lower {
            Bound::Included(l) => key >= l.as_slice(),
            Bound::Excluded(l) => key > l.as_slice(),
            Bound::Unbounded => true,
        }
    }

    /// The lower bound `key` (inclusive), or this range's if tighter.
    fn lower_at_least(&self, key: &[u8]) -> Bound<Vec<u8>> {
        if self.above_lower(key) {
            Bound::Included(key.to_vec())
        } else {
            self.lower.clone()
        }
    }

    /// The upper bound `key` (inclusive), or this range's if tighter.
    fn upper_at_most(&self, key: &[u8]) -> Bound<Vec<u8>> {
        if self.below_upper(key) {
            Bound::Included(key.to_vec())
        } else {
            self.upper.clone()
        }
    }

    fn below_upper(&self, key: &[u8]) -> bool {
        match &self.upper {
            Bound::Included(u) => key <= u.as_slice(),
            Bound::Excluded(u) => key < u.as_slice(),
            Bound::Unbounded => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// An iterator over the live keys and values of a snapshot in a key range,
/// in key order (and in reverse with `.rev()`).
///
/// Items are owned `(key, value)` pairs, or the error of a read that failed;
/// after an error the iterator ends. Reads are from memory today and cannot
/// fail; the `Result` is for reads from table files, as in rust-rocksdb,
/// sled and redb.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = tributary::Db::open(dir.path(), tributary::Options::default()).unwrap();
/// for k in ["a", "b", "c", "d"] {
///     db.put(k, "v")?;
/// }
/// let mut it = db.iter();
/// it.seek("b");
/// assert_eq!(it.next().transpose()?.map(|(k, _)| k), Some(b"b".to_vec()));
/// it.seek_for_prev("c");
/// assert_eq!(it.next_back().transpose()?.map(|(k, _)| k), Some(b"c".to_vec()));
/// # Ok::<(), tributary::Error>(())
/// ```
#[derive(Debug)]
pub struct Iter {
    view: Arc<View>,
    seq: SeqNum,
    /// The scan's whole range: what a seek may move within.
    range: ScanRange,
    /// The part of the range not yet fetched by either end.
    remaining: ScanRange,
    /// Whether `remaining` holds no more key.
    exhausted: bool,
    front: VecDeque<(Vec<u8>, Vec<u8>)>,
    back: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// A table read that failed: returned once, then the scan ends.
    error: Option<Error>,
}

impl Iter {
    pub(crate) fn new(view: Arc<View>, seq: SeqNum, range: ScanRange) -> Iter {
        let exhausted = range.is_empty();
        Iter {
            view,
            seq,
            range: range.clone(),
            remaining: range,
            exhausted,
            front: VecDeque::new(),
            back: VecDeque::new(),
            error: None,
        }
    }

    /// Restarts the scan at the first live key at or after `key` (within
    /// the scan's range), as RocksDB's `Seek` does: from now on the iterator
    /// is the scan of the range from `key` on, from both ends.
    pub fn seek(&mut self, key: impl AsRef<[u8]>) {
        let lower = self.range.lower_at_least(key.as_ref());
        self.restart(lower, self.range.upper.clone());
    }

    /// Restarts the scan at the last live key at or before `key` (within
    /// the scan's range), as RocksDB's `SeekForPrev` does: from now on the
    /// iterator is the scan of the range up to `key`, and
    /// [`next_back`](DoubleEndedIterator::next_back) returns that key first.
    pub fn seek_for_prev(&mut self, key: impl AsRef<[u8]>) {
        let upper = self.range.upper_at_most(key.as_ref());
        self.restart(self.range.lower.clone(), upper);
    }

    fn restart(&mut self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) {
        self.remaining = ScanRange { lower, upper };
        self.exhausted = self.remaining.is_empty();
        self.front.clear();
        self.back.clear();
    }

    /// Fetches the next chunk from one end of `remaining`.
    fn refill(&mut self, direction: Direction) {
        // key -> (memtable age, value or tombstone); lower age = newer.
        let mut merged: BTreeMap<Vec<u8>, (usize, Option<Vec<u8>>)> = BTreeMap::new();
        // The furthest key this chunk may return: the nearest "last key" of
        // a memtable that filled its chunk and may hold more beyond it.
        let mut horizon: Option<Vec<u8>> = None;
        let memtables = self
            .view
            .memtables()
            .map(|memdb| visible_versions(memdb, self.seq, &self.remaining, direction, SCAN_CHUNK));
        // Then the tables, newest first: each level-0 table in order, then
        // each deeper level as one source (its tables do not overlap).
        let mut tables = Vec::new();
        let levels = &self.view.version.levels;
        let sources = levels[0]
            .iter()
            .map(std::slice::from_ref)
            .chain(levels[1..].iter().map(Vec::as_slice));
        for files in sources {
            match level_versions(files, self.seq, &self.remaining, direction, SCAN_CHUNK) {
                Ok(versions) => tables.push(versions),
                Err(e) => {
                    self.error = Some(e);
                    self.exhausted = true;
                    self.front.clear();
                    self.back.clear();
                    return;
                }
            }
        }
        for (age, versions) in memtables.chain(tables).enumerate() {
            if versions.len() == SCAN_CHUNK {
                let last = versions.last().map(|v| v.0.clone()).unwrap_or_default();
                horizon = Some(match (horizon, direction) {
                    (None, _) => last,
                    (Some(h), Direction::Forward) => h.min(last),
                    (Some(h), Direction::Backward) => h.max(last),
                });
            }
            for (key, value) in versions {
                merged
                    .entry(key)
                    .and_modify(|e| {
                        if age < e.0 {
                            *e = (age, value.clone());
                        }
                    })
                    .or_insert((age, value));
            }
        }
        let within = |key: &Vec<u8>| match (&horizon, direction) {
            (None, _) => true,
            (Some(h), Direction::Forward) => key <= h,
            (Some(h), Direction::Backward) => key >= h,
        };
        let chunk: Vec<(Vec<u8>, Option<Vec<u8>>)> = match direction {
            Direction::Forward => merged
                .into_iter()
                .take_while(|(k, _)| within(k))
                .map(|(k, (_, v))| (k, v))
                .collect(),
            Direction::Backward => merged
                .into_iter()
                .rev()
                .take_while(|(k, _)| within(k))
                .map(|(k, (_, v))| (k, v))
                .collect(),
        };
        match horizon {
            None => self.exhausted = true,
            Some(h) => match direction {
                Direction::Forward => self.remaining.lower = Bound::Excluded(h),
                Direction::Backward => self.remaining.upper = Bound::Excluded(h),
            },
        }
        if self.remaining.is_empty() {
            self.exhausted = true;
        }
        let live = chunk.into_iter().filter_map(|(k, v)| v.map(|v| (k, v)));
        match direction {
            Direction::Forward => self.front.extend(live),
            Direction::Backward => self.back.extend(live),
        }
    }
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.error.take() {
                return Some(Err(e));
            }
            if let Some(item) = self.front.pop_front() {
                return Some(Ok(item));
            }
            if self.exhausted {
                // The middle is used up: what is left sits in the back buffer.
                return self.back.pop_back().map(Ok);
            }
            self.refill(Direction::Forward);
        }
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.error.take() {
                return Some(Err(e));
            }
            if let Some(item) = self.back.pop_front() {
                return Some(Ok(item));
            }
            if self.exhausted {
                return self.front.pop_back().map(Ok);
            }
            self.refill(Direction::Backward);
        }
    }
}

/// Visible versions of one source: each key with its value, or `None` for
/// a tombstone.
type Versions = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Up to `limit` visible versions inside `range`, from the given end, of
/// `files`: one level-0 table, or a deeper level's tables, which do not
/// overlap and are in key order, so they read as one run (LevelDB's
/// concatenating iterator): only the tables that overlap the range are
/// read, and only until the chunk is full.
fn level_versions(
    files: &[Arc<TableFile>],
    seq: SeqNum,
    range: &ScanRange,
    direction: Direction,
    limit: usize,
) -> Result<Versions, Error> {
    let overlaps = |f: &&Arc<TableFile>| {
        let (lo, hi) = f.user_range();
        let upper_ok = match &range.upper {
            Bound::Included(u) => lo <= u.as_slice(),
            Bound::Excluded(u) => lo < u.as_slice(),
            Bound::Unbounded => true,
        };
        let lower_ok = match &range.lower {
            Bound::Included(l) => hi >= l.as_slice(),
            Bound::Excluded(l) => hi > l.as_slice(),
            Bound::Unbounded => true,
        };
        upper_ok && lower_ok
    };
    let mut out = Vec::new();
    let read = |file: &Arc<TableFile>, out: &mut Versions| -> Result<(), Error> {
        let more = table_versions(&file.table, seq, range, direction, limit - out.len())
            .map_err(table_err(file.path()))?;
        out.extend(more);
        Ok(())
    };
    let ordered: Box<dyn Iterator<Item = &Arc<TableFile>>> = match direction {
        Direction::Forward => Box::new(files.iter()),
        Direction::Backward => Box::new(files.iter().rev()),
    };
    for file in ordered.filter(overlaps) {
        read(file, &mut out)?;
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Up to `limit` visible versions of `table` at `seq` inside `range`, from
/// the given end, as [`visible_versions`] gives them for a memtable.
fn table_versions(
    table: &Arc<Table>,
    seq: SeqNum,
    range: &ScanRange,
    direction: Direction,
    limit: usize,
) -> Result<Versions, TableError> {
    let mut out: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut it = table.iter();
    let entry = |it: &TableIter| {
        let (user, entry_seq, kind) =
            key::parse(it.key()).expect("the table reader checked every key");
        let value = match kind {
            Kind::Put => Some(it.value().to_vec()),
            Kind::Delete => None,
        };
        (user.to_vec(), entry_seq, value)
    };
    match direction {
        Direction::Forward => {
            match &range.lower {
                Bound::Unbounded => it.seek_to_first(),
                Bound::Included(k) | Bound::Excluded(k) => {
                    it.seek(&internal(k, key::lookup_trailer(SeqNum(u64::MAX))))
                }
            }
            while it.valid() && out.len() < limit {
                let (user, entry_seq, value) = entry(&it);
                if !range.below_upper(&user) {
                    break;
                }
                let visible = entry_seq <= seq && range.above_lower(&user);
                if visible && out.last().map(|l| l.0.as_slice()) != Some(user.as_slice()) {
                    out.push((user, value));
                }
                it.next();
            }
        }
        Direction::Backward => {
            match &range.upper {
                Bound::Unbounded => it.seek_to_last(),
                Bound::Included(k) | Bound::Excluded(k) => {
                    // After every version of `k`: the smallest trailer sorts
                    // last among them.
                    it.seek(&internal(k, 0));
                    match it.valid().then(|| key::user_key(it.key()) == k.as_slice()) {
                        Some(true) => {}
                        Some(false) => it.prev(),
                        None if it.error().is_none() => it.seek_to_last(),
                        None => {}
                    }
                }
            }
            let mut pending: Option<(Vec<u8>, Option<Vec<u8>>)> = None;
            while it.valid() {
                let (user, entry_seq, value) = entry(&it);
                if !range.above_lower(&user) {
                    break;
                }
                if pending.as_ref().is_some_and(|p| p.0 != user) {
                    out.extend(pending.take());
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
                if entry_seq <= seq && range.below_upper(&user) {
                    pending = Some((user, value));
                }
                it.prev();
            }
            if it.error().is_none() {
                out.extend(pending);
            }
        }
    }
    match it.error() {
        Some(e) => Err(e.clone()),
        None => Ok(out),
    }
}

/// The internal key `user_key | trailer`.
fn internal(user_key: &[u8], trailer: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + 8);
    out.extend_from_slice(user_key);
    out.extend_from_slice(&trailer.to_le_bytes());
    out
}

/// Up to `limit` visible versions of `memdb` at `seq` inside `range`, from
/// the given end: for each key, its newest version at or below `seq`, with
/// `None` for a tombstone.
fn visible_versions(
    memdb: &MemDb,
    seq: SeqNum,
    range: &ScanRange,
    direction: Direction,
    limit: usize,
) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut out: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut it = memdb.iter();
    match direction {
        Direction::Forward => {
            match &range.lower {
                Bound::Unbounded => it.seek_to_first(),
                Bound::Included(k) | Bound::Excluded(k) => it.seek(k, SeqNum(batch::MAX_SEQ)),
            }
            while it.valid() && out.len() < limit {
                let key = it.user_key();
                if !range.below_upper(key) {
                    break;
                }
                let visible = it.seq() <= seq && range.above_lower(key);
                if visible && out.last().map(|l| l.0.as_slice()) != Some(key) {
                    let value = match it.kind() {
                        Kind::Put => Some(it.value().to_vec()),
                        Kind::Delete => None,
                    };
                    out.push((key.to_vec(), value));
                }
                it.next();
            }
        }
        Direction::Backward => {
            match &range.upper {
                Bound::Unbounded => it.seek_to_last(),
                Bound::Included(k) | Bound::Excluded(k) => {
                    // Position after every version of `k`, then step back.
                    it.seek(k, SeqNum::ZERO);
                    while it.valid() && it.user_key() == k.as_slice() {
                        it.next();
                    }
                    if it.valid() {
                        it.prev();
                    } else {
                        it.seek_to_last();
                    }
                }
            }
            // Walking backwards meets each key's versions oldest first: the
            // last one at or below `seq` before the key changes is visible.
            let mut pending: Option<(Vec<u8>, Option<Vec<u8>>)> = None;
            while it.valid() {
                let key = it.user_key();
                if !range.above_lower(key) {
                    break;
                }
                if pending.as_ref().is_some_and(|p| p.0.as_slice() != key) {
                    out.extend(pending.take());
                    if out.len() == limit {
                        return out;
                    }
                }
                if it.seq() <= seq && range.below_upper(key) {
                    let value = match it.kind() {
                        Kind::Put => Some(it.value().to_vec()),
                        Kind::Delete => None,
                    };
                    pending = Some((key.to_vec(), value));
                }
                it.prev();
            }
            out.extend(pending);
        }
    }
    out
}

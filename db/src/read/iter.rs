//! Range scans over a snapshot: a merge of every memtable of a view and
//! the sorted run under them.
//!
//! The scan reads in chunks. Each refill asks every source (memtable,
//! level-0 table, deeper level) for its next visible versions (the newest
//! version at or below the snapshot of each key, tombstones included)
//! inside the part of the range not yet returned: [`SCAN_FIRST_CHUNK`]
//! after a start or a seek, doubling up to [`SCAN_CHUNK`]. It merges them
//! with the newest source winning on a tie, and keeps only keys up to the
//! smallest "last key" of a source that may hold more (the horizon; the
//! sources are read largest first, each only up to the horizon so far). Tombstones hide the key. The iterator owns its view, so it
//! holds no borrow of the database, and since a snapshot's records never
//! change, chunks taken at different times fit together exactly.
//!
//! Front and back narrow the same remaining range, so a scan can be walked
//! from both ends at once; [`Iter::seek`] and [`Iter::seek_for_prev`]
//! restart it on part of its range.

use super::View;
use crate::error::{table_err, Error};
use crate::table::{Table, TableError, TableIter};
use crate::tuning::{SCAN_CHUNK, SCAN_FIRST_CHUNK};
use crate::version::TableFile;
use batch::{key, Kind, SeqNum};
use memdb::MemDb;
use std::collections::VecDeque;
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

    /// This range cut at `horizon` (inclusive) on the far side of a scan
    /// going in `direction`, if there is one and it is tighter.
    fn up_to(&self, horizon: Option<&[u8]>, direction: Direction) -> ScanRange {
        let mut range = self.clone();
        if let Some(h) = horizon {
            match direction {
                Direction::Forward => range.upper = self.upper_at_most(h),
                Direction::Backward => range.lower = self.lower_at_least(h),
            }
        }
        range
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
    /// Versions the next refill takes from each source.
    chunk: usize,
}

/// One source of a scan's merge.
enum Source<'a> {
    Memtable(&'a Arc<MemDb>),
    /// One level-0 table, or a deeper level's tables, in key order.
    Tables(&'a [Arc<TableFile>]),
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
            chunk: SCAN_FIRST_CHUNK,
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
        self.chunk = SCAN_FIRST_CHUNK;
    }

    /// Fetches the next chunk from one end of `remaining`.
    ///
    /// The sources are read largest first, each only up to the horizon
    /// the ones before it set: the largest (the deepest level, as a rule)
    /// fills its chunk over the narrowest key span, and every smaller
    /// source then copies only the keys that can be returned, instead of a
    /// whole chunk of which most would fall past the horizon and be read
    /// again by the next refill.
    fn refill(&mut self, direction: Direction) {
        let limit = self.chunk;
        // The next refill of this scan takes more: a short scan after a
        // seek copies little, a long one few chunks.
        self.chunk = (self.chunk * 2).min(SCAN_CHUNK);
        // Each source's versions, sorted in `direction`, by age.
        let mut runs: Vec<(usize, Versions)> = Vec::new();
        let mut horizon: Option<Vec<u8>> = None;
        // Every source, newest first (its index is its age): the memtables,
        // each level-0 table, then each deeper level as one source (its
        // tables do not overlap).
        let levels = &self.view.version.levels;
        let sources: Vec<(u64, Source<'_>)> = self
            .view
            .memtables()
            .map(|m| (m.used() as u64, Source::Memtable(m)))
            .chain(
                levels[0]
                    .iter()
                    .map(std::slice::from_ref)
                    .chain(levels[1..].iter().map(Vec::as_slice))
                    .map(|files| {
                        (
                            files.iter().map(|f| f.meta.size).sum(),
                            Source::Tables(files),
                        )
                    }),
            )
            .collect();
        let mut order: Vec<usize> = (0..sources.len()).collect();
        order.sort_by_key(|&age| std::cmp::Reverse(sources[age].0));
        // `remaining` cut at the horizon, made again only when it moves.
        let mut narrowed: Option<ScanRange> = None;
        for age in order {
            let range = narrowed.as_ref().unwrap_or(&self.remaining);
            let versions = match &sources[age].1 {
                Source::Memtable(memdb) => {
                    visible_versions(memdb, self.seq, range, direction, limit)
                }
                Source::Tables(files) => {
                    match level_versions(files, self.seq, range, direction, limit) {
                        Ok(versions) => versions,
                        Err(e) => {
                            self.error = Some(e);
                            self.exhausted = true;
                            self.front.clear();
                            self.back.clear();
                            return;
                        }
                    }
                }
            };
            if versions.len() == limit {
                // Read up to the horizon so far: its last key is at or
                // before it.
                horizon = versions.last().map(|v| v.0.clone());
                narrowed = Some(self.remaining.up_to(horizon.as_deref(), direction));
            }
            if !versions.is_empty() {
                runs.push((age, versions));
            }
        }
        let chunk = merge_runs(runs, horizon.as_deref(), direction);
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

/// Merges the sources' `runs` (age, versions sorted in `direction`) into
/// one run, up to `horizon` (inclusive): for a key in several runs the
/// youngest (lowest age) wins. Moves every key and value; a single run is
/// taken whole.
fn merge_runs(
    runs: Vec<(usize, Versions)>,
    horizon: Option<&[u8]>,
    direction: Direction,
) -> Versions {
    let before = |a: &[u8], b: &[u8]| match direction {
        Direction::Forward => a < b,
        Direction::Backward => a > b,
    };
    let within = |key: &[u8]| horizon.is_none_or(|h| !before(h, key));
    // (age, versions, position of the next one)
    let mut runs: Vec<(usize, Versions, usize)> = runs
        .into_iter()
        .map(|(age, versions)| (age, versions, 0))
        .collect();
    if runs.len() == 1 {
        let (_, only, _) = runs.pop().expect("one run");
        return only.into_iter().take_while(|(k, _)| within(k)).collect();
    }
    let mut out = Versions::new();
    loop {
        // The next key in `direction`; on a tie, the youngest run's.
        let mut best: Option<usize> = None;
        for i in 0..runs.len() {
            let (age, versions, pos) = &runs[i];
            let Some((key, _)) = versions.get(*pos) else {
                continue;
            };
            let better = best.is_none_or(|b| {
                let (b_age, b_versions, b_pos) = &runs[b];
                let b_key = &b_versions[*b_pos].0;
                before(key, b_key) || (key == b_key && age < b_age)
            });
            if better {
                best = Some(i);
            }
        }
        let Some(b) = best else { break };
        let pos = runs[b].2;
        let entry = std::mem::take(&mut runs[b].1[pos]);
        if !within(&entry.0) {
            break;
        }
        // Older versions of the key in other runs are hidden by it.
        for (_, versions, pos) in &mut runs {
            if versions.get(*pos).is_some_and(|(k, _)| *k == entry.0) {
                *pos += 1;
            }
        }
        runs[b].2 = pos + 1;
        out.push(entry);
    }
    out
}

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
    // The tables are in key order without overlap, so both tests are
    // monotone: the ones overlapping the range are one slice, found by
    // two binary searches instead of a walk over the level.
    let starts_in = |f: &Arc<TableFile>| {
        let lo = f.user_range().0;
        match &range.upper {
            Bound::Included(u) => lo <= u.as_slice(),
            Bound::Excluded(u) => lo < u.as_slice(),
            Bound::Unbounded => true,
        }
    };
    let ends_before = |f: &Arc<TableFile>| {
        let hi = f.user_range().1;
        match &range.lower {
            Bound::Included(l) => hi < l.as_slice(),
            Bound::Excluded(l) => hi <= l.as_slice(),
            Bound::Unbounded => false,
        }
    };
    let first = files.partition_point(ends_before);
    let end = files.partition_point(starts_in).max(first);
    let files = &files[first..end];
    let mut out = Vec::new();
    let read = |file: &Arc<TableFile>, out: &mut Versions| -> Result<(), Error> {
        let more = table_versions(file.table()?, seq, range, direction, limit - out.len())
            .map_err(table_err(file.path()))?;
        out.extend(more);
        Ok(())
    };
    let ordered: Box<dyn Iterator<Item = &Arc<TableFile>>> = match direction {
        Direction::Forward => Box::new(files.iter()),
        Direction::Backward => Box::new(files.iter().rev()),
    };
    for file in ordered {
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
    // The entry under the cursor, borrowed: only what is kept is copied.
    let entry = |it: &TableIter| {
        let (user, entry_seq, kind) =
            key::parse(it.key()).expect("the table reader checked every key");
        (user.len(), entry_seq, kind)
    };
    let owned = |it: &TableIter, user_len: usize, kind: Kind| {
        let value = match kind {
            Kind::Put => Some(it.value().to_vec()),
            Kind::Delete => None,
        };
        (it.key()[..user_len].to_vec(), value)
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
                let (user_len, entry_seq, kind) = entry(&it);
                let user = &it.key()[..user_len];
                if !range.below_upper(user) {
                    break;
                }
                let visible = entry_seq <= seq && range.above_lower(user);
                if visible && out.last().map(|l| l.0.as_slice()) != Some(user) {
                    out.push(owned(&it, user_len, kind));
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
                let (user_len, entry_seq, kind) = entry(&it);
                let user = &it.key()[..user_len];
                if !range.above_lower(user) {
                    break;
                }
                if pending.as_ref().is_some_and(|p| p.0 != user) {
                    out.extend(pending.take());
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
                if entry_seq <= seq && range.below_upper(user) {
                    pending = Some(owned(&it, user_len, kind));
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

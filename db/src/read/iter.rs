//! Range scans over a snapshot: a merge of every memtable of a view and
//! the tables of the version under them.
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

use super::entry_cursor::{EntryCursor, LevelCursor, Recheck};
use super::View;
use crate::error::Error;
use crate::table::TableIter;
use crate::tuning::{SCAN_CHUNK, SCAN_FIRST_CHUNK};
use crate::version::TableFile;
use batch::{Kind, SeqNum};
use memdb::MemDb;
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

    /// This range, borrowed.
    fn span(&self) -> Span<'_> {
        Span {
            lower: self.lower.as_ref().map(Vec::as_slice),
            upper: self.upper.as_ref().map(Vec::as_slice),
        }
    }
}

/// A key range borrowed from a [`ScanRange`] and a horizon: what a refill
/// hands each source, made again as the horizon moves without copying a
/// key (the owned ranges it replaced cost three allocations a refill).
#[derive(Debug, Clone, Copy)]
struct Span<'a> {
    lower: Bound<&'a [u8]>,
    upper: Bound<&'a [u8]>,
}

impl<'a> Span<'a> {
    fn above_lower(&self, key: &[u8]) -> bool {
        match self.lower {
            Bound::Included(l) => key >= l,
            Bound::Excluded(l) => key > l,
            Bound::Unbounded => true,
        }
    }

    fn below_upper(&self, key: &[u8]) -> bool {
        match self.upper {
            Bound::Included(u) => key <= u,
            Bound::Excluded(u) => key < u,
            Bound::Unbounded => true,
        }
    }

    /// This range cut at `horizon` (inclusive) on the far side of a scan
    /// going in `direction`, if there is one and it is tighter.
    fn up_to(self, horizon: Option<&'a [u8]>, direction: Direction) -> Span<'a> {
        let mut span = self;
        if let Some(h) = horizon {
            match direction {
                Direction::Forward if self.below_upper(h) => span.upper = Bound::Included(h),
                Direction::Backward if self.above_lower(h) => span.lower = Bound::Included(h),
                _ => {}
            }
        }
        span
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
/// Items are owned `(key, value)` pairs, or the error of a read that failed,
/// as in rust-rocksdb, sled and redb: a table file that does not open
/// ([`Error::Io`]) or a block of it that is damaged ([`Error::Corruption`],
/// naming the file and offset). After an error the iterator ends.
///
/// It comes from [`Db::iter`](crate::Db::iter),
/// [`Db::range`](crate::Db::range) and [`Db::prefix`](crate::Db::prefix)
/// (or a [`Snapshot`](crate::Snapshot)'s), and reads the snapshot it was
/// made from: writes after that are not seen. For RocksDB's
/// `Seek`-`Next`-`Prev` style, see [`Cursor`](crate::Cursor).
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = tributary::Db::open(dir.path(), tributary::Options::default()).unwrap();
/// for k in ["a", "b", "c", "d"] {
///     db.put(k, "v")?;
/// }
/// // `.rev()` walks backwards, from the last key.
/// let (last, _) = db.iter().rev().next().transpose()?.expect("four keys");
/// assert_eq!(last, b"d");
///
/// // Seeks restart the scan inside its range.
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
    /// The chunk fetched from the front, in key order.
    front: Chunk,
    /// The chunk fetched from the back, in reverse key order.
    back: Chunk,
    /// A table read that failed: returned once, then the scan ends.
    error: Option<Error>,
    /// Versions the next refill takes from each source.
    chunk: usize,
    /// One run per source, kept from refill to refill so that a refill
    /// allocates nothing once the buffers have grown.
    scratch: Vec<Run>,
    /// The sources by age (memtables, level-0 tables, deeper levels),
    /// largest first: the order a refill reads them in. Empty until the
    /// first refill.
    order: Vec<usize>,
    /// A key buffer for the next refill's horizon: the one of the bound it
    /// last replaced.
    spare: Vec<u8>,
    /// By source, the table cursor a forward refill left on the first
    /// entry after the horizon, with the index of its table among the
    /// source's: the next forward refill goes on from there instead of
    /// seeking it again (a seek per refill and per source was about 2% of
    /// a long scan). Emptied by a seek and by a backward refill.
    kept: Vec<Option<(usize, TableIter)>>,
}

/// Visible versions, each key with its value or a tombstone, their bytes in
/// one buffer: what a source gives a refill, and the merged chunk.
///
/// Entries are copied in and out of the buffer, never allocated one by
/// one: the only allocations per entry are the two `Vec`s an item hands
/// the caller, made as it is taken, so that a scan frees each one before
/// it allocates the next and the allocator reuses it at once (holding a
/// chunk of 128 allocated items had sent half its time into malloc's slow
/// paths).
#[derive(Debug, Default)]
struct Run {
    bytes: Vec<u8>,
    entries: Vec<Slot>,
}

/// One entry of a [`Run`]: its key at `start`, then its value if a put.
#[derive(Debug, Clone, Copy)]
struct Slot {
    start: usize,
    key_len: usize,
    value_len: Option<usize>,
}

impl Run {
    fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn push(&mut self, key: &[u8], value: Option<&[u8]>) {
        if self.entries.capacity() == 0 {
            // Room for a first chunk of entries like this one, so that a
            // short scan does not grow its buffers a step at a time.
            let len = key.len() + value.map_or(0, <[u8]>::len);
            self.entries.reserve(SCAN_FIRST_CHUNK);
            self.bytes.reserve(SCAN_FIRST_CHUNK * len);
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value.unwrap_or_default());
        self.entries.push(Slot {
            start,
            key_len: key.len(),
            value_len: value.map(<[u8]>::len),
        });
    }

    /// Drops the last entry.
    fn pop(&mut self) {
        if let Some(slot) = self.entries.pop() {
            self.bytes.truncate(slot.start);
        }
    }

    fn key(&self, i: usize) -> &[u8] {
        let slot = self.entries[i];
        &self.bytes[slot.start..slot.start + slot.key_len]
    }

    /// Entry `i`'s value, `None` for a tombstone.
    fn value(&self, i: usize) -> Option<&[u8]> {
        let slot = self.entries[i];
        let at = slot.start + slot.key_len;
        slot.value_len.map(|len| &self.bytes[at..at + len])
    }

    fn last_key(&self) -> Option<&[u8]> {
        self.len().checked_sub(1).map(|i| self.key(i))
    }
}

impl Run {
    /// A forward walk's visible version of `key`: kept unless the run
    /// already ends with the key (a forward walk meets each key's versions
    /// newest first, so the first one visible is the one).
    fn push_forward(&mut self, key: &[u8], value: Option<&[u8]>) {
        if !self.last_key().is_some_and(|last| same_key(last, key)) {
            self.push(key, value);
        }
    }
}

/// Whether `a` and `b` are the same key, their last bytes compared first:
/// a walk's successive keys are sorted, so they share their heads and
/// differ, as a rule, at the end, which a whole compare (a call to
/// `memcmp`, 3% of a long scan) reaches last.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.last() == b.last() && a == b
}

/// A backward walk meets each key's versions oldest first: the newest
/// visible one is the last seen before the key changes. Until then it is
/// the run's last entry, pending.
#[derive(Default)]
struct BackwardWalk {
    pending: bool,
}

impl BackwardWalk {
    /// Settles the pending entry once the walk reaches another key (`key`);
    /// true if the run then holds `limit` entries, and the walk stops.
    fn full_before(&mut self, out: &Run, key: &[u8], limit: usize) -> bool {
        if self.pending && out.last_key() != Some(key) {
            self.pending = false;
            return out.len() >= limit;
        }
        false
    }

    /// A visible version of the key being walked: newer than the pending
    /// one, which it replaces.
    fn visible(&mut self, out: &mut Run, key: &[u8], value: Option<&[u8]>) {
        if self.pending {
            out.pop();
        }
        out.push(key, value);
        self.pending = true;
    }
}

/// A fetched chunk, taken from its head by the end that fetched it and from
/// its tail by the other end once the middle of the range is used up.
#[derive(Debug, Default)]
struct Chunk {
    run: Run,
    head: usize,
    tail: usize,
}

impl Chunk {
    fn clear(&mut self) {
        self.run.clear();
        (self.head, self.tail) = (0, 0);
    }

    /// Makes `run` the chunk, handing back the old buffers for reuse.
    fn fill(&mut self, run: &mut Run) {
        std::mem::swap(&mut self.run, run);
        (self.head, self.tail) = (0, self.run.len());
    }

    /// The live entry at `i`, owned, or `None` for a tombstone.
    fn item(&self, i: usize) -> Option<(Vec<u8>, Vec<u8>)> {
        let value = self.run.value(i)?;
        Some((self.run.key(i).to_vec(), value.to_vec()))
    }

    /// The first live entry left, taken.
    fn pop_head(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        while self.head < self.tail {
            self.head += 1;
            if let Some(item) = self.item(self.head - 1) {
                return Some(item);
            }
        }
        None
    }

    /// The last live entry left, taken.
    fn pop_tail(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        while self.head < self.tail {
            self.tail -= 1;
            if let Some(item) = self.item(self.tail) {
                return Some(item);
            }
        }
        None
    }
}

/// One source of a scan's merge.
enum Source<'a> {
    Memtable(&'a Arc<MemDb>),
    /// One level-0 table, or a deeper level's tables, in key order.
    Tables(&'a [Arc<TableFile>]),
}

/// The number of sources of `view`'s scans: its memtables, its level-0
/// tables, and one per deeper level.
fn source_count(view: &View) -> usize {
    let levels = &view.version.levels;
    1 + view.frozen.len() + levels[0].len() + levels.len() - 1
}

/// The source of `view` whose age is `age` (newest first: the memtables,
/// each level-0 table, then each deeper level), found without building
/// the list of them at every refill.
fn source(view: &View, age: usize) -> Source<'_> {
    let memtables = 1 + view.frozen.len();
    if age == 0 {
        return Source::Memtable(&view.active);
    }
    if age < memtables {
        return Source::Memtable(&view.frozen[age - 1].memdb);
    }
    let levels = &view.version.levels;
    let table = age - memtables;
    match levels[0].get(table) {
        Some(file) => Source::Tables(std::slice::from_ref(file)),
        None => Source::Tables(&levels[1 + table - levels[0].len()]),
    }
}

/// The ages of `view`'s sources that hold entries, largest first: the
/// order a refill reads them in. A source empty now holds nothing a scan
/// of the view can see (a memtable's writes after the snapshot are above
/// its sequence number), so it is left out: a settled database's scan
/// reads its one level and nothing else.
fn scan_order(view: &View) -> Vec<usize> {
    let memtables = 1 + view.frozen.len();
    let tables = view.table_sizes.get_or_init(|| {
        (memtables..source_count(view))
            .map(|age| match source(view, age) {
                Source::Tables(files) => files.iter().map(|f| f.meta.size).sum(),
                Source::Memtable(_) => unreachable!("ages past the memtables are tables"),
            })
            .collect()
    });
    let mut sized: Vec<(u64, usize)> = view
        .memtables()
        .enumerate()
        .filter(|(_, m)| !m.is_empty())
        .map(|(age, m)| (m.used() as u64, age))
        .chain(
            tables
                .iter()
                .enumerate()
                .filter(|(_, &size)| size > 0)
                .map(|(i, &size)| (size, memtables + i)),
        )
        .collect();
    // Largest first; among equals, the newest, as the stable sort by size
    // alone did.
    sized.sort_unstable_by_key(|&(size, age)| (std::cmp::Reverse(size), age));
    sized.into_iter().map(|(_, age)| age).collect()
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
            front: Chunk::default(),
            back: Chunk::default(),
            error: None,
            chunk: SCAN_FIRST_CHUNK,
            scratch: Vec::new(),
            order: Vec::new(),
            spare: Vec::new(),
            kept: Vec::new(),
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

    /// Restarts the scan on `lower..upper`, which must lie within its
    /// range.
    pub(super) fn restart(&mut self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) {
        self.remaining = ScanRange { lower, upper };
        self.exhausted = self.remaining.is_empty();
        self.front.clear();
        self.back.clear();
        self.chunk = SCAN_FIRST_CHUNK;
        self.kept.clear();
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
        let mut horizon: Option<Vec<u8>> = None;
        if self.order.is_empty() {
            // The view never changes, so neither does the order: found once
            // per iterator (and again only while every source is empty,
            // whose one refill ends the scan).
            self.order = scan_order(&self.view);
        }
        let sources = source_count(&self.view);
        let order = &self.order;
        if self.scratch.len() < sources {
            self.scratch.resize_with(sources, Run::default);
        }
        if direction == Direction::Backward {
            // Kept positions are a forward walk's: they do not fit a
            // backward one, nor the forward walk after it.
            self.kept.clear();
        }
        if self.kept.len() < sources {
            self.kept.resize_with(sources, || None);
        }
        for &age in order {
            // `remaining` cut at the horizon so far.
            let range = self.remaining.span().up_to(horizon.as_deref(), direction);
            let run = &mut self.scratch[age];
            run.clear();
            let read = match source(&self.view, age) {
                Source::Memtable(memdb) => {
                    let mut it = memdb.iter();
                    visible_versions(&mut it, self.seq, range, direction, limit, run, false);
                    Ok(())
                }
                Source::Tables(files) => {
                    let kept = &mut self.kept[age];
                    level_versions(files, self.seq, range, direction, limit, run, kept)
                }
            };
            if let Err(e) = read {
                self.error = Some(e);
                self.exhausted = true;
                self.front.clear();
                self.back.clear();
                self.kept.clear();
                return;
            }
            if let Some(last) = run.last_key().filter(|_| run.len() == limit) {
                // Read up to the horizon so far: its last key is at or
                // before it. Its bytes go in the buffer of the bound the
                // last refill replaced, so a refill allocates no key.
                let mut h = horizon
                    .take()
                    .unwrap_or_else(|| std::mem::take(&mut self.spare));
                h.clear();
                h.extend_from_slice(last);
                horizon = Some(h);
            }
        }
        for &age in order {
            // A source's cursor goes on from where it stands only if the
            // next refill would seek it there: it read the whole chunk up
            // to the final horizon, whose later versions it has passed,
            // and stands on a later key. A source that read less stopped
            // at a bound, or read past the horizon, and is sought again.
            let run = &self.scratch[age];
            let fits = match (&self.kept[age], horizon.as_deref()) {
                (Some((_, it)), Some(h)) => {
                    run.len() == limit && run.last_key() == Some(h) && !same_key(it.entry().0, h)
                }
                _ => false,
            };
            if !fits {
                self.kept[age] = None;
            }
        }
        let chunk = match direction {
            Direction::Forward => &mut self.front,
            Direction::Backward => &mut self.back,
        };
        let single = {
            let mut filled = order.iter().filter(|&&age| self.scratch[age].len() > 0);
            match (filled.next(), filled.next()) {
                (Some(&age), None) => Some(age),
                _ => None,
            }
        };
        match single {
            // A single source: the horizon is its own last key, so the
            // whole run is the chunk, handed over without a copy.
            Some(age) => chunk.fill(&mut self.scratch[age]),
            None => {
                let runs: Vec<(usize, &Run)> = order
                    .iter()
                    .map(|&age| (age, &self.scratch[age]))
                    .filter(|(_, run)| run.len() > 0)
                    .collect();
                let mut merged = std::mem::take(&mut chunk.run);
                merged.clear();
                merge_runs(&runs, horizon.as_deref(), direction, &mut merged);
                chunk.fill(&mut merged);
            }
        }
        match horizon {
            None => self.exhausted = true,
            Some(h) => {
                let bound = match direction {
                    Direction::Forward => &mut self.remaining.lower,
                    Direction::Backward => &mut self.remaining.upper,
                };
                if let Bound::Included(old) | Bound::Excluded(old) =
                    std::mem::replace(bound, Bound::Excluded(h))
                {
                    self.spare = old;
                }
            }
        }
        if self.remaining.is_empty() {
            self.exhausted = true;
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
            if let Some(item) = self.front.pop_head() {
                return Some(Ok(item));
            }
            if self.exhausted {
                // The middle is used up: what is left sits in the back chunk.
                return self.back.pop_tail().map(Ok);
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
            if let Some(item) = self.back.pop_head() {
                return Some(Ok(item));
            }
            if self.exhausted {
                return self.front.pop_tail().map(Ok);
            }
            self.refill(Direction::Backward);
        }
    }
}

/// Merges the sources' `runs` (age, versions sorted in `direction`) into
/// `out`, up to `horizon` (inclusive): for a key in several runs the
/// youngest (lowest age) wins, and a tombstone that wins hides the key.
fn merge_runs(runs: &[(usize, &Run)], horizon: Option<&[u8]>, direction: Direction, out: &mut Run) {
    let before = |a: &[u8], b: &[u8]| match direction {
        Direction::Forward => a < b,
        Direction::Backward => a > b,
    };
    let within = |key: &[u8]| horizon.is_none_or(|h| !before(h, key));
    // The position of the next version in each run.
    let mut next = vec![0usize; runs.len()];
    loop {
        // The next key in `direction`; on a tie, the youngest run's.
        let mut best: Option<usize> = None;
        for (i, (age, run)) in runs.iter().enumerate() {
            if next[i] >= run.len() {
                continue;
            }
            let key = run.key(next[i]);
            let better = best.is_none_or(|b| {
                let (b_age, b_run) = runs[b];
                let b_key = b_run.key(next[b]);
                before(key, b_key) || (key == b_key && *age < b_age)
            });
            if better {
                best = Some(i);
            }
        }
        let Some(b) = best else { break };
        let (_, run) = runs[b];
        let at = next[b];
        let key = run.key(at);
        if !within(key) {
            break;
        }
        // Older versions of the key in other runs are hidden by it.
        for (i, (_, other)) in runs.iter().enumerate() {
            if next[i] < other.len() && other.key(next[i]) == key {
                next[i] += 1;
            }
        }
        if let Some(value) = run.value(at) {
            out.push(key, Some(value));
        }
    }
}

/// Up to `limit` visible versions inside `range`, from the given end, of
/// `files`: one level-0 table, or a deeper level's tables, which do not
/// overlap and are in key order, so they read as one run (LevelDB's
/// concatenating iterator): only the tables that overlap the range are
/// read, and only until the chunk is full.
///
/// `kept` is where the last forward refill left the level's cursor, if it
/// is to go on from there: it then stands on the first entry of the range
/// (the one a seek would find), and is taken. A forward walk leaves its
/// cursor there for the caller to keep or drop.
fn level_versions(
    files: &[Arc<TableFile>],
    seq: SeqNum,
    range: Span<'_>,
    direction: Direction,
    limit: usize,
    out: &mut Run,
    kept: &mut Option<(usize, TableIter)>,
) -> Result<(), Error> {
    // The tables are in key order without overlap, so both tests are
    // monotone: the ones overlapping the range are one slice, found by
    // two binary searches instead of a walk over the level.
    let starts_in = |f: &Arc<TableFile>| range.below_upper(f.user_range().0);
    let ends_before = |f: &Arc<TableFile>| !range.above_lower(f.user_range().1);
    // An open end takes no search (each probe is a table's key, elsewhere
    // in memory, and a compare).
    let first = match range.lower {
        Bound::Unbounded => 0,
        _ => files.partition_point(ends_before),
    };
    let end = match range.upper {
        Bound::Unbounded => files.len(),
        _ => files.partition_point(starts_in).max(first),
    };
    let (mut level, placed, base) = match kept.take() {
        // The kept table is the first a seek would enter (the tables
        // before it end at or before the lower bound); cut as a seek's at
        // `end`, and never before the table itself, whose entries then
        // stop the walk at the upper bound as a seek's would.
        Some((at, it)) => {
            debug_assert_eq!(at, first, "a kept cursor in the table a seek enters");
            let files = &files[at..end.max(at + 1)];
            (LevelCursor::resume(files, it, Recheck::No), true, at)
        }
        None => (
            LevelCursor::new(&files[first..end], Recheck::No),
            false,
            first,
        ),
    };
    visible_versions(&mut level, seq, range, direction, limit, out, placed);
    if let Some(e) = level.take_error() {
        return Err(e);
    }
    if direction == Direction::Forward {
        *kept = level.into_position().map(|(i, it)| (base + i, it));
    }
    Ok(())
}

/// Visible versions of the source under `it` at `seq` inside `range`, from
/// the given end, appended to `out` until it holds `limit`: for each key,
/// its newest version at or below `seq`, with `None` for a tombstone. The
/// one walk of every source, a memtable's or a table's. A forward walk
/// starts where `it` stands if `placed` (on the first entry of the range,
/// where a seek would end), else it seeks.
fn visible_versions(
    it: &mut impl EntryCursor,
    seq: SeqNum,
    range: Span<'_>,
    direction: Direction,
    limit: usize,
    out: &mut Run,
    placed: bool,
) {
    match direction {
        Direction::Forward => {
            match range.lower {
                _ if placed => {}
                Bound::Unbounded => it.seek_to_first(),
                Bound::Included(k) | Bound::Excluded(k) => it.seek(k, SeqNum(batch::MAX_SEQ)),
            }
            // Keys only grow: once one is past the lower bound (an
            // excluded seek key, or a horizon), every later one is too,
            // and the walk stops comparing them with it.
            let mut inside = matches!(range.lower, Bound::Unbounded);
            while it.valid() && out.len() < limit {
                let (user, entry_seq, kind) = it.entry();
                if !range.below_upper(user) {
                    break;
                }
                if entry_seq <= seq && (inside || range.above_lower(user)) {
                    inside = true;
                    out.push_forward(user, (kind == Kind::Put).then(|| it.value()));
                }
                it.next();
            }
        }
        Direction::Backward => {
            match range.upper {
                Bound::Unbounded => it.seek_to_last(),
                Bound::Included(k) | Bound::Excluded(k) => {
                    // After every version of `k`, then one step back.
                    it.seek(k, SeqNum::ZERO);
                    while it.valid() && it.entry().0 == k {
                        it.next();
                    }
                    if it.valid() {
                        it.prev();
                    } else if !it.failed() {
                        it.seek_to_last();
                    }
                }
            }
            let mut walk = BackwardWalk::default();
            // Keys only shrink: as forward, past the upper bound once means
            // past it for good.
            let mut inside = matches!(range.upper, Bound::Unbounded);
            while it.valid() {
                let (user, entry_seq, kind) = it.entry();
                if !range.above_lower(user) || walk.full_before(out, user, limit) {
                    break;
                }
                if entry_seq <= seq && (inside || range.below_upper(user)) {
                    inside = true;
                    walk.visible(out, user, (kind == Kind::Put).then(|| it.value()));
                }
                it.prev();
            }
        }
    }
}

//! Model-based property tests: random mixes of batches (puts and deletes),
//! snapshot gets, cursor walks and seeks, and ranges with every bound kind,
//! checked against a sorted-vector model, for the bytewise and a reverse
//! comparator.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use batch::{Batch, Kind, SeqNum, MAX_SEQ};
use memdb::{Comparator, Inserter, Lookup, MemDb};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// A batch of puts (`Some`) and deletes (`None`), applied `gap` sequence
    /// numbers after the last one.
    Apply {
        records: Vec<(Vec<u8>, Option<Vec<u8>>)>,
        gap: u64,
    },
    Get {
        key: Vec<u8>,
        snapshot: u64,
    },
    /// Positions a cursor, then steps: `true` is `next`, `false` is `prev`.
    Walk {
        start: Start,
        steps: Vec<bool>,
    },
    /// A range; `ends`: `true` takes from the front, `false` from the back.
    Range {
        start: Bound<Vec<u8>>,
        end: Bound<Vec<u8>>,
        snapshot: u64,
        ends: Vec<bool>,
    },
}

#[derive(Debug, Clone)]
enum Start {
    First,
    Last,
    Seek { key: Vec<u8>, snapshot: u64 },
}

/// One entry of the model: `(user_key, seq, kind, value)`.
type Entry = (Vec<u8>, u64, Kind, Vec<u8>);

/// The memtable as a sorted vector, ordered like the memtable: user key by
/// `cmp`, then sequence number descending.
struct Model {
    cmp: fn(&[u8], &[u8]) -> Ordering,
    entries: Vec<Entry>,
    last_seq: u64,
    used: usize,
}

impl Model {
    fn order(&self, a: (&[u8], u64), b: (&[u8], u64)) -> Ordering {
        (self.cmp)(a.0, b.0).then(b.1.cmp(&a.1))
    }

    fn insert(&mut self, entry: Entry) {
        let idx = self
            .entries
            .partition_point(|e| self.order((&e.0, e.1), (&entry.0, entry.1)) == Ordering::Less);
        self.entries.insert(idx, entry);
    }

    /// Index of the first entry at or after `(key, snapshot)`.
    fn seek(&self, key: &[u8], snapshot: u64) -> usize {
        let snapshot = snapshot.min(MAX_SEQ);
        self.entries
            .partition_point(|e| self.order((&e.0, e.1), (key, snapshot)) == Ordering::Less)
    }

    fn get(&self, key: &[u8], snapshot: u64) -> Lookup<'_> {
        match self.entries.get(self.seek(key, snapshot)) {
            Some((k, _, Kind::Put, v)) if k == key => Lookup::Found(v),
            Some((k, _, Kind::Delete, _)) if k == key => Lookup::Deleted,
            _ => Lookup::Absent,
        }
    }

    fn in_bounds(&self, key: &[u8], start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> bool {
        let after_start = match start {
            Bound::Included(s) => (self.cmp)(key, s) != Ordering::Less,
            Bound::Excluded(s) => (self.cmp)(key, s) == Ordering::Greater,
            Bound::Unbounded => true,
        };
        let before_end = match end {
            Bound::Included(e) => (self.cmp)(key, e) != Ordering::Greater,
            Bound::Excluded(e) => (self.cmp)(key, e) == Ordering::Less,
            Bound::Unbounded => true,
        };
        after_start && before_end
    }

    /// The visible `(key, value)` pairs in the range at `snapshot`.
    fn range(
        &self,
        start: &Bound<Vec<u8>>,
        end: &Bound<Vec<u8>>,
        snapshot: u64,
    ) -> VecDeque<(Vec<u8>, Vec<u8>)> {
        let mut out = VecDeque::new();
        let mut last_key: Option<&[u8]> = None;
        for (key, seq, kind, value) in &self.entries {
            if last_key == Some(key) || *seq > snapshot || !self.in_bounds(key, start, end) {
                continue;
            }
            last_key = Some(key);
            if *kind == Kind::Put {
                out.push_back((key.clone(), value.clone()));
            }
        }
        out
    }
}

fn bytewise(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

fn reverse(a: &[u8], b: &[u8]) -> Ordering {
    b.cmp(a)
}

struct ReverseCmp;

impl Comparator for ReverseCmp {
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        reverse(a, b)
    }

    fn name(&self) -> &str {
        "test.Reverse"
    }
}

/// Short keys over a three-letter alphabet, so that keys repeat and are
/// prefixes of each other.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(&b"abc"[..]), 0..4)
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        key().prop_map(Bound::Included),
        key().prop_map(Bound::Excluded),
        Just(Bound::Unbounded),
    ]
}

/// A snapshot: usually relative to the last sequence number (resolved when
/// the op runs), sometimes past everything.
fn snapshot() -> impl Strategy<Value = u64> {
    prop_oneof![8 => any::<u64>().prop_map(|s| s % 1024), 1 => Just(u64::MAX)]
}

fn op() -> impl Strategy<Value = Op> {
    let record = (
        key(),
        prop::option::weighted(0.75, prop::collection::vec(any::<u8>(), 0..12)),
    );
    prop_oneof![
        4 => (prop::collection::vec(record, 0..6), 0..3u64)
            .prop_map(|(records, gap)| Op::Apply { records, gap }),
        3 => (key(), snapshot()).prop_map(|(key, snapshot)| Op::Get { key, snapshot }),
        2 => (
            prop_oneof![
                Just(Start::First),
                Just(Start::Last),
                (key(), snapshot()).prop_map(|(key, snapshot)| Start::Seek { key, snapshot }),
            ],
            prop::collection::vec(any::<bool>(), 0..12),
        )
            .prop_map(|(start, steps)| Op::Walk { start, steps }),
        2 => (bound(), bound(), snapshot(), prop::collection::vec(any::<bool>(), 0..12))
            .prop_map(|(start, end, snapshot, ends)| Op::Range { start, end, snapshot, ends }),
    ]
}

/// A snapshot drawn as `raw`, mapped to `0..=last_seq + 1` unless it is
/// `u64::MAX`.
fn resolve(raw: u64, last_seq: u64) -> u64 {
    if raw == u64::MAX {
        raw
    } else {
        raw % (last_seq + 2)
    }
}

fn cursor_entry(it: &memdb::Iter<'_>) -> Option<Entry> {
    it.valid().then(|| {
        (
            it.user_key().to_vec(),
            it.seq().0,
            it.kind(),
            it.value().to_vec(),
        )
    })
}

fn run(ops: &[Op], cmp: fn(&[u8], &[u8]) -> Ordering, memdb: Arc<MemDb>, mut inserter: Inserter) {
    let mut model = Model {
        cmp,
        entries: Vec::new(),
        last_seq: 0,
        used: 0,
    };
    for op in ops {
        match op {
            Op::Apply { records, gap } => {
                let mut b = Batch::new();
                for (key, value) in records {
                    match value {
                        Some(value) => b.put(key, value),
                        None => b.delete(key),
                    }
                }
                let first = model.last_seq + 1 + gap;
                inserter.apply(SeqNum(first), &b);
                for (idx, (key, value)) in records.iter().enumerate() {
                    let kind = if value.is_some() {
                        Kind::Put
                    } else {
                        Kind::Delete
                    };
                    let value = value.clone().unwrap_or_default();
                    model.insert((key.clone(), first + idx as u64, kind, value));
                }
                if !records.is_empty() {
                    model.last_seq = first + records.len() as u64 - 1;
                }
                model.used += b.internal_len();
                assert_eq!(memdb.len(), model.entries.len());
                assert_eq!(memdb.used(), model.used);
                assert_eq!(memdb.free(), memdb.capacity().saturating_sub(model.used));
            }
            Op::Get { key, snapshot } => {
                let snapshot = resolve(*snapshot, model.last_seq);
                assert_eq!(
                    memdb.get(key, SeqNum(snapshot)),
                    model.get(key, snapshot),
                    "get {key:?} at {snapshot}"
                );
            }
            Op::Walk { start, steps } => {
                let mut it = memdb.iter();
                let mut pos = match start {
                    Start::First => {
                        it.seek_to_first();
                        0
                    }
                    Start::Last => {
                        it.seek_to_last();
                        model.entries.len().wrapping_sub(1)
                    }
                    Start::Seek { key, snapshot } => {
                        let snapshot = resolve(*snapshot, model.last_seq);
                        it.seek(key, SeqNum(snapshot));
                        model.seek(key, snapshot)
                    }
                };
                assert_eq!(
                    cursor_entry(&it),
                    model.entries.get(pos).cloned(),
                    "after {start:?}"
                );
                for &forward in steps {
                    if !it.valid() {
                        break;
                    }
                    if forward {
                        it.next();
                        pos += 1;
                    } else {
                        it.prev();
                        pos = pos.wrapping_sub(1);
                    }
                    assert_eq!(cursor_entry(&it), model.entries.get(pos).cloned());
                    if it.valid() {
                        let mut internal_key = it.user_key().to_vec();
                        internal_key.extend_from_slice(
                            &((it.seq().0 << 8) | it.kind() as u64).to_le_bytes(),
                        );
                        assert_eq!(it.key(), &internal_key[..]);
                    }
                }
            }
            Op::Range {
                start,
                end,
                snapshot,
                ends,
            } => {
                let snapshot = resolve(*snapshot, model.last_seq);
                let bounds = (
                    start.as_ref().map(Vec::as_slice),
                    end.as_ref().map(Vec::as_slice),
                );
                let mut expect = model.range(start, end, snapshot);
                let mut range = memdb.range(bounds, SeqNum(snapshot));
                let as_owned = |(k, v): (&[u8], &[u8])| (k.to_vec(), v.to_vec());
                for &front in ends {
                    if front {
                        assert_eq!(range.next().map(as_owned), expect.pop_front());
                    } else {
                        assert_eq!(range.next_back().map(as_owned), expect.pop_back());
                    }
                }
                // Then the rest, forward.
                assert_eq!(range.map(as_owned).collect::<Vec<_>>(), Vec::from(expect));
            }
        }
    }
    // A full walk each way matches the model.
    let mut it = memdb.iter();
    it.seek_to_first();
    for entry in &model.entries {
        assert_eq!(cursor_entry(&it).as_ref(), Some(entry));
        it.next();
    }
    assert!(!it.valid());
    it.seek_to_last();
    for entry in model.entries.iter().rev() {
        assert_eq!(cursor_entry(&it).as_ref(), Some(entry));
        it.prev();
    }
    assert!(!it.valid());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn bytewise_matches_model(ops in prop::collection::vec(op(), 1..60), capacity in 0..400usize) {
        let (memdb, inserter) = MemDb::new(capacity);
        run(&ops, bytewise, memdb, inserter);
    }

    #[test]
    fn reverse_comparator_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        let (memdb, inserter) = MemDb::with_comparator(1 << 20, Arc::new(ReverseCmp));
        run(&ops, reverse, memdb, inserter);
    }
}

//! The sorted run: frozen memtables merged into one flat, immutable table.
//!
//! Every frozen memtable a read has to consult costs a filter probe, and a
//! skiplist search when the filter says "maybe". Compaction merges all of
//! them, with the run before them, into one new run: the newest version of
//! each key, tombstones dropped (the run is the bottom of the view, so there
//! is nothing older for a tombstone to hide).
//!
//! # Layout
//!
//! - `data`: one record per key, in key order: key length and value length
//!   as little-endian `u32`, then the key, then the value. A get touches one
//!   or two cache lines of it.
//! - `offsets`: where each record starts, in key order; scans binary-search
//!   it.
//! - `index`: an open-addressing hash table from a key to its record, for
//!   gets. A slot is `0` when empty, else the top [`TAG_BITS`] of the key's
//!   hash above `offset + 1`, so a probe compares keys only when the tags
//!   agree.
//!
//! # Invariant: a run is read only at or above its newest sequence number
//!
//! Dropping old versions means a run cannot answer for a snapshot older than
//! the newest record merged into it ([`SortedRun::max_seq`]). `Db::snapshot`
//! keeps this: it takes a sequence number and a view together only when the
//! view's run is not newer than the number (see `Shared::snapshot`).

use crate::filter::KeyHash;
use crate::tuning::RUN_INDEX_SLOTS_PER_KEY;
use batch::{Kind, SeqNum};
use memdb::MemDb;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Bound;

/// Bits of the hash kept in an index slot beside the record offset.
const TAG_BITS: u32 = 24;
/// Bits of an index slot that hold `offset + 1`.
const OFFSET_BITS: u32 = 64 - TAG_BITS;
/// Bytes of a record header: key length and value length.
const HEADER: usize = 8;

/// An immutable table of live keys and values in key order.
#[derive(Debug, Default)]
pub(crate) struct SortedRun {
    data: Vec<u8>,
    offsets: Vec<usize>,
    /// Invariant: a power of two in length (or empty), under 50% full.
    index: Vec<u64>,
    max_seq: SeqNum,
}

/// Why a compaction could not build a run.
#[derive(Debug)]
pub(crate) struct TooLarge;

impl SortedRun {
    /// Merges `memtables` (newest first, all frozen) over `below`, the run
    /// they sit on, into a new run.
    ///
    /// Fails only if the result would not fit the index's offsets (1 TiB of
    /// records).
    pub fn merge(memtables: &[&MemDb], below: Option<&SortedRun>) -> Result<SortedRun, TooLarge> {
        let mut cursors: Vec<Cursor<'_>> = memtables
            .iter()
            .map(|m| {
                let mut it = m.iter();
                it.seek_to_first();
                Cursor::Memtable(it)
            })
            .collect();
        if let Some(run) = below {
            cursors.push(Cursor::Run { run, next: 0 });
        }
        // (key, age): the smallest key first and, for one key, the newest
        // source (lowest age) first.
        let mut heap: BinaryHeap<Reverse<(&[u8], usize)>> = cursors
            .iter()
            .enumerate()
            .filter_map(|(age, c)| c.key().map(|k| Reverse((k, age))))
            .collect();
        let mut builder = Builder::default();
        let mut max_seq = below.map_or(SeqNum::ZERO, |r| r.max_seq);
        let mut last_key: Option<&[u8]> = None;
        while let Some(Reverse((key, age))) = heap.pop() {
            let cursor = &mut cursors[age];
            let (seq, value) = cursor.entry();
            max_seq = max_seq.max(seq);
            // Only the first version popped for a key is its newest: later
            // ones come from older sources, or are older versions in the
            // same memtable (internal-key order puts them after).
            if last_key != Some(key) {
                last_key = Some(key);
                if let Some(value) = value {
                    builder.push(key, value)?;
                }
            }
            cursor.advance();
            if let Some(next) = cursors[age].key() {
                heap.push(Reverse((next, age)));
            }
        }
        let mut run = builder.finish();
        run.max_seq = max_seq;
        Ok(run)
    }

    /// The newest sequence number merged into the run.
    pub fn max_seq(&self) -> SeqNum {
        self.max_seq
    }

    /// Live keys in the run.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Bytes of keys, values and record headers.
    pub fn data_bytes(&self) -> usize {
        self.data.len()
    }

    /// The value of `key` (whose hash is `hash`), if the run holds it.
    pub fn get(&self, key: &[u8], hash: KeyHash) -> Option<&[u8]> {
        if self.index.is_empty() {
            return None;
        }
        let mask = self.index.len() - 1;
        let h = hash.value();
        let tag = h >> OFFSET_BITS;
        let mut slot = (h as usize) & mask;
        loop {
            let entry = self.index[slot];
            if entry == 0 {
                return None;
            }
            if entry >> OFFSET_BITS == tag {
                let offset = (entry & ((1 << OFFSET_BITS) - 1)) as usize - 1;
                let (k, v) = self.record(offset);
                if k == key {
                    return Some(v);
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Up to `limit` records inside `(lower, upper)`, from the front or, with
    /// `backward`, from the back.
    pub fn slice(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        backward: bool,
        limit: usize,
    ) -> Vec<(&[u8], &[u8])> {
        // First index whose key is past the bound.
        let start = match lower {
            Bound::Unbounded => 0,
            Bound::Included(l) => self.offsets.partition_point(|&o| self.record(o).0 < l),
            Bound::Excluded(l) => self.offsets.partition_point(|&o| self.record(o).0 <= l),
        };
        let end = match upper {
            Bound::Unbounded => self.offsets.len(),
            Bound::Included(u) => self.offsets.partition_point(|&o| self.record(o).0 <= u),
            Bound::Excluded(u) => self.offsets.partition_point(|&o| self.record(o).0 < u),
        };
        if start >= end {
            return Vec::new();
        }
        let n = limit.min(end - start);
        let picked = if backward {
            &self.offsets[end - n..end]
        } else {
            &self.offsets[start..start + n]
        };
        let records = picked.iter().map(|&o| self.record(o));
        if backward {
            records.rev().collect()
        } else {
            records.collect()
        }
    }

    /// The key and value of the record at `offset`.
    fn record(&self, offset: usize) -> (&[u8], &[u8]) {
        let header = &self.data[offset..offset + HEADER];
        let key_len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
        let value_len = u32::from_le_bytes(header[4..].try_into().unwrap()) as usize;
        let key_start = offset + HEADER;
        let value_start = key_start + key_len;
        (
            &self.data[key_start..value_start],
            &self.data[value_start..value_start + value_len],
        )
    }
}

/// One input of a merge.
enum Cursor<'a> {
    Memtable(memdb::Iter<'a>),
    Run { run: &'a SortedRun, next: usize },
}

impl<'a> Cursor<'a> {
    fn key(&self) -> Option<&'a [u8]> {
        match self {
            Cursor::Memtable(it) => it.valid().then(|| it.user_key()),
            Cursor::Run { run, next } => run.offsets.get(*next).map(|&o| run.record(o).0),
        }
    }

    /// The current entry's sequence number and value (`None`: a tombstone).
    fn entry(&self) -> (SeqNum, Option<&'a [u8]>) {
        match self {
            Cursor::Memtable(it) => match it.kind() {
                Kind::Put => (it.seq(), Some(it.value())),
                Kind::Delete => (it.seq(), None),
            },
            Cursor::Run { run, next } => (run.max_seq, Some(run.record(run.offsets[*next]).1)),
        }
    }

    fn advance(&mut self) {
        match self {
            Cursor::Memtable(it) => it.next(),
            Cursor::Run { next, .. } => *next += 1,
        }
    }
}

/// Appends records in key order, then builds the index.
#[derive(Default)]
struct Builder {
    data: Vec<u8>,
    offsets: Vec<usize>,
}

impl Builder {
    fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), TooLarge> {
        let offset = self.data.len();
        let (Ok(key_len), Ok(value_len)) = (u32::try_from(key.len()), u32::try_from(value.len()))
        else {
            return Err(TooLarge);
        };
        if (offset + HEADER + key.len() + value.len()) as u64 >= 1 << OFFSET_BITS {
            return Err(TooLarge);
        }
        self.data.extend_from_slice(&key_len.to_le_bytes());
        self.data.extend_from_slice(&value_len.to_le_bytes());
        self.data.extend_from_slice(key);
        self.data.extend_from_slice(value);
        self.offsets.push(offset);
        Ok(())
    }

    fn finish(self) -> SortedRun {
        let mut run = SortedRun {
            data: self.data,
            offsets: self.offsets,
            index: Vec::new(),
            max_seq: SeqNum::ZERO,
        };
        if run.offsets.is_empty() {
            return run;
        }
        let slots = (run.offsets.len() * RUN_INDEX_SLOTS_PER_KEY).next_power_of_two();
        let mask = slots - 1;
        let mut index = vec![0u64; slots];
        for &offset in &run.offsets {
            let h = KeyHash::new(run.record(offset).0).value();
            let mut slot = (h as usize) & mask;
            while index[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            index[slot] = (h >> OFFSET_BITS << OFFSET_BITS) | (offset as u64 + 1);
        }
        run.index = index;
        run
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use batch::Batch;
    use std::collections::BTreeMap;

    fn memtable(first_seq: u64, ops: &[(&str, Option<&str>)]) -> std::sync::Arc<MemDb> {
        let (memdb, mut inserter) = MemDb::new(1 << 20);
        let mut b = Batch::new();
        for (k, v) in ops {
            match v {
                Some(v) => b.put(k.as_bytes(), v.as_bytes()),
                None => b.delete(k.as_bytes()),
            }
        }
        inserter.apply(SeqNum(first_seq), &b);
        memdb
    }

    fn get(run: &SortedRun, key: &str) -> Option<String> {
        run.get(key.as_bytes(), KeyHash::new(key.as_bytes()))
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
    }

    #[test]
    fn newest_version_wins_and_tombstones_drop() {
        let old = memtable(1, &[("a", Some("1")), ("b", Some("1")), ("c", Some("1"))]);
        // Two versions of `a` in one memtable: the later one is newer.
        let new = memtable(
            4,
            &[
                ("a", Some("2")),
                ("b", None),
                ("d", Some("2")),
                ("a", Some("3")),
            ],
        );
        let run = SortedRun::merge(&[&new, &old], None).unwrap();
        assert_eq!(get(&run, "a").as_deref(), Some("3"));
        assert_eq!(get(&run, "b"), None);
        assert_eq!(get(&run, "c").as_deref(), Some("1"));
        assert_eq!(get(&run, "d").as_deref(), Some("2"));
        assert_eq!(get(&run, "e"), None);
        assert_eq!(run.len(), 3);
        assert_eq!(run.max_seq(), SeqNum(7));

        // A second merge over the run: a tombstone above it hides its key.
        let newer = memtable(8, &[("c", None), ("e", Some("4"))]);
        let run2 = SortedRun::merge(&[&newer], Some(&run)).unwrap();
        let all: Vec<(&[u8], &[u8])> = run2.slice(Bound::Unbounded, Bound::Unbounded, false, 10);
        assert_eq!(
            all,
            vec![
                (&b"a"[..], &b"3"[..]),
                (&b"d"[..], &b"2"[..]),
                (&b"e"[..], &b"4"[..])
            ]
        );
        assert_eq!(run2.max_seq(), SeqNum(9));
    }

    #[test]
    fn matches_a_model_over_many_keys() {
        let mut model = BTreeMap::new();
        let mut tables = Vec::new();
        let mut seq = 1;
        // Five memtables, oldest first, with overlapping keys and deletes.
        for t in 0..5u64 {
            let mut ops = Vec::new();
            for i in 0..2000u64 {
                let k = format!("key{:06}", (i * 7 + t * 311) % 3001);
                let v = (i % 13 != 0).then(|| format!("v{t}-{i}"));
                ops.push((k, v));
            }
            let ops_ref: Vec<(&str, Option<&str>)> = ops
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect();
            tables.push(memtable(seq, &ops_ref));
            seq += ops.len() as u64;
            for (k, v) in ops {
                match v {
                    Some(v) => model.insert(k, v),
                    None => model.remove(&k),
                };
            }
        }
        // Merge the oldest two first, then the rest over that run.
        let first = SortedRun::merge(&[&tables[1], &tables[0]], None).unwrap();
        let rest: Vec<&MemDb> = tables[2..].iter().rev().map(|m| &**m).collect();
        let run = SortedRun::merge(&rest, Some(&first)).unwrap();
        assert_eq!(run.len(), model.len());
        for i in 0..3100u64 {
            let k = format!("key{i:06}");
            assert_eq!(get(&run, &k), model.get(&k).cloned(), "{k}");
        }
        // Scans from both ends, with every kind of bound.
        let lo = b"key001000".as_slice();
        let hi = b"key002000".as_slice();
        let want: Vec<&String> = model
            .range::<str, _>((Bound::Excluded("key001000"), Bound::Included("key002000")))
            .map(|(k, _)| k)
            .collect();
        let fwd = run.slice(Bound::Excluded(lo), Bound::Included(hi), false, usize::MAX);
        assert_eq!(fwd.len(), want.len());
        assert!(fwd.iter().zip(&want).all(|(r, k)| r.0 == k.as_bytes()));
        let back = run.slice(Bound::Included(lo), Bound::Excluded(hi), true, 5);
        let want_back: Vec<&String> = model
            .range::<str, _>((Bound::Included("key001000"), Bound::Excluded("key002000")))
            .rev()
            .take(5)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(back.len(), 5);
        assert!(back
            .iter()
            .zip(&want_back)
            .all(|(r, k)| r.0 == k.as_bytes()));
    }

    #[test]
    fn empty_inputs_give_an_empty_run() {
        let empty = memtable(1, &[("a", None)]);
        let run = SortedRun::merge(&[&empty], None).unwrap();
        assert_eq!(run.len(), 0);
        assert_eq!(get(&run, "a"), None);
        assert!(run
            .slice(Bound::Unbounded, Bound::Unbounded, true, 3)
            .is_empty());
    }
}

//! The RocksDB-style cursor against a `BTreeMap` model: random seeks and
//! steps in both directions, over a database whose entries are spread
//! across the memtable, frozen memtables, level 0 and deeper levels, with
//! deletes hiding older versions, read at the newest state and at a
//! snapshot taken halfway.

mod common;

use common::options;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::Bound;
use tributary::fs::FaultFs;
use tributary::{Cursor, Db};

/// A write of the workload: a put of `(key, value)` or a delete.
#[derive(Debug, Clone)]
enum Write {
    Put(u8, u16),
    Delete(u8),
    /// `Db::compact`: everything into tables of one level.
    Compact,
}

/// A move of the cursor.
#[derive(Debug, Clone)]
enum Move {
    First,
    Last,
    Seek(u8),
    SeekForPrev(u8),
    Next,
    Prev,
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        8 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Write::Put(k, v)),
        3 => any::<u8>().prop_map(Write::Delete),
        1 => Just(Write::Compact),
    ]
}

fn step() -> impl Strategy<Value = Move> {
    prop_oneof![
        1 => Just(Move::First),
        1 => Just(Move::Last),
        3 => any::<u8>().prop_map(Move::Seek),
        3 => any::<u8>().prop_map(Move::SeekForPrev),
        6 => Just(Move::Next),
        6 => Just(Move::Prev),
    ]
}

/// Keys spaced out so that a seek often falls between two of them.
fn key(k: u8) -> Vec<u8> {
    vec![b'k', k / 2 * 2]
}

/// A seek target: odd ones fall between keys, even ones on them.
fn target(k: u8) -> Vec<u8> {
    vec![b'k', k]
}

fn value(k: u8, v: u16) -> Vec<u8> {
    // Values long enough that a few hundred writes fill several write
    // buffers of the smallest size (64 KiB).
    format!("{k}-{v}-{}", "x".repeat(usize::from(v % 1201))).into_bytes()
}

/// The model's cursor: a position in a sorted map, moved as RocksDB moves.
struct ModelCursor<'a> {
    map: &'a BTreeMap<Vec<u8>, Vec<u8>>,
    at: Option<&'a Vec<u8>>,
}

impl ModelCursor<'_> {
    fn apply(&mut self, step: &Move) {
        let map = self.map;
        let first = |b: Bound<Vec<u8>>| map.range((b, Bound::Unbounded)).next();
        let last = |b: Bound<Vec<u8>>| map.range((Bound::Unbounded, b)).next_back();
        let found = match step {
            Move::First => first(Bound::Unbounded),
            Move::Last => last(Bound::Unbounded),
            Move::Seek(k) => first(Bound::Included(target(*k))),
            Move::SeekForPrev(k) => last(Bound::Included(target(*k))),
            Move::Next => match self.at {
                None => return,
                Some(at) => first(Bound::Excluded(at.clone())),
            },
            Move::Prev => match self.at {
                None => return,
                Some(at) => last(Bound::Excluded(at.clone())),
            },
        };
        self.at = found.map(|(k, _)| k);
    }
}

fn apply(cursor: &mut Cursor, step: &Move) {
    match step {
        Move::First => cursor.seek_to_first(),
        Move::Last => cursor.seek_to_last(),
        Move::Seek(k) => cursor.seek(target(*k)),
        Move::SeekForPrev(k) => cursor.seek_for_prev(target(*k)),
        Move::Next => cursor.next(),
        Move::Prev => cursor.prev(),
    }
}

/// Walks `cursor` and the model through `steps`, comparing after each.
fn walk(
    mut cursor: Cursor,
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    steps: &[Move],
) -> Result<(), TestCaseError> {
    let mut expected = ModelCursor {
        map: model,
        at: None,
    };
    prop_assert!(!cursor.valid(), "a new cursor is on no entry");
    for (i, step) in steps.iter().enumerate() {
        apply(&mut cursor, step);
        expected.apply(step);
        prop_assert!(
            cursor.status().is_ok(),
            "step {i} {step:?}: {:?}",
            cursor.status()
        );
        let want = expected.at.map(|k| (k.as_slice(), model[k].as_slice()));
        let got = cursor.key().map(|k| (k, cursor.value().unwrap()));
        prop_assert_eq!(got, want, "step {} {:?}", i, step);
        prop_assert_eq!(cursor.valid(), want.is_some());
    }
    Ok(())
}

/// Where the pinned workload compacts everything.
const PINNED_COMPACT: usize = 600;

/// Runs `writes`, then walks a cursor through `steps` at the end and at
/// a snapshot taken halfway. `pinned`: the workload of
/// [`a_cursor_walks_memtable_and_levels_as_one`], whose layout is checked.
fn run(writes: &[Write], steps: &[Move], pinned: bool) -> Result<(), TestCaseError> {
    let fs = FaultFs::new();
    // The smallest write buffer, with 4 KiB tables and a 16 KiB level 1:
    // a few hundred writes make frozen memtables, level-0 tables and
    // deeper levels.
    let db = Db::open(
        common::dir(),
        tributary::Options {
            block_size: 1 << 10,
            table_file_size: 4 << 10,
            level1_size: 16 << 10,
            ..options(&fs, tributary::MIN_WRITE_BUFFER_SIZE)
        },
    )
    .unwrap();
    let mut model = BTreeMap::new();
    let mut halfway = None;
    for (i, w) in writes.iter().enumerate() {
        if i == writes.len() / 2 {
            halfway = Some((db.snapshot(), model.clone()));
        }
        if pinned && i == PINNED_COMPACT + 1 {
            // From here on level 0 keeps what the flushes write.
            db.pause_compaction(true);
        }
        match w {
            Write::Put(k, v) => {
                db.put(key(*k), value(*k, *v)).unwrap();
                model.insert(key(*k), value(*k, *v));
            }
            Write::Delete(k) => {
                db.delete(key(*k)).unwrap();
                model.remove(&key(*k));
            }
            Write::Compact => db.compact().unwrap(),
        }
    }
    if pinned {
        // The pinned workload reaches every kind of source: the memtable
        // (the last write is in it), level 0 (flushed while compaction is
        // paused; waited for, as flushes run in the background) and a
        // deeper level (the compaction of everything).
        common::eventually("the frozen memtables' flush", || {
            db.stats().frozen_memtables == 0
        });
        let stats = db.stats();
        let levels = &stats.files_per_level;
        assert!(stats.memtable_entries > 0 && levels[0] > 0, "{stats:?}");
        assert!(levels[1..].iter().any(|&n| n > 0), "{levels:?}");
    }
    walk(db.cursor(), &model, steps)?;
    if let Some((snapshot, then)) = halfway {
        walk(snapshot.cursor(), &then, steps)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 32 } else { 256 }))]

    #[test]
    fn the_cursor_moves_as_a_btreemap_cursor(
        writes in proptest::collection::vec(write(), 0..400),
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        run(&writes, &steps, false)?;
    }
}

/// The reported surprise of issue #26: after `seek_for_prev`, `next` moves
/// on from the key found, and after `seek`, `prev` moves back from it
/// (a range iterator would return the first and the last key instead).
#[test]
fn next_after_seek_for_prev_and_prev_after_seek_move_from_the_key_found() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), tributary::Options::default()).unwrap();
    for k in ["a", "b", "c", "d", "e"] {
        db.put(k, k.to_uppercase()).unwrap();
    }
    let mut cursor = db.cursor();
    cursor.seek_for_prev("bz");
    assert_eq!(cursor.key(), Some(&b"b"[..]));
    cursor.next();
    assert_eq!(cursor.key(), Some(&b"c"[..]));
    assert_eq!(cursor.value(), Some(&b"C"[..]));
    cursor.seek("c");
    cursor.prev();
    assert_eq!(cursor.key(), Some(&b"b"[..]));
    cursor.seek_to_last();
    cursor.next();
    assert!(!cursor.valid());
    cursor.next();
    assert!(!cursor.valid(), "a cursor past the end stays there");
    cursor.status().unwrap();
}

/// A workload the proptest's shapes reach, pinned: entries in the
/// memtable, level 0 and a deeper level at once, walked forwards,
/// backwards and zigzagging against the model.
#[test]
fn a_cursor_walks_memtable_and_levels_as_one() {
    let mut rng = 7u64;
    let mut writes = Vec::new();
    for i in 0..1200u32 {
        let r = common::splitmix64(&mut rng);
        let k = (r % 256) as u8;
        writes.push(match i as usize {
            PINNED_COMPACT => Write::Compact,
            _ if r.is_multiple_of(5) => Write::Delete(k),
            _ => Write::Put(k, (r >> 16) as u16),
        });
    }
    let mut steps = vec![Move::First];
    steps.extend(std::iter::repeat_n(Move::Next, 140));
    steps.push(Move::Last);
    steps.extend(std::iter::repeat_n(Move::Prev, 140));
    for k in (0..=255u8).step_by(7) {
        steps.extend([
            Move::Seek(k),
            Move::Prev,
            Move::Next,
            Move::Next,
            Move::SeekForPrev(k),
            Move::Next,
            Move::Prev,
        ]);
    }
    run(&writes, &steps, true).unwrap();
}

/// `multi_get` as rust-rocksdb has it: one result per key, in the order
/// asked, all at one snapshot; against the model over memtable and tables.
#[test]
fn multi_get_answers_each_key_in_order() {
    let fs = FaultFs::new();
    let db = Db::open(
        common::dir(),
        options(&fs, tributary::MIN_WRITE_BUFFER_SIZE),
    )
    .unwrap();
    let mut model = BTreeMap::new();
    for k in 0..=255u8 {
        db.put(key(k), value(k, u16::from(k) * 5)).unwrap();
        model.insert(key(k), value(k, u16::from(k) * 5));
        if k % 3 == 0 {
            db.delete(key(k)).unwrap();
            model.remove(&key(k));
        }
        if k == 128 {
            // Half the keys in tables, whatever the background does.
            db.compact().unwrap();
        }
    }
    assert!(
        db.stats().files_per_level.iter().sum::<usize>() > 0,
        "some keys are in tables"
    );
    let asked: Vec<Vec<u8>> = (0..=255u8).rev().map(target).collect();
    let got = db.multi_get(&asked);
    assert_eq!(got.len(), asked.len());
    for (k, result) in asked.iter().zip(got) {
        assert_eq!(result.unwrap(), model.get(k).cloned(), "key {k:?}");
    }
    let snapshot = db.snapshot();
    db.put(key(3), "new").unwrap();
    let at_snapshot = snapshot.multi_get([key(3)]);
    assert_eq!(at_snapshot[0].as_ref().unwrap(), &None);
    assert_eq!(
        db.multi_get(vec![key(3)])[0].as_ref().unwrap().as_deref(),
        Some(&b"new"[..])
    );
}

//! The database API against a `BTreeMap` model (TABLES.md T5): puts,
//! deletes, batches, snapshots, long-lived iterators, gets, scans in both
//! directions, flushes, compactions of everything and of ranges, reopens,
//! and crashes with reopens, with the smallest write buffer so that many
//! memtables and tables exist, under each compaction picker; and the
//! metamorphic pass: the same operations under different block, table,
//! level and write buffer sizes, and under each picker, read the same.

mod common;

use common::{dir, options};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::Bound;
use tributary::fs::FaultFs;
use tributary::{Batch, CompactionPicker, Db, Options, WriteOptions};

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u16),
    Delete(u8),
    Batch(Vec<(u8, Option<u16>)>),
    Snapshot,
    /// An iterator over everything, read `n % 8` entries now and the rest
    /// at the end.
    Iter(u8),
    Compact,
    /// `compact_range` between two keys.
    CompactRange(u8, u8),
    Reopen,
    /// Enough puts to rotate the memtable several times (several flushes).
    Fill(u8),
    /// A power loss (unsynced bytes lost), then an open.
    Crash,
    /// A batch larger than the write buffer (written straight to a
    /// table), with deletes and several versions of a key.
    Large(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u8>(), 0u16..2000).prop_map(|(k, v)| Op::Put(k, v)),
        2 => any::<u8>().prop_map(Op::Delete),
        2 => proptest::collection::vec((any::<u8>(), proptest::option::of(0u16..2000)), 1..6).prop_map(Op::Batch),
        1 => Just(Op::Snapshot),
        1 => any::<u8>().prop_map(Op::Iter),
        1 => Just(Op::Compact),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::CompactRange(a, b)),
        1 => Just(Op::Reopen),
        1 => any::<u8>().prop_map(Op::Fill),
        1 => Just(Op::Crash),
        1 => any::<u8>().prop_map(Op::Large),
    ]
}

fn key(k: u8) -> Vec<u8> {
    format!("k{:03}", k % 64).into_bytes()
}

fn value(k: u8, v: u16) -> Vec<u8> {
    // Values large enough that a 64 KiB write buffer rotates often.
    let mut out = format!("v{k}-{v}-").into_bytes();
    out.resize(64 + (v as usize % 700), b'x');
    out
}

fn bound(b: Option<(u8, bool)>) -> Bound<Vec<u8>> {
    match b {
        None => Bound::Unbounded,
        Some((k, true)) => Bound::Included(key(k)),
        Some((k, false)) => Bound::Excluded(key(k)),
    }
}

fn check_scans(
    db_range: impl Fn(Bound<Vec<u8>>, Bound<Vec<u8>>) -> tributary::Iter,
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    lo: Option<(u8, bool)>,
    hi: Option<(u8, bool)>,
) {
    let (l, h) = (bound(lo), bound(hi));
    let valid = match (&l, &h) {
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a <= b
        }
        _ => true,
    };
    let expected: Vec<(Vec<u8>, Vec<u8>)> =
        if valid && !(matches!((&l, &h), (Bound::Excluded(a), Bound::Excluded(b)) if a == b)) {
            model
                .range((l.clone(), h.clone()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            Vec::new()
        };
    let fwd: Vec<_> = db_range(l.clone(), h.clone())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(fwd, expected, "forward scan {lo:?}..{hi:?}");
    let mut back: Vec<_> = db_range(l.clone(), h.clone())
        .rev()
        .collect::<Result<_, _>>()
        .unwrap();
    back.reverse();
    assert_eq!(back, expected, "backward scan {lo:?}..{hi:?}");
    // Both ends at once: alternate next and next_back.
    let mut it = db_range(l, h);
    let (mut front, mut tail) = (Vec::new(), Vec::new());
    while let Some(x) = it.next() {
        front.push(x.unwrap());
        match it.next_back() {
            Some(x) => tail.push(x.unwrap()),
            None => break,
        }
    }
    tail.reverse();
    front.extend(tail);
    assert_eq!(front, expected, "two-ended scan {lo:?}..{hi:?}");
}

/// The shapes the model runs under: block, table, level-1 and write
/// buffer sizes. The first is the smallest there is, so that its 64 keys
/// reach levels 2 and 3 and compactions there must keep the tombstones
/// that hide older versions below; the others move every boundary.
const SHAPES: [(usize, u64, u64, usize); 3] = [
    (1 << 10, 4 << 10, 16 << 10, 64 << 10),
    (4 << 10, 16 << 10, 64 << 10, 64 << 10),
    (64 << 10, 1 << 20, 4 << 20, 256 << 10),
];

/// The compaction choices the model runs under (picker, dynamic level
/// sizes): the default, LevelDB's picker, and targets that follow the
/// data (level 0 compacting into the base level, the levels above it
/// empty). They choose different tables to rewrite, and different levels
/// to write them into, and must read the same.
const PICKERS: [(CompactionPicker, bool); 3] = [
    (CompactionPicker::LeastOverlap, false),
    (CompactionPicker::LevelDb, false),
    (CompactionPicker::LeastOverlap, true),
];

fn model_options(
    fs: &FaultFs,
    shape: usize,
    (picker, dynamic): (CompactionPicker, bool),
) -> tributary::Options {
    let (block_size, table_file_size, level1_size, write_buffer) = SHAPES[shape];
    tributary::Options {
        block_size,
        table_file_size,
        level1_size,
        compaction_picker: picker,
        dynamic_level_sizes: dynamic,
        ..options(fs, write_buffer)
    }
}

/// A scan's bounds: a key and whether it is included, or unbounded.
type ScanBounds = (Option<(u8, bool)>, Option<(u8, bool)>);

/// A long-lived iterator: what it read when opened, and the model then.
type OpenIter = (
    tributary::Iter,
    Vec<(Vec<u8>, Vec<u8>)>,
    BTreeMap<Vec<u8>, Vec<u8>>,
);

/// What a run of the model test read: the final contents, then each
/// snapshot's and each long-lived iterator's, in the order they were
/// taken.
type Observed = Vec<Vec<(Vec<u8>, Vec<u8>)>>;

/// Runs `ops` on a database of `shape` compacted by `picker`, checking
/// every read against the model, and returns what it read.
fn run_model(
    ops: &[Op],
    scans: &[ScanBounds],
    shape: usize,
    picker: (CompactionPicker, bool),
) -> Result<Observed, TestCaseError> {
    let mut fs = FaultFs::new();
    let mut db = Db::open(dir(), model_options(&fs, shape, picker)).unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut snapshots = Vec::new();
    // Iterators opened and read part of the way, to be finished at the
    // end: across compactions, reopens and crashes.
    let mut iters: Vec<OpenIter> = Vec::new();
    // The model after each write, by its last sequence number, for
    // crashes; and the last sequence number acknowledged with sync.
    let mut history = vec![(0u64, model.clone())];
    let mut synced = 0u64;
    for op in ops {
        match op {
            Op::Put(k, v) => {
                let sync = v % 5 == 0;
                db.put_with(key(*k), value(*k, *v), &WriteOptions { sync, merge: true })
                    .unwrap();
                model.insert(key(*k), value(*k, *v));
                if sync {
                    synced = db.stats().last_seq.0;
                }
            }
            Op::Delete(k) => {
                db.delete(key(*k)).unwrap();
                model.remove(&key(*k));
            }
            Op::Batch(records) => {
                let mut b = Batch::new();
                for (k, v) in records {
                    match v {
                        Some(v) => {
                            b.put(key(*k), value(*k, *v));
                            model.insert(key(*k), value(*k, *v));
                        }
                        None => {
                            b.delete(key(*k));
                            model.remove(&key(*k));
                        }
                    }
                }
                db.write(&b, &WriteOptions::default()).unwrap();
            }
            Op::Snapshot => snapshots.push((db.snapshot(), model.clone())),
            Op::Iter(n) => {
                let mut it = db.iter();
                let head: Vec<_> = it
                    .by_ref()
                    .take(*n as usize % 8)
                    .map(|r| r.unwrap())
                    .collect();
                iters.push((it, head, model.clone()));
            }
            Op::Compact => db.compact().unwrap(),
            Op::CompactRange(a, b) => {
                let (lo, hi) = (key(*a.min(b)), key(*a.max(b)));
                let before = db.stats().compactions;
                db.compact_range(Some(&lo), Some(&hi)).unwrap();
                prop_assert!(db.stats().compactions >= before);
                prop_assert_eq!(db.stats().memtable_entries, 0);
            }
            Op::Reopen => {
                db.close().unwrap();
                db = Db::open(dir(), model_options(&fs, shape, picker)).unwrap();
            }
            Op::Fill(seed) => {
                for i in 0..300u16 {
                    let k = seed.wrapping_add(i as u8);
                    let v = 1000 + i;
                    db.put(key(k), value(k, v)).unwrap();
                    model.insert(key(k), value(k, v));
                    history.push((db.stats().last_seq.0, model.clone()));
                }
            }
            Op::Large(seed) => {
                let mut b = Batch::new();
                for i in 0..250u16 {
                    let k = seed.wrapping_add((i * 7) as u8);
                    if i % 9 == 4 {
                        b.delete(key(k));
                        model.remove(&key(k));
                    } else {
                        b.put(key(k), value(k, 1500 + i));
                        model.insert(key(k), value(k, 1500 + i));
                    }
                }
                let write_buffer = SHAPES[shape].3;
                let before = db.stats().large_batches;
                db.write(&b, &WriteOptions::default()).unwrap();
                if b.internal_len() > write_buffer {
                    prop_assert_eq!(db.stats().large_batches, before + 1);
                    // Durable once acknowledged, synced or not: its table
                    // and the edit naming it are synced, and everything
                    // older was flushed first.
                    synced = db.stats().last_seq.0;
                }
            }
            Op::Crash => {
                let crashed = fs.crash(tributary::fs::CrashMode::SyncedOnly);
                drop(db);
                fs = crashed;
                db = Db::open(dir(), model_options(&fs, shape, picker)).unwrap();
                let s = db.recovery_report().last_seq.0;
                prop_assert!(
                    s >= synced,
                    "lost a synced write: recovered {}, synced {}",
                    s,
                    synced
                );
                let at = history.iter().position(|(seq, _)| *seq == s);
                prop_assert!(at.is_some(), "recovered {} is no write's end", s);
                history.truncate(at.unwrap() + 1);
                model = history.last().unwrap().1.clone();
            }
        }
        if !matches!(op, Op::Fill(_) | Op::Crash) {
            let seq = db.stats().last_seq.0;
            if history.last().map(|h| h.0) != Some(seq) {
                history.push((seq, model.clone()));
            }
        }
    }
    for k in 0..64u8 {
        prop_assert_eq!(db.get(key(k)).unwrap(), model.get(&key(k)).cloned());
    }
    for (lo, hi) in scans {
        check_scans(|l, h| db.range((l, h)), &model, *lo, *hi);
    }
    let mut observed: Observed = vec![db.iter().map(|r| r.unwrap()).collect()];
    for (snap, snap_model) in &snapshots {
        for k in 0..64u8 {
            prop_assert_eq!(snap.get(key(k)).unwrap(), snap_model.get(&key(k)).cloned());
        }
        check_scans(|l, h| snap.range((l, h)), snap_model, None, None);
        check_scans(
            |l, h| snap.range((l, h)),
            snap_model,
            scans[0].0,
            scans[0].1,
        );
        observed.push(snap.iter().map(|r| r.unwrap()).collect());
    }
    for (it, mut read, at_open) in iters {
        read.extend(it.map(|r| r.unwrap()));
        let want: Vec<_> = at_open.into_iter().collect();
        prop_assert_eq!(&read, &want, "a long-lived iterator");
        observed.push(read);
    }
    db.close().unwrap();
    Ok(observed)
}

fn scan_bounds() -> impl Strategy<Value = Vec<ScanBounds>> {
    proptest::collection::vec(
        (
            proptest::option::of((any::<u8>(), any::<bool>())),
            proptest::option::of((any::<u8>(), any::<bool>())),
        ),
        4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 24 } else { 200 }))]

    #[test]
    fn database_matches_a_btreemap(
        ops in proptest::collection::vec(op(), 1..250),
        scans in scan_bounds(),
        shape in 0..SHAPES.len(),
        picker in 0..PICKERS.len(),
    ) {
        run_model(&ops, &scans, shape, PICKERS[picker])?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 6 } else { 40 }))]

    /// The metamorphic pass: the same operations under every shape, and
    /// under each picker, read the same. Crashes are left out, as what a
    /// power loss keeps of unsynced writes depends on when the background
    /// flushed.
    #[test]
    fn every_shape_reads_the_same(
        ops in proptest::collection::vec(op().prop_filter("no crash", |op| !matches!(op, Op::Crash)), 1..250),
        scans in scan_bounds(),
    ) {
        let first = run_model(&ops, &scans, 0, PICKERS[0])?;
        for shape in 0..SHAPES.len() {
            for (p, &picker) in PICKERS.iter().enumerate() {
                if (shape, p) == (0, 0) {
                    continue;
                }
                let other = run_model(&ops, &scans, shape, picker)?;
                prop_assert!(
                    first == other,
                    "shape {} with {:?} read differently from shape 0 with {:?}",
                    shape, picker, PICKERS[0]
                );
            }
        }
    }
}

#[test]
fn prefix_scans() {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    for k in ["a", "ab", "abc", "abd", "ac", "b", "ab\u{7f}"] {
        db.put(k.as_bytes(), b"v").unwrap();
    }
    db.put(b"ab\xff", b"v").unwrap();
    db.put(b"ab\xff\xff", b"v").unwrap();
    let keys: Vec<Vec<u8>> = db.prefix(b"ab").map(|r| r.unwrap().0).collect();
    let want: Vec<&[u8]> = vec![b"ab", b"abc", b"abd", b"ab\x7f", b"ab\xff", b"ab\xff\xff"];
    assert_eq!(keys, want);
    let all: Vec<Vec<u8>> = db.prefix(b"").map(|r| r.unwrap().0).collect();
    assert_eq!(all.len(), 9);
    db.close().unwrap();
}

/// Scans many chunks long over tables of several levels and the
/// memtables, with keys overwritten and deleted and a snapshot under later
/// writes: a refill goes on from where the last one left each table's
/// cursor, so every way of walking (forward, from both ends in turn, from
/// a seek, in a range) must still read each live key once.
#[test]
fn long_scans_over_many_tables_match_the_model() {
    let fs = FaultFs::new();
    let uncompressed = Options {
        compression: tributary::Compression::None,
        ..options(&fs, 64 << 10)
    };
    let db = Db::open(dir(), uncompressed).unwrap();
    let mut model = BTreeMap::new();
    let mut snap = None;
    for i in 0..12_000u32 {
        let k = format!("{:05}", (i * 7919) % 3000).into_bytes();
        if i % 13 == 0 {
            db.delete(&k).unwrap();
            model.remove(&k);
        } else {
            let v = format!("{i}-{}", "x".repeat(40)).into_bytes();
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
        if i == 7_000 {
            snap = Some((db.snapshot(), model.clone()));
        }
    }
    let pairs = |m: &BTreeMap<Vec<u8>, Vec<u8>>| -> Vec<(Vec<u8>, Vec<u8>)> {
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let want = pairs(&model);
    let all: Vec<_> = db.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(all, want);
    // Both ends in turn, meeting in the middle.
    let mut it = db.iter();
    let mut front: Vec<_> = it.by_ref().take(700).map(Result::unwrap).collect();
    let mut back: Vec<_> = it.by_ref().rev().take(300).map(Result::unwrap).collect();
    front.extend(it.by_ref().take(900).map(Result::unwrap));
    back.extend(it.by_ref().rev().map(Result::unwrap));
    back.reverse();
    front.extend(back);
    assert_eq!(front, want);
    // A seek after part of the scan, then a range.
    let mut it = db.iter();
    assert_eq!(it.by_ref().take(500).count(), 500);
    it.seek(b"01234");
    let from: Vec<_> = it.collect::<Result<_, _>>().unwrap();
    assert_eq!(from, pairs(&model.split_off(b"01234".as_slice())));
    let (snap, snap_model) = snap.unwrap();
    let read: Vec<_> = snap.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(read, pairs(&snap_model));
    let lo: &[u8] = b"00500";
    let hi: &[u8] = b"02500";
    let read: Vec<_> = snap.range(lo..hi).collect::<Result<_, _>>().unwrap();
    let want: Vec<_> = snap_model
        .range(lo.to_vec()..hi.to_vec())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(read, want);
    db.close().unwrap();
}

#[test]
fn compact_flushes_and_merges_every_table_into_one_level() {
    let fs = FaultFs::new();
    // Uncompressed, so that the data outgrows level 1's target.
    let uncompressed = Options {
        compression: tributary::Compression::None,
        ..options(&fs, 64 << 10)
    };
    let db = Db::open(dir(), uncompressed).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..4000u32 {
        let k = format!("{:05}", (i * 7919) % 1500).into_bytes();
        if i % 11 == 0 {
            db.delete(&k).unwrap();
            model.remove(&k);
        } else {
            let v = format!("{i}-{}", "x".repeat(100)).into_bytes();
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
    let before = (db.snapshot(), model.clone());
    db.compact().unwrap();
    let stats = db.stats();
    assert_eq!(stats.frozen_memtables, 0, "{stats:?}");
    assert_eq!(stats.memtable_entries, 0, "{stats:?}");
    // One run of tables holding the newest version of each live key, in
    // the first level whose target holds them (level 1 is twice the
    // 64 KiB write buffer here, less than the data): tombstones and older
    // versions are gone.
    let levels: Vec<usize> = (0..7).filter(|&l| stats.files_per_level[l] > 0).collect();
    assert_eq!(levels, [2], "{stats:?}");
    assert_eq!(stats.table_entries, model.len() as u64, "{stats:?}");
    assert!(stats.flushes >= 1 && stats.compactions >= 1, "{stats:?}");
    // The journals of the flushed memtables are gone: only the current
    // one is left (and it is empty).
    let journals = fs
        .files_under(dir())
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .count();
    assert_eq!(
        journals,
        1,
        "{:?}",
        fs.files_under(dir()).keys().collect::<Vec<_>>()
    );
    // Writes after the flush shadow the tables.
    db.delete(b"00003").unwrap();
    model.remove(&b"00003"[..]);
    db.put(b"00004", b"new").unwrap();
    model.insert(b"00004".to_vec(), b"new".to_vec());
    for i in 0..1600u32 {
        let k = format!("{i:05}").into_bytes();
        assert_eq!(db.get(&k).unwrap(), model.get(&k).cloned(), "{i}");
    }
    let all: Vec<_> = db.iter().collect::<Result<_, _>>().unwrap();
    let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(all, want);
    // The snapshot taken before still reads the memtables it pinned.
    let (snap, snap_model) = before;
    for i in 0..1600u32 {
        let k = format!("{i:05}").into_bytes();
        assert_eq!(snap.get(&k).unwrap(), snap_model.get(&k).cloned(), "{i}");
    }
    db.close().unwrap();
    // The tables and the manifest are the durable copy: a reopen finds
    // everything.
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    assert_eq!(db.iter().collect::<Result<Vec<_>, _>>().unwrap(), want);
    db.close().unwrap();
}

/// A snapshot pins the tables it reads (TABLES.md §8): a compaction that
/// replaces them leaves the files in place, readable through the
/// snapshot, and they are deleted once it drops.
#[test]
fn a_snapshot_pins_its_tables_until_it_drops() {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    let tables = |fs: &FaultFs| -> Vec<std::path::PathBuf> {
        fs.files_under(dir())
            .into_keys()
            .filter(|p| p.extension().is_some_and(|e| e == "ldb"))
            .collect()
    };
    for round in 0..3u32 {
        for i in 0..600u32 {
            db.put(format!("{i:05}"), format!("{round}-{}", "v".repeat(100)))
                .unwrap();
        }
        db.compact().unwrap();
    }
    let snap = db.snapshot();
    let pinned = tables(&fs);
    assert!(!pinned.is_empty());
    for i in 0..600u32 {
        db.put(format!("{i:05}"), "new").unwrap();
    }
    db.compact().unwrap();
    // The old tables are still there, and the snapshot reads them.
    let now = tables(&fs);
    assert!(pinned.iter().all(|p| now.contains(p)), "{pinned:?} {now:?}");
    assert!(snap.get("00007").unwrap().unwrap().starts_with(b"2-"));
    assert_eq!(snap.iter().count(), 600);
    assert_eq!(db.get("00007").unwrap().as_deref(), Some(&b"new"[..]));
    drop(snap);
    // Nothing holds them now: the next compaction's clean-up deletes them.
    db.compact().unwrap();
    let after = tables(&fs);
    assert!(
        pinned.iter().all(|p| !after.contains(p)),
        "{pinned:?} {after:?}"
    );
    assert_eq!(
        after.len(),
        db.stats().files_per_level.iter().sum::<usize>()
    );
    db.close().unwrap();
}

#[test]
fn background_flush_bounds_the_frozen_memtables() {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    let mut max_frozen = 0;
    for i in 0..40_000u32 {
        db.put(format!("{:06}", i % 5000).as_bytes(), [i as u8; 100])
            .unwrap();
        if i % 500 == 0 {
            max_frozen = max_frozen.max(db.stats().frozen_memtables);
        }
    }
    let stats = db.stats();
    // Without flushes every one of these rotations would stay frozen.
    assert!(stats.rotations >= 60, "{stats:?}");
    assert!(stats.flushes >= 2, "{stats:?}");
    // Each rotation wakes a flush; the thread may lag behind on a loaded
    // machine.
    assert!(max_frozen < 30, "max frozen {max_frozen}, {stats:?}");
    // Once the thread catches up, few are left.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db.stats().frozen_memtables >= 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "flush never caught up: {:?}",
            db.stats()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(db.iter().count(), 5000);
    db.close().unwrap();
}

/// Readers race compactions: every snapshot and every scan of it sees
/// whole groups, in order. A compaction drops versions that newer ones
/// hide, so a snapshot must not pair its number with tables holding newer
/// records (`Shared::snapshot`); before it waited for that, this test saw
/// keys vanish.
#[test]
fn snapshots_stay_consistent_across_compactions() {
    let fs = FaultFs::new();
    let db = std::sync::Arc::new(Db::open(dir(), options(&fs, 64 << 10)).unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            for round in 1..=3000u64 {
                let mut b = Batch::new();
                for k in 0..10u8 {
                    let mut v = round.to_be_bytes().to_vec();
                    v.resize(200, k);
                    b.put([b'k', k], &v);
                }
                db.write(&b, &WriteOptions::default()).unwrap();
            }
        })
    };
    let compactor = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.compact().unwrap();
                n += 1;
            }
            n
        })
    };
    let mut last_round = 0;
    while !writer.is_finished() {
        let snap = db.snapshot();
        let rounds: Vec<u64> = (0..10u8)
            .map(|k| {
                snap.get([b'k', k])
                    .unwrap()
                    .map_or(0, |v| u64::from_be_bytes(v[..8].try_into().unwrap()))
            })
            .collect();
        assert!(
            rounds.iter().all(|r| *r == rounds[0]),
            "torn snapshot {rounds:?}"
        );
        assert!(rounds[0] >= last_round, "{} after {last_round}", rounds[0]);
        last_round = rounds[0];
        let scanned: Vec<u64> = snap
            .iter()
            .map(|r| u64::from_be_bytes(r.unwrap().1[..8].try_into().unwrap()))
            .collect();
        assert!(
            scanned.iter().all(|r| *r == rounds[0]),
            "torn scan {scanned:?}"
        );
    }
    writer.join().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(compactor.join().unwrap() > 0);
    assert_eq!(
        db.get(b"k\x00").unwrap().unwrap()[..8],
        3000u64.to_be_bytes()
    );
}

#[test]
fn rotation_keeps_everything_readable_and_recoverable() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        write_buffer_size: 64 << 10,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options.clone()).unwrap();
    for i in 0..3000u32 {
        db.put(format!("{i:08}").as_bytes(), [i as u8; 100])
            .unwrap();
    }
    let stats = db.stats();
    assert!(stats.rotations >= 3, "{stats:?}");
    assert_eq!(db.iter().count(), 3000);
    assert_eq!(db.get(b"00000007").unwrap(), Some(vec![7u8; 100]));
    db.close().unwrap();
    let db = Db::open(dir.path(), options).unwrap();
    assert_eq!(db.iter().count(), 3000);
    assert_eq!(db.stats().last_seq.0, 3000);
    // Flushed memtables are in tables and their journals gone: recovery
    // replays only what was not flushed.
    let report = db.recovery_report();
    assert!(report.tables >= 3, "{report:?}");
    assert!(report.journals.len() <= 3, "{report:?}");
    assert!(report.manifest.is_some(), "{report:?}");
    assert!(
        db.recovery_report().is_clean(),
        "{:?}",
        db.recovery_report()
    );
    db.close().unwrap();
}

#[test]
fn a_batch_larger_than_the_write_buffer_is_accepted_whole() {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    db.put(b"small", b"1").unwrap();
    let mut big = Batch::new();
    for i in 0..1000u32 {
        big.put(format!("big{i:05}").as_bytes(), [1u8; 200]);
    }
    assert!(big.internal_len() > 64 << 10);
    db.write(
        &big,
        &WriteOptions {
            sync: true,
            merge: true,
        },
    )
    .unwrap();
    assert_eq!(db.prefix(b"big").count(), 1000);
    db.close().unwrap();
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    assert_eq!(db.prefix(b"big").count(), 1000);
    assert_eq!(db.get(b"small").unwrap(), Some(b"1".to_vec()));
    db.close().unwrap();
}

#[test]
fn close_then_drop_and_double_close() {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    db.put(b"k", b"v").unwrap();
    // Drop closes as close does, syncing the journal, and releases the
    // lock: the unsynced write survives a power loss right after.
    drop(db);
    let after_power_loss = fs.crash(tributary::fs::CrashMode::SyncedOnly);
    let db = Db::open(dir(), options(&after_power_loss, 64 << 10)).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    db.close().unwrap();
    assert!(matches!(db.close(), Err(tributary::Error::Closed)));
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    db.close().unwrap();
}

/// A database shared in an `Arc` is closed through it, as RocksDB's
/// `Close`, while other holders write and compact: every write
/// acknowledged before the close survives a power loss right after it,
/// later writes are refused, reads go on, and the directory is free for
/// the next open while other holders still have the `Arc`.
#[test]
fn close_through_an_arc_while_others_write_and_compact() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let fs = FaultFs::new();
    let db = std::sync::Arc::new(Db::open(dir(), options(&fs, 64 << 10)).unwrap());
    let acked = AtomicU64::new(0);
    let holder = std::sync::Arc::clone(&db);
    let written: Vec<Vec<u64>> = std::thread::scope(|s| {
        let writers: Vec<_> = (0..4u64)
            .map(|t| {
                let (db, acked) = (&db, &acked);
                s.spawn(move || {
                    // Writes until the close refuses one; returns the
                    // numbers acknowledged.
                    let mut mine = Vec::new();
                    for i in (t..).step_by(4) {
                        if db.put(i.to_be_bytes(), [b'v'; 100]).is_err() {
                            return mine;
                        }
                        mine.push(i);
                        acked.fetch_add(1, Ordering::Release);
                    }
                    unreachable!()
                })
            })
            .collect();
        let compactor = s.spawn(|| while db.compact().is_ok() {});
        // Close once writes are flowing and tables being made.
        while acked.load(Ordering::Acquire) < 3_000 {
            std::thread::yield_now();
        }
        db.close().unwrap();
        compactor.join().unwrap();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(matches!(
        holder.put(b"late", b"x"),
        Err(tributary::Error::Write(_) | tributary::Error::Closed)
    ));
    assert!(matches!(holder.compact(), Err(tributary::Error::Closed)));
    let some = written[0][0];
    assert_eq!(
        holder.get(some.to_be_bytes()).unwrap(),
        Some(vec![b'v'; 100])
    );
    // A power loss right after the close keeps every acknowledged write.
    let after_power_loss = fs.crash(tributary::fs::CrashMode::SyncedOnly);
    let reopened = Db::open(dir(), options(&after_power_loss, 64 << 10)).unwrap();
    let contents = common::contents(&reopened);
    for i in written.iter().flatten() {
        assert!(
            contents.contains_key(i.to_be_bytes().as_slice()),
            "write {i} lost"
        );
    }
    reopened.close().unwrap();
    // The closed database released the directory while `holder` lives.
    Db::open(dir(), options(&fs, 64 << 10))
        .unwrap()
        .close()
        .unwrap();
    drop(holder);
}

/// A directory's entries with their kinds, sizes and contents.
fn listing(dir: &std::path::Path) -> Vec<(std::path::PathBuf, bool, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let is_file = path.is_file();
            let bytes = if is_file {
                std::fs::read(&path).unwrap()
            } else {
                Vec::new()
            };
            (path, is_file, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn read_only_openers_share_refuse_writes_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let db = Db::open(&path, tributary::Options::default()).unwrap();
    db.put("k", "v").unwrap();
    db.close().unwrap();
    let before = listing(&path);
    // Two readers at once (beside a writer too: tests/read_only.rs).
    let a = Db::open_read_only(&path, tributary::Options::default()).unwrap();
    let b = Db::open_read_only(&path, tributary::Options::default()).unwrap();
    assert!(a.is_read_only());
    assert_eq!(a.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(b.iter().count(), 1);
    // Writes through a reader are refused, saying why.
    assert!(matches!(a.put("x", "y"), Err(tributary::Error::ReadOnly)));
    assert!(matches!(a.delete("k"), Err(tributary::Error::ReadOnly)));
    assert!(matches!(a.sync(), Err(tributary::Error::ReadOnly)));
    assert!(matches!(a.compact(), Err(tributary::Error::ReadOnly)));
    a.refresh().unwrap();
    a.close().unwrap();
    drop(b);
    assert_eq!(listing(&path), before, "readers changed the directory");
}

#[test]
fn read_only_reads_the_prefix_of_a_torn_journal_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), tributary::Options::default()).unwrap();
    for i in 0..10u32 {
        db.put(format!("{i:02}"), "value").unwrap();
    }
    db.close().unwrap();
    let journal = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let len = std::fs::metadata(&journal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .unwrap()
        .set_len(len - 4)
        .unwrap();
    let before = listing(tmp.path());
    for recovery in [
        tributary::RecoveryMode::PointInTime,
        tributary::RecoveryMode::Strict,
    ] {
        let options = tributary::Options {
            recovery,
            ..tributary::Options::default()
        };
        let db = Db::open_read_only(tmp.path(), options).unwrap();
        assert_eq!(db.recovery_report().last_seq.0, 9);
        assert_eq!(db.iter().count(), 9);
        assert_eq!(db.get("09").unwrap(), None);
        drop(db);
        assert_eq!(listing(tmp.path()), before, "{recovery:?}");
    }
    // A missing path: nothing is created.
    let missing = tmp.path().join("nowhere");
    assert!(matches!(
        Db::open_read_only(&missing, tributary::Options::default()),
        Err(tributary::Error::NotFound { .. })
    ));
    assert!(!missing.exists());
}

#[test]
fn seek_restarts_a_scan_within_its_range() {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    // Enough keys that the scan fetches in several chunks.
    for i in 0..1000u32 {
        db.put(format!("{i:04}"), i.to_string()).unwrap();
    }
    let keys = |it: &mut tributary::Iter, n: usize, back: bool| -> Vec<String> {
        (0..n)
            .filter_map(|_| if back { it.next_back() } else { it.next() })
            .map(|r| String::from_utf8(r.unwrap().0).unwrap())
            .collect()
    };
    let mut it = db.range("0100".."0900");
    assert_eq!(keys(&mut it, 2, false), ["0100", "0101"]);
    it.seek("0500");
    assert_eq!(keys(&mut it, 2, false), ["0500", "0501"]);
    // Back to an earlier key, and below the range: clamped to it.
    it.seek("0200");
    assert_eq!(keys(&mut it, 1, false), ["0200"]);
    it.seek("0000");
    assert_eq!(keys(&mut it, 1, false), ["0100"]);
    // The back end after a seek starts at the range's end.
    assert_eq!(keys(&mut it, 1, true), ["0899"]);
    // seek_for_prev, including past the range's end and between keys.
    it.seek_for_prev("0700");
    assert_eq!(keys(&mut it, 2, true), ["0700", "0699"]);
    it.seek_for_prev("9999");
    assert_eq!(keys(&mut it, 1, true), ["0899"]);
    db.delete("0300").unwrap();
    let mut it = db.iter();
    it.seek("0300");
    assert_eq!(
        keys(&mut it, 1, false),
        ["0301"],
        "a deleted key is skipped"
    );
    it.seek("1000");
    assert!(it.next().is_none());
    db.close().unwrap();
}

/// With Snappy (the default), compressible values take less room in
/// tables: `data_bytes`, level by level, and the counters since open both
/// show it; with compression off the two sizes are equal.
#[test]
fn compression_shows_in_data_bytes_and_stats() {
    for (compression, shrinks) in [
        (tributary::Compression::Snappy, true),
        (tributary::Compression::None, false),
    ] {
        let fs = FaultFs::new();
        let options = Options {
            compression,
            ..options(&fs, 64 << 10)
        };
        let db = Db::open(dir(), options).unwrap();
        for i in 0..3000u32 {
            db.put(format!("key{i:06}"), "tributary ".repeat(10))
                .unwrap();
        }
        db.compact().unwrap();
        let stats = db.stats();
        let levels = db.data_bytes().unwrap();
        let raw: u64 = levels.iter().map(|d| d.raw).sum();
        let stored: u64 = levels.iter().map(|d| d.stored).sum();
        assert!(raw > 300_000, "{levels:?}");
        assert!(levels.iter().all(|d| d.unrecorded == 0), "{levels:?}");
        assert!(stats.data_bytes_raw >= raw, "{stats:?}");
        if shrinks {
            assert!(stored * 2 < raw, "{compression}: {levels:?}");
            assert!(
                stats.data_bytes_stored * 2 < stats.data_bytes_raw,
                "{stats:?}"
            );
        } else {
            assert_eq!(stored, raw);
            assert_eq!(stats.data_bytes_stored, stats.data_bytes_raw);
        }
        db.close().unwrap();
    }
}

//! RELIABILITY.md D1: crash after every file-system mutation of a run, in
//! every crash mode, and check the recovered database against the oracle.
//!
//! One seeded run of 4 writers (25% of writes synced, the memtable rotating
//! through several journals, each frozen memtable flushed to a table and
//! committed to the manifest, and now and then a batch larger than the
//! write buffer written straight to a table, and the manifest rolled as
//! it grows) is recorded on a [`FaultFs`]; the open that
//! starts it installs a manifest too, so crash points fall inside flushes
//! and manifest installs as well as journal writes. Then, for each
//! prefix of its mutations and each [`CrashMode`], the file system a power
//! loss would leave is rebuilt and opened, and:
//!
//! - a strict check accepts it, in the crash modes that keep each file's
//!   writes in order (a crash leaves only torn tails, and tables and
//!   manifests either whole and named or unnamed);
//! - after the open, no orphan is left: one manifest, `CURRENT`, the
//!   tables it lists and one new journal;
//! - the recovered last sequence number S ends a batch (no partial batch);
//! - the database equals the oracle's state after every batch up to S (no
//!   hole, and no deleted key come back from a table);
//! - S is at least every sequence number acknowledged with sync before the
//!   crash;
//! - the next write takes S + 1;
//! - reopening again gives the same state.
//!
//! The full size runs in release mode (`cargo test --release -p tributary
//! --test crash`, a step of `cargo xtask ci`): the writers go on until the
//! run has made at least 2,100 file-system mutations, so that the 10 crash
//! modes give over 21,000 recovered states however the writes happened to
//! merge (bigger groups mean fewer journal appends per batch). Debug builds
//! run a smaller instance.

mod common;

use common::{contents, dir, random_batch, Ack, Oracle};
use std::sync::{Arc, Mutex};
use tributary::fs::{CrashMode, FaultFs, Mutation};
use tributary::{Batch, Db, Options, RecoveryMode, WriteOptions};

struct Size {
    writers: u64,
    /// The writers stop once the run has made this many mutations...
    min_mutations: usize,
    /// ... or each has written this many batches.
    max_batches_per_writer: u64,
    write_buffer: usize,
    /// Check every `stride`-th crash point (1 = all of them).
    stride: usize,
    /// Whether the commit is pipelined (`Options::pipelined_commit`).
    pipelined: bool,
}

/// The common options with a manifest rolled at 256 bytes (twice its
/// snapshot at the least), so that crash points fall inside manifest
/// rolls too: a new manifest written, `CURRENT` switched, the old one
/// deleted.
fn options(fs: &FaultFs, write_buffer: usize) -> Options {
    Options {
        max_manifest_file_size: 256,
        ..common::options(fs, write_buffer)
    }
}

/// [`options`] for a run of `size`.
fn run_options(fs: &FaultFs, size: &Size) -> Options {
    Options {
        pipelined_commit: size.pipelined,
        ..options(fs, size.write_buffer)
    }
}

/// Writer 0 writes a batch larger than the write buffer once the run is
/// this far through its mutations, for each fraction: a few per run, as
/// each adds a write buffer of data that every crash state copies.
const LARGE_AT: [f64; 2] = [0.3, 0.6];

fn size() -> Size {
    if cfg!(debug_assertions) {
        Size {
            writers: 4,
            min_mutations: 800,
            max_batches_per_writer: 1_000,
            write_buffer: 64 << 10,
            stride: 7,
            pipelined: false,
        }
    } else {
        Size {
            writers: 4,
            min_mutations: 2_100,
            max_batches_per_writer: 5_000,
            write_buffer: 256 << 10,
            stride: 1,
            pipelined: false,
        }
    }
}

/// Runs the workload on a recording file system; returns the oracle and the
/// mutations.
fn record_run(size: &Size, seed: u64) -> (Oracle, Vec<Mutation>) {
    let fs = FaultFs::recording();
    let db = Arc::new(Db::open(dir(), run_options(&fs, size)).unwrap());
    let first_manifest = db.stats().manifest;
    let acks = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for w in 0..size.writers {
            let (db, acks, fs) = (Arc::clone(&db), Arc::clone(&acks), fs.clone());
            s.spawn(move || {
                let mut rng = seed ^ (w << 32);
                let thresholds = LARGE_AT.map(|f| (f * size.min_mutations as f64) as u64);
                let mut large: &[u64] = if w == 0 { &thresholds } else { &[] };
                for _ in 0..size.max_batches_per_writer {
                    // Writer 0 goes on until it wrote its large batches.
                    if fs.mutations() >= size.min_mutations as u64 && large.is_empty() {
                        break;
                    }
                    let large_now = large.first().is_some_and(|&at| fs.mutations() >= at);
                    if large_now {
                        large = &large[1..];
                    }
                    let (batch, sync) = if large_now {
                        // Larger than the write buffer: straight to a table.
                        (large_batch(&mut rng, size.write_buffer), true)
                    } else {
                        let batch = random_batch(&mut rng, 300, 400);
                        (batch, common::splitmix64(&mut rng).is_multiple_of(4))
                    };
                    let seq = db
                        .write(&batch, &WriteOptions { sync, merge: true })
                        .unwrap();
                    let at_mutation = fs.mutations();
                    acks.lock().unwrap().push(Ack {
                        seq,
                        batch,
                        sync,
                        at_mutation,
                    });
                }
            });
        }
    });
    // Level 0 is past its trigger by now: let the compaction lane's work
    // land in the recording, so that crash points fall in compactions.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db.stats().compactions == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let stats = db.stats();
    eprintln!(
        "run: {} large batches, {} flushes, {} rotations, {} compactions, tables per level {:?}",
        stats.large_batches,
        stats.flushes,
        stats.rotations,
        stats.compactions,
        stats.files_per_level
    );
    assert!(
        stats.compactions >= 1,
        "the run must compact, so that crash points fall in compactions: {stats:?}"
    );
    assert!(
        stats.rotations >= 2,
        "the run must span at least 3 journals: {stats:?}"
    );
    assert!(
        stats.large_batches >= 2,
        "the run must write large batches: {stats:?}"
    );
    assert_ne!(
        stats.manifest.as_ref().map(|m| &m.0),
        first_manifest.as_ref().map(|m| &m.0),
        "the run must roll the manifest, so that crash points fall in rolls"
    );
    Arc::into_inner(db).unwrap().close().unwrap();
    let acks = Arc::into_inner(acks).unwrap().into_inner().unwrap();
    (Oracle::new(acks), fs.history())
}

/// A batch of the run's keys larger than the write buffer, with deletes.
fn large_batch(rng: &mut u64, write_buffer: usize) -> Batch {
    let mut b = Batch::new();
    while b.internal_len() <= write_buffer {
        let key = format!("key{:05}", common::splitmix64(rng) % 300);
        if common::splitmix64(rng).is_multiple_of(7) {
            b.delete(key.as_bytes());
        } else {
            let fill = (common::splitmix64(rng) % 26) as u8 + b'A';
            b.put(key.as_bytes(), vec![fill; 2000]);
        }
    }
    b
}

#[test]
fn every_crash_point_recovers_an_acknowledged_prefix() {
    every_crash_point(size(), 0xc0ffee);
}

/// The same with the pipelined commit (issue #27): groups handed on before
/// their fsync, two in flight, every third crash point in release.
#[test]
fn every_crash_point_recovers_an_acknowledged_prefix_pipelined() {
    let unpipelined = size();
    every_crash_point(
        Size {
            pipelined: true,
            stride: unpipelined.stride * 3,
            ..unpipelined
        },
        0x5eed_7e1e,
    );
}

fn every_crash_point(size: Size, seed: u64) {
    let (oracle, history) = record_run(&size, seed);
    assert!(
        history.len() >= size.min_mutations,
        "the writers hit their batch cap after {} mutations",
        history.len()
    );
    let boundaries = oracle.boundaries();
    let strict_checks = std::sync::atomic::AtomicU64::new(0);
    let last_seqs_seen = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let states = common::for_each_crash_state_parallel(
        &FaultFs::new(),
        &history,
        size.stride,
        2,
        |point, mode, crashed| {
            let ctx = format!(
                "crash after mutation {point} of {}, {mode:?}",
                history.len()
            );
            // A crash that keeps each file's writes in order leaves
            // nothing strict recovery refuses: torn tails only, and tables
            // and manifests whole or unnamed. (One that keeps later blocks
            // and loses earlier ones leaves a hole with records after it
            // in the current journal, which strict refuses by design.)
            if !matches!(mode, CrashMode::RandomBlocks { .. }) {
                let strict = Options {
                    recovery: RecoveryMode::Strict,
                    ..run_options(crashed, &size)
                };
                match Db::check(dir(), &strict) {
                    Ok(_) | Err(tributary::Error::NotFound { .. }) => {}
                    Err(e) => panic!("{ctx}: strict check failed: {e}"),
                }
                strict_checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let db = Db::open(dir(), run_options(crashed, &size))
                .unwrap_or_else(|e| panic!("{ctx}: open failed: {e}"));
            assert_no_orphans(crashed, &db, &ctx);
            let s = db.recovery_report().last_seq.0;
            assert!(
                s == 0 || boundaries.binary_search(&s).is_ok(),
                "{ctx}: recovered seq {s} splits a batch"
            );
            let expected = oracle.state_at(s);
            assert_eq!(contents(&db), expected, "{ctx}: state at seq {s}");
            let synced = oracle.synced_before(point as u64);
            assert!(
                s >= synced,
                "{ctx}: lost synced write: recovered {s}, synced {synced}"
            );
            let mut probe = Batch::new();
            probe.put(b"probe", b"1");
            let seq = db
                .write(
                    &probe,
                    &WriteOptions {
                        sync: true,
                        merge: true,
                    },
                )
                .unwrap();
            assert_eq!(seq.0, s + 1, "{ctx}: next write's sequence number");
            db.close().unwrap();
            let again = Db::open(dir(), run_options(crashed, &size)).unwrap();
            assert_eq!(
                again.recovery_report().last_seq.0,
                s + 1,
                "{ctx}: second open"
            );
            let mut with_probe = expected;
            with_probe.insert(b"probe".to_vec(), b"1".to_vec());
            assert_eq!(contents(&again), with_probe, "{ctx}: second open's state");
            again.close().unwrap();
            last_seqs_seen.lock().unwrap().insert(s);
        },
    );
    let strict_checks = strict_checks.into_inner();
    let last_seqs_seen = last_seqs_seen.into_inner().unwrap();
    eprintln!(
        "D1: {} mutations, {states} recovered states ({strict_checks} also checked strict), {} distinct recovered sequence numbers, 0 oracle violations",
        history.len(),
        last_seqs_seen.len()
    );
    if !cfg!(debug_assertions) && size.stride == 1 {
        assert!(
            states >= 20_000,
            "D1 wants at least 20,000 recovered states, got {states}"
        );
    }
    assert!(
        last_seqs_seen.len() > 10,
        "crash points must recover many different prefixes"
    );
}

/// After an open, the directory holds only what the database uses: one
/// manifest, `CURRENT`, the tables it lists, its new journal, and the
/// journals it replayed until the flush of what it keeps of them in
/// memory (TABLES.md §5).
///
/// The open wakes the flush and compaction lanes, which may be writing outputs or
/// have inputs still to unlink: the directory is listed with the lane
/// paused, which waits for the compaction running and the deletion of its
/// inputs (an event, not a time: a 10 s wait here had failed on a loaded
/// machine, while a table a reader dropped late waited for the next flush).
fn assert_no_orphans(fs: &FaultFs, db: &Db, ctx: &str) {
    // What the open kept in memory is flushed by the background, whose
    // table is an output in progress until then.
    common::eventually("the flush of what the open kept in memory", || {
        db.stats().frozen_memtables == 0
    });
    db.pause_compaction(true);
    let names: Vec<String> = fs
        .files_under(dir())
        .into_keys()
        .filter(|p| p.parent() == Some(std::path::Path::new(dir())))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let tables: usize = db.stats().files_per_level.iter().sum();
    db.pause_compaction(false);
    let count = |f: &dyn Fn(&str) -> bool| names.iter().filter(|n| f(n)).count();
    assert_eq!(
        count(&|n| n.starts_with("MANIFEST-")),
        1,
        "{ctx}: manifests in {names:?}"
    );
    assert_eq!(count(&|n| n == "CURRENT"), 1, "{ctx}: {names:?}");
    assert_eq!(
        count(&|n| n.ends_with(".ldb")),
        tables,
        "{ctx}: tables in {names:?}"
    );
    // The new journal (the newest), and the replayed ones the open kept
    // live for what it holds in memory until its flush deletes them.
    let mut journals: Vec<&String> = names.iter().filter(|n| n.ends_with(".log")).collect();
    journals.sort();
    assert!(journals.pop().is_some(), "{ctx}: no journal in {names:?}");
    let replayed: Vec<String> = db
        .recovery_report()
        .journals
        .iter()
        .map(|j| j.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        journals.iter().all(|n| replayed.contains(n)),
        "{ctx}: journals in {names:?}, of which only {replayed:?} were replayed"
    );
    assert_eq!(
        count(&|n| n.ends_with(".dbtmp") || n.ends_with(".repair")),
        0,
        "{ctx}: temporaries in {names:?}"
    );
}

/// Rotation does not sync the journal it closes; a synced write after it
/// must, before its acknowledgement. Otherwise a power loss could keep the
/// synced write but lose earlier ones: not a prefix (RELIABILITY.md D1, the
/// ALICE case). Several rounds, so that some find the background sync of
/// the closed journals not yet done.
#[test]
fn a_synced_write_makes_the_closed_journals_durable() {
    let synced = WriteOptions {
        sync: true,
        merge: true,
    };
    for round in 0..10 {
        let fs = FaultFs::new();
        let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
        let mut n = 0u32;
        while db.stats().rotations < 3 {
            db.put(format!("{n:06}").as_bytes(), [b'u'; 500]).unwrap();
            n += 1;
        }
        db.put_with(b"synced", b"1", &synced).unwrap();
        let crashed = fs.crash(CrashMode::SyncedOnly);
        drop(db);
        let db = Db::open(dir(), options(&crashed, 64 << 10)).unwrap();
        assert_eq!(db.get(b"synced").unwrap().as_deref(), Some(&b"1"[..]));
        for i in 0..n {
            let key = format!("{i:06}");
            assert!(
                db.get(key.as_bytes()).unwrap().is_some(),
                "round {round}: {key} of {n} lost behind a synced write"
            );
        }
        db.close().unwrap();
    }
}

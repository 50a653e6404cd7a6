//! TABLES.md T8: write stalls. With the compaction lane paused by its test
//! hook, flushes pile tables into level 0: from [`SLOWDOWN`] each write
//! group sleeps 1 ms, at [`STOP`] (frozen memtables counted) a write that
//! needs a rotation waits; it resumes when compaction drains level 0, and fails when a
//! persistent error stops the background. (That a stall returns on close
//! is the gate's own test, in `compaction::stall`: through the public API
//! `Db::close` takes the database by value, so no write can be in flight
//! beside it.)

mod common;

use common::{dir, eventually, options};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tributary::fs::{Fault, FaultFs, FaultKind, FaultOp};
use tributary::{Db, Stats};

const WRITE_BUFFER: usize = 64 << 10;

/// The level-0 tables at which each write group sleeps (the database's
/// `L0_SLOWDOWN_TRIGGER`, RocksDB's default).
const SLOWDOWN: usize = 20;

/// The level-0 tables, frozen memtables counted, at which a write that
/// needs a rotation waits (`L0_STOP_TRIGGER`).
const STOP: usize = 30;
const VALUE: usize = 1000;

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:08}").into_bytes()
}

fn value(i: u64) -> Vec<u8> {
    vec![b'a' + (i % 26) as u8; VALUE]
}

fn level0(db: &Db) -> usize {
    db.stats().files_per_level[0]
}

/// A database with compaction paused, written by this thread until level 0
/// holds `tables` tables; returns it and the next key.
fn paused_with_level0(fs: &FaultFs, tables: usize) -> (Arc<Db>, u64) {
    let db = Arc::new(Db::open(dir(), options(fs, WRITE_BUFFER)).unwrap());
    db.pause_compaction(true);
    let mut next = 0;
    while level0(&db) < tables {
        db.put(key(next), value(next)).unwrap();
        next += 1;
        let stats = db.stats();
        if stats.files_per_level[0] + stats.frozen_memtables < SLOWDOWN {
            assert_eq!(stats.write_slowdowns, 0, "slowed below {SLOWDOWN} tables");
        }
    }
    (db, next)
}

/// Starts a thread writing keys from `first` on until it has written
/// `count` or a write fails; returns it and its progress counter.
fn writer(
    db: &Arc<Db>,
    first: u64,
    count: u64,
) -> (
    std::thread::JoinHandle<Result<(), tributary::Error>>,
    Arc<AtomicU64>,
) {
    let progress = Arc::new(AtomicU64::new(0));
    let handle = {
        let (db, progress) = (Arc::clone(db), Arc::clone(&progress));
        std::thread::spawn(move || {
            for i in first..first + count {
                db.put(key(i), value(i))?;
                progress.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
    };
    (handle, progress)
}

/// Waits until the writer is stopped: a stop counted, and no progress for
/// a while.
fn wait_until_stopped(db: &Db, progress: &AtomicU64) -> Stats {
    eventually("a stop", || db.stats().write_stops > 0);
    let mut last = progress.load(Ordering::Relaxed);
    eventually("the writer to stand still", || {
        std::thread::sleep(Duration::from_millis(200));
        let now = progress.load(Ordering::Relaxed);
        let stopped = now == last;
        last = now;
        stopped
    });
    db.stats()
}

#[test]
fn writes_slow_at_20_tables_wait_at_30_and_resume_when_level_0_drains() {
    let fs = FaultFs::new();
    let (db, next) = paused_with_level0(&fs, SLOWDOWN);

    // Each write is its own group here: each sleeps once.
    let before = db.stats();
    for i in next..next + 20 {
        db.put(key(i), value(i)).unwrap();
    }
    let after = db.stats();
    assert!(
        after.write_slowdowns >= before.write_slowdowns + 20,
        "20 groups at {SLOWDOWN}+ tables slept {} times",
        after.write_slowdowns - before.write_slowdowns
    );
    assert!(after.write_stall_time >= before.write_stall_time + Duration::from_millis(20));

    // Enough writes for many more memtables than level 0 may take.
    let first = next + 20;
    let total = 40 * (WRITE_BUFFER / VALUE) as u64;
    let (handle, progress) = writer(&db, first, total);
    let stopped = wait_until_stopped(&db, &progress);
    assert!(
        progress.load(Ordering::Relaxed) < total,
        "the writer never stopped"
    );
    let level0_tables = stopped.files_per_level[0];
    assert!(
        level0_tables + stopped.frozen_memtables >= STOP || stopped.frozen_memtables >= 2,
        "stopped with {level0_tables} tables and {} frozen memtables",
        stopped.frozen_memtables
    );
    assert!(level0_tables <= STOP, "level 0 grew to {level0_tables}");
    // Reads go on meanwhile.
    assert_eq!(db.get(key(0)).unwrap(), Some(value(0)));

    // Compaction drains level 0 and the writer finishes.
    db.pause_compaction(false);
    handle.join().unwrap().unwrap();
    assert_eq!(progress.load(Ordering::Relaxed), total);
    eventually("level 0 to drain", || level0(&db) < 4);
    let stats = db.stats();
    assert!(stats.compactions > 0);
    assert!(stats.write_stall_time > after.write_stall_time);
    for i in (0..first + total).step_by(97) {
        assert_eq!(db.get(key(i)).unwrap(), Some(value(i)), "key {i}");
    }
    // Level 0 never went past the trigger (the flushes after the stop
    // were of memtables it counted).
    assert!(stats.files_per_level[0] <= STOP);
}

#[test]
fn a_persistent_error_wakes_a_stopped_writer() {
    let fs = FaultFs::new();
    let (db, next) = paused_with_level0(&fs, SLOWDOWN);
    let (handle, progress) = writer(&db, next, 40 * (WRITE_BUFFER / VALUE) as u64);
    wait_until_stopped(&db, &progress);

    // The compaction that would free the writer cannot commit: the
    // manifest fails, which stops the background for good.
    fs.set_fault_on(
        Fault {
            op: FaultOp::Write,
            nth: 1,
            persistent: true,
            kind: FaultKind::Eio,
        },
        "MANIFEST",
    );
    db.pause_compaction(false);
    let err = handle
        .join()
        .unwrap()
        .expect_err("the stopped write must fail");
    let msg = tributary::Error::to_string(&err);
    assert!(
        msg.contains("background") || msg.contains("manifest"),
        "{msg}"
    );
    // Every later write fails too; reads keep working.
    assert!(db.put(b"after", b"x").is_err());
    assert_eq!(db.get(key(0)).unwrap(), Some(value(0)));
}

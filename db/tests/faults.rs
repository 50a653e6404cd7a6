//! RELIABILITY.md D2: I/O error loops, SQLite style. For each kind of fault
//! (EIO on write, EIO on sync, ENOSPC, a short write), once and persistent,
//! fail the N-th matching operation for N = 1, 2, ... until a run completes
//! without meeting the fault, and check:
//!
//! - every write whose group met the fault gets an error;
//! - after a journal write or sync error the database is poisoned: every
//!   later write fails;
//! - reopening (after a process restart, and after a power loss) gives a
//!   state where every acknowledged write is present (synced ones for a
//!   power loss), every write is all-or-nothing, and nothing appears that was
//!   never written;
//! - the reopened database takes writes again.
//!
//! Also the compound case: a fault while recovering.

mod common;

use common::{dir, options};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tributary::fs::{CrashMode, Fault, FaultFs, FaultKind, FaultOp};
use tributary::{Batch, Db, Error, WriteOptions};

const WRITERS: u64 = 4;
const WRITES_PER_WRITER: u64 = 40;
const WRITE_BUFFER: usize = 64 << 10;

/// One attempted write: unique keys, so presence is easy to judge.
struct Attempt {
    keys: Vec<Vec<u8>>,
    value: Vec<u8>,
    sync: bool,
    acked: bool,
}

fn attempt_batch(writer: u64, i: u64) -> (Batch, Vec<Vec<u8>>, Vec<u8>) {
    let value = vec![b'a' + (i % 26) as u8; 300 + (i as usize * 37) % 900];
    let keys: Vec<Vec<u8>> = (0..1 + i % 3)
        .map(|r| format!("w{writer}-{i:04}-{r}").into_bytes())
        .collect();
    let mut b = Batch::new();
    for k in &keys {
        b.put(k, &value);
    }
    (b, keys, value)
}

/// Runs the workload with `fault` set after open; returns the attempts and
/// whether the fault was met.
fn run(fs: &FaultFs, fault: Fault) -> (Vec<Attempt>, bool) {
    let db = Arc::new(Db::open(dir(), options(fs, WRITE_BUFFER)).unwrap());
    fs.set_fault(Some(fault));
    let attempts = Mutex::new(Vec::new());
    let met = Mutex::new(false);
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let db = Arc::clone(&db);
            let (attempts, met) = (&attempts, &met);
            s.spawn(move || {
                let mut failed_before = false;
                for i in 0..WRITES_PER_WRITER {
                    let (batch, keys, value) = attempt_batch(w, i);
                    let sync = i % 3 == 0;
                    let res = db.write(&batch, &WriteOptions { sync, merge: true });
                    if failed_before {
                        assert!(res.is_err(), "a write succeeded after the database failed");
                    }
                    match &res {
                        Ok(_) => {}
                        Err(Error::Write(_)) => {
                            failed_before = true;
                            *met.lock().unwrap() = true;
                        }
                        Err(e) => panic!("unexpected error {e}"),
                    }
                    attempts.lock().unwrap().push(Attempt {
                        keys,
                        value,
                        sync,
                        acked: res.is_ok(),
                    });
                }
            });
        }
    });
    fs.set_fault(None);
    let db = Arc::into_inner(db).unwrap();
    let poisoned = *met.lock().unwrap();
    if poisoned {
        let mut b = Batch::new();
        b.put(b"after", b"error");
        assert!(
            db.write(&b, &WriteOptions::default()).is_err(),
            "the database must stay poisoned until reopened"
        );
    }
    // Close may report the poisoning error; either way it must return.
    let _ = db.close();
    (attempts.into_inner().unwrap(), poisoned)
}

fn check_recovered(fs: &FaultFs, attempts: &[Attempt], need_unsynced: bool, ctx: &str) {
    let db =
        Db::open(dir(), options(fs, WRITE_BUFFER)).unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
    let state: BTreeMap<Vec<u8>, Vec<u8>> = db.iter().collect::<Result<_, _>>().unwrap();
    let mut known = 0;
    for a in attempts {
        let present: Vec<bool> = a
            .keys
            .iter()
            .map(|k| state.get(k) == Some(&a.value))
            .collect();
        let all = present.iter().all(|p| *p);
        let none = present.iter().all(|p| !*p);
        assert!(all || none, "{ctx}: a batch is partly present");
        if a.acked && (a.sync || need_unsynced) {
            assert!(all, "{ctx}: acknowledged write lost");
        }
        if all {
            known += a.keys.len();
        }
    }
    assert_eq!(
        state.len(),
        known,
        "{ctx}: the database holds keys never written"
    );
    let mut b = Batch::new();
    b.put(b"after-reopen", b"ok");
    db.write(
        &b,
        &WriteOptions {
            sync: true,
            merge: true,
        },
    )
    .unwrap_or_else(|e| panic!("{ctx}: write after reopen: {e}"));
    db.close().unwrap();
}

fn error_loop(op: FaultOp, kind: FaultKind, persistent: bool) -> u64 {
    let mut n = 1;
    loop {
        let fs = FaultFs::new();
        let fault = Fault {
            op,
            nth: n,
            persistent,
            kind,
        };
        let (attempts, met) = run(&fs, fault);
        let ctx = format!("{fault:?}");
        check_recovered(
            &fs.snapshot(),
            &attempts,
            true,
            &format!("{ctx}, process restart"),
        );
        check_recovered(
            &fs.crash(CrashMode::SyncedOnly),
            &attempts,
            false,
            &format!("{ctx}, power loss"),
        );
        if !met {
            return n;
        }
        n += 1;
        assert!(n < 10_000, "the fault never stopped being met");
    }
}

#[test]
fn eio_on_write() {
    for persistent in [false, true] {
        let n = error_loop(FaultOp::Write, FaultKind::Eio, persistent);
        eprintln!("EIO on write, persistent={persistent}: clean after {n} runs");
    }
}

#[test]
fn eio_on_sync() {
    for persistent in [false, true] {
        let n = error_loop(FaultOp::Sync, FaultKind::Eio, persistent);
        eprintln!("EIO on sync, persistent={persistent}: clean after {n} runs");
    }
}

#[test]
fn enospc() {
    for persistent in [false, true] {
        let n = error_loop(FaultOp::Write, FaultKind::NoSpace, persistent);
        eprintln!("ENOSPC, persistent={persistent}: clean after {n} runs");
    }
}

#[test]
fn short_write() {
    for persistent in [false, true] {
        let n = error_loop(FaultOp::Write, FaultKind::ShortWrite, persistent);
        eprintln!("short write, persistent={persistent}: clean after {n} runs");
    }
}

#[test]
fn fault_during_recovery_then_clean_recovery() {
    // Build a database with data, then fail each operation recovery does.
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, WRITE_BUFFER)).unwrap();
    for i in 0..200u32 {
        db.put_with(
            format!("k{i:04}").as_bytes(),
            [7u8; 500],
            &WriteOptions {
                sync: i % 10 == 0,
                merge: true,
            },
        )
        .unwrap();
    }
    db.close().unwrap();
    let mut failures = 0;
    for n in 1..20 {
        let crashed = fs.crash(CrashMode::TornAppend { seed: n });
        crashed.set_fault(Some(Fault {
            op: FaultOp::Any,
            nth: n,
            persistent: false,
            kind: FaultKind::Eio,
        }));
        match Db::open(dir(), options(&crashed, WRITE_BUFFER)) {
            Ok(db) => {
                let _ = db.close();
            }
            Err(Error::Io { .. }) => failures += 1,
            Err(e) => panic!("recovery fault gave {e}"),
        }
        crashed.set_fault(None);
        let db = Db::open(dir(), options(&crashed, WRITE_BUFFER)).unwrap();
        // The synced writes (every tenth) survive whatever recovery met.
        for i in (0..200u32).step_by(10) {
            assert!(
                db.get(format!("k{i:04}").as_bytes()).unwrap().is_some(),
                "n={n}: lost k{i:04}"
            );
        }
        db.close().unwrap();
    }
    assert!(failures > 0, "some recovery operation must have failed");
}

#[test]
fn a_failed_explicit_sync_poisons_the_database() {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, WRITE_BUFFER)).unwrap();
    db.put(b"a", b"1").unwrap();
    fs.set_fault(Some(Fault {
        op: FaultOp::Sync,
        nth: 1,
        persistent: false,
        kind: FaultKind::Eio,
    }));
    assert!(matches!(db.sync(), Err(Error::Io { .. })));
    // The fault was one-shot, but an fsync is never retried: every later
    // write and sync fails until the database is reopened.
    assert!(db.put(b"b", b"2").is_err());
    assert!(db.sync().is_err());
    assert!(db.close().is_err());
    let db = Db::open(dir(), options(&fs.snapshot(), WRITE_BUFFER)).unwrap();
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(db.get(b"b").unwrap(), None);
    db.close().unwrap();
}

/// Rotation leaves the old journal's sync to the background thread; when
/// that sync fails, the database refuses every later write, synced or not,
/// and the data written before stays recoverable after a restart.
#[test]
fn a_failed_sync_of_a_closed_journal_refuses_later_writes() {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, WRITE_BUFFER)).unwrap();
    // Unsynced writes make no sync but those of closed journals.
    fs.set_fault(Some(Fault {
        op: FaultOp::Sync,
        nth: 1,
        persistent: false,
        kind: FaultKind::Eio,
    }));
    let value = vec![b'v'; 1000];
    let mut acked = 0;
    while db.stats().rotations < 2 {
        match db.put(format!("k{acked:05}").as_bytes(), &value) {
            Ok(_) => acked += 1,
            // The background sync of the first closed journal failed.
            Err(Error::Write(_)) => break,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(db.stats().rotations >= 1);
    // Whichever thread met the fault, the explicit sync reports it (it syncs
    // the closed journals first), and is not retried.
    let err = db.sync().unwrap_err();
    assert!(err.to_string().contains("journal"), "{err}");
    assert!(matches!(db.put(b"after", b"x"), Err(Error::Write(_))));
    let synced = WriteOptions {
        sync: true,
        merge: true,
    };
    let mut b = Batch::new();
    b.put(b"after", b"synced");
    assert!(db.write(&b, &synced).is_err());
    let _ = db.close();

    let db = Db::open(dir(), options(&fs.snapshot(), WRITE_BUFFER)).unwrap();
    for i in 0..acked {
        let key = format!("k{i:05}");
        assert_eq!(
            db.get(key.as_bytes()).unwrap(),
            Some(value.clone()),
            "{key}"
        );
    }
    assert_eq!(db.get(b"after").unwrap(), None);
    db.write(&b, &synced).unwrap();
    db.close().unwrap();
}

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
//! Also the compound case: a fault while recovering; and the table and
//! manifest loops (TABLES.md T7): faults on table writes, syncs and
//! creates are retried by the flush (writes go on, nothing is lost),
//! faults on manifest appends and syncs poison writes, and a failed
//! rename of `CURRENT` fails the open it belongs to, changing nothing a
//! later open needs; reads keep working throughout, and every reopen is
//! valid. A batch larger than the write buffer, written straight to a
//! table, fails alone on a table fault (nothing left, the retry takes
//! its sequence numbers) and poisons writes on a manifest fault, whole
//! or absent after a reopen. A leveled compaction that meets a table
//! fault is retried with back-off and leaves no output behind, with
//! writes and reads going on; one that meets a manifest fault poisons
//! writes, and the reopened database holds every write.

mod common;

use common::{dir, eventually, options};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tributary::fs::{CrashMode, Fault, FaultFs, FaultKind, FaultOp};
use tributary::{Batch, Db, Error, Options, WriteOptions};

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

/// Runs the workload with `fault` set after open (on the files whose name
/// contains `on`, if given); returns the attempts and whether the fault
/// fired at all.
/// With `pipelined`, the commit is pipelined (`Options::pipelined_commit`).
fn run(
    fs: &FaultFs,
    fault: Fault,
    on: Option<&str>,
    max_manifest: u64,
    pipelined: bool,
) -> (Vec<Attempt>, bool) {
    let opts = Options {
        max_manifest_file_size: max_manifest,
        pipelined_commit: pipelined,
        ..options(fs, WRITE_BUFFER)
    };
    let db = Arc::new(Db::open(dir(), opts).unwrap());
    let injected_before = fs.faults_injected();
    match on {
        Some(name) => fs.set_fault_on(fault, name),
        None => fs.set_fault(Some(fault)),
    }
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
    // Let the background flush meet (and retry) what it will.
    let _ = db.compact();
    let fired = fs.faults_injected() > injected_before;
    // Reads keep working whatever failed: every acknowledged write is
    // readable from the open database.
    for a in attempts.lock().unwrap().iter().filter(|a| a.acked) {
        for k in &a.keys {
            assert_eq!(
                db.get(k)
                    .unwrap_or_else(|e| panic!("{fault:?} on {on:?}: read failed: {e}")),
                Some(a.value.clone()),
                "{fault:?} on {on:?}: an acknowledged write is not readable"
            );
        }
    }
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
    (attempts.into_inner().unwrap(), fired)
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
    error_loop_on(op, kind, persistent, None)
}

/// The loop for a fault on the operations of files whose name contains
/// `on` (all files if `None`): N = 1, 2, ... until the fault no longer
/// fires.
fn error_loop_on(op: FaultOp, kind: FaultKind, persistent: bool, on: Option<&str>) -> u64 {
    let default_roll = Options::default().max_manifest_file_size;
    error_loop_with(op, kind, persistent, on, default_roll, false)
}

/// [`error_loop`] with the pipelined commit (issue #27): a fault meets two
/// groups in flight, the next appended while the last one syncs.
fn pipelined_loop(op: FaultOp, kind: FaultKind, persistent: bool) -> u64 {
    let default_roll = Options::default().max_manifest_file_size;
    error_loop_with(op, kind, persistent, None, default_roll, true)
}

/// [`error_loop_on`] with the manifest rolled past `max_manifest` bytes.
fn error_loop_with(
    op: FaultOp,
    kind: FaultKind,
    persistent: bool,
    on: Option<&str>,
    max_manifest: u64,
    pipelined: bool,
) -> u64 {
    let mut n = 1;
    loop {
        let fs = FaultFs::new();
        let fault = Fault {
            op,
            nth: n,
            persistent,
            kind,
        };
        let (attempts, met) = run(&fs, fault, on, max_manifest, pipelined);
        let ctx = format!("{fault:?} on {on:?}, pipelined: {pipelined}");
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
fn eio_on_sync_and_write_pipelined() {
    for op in [FaultOp::Sync, FaultOp::Write] {
        for persistent in [false, true] {
            let n = pipelined_loop(op, FaultKind::Eio, persistent);
            eprintln!("EIO on {op:?}, pipelined, persistent={persistent}: clean after {n} runs");
        }
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
fn faults_on_table_writes_are_retried() {
    for (op, kind) in [
        (FaultOp::Write, FaultKind::Eio),
        (FaultOp::Write, FaultKind::NoSpace),
        (FaultOp::Sync, FaultKind::Eio),
        (FaultOp::Create, FaultKind::Eio),
    ] {
        for persistent in [false, true] {
            let n = error_loop_on(op, kind, persistent, Some(".ldb"));
            eprintln!("{kind:?} on table {op:?}, persistent={persistent}: clean after {n} runs");
        }
    }
}

#[test]
fn faults_on_manifest_appends_and_syncs_poison_writes() {
    for op in [FaultOp::Write, FaultOp::Sync] {
        for persistent in [false, true] {
            let n = error_loop_on(op, FaultKind::Eio, persistent, Some("MANIFEST"));
            eprintln!("EIO on manifest {op:?}, persistent={persistent}: clean after {n} runs");
        }
    }
    // Poisoned, not retried: a one-shot manifest sync error stops writes
    // for good, while reads go on.
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, WRITE_BUFFER)).unwrap();
    db.put(b"before", b"1").unwrap();
    fs.set_fault_on(
        Fault {
            op: FaultOp::Sync,
            nth: 1,
            persistent: false,
            kind: FaultKind::Eio,
        },
        "MANIFEST",
    );
    assert!(db.compact().is_err());
    assert!(matches!(db.put(b"after", b"2"), Err(Error::Write(_))));
    assert!(matches!(db.put(b"later", b"3"), Err(Error::Write(_))));
    assert_eq!(db.get(b"before").unwrap().as_deref(), Some(&b"1"[..]));
    let _ = db.close();
    let db = Db::open(dir(), options(&fs.snapshot(), WRITE_BUFFER)).unwrap();
    assert_eq!(db.get(b"before").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"after").unwrap(), None);
    db.close().unwrap();
}

/// D2 through manifest rolls: with the manifest rolled at every few
/// commits, the N-th create, write, sync or rename of a manifest or of
/// `CURRENT`'s temporary fails, once or for good, for N = 1, 2, ... until
/// the fault no longer fires. A roll that fails poisons writes (which
/// manifest `CURRENT` names is unknown); reads go on; after a restart and
/// after a power loss every acknowledged write is there.
#[test]
fn faults_during_manifest_rolls_poison_writes_and_lose_nothing() {
    for (op, on) in [
        (FaultOp::Create, "MANIFEST"),
        (FaultOp::Write, "MANIFEST"),
        (FaultOp::Sync, "MANIFEST"),
        (FaultOp::Create, ".dbtmp"),
        (FaultOp::Rename, ".dbtmp"),
    ] {
        for persistent in [false, true] {
            let n = error_loop_with(op, FaultKind::Eio, persistent, Some(on), 256, false);
            eprintln!(
                "EIO on {on} {op:?} with rolls, persistent={persistent}: clean after {n} runs"
            );
        }
    }
}

/// A failing rename of `CURRENT` (or of anything during the open that
/// installs it) fails that open with a typed error; the next open, with
/// the fault gone, finds everything, after a restart and after a power
/// loss.
#[test]
fn a_failed_current_rename_fails_the_open_and_loses_nothing() {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, WRITE_BUFFER)).unwrap();
    for i in 0..300u32 {
        db.put_with(
            format!("k{i:04}").as_bytes(),
            [3u8; 400],
            &WriteOptions {
                sync: i % 7 == 0,
                merge: true,
            },
        )
        .unwrap();
    }
    db.close().unwrap();
    for persistent in [false, true] {
        for crash in [None, Some(CrashMode::SyncedOnly)] {
            let fs = fs.snapshot();
            fs.set_fault_on(
                Fault {
                    op: FaultOp::Rename,
                    nth: 1,
                    persistent,
                    kind: FaultKind::Eio,
                },
                "CURRENT",
            );
            match Db::open(dir(), options(&fs, WRITE_BUFFER)) {
                Err(Error::Io { op, .. }) => assert!(op.contains("CURRENT"), "{op}"),
                other => panic!("the open must fail: {other:?}"),
            }
            fs.set_fault(None);
            let fs = match crash {
                Some(mode) => fs.crash(mode),
                None => fs,
            };
            let db = Db::open(dir(), options(&fs, WRITE_BUFFER)).unwrap();
            let keys = db.iter().count();
            assert_eq!(keys, 300, "persistent {persistent}, {crash:?}");
            db.close().unwrap();
        }
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
    // Unsynced writes make no journal sync but those of closed journals
    // (the flushes sync their tables: not those).
    let fault = Fault {
        op: FaultOp::Sync,
        nth: 1,
        persistent: false,
        kind: FaultKind::Eio,
    };
    fs.set_fault_on(fault, ".log");
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

/// A batch of `n` puts of 1 KiB under `prefix`, larger than the write
/// buffer: written straight to a table.
fn large_batch(prefix: &str, n: usize) -> Batch {
    let mut b = Batch::new();
    for i in 0..n {
        b.put(format!("{prefix}{i:05}").as_bytes(), [b'L'; 1024]);
    }
    assert!(b.internal_len() > WRITE_BUFFER);
    b
}

/// Whether `db` holds every key of `large_batch(prefix, n)`, or none:
/// panics on a part.
fn holds_large(db: &Db, prefix: &str, n: usize) -> bool {
    let present = (0..n)
        .filter(|i| {
            db.get(format!("{prefix}{i:05}").as_bytes())
                .unwrap()
                .is_some()
        })
        .count();
    assert!(
        present == 0 || present == n,
        "{present} of {n} keys of a batch"
    );
    present == n
}

/// A fault on a table write, sync or create of a large batch's table
/// fails that write and nothing else: it leaves nothing, is not
/// poisoned, and the retry takes the same sequence numbers; after a power
/// loss everything acknowledged is there.
#[test]
fn a_table_fault_fails_a_large_batch_alone() {
    for (op, kind, nths) in [
        (FaultOp::Write, FaultKind::Eio, 1..=2),
        (FaultOp::Write, FaultKind::NoSpace, 1..=2),
        (FaultOp::Sync, FaultKind::Eio, 1..=1),
        (FaultOp::Create, FaultKind::Eio, 1..=1),
    ] {
        for nth in nths {
            let ctx = format!("{kind:?} on table {op:?} #{nth}");
            let fs = FaultFs::new();
            // Uncompressed, so that the batch's table takes more than one
            // write (its values are one repeated byte).
            let uncompressed = Options {
                compression: tributary::Compression::None,
                ..options(&fs, WRITE_BUFFER)
            };
            let db = Db::open(dir(), uncompressed).unwrap();
            db.put(b"before", b"1").unwrap();
            // In a table already, so that the batch's own table is the
            // only one written (a background flush would meet the fault
            // first, and retry).
            db.compact().unwrap();
            let fault = Fault {
                op,
                nth,
                persistent: false,
                kind,
            };
            fs.set_fault_on(fault, ".ldb");
            let before = db.stats().last_seq.0;
            let err = db.write(&large_batch("big", 600), &WriteOptions::default());
            assert!(matches!(err, Err(Error::Write(_))), "{ctx}: {err:?}");
            assert_eq!(fs.faults_injected(), 1, "{ctx}");
            assert!(!holds_large(&db, "big", 600), "{ctx}");
            assert_eq!(db.stats().last_seq.0, before, "{ctx}");
            let seq = db
                .write(&large_batch("big", 600), &WriteOptions::default())
                .unwrap_or_else(|e| panic!("{ctx}: the retry failed: {e}"));
            assert_eq!(seq.0, before + 1, "{ctx}");
            db.put(b"after", b"2").unwrap();
            assert!(holds_large(&db, "big", 600), "{ctx}");
            // A power loss keeps the large batch and what came before it,
            // unsynced as it was: it was flushed first.
            let crashed = fs.crash(CrashMode::SyncedOnly);
            drop(db);
            let db = Db::open(dir(), options(&crashed, WRITE_BUFFER)).unwrap();
            assert!(holds_large(&db, "big", 600), "{ctx}: after the power loss");
            assert_eq!(db.get(b"before").unwrap().as_deref(), Some(&b"1"[..]));
            db.close().unwrap();
        }
    }
}

/// A fault on the manifest append or sync of a large batch poisons
/// writes (its commit's outcome is unknown); reads go on, and a reopen
/// holds the batch whole or not at all.
#[test]
fn a_manifest_fault_during_a_large_batch_poisons_writes() {
    for op in [FaultOp::Write, FaultOp::Sync] {
        let fs = FaultFs::new();
        let db = Db::open(dir(), options(&fs, WRITE_BUFFER)).unwrap();
        db.write(&large_batch("first", 100), &WriteOptions::default())
            .unwrap();
        fs.set_fault_on(
            Fault {
                op,
                nth: 1,
                persistent: false,
                kind: FaultKind::Eio,
            },
            "MANIFEST",
        );
        let err = db.write(&large_batch("second", 100), &WriteOptions::default());
        assert!(matches!(err, Err(Error::Write(_))), "{op:?}: {err:?}");
        assert!(matches!(db.put(b"after", b"2"), Err(Error::Write(_))));
        assert!(holds_large(&db, "first", 100));
        let _ = db.close();
        for (name, after) in [
            ("restart", fs.snapshot()),
            ("power loss", fs.crash(CrashMode::SyncedOnly)),
        ] {
            let db = Db::open(dir(), options(&after, WRITE_BUFFER)).unwrap();
            assert!(holds_large(&db, "first", 100), "{op:?}, {name}");
            let second = holds_large(&db, "second", 100);
            eprintln!("manifest {op:?} fault, {name}: second batch kept: {second}");
            assert_eq!(db.get(b"after").unwrap(), None);
            db.close().unwrap();
        }
    }
}

/// A database with compaction paused and `tables` level-0 tables, all
/// synced, each spanning the same key range (so that compacting them is a
/// merge, not a move); returns it and the keys written.
fn with_level0_tables(fs: &FaultFs, tables: usize) -> (Db, Vec<Vec<u8>>) {
    let db = Db::open(dir(), options(fs, WRITE_BUFFER)).unwrap();
    db.pause_compaction(true);
    let mut keys = std::collections::BTreeSet::new();
    let mut n = 0u64;
    while db.stats().files_per_level[0] < tables {
        let k = format!("c{:06}", (n * 7919) % 3000).into_bytes();
        db.put(&k, vec![b'v'; 500]).unwrap();
        keys.insert(k);
        n += 1;
    }
    let keys: Vec<Vec<u8>> = keys.into_iter().collect();
    // Durable, so that a power loss keeps them all.
    db.sync().unwrap();
    (db, keys)
}

#[test]
fn a_table_fault_during_compaction_is_retried_and_leaves_nothing() {
    for (op, kind) in [
        (FaultOp::Write, FaultKind::Eio),
        (FaultOp::Sync, FaultKind::Eio),
        (FaultOp::Create, FaultKind::Eio),
        (FaultOp::Write, FaultKind::NoSpace),
        (FaultOp::Write, FaultKind::ShortWrite),
    ] {
        let fs = FaultFs::new();
        let (db, keys) = with_level0_tables(&fs, 5);
        let tables_before: Vec<_> = fs
            .files_under(dir())
            .into_keys()
            .filter(|p| p.extension().is_some_and(|e| e == "ldb"))
            .collect();
        // Three faults in a row: the first round and two retries fail.
        let injected = fs.faults_injected();
        fs.set_fault_on(
            Fault {
                op,
                nth: 1,
                persistent: true,
                kind,
            },
            ".ldb",
        );
        db.pause_compaction(false);
        eventually("the faults", || fs.faults_injected() >= injected + 3);
        // Meanwhile nothing is lost, and reads and writes go on.
        assert_eq!(db.stats().compactions, 0, "{op:?} {kind:?}");
        for k in keys.iter().step_by(7) {
            assert_eq!(db.get(k).unwrap(), Some(vec![b'v'; 500]), "{op:?} {kind:?}");
        }
        db.put(b"during", b"1").unwrap();
        fs.set_fault(None);
        // The retry succeeds, and only its outputs are left beside the
        // inputs it did not delete yet: no orphan from the failed rounds.
        eventually("the retried compaction", || db.stats().compactions > 0);
        eventually("level 0 to drain", || db.stats().files_per_level[0] < 4);
        let stats = db.stats();
        let live: u64 = stats.files_per_level.iter().map(|&n| n as u64).sum();
        db.close().unwrap();
        let on_disk = fs
            .files_under(dir())
            .into_keys()
            .filter(|p| p.extension().is_some_and(|e| e == "ldb"))
            .count() as u64;
        assert!(
            on_disk <= live + tables_before.len() as u64,
            "{op:?} {kind:?}: {on_disk} table files for {live} live tables"
        );
        let db = Db::open(dir(), options(&fs, WRITE_BUFFER)).unwrap();
        for k in &keys {
            assert_eq!(db.get(k).unwrap(), Some(vec![b'v'; 500]), "{op:?} {kind:?}");
        }
        assert_eq!(db.get(b"during").unwrap().as_deref(), Some(&b"1"[..]));
        db.close().unwrap();
        // The reopen deleted whatever no version names.
        let names = fs
            .files_under(dir())
            .into_keys()
            .filter(|p| p.extension().is_some_and(|e| e == "ldb"))
            .count();
        let reopened = Db::open(dir(), options(&fs, WRITE_BUFFER)).unwrap();
        let listed: usize = reopened.stats().files_per_level.iter().sum();
        reopened.close().unwrap();
        assert_eq!(names, listed, "{op:?} {kind:?}: orphan tables after reopen");
    }
}

#[test]
fn a_manifest_fault_during_compaction_poisons_writes() {
    for op in [FaultOp::Write, FaultOp::Sync] {
        let fs = FaultFs::new();
        let (db, keys) = with_level0_tables(&fs, 5);
        fs.set_fault_on(
            Fault {
                op,
                nth: 1,
                persistent: false,
                kind: FaultKind::Eio,
            },
            "MANIFEST",
        );
        db.pause_compaction(false);
        eventually("the poisoning", || db.put(b"probe", b"x").is_err());
        assert!(matches!(db.put(b"after", b"2"), Err(Error::Write(_))));
        for k in keys.iter().step_by(5) {
            assert_eq!(db.get(k).unwrap(), Some(vec![b'v'; 500]), "{op:?}");
        }
        let _ = db.close();
        for reopened in [fs.clone(), fs.crash(CrashMode::SyncedOnly)] {
            let db = Db::open(dir(), options(&reopened, WRITE_BUFFER)).unwrap();
            for k in &keys {
                // Every key was in a table before the fault: flushed,
                // synced and committed.
                assert_eq!(db.get(k).unwrap(), Some(vec![b'v'; 500]), "{op:?}");
            }
            assert_eq!(db.get(b"after").unwrap(), None);
            db.put(b"again", b"3").unwrap();
            db.close().unwrap();
        }
    }
}

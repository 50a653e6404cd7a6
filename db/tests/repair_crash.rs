//! RELIABILITY.md R2: crashes and faults during a repair.
//!
//! Each case damages a multi-journal history so that opening must repair
//! it: cut a journal, set journals aside, or both, in each order the plan
//! uses. The repairing open is recorded on a [`FaultFs`]; then, for every
//! prefix of its mutations and every D1 crash mode, the directory a power
//! loss would leave is opened again, in the same mode, and must recover
//! exactly what the first open recovered, and every byte of the damaged
//! directory must still be in some file. Until the repair is complete (the
//! original journals are as the whole repair leaves them), a strict open
//! must refuse exactly as it refused the original.
//!
//! Then the D2 loops: each kind of operation (write, sync, create, rename,
//! directory sync) fails at its N-th use, once and persistently, for N = 1,
//! 2, ... until an open meets no fault; the failing open returns an error
//! or succeeds, never panics, and the next clean open (after a restart, and
//! after a power loss before or after the retried repair) recovers the same
//! prefix and destroys nothing.
//!
//! The full size runs in release mode (a step of `cargo xtask ci`); debug
//! builds check every third crash point.

mod common;

use common::{assert_nothing_destroyed, build_history, contents, dir, files, History};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tributary::fs::{CrashMode, Fault, FaultFs, FaultKind, FaultOp, Fs, Mutation};
use tributary::{Db, Error, Options, RecoveryMode};

/// Damage that strict recovery refuses and point-in-time repairs. (A torn
/// tail of the newest write, the one damage strict accepts, needs no
/// repair: see `recovery::plan`.)
struct Case {
    what: String,
    fs: FaultFs,
}

fn opts(fs: &FaultFs, h: &History, recovery: RecoveryMode) -> Options {
    Options {
        recovery,
        ..common::options(fs, h.write_buffer)
    }
}

/// Makes everything in `fs` durable, as damage already on disk is.
fn bake(fs: &FaultFs) -> FaultFs {
    fs.sync_dir(dir()).unwrap();
    fs.crash(CrashMode::UnsyncedNames)
}

/// Damage that needs each kind of repair.
fn cases(h: &History) -> Vec<Case> {
    let full: Vec<usize> = (0..h.journals.len())
        .filter(|&k| h.journals[k].records.len() >= 3)
        .collect();
    assert!(full.len() >= 3, "the history must span several journals");
    let (first, middle, newest) = (full[0], full[full.len() / 2], *full.last().unwrap());
    let mut cases = Vec::new();
    let mut add = |what: &str, fs: FaultFs| {
        cases.push(Case {
            what: what.to_owned(),
            fs: bake(&fs),
        })
    };

    // Damage inside a middle journal: later journals set aside, then a cut.
    let fs = h.fs.snapshot();
    let j = &h.journals[middle];
    let r = j.records[j.records.len() / 2];
    assert!(fs.corrupt_byte(&j.path, r.start + 9, |b| b ^ 1));
    add("damage inside a middle journal", fs);

    // The torn end of an older journal: a cut, then later journals set
    // aside.
    let fs = h.fs.snapshot();
    let j = &h.journals[first];
    let r = j.records[j.records.len() - 2];
    assert!(fs.set_len(&j.path, r.end - 3));
    add("torn end of an older journal", fs);

    // The torn end of an older journal, then a journal with no record,
    // then one past the gap: the one past the gap must go last.
    let fs = h.fs.snapshot();
    let j = &h.journals[first];
    let r = j.records[j.records.len() - 2];
    assert!(fs.set_len(&j.path, r.end - 3));
    assert!(fs.set_len(&h.journals[first + 1].path, 0));
    add("torn end of an older journal, then an empty one", fs);

    // A middle journal missing: the journals after the gap set aside.
    let fs = h.fs.snapshot();
    fs.remove(&h.journals[middle].path).unwrap();
    add("a middle journal missing", fs);

    // Journals swapped.
    let fs = h.fs.snapshot();
    let (a, b) = (&h.journals[first].path, &h.journals[newest].path);
    let tmp = dir().join("swap");
    fs.rename(a, &tmp).unwrap();
    fs.rename(b, a).unwrap();
    fs.rename(&tmp, b).unwrap();
    add("first and newest journals swapped", fs);

    // A shortened copy left by an interrupted repair, and damage to repair.
    let fs = h.fs.snapshot();
    let j = &h.journals[middle];
    let data = fs.contents(&j.path).unwrap();
    let copy = dir().join(format!("{:06}.log.repair", j.number));
    let mut file = fs.create(&copy).unwrap();
    std::io::Write::write_all(&mut file, &data[..data.len() / 2]).unwrap();
    journal::SyncWrite::sync_data(&mut file).unwrap();
    let r = j.records[1];
    assert!(fs.corrupt_byte(&j.path, r.start + 9, |b| b ^ 1));
    add("a leftover repair copy and damage", fs);
    cases
}

/// What an open recovered: its last sequence number.
fn recovered(fs: &FaultFs, h: &History, mode: RecoveryMode, ctx: &str) -> u64 {
    let db = Db::open(dir(), opts(fs, h, mode)).unwrap_or_else(|e| panic!("{ctx}: open: {e}"));
    let s = db.recovery_report().last_seq.0;
    assert_eq!(contents(&db), h.oracle.state_at(s), "{ctx}: state at {s}");
    db.close().unwrap();
    s
}

/// The original journals of `fs` (those of `base`) that are live, with
/// their contents up to their last non-zero byte (cutting zero tails is a
/// step of a repair that changes no decision).
fn journals_left(fs: &FaultFs, base: &[PathBuf]) -> BTreeMap<PathBuf, Vec<u8>> {
    base.iter()
        .filter_map(|p| {
            let mut c = fs.contents(p)?;
            let end = c.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            c.truncate(end);
            Some((p.clone(), c))
        })
        .collect()
}

/// Checks every crash point of the repairing open of `case` in `mode`;
/// returns the states checked.
fn crash_points(h: &History, case: &Case, mode: RecoveryMode, stride: usize) -> u64 {
    let base = case.fs.snapshot();
    let recording = base.snapshot_recording();
    let db = Db::open(dir(), opts(&recording, h, mode))
        .unwrap_or_else(|e| panic!("{}, {mode:?}: first open: {e}", case.what));
    let prefix = db.recovery_report().last_seq.0;
    assert!(
        !db.recovery_report().set_aside.is_empty(),
        "{}: the case must need a repair",
        case.what
    );
    let history = recording.history();
    drop(db);
    let before = files(&base);
    let originals: Vec<PathBuf> = h.journals.iter().map(|j| j.path.clone()).collect();
    // The open repairs first, then flushes what it recovered to tables
    // and installs a manifest, then deletes the flushed journals. Its first
    // table or manifest marks the end of the repair, every step of which
    // is durable by then.
    let repaired_at = history
        .iter()
        .position(|m| match m {
            Mutation::Create { path, .. } => {
                let name = path.file_name().unwrap().to_string_lossy();
                name.ends_with(".ldb") || name.starts_with("MANIFEST-")
            }
            _ => false,
        })
        .unwrap_or(history.len());
    // The repair is complete where the original journals are as the whole
    // repair leaves them, or once the open has gone past it.
    let done = {
        let end = base.snapshot();
        for m in &history[..repaired_at] {
            end.apply(m);
        }
        journals_left(&end, &originals)
    };
    common::for_each_crash_state(&base, &history, stride, |point, crash, crashed| {
        let ctx = format!(
            "{}, {mode:?}, crash after mutation {point} of {}, {crash:?}",
            case.what,
            history.len()
        );
        assert_nothing_destroyed(&before, &files(crashed), &ctx);
        let complete = point >= repaired_at || journals_left(crashed, &originals) == done;
        let probe = crashed.snapshot();
        match Db::open(dir(), opts(&probe, h, RecoveryMode::Strict)) {
            Err(Error::Corruption { .. }) if !complete => {}
            Ok(db) if complete => {
                assert_eq!(db.recovery_report().last_seq.0, prefix, "{ctx}: strict");
            }
            Ok(_) => panic!("{ctx}: strict opened a half-repaired directory"),
            Err(e) => panic!("{ctx}: strict (repair complete: {complete}): {e}"),
        }
        assert_eq!(recovered(crashed, h, mode, &ctx), prefix, "{ctx}: prefix");
    })
}

/// The D2 loops over the repairing open of `case`; returns the faulty
/// opens checked.
fn fault_loops(h: &History, case: &Case, mode: RecoveryMode) -> u64 {
    let prefix = recovered(&case.fs.snapshot(), h, mode, &case.what);
    let before = files(&case.fs);
    let mut opens = 0;
    for op in [
        FaultOp::Write,
        FaultOp::Sync,
        FaultOp::Create,
        FaultOp::Rename,
        FaultOp::SyncDir,
    ] {
        for persistent in [false, true] {
            for nth in 1.. {
                let fs = case.fs.snapshot();
                let fault = Fault {
                    op,
                    nth,
                    persistent,
                    kind: FaultKind::Eio,
                };
                fs.set_fault(Some(fault));
                let ctx = format!("{}, {mode:?}, {fault:?}", case.what);
                match Db::open(dir(), opts(&fs, h, mode)) {
                    Ok(db) => drop(db),
                    Err(Error::Io { .. }) => {}
                    Err(e) => panic!("{ctx}: {e}"),
                }
                let met = fs.faults_injected() > 0;
                fs.set_fault(None);
                // A power loss right after the failed open, and after the
                // open that retries the repair: nothing is lost either way.
                let power_loss = fs.crash(CrashMode::SyncedOnly);
                assert_nothing_destroyed(&before, &files(&power_loss), &ctx);
                assert_eq!(
                    recovered(&power_loss, h, mode, &ctx),
                    prefix,
                    "{ctx}: power loss"
                );
                let restart = fs.snapshot();
                assert_eq!(recovered(&restart, h, mode, &ctx), prefix, "{ctx}: restart");
                let after_retry = restart.crash(CrashMode::SyncedOnly);
                assert_nothing_destroyed(&before, &files(&after_retry), &ctx);
                assert_eq!(
                    recovered(&after_retry, h, mode, &ctx),
                    prefix,
                    "{ctx}: power loss after the retried repair"
                );
                opens += 1;
                if !met {
                    break;
                }
                assert!(nth < 1000, "{ctx}: the fault never stopped being met");
            }
        }
    }
    opens
}

fn run(synced: bool) {
    let h = build_history(600, 300, synced, if synced { 21 } else { 22 });
    let stride = if cfg!(debug_assertions) { 3 } else { 1 };
    let (mut states, mut opens) = (0, 0);
    let cases = cases(&h);
    for case in &cases {
        states += crash_points(&h, case, RecoveryMode::PointInTime, stride);
        opens += fault_loops(&h, case, RecoveryMode::PointInTime);
    }
    eprintln!(
        "R2 ({}): {} cases, {states} crash states, {opens} faulty opens, 0 violations",
        if synced { "synced" } else { "unsynced" },
        cases.len()
    );
}

#[test]
fn crashes_and_faults_during_repair_synced() {
    run(true);
}

#[test]
fn crashes_and_faults_during_repair_unsynced() {
    run(false);
}

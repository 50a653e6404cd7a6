//! RELIABILITY.md R7 (issue #23): crashes and faults during `Db::repair`.
//!
//! Each case damages a seeded database (tables at several levels, a
//! manifest, a journal with records) so that a repair has every step to
//! do: salvage what reads, keep the damaged files' copies in `lost/`, set
//! foreign entries aside, commit a new manifest, remove the old files. The
//! repair is recorded on a [`FaultFs`]; then, for every prefix of its
//! mutations and every D1 crash mode, on the directory a power loss would
//! leave:
//!
//! - every damaged file is still there whole, in the directory or `lost/`;
//! - a repair gives exactly the database the uninterrupted repair gave;
//! - an open gives it too once the new manifest is named (before, the old
//!   directory is what the open meets, and it refuses as it did).
//!
//! Then each kind of file operation fails once, and persistently, at its
//! N-th use, for N = 1, 2, ... until a repair meets no fault: the failing
//! repair returns an error or succeeds, never panics, and the next repair,
//! after a restart or a power loss, gives the same database.
//!
//! The full size runs in release (a step of `cargo xtask ci`); debug builds
//! check every fourth crash point.

mod common;

use common::{dir, files};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tributary::fs::{CrashMode, Fault, FaultFs, FaultKind, FaultOp, Fs, Mutation};
use tributary::version::manifest;
use tributary::{Db, Options};

fn options(fs: &FaultFs) -> Options {
    common::options(fs, 64 << 10)
}

/// A database of several levels of tables, a manifest and a journal with
/// records, closed.
fn seeded() -> FaultFs {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs)).unwrap();
    let mut rng = 7u64;
    for round in 0..3u64 {
        for i in 0..1500u64 {
            let k = format!("key{:05}", common::splitmix64(&mut rng) % 2000);
            if round == 2 && i % 5 == 0 {
                db.delete(k.as_bytes()).unwrap();
            } else {
                db.put(k.as_bytes(), format!("{round}-{i}-{}", "x".repeat(30)))
                    .unwrap();
            }
        }
        if round == 0 {
            db.compact().unwrap();
        }
    }
    db.close().unwrap();
    fs
}

fn tables(fs: &FaultFs) -> Vec<PathBuf> {
    files(fs)
        .into_keys()
        .filter(|p| p.parent() == Some(dir()) && p.extension().is_some_and(|e| e == "ldb"))
        .collect()
}

/// Makes everything in `fs` durable, as damage already on disk is.
fn bake(fs: &FaultFs) -> FaultFs {
    fs.sync_dir(dir()).unwrap();
    fs.crash(CrashMode::UnsyncedNames)
}

struct Case {
    what: &'static str,
    fs: FaultFs,
    /// Files whose bytes must survive, whole, somewhere.
    damaged: Vec<PathBuf>,
}

/// Damage that gives the repair each of its steps.
fn cases(seed: &FaultFs) -> Vec<Case> {
    let all = tables(seed);
    assert!(all.len() >= 4, "the seed must hold several tables");
    let mut cases = Vec::new();

    // Two flipped bits in a data block (no single bit explains them: the
    // block is lost), the manifest's middle damaged, a leftover repair
    // copy (a foreign entry to set aside).
    let fs = seed.snapshot();
    let table = &all[all.len() / 2];
    assert!(fs.corrupt_byte(table, 200, |b| b ^ 0x11));
    let current = fs.contents(&dir().join("CURRENT")).unwrap();
    let number = manifest::parse_current(&current).unwrap();
    let manifest = dir().join(manifest::manifest_name(number));
    let len = fs.contents(&manifest).unwrap().len();
    assert!(fs.corrupt_byte(&manifest, len / 2, |b| b ^ 0x40));
    let copy = dir().join("000001.log.repair");
    let mut file = fs.create(&copy).unwrap();
    std::io::Write::write_all(&mut file, b"a shortened copy").unwrap();
    journal::SyncWrite::sync_data(&mut file).unwrap();
    fs.sync_dir(dir()).unwrap();
    cases.push(Case {
        what: "a data block, the manifest and a leftover copy damaged",
        fs: bake(&fs),
        damaged: vec![table.clone(), manifest.clone(), copy],
    });

    // A table gone, one bit flipped in another's index, `CURRENT` gone.
    let fs = seed.snapshot();
    fs.remove(&all[0]).unwrap();
    let other = all.last().unwrap();
    let bytes = fs.contents(other).unwrap();
    let footer = tributary::table::format::Footer::decode(&bytes).unwrap();
    assert!(fs.corrupt_byte(other, footer.index.offset as usize + 3, |b| b ^ 0x02));
    fs.remove(&dir().join("CURRENT")).unwrap();
    fs.sync_dir(dir()).unwrap();
    cases.push(Case {
        what: "a table gone, an index bit flipped, CURRENT gone",
        fs: bake(&fs),
        damaged: vec![other.clone()],
    });
    cases
}

fn contents_of(fs: &FaultFs, ctx: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = Db::open(dir(), options(fs)).unwrap_or_else(|e| panic!("{ctx}: open: {e}"));
    let all = common::contents(&db);
    db.close().unwrap();
    all
}

/// Panics unless `got` is `want`, naming the first key that differs.
fn assert_same(got: &BTreeMap<Vec<u8>, Vec<u8>>, want: &BTreeMap<Vec<u8>, Vec<u8>>, ctx: &str) {
    if got != want {
        let first = want
            .iter()
            .find(|(k, v)| got.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .or_else(|| got.keys().find(|k| !want.contains_key(*k)).cloned());
        panic!(
            "{ctx}: {} keys where {} were expected; first difference at {:?}",
            got.len(),
            want.len(),
            first.map(|k| String::from_utf8_lossy(&k).into_owned())
        );
    }
}

fn repaired(fs: &FaultFs, ctx: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
    Db::repair(dir(), &options(fs)).unwrap_or_else(|e| panic!("{ctx}: repair: {e}"));
    contents_of(fs, ctx)
}

/// Every damaged file's bytes are in some file of `fs`.
fn assert_kept(case: &Case, before: &BTreeMap<PathBuf, Vec<u8>>, fs: &FaultFs, ctx: &str) {
    let now: Vec<Vec<u8>> = files(fs).into_values().collect();
    for path in &case.damaged {
        let bytes = &before[path];
        assert!(
            now.iter().any(|b| b == bytes),
            "{ctx}: the damaged {} is kept nowhere",
            path.display()
        );
    }
}

fn crash_points(case: &Case, stride: usize) -> u64 {
    let expected = repaired(&case.fs.snapshot(), case.what);
    assert!(!expected.is_empty());
    let before = files(&case.fs);
    let recording = case.fs.snapshot_recording();
    Db::repair(dir(), &options(&recording)).unwrap();
    let history = recording.history();
    // The commit: `CURRENT` renamed into place (`renamed_at`), durable
    // once the directory sync after it returns (`committed_at`); between
    // the two a crash may keep either name.
    let renamed_at = history
        .iter()
        .position(|m| matches!(m, Mutation::Rename { to, .. } if to.file_name().is_some_and(|n| n == "CURRENT")))
        .expect("the repair commits by renaming CURRENT");
    let committed_at = renamed_at
        + history[renamed_at..]
            .iter()
            .position(|m| matches!(m, Mutation::SyncDir { .. }))
            .expect("the rename is made durable");
    let old_open = Db::open(dir(), options(&case.fs.snapshot())).map(|db| {
        let all = common::contents(&db);
        drop(db);
        all
    });
    common::for_each_crash_state(&case.fs, &history, stride, |point, crash, crashed| {
        let ctx = format!(
            "{}, crash after mutation {point} of {}, {crash:?}",
            case.what,
            history.len()
        );
        assert_kept(case, &before, crashed, &ctx);
        // An open: the new database once committed, else what the old
        // directory gave.
        let probe = crashed.snapshot();
        match Db::open(dir(), options(&probe)) {
            Ok(db) => {
                let all = common::contents(&db);
                drop(db);
                let new = point > renamed_at && all == expected;
                let old = point <= committed_at && old_open.as_ref().is_ok_and(|o| *o == all);
                assert!(
                    new || old,
                    "{ctx}: an open read neither the old nor the new database"
                );
            }
            Err(e) => assert!(
                point <= committed_at && old_open.is_err(),
                "{ctx}: open: {e}"
            ),
        }
        assert_same(
            &repaired(crashed, &ctx),
            &expected,
            &format!("{ctx}: the next repair"),
        );
        assert_kept(case, &before, crashed, &ctx);
    })
}

fn fault_loops(case: &Case) -> u64 {
    let expected = repaired(&case.fs.snapshot(), case.what);
    let before = files(&case.fs);
    let mut repairs = 0;
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
                let mut ctx = format!("{}, {fault:?}", case.what);
                let outcome = Db::repair(dir(), &options(&fs));
                let met = fs.faults_injected() > 0;
                fs.set_fault(None);
                ctx.push_str(&match &outcome {
                    Ok(_) => " (the repair succeeded)".to_owned(),
                    Err(e) => format!(" (the repair failed: {e})"),
                });
                assert_kept(case, &before, &fs, &ctx);
                let power_loss = fs.crash(CrashMode::SyncedOnly);
                assert_kept(case, &before, &power_loss, &ctx);
                assert_same(
                    &repaired(&power_loss, &ctx),
                    &expected,
                    &format!("{ctx}: power loss"),
                );
                assert_same(
                    &repaired(&fs.snapshot(), &ctx),
                    &expected,
                    &format!("{ctx}: restart"),
                );
                repairs += 1;
                if !met {
                    break;
                }
                assert!(nth < 2000, "{ctx}: the fault never stopped being met");
            }
        }
    }
    repairs
}

#[test]
fn crashes_and_faults_during_a_repair_change_nothing_about_its_result() {
    let seed = seeded();
    let stride = if cfg!(debug_assertions) { 4 } else { 1 };
    let (mut states, mut repairs) = (0, 0);
    let cases = cases(&seed);
    for case in &cases {
        states += crash_points(case, stride);
        repairs += fault_loops(case);
    }
    eprintln!(
        "R7: {} cases, {states} crash states, {repairs} faulty repairs, 0 violations",
        cases.len()
    );
}

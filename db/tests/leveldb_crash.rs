//! Crashes through handing a directory to LevelDB and taking it back
//! (issue #25): the D1 crash modes after every file mutation of
//! [`Db::export_leveldb`] and of the open that converts a LevelDB
//! directory. Whatever manifest `CURRENT` names afterwards (this crate's
//! or LevelDB's: Tributary reads both, as LevelDB reads the second), the
//! directory opens with every record.
//!
//! Debug builds check every third crash point; release every one.

mod common;

use common::dir;
use std::collections::BTreeMap;
use tributary::fs::FaultFs;
use tributary::{Db, Options};

type Contents = BTreeMap<Vec<u8>, Vec<u8>>;

fn options(fs: &FaultFs) -> Options {
    common::options(fs, 64 << 10)
}

/// A closed database with tables on several levels and records left in
/// its journal, and what it holds.
fn seeded() -> (FaultFs, Contents) {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs)).unwrap();
    let mut rng = 11u64;
    for round in 0..3u64 {
        for i in 0..1200u64 {
            let k = format!("key{:05}", common::splitmix64(&mut rng) % 1500);
            if round == 2 && i % 5 == 0 {
                db.delete(k.as_bytes()).unwrap();
            } else {
                db.put(k.as_bytes(), format!("{round}-{i}-{}", "y".repeat(40)))
                    .unwrap();
            }
        }
        if round == 0 {
            db.compact().unwrap();
        }
    }
    let expected = common::contents(&db);
    let levels = db.stats().files_per_level;
    assert!(levels[1..].iter().any(|&n| n > 0), "{levels:?}");
    db.close().unwrap();
    (fs, expected)
}

/// Runs `run` on a recording of `fs`, then crashes after every mutation it
/// made, in every D1 mode: each state must open with `expected`. Returns
/// the states checked, and how many of them opened from a LevelDB
/// manifest.
fn crash_everywhere(fs: &FaultFs, expected: &Contents, run: impl FnOnce(&FaultFs)) -> (u64, u64) {
    let recording = fs.snapshot_recording();
    run(&recording);
    let history = recording.history();
    let stride = if cfg!(debug_assertions) { 3 } else { 1 };
    let mut from_leveldb = 0;
    let states = common::for_each_crash_state(fs, &history, stride, |point, mode, crashed| {
        let ctx = format!(
            "crash after mutation {point} of {}, {mode:?}",
            history.len()
        );
        let probe = crashed.snapshot();
        let db = Db::open(dir(), options(&probe)).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert!(common::contents(&db) == *expected, "{ctx}: records differ");
        from_leveldb += u64::from(db.recovery_report().leveldb_manifest);
        db.close().unwrap();
    });
    (states, from_leveldb)
}

#[test]
fn a_crash_anywhere_in_an_export_or_a_conversion_keeps_every_record() {
    let (fs, expected) = seeded();

    let (states, from_leveldb) = crash_everywhere(&fs, &expected, |fs| {
        let db = Db::open(dir(), options(fs)).unwrap();
        db.export_leveldb(tributary::ExportOptions::default())
            .unwrap();
    });
    println!("export: {states} crash states, {from_leveldb} opened from LevelDB's manifest");
    assert!(
        from_leveldb > 0 && from_leveldb < states,
        "both sides of the switch"
    );

    // The exported directory, then the open that converts it back.
    let exported = fs.snapshot();
    Db::open(dir(), options(&exported))
        .unwrap()
        .export_leveldb(tributary::ExportOptions::default())
        .unwrap();
    let (states, from_leveldb) = crash_everywhere(&exported, &expected, |fs| {
        let db = Db::open(dir(), options(fs)).unwrap();
        assert!(db.recovery_report().leveldb_manifest);
        db.close().unwrap();
    });
    println!("conversion: {states} crash states, {from_leveldb} opened from LevelDB's manifest");
    assert!(
        from_leveldb > 0 && from_leveldb < states,
        "both sides of the switch"
    );
}

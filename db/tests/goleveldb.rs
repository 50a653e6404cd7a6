//! goleveldb directories (issue #25): a directory goleveldb wrote with its
//! defaults (Snappy blocks, no filter, tables on several levels, records
//! left only in its journal) opens in place with every record as
//! goleveldb's own iterator saw them; Tributary then writes more and
//! exports, and goleveldb opens the directory (strictly) and sees exactly
//! what Tributary saw. Uses Debian's golang-go and
//! golang-github-syndtr-goleveldb-dev, which `cargo xtask ci` installs.

mod common;

use std::path::Path;
use std::process::Command;
use tributary::{Db, Options};

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Runs `goleveldb/leveldb.go` on `dir` in `mode` ("write" or "scan"):
/// what goleveldb's iterator saw, or `None` without Go and goleveldb
/// (outside CI only).
fn goleveldb(dir: &Path, mode: &str) -> Option<Pairs> {
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = common::goleveldb_program(
        "goleveldb/leveldb.go",
        bin_dir.path(),
        "the goleveldb tests",
    )?;
    let out = Command::new(&bin).arg(dir).arg(mode).output().unwrap();
    assert!(
        out.status.success(),
        "goleveldb {mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        text.lines()
            .map(|line| {
                let (k, v) = line.split_once('\t').unwrap();
                (common::unhex(k), common::unhex(v))
            })
            .collect(),
    )
}

fn pairs(db: &Db) -> Pairs {
    db.iter().map(|item| item.unwrap()).collect()
}

#[test]
fn a_goleveldb_directory_opens_in_place_and_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some(expected) = goleveldb(dir.path(), "write") else {
        return;
    };
    assert_eq!(expected.len(), 16000, "20,000 keys, every fifth deleted");

    {
        let db = Db::open_read_only(dir.path(), Options::default()).unwrap();
        assert!(db.recovery_report().leveldb_manifest);
        assert_eq!(pairs(&db), expected, "read-only, in place");
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(db.recovery_report().leveldb_manifest);
    assert_eq!(pairs(&db), expected, "converted");
    let mut want = expected;
    for i in 0..3000u32 {
        let key = format!("key{:08}", (i * 13) % 25000).into_bytes();
        if i % 7 == 0 {
            db.delete(&key).unwrap();
            want.retain(|(k, _)| *k != key);
        } else {
            let value = format!("tributary {i}").into_bytes();
            db.put(&key, &value).unwrap();
            match want.binary_search_by(|(k, _)| k.cmp(&key)) {
                Ok(at) => want[at].1 = value,
                Err(at) => want.insert(at, (key, value)),
            }
        }
    }
    assert_eq!(pairs(&db), want);
    db.export_leveldb(tributary::ExportOptions::default())
        .unwrap();

    let seen = goleveldb(dir.path(), "scan").expect("goleveldb built a moment ago");
    assert!(seen == want, "goleveldb reads what Tributary exported");
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(pairs(&db), want, "back once more");
    db.close().unwrap();
    Db::check(dir.path(), &Options::default()).unwrap();
}

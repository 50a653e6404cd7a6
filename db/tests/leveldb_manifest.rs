//! LevelDB's manifest, as C++ LevelDB writes it, read by
//! `tributary::version::leveldb` (issue #25, the format step): every
//! record decodes, the comparator is the bytewise one, and the catalog
//! the records fold into lists tables that are in the directory, with
//! their sizes, on several levels. Uses libleveldb-dev, which `cargo xtask ci` installs.

use std::path::Path;
use std::process::Command;
use tributary::version::leveldb::{decode_edit, BYTEWISE_COMPARATOR};
use tributary::version::{manifest, Catalog};

/// Writes a LevelDB database into `dir` with `write.c`; false if
/// libleveldb-dev is missing (outside CI only).
fn write_with_leveldb(dir: &Path) -> bool {
    if !Path::new("/usr/include/leveldb/c.h").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "libleveldb-dev is missing (cargo xtask ci installs it)"
        );
        eprintln!("skipped: no libleveldb-dev");
        return false;
    }
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = bin_dir.path().join("write");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/leveldb_manifest/write.c");
    let status = Command::new("cc")
        .arg(&source)
        .args(["-O1", "-o"])
        .arg(&bin)
        .arg("-lleveldb")
        .status()
        .unwrap();
    assert!(status.success(), "compiling {}", source.display());
    let out = Command::new(&bin).arg(dir).output().unwrap();
    assert!(
        out.status.success(),
        "LevelDB: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[test]
fn a_leveldb_manifest_folds_into_the_tables_in_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    if !write_with_leveldb(dir.path()) {
        return;
    }
    let current = std::fs::read(dir.path().join("CURRENT")).unwrap();
    let number = manifest::parse_current(&current).expect("CURRENT names a manifest");
    let file = std::fs::File::open(dir.path().join(manifest::manifest_name(number))).unwrap();
    let mut reader = journal::Reader::new(file, journal::Recovery::Strict);
    let mut catalog = Catalog::default();
    let mut comparator = None;
    let mut records = 0;
    while let Some(record) = reader.next_record().unwrap() {
        let edit = decode_edit(record).unwrap();
        comparator = comparator.or(edit.comparator);
        catalog.apply(&edit.fields).unwrap();
        records += 1;
    }
    assert!(
        records > 1,
        "a fresh manifest, then an edit per flush and compaction"
    );
    assert_eq!(comparator.as_deref(), Some(BYTEWISE_COMPARATOR.as_bytes()));

    let mut listed: Vec<(u64, u64)> = catalog.tables().map(|(_, f)| (f.number, f.size)).collect();
    listed.sort();
    let mut found: Vec<(u64, u64)> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter_map(|e| {
            let name = e.file_name().into_string().unwrap();
            let number = name.strip_suffix(".ldb")?.parse().ok()?;
            Some((number, e.metadata().unwrap().len()))
        })
        .collect();
    found.sort();
    // Every table listed is there with its size. The directory may hold
    // more: the output of a compaction that `leveldb_close` stopped, an
    // orphan LevelDB deletes at its next open.
    assert!(!listed.is_empty());
    for table in &listed {
        assert!(
            found.contains(table),
            "table {table:?} listed, found {found:?}"
        );
    }
    assert!(
        catalog.levels[1..].iter().any(|l| !l.is_empty()),
        "compactions moved tables below level 0: {:?}",
        catalog.levels.iter().map(|l| l.len()).collect::<Vec<_>>()
    );
    assert!(catalog.last_seq > 0 && catalog.next_file_number > listed.last().unwrap().0);
    // Every table's keys are internal keys in order: smallest <= largest.
    for (_, f) in catalog.tables() {
        assert!(
            batch::key::compare(&f.smallest, &f.largest).is_le(),
            "table {}",
            f.number
        );
    }
}

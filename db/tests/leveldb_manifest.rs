//! LevelDB's manifest, as C++ LevelDB writes it, read by
//! `tributary::version::leveldb` (issue #25, the format step): every
//! record decodes, the comparator is the bytewise one, and the catalog
//! the records fold into lists tables that are in the directory, with
//! their sizes, on several levels; and a directory LevelDB wrote opens
//! in place. Uses libleveldb-dev, which `cargo xtask ci` installs.

mod common;

use std::path::Path;
use std::process::Command;
use tributary::version::leveldb::{decode_edit, BYTEWISE_COMPARATOR};
use tributary::version::{manifest, Catalog};
use tributary::{Db, Options};

/// Every file of `dir` (not `LOCK`) with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file() && e.file_name() != "LOCK")
        .map(|e| {
            let name = e.file_name().into_string().unwrap();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn pairs(db: &Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.iter().map(|item| item.unwrap()).collect()
}

/// Writes a LevelDB database into `dir` with `leveldb_manifest/write.c`,
/// its blocks compressed as `compression` says ("snappy" or "none"); what
/// LevelDB's iterator then saw, as hex pairs, or `None` if libleveldb-dev
/// is missing (outside CI only).
fn write_with_leveldb(dir: &Path, compression: &str) -> Option<String> {
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = common::leveldb_program(
        "leveldb_manifest/write.c",
        bin_dir.path(),
        "the LevelDB manifest tests",
    )?;
    let out = Command::new(&bin)
        .arg(dir)
        .arg(compression)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "LevelDB: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn a_leveldb_manifest_folds_into_the_tables_in_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    if write_with_leveldb(dir.path(), "snappy").is_none() {
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

/// What LevelDB's own iterator sees in the database in `dir` (opened with
/// paranoid checks), or `None` without libleveldb-dev (outside CI only).
fn scan_with_leveldb(dir: &Path) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let out = write_with_leveldb(dir, "scan")?;
    Some(parse_pairs(&out))
}

/// Hex pairs, one a line, as `write.c` prints them.
fn parse_pairs(out: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    out.lines()
        .map(|line| {
            let (k, v) = line.split_once('\t').unwrap();
            (common::unhex(k), common::unhex(v))
        })
        .collect()
}

/// The way back: a Tributary database (Snappy tables on several levels,
/// overwrites, deletes, records left in its memtable) exported for
/// LevelDB reads in C++ LevelDB's own iterator exactly as Tributary
/// scanned it; Tributary then opens the directory LevelDB has opened,
/// converting it again, with every record.
#[test]
fn an_exported_directory_opens_in_leveldb_with_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        write_buffer_size: 64 << 10,
        table_file_size: 32 << 10,
        level1_size: 128 << 10,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options.clone()).unwrap();
    for round in 0..3u32 {
        for i in 0..5000u32 {
            let key = format!("key{:06}", (i * 7919) % 5000);
            if round == 2 && i % 5 == 0 {
                db.delete(&key).unwrap();
            } else {
                db.put(&key, format!("value {i} of round {round}")).unwrap();
            }
        }
    }
    let expected = pairs(&db);
    assert_eq!(expected.len(), 4000);
    // Level 0 waits for a batch while the writes flow; once they stop, it
    // is compacted into the levels below.
    common::eventually("tables below level 0", || {
        db.stats().files_per_level[1..].iter().any(|&n| n > 0)
    });
    let exported = db
        .export_leveldb(tributary::ExportOptions::default())
        .unwrap();
    assert!(exported.tables > 1, "{exported:?}");
    let current = std::fs::read(dir.path().join("CURRENT")).unwrap();
    assert_eq!(
        manifest::parse_current(&current),
        Some(manifest_number(&exported.manifest))
    );
    let Some(seen) = scan_with_leveldb(dir.path()) else {
        return;
    };
    assert!(seen == expected, "LevelDB reads what Tributary exported");

    let db = Db::open(dir.path(), options).unwrap();
    assert!(db.recovery_report().leveldb_manifest);
    assert_eq!(pairs(&db), expected);
    db.put(b"key000001", b"after the round trip").unwrap();
    db.close().unwrap();
    Db::check(dir.path(), &Options::default()).unwrap();
}

/// The number of a `MANIFEST-NNNNNN` path.
fn manifest_number(path: &Path) -> u64 {
    let name = path.file_name().unwrap().to_str().unwrap();
    name.strip_prefix("MANIFEST-").unwrap().parse().unwrap()
}

/// A table with zstd blocks, which LevelDB 1.23 and goleveldb cannot
/// read, refuses the export with a typed error naming it, and `CURRENT`
/// still names Tributary's manifest: the next open reads every record.
/// Asked to, the export rewrites such tables with Snappy first, and
/// LevelDB reads the result.
#[test]
fn a_zstd_table_refuses_the_export_unless_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        compression: tributary::Compression::Zstd,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options.clone()).unwrap();
    for i in 0..2000u32 {
        db.put(format!("key{i:05}"), format!("value {i} value {i}"))
            .unwrap();
    }
    db.compact().unwrap();
    let expected = pairs(&db);
    match db.export_leveldb(tributary::ExportOptions::default()) {
        Err(tributary::Error::Unexportable { path, reason }) => {
            assert_eq!(path.parent(), Some(dir.path()));
            assert!(path.extension().is_some_and(|e| e == "ldb"), "{path:?}");
            assert!(reason.contains("zstd"), "{reason}");
        }
        other => panic!("a zstd table must refuse the export: {other:?}"),
    }
    let db = Db::open(dir.path(), options).unwrap();
    assert!(!db.recovery_report().leveldb_manifest);
    assert_eq!(pairs(&db), expected);

    let rewrite = tributary::ExportOptions { rewrite_zstd: true };
    let exported = db.export_leveldb(rewrite).unwrap();
    assert!(exported.rewritten > 0, "{exported:?}");
    assert!(
        !any_table_has_block_type(dir.path(), 2),
        "no zstd block left"
    );
    if let Some(seen) = scan_with_leveldb(dir.path()) {
        assert!(seen == expected, "LevelDB reads the rewritten tables");
    }
}

/// An uncompressed LevelDB directory opens in place.
#[test]
fn an_uncompressed_leveldb_directory_opens_in_place() {
    opens_in_place("none");
}

/// A LevelDB directory with Snappy blocks (LevelDB's default) opens in
/// place, its tables read as they are.
#[test]
fn a_snappy_leveldb_directory_opens_in_place() {
    opens_in_place("snappy");
}

/// A LevelDB directory written with `compression` (tables on several
/// levels, records left only in its journal) opens in place: read-only,
/// changing nothing; then for writing, converting its manifest, with
/// every key and value as LevelDB's own iterator saw them, and goes on
/// taking writes.
fn opens_in_place(compression: &str) {
    let dir = tempfile::tempdir().unwrap();
    let Some(out) = write_with_leveldb(dir.path(), compression) else {
        return;
    };
    if compression == "snappy" {
        assert!(
            any_table_has_block_type(dir.path(), 1),
            "LevelDB stored Snappy blocks"
        );
    }
    let expected: Vec<(Vec<u8>, Vec<u8>)> = out
        .lines()
        .map(|line| {
            let (k, v) = line.split_once('\t').unwrap();
            (common::unhex(k), common::unhex(v))
        })
        .collect();
    assert_eq!(expected.len(), 16000, "20,000 keys, every fifth deleted");

    let before = snapshot(dir.path());
    {
        let db = Db::open_read_only(dir.path(), Options::default()).unwrap();
        assert!(db.recovery_report().leveldb_manifest);
        assert_eq!(pairs(&db), expected, "read-only, in place");
    }
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a read-only open changes nothing"
    );

    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(db.recovery_report().leveldb_manifest);
    assert_eq!(pairs(&db), expected, "converted");
    db.put(b"key00000001", b"after the conversion").unwrap();
    db.delete(b"key00000002").unwrap();
    db.close().unwrap();

    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(!db.recovery_report().leveldb_manifest, "converted once");
    let mut want = expected;
    want.retain(|(k, _)| k != b"key00000002");
    for (k, v) in &mut want {
        if k == b"key00000001" {
            *v = b"after the conversion".to_vec();
        }
    }
    assert_eq!(pairs(&db), want);
    db.close().unwrap();
    Db::check(dir.path(), &Options::default()).unwrap();

    // And back: exported, LevelDB reads exactly what Tributary read.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.export_leveldb(tributary::ExportOptions::default())
        .unwrap();
    let seen = scan_with_leveldb(dir.path()).expect("LevelDB ran a moment ago");
    assert!(seen == want, "LevelDB reads the directory back");
}

/// Whether the first data block of some table in `dir` is stored as
/// `block_type`.
fn any_table_has_block_type(dir: &Path, block_type: u8) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|e| e != "ldb") {
            return false;
        }
        // The first data block starts at offset 0: its trailer is the
        // first place where a type byte and a checksum match the bytes
        // before them.
        let bytes = std::fs::read(&path).unwrap();
        (1..bytes.len().min(1 << 16) - 4).any(|end| {
            bytes[end] == block_type
                && u32::from_le_bytes(bytes[end + 1..end + 5].try_into().unwrap())
                    == tributary::table::format::block_checksum(&bytes[..end], block_type)
        })
    })
}

/// Tables named `NNNNNN.sst`, as LevelDB before 1.14 named them, open and
/// read as `.ldb` ones do, and go by that name once obsolete.
#[test]
fn tables_named_sst_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for i in 0..2000u32 {
        db.put(format!("key{i:05}"), format!("value {i}")).unwrap();
    }
    db.compact().unwrap();
    let expected = pairs(&db);
    db.close().unwrap();
    let mut renamed = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ldb") {
            std::fs::rename(&path, path.with_extension("sst")).unwrap();
            renamed += 1;
        }
    }
    assert!(renamed > 0);
    {
        let db = Db::open_read_only(dir.path(), Options::default()).unwrap();
        assert_eq!(pairs(&db), expected);
    }
    Db::check(dir.path(), &Options::default()).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(pairs(&db), expected);
    // A full compaction rewrites them as .ldb and deletes the .sst files.
    db.put(b"key00000", b"new").unwrap();
    db.compact().unwrap();
    db.close().unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".sst")),
        "obsolete .sst tables deleted: {names:?}"
    );
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get(b"key00000").unwrap().as_deref(), Some(&b"new"[..]));
    assert_eq!(pairs(&db).len(), expected.len());
}

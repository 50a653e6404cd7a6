//! Issue #23, "Trust at the edges": each reproduction of the issue, on a
//! real directory, as a test. Every one failed on `820fed1`.
//!
//! - a damaged last manifest record that committed (a flush, a
//!   compaction, a manifest cut in half) is refused in every mode, naming
//!   the manifest, and no table is deleted;
//! - a torn last record that nothing shows committed (garbage appended,
//!   what a crash leaves) still opens;

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tributary::version::{Field, Record};
use tributary::{Db, Error, Options, RecoveryMode};

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn value(i: u32, round: u32) -> Vec<u8> {
    format!("value {i} of round {round} ")
        .repeat(4)
        .into_bytes()
}

/// Every file under `dir`, `lost/` included, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name() != Some("LOCK".as_ref()) {
                all.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    all
}

/// The manifest `CURRENT` names.
fn manifest(dir: &Path) -> PathBuf {
    let current = std::fs::read_to_string(dir.join("CURRENT")).unwrap();
    dir.join(current.trim_end())
}

/// One manifest record: where it starts and ends, and what it holds.
struct At {
    start: u64,
    end: u64,
    record: Record,
}

fn records(path: &Path) -> Vec<At> {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = journal::Reader::new(&bytes[..], journal::Recovery::Strict);
    let mut all = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        let record = Record::decode(record).unwrap();
        all.push(At {
            start: reader.record_offset(),
            end: reader.offset(),
            record,
        });
    }
    all
}

fn fields(at: &At) -> &[Field] {
    match &at.record {
        Record::Edit(fields) => fields,
        Record::Header(_) => &[],
    }
}

fn small() -> Options {
    Options {
        write_buffer_size: 64 << 10,
        table_file_size: 16 << 10,
        level1_size: 128 << 10,
        ..Options::default()
    }
}

/// A database of `n` keys written in `rounds` rounds, several flushes
/// deep, closed.
fn filled(dir: &Path, n: u32, rounds: u32) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = Db::open(dir, small()).unwrap();
    let mut model = BTreeMap::new();
    for round in 0..rounds {
        for i in 0..n {
            db.put(key(i), value(i, round)).unwrap();
            model.insert(key(i), value(i, round));
        }
    }
    common::eventually("a flush", || db.stats().flushes >= 2);
    db.close().unwrap();
    model
}

/// Opens `dir` every way a user can, expecting each to refuse with
/// corruption in the manifest at `offset`, and to change no file.
fn assert_refused_naming_manifest(dir: &Path, manifest: &Path, offset: u64) {
    let before = files(dir);
    for mode in [RecoveryMode::PointInTime, RecoveryMode::Strict] {
        let options = Options {
            recovery: mode,
            ..small()
        };
        let opened = [
            Db::open(dir, options.clone()).err(),
            Db::open_read_only(dir, options.clone()).err(),
            Db::check(dir, &options).err(),
        ];
        for err in opened {
            match err {
                Some(Error::Corruption {
                    path,
                    offset: at,
                    reason,
                }) => {
                    assert_eq!(path, manifest, "{reason}");
                    assert_eq!(at, offset, "{reason}");
                    assert!(reason.contains("committed"), "{reason}");
                }
                other => panic!("{mode:?}: expected the manifest refused, got {other:?}"),
            }
        }
    }
    assert!(files(dir) == before, "a refused open changed files");
}

/// Issue #23, item 1: a flush record cut short (or flipped) at the end of
/// the manifest was taken for a torn append, and the next open deleted
/// the flushed table as an orphan. The journal it emptied is gone, which
/// proves that it committed.
#[test]
fn a_damaged_last_flush_record_is_refused_and_no_table_is_deleted() {
    for flip in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let model = filled(dir.path(), 1500, 2);
        let path = manifest(dir.path());
        let all = records(&path);
        let flush = all
            .iter()
            .rev()
            .find(|at| {
                let f = fields(at);
                f.iter()
                    .any(|f| matches!(f, Field::AddFile { level: 0, .. }))
                    && f.iter().any(|f| matches!(f, Field::LogNumber(_)))
                    && !f.iter().any(|f| matches!(f, Field::DeleteFile { .. }))
            })
            .expect("a flush record");
        // The flush record becomes the last one, damaged.
        let original = std::fs::read(&path).unwrap();
        let mut bytes = original.clone();
        bytes.truncate(flush.end as usize);
        if flip {
            let middle = ((flush.start + flush.end) / 2) as usize;
            bytes[middle] ^= 0x10;
        } else {
            bytes.truncate(flush.end as usize - 5);
        }
        std::fs::write(&path, &bytes).unwrap();
        assert_refused_naming_manifest(dir.path(), &path, flush.start);
        // Nothing was lost: with the manifest restored, every key reads.
        std::fs::write(&path, &original).unwrap();
        let db = Db::open(dir.path(), small()).unwrap();
        let got: BTreeMap<Vec<u8>, Vec<u8>> = db.iter().map(|r| r.unwrap()).collect();
        assert_eq!(got, model, "flip {flip}");
        db.close().unwrap();
    }
}

/// Issue #23, item 7: damage to the last record when it is a compaction
/// was reported as "a table the manifest lists is missing". It names the
/// manifest now: the missing table is the compaction's input, deleted
/// because the record committed.
#[test]
fn a_damaged_last_compaction_record_names_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path(), 1500, 2);
    let db = Db::open(dir.path(), small()).unwrap();
    db.compact().unwrap();
    db.close().unwrap();
    let path = manifest(dir.path());
    let all = records(&path);
    let compaction = all
        .iter()
        .rev()
        .find(|at| {
            fields(at)
                .iter()
                .any(|f| matches!(f, Field::DeleteFile { .. }))
        })
        .expect("a compaction record");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(compaction.end as usize);
    let middle = ((compaction.start + compaction.end) / 2) as usize;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    assert_refused_naming_manifest(dir.path(), &path, compaction.start);
}

/// Issue #23, item 7: a manifest cut in half was blamed on a table.
#[test]
fn a_manifest_cut_in_half_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    filled(dir.path(), 3000, 3);
    let path = manifest(dir.path());
    let all = records(&path);
    let bytes = std::fs::read(&path).unwrap();
    // Strictly inside a record: a cut on a record's start leaves a shorter
    // manifest with no torn record, which is refused naming the first
    // table it lists that a later edit deleted, not the manifest.
    let mut half = bytes.len() / 2;
    if all.iter().any(|at| at.start as usize == half) {
        half += 1;
    }
    let cut_in = all
        .iter()
        .find(|at| at.start as usize <= half && half < at.end as usize)
        .expect("a record across the middle");
    std::fs::write(&path, &bytes[..half]).unwrap();
    assert_refused_naming_manifest(dir.path(), &path, cut_in.start);
}

/// What a crash leaves at the end of a manifest (bytes of an append that
/// never returned) is still dropped quietly: nothing shows that it
/// committed.
#[test]
fn garbage_after_the_last_record_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let model = filled(dir.path(), 1500, 2);
    let path = manifest(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0x5a; 100]);
    std::fs::write(&path, &bytes).unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let got: BTreeMap<Vec<u8>, Vec<u8>> = db.iter().map(|r| r.unwrap()).collect();
    assert_eq!(got, model);
    db.close().unwrap();
}

/// Issue #23, "nothing is deleted without proof": a table the manifest
/// does not list is deleted at open only while the history is whole.
/// After a break it may be all that is left of what is missing, so it is
/// set aside whole in `lost/`, with the journals after the break.
#[test]
fn an_unlisted_table_is_set_aside_not_deleted_when_the_history_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for i in 0..100 {
        db.put(key(i), value(i, 0)).unwrap();
    }
    db.close().unwrap();
    // The reopen writes the journal to a table; these go to a new journal.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for i in 0..100 {
        db.put(key(i), value(i, 1)).unwrap();
    }
    db.close().unwrap();
    let names = |ext: &str| -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension() == Some(ext.as_ref()))
            .collect();
        all.sort();
        all
    };
    let table = names("ldb").pop().expect("a table");
    let stray = dir.path().join("009999.ldb");
    std::fs::copy(&table, &stray).unwrap();
    let journal = names("log").pop().expect("a journal");
    // Damage in the middle of the journal: a break, not a torn tail.
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes[40] ^= 0x40;
    std::fs::write(&journal, &bytes).unwrap();

    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(db.recovery_report().damage.is_some());
    assert!(db
        .recovery_report()
        .set_aside
        .iter()
        .any(|s| s.path == stray));
    db.close().unwrap();
    assert!(!stray.exists());
    assert_eq!(
        std::fs::read(dir.path().join("lost").join("009999.ldb")).unwrap(),
        std::fs::read(&table).unwrap(),
        "the unlisted table is kept whole"
    );
}

/// Issue #23, item 2: keys the API took bricked the database (one 40 MiB
/// key, or 100 of 1 MiB: the manifest's records outgrew what its reader
/// decodes). Keys are bounded now, and an edit too large for one record is
/// split: keys of the maximum size go through flushes, compactions and a
/// full-state manifest of hundreds of tables (over one record's share),
/// and reopen every time; one byte more is refused with nothing written.
#[test]
fn keys_of_the_maximum_size_reopen_and_one_byte_more_is_refused() {
    use tributary::{Batch, WriteOptions, MAX_KEY_SIZE};
    let dir = tempfile::tempdir().unwrap();
    // Uncompressed: keys of one repeated byte would shrink to a few
    // tables.
    let options = Options {
        write_buffer_size: 1 << 20,
        table_file_size: 16 << 10,
        level1_size: 1 << 20,
        compression: tributary::Compression::None,
        ..Options::default()
    };
    let big = |i: u32| {
        let mut key = vec![b'k'; MAX_KEY_SIZE];
        key[MAX_KEY_SIZE - 4..].copy_from_slice(&i.to_be_bytes());
        key
    };
    let n = 200;
    let db = Db::open(dir.path(), options.clone()).unwrap();
    for i in 0..n {
        db.put(big(i), i.to_le_bytes()).unwrap();
    }
    db.compact().unwrap();
    // One byte over: refused by each way in, and nothing is written.
    let over = vec![b'x'; MAX_KEY_SIZE + 1];
    let seq = db.stats().last_seq;
    let too_large = |e: Error| matches!(e, Error::KeyTooLarge { len, max } if len == MAX_KEY_SIZE + 1 && max == MAX_KEY_SIZE);
    assert!(too_large(db.put(&over, b"v").unwrap_err()));
    assert!(too_large(db.delete(&over).unwrap_err()));
    let mut batch = Batch::new();
    batch.put(b"fine", b"v");
    batch.put(&over, b"v");
    assert!(too_large(
        db.write(&batch, &WriteOptions::default()).unwrap_err()
    ));
    assert_eq!(db.stats().last_seq, seq);
    assert_eq!(db.get(b"fine").unwrap(), None);
    db.close().unwrap();
    for round in 0..3 {
        let db = Db::open(dir.path(), options.clone()).unwrap();
        for i in 0..n {
            assert_eq!(
                db.get(big(i)).unwrap().as_deref(),
                Some(&i.to_le_bytes()[..]),
                "round {round}, key {i}"
            );
        }
        let tables: usize = db.stats().files_per_level.iter().sum();
        assert!(
            tables > 128,
            "{tables} tables: the full state fits one record"
        );
        db.put(big(n + round), b"more").unwrap();
        db.close().unwrap();
    }
}

fn only_table(dir: &Path) -> PathBuf {
    let tables: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension() == Some("ldb".as_ref()))
        .collect();
    let [table] = &tables[..] else {
        panic!("one table expected: {tables:?}")
    };
    table.clone()
}

/// Issue #23, item 4: a table replaced by another of the same size was
/// read as if it were the listed one (`check` said ok, gets and scans gave
/// stale values). A table records its own number now, and is checked
/// against its manifest entry when first opened.
#[test]
fn a_table_swapped_for_another_of_the_same_size_is_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    // Uncompressed, so that both versions' tables have one size.
    let options = Options {
        compression: tributary::Compression::None,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).unwrap();
    for i in 0..2000 {
        db.put(key(i), value(i, 1)).unwrap();
    }
    db.compact().unwrap();
    let old = only_table(dir.path());
    let old_bytes = std::fs::read(&old).unwrap();
    for i in 0..2000 {
        db.put(key(i), value(i, 2)).unwrap();
    }
    db.compact().unwrap();
    db.close().unwrap();
    let new = only_table(dir.path());
    assert_ne!(old, new);
    assert_eq!(
        std::fs::metadata(&new).unwrap().len(),
        old_bytes.len() as u64,
        "the two compactions' tables have one size"
    );
    std::fs::write(&new, &old_bytes).unwrap();
    let named = |e: Error| matches!(&e, Error::Corruption { path, reason, .. } if *path == new && reason.contains("not the table the manifest lists"));
    let err = Db::check(dir.path(), &Options::default()).unwrap_err();
    assert!(named(err));
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(named(db.get(key(5)).unwrap_err()));
    let scanned: Result<Vec<_>, Error> = db.iter().collect();
    assert!(named(scanned.unwrap_err()));
}

/// Issue #23, item 6: a damaged filter or metaindex block made its whole
/// table unreadable. The table reads without them now (every get still
/// right), and `check` names the damage.
#[test]
fn a_damaged_filter_or_metaindex_reads_on_and_check_names_it() {
    use tributary::table::format::Footer;
    for (what, back) in [("filter", 6u64), ("metaindex", 0)] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for i in 0..2000 {
            db.put(key(i), value(i, 0)).unwrap();
        }
        db.compact().unwrap();
        db.close().unwrap();
        let table = only_table(dir.path());
        let mut bytes = std::fs::read(&table).unwrap();
        let footer = Footer::decode(&bytes).unwrap();
        // The filter block's contents end 5 bytes (its trailer) before the
        // metaindex starts.
        let at = if back > 0 {
            footer.metaindex.offset - back
        } else {
            footer.metaindex.offset + 1
        } as usize;
        bytes[at] ^= 0x20;
        std::fs::write(&table, &bytes).unwrap();
        match Db::check(dir.path(), &Options::default()) {
            Err(Error::Corruption { path, .. }) => assert_eq!(path, table, "{what}"),
            other => panic!("{what}: check must name the damage, got {other:?}"),
        }
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for i in 0..2000 {
            assert_eq!(db.get(key(i)).unwrap(), Some(value(i, 0)), "{what}");
        }
        assert_eq!(db.get(b"absent").unwrap(), None);
        assert_eq!(db.iter().count(), 2000);
    }
}

/// Issue #23, item 6: one damaged table stopped compaction for good (the
/// lane retried the same pick for ever and level 0 reached 299 tables).
/// Now the compaction that finds it quarantines it and goes on around it:
/// level 0 compacts where it does not meet the table; where it does, level
/// 0 stays bounded and writes stop with an error naming the table; `Stats`
/// and `check` name it, and a repair fixes it.
#[test]
fn a_damaged_table_is_quarantined_and_compaction_goes_around_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        write_buffer_size: 64 << 10,
        table_file_size: 16 << 10,
        level1_size: 64 << 20,
        ..Options::default()
    };
    let value = |i: u32, round: u32| format!("{i}-{round}-{}", "v".repeat(900)).into_bytes();
    let db = Db::open(dir.path(), options.clone()).unwrap();
    for i in 0..3000 {
        db.put(key(i), value(i, 0)).unwrap();
    }
    db.compact().unwrap();
    db.close().unwrap();
    // A level-1 table in the middle, two bits flipped in its first block
    // (no single bit explains them: a repair cannot undo them).
    let catalog = {
        let current = std::fs::read_to_string(dir.path().join("CURRENT")).unwrap();
        let bytes = std::fs::read(dir.path().join(current.trim_end())).unwrap();
        tributary::version::manifest::replay(&bytes)
            .unwrap()
            .catalog
    };
    let level1: Vec<_> = catalog.levels[1].values().cloned().collect();
    assert!(level1.len() > 10, "{} tables in level 1", level1.len());
    let damaged = &level1[level1.len() / 2];
    let path = dir.path().join(format!("{:06}.ldb", damaged.number));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[50] ^= 0x11;
    std::fs::write(&path, &bytes).unwrap();
    let user = |k: &[u8]| String::from_utf8(k[..k.len() - 8].to_vec()).unwrap();
    let (lo, hi) = (user(&damaged.smallest), user(&damaged.largest));
    let in_range: Vec<u32> = (0..3000)
        .filter(|&i| {
            let k = String::from_utf8(key(i)).unwrap();
            lo <= k && k <= hi
        })
        .collect();
    assert!(!in_range.is_empty());

    // Overwrites in the damaged table's range, in level-0 tables of their
    // own (the reopen writes the last memtable's worth to one): their
    // compaction meets it.
    let db = Db::open(dir.path(), options.clone()).unwrap();
    let mut round = 1;
    while db.stats().flushes < 4 {
        for &i in &in_range {
            db.put(key(i), value(i, round)).unwrap();
        }
        round += 1;
    }
    db.close().unwrap();
    let db = Db::open(dir.path(), options.clone()).unwrap();
    common::eventually("the damaged table's quarantine", || {
        !db.stats().quarantined.is_empty()
    });
    let stats = db.stats();
    assert_eq!(stats.quarantined.len(), 1, "{:?}", stats.quarantined);
    assert_eq!(stats.quarantined[0].0, path);
    // Writes elsewhere: their compactions go around it.
    let before = db.stats().compactions;
    let far: Vec<u32> = (0..3000)
        .filter(|i| !in_range.contains(i))
        .take(400)
        .collect();
    let mut far_round = 100;
    common::eventually("compactions around the quarantined table", || {
        for &i in &far {
            db.put(key(i), value(i, far_round)).unwrap();
        }
        far_round += 1;
        db.stats().compactions > before + 2
    });
    // Writes in its range again: level 0 fills with what cannot compact,
    // stays bounded, and writes stop with an error naming the table.
    let mut stopped = None;
    for round in 200..400 {
        // 30: the stop trigger (`L0_STOP_TRIGGER`).
        assert!(db.stats().files_per_level[0] <= 30, "level 0 unbounded");
        if let Some(e) = in_range
            .iter()
            .find_map(|&i| db.put(key(i), value(i, round)).err())
        {
            stopped = Some(e);
            break;
        }
    }
    let err = stopped.expect("writes must stop once level 0 is full");
    assert!(
        err.to_string()
            .contains(&format!("{:06}.ldb", damaged.number)),
        "{err}"
    );
    assert!(db.stats().files_per_level[0] <= 30);
    drop(db);

    match Db::check(dir.path(), &Options::default()) {
        Err(Error::Corruption { path: p, .. }) => assert_eq!(p, path),
        other => panic!("check must name the damaged table: {other:?}"),
    }
    Db::repair(dir.path(), &Options::default()).unwrap();
    let db = Db::open(dir.path(), options).unwrap();
    let all: Vec<_> = db.iter().collect::<Result<_, _>>().unwrap();
    assert!(all.len() >= 3000 - in_range.len(), "{} keys", all.len());
    db.put(b"after", b"repair").unwrap();
}

/// Issue #23, item 7: on a full disk a read-write open failed (it writes
/// what it replays to tables first), so a user could not open the
/// database to delete keys. Now what the journals held stays in memory,
/// and in its journals, until a flush finds room.
#[test]
fn an_open_on_a_full_disk_keeps_the_replay_in_memory() {
    use tributary::fs::{Fault, FaultFs, FaultKind, FaultOp};
    let fs = FaultFs::new();
    let options = common::options(&fs, 64 << 10);
    let dir = common::dir();
    let db = Db::open(dir, options.clone()).unwrap();
    for i in 0..300 {
        db.put(key(i), value(i, 0)).unwrap();
    }
    db.close().unwrap();
    // No room for a table: every table write fails with ENOSPC.
    fs.set_fault_on(
        Fault {
            op: FaultOp::Write,
            nth: 1,
            persistent: true,
            kind: FaultKind::NoSpace,
        },
        ".ldb",
    );
    let db = Db::open(dir, options.clone()).expect("the open must not need room for tables");
    for i in 0..300 {
        assert_eq!(db.get(key(i)).unwrap(), Some(value(i, 0)));
    }
    assert!(db.stats().frozen_memtables > 0);
    // Deletes work: that is how a user makes room.
    for i in 0..100 {
        db.delete(key(i)).unwrap();
    }
    // Room again: the flush goes through, and the journals go.
    fs.set_fault(None);
    common::eventually("the flush of what the open kept in memory", || {
        db.stats().frozen_memtables == 0
    });
    let journals = fs
        .files_under(dir)
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "log") && p.parent() == Some(dir))
        .count();
    assert_eq!(
        journals, 1,
        "the flushed journals are deleted, the open's stays"
    );
    db.close().unwrap();
    let db = Db::open(dir, options).unwrap();
    for i in 0..300 {
        let want = (i >= 100).then(|| value(i, 0));
        assert_eq!(db.get(key(i)).unwrap(), want, "key {i}");
    }
}

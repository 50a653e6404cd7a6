//! Regression tests for the reproductions of issue #11 ("Recovery must
//! never destroy data"), each named after its number there. Every one
//! failed on `b33984f`.

mod common;

use common::{assert_nothing_destroyed, build_history, contents, dir, files, History};
use tributary::fs::{Fault, FaultFs, FaultKind, FaultOp, Fs};
use tributary::{Db, DropKind, Error, Options, RecoveryMode, WriteOptions, MAX_FILE_NUMBER};

fn opts(fs: &FaultFs, h: &History, recovery: RecoveryMode) -> Options {
    Options {
        recovery,
        ..common::options(fs, h.write_buffer)
    }
}

fn synced_history() -> History {
    build_history(900, 300, true, 31)
}

const SYNCED: WriteOptions = WriteOptions {
    sync: true,
    merge: true,
};

/// Reproduction 1: A sequence gap emptied the first journal after it, in both modes.
/// Now strict refuses and changes nothing, and point-in-time keeps the
/// prefix and sets the journals after the gap aside whole.
#[test]
fn repro_1_a_gap_never_empties_the_next_journal() {
    let h = synced_history();
    let gaps: Vec<usize> = (0..h.journals.len())
        .filter(|&k| !h.journals[k].records.is_empty() && h.records_after(k))
        .collect();
    for k in [gaps[0], gaps[gaps.len() / 2]] {
        let next = (k + 1..h.journals.len())
            .find(|&n| !h.journals[n].records.is_empty())
            .unwrap();
        let fs = h.fs.snapshot();
        fs.remove(&h.journals[k].path).unwrap();
        let before = files(&fs);
        let err = Db::open(dir(), opts(&fs, &h, RecoveryMode::Strict)).unwrap_err();
        assert!(matches!(err, Error::Corruption { .. }), "{err}");
        assert_eq!(files(&fs), before, "strict changed files");

        let db = Db::open(dir(), opts(&fs, &h, RecoveryMode::PointInTime)).unwrap();
        let report = db.recovery_report().clone();
        assert_eq!(report.last_seq.0, h.last_before(k));
        assert_eq!(report.damage.as_ref().unwrap().path, h.journals[next].path);
        db.close().unwrap();
        let after = files(&fs);
        assert_nothing_destroyed(&before, &after, &format!("journal {k} deleted"));
        // From the first journal after the gap holding records on, every
        // one is kept whole. (Journals between hold no record: a rotation
        // onto a prepared journal can leave one empty, depending on when
        // the background prepared it, and recovery replays it as the
        // empty prefix it is.)
        assert!(h.journals[k + 1..next].iter().all(|j| j.records.is_empty()));
        for j in &h.journals[next..] {
            let kept = dir().join("lost").join(j.path.file_name().unwrap());
            assert_eq!(
                after.get(&kept).map(Vec::len),
                Some(j.len),
                "{kept:?}: journal {k} deleted; set aside {:?}; files now {:?}; layout {:?}",
                report.set_aside,
                after.iter().map(|(p, b)| (p, b.len())).collect::<Vec<_>>(),
                h.journals
                    .iter()
                    .map(|j| (j.number, j.len, j.records.len()))
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// Reproduction 2: Strict opened over damage at the end of an older journal and lost
/// most of the synced history. Now it refuses, naming the journal.
#[test]
fn repro_2_strict_refuses_a_damaged_end_of_an_older_journal() {
    let h = synced_history();
    let k = h.journals.iter().position(|j| j.records.len() > 3).unwrap();
    let j = &h.journals[k];
    let last = *j.records.last().unwrap();
    let fs = h.fs.snapshot();
    assert!(fs.corrupt_byte(&j.path, last.start + 9, |b| b ^ 0x01));
    match Db::open(dir(), opts(&fs, &h, RecoveryMode::Strict)) {
        Err(Error::Corruption { path, offset, .. }) => {
            assert_eq!(path, j.path);
            assert_eq!(offset, last.start as u64);
        }
        other => panic!("strict must refuse: {other:?}"),
    }
    let db = Db::open(dir(), opts(&fs, &h, RecoveryMode::PointInTime)).unwrap();
    let report = db.recovery_report();
    assert_eq!(report.last_seq.0, j.records[j.records.len() - 2].last_seq);
    assert!(report.damage.is_some());
    assert!(report.dropped.iter().all(|d| d.kind == DropKind::Damage));
    db.close().unwrap();
}

/// Reproduction 3: A repair killed at its first rename, or with every rename failing,
/// turned damage into loss open after open. Now each failing open leaves
/// the directory so that the next one decides the same.
#[test]
fn repro_3_a_failing_repair_changes_nothing_about_the_outcome() {
    let h = synced_history();
    // A journal of at least three records with a later one after it (how
    // records fall into journals depends on when synced writes move to a
    // zero-filled one).
    let k = (0..h.journals.len())
        .find(|&k| h.journals[k].records.len() >= 3 && h.records_after(k))
        .expect("a journal of three records before another");
    let j = &h.journals[k];
    let fs = h.fs.snapshot();
    assert!(fs.corrupt_byte(&j.path, j.records[2].start + 9, |b| b ^ 0x01));
    let expected = j.records[1].last_seq;
    for persistent in [false, true] {
        let fs = fs.snapshot();
        for _ in 0..3 {
            fs.set_fault(Some(Fault {
                op: FaultOp::Rename,
                nth: 1,
                persistent,
                kind: FaultKind::Eio,
            }));
            let err = Db::open(dir(), opts(&fs, &h, RecoveryMode::PointInTime)).unwrap_err();
            assert!(matches!(err, Error::Io { .. }), "{err}");
            fs.set_fault(None);
            let strict = Db::open(dir(), opts(&fs, &h, RecoveryMode::Strict));
            assert!(
                matches!(strict, Err(Error::Corruption { .. })),
                "{strict:?}"
            );
        }
        let db = Db::open(dir(), opts(&fs, &h, RecoveryMode::PointInTime)).unwrap();
        assert_eq!(db.recovery_report().last_seq.0, expected);
        assert_eq!(contents(&db), h.oracle.state_at(expected));
        db.close().unwrap();
    }
}

/// Reproduction 4: Hard and symbolic links to a journal were followed, and two opens
/// emptied journals. Now a link is refused before anything is changed.
#[test]
fn repro_4_links_to_journals_are_refused() {
    let h = synced_history();
    let fs = h.fs.snapshot();
    let newest = h.journals.last().unwrap().number;
    assert!(fs.link(
        &h.journals[2].path,
        &dir().join(format!("{:06}.log", newest + 10))
    ));
    let before = files(&fs);
    for mode in [RecoveryMode::PointInTime, RecoveryMode::Strict] {
        for _ in 0..2 {
            match Db::open(dir(), opts(&fs, &h, mode)) {
                Err(Error::ForeignFile { reason, .. }) => {
                    assert!(reason.contains("hard link"), "{reason}")
                }
                other => panic!("{mode:?}: {other:?}"),
            }
        }
    }
    assert_eq!(files(&fs), before);

    // The same on a real directory, with a symbolic link.
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    let path = journals(tmp.path()).remove(0);
    let journal = std::fs::read(&path).unwrap();
    std::os::unix::fs::symlink(&path, tmp.path().join("000013.log")).unwrap();
    for _ in 0..2 {
        let err = Db::open(tmp.path(), Options::default()).unwrap_err();
        assert!(matches!(err, Error::ForeignFile { .. }), "{err}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), journal);
}

/// The journals in `dir`, by name. A database just closed has its current
/// one, and sometimes the one before: a synced write moves to the next
/// journal as soon as the background has zero-filled it (`wal::prepared`),
/// which on a busy machine can be during the database's first fsync, and
/// the older journal keeps its records until the memtable's flush.
fn journals(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut journals: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    journals.sort();
    assert!(!journals.is_empty(), "no journal in {}", dir.display());
    journals
}

/// What each of `journals` holds.
fn read_all(journals: &[std::path::PathBuf]) -> Vec<Vec<u8>> {
    journals.iter().map(|j| std::fs::read(j).unwrap()).collect()
}

/// Reproduction 5: A journal named with the largest number made the next one wrap to 0,
/// and zero-filling it destroyed `000001.log`. Then (issue #23, item 3) a
/// stray `18446744073709551614.log` made the open take the last number
/// there is, and no command could open the database again. Now a number
/// beyond `MAX_FILE_NUMBER` is no file of ours: every open refuses it,
/// naming it, before anything changes; a database a few numbers below the
/// bound opens, then fails a rotation that would need one more, and its
/// data survives.
#[test]
fn repro_5_file_numbers_never_wrap() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    db.put_with(b"k", b"v", &SYNCED).unwrap();
    db.close().unwrap();
    let journals = journals(tmp.path());
    let first = read_all(&journals);
    for stray in [u64::MAX, u64::MAX - 1, MAX_FILE_NUMBER + 1] {
        let stray = tmp.path().join(format!("{stray}.log"));
        std::fs::write(&stray, b"").unwrap();
        let before = names(tmp.path());
        for _ in 0..2 {
            let err = Db::open(tmp.path(), Options::default()).unwrap_err();
            assert!(
                matches!(&err, Error::ForeignFile { path, .. } if *path == stray),
                "{err}"
            );
            let check = Db::check(tmp.path(), &Options::default()).unwrap_err();
            assert!(
                matches!(&check, Error::ForeignFile { path, .. } if *path == stray),
                "{check}"
            );
        }
        assert_eq!(names(tmp.path()), before, "a refused open changed names");
        std::fs::remove_file(&stray).unwrap();
    }
    assert_eq!(read_all(&journals), first);
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    db.close().unwrap();

    // Five below the bound: the open takes four numbers (a manifest, its
    // temporary, a table for what it recovered, a journal), a synced write
    // takes the last for the next journal, and a rotation after that,
    // which would need one more, fails as a write error.
    let high = tmp.path().join(format!("{}.log", MAX_FILE_NUMBER - 5));
    std::fs::write(&high, b"").unwrap();
    let db = Db::open(
        tmp.path(),
        Options {
            write_buffer_size: 64 << 10,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    let mut failed = None;
    for i in 0..2000u32 {
        if let Err(e) = db.put_with(format!("{i:06}").as_bytes(), [1; 100], &SYNCED) {
            failed = Some(e);
            break;
        }
    }
    let err = failed.expect("a rotation must have been needed");
    assert!(err.to_string().contains("largest file number"), "{err}");
    assert!(db.put(b"after", b"x").is_err(), "the failure is sticky");
    drop(db);
    // Nothing acknowledged was lost, and nothing wrapped to number 0.
    assert!(!tmp.path().join("000000.log").exists());
    assert!(
        !high.exists(),
        "the journal five below the bound was obsolete"
    );
    let names = names(tmp.path());
    assert!(names.iter().any(|n| n.ends_with(".ldb")), "{names:?}");
    // The directory now holds the largest number: it cannot open again
    // (every open takes new numbers), and says so.
    let check = Db::check(tmp.path(), &Options::default()).unwrap_err();
    assert!(
        matches!(check, Error::FileNumberExhausted { .. }),
        "{check}"
    );
}

/// The names in `dir`, sorted.
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// 6 (non-regular files hang) is in damage_matrix.rs.

/// Reproduction 7a: `check` said "database is locked" for any lock error, and created
/// `LOCK` wherever it was pointed.
#[test]
fn repro_7a_check_creates_nothing_and_names_the_real_cause() {
    let tmp = tempfile::tempdir().unwrap();
    // An empty directory: no database, and nothing created.
    let err = Db::check(tmp.path(), &Options::default()).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    // A file where the directory should be.
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let err = Db::check(&file, &Options::default()).unwrap_err();
    assert!(err.to_string().contains("Not a directory"), "{err}");
    // LOCK is a directory: the real cause, for open. Check takes no lock
    // (it reads as a read-only open does, beside a writer too), so it
    // reads the database and leaves LOCK alone.
    let db_dir = tmp.path().join("db");
    let db = Db::open(&db_dir, Options::default()).unwrap();
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    std::fs::remove_file(db_dir.join("LOCK")).unwrap();
    std::fs::create_dir(db_dir.join("LOCK")).unwrap();
    let err = Db::open(&db_dir, Options::default()).unwrap_err();
    match &err {
        Error::Io { op: "lock", .. } => {}
        other => panic!("expected a lock I/O error, got {other}"),
    }
    assert!(!err.to_string().contains("locked"), "{err}");
    assert_eq!(
        Db::check(&db_dir, &Options::default()).unwrap().last_seq.0,
        1
    );
    assert!(db_dir.join("LOCK").is_dir());
    // A database without LOCK (never opened since it was removed): check
    // reads it and creates nothing.
    std::fs::remove_dir(db_dir.join("LOCK")).unwrap();
    let report = Db::check(&db_dir, &Options::default()).unwrap();
    assert_eq!(report.last_seq.0, 1);
    assert!(!db_dir.join("LOCK").exists());
}

/// Reproduction 7b: A directory fsync error during rotation was not sticky: hundreds of
/// later writes were acknowledged. Now it poisons the write path.
#[test]
fn repro_7b_a_failed_rotation_poisons_writes() {
    let fs = FaultFs::new();
    let db = Db::open(dir(), common::options(&fs, 64 << 10)).unwrap();
    fs.set_fault(Some(Fault {
        op: FaultOp::SyncDir,
        nth: 1,
        persistent: false,
        kind: FaultKind::Eio,
    }));
    let mut acked = 0u32;
    let err = loop {
        match db.put(format!("{acked:06}").as_bytes(), [7; 500]) {
            Ok(()) => acked += 1,
            Err(e) => break e,
        }
        assert!(acked < 10_000, "the rotation never failed");
    };
    assert!(err.to_string().contains("directory fsync /db"), "{err}");
    for i in 0..50u32 {
        assert!(db.put(format!("after{i}").as_bytes(), b"x").is_err());
    }
    drop(db);
    let db = Db::open(dir(), common::options(&fs.snapshot(), 64 << 10)).unwrap();
    assert_eq!(db.iter().count() as u32, acked);
    db.close().unwrap();
}

/// Reproduction 7d: Journal I/O errors did not name the file, and a failed fdatasync
/// said "journal write failed". Now each names its operation and file.
#[test]
fn repro_7d_journal_errors_name_the_operation_and_file() {
    for (op, word) in [(FaultOp::Sync, "fdatasync"), (FaultOp::Write, "write")] {
        let fs = FaultFs::new();
        let db = Db::open(dir(), common::options(&fs, 1 << 20)).unwrap();
        fs.set_fault(Some(Fault {
            op,
            nth: 1,
            persistent: false,
            kind: FaultKind::Eio,
        }));
        let journal = fs
            .files_under(dir())
            .into_keys()
            .find(|p| p.extension().is_some_and(|e| e == "log"))
            .unwrap();
        let err = db.put_with(b"k", b"v", &SYNCED).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{word} {}", journal.display())),
            "{err}"
        );
        assert!(!err.contains("journal write failed"), "{err}");
    }
}

// Reproduction 7e (dump-journal on a torn file) is in db/cli/tests/cli.rs.

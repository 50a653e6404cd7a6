//! Recovery from damaged journals: point-in-time versus strict, what is
//! reported, and what `check` says without changing anything.

mod common;

use common::{dir, options, without_manifest};
use std::path::PathBuf;
use tributary::fs::FaultFs;
use tributary::{Db, Error, Options, RecoveryMode, WriteOptions};

/// The journals of `fs`, oldest first.
fn journals_of(fs: &FaultFs) -> Vec<PathBuf> {
    let mut journals: Vec<_> = tributary::fs::Fs::list(fs, dir())
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".log"))
        .map(|n| dir().join(n))
        .collect();
    journals.sort();
    journals
}

/// Strict recovery over `fs`.
fn strict(fs: &FaultFs, write_buffer: usize) -> tributary::Options {
    tributary::Options {
        recovery: RecoveryMode::Strict,
        ..options(fs, write_buffer)
    }
}

const SYNCED: WriteOptions = WriteOptions {
    sync: true,
    merge: true,
};

/// Writes synced puts of `value` (at least `min` of them) until a
/// zero-filled journal holds records, and returns how many it wrote and
/// that journal. The first journal is appended to; the background thread
/// zero-fills the next one after the first synced write, and a later synced
/// write moves to it (see `next_journal`). The last journal may be the one
/// after, zero-filled ahead and still all zeros.
fn write_synced_until_zero_filled(
    db: &Db,
    fs: &FaultFs,
    write_buffer: usize,
    value: &[u8],
    min: u32,
) -> (u32, PathBuf) {
    let mut n = 0u32;
    let started = std::time::Instant::now();
    loop {
        db.put_with(format!("{n:06}").as_bytes(), value, &SYNCED)
            .unwrap();
        n += 1;
        let in_use = journals_of(fs).into_iter().skip(1).find(|j| {
            let c = fs.contents(j).unwrap();
            c.len() == write_buffer / 4 * 5 && c[0] != 0
        });
        if let Some(journal) = in_use.filter(|_| n >= min) {
            return (n, journal);
        }
        assert!(started.elapsed().as_secs() < 30, "never moved: {n} writes");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// A database of three journals (two rotations) of synced writes, all
/// live: table creation is refused while it is written, so no memtable is
/// flushed (as in a database whose flushes lag), and the manifest records
/// each closed journal's synced length.
fn three_journals() -> (FaultFs, Vec<PathBuf>) {
    let fs = FaultFs::new();
    fs.refuse_creating(Some(".ldb"));
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    for i in 0..1200u32 {
        db.put_with(format!("{i:06}").as_bytes(), [b'v'; 100], &SYNCED)
            .unwrap();
    }
    assert!(db.stats().rotations >= 2);
    db.close().unwrap();
    fs.refuse_creating(None);
    let journals = journals_of(&fs);
    (fs, journals)
}

/// The first of `journals` with records past its first block, so that damage
/// in its first block has records after it.
fn long_journal(fs: &FaultFs, journals: &[PathBuf]) -> usize {
    journals
        .iter()
        .position(|j| {
            fs.contents(j)
                .and_then(|c| c.iter().rposition(|&b| b != 0))
                .is_some_and(|last| last > 40_000)
        })
        .expect("a journal of more than one block")
}

#[test]
fn point_in_time_stops_at_mid_journal_damage_and_sets_later_journals_aside() {
    let (fs, journals) = three_journals();
    // Damage the first journal with records in its second block, in its
    // first block (the very first journal may be short: synced writes leave
    // it for a zero-filled one early). Damage that no record follows, past
    // the block it spoils, would be a torn tail.
    let damaged = long_journal(&fs, &journals);
    assert!(damaged + 1 < journals.len());
    assert!(fs.corrupt_byte(&journals[damaged], 20_000, |b| b ^ 0x10));
    let later = journals.len() - 1 - damaged;
    let report = Db::check(dir(), &options(&fs, 64 << 10)).unwrap();
    assert!(!report.is_clean());
    // The later journals are set aside whole; the damaged one is kept whole
    // and cut.
    assert_eq!(report.set_aside.len(), later + 1, "{report:?}");
    assert_eq!(report.set_aside.last().unwrap().path, journals[damaged]);
    assert!(report.set_aside.last().unwrap().cut_to.is_some());
    assert_eq!(report.damage.as_ref().unwrap().path, journals[damaged]);
    let last = report.last_seq.0;
    assert!(last > 0 && last < 1200, "{report:?}");
    // check changed nothing.
    let mut again = Db::check(dir(), &options(&fs, 64 << 10)).unwrap();
    again.elapsed = report.elapsed;
    assert_eq!(again, report);

    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    assert_eq!(db.recovery_report().last_seq.0, last);
    assert_eq!(db.iter().count() as u64, last, "a prefix: keys 0..last");
    assert!(db
        .get(format!("{:06}", last - 1).as_bytes())
        .unwrap()
        .is_some());
    assert_eq!(db.get(format!("{last:06}").as_bytes()).unwrap(), None);
    db.put(b"new", b"1").unwrap();
    db.close().unwrap();
    // Stable: the second open sees the same prefix plus the new write.
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    assert!(
        db.recovery_report().is_clean(),
        "{:?}",
        db.recovery_report()
    );
    assert_eq!(db.recovery_report().last_seq.0, last + 1);
    assert_eq!(db.iter().count() as u64, last + 1);
    db.close().unwrap();
    let lost = tributary::fs::Fs::list(&fs, &dir().join("lost")).unwrap();
    assert_eq!(lost.len(), later + 1, "{lost:?} {journals:?} {damaged}");
}

#[test]
fn strict_refuses_mid_journal_damage_and_changes_nothing() {
    let (fs, journals) = three_journals();
    let damaged = long_journal(&fs, &journals);
    assert!(fs.corrupt_byte(&journals[damaged], 100, |b| b ^ 0x01));
    let before = fs.contents(&journals[damaged]).unwrap();
    match Db::open(dir(), strict(&fs, 64 << 10)) {
        Err(Error::Corruption {
            path,
            offset,
            reason,
        }) => {
            assert_eq!(path, journals[damaged]);
            assert!(offset < 32 << 10, "offset {offset}");
            assert!(!reason.is_empty());
        }
        other => panic!("expected Corruption, got {other:?}"),
    }
    assert_eq!(fs.contents(&journals[damaged]).unwrap(), before);
}

#[test]
fn a_torn_tail_is_dropped_quietly_in_both_modes() {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs, 1 << 20)).unwrap();
    for i in 0..100u32 {
        db.put(format!("{i:04}").as_bytes(), [1u8; 50]).unwrap();
    }
    db.close().unwrap();
    let path = journals_of(&fs).pop().unwrap();
    let full = fs.contents(&path).unwrap();
    // Its records end at its last non-zero byte (the last record ends with
    // its value, all ones), whether or not zeros follow.
    let end = full.iter().rposition(|&b| b != 0).unwrap() + 1;
    // Cut the last record in half: a crash mid-append.
    let torn = fs.snapshot();
    assert!(torn.set_len(&path, end - 30));
    let db = Db::open(dir(), strict(&torn, 1 << 20)).unwrap();
    assert_eq!(db.recovery_report().last_seq.0, 99);
    assert_eq!(db.recovery_report().dropped.len(), 1);
    assert!(
        db.recovery_report().dropped[0].reason.contains("torn"),
        "{:?}",
        db.recovery_report()
    );
    db.close().unwrap();
}

/// Synced writes move the database to zero-filled journals, written over
/// from their start (see `next_journal`); one recovers like any journal,
/// its zeros read as its end, not as damage.
#[test]
fn synced_writes_move_to_a_zero_filled_journal_that_recovers_cleanly() {
    let fs = FaultFs::new();
    let write_buffer = 64 << 10;
    let db = Db::open(dir(), options(&fs, write_buffer)).unwrap();
    // Few writes, so that no rotation happens meanwhile.
    let (n, path) = write_synced_until_zero_filled(&db, &fs, write_buffer, b"value", 0);
    assert_eq!(db.stats().rotations, 0);
    // More writes land in it, over its zeros.
    let before = fs.contents(&path).unwrap();
    for i in n..n + 50 {
        db.put_with(format!("{i:06}").as_bytes(), b"value", &SYNCED)
            .unwrap();
    }
    let journal = fs.contents(&path).unwrap();
    assert_eq!(journal.len(), write_buffer / 4 * 5);
    assert_ne!(journal, before);
    assert!(journal.ends_with(&[0; 1024]));

    // A power loss keeps every synced write, and nothing is reported lost.
    let crashed = fs.crash(tributary::fs::CrashMode::SyncedOnly);
    drop(db);
    let db = Db::open(dir(), options(&crashed, write_buffer)).unwrap();
    assert!(
        db.recovery_report().dropped.is_empty(),
        "{:?}",
        db.recovery_report()
    );
    assert_eq!(db.recovery_report().last_seq.0, u64::from(n + 50));
    for i in 0..n + 50 {
        assert!(db.get(format!("{i:06}").as_bytes()).unwrap().is_some());
    }
    db.close().unwrap();
}

/// A crash mid-write over a zero-filled journal leaves part of the last
/// record and then zeros, not a short file. With nothing readable after
/// it, that is a torn tail, which even strict recovery drops quietly.
#[test]
fn a_torn_write_over_zeros_is_a_torn_tail() {
    let fs = FaultFs::new();
    let write_buffer = 64 << 10;
    let db = Db::open(dir(), options(&fs, write_buffer)).unwrap();
    let (n, path) = write_synced_until_zero_filled(&db, &fs, write_buffer, &[b'v'; 300], 20);
    assert_eq!(db.stats().rotations, 0);
    // Closing removes the zero-filled journal no rotation took.
    db.close().unwrap();
    assert_eq!(journals_of(&fs).last(), Some(&path));
    let data = fs.contents(&path).unwrap();
    let end = data.iter().rposition(|&b| b != 0).unwrap() + 1;
    assert!(end < data.len(), "zeros follow the records");
    // The last 100 bytes of the last record never reached the disk.
    for at in end - 100..end {
        assert!(fs.corrupt_byte(&path, at, |_| 0));
    }
    let db = Db::open(dir(), strict(&fs, write_buffer)).unwrap();
    let report = db.recovery_report();
    assert_eq!(report.last_seq.0, u64::from(n - 1), "{report:?}");
    assert_eq!(report.dropped.len(), 1, "{report:?}");
    assert_eq!(
        report.dropped[0].kind,
        tributary::DropKind::TornTail,
        "{report:?}"
    );
    db.close().unwrap();
}

/// Unsynced writes over three journals, all live (flushes refused), in a
/// directory of journals only: the layout before tables, where nothing
/// records which journal was synced how far.
fn unsynced_journals_without_manifest() -> (FaultFs, Vec<PathBuf>, u32) {
    let fs = FaultFs::new();
    fs.refuse_creating(Some(".ldb"));
    let write_buffer = 64 << 10;
    let db = Db::open(dir(), options(&fs, write_buffer)).unwrap();
    let mut n = 0u32;
    while db.stats().rotations < 2 {
        db.put(format!("{n:06}").as_bytes(), [b'v'; 300]).unwrap();
        n += 1;
    }
    db.close().unwrap();
    fs.refuse_creating(None);
    without_manifest(&fs);
    let journals = journals_of(&fs);
    assert!(journals.len() >= 3);
    (fs, journals, n)
}

/// Rotation does not sync the journal it closes, so a power loss can cut
/// the unsynced tail of one journal and keep the start of the next. The
/// next then begins past a gap. With no manifest recording each journal's
/// synced length, that cannot be told from acknowledged writes lost:
/// strict refuses, naming the torn journal, and point-in-time recovers the
/// prefix and reports the damage.
#[test]
fn without_a_manifest_a_journal_beginning_past_a_gap_is_possible_loss() {
    let write_buffer = 64 << 10;
    let (fs, journals, n) = unsynced_journals_without_manifest();
    // The first journal loses its last record.
    let first_len = fs.contents(&journals[0]).unwrap().len();
    assert!(fs.set_len(&journals[0], first_len - 30));

    match Db::open(dir(), strict(&fs, write_buffer)) {
        Err(Error::Corruption { path, reason, .. }) => {
            assert_eq!(path, journals[0]);
            assert!(reason.contains("may be lost"), "{reason}");
        }
        other => panic!("strict must refuse: {other:?}"),
    }
    let db = Db::open(dir(), options(&fs, write_buffer)).unwrap();
    let report = db.recovery_report().clone();
    let last = report.last_seq.0;
    assert!(last > 0 && last < u64::from(n), "{report:?}");
    assert_eq!(report.damage.as_ref().unwrap().path, journals[0]);
    assert!(report
        .dropped
        .iter()
        .all(|d| d.kind == tributary::DropKind::Damage));
    assert_eq!(db.iter().count() as u64, last, "a prefix: keys 0..last");
    assert_eq!(db.get(format!("{last:06}").as_bytes()).unwrap(), None);
    db.close().unwrap();
}

/// Journal tracking (issue #13): the manifest records each closed
/// journal's synced length. A recorded journal cut below that length, or
/// missing, is lost synced data: strict refuses, and point-in-time
/// recovers the prefix and reports damage, not a torn tail.
#[test]
fn a_recorded_journal_shorter_than_synced_or_missing_is_lost_synced_data() {
    for missing in [false, true] {
        let (fs, journals) = three_journals();
        // The first journal may hold a single record (synced writes leave
        // it for a zero-filled one as soon as that is ready): cut one with
        // records past its first block, so that a prefix survives.
        let cut = long_journal(&fs, &journals);
        if missing {
            tributary::fs::Fs::remove(&fs, &journals[1]).unwrap();
        } else {
            // Zero-filled journals run on past their records: cut into
            // the records themselves.
            let contents = fs.contents(&journals[cut]).unwrap();
            let end = contents.iter().rposition(|&b| b != 0).unwrap() + 1;
            assert!(fs.set_len(&journals[cut], end - 30));
        }
        let broken = if missing {
            &journals[1]
        } else {
            &journals[cut]
        };
        match Db::open(dir(), strict(&fs, 64 << 10)) {
            Err(Error::Corruption { path, reason, .. }) => {
                assert_eq!(&path, broken, "{reason}");
                assert!(reason.contains("lost synced data"), "{reason}");
            }
            other => panic!("missing {missing}: strict must refuse: {other:?}"),
        }
        let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
        let report = db.recovery_report().clone();
        let damage = report.damage.as_ref().expect("damage reported");
        assert_eq!(&damage.path, broken);
        assert!(damage.reason.contains("lost synced data"), "{report:?}");
        assert!(
            report
                .dropped
                .iter()
                .all(|d| d.kind == tributary::DropKind::Damage),
            "{report:?}"
        );
        let last = report.last_seq.0;
        assert!(last > 0 && last < 1200, "{report:?}");
        assert_eq!(db.iter().count() as u64, last, "a prefix: keys 0..last");
        db.close().unwrap();
    }
}

/// Damage past a recorded journal's synced length is what a crash leaves
/// (bytes written after the sync the manifest records): both modes open,
/// dropping it as a torn tail, and lose nothing.
#[test]
fn damage_past_the_recorded_synced_length_is_a_crash_tail() {
    let (fs, journals) = three_journals();
    let path = &journals[0];
    let mut bytes = fs.contents(path).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    bytes.truncate(end);
    // A torn write after the synced end: a chunk header and garbage.
    bytes.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0x20, 0x00, 0x01]);
    bytes.extend_from_slice(&[0xab; 20]);
    assert!(fs.set_len(path, 0));
    tributary::fs::Fs::remove(&fs, path).unwrap();
    let mut file = tributary::fs::Fs::create(&fs, path).unwrap();
    std::io::Write::write_all(&mut file, &bytes).unwrap();
    tributary::fs::SyncWrite::sync_data(&mut file).unwrap();
    drop(file);
    for mode in [RecoveryMode::Strict, RecoveryMode::PointInTime] {
        let report = Db::check(
            dir(),
            &tributary::Options {
                recovery: mode,
                ..options(&fs, 64 << 10)
            },
        )
        .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert!(report.damage.is_none(), "{mode:?}: {report:?}");
        assert_eq!(report.last_seq.0, 1200, "{mode:?}: {report:?}");
        assert!(report
            .dropped
            .iter()
            .all(|d| d.kind == tributary::DropKind::TornTail));
    }
}

/// `check` reads every block of every table: damage in a data block that
/// an open does not read (it reads the footer, index and filter) is found
/// by `check` and by the read that meets it, each an `Error::Corruption`
/// naming the table and offset, never a wrong answer.
#[test]
fn check_finds_damage_in_a_table_block_an_open_does_not_read() {
    let fs = FaultFs::new();
    // Uncompressed, so that byte 1000 lies in the first data block.
    let uncompressed = Options {
        compression: tributary::Compression::None,
        ..options(&fs, 64 << 10)
    };
    let db = Db::open(dir(), uncompressed).unwrap();
    for i in 0..2000u32 {
        db.put(format!("{i:06}").as_bytes(), [b'v'; 100]).unwrap();
    }
    db.compact().unwrap();
    db.close().unwrap();
    let table = tributary::fs::Fs::list(&fs, dir())
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".ldb"))
        .map(|n| dir().join(n))
        .next()
        .unwrap();
    // A byte of the first data block, in the middle of its entries.
    assert!(fs.corrupt_byte(&table, 1000, |b| b ^ 0x04));
    let report = Db::open_read_only(dir(), options(&fs, 64 << 10)).unwrap();
    drop(report);
    match Db::check(dir(), &options(&fs, 64 << 10)) {
        Err(Error::Corruption {
            path,
            offset,
            reason,
        }) => {
            assert_eq!(path, table);
            assert_eq!(offset, 0, "{reason}");
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("check must find the damage: {other:?}"),
    }
    let db = Db::open(dir(), options(&fs, 64 << 10)).unwrap();
    let err = db
        .iter()
        .find_map(Result::err)
        .expect("the scan meets the damage");
    assert!(matches!(err, Error::Corruption { .. }), "{err}");
    // A get of a key in another block still answers.
    assert_eq!(
        db.get(b"001999").unwrap().as_deref(),
        Some(&[b'v'; 100][..])
    );
    db.close().unwrap();
}

/// The manifest is rolled once it outgrows `max_manifest_file_size` (and
/// twice its snapshot): a new one holds the tables as one snapshot,
/// `CURRENT` names it, the old one is gone, and a reopen replays the
/// snapshot and what followed, reading every key back.
#[test]
fn the_manifest_is_rolled_as_it_grows_and_reopens_whole() {
    let fs = FaultFs::new();
    let small = Options {
        max_manifest_file_size: 1 << 10,
        ..options(&fs, 64 << 10)
    };
    let db = Db::open(dir(), small.clone()).unwrap();
    let mut manifests = std::collections::BTreeSet::new();
    for i in 0..80_000u32 {
        db.put(
            format!("{:08}", i.wrapping_mul(2_654_435_761) % 40_000),
            [b'v'; 40],
        )
        .unwrap();
        if i % 500 == 0 {
            manifests.insert(db.stats().manifest.unwrap().0);
        }
    }
    let contents = common::contents(&db);
    let stats = db.stats();
    db.close().unwrap();
    assert!(stats.flushes + stats.compactions > 20, "{stats:?}");
    assert!(manifests.len() > 3, "rolled {} times", manifests.len() - 1);
    // Only the current manifest is left.
    let on_disk: Vec<String> = tributary::fs::Fs::list(&fs, dir())
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("MANIFEST-"))
        .collect();
    assert_eq!(on_disk.len(), 1, "{on_disk:?}");
    let reopened = Db::open(dir(), small).unwrap();
    assert_eq!(common::contents(&reopened), contents);
    reopened.close().unwrap();
}

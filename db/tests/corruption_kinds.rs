//! Every `Error::Corruption` says what kind of damage it found (issue
//! #24): a table, the manifest, a journal's framing, a record that is no
//! batch, sequence numbers that do not follow on.

use std::path::Path;
use tributary::{CorruptionKind, Db, Error, Options, RecoveryMode};

fn strict() -> Options {
    Options {
        recovery: RecoveryMode::Strict,
        ..Options::default()
    }
}

fn kind_of(result: Result<impl std::fmt::Debug, Error>) -> CorruptionKind {
    match result {
        Err(Error::Corruption { reason, .. }) => reason.kind(),
        other => panic!("expected a corruption, got {other:?}"),
    }
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_damaged_table_block_is_a_table_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for i in 0..100u32 {
        db.put(i.to_be_bytes(), [7u8; 100]).unwrap();
    }
    db.compact().unwrap();
    db.close().unwrap();
    let [table] = &files_ending(dir.path(), ".ldb")[..] else {
        panic!("one table expected");
    };
    flip(table, 20);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(kind_of(db.get(0u32.to_be_bytes())), CorruptionKind::Table);
}

#[test]
fn a_current_naming_no_manifest_is_a_manifest_corruption() {
    let dir = tempfile::tempdir().unwrap();
    Db::open(dir.path(), Options::default())
        .unwrap()
        .close()
        .unwrap();
    std::fs::write(dir.path().join("CURRENT"), b"not a manifest name\n").unwrap();
    assert_eq!(
        kind_of(Db::open(dir.path(), Options::default())),
        CorruptionKind::Manifest
    );
}

/// A database whose one journal holds 200 records over several 32 KiB
/// blocks, closed without a flush.
fn journaled() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for i in 0..200u32 {
        db.put(i.to_be_bytes(), [i as u8; 1000]).unwrap();
    }
    db.close().unwrap();
    let journals = files_ending(dir.path(), ".log");
    let journal = journals.last().unwrap().clone();
    assert!(std::fs::metadata(&journal).unwrap().len() > 100_000);
    (dir, journal)
}

/// Rewrites the journal at `path` with its records as `change` leaves
/// them, each framed whole again.
fn rewrite_records(path: &Path, change: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let mut reader = journal::Reader::new(
        std::fs::File::open(path).unwrap(),
        journal::Recovery::Strict,
    );
    let mut records = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        records.push(record.to_vec());
    }
    change(&mut records);
    let mut writer = journal::Writer::new(std::fs::File::create(path).unwrap());
    for record in &records {
        writer.append(record).unwrap();
    }
    writer.flush().unwrap();
}

#[test]
fn damaged_framing_is_a_journal_corruption() {
    let (dir, journal) = journaled();
    // Inside the first record, with whole records after it.
    flip(&journal, 500);
    assert_eq!(
        kind_of(Db::open(dir.path(), strict())),
        CorruptionKind::Journal
    );
}

#[test]
fn a_record_that_is_no_batch_is_a_batch_corruption() {
    let (dir, journal) = journaled();
    // A readable record in the middle that does not decode as a batch.
    rewrite_records(&journal, |records| records[100] = b"no batch".to_vec());
    assert_eq!(
        kind_of(Db::open(dir.path(), strict())),
        CorruptionKind::Batch
    );
}

#[test]
fn a_batch_out_of_sequence_is_a_sequence_corruption() {
    let (dir, journal) = journaled();
    // Batch 100 claims the sequence number of batch 50: a well-formed
    // batch that does not follow on.
    rewrite_records(&journal, |records| {
        let earlier = records[50][..8].to_vec();
        records[100][..8].copy_from_slice(&earlier);
    });
    assert_eq!(
        kind_of(Db::open(dir.path(), strict())),
        CorruptionKind::Sequence
    );
}

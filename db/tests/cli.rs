//! The `tributary` binary: subcommands, output and exit codes.

mod common;

use std::process::{Command, Output};

use common::hex;

fn tributary(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn put_get_delete_scan_stats_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(tributary(&["--db", d, "put", "apple", "red", "--sync"])
        .status
        .success());
    assert!(tributary(&["--db", d, "put", "apricot", "orange"])
        .status
        .success());
    assert!(tributary(&["--db", d, "put", "banana", "yel low"])
        .status
        .success());

    let out = tributary(&["--db", d, "get", "apple"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"red\n");
    let out = tributary(&["--db", d, "get", "cherry"]);
    assert_eq!(out.status.code(), Some(1), "an absent key exits 1");
    assert!(out.stdout.is_empty());

    let out = tributary(&["--db", d, "scan", "--prefix", "ap"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "apple red\napricot orange\n"
    );
    let out = tributary(&["--db", d, "scan", "--reverse", "--limit", "2"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "banana yel\\x20low\napricot orange\n"
    );
    let out = tributary(&["--db", d, "scan", "--start", "apricot", "--end", "b"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "apricot orange\n");

    assert!(tributary(&["--db", d, "delete", "apple"]).status.success());
    assert_eq!(
        tributary(&["--db", d, "get", "apple"]).status.code(),
        Some(1)
    );

    let out = tributary(&["--db", d, "stats"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("last_seq 4"), "{text}");

    let out = tributary(&["--db", d, "check"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout).unwrap().contains("ok"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"][..],
        &["get", "k"][..],
        &["--db", "/tmp/x", "put", "k"][..],
        &["--db", "/tmp/x", "scan", "--limit", "many"][..],
    ] {
        let out = tributary(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("usage"),
            "{args:?}"
        );
    }
}

/// A log file as goleveldb writes it: the batch `Put("foo","bar"),
/// Delete("k")` at sequence 1, framed as one full chunk (the vector read
/// off goleveldb in `goleveldb-write-path.md`), then a second record with
/// a non-printable key.
#[test]
fn dump_journal_reads_a_goleveldb_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("000001.log");
    let golden = hex("702c50f0 1800 01 0100000000000000 02000000 01 03666f6f 03626172 00 016b");
    let mut b = tributary::Batch::new();
    b.put(b"\x00\xffk", b"v v");
    b.set_seq(tributary::SeqNum(3));
    // Frame goleveldb's record and ours with one writer: the first chunk
    // must come out exactly as goleveldb wrote it.
    let mut w = journal::Writer::new(Vec::new());
    w.append(&golden[7..]).unwrap();
    w.append(b.as_bytes()).unwrap();
    w.flush().unwrap();
    let bytes = w.into_inner();
    assert_eq!(
        &bytes[..golden.len()],
        &golden[..],
        "our framing matches goleveldb's bytes"
    );
    assert!(bytes.len() > golden.len(), "the second record follows");
    std::fs::write(&path, &bytes).unwrap();
    let out = tributary(&["dump-journal", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "1 put foo bar\n2 delete k\n3 put \\x00\\xffk v\\x20v\n"
    );
}

#[test]
fn dump_journal_reports_damage_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.log");
    let mut bytes = hex("702c50f0 1800 01 0100000000000000 02000000 01 03666f6f 03626172 00 016b");
    bytes[10] ^= 0x40; // Inside the payload: the checksum no longer matches.
    std::fs::write(&path, &bytes).unwrap();
    let out = tributary(&["dump-journal", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert!(!out.stderr.is_empty());
}

#[test]
fn demo_runs_and_shows_saved_fsyncs() {
    let out = tributary(&["demo", "--threads", "8", "--writes", "50"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("400 synced writes"), "{text}");
    assert!(text.contains("fsyncs saved"), "{text}");
    assert!(text.contains("reopened: 400 keys"), "{text}");
}

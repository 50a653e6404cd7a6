//! The `tributary` binary: subcommands, output and exit codes.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output};
use tributary::{Db, Options};

/// Bytes from hex digits; whitespace separates fields for reading.
fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

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
    assert!(text.contains("last sequence number  4"), "{text}");
    let out = tributary(&["--db", d, "stats", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["last_seq"], 4);

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
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(stderr.contains("usage: tributary"), "{args:?}: {stderr}");
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

/// Issue #11, reproduction 7e: `dump-journal` exited 0, silently, on a torn file. Now it prints
/// what it could read, reports the tail on stderr, and exits 3.
#[test]
fn repro_7e_dump_journal_reports_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    db.put(b"a", b"1").unwrap();
    db.put(b"b", b"2").unwrap();
    db.close().unwrap();
    let path = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["dump-journal", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 put a 1\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The first record is 24 bytes: a 7-byte header and a 17-byte batch.
    assert!(stderr.contains("at offset 24"), "{stderr}");
}

/// A second process, the CLI, against an open database.
#[test]
fn second_process_gets_locked_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["--db", dir.path().to_str().unwrap(), "get", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("locked"), "{stderr}");
    db.close().unwrap();
}

fn tributary_os(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .output()
        .unwrap()
}

/// Names, sizes and contents of everything under `dir`.
fn tree(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(tree(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.push((path, bytes));
        }
    }
    out.sort();
    out
}

#[test]
fn keys_and_values_of_any_bytes_round_trip_raw_and_as_hex() {
    let dir = tempfile::tempdir().unwrap();
    let d = OsStr::new(dir.path().to_str().unwrap());
    // Not UTF-8, and a newline. (No NUL: an argument cannot hold one; --hex
    // can.)
    let key = OsStr::from_bytes(b"\xffk\n");
    let value = OsStr::from_bytes(b"v\xfe\x01");
    let put = tributary_os(&[OsStr::new("--db"), d, OsStr::new("put"), key, value]);
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    // Raw: the value's bytes and a newline.
    let get = tributary_os(&[OsStr::new("--db"), d, OsStr::new("get"), key]);
    assert_eq!(get.status.code(), Some(0));
    assert_eq!(get.stdout, b"v\xfe\x01\n");
    // Hex: what scan prints can be fed back.
    let scan = tributary(&["--db", d.to_str().unwrap(), "--hex", "scan"]);
    let line = String::from_utf8(scan.stdout).unwrap();
    assert_eq!(line, "ff6b0a 76fe01\n");
    let (k, _) = line.trim_end().split_once(' ').unwrap();
    let get = tributary(&["--db", d.to_str().unwrap(), "--hex", "get", k]);
    assert_eq!(String::from_utf8(get.stdout).unwrap(), "76fe01\n");
    let put = tributary(&["--db", d.to_str().unwrap(), "--hex", "put", "00", "ff"]);
    assert!(put.status.success());
    let get = tributary(&["--db", d.to_str().unwrap(), "get", "--hex", "00"]);
    assert_eq!(get.stdout, b"ff\n");
    // Not hex: a usage error.
    let bad = tributary(&["--db", d.to_str().unwrap(), "--hex", "get", "zz"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn read_commands_change_nothing_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("db");
    let ds = d.to_str().unwrap();
    for i in 0..3 {
        assert!(tributary(&["--db", ds, "put", &format!("k{i}"), "v"])
            .status
            .success());
    }
    let before = tree(&d);
    for args in [
        &["get", "k1"][..],
        &["get", "absent"][..],
        &["scan"][..],
        &["scan", "--reverse", "--limit", "1"][..],
        &["stats"][..],
        &["stats", "--json"][..],
        &["check"][..],
    ] {
        let out = tributary(&[&["--db", ds][..], args].concat());
        assert!(matches!(out.status.code(), Some(0 | 1)), "{args:?}");
        assert_eq!(tree(&d), before, "{args:?} changed the directory");
        // On a path with no database: exit 3, and nothing is created.
        let missing = dir.path().join("missing");
        let out = tributary(&[&["--db", missing.to_str().unwrap()][..], args].concat());
        assert_eq!(out.status.code(), Some(3), "{args:?} on a missing path");
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
    }
}

/// `dump-table` prints every entry of a table, deletions and every version
/// included, and `stats` shows the table and the manifest; a damaged table
/// is exit 3 naming the offset.
#[test]
fn dump_table_prints_a_flushed_table_and_stats_shows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    db.put(b"a", b"1").unwrap();
    db.put(b"a", b"2").unwrap();
    db.put(b"b\xff", b"3").unwrap();
    db.delete(b"c").unwrap();
    db.close().unwrap();
    // The next open flushes what it recovered to a level-0 table, every
    // version and tombstone kept.
    Db::open(tmp.path(), Options::default())
        .unwrap()
        .close()
        .unwrap();
    let table = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "ldb"))
        .expect("the open wrote a table");
    let out = tributary(&["dump-table", table.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2 put a 2\n1 put a 1\n3 put b\\xff 3\n4 delete c\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("4 entries in 1 data blocks"));

    let stats = tributary(&["--db", tmp.path().to_str().unwrap(), "stats", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(v["levels"][0]["files"], 1, "{v}");
    assert!(
        v["manifest"]["path"]
            .as_str()
            .unwrap()
            .contains("MANIFEST-"),
        "{v}"
    );
    assert_eq!(v["manifest"]["last_seq"], 4, "{v}");

    let mut bytes = std::fs::read(&table).unwrap();
    bytes[10] ^= 0x40;
    std::fs::write(&table, &bytes).unwrap();
    let out = tributary(&["dump-table", table.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("checksum mismatch") && stderr.contains("offset 0"),
        "{stderr}"
    );
}

/// `compact` merges the tables holding its range down and drops what
/// overwrites and deletes hid; it never creates a database.
#[test]
fn compact_merges_a_range_and_drops_what_is_hidden() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    for round in 0..3 {
        for i in 0..500 {
            db.put(format!("k{i:04}"), format!("v{round}")).unwrap();
        }
        db.compact_range(Some(b"k0000"), None::<&[u8]>).unwrap();
    }
    for i in 0..250 {
        db.delete(format!("k{i:04}")).unwrap();
    }
    db.close().unwrap();

    let out = tributary(&["--db", d, "compact", "--start", "k0000", "--end", "k9999"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("compacted in"), "{said}");
    let stats = tributary(&["--db", d, "stats", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let files: u64 = (0..7)
        .map(|l| v["levels"][l]["files"].as_u64().unwrap())
        .sum();
    assert_eq!(files, 1, "{v}");
    assert_eq!(v["tables"]["entries"], 250, "{v}");
    let scan = tributary(&["--db", d, "scan", "--limit", "1"]);
    assert_eq!(String::from_utf8_lossy(&scan.stdout), "k0250 v2\n");

    let none = tempfile::tempdir().unwrap();
    let missing = none.path().join("nothing");
    let out = tributary(&["--db", missing.to_str().unwrap(), "compact"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(!missing.exists());
}

/// Issue #23: `tributary repair DIR` rebuilds a database whose table is
/// gone (every open refused before), prints what it salvaged and set
/// aside, and the database opens again with the journal's keys.
#[test]
fn repair_rebuilds_a_database_an_open_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().to_str().unwrap();
    for (k, v) in [("apple", "red"), ("pear", "green")] {
        assert!(tributary(&["--db", db, "put", k, v]).status.success());
    }
    // The reopen of `put` writes the first journal to a table: remove it.
    let tables: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ldb"))
        .collect();
    assert!(!tables.is_empty());
    std::fs::remove_file(&tables[0]).unwrap();
    let refused = tributary(&["--db", db, "get", "pear"]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("tributary repair"));

    let repaired = tributary(&["repair", db]);
    assert!(repaired.status.success(), "{repaired:?}");
    let out = String::from_utf8_lossy(&repaired.stdout);
    assert!(
        out.contains("wrote") && out.contains("lost/MANIFEST-"),
        "{out}"
    );
    let got = tributary(&["--db", db, "get", "pear"]);
    assert_eq!(got.stdout, b"green\n");
}

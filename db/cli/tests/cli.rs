//! The `tributary` binary: subcommands, output and exit codes.

use std::ffi::OsStr;
use std::io::{BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
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
    // What it is doing, and then what it did, on stderr.
    let progress = String::from_utf8(out.stderr).unwrap();
    assert!(
        progress.starts_with(&format!("checking {d}: ")),
        "{progress}"
    );
    assert!(progress.contains("\nchecked in "), "{progress}");
    // The library's progress events in between: the first table read.
    assert!(progress.contains("\ncheck: 1 of "), "{progress}");
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

/// A second process, the CLI, against an open database: a writing
/// command gets the locked error; a reading one reads beside the writer
/// (a read-only open takes no lock).
#[test]
fn a_second_writer_is_locked_out_and_readers_read_beside_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put("k", "v").unwrap();
    let d = dir.path().to_str().unwrap();
    let out = tributary(&["--db", d, "put", "x", "1"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("locked"), "{stderr}");
    // A read command opens read-only beside the live writer, and sees
    // what it had written.
    let out = tributary(&["--db", d, "get", "k"]);
    assert_eq!(out.stdout, b"v\n", "{out:?}");
    let out = tributary(&["--db", d, "get", "x"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
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
    // The result on stdout; what it is doing, and then what it did, on
    // stderr.
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("tables per level ["), "{said}");
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.starts_with(&format!("compacting the keys from k0000 to k9999 of {d}:")),
        "{progress}"
    );
    assert!(progress.contains("\ncompacted in "), "{progress}");
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
    // Progress on stderr: a start line, the library's progress events
    // (the first one at least: they show at most once a second), and a
    // finish line; not the library's copy of the report (info, shown only
    // with -v).
    let progress = String::from_utf8_lossy(&repaired.stderr);
    let lines: Vec<&str> = progress.lines().collect();
    assert_eq!(
        lines[0],
        format!("repairing {db}: reading every table and journal")
    );
    assert!(
        lines[1].starts_with("repair: ") && lines[1].contains("tables and"),
        "{progress}"
    );
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("repaired in ") && last.contains("keys written in"),
        "{progress}"
    );
    assert!(!progress.contains("INFO"), "{progress}");
    let got = tributary(&["--db", db, "get", "pear"]);
    assert_eq!(got.stdout, b"green\n");
}

/// Runs the binary with `input` on stdin (written from another thread, so
/// that a child blocked on a full stderr cannot deadlock the test).
fn tributary_with_stdin(args: &[&str], input: Vec<u8>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // The child may stop reading early (a malformed line): a broken
        // pipe here is its business.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Every pair of the database in `dir`, read with the library.
fn pairs(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = Db::open_read_only(dir, Options::default()).unwrap();
    db.iter().map(|item| item.unwrap()).collect()
}

/// The one file of `dir` with extension `ext`.
fn file_with_extension(dir: &Path, ext: &str) -> std::path::PathBuf {
    let found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

/// Issue #26: `--hex` is taken bare or `0x`-prefixed, in either case, by
/// every command that takes keys or values, and printed by every command
/// that prints them, the dumps included; bad hex is a usage error naming
/// the argument.
#[test]
fn hex_is_taken_bare_or_0x_and_printed_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (key, value) in [("006b0a", "ff2076"), ("0x6B6579", "0X"), ("0x7a", "7A")] {
        let put = tributary(&["--db", d, "--hex", "put", key, value]);
        assert!(put.status.success(), "{put:?}");
    }
    let get = tributary(&["--db", d, "--hex", "get", "0x006B0A"]);
    assert_eq!(String::from_utf8(get.stdout).unwrap(), "ff2076\n");
    let get = tributary(&["--db", d, "--hex", "get", "6b6579"]);
    assert_eq!(get.stdout, b"\n", "an empty value");
    let scan = tributary(&["--db", d, "--hex", "scan"]);
    assert_eq!(
        String::from_utf8(scan.stdout).unwrap(),
        "006b0a ff2076\n6b6579 \n7a 7a\n"
    );
    let scan = tributary(&["--db", d, "--hex", "scan", "--start", "0x6b", "--end", "7a"]);
    assert_eq!(String::from_utf8(scan.stdout).unwrap(), "6b6579 \n");
    let delete = tributary(&["--db", d, "--hex", "delete", "0x7A"]);
    assert!(delete.status.success(), "{delete:?}");
    let delete = tributary(&["--db", d, "--hex", "delete", "6b6579"]);
    assert!(delete.status.success(), "{delete:?}");
    let scan = tributary(&["--db", d, "--hex", "scan"]);
    assert_eq!(String::from_utf8(scan.stdout).unwrap(), "006b0a ff2076\n");
    let compact = tributary(&[
        "--db", d, "--hex", "compact", "--start", "0x00", "--end", "ff",
    ]);
    assert!(compact.status.success(), "{compact:?}");
    assert!(String::from_utf8_lossy(&compact.stderr).contains("the keys from 00 to ff"));

    for (args, named) in [
        (&["get", "0xzz"][..], "KEY \"0xzz\""),
        (&["put", "6b", "abc"][..], "VALUE \"abc\""),
        (&["scan", "--start", "0x6"][..], "--start \"0x6\""),
        (&["delete", "x6b"][..], "KEY \"x6b\""),
    ] {
        let out = tributary(&[&["--db", d, "--hex"][..], args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("{named} is not hex")), "{stderr}");
    }
}

/// Issue #26: `dump-journal` and `dump-table` print keys and values as
/// hex with `--hex` (they ignored it before).
#[test]
fn dumps_print_hex_with_hex() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    db.put(b"\x00k\n", b"\xff v").unwrap();
    db.delete(b"a b").unwrap();
    db.close().unwrap();
    let journal = file_with_extension(tmp.path(), "log");
    let out = tributary(&["--hex", "dump-journal", journal.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "1 put 006b0a ff2076\n2 delete 612062\n"
    );
    let out = tributary(&["dump-journal", journal.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "1 put \\x00k\\x0a \\xff\\x20v\n2 delete a\\x20b\n"
    );
    // The next open flushes the journal to a table.
    Db::open(tmp.path(), Options::default())
        .unwrap()
        .close()
        .unwrap();
    let table = file_with_extension(tmp.path(), "ldb");
    let out = tributary(&["dump-table", "--hex", table.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "1 put 006b0a ff2076\n2 delete 612062\n"
    );
}

/// Issue #26: `scan | head -1` exits 0 with nothing on stderr once
/// `head` closes the pipe. The scan prints far more than a pipe holds, so
/// it is still writing when the pipe closes, however fast it runs.
#[test]
fn a_closed_pipe_ends_scan_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    let value = [b'v'; 100];
    let mut batch = tributary::Batch::new();
    for i in 0..40_000u32 {
        batch.put(format!("key{i:08}"), value);
    }
    db.write(&batch, &tributary::WriteOptions::default())
        .unwrap();
    db.close().unwrap();
    // About 4.5 MB of output; a pipe holds 1 MiB at most.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["--db", tmp.path().to_str().unwrap(), "scan"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, format!("key00000000 {}\n", "v".repeat(100)));
    drop(reader);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Keys and values of every awkward kind, and enough pairs for several
/// of `load`'s batches (10,000 entries each).
fn awkward_pairs() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"".to_vec(), b"empty key".to_vec()),
        (b"\n".to_vec(), b"\r\n".to_vec()),
        (b"a b\\c".to_vec(), b"".to_vec()),
        (b"\x00\xff\xfe".to_vec(), b"\xc3\xa9 \\x41 ==> 0x".to_vec()),
        (b"0x41".to_vec(), b"==>".to_vec()),
    ];
    pairs.extend((0..25_000u32).map(|i| {
        (
            format!("k{i:06}\n").into_bytes(),
            [&i.to_le_bytes()[..], b" \t\xff"].concat(),
        )
    }));
    pairs
}

/// Issue #26: what `scan` prints, with `--hex` or without, `load` puts
/// into a fresh database pair for pair, binary keys and newlines
/// included; and `ldb dump --hex` lines load too.
#[test]
fn load_reads_back_what_scan_prints() {
    let source = tempfile::tempdir().unwrap();
    let db = Db::open(source.path(), Options::default()).unwrap();
    let want = awkward_pairs();
    for (k, v) in &want {
        db.put(k, v).unwrap();
    }
    db.close().unwrap();
    let s = source.path().to_str().unwrap();
    let mut want = want;
    want.sort();
    assert_eq!(pairs(source.path()), want);

    for flags in [&["--hex"][..], &[][..]] {
        let scan = tributary(&[&["--db", s][..], flags, &["scan"]].concat());
        assert!(scan.status.success(), "{scan:?}");
        let fresh = tempfile::tempdir().unwrap();
        let target = fresh.path().join("db");
        let t = target.to_str().unwrap();
        let load =
            tributary_with_stdin(&[&["--db", t][..], flags, &["load"]].concat(), scan.stdout);
        let stderr = String::from_utf8_lossy(&load.stderr);
        assert_eq!(load.status.code(), Some(0), "{flags:?}: {stderr}");
        assert!(
            stderr
                .lines()
                .last()
                .unwrap()
                .starts_with(&format!("loaded {} entries (", want.len())),
            "{flags:?}: {stderr}"
        );
        assert!(stderr.trim_end().ends_with(", done"), "{stderr}");
        assert_eq!(pairs(&target), want, "{flags:?}");
    }

    // `ldb dump --hex`'s lines, and ours with 0x, upper case and CRLF.
    let fresh = tempfile::tempdir().unwrap();
    let t = fresh.path().to_str().unwrap();
    let input = b"0x6B ==> 0x76\n0x6c 0X\r\n\n6d ==> 0x7A7a\n".to_vec();
    let load = tributary_with_stdin(&["--db", t, "--hex", "load"], input);
    assert_eq!(load.status.code(), Some(0), "{load:?}");
    assert_eq!(
        pairs(fresh.path()),
        [
            (b"k".to_vec(), b"v".to_vec()),
            (b"l".to_vec(), b"".to_vec()),
            (b"m".to_vec(), b"zz".to_vec())
        ]
    );
}

/// Issue #26: a malformed line stops `load` with exit 2 naming the line;
/// the batches before the one holding it are in, nothing of that batch
/// is, and the message says which lines were loaded.
#[test]
fn load_stops_at_a_malformed_line_keeping_the_batches_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // Lines 1 to 10,000 make the first batch, written when it fills; the
    // bad line 10,006 is in the second.
    let mut input: Vec<u8> = (0..10_005)
        .flat_map(|i| format!("k{i:05} v\n").into_bytes())
        .collect();
    input.extend_from_slice(b"no-value\nk99999 v\n");
    let load = tributary_with_stdin(&["--db", d, "load"], input);
    assert_eq!(load.status.code(), Some(2), "{load:?}");
    let stderr = String::from_utf8_lossy(&load.stderr);
    assert!(
        stderr.contains(
            "stdin line 10006: no space between key and value; lines 1 to 10000 were loaded \
             (10000 entries), nothing from line 10001 on"
        ),
        "{stderr}"
    );
    let loaded = pairs(dir.path());
    assert_eq!(loaded.len(), 10_000);
    assert_eq!(loaded.last().unwrap().0, b"k09999");

    // In the first batch: nothing at all.
    let fresh = tempfile::tempdir().unwrap();
    let f = fresh.path().to_str().unwrap();
    let load = tributary_with_stdin(&["--db", f, "--hex", "load"], b"6b 76\n6b 7\n".to_vec());
    assert_eq!(load.status.code(), Some(2), "{load:?}");
    let stderr = String::from_utf8_lossy(&load.stderr);
    assert!(
        stderr.contains("stdin line 2: the value: an odd number of hex digits; nothing was loaded"),
        "{stderr}"
    );
    assert!(pairs(fresh.path()).is_empty());
    // Escaped text holds no raw space.
    let load = tributary_with_stdin(&["--db", f, "load"], b"k a b\n".to_vec());
    assert_eq!(load.status.code(), Some(2), "{load:?}");
    assert!(String::from_utf8_lossy(&load.stderr).contains("stdin line 1: the value: a space"));
}

/// Issue #26: `get` of an absent key says so on stderr and exits 1.
#[test]
fn get_of_an_absent_key_says_so_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(tributary(&["--db", d, "put", "apple", "red"])
        .status
        .success());
    let out = tributary(&["--db", d, "get", "cherry pie"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "tributary: key not found: cherry\\x20pie\n"
    );
    let out = tributary(&["--db", d, "--hex", "get", "0x00FF"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "tributary: key not found: 00ff\n"
    );
}

/// Issue #26: `dump-manifest` prints each field of each edit of our
/// manifest, keys escaped or hex; a record that does not decode is
/// reported with its offset, exit 3.
#[test]
fn dump_manifest_prints_our_manifest_field_by_field() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    let db = Db::open(tmp.path(), Options::default()).unwrap();
    db.put(b"a", b"1").unwrap();
    db.put(b"a", b"2").unwrap();
    db.put(b"b\xff", b"3").unwrap();
    db.delete(b"c").unwrap();
    db.close().unwrap();
    // The next open flushes the journal to a level-0 table.
    Db::open(tmp.path(), Options::default())
        .unwrap()
        .close()
        .unwrap();
    let table = file_with_extension(tmp.path(), "ldb");
    let number: u64 = table
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let size = std::fs::metadata(&table).unwrap().len();

    let current = std::fs::read_to_string(tmp.path().join("CURRENT")).unwrap();
    let manifest = tmp.path().join(current.trim_end());

    let out = tributary(&["--db", d, "dump-manifest"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!("{}: Tributary's manifest", manifest.display())
    );
    assert!(
        lines[1].starts_with("offset 0: header: magic TRIBMANI, format 1, comparator "),
        "{text}"
    );
    let added = format!(
        "  add table {number} level 0 size {size} entries 4 smallest a @ 2 put largest c @ 4 delete"
    );
    assert!(lines.contains(&added.as_str()), "{added}\n{text}");
    assert!(lines.contains(&"  last sequence 4"), "{text}");
    assert!(
        lines.iter().any(|l| l.starts_with("  log number ")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("  next file number ")),
        "{text}"
    );
    // The same manifest by name, keys as hex.
    let out = tributary(&["--hex", "dump-manifest", manifest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "  add table {number} level 0 size {size} entries 4 smallest 61 @ 2 put largest 63 @ 4 delete\n"
        )),
        "{text}"
    );

    // A header, then a record that frames well but does not decode.
    let mut w = journal::Writer::new(Vec::new());
    let header = tributary::version::Record::Header(tributary::version::edit::Header::current());
    w.append(&header.encode()).unwrap();
    let offset = w.size();
    w.append(b"\xff\xff\xff").unwrap();
    w.flush().unwrap();
    let bad = tmp.path().join("bad-manifest");
    std::fs::write(&bad, w.into_inner()).unwrap();
    let out = tributary(&["dump-manifest", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("offset 0: header"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("record at offset {offset}: ")),
        "{stderr}"
    );
}

/// The bytes LevelDB's `VersionEdit::EncodeTo` writes: a new database's
/// first edit (`DBImpl::NewDB`), then one recording a flush of table 4
/// ("a"@1 to "b"@2, 1234 bytes) at level 0, with the previous log number
/// 0 that `DBImpl::Recover` sets.
fn leveldb_manifest() -> Vec<u8> {
    let mut first = vec![1, 26];
    first.extend_from_slice(b"leveldb.BytewiseComparator");
    first.extend_from_slice(&[2, 0, 3, 2, 4, 0]);
    let mut second = vec![2, 5, 9, 0, 3, 7, 4, 9];
    second.extend_from_slice(&[7, 0, 4, 0xd2, 0x09, 9, b'a']);
    second.extend_from_slice(&(1u64 << 8 | 1).to_le_bytes());
    second.extend_from_slice(&[9, b'b']);
    second.extend_from_slice(&(2u64 << 8 | 1).to_le_bytes());
    let mut w = journal::Writer::new(Vec::new());
    w.append(&first).unwrap();
    w.append(&second).unwrap();
    w.flush().unwrap();
    w.into_inner()
}

/// Issue #26: `dump-manifest` tells a LevelDB manifest from ours and
/// prints its edits the same way: one LevelDB wrote (its bytes), and one
/// `export-leveldb` wrote.
#[test]
fn dump_manifest_prints_a_leveldb_manifest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("MANIFEST-000003"), leveldb_manifest()).unwrap();
    std::fs::write(dir.path().join("CURRENT"), "MANIFEST-000003\n").unwrap();
    let out = tributary(&["--db", dir.path().to_str().unwrap(), "dump-manifest"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let body = text.split_once('\n').unwrap().1;
    assert!(text.starts_with(&format!(
        "{}: LevelDB's manifest\n",
        dir.path().join("MANIFEST-000003").display()
    )));
    assert_eq!(
        body,
        "offset 0: edit\n\
         \x20 comparator leveldb.BytewiseComparator\n\
         \x20 log number 0\n\
         \x20 next file number 2\n\
         \x20 last sequence 0\n\
         offset 41: edit\n\
         \x20 log number 5\n\
         \x20 next file number 7\n\
         \x20 last sequence 9\n\
         \x20 add table 4 level 0 size 1234 smallest a @ 1 put largest b @ 2 put\n\
         \x20 previous log number 0\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 edits; tables per level [1, 0, 0, 0, 0, 0, 0], log number 5"),
        "{stderr}"
    );

    // What `export-leveldb` hands back.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    assert!(tributary(&["--db", d, "put", "k", "v"]).status.success());
    let export = tributary(&["--db", d, "export-leveldb"]);
    assert!(export.status.success(), "{export:?}");
    let out = tributary(&["--db", d, "--hex", "dump-manifest"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(": LevelDB's manifest"),
        "{text}"
    );
    assert!(
        text.contains("  comparator leveldb.BytewiseComparator\n"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("  add table ")
            && l.ends_with("smallest 6b @ 1 put largest 6b @ 1 put")),
        "{text}"
    );
}

/// Issue #26: `-v` shows the library's events on stderr; without it, a
/// clean open shows none.
#[test]
fn verbose_shows_the_library_events() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let quiet = tributary(&["--db", d, "put", "k", "v"]);
    assert!(quiet.status.success());
    assert!(quiet.stderr.is_empty(), "{quiet:?}");
    let verbose = tributary(&["-v", "--db", d, "put", "k2", "v"]);
    assert!(verbose.status.success());
    let stderr = String::from_utf8(verbose.stderr).unwrap();
    // The open replays the first put's journal and flushes it.
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("INFO  recovery: 1 batches from 1 journals")),
        "{stderr}"
    );
    let verbose = tributary(&["--db", d, "compact", "--verbose"]);
    assert!(verbose.status.success());
    let stderr = String::from_utf8(verbose.stderr).unwrap();
    assert!(stderr.lines().any(|l| l.starts_with("DEBUG ")), "{stderr}");
}

/// Issue #26: a global flag a command has no use for is a usage error,
/// never silently ignored: `demo` runs in a directory of its own, and the
/// dumps read the file they are given.
#[test]
fn commands_refuse_global_flags_they_do_not_use() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("db");
    let ds = d.to_str().unwrap();
    for (args, said) in [
        (&["--db", ds, "demo"][..], "demo takes no --db"),
        (
            &["demo", "--db", ds, "--writes", "1"][..],
            "demo takes no --db",
        ),
        (&["--hex", "demo"][..], "demo takes no --hex"),
        (
            &["--db", ds, "dump-journal", "x.log"][..],
            "dump-journal takes no --db",
        ),
        (
            &["--db", ds, "dump-table", "x.ldb"][..],
            "dump-table takes no --db",
        ),
        (&["--db", ds, "--hex", "stats"][..], "stats takes no --hex"),
        (
            &["--db", ds, "repair", ds][..],
            "repair takes DIR or --db DIR, not both",
        ),
        (
            &["--db", ds, "dump-manifest", "M"][..],
            "dump-manifest takes FILE or --db DIR, not both",
        ),
        (
            &["dump-manifest"][..],
            "dump-manifest needs FILE or --db DIR",
        ),
    ] {
        let out = tributary(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(stderr.contains("Usage: tributary"), "{args:?}: {stderr}");
        assert!(!d.exists(), "{args:?} created the directory");
    }
}

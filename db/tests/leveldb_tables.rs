//! LevelDB golden tables (TABLES.md T4): Tributary's table files are C++
//! LevelDB's, byte for byte.
//!
//! For each input set, the same entries are built into a table twice: by
//! Tributary's [`TableBuilder`] and by LevelDB's `TableBuilder` (through a
//! small C++ shim, `leveldb_tables/shim.cc`, compiled against the system's
//! libleveldb with an internal-key comparator and filter policy that do what
//! LevelDB's `db/dbformat.cc` does). The test proves that
//!
//! - the two files are byte-identical (data blocks and their cut points,
//!   index separators, the Bloom filter block, the metaindex, the footer);
//! - Tributary's [`Table`] reads LevelDB's file exactly: forward and
//!   backward iteration give the entries, `get` gives the newest version of
//!   each user key (and each older version at its own snapshot), seeks land
//!   where the model says;
//! - LevelDB's `Table` reads Tributary's file exactly (forward, backward,
//!   checksums verified) and its seeks agree with [`TableIter::seek`].
//!
//! The sets cover many data blocks, deletions and empty values, many
//! versions of one user key across blocks, keys of 2- and 3-byte varint
//! lengths, a key bigger than a block, the empty user key, `0xff` bytes and
//! every separator/successor rule, and a single entry.
//!
//! Needs g++ and libleveldb-dev. Without the header the test prints
//! "skipped" and passes, unless `CI` is set, where it fails.

use batch::key;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;
use tributary::table::{Table, TableBuilder};
use tributary::{Kind, SeqNum};

const HEADER: &str = "/usr/include/leveldb/table_builder.h";
const SHIM_SOURCE: &str = include_str!("leveldb_tables/shim.cc");

/// One entry: internal key and value.
type Entry = (Vec<u8>, Vec<u8>);

fn ikey(user: &[u8], seq: u64, kind: Kind) -> Vec<u8> {
    let mut out = Vec::new();
    key::encode(&mut out, user, SeqNum(seq), kind);
    out
}

/// splitmix64, for seeded inputs.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn bytes(rng: &mut u64, len: usize) -> Vec<u8> {
    (0..len).map(|_| next(rng) as u8).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Sorts entries into internal-key order and checks they are distinct.
fn sorted(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by(|a, b| key::compare(&a.0, &b.0));
    for w in entries.windows(2) {
        assert!(
            key::compare(&w[0].0, &w[1].0).is_lt(),
            "duplicate key {}",
            hex(&w[0].0)
        );
    }
    entries
}

/// (a) Random binary user keys (with 0xff bytes, shared prefixes) in 1 to
/// 3 versions, puts and deletes, values of 0 to 300 bytes: many blocks and
/// many shortened separators.
fn set_many_blocks() -> Vec<Entry> {
    let mut rng = 0x7ab1e5;
    let mut users: Vec<Vec<u8>> = (0..2500)
        .map(|i| {
            let len = 1 + (next(&mut rng) % 20) as usize;
            let mut k = bytes(&mut rng, len);
            if i % 3 == 0 {
                // A decimal key: long shared prefixes, short differences.
                k = format!("user{:08}", next(&mut rng) % 100_000).into_bytes();
            }
            k
        })
        .collect();
    users.sort();
    users.dedup();
    let mut seq = 1;
    let mut entries = Vec::new();
    for user in &users {
        for _ in 0..1 + next(&mut rng) % 3 {
            seq += 1 + next(&mut rng) % 5;
            if next(&mut rng).is_multiple_of(7) {
                entries.push((ikey(user, seq, Kind::Delete), Vec::new()));
            } else {
                let len = (next(&mut rng) % 301) as usize;
                entries.push((ikey(user, seq, Kind::Put), bytes(&mut rng, len)));
            }
        }
    }
    sorted(entries)
}

/// (b) Deletions, empty puts, a user key with 60 versions spanning several
/// blocks (separators between equal user keys), a put and a delete at one
/// sequence number, sequence numbers 0 and the largest.
fn set_versions() -> Vec<Entry> {
    let max = batch::MAX_SEQ;
    let mut entries = vec![
        (ikey(b"a", 5, Kind::Put), Vec::new()),
        (ikey(b"a", 4, Kind::Delete), Vec::new()),
        (ikey(b"a", 3, Kind::Put), b"old".to_vec()),
        (ikey(b"b", 0, Kind::Put), b"seq zero".to_vec()),
        (ikey(b"c", max, Kind::Put), b"largest seq".to_vec()),
        (ikey(b"c", max - 1, Kind::Delete), Vec::new()),
        (ikey(b"d", 9, Kind::Delete), Vec::new()),
        (ikey(b"e", 7, Kind::Put), b"put".to_vec()),
        (ikey(b"e", 7, Kind::Delete), Vec::new()),
        (ikey(b"zz", 1, Kind::Delete), Vec::new()),
    ];
    let mut rng = 42;
    for seq in 100..160 {
        let (kind, value) = match seq % 4 {
            0 => (Kind::Delete, Vec::new()),
            1 => (Kind::Put, Vec::new()),
            _ => (Kind::Put, bytes(&mut rng, 250)),
        };
        entries.push((ikey(b"hot key", seq, kind), value));
    }
    for i in 0..40u64 {
        let user = format!("k{i:03}");
        entries.push((ikey(user.as_bytes(), 1000 + i, Kind::Delete), Vec::new()));
        entries.push((ikey(user.as_bytes(), 999 - i, Kind::Put), Vec::new()));
    }
    sorted(entries)
}

/// (c) Key lengths and separator edges. A 4100-byte value makes its entry a
/// block of its own, so each pair below is a separator case.
fn set_edges() -> Vec<Entry> {
    let big = vec![b'v'; 4100];
    let mut seq = 1;
    let mut entries = Vec::new();
    let mut add = |user: &[u8], value: &[u8]| {
        seq += 1;
        entries.push((ikey(user, seq, Kind::Put), value.to_vec()));
    };
    // The empty user key, alone in the first block.
    add(b"", &big);
    // Separator rules: (start, limit) on either side of a block boundary.
    for user in [
        &b"ab"[..],          // prefix of the next: kept
        b"abc",              // 'c' + 1 == 'd': kept
        b"abd",              // start one byte past the difference: kept
        b"abf",              // prefix of the next: kept
        b"abfxyz",           // shortens to "abg"
        b"abh",              // 'a' + 1 == 'b': kept
        b"b\x00\x00\x00",    // shortens to "c" (limit "x\xffq")
        b"x\xffq",           // 'x' + 1 == 'y': kept (limit "y")
        b"y",                //
        b"y\xff\xff\xff",    // limit "z\0": 'y' + 1 == 'z', kept
        b"z\x00",            //
        b"z\x00\xfe\xff",    // limit "z\x01": kept; "\xfe\xff" tail
        b"z\x01",            // shortens to "{" (limit "\x80...")
        b"\x80\x00\x01\x02", // shortens to "\x81" (limit "\xf0")
        b"\xf0",             // "\xf1" is no shorter: kept
        b"\xfe\xff\xff",     // '\xfe' + 1 == 0xff: kept (limit "\xff")
        b"\xff",             //
        b"\xff\x00abc",      // shortens to "\xff\x01" (limit "\xff\x05")
        b"\xff\x05",
    ] {
        add(user, &big);
    }
    // Long keys, small values: 2- and 3-byte varints for the key lengths,
    // and a 5000-byte key whose block is bigger than block_size.
    let mut rng = 7;
    for len in [127, 128, 200, 300, 5000, 16_383, 16_384, 20_000] {
        let mut user = vec![0xff, 0xff, 0xff];
        user.extend(bytes(&mut rng, len - 3));
        user[3] = (len / 256) as u8; // keys of different lengths differ early
        add(&user, b"small");
        let mut twin = user.clone();
        twin.push(0);
        add(&twin, &[]);
    }
    // The last user key is all 0xff: FindShortSuccessor keeps it.
    add(&[0xff; 10], b"last");
    sorted(entries)
}

/// (d) One entry.
fn set_single() -> Vec<Entry> {
    vec![(ikey(b"only", 1, Kind::Put), b"value".to_vec())]
}

/// (d') One delete of the empty user key: the smallest table there is.
fn set_single_empty() -> Vec<Entry> {
    vec![(ikey(b"", 0, Kind::Delete), Vec::new())]
}

/// The compiled shim, or `None` when LevelDB is not installed and this is
/// not CI.
fn build_shim(dir: &Path) -> Option<PathBuf> {
    if !Path::new(HEADER).exists() {
        if std::env::var_os("CI").is_some() {
            panic!("{HEADER} is missing and CI is set: install libleveldb-dev (apt-get install -y libleveldb-dev)");
        }
        println!("skipped: libleveldb-dev not installed ({HEADER} is missing)");
        return None;
    }
    let source = dir.join("shim.cc");
    std::fs::write(&source, SHIM_SOURCE).expect("write shim.cc");
    let out = Command::new("g++")
        .current_dir(dir)
        .args(["-O1", "-std=c++17", "shim.cc", "-lleveldb", "-o", "shim"])
        .output()
        .expect("cannot run g++");
    assert!(
        out.status.success(),
        "g++ could not build the LevelDB shim ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Some(dir.join("shim"))
}

/// Runs the shim, failing with its stderr unless it succeeds; its stdout.
fn run_shim(shim: &Path, args: &[String]) -> String {
    let out = Command::new(shim).args(args).output().expect("run shim");
    assert!(
        out.status.success(),
        "shim {} failed ({}):\n{}",
        args.first().map_or("", |s| s.as_str()),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("shim prints ASCII")
}

fn leveldb_write(shim: &Path, dir: &Path, entries: &[Entry]) -> Vec<u8> {
    let mut text = String::new();
    for (k, v) in entries {
        text.push_str(&hex(k));
        text.push(' ');
        text.push_str(&hex(v));
        text.push('\n');
    }
    let input = dir.join("entries.txt");
    let output = dir.join("leveldb.ldb");
    std::fs::write(&input, text).expect("write entries");
    run_shim(
        shim,
        &[
            "write".into(),
            input.display().to_string(),
            output.display().to_string(),
        ],
    );
    std::fs::read(&output).expect("read LevelDB's table")
}

/// What LevelDB's `Table` reads from `table`: every entry, then where each
/// of `seeks` lands.
fn leveldb_read(
    shim: &Path,
    dir: &Path,
    table: &[u8],
    seeks: &[Vec<u8>],
) -> (Vec<Entry>, Vec<Option<Entry>>) {
    let path = dir.join("tributary.ldb");
    std::fs::write(&path, table).expect("write table");
    let mut args = vec!["read".to_owned(), path.display().to_string()];
    if !seeks.is_empty() {
        args.push("--seek".into());
        args.extend(seeks.iter().map(|s| hex(s)));
    }
    let stdout = run_shim(shim, &args);
    let pair = |s: &str| -> Entry {
        let (k, v) = s.split_once(' ').expect("'key value'");
        (unhex(k), unhex(v))
    };
    let mut entries = Vec::new();
    let mut landed = Vec::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("seek ") {
            let (target, found) = rest.split_once(' ').expect("'seek target found'");
            assert_eq!(target, hex(&seeks[landed.len()]), "seek answers in order");
            landed.push((found != "none").then(|| pair(found)));
        } else {
            assert!(landed.is_empty(), "entry line after the seeks: {line}");
            entries.push(pair(line));
        }
    }
    assert_eq!(landed.len(), seeks.len(), "one answer per seek");
    (entries, landed)
}

/// Where two files first differ, with a hex view around it; `None` if
/// identical.
fn first_difference(ours: &[u8], theirs: &[u8]) -> Option<String> {
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .or_else(|| (ours.len() != theirs.len()).then(|| ours.len().min(theirs.len())))?;
    let window = |b: &[u8]| {
        let lo = at.saturating_sub(32).min(b.len());
        let hi = (at + 32).min(b.len());
        format!("[{lo}..{hi}] {}", hex(&b[lo..hi]))
    };
    Some(format!(
        "files differ first at offset {at} (Tributary {} bytes, LevelDB {} bytes)\n  Tributary {}\n  LevelDB   {}",
        ours.len(),
        theirs.len(),
        window(ours),
        window(theirs)
    ))
}

/// Targets to seek to: a sample of the entries' own keys, each user key's
/// lookup key (newest first) and a key just after it, and keys before and
/// after everything.
fn seek_targets(entries: &[Entry]) -> Vec<Vec<u8>> {
    let step = (entries.len() / 300).max(1);
    let mut targets = Vec::new();
    for (i, (k, _)) in entries.iter().enumerate() {
        if i % step != 0 && i + 1 != entries.len() {
            continue;
        }
        let user = key::user_key(k);
        targets.push(k.clone());
        targets.push(ikey(user, batch::MAX_SEQ, Kind::Put));
        let mut after = user.to_vec();
        after.push(0);
        targets.push(ikey(&after, 0, Kind::Delete));
        if let Some((_, seq, _)) = key::parse(k) {
            if seq.0 > 0 {
                // Between this version and the next-older one.
                targets.push(ikey(user, seq.0 - 1, Kind::Put));
            }
        }
    }
    targets.push(ikey(b"", batch::MAX_SEQ, Kind::Put));
    targets.push(ikey(&[0xff; 32], 0, Kind::Delete));
    targets
}

/// The entry a seek to `target` must land on.
fn model_seek(entries: &[Entry], target: &[u8]) -> Option<Entry> {
    let i = entries.partition_point(|(k, _)| key::compare(k, target) == Ordering::Less);
    entries.get(i).cloned()
}

fn tributary_build(entries: &[Entry]) -> Vec<u8> {
    let mut builder = TableBuilder::new(Vec::new());
    for (k, v) in entries {
        builder.add(k, v).expect("add");
    }
    let (bytes, summary) = builder.finish().expect("finish");
    assert_eq!(summary.size, bytes.len() as u64);
    assert_eq!(summary.entries, entries.len() as u64);
    assert_eq!(summary.smallest, entries[0].0);
    assert_eq!(summary.largest, entries[entries.len() - 1].0);
    bytes
}

/// Tributary's reading of `file` (LevelDB's): iteration both ways, `get`
/// at the newest and at each version's snapshot, and seeks.
fn tributary_reads(name: &str, file: Vec<u8>, entries: &[Entry], seeks: &[Vec<u8>]) {
    let table = Arc::new(Table::open(file).unwrap_or_else(|e| panic!("{name}: open: {e}")));
    let mut it = table.iter();
    let mut forward = Vec::new();
    it.seek_to_first();
    while it.valid() {
        forward.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    assert_eq!(it.error(), None, "{name}: forward iteration");
    assert!(forward == entries, "{name}: forward iteration differs");
    let mut backward = Vec::new();
    it.seek_to_last();
    while it.valid() {
        backward.push((it.key().to_vec(), it.value().to_vec()));
        it.prev();
    }
    assert_eq!(it.error(), None, "{name}: backward iteration");
    backward.reverse();
    assert!(backward == entries, "{name}: backward iteration differs");

    for (i, (k, v)) in entries.iter().enumerate() {
        let (user, seq, kind) = key::parse(k).expect("valid key");
        let newest = i == 0 || key::user_key(&entries[i - 1].0) != user;
        let value = if kind == Kind::Delete { &[][..] } else { v };
        let want = |found: Option<tributary::table::Found<'_>>| {
            let found = found.unwrap_or_else(|| panic!("{name}: get {} found nothing", hex(k)));
            assert_eq!(
                (found.seq, found.kind, &*found.value),
                (seq, kind, value),
                "{name}: get {}",
                hex(user)
            );
        };
        if newest {
            want(table.get(user, SeqNum(u64::MAX)).expect("get"));
        }
        // At its own snapshot a version is the newest visible, unless a
        // put shares its sequence number (a put sorts first).
        let shadowed = i > 0 && {
            let (u, s, _) = key::parse(&entries[i - 1].0).expect("valid key");
            u == user && s == seq
        };
        if !shadowed {
            want(table.get(user, seq).expect("get"));
        }
    }
    let mut absent = key::user_key(&entries[entries.len() - 1].0).to_vec();
    absent.extend_from_slice(b"\x00absent");
    assert_eq!(table.get(&absent, SeqNum(u64::MAX)).expect("get"), None);

    for target in seeks {
        it.seek(target);
        let got = it.valid().then(|| (it.key().to_vec(), it.value().to_vec()));
        assert_eq!(it.error(), None, "{name}: seek");
        assert!(
            got == model_seek(entries, target),
            "{name}: Tributary's seek to {} on LevelDB's table",
            hex(target)
        );
    }
}

/// Tributary's seeks on `file` (its own).
fn tributary_seeks(file: Vec<u8>, seeks: &[Vec<u8>]) -> Vec<Option<Entry>> {
    let table = Arc::new(Table::open(file).expect("open our own table"));
    let mut it = table.iter();
    seeks
        .iter()
        .map(|target| {
            it.seek(target);
            assert_eq!(it.error(), None);
            it.valid().then(|| (it.key().to_vec(), it.value().to_vec()))
        })
        .collect()
}

/// One set through every check; whether the files were byte-identical
/// (every other check panics).
fn check_set(shim: &Path, name: &str, entries: &[Entry]) -> Result<usize, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = tributary_build(entries);
    let theirs = leveldb_write(shim, dir.path(), entries);
    let identical = first_difference(&ours, &theirs);
    let seeks = seek_targets(entries);

    tributary_reads(name, theirs.clone(), entries, &seeks);

    let (read, landed) = leveldb_read(shim, dir.path(), &ours, &seeks);
    assert!(
        read == entries,
        "{name}: LevelDB's iteration of Tributary's table differs ({} entries, want {})",
        read.len(),
        entries.len()
    );
    let ours_landed = tributary_seeks(ours.clone(), &seeks);
    for (i, target) in seeks.iter().enumerate() {
        assert!(
            landed[i] == ours_landed[i],
            "{name}: seek to {}: LevelDB lands on {:?}, Tributary on {:?}",
            hex(target),
            landed[i].as_ref().map(|e| hex(&e.0)),
            ours_landed[i].as_ref().map(|e| hex(&e.0)),
        );
        assert!(
            landed[i] == model_seek(entries, target),
            "{name}: seek to {}",
            hex(target)
        );
    }
    // LevelDB reads its own file too (the shim's options are sound).
    let (own, _) = leveldb_read(shim, dir.path(), &theirs, &[]);
    assert!(own == entries, "{name}: LevelDB cannot read its own table");

    match identical {
        None => Ok(ours.len()),
        Some(diff) => Err(format!("{name}: {diff}")),
    }
}

#[test]
fn tables_match_leveldb_byte_for_byte() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(shim) = build_shim(dir.path()) else {
        return;
    };
    let sets: [(&str, Vec<Entry>); 5] = [
        ("many blocks", set_many_blocks()),
        ("versions and deletes", set_versions()),
        ("key lengths and separator edges", set_edges()),
        ("single entry", set_single()),
        ("single delete, empty key", set_single_empty()),
    ];
    let mut differ = Vec::new();
    for (name, entries) in &sets {
        let blocks = Table::open(tributary_build(entries))
            .expect("open")
            .data_blocks();
        match check_set(&shim, name, entries) {
            Ok(len) => println!(
                "{name}: {} entries, {blocks} data blocks, {len} bytes: byte-identical",
                entries.len()
            ),
            Err(diff) => {
                println!("{diff}");
                differ.push(diff);
            }
        }
    }
    println!("took {:.2?}", started.elapsed());
    assert!(
        differ.is_empty(),
        "tables differ from LevelDB's:\n{}",
        differ.join("\n")
    );
}

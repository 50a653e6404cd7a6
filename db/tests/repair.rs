//! `Db::repair` over a damage matrix (RELIABILITY.md R3, R4; issue #23):
//! every table of level 0, a middle level and the last level deleted,
//! truncated, extended, zeroed, swapped for another of the same size or
//! flipped in each of its block kinds; the manifest's records flipped and
//! cut, the manifest emptied or followed by garbage; `CURRENT` missing,
//! empty, garbage or naming a missing manifest; a journal flipped.
//!
//! For each case, on a copy of one seeded database:
//!
//! - `check` before the repair gives a typed result (an error names a
//!   file), and changes nothing;
//! - the repair succeeds, and the database then opens and reads;
//! - no fabricated value: every value read was written to its key;
//! - no stale value where a newer version survives: a key the damage
//!   cannot have touched (outside the damaged table's range, or every key
//!   when only the manifest or `CURRENT` is damaged) reads its newest
//!   value exactly;
//! - nothing destroyed: a damaged file that was there is kept whole in
//!   `lost/`;
//! - a second repair reads the same;
//! - against C++ LevelDB's `RepairDB` on another copy (through
//!   `repair/leveldb_repair.c`, compiled against libleveldb-dev; skipped
//!   without it unless `CI` is set): every key LevelDB salvages with a real
//!   value, the repair salvages too, at a version at least as new, and the
//!   newest wherever LevelDB found the newest.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tributary::version::{manifest, Catalog};
use tributary::{Db, Options};

const KEYS: u32 = 3000;

/// Taken by every test here: one of them spawns LevelDB's repair, and a
/// child process holds a copy of every descriptor of this one from its
/// fork to its exec, a `LOCK`'s included, so a test that closed a
/// database and opens it again at that moment would find it locked.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

/// A value that names its round, so that "newer" can be read off it.
fn value(i: u32, round: u32) -> Vec<u8> {
    format!("r{round}-{i}-{}", "v".repeat(40)).into_bytes()
}

fn round_of(value: &[u8]) -> u32 {
    let text = std::str::from_utf8(value).unwrap();
    text[1..text.find('-').unwrap()].parse().unwrap()
}

fn options() -> Options {
    Options {
        write_buffer_size: 64 << 10,
        table_file_size: 16 << 10,
        level1_size: 128 << 10,
        ..Options::default()
    }
}

/// What was written: every value of each key, and its newest state.
struct Model {
    written: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
    newest: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

/// The seeded database, built once: three rounds of writes (the second
/// overwriting every second key, the third every third key and deleting
/// every seventh), compacted between rounds, so that level 0, a middle
/// level and the last level all hold tables, and a journal holds the
/// last writes.
fn seed() -> &'static (tempfile::TempDir, Model) {
    static SEED: OnceLock<(tempfile::TempDir, Model)> = OnceLock::new();
    SEED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut model = Model {
            written: BTreeMap::new(),
            newest: BTreeMap::new(),
        };
        let db = Db::open(dir.path(), options()).unwrap();
        for round in 0..3u32 {
            for i in 0..KEYS {
                let k = key(i);
                if round == 2 && i % 7 == 0 {
                    db.delete(&k).unwrap();
                    model.newest.insert(k, None);
                } else if round == 0 || (round == 1 && i % 2 == 0) || (round == 2 && i % 3 == 0) {
                    let v = value(i, round);
                    db.put(&k, &v).unwrap();
                    model.written.entry(k.clone()).or_default().push(v.clone());
                    model.newest.insert(k, Some(v));
                }
            }
            if round == 0 {
                db.compact().unwrap();
            }
            if round == 1 {
                // Level 0 into level 1 (the lane's own work), so that a
                // middle level holds tables too.
                let start = std::time::Instant::now();
                while db.stats().files_per_level[1] == 0 {
                    assert!(start.elapsed().as_secs() < 60, "no level-1 table");
                    db.compact_range(Some(key(0)), Some(key(KEYS / 3))).unwrap();
                }
            }
        }
        db.close().unwrap();
        (dir, model)
    })
}

/// Copies the directory `from` to `to`, `lost/` included, `LOCK` not.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if path.is_dir() {
            copy_dir(&path, &to.join(name));
        } else if name != "LOCK" {
            std::fs::copy(&path, to.join(name)).unwrap();
        }
    }
}

fn catalog(dir: &Path) -> Catalog {
    let current = std::fs::read(dir.join("CURRENT")).unwrap();
    let number = manifest::parse_current(&current).unwrap();
    let bytes = std::fs::read(dir.join(manifest::manifest_name(number))).unwrap();
    manifest::replay(&bytes).unwrap().catalog
}

/// What a case damages, and so which keys it may take away.
enum Touches {
    /// A table: keys in its user-key range.
    Table { from: Vec<u8>, to: Vec<u8> },
    /// The manifest or `CURRENT`: no data at all.
    Nothing,
    /// A journal: any key.
    Anything,
}

struct Case {
    what: String,
    /// The damaged file, if it is still there afterwards.
    damaged: Option<PathBuf>,
    touches: Touches,
    damage: Box<dyn Fn(&Path)>,
}

fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = (at as usize).min(bytes.len() - 1);
    bytes[at] ^= 0x04;
    std::fs::write(path, bytes).unwrap();
}

fn cases(seed: &Path) -> Vec<Case> {
    use tributary::table::format::Footer;
    let catalog = catalog(seed);
    let deepest = (1..catalog.levels.len())
        .rev()
        .find(|&l| !catalog.levels[l].is_empty())
        .unwrap();
    let middle = (1..deepest).find(|&l| !catalog.levels[l].is_empty());
    let mut levels = vec![0, deepest];
    levels.extend(middle);
    let mut cases = Vec::new();
    let table_of = |level: usize| {
        let files: Vec<_> = catalog.levels[level].values().collect();
        assert!(!files.is_empty(), "level {level} holds no table");
        files[files.len() / 2].clone()
    };
    let all_tables: Vec<_> = catalog.tables().map(|(_, f)| f.clone()).collect();
    for level in levels {
        let meta = table_of(level);
        let name = format!("{:06}.ldb", meta.number);
        let user = |k: &[u8]| k[..k.len() - 8].to_vec();
        let touches = || Touches::Table {
            from: user(&meta.smallest),
            to: user(&meta.largest),
        };
        let size = meta.size;
        let bytes = std::fs::read(seed.join(&name)).unwrap();
        let footer = Footer::decode(&bytes).unwrap();
        let mut add = |what: &str, keeps: bool, damage: Box<dyn Fn(&Path)>| {
            cases.push(Case {
                what: format!("L{level} table {name}: {what}"),
                damaged: keeps.then(|| PathBuf::from(&name)),
                touches: touches(),
                damage,
            })
        };
        let n = name.clone();
        add(
            "deleted",
            false,
            Box::new(move |d| std::fs::remove_file(d.join(&n)).unwrap()),
        );
        for (what, len) in [
            ("cut in half", size / 2),
            ("one byte short", size - 1),
            ("zero length", 0),
            ("one byte longer", size + 1),
        ] {
            let n = name.clone();
            add(
                what,
                true,
                Box::new(move |d| {
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(d.join(&n))
                        .unwrap();
                    f.set_len(len).unwrap();
                }),
            );
        }
        for (what, at) in [
            ("a data block flipped", 100),
            ("the filter flipped", footer.metaindex.offset - 6),
            ("the metaindex flipped", footer.metaindex.offset + 1),
            ("the index flipped", footer.index.offset + 2),
            ("the footer's handles flipped", size - 48 + 1),
            ("the footer's magic flipped", size - 2),
        ] {
            let n = name.clone();
            add(what, true, Box::new(move |d| flip(&d.join(&n), at)));
        }
        // Another table in its place: of the same size if there is one.
        if let Some(other) = all_tables
            .iter()
            .filter(|o| o.number != meta.number)
            .min_by_key(|o| o.size.abs_diff(size))
        {
            let (n, o) = (name.clone(), format!("{:06}.ldb", other.number));
            let what = if other.size == size {
                "replaced by another table of the same size"
            } else {
                "replaced by another table"
            };
            add(
                what,
                true,
                Box::new(move |d| {
                    std::fs::copy(d.join(&o), d.join(&n)).unwrap();
                }),
            );
        }
    }

    // The manifest and CURRENT: no data lost, whatever the damage.
    let current = String::from_utf8(std::fs::read(seed.join("CURRENT")).unwrap()).unwrap();
    let manifest = current.trim_end().to_owned();
    let mbytes = std::fs::read(seed.join(&manifest)).unwrap();
    let mut reader = journal::Reader::new(&mbytes[..], journal::Recovery::Strict);
    let mut starts = Vec::new();
    while reader.next_record().unwrap().is_some() {
        starts.push((reader.record_offset(), reader.offset()));
    }
    let mut meta_case = |what: &str, damage: Box<dyn Fn(&Path)>| {
        cases.push(Case {
            what: what.to_owned(),
            damaged: None,
            touches: Touches::Nothing,
            damage,
        })
    };
    for (which, &(start, end)) in [
        ("first", &starts[0]),
        ("middle", &starts[starts.len() / 2]),
        ("last", &starts[starts.len() - 1]),
    ] {
        let m = manifest.clone();
        meta_case(
            &format!("manifest: {which} record flipped"),
            Box::new(move |d| flip(&d.join(&m), (start + end) / 2)),
        );
        let m = manifest.clone();
        meta_case(
            &format!("manifest: cut in its {which} record"),
            Box::new(move |d| {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(d.join(&m))
                    .unwrap();
                f.set_len((start + end) / 2).unwrap();
            }),
        );
    }
    let m = manifest.clone();
    meta_case(
        "manifest: zero length",
        Box::new(move |d| std::fs::write(d.join(&m), b"").unwrap()),
    );
    let m = manifest.clone();
    meta_case(
        "manifest: garbage appended",
        Box::new(move |d| {
            let mut bytes = std::fs::read(d.join(&m)).unwrap();
            bytes.extend_from_slice(&[0xa5; 300]);
            std::fs::write(d.join(&m), bytes).unwrap();
        }),
    );
    for (what, contents) in [
        ("CURRENT: empty", Some(&b""[..])),
        ("CURRENT: garbage", Some(&b"\x00\xffMANIFEST"[..])),
        ("CURRENT: no newline", None),
        (
            "CURRENT: names a missing manifest",
            Some(&b"MANIFEST-999999\n"[..]),
        ),
    ] {
        let m = manifest.clone();
        meta_case(
            what,
            Box::new(move |d| {
                let bytes = contents.map_or_else(|| m.clone().into_bytes(), <[u8]>::to_vec);
                std::fs::write(d.join("CURRENT"), bytes).unwrap();
            }),
        );
    }
    meta_case(
        "CURRENT: missing",
        Box::new(|d| std::fs::remove_file(d.join("CURRENT")).unwrap()),
    );
    // A journal with records: one flipped byte in its middle.
    let journal = std::fs::read_dir(seed)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension() == Some("log".as_ref()))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let jlen = std::fs::metadata(&journal).unwrap().len();
    if jlen > 100 {
        let name = journal.file_name().unwrap().to_owned();
        let n = name.clone();
        cases.push(Case {
            what: format!("journal {}: a record flipped", name.to_string_lossy()),
            damaged: Some(PathBuf::from(&name)),
            touches: Touches::Anything,
            damage: Box::new(move |d| flip(&d.join(&n), jlen / 2)),
        });
    }
    cases
}

/// The repair oracle's binary, if libleveldb-dev is there.
fn leveldb_repair() -> Option<&'static Path> {
    static BIN: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let bin = common::leveldb_program(
            "repair/leveldb_repair.c",
            dir.path(),
            "the LevelDB RepairDB comparison",
        )?;
        Some((dir, bin))
    })
    .as_ref()
    .map(|(_, bin)| bin.as_path())
}

/// What LevelDB's `RepairDB` salvages from a copy of `dir`.
fn leveldb_salvages(bin: &Path, dir: &Path) -> Option<BTreeMap<Vec<u8>, Vec<u8>>> {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir, copy.path());
    let out = Command::new(bin).arg(copy.path()).output().unwrap();
    if !out.status.success() {
        eprintln!(
            "    LevelDB RepairDB failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    Some(pairs(&out.stdout))
}

/// The oracle's output: a key and a value in hex on each line.
fn pairs(stdout: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|line| {
            let (k, v) = line.split_once('\t').unwrap();
            (common::unhex(k), common::unhex(v))
        })
        .collect()
}

fn contents(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = Db::open(dir, Options::default()).unwrap();
    let all = db.iter().map(|r| r.unwrap()).collect();
    db.close().unwrap();
    all
}

#[test]
fn repair_salvages_every_readable_record_and_no_stale_one() {
    let _serial = serial();
    let (seed_dir, model) = seed();
    let seed = seed_dir.path();
    let cases = cases(seed);
    let oracle = leveldb_repair();
    eprintln!(
        "{:<58} {:>8} {:>8} {:>8}  check before",
        "case", "ours", "leveldb", "newest"
    );
    let (mut ours_total, mut theirs_total) = (0, 0);
    for case in &cases {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("db");
        copy_dir(seed, &dir);
        (case.damage)(&dir);
        let damaged_bytes = case
            .damaged
            .as_ref()
            .and_then(|name| std::fs::read(dir.join(name)).ok());
        let ctx = &case.what;

        // Before: a typed answer, and nothing changed.
        let before = list_bytes(&dir);
        let checked = match Db::check(&dir, &Options::default()) {
            Ok(_) => "ok".to_owned(),
            Err(e) => {
                // A typed error naming the damaged file (or, for the
                // manifest and `CURRENT`, one of the two).
                let tributary::Error::Corruption { path, .. } = &e else {
                    panic!("{ctx}: check: {e}");
                };
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                match &case.damaged {
                    Some(damaged) if !matches!(case.touches, Touches::Anything) => {
                        assert_eq!(Path::new(&name), damaged, "{ctx}: check names {name}")
                    }
                    _ if matches!(case.touches, Touches::Nothing) => assert!(
                        name == "CURRENT" || name.starts_with("MANIFEST-"),
                        "{ctx}: check names {name}"
                    ),
                    _ => assert!(
                        name.ends_with(".ldb") || name.ends_with(".log"),
                        "{ctx}: check names {name}"
                    ),
                }
                format!("{e}").chars().take(60).collect()
            }
        };
        assert!(list_bytes(&dir) == before, "{ctx}: check changed files");
        let theirs = oracle.and_then(|bin| leveldb_salvages(bin, &dir));

        let report = Db::repair(&dir, &Options::default())
            .unwrap_or_else(|e| panic!("{ctx}: repair failed: {e}"));
        let ours = contents(&dir);

        // No fabricated value, and the newest wherever the damage cannot
        // have reached.
        let mut newest = 0;
        for (k, state) in &model.newest {
            let got = ours.get(k);
            if let Some(v) = got {
                assert!(
                    model.written[k].contains(v),
                    "{ctx}: {k:?} reads a value never written"
                );
            }
            let untouched = match &case.touches {
                Touches::Nothing => true,
                Touches::Anything => false,
                Touches::Table { from, to } => k < from || k > to,
            };
            if untouched {
                assert_eq!(got, state.as_ref(), "{ctx}: {k:?} is not its newest state");
            }
            if got.is_some() && got == state.as_ref() {
                newest += 1;
            }
        }
        assert!(
            ours.keys().all(|k| model.newest.contains_key(k)),
            "{ctx}: a key never written"
        );

        // Nothing destroyed: the damaged file is kept whole.
        if let Some(bytes) = damaged_bytes.filter(|b| !b.is_empty()) {
            let kept = list_bytes(&dir.join("lost"));
            assert!(
                kept.values().any(|b| *b == bytes),
                "{ctx}: the damaged file is not kept whole in lost/ ({report})"
            );
        }

        // The same again.
        Db::repair(&dir, &Options::default()).unwrap();
        assert!(
            contents(&dir) == ours,
            "{ctx}: a second repair reads differently"
        );

        // At least what LevelDB's RepairDB salvages, never older.
        let theirs_count = match &theirs {
            None => "-".to_owned(),
            Some(theirs) => {
                for (k, v) in theirs {
                    if !model.written.get(k).is_some_and(|w| w.contains(v)) {
                        continue; // LevelDB reads without checksums
                    }
                    let Some(mine) = ours.get(k) else {
                        // Where the newest version is a delete, LevelDB
                        // lost it and brought an older value back.
                        assert!(
                            model.newest[k].is_none(),
                            "{ctx}: LevelDB salvaged {k:?}, the repair did not:\n{report}"
                        );
                        continue;
                    };
                    assert!(
                        round_of(mine) >= round_of(v),
                        "{ctx}: {k:?} is older than LevelDB's"
                    );
                    if Some(v) == model.newest[k].as_ref() {
                        assert_eq!(mine, v, "{ctx}: LevelDB found the newest of {k:?}");
                    }
                }
                theirs_total += theirs.len();
                theirs.len().to_string()
            }
        };
        ours_total += ours.len();
        eprintln!(
            "{ctx:<58} {:>8} {theirs_count:>8} {newest:>8}  {checked}",
            ours.len()
        );
    }
    let live = model.newest.values().filter(|v| v.is_some()).count();
    eprintln!(
        "{} cases over {live} live keys: the repair kept {ours_total} keys in all, LevelDB's RepairDB {theirs_total}",
        cases.len()
    );
}

/// Every file under `dir` with its bytes (`LOCK` left out).
fn list_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return all;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(list_bytes(&path));
        } else if path.file_name() != Some("LOCK".as_ref()) {
            all.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    all
}

/// A directory LevelDB's `RepairDB` left (its manifest, its tables, all in
/// level 0) opens, and repairs, into a database that reads what LevelDB
/// reads.
#[test]
fn repair_accepts_what_leveldb_repair_db_left() {
    let _serial = serial();
    let Some(bin) = leveldb_repair() else { return };
    let (seed_dir, model) = seed();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("db");
    copy_dir(seed_dir.path(), &dir);
    // LevelDB repairs it in place and reads it back.
    let out = Command::new(bin).arg(&dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = pairs(&out.stdout);
    let live: BTreeMap<Vec<u8>, Vec<u8>> = model
        .newest
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
        .collect();
    assert_eq!(theirs, live, "LevelDB's own repair of an intact database");
    // Its manifest is LevelDB's (the tables in a record before the
    // counters): an open reads it in place, converting it, and a repair
    // of the converted directory reads the same.
    assert_eq!(contents(&dir), live);
    Db::repair(&dir, &Options::default()).unwrap();
    assert_eq!(contents(&dir), live);
}

/// One flipped bit anywhere in a table or a journal (a data block, the
/// index, the filter, the metaindex, a checksum, the footer; a chunk's
/// data, type, length or checksum) is undone exactly: the repair reads
/// every key's newest state, as if nothing had happened.
#[test]
fn one_flipped_bit_anywhere_loses_nothing() {
    let _serial = serial();
    let (seed_dir, model) = seed();
    let seed = seed_dir.path();
    let live: BTreeMap<Vec<u8>, Vec<u8>> = model
        .newest
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
        .collect();
    let catalog = catalog(seed);
    let table = catalog.levels[0].values().next().expect("a level-0 table");
    let table = format!("{:06}.ldb", table.number);
    let journal = std::fs::read_dir(seed)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension() == Some("log".as_ref()))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let journal = journal.file_name().unwrap().to_string_lossy().into_owned();
    let mut flips = Vec::new();
    for name in [&table, &journal] {
        let len = std::fs::metadata(seed.join(name)).unwrap().len();
        // A spread over the file, and every byte of its last 64 (the
        // footer and the index's trailer) and its first 8 (a header).
        let spread = (0..len).step_by(331);
        let ends = (len.saturating_sub(64)..len).chain(0..8.min(len));
        for at in spread.chain(ends) {
            flips.push((name.clone(), at));
        }
    }
    for (name, at) in &flips {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("db");
        copy_dir(seed, &dir);
        let path = dir.join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[*at as usize] ^= 1 << (at % 8);
        std::fs::write(&path, &bytes).unwrap();
        let report = Db::repair(&dir, &Options::default()).unwrap();
        let got = contents(&dir);
        assert!(
            got == live,
            "{name}, bit {} of byte {at} flipped: {} keys where {} were written\n{report}",
            at % 8,
            got.len(),
            live.len()
        );
    }
    eprintln!("{} single flipped bits, each undone", flips.len());
}

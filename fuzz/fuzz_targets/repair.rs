//! Fuzz target: [`Db::repair`] over a damaged database directory.
//!
//! A small database is built once on a `FaultFs`: tables at level 0 and
//! at a deeper level, a manifest, and a journal holding records, with a
//! model of every value ever written to each key (every value is unique:
//! it starts with the number of its write). Each input is a list of
//! mutations of that directory's files (flip a byte, truncate, zero a
//! range, delete, append, copy under another number), applied to a fresh
//! snapshot of it. Then:
//!
//! - the repair must never panic or hang (an error is fine);
//! - if it succeeds, the database must open, read whole, and hold only
//!   values that were written to their key (nothing fabricated), as many
//!   keys as the report says;
//! - with no mutation, it must hold exactly what was written last;
//! - a second repair must succeed, find nothing damaged, and leave the
//!   same contents (repair is idempotent).
//!
//! Input layout: groups of [`MUTATION_LEN`] bytes, at most
//! [`MAX_MUTATIONS`] of them: a byte whose low 3 bits are the operation
//! and high 5 bits the file (an index among the directory's files,
//! sorted by path), a 16-bit little-endian offset (scaled over a file
//! longer than 64 KiB), and a byte of argument (a bit mask, or a length).
//!
//! The seed is the same in every run (its flushes wait for nothing but
//! themselves, and its manifest is rewritten without the journal sync
//! marks whose timing varies), so a crash reproduces. Its files, by
//! index: 0 `000006.ldb`, 1 `000007.ldb` (level 1), 2 `000009.ldb`, 4
//! `000011.ldb` (level 0), 3 `000010.log` (100 writes), 5 `CURRENT`, 6
//! `LOCK`, 7 `MANIFEST-000002`; `fuzz/seeds/repair` starts from them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tributary::fs::{FaultFs, Fs, SyncWrite};
use tributary::version::{Field, Record};
use tributary::{Db, Options};

/// Bytes of input per mutation.
const MUTATION_LEN: usize = 4;
/// Mutations applied at most; the rest of the input is ignored.
const MAX_MUTATIONS: usize = 6;
/// Distinct keys of the seed workload.
const KEYS: u64 = 300;

/// The database directory on the seed file system.
fn dir() -> &'static Path {
    Path::new("/db")
}

/// Small buffers and tables, so that a thousand writes make several tables
/// on more than one level.
fn options(fs: &FaultFs) -> Options {
    // Small tables, so that even compressed (Snappy, the default) the
    // compacted level holds several.
    Options {
        write_buffer_size: 64 << 10,
        table_file_size: 4 << 10,
        level1_size: 128 << 10,
        fs: Arc::new(fs.clone()),
        ..Options::default()
    }
}

/// The seed database, closed, and what was written to it.
struct Seed {
    fs: FaultFs,
    /// Every value ever written, by key.
    written: HashMap<Vec<u8>, HashSet<Vec<u8>>>,
    /// What the database holds: the last write of each key.
    last: BTreeMap<Vec<u8>, Vec<u8>>,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Waits until a flush started by a rotation is over, so that the flush
/// (and the file numbers it takes) never races the writes that follow:
/// the seed is the same in every run, and a crash reproduces.
fn settle(db: &Db) {
    if db.stats().frozen_memtables == 0 {
        return;
    }
    let start = std::time::Instant::now();
    while db.stats().frozen_memtables > 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "seed: a flush never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // `stats` takes the version set, which the flush holds to its end
    // (the obsolete journals deleted).
    db.stats();
}

fn build_seed() -> Seed {
    let fs = FaultFs::new();
    let db = Db::open(dir(), options(&fs)).expect("seed: open");
    // Leveled compactions run in the background at times of their own;
    // with them paused, the tables are what this function decides.
    db.pause_compaction(true);
    let mut seed = Seed {
        fs: fs.clone(),
        written: HashMap::new(),
        last: BTreeMap::new(),
    };
    let mut rng = 0x7269_7665_725f_7265u64;
    let mut counter = 0u64;
    let mut write = |db: &Db, n: usize| {
        for _ in 0..n {
            let key = format!("key{:04}", splitmix64(&mut rng) % KEYS).into_bytes();
            if splitmix64(&mut rng).is_multiple_of(6) {
                db.delete(&key).expect("seed: delete");
                seed.last.remove(&key);
            } else {
                counter += 1;
                let len = 32 + (splitmix64(&mut rng) % 128) as usize;
                let fill = b'a' + (splitmix64(&mut rng) % 26) as u8;
                let mut value = format!("{counter:05}:").into_bytes();
                value.resize(len, fill);
                db.put(&key, &value).expect("seed: put");
                seed.written
                    .entry(key.clone())
                    .or_default()
                    .insert(value.clone());
                seed.last.insert(key, value);
            }
            settle(db);
        }
    };
    // A flush of the memtable to a level-0 table, now: a compaction of a
    // range no table meets.
    let flush = |db: &Db| {
        db.compact_range(Some(b"\xff"), Some(b"\xff"))
            .expect("seed: flush");
    };
    // The first writes compacted into one deeper level, two flushes to
    // level 0 on top (overwrites and deletes of it), and the last writes
    // only in the journal.
    write(&db, 500);
    db.compact().expect("seed: compact");
    write(&db, 200);
    flush(&db);
    write(&db, 200);
    flush(&db);
    write(&db, 100);
    let stats = db.stats();
    let l0 = stats.files_per_level[0];
    let deeper = stats.files_per_level[1..].iter().sum::<usize>();
    assert!(
        l0 >= 2 && deeper >= 2 && stats.memtable_entries > 0,
        "seed: not the layout wanted: {:?} tables per level, {} entries in the memtable",
        stats.files_per_level,
        stats.memtable_entries
    );
    db.close().expect("seed: close");
    without_sync_marks(&fs);
    Db::check(dir(), &options(&fs)).expect("seed: check");
    seed
}

/// Rewrites the manifest without its `JournalSynced` fields (and the edits
/// left empty): when the background synced a closed journal, before or
/// after the flush that recorded the journals synced so far, is a matter of
/// timing, and the seed must be the same in every run. They only let an
/// open verify journals; a repair does not read them.
fn without_sync_marks(fs: &FaultFs) {
    let path = fs
        .files_under(dir())
        .into_keys()
        .find(|p| p.to_string_lossy().contains("MANIFEST-"))
        .expect("seed: a manifest");
    let bytes = fs.contents(&path).expect("seed: read the manifest");
    let mut reader = journal::Reader::new(&bytes[..], journal::Recovery::Strict);
    let mut records = Vec::new();
    while let Some(record) = reader.next_record().expect("seed: the manifest reads") {
        match Record::decode(record).expect("seed: a manifest record") {
            Record::Edit(mut fields) => {
                fields.retain(|f| !matches!(f, Field::JournalSynced { .. }));
                if !fields.is_empty() {
                    records.push(Record::Edit(fields).encode());
                }
            }
            header => records.push(header.encode()),
        }
    }
    fs.remove(&path).expect("seed: remove the manifest");
    let mut writer = journal::Writer::new(fs.create(&path).expect("seed: a manifest"));
    for record in &records {
        writer.append(record).expect("seed: write the manifest");
    }
    writer.sync().expect("seed: sync the manifest");
}

fn seed() -> &'static Seed {
    static SEED: OnceLock<Seed> = OnceLock::new();
    SEED.get_or_init(build_seed)
}

/// The same kind of file as `path`, under another number.
fn other_name(path: &Path, n: usize) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let number = 900_000 + n;
    let new = if name.starts_with("MANIFEST-") {
        format!("MANIFEST-{number:06}")
    } else if let Some((_, ext)) = name.split_once('.') {
        format!("{number:06}.{ext}")
    } else {
        format!("{name}.{number}")
    };
    path.with_file_name(new)
}

/// Replaces `path` with a new file holding `bytes`.
fn rewrite(fs: &FaultFs, path: &Path, bytes: &[u8]) {
    let _ = fs.remove(path);
    let mut file = fs.create(path).expect("create a file");
    file.write_all(bytes).expect("write a file");
    file.sync_data().expect("sync a file");
}

/// Applies one mutation (see the module docs) to a file of `fs`.
fn mutate(fs: &FaultFs, m: &[u8], n: usize) {
    let files: Vec<PathBuf> = fs.files_under(dir()).into_keys().collect();
    if files.is_empty() {
        return;
    }
    let path = &files[(m[0] >> 3) as usize % files.len()];
    let at = u16::from_le_bytes([m[1], m[2]]) as usize;
    let arg = m[3] as usize;
    let bytes = fs.contents(path).unwrap_or_default();
    let len = bytes.len();
    // Every byte of a file up to 64 KiB, and spread over a longer one.
    let offset = if len > 1 << 16 { (at * len) >> 16 } else { at };
    // Eight operations for six: flips and cuts, the commonest damage,
    // twice as often.
    match (m[0] & 7) % 6 {
        // Flip bits of one byte.
        0 if len > 0 => {
            let mask = (arg as u8).max(1);
            fs.corrupt_byte(path, offset % len, |b| b ^ mask);
        }
        // Cut the file short.
        1 => {
            fs.set_len(path, offset % (len + 1));
        }
        // Zero a range.
        2 if len > 0 => {
            let start = offset % len;
            let end = (start + 1 + arg * 4).min(len);
            for i in start..end {
                fs.corrupt_byte(path, i, |_| 0);
            }
        }
        // Delete the file.
        3 => {
            let _ = fs.remove(path);
        }
        // Append zeros, garbage, or a copy of the file's own start.
        4 => {
            let extra = 1 + arg * 2;
            let mut grown = bytes.clone();
            match offset % 3 {
                0 => grown.resize(len + extra, 0),
                1 => {
                    let mut state = offset as u64;
                    grown.extend((0..extra).map(|_| splitmix64(&mut state) as u8));
                }
                _ => grown.extend_from_slice(&bytes[..extra.min(len)]),
            }
            rewrite(fs, path, &grown);
        }
        // Copy the file under another number: the same entries twice.
        5 => {
            let to = other_name(path, n);
            if !fs.exists(&to) {
                rewrite(fs, &to, &bytes);
            }
        }
        _ => {}
    }
}

/// Every key and value of the database in `dir`, read whole: opened for
/// writing (what a user does after a repair), or read-only (cheaper, and
/// enough to compare contents).
fn contents(fs: &FaultFs, writable: bool, what: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let opened = if writable {
        Db::open(dir(), options(fs))
    } else {
        Db::open_read_only(dir(), options(fs))
    };
    let db = opened.unwrap_or_else(|e| panic!("the database does not open after {what}: {e}"));
    let read: BTreeMap<Vec<u8>, Vec<u8>> = db
        .iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("the database does not read after {what}: {e}"));
    db.close()
        .unwrap_or_else(|e| panic!("the database does not close after {what}: {e}"));
    read
}

fuzz_target!(|data: &[u8]| {
    let seed = seed();
    let fs = seed.fs.snapshot();
    let mutations: Vec<&[u8]> = data
        .chunks_exact(MUTATION_LEN)
        .take(MAX_MUTATIONS)
        .collect();
    for (n, m) in mutations.iter().enumerate() {
        mutate(&fs, m, n);
    }

    let Ok(report) = Db::repair(dir(), &options(&fs)) else {
        return;
    };
    let repaired = contents(&fs, true, "a repair");
    for (key, value) in &repaired {
        assert!(
            seed.written.get(key).is_some_and(|v| v.contains(value)),
            "fabricated: key {:?} has value {:?}, never written to it\n{report}",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(value),
        );
    }
    assert_eq!(
        report.keys,
        repaired.len() as u64,
        "the report's key count is not what the database holds\n{report}"
    );
    if mutations.is_empty() {
        assert!(
            repaired == seed.last,
            "a repair of an undamaged database changed it: {} keys, {} written\n{report}",
            repaired.len(),
            seed.last.len()
        );
    }

    let again = Db::repair(dir(), &options(&fs))
        .unwrap_or_else(|e| panic!("a second repair fails: {e}\nfirst: {report}"));
    for s in again.tables.iter().chain(&again.journals) {
        assert!(
            s.damage.is_none(),
            "a second repair finds {} damaged: {:?}\nfirst: {report}\nsecond: {again}",
            s.path.display(),
            s.damage
        );
    }
    let twice = contents(&fs, false, "a second repair");
    assert!(
        twice == repaired,
        "a second repair changed the contents: {} keys, then {}\nfirst: {report}\nsecond: {again}",
        repaired.len(),
        twice.len()
    );
});

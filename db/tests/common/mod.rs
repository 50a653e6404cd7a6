//! Shared pieces of the database tests: a seeded workload and the oracle.

#![allow(dead_code)] // Each test binary uses a different part.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tributary::fs::FaultFs;
use tributary::{Batch, Db, Options, Record, SeqNum};

/// splitmix64, for seeded workloads.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Options over a fault file system with a small write buffer, so that a
/// short workload rotates through several journals.
///
/// Tables and levels are small beside the write buffer (tables of a
/// quarter of it, level 1 of twice it), so that a few flushes make
/// leveled compactions through several levels.
pub fn options(fs: &FaultFs, write_buffer_size: usize) -> Options {
    Options {
        write_buffer_size,
        table_file_size: (write_buffer_size / 4) as u64,
        level1_size: (write_buffer_size * 2) as u64,
        fs: Arc::new(fs.clone()),
        ..Options::default()
    }
}

/// A seeded batch of 1 to 4 puts and deletes over `n_keys` keys.
pub fn random_batch(rng: &mut u64, n_keys: u64, max_value: usize) -> Batch {
    let mut b = Batch::new();
    let n = 1 + splitmix64(rng) % 4;
    for _ in 0..n {
        let key = format!("key{:05}", splitmix64(rng) % n_keys);
        if splitmix64(rng).is_multiple_of(5) {
            b.delete(key.as_bytes());
        } else {
            let len = (splitmix64(rng) as usize) % max_value;
            let fill = (splitmix64(rng) % 26) as u8 + b'a';
            b.put(key.as_bytes(), vec![fill; len]);
        }
    }
    b
}

/// One acknowledged write.
#[derive(Debug, Clone)]
pub struct Ack {
    pub seq: SeqNum,
    pub batch: Batch,
    pub sync: bool,
    /// The file system's mutation count when the write returned: a crash at
    /// or after this point comes after the acknowledgement.
    pub at_mutation: u64,
}

/// The history of acknowledged writes, by sequence number.
pub struct Oracle {
    /// Acks sorted by sequence number; the sequence numbers are dense.
    pub acks: Vec<Ack>,
}

impl Oracle {
    pub fn new(mut acks: Vec<Ack>) -> Oracle {
        acks.sort_by_key(|a| a.seq);
        let mut next = 1;
        for a in &acks {
            assert_eq!(a.seq.0, next, "acknowledged sequence numbers are dense");
            next += a.batch.len() as u64;
        }
        Oracle { acks }
    }

    /// The last sequence number of each batch, in order.
    pub fn boundaries(&self) -> Vec<u64> {
        self.acks
            .iter()
            .map(|a| a.seq.0 + a.batch.len() as u64 - 1)
            .collect()
    }

    /// The state after every batch ending at or below `last_seq`.
    pub fn state_at(&self, last_seq: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut state = BTreeMap::new();
        for a in &self.acks {
            if a.seq.0 > last_seq {
                break;
            }
            apply(&mut state, &a.batch);
        }
        state
    }

    /// The highest sequence number acknowledged with sync before a crash at
    /// mutation `crash_at` (everything done strictly before it survives).
    pub fn synced_before(&self, crash_at: u64) -> u64 {
        self.acks
            .iter()
            .filter(|a| a.sync && a.at_mutation <= crash_at)
            .map(|a| a.seq.0 + a.batch.len() as u64 - 1)
            .max()
            .unwrap_or(0)
    }
}

pub fn apply(state: &mut BTreeMap<Vec<u8>, Vec<u8>>, batch: &Batch) {
    for r in batch.records() {
        match r {
            Record::Put { key, value } => {
                state.insert(key.to_vec(), value.to_vec());
            }
            Record::Delete { key } => {
                state.remove(key);
            }
        }
    }
}

/// Everything in the database, by a full scan.
pub fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.iter().collect::<Result<_, _>>().unwrap()
}

/// Bytes from hex digits; whitespace separates fields for reading.
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The directory all fault-file-system tests use.
pub fn dir() -> &'static Path {
    Path::new("/db")
}

/// A database of several journals on a [`FaultFs`], with the history it
/// holds: what the damage tests break and check against.
pub struct History {
    /// The file system, closed cleanly.
    pub fs: FaultFs,
    /// Every write, acknowledged.
    pub oracle: Oracle,
    /// The journals, oldest first, with the records each holds.
    pub journals: Vec<JournalLayout>,
    /// The write buffer the database was built with.
    pub write_buffer: usize,
}

/// Where the records of one journal are.
#[derive(Debug, Clone)]
pub struct JournalLayout {
    pub path: std::path::PathBuf,
    pub number: u64,
    pub len: usize,
    pub records: Vec<RecordLayout>,
}

/// One record (a batch) of a journal.
#[derive(Debug, Clone, Copy)]
pub struct RecordLayout {
    /// Offset of its first chunk header.
    pub start: usize,
    /// Offset just past its last chunk.
    pub end: usize,
    /// Its batch's last sequence number.
    pub last_seq: u64,
}

/// Writes `batches` seeded batches of values up to `max_value` bytes into a
/// new database with a 64 KiB write buffer, synced or not, one writer, and
/// leaves it as a directory of journals only: the layout of a database
/// written before tables existed, whose journals recovery reads on their
/// own (no manifest tracks them). Table creation is refused while it is
/// written, so every memtable stays in its journals; then the manifest and
/// `CURRENT` are removed.
pub fn build_history(batches: u64, max_value: usize, synced: bool, seed: u64) -> History {
    let fs = FaultFs::new();
    fs.refuse_creating(Some(".ldb"));
    let write_buffer = 64 << 10;
    let db = Db::open(dir(), options(&fs, write_buffer)).unwrap();
    let mut rng = seed;
    let mut acks = Vec::new();
    for _ in 0..batches {
        let batch = random_batch(&mut rng, 400, max_value);
        let seq = db
            .write(
                &batch,
                &tributary::WriteOptions {
                    sync: synced,
                    merge: true,
                },
            )
            .unwrap();
        acks.push(Ack {
            seq,
            batch,
            sync: synced,
            at_mutation: 0,
        });
    }
    db.close().unwrap();
    fs.refuse_creating(None);
    without_manifest(&fs);
    let journals = layout(&fs);
    History {
        fs,
        oracle: Oracle::new(acks),
        journals,
        write_buffer,
    }
}

/// Removes the manifest and `CURRENT` from [`dir`]: the directory of
/// journals only that a database wrote before tables existed.
pub fn without_manifest(fs: &FaultFs) {
    for name in tributary::fs::Fs::list(fs, dir()).unwrap() {
        if name == "CURRENT" || name.starts_with("MANIFEST-") {
            tributary::fs::Fs::remove(fs, &dir().join(name)).unwrap();
        }
    }
}

/// The journals of the database in [`dir`] and the records each holds.
pub fn layout(fs: &FaultFs) -> Vec<JournalLayout> {
    let mut names: Vec<String> = tributary::fs::Fs::list(fs, dir())
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let path = dir().join(&name);
            let bytes = fs.contents(&path).unwrap();
            let mut reader = journal::Reader::new(&bytes[..], journal::Recovery::Strict);
            let mut records = Vec::new();
            while let Some(record) = reader.next_record().unwrap() {
                let batch = Batch::decode(record).unwrap();
                records.push(RecordLayout {
                    start: reader.record_offset() as usize,
                    end: reader.offset() as usize,
                    last_seq: batch.seq().0 + batch.len() as u64 - 1,
                });
            }
            JournalLayout {
                number: name.trim_end_matches(".log").parse().unwrap(),
                path,
                len: bytes.len(),
                records,
            }
        })
        .collect()
}

impl History {
    /// The last sequence number of the journals before `k` (0 if none).
    pub fn last_before(&self, k: usize) -> u64 {
        self.journals[..k]
            .iter()
            .flat_map(|j| j.records.last())
            .map(|r| r.last_seq)
            .next_back()
            .unwrap_or(0)
    }

    /// The last sequence number of the whole history.
    pub fn last(&self) -> u64 {
        self.last_before(self.journals.len())
    }

    /// Whether a journal after `k` holds a record.
    pub fn records_after(&self, k: usize) -> bool {
        self.journals[k + 1..].iter().any(|j| !j.records.is_empty())
    }
}

/// Everything in the database directory, `lost/` included, by path.
pub fn files(fs: &FaultFs) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    fs.files_under(dir())
}

/// Panics unless every file of `before` is still present, byte for byte,
/// under some name in `after`: nothing was destroyed. Two exceptions:
/// zeros after a file's last non-zero byte, the unwritten part of a
/// zero-filled journal, which recovery may cut; and a journal that reads
/// whole, record after record to its last written byte, which a writer
/// deletes once its records are flushed to tables (the tests check those
/// records are in the database).
pub fn assert_nothing_destroyed(
    before: &BTreeMap<std::path::PathBuf, Vec<u8>>,
    after: &BTreeMap<std::path::PathBuf, Vec<u8>>,
    ctx: &str,
) {
    let written = |bytes: &[u8]| -> Vec<u8> {
        let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        bytes[..end].to_vec()
    };
    let kept: std::collections::HashSet<Vec<u8>> = after.values().map(|b| written(b)).collect();
    for (path, bytes) in before {
        let flushed_journal = !after.contains_key(path)
            && path.extension().is_some_and(|e| e == "log")
            && reads_whole(bytes);
        assert!(
            flushed_journal || kept.contains(&written(bytes)),
            "{ctx}: the {} bytes of {} are in no file after the open",
            bytes.len(),
            path.display()
        );
    }
}

/// Whether `bytes` are journal records, every one whole and a batch, then
/// only zeros: a journal with nothing recovery could not use.
fn reads_whole(bytes: &[u8]) -> bool {
    let mut reader = journal::Reader::new(bytes, journal::Recovery::Strict);
    loop {
        match reader.next_record() {
            Ok(Some(record)) if Batch::decode(record).is_ok() => {}
            Ok(None) => {
                let end = reader.offset() as usize;
                return bytes[end.min(bytes.len())..].iter().all(|&b| b == 0);
            }
            _ => return false,
        }
    }
}

/// Every state a crash can leave while `history` (mutations recorded over
/// `base`) runs: after the first `point` mutations, for each `point` that
/// is a multiple of `stride` and for the last, in every D1 mode
/// ([`crash_modes`]), `check(point, mode, crashed)`. Returns the states
/// checked.
pub fn for_each_crash_state(
    base: &FaultFs,
    history: &[tributary::fs::Mutation],
    stride: usize,
    mut check: impl FnMut(usize, tributary::fs::CrashMode, &FaultFs),
) -> u64 {
    let mut states = 0;
    for_each_crash_point(base, history, stride, |_, point, model| {
        for mode in crash_modes(point) {
            check(point, mode, &model.crash(mode));
            states += 1;
        }
    });
    states
}

/// As [`for_each_crash_state`], with the crash points dealt out over
/// `threads` threads, each replaying the history on its own copy of
/// `base`: for D1, whose tens of thousands of opens would otherwise keep
/// one core busy while the other idles. `check` runs on several threads at
/// once; a panic in one reaches the caller once every thread is done.
pub fn for_each_crash_state_parallel(
    base: &FaultFs,
    history: &[tributary::fs::Mutation],
    stride: usize,
    threads: usize,
    check: impl Fn(usize, tributary::fs::CrashMode, &FaultFs) + Sync,
) -> u64 {
    let check = &check;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    let mut states = 0;
                    for_each_crash_point(base, history, stride, |nth, point, model| {
                        if nth % threads != thread {
                            return;
                        }
                        for mode in crash_modes(point) {
                            check(point, mode, &model.crash(mode));
                            states += 1;
                        }
                    });
                    states
                })
            })
            .collect();
        let mut states = 0;
        let mut panic = None;
        for worker in workers {
            match worker.join() {
                Ok(n) => states += n,
                Err(payload) => panic = panic.or(Some(payload)),
            }
        }
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
        states
    })
}

/// The crash points of `history` over `base` that the two functions above
/// check, each a multiple of `stride`, and the last: `visit(nth, point,
/// model)` with `nth` counting them from 0 and `model` the file system
/// after the first `point` mutations, replayed on a copy of `base`.
fn for_each_crash_point(
    base: &FaultFs,
    history: &[tributary::fs::Mutation],
    stride: usize,
    mut visit: impl FnMut(usize, usize, &FaultFs),
) {
    let model = base.snapshot();
    let mut nth = 0;
    for point in 0..=history.len() {
        if point > 0 {
            model.apply(&history[point - 1]);
        }
        if point % stride != 0 && point != history.len() {
            continue;
        }
        visit(nth, point, &model);
        nth += 1;
    }
}

/// The crash modes of D1 for crash point `point`: synced-only, random
/// blocks kept at 25, 50 and 75%, torn appends, and unsynced names lost.
pub fn crash_modes(point: usize) -> Vec<tributary::fs::CrashMode> {
    use tributary::fs::CrashMode;
    let seed = point as u64;
    vec![
        CrashMode::SyncedOnly,
        CrashMode::RandomBlocks {
            keep_percent: 25,
            seed,
        },
        CrashMode::RandomBlocks {
            keep_percent: 50,
            seed,
        },
        CrashMode::RandomBlocks {
            keep_percent: 50,
            seed: !seed,
        },
        CrashMode::RandomBlocks {
            keep_percent: 75,
            seed,
        },
        CrashMode::RandomBlocks {
            keep_percent: 75,
            seed: !seed,
        },
        CrashMode::TornAppend { seed },
        CrashMode::TornAppend { seed: !seed },
        CrashMode::TornAppend {
            seed: seed.rotate_left(17),
        },
        CrashMode::UnsyncedNames,
    ]
}

/// Long enough for any flush or compaction of a test's few tables on a
/// busy machine; a test that waits this long has failed.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Polls `done` until it holds, or panics saying `what` after
/// [`PATIENCE`]: for what the background does in its own time.
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Compiles the C program `source` (a path under `db/tests/`) against
/// libleveldb-dev into `out_dir`, returning the binary; `None` where
/// libleveldb-dev is missing, which CI never allows (`cargo xtask ci`
/// installs it). `what` says what is skipped without it.
pub fn leveldb_program(source: &str, out_dir: &Path, what: &str) -> Option<std::path::PathBuf> {
    if !Path::new("/usr/include/leveldb/c.h").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "libleveldb-dev is missing (cargo xtask ci installs it)"
        );
        eprintln!("skipped {what}: no libleveldb-dev");
        return None;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(source);
    let bin = out_dir.join(source.file_stem().expect("a file name"));
    let status = std::process::Command::new("cc")
        .arg(&source)
        .args(["-O1", "-o"])
        .arg(&bin)
        .arg("-lleveldb")
        .status()
        .unwrap();
    assert!(status.success(), "compiling {}", source.display());
    Some(bin)
}

/// Builds the Go program `source` (a path under `db/tests/`) against
/// Debian's goleveldb (`golang-github-syndtr-goleveldb-dev`, in GOPATH
/// mode) into `out_dir`, returning the binary; `None` where Go or goleveldb
/// is missing, which CI never allows (`cargo xtask ci` installs both).
/// `what` says what is skipped without them.
pub fn goleveldb_program(source: &str, out_dir: &Path, what: &str) -> Option<std::path::PathBuf> {
    const GOPATH: &str = "/usr/share/gocode";
    let have_go = std::process::Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_go
        || !Path::new(GOPATH)
            .join("src/github.com/syndtr/goleveldb")
            .exists()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "golang-go or golang-github-syndtr-goleveldb-dev is missing (cargo xtask ci installs them)"
        );
        eprintln!("skipped {what}: no Go or goleveldb");
        return None;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(source);
    let bin = out_dir.join(source.file_stem().expect("a file name"));
    let status = std::process::Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .arg(&source)
        .env("GOPATH", GOPATH)
        .env("GO111MODULE", "off")
        .env("GOCACHE", out_dir.join("gocache"))
        .env("GOFLAGS", "")
        .status()
        .unwrap();
    assert!(status.success(), "building {}", source.display());
    Some(bin)
}

/// The bytes a hex string spells.
pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

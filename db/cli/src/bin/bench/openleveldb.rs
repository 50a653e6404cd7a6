//! The `openleveldb` workload: how long Tributary takes to open a directory
//! that C++ LevelDB wrote, its conversion included, against LevelDB
//! reopening the same directory (the open cell of BENCH.md's "Settled, at
//! scale, compressed": Tributary must be no slower).
//!
//! 1. Untimed: C++ LevelDB with its defaults (Snappy, but for compression
//!    off without `--compressible`, as in every cell) fills `DIR/fill` as
//!    the `reopen` workload's prep does (`T*N` random puts by one thread,
//!    module `reopen`) and closes, leaving its last memtable in its log as
//!    it always does.
//! 2. That directory is copied to `DIR/leveldb` and `DIR/tributary`, each
//!    copy synced, and deleted: both opens then start alike, from files
//!    written by the same copy, clean and in the page cache.
//! 3. Timed, each in a fresh child as `reopen` times it: LevelDB reopens
//!    its copy, then Tributary opens the other (`Db::open` with its
//!    defaults, which converts LevelDB's manifest in place and reads its
//!    tables and log); each open is followed by a get of the fill's first
//!    key, which must be found.
//! 4. Untimed: Tributary's copy, opened again, must hold the fill's last
//!    key, which LevelDB left in its log, so a conversion that lost the
//!    newest writes cannot pass for a fast one.
//!
//! The line is Tributary's (`reopen_secs`, `open_secs`, its `RssAnon`) with
//! LevelDB's beside it (`leveldb_reopen_secs`, `leveldb_open_secs`,
//! `leveldb_rss_anon_kib`) and `reopen_vs_leveldb`, Tributary's reopen
//! over LevelDB's. The fill's fields (module `amp`) and `disk_bytes` are
//! LevelDB's fill's.

use crate::amp::{self, FillReport};
use crate::args::{EngineName, Spec};
use crate::engine::{Engine, Setup, Tributary};
use crate::ffi::LevelDb;
use crate::gen::{self, SplitMix64};
use crate::reopen;
use crate::report::{Outcome, ReopenReport};
use std::fs::File;
use std::path::Path;

/// The fill, the copies, the two timed opens, and the check.
pub fn run(spec: &Spec) -> Result<Outcome, String> {
    let fill_dir = spec.db.join("fill");
    let (fill, disk_bytes) = leveldb_fill(spec, &fill_dir)?;
    let leveldb_dir = spec.db.join("leveldb");
    let tributary_dir = spec.db.join("tributary");
    copy_synced(&fill_dir, &leveldb_dir)?;
    copy_synced(&fill_dir, &tributary_dir)?;
    std::fs::remove_dir_all(&fill_dir)
        .map_err(|e| format!("cannot remove {}: {e}", fill_dir.display()))?;

    let leveldb = reopen::spawn_child(&child_spec(spec, EngineName::LevelDb, &leveldb_dir))?;
    let tributary = ReopenReport {
        write_buffer: Tributary::write_buffer_size(),
        ..reopen::spawn_child(&child_spec(spec, EngineName::Tributary, &tributary_dir))?
    };
    check_last_key(spec, &tributary_dir)?;
    let reopen_ns = (tributary.reopen_secs * 1e9).round() as u64;
    Ok(Outcome {
        ops: 1,
        secs: tributary.reopen_secs,
        latencies_ns: vec![reopen_ns],
        fill: Some(fill),
        reopen: Some(tributary),
        leveldb_reopen: Some(leveldb),
        disk_bytes: Some(disk_bytes),
        ..Outcome::default()
    })
}

/// LevelDB's untimed fill of `dir`, closed; returns what it wrote and the
/// directory's bytes after the close.
fn leveldb_fill(spec: &Spec, dir: &Path) -> Result<(FillReport, u64), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let io_before = amp::io_wchar();
    let engine = LevelDb::open(dir, Setup::of(spec))?;
    let values = gen::values_for(spec.compressible);
    let written = reopen::fill(&engine, spec, &values)?;
    let shape = engine.shape();
    let io = amp::delta(io_before, amp::io_wchar());
    engine.close()?;
    let fill = FillReport::new(&written, shape, true, io);
    Ok((fill, amp::dir_bytes(dir)?))
}

/// The spec of a timed open by `engine` of `dir`, for `reopen`'s child.
fn child_spec(spec: &Spec, engine: EngineName, dir: &Path) -> Spec {
    Spec {
        db: dir.to_path_buf(),
        engine,
        ..spec.clone()
    }
}

/// Copies the files of `from` (LevelDB's directory is flat) into a new
/// directory `to`, then syncs each copy and `to` itself, so that neither
/// open pays for writing back the other's copy.
fn copy_synced(from: &Path, to: &Path) -> Result<(), String> {
    let fail = |what: &str, path: &Path, e: std::io::Error| {
        format!("cannot {what} {}: {e}", path.display())
    };
    std::fs::create_dir(to).map_err(|e| fail("create", to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| fail("read", from, e))? {
        let entry = entry.map_err(|e| fail("read", from, e))?;
        let kind = entry.file_type().map_err(|e| fail("read", from, e))?;
        if !kind.is_file() {
            return Err(format!(
                "{}: LevelDB's directory should hold only files",
                entry.path().display()
            ));
        }
        let dest = to.join(entry.file_name());
        std::fs::copy(entry.path(), &dest).map_err(|e| fail("copy to", &dest, e))?;
        File::open(&dest)
            .and_then(|f| f.sync_all())
            .map_err(|e| fail("sync", &dest, e))?;
    }
    File::open(to)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail("sync", to, e))
}

/// The key the fill wrote last: the last of `T*N` draws of `reopen`'s
/// stream.
fn last_key(spec: &Spec) -> Vec<u8> {
    let key_space = spec.key_space();
    let mut rng = SplitMix64::new(gen::RANDOM_KEY_SEED);
    let mut index = 0;
    for _ in 0..key_space {
        index = rng.below(key_space);
    }
    let mut key = vec![0u8; spec.key_size];
    gen::write_key(&mut key, index);
    key
}

/// Checks that Tributary, reopening its converted copy in `dir`, finds the
/// fill's last key.
fn check_last_key(spec: &Spec, dir: &Path) -> Result<(), String> {
    let key = last_key(spec);
    let engine = Tributary::open(dir, Setup::of(spec))?;
    let found = engine.get(&key)?;
    engine.close()?;
    if found {
        Ok(())
    } else {
        Err(format!(
            "key {}, which LevelDB wrote last, is missing from the converted directory",
            String::from_utf8_lossy(&key)
        ))
    }
}

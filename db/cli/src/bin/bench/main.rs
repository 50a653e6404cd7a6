//! `bench`: the db_bench-style benchmark binary of BENCH.md.
//!
//! ```text
//! bench --db DIR --workload W --threads T --num N
//!       [--value-size 100] [--key-size 16] [--sync] [--batch B]
//!       [--engine tributary|leveldb|rocksdb|fjall|device] [--big-batch MIB]
//!       [--duration SECS] [--prep-keys K] [--use-existing-db]
//!       [--reopen-after] [--settle-after] [--compressible]
//! ```
//!
//! It deletes and recreates `DIR`, runs one workload against one engine, and
//! prints ONE JSON line on stdout (the fields of BENCH.md, plus `key_size`,
//! `batch`, `cpu_pct`, `interval_ms` and `ops_per_interval`, the ops
//! finished in each whole 100 ms of the timed phase, sampled off the hot
//! path (module `driver`), and for Tributary the group-commit counters
//! `fsyncs`, `fsyncs_per_sec`, `groups`, `mean_group` and `max_group`).
//! `cargo xtask bench` drives it as a subprocess, once per run.
//!
//! Workloads (BENCH.md): `fillseq`, `fillrandom`, `fillsync` (every put
//! synced, whatever `--sync` says), `fillbatch` (`--batch B` records per
//! write, default 100), `readrandom`, and `reopen` (module `reopen`: an
//! untimed fill of `T*N` random keys by one thread, close, then a timed
//! open of the directory in a fresh child process, with its `RssAnon`).
//! Three more read what `readrandom`'s untimed prep wrote (module
//! `driver`): `readwhilewriting` (T threads of N random gets beside one
//! writer of random puts over the same keys at full speed until they are
//! done; `ops_per_sec` is the readers', `writer_ops` and
//! `writer_ops_per_sec` the writer's), `seekrandom` (each call seeks a new
//! iterator to a random key and reads the next 10 entries) and `readseq`
//! (each call reads the next entry in key order, from the first, wrapping).
//! `readrandom`, `readwhilewriting` and `seekrandom` print `hit_rate` (for
//! `seekrandom`: seeks whose first entry is the key sought).
//!
//! `--prep-keys K` makes the read workloads' prep write K random keys
//! instead of `T*N`, and their timed calls draw keys from `[0, K)`.
//! `--use-existing-db` (db_bench's `--use_existing_db`) keeps `DIR` and
//! skips the prep and settle of a read workload, reading what an earlier
//! run with the same `--prep-keys`, `--key-size` and `--value-size` left
//! there; `cargo xtask bench` uses it so that its read cells share one
//! prep per engine. `--reopen-after` ends `fillrandom` or `fillsync`, after
//! the close, with the `reopen` workload's timed child on its directory,
//! adding the `reopen` fields to the fill's line. `--settle-after` ends
//! `fillrandom` by opening the directory once more and waiting until the
//! engine is idle (module `settle`), adding the `settled_` fields.
//!
//! Values are incompressible and every engine runs with compression off
//! (BENCH.md), unless `--compressible`: then values come from db_bench's
//! compressible generator (INTEROP.md §6; Snappy halves them) and every
//! engine runs at its default compression (Snappy for Tributary, LevelDB
//! and RocksDB, LZ4 for fjall). The line says which (`compressible`), and
//! a run that wrote gives `disk_bytes`, the bytes of the files in `DIR`
//! after the close. `openleveldb` (module `openleveldb`, peers only, run
//! with Tributary) has C++ LevelDB fill `T*N` random keys, untimed, then
//! times LevelDB reopening a copy of that directory and Tributary opening
//! another, its conversion included.
//!
//! Every run but the device's also reports, at the end of the timed phase
//! (before close), `user_bytes`, `io_bytes`, `io_write_amp`, and where the
//! engine exposes them `journal_bytes`, `table_bytes`, `write_amp`,
//! `files_per_level` and `table_files` (module `amp` says how each is
//! computed), and the write stalls of the timed phase, `stalls`,
//! `stall_slowdowns`, `stall_stops` and `stall_secs`, for the engines that
//! count them (Tributary, from `Stats`; RocksDB, from `rocksdb.stats`; not
//! LevelDB nor fjall, which count none, so the fields are absent). Two more
//! measure the device under the same harness, with `--engine device` (the
//! default for them):
//!
//! - `rawsync`: each thread appends `--value-size` bytes to its own file and
//!   calls `fdatasync`, `N` times: the sync limit any journal is held to.
//! - `rawseq`: each thread writes `N` chunks of 1 MiB to its own file, then
//!   one `fdatasync`, timed as part of the last call: the sequential write
//!   bandwidth (printed as `mb_per_sec`).
//!
//! `--big-batch MIB` adds, beside the `T` measured writers, one writer that
//! writes a synced batch of `MIB` mebibytes (records of 64 KiB values),
//! sleeps 500 ms and repeats until the measured writers are done: the
//! "large batch beside small sync writers" case. Its writes are not counted
//! in `ops` nor in the latencies; `big_batches` and `big_batch_max_ms` say
//! what it did.
//!
//! `--duration SECS` (as db_bench's) stops each thread after SECS seconds
//! even if it has not made its `N` calls; `ops` counts the calls made, and
//! the key space stays `T*N` (or K). `cargo xtask bench` uses it to bound the
//! synced cells, whose speed follows the disk's fsync latency (0.15 to 3 ms
//! on the shared machines this was written on).
//!
//! The peers (`leveldb`, `rocksdb`, `fjall`) exist only with the cargo
//! feature `peers`; without it the binary knows Tributary and the device.
//!
//! Exit codes: 0 success, 2 usage error, 3 engine or I/O error.

mod amp;
mod args;
mod device;
mod driver;
mod engine;
#[cfg(feature = "peers")]
mod ffi;
mod gate;
mod gen;
#[cfg(feature = "peers")]
mod openleveldb;
#[cfg(feature = "peers")]
mod peers;
mod reopen;
mod report;
mod settle;

use args::{EngineName, Spec, Workload};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = <args::Cli as clap::Parser>::parse();
    let spec = match args::spec(cli) {
        Ok(spec) => spec,
        Err(msg) => {
            let mut cmd = <args::Cli as clap::CommandFactory>::command();
            eprintln!("bench: {msg}\n\n{}", cmd.render_usage());
            return ExitCode::from(2);
        }
    };
    match run(&spec) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("bench: {msg}");
            ExitCode::from(3)
        }
    }
}

/// Runs the benchmark `spec` asks for and returns its JSON line.
fn run(spec: &Spec) -> Result<String, String> {
    if spec.reopen_only {
        // The child half of `reopen`: the directory is the parent's prep.
        return match spec.engine {
            EngineName::Device => Err("reopen needs a database engine".to_owned()),
            EngineName::Tributary => reopen::child::<engine::Tributary>(spec),
            #[cfg(feature = "peers")]
            EngineName::LevelDb => reopen::child::<ffi::LevelDb>(spec),
            #[cfg(feature = "peers")]
            EngineName::RocksDb => reopen::child::<ffi::RocksDb>(spec),
            #[cfg(feature = "peers")]
            EngineName::Fjall => reopen::child::<peers::Fjall>(spec),
        };
    }
    if spec.use_existing_db {
        existing_dir(&spec.db)?;
    } else {
        fresh_dir(&spec.db)?;
    }
    // The argument parser lets it through only with the peers.
    if spec.workload == Workload::OpenLevelDb {
        #[cfg(feature = "peers")]
        return Ok(report::json_line(spec, &openleveldb::run(spec)?));
        #[cfg(not(feature = "peers"))]
        unreachable!("openleveldb needs the peers");
    }
    let outcome = match spec.engine {
        EngineName::Device => device::run(spec)?,
        EngineName::Tributary => driver::run::<engine::Tributary>(spec)?,
        #[cfg(feature = "peers")]
        EngineName::LevelDb => driver::run::<ffi::LevelDb>(spec)?,
        #[cfg(feature = "peers")]
        EngineName::RocksDb => driver::run::<ffi::RocksDb>(spec)?,
        #[cfg(feature = "peers")]
        EngineName::Fjall => driver::run::<peers::Fjall>(spec)?,
    };
    Ok(report::json_line(spec, &outcome))
}

/// Deletes and recreates `dir`, as BENCH.md asks of every run.
fn fresh_dir(dir: &std::path::Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove {}: {e}", dir.display())),
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Checks that `dir` holds what an earlier run left, for
/// `--use-existing-db`: an engine would otherwise create an empty database.
fn existing_dir(dir: &std::path::Path) -> Result<(), String> {
    let mut entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    match entries.next() {
        Some(_) => Ok(()),
        None => Err(format!(
            "--use-existing-db: {} is empty; run once without it first",
            dir.display()
        )),
    }
}

//! `bench`: the db_bench-style benchmark binary of BENCH.md.
//!
//! ```text
//! bench --db DIR --workload W --threads T --num N
//!       [--value-size 100] [--key-size 16] [--sync] [--batch B]
//!       [--engine tributary|leveldb|rocksdb|fjall|device] [--big-batch MIB]
//!       [--duration SECS]
//! ```
//!
//! It deletes and recreates `DIR`, runs one workload against one engine, and
//! prints ONE JSON line on stdout (the fields of BENCH.md, plus `key_size`,
//! `batch`, `cpu_pct`, and for Tributary the group-commit counters
//! `fsyncs`, `fsyncs_per_sec`, `groups`, `mean_group` and `max_group`).
//! `cargo xtask bench` drives it as a subprocess, once per run.
//!
//! Workloads (BENCH.md): `fillseq`, `fillrandom`, `fillsync` (every put
//! synced, whatever `--sync` says), `fillbatch` (`--batch B` records per
//! write, default 100), `readrandom`, and `reopen` (module `reopen`: an
//! untimed fill of `T*N` random keys by one thread, close, then a timed
//! open of the directory in a fresh child process, with its `RssAnon`).
//! Every run but the device's also reports, at the end of the timed phase
//! (before close), `user_bytes`, `io_bytes`, `io_write_amp`, and where the
//! engine exposes them `journal_bytes`, `table_bytes`, `write_amp` and
//! `files_per_level` (module `amp` says how each is computed). Two more
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
//! the key space stays `T*N`. `cargo xtask bench` uses it to bound the
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
mod peers;
mod reopen;
mod report;

use args::{EngineName, Spec};
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
    fresh_dir(&spec.db)?;
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

//! Project automation, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci [--quick] [--skip STEP]...`: everything CI checks, step
//!   by step, with the time each step took. `--quick` runs only the fast
//!   steps (fmt, layers, clippy, test, doc).
//! - `cargo xtask bench [...]`: the peer benchmarks (see `bench/`).
//!
//! Every step shells out to cargo through `$CARGO`, so it uses the same
//! toolchain as the `cargo xtask` that started it, and prints the command
//! before it runs. What the steps need beyond stable Rust (the nightly
//! toolchain with Miri, and cargo-fuzz) is installed, with a line saying
//! so, before the first step that needs it.

mod bench;
mod ci;
mod lanes;
mod layers;

use anyhow::Result;
use std::process::ExitCode;

/// Errors are one line (`xtask: what failed: why`), never a backtrace.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Project automation.
#[derive(clap::Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
enum Task {
    /// Everything CI checks, step by step, installing what it needs.
    Ci(ci::Args),
    /// Tributary against its peers: the matrix of BENCH.md.
    Bench(bench::Args),
}

fn run() -> Result<()> {
    match <Task as clap::Parser>::parse() {
        Task::Ci(args) => ci::run(args),
        Task::Bench(args) => bench::run(args),
    }
}

//! Project automation, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci [--quick] [--skip STEP]...`: everything CI checks, step
//!   by step, with the time each step took. `--quick` runs only the fast
//!   steps (fmt, clippy, test, doc).
//! - `cargo xtask bench [...]`: the peer benchmarks (see `bench.rs`).
//!
//! Every step shells out to cargo through `$CARGO`, so it uses the same
//! toolchain as the `cargo xtask` that started it, and prints the command
//! before it runs. What the steps need beyond stable Rust (the nightly
//! toolchain with Miri, and cargo-fuzz) is installed, with a line saying
//! so, before the first step that needs it.

mod bench;
mod ci;

use anyhow::{bail, Result};
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

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        bail!("usage: cargo xtask <ci|bench> [options]");
    };
    match command.as_str() {
        "ci" => ci::run(rest),
        "bench" => bench::run(rest),
        other => bail!("unknown xtask command {other:?}; expected `ci` or `bench`"),
    }
}

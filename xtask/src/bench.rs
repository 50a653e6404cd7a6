//! `cargo xtask bench`: Tributary against its peers (BENCH.md); filled in by
//! the bench issue.

use anyhow::{bail, Result};

/// Runs the benchmark matrix.
pub fn run(_args: &[String]) -> Result<()> {
    bail!("cargo xtask bench is not implemented yet")
}

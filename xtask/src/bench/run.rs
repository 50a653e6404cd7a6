//! Running the plan: one bench process per planned run, each in its
//! directory under `target/bench-data`, with a progress line, its JSON
//! line kept and written to the results.

use super::cells::UNPIPELINED;
use super::format::{fmt_ops, fmt_us, mmss};
use super::plan::Planned;
use super::results::Results;
use super::{num_field, Object};
use anyhow::{bail, Context, Result};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A run that succeeded.
pub(super) struct RunOutcome {
    /// The cell's id.
    pub(super) cell: &'static str,
    /// The engine, or `device`.
    pub(super) engine: String,
    /// The run's JSON line.
    pub(super) obj: Object,
}

/// Runs `plan` in order with the bench binary `exe`, each run in its
/// directory under `data_root`, and writes each to `results`; returns
/// the runs that succeeded. `started` is when the first began, for the
/// progress lines.
pub(super) fn run_plan(
    plan: &[Planned],
    exe: &Path,
    data_root: &Path,
    quick: bool,
    started: Instant,
    results: &mut Results,
) -> Result<Vec<RunOutcome>> {
    let mut outcomes: Vec<RunOutcome> = Vec::new();
    // Shared preps that failed, by directory: the runs that would read
    // them are skipped.
    let mut failed_preps: Vec<PathBuf> = Vec::new();
    for (idx, run) in plan.iter().enumerate() {
        let dir = data_root.join(&run.dir);
        let cmd = command(exe, run, &dir, quick);
        print_progress(idx, plan.len(), started, run);
        let timeout = Duration::from_secs(if quick { 120 } else { 600 });
        let t0 = Instant::now();
        let res = if run.use_existing && failed_preps.contains(&dir) {
            Err(anyhow::anyhow!(
                "skipped: the run that preps its directory failed"
            ))
        } else {
            run_one(cmd, timeout)
        };
        clean_up(run, &dir, res.is_err(), &mut failed_preps);
        match res {
            Ok(line) => outcomes.push(record(run, &line, t0, results)?),
            Err(e) => {
                println!("FAILED: {e:#}");
                results.failure(run.cell.id, &run.variant.engine, run.round + 1, &e)?;
            }
        }
    }
    Ok(outcomes)
}

/// The bench binary's command line for `run` in `dir`.
fn command(exe: &Path, run: &Planned, dir: &Path, quick: bool) -> Command {
    let Planned { cell, variant, .. } = run;
    let (num, secs, prep_keys) = cell.sizes(quick);
    let unpipelined = variant.engine == UNPIPELINED;
    let engine = if unpipelined {
        "tributary"
    } else {
        &variant.engine
    };
    let mut cmd = Command::new(exe);
    cmd.arg("--db")
        .arg(dir)
        .args(["--engine", engine, "--workload", &variant.workload])
        .args([
            "--threads",
            &cell.threads.to_string(),
            "--num",
            &num.to_string(),
            "--duration",
            &secs.to_string(),
        ]);
    if variant.engine != "device" {
        cmd.args(cell.extra);
    }
    if engine == "tributary" {
        cmd.args(cell.tributary_extra);
    }
    if unpipelined {
        cmd.args(["--tributary-options", "unpipelined"]);
    }
    if prep_keys > 0 {
        cmd.args(["--prep-keys", &prep_keys.to_string()]);
    }
    if run.use_existing {
        cmd.arg("--use-existing-db");
    }
    cmd
}

/// The start of run `idx`'s line: which it is, the time so far and an
/// estimate of the time left. Its result ends the line.
fn print_progress(idx: usize, runs: usize, started: Instant, run: &Planned) {
    let done = idx as f64;
    let elapsed = started.elapsed().as_secs_f64();
    let eta = if idx == 0 {
        String::new()
    } else {
        format!(", ~{} left", mmss(elapsed / done * (runs as f64 - done)))
    };
    print!(
        "[{:>3}/{} {}{eta}] {:<23} {:<11} round {}/{} ... ",
        idx + 1,
        runs,
        mmss(elapsed),
        run.cell.id,
        run.variant.engine,
        run.round + 1,
        run.rounds
    );
    let _ = std::io::stdout().flush();
}

/// After `run` in `dir`: notes whether the prep that later runs read
/// failed, deletes the directory unless a later run reads it, and writes
/// back what the run left dirty.
fn clean_up(run: &Planned, dir: &Path, failed: bool, failed_preps: &mut Vec<PathBuf>) {
    if !run.use_existing {
        // A later round may prep the directory again.
        failed_preps.retain(|d| d != dir);
        if failed && run.keep_dir {
            failed_preps.push(dir.to_path_buf());
        }
    }
    if !run.keep_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    // Write back what the run left dirty, so the next run does not pay
    // for it.
    let _ = Command::new("sync").status();
}

/// A run that printed `line`: ends its progress line with the headline
/// numbers and writes it to `results`. `t0` is when it started.
fn record(run: &Planned, line: &str, t0: Instant, results: &mut Results) -> Result<RunOutcome> {
    let obj: Object = serde_json::from_str(line)
        .with_context(|| format!("the bench printed no JSON object: {line}"))?;
    println!(
        "{:>10} ops/s  p99 {:>9}  ({:.1} s)",
        fmt_ops(num_field(&obj, "ops_per_sec")),
        fmt_us(num_field(&obj, "p99_us")),
        t0.elapsed().as_secs_f64()
    );
    results.run(line, run.cell.id, run.round + 1)?;
    Ok(RunOutcome {
        cell: run.cell.id,
        engine: run.variant.engine.clone(),
        obj,
    })
}

/// Runs one bench process and returns its JSON line; kills it after
/// `timeout`.
fn run_one(mut cmd: Command, timeout: Duration) -> Result<String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the bench binary")?;
    // Drain both pipes in threads so a chatty engine cannot block on them.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if t0.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {} s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if !status.success() {
        bail!("{status}: {}", err.trim());
    }
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    match lines.as_slice() {
        [line] => Ok(line.to_string()),
        _ => bail!("expected one JSON line, got:\n{out}"),
    }
}

//! `cargo xtask ci`: every check CI runs, in order, each printed with its
//! command and timed.
//!
//! The steps, and why each exists:
//!
//! | step | what it runs | why |
//! |---|---|---|
//! | `fmt` | `cargo fmt --all --check` | one style |
//! | `layers` | [`crate::layers::check`] on `db/src` | dependencies one way: no cycle between modules or sibling files, `table/` a pure format, `read/` apart from compaction and the journals |
//! | `clippy` | clippy on every target, warnings denied | lints, including missing docs |
//! | `test` | `cargo test --workspace` (installing libleveldb-dev, golang-go and goleveldb first if missing), the executables two at a time ([`crate::lanes`]) | unit, property, integration and doc tests, LevelDB golden tables |
//! | `release-tests` | the tests too slow for debug builds, in release, two at a time | RELIABILITY.md B2 (exhaustive journal damage) the DB crash tests, and the compaction space test (100 k keys ten times) |
//! | `doc` | `cargo doc` with warnings denied | every public item documented, no broken links |
//! | `miri` | `cargo +nightly miri test --lib` on [`MIRI_CRATES`] | undefined behaviour in `unsafe` code and the codecs |
//! | `loom` | the writer's loom model | the group-commit protocol over every interleaving (RELIABILITY.md C1) |
//! | `seeded-bugs` | the loom model once per seeded bug, expecting failure | the model checks have teeth |
//! | `fuzz` | `cargo fuzz` on each target in [`FUZZ_TARGETS`], in parallel | no panic on hostile bytes (RELIABILITY.md B4) |
//! | `bench-smoke` | the `bench` binary on every workload at tiny sizes, Tributary only | the benchmark never rots (BENCH.md contract: one JSON line) |

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Crates whose unit tests run under Miri: those with `unsafe` code, and the
/// codecs, which are cheap to check.
const MIRI_CRATES: &[&str] = &["tributary-batch", "tributary-journal", "tributary-memdb"];

/// cargo-fuzz targets in `fuzz/`.
const FUZZ_TARGETS: &[&str] = &[
    "batch_decode",
    "journal_read",
    "table_read",
    "manifest_read",
    "repair",
    "leveldb_edit",
    "block_codec",
];

/// Seconds each fuzz target runs in CI (the targets run in parallel).
const FUZZ_SECONDS: u32 = 40;

/// The writer's seeded bugs (RELIABILITY.md C1); the loom model must fail on
/// each of them: (bug, preemption bound, the models to run, all if `None`).
/// Bound 2 catches most in seconds; an ack sent before its fsync needs a
/// merged member to run between the two, which takes a third preemption,
/// in the one model that needs no failure for it; so does a failed fsync
/// that covered a later group, since the lock moves on before the fsync
/// only to a writer already waiting for it.
const SEEDED_BUGS: &[(&str, usize, Option<&str>)] = &[
    ("ack_after_unlock", 2, None),
    ("follower_ok_after_error", 2, None),
    ("dropped_sync_flag", 2, None),
    ("seq_reuse_after_error", 2, None),
    ("ack_before_sync", 3, Some("pipelined_no_error")),
    ("publish_after_hand_off", 2, None),
    (
        "failed_sync_covers_later_groups",
        3,
        Some("pipelined_sync_error_at_first_sync"),
    ),
];

/// Tests that run in release mode because debug builds make them too slow.
/// The `test` step leaves them out when the release-tests step follows,
/// so that each runs once. Longest first: they start in this order.
const RELEASE_TESTS: &[(&str, &str)] = &[
    ("tributary", "crash"),
    ("tributary", "table_damage"),
    ("tributary", "kill"),
    ("tributary-journal", "damage"),
    ("tributary", "repair_crash"),
    ("tributary", "repair_db_crash"),
    ("tributary", "leveldb_crash"),
    ("tributary", "compaction"),
];

/// The debug suites that take longest (about 10-20 s each in CI), started
/// first in the `test` step's lanes.
const LONG_DEBUG_TESTS: &[&str] = &["faults", "edges", "api", "repair", "tributary", "format"];

/// A step: its name, whether `--quick` runs it, and what it does (returning
/// a detail for the summary).
type Step = (&'static str, bool, fn(&Ctx) -> Result<String>);

const STEPS: &[Step] = &[
    ("fmt", true, fmt),
    ("layers", true, layers),
    ("clippy", true, clippy),
    ("test", true, test),
    ("doc", true, doc),
    ("release-tests", false, release_tests),
    ("miri", false, miri),
    ("loom", false, loom),
    ("seeded-bugs", false, seeded_bugs),
    ("fuzz", false, fuzz),
    ("bench-smoke", false, bench_smoke),
];

struct Ctx {
    root: PathBuf,
    /// The cargo that runs this xtask, for steps on the default toolchain.
    cargo: String,
    /// Whether the release-tests step runs after the test step, which
    /// then leaves `RELEASE_TESTS` to it (with `--quick` it runs them).
    release_tests_follow: bool,
}

impl Ctx {
    /// A cargo command on the default toolchain, at the workspace root, with
    /// no inherited `RUSTFLAGS` so that builds share one cache.
    fn cargo(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.cargo);
        cmd.args(args)
            .current_dir(&self.root)
            .env_remove("RUSTFLAGS");
        cmd
    }

    /// A cargo command on the nightly toolchain, through rustup's proxy.
    fn nightly(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("cargo");
        cmd.arg("+nightly")
            .args(args)
            .current_dir(&self.root)
            .env_remove("RUSTFLAGS")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("CARGO");
        cmd
    }
}

/// `cargo xtask ci`: everything CI checks, step by step.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only the fast steps: fmt, layers, clippy, test, doc.
    #[arg(long)]
    quick: bool,
    /// Leave out a step (fmt, layers, clippy, test, doc, release-tests, miri, loom,
    /// seeded-bugs, fuzz, bench-smoke); may be given more than once.
    #[arg(long, value_name = "STEP")]
    skip: Vec<String>,
}

/// Runs the CI steps selected by `args`.
pub fn run(args: Args) -> Result<()> {
    let Args { quick, skip } = args;
    for name in &skip {
        if !STEPS.iter().any(|s| s.0 == name) {
            bail!(
                "--skip {name:?}: no such step; steps: {}",
                STEPS.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let ctx = Ctx {
        root: workspace_root(),
        cargo: std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()),
        release_tests_follow: !quick && !skip.iter().any(|s| s == "release-tests"),
    };
    let started = Instant::now();
    let mut summary = Vec::new();
    for &(name, in_quick, step) in STEPS {
        if (quick && !in_quick) || skip.iter().any(|s| s == name) {
            println!("\n=== {name}: skipped");
            summary.push((name, "skipped".to_owned(), Duration::ZERO));
            continue;
        }
        println!("\n=== {name}");
        let t = Instant::now();
        let res = step(&ctx);
        let took = t.elapsed();
        match res {
            Ok(detail) => {
                println!("=== {name}: ok in {took:.0?} {detail}");
                summary.push((name, format!("ok {detail}"), took));
            }
            Err(e) => {
                println!("=== {name}: FAILED in {took:.0?}: {e:#}");
                print_summary(&summary, started.elapsed());
                bail!("step {name} failed: {e:#}");
            }
        }
    }
    print_summary(&summary, started.elapsed());
    Ok(())
}

fn print_summary(summary: &[(&str, String, Duration)], total: Duration) {
    println!("\n=== summary");
    for (name, outcome, took) in summary {
        println!("{name:>14}  {:>6.0?}  {outcome}", took);
    }
    println!("{:>14}  {:>6.0?}", "total", total);
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Runs `cmd`, echoing it, and fails unless it exits with success.
fn exec(mut cmd: Command) -> Result<()> {
    println!("$ {}", show(&cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {}", show(&cmd)))?;
    if !status.success() {
        bail!("{} exited with {status}", show(&cmd));
    }
    Ok(())
}

pub(crate) fn show(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let (k, Some(v)) = (k.to_string_lossy(), v) {
            s.push_str(&format!("{k}={:?} ", v.to_string_lossy()));
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn fmt(ctx: &Ctx) -> Result<String> {
    exec(ctx.cargo(&["fmt", "--all", "--check"]))?;
    Ok(String::new())
}

fn layers(ctx: &Ctx) -> Result<String> {
    crate::layers::check(&ctx.root.join("db/src"))
}

fn clippy(ctx: &Ctx) -> Result<String> {
    exec(ctx.cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    Ok(String::new())
}

fn test(ctx: &Ctx) -> Result<String> {
    ensure_oracles()?;
    if !ctx.release_tests_follow {
        exec(ctx.cargo(&["test", "--workspace"]))?;
        return Ok("(every suite, the release ones in debug)".to_owned());
    }
    let debug_tests = debug_test_targets(ctx)?;
    let mut args = vec!["test", "--workspace", "--lib", "--bins"];
    for name in &debug_tests {
        args.extend(["--test", name]);
    }
    let executables = crate::lanes::run(ctx.cargo(&args), LONG_DEBUG_TESTS)?;
    exec(ctx.cargo(&["test", "--workspace", "--doc"]))?;
    Ok(format!(
        "({} suites here, {executables} test executables in {} lanes; {} in release-tests)",
        debug_tests.len(),
        crate::lanes::LANES,
        RELEASE_TESTS.len()
    ))
}

/// The names of the workspace's integration tests that the `test` step runs:
/// all but those of `RELEASE_TESTS`, read from `cargo metadata`. A name two
/// packages share (`format`, `faults`) is run in both, which is right as
/// long as no release suite shares a name with another package's test.
fn debug_test_targets(ctx: &Ctx) -> Result<Vec<String>> {
    let output = ctx
        .cargo(&["metadata", "--no-deps", "--format-version", "1"])
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed");
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let mut names = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let package_name = package["name"].as_str().unwrap_or_default();
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_test = target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "test"));
            let name = target["name"].as_str().unwrap_or_default();
            if !is_test || RELEASE_TESTS.contains(&(package_name, name)) {
                continue;
            }
            if RELEASE_TESTS.iter().any(|&(_, release)| release == name) {
                bail!("{package_name}'s test {name} shares its name with a release suite");
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }
    Ok(names)
}

/// Installs the Debian packages the oracle tests need when missing:
/// libleveldb-dev (the LevelDB golden tables, TABLES.md T4, and the LevelDB
/// directories of issue #25) and golang-go with goleveldb (the goleveldb
/// directories). Those tests fail under CI without them.
fn ensure_oracles() -> Result<()> {
    let wanted: Vec<&str> = [
        ("/usr/include/leveldb/table_builder.h", "libleveldb-dev"),
        ("/usr/bin/go", "golang-go"),
        (
            "/usr/share/gocode/src/github.com/syndtr/goleveldb",
            "golang-github-syndtr-goleveldb-dev",
        ),
    ]
    .into_iter()
    .filter(|(path, _)| !Path::new(path).exists())
    .map(|(_, package)| package)
    .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    println!("    installing {} (apt-get)", wanted.join(", "));
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let install: Vec<&str> = ["install", "-y", "-qq"]
        .into_iter()
        .chain(wanted.iter().copied())
        .collect();
    for args in [&["update", "-qq"][..], &install] {
        let mut cmd = Command::new(if root { "apt-get" } else { "sudo" });
        if !root {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        exec(cmd).with_context(|| format!("installing {} (install by hand)", wanted.join(", ")))?;
    }
    Ok(())
}

fn doc(ctx: &Ctx) -> Result<String> {
    let mut cmd = ctx.cargo(&["doc", "--workspace", "--no-deps"]);
    // Every intra-doc link must resolve, and public docs must not link to
    // private items, which have no page without `--document-private-items`:
    // both lints are named so that the step denies them even if
    // `-D warnings` is ever dropped.
    cmd.env(
        "RUSTDOCFLAGS",
        "-D warnings -D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links",
    );
    exec(cmd)?;
    Ok(String::new())
}

fn release_tests(ctx: &Ctx) -> Result<String> {
    let mut args = vec!["test", "--release"];
    for (package, _) in RELEASE_TESTS {
        if !args.contains(package) {
            args.extend(["-p", package]);
        }
    }
    for (_, test) in RELEASE_TESTS {
        args.extend(["--test", test]);
    }
    let longest_first: Vec<&str> = RELEASE_TESTS.iter().map(|&(_, test)| test).collect();
    let executables = crate::lanes::run(ctx.cargo(&args), &longest_first)?;
    Ok(format!(
        "({executables} suites in {} lanes)",
        crate::lanes::LANES
    ))
}

/// Runs `cmd` quietly; whether it succeeded. A command that cannot start
/// counts as failed.
fn succeeds(mut cmd: Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs, through rustup, the nightly toolchain and the given components
/// if they are missing, saying what it installs.
fn ensure_nightly(ctx: &Ctx, components: &[&str]) -> Result<()> {
    let rustup = || Command::new("rustup");
    if !succeeds({
        let mut c = rustup();
        c.args(["run", "nightly", "rustc", "--version"]);
        c
    }) {
        println!("    installing the nightly toolchain (Miri and cargo-fuzz need it)");
        exec({
            let mut c = rustup();
            c.args(["toolchain", "install", "nightly", "--profile", "minimal"]);
            c
        })
        .context("installing nightly needs rustup (https://rustup.rs)")?;
    }
    if components.is_empty() {
        return Ok(());
    }
    let installed = {
        let out = rustup()
            .args(["component", "list", "--installed", "--toolchain", "nightly"])
            .output()
            .context("cannot run rustup")?;
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let missing: Vec<&str> = components
        .iter()
        .copied()
        .filter(|c| !installed.lines().any(|l| l.starts_with(c)))
        .collect();
    if !missing.is_empty() {
        println!("    installing nightly components: {}", missing.join(", "));
        exec({
            let mut c = rustup();
            c.args(["component", "add", "--toolchain", "nightly"])
                .args(&missing);
            c
        })?;
    }
    if components.contains(&"miri") {
        // Builds Miri's sysroot once; quiet when it is already built.
        exec(ctx.nightly(&["miri", "setup"]))?;
    }
    Ok(())
}

/// Installs cargo-fuzz if `cargo fuzz` is missing, saying so.
fn ensure_cargo_fuzz(ctx: &Ctx) -> Result<()> {
    if succeeds(ctx.nightly(&["fuzz", "--version"])) {
        return Ok(());
    }
    println!("    installing cargo-fuzz (cargo install cargo-fuzz --locked)");
    exec(ctx.cargo(&["install", "cargo-fuzz", "--locked"]))
}

fn miri(ctx: &Ctx) -> Result<String> {
    ensure_nightly(ctx, &["miri", "rust-src"])?;
    let mut args = vec!["miri", "test", "--lib"];
    for krate in MIRI_CRATES {
        args.extend(["-p", krate]);
    }
    exec(ctx.nightly(&args))?;
    Ok(format!("({})", MIRI_CRATES.join(", ")))
}

/// The loom build uses its own target directory: `--cfg loom` changes every
/// crate's flags, and sharing the main one would rebuild it twice per run.
/// A seeded bug is a feature of the writer, so switching bugs rebuilds only
/// the writer.
fn loom_cmd(ctx: &Ctx, seeded_bug: Option<&str>) -> Command {
    let mut cmd = ctx.cargo(&[
        "test",
        "-p",
        "tributary-writer",
        "--test",
        "loom",
        "--release",
    ]);
    if let Some(bug) = seeded_bug {
        cmd.args(["--features", &format!("seeded_bug_{bug}")]);
    }
    cmd.env("RUSTFLAGS", "--cfg loom")
        .env("LOOM_MAX_PREEMPTIONS", "3")
        .env("CARGO_TARGET_DIR", ctx.root.join("target").join("loom"));
    cmd
}

fn loom(ctx: &Ctx) -> Result<String> {
    exec(loom_cmd(ctx, None))?;
    Ok(String::new())
}

fn seeded_bugs(ctx: &Ctx) -> Result<String> {
    for &(bug, bound, models) in SEEDED_BUGS {
        // The variant must build: a compile error would "fail" for the wrong
        // reason.
        let mut build = loom_cmd(ctx, Some(bug));
        build.arg("--no-run");
        exec(build)?;
        let mut cmd = loom_cmd(ctx, Some(bug));
        if let Some(models) = models {
            cmd.arg(models);
        }
        cmd.env("LOOM_MAX_PREEMPTIONS", bound.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        println!("$ {}   (must fail)", show(&cmd));
        let t = Instant::now();
        let status = cmd.status().context("cannot start cargo")?;
        if status.success() {
            bail!("the loom model passed with seeded bug {bug:?}: the checks have no teeth");
        }
        println!("    caught {bug} in {:.1?}", t.elapsed());
    }
    Ok(format!("(all {} seeded bugs caught)", SEEDED_BUGS.len()))
}

fn fuzz(ctx: &Ctx) -> Result<String> {
    ensure_nightly(ctx, &[])?;
    ensure_cargo_fuzz(ctx)?;
    let fuzz_dir = ctx.root.join("fuzz");
    exec({
        let mut cmd = ctx.nightly(&["fuzz", "build", "--release"]);
        cmd.current_dir(&fuzz_dir);
        cmd
    })?;
    let mut children = Vec::new();
    for target in FUZZ_TARGETS {
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        // Committed seeds (a valid table, a valid manifest) start the
        // search inside the format instead of at its magic numbers.
        let seeds = fuzz_dir.join("seeds").join(target);
        let log = fuzz_dir.join(format!("{target}.log"));
        let max_time = format!("-max_total_time={FUZZ_SECONDS}");
        let mut args = vec!["fuzz", "run", "--release", target];
        let (corpus, seeds) = (corpus.display().to_string(), seeds.display().to_string());
        args.push(&corpus);
        if std::path::Path::new(&seeds).is_dir() {
            args.push(&seeds);
        }
        args.extend([
            "--",
            &max_time,
            "-rss_limit_mb=256",
            "-timeout=10",
            "-print_final_stats=1",
        ]);
        let mut cmd = ctx.nightly(&args);
        // AddressSanitizer keeps freed memory in a quarantine of 256 MiB
        // by default, as much as the RSS limit: a target that frees 64 KiB
        // per input (two journal blocks) then "runs out" after 4,000
        // inputs. A small quarantine keeps the limit meaningful.
        cmd.env("ASAN_OPTIONS", "quarantine_size_mb=16");
        cmd.current_dir(&fuzz_dir)
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(log.with_extension("err"))?);
        println!("$ {}   (log in {})", show(&cmd), log.display());
        children.push((target, log.with_extension("err"), cmd.spawn()?));
    }
    let mut report = Vec::new();
    let mut failed = Vec::new();
    for (target, err_log, mut child) in children {
        let status = child.wait()?;
        let text = std::fs::read_to_string(&err_log).unwrap_or_default();
        let runs =
            final_stat(&text, "stat::number_of_executed_units:").unwrap_or_else(|| "?".to_owned());
        let line = format!(
            "{target}: {runs} executions, {} panics",
            if status.success() { 0 } else { 1 }
        );
        println!("    {line}");
        report.push(line);
        if !status.success() {
            // The cause (a panic message, a sanitizer report) comes well
            // before the tail, which only names the input: print both.
            for l in failure_cause(&text) {
                println!("    | {l}");
            }
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            for l in tail.into_iter().rev() {
                println!("    | {l}");
            }
            failed.push(*target);
        }
    }
    if !failed.is_empty() {
        bail!("fuzz targets failed: {failed:?}");
    }
    Ok(format!("({})", report.join("; ")))
}

/// The lines of a failed fuzz run that say why it failed: from the first
/// panic message or sanitizer report, at most 30 lines.
fn failure_cause(text: &str) -> Vec<&str> {
    const MARKS: &[&str] = &[
        "panicked at",
        "==ERROR:",
        "deadly signal",
        "out-of-memory",
        "ALARM:",
    ];
    let lines: Vec<&str> = text.lines().collect();
    match lines
        .iter()
        .position(|l| MARKS.iter().any(|m| l.contains(m)))
    {
        Some(first) => lines[first.saturating_sub(2)..]
            .iter()
            .take(30)
            .copied()
            .collect(),
        None => Vec::new(),
    }
}

/// The value of a `-print_final_stats=1` line of libFuzzer's output.
fn final_stat(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_owned())
}

/// Workloads of the bench binary, with the extra flags each needs.
const BENCH_SMOKE: &[(&str, &[&str])] = &[
    ("fillseq", &[]),
    ("fillrandom", &[]),
    ("fillsync", &["--sync"]),
    ("fillbatch", &["--batch", "10"]),
    ("readrandom", &[]),
    ("reopen", &[]),
    ("readwhilewriting", &["--prep-keys", "2000"]),
    ("seekrandom", &["--prep-keys", "2000"]),
    ("readseq", &["--prep-keys", "2000"]),
    ("fillrandom", &["--reopen-after"]),
    ("fillrandom", &["--compressible"]),
    ("readrandom", &["--compressible", "--prep-keys", "2000"]),
];

fn bench_smoke(ctx: &Ctx) -> Result<String> {
    exec(ctx.cargo(&[
        "build",
        "--release",
        "-p",
        "tributary-cli",
        "--bin",
        "bench",
    ]))?;
    let exe = ctx.root.join("target").join("release").join("bench");
    let dir = ctx.root.join("target").join("bench-smoke");
    for (workload, extra) in BENCH_SMOKE {
        let mut cmd = Command::new(&exe);
        cmd.arg("--db")
            .arg(&dir)
            .args(["--workload", workload, "--threads", "2", "--num", "200"])
            .args(*extra);
        println!("$ {}", show(&cmd));
        let out = cmd
            .output()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        if !out.status.success() {
            bail!(
                "bench {workload} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        let [line] = lines.as_slice() else {
            bail!(
                "bench {workload} printed {} lines, BENCH.md wants one JSON line:\n{stdout}",
                lines.len()
            );
        };
        for field in [
            "\"engine\":\"tributary\"",
            &format!("\"workload\":\"{workload}\""),
            "\"ops_per_sec\":",
            "\"p99_us\":",
        ] {
            if !line.starts_with('{') || !line.contains(field) {
                bail!("bench {workload}: {field} missing from {line}");
            }
        }
        println!("    {line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(format!("({} workloads)", BENCH_SMOKE.len()))
}

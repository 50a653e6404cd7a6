//! `cargo xtask bench`: Tributary against its peers, side by side
//! (BENCH.md).
//!
//! ```text
//! cargo xtask bench [--quick] [--runs N] [--engines tributary,leveldb,...]
//!                   [--only CELL[,CELL]] [--no-peers] [--no-install]
//! ```
//!
//! 1. Makes sure the peers can be built: C++ LevelDB and RocksDB come from
//!    Debian's `libleveldb-dev` and `librocksdb-dev`, installed with
//!    `apt-get` when their headers are missing (fjall comes from crates.io).
//! 2. Builds `cargo build --release -p tributary-cli --features peers --bin
//!    bench` into `target/bench` (its own target directory, so that it does
//!    not churn the one `cargo xtask ci` uses).
//! 3. Runs the matrix of [`CELLS`]: in each cell every engine runs once per
//!    round, in an order rotated each round (engines interleaved), in a
//!    fresh directory under `target/bench-data`, `--runs` rounds (3; 1 with
//!    `--quick`), and the median of each number is kept. The device limits
//!    are measured by the same binary: `rawsync` (100-byte append +
//!    `fdatasync`) runs interleaved in the 1-thread fillsync cell, and
//!    `rawseq` (sequential bandwidth) is a cell of its own.
//! 4. Writes every JSON line (each run, tagged with `cell` and `run`, then
//!    the medians with `"run":"median"`) to `bench-results/<UTC time>.jsonl`,
//!    prints the table of every cell, the table of write amplification and
//!    files per level of each fill (and prep) cell, the reopen time and
//!    `RssAnon` of `reopen/1` and `disk-fillrandom/1` beside the peers', one
//!    table per engine of the beyond-memory cells, and the table of
//!    BENCH.md's and issue #13's targets (all saved as
//!    `bench-results/<UTC time>.txt`), and draws the fillsync curve to
//!    `bench-results/fillsync.svg` and `disk-fillrandom/1`'s ops/s per
//!    100 ms, one line per engine (stall storms show as dips), to
//!    `bench-results/fillrandom-10m.svg`.
//!
//! The beyond-memory cells (BENCH.md "Beyond memory", ids `disk-*`, so
//! `--only disk` runs them alone) hold data well past every write buffer:
//! `disk-fillrandom/1` (10 M puts, then a timed reopen of the directory in
//! a child, `--reopen-after`), `disk-fillrandom/4` (4 x 2.5 M), and five
//! read cells on a prep of 5 M random keys (`--prep-keys 5000000`):
//! `disk-readrandom/1` and `/2` (1 M gets per thread),
//! `disk-seekrandom/1` (200 k seeks of 10 entries), `disk-readseq/1` (5 M
//! entries) and `disk-readwhilewriting/2` (1 M gets per reader beside one
//! writer). The read cells are one prep group: each engine runs them in
//! turn on one directory, which the first preps and the others read with
//! `--use-existing-db`, so that the 5 M-key prep and its compaction run
//! once per engine and not five times. The four that only read run three
//! rounds (`BEYOND_READ_ROUNDS`, engines interleaved) on that one prep,
//! and readwhilewriting, which writes, runs once after them. Their table
//! gives per engine ops/s, p99.9 and max latency, write amplification,
//! write stalls (count as slowdowns/stops, and time: Tributary's `Stats`,
//! RocksDB's `rocksdb.stats`; LevelDB and fjall count none), files per
//! level at the end, the reopen and the writer's ops/s.
//!
//! The full matrix takes about 20 minutes on a 2-core machine (the synced
//! cells run 4 s each, the others a fixed N with a 30 s guard), plus about
//! 8 to 10 minutes for the beyond-memory cells, which is why those that
//! write run ONE round each (`BEYOND_ROUNDS`; the header says so; `--runs
//! N` gives every cell N, a prep per round); the read rounds after the
//! first add about a minute. That figure was estimated from runs of all
//! four engines at a fifth of the size (2 M puts, a 1 M-key prep: 90 s in
//! all) scaled by 5 to 6, and a full-size Tributary `disk-fillrandom/1`
//! (18 s); at full size the fills take about 20 s (Tributary) to 65 s (RocksDB) per engine
//! each, the read group 30 to 50 s per engine. `--quick` (one round, small
//! N, 0.8 s synced cells; beyond-memory cells on 200 k puts and a 100 k-key
//! prep, under 2 s each) takes about one minute, as a smoke test. Synced
//! numbers follow the disk: on a shared machine other tenants' writes
//! change the fsync latency tenfold from one second to the next, so compare
//! ratios within a run, and prefer a quiet machine. `--only fillsync` runs
//! the cells whose name starts with `fillsync`.

mod svg;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// One run's JSON line, a flat object.
type Object = serde_json::Map<String, Value>;

/// A string as a JSON string literal.
fn quote(s: &str) -> String {
    Value::from(s).to_string()
}
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The engines, Tributary first; the others need the `peers` feature.
const ENGINES: &[&str] = &["tributary", "leveldb", "rocksdb", "fjall"];

/// One cell of the matrix: a workload at a thread count, run by every
/// engine.
struct Cell {
    /// `workload/threads`, or a name of its own for a variant.
    id: &'static str,
    workload: &'static str,
    threads: usize,
    /// Calls per thread (`--num`) in the full run and with `--quick`.
    num: usize,
    quick_num: usize,
    /// `--duration` in seconds in the full run and with `--quick`: the time
    /// a synced cell runs, or a guard for the others, whose `num` ends them
    /// first (a few seconds each on a 2-core machine).
    secs: f64,
    quick_secs: f64,
    extra: &'static [&'static str],
    /// A device workload measured in the same cell, interleaved with the
    /// engines, with the same arguments.
    device: Option<&'static str>,
    /// Whether the engines run this cell (false: device only).
    engines: bool,
    /// `--prep-keys` in the full run and with `--quick` (0: none).
    prep_keys: u64,
    quick_prep_keys: u64,
    /// Read cells that name the same group (adjacent in [`CELLS`]) share
    /// one prep per engine and round: the first of them that runs preps
    /// a directory, the others read it with `--use-existing-db`, and it is
    /// deleted after the last. Writing cells of a group come last in it.
    prep_group: Option<&'static str>,
    /// Rounds of this cell when `--runs` is not given (None: the default).
    rounds: Option<usize>,
}

/// A cell bounded by its call count.
const fn cell(
    id: &'static str,
    workload: &'static str,
    threads: usize,
    num: usize,
    quick_num: usize,
) -> Cell {
    Cell {
        id,
        workload,
        threads,
        num,
        quick_num,
        secs: 30.0,
        quick_secs: 5.0,
        extra: &[],
        device: None,
        engines: true,
        prep_keys: 0,
        quick_prep_keys: 0,
        prep_group: None,
        rounds: None,
    }
}

/// Rounds of the beyond-memory cells that write: one, to fit about 12
/// minutes for the four engines on a 2-core machine (module docs).
const BEYOND_ROUNDS: usize = 1;

/// Rounds of the beyond-memory cells that only read. They share one prep
/// per engine across their rounds (see [`plan`]), so a round costs
/// seconds, not the prep's minute, and three give a median: one round
/// had moved `disk-readrandom/2` between 1.07x and 1.51x of LevelDB from
/// one run to the next.
const BEYOND_READ_ROUNDS: usize = 3;

/// A beyond-memory cell (BENCH.md): one round, and a guard long enough
/// for any engine's 10 M puts.
const fn beyond(
    id: &'static str,
    workload: &'static str,
    threads: usize,
    num: usize,
    quick_num: usize,
) -> Cell {
    Cell {
        secs: 300.0,
        quick_secs: 30.0,
        rounds: Some(BEYOND_ROUNDS),
        ..cell(id, workload, threads, num, quick_num)
    }
}

/// A beyond-memory read cell: BENCH.md's prep of 5 M keys (100 k with
/// `--quick`), shared by the cells of the `disk-read` group.
const fn beyond_read(
    id: &'static str,
    workload: &'static str,
    threads: usize,
    num: usize,
    quick_num: usize,
) -> Cell {
    let reads_only = !workload_writes(workload);
    Cell {
        prep_keys: 5_000_000,
        quick_prep_keys: 100_000,
        prep_group: Some("disk-read"),
        rounds: Some(if reads_only {
            BEYOND_READ_ROUNDS
        } else {
            BEYOND_ROUNDS
        }),
        ..beyond(id, workload, threads, num, quick_num)
    }
}

/// Whether a run of `workload` changes the database it runs on (every
/// workload but the three that only read).
const fn workload_writes(workload: &str) -> bool {
    !matches!(
        workload.as_bytes(),
        b"readrandom" | b"seekrandom" | b"readseq"
    )
}

/// A cell bounded by time: synced writes go as fast as the disk's fsync,
/// which varies twentyfold (0.15 to 3 ms) on shared machines, so a count
/// cannot fit both a fast and a slow disk.
const fn timed(id: &'static str, workload: &'static str, threads: usize) -> Cell {
    Cell {
        num: 100_000,
        quick_num: 100_000,
        secs: 4.0,
        quick_secs: 0.8,
        ..cell(id, workload, threads, 0, 0)
    }
}

/// The matrix of BENCH.md.
const CELLS: &[Cell] = &[
    Cell {
        device: Some("rawsync"),
        ..timed("fillsync/1", "fillsync", 1)
    },
    timed("fillsync/4", "fillsync", 4),
    timed("fillsync/16", "fillsync", 16),
    timed("fillsync/64", "fillsync", 64),
    // fillsync/16 with a 64 MiB synced batch written beside the 16 small
    // writers every 500 ms: compare its p99 with fillsync/16's.
    Cell {
        extra: &["--big-batch", "64"],
        ..timed("bigbatch/16", "fillsync", 16)
    },
    cell("fillseq/1", "fillseq", 1, 1_000_000, 100_000),
    cell("fillrandom/1", "fillrandom", 1, 1_000_000, 100_000),
    cell("fillrandom/4", "fillrandom", 4, 250_000, 25_000),
    cell("fillrandom/16", "fillrandom", 16, 62_500, 6_250),
    Cell {
        extra: &["--batch", "100"],
        ..cell("fillbatch/1", "fillbatch", 1, 10_000, 1_000)
    },
    cell("readrandom/1", "readrandom", 1, 1_000_000, 100_000),
    cell("readrandom/2", "readrandom", 2, 500_000, 50_000),
    // Untimed fillrandom of N keys, close, then a timed open in a fresh
    // process, with its RssAnon (issue #13).
    cell("reopen/1", "reopen", 1, 2_000_000, 200_000),
    Cell {
        device: Some("rawseq"),
        engines: false,
        secs: 3.0,
        quick_secs: 1.0,
        ..cell("rawseq/1", "rawseq", 1, 2048, 2048)
    },
    // Beyond memory (BENCH.md): data well past every write buffer, so that
    // flushes, compactions and stalls are inside the timed region. The
    // 10 M fill ends with a timed reopen of its directory in a child.
    Cell {
        extra: &["--reopen-after"],
        ..beyond("disk-fillrandom/1", "fillrandom", 1, 10_000_000, 200_000)
    },
    beyond("disk-fillrandom/4", "fillrandom", 4, 2_500_000, 50_000),
    // One prep of 5 M random keys per engine, read by the five cells in
    // this order; readwhilewriting writes, so it comes last.
    beyond_read("disk-readrandom/1", "readrandom", 1, 1_000_000, 20_000),
    beyond_read("disk-readrandom/2", "readrandom", 2, 1_000_000, 20_000),
    beyond_read("disk-seekrandom/1", "seekrandom", 1, 200_000, 10_000),
    beyond_read("disk-readseq/1", "readseq", 1, 5_000_000, 100_000),
    beyond_read(
        "disk-readwhilewriting/2",
        "readwhilewriting",
        2,
        1_000_000,
        20_000,
    ),
];

/// `cargo xtask bench`: the BENCH.md matrix against the peers.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// One round with small N: a one-minute smoke of the matrix.
    #[arg(long)]
    quick: bool,
    /// Rounds per cell (default 3, or 1 with --quick).
    #[arg(long, value_name = "N")]
    runs: Option<usize>,
    /// The engines, comma-separated (tributary,leveldb,rocksdb,fjall).
    #[arg(long, value_delimiter = ',', value_name = "E,..")]
    engines: Option<Vec<String>>,
    /// Only the cells whose name starts with one of these.
    #[arg(long, value_delimiter = ',', value_name = "CELL,..")]
    only: Vec<String>,
    /// Tributary alone: no peer engine is built.
    #[arg(long)]
    no_peers: bool,
    /// Do not install the peers' Debian packages if they are missing.
    #[arg(long)]
    no_install: bool,
}

/// Options of one `cargo xtask bench`, checked.
struct Config {
    quick: bool,
    runs: usize,
    /// Whether `--runs` was given: then it holds for every cell.
    runs_given: bool,
    engines: Vec<String>,
    only: Vec<String>,
    peers: bool,
    install: bool,
}

/// Runs the benchmark matrix.
pub fn run(args: Args) -> Result<()> {
    let config = check_args(args)?;
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    if config.peers && config.install {
        ensure_peer_libraries()?;
    }
    let exe = build(&root, &cargo, config.peers)?;

    let cells: Vec<&Cell> = CELLS
        .iter()
        .filter(|c| {
            config.only.is_empty() || config.only.iter().any(|o| c.id.starts_with(o.as_str()))
        })
        .collect();
    if cells.is_empty() {
        bail!(
            "--only {:?} matches no cell; cells: {}",
            config.only,
            cell_ids()
        );
    }
    let stamp = utc_stamp(SystemTime::now());
    let results_dir = root.join("bench-results");
    std::fs::create_dir_all(&results_dir)?;
    let results_path = results_dir.join(format!("{stamp}.jsonl"));
    let mut results = std::fs::File::create(&results_path)
        .with_context(|| format!("cannot create {}", results_path.display()))?;
    let data_root = root.join("target").join("bench-data");
    let machine = machine_summary(&root);
    writeln!(
        results,
        "{{\"kind\":\"meta\",\"started\":{},\"quick\":{},\"runs\":{},\"engines\":{},\"machine\":{}}}",
        quote(&stamp),
        config.quick,
        config.runs,
        quote(&config.engines.join(",")),
        quote(&machine)
    )?;

    let plan = plan(&cells, &config);
    let rounds_note = rounds_note(&cells, &config);
    println!(
        "bench: {} runs in {} cells, {} round(s) each{rounds_note}{}; results to {}",
        plan.len(),
        cells.len(),
        config.runs,
        if config.quick { " (--quick)" } else { "" },
        results_path.display()
    );
    println!("bench: {machine}");

    let started = Instant::now();
    let mut outcomes: Vec<RunOutcome> = Vec::new();
    // Shared preps that failed, by directory: the runs that would read
    // them are skipped.
    let mut failed_preps: Vec<PathBuf> = Vec::new();
    for (idx, run) in plan.iter().enumerate() {
        let Planned {
            cell,
            variant,
            round,
            rounds,
            ..
        } = run;
        let (num, secs, prep_keys) = if config.quick {
            (cell.quick_num, cell.quick_secs, cell.quick_prep_keys)
        } else {
            (cell.num, cell.secs, cell.prep_keys)
        };
        let dir = data_root.join(&run.dir);
        let mut cmd = Command::new(&exe);
        cmd.arg("--db")
            .arg(&dir)
            .args(["--engine", &variant.engine, "--workload", &variant.workload])
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
        if prep_keys > 0 {
            cmd.args(["--prep-keys", &prep_keys.to_string()]);
        }
        if run.use_existing {
            cmd.arg("--use-existing-db");
        }
        let done = idx as f64;
        let elapsed = started.elapsed().as_secs_f64();
        let eta = if idx == 0 {
            String::new()
        } else {
            format!(
                ", ~{} left",
                mmss(elapsed / done * (plan.len() as f64 - done))
            )
        };
        print!(
            "[{:>3}/{} {}{eta}] {:<23} {:<9} round {}/{} ... ",
            idx + 1,
            plan.len(),
            mmss(elapsed),
            cell.id,
            variant.engine,
            round + 1,
            rounds
        );
        let _ = std::io::stdout().flush();
        let timeout = Duration::from_secs(if config.quick { 120 } else { 600 });
        let t0 = Instant::now();
        let res = if run.use_existing && failed_preps.contains(&dir) {
            Err(anyhow::anyhow!(
                "skipped: the run that preps its directory failed"
            ))
        } else {
            run_one(cmd, timeout)
        };
        if !run.use_existing {
            // A later round may prep the directory again.
            failed_preps.retain(|d| *d != dir);
            if res.is_err() && run.keep_dir {
                failed_preps.push(dir.clone());
            }
        }
        if !run.keep_dir {
            let _ = std::fs::remove_dir_all(&dir);
        }
        // Write back what the run left dirty, so the next run does not pay
        // for it.
        let _ = Command::new("sync").status();
        match res {
            Ok(line) => {
                let obj: Object = serde_json::from_str(&line)
                    .with_context(|| format!("the bench printed no JSON object: {line}"))?;
                println!(
                    "{:>10} ops/s  p99 {:>9}  ({:.1} s)",
                    fmt_ops(num_field(&obj, "ops_per_sec")),
                    fmt_us(num_field(&obj, "p99_us")),
                    t0.elapsed().as_secs_f64()
                );
                let tagged = format!(
                    "{},\"cell\":{},\"run\":{}}}",
                    line.trim_end().trim_end_matches('}'),
                    quote(cell.id),
                    round + 1
                );
                writeln!(results, "{tagged}")?;
                outcomes.push(RunOutcome {
                    cell: cell.id,
                    engine: variant.engine.clone(),
                    obj,
                });
            }
            Err(e) => {
                println!("FAILED: {e:#}");
                writeln!(
                    results,
                    "{{\"kind\":\"failure\",\"cell\":{},\"engine\":{},\"run\":{},\"error\":{}}}",
                    quote(cell.id),
                    quote(&variant.engine),
                    round + 1,
                    quote(&format!("{e:#}"))
                )?;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&data_root);

    let medians = medians(&cells, &config.engines, &outcomes);
    for m in &medians {
        let mut line = String::from("{");
        for (i, (k, v)) in m.obj.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            let _ = write!(line, "{}:{v}", quote(k));
        }
        let _ = write!(line, ",\"cell\":{},\"run\":\"median\"}}", quote(m.cell));
        writeln!(results, "{line}")?;
    }

    let mut report = String::new();
    let _ = writeln!(
        report,
        "cargo xtask bench{}: {} round(s) per cell{rounds_note}, medians; {} in {}\n{machine}\n",
        if config.quick { " --quick" } else { "" },
        config.runs,
        stamp,
        mmss(started.elapsed().as_secs_f64())
    );
    report.push_str(&cells_table(&cells, &medians, &config));
    report.push('\n');
    report.push_str(&fills_table(&cells, &config.engines, &medians));
    report.push('\n');
    if let Some(t) = reopen_table(&cells, &config.engines, &medians) {
        report.push_str(&t);
        report.push('\n');
    }
    if let Some(t) = beyond_tables(&cells, &config.engines, &medians) {
        report.push_str(&t);
        report.push('\n');
    }
    report.push_str(&targets_table(&config.engines, &medians));
    let svg_path = results_dir.join("fillsync.svg");
    if let Some(svg) = fillsync_svg(&config.engines, &medians, &stamp, &machine, config.quick) {
        std::fs::write(&svg_path, svg)?;
        let _ = writeln!(report, "\nfillsync curve: {}", svg_path.display());
    }
    let svg_path = results_dir.join(TIMELINE_SVG);
    if let Some(svg) = timeline_svg(&config.engines, &medians, &stamp, &machine, config.quick) {
        std::fs::write(&svg_path, svg)?;
        let _ = writeln!(
            report,
            "{TIMELINE_CELL} ops/s over time: {}",
            svg_path.display()
        );
    }
    let _ = writeln!(report, "all runs: {}", results_path.display());
    println!("\n{report}");
    std::fs::write(results_dir.join(format!("{stamp}.txt")), &report)?;
    Ok(())
}

fn check_args(args: Args) -> Result<Config> {
    let engines_given = args.engines.is_some();
    let mut config = Config {
        quick: args.quick,
        runs: args.runs.unwrap_or(if args.quick { 1 } else { 3 }),
        runs_given: args.runs.is_some(),
        engines: args
            .engines
            .unwrap_or_else(|| ENGINES.iter().map(|s| s.to_string()).collect()),
        only: args.only,
        peers: !args.no_peers,
        install: !args.no_install,
    };
    if config.runs == 0 {
        bail!("--runs must be at least 1");
    }
    for e in &config.engines {
        if !ENGINES.contains(&e.as_str()) {
            bail!("unknown engine {e:?}; engines: {}", ENGINES.join(","));
        }
    }
    if !config.peers {
        if engines_given && config.engines.iter().any(|e| e != "tributary") {
            bail!("--no-peers runs Tributary only");
        }
        config.engines = vec!["tributary".to_owned()];
    }
    config.peers = config.engines.iter().any(|e| e != "tributary");
    Ok(config)
}

fn cell_ids() -> String {
    CELLS.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Installs Debian's LevelDB and RocksDB development packages when their C
/// headers are missing.
fn ensure_peer_libraries() -> Result<()> {
    let wanted = [
        ("libleveldb-dev", "/usr/include/leveldb/c.h"),
        ("librocksdb-dev", "/usr/include/rocksdb/c.h"),
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(_, header)| !Path::new(header).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("bench: installing {} (the C++ peers)", missing.join(" "));
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let apt = |args: &[&str]| -> Result<()> {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        println!(
            "$ {}apt-get {}",
            if root { "" } else { "sudo " },
            args.join(" ")
        );
        let status = cmd.status().context("cannot start apt-get")?;
        if !status.success() {
            bail!(
                "apt-get {} failed ({status}); install {} by hand, or run with --no-peers",
                args.join(" "),
                missing.join(" ")
            );
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq"];
    install.extend(&missing);
    apt(&install)
}

/// Builds the bench binary (with the peers unless `peers` is false) and
/// returns its path.
fn build(root: &Path, cargo: &str, peers: bool) -> Result<PathBuf> {
    let target = root.join("target").join("bench");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .args([
            "build",
            "--release",
            "-p",
            "tributary-cli",
            "--bin",
            "bench",
        ]);
    if peers {
        cmd.args(["--features", "peers"]);
    }
    println!(
        "$ CARGO_TARGET_DIR={} cargo build --release -p tributary-cli --bin bench{}",
        target.display(),
        if peers { " --features peers" } else { "" }
    );
    let status = cmd.status().context("cannot start cargo")?;
    if !status.success() {
        bail!("building the bench binary failed ({status})");
    }
    Ok(target.join("release").join("bench"))
}

/// An engine (or the device) and the workload it runs in a cell.
#[derive(Clone)]
struct Variant {
    engine: String,
    workload: String,
}

fn variants(cell: &Cell, engines: &[String]) -> Vec<Variant> {
    let mut v = Vec::new();
    if let Some(device) = cell.device {
        v.push(Variant {
            engine: "device".to_owned(),
            workload: device.to_owned(),
        });
    }
    if cell.engines {
        for e in engines {
            v.push(Variant {
                engine: e.clone(),
                workload: cell.workload.to_owned(),
            });
        }
    }
    v
}

/// One run of the plan.
struct Planned<'a> {
    cell: &'a Cell,
    variant: Variant,
    round: usize,
    /// Rounds of its cell.
    rounds: usize,
    /// Its directory under `target/bench-data`.
    dir: String,
    /// Whether it reads a directory an earlier run prepped
    /// (`--use-existing-db`).
    use_existing: bool,
    /// Whether a later run reads its directory, which then stays.
    keep_dir: bool,
}

/// Rounds of `cell`: `--runs` if given, else the cell's own or the
/// default.
fn cell_rounds(cell: &Cell, config: &Config) -> usize {
    match cell.rounds {
        Some(r) if !config.runs_given => r.min(config.runs),
        _ => config.runs,
    }
}

/// What the header says about cells with fewer rounds than the others.
fn rounds_note(cells: &[&Cell], config: &Config) -> String {
    let fewer = cells
        .iter()
        .filter(|c| cell_rounds(c, config) != config.runs)
        .count();
    if fewer == 0 {
        String::new()
    } else {
        format!(
            " ({fewer} beyond-memory disk-* cell(s) that write: {BEYOND_ROUNDS} round, to fit \
             about 12 minutes; --runs N overrides)"
        )
    }
}

/// Every run, in order. A cell runs its rounds, each with every variant
/// once, in an order rotated each round. The adjacent cells of one prep
/// group run as a unit: in each round, each engine (rotated) runs those
/// of them that have that round in turn on one directory, the first
/// prepping it. The directory lasts across rounds: a round preps it again
/// only after a round in which a cell wrote to it. A cell that only reads
/// runs in the unit's first rounds, one that writes in its last, so with
/// the default rounds the readers' three rounds and the writer's one
/// share a single prep per engine.
fn plan<'a>(cells: &[&'a Cell], config: &Config) -> Vec<Planned<'a>> {
    let mut units: Vec<Vec<&'a Cell>> = Vec::new();
    for &cell in cells {
        match units.last_mut() {
            Some(unit) if cell.prep_group.is_some() && unit[0].prep_group == cell.prep_group => {
                unit.push(cell)
            }
            _ => units.push(vec![cell]),
        }
    }
    let mut plan = Vec::new();
    for unit in units {
        let first = unit[0];
        let unit_rounds = unit
            .iter()
            .map(|c| cell_rounds(c, config))
            .max()
            .unwrap_or(0);
        // The cell's own round in `round` of the unit, if it runs then: a
        // reader's rounds are the unit's first, a writer's its last.
        let round_of = |cell: &Cell, round: usize| {
            let rounds = cell_rounds(cell, config);
            let first = if workload_writes(cell.workload) {
                unit_rounds - rounds
            } else {
                0
            };
            (first..first + rounds)
                .contains(&round)
                .then(|| round - first)
        };
        let wrote_in = |round: usize| {
            unit.iter()
                .any(|c| workload_writes(c.workload) && round_of(c, round).is_some())
        };
        let n = variants(first, &config.engines).len();
        let start = plan.len();
        for round in 0..unit_rounds {
            // Only a group's runs share a directory across rounds.
            let fresh = first.prep_group.is_none() || round == 0 || wrote_in(round - 1);
            for i in 0..n {
                let engine = variants(first, &config.engines)[(i + round) % n]
                    .engine
                    .clone();
                let dir = format!(
                    "{}-{engine}",
                    first.prep_group.unwrap_or(first.id).replace('/', "-"),
                );
                let cells = unit.iter().filter_map(|&c| Some((c, round_of(c, round)?)));
                for (j, (cell, own_round)) in cells.enumerate() {
                    // The cells of a group have the same engines, and no
                    // device.
                    let variant = variants(cell, &config.engines)[(i + round) % n].clone();
                    debug_assert_eq!(variant.engine, engine);
                    plan.push(Planned {
                        cell,
                        variant,
                        round: own_round,
                        rounds: cell_rounds(cell, config),
                        dir: dir.clone(),
                        use_existing: j > 0 || !fresh,
                        keep_dir: true,
                    });
                }
            }
        }
        // A directory stays until its last run, or its next prep.
        let runs = &mut plan[start..];
        for k in 0..runs.len() {
            let next = runs[k + 1..].iter().find(|r| r.dir == runs[k].dir);
            runs[k].keep_dir = next.is_some_and(|r| r.use_existing);
        }
    }
    plan
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

/// The runs of one cell by one engine.
struct RunOutcome {
    cell: &'static str,
    engine: String,
    obj: Object,
}

/// The median of a cell's runs by one engine.
struct Median {
    cell: &'static str,
    engine: String,
    obj: Object,
}

/// Per cell and engine, the median of each numeric field over the runs
/// (the upper median for an even count); other fields from the first run.
fn medians(cells: &[&Cell], engines: &[String], outcomes: &[RunOutcome]) -> Vec<Median> {
    let mut out = Vec::new();
    for cell in cells {
        for engine in variants(cell, engines).into_iter().map(|v| v.engine) {
            let runs: Vec<&Object> = outcomes
                .iter()
                .filter(|o| o.cell == cell.id && o.engine == engine)
                .map(|o| &o.obj)
                .collect();
            let Some(first) = runs.first() else { continue };
            let mut obj = (*first).clone();
            for (key, value) in obj.iter_mut() {
                if value.is_u64() {
                    // Counts stay integers.
                    let mut xs: Vec<u64> =
                        runs.iter().filter_map(|r| r.get(key)?.as_u64()).collect();
                    xs.sort_unstable();
                    *value = Value::from(xs[xs.len() / 2]);
                } else if value.is_number() {
                    let mut xs: Vec<f64> =
                        runs.iter().filter_map(|r| r.get(key)?.as_f64()).collect();
                    xs.sort_by(f64::total_cmp);
                    *value = Value::from(xs[xs.len() / 2]);
                }
            }
            obj.insert("runs".to_owned(), Value::from(runs.len()));
            out.push(Median {
                cell: cell.id,
                engine,
                obj,
            });
        }
    }
    out
}

fn find<'a>(medians: &'a [Median], cell: &str, engine: &str) -> Option<&'a Object> {
    medians
        .iter()
        .find(|m| m.cell == cell && m.engine == engine)
        .map(|m| &m.obj)
}

fn num_field(obj: &Object, key: &str) -> Option<f64> {
    obj.get(key).and_then(Value::as_f64)
}

/// Every cell and engine: throughput, latency, CPU and group commit.
fn cells_table(cells: &[&Cell], medians: &[Median], config: &Config) -> String {
    let engines = &config.engines;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<23} {:<9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>6} {:>8} {:>7}  notes",
        "cell", "engine", "ops/s", "p50", "p99", "p99.9", "max", "cpu%", "fsync/s", "w/group",
    );
    for cell in cells {
        for (i, engine) in variants(cell, engines)
            .into_iter()
            .map(|v| v.engine)
            .enumerate()
        {
            let Some(obj) = find(medians, cell.id, &engine) else {
                let _ = writeln!(
                    s,
                    "{:<23} {:<9} {:>10}",
                    if i == 0 { cell.id } else { "" },
                    engine,
                    "FAILED"
                );
                continue;
            };
            let f = |k: &str| num_field(obj, k);
            let mut notes = Vec::new();
            if let Some(mb) = f("mb_per_sec").filter(|_| cell.workload == "rawseq") {
                notes.push(format!("{mb:.0} MB/s"));
            }
            if let Some(h) = f("hit_rate") {
                notes.push(format!("hit rate {h:.3}"));
            }
            if let Some(n) = f("big_batches") {
                notes.push(format!(
                    "{n:.0} big batches, slowest {:.0} ms",
                    f("big_batch_max_ms").unwrap_or(0.0)
                ));
            }
            if let Some(w) = f("writer_ops_per_sec") {
                notes.push(format!("writer {} ops/s", fmt_ops(Some(w))));
            }
            let runs = f("runs").unwrap_or(0.0);
            let rounds = cell_rounds(cell, config);
            if (runs as usize) < rounds {
                notes.push(format!("only {runs:.0} of {rounds} runs succeeded"));
            }
            let _ = writeln!(
                s,
                "{:<23} {:<9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>6} {:>8} {:>7}  {}",
                if i == 0 { cell.id } else { "" },
                engine,
                fmt_ops(f("ops_per_sec")),
                fmt_us(f("p50_us")),
                fmt_us(f("p99_us")),
                fmt_us(f("p999_us")),
                fmt_us(f("max_us")),
                f("cpu_pct").map_or("-".to_owned(), |c| format!("{c:.0}")),
                f("fsyncs_per_sec").map_or("-".to_owned(), |c| format!("{c:.0}")),
                f("mean_group").map_or("-".to_owned(), |c| format!("{c:.1}")),
                notes.join("; ")
            );
        }
    }
    s
}

/// The targets of BENCH.md, with Tributary's ratio to each peer.
fn targets_table(engines: &[String], medians: &[Median]) -> String {
    let peers: Vec<&String> = engines.iter().filter(|e| *e != "tributary").collect();
    let mut s = String::new();
    let _ = write!(s, "{:<23} {:>10}", "cell", "tributary");
    for p in &peers {
        let _ = write!(s, "  {:>19}", format!("vs {p}"));
    }
    let _ = writeln!(s, "  target");
    let ops = |cell: &str, engine: &str| {
        find(medians, cell, engine).and_then(|o| num_field(o, "ops_per_sec"))
    };
    let p99 =
        |cell: &str, engine: &str| find(medians, cell, engine).and_then(|o| num_field(o, "p99_us"));
    let mut cell_ids: Vec<&str> = medians.iter().map(|m| m.cell).collect();
    cell_ids.dedup();
    for cell in cell_ids {
        if cell.starts_with("rawseq") {
            continue;
        }
        let trib = ops(cell, "tributary");
        let _ = write!(s, "{:<23} {:>10}", cell, fmt_ops(trib));
        for p in &peers {
            let text = match (trib, ops(cell, p), p99(cell, "tributary"), p99(cell, p)) {
                (Some(t), Some(o), Some(tp), Some(op)) if o > 0.0 && tp > 0.0 => {
                    format!("{:.2}x ops {:.2}x p99", t / o, op / tp)
                }
                _ => "-".to_owned(),
            };
            let _ = write!(s, "  {text:>19}");
        }
        let _ = writeln!(s, "  {}", target_text(cell, medians, &peers));
    }
    let _ = writeln!(
        s,
        "\n`Nx ops` is Tributary's ops/s over the peer's; `Nx p99` is the peer's p99 over \
         Tributary's (above 1: Tributary's tail is shorter)."
    );
    s
}

/// BENCH.md's target for `cell`, the measured value, and whether it is met.
fn target_text(cell: &str, medians: &[Median], peers: &[&String]) -> String {
    let ops = |c: &str, e: &str| find(medians, c, e).and_then(|o| num_field(o, "ops_per_sec"));
    let Some(trib) = ops(cell, "tributary") else {
        return "-".to_owned();
    };
    let verdict = |ratio: f64, goal: f64, what: &str| {
        format!(
            ">= {goal}x {what}: {ratio:.2}x {}",
            if ratio >= goal { "MET" } else { "MISSED" }
        )
    };
    let vs_leveldb = |goal: f64| match ops(cell, "leveldb") {
        Some(l) if l > 0.0 => verdict(trib / l, goal, "leveldb"),
        _ => format!(">= {goal}x leveldb: no leveldb run"),
    };
    let vs_best_peer = |goal: f64| {
        let best = peers
            .iter()
            .filter_map(|p| ops(cell, p).map(|o| (o, p.as_str())))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        match best {
            Some((o, name)) if o > 0.0 => verdict(trib / o, goal, &format!("best peer ({name})")),
            _ => "-".to_owned(),
        }
    };
    match cell {
        "disk-fillrandom/1" => [
            vs_leveldb(1.3),
            tail_target(cell, medians),
            reopen_target(cell, medians),
        ]
        .join("; "),
        "disk-fillrandom/4" => vs_best_peer(1.3),
        "disk-readrandom/1" | "disk-readrandom/2" => vs_leveldb(1.2),
        "disk-readwhilewriting/2" => {
            let writer =
                |e: &str| find(medians, cell, e).and_then(|o| num_field(o, "writer_ops_per_sec"));
            let writer_text = match (writer("tributary"), writer("leveldb")) {
                (Some(t), Some(l)) if l > 0.0 => verdict(t / l, 1.0, "leveldb's writer"),
                _ => ">= 1.0x leveldb's writer: no leveldb run".to_owned(),
            };
            format!("readers {}; writer {writer_text}", vs_leveldb(1.3))
        }
        "disk-seekrandom/1" | "disk-readseq/1" => vs_leveldb(1.0),
        "fillsync/1" => match ops(cell, "device") {
            Some(d) if d > 0.0 => verdict(trib / d, 0.9, "raw append+fdatasync"),
            _ => "-".to_owned(),
        },
        "fillsync/16" | "fillsync/64" => vs_leveldb(1.5),
        "fillseq/1" | "fillrandom/1" | "fillbatch/1" | "readrandom/1" | "readrandom/2" => {
            vs_leveldb(1.0)
        }
        "fillrandom/4" | "fillrandom/16" => vs_best_peer(1.3),
        "reopen/1" => reopen_target(cell, medians),
        "bigbatch/16" => {
            let p99 = |c: &str, e: &str| find(medians, c, e).and_then(|o| num_field(o, "p99_us"));
            let mut text = match (p99(cell, "tributary"), p99("fillsync/16", "tributary")) {
                (Some(with), Some(without)) if without > 0.0 => {
                    let r = with / without;
                    format!(
                        "p99 with/without a 64 MiB batch <= 3x: {r:.2}x {}",
                        if r <= 3.0 { "MET" } else { "MISSED" }
                    )
                }
                _ => "p99 with/without <= 3x: no fillsync/16 run".to_owned(),
            };
            let others: Vec<String> = peers
                .iter()
                .filter_map(|p| match (p99(cell, p), p99("fillsync/16", p)) {
                    (Some(w), Some(wo)) if wo > 0.0 => Some(format!("{p} {:.2}x", w / wo)),
                    _ => None,
                })
                .collect();
            if !others.is_empty() {
                let _ = write!(text, " (peers: {})", others.join(", "));
            }
            text
        }
        _ => "-".to_owned(),
    }
}

/// Workloads whose JSON line has the write-amplification fields (a fill in
/// the timed phase, in the prep, or by a side writer).
const FILL_WORKLOADS: &[&str] = &[
    "fillseq",
    "fillrandom",
    "fillsync",
    "fillbatch",
    "readrandom",
    "seekrandom",
    "readseq",
    "readwhilewriting",
    "reopen",
];

/// The cell whose throughput over time is drawn, and where.
const TIMELINE_CELL: &str = "disk-fillrandom/1";
const TIMELINE_SVG: &str = "fillrandom-10m.svg";

/// How many write buffers of anonymous memory after a reopen count as "a
/// few" (issue #13's target).
const REOPEN_WRITE_BUFFERS: f64 = 4.0;

/// Mebibytes, one decimal.
fn fmt_mib(bytes: Option<f64>) -> String {
    bytes.map_or("-".to_owned(), |b| format!("{:.1}", b / 1048576.0))
}

/// `files_per_level` as `4/1/1`, trailing empty levels left out.
fn fmt_levels(obj: &Object) -> String {
    let Some(levels) = obj.get("files_per_level").and_then(Value::as_array) else {
        return "-".to_owned();
    };
    let mut n: Vec<u64> = levels.iter().filter_map(Value::as_u64).collect();
    while n.len() > 1 && n.last() == Some(&0) {
        n.pop();
    }
    n.iter().map(u64::to_string).collect::<Vec<_>>().join("/")
}

/// Every fill (and prep) cell and engine: bytes written, write
/// amplification, and files per level at the end of the timed phase
/// (before close).
fn fills_table(cells: &[&Cell], engines: &[String], medians: &[Median]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<23} {:<9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  files per level",
        "cell", "engine", "user MiB", "jrnl MiB", "tbl MiB", "io MiB", "w-amp", "io-amp",
    );
    for cell in cells
        .iter()
        .filter(|c| FILL_WORKLOADS.contains(&c.workload))
    {
        let mut first = true;
        for engine in engines {
            let Some(obj) = find(medians, cell.id, engine) else {
                continue;
            };
            let f = |k: &str| num_field(obj, k);
            // A read cell on a prep an earlier cell wrote wrote nothing.
            if f("user_bytes") == Some(0.0) {
                continue;
            }
            let _ = writeln!(
                s,
                "{:<23} {:<9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  {}",
                if std::mem::take(&mut first) {
                    cell.id
                } else {
                    ""
                },
                engine,
                fmt_mib(f("user_bytes")),
                fmt_mib(f("journal_bytes")),
                fmt_mib(f("table_bytes")),
                fmt_mib(f("io_bytes")),
                f("write_amp").map_or("-".to_owned(), |w| format!("{w:.2}")),
                f("io_write_amp").map_or("-".to_owned(), |w| format!("{w:.2}")),
                fmt_levels(obj)
            );
        }
    }
    let _ = writeln!(
        s,
        "\nAt the end of the timed phase, before close (readrandom: after its prep and settle; \
         reopen: its prep; the disk-read cells: the first one's prep, then readwhilewriting's \
         writer; cells that wrote nothing are left out). w-amp = (journal + table bytes) / user bytes: journal bytes are \
         Tributary's Stats::journal_bytes_written, and for LevelDB and RocksDB (only with one \
         writer) modelled from the records and calls, table bytes are Tributary's Stats::table_bytes_written and \
         LevelDB's leveldb.stats Write(MB) (whole MiB per level). io-amp = bytes the process \
         passed to write(2) (/proc/self/io wchar, from before open) / user bytes, for every \
         engine alike."
    );
    s
}

/// Whether `cell` reports a timed reopen: the `reopen` workload, or a fill
/// with `--reopen-after`.
fn reopens(cell: &Cell) -> bool {
    cell.workload == "reopen" || cell.extra.contains(&"--reopen-after")
}

/// The reopen of each cell that times one, every engine beside the others,
/// if any ran.
fn reopen_table(cells: &[&Cell], engines: &[String], medians: &[Median]) -> Option<String> {
    let reopening: Vec<&&Cell> = cells.iter().filter(|c| reopens(c)).collect();
    let first = reopening.first()?;
    let trib_wb =
        find(medians, first.id, "tributary").and_then(|o| num_field(o, "write_buffer_bytes"));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<23} {:<9} {:>10} {:>10} {:>11} {:>11} {:>9} {:>9}  files at reopen",
        "reopen", "engine", "reopen", "open", "RssAnon pre", "RssAnon", "+RssAnon", "/w-buf",
    );
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{:.1} ms", x * 1e3));
    let kib = |v: Option<f64>| v.map_or("-".to_owned(), |k| format!("{:.1} MiB", k / 1024.0));
    for cell in &reopening {
        for (i, engine) in engines.iter().enumerate() {
            let id = if i == 0 { cell.id } else { "" };
            let Some(obj) = find(medians, cell.id, engine) else {
                let _ = writeln!(s, "{id:<23} {engine:<9} {:>10}", "FAILED");
                continue;
            };
            let f = |k: &str| num_field(obj, k);
            let (before, after) = (f("rss_anon_before_kib"), f("rss_anon_kib"));
            // After the open over the engine's own write buffer, or
            // Tributary's.
            let wb = f("write_buffer_bytes").or(trib_wb);
            let _ = writeln!(
                s,
                "{id:<23} {:<9} {:>10} {:>10} {:>11} {:>11} {:>9} {:>9}  {}",
                engine,
                ms(f("reopen_secs")),
                ms(f("open_secs")),
                kib(before),
                kib(after),
                kib(after.zip(before).map(|(a, b)| a - b)),
                after
                    .zip(wb)
                    .map_or("-".to_owned(), |(a, w)| format!("{:.2}x", a * 1024.0 / w)),
                fmt_levels(obj)
            );
        }
    }
    let _ = writeln!(
        s,
        "\nreopen = open + one get, timed in a fresh child process after the fill and close \
         (reopen/1: an untimed fillrandom of N keys; disk-fillrandom/1: the cell's timed \
         fill); RssAnon (/proc/self/status) in that child before the open (pre) and right \
         after it; /w-buf = RssAnon after / the engine's default write buffer (tributary {}, \
         leveldb 4 MiB, rocksdb 64 MiB; fjall's: Tributary's); files at the end of the fill, \
         before close.",
        fmt_mib(trib_wb).trim().to_owned() + " MiB"
    );
    Some(s)
}

/// The beyond-memory cells (`disk-*`), one table per engine: throughput,
/// the tail, write amplification, stalls and the files at the end.
fn beyond_tables(cells: &[&Cell], engines: &[String], medians: &[Median]) -> Option<String> {
    let beyond: Vec<&&Cell> = cells.iter().filter(|c| c.id.starts_with("disk-")).collect();
    if beyond.is_empty() {
        return None;
    }
    let mut s = String::new();
    for engine in engines {
        let _ = writeln!(s, "beyond memory: {engine}");
        let _ = writeln!(
            s,
            "  {:<23} {:>10} {:>9} {:>9} {:>6} {:>6} {:>13} {:>9}  {:<17} notes",
            "cell",
            "ops/s",
            "p99.9",
            "max",
            "w-amp",
            "io-amp",
            "stalls (s/s)",
            "stall time",
            "files per level",
        );
        for cell in &beyond {
            let Some(obj) = find(medians, cell.id, engine) else {
                let _ = writeln!(s, "  {:<23} {:>10}", cell.id, "FAILED");
                continue;
            };
            let f = |k: &str| num_field(obj, k);
            let stalls = match (f("stalls"), f("stall_slowdowns"), f("stall_stops")) {
                (Some(n), Some(slow), Some(stop)) => format!("{n:.0} ({slow:.0}/{stop:.0})"),
                _ => "-".to_owned(),
            };
            let stall_time = f("stall_secs").map_or("-".to_owned(), |t| fmt_us(Some(t * 1e6)));
            let mut notes = Vec::new();
            if let Some(w) = f("writer_ops_per_sec") {
                notes.push(format!("writer {} ops/s", fmt_ops(Some(w))));
            }
            if let Some(r) = f("reopen_secs") {
                let rss = f("rss_anon_kib").map_or(String::new(), |k| {
                    format!(", RssAnon {:.1} MiB", k / 1024.0)
                });
                notes.push(format!("reopen {:.1} ms{rss}", r * 1e3));
            }
            if let Some(h) = f("hit_rate") {
                notes.push(format!("hit rate {h:.3}"));
            }
            let levels = match (fmt_levels(obj).as_str(), f("table_files")) {
                ("-", Some(n)) => format!("{n:.0} in all"),
                (levels, _) => levels.to_owned(),
            };
            let amp = |k: &str| f(k).map_or("-".to_owned(), |w| format!("{w:.2}"));
            let _ = writeln!(
                s,
                "  {:<23} {:>10} {:>9} {:>9} {:>6} {:>6} {:>13} {:>9}  {:<17} {}",
                cell.id,
                fmt_ops(f("ops_per_sec")),
                fmt_us(f("p999_us")),
                fmt_us(f("max_us")),
                amp("write_amp"),
                amp("io_write_amp"),
                stalls,
                stall_time,
                levels,
                notes.join("; ")
            );
        }
    }
    let _ = writeln!(
        s,
        "\nBeyond memory: {BEYOND_ROUNDS} round per writing cell and {BEYOND_READ_ROUNDS} per read \
         cell on one prep, unless --runs says otherwise. w-amp and \
         io-amp as in the write-amplification table (the read cells: what this run wrote, \
         only the first read cell's prep and readwhilewriting's writer; - when nothing). \
         stalls = write stalls in the timed phase (slowdowns/stops) and their time: \
         Tributary's Stats write_slowdowns, write_stops, write_stall_time; RocksDB's \
         rocksdb.stats Stalls(count), stall conditions entered (counted per flush or \
         compaction, not per write), and Cumulative stall; - where the engine counts none \
         (LevelDB, fjall). Files per level at the end of the timed phase (fjall: tables in \
         all)."
    );
    Some(s)
}

/// BENCH.md's tail target: Tributary's p99.9 no higher than LevelDB's.
fn tail_target(cell: &str, medians: &[Median]) -> String {
    let p999 = |e: &str| find(medians, cell, e).and_then(|o| num_field(o, "p999_us"));
    match (p999("tributary"), p999("leveldb")) {
        (Some(t), Some(l)) => format!(
            "p99.9 <= leveldb's: {} vs {} {}",
            fmt_us(Some(t)),
            fmt_us(Some(l)),
            if t <= l { "MET" } else { "MISSED" }
        ),
        _ => "p99.9 <= leveldb's: no leveldb run".to_owned(),
    }
}

/// Issue #13's reopen target: Tributary's reopen no slower than LevelDB's,
/// and its RssAnon after it within a few write buffers.
fn reopen_target(cell: &str, medians: &[Median]) -> String {
    let get = |e: &str, k: &str| find(medians, cell, e).and_then(|o| num_field(o, k));
    let mut parts = Vec::new();
    match (
        get("tributary", "reopen_secs"),
        get("leveldb", "reopen_secs"),
    ) {
        (Some(t), Some(l)) if t > 0.0 => parts.push(format!(
            "reopen <= leveldb's: {:.1} vs {:.1} ms {}",
            t * 1e3,
            l * 1e3,
            if t <= l { "MET" } else { "MISSED" }
        )),
        _ => parts.push("reopen <= leveldb's: no leveldb run".to_owned()),
    }
    if let Some(r) = get("tributary", "rss_anon_write_buffers") {
        parts.push(format!(
            "RssAnon <= {REOPEN_WRITE_BUFFERS} write buffers: {r:.2} {}",
            if r <= REOPEN_WRITE_BUFFERS {
                "MET"
            } else {
                "MISSED"
            }
        ));
    }
    parts.join("; ")
}

/// The fillsync curve from the medians, if any fillsync cell ran.
fn fillsync_svg(
    engines: &[String],
    medians: &[Median],
    stamp: &str,
    machine: &str,
    quick: bool,
) -> Option<String> {
    let series: Vec<svg::Series> = engines
        .iter()
        .map(|e| svg::Series {
            engine: e.clone(),
            points: medians
                .iter()
                .filter(|m| m.engine == *e && m.cell.starts_with("fillsync/"))
                .filter_map(|m| {
                    Some((
                        num_field(&m.obj, "threads")?,
                        num_field(&m.obj, "ops_per_sec")?,
                    ))
                })
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    if series.is_empty() {
        return None;
    }
    let device = find(medians, "fillsync/1", "device").and_then(|o| num_field(o, "ops_per_sec"));
    let subtitle = format!(
        "{stamp}{}, medians; {machine}",
        if quick { " (--quick)" } else { "" }
    );
    Some(svg::fillsync(&series, device, &subtitle))
}

/// [`TIMELINE_CELL`]'s throughput over time, one line per engine, if it
/// ran: each interval's ops as ops per second, at the interval's end.
fn timeline_svg(
    engines: &[String],
    medians: &[Median],
    stamp: &str,
    machine: &str,
    quick: bool,
) -> Option<String> {
    let mut num = None;
    let series: Vec<svg::Series> = engines
        .iter()
        .filter_map(|e| {
            let obj = find(medians, TIMELINE_CELL, e)?;
            let interval_ms = num_field(obj, "interval_ms").filter(|ms| *ms > 0.0)?;
            num = num.or(num_field(obj, "num"));
            let points = obj
                .get("ops_per_interval")?
                .as_array()?
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    let secs = (i + 1) as f64 * interval_ms / 1e3;
                    Some((secs, n.as_f64()? * 1e3 / interval_ms))
                })
                .collect();
            Some(svg::Series {
                engine: e.clone(),
                points,
            })
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    if series.is_empty() {
        return None;
    }
    let title = format!(
        "fillrandom: {} random puts by one thread, ops/s per 100 ms",
        num.map_or("?".to_owned(), svg::si)
    );
    let subtitle = format!(
        "{TIMELINE_CELL}, {stamp}{}, one run; {machine}",
        if quick { " (--quick)" } else { "" }
    );
    Some(svg::timeline(&title, &series, &subtitle))
}

fn fmt_ops(v: Option<f64>) -> String {
    match v {
        Some(x) if x >= 100.0 => group_thousands(x.round() as u64),
        Some(x) => format!("{x:.1}"),
        None => "-".to_owned(),
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds, shown in the unit that keeps them short.
fn fmt_us(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(us) if us >= 10_000.0 => format!("{:.0} ms", us / 1e3),
        Some(us) if us >= 1_000.0 => format!("{:.1} ms", us / 1e3),
        Some(us) if us >= 100.0 => format!("{us:.0} us"),
        Some(us) => format!("{us:.1} us"),
    }
}

fn mmss(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// One line about the machine and the commit, for the results.
fn machine_summary(root: &Path) -> String {
    let cmd = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "?".to_owned())
    };
    format!(
        "{} cores, Linux {}, commit {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cmd("uname", &["-r"]),
        cmd("git", &["rev-parse", "--short", "HEAD"])
    )
}

/// `YYYYMMDD-HHMMSS` in UTC.
fn utc_stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_numbers() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(utc_stamp(t), "20231114-221320");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(fmt_us(Some(12_345.0)), "12 ms");
        assert_eq!(mmss(125.0), "2:05");
    }

    #[test]
    fn levels_and_reopen_target() {
        let line =
            r#"{"files_per_level":[5,1,0,0],"reopen_secs":0.03,"rss_anon_write_buffers":2.4}"#;
        let obj: Object = serde_json::from_str(line).unwrap();
        assert_eq!(fmt_levels(&obj), "5/1");
        let leveldb: Object = serde_json::from_str(r#"{"reopen_secs":0.06}"#).unwrap();
        let medians = vec![
            Median {
                cell: "reopen/1",
                engine: "tributary".to_owned(),
                obj,
            },
            Median {
                cell: "reopen/1",
                engine: "leveldb".to_owned(),
                obj: leveldb,
            },
        ];
        let text = reopen_target("reopen/1", &medians);
        assert!(text.contains("30.0 vs 60.0 ms MET"), "{text}");
        assert!(text.contains("2.40 MET"), "{text}");
        let cells: Vec<&Cell> = CELLS.iter().collect();
        let table = reopen_table(&cells, &["tributary".to_owned()], &medians).unwrap();
        assert!(table.contains("30.0 ms"), "{table}");
        assert!(fills_table(&cells, &["tributary".to_owned()], &medians).contains("5/1"));
    }

    #[test]
    fn a_prep_group_runs_as_a_unit_per_engine() {
        // The cells of a group are adjacent, with one prep.
        for (i, c) in CELLS.iter().enumerate() {
            let Some(group) = c.prep_group else { continue };
            let prev = i.checked_sub(1).map(|j| &CELLS[j]);
            if prev.is_some_and(|p| p.prep_group == Some(group)) {
                assert_eq!(prev.unwrap().prep_keys, c.prep_keys, "{}", c.id);
            } else {
                assert!(!CELLS[i + 1..]
                    .iter()
                    .skip_while(|d| d.prep_group == Some(group))
                    .any(|d| d.prep_group == Some(group)));
            }
        }
        let config = |runs: usize, runs_given: bool| Config {
            quick: false,
            runs,
            runs_given,
            engines: vec!["tributary".to_owned(), "leveldb".to_owned()],
            only: Vec::new(),
            peers: true,
            install: false,
        };
        let cells: Vec<&Cell> = CELLS
            .iter()
            .filter(|c| c.prep_group == Some("disk-read") || c.id == "readrandom/1")
            .collect();
        let default = config(3, false);
        let plan_of = |config: &Config| plan(&cells, config);
        let plan = plan_of(&default);
        // readrandom/1: 3 rounds of 2 engines. The group: its four readers
        // 3 rounds of 2 engines, its writer 1 round, last.
        assert_eq!(plan.len(), 6 + 3 * 2 * 4 + 2);
        assert!(plan[..6].iter().all(|r| !r.use_existing && !r.keep_dir));
        let group = &plan[6..];
        assert!(group.iter().all(|r| r.variant.workload == r.cell.workload));
        for engine in ["tributary", "leveldb"] {
            let runs: Vec<&Planned> = group
                .iter()
                .filter(|r| r.variant.engine == engine)
                .collect();
            assert_eq!(runs.len(), 3 * 4 + 1);
            // One prep, by the first; the directory goes after the last.
            assert!(!runs[0].use_existing);
            assert!(runs[1..].iter().all(|r| r.use_existing));
            assert!(runs.iter().all(|r| r.dir == format!("disk-read-{engine}")));
            assert!(runs[..runs.len() - 1].iter().all(|r| r.keep_dir));
            let last = runs.last().unwrap();
            assert!(!last.keep_dir);
            assert_eq!(last.cell.workload, "readwhilewriting");
            assert_eq!((last.round, last.rounds), (0, BEYOND_ROUNDS));
            for (k, run) in runs[..12].iter().enumerate() {
                assert_eq!((run.round, run.rounds), (k / 4, BEYOND_READ_ROUNDS), "{k}");
                assert!(!workload_writes(run.cell.workload));
            }
        }
        // With --runs 3 the writer runs every round, so every round preps
        // afresh.
        let given = plan_of(&config(3, true));
        assert_eq!(given.len(), 6 + 3 * 2 * 5);
        for (k, run) in given[6..].iter().enumerate() {
            assert_eq!(run.use_existing, k % 5 != 0, "{k}");
            assert_eq!(run.keep_dir, k % 5 != 4, "{k}");
            assert_eq!(run.round, k / 10, "{k}");
        }
        // One round (--quick): one prep, five cells, per engine.
        assert_eq!(plan_of(&config(1, false)).len(), 2 + 2 * 5);
        assert!(rounds_note(&cells, &default).contains("1 beyond-memory"));
    }

    #[test]
    fn beyond_targets() {
        let line = |s: &str| -> Object { serde_json::from_str(s).unwrap() };
        let median = |engine: &str, obj: Object| Median {
            cell: "disk-readwhilewriting/2",
            engine: engine.to_owned(),
            obj,
        };
        let medians = vec![
            median(
                "tributary",
                line(
                    r#"{"ops_per_sec":260.0,"writer_ops_per_sec":90.0,"stalls":3,"stall_slowdowns":2,"stall_stops":1,"stall_secs":0.5}"#,
                ),
            ),
            median(
                "leveldb",
                line(r#"{"ops_per_sec":200.0,"writer_ops_per_sec":100.0}"#),
            ),
        ];
        let peers = ["leveldb".to_owned()];
        let text = target_text(
            "disk-readwhilewriting/2",
            &medians,
            &peers.iter().collect::<Vec<_>>(),
        );
        assert_eq!(
            text,
            "readers >= 1.3x leveldb: 1.30x MET; writer >= 1x leveldb's writer: 0.90x MISSED"
        );
        let cells: Vec<&Cell> = CELLS.iter().collect();
        let engines = ["tributary".to_owned(), "leveldb".to_owned()];
        let tables = beyond_tables(&cells, &engines, &medians).unwrap();
        assert!(tables.contains("3 (2/1)"), "{tables}");
        assert!(tables.contains("writer 90.0 ops/s"), "{tables}");
    }

    #[test]
    fn every_cell_is_reachable_by_only() {
        for c in CELLS {
            assert!(c.num >= c.quick_num && c.secs >= c.quick_secs);
            assert!(c.id.contains('/'));
        }
    }
}

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
//! 3. Runs the matrix of [`CELLS`](cells::CELLS): in each cell every
//!    engine runs once per round, in an order rotated each round (engines
//!    interleaved), in a fresh directory under `target/bench-data`,
//!    `--runs` rounds (3; 1 with `--quick`), and the median of each number
//!    is kept. The device limits are measured by the same binary: `rawsync`
//!    (100-byte append + `fdatasync`) runs interleaved in the 1-thread
//!    fillsync cell, and `rawseq` (sequential bandwidth) is a cell of its
//!    own.
//! 4. Writes every JSON line (each run, tagged with `cell` and `run`, then
//!    the medians with `"run":"median"`) to `bench-results/<UTC time>.jsonl`,
//!    prints the table of every cell, the table of write amplification,
//!    files per level and bytes on disk of each fill (and prep) cell, the
//!    reopen time and `RssAnon` of `reopen/1` and `disk-fillrandom/1`
//!    beside the peers', LevelDB's and Tributary's opens of a LevelDB
//!    directory (`open-leveldb/1`), one table per engine of the
//!    beyond-memory cells, the settled fills (write amplification through
//!    fill and settle, settled files per level, space over live data,
//!    stall share), and the table of
//!    BENCH.md's and issues #13's and #27's targets (all saved as
//!    `bench-results/<UTC time>.txt`), and draws the fillsync curve to
//!    `bench-results/fillsync.svg` (with Tributary's line unpipelined, run
//!    as the pseudo-engine `unpipelined` in each fillsync round) and
//!    `disk-fillrandom/1`'s ops/s per
//!    100 ms, one line per engine (stall storms show as dips), to
//!    `bench-results/fillrandom-10m.svg`.
//!
//! The beyond-memory cells (BENCH.md "Beyond memory", ids `disk-*`, so
//! `--only disk` runs them alone) hold data well past every write buffer:
//! `disk-fillrandom/1` (10 M puts, then a timed reopen of the directory in
//! a child, `--reopen-after`), `disk-fillrandom/4` (4 x 2.5 M),
//! `disk-fill5m/1` and `/4` (5 M puts, one thread or four), `disk-fill20m/1`
//! (20 M puts), `disk-budget20m/1` (20 M puts by Tributary with RocksDB's
//! default sizes, `--tributary-options rocksdb-budget`, against RocksDB
//! alone), each fill then settled (`--settle-after`: the directory opened
//! again and left until the engine writes nothing for 3 s, so that write
//! amplification counts the backlog a fill leaves; issue #28), and five
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
//! Every cell above runs every engine with compression off (LevelDB's and
//! RocksDB's `*_no_compression`, fjall's policies disabled, Tributary's
//! `Compression::None`): their values do not compress. The cells of
//! compressible values (BENCH.md "Settled, at scale, compressed"; ids
//! `compressed-*`) pass `--compressible`: values from db_bench's
//! compressible generator (INTEROP.md §6), every engine at its default
//! compression (Snappy; fjall LZ4). `compressed-fillrandom/1` is 10 M puts
//! (targets: >= 1.3x LevelDB, and bytes on disk after the close no more
//! than LevelDB's), then settled as the `--settle-after` fills are, so
//! that the target line gives the settled bytes beside the close's: at
//! the close they count the compaction the fill left behind, which grows
//! with its speed. `compressed-readrandom/1` is 1 M gets on a 5 M-key
//! prep of its own (three rounds on one prep, >= 1.2x LevelDB). The open
//! cell `open-leveldb/1` runs Tributary alone, and only when LevelDB is
//! among the engines: in each run, C++ LevelDB fills 5 M random keys
//! (compressible, its defaults), untimed; the directory is copied twice,
//! and LevelDB's reopen of one copy and Tributary's open of the other
//! (its conversion included) are timed, each in a fresh child (target:
//! Tributary's no slower). These three add about 7 minutes (estimated from
//! the beyond-memory cells' times: the fills, the 5 M-key prep and its
//! compaction per engine, LevelDB's 5 M puts).
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
//!
//! The files by job, each using only this module and those before it:
//! [`format`](mod@format) (numbers and times as text), [`cells`] (the
//! matrix and its engines), [`setup`] (the peers' packages, the build,
//! the machine), [`plan`] (which run comes when, on which directory),
//! [`results`] (the `.jsonl` file), [`run`](mod@run) (one bench process
//! per planned run), [`medians`], [`svg`] and [`charts`] (the SVG files),
//! [`targets`] (BENCH.md's goals) and [`report`] (the tables, printed and
//! saved).

mod cells;
mod charts;
mod format;
mod medians;
mod plan;
mod report;
mod results;
mod run;
mod setup;
mod svg;
mod targets;

use anyhow::{bail, Result};
use cells::{Cell, ENGINES};
use results::Results;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

/// One run's JSON line, a flat object.
type Object = serde_json::Map<String, Value>;

/// The number at `key` of a JSON line, if there is one.
fn num_field(obj: &Object, key: &str) -> Option<f64> {
    obj.get(key).and_then(Value::as_f64)
}

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
    /// `--quick`: the cells' small sizes.
    quick: bool,
    /// Rounds per cell: `--runs`, or the default.
    runs: usize,
    /// Whether `--runs` was given: then it holds for every cell.
    runs_given: bool,
    /// The engines that run, of [`ENGINES`].
    engines: Vec<String>,
    /// `--only`: prefixes of the cells to run (empty: all).
    only: Vec<String>,
    /// Whether a peer engine runs, so the binary is built with them.
    peers: bool,
    /// Whether the peers' Debian packages may be installed.
    install: bool,
}

/// What the header, the report and the charts of one `cargo xtask bench`
/// say about it beside the numbers.
struct Session {
    config: Config,
    /// The cells `--only` leaves, in matrix order.
    cells: Vec<&'static Cell>,
    /// When it started, `YYYYMMDD-HHMMSS` in UTC: the results' file name.
    stamp: String,
    /// [`setup::machine_summary`].
    machine: String,
    /// [`plan::rounds_note`].
    rounds_note: String,
    /// `bench-results` in the workspace.
    results_dir: PathBuf,
}

/// Runs the benchmark matrix.
pub fn run(args: Args) -> Result<()> {
    let config = check_args(args)?;
    let root = setup::workspace_root();
    let exe = setup::bench_binary(&root, &config)?;
    let cells = cells::select(&config.only)?;
    let stamp = format::utc_stamp(SystemTime::now());
    let results_dir = root.join("bench-results");
    std::fs::create_dir_all(&results_dir)?;
    let mut results = Results::create(&results_dir, &stamp)?;
    let data_root = root.join("target").join("bench-data");
    let machine = setup::machine_summary(&root);
    results.meta(&stamp, &config, &machine)?;

    let plan = plan::plan(&cells, &config);
    let session = Session {
        rounds_note: plan::rounds_note(&cells, &config),
        config,
        cells,
        stamp,
        machine,
        results_dir,
    };
    print_header(&session, plan.len(), &results);

    let started = Instant::now();
    let outcomes = run::run_plan(
        &plan,
        &exe,
        &data_root,
        session.config.quick,
        started,
        &mut results,
    )?;
    let _ = std::fs::remove_dir_all(&data_root);

    let medians = medians::medians(&session.cells, &session.config.engines, &outcomes);
    for m in &medians {
        results.median(m.cell, &m.obj)?;
    }
    report::write(&session, &medians, started, results.path())
}

/// The lines before the first run: how many runs, and on what.
fn print_header(session: &Session, runs: usize, results: &Results) {
    let Session {
        config,
        cells,
        machine,
        rounds_note,
        ..
    } = session;
    println!(
        "bench: {} runs in {} cells, {} round(s) each{rounds_note}{}; results to {}",
        runs,
        cells.len(),
        config.runs,
        if config.quick { " (--quick)" } else { "" },
        results.path().display()
    );
    println!("bench: {machine}");
}

/// The options, with their defaults, checked against each other.
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

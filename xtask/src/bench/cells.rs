//! The matrix of BENCH.md: its cells (a workload at a thread count, with
//! its sizes in the full run and with `--quick`), the engines, and who
//! runs each cell: the engines, the device, or both.

use anyhow::{bail, Result};

/// The engines, Tributary first; the others need the `peers` feature.
pub(super) const ENGINES: &[&str] = &["tributary", "leveldb", "rocksdb", "fjall"];

/// One cell of the matrix: a workload at a thread count, run by every
/// engine.
pub(super) struct Cell {
    /// `workload/threads`, or a name of its own for a variant.
    pub(super) id: &'static str,
    /// The bench binary's `--workload` for the engines.
    pub(super) workload: &'static str,
    /// `--threads`.
    pub(super) threads: usize,
    /// Calls per thread (`--num`) in the full run and with `--quick`.
    pub(super) num: usize,
    pub(super) quick_num: usize,
    /// `--duration` in seconds in the full run and with `--quick`: the time
    /// a synced cell runs, or a guard for the others, whose `num` ends them
    /// first (a few seconds each on a 2-core machine).
    pub(super) secs: f64,
    pub(super) quick_secs: f64,
    /// More arguments for the engines' runs (not the device's).
    pub(super) extra: &'static [&'static str],
    /// A device workload measured in the same cell, interleaved with the
    /// engines, with the same arguments.
    pub(super) device: Option<&'static str>,
    /// Whether the engines run this cell (false: device only).
    pub(super) engines: bool,
    /// Whether Tributary alone runs it, because each of its runs measures
    /// C++ LevelDB itself (`openleveldb`): it runs only when both are among
    /// the engines (the bench binary then has the peers).
    pub(super) tributary_only: bool,
    /// `--prep-keys` in the full run and with `--quick` (0: none).
    pub(super) prep_keys: u64,
    pub(super) quick_prep_keys: u64,
    /// Read cells that name the same group (adjacent in [`CELLS`]) share
    /// one prep per engine and round: the first of them that runs preps
    /// a directory, the others read it with `--use-existing-db`, and it is
    /// deleted after the last. Writing cells of a group come last in it.
    pub(super) prep_group: Option<&'static str>,
    /// Rounds of this cell when `--runs` is not given (None: the default).
    pub(super) rounds: Option<usize>,
    /// More arguments for Tributary's runs alone.
    pub(super) tributary_extra: &'static [&'static str],
    /// The engines that run this cell, of those asked for (None: all).
    pub(super) only_engines: Option<&'static [&'static str]>,
    /// Whether Tributary runs it a second time in each round, with the
    /// pipelined commit off ([`UNPIPELINED`]), interleaved with the others
    /// so that the two settings meet the same device.
    pub(super) unpipelined_too: bool,
}

/// The name under which Tributary runs with the pipelined commit off
/// (`--tributary-options unpipelined`: goleveldb's order, every fsync
/// under the write lock), in a cell that asks for it
/// ([`Cell::unpipelined_too`]); the default is pipelined (issue #27).
pub(super) const UNPIPELINED: &str = "unpipelined";

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
        tributary_only: false,
        prep_keys: 0,
        quick_prep_keys: 0,
        prep_group: None,
        rounds: None,
        tributary_extra: &[],
        only_engines: None,
        unpipelined_too: false,
    }
}

/// Rounds of the beyond-memory cells that write (and of the compressed and
/// open cells): one, to fit about 12 minutes for the four engines on a
/// 2-core machine, plus about 7 for the others ([`super`]'s docs).
pub(super) const BEYOND_ROUNDS: usize = 1;

/// Rounds of the beyond-memory cells that only read. They share one prep
/// per engine across their rounds (see [`plan`](super::plan::plan)), so a
/// round costs seconds, not the prep's minute, and three give a median:
/// one round had moved `disk-readrandom/2` between 1.07x and 1.51x of
/// LevelDB from one run to the next.
pub(super) const BEYOND_READ_ROUNDS: usize = 3;

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

/// The flag of the cells of compressible values (BENCH.md "Settled, at
/// scale, compressed"; INTEROP.md §6): db_bench's compressible values, and
/// every engine at its default compression instead of none.
const COMPRESSIBLE: &[&str] = &["--compressible"];

/// The flag of the fills measured settled (module `settle` of the bench
/// binary).
const SETTLE: &[&str] = &["--settle-after"];

/// The compressed fill's flags: compressible values, and settled too, so
/// that its bytes on disk are compared both at the close, where they count
/// the compaction a fill leaves behind (which grows with its speed), and
/// settled (BENCH.md "Settled, at scale, compressed": space on disk
/// against the live data).
const COMPRESSIBLE_SETTLE: &[&str] = &["--compressible", "--settle-after"];

/// Whether a run of `workload` changes the database it runs on (every
/// workload but the three that only read).
pub(super) const fn workload_writes(workload: &str) -> bool {
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

/// A fillsync cell, where Tributary also runs unpipelined: its second
/// line in fillsync.svg.
const fn fillsync(id: &'static str, threads: usize) -> Cell {
    Cell {
        unpipelined_too: true,
        ..timed(id, "fillsync", threads)
    }
}

/// The matrix of BENCH.md.
pub(super) const CELLS: &[Cell] = &[
    Cell {
        device: Some("rawsync"),
        ..fillsync("fillsync/1", 1)
    },
    fillsync("fillsync/4", 4),
    fillsync("fillsync/16", 16),
    fillsync("fillsync/64", 64),
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
    // Every fill here then settles (`--settle-after`): its directory is
    // opened again and left until the engine writes nothing for 3 s, so
    // that write amplification counts the work a fill leaves behind
    // (issue #28).
    Cell {
        extra: &["--reopen-after", "--settle-after"],
        ..beyond("disk-fillrandom/1", "fillrandom", 1, 10_000_000, 200_000)
    },
    Cell {
        extra: SETTLE,
        ..beyond("disk-fillrandom/4", "fillrandom", 4, 2_500_000, 50_000)
    },
    Cell {
        extra: SETTLE,
        ..beyond("disk-fill5m/1", "fillrandom", 1, 5_000_000, 100_000)
    },
    Cell {
        extra: SETTLE,
        ..beyond("disk-fill5m/4", "fillrandom", 4, 1_250_000, 25_000)
    },
    Cell {
        extra: SETTLE,
        secs: 600.0,
        ..beyond("disk-fill20m/1", "fillrandom", 1, 20_000_000, 400_000)
    },
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
    // The same budget as RocksDB (issue #28): Tributary with RocksDB's
    // default sizes (64 MiB write buffer, 256 MiB level 1, 64 MiB
    // tables) against RocksDB's defaults, at 20 M keys.
    Cell {
        extra: SETTLE,
        secs: 600.0,
        tributary_extra: &["--tributary-options", "rocksdb-budget"],
        only_engines: Some(&["tributary", "rocksdb"]),
        ..beyond("disk-budget20m/1", "fillrandom", 1, 20_000_000, 400_000)
    },
    // Compressible values, every engine at its default compression: the
    // 10 M fill (whose bytes on disk are compared too, after the close and
    // settled), and readrandom on a 5 M-key prep of its own.
    Cell {
        extra: COMPRESSIBLE_SETTLE,
        ..beyond(
            "compressed-fillrandom/1",
            "fillrandom",
            1,
            10_000_000,
            200_000,
        )
    },
    Cell {
        extra: COMPRESSIBLE,
        prep_group: Some("compressed-read"),
        ..beyond_read(
            "compressed-readrandom/1",
            "readrandom",
            1,
            1_000_000,
            20_000,
        )
    },
    // C++ LevelDB fills 5 M random keys (compressible, its defaults),
    // untimed; then LevelDB's reopen of a copy against Tributary's open of
    // another, its conversion included, in each of Tributary's runs.
    Cell {
        extra: COMPRESSIBLE,
        tributary_only: true,
        ..beyond("open-leveldb/1", "openleveldb", 1, 5_000_000, 100_000)
    },
];

impl Cell {
    /// `--num`, `--duration` and `--prep-keys` of a run of this cell.
    pub(super) fn sizes(&self, quick: bool) -> (usize, f64, u64) {
        if quick {
            (self.quick_num, self.quick_secs, self.quick_prep_keys)
        } else {
            (self.num, self.secs, self.prep_keys)
        }
    }
}

/// The cells whose id starts with one of `only` (every cell if it is
/// empty), in matrix order; an error if none does.
pub(super) fn select(only: &[String]) -> Result<Vec<&'static Cell>> {
    let cells: Vec<&Cell> = CELLS
        .iter()
        .filter(|c| only.is_empty() || only.iter().any(|o| c.id.starts_with(o.as_str())))
        .collect();
    if cells.is_empty() {
        bail!("--only {:?} matches no cell; cells: {}", only, cell_ids());
    }
    Ok(cells)
}

/// Every cell's id, for an error message.
fn cell_ids() -> String {
    CELLS.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
}

/// An engine (or the device) and the workload it runs in a cell.
#[derive(Clone)]
pub(super) struct Variant {
    /// An engine of [`ENGINES`], or `device`.
    pub(super) engine: String,
    /// The bench binary's `--workload`.
    pub(super) workload: String,
}

/// Who runs `cell`: its device workload first, if it has one, then
/// `engines` in their order, if the engines run it (Tributary alone, if
/// LevelDB is there too, for a [`Cell::tributary_only`] cell), then
/// Tributary unpipelined if the cell asks for it.
pub(super) fn variants(cell: &Cell, engines: &[String]) -> Vec<Variant> {
    let mut v = Vec::new();
    if let Some(device) = cell.device {
        v.push(Variant {
            engine: "device".to_owned(),
            workload: device.to_owned(),
        });
    }
    if cell.tributary_only {
        let has = |e: &str| engines.iter().any(|x| x == e);
        if has("tributary") && has("leveldb") {
            v.push(Variant {
                engine: "tributary".to_owned(),
                workload: cell.workload.to_owned(),
            });
        }
    } else if cell.engines {
        let runs = |e: &String| {
            cell.only_engines
                .is_none_or(|only| only.contains(&e.as_str()))
        };
        for e in engines.iter().filter(|e| runs(e)) {
            v.push(Variant {
                engine: e.clone(),
                workload: cell.workload.to_owned(),
            });
        }
        if cell.unpipelined_too && engines.iter().any(|e| e == "tributary") {
            v.push(Variant {
                engine: UNPIPELINED.to_owned(),
                workload: cell.workload.to_owned(),
            });
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_is_reachable_by_only() {
        for c in CELLS {
            assert!(c.num >= c.quick_num && c.secs >= c.quick_secs);
            assert!(c.id.contains('/'));
        }
    }

    #[test]
    fn the_open_cell_needs_leveldb_and_runs_tributary() {
        let open = CELLS.iter().find(|c| c.id == "open-leveldb/1").unwrap();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = variants(open, &names(ENGINES));
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].engine, "tributary");
        assert!(variants(open, &names(&["tributary"])).is_empty());
        let compressed = select(&["compressed".to_owned()]).unwrap();
        assert_eq!(compressed.len(), 2);
        assert!(compressed
            .iter()
            .all(|c| c.extra.contains(&"--compressible")));
        // The fill's bytes on disk are compared settled too.
        assert!(compressed
            .iter()
            .any(|c| c.workload == "fillrandom" && c.extra.contains(&"--settle-after")));
    }

    #[test]
    fn fillsync_runs_tributary_unpipelined_too_in_every_round() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let engines = |c: &Cell, e: &[&str]| -> Vec<String> {
            variants(c, &names(e))
                .into_iter()
                .map(|v| v.engine)
                .collect()
        };
        let fillsync4 = CELLS.iter().find(|c| c.id == "fillsync/4").unwrap();
        assert_eq!(
            engines(fillsync4, ENGINES),
            ["tributary", "leveldb", "rocksdb", "fjall", UNPIPELINED]
        );
        assert_eq!(engines(fillsync4, &["leveldb"]), ["leveldb"]);
        let fillsync1 = CELLS.iter().find(|c| c.id == "fillsync/1").unwrap();
        assert_eq!(
            engines(fillsync1, &["tributary"]),
            ["device", "tributary", UNPIPELINED]
        );
        let fillrandom = CELLS.iter().find(|c| c.id == "fillrandom/4").unwrap();
        assert!(!engines(fillrandom, ENGINES).contains(&UNPIPELINED.to_owned()));
    }
}

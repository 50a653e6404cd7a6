//! The report printed at the end and saved as `<stamp>.txt`: a header,
//! the table of every cell, of write amplification and bytes on disk, of
//! reopens, of the open of a LevelDB directory, of the beyond-memory cells
//! and of BENCH.md's targets, then where the charts and the runs went.

use super::cells::{variants, Cell, BEYOND_READ_ROUNDS, BEYOND_ROUNDS};
use super::charts;
use super::format::{fmt_levels, fmt_levels_of, fmt_mib, fmt_ops, fmt_us, mmss};
use super::medians::{find, Median};
use super::plan::cell_rounds;
use super::targets::targets_table;
use super::{num_field, Config, Session};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// Writes the charts, then prints the report and saves it beside the
/// runs. `started` is when the first run began; `results_path` is the
/// `.jsonl` file.
pub(super) fn write(
    session: &Session,
    medians: &[Median],
    started: Instant,
    results_path: &Path,
) -> Result<()> {
    let mut report = tables(session, medians, started);
    report.push_str(&charts::write(session, medians)?);
    let _ = writeln!(report, "all runs: {}", results_path.display());
    println!("\n{report}");
    let path = session.results_dir.join(format!("{}.txt", session.stamp));
    std::fs::write(path, &report)?;
    Ok(())
}

/// The header and the tables (the reopen and beyond-memory ones only
/// if such cells ran).
fn tables(session: &Session, medians: &[Median], started: Instant) -> String {
    let Session {
        config,
        cells,
        stamp,
        machine,
        rounds_note,
        ..
    } = session;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "cargo xtask bench{}: {} round(s) per cell{rounds_note}, medians; {} in {}\n{machine}\n",
        if config.quick { " --quick" } else { "" },
        config.runs,
        stamp,
        mmss(started.elapsed().as_secs_f64())
    );
    report.push_str(&cells_table(cells, medians, config));
    report.push('\n');
    report.push_str(&fills_table(cells, &config.engines, medians));
    report.push('\n');
    if let Some(t) = reopen_table(cells, &config.engines, medians) {
        report.push_str(&t);
        report.push('\n');
    }
    if let Some(t) = open_leveldb_table(cells, medians) {
        report.push_str(&t);
        report.push('\n');
    }
    if let Some(t) = beyond_tables(cells, &config.engines, medians) {
        report.push_str(&t);
        report.push('\n');
    }
    if let Some(t) = settled_table(cells, &config.engines, medians) {
        report.push_str(&t);
        report.push('\n');
    }
    report.push_str(&targets_table(&config.engines, medians));
    report
}

/// Every cell and engine: throughput, latency, CPU and group commit.
fn cells_table(cells: &[&Cell], medians: &[Median], config: &Config) -> String {
    let engines = &config.engines;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<23} {:<11} {:>10} {:>9} {:>9} {:>9} {:>9} {:>6} {:>8} {:>7}  notes",
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
                    "{:<23} {:<11} {:>10}",
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
                "{:<23} {:<11} {:>10} {:>9} {:>9} {:>9} {:>9} {:>6} {:>8} {:>7}  {}",
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

/// Every fill (and prep) cell and engine: bytes written, write
/// amplification, and files per level at the end of the timed phase
/// (before close), and the bytes on disk after the close.
fn fills_table(cells: &[&Cell], engines: &[String], medians: &[Median]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<23} {:<11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9}  files per level",
        "cell",
        "engine",
        "user MiB",
        "jrnl MiB",
        "tbl MiB",
        "io MiB",
        "w-amp",
        "io-amp",
        "disk MiB",
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
                "{:<23} {:<11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9}  {}",
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
                fmt_mib(f("disk_bytes")),
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
         engine alike. disk = the sizes of the files in the database directory after the \
         close. The compressed-* cells: compressible values (INTEROP.md §6), every engine at \
         its default compression (Snappy; fjall LZ4); every other cell: compression off."
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
        "{:<23} {:<11} {:>10} {:>10} {:>11} {:>11} {:>9} {:>9}  files at reopen",
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
                "{id:<23} {:<11} {:>10} {:>10} {:>11} {:>11} {:>9} {:>9}  {}",
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

/// `open-leveldb/1`, if it ran: C++ LevelDB's reopen of the directory it
/// filled beside Tributary's open of a copy, both from Tributary's line.
fn open_leveldb_table(cells: &[&Cell], medians: &[Median]) -> Option<String> {
    let cell = cells.iter().find(|c| c.workload == "openleveldb")?;
    let obj = find(medians, cell.id, "tributary")?;
    let f = |k: &str| num_field(obj, k);
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{:.1} ms", x * 1e3));
    let kib = |v: Option<f64>| v.map_or("-".to_owned(), |k| format!("{:.1} MiB", k / 1024.0));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<23} {:<11} {:>10} {:>10} {:>11}",
        "open a LevelDB dir", "engine", "reopen", "open", "RssAnon"
    );
    let _ = writeln!(
        s,
        "{:<23} {:<11} {:>10} {:>10} {:>11}",
        cell.id,
        "leveldb",
        ms(f("leveldb_reopen_secs")),
        ms(f("leveldb_open_secs")),
        kib(f("leveldb_rss_anon_kib"))
    );
    let _ = writeln!(
        s,
        "{:<23} {:<11} {:>10} {:>10} {:>11}",
        "",
        "tributary",
        ms(f("reopen_secs")),
        ms(f("open_secs")),
        kib(f("rss_anon_kib"))
    );
    let _ = writeln!(
        s,
        "\nC++ LevelDB (its defaults, compressible values) fills {} random keys, untimed, and \
         closes ({} MiB on disk, files per level {}); the directory is copied twice; then, \
         each in a fresh child, LevelDB reopens one copy and Tributary opens the other with \
         Options::default(), converting it. reopen = open + one get.",
        f("num").map_or("?".to_owned(), |n| format!("{n:.0}")),
        fmt_mib(f("disk_bytes")),
        fmt_levels(obj)
    );
    Some(s)
}

/// Whether `cell` is a beyond-memory cell with a table of its own per
/// engine: `disk-*`, and the `compressed-*` cells of compressible values.
fn is_beyond(cell: &Cell) -> bool {
    cell.id.starts_with("disk-") || cell.id.starts_with("compressed-")
}

/// The beyond-memory cells ([`is_beyond`]), one table per engine:
/// throughput, the tail, write amplification, stalls and the files at the
/// end.
fn beyond_tables(cells: &[&Cell], engines: &[String], medians: &[Median]) -> Option<String> {
    let beyond: Vec<&&Cell> = cells.iter().filter(|c| is_beyond(c)).collect();
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
            if let Some(d) = f("disk_bytes") {
                notes.push(format!("disk {} MiB", fmt_mib(Some(d))));
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
         all); disk = the directory's files after the close, for a run that wrote. \
         compressed-*: compressible values, every engine at its default compression."
    );
    Some(s)
}

/// The fills measured settled (`--settle-after`), one row per cell and
/// engine: write amplification through the fill and through the settle
/// (and Tributary's over LevelDB's), the settle's time, the settled
/// files per level, the space on disk over the live data, and the share
/// of the fill spent stalled.
fn settled_table(cells: &[&Cell], engines: &[String], medians: &[Median]) -> Option<String> {
    let settled: Vec<&&Cell> = cells
        .iter()
        .filter(|c| c.extra.contains(&"--settle-after"))
        .collect();
    if settled.is_empty() {
        return None;
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "settled fills\n  {:<23} {:<10} {:>10} {:>6} {:>8} {:>9} {:>8} {:>6} {:>8}  files per level",
        "cell", "engine", "ops/s", "io-amp", "settled", "vs ldb", "settle", "space", "stalled",
    );
    for cell in &settled {
        let amp =
            |e: &str| find(medians, cell.id, e).and_then(|o| num_field(o, "settled_write_amp"));
        for engine in engines {
            let Some(obj) = find(medians, cell.id, engine) else {
                continue;
            };
            let f = |k: &str| num_field(obj, k);
            let vs = match (amp(engine), amp("leveldb")) {
                (Some(a), Some(l)) if l > 0.0 => format!("{:.2}x", a / l),
                _ => "-".to_owned(),
            };
            let stalled = match (f("stall_secs"), f("secs")) {
                (Some(st), Some(secs)) if secs > 0.0 => format!("{:.0}%", 100.0 * st / secs),
                _ => "-".to_owned(),
            };
            let two = |k: &str| f(k).map_or("-".to_owned(), |v| format!("{v:.2}"));
            let levels = match (
                fmt_levels_of(obj, "settled_files_per_level").as_str(),
                f("settled_table_files"),
            ) {
                ("-", Some(n)) => format!("{n:.0} in all"),
                (levels, _) => levels.to_owned(),
            };
            let _ = writeln!(
                s,
                "  {:<23} {:<10} {:>10} {:>6} {:>8} {:>9} {:>8} {:>6} {:>8}  {}",
                cell.id,
                engine,
                fmt_ops(f("ops_per_sec")),
                two("io_write_amp"),
                two("settled_write_amp"),
                vs,
                f("settle_secs").map_or("-".to_owned(), |t| format!("{t:.1} s")),
                two("space_amp"),
                stalled,
                levels,
            );
        }
    }
    let _ = writeln!(
        s,
        "\nio-amp: bytes passed to write(2) through the fill over user bytes; settled: the same \
         from the fill's open through a reopen left alone until the engine wrote nothing for \
         3 s, and its close (the bench binary's module settle), and vs ldb that over LevelDB's; \
         settle: from that reopen to its last write; space: the directory's bytes after it \
         over the keys and values of the distinct keys written; stalled: write stall time over \
         the fill's time (engines that count stalls); files per level once settled."
    );
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::cells::CELLS;
    use crate::bench::targets::{reopen_target, target_text};
    use crate::bench::Object;

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
    fn compressed_and_open_targets() {
        let line = |s: &str| -> Object { serde_json::from_str(s).unwrap() };
        let median = |cell: &'static str, engine: &str, obj: Object| Median {
            cell,
            engine: engine.to_owned(),
            obj,
        };
        let fill = "compressed-fillrandom/1";
        let open = "open-leveldb/1";
        let medians = vec![
            median(
                fill,
                "tributary",
                line(r#"{"ops_per_sec":140.0,"disk_bytes":3145728,"settled_disk_bytes":1048576}"#),
            ),
            median(
                fill,
                "leveldb",
                line(r#"{"ops_per_sec":100.0,"disk_bytes":2097152,"settled_disk_bytes":1572864}"#),
            ),
            median(
                open,
                "tributary",
                line(
                    r#"{"ops_per_sec":20.0,"reopen_secs":0.05,"open_secs":0.04,"leveldb_reopen_secs":0.1,"leveldb_open_secs":0.09,"num":5000000}"#,
                ),
            ),
        ];
        let peers = ["leveldb".to_owned()];
        let peers: Vec<&String> = peers.iter().collect();
        assert_eq!(
            target_text(fill, &medians, &peers),
            ">= 1.3x leveldb: 1.40x MET; disk <= leveldb's: 3.0 vs 2.0 MiB MISSED \
             (settled: 1.0 vs 1.5 MiB)"
        );
        assert_eq!(
            target_text(open, &medians, &peers),
            "open <= leveldb's reopen: 50.0 vs 100.0 ms (0.50x) MET"
        );
        let cells: Vec<&Cell> = CELLS.iter().collect();
        let table = open_leveldb_table(&cells, &medians).unwrap();
        assert!(
            table.contains("100.0 ms") && table.contains("50.0 ms"),
            "{table}"
        );
        let engines = ["tributary".to_owned(), "leveldb".to_owned()];
        let tables = beyond_tables(&cells, &engines, &medians).unwrap();
        assert!(tables.contains("disk 3.0 MiB"), "{tables}");
    }

    /// The medians of `cell`: one JSON line per engine.
    fn medians_of(cell: &'static str, lines: &[(&str, &str)]) -> Vec<Median> {
        lines
            .iter()
            .map(|&(engine, json)| Median {
                cell,
                engine: engine.to_owned(),
                obj: serde_json::from_str(json).unwrap(),
            })
            .collect()
    }

    #[test]
    fn beyond_targets() {
        let medians = medians_of(
            "disk-readwhilewriting/2",
            &[
                (
                    "tributary",
                    r#"{"ops_per_sec":260.0,"writer_ops_per_sec":90.0,"stalls":3,"stall_slowdowns":2,"stall_stops":1,"stall_secs":0.5}"#,
                ),
                (
                    "leveldb",
                    r#"{"ops_per_sec":200.0,"writer_ops_per_sec":100.0}"#,
                ),
            ],
        );
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
    fn settled_fills_compare_with_leveldb() {
        let medians = medians_of(
            "disk-fill20m/1",
            &[
                (
                    "tributary",
                    r#"{"ops_per_sec":300.0,"secs":10.0,"stall_secs":2.0,"io_write_amp":5.0,"settled_write_amp":8.0,"settle_secs":4.0,"space_amp":1.1,"settled_files_per_level":[1,5,50,0]}"#,
                ),
                (
                    "leveldb",
                    r#"{"ops_per_sec":200.0,"settled_write_amp":10.0}"#,
                ),
            ],
        );
        let peers = ["leveldb".to_owned()];
        let text = target_text(
            "disk-fill20m/1",
            &medians,
            &peers.iter().collect::<Vec<_>>(),
        );
        assert!(
            text.contains("settled w-amp <= 0.9x leveldb's: 8.00 vs 10.00 (0.80x) MET"),
            "{text}"
        );
        assert!(text.contains("stalled < 25%: 20% MET"), "{text}");
        let cells: Vec<&Cell> = CELLS.iter().collect();
        let engines = ["tributary".to_owned(), "leveldb".to_owned()];
        let table = settled_table(&cells, &engines, &medians).unwrap();
        assert!(table.contains("0.80x"), "{table}");
        assert!(table.contains("1/5/50"), "{table}");
        assert!(table.contains("20%"), "{table}");
    }
}

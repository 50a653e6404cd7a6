//! BENCH.md's targets (and issue #13's and #27's, and those of the
//! compressed and open cells): Tributary's ratio to each peer
//! per cell, and for each cell with a target the measured value and
//! whether it is met.

use super::cells::UNPIPELINED;
use super::format::{fmt_mib, fmt_ops, fmt_us};
use super::medians::{find, Median};
use super::num_field;
use std::fmt::Write as _;

/// How many write buffers of anonymous memory after a reopen count as "a
/// few" (issue #13's target).
const REOPEN_WRITE_BUFFERS: f64 = 4.0;

/// The targets of BENCH.md, with Tributary's ratio to each peer.
pub(super) fn targets_table(engines: &[String], medians: &[Median]) -> String {
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
pub(super) fn target_text(cell: &str, medians: &[Median], peers: &[&String]) -> String {
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
    // The default (pipelined) against the same cell unpipelined (issue
    // #27).
    let vs_unpipelined = || match ops(cell, UNPIPELINED) {
        Some(u) if u > 0.0 => format!("pipelined {:.2}x unpipelined", trib / u),
        _ => "no unpipelined run".to_owned(),
    };
    // Issue #27's goal for fsyncs: within 15% of the raw append+fdatasync
    // loop's (`fillsync/1`'s device run, one fsync per op).
    let fsync_rate = |goal: f64| {
        let fsyncs = find(medians, cell, "tributary").and_then(|o| num_field(o, "fsyncs_per_sec"));
        match (fsyncs, ops("fillsync/1", "device")) {
            (Some(f), Some(r)) if r > 0.0 => verdict(f / r, goal, "the raw loop's fsyncs/s"),
            _ => format!(">= {goal}x the raw loop's fsyncs/s: no device run"),
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
        "disk-fill5m/1" | "disk-fill5m/4" => {
            [vs_leveldb(1.3), settled_target(cell, medians)].join("; ")
        }
        "disk-budget20m/1" => budget_target(cell, medians),
        "disk-fill20m/1" => [
            vs_leveldb(1.3),
            settled_target(cell, medians),
            stall_target(cell, medians),
            tail_target(cell, medians),
        ]
        .join("; "),
        "compressed-fillrandom/1" => [vs_leveldb(1.3), disk_target(cell, medians)].join("; "),
        "compressed-readrandom/1" => vs_leveldb(1.2),
        "open-leveldb/1" => open_leveldb_target(cell, medians),
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
        "fillsync/1" => {
            let raw = match ops(cell, "device") {
                Some(d) if d > 0.0 => verdict(trib / d, 0.9, "raw append+fdatasync"),
                _ => "-".to_owned(),
            };
            [raw, vs_unpipelined()].join("; ")
        }
        // Issue #27's, above BENCH.md's 1.5x at 16 and 64 threads.
        "fillsync/4" => [vs_leveldb(2.0), vs_unpipelined()].join("; "),
        "fillsync/16" | "fillsync/64" => {
            [vs_leveldb(2.5), fsync_rate(0.85), vs_unpipelined()].join("; ")
        }
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

/// The compressed fill's space target: Tributary's bytes on disk after
/// the close no more than LevelDB's (issue #25), and beside it, as a
/// figure, the same once both settled: the close counts the compaction a
/// fill leaves behind, which grows with the fill's speed, where settled
/// bytes are the format's and the tree's.
fn disk_target(cell: &str, medians: &[Median]) -> String {
    let field = |e: &str, k: &str| find(medians, cell, e).and_then(|o| num_field(o, k));
    let Some((t, l)) = field("tributary", "disk_bytes").zip(field("leveldb", "disk_bytes")) else {
        return "disk <= leveldb's: no leveldb run".to_owned();
    };
    let mut text = format!(
        "disk <= leveldb's: {} vs {} MiB {}",
        fmt_mib(Some(t)),
        fmt_mib(Some(l)),
        if t <= l { "MET" } else { "MISSED" }
    );
    let settled = |e: &str| field(e, "settled_disk_bytes");
    if let Some((t, l)) = settled("tributary").zip(settled("leveldb")) {
        text += &format!(
            " (settled: {} vs {} MiB)",
            fmt_mib(Some(t)),
            fmt_mib(Some(l))
        );
    }
    text
}

/// The open cell's target: Tributary opening (and converting) a directory
/// C++ LevelDB wrote no slower than LevelDB reopening a copy of it, both
/// measured in Tributary's run.
fn open_leveldb_target(cell: &str, medians: &[Median]) -> String {
    let get = |k: &str| find(medians, cell, "tributary").and_then(|o| num_field(o, k));
    match (get("reopen_secs"), get("leveldb_reopen_secs")) {
        (Some(t), Some(l)) if l > 0.0 => format!(
            "open <= leveldb's reopen: {:.1} vs {:.1} ms ({:.2}x) {}",
            t * 1e3,
            l * 1e3,
            t / l,
            if t <= l { "MET" } else { "MISSED" }
        ),
        _ => "open <= leveldb's reopen: no measure".to_owned(),
    }
}

/// Issue #28's write target: Tributary's settled write amplification at
/// most 0.9x LevelDB's.
fn settled_target(cell: &str, medians: &[Median]) -> String {
    let amp = |e: &str| find(medians, cell, e).and_then(|o| num_field(o, "settled_write_amp"));
    match (amp("tributary"), amp("leveldb")) {
        (Some(t), Some(l)) if l > 0.0 => format!(
            "settled w-amp <= 0.9x leveldb's: {t:.2} vs {l:.2} ({:.2}x) {}",
            t / l,
            if t <= 0.9 * l { "MET" } else { "MISSED" }
        ),
        _ => "settled w-amp <= 0.9x leveldb's: no measure".to_owned(),
    }
}

/// Issue #28's same-budget target: Tributary with RocksDB's sizes
/// against RocksDB's defaults writes no more once settled, at 1.5x its
/// ops/s, with a p99.9 within twice RocksDB's.
fn budget_target(cell: &str, medians: &[Median]) -> String {
    let get = |e: &str, k: &str| find(medians, cell, e).and_then(|o| num_field(o, k));
    let verdict = |met: bool| if met { "MET" } else { "MISSED" };
    let mut parts = Vec::new();
    match (
        get("tributary", "settled_write_amp"),
        get("rocksdb", "settled_write_amp"),
    ) {
        (Some(t), Some(r)) => parts.push(format!(
            "settled w-amp <= rocksdb's: {t:.2} vs {r:.2} {}",
            verdict(t <= r)
        )),
        _ => parts.push("settled w-amp <= rocksdb's: no rocksdb run".to_owned()),
    }
    if let (Some(t), Some(r)) = (
        get("tributary", "ops_per_sec"),
        get("rocksdb", "ops_per_sec"),
    ) {
        parts.push(format!(
            ">= 1.5x rocksdb: {:.2}x {}",
            t / r,
            verdict(t >= 1.5 * r)
        ));
    }
    if let (Some(t), Some(r)) = (get("tributary", "p999_us"), get("rocksdb", "p999_us")) {
        parts.push(format!(
            "p99.9 <= 2x rocksdb's: {} vs {} {}",
            fmt_us(Some(t)),
            fmt_us(Some(r)),
            verdict(t <= 2.0 * r)
        ));
    }
    parts.join("; ")
}

/// Issue #28's stall target: under a quarter of the fill spent stalled.
fn stall_target(cell: &str, medians: &[Median]) -> String {
    let get = |k: &str| find(medians, cell, "tributary").and_then(|o| num_field(o, k));
    match (get("stall_secs"), get("secs")) {
        (Some(st), Some(secs)) if secs > 0.0 => {
            let share = st / secs;
            format!(
                "stalled < 25%: {:.0}% {}",
                100.0 * share,
                if share < 0.25 { "MET" } else { "MISSED" }
            )
        }
        _ => "stalled < 25%: no measure".to_owned(),
    }
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
pub(super) fn reopen_target(cell: &str, medians: &[Median]) -> String {
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

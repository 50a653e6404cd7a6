//! The one JSON line a run prints, and the numbers that go into it.

use crate::amp::FillReport;
use crate::args::Spec;
use crate::engine::{Counters, Stalls};

/// What a run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Records written or keys read.
    pub ops: u64,
    /// From the start barrier to the last thread's end.
    pub secs: f64,
    /// One per call, sorted.
    pub latencies_ns: Vec<u64>,
    /// User and system CPU time of the whole process over the timed phase.
    pub cpu_secs: Option<f64>,
    pub hit_rate: Option<f64>,
    pub counters: Option<Counters>,
    pub big: Option<BigBatchReport>,
    pub mb_per_sec: Option<f64>,
    /// Write amplification and files per level (module `amp`).
    pub fill: Option<FillReport>,
    /// What the `reopen` workload's child measured, or the reopen after a
    /// fill with `--reopen-after`.
    pub reopen: Option<ReopenReport>,
    /// What `readwhilewriting`'s writer did.
    pub writer: Option<WriterReport>,
    /// Throughput over the timed phase (module `driver`).
    pub samples: Option<Samples>,
    /// The engine's write stalls over the timed phase, if it counts them.
    pub stalls: Option<Stalls>,
    /// Bytes of the files in the database directory after the close, for
    /// a run that wrote (module `amp`, [`dir_bytes`](crate::amp::dir_bytes)).
    pub disk_bytes: Option<u64>,
    /// `--settle-after`: the fill once its engine was idle (module
    /// `settle`).
    pub settle: Option<crate::settle::SettleReport>,
    /// `openleveldb`: C++ LevelDB's reopen of its own directory, beside
    /// Tributary's open of a copy in `reopen`.
    pub leveldb_reopen: Option<ReopenReport>,
}

/// What `readwhilewriting`'s writer did.
#[derive(Debug, Default, Clone, Copy)]
pub struct WriterReport {
    pub puts: u64,
    /// From the barrier to its last put.
    pub secs: f64,
}

/// Ops finished in each whole interval of the timed phase.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    pub interval_ms: u64,
    pub ops: Vec<u64>,
}

/// What the `reopen` workload measured (module `reopen`).
#[derive(Debug, Default, Clone, Copy)]
pub struct ReopenReport {
    /// The open plus the get of one key, in the child.
    pub reopen_secs: f64,
    /// The open alone.
    pub open_secs: f64,
    /// The child's `RssAnon` before the open and right after it (and the
    /// get), in KiB.
    pub rss_anon_before_kib: Option<u64>,
    pub rss_anon_kib: Option<u64>,
    /// The parent's `RssAnon` after the prep's close, in KiB.
    pub prep_rss_anon_kib: Option<u64>,
    /// The engine's default write buffer in bytes, if known.
    pub write_buffer: Option<u64>,
    /// What the child passed to `write(2)` in all, its close included.
    pub io_bytes: Option<u64>,
}

/// What the `--big-batch` side writer did.
#[derive(Debug, Default, Clone, Copy)]
pub struct BigBatchReport {
    pub batches: u64,
    pub max_ms: f64,
}

/// The `p`-th percentile of `sorted` by nearest rank: the smallest value
/// with at least `p` % of the values at or below it.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The JSON line of BENCH.md for `outcome`, with the extra fields.
pub fn json_line(spec: &Spec, outcome: &Outcome) -> String {
    // Rounded as the contract prints them: 0.1 µs, 0.1 op/s, 1 µs of time.
    let round = |x: f64, places: i32| {
        let scale = 10f64.powi(places);
        (x * scale).round() / scale
    };
    let us = |p: f64| round(percentile(&outcome.latencies_ns, p) as f64 / 1e3, 1);
    let per_sec = |n: f64| {
        if outcome.secs > 0.0 {
            n / outcome.secs
        } else {
            0.0
        }
    };
    let mut line = serde_json::json!({
        "engine": spec.engine.name(),
        "workload": spec.workload.name(),
        "threads": spec.threads,
        "num": spec.num,
        "value_size": spec.value_size,
        "sync": spec.syncs(),
        "ops": outcome.ops,
        "secs": round(outcome.secs, 6),
        "ops_per_sec": round(per_sec(outcome.ops as f64), 1),
        "p50_us": us(50.0),
        "p99_us": us(99.0),
        "p999_us": us(99.9),
        "max_us": us(100.0),
        "key_size": spec.key_size,
        "batch": spec.records_per_call(),
        "compressible": spec.compressible,
    });
    let fields = line.as_object_mut().expect("an object");
    let mut put = |key: &str, value: serde_json::Value| {
        fields.insert(key.to_owned(), value);
    };
    if let Some(d) = spec.duration {
        put("duration", d.into());
    }
    if let Some(hit_rate) = outcome.hit_rate {
        put("hit_rate", round(hit_rate, 4).into());
    }
    if let (Some(cpu), true) = (outcome.cpu_secs, outcome.secs > 0.0) {
        put("cpu_pct", round(100.0 * cpu / outcome.secs, 1).into());
    }
    if let Some(c) = outcome.counters {
        let mean_group = if c.groups > 0 {
            c.writes as f64 / c.groups as f64
        } else {
            0.0
        };
        put("fsyncs", c.fsyncs.into());
        put("fsyncs_per_sec", round(per_sec(c.fsyncs as f64), 1).into());
        put("groups", c.groups.into());
        put("mean_group", round(mean_group, 2).into());
        put("max_group", c.max_group.into());
    }
    if let Some(mb) = outcome.mb_per_sec {
        put("mb_per_sec", round(mb, 1).into());
    }
    if let Some(k) = spec.prep_keys {
        put("prep_keys", k.into());
    }
    if spec.use_existing_db {
        put("use_existing_db", true.into());
    }
    if let Some(w) = outcome.writer {
        let rate = if w.secs > 0.0 {
            w.puts as f64 / w.secs
        } else {
            0.0
        };
        put("writer_ops", w.puts.into());
        put("writer_ops_per_sec", round(rate, 1).into());
    }
    if let Some(st) = outcome.stalls {
        put("stalls", st.count.into());
        put("stall_slowdowns", st.slowdowns.into());
        put("stall_stops", st.stops.into());
        put("stall_secs", round(st.secs, 6).into());
    }
    if let Some(samples) = &outcome.samples {
        put("interval_ms", samples.interval_ms.into());
        put("ops_per_interval", samples.ops.clone().into());
    }
    if let (Some(mib), Some(big)) = (spec.big_batch_mib, outcome.big) {
        put("big_batch_mib", mib.into());
        put("big_batches", big.batches.into());
        put("big_batch_max_ms", round(big.max_ms, 1).into());
    }
    if let Some(f) = &outcome.fill {
        put("user_bytes", f.user_bytes.into());
        if let Some(j) = f.journal_bytes {
            put("journal_bytes", j.into());
        }
        if let Some(t) = f.table_bytes {
            put("table_bytes", t.into());
        }
        if let Some(w) = f.write_amp() {
            put("write_amp", round(w, 3).into());
        }
        if let Some(io) = f.io_bytes {
            put("io_bytes", io.into());
        }
        if let Some(w) = f.io_write_amp() {
            put("io_write_amp", round(w, 3).into());
        }
        if let Some(files) = &f.files_per_level {
            put("files_per_level", files.clone().into());
        }
        if let Some(n) = f.table_files {
            put("table_files", n.into());
        }
        if let Some(bytes) = &f.table_bytes_per_level {
            put("table_bytes_per_level", bytes.clone().into());
        }
    }
    if let Some(d) = outcome.disk_bytes {
        put("disk_bytes", d.into());
    }
    if let Some(r) = outcome.reopen {
        put("reopen_secs", round(r.reopen_secs, 6).into());
        put("open_secs", round(r.open_secs, 6).into());
        if let Some(k) = r.rss_anon_before_kib {
            put("rss_anon_before_kib", k.into());
        }
        if let Some(k) = r.rss_anon_kib {
            put("rss_anon_kib", k.into());
        }
        if let Some(k) = r.prep_rss_anon_kib {
            put("prep_rss_anon_kib", k.into());
        }
        if let Some(wb) = r.write_buffer {
            put("write_buffer_bytes", wb.into());
            if let Some(k) = r.rss_anon_kib {
                put(
                    "rss_anon_write_buffers",
                    round(k as f64 * 1024.0 / wb as f64, 2).into(),
                );
            }
        }
    }
    if let Some(s) = &outcome.settle {
        put("settle_secs", round(s.secs, 3).into());
        if let Some(io) = s.total_io_bytes {
            put("settled_io_bytes", io.into());
            if let Some(user) = outcome
                .fill
                .as_ref()
                .map(|f| f.user_bytes)
                .filter(|&u| u > 0)
            {
                put(
                    "settled_write_amp",
                    round(io as f64 / user as f64, 3).into(),
                );
            }
        }
        if let Some(files) = &s.shape.files_per_level {
            put("settled_files_per_level", files.clone().into());
        }
        if let Some(bytes) = &s.shape.table_bytes_per_level {
            put("settle_table_bytes_per_level", bytes.clone().into());
        }
        let tables = s
            .shape
            .table_files
            .or_else(|| Some(s.shape.files_per_level.as_ref()?.iter().sum()));
        if let Some(n) = tables {
            put("settled_table_files", n.into());
        }
        put("settled_disk_bytes", s.disk_bytes.into());
        if let Some(live) = s.live_bytes.filter(|&l| l > 0) {
            put("live_bytes", live.into());
            put(
                "space_amp",
                round(s.disk_bytes as f64 / live as f64, 3).into(),
            );
        }
    }
    if let Some(l) = outcome.leveldb_reopen {
        put("leveldb_reopen_secs", round(l.reopen_secs, 6).into());
        put("leveldb_open_secs", round(l.open_secs, 6).into());
        if let Some(k) = l.rss_anon_kib {
            put("leveldb_rss_anon_kib", k.into());
        }
        if let (Some(t), true) = (outcome.reopen, l.reopen_secs > 0.0) {
            put(
                "reopen_vs_leveldb",
                round(t.reopen_secs / l.reopen_secs, 3).into(),
            );
        }
    }
    line.to_string()
}

/// User plus system CPU seconds of this process so far, from
/// `/proc/self/stat` (fields 14 and 15, in clock ticks of 1/100 s: Linux
/// fixes `USER_HZ` at 100 for user space). `None` off Linux.
pub fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // `rest` starts at field 3, so field 14 is at index 11.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 99.9), 100);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 50.0), 7);
    }

    #[test]
    fn cpu_time_reads() {
        assert!(process_cpu_secs().is_some());
    }
}

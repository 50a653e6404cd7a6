//! The one JSON line a run prints, and the numbers that go into it.

use crate::args::Spec;
use crate::engine::Counters;
use std::fmt::Write;

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
    let us = |p: f64| percentile(&outcome.latencies_ns, p) as f64 / 1e3;
    let ops_per_sec = if outcome.secs > 0.0 {
        outcome.ops as f64 / outcome.secs
    } else {
        0.0
    };
    let mut s = String::with_capacity(512);
    let _ = write!(
        s,
        "{{\"engine\":\"{}\",\"workload\":\"{}\",\"threads\":{},\"num\":{},\"value_size\":{},\
         \"sync\":{},\"ops\":{},\"secs\":{:.6},\"ops_per_sec\":{:.1},\"p50_us\":{:.1},\
         \"p99_us\":{:.1},\"p999_us\":{:.1},\"max_us\":{:.1}",
        spec.engine.name(),
        spec.workload.name(),
        spec.threads,
        spec.num,
        spec.value_size,
        spec.syncs(),
        outcome.ops,
        outcome.secs,
        ops_per_sec,
        us(50.0),
        us(99.0),
        us(99.9),
        us(100.0),
    );
    let _ = write!(
        s,
        ",\"key_size\":{},\"batch\":{}",
        spec.key_size,
        spec.records_per_call()
    );
    if let Some(d) = spec.duration {
        let _ = write!(s, ",\"duration\":{d}");
    }
    if let Some(hit_rate) = outcome.hit_rate {
        let _ = write!(s, ",\"hit_rate\":{hit_rate:.4}");
    }
    if let Some(cpu) = outcome.cpu_secs {
        if outcome.secs > 0.0 {
            let _ = write!(s, ",\"cpu_pct\":{:.1}", 100.0 * cpu / outcome.secs);
        }
    }
    if let Some(c) = outcome.counters {
        let per_sec = if outcome.secs > 0.0 {
            c.fsyncs as f64 / outcome.secs
        } else {
            0.0
        };
        let mean_group = if c.groups > 0 {
            c.writes as f64 / c.groups as f64
        } else {
            0.0
        };
        let _ = write!(
            s,
            ",\"fsyncs\":{},\"fsyncs_per_sec\":{per_sec:.1},\"groups\":{},\"mean_group\":{mean_group:.2},\"max_group\":{}",
            c.fsyncs, c.groups, c.max_group
        );
    }
    if let Some(mb) = outcome.mb_per_sec {
        let _ = write!(s, ",\"mb_per_sec\":{mb:.1}");
    }
    if let (Some(mib), Some(big)) = (spec.big_batch_mib, outcome.big) {
        let _ = write!(
            s,
            ",\"big_batch_mib\":{mib},\"big_batches\":{},\"big_batch_max_ms\":{:.1}",
            big.batches, big.max_ms
        );
    }
    s.push('}');
    s
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

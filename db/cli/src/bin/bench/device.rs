//! The device's own limits, measured by the same harness as the engines:
//! `rawsync` (append + `fdatasync`, the ceiling of a synced journal) and
//! `rawseq` (sequential write bandwidth).

use crate::args::{Spec, Workload};
use crate::driver::Recorder;
use crate::gate::{StartGate, CALLED_OFF};
use crate::gen::{self, Values, VALUE_BUFFER_LEN};
use crate::report::{self, Outcome};
use std::fs::File;
use std::io::Write;
use std::time::Instant;

/// Runs `rawsync` or `rawseq` in `spec.db`, one file per thread.
pub fn run(spec: &Spec) -> Result<Outcome, String> {
    let buf = gen::value_buffer();
    let barrier = StartGate::new(spec.threads + 1);
    let spawned = std::thread::scope(|scope| -> Result<_, String> {
        let mut handles = Vec::with_capacity(spec.threads);
        for thread in 0..spec.threads {
            let (gate, buf) = (&barrier, &buf);
            let what = format!("thread {} of {}", thread + 1, spec.threads);
            handles.push(gate.spawn(scope, &what, move || worker(spec, buf, thread, gate))?);
        }
        barrier.wait();
        let cpu_start = report::process_cpu_secs();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a bench thread panicked".to_owned()))
            })
            .collect();
        let cpu_secs = match (cpu_start, report::process_cpu_secs()) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        Ok((results, cpu_secs))
    });
    let (results, cpu_secs) = spawned?;
    let results: Vec<(Instant, Instant, Vec<u64>)> = crate::gate::collect(results)?;
    let started = results
        .iter()
        .map(|r| r.0)
        .min()
        .expect("at least one thread");
    let ended = results
        .iter()
        .map(|r| r.1)
        .max()
        .expect("at least one thread");
    let secs = ended.duration_since(started).as_secs_f64();
    let mut latencies_ns: Vec<u64> = results.into_iter().flat_map(|r| r.2).collect();
    latencies_ns.sort_unstable();
    let ops = latencies_ns.len() as u64;
    let bytes_per_op = match spec.workload {
        Workload::RawSeq => VALUE_BUFFER_LEN,
        _ => spec.value_size,
    };
    Ok(Outcome {
        ops,
        secs,
        latencies_ns,
        cpu_secs,
        mb_per_sec: Some(ops as f64 * bytes_per_op as f64 / secs / 1e6),
        ..Outcome::default()
    })
}

fn worker(
    spec: &Spec,
    buf: &[u8],
    thread: usize,
    barrier: &StartGate,
) -> Result<(Instant, Instant, Vec<u64>), String> {
    let path = spec.db.join(format!("raw-{thread}.log"));
    let mut file = match File::create(&path) {
        Ok(file) => file,
        Err(e) => {
            // The others must not wait for this thread at the start.
            barrier.call_off();
            return Err(format!("cannot create {}: {e}", path.display()));
        }
    };
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut values = Values::new(buf, spec.value_size, thread);
    if !barrier.wait() {
        return Err(CALLED_OFF.to_owned());
    }
    let started = Instant::now();
    let mut rec = Recorder::new(spec.num, spec.duration);
    match spec.workload {
        Workload::RawSync => {
            for _ in 0..spec.num {
                let value = values.next_value();
                rec.time(|| {
                    file.write_all(value)?;
                    file.sync_data()
                })
                .map_err(io)?;
                if rec.expired() {
                    break;
                }
            }
        }
        Workload::RawSeq => {
            // The last chunk (the N-th, or the first to start past
            // `--duration`) carries the one fdatasync.
            for i in 0..spec.num {
                let last = i + 1 == spec.num || rec.expired();
                rec.time(|| {
                    file.write_all(buf)?;
                    if last {
                        file.sync_data()?;
                    }
                    Ok::<(), std::io::Error>(())
                })
                .map_err(io)?;
                if last {
                    break;
                }
            }
        }
        other => unreachable!("{} is not a raw workload", other.name()),
    }
    Ok((started, Instant::now(), rec.into_latencies()))
}

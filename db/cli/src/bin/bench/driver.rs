//! The workloads of BENCH.md over any [`Engine`], with one timing harness.
//!
//! Threads are spawned and given their buffers before a start barrier; time
//! runs from the earliest thread leaving the barrier to the last thread's
//! end. Each call is timed into a vector allocated before the barrier, so the
//! harness allocates nothing on the hot path. Open, prep, settle and close
//! are not timed.
//!
//! Every run but `reopen` also counts what it wrote and reports, at the end
//! of the timed phase and before close, the write amplification and the
//! files per level (module `amp`).

use crate::amp::{self, FillReport, Written};
use crate::args::{Spec, Workload};
use crate::engine::{Counters, Engine};
use crate::gate::{StartGate, CALLED_OFF};
use crate::gen::{self, SplitMix64, Values};
use crate::report::{self, BigBatchReport, Outcome};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Records per batch of `readrandom`'s prep writer (BENCH.md).
const PREP_BATCH: usize = 1000;

/// Pause of the `--big-batch` writer between its batches.
const BIG_BATCH_PAUSE: Duration = Duration::from_millis(500);

/// Runs `spec` against a fresh `E` in `spec.db`.
pub fn run<E: Engine>(spec: &Spec) -> Result<Outcome, String> {
    if spec.workload == Workload::Reopen {
        return crate::reopen::run::<E>(spec);
    }
    let io_before = amp::io_wchar();
    let engine = E::open(&spec.db)?;
    let values = gen::value_buffer();
    let mut written = Written::default();
    if spec.workload == Workload::ReadRandom {
        written = prep(&engine, spec, &values)?;
        engine.settle()?;
    }
    let before = engine.counters();
    let timed = timed_phase(&engine, spec, &values)?;
    if spec.workload.writes() {
        let calls = timed.latencies_ns.len() as u64;
        written.add(timed.ops, spec.key_size, spec.value_size, calls);
    }
    if let (Some(mib), Some(big)) = (spec.big_batch_mib, timed.big) {
        let records = (gen::big_batch_records(mib) as u64) * big.batches;
        written.add(records, spec.key_size, gen::BIG_VALUE_LEN, big.batches);
    }
    // Only one thread writes: each call is one journal record.
    let single_writer =
        (spec.threads == 1 || !spec.workload.writes()) && spec.big_batch_mib.is_none();
    let shape = engine.shape();
    let io = amp::delta(io_before, amp::io_wchar());
    let fill = FillReport::new(&written, shape, single_writer, io);
    let counters = match (before, engine.counters()) {
        (Some(b), Some(a)) => Some(Counters {
            fsyncs: a.fsyncs - b.fsyncs,
            groups: a.groups - b.groups,
            writes: a.writes - b.writes,
            max_group: a.max_group,
        }),
        _ => None,
    };
    engine.close()?;
    Ok(Outcome {
        counters,
        fill: Some(fill),
        ..timed
    })
}

/// What one thread measured.
struct ThreadResult {
    started: Instant,
    ended: Instant,
    latencies_ns: Vec<u64>,
    hits: u64,
}

/// A thread's preallocated latency log, and its deadline.
pub struct Recorder {
    latencies_ns: Vec<u64>,
    /// When the last call ended.
    last_end: Instant,
    /// `--duration`: calls stop once one ends past this instant.
    deadline: Option<Instant>,
}

impl Recorder {
    /// A log for `calls` calls, started now, with `--duration` `secs`.
    pub fn new(calls: usize, secs: Option<f64>) -> Recorder {
        let now = Instant::now();
        Recorder {
            latencies_ns: Vec::with_capacity(calls),
            last_end: now,
            deadline: secs.map(|s| now + Duration::from_secs_f64(s)),
        }
    }

    /// Runs `call`, logging how long it took.
    #[inline(always)]
    pub fn time<T>(&mut self, call: impl FnOnce() -> T) -> T {
        let t0 = Instant::now();
        let res = call();
        let t1 = Instant::now();
        debug_assert!(self.latencies_ns.len() < self.latencies_ns.capacity());
        self.latencies_ns
            .push(t1.duration_since(t0).as_nanos() as u64);
        self.last_end = t1;
        res
    }

    /// Whether `--duration` has run out (never without it).
    #[inline(always)]
    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| self.last_end >= d)
    }

    pub fn into_latencies(self) -> Vec<u64> {
        self.latencies_ns
    }
}

fn timed_phase<E: Engine>(engine: &E, spec: &Spec, values: &[u8]) -> Result<Outcome, String> {
    let big = spec.big_batch_mib;
    let participants = spec.threads + 1 + usize::from(big.is_some());
    let barrier = StartGate::new(participants);
    let finished = AtomicUsize::new(0);
    let spawned = std::thread::scope(|scope| -> Result<_, String> {
        let mut handles = Vec::with_capacity(spec.threads);
        for thread in 0..spec.threads {
            let (gate, finished) = (&barrier, &finished);
            let what = format!("thread {} of {}", thread + 1, spec.threads);
            handles.push(gate.spawn(scope, &what, move || {
                let res = worker(engine, spec, values, thread, gate);
                finished.fetch_add(1, Ordering::Release);
                res
            })?);
        }
        let big_handle = match big {
            None => None,
            Some(mib) => {
                let (gate, finished) = (&barrier, &finished);
                Some(gate.spawn(scope, "the big-batch writer", move || {
                    big_batch_writer(engine, spec, values, mib, gate, finished)
                })?)
            }
        };
        barrier.wait();
        let cpu_start = report::process_cpu_secs();
        let results: Vec<Result<ThreadResult, String>> = handles
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
        let big_report = big_handle.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("the big-batch writer panicked".to_owned()))
        });
        Ok((results, cpu_secs, big_report))
    });
    let (results, cpu_secs, big_report) = spawned?;
    let results: Vec<ThreadResult> = crate::gate::collect(results)?;
    let big = big_report.transpose()?;
    let started = results
        .iter()
        .map(|r| r.started)
        .min()
        .expect("at least one thread");
    let ended = results
        .iter()
        .map(|r| r.ended)
        .max()
        .expect("at least one thread");
    let secs = ended.duration_since(started).as_secs_f64();
    let calls: usize = results.iter().map(|r| r.latencies_ns.len()).sum();
    let hits: u64 = results.iter().map(|r| r.hits).sum();
    let mut latencies_ns = Vec::with_capacity(calls);
    for r in results {
        latencies_ns.extend_from_slice(&r.latencies_ns);
    }
    latencies_ns.sort_unstable();
    Ok(Outcome {
        ops: (calls * spec.records_per_call()) as u64,
        secs,
        latencies_ns,
        cpu_secs,
        hit_rate: (spec.workload == Workload::ReadRandom).then(|| hits as f64 / calls as f64),
        counters: None,
        big,
        mb_per_sec: None,
        fill: None,
        reopen: None,
    })
}

/// One measured thread: the workload's loop between the barrier and its end.
fn worker<E: Engine>(
    engine: &E,
    spec: &Spec,
    values: &[u8],
    thread: usize,
    barrier: &StartGate,
) -> Result<ThreadResult, String> {
    let mut key = vec![0u8; spec.key_size];
    let mut values = Values::new(values, spec.value_size, thread);
    let mut rng = SplitMix64::new(gen::RANDOM_KEY_SEED + thread as u64);
    let key_space = spec.key_space();
    let sync = spec.syncs();
    let mut batch = engine.new_batch();
    let mut hits = 0;
    if !barrier.wait() {
        return Err(CALLED_OFF.to_owned());
    }
    let started = Instant::now();
    let mut rec = Recorder::new(spec.num, spec.duration);
    match spec.workload {
        Workload::FillSeq => {
            let first = (thread * spec.num) as u64;
            for i in 0..spec.num as u64 {
                gen::write_key(&mut key, first + i);
                let value = values.next_value();
                rec.time(|| engine.put(&key, value, sync))?;
                if rec.expired() {
                    break;
                }
            }
        }
        Workload::FillRandom | Workload::FillSync => {
            for _ in 0..spec.num {
                gen::write_key(&mut key, rng.below(key_space));
                let value = values.next_value();
                rec.time(|| engine.put(&key, value, sync))?;
                if rec.expired() {
                    break;
                }
            }
        }
        Workload::FillBatch => {
            // Filling the batch is part of the call, as in db_bench.
            for _ in 0..spec.num {
                rec.time(|| {
                    for _ in 0..spec.batch {
                        gen::write_key(&mut key, rng.below(key_space));
                        engine.batch_put(&mut batch, &key, values.next_value());
                    }
                    engine.write(&mut batch, sync)
                })?;
                if rec.expired() {
                    break;
                }
            }
        }
        Workload::ReadRandom => {
            for _ in 0..spec.num {
                gen::write_key(&mut key, rng.below(key_space));
                hits += u64::from(rec.time(|| engine.get(&key))?);
                if rec.expired() {
                    break;
                }
            }
        }
        Workload::Reopen => unreachable!("reopen runs in the reopen module"),
        Workload::RawSync | Workload::RawSeq => {
            unreachable!("raw workloads run in the device module")
        }
    }
    let ended = Instant::now();
    Ok(ThreadResult {
        started,
        ended,
        latencies_ns: rec.into_latencies(),
        hits,
    })
}

/// `readrandom`'s untimed prep: one thread writes `T*N` random keys (seed
/// `0xf1110000`) in batches of 1000, not synced. Returns what it wrote.
fn prep<E: Engine>(engine: &E, spec: &Spec, values: &[u8]) -> Result<Written, String> {
    let key_space = spec.key_space();
    let mut rng = SplitMix64::new(gen::PREP_SEED);
    let mut values = Values::new(values, spec.value_size, 0);
    let mut key = vec![0u8; spec.key_size];
    let mut batch = engine.new_batch();
    let mut left = key_space;
    while left > 0 {
        let n = left.min(PREP_BATCH as u64);
        for _ in 0..n {
            gen::write_key(&mut key, rng.below(key_space));
            engine.batch_put(&mut batch, &key, values.next_value());
        }
        engine.write(&mut batch, false)?;
        left -= n;
    }
    let mut written = Written::default();
    written.add(
        key_space,
        spec.key_size,
        spec.value_size,
        key_space.div_ceil(PREP_BATCH as u64),
    );
    Ok(written)
}

/// The `--big-batch` side writer: from the barrier until every measured
/// thread is done, a synced batch of `mib` MiB, then a pause. Its keys lie
/// above the measured key space.
fn big_batch_writer<E: Engine>(
    engine: &E,
    spec: &Spec,
    values: &[u8],
    mib: usize,
    barrier: &StartGate,
    finished: &AtomicUsize,
) -> Result<BigBatchReport, String> {
    let records = gen::big_batch_records(mib);
    let mut values = Values::new(values, gen::BIG_VALUE_LEN, 0);
    let mut key = vec![0u8; spec.key_size];
    let mut batch = engine.new_batch();
    let mut report = BigBatchReport::default();
    let done = || finished.load(Ordering::Acquire) == spec.threads;
    if !barrier.wait() {
        return Err(CALLED_OFF.to_owned());
    }
    while !done() {
        let t0 = Instant::now();
        for j in 0..records {
            gen::write_key(&mut key, spec.key_space() + j as u64);
            engine.batch_put(&mut batch, &key, values.next_value());
        }
        engine.write(&mut batch, true)?;
        report.batches += 1;
        report.max_ms = report.max_ms.max(t0.elapsed().as_secs_f64() * 1e3);
        let pause_until = Instant::now() + BIG_BATCH_PAUSE;
        while !done() && Instant::now() < pause_until {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    Ok(report)
}

//! The workloads of BENCH.md over any [`Engine`], with one timing harness.
//!
//! Threads are spawned and given their buffers before a start barrier; time
//! runs from the earliest thread leaving the barrier to the last thread's
//! end. Each call is timed into a vector allocated before the barrier, so the
//! harness allocates nothing on the hot path. Open, prep, settle and close
//! are not timed.
//!
//! Throughput over time is sampled off the hot path: each measured thread
//! stores its count of finished calls into a counter of its own (a plain
//! store to its own cache line, no read-modify-write), and a sampler thread
//! sums the counters every [`SAMPLE_INTERVAL`] (at fixed deadlines from the
//! start, so lateness does not accumulate). The JSON line's
//! `ops_per_interval` holds the ops finished in each whole interval; the
//! tail after the last whole one is left out.
//!
//! Every run but `reopen` also counts what it wrote and reports, at the end
//! of the timed phase and before close, the write amplification, the files
//! per level (module `amp`) and the engine's write stalls during the timed
//! phase (where it counts them), and after the close, if it wrote, the
//! bytes of its directory (`disk_bytes`). With `--reopen-after`, the closed
//! directory is then reopened in a timed child (module `reopen`).
//!
//! Values come from [`gen::values_for`]: incompressible, with every
//! engine's compression off, or with `--compressible` db_bench's
//! compressible values, with every engine at its default compression.
//!
//! The read workloads (`readrandom`, `readwhilewriting`, `seekrandom`,
//! `readseq`) share `readrandom`'s untimed prep and settle, left out with
//! `--use-existing-db`. Their timed calls:
//!
//! - `readrandom`, `readwhilewriting`: a get of a random key; the second
//!   runs beside one writer of random puts over the same key space, at full
//!   speed until the readers are done (its puts are not in `ops`).
//! - `seekrandom`: a new iterator seeks to a random key and reads the
//!   [`SEEK_NEXTS`] entries from there (fewer at the end).
//! - `readseq`: the next entry of one scan from the first key; at the end,
//!   a new scan starts (within that call).

use crate::amp::{self, FillReport, Written};
use crate::args::{Spec, Workload};
use crate::engine::{Counters, Engine, Setup};
use crate::gate::{StartGate, CALLED_OFF};
use crate::gen::{self, SplitMix64, Values};
use crate::report::{self, BigBatchReport, Outcome, ReopenReport, Samples, WriterReport};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Records per batch of `readrandom`'s prep writer (BENCH.md).
const PREP_BATCH: usize = 1000;

/// Entries `seekrandom` reads from each seek (BENCH.md).
pub const SEEK_NEXTS: usize = 10;

/// How often the sampler reads the threads' progress.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// Pause of the `--big-batch` writer between its batches.
const BIG_BATCH_PAUSE: Duration = Duration::from_millis(500);

/// Runs `spec` against a fresh `E` in `spec.db`.
pub fn run<E: Engine>(spec: &Spec) -> Result<Outcome, String> {
    if spec.workload == Workload::Reopen {
        return crate::reopen::run::<E>(spec);
    }
    let io_before = amp::io_wchar();
    let engine = E::open(&spec.db, Setup::of(spec))?;
    let values = gen::values_for(spec.compressible);
    let mut written = Written::default();
    if spec.workload.preps() && !spec.use_existing_db {
        written = prep(&engine, spec, &values)?;
        engine.settle()?;
    }
    let before = engine.counters();
    let stalls_before = engine.stalls();
    let timed = timed_phase(&engine, spec, &values)?;
    if spec.workload.writes() {
        let calls = timed.latencies_ns.len() as u64;
        written.add(timed.ops, spec.key_size, spec.value_size, calls);
    }
    if let (Some(mib), Some(big)) = (spec.big_batch_mib, timed.big) {
        let records = (gen::big_batch_records(mib) as u64) * big.batches;
        written.add(records, spec.key_size, gen::BIG_VALUE_LEN, big.batches);
    }
    if let Some(w) = timed.writer {
        written.add(w.puts, spec.key_size, spec.value_size, w.puts);
    }
    let stalls = match (stalls_before, engine.stalls()) {
        (Some(b), Some(a)) => Some(a.since(b)),
        _ => None,
    };
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
    let through_close = amp::delta(io_before, amp::io_wchar());
    // A run that read only what an earlier one wrote has no size of its own.
    let disk_bytes = if written.records > 0 {
        Some(amp::dir_bytes(&spec.db)?)
    } else {
        None
    };
    let reopen = if spec.reopen_after {
        drop(values);
        Some(ReopenReport {
            prep_rss_anon_kib: amp::rss_anon_kib(),
            write_buffer: E::write_buffer_size(),
            ..crate::reopen::spawn_child(spec)?
        })
    } else {
        None
    };
    let settle = if spec.settle_after {
        let settled = crate::settle::run::<E>(spec)?;
        let reopen_io = match reopen {
            Some(r) => r.io_bytes,
            None => Some(0),
        };
        Some(crate::settle::SettleReport {
            total_io_bytes: (|| Some(through_close? + reopen_io? + settled.io_bytes?))(),
            live_bytes: crate::settle::live_bytes(spec, timed.ops),
            ..settled
        })
    } else {
        None
    };
    Ok(Outcome {
        counters,
        fill: Some(fill),
        stalls,
        reopen,
        disk_bytes,
        settle,
        ..timed
    })
}

/// One measured thread's count of finished calls, on a cache line of its
/// own: stored by that thread alone, read by the sampler.
#[repr(align(128))]
#[derive(Default)]
pub struct Progress(AtomicU64);

/// What one thread measured.
struct ThreadResult {
    started: Instant,
    ended: Instant,
    latencies_ns: Vec<u64>,
    hits: u64,
}

/// A thread's preallocated latency log, its deadline, and its progress
/// counter for the sampler.
pub struct Recorder<'a> {
    latencies_ns: Vec<u64>,
    /// When the last call ended.
    last_end: Instant,
    /// `--duration`: calls stop once one ends past this instant.
    deadline: Option<Instant>,
    /// Set to the number of calls logged after each call.
    progress: Option<&'a Progress>,
}

impl Recorder<'static> {
    /// A log for `calls` calls, started now, with `--duration` `secs`.
    pub fn new(calls: usize, secs: Option<f64>) -> Recorder<'static> {
        let now = Instant::now();
        Recorder {
            latencies_ns: Vec::with_capacity(calls),
            last_end: now,
            deadline: secs.map(|s| now + Duration::from_secs_f64(s)),
            progress: None,
        }
    }
}

impl<'a> Recorder<'a> {
    /// As [`Recorder::new`], publishing its call count to `progress`.
    pub fn tracked(calls: usize, secs: Option<f64>, progress: &'a Progress) -> Recorder<'a> {
        Recorder {
            progress: Some(progress),
            ..Recorder::new(calls, secs)
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
        if let Some(p) = self.progress {
            p.0.store(self.latencies_ns.len() as u64, Ordering::Relaxed);
        }
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
    let side_writer = spec.workload == Workload::ReadWhileWriting;
    // The measured threads, this one, the sampler, and the side writers.
    let participants = spec.threads + 2 + usize::from(big.is_some()) + usize::from(side_writer);
    let barrier = StartGate::new(participants);
    let finished = AtomicUsize::new(0);
    let progress: Vec<Progress> = (0..spec.threads).map(|_| Progress::default()).collect();
    let records = spec.records_per_call() as u64;
    let spawned = std::thread::scope(|scope| -> Result<_, String> {
        let (gate, finished, progress) = (&barrier, &finished, &progress);
        let sampler = gate.spawn(scope, "the sampler", move || {
            sample(progress, records, spec.threads, finished, gate)
        })?;
        let sampler_thread = sampler.thread().clone();
        let mut handles = Vec::with_capacity(spec.threads);
        for (thread, progress) in progress.iter().enumerate() {
            let what = format!("thread {} of {}", thread + 1, spec.threads);
            let sampler_thread = sampler_thread.clone();
            handles.push(gate.spawn(scope, &what, move || {
                let res = worker(engine, spec, values, thread, progress, gate);
                finished.fetch_add(1, Ordering::Release);
                sampler_thread.unpark();
                res
            })?);
        }
        let big_handle = match big {
            None => None,
            Some(mib) => Some(gate.spawn(scope, "the big-batch writer", move || {
                big_batch_writer(engine, spec, values, mib, gate, finished)
            })?),
        };
        let writer_handle = if side_writer {
            Some(gate.spawn(scope, "the writer", move || {
                side_put_writer(engine, spec, values, gate, finished)
            })?)
        } else {
            None
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
        let writer_report = writer_handle.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("the writer panicked".to_owned()))
        });
        let samples = sampler
            .join()
            .unwrap_or_else(|_| Err("the sampler panicked".to_owned()));
        Ok((results, cpu_secs, big_report, writer_report, samples))
    });
    let (results, cpu_secs, big_report, writer_report, samples) = spawned?;
    let results: Vec<ThreadResult> = crate::gate::collect(results)?;
    let big = big_report.transpose()?;
    let writer = writer_report.transpose()?;
    let samples = samples?;
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
    let counts_hits = matches!(
        spec.workload,
        Workload::ReadRandom | Workload::ReadWhileWriting | Workload::SeekRandom
    );
    Ok(Outcome {
        ops: (calls * spec.records_per_call()) as u64,
        secs,
        latencies_ns,
        cpu_secs,
        hit_rate: counts_hits.then(|| hits as f64 / calls as f64),
        counters: None,
        big,
        writer,
        samples: Some(samples),
        ..Outcome::default()
    })
}

/// One measured thread: the workload's loop between the barrier and its end.
fn worker<E: Engine>(
    engine: &E,
    spec: &Spec,
    values: &[u8],
    thread: usize,
    progress: &Progress,
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
    let mut rec = Recorder::tracked(spec.num, spec.duration, progress);
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
        Workload::ReadRandom | Workload::ReadWhileWriting => {
            for _ in 0..spec.num {
                gen::write_key(&mut key, rng.below(key_space));
                hits += u64::from(rec.time(|| engine.get(&key))?);
                if rec.expired() {
                    break;
                }
            }
        }
        Workload::SeekRandom => {
            for _ in 0..spec.num {
                gen::write_key(&mut key, rng.below(key_space));
                let (_, exact) = rec.time(|| engine.seek_read(&key, SEEK_NEXTS))?;
                hits += u64::from(exact);
                if rec.expired() {
                    break;
                }
            }
        }
        Workload::ReadSeq => {
            let mut scan = None;
            for _ in 0..spec.num {
                rec.time(|| read_next(engine, &mut scan))?;
                if rec.expired() {
                    break;
                }
            }
        }
        Workload::Reopen => unreachable!("reopen runs in the reopen module"),
        Workload::OpenLevelDb => unreachable!("openleveldb runs in its own module"),
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

/// `readseq`'s call: the next entry of `scan`, or, at its end (or before
/// the first call), of a new scan from the first key.
#[inline]
fn read_next<'a, E: Engine>(engine: &'a E, scan: &mut Option<E::Scan<'a>>) -> Result<(), String> {
    if let Some(s) = scan.as_mut() {
        if engine.scan_next(s)? {
            return Ok(());
        }
    }
    // The old scan's snapshot goes before the new one is taken.
    *scan = None;
    let s = scan.insert(engine.scan()?);
    if engine.scan_next(s)? {
        Ok(())
    } else {
        Err("readseq found the database empty".to_owned())
    }
}

/// The sampler: from the barrier until every measured thread is done, the
/// ops finished in each whole [`SAMPLE_INTERVAL`] (`records` per call).
/// Measured threads unpark it when they finish.
fn sample(
    progress: &[Progress],
    records: u64,
    threads: usize,
    finished: &AtomicUsize,
    barrier: &StartGate,
) -> Result<Samples, String> {
    if !barrier.wait() {
        return Err(CALLED_OFF.to_owned());
    }
    let start = Instant::now();
    let mut ops = Vec::new();
    let mut last = 0;
    for tick in 1u32.. {
        let deadline = start + SAMPLE_INTERVAL * tick;
        loop {
            if finished.load(Ordering::Acquire) == threads {
                return Ok(Samples {
                    interval_ms: SAMPLE_INTERVAL.as_millis() as u64,
                    ops,
                });
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::park_timeout(deadline - now);
        }
        let calls: u64 = progress.iter().map(|p| p.0.load(Ordering::Relaxed)).sum();
        ops.push((calls - last) * records);
        last = calls;
    }
    unreachable!("the ticks outlast any run")
}

/// `readrandom`'s untimed prep: one thread writes `T*N` (or `--prep-keys`)
/// random keys (seed `0xf1110000`) in batches of 1000, not synced. Returns
/// what it wrote.
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

/// `readwhilewriting`'s writer: from the barrier until every reader is
/// done, puts of random keys over the read key space (seed `0x5eed0000 +
/// T`, after the readers' seeds), synced only with `--sync`. Its puts are
/// not in `ops` nor in the latencies.
fn side_put_writer<E: Engine>(
    engine: &E,
    spec: &Spec,
    values: &[u8],
    barrier: &StartGate,
    finished: &AtomicUsize,
) -> Result<WriterReport, String> {
    let mut key = vec![0u8; spec.key_size];
    let mut values = Values::new(values, spec.value_size, spec.threads);
    let mut rng = SplitMix64::new(gen::RANDOM_KEY_SEED + spec.threads as u64);
    let key_space = spec.key_space();
    let sync = spec.syncs();
    let mut puts = 0;
    if !barrier.wait() {
        return Err(CALLED_OFF.to_owned());
    }
    let started = Instant::now();
    while finished.load(Ordering::Acquire) < spec.threads {
        gen::write_key(&mut key, rng.below(key_space));
        engine.put(&key, values.next_value(), sync)?;
        puts += 1;
    }
    Ok(WriterReport {
        puts,
        secs: started.elapsed().as_secs_f64(),
    })
}

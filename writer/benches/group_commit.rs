//! Group-commit throughput: the protocol alone, over an in-memory journal
//! whose fsync sleeps a configurable time and a memtable that does nothing.
//!
//! For each implementation (`slots`: [`writer::GroupCommit`], the reply-slot
//! refinement; `pipelined`: the same with [`Options::pipelined`], whose
//! fsync runs after the write lock is handed on; `channels`:
//! [`writer::channels::GroupCommit`], goleveldb's rendezvous channels one
//! for one), merging on and off, 1, 4, 16 and 64
//! threads, and an fsync of 150 µs and of 0: puts per second, mean writes per
//! group and fsyncs per second. Then the protocol's own cost per write at one
//! thread with no fsync delay.
//!
//! This is a benchmark, not a test: it prints numbers and asserts nothing.
//! Run it with `cargo bench -p tributary-writer --bench group_commit`; pass
//! `--quick` for shorter cells, `--secs S` for the length of a cell, and
//! `--sync-us U` to change the simulated fsync.
//!
//! Targets (issue #4): at 64 threads with a 150 µs fsync, merging on gives at
//! least 20x the merge-off throughput with a mean group above 30; with no
//! fsync delay, one thread pays under 2 µs per write.

// Benchmarks are exempt from the docs lint on their helpers.
#![allow(missing_docs)]

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use batch::{Batch, SeqNum};
use writer::{Log, Memtable, Metrics, Options, Room, RoomError, Syncer, WriteError, WriteOptions};

/// An in-memory journal: append copies the record into a buffer, sync sleeps.
struct MemLog {
    buf: Vec<u8>,
    sync_delay: Duration,
}

impl Log for MemLog {
    fn append(&mut self, group: &Batch) -> io::Result<()> {
        if self.buf.len() > 8 << 20 {
            self.buf.clear();
        }
        self.buf.extend_from_slice(group.as_bytes());
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        sleep_sync(self.sync_delay)
    }

    fn syncer(&mut self) -> Option<Arc<dyn Syncer>> {
        Some(Arc::new(SleepSync(self.sync_delay)))
    }
}

/// The pipelined writer's fsync: as long as `MemLog`'s.
struct SleepSync(Duration);

impl Syncer for SleepSync {
    fn sync(&self) -> io::Result<()> {
        sleep_sync(self.0)
    }
}

fn sleep_sync(delay: Duration) -> io::Result<()> {
    if !delay.is_zero() {
        thread::sleep(delay);
    }
    Ok(())
}

impl Memtable for MemLog {
    fn apply(&mut self, _group: &Batch) {}
}

impl Room for MemLog {
    fn make_room(&mut self, _n: usize) -> Result<usize, RoomError> {
        Ok(4 << 20)
    }

    fn after_write(&mut self, _applied: usize) -> Result<(), RoomError> {
        Ok(())
    }
}

/// The two implementations, behind one face.
trait Writer: Send + Sync {
    fn put(&self, key: &[u8], value: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError>;
    fn metrics(&self) -> Metrics;
}

impl Writer for writer::GroupCommit {
    fn put(&self, key: &[u8], value: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError> {
        writer::GroupCommit::put(self, key, value, opts)
    }

    fn metrics(&self) -> Metrics {
        writer::GroupCommit::metrics(self)
    }
}

impl Writer for writer::channels::GroupCommit {
    fn put(&self, key: &[u8], value: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError> {
        writer::channels::GroupCommit::put(self, key, value, opts)
    }

    fn metrics(&self) -> Metrics {
        writer::channels::GroupCommit::metrics(self)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Impl {
    Slots,
    Pipelined,
    Channels,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Slots => "slots",
            Impl::Pipelined => "pipelined",
            Impl::Channels => "channels",
        }
    }

    fn build(self, sync_delay: Duration, merge: bool) -> Arc<dyn Writer> {
        let backend = Box::new(MemLog {
            buf: Vec::with_capacity(9 << 20),
            sync_delay,
        });
        let options = Options {
            merge,
            pipelined: self == Impl::Pipelined,
        };
        match self {
            Impl::Slots | Impl::Pipelined => {
                Arc::new(writer::GroupCommit::new(backend, SeqNum(0), options))
            }
            Impl::Channels => Arc::new(writer::channels::GroupCommit::new(
                backend,
                SeqNum(0),
                options,
            )),
        }
    }
}

struct Cell {
    ops_per_sec: f64,
    mean_group: f64,
    fsyncs_per_sec: f64,
}

/// `threads` threads put for `secs`, every put synced.
fn run(imp: Impl, threads: usize, merge: bool, sync_delay: Duration, secs: f64) -> Cell {
    let writer = imp.build(sync_delay, merge);
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(threads + 1));
    let value = [0x5a_u8; 100];
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let writer = Arc::clone(&writer);
            let stop = Arc::clone(&stop);
            let total = Arc::clone(&total);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                let opts = WriteOptions { sync: true, merge };
                start.wait();
                let mut n = 0_u64;
                let mut key = [0_u8; 16];
                key[..8].copy_from_slice(&(t as u64).to_be_bytes());
                while !stop.load(Ordering::Relaxed) {
                    key[8..].copy_from_slice(&n.to_be_bytes());
                    writer.put(&key, &value, opts).expect("put");
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for handle in handles {
        handle.join().unwrap();
    }
    let elapsed = began.elapsed().as_secs_f64();
    let metrics = writer.metrics();
    Cell {
        ops_per_sec: total.load(Ordering::Relaxed) as f64 / elapsed,
        mean_group: metrics.mean_group(),
        fsyncs_per_sec: metrics.fsyncs as f64 / elapsed,
    }
}

/// Nanoseconds per put at one thread, no fsync delay, no sync.
fn cost_per_write(imp: Impl, n: u64) -> f64 {
    let writer = imp.build(Duration::ZERO, true);
    let value = [0x5a_u8; 100];
    let mut key = [0_u8; 16];
    // Warm up.
    for i in 0..n / 10 {
        key[..8].copy_from_slice(&i.to_be_bytes());
        writer.put(&key, &value, WriteOptions::new()).unwrap();
    }
    let began = Instant::now();
    for i in 0..n {
        key[..8].copy_from_slice(&i.to_be_bytes());
        writer.put(&key, &value, WriteOptions::new()).unwrap();
    }
    began.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse::<f64>().expect("a number"))
    };
    let quick = args.iter().any(|a| a == "--quick");
    let secs = arg("--secs").unwrap_or(if quick { 0.3 } else { 1.0 });
    let sync_us = arg("--sync-us").unwrap_or(150.0);
    let only = args
        .iter()
        .position(|a| a == "--impl")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let impls: Vec<Impl> = [Impl::Slots, Impl::Pipelined, Impl::Channels]
        .into_iter()
        .filter(|imp| only.as_deref().is_none_or(|name| name == imp.name()))
        .collect();

    // Measure what the simulated fsync really costs (sleep overshoots).
    let probe = Duration::from_secs_f64(sync_us / 1e6);
    let began = Instant::now();
    for _ in 0..200 {
        thread::sleep(probe);
    }
    let real_sync_us = began.elapsed().as_secs_f64() * 1e6 / 200.0;
    println!(
        "group_commit: every put synced, 16-byte keys, 100-byte values, {secs} s per cell; \
         fsync = sleep({sync_us} us), measured {real_sync_us:.0} us"
    );

    for sync_delay in [Duration::from_secs_f64(sync_us / 1e6), Duration::ZERO] {
        println!();
        println!("fsync delay {} us", sync_delay.as_micros());
        println!(
            "{:<9} {:>7} {:>6} {:>12} {:>11} {:>10} {:>12}",
            "impl", "threads", "merge", "puts/s", "mean group", "fsyncs/s", "on/off"
        );
        for &imp in &impls {
            for threads in [1, 4, 16, 64] {
                let off = run(imp, threads, false, sync_delay, secs);
                let on = run(imp, threads, true, sync_delay, secs);
                for (merge, cell) in [(false, &off), (true, &on)] {
                    let ratio = if merge {
                        format!("{:.1}x", on.ops_per_sec / off.ops_per_sec)
                    } else {
                        String::new()
                    };
                    println!(
                        "{:<9} {:>7} {:>6} {:>12.0} {:>11.1} {:>10.0} {:>12}",
                        imp.name(),
                        threads,
                        if merge { "on" } else { "off" },
                        cell.ops_per_sec,
                        cell.mean_group,
                        cell.fsyncs_per_sec,
                        ratio
                    );
                }
            }
        }
    }

    println!();
    println!("protocol cost per write, 1 thread, no sync, no fsync delay:");
    let n = if quick { 200_000 } else { 2_000_000 };
    for &imp in &impls {
        let ns = cost_per_write(imp, n);
        println!("{:<9} {:>8.0} ns/write", imp.name(), ns);
    }
}

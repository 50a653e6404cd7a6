//! The merge job's speed: MB of data merged per second on one core
//! (issue #14: on two cores it decides the fillrandom race), with each
//! block compression (issue #25: what the codecs cost the merge, which
//! decompresses its inputs and compresses its outputs).
//!
//! Each sample fills a fresh database with compaction paused until level 0
//! holds eight tables of random keys (16-byte keys, 100-byte values, as
//! BENCH.md's fillrandom, built as db_bench's compressible values: 50
//! random printable bytes repeated to 100, which Snappy halves; the key
//! space is four times one table's, so the tables overlap and the merge
//! drops more than half of the versions it reads), flushes the memtable,
//! and then times one `Db::compact`: every table merged into one level,
//! on the calling thread while the background is idle. The throughput is
//! the bytes of data blocks it wrote before compression, so that the
//! compressions compare on the same work. Two file systems: `memory`
//! (`FaultFs`, no device: the merge's own cost) and `disk` (the operating
//! system's, in a temporary directory, outputs synced: what a compaction
//! costs here).
//!
//! Run with `cargo bench -p tributary --bench merge`.

#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tributary::fs::{FaultFs, Fs};
use tributary::{Batch, Compression, Db, Options, WriteOptions};

const WRITE_BUFFER: usize = 4 << 20;
const TABLES: usize = 8;

/// A value as db_bench's compressible ones: 50 printable bytes drawn from
/// `state`, repeated to 100.
fn value(mut state: u64) -> [u8; 100] {
    let mut value = [0u8; 100];
    for i in 0..50 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        value[i] = b' ' + ((state >> 33) % 95) as u8;
        value[i + 50] = value[i];
    }
    value
}

/// A database of `TABLES` overlapping level-0 tables and an empty
/// memtable, with compaction paused.
fn filled(dir: &std::path::Path, fs: Arc<dyn Fs>, compression: Compression) -> Db {
    let options = Options {
        write_buffer_size: WRITE_BUFFER,
        compression,
        fs,
        ..Options::default()
    };
    let db = Db::open(dir, options).unwrap();
    db.pause_compaction(true);
    // About one table's worth of distinct keys times four.
    let key_space = 4 * (WRITE_BUFFER / 140) as u64;
    let mut state = 0x1234_5678_u64;
    while db.stats().files_per_level[0] < TABLES {
        let mut b = Batch::new();
        for _ in 0..100 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            b.put(
                format!("{:016}", (state >> 16) % key_space).as_bytes(),
                value(state),
            );
        }
        db.write(&b, &WriteOptions::default()).unwrap();
    }
    // Flushes the memtable and compacts nothing: no table holds a key at
    // or after "~" (keys are digits).
    db.compact_range(Some(b"~"), None::<&[u8]>).unwrap();
    db
}

/// Times one full compaction of a fresh [`filled`] database; returns the
/// time and the bytes of data blocks it wrote, before compression.
fn one_merge(fs: NewFs, compression: Compression) -> (Duration, u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = filled(dir.path(), fs(), compression);
    let before = db.stats().data_bytes_raw;
    let start = Instant::now();
    db.compact().unwrap();
    let took = start.elapsed();
    let written = db.stats().data_bytes_raw - before;
    db.close().unwrap();
    (took, written)
}

/// Makes the file system of one sample.
type NewFs<'a> = &'a dyn Fn() -> Arc<dyn Fs>;

fn merge(c: &mut Criterion) {
    let file_systems: [(&str, NewFs); 2] = [
        ("memory", &|| Arc::new(FaultFs::new())),
        ("disk", &|| Arc::new(tributary::fs::OsFs)),
    ];
    let mut group = c.benchmark_group("merge");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for (name, fs) in file_systems {
        for compression in [Compression::None, Compression::Snappy, Compression::Zstd] {
            // The output is the same in every sample (the same seeded
            // keys).
            let (_, written) = one_merge(fs, compression);
            group.throughput(Throughput::Bytes(written));
            group.bench_function(format!("{name}/{compression}"), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| one_merge(fs, compression).0).sum());
            });
        }
    }
    group.finish();
}

criterion_group!(benches, merge);
criterion_main!(benches);

//! Block compression on one core (issue #25): MB/s of 4 KiB blocks
//! compressed and decompressed by each codec, over blocks laid out as a
//! table's (16-byte keys, 100-byte values built as db_bench's compressible
//! ones: 50 random printable bytes repeated to 100, which Snappy halves).
//! What a flush or a merge pays per block written, and a read per block
//! read; `cargo bench -p tributary --bench merge` shows the same inside
//! the merge job.
//!
//! Run with `cargo bench -p tributary --bench codec`.

#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tributary::table::compress::{decompress, Compressor};
use tributary::table::Compression;

const BLOCK: usize = 4096;
const BLOCKS: usize = 256;

/// `BLOCKS` blocks' worth of keys and values, as a table lays them out
/// (without the prefix sharing, which only makes blocks denser).
fn blocks() -> Vec<Vec<u8>> {
    let mut state = 0x5eed_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        state >> 33
    };
    let mut all = Vec::with_capacity(BLOCK * BLOCKS);
    let mut i = 0u64;
    while all.len() < BLOCK * BLOCKS {
        all.extend_from_slice(format!("{:016}", next() % 10_000_000).as_bytes());
        let run: Vec<u8> = (0..50).map(|_| b' ' + (next() % 95) as u8).collect();
        all.extend_from_slice(&run);
        all.extend_from_slice(&run);
        all.extend_from_slice(&i.to_le_bytes());
        i += 1;
    }
    all.chunks(BLOCK).map(<[u8]>::to_vec).collect()
}

fn codec(c: &mut Criterion) {
    let raw = blocks();
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes((BLOCK * BLOCKS) as u64));
    for compression in [Compression::Snappy, Compression::Zstd] {
        let mut compressor = Compressor::new(compression);
        let stored: Vec<(Vec<u8>, u8)> = raw
            .iter()
            .map(|b| {
                let (bytes, t) = compressor.compress(b);
                (bytes.to_vec(), t)
            })
            .collect();
        let ratio =
            stored.iter().map(|(b, _)| b.len()).sum::<usize>() as f64 / (BLOCK * BLOCKS) as f64;
        println!(
            "{compression}: blocks stored in {:.0}% of their size",
            ratio * 100.0
        );
        group.bench_function(format!("compress/{compression}"), |b| {
            b.iter(|| {
                raw.iter()
                    .map(|block| compressor.compress(block).0.len())
                    .sum::<usize>()
            });
        });
        group.bench_function(format!("decompress/{compression}"), |b| {
            b.iter(|| {
                stored
                    .iter()
                    .map(|(bytes, t)| decompress(*t, bytes).unwrap().len())
                    .sum::<usize>()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);

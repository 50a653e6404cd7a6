//! Encode and decode throughput of the batch format, in bytes per second.
//!
//! A batch of 1,000 puts with 16-byte keys and 100-byte values, as
//! BENCH.md's workloads write them.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use batch::Batch;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

fn sample() -> Batch {
    let value = [0x5au8; 100];
    let mut b = Batch::new();
    for i in 0..1000u32 {
        b.put(format!("{i:016}").as_bytes(), value);
    }
    b
}

fn codec(c: &mut Criterion) {
    let b = sample();
    let keys: Vec<String> = (0..1000u32).map(|i| format!("{i:016}")).collect();
    let value = [0x5au8; 100];
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Bytes(b.as_bytes().len() as u64));
    group.bench_function("encode_1000_puts", |bench| {
        bench.iter_batched_ref(
            || Batch::with_capacity(b.as_bytes().len()),
            |out| {
                for k in &keys {
                    out.put(k.as_bytes(), value);
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("decode_1000_puts", |bench| {
        bench.iter(|| Batch::decode(black_box(b.as_bytes())).unwrap())
    });
    group.bench_function("iterate_1000_puts", |bench| {
        bench.iter(|| {
            black_box(&b)
                .records()
                .map(|r| r.key().len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);

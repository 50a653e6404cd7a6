//! Journal throughput, in bytes of records per second.
//!
//! - `append`: one `append` plus one `flush` per record into a `Vec<u8>`, as
//!   a group-commit leader does per group: framing, checksums and the copy.
//! - `read`: every record of a 16 MiB journal, back from a byte slice.
//! - `file_append_flush`: the same as `append` into a real file (one
//!   `write(2)` per record), without `fdatasync`.
//!
//! Record sizes: 1 KiB (about ten 100-byte puts) and 100 KiB (a large merged
//! group).
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use journal::{Reader, Recovery, Writer};
use std::hint::black_box;
use std::io::Seek;

const SIZES: [(usize, &str); 2] = [(1024, "1KiB"), (100 * 1024, "100KiB")];

/// Bytes the sink may hold before a benchmark empties it.
const SINK_LIMIT: usize = 64 << 20;

fn record(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 13) as u8).collect()
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    for (len, name) in SIZES {
        let rec = record(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(name, |b| {
            let mut w = Writer::new(Vec::with_capacity(SINK_LIMIT + 2 * len));
            b.iter(|| {
                w.append(black_box(&rec)).unwrap();
                w.flush().unwrap();
                if w.get_ref().len() > SINK_LIMIT {
                    // The writer only appends: emptying the sink is invisible
                    // to it.
                    w.get_mut().clear();
                }
            })
        });
    }
    group.finish();
}

fn read(c: &mut Criterion) {
    let mut group = c.benchmark_group("read");
    for (len, name) in SIZES {
        let rec = record(len);
        let mut w = Writer::new(Vec::new());
        while w.size() < 16 << 20 {
            w.append(&rec).unwrap();
        }
        w.flush().unwrap();
        let bytes = w.into_inner();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut reader = Reader::new(black_box(&bytes[..]), Recovery::Strict);
                let mut n = 0;
                while let Some(r) = reader.next_record().unwrap() {
                    n += r.len();
                }
                n
            })
        });
    }
    group.finish();
}

fn file_append_flush(c: &mut Criterion) {
    let mut group = c.benchmark_group("file_append_flush");
    for (len, name) in SIZES {
        let rec = record(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(name, |b| {
            let file = tempfile::tempfile().unwrap();
            let mut w = Writer::new(file);
            b.iter(|| {
                w.append(black_box(&rec)).unwrap();
                w.flush().unwrap();
                if w.size() % (SINK_LIMIT as u64) < len as u64 {
                    // Keep the file small; the writer does not care where the
                    // file position is.
                    let f = w.get_mut();
                    f.set_len(0).unwrap();
                    f.rewind().unwrap();
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, append, read, file_append_flush);
criterion_main!(benches);

//! Recovery speed: MB/s of journal replayed by `Db::open`.
//!
//! Writes about 64 MiB of journal (16-byte keys, 100-byte values, batches of
//! 100 puts, as BENCH.md's fillbatch), closes, then opens the directory
//! three times and reports the median replay rate. Also reports the raw
//! read-and-decode rate of the journal alone, to show what replay adds.
//!
//! Run with `cargo bench -p tributary --bench recovery`.

use std::time::{Duration, Instant};
use tributary::{Batch, Db, Options, WriteOptions};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` (as xtask may ask) has nothing to list.
    }
    let target_bytes: u64 = std::env::var("RECOVERY_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
        << 20;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let value = [0x5au8; 100];
    let mut i = 0u64;
    while db.stats().journal_bytes < target_bytes {
        let mut b = Batch::new();
        for _ in 0..100 {
            b.put(
                format!("{:016}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 10_000_000).as_bytes(),
                value,
            );
            i += 1;
        }
        db.write(&b, &WriteOptions::default()).unwrap();
    }
    db.close().unwrap();

    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        times.push(t.elapsed());
        bytes = db.recovery_report().bytes();
        assert_eq!(db.recovery_report().last_seq.0, i);
        drop(db);
    }
    times.sort();
    let median = times[1];
    let mbps = |d: Duration| bytes as f64 / (1 << 20) as f64 / d.as_secs_f64();
    println!(
        "recovery: {:.1} MiB of journal ({} records) replayed in {:.0} ms: {:.0} MiB/s (median of 3; min {:.0}, max {:.0} MiB/s)",
        bytes as f64 / (1 << 20) as f64,
        i,
        median.as_secs_f64() * 1e3,
        mbps(median),
        mbps(times[2]),
        mbps(times[0]),
    );

    // The journal layer alone: read and decode every record.
    let t = Instant::now();
    let mut n = 0u64;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let file =
                std::io::BufReader::with_capacity(256 << 10, std::fs::File::open(&path).unwrap());
            let mut reader = journal::Reader::new(file, journal::Recovery::Strict);
            while let Some(record) = reader.next_record().unwrap() {
                n += Batch::decode(record).unwrap().len() as u64;
            }
        }
    }
    let read = t.elapsed();
    assert_eq!(n, i);
    println!("journal read + batch decode alone: {:.0} MiB/s", mbps(read));
}

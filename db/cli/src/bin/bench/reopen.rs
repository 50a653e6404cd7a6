//! The `reopen` workload (issue #13): how long an engine takes to open a
//! directory it filled, and the anonymous memory it holds once open.
//!
//! 1. Untimed prep, in this process: `fillrandom` by one thread, `T*N`
//!    random puts (seed `0x5eed0000`, keys over `[0, T*N)`, not synced
//!    unless `--sync`), then close. `--duration` does not apply. The JSON
//!    line's write-amplification fields (module `amp`) are the prep's, taken
//!    before its close, `disk_bytes` the directory's after it, and
//!    `prep_rss_anon_kib` is this process's `RssAnon` after it.
//! 2. The timed part runs in a fresh child, this binary re-executed with
//!    the hidden `--reopen-only` flag, so that none of the prep's memory
//!    (its memtables, the value buffer, allocator caches) is counted: the
//!    child reads `RssAnon` (`rss_anon_before_kib`), opens the directory
//!    with the engine's defaults (compression off unless `--compressible`,
//!    as in the prep), gets the prep's first key (it must be
//!    found), reads `RssAnon` again (`rss_anon_kib`), then closes, untimed.
//!    `reopen_secs` is the open plus that get; `open_secs` the open alone.
//!
//! The line has `ops` 1, `secs` = `reopen_secs`, `ops_per_sec` =
//! 1/`reopen_secs`, and the one "latency" is the reopen; for engines whose
//! default write buffer is known, `write_buffer_bytes` and
//! `rss_anon_write_buffers` = `RssAnon` after the open / the write buffer.

use crate::amp::{self, FillReport, Written};
use crate::args::Spec;
use crate::engine::{Engine, Setup};
use crate::gen::{self, SplitMix64, Values};
use crate::report::{Outcome, ReopenReport};
use std::process::Command;
use std::time::Instant;

/// The parent: prep, close, then the child's timed open.
pub fn run<E: Engine>(spec: &Spec) -> Result<Outcome, String> {
    let io_before = amp::io_wchar();
    let engine = E::open(&spec.db, Setup::of(spec))?;
    let values = gen::values_for(spec.compressible);
    let written = fill(&engine, spec, &values)?;
    let shape = engine.shape();
    let io = amp::delta(io_before, amp::io_wchar());
    let fill_report = FillReport::new(&written, shape, true, io);
    engine.close()?;
    drop(values);
    let disk_bytes = amp::dir_bytes(&spec.db)?;
    let prep_rss_anon_kib = amp::rss_anon_kib();

    let report = ReopenReport {
        prep_rss_anon_kib,
        write_buffer: E::write_buffer_size(),
        ..spawn_child(spec)?
    };
    let reopen_ns = (report.reopen_secs * 1e9).round() as u64;
    Ok(Outcome {
        ops: 1,
        secs: report.reopen_secs,
        latencies_ns: vec![reopen_ns],
        fill: Some(fill_report),
        reopen: Some(report),
        disk_bytes: Some(disk_bytes),
        ..Outcome::default()
    })
}

/// The prep: `T*N` random puts by one thread (seed `0x5eed0000`, keys
/// over `[0, T*N)`), from `values`. `openleveldb` fills LevelDB with it.
pub fn fill<E: Engine>(engine: &E, spec: &Spec, values: &[u8]) -> Result<Written, String> {
    let key_space = spec.key_space();
    let mut rng = SplitMix64::new(gen::RANDOM_KEY_SEED);
    let mut values = Values::new(values, spec.value_size, 0);
    let mut key = vec![0u8; spec.key_size];
    let sync = spec.syncs();
    for _ in 0..key_space {
        gen::write_key(&mut key, rng.below(key_space));
        engine.put(&key, values.next_value(), sync)?;
    }
    let mut written = Written::default();
    written.add(key_space, spec.key_size, spec.value_size, key_space);
    Ok(written)
}

/// The key the prep wrote first.
fn first_key(spec: &Spec) -> Vec<u8> {
    let mut key = vec![0u8; spec.key_size];
    let mut rng = SplitMix64::new(gen::RANDOM_KEY_SEED);
    gen::write_key(&mut key, rng.below(spec.key_space()));
    key
}

/// Re-executes this binary with `--reopen-only` on the prep's directory and
/// reads back what it measured.
pub fn spawn_child(spec: &Spec) -> Result<ReopenReport, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the bench binary: {e}"))?;
    let mut cmd = Command::new(&exe);
    cmd.arg("--db")
        .arg(&spec.db)
        .args(["--engine", spec.engine.name(), "--workload", "reopen"])
        .args(["--threads", &spec.threads.to_string()])
        .args(["--num", &spec.num.to_string()])
        .args(["--key-size", &spec.key_size.to_string()])
        .args(["--value-size", &spec.value_size.to_string()])
        .arg("--reopen-only")
        .args(spec.tuning.args());
    if spec.compressible {
        cmd.arg("--compressible");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!(
            "the reopen child failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("the reopen child printed no JSON ({e}): {text}"))?;
    let f = |k: &str| line.get(k).and_then(serde_json::Value::as_f64);
    let u = |k: &str| line.get(k).and_then(serde_json::Value::as_u64);
    Ok(ReopenReport {
        reopen_secs: f("reopen_secs").ok_or("the reopen child gave no reopen_secs")?,
        open_secs: f("open_secs").ok_or("the reopen child gave no open_secs")?,
        rss_anon_before_kib: u("rss_anon_before_kib"),
        rss_anon_kib: u("rss_anon_kib"),
        io_bytes: u("io_bytes"),
        ..ReopenReport::default()
    })
}

/// The child: times the open of the existing directory and one get, reads
/// `RssAnon` around them, and returns its JSON line.
pub fn child<E: Engine>(spec: &Spec) -> Result<String, String> {
    let key = first_key(spec);
    let rss_before = amp::rss_anon_kib();
    let t0 = Instant::now();
    let engine = E::open(&spec.db, Setup::of(spec))?;
    let opened = t0.elapsed();
    let found = engine.get(&key)?;
    let reopened = t0.elapsed();
    let rss_after = amp::rss_anon_kib();
    if !found {
        return Err(format!(
            "key {} written by the prep is missing after the reopen",
            String::from_utf8_lossy(&key)
        ));
    }
    engine.close()?;
    let io_bytes = amp::io_wchar();
    let mut line = serde_json::json!({
        "reopen_secs": reopened.as_secs_f64(),
        "open_secs": opened.as_secs_f64(),
    });
    let fields = line.as_object_mut().expect("an object");
    if let Some(k) = rss_before {
        fields.insert("rss_anon_before_kib".to_owned(), k.into());
    }
    if let Some(k) = rss_after {
        fields.insert("rss_anon_kib".to_owned(), k.into());
    }
    if let Some(io) = io_bytes {
        fields.insert("io_bytes".to_owned(), io.into());
    }
    Ok(line.to_string())
}

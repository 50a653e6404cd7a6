//! `--settle-after` (issue #28): what a fill costs once the engine has
//! finished the work it left behind, so that no engine looks cheaper for
//! leaving a backlog.
//!
//! After the fill's close (and the timed reopen of `--reopen-after`, whose
//! child's writes are counted too), the directory is opened again in this
//! process with the engine's defaults and left alone: every
//! [`POLL`] the process's write counter (`wchar` of `/proc/self/io`) is
//! read, and once it has not moved for [`IDLE`] the engine is settled. Then
//! it is closed. Reported, beside the fill's own figures:
//!
//! - `settle_secs`: from the open to the last write seen.
//! - `settled_io_bytes`: every byte the fill's process and its children
//!   passed to `write(2)` from the fill's open to the settled close;
//!   `settled_write_amp` is that over `user_bytes`.
//! - `settled_files_per_level`, `settled_table_files`: the engine's shape
//!   once idle.
//! - `settled_disk_bytes`: the directory's bytes after that close, and
//!   `live_bytes`, the keys plus values of the distinct keys the fill
//!   wrote (counted again from the fill's key streams), so that
//!   `space_amp` = `settled_disk_bytes` / `live_bytes`.
//!
//! A settle that writes for longer than [`MAX_SETTLE`] is an error: the
//! engine would never settle.

use crate::amp::{self, Shape};
use crate::args::{Spec, Workload};
use crate::engine::{Engine, Setup};
use crate::gen::{self, SplitMix64};
use std::time::{Duration, Instant};

/// How long the write counter must stay still for the engine to count as
/// settled (BENCH.md: no file written for 3 s).
pub const IDLE: Duration = Duration::from_secs(3);

/// How often the write counter is read.
pub const POLL: Duration = Duration::from_millis(100);

/// The longest a settle may keep writing.
pub const MAX_SETTLE: Duration = Duration::from_secs(1800);

/// What the settle measured.
#[derive(Debug, Default, Clone)]
pub struct SettleReport {
    /// From the open to the last write seen, in seconds.
    pub secs: f64,
    /// What the settle's open wrote, through its close.
    pub io_bytes: Option<u64>,
    /// The engine's shape once idle.
    pub shape: Shape,
    /// The directory's bytes after the close.
    pub disk_bytes: u64,
    /// What the fill's process and its children wrote from the fill's
    /// open to the settle's close (the driver adds it up).
    pub total_io_bytes: Option<u64>,
    /// [`live_bytes`] of the fill.
    pub live_bytes: Option<u64>,
}

/// Opens `spec.db` again, waits until the engine writes nothing for
/// [`IDLE`], and closes it.
pub fn run<E: Engine>(spec: &Spec) -> Result<SettleReport, String> {
    let io_before = amp::io_wchar();
    let opened = Instant::now();
    let engine = E::open(&spec.db, Setup::of(spec))?;
    let mut last = amp::io_wchar();
    let mut last_write = Instant::now();
    while last_write.elapsed() < IDLE {
        std::thread::sleep(POLL);
        let now = amp::io_wchar();
        if now != last {
            last = now;
            last_write = Instant::now();
        }
        if opened.elapsed() > MAX_SETTLE {
            return Err(format!(
                "the engine was still writing {} s after the settle's open",
                MAX_SETTLE.as_secs()
            ));
        }
    }
    let secs = last_write.duration_since(opened).as_secs_f64();
    let shape = engine.shape();
    engine.close()?;
    Ok(SettleReport {
        secs,
        io_bytes: amp::delta(io_before, amp::io_wchar()),
        shape,
        disk_bytes: amp::dir_bytes(&spec.db)?,
        ..SettleReport::default()
    })
}

/// The keys plus values of the distinct keys a `fillrandom` of `spec`
/// wrote, if every thread made all its calls (`ops` records in all): each
/// thread's key stream drawn again.
pub fn live_bytes(spec: &Spec, ops: u64) -> Option<u64> {
    if spec.workload != Workload::FillRandom || ops != (spec.threads * spec.num) as u64 {
        return None;
    }
    let key_space = spec.key_space();
    let mut seen = vec![0u64; key_space.div_ceil(64) as usize];
    let mut distinct = 0u64;
    for thread in 0..spec.threads {
        let mut rng = SplitMix64::new(gen::RANDOM_KEY_SEED + thread as u64);
        for _ in 0..spec.num {
            let index = rng.below(key_space);
            let (word, bit) = ((index / 64) as usize, index % 64);
            if seen[word] & (1 << bit) == 0 {
                seen[word] |= 1 << bit;
                distinct += 1;
            }
        }
    }
    Some(distinct * (spec.key_size + spec.value_size) as u64)
}

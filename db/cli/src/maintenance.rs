//! `compact`, `check` and `repair`: the commands that may run for
//! minutes. Each says on stderr what it is doing when it starts, and what
//! it did and how long it took when it ends; what it found goes to stdout.
//!
//! The library reports no progress from inside these calls, so the lines
//! come from what it does offer: `Db::stats` before, during (a compaction
//! is polled once a second from another thread) and after, the reports
//! `check` and `repair` return, and with `-v` the `log` events of every
//! flush and compaction.

use crate::progress::{mib, StatusLine};
use crate::text::Notation;
use crate::Failure;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tributary::{Db, Options, Stats};

/// How often a running compaction's counters are shown.
const COMPACT_PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The keys a `compact` covers, both ends inclusive; `None` is open.
pub struct KeyRange {
    /// The first key.
    pub start: Option<Vec<u8>>,
    /// The last key.
    pub end: Option<Vec<u8>>,
}

/// `compact`: LevelDB's `CompactRange` over `range` of the database in
/// `dir`, which must exist. Prints the tables per level before and after.
pub fn compact(
    dir: &Path,
    range: KeyRange,
    notation: Notation,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let options = Options {
        create_if_missing: false,
        ..Options::default()
    };
    let db = Db::open(dir, options)?;
    let before = db.stats();
    eprintln!(
        "compacting {} of {}: {} tables, {:.2} MiB",
        describe(&range, notation),
        dir.display(),
        before.files_per_level.iter().sum::<usize>(),
        mib(before.bytes_per_level.iter().sum())
    );
    let started = Instant::now();
    compact_showing_progress(&db, &before, range)?;
    let after = db.stats();
    eprintln!(
        "compacted in {:.1} s: {} compactions, {:.2} MiB of tables written",
        started.elapsed().as_secs_f64(),
        after.compactions - before.compactions,
        mib(after.table_bytes_written - before.table_bytes_written)
    );
    writeln!(
        out,
        "tables per level {:?} ({:.2} MiB) -> {:?} ({:.2} MiB)",
        before.files_per_level,
        mib(before.bytes_per_level.iter().sum()),
        after.files_per_level,
        mib(after.bytes_per_level.iter().sum())
    )?;
    db.close()?;
    Ok(())
}

/// Runs the compaction, showing the compactions done and bytes written
/// since `before` once a second while it runs.
fn compact_showing_progress(db: &Db, before: &Stats, range: KeyRange) -> Result<(), Failure> {
    let (finished, finished_rx) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut status = StatusLine::new(COMPACT_PROGRESS_EVERY);
            let started = Instant::now();
            // Wakes once a second until the sender is dropped.
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                finished_rx.recv_timeout(COMPACT_PROGRESS_EVERY)
            {
                status.tick(|| {
                    let now = db.stats();
                    format!(
                        "compacting: {:.0} s, {} compactions, {:.2} MiB of tables written",
                        started.elapsed().as_secs_f64(),
                        now.compactions - before.compactions,
                        mib(now.table_bytes_written - before.table_bytes_written)
                    )
                });
            }
        });
        let result = db.compact_range(range.start, range.end);
        drop(finished);
        result
    })?;
    Ok(())
}

/// The keys of `range`, for people.
fn describe(range: &KeyRange, notation: Notation) -> String {
    match (&range.start, &range.end) {
        (None, None) => "all keys".to_owned(),
        (Some(s), None) => format!("the keys from {}", notation.show(s)),
        (None, Some(e)) => format!("the keys up to {}", notation.show(e)),
        (Some(s), Some(e)) => format!("the keys from {} to {}", notation.show(s), notation.show(e)),
    }
}

/// `check`: what opening the database in `dir` would do, changing
/// nothing; [`Failure::Db`] if it would drop anything.
pub fn check(dir: &Path, out: &mut dyn Write) -> Result<(), Failure> {
    eprintln!(
        "checking {}: replaying its journals and reading every block of every table",
        dir.display()
    );
    let started = Instant::now();
    let report = Db::check(dir, &Options::default())?;
    eprintln!(
        "checked in {:.1} s: {} tables ({:.2} MiB), {} journals ({:.2} MiB)",
        started.elapsed().as_secs_f64(),
        report.tables,
        mib(report.table_bytes),
        report.journals.len(),
        mib(report.bytes())
    );
    writeln!(out, "{report}")?;
    if report.manifest.is_some() {
        writeln!(out, "every block of every table checked")?;
    }
    if report.is_clean() {
        writeln!(out, "ok")?;
        Ok(())
    } else if report.damage.is_some() {
        Err(Failure::Db(format!(
            "{}: the history is broken; opening recovers the prefix above and sets the rest aside in lost/",
            dir.display()
        )))
    } else {
        Err(Failure::Db(format!(
            "{}: recovery would drop a torn tail",
            dir.display()
        )))
    }
}

/// `repair`: rebuilds the database in `dir` from whatever is readable,
/// and prints what it salvaged and set aside.
pub fn repair(dir: &Path, out: &mut dyn Write) -> Result<(), Failure> {
    eprintln!(
        "repairing {}: reading every table and journal",
        dir.display()
    );
    let started = Instant::now();
    let report = Db::repair(dir, &Options::default())?;
    let salvaged: u64 = report
        .tables
        .iter()
        .chain(&report.journals)
        .map(|s| s.entries)
        .sum();
    eprintln!(
        "repaired in {:.1} s: {salvaged} entries read from {} tables and {} journals, \
         {} keys written in {} tables, {} files set aside in lost/",
        started.elapsed().as_secs_f64(),
        report.tables.len(),
        report.journals.len(),
        report.keys,
        report.tables_written,
        report.set_aside.len()
    );
    writeln!(out, "{report}")?;
    Ok(())
}

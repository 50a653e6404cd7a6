//! `compact`, `check` and `repair`: the commands that may run for
//! minutes. Each says on stderr what it is doing when it starts, and what
//! it did and how long it took when it ends; what it found goes to stdout.
//!
//! In between, the library's progress events (a table read, tables
//! written, a level merged) show as lines of their own, at most one a
//! second (`logger`); the end lines come from `Db::stats` before and
//! after and from the reports `check` and `repair` return.

use crate::progress::mib;
use crate::text::Notation;
use crate::Failure;
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use tributary::{Db, Options};

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
    db.compact_range(range.start, range.end)?;
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
    // The verdict first: a reader that closes the pipe early (`check |
    // head`) must not turn damage into success.
    let verdict = if report.is_clean() {
        Ok(())
    } else if report.damage.is_some() {
        Err(Failure::Db(format!(
            "{}: the history is broken; opening recovers the prefix above and sets the rest aside in lost/",
            dir.display()
        )))
    } else {
        Err(Failure::Db(format!(
            "{}: recovery would drop a torn tail (beside a live writer: the record it is appending)",
            dir.display()
        )))
    };
    let printed = (|| {
        writeln!(out, "{report}")?;
        if report.manifest.is_some() {
            writeln!(out, "every block of every table checked")?;
        }
        if verdict.is_ok() {
            writeln!(out, "ok")?;
        }
        Ok::<(), Failure>(())
    })();
    verdict.and(printed)
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

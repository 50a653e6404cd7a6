//! Flush: the oldest frozen memtable becomes a level-0 table, and the
//! journals that only it needed go.
//!
//! One flush, for the oldest frozen memtable `M` (TABLES.md §6, committed
//! as `version::set` says):
//!
//! 1. write `M`'s entries, every version, to a new table and sync it
//!    (skipped for an empty memtable: no table is ever empty);
//! 2. fsync the directory;
//! 3. commit the edit: the table at level 0, `LogNumber` = the first
//!    journal of the memtable after `M` (journals below it hold nothing
//!    unflushed), `LastSeq` = `M`'s newest record, the next file number,
//!    and the synced lengths of closed journals;
//! 4. publish a view without `M` and with the table;
//! 5. delete the journals below the new log number.
//!
//! Oldest first, so that the log number only moves past memtables whose
//! records are in tables. A crash anywhere before 3 leaves an orphan table
//! and the journals: the next open replays them and deletes the orphan.

use super::build;
use crate::error::{io_err, Error};
use crate::read::{Change, Frozen, View};
use crate::state::{Count, Shared};
use crate::sync::lock;
use crate::version::{Field, VersionSet};
use std::sync::Arc;

/// Flushes frozen memtables, oldest first, until none is left; returns how
/// many. Runs with the version set held, so one flush at a time.
///
/// `synced` are closed journals whose sync completed (number, length):
/// recorded in the manifest with the first edit.
///
/// # Errors
///
/// A table write error (the memtable stays frozen, to be retried) or a
/// manifest error (the set refuses every later commit).
pub(crate) fn flush_frozen(shared: &Shared, mut synced: Vec<(u64, u64)>) -> Result<usize, Error> {
    let mut guard = lock(&shared.versions);
    let Some(set) = guard.as_mut() else {
        return Ok(0);
    };
    let mut flushed = 0;
    let result = loop {
        let view = shared.read.view();
        let Some(oldest) = view.frozen.last().cloned() else {
            break Ok(flushed);
        };
        if let Err(e) = flush_one(shared, set, &view, &oldest, &mut synced) {
            break Err(e);
        }
        flushed += 1;
    };
    // Synced lengths no flush edit took (nothing to flush, or a table
    // write failed): recorded on their own, so that recovery can verify
    // the journals while they stay live.
    let fields = tracked(set, std::mem::take(&mut synced));
    if !fields.is_empty() && !shared.failure.is_set() {
        set.record(fields)?;
    }
    result
}

/// Records the synced lengths of `synced` journals in the manifest, with
/// no flush (the background thread's last round, at close).
pub(crate) fn record_synced(shared: &Shared, synced: Vec<(u64, u64)>) -> Result<(), Error> {
    let mut guard = lock(&shared.versions);
    let Some(set) = guard.as_mut() else {
        return Ok(());
    };
    let fields = tracked(set, synced);
    if fields.is_empty() || shared.failure.is_set() {
        return Ok(());
    }
    set.record(fields)
}

/// The `JournalSynced` fields for the journals still at or above the log
/// number.
fn tracked(set: &VersionSet, synced: Vec<(u64, u64)>) -> Vec<Field> {
    synced
        .into_iter()
        .filter(|&(number, _)| number >= set.catalog().log_number)
        .map(|(number, len)| Field::JournalSynced { number, len })
        .collect()
}

fn flush_one(
    shared: &Shared,
    set: &mut VersionSet,
    view: &View,
    oldest: &Arc<Frozen>,
    synced: &mut Vec<(u64, u64)>,
) -> Result<(), Error> {
    let dir = shared.files.dir();
    let fs = &**shared.files.fs();
    // The journal the next memtable's records begin in.
    let log_number = match view.frozen.len() {
        1 => view.active_journal,
        n => view.frozen[n - 2].journal,
    };

    let mut edit = Vec::new();
    let mut last_seq = 0;
    if !oldest.memdb.is_empty() {
        let (number, path) = shared.files.new_table()?;
        let written;
        (written, last_seq) = build::write_memtable(
            fs,
            &path,
            number,
            shared.shape.table_options(0),
            &oldest.memdb,
        )
        .map_err(io_err("write table", &path))?;
        fs.sync_dir(dir).map_err(io_err("directory fsync", dir))?;
        written.count(&shared.counters, 0);
        edit.push(Field::AddFile {
            level: 0,
            file: written.meta,
        });
    }
    edit.push(Field::LogNumber(log_number));
    edit.push(Field::LastSeq(last_seq));
    edit.extend(tracked(set, std::mem::take(synced)));
    let version = set.log_and_apply(edit, &view.version)?;
    // Published: readers find the records in the table from now on.
    shared.install(version, Change::Flushed(oldest));
    shared.counters.add(Count::Flushes, 1);
    log::debug!(
        "flushed {} entries ({} bytes); log number {log_number}",
        oldest.memdb.len(),
        oldest.memdb.used()
    );

    // Obsolete now that the edit is durable: the journals below the log
    // number.
    shared.journals.delete_below(log_number);
    Ok(())
}

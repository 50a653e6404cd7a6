//! A batch larger than the write buffer goes straight to a level-0 table
//! (goleveldb's large-batch transaction), neither journaled nor held in a
//! memtable.
//!
//! Journaling it and then flushing its memtable would write it twice, the
//! second time as a background table write that competes with the synced
//! writers' fsyncs for the device long after the batch was acknowledged.
//! Written once as a table, under the write lock, it costs the small
//! writers what its journal append did, and nothing afterwards.
//!
//! # Why the memtables are flushed first
//!
//! Reads consult the memtables before the tables, so a table must never
//! hold a newer version of a key than a memtable does. The group-commit
//! leader therefore rotates a non-empty active memtable before calling
//! [`write`], and [`write`] flushes every frozen memtable before writing
//! the batch: the batch's table then holds the newest records of every
//! table, takes the largest file number (level 0 reads newest first by
//! number), and the memtables are empty until the next write, which is
//! newer than the batch.
//!
//! # Commit
//!
//! As a flush (`version::set`): the table is written and synced, the
//! directory fsynced, then one edit, the table at level 0 and
//! `LastSeq` = the batch's last record, is the commit point. Every earlier
//! write is in a table by then, so a crash keeps a prefix of the history:
//! before the commit the batch is absent (its table an orphan the next
//! open deletes), after it the batch is whole. Recovery replays the
//! journals after `LastSeq` only, and the next write continues there.
//!
//! A failure before the commit leaves nothing named: the write fails and
//! its sequence numbers go to the next write. A manifest failure stops
//! commits and poisons writes, as for a flush.

use super::build;
use crate::error::{io_err, Error};
use crate::read::Change;
use crate::state::{Count, Shared};
use crate::sync::lock;
use crate::version::Field;
use batch::Batch;

/// Writes `group`, numbered and larger than the write buffer, to a new
/// level-0 table, commits it and publishes its last sequence number,
/// which it returns. The caller holds the write lock and has rotated the
/// active memtable if it held anything.
///
/// # Errors
///
/// A closed journal's failed sync, a flush's error, a table write error
/// (nothing committed), or a manifest error (commits stop; the background
/// error is set so that every later write refuses).
pub(crate) fn write(shared: &Shared, group: &Batch) -> Result<u64, Error> {
    debug_assert!(!group.is_empty());
    let first = group.seq().0;
    let last = first + group.len() as u64 - 1;

    // Everything older into tables first (see the module comment). The
    // journals rotation closed are synced before a flush deletes them, as
    // the background thread does.
    shared
        .journals
        .sync_closed()
        .map_err(io_err("fdatasync closed journal", shared.files.dir()))?;
    super::flush_now(shared)?;
    debug_assert!(shared.read.view().frozen.is_empty());

    let mut guard = lock(&shared.versions);
    let Some(set) = guard.as_mut() else {
        return Err(Error::Io {
            op: "write a large batch",
            path: shared.files.dir().to_path_buf(),
            source: std::io::Error::other("the database has no manifest"),
        });
    };
    let dir = shared.files.dir();
    let fs = &**shared.files.fs();
    let (number, path) = shared.files.new_table()?;
    // Sorted as borrowed slices, with no allocation per record.
    let written = build::write_batches(
        fs,
        &path,
        number,
        shared.shape.table_options(0),
        std::slice::from_ref(group),
    )
    .map_err(io_err("write table", &path))?;
    if let Err(e) = fs.sync_dir(dir) {
        let _ = fs.remove(&path);
        return Err(io_err("directory fsync", dir)(e));
    }
    written.count(&shared.counters, 0);
    let edit = vec![
        Field::AddFile {
            level: 0,
            file: written.meta,
        },
        Field::LastSeq(last),
    ];
    // The batch's numbers are taken for good once committed.
    match set.log_and_apply(edit, &shared.read.view().version) {
        // Published: readers find the batch in the table.
        Ok(version) => shared.install(version, Change::LargeBatch(last)),
        Err(e) => {
            drop(guard);
            super::note_stopped(shared, &e);
            return Err(e);
        }
    }
    shared.counters.add(Count::LargeBatches, 1);
    shared.lanes.tables_changed();
    log::debug!(
        "wrote a large batch of {} records ({} bytes) to table {number}",
        group.len(),
        group.internal_len()
    );
    Ok(last)
}

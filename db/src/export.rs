//! Handing a directory back to LevelDB (INTEROP.md §5): the way back from
//! opening a LevelDB or goleveldb directory in place.
//!
//! With every memtable flushed, the tables hold everything and the live
//! journal is empty, so a LevelDB manifest listing the tables, their
//! levels and the counters describes the whole database. The export:
//!
//! 1. refuses, naming the table, if a table stores a block type LevelDB
//!    1.23 and goleveldb do not read (zstd), changing nothing; or, if
//!    asked ([`ExportOptions::rewrite_zstd`]), first rewrites each such
//!    table with Snappy, one for one, committed as a compaction;
//! 2. writes `MANIFEST-K`, a new number, in LevelDB's format (one record:
//!    the bytewise comparator, the log number of the live journal, the
//!    next file number, the last sequence number and every table), synced
//!    with its directory;
//! 3. points `CURRENT` at it (temporary file, fsync, rename, directory
//!    fsync: [`files::set_current`]);
//! 4. takes the version set away, so that nothing commits to this
//!    database's own manifest, which `CURRENT` no longer names.
//!
//! A crash before step 3 leaves `CURRENT` naming this database's manifest
//! (the new file is an orphan); after it, LevelDB's. Either way every
//! record is there, and Tributary opens both (the next open converts the
//! directory again).

use crate::compaction::merge;
use crate::error::{io_err, Error};
use crate::files;
use crate::state::Shared;
use crate::sync::lock;
use crate::table::format::{NO_COMPRESSION, SNAPPY};
use crate::table::{Compression, Table, TableOptions};
use crate::version::leveldb;
use std::path::PathBuf;

/// How [`Db::export_leveldb`](crate::Db::export_leveldb) hands a
/// directory over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Rewrite each table that stores zstd blocks (which LevelDB 1.23 and
    /// goleveldb cannot read) with Snappy first, instead of refusing.
    /// Default: false.
    pub rewrite_zstd: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The LevelDB manifest `CURRENT` now names.
    pub manifest: PathBuf,
    /// Tables it lists.
    pub tables: usize,
    /// The last sequence number it records.
    pub last_seq: u64,
    /// Tables rewritten with Snappy first ([`ExportOptions::rewrite_zstd`]).
    pub rewritten: usize,
}

/// The first block type of `table` that LevelDB 1.23 and goleveldb do not
/// read, if any.
fn unreadable_type(table: &Table) -> Option<u8> {
    table
        .block_types()
        .into_iter()
        .find(|&t| t != NO_COMPRESSION && t != SNAPPY)
}

/// Steps 1 to 4 of the module comment, for a database whose memtables are
/// flushed and which takes no more writes.
///
/// # Errors
///
/// [`Error::Unexportable`] naming a table LevelDB cannot read, with
/// nothing changed; [`Error::ReadOnly`] without a manifest; the I/O error
/// of the manifest or of `CURRENT` (with `CURRENT` unchanged unless its
/// rename was done, and the database then taking no more commits).
pub(crate) fn export(shared: &Shared, options: ExportOptions) -> Result<Exported, Error> {
    // No compaction runs meanwhile: the tables listed stay the tables
    // there.
    let _alone = shared.lanes.compacting();
    let mut rewritten = 0;
    if options.rewrite_zstd {
        let view = shared.read.view();
        for (level, file) in view.version.tables() {
            if unreadable_type(file.table()?).is_some() {
                let snappy = TableOptions {
                    compression: Compression::Snappy,
                    ..shared.shape.table_options(level)
                };
                merge::rewrite_table(shared, level, file, snappy)?;
                rewritten += 1;
            }
        }
    }
    let mut versions = lock(&shared.versions);
    let set = versions.as_ref().ok_or(Error::ReadOnly)?;
    let view = shared.read.view();
    for (_, file) in view.version.tables() {
        if let Some(t) = unreadable_type(file.table()?) {
            return Err(Error::Unexportable {
                path: file.path().to_path_buf(),
                reason: format!(
                    "it stores blocks of type {t} (zstd), which LevelDB 1.23 and goleveldb \
                     do not read (ExportOptions::rewrite_zstd, or export-leveldb \
                     --rewrite-zstd, rewrites such tables with Snappy first)"
                ),
            });
        }
    }

    let dir = shared.files.dir();
    let fs = &**shared.files.fs();
    let (number, tmp, next) = {
        let mut numbers = shared.files.numbers();
        let number = numbers.allocate(|n| files::manifest_path(dir, n))?;
        let tmp = numbers.allocate(|n| files::temp_path(dir, n))?;
        (number, tmp, numbers.peek().unwrap_or(u64::MAX))
    };
    let mut catalog = set.catalog().clone();
    catalog.next_file_number = next;
    // Every record is in a table, and the sequence goes on from the last
    // one applied (a tombstone dropped by a compaction may have been the
    // newest).
    catalog.last_seq = catalog.last_seq.max(shared.read.last_seq().0);
    let path = files::manifest_path(dir, number);
    leveldb::write_manifest(fs, dir, &path, &catalog)
        .map_err(io_err("write LevelDB manifest", &path))?;
    let installed = files::set_current(fs, dir, number, &files::temp_path(dir, tmp));
    // Whether the rename happened is unknown after an error: commit to
    // neither manifest any more.
    versions.take();
    installed.map_err(io_err("install CURRENT naming", &path))?;
    log::info!(
        "exported {} for LevelDB: CURRENT names {} ({} tables)",
        dir.display(),
        path.display(),
        catalog.tables().count()
    );
    Ok(Exported {
        manifest: path,
        tables: catalog.tables().count(),
        last_seq: catalog.last_seq,
        rewritten,
    })
}

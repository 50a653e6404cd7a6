//! Writing one table file from sorted entries: the output step shared by
//! flush (and, later, compaction).
//!
//! The file is written under its final name `NNNNNN.ldb`, created new
//! (never over an existing name) and synced before anything names it: no
//! edit refers to a table that is not complete and durable, and a crash
//! before the edit leaves an orphan that the next open deletes, since no
//! manifest lists it. The caller fsyncs the directory before the edit.

use crate::fs::{Fs, WritableFile};
use crate::table::TableBuilder;
use crate::version::FileMeta;
use std::io::{self, BufWriter};
use std::path::Path;

/// Bytes the table writer buffers before a write system call.
const WRITE_BUFFER: usize = 256 << 10;

/// Writes the entries (internal key, value), which must be in strictly
/// increasing internal-key order and at least one, to a new table at
/// `path`, syncs it, and returns its manifest entry. On an error the
/// partial file is removed: nothing names it.
pub fn write_table<'a>(
    fs: &dyn Fs,
    path: &Path,
    number: u64,
    entries: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) -> io::Result<FileMeta> {
    let file = fs.create(path)?;
    let result = fill(file, entries);
    if result.is_err() {
        let _ = fs.remove(path);
    }
    let summary = result?;
    Ok(FileMeta {
        number,
        size: summary.size,
        entries: summary.entries,
        smallest: summary.smallest,
        largest: summary.largest,
    })
}

fn fill<'a>(
    file: Box<dyn WritableFile>,
    entries: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) -> io::Result<crate::table::TableSummary> {
    let mut builder = TableBuilder::new(BufWriter::with_capacity(WRITE_BUFFER, file));
    for (key, value) in entries {
        builder.add(key, value)?;
    }
    let (out, summary) = builder.finish()?;
    let mut file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_data()?;
    Ok(summary)
}

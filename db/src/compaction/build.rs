//! Writing one table file from sorted entries: the output step shared by
//! flush and compaction.
//!
//! The file is written under its final name `NNNNNN.ldb`, created new
//! (never over an existing name) and synced before anything names it: no
//! edit refers to a table that is not complete and durable, and a crash
//! before the edit leaves an orphan that the next open deletes, since no
//! manifest lists it. The caller fsyncs the directory before the edit.

use crate::fs::{Fs, WritableFile};
use crate::table::TableBuilder;
use crate::tuning::TABLE_WRITE_BUFFER;
use crate::version::FileMeta;
use memdb::MemDb;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// A table being written.
pub(crate) struct OutputTable {
    builder: TableBuilder<BufWriter<Box<dyn WritableFile>>>,
    path: PathBuf,
    number: u64,
}

impl OutputTable {
    /// Creates table `number` at `path`, which must not exist, with data
    /// blocks of `block_size` bytes.
    pub fn create(
        fs: &dyn Fs,
        path: &Path,
        number: u64,
        block_size: usize,
    ) -> io::Result<OutputTable> {
        let file = fs.create(path)?;
        let out = BufWriter::with_capacity(TABLE_WRITE_BUFFER, file);
        Ok(OutputTable {
            builder: TableBuilder::with_block_size(out, block_size),
            path: path.to_path_buf(),
            number,
        })
    }

    /// Adds an entry; keys in strictly increasing internal-key order.
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.builder.add(key, value)
    }

    /// About the file's size if finished now.
    pub fn size_estimate(&self) -> u64 {
        self.builder.size_estimate()
    }

    /// Finishes and syncs the file; returns its manifest entry.
    pub fn finish(self) -> io::Result<FileMeta> {
        let (out, summary) = self.builder.finish()?;
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        Ok(FileMeta {
            number: self.number,
            size: summary.size,
            entries: summary.entries,
            smallest: summary.smallest,
            largest: summary.largest,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes every entry of `memdb` (every version and tombstone) to a new
/// table at `path`, synced; returns its manifest entry and the newest
/// sequence number in it. The one way a memtable becomes a table: the
/// background flush and the open's flush of what it recovered.
pub(crate) fn write_memtable(
    fs: &dyn Fs,
    path: &Path,
    number: u64,
    block_size: usize,
    memdb: &MemDb,
) -> io::Result<(FileMeta, u64)> {
    let mut last_seq = 0;
    let mut it = memdb.iter();
    it.seek_to_first();
    let entries = std::iter::from_fn(|| {
        if !it.valid() {
            return None;
        }
        let entry = (it.key(), it.value());
        last_seq = last_seq.max(it.seq().0);
        it.next();
        Some(entry)
    });
    let meta = write_table(fs, path, number, block_size, entries)?;
    Ok((meta, last_seq))
}

/// Writes the entries (internal key, value), which must be in strictly
/// increasing internal-key order and at least one, to a new table at
/// `path`, syncs it, and returns its manifest entry. On an error the
/// partial file is removed: nothing names it.
pub(crate) fn write_table<'a>(
    fs: &dyn Fs,
    path: &Path,
    number: u64,
    block_size: usize,
    entries: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) -> io::Result<FileMeta> {
    write_table_with(fs, path, number, block_size, |out| {
        for (key, value) in entries {
            out.add(key, value)?;
        }
        Ok(())
    })
}

/// As [`write_table`], with `fill` adding the entries (at least one, in
/// strictly increasing internal-key order) to the open table.
pub(crate) fn write_table_with(
    fs: &dyn Fs,
    path: &Path,
    number: u64,
    block_size: usize,
    fill: impl FnOnce(&mut OutputTable) -> io::Result<()>,
) -> io::Result<FileMeta> {
    let result = OutputTable::create(fs, path, number, block_size).and_then(|mut out| {
        fill(&mut out)?;
        out.finish()
    });
    if result.is_err() {
        let _ = fs.remove(path);
    }
    result
}

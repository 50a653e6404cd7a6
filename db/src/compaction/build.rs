//! Writing one table file from sorted entries: the output step shared by
//! flush and compaction.
//!
//! The file is written under its final name `NNNNNN.ldb`, created new
//! (never over an existing name) and synced before anything names it: no
//! edit refers to a table that is not complete and durable, and a crash
//! before the edit leaves an orphan that the next open deletes, since no
//! manifest lists it. The caller fsyncs the directory before the edit.

use crate::fs::{Fs, WritableFile};
use crate::state::{Count, Counters};
use crate::table::reader::word_after;
use crate::table::{TableBuilder, TableOptions};
use crate::tuning::TABLE_WRITE_BUFFER;
use crate::version::FileMeta;
use batch::{key, Batch, Record, SeqNum};
use memdb::MemDb;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// A table written: its manifest entry, and the bytes of its data blocks
/// before and after compression.
#[derive(Debug)]
pub(crate) struct Written {
    pub meta: FileMeta,
    pub data_raw: u64,
    pub data_stored: u64,
}

impl Written {
    /// Adds the table, written into `level`, to the database's counters
    /// of bytes written.
    pub fn count(&self, counters: &Counters, level: usize) {
        counters.add_table_bytes(level, self.meta.size);
        counters.add(Count::DataBytesRaw, self.data_raw);
        counters.add(Count::DataBytesStored, self.data_stored);
    }
}

/// A table being written.
pub(crate) struct OutputTable {
    builder: TableBuilder<BufWriter<Box<dyn WritableFile>>>,
    path: PathBuf,
    number: u64,
}

impl OutputTable {
    /// Creates table `number` at `path`, which must not exist, written as
    /// `options` say.
    pub fn create(
        fs: &dyn Fs,
        path: &Path,
        number: u64,
        options: TableOptions,
    ) -> io::Result<OutputTable> {
        let file = fs.create(path)?;
        let out = BufWriter::with_capacity(TABLE_WRITE_BUFFER, file);
        let mut builder = TableBuilder::with_options(out, options);
        // Its number in its metaindex: a table copied over another of the
        // same size is then told apart at open (`version::set`).
        builder.set_number(number);
        Ok(OutputTable {
            builder,
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

    /// Finishes and syncs the file; returns what was written.
    pub fn finish(self) -> io::Result<Written> {
        let (written, mut file) = self.finish_unsynced()?;
        file.sync_data()?;
        Ok(written)
    }

    /// Writes the rest of the file but does not sync it: returns what was
    /// written and the file, which the caller must sync before anything
    /// names it.
    pub fn finish_unsynced(self) -> io::Result<(Written, Box<dyn WritableFile>)> {
        let (out, summary) = self.builder.finish()?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        let meta = FileMeta {
            number: self.number,
            size: summary.size,
            entries: summary.entries,
            smallest: summary.smallest,
            largest: summary.largest,
        };
        let written = Written {
            meta,
            data_raw: summary.data_raw,
            data_stored: summary.data_stored,
        };
        Ok((written, file))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes every entry of `memdb` (every version and tombstone) to a new
/// table at `path`, synced; returns what was written and the newest
/// sequence number in it. The one way a memtable becomes a table: the
/// background flush (the open writes what it recovers with
/// [`write_batches`]).
pub(crate) fn write_memtable(
    fs: &dyn Fs,
    path: &Path,
    number: u64,
    options: TableOptions,
    memdb: &MemDb,
) -> io::Result<(Written, u64)> {
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
    let written = write_table(fs, path, number, options, entries)?;
    Ok((written, last_seq))
}

/// Writes the entries (internal key, value), which must be in strictly
/// increasing internal-key order and at least one, to a new table at
/// `path`, syncs it, and returns what was written. On an error the
/// partial file is removed: nothing names it.
pub(crate) fn write_table<'a>(
    fs: &dyn Fs,
    path: &Path,
    number: u64,
    options: TableOptions,
    entries: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) -> io::Result<Written> {
    write_table_with(fs, path, number, options, |out| {
        for (key, value) in entries {
            out.add(key, value)?;
        }
        Ok(())
    })
}

/// Writes the records of `batches`, each numbered from its batch's
/// sequence number (no two records may share one), to a new table at
/// `path`, synced; returns its manifest entry. The records go in as
/// [`SortedRecords`] puts them, and each internal key is built as it goes
/// into the table: the way a batch becomes a table without a memtable
/// (`large`, and the open of journals that must be set aside).
pub(crate) fn write_batches(
    fs: &dyn Fs,
    path: &Path,
    number: u64,
    options: TableOptions,
    batches: &[Batch],
) -> io::Result<Written> {
    let sorted = SortedRecords::new(batches);
    if let Some(seq) = sorted.repeated_seq() {
        // Two records of one key under one number: the batches overlap,
        // and a table cannot hold both.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("two records numbered {seq} for one key"),
        ));
    }
    write_table_with(fs, path, number, options, |out| {
        let mut ikey = Vec::new();
        for (record, seq) in sorted.iter() {
            ikey.clear();
            key::encode(&mut ikey, record.key(), seq, record.kind());
            out.add(&ikey, record.value().unwrap_or_default())?;
        }
        Ok(())
    })
}

/// The records of some batches, each numbered from its batch's sequence
/// number, in internal-key order (user key ascending, then newest first),
/// borrowed from the batches with no allocation per record: what a table
/// or a memtable built from replayed batches takes
/// ([`write_batches`], the open's recovered memtables).
pub(crate) struct SortedRecords<'a> {
    records: Vec<(Record<'a>, SeqNum)>,
    /// Indexes into `records`, sorted, each beside the 8 bytes of its key
    /// after the prefix every key shares, as a big-endian number.
    order: Vec<(u64, usize)>,
}

impl<'a> SortedRecords<'a> {
    /// Sorts the records of `batches`.
    pub fn new(batches: impl IntoIterator<Item = &'a Batch>) -> SortedRecords<'a> {
        let records: Vec<(Record<'a>, SeqNum)> = batches
            .into_iter()
            .flat_map(|batch| {
                batch
                    .records()
                    .zip(batch.seq().0..)
                    .map(|(record, seq)| (record, SeqNum(seq)))
            })
            .collect();
        // The sort moves 16-byte pairs. Most comparisons end at the
        // numbers, which lie in the vector itself, where the keys lie in
        // the batches, one cache miss each (a 21 k-record journal sorted in
        // 4 to 6 ms by whole keys; moving the records themselves, 48 bytes
        // each, took 2.6 ms for 27 k). Only a tie reads the records.
        let common = records.first().map_or(0, |(first, _)| {
            records.iter().fold(first.key().len(), |n, (r, _)| {
                n.min(
                    first
                        .key()
                        .iter()
                        .zip(r.key())
                        .take_while(|(a, b)| a == b)
                        .count(),
                )
            })
        });
        let mut order: Vec<(u64, usize)> = records
            .iter()
            .enumerate()
            .map(|(i, (record, _))| (word_after(record.key(), common), i))
            .collect();
        // Zero-padded words order as the bytes they hold, ties aside: by
        // user key, then newest first.
        order.sort_unstable_by(|&(a_word, a), &(b_word, b)| {
            a_word.cmp(&b_word).then_with(|| {
                let ((a, a_seq), (b, b_seq)) = (&records[a], &records[b]);
                a.key().cmp(b.key()).then(b_seq.cmp(a_seq))
            })
        });
        SortedRecords { records, order }
    }

    /// The records in internal-key order.
    pub fn iter(&self) -> impl Iterator<Item = (Record<'a>, SeqNum)> + '_ {
        self.order.iter().map(|&(_, i)| self.records[i])
    }

    /// A sequence number two records of one key share, if any: batches
    /// that overlap, whose records no table can hold side by side.
    pub fn repeated_seq(&self) -> Option<SeqNum> {
        self.order.windows(2).find_map(|w| {
            // Different words are different keys.
            if w[0].0 != w[1].0 {
                return None;
            }
            let ((a, a_seq), (b, b_seq)) = (&self.records[w[0].1], &self.records[w[1].1]);
            (a_seq == b_seq && a.key() == b.key()).then_some(*a_seq)
        })
    }
}

/// As [`write_table`], with `fill` adding the entries (at least one, in
/// strictly increasing internal-key order) to the open table.
pub(crate) fn write_table_with(
    fs: &dyn Fs,
    path: &Path,
    number: u64,
    options: TableOptions,
    fill: impl FnOnce(&mut OutputTable) -> io::Result<()>,
) -> io::Result<Written> {
    let result = OutputTable::create(fs, path, number, options).and_then(|mut out| {
        fill(&mut out)?;
        out.finish()
    });
    if result.is_err() {
        let _ = fs.remove(path);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::OsFs;
    use crate::table::Table;
    use std::sync::Arc;

    fn batch(seq: u64, puts: &[&[u8]], deletes: &[&[u8]]) -> Batch {
        let mut b = Batch::new();
        for k in puts {
            b.put(k, b"v");
        }
        for k in deletes {
            b.delete(k);
        }
        b.set_seq(SeqNum(seq));
        b
    }

    /// Keys that tie on the 8 bytes after their common prefix, or differ
    /// only in zeros and length, still come out in internal-key order.
    #[test]
    fn write_batches_sorts_by_user_key_then_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000001.ldb");
        let long = |tail: &[u8]| [b"pppppppppppp".as_slice(), tail].concat();
        let (k1, k2, k3) = (long(b"12345678z"), long(b"12345678a"), long(b""));
        let batches = [
            batch(1, &[b"b", b"a\0", &k1, b"a"], &[b"c"]),
            batch(6, &[b"a", &k2, b"a\0\0", &k3], &[b"b"]),
            batch(11, &[b"", b"a", b"ba", b"ab"], &[]),
        ];
        let meta = write_batches(&OsFs, &path, 1, TableOptions::default(), &batches)
            .unwrap()
            .meta;
        let table = Arc::new(Table::open(std::fs::read(&path).unwrap()).unwrap());
        let mut it = table.iter();
        it.seek_to_first();
        let mut got = Vec::new();
        while it.valid() {
            let (user, seq, _) = key::parse(it.key()).unwrap();
            got.push((user.to_vec(), seq.0));
            it.next();
        }
        let mut want: Vec<(Vec<u8>, u64)> = batches
            .iter()
            .flat_map(|b| b.records().zip(b.seq().0..))
            .map(|(r, seq)| (r.key().to_vec(), seq))
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        assert_eq!(got, want);
        assert_eq!(meta.entries, want.len() as u64);
    }

    #[test]
    fn write_batches_refuses_two_records_of_one_key_and_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000001.ldb");
        let (a, b) = (batch(1, &[b"k", b"x"], &[]), batch(1, &[b"k"], &[]));
        let err = write_batches(&OsFs, &path, 1, TableOptions::default(), &[a, b]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(
            !path.exists(),
            "nothing names a table that was never written"
        );
    }
}

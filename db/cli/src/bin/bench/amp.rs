//! Write amplification and the shape of the files at the end of a fill, and
//! the process figures (`/proc/self/io`, `/proc/self/status`) they and the
//! `reopen` workload use.
//!
//! Every number here is taken at the end of the timed phase, before the
//! engine is closed (for `readrandom`: after its prep, its settle and its
//! reads, before close). What close itself writes is not counted.
//!
//! - `user_bytes`: keys plus values of every record the run wrote (prep and
//!   `--big-batch` side writer included).
//! - `journal_bytes`: bytes written to journals since open. Tributary
//!   counts them (`Stats::journal_bytes_written`; a batch larger than the
//!   write buffer goes straight to a table and adds none). The peers do
//!   not, so for them it is computed from what was written: each journal
//!   record is a batch (12-byte header, then per record a kind byte, the
//!   varint key length, the key, the varint value length, the value) cut
//!   into chunks of at most 32 KiB blocks, each with a 7-byte header. One
//!   record is one group commit: Tributary counts its groups
//!   (`Stats::writer.groups`); for LevelDB and RocksDB, whose logs have the
//!   same format, a group is one call only when a single thread writes, so
//!   their journal bytes are given only then. Block trailers (at most 6
//!   zero bytes per block) are left out: the figure is low by under 0.02 %.
//!   With several writers, RocksDB's own figure stands in (`Cumulative WAL:
//!   ... written: X GB` of `rocksdb.stats`), when it is large enough for
//!   its two decimals (see `ffi`).
//! - `table_bytes`: bytes of tables written since open (flushes and
//!   compactions): Tributary's `Stats::table_bytes_written`; LevelDB's sum
//!   of the `Write(MB)` column of `leveldb.stats` (whole MiB per level);
//!   RocksDB's `Cumulative compaction: X GB write` of `rocksdb.stats`
//!   (flushes included), when it is large enough for its two decimals.
//! - `write_amp` = (`journal_bytes` + `table_bytes`) / `user_bytes`.
//! - `io_bytes`, `io_write_amp`: what every engine can be held to alike,
//!   the bytes the process passed to `write(2)`-family calls (`wchar` of
//!   `/proc/self/io`, all threads) from before open to the same point, over
//!   `user_bytes`. It holds journals, tables, manifests and info logs, and
//!   Tributary's zero-filled journals made ahead for synced workloads.
//! - `files_per_level`: the engine's table files in each level, level 0
//!   first; `table_files`: their sum, or the engine's own count where it
//!   does not give levels (fjall).
//!
//! One figure is taken after the close instead, when the files are all
//! the engine leaves: `disk_bytes`, the sizes of every file under the
//! database directory (tables, journals, manifests, logs; [`dir_bytes`]),
//! for a run that wrote.

use std::path::Path;

/// What a run wrote, as the engine was asked to.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    /// Records (puts) written.
    pub records: u64,
    /// Keys plus values of those records.
    pub user_bytes: u64,
    /// Those records as encoded in a batch (kind, varint lengths, key,
    /// value), without batch headers.
    pub encoded: u64,
    /// Write calls (a put or a batch): journal records, when no two
    /// writers' calls are merged.
    pub calls: u64,
}

impl Written {
    /// Adds `records` records of `key`-byte keys and `value`-byte values,
    /// written in `calls` calls.
    pub fn add(&mut self, records: u64, key: usize, value: usize, calls: u64) {
        let one = 1 + varint_len(key) + key + varint_len(value) + value;
        self.records += records;
        self.user_bytes += records * (key + value) as u64;
        self.encoded += records * one as u64;
        self.calls += calls;
    }
}

/// Bytes of the varint32 encoding of `n`.
pub fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Bytes written to a LevelDB-format journal by `records` journal records
/// (batches) holding `encoded` bytes of encoded records in all: a batch
/// header each, and a chunk header per record plus one per block crossed.
pub fn journal_bytes(records: u64, encoded: u64) -> u64 {
    let payload = records * batch::HEADER_LEN as u64 + encoded;
    let block = journal::BLOCK_SIZE as u64;
    let chunk = journal::HEADER_LEN as u64;
    payload + chunk * (records + payload / block)
}

/// What an engine says about its tables, at the end of the timed phase.
#[derive(Debug, Default, Clone)]
pub struct Shape {
    /// Table files per level, level 0 first.
    pub files_per_level: Option<Vec<u64>>,
    /// Bytes of tables written since open.
    pub table_bytes: Option<u64>,
    /// Journal records (group commits) written since open, if counted.
    pub journal_records: Option<u64>,
    /// Journal bytes written since open, if the engine counts them: taken
    /// over the model.
    pub journal_bytes: Option<u64>,
    /// Whether the engine's journal has LevelDB's format (batches in
    /// 32 KiB blocks), so that [`journal_bytes`] models it.
    pub leveldb_journal: bool,
    /// The engine's own, rounded, count of journal bytes: used only when
    /// neither `journal_bytes` nor the model gives a figure.
    pub coarse_journal_bytes: Option<u64>,
    /// Table files in all, for an engine that does not give levels.
    pub table_files: Option<u64>,
    /// Bytes of tables written since open into each level, level 0
    /// first, for an engine that counts them.
    pub table_bytes_per_level: Option<Vec<u64>>,
}

/// The write-amplification fields of a fill's JSON line.
#[derive(Debug, Default, Clone)]
pub struct FillReport {
    pub user_bytes: u64,
    pub journal_bytes: Option<u64>,
    pub table_bytes: Option<u64>,
    pub files_per_level: Option<Vec<u64>>,
    pub table_files: Option<u64>,
    pub io_bytes: Option<u64>,
    pub table_bytes_per_level: Option<Vec<u64>>,
}

impl FillReport {
    /// The report of a run that wrote `written` and ended with `shape`;
    /// `single_writer` says whether no two calls could have been merged
    /// into one journal record; `io_bytes` is the `wchar` difference.
    pub fn new(
        written: &Written,
        shape: Shape,
        single_writer: bool,
        io_bytes: Option<u64>,
    ) -> FillReport {
        let records = shape
            .journal_records
            .or(single_writer.then_some(written.calls))
            .filter(|_| shape.leveldb_journal);
        FillReport {
            user_bytes: written.user_bytes,
            journal_bytes: shape
                .journal_bytes
                .or_else(|| records.map(|r| journal_bytes(r, written.encoded)))
                .or(shape.coarse_journal_bytes),
            table_bytes: shape.table_bytes,
            table_files: shape
                .table_files
                .or_else(|| Some(shape.files_per_level.as_ref()?.iter().sum())),
            files_per_level: shape.files_per_level,
            table_bytes_per_level: shape.table_bytes_per_level,
            io_bytes,
        }
    }

    /// (journal + table bytes) / user bytes, when both are known.
    pub fn write_amp(&self) -> Option<f64> {
        let (j, t) = (self.journal_bytes?, self.table_bytes?);
        (self.user_bytes > 0).then(|| (j + t) as f64 / self.user_bytes as f64)
    }

    /// `io_bytes / user_bytes`.
    pub fn io_write_amp(&self) -> Option<f64> {
        let io = self.io_bytes?;
        (self.user_bytes > 0).then(|| io as f64 / self.user_bytes as f64)
    }
}

/// Bytes this process has passed to `write(2)` and its kin (`wchar` of
/// `/proc/self/io`, every thread, live or ended). `None` off Linux.
pub fn io_wchar() -> Option<u64> {
    proc_field("/proc/self/io", "wchar:")
}

/// Resident anonymous memory of this process in KiB (`RssAnon` of
/// `/proc/self/status`): heap and anonymous maps, not mapped files.
pub fn rss_anon_kib() -> Option<u64> {
    proc_field("/proc/self/status", "RssAnon:")
}

/// The number after `key` on its line of `path`.
fn proc_field(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = text.lines().find_map(|l| l.strip_prefix(key))?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The sizes (lengths, not blocks) of the files under `dir`, in every
/// subdirectory (fjall keeps its tables in some); symbolic links are not
/// followed.
pub fn dir_bytes(dir: &Path) -> Result<u64, String> {
    let what = |e: std::io::Error| format!("cannot read {}: {e}", dir.display());
    let mut total = 0;
    for entry in std::fs::read_dir(dir).map_err(what)? {
        let entry = entry.map_err(what)?;
        let kind = entry.file_type().map_err(what)?;
        if kind.is_dir() {
            total += dir_bytes(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata().map_err(what)?.len();
        }
    }
    Ok(total)
}

/// The difference of two readings of a counter, if both were read.
pub fn delta(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(16_383), 2);
        assert_eq!(varint_len(16_384), 3);
    }

    #[test]
    fn journal_model_counts_headers() {
        // One put of a 16-byte key and a 100-byte value: 12 + 1 + 1 + 16 +
        // 1 + 100 = 131 bytes of batch, in one chunk of 7 + 131.
        let mut w = Written::default();
        w.add(1, 16, 100, 1);
        assert_eq!(w.user_bytes, 116);
        assert_eq!(journal_bytes(w.calls, w.encoded), 138);
        // A million of them cross 138e6 / 32768 blocks.
        let mut w = Written::default();
        w.add(1_000_000, 16, 100, 1_000_000);
        let j = journal_bytes(w.calls, w.encoded);
        assert_eq!(j, 138_000_000 + 7 * (131_000_000 / 32_768));
    }

    #[test]
    fn dir_bytes_counts_subdirectories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub").join("b"), [0u8; 5]).unwrap();
        assert_eq!(dir_bytes(dir.path()), Ok(15));
    }

    #[test]
    fn proc_figures_read() {
        assert!(rss_anon_kib().is_some_and(|k| k > 0));
        assert!(io_wchar().is_some());
    }

    /// The model against a live Tributary journal: a fill below the write
    /// buffer stays in the one journal, whose size `Stats` gives.
    #[test]
    fn journal_model_matches_tributary() {
        let dir = tempfile::tempdir().unwrap();
        let db = tributary::Db::open(dir.path(), tributary::Options::default()).unwrap();
        let mut w = Written::default();
        let value = [7u8; 100];
        for i in 0..20_000u64 {
            let key = format!("{i:016}");
            db.put(key.as_bytes(), &value[..]).unwrap();
            w.add(1, 16, 100, 1);
        }
        let stats = db.stats();
        assert_eq!(stats.flushes, 0, "the fill must stay in the memtable");
        let model = journal_bytes(stats.writer.groups, w.encoded);
        let live = stats.journal_bytes;
        assert!(
            model <= live && live - model <= live / 5000 + 8,
            "model {model} vs journal {live}"
        );
        assert_eq!(stats.journal_bytes_written, live);
        db.close().unwrap();
    }
}

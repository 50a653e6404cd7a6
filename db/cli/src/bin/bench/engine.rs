//! What the driver needs of an engine, and Tributary's answer.
//!
//! Each engine is used the way its own users would: its default options,
//! its own batch type, and its own way to ask for a synced write. The one
//! option the bench sets is compression ([`Compression`]): off in the
//! cells whose values do not compress, the engine's default with
//! `--compressible`. The driver
//! is generic over [`Engine`], so no engine pays for dynamic dispatch on the
//! hot path.
//!
//! Reads copy what they find out of the engine, as a user keeping it would:
//! `get` takes the engine's owned value, and a scan step takes the entry's
//! key and value as owned bytes (Tributary's iterator yields `Vec`s,
//! fjall's `Slice`s; from the C APIs, whose iterators lend their entry only
//! until the next step, they are copied into `Vec`s, as the Rust wrappers
//! of both libraries do).

use crate::amp::Shape;
use crate::args::{Spec, Tuning};
use std::path::Path;

/// A key-value engine under test.
pub trait Engine: Sized + Sync {
    /// The engine's write batch, reused across calls by one thread.
    type Batch;

    /// Opens the database in `dir` (creating it if missing) with the
    /// engine's default options, but for what `setup` says.
    fn open(dir: &Path, setup: Setup) -> Result<Self, String>;

    /// One put, synced to stable storage before it returns if `sync`.
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), String>;

    /// An empty batch.
    fn new_batch(&self) -> Self::Batch;

    /// Adds a put to `batch`.
    fn batch_put(&self, batch: &mut Self::Batch, key: &[u8], value: &[u8]);

    /// Writes `batch` atomically and leaves it empty for reuse.
    fn write(&self, batch: &mut Self::Batch, sync: bool) -> Result<(), String>;

    /// Looks `key` up, copying the value out as a user would; returns
    /// whether it was found.
    fn get(&self, key: &[u8]) -> Result<bool, String>;

    /// A forward scan of the whole database from its first key, on a
    /// snapshot, for `readseq`.
    type Scan<'a>
    where
        Self: 'a;

    /// Starts a scan at the first key.
    fn scan(&self) -> Result<Self::Scan<'_>, String>;

    /// Reads the next entry of `scan`, copying it out; false at the end.
    fn scan_next(&self, scan: &mut Self::Scan<'_>) -> Result<bool, String>;

    /// `seekrandom`'s call: a new iterator, positioned at the first key at
    /// or after `key`, reads up to `n` entries from there, copying each
    /// out, as `db_bench`'s `seekrandom` with `--seek_nexts`. Returns the
    /// entries read and whether the first was `key` itself.
    fn seek_read(&self, key: &[u8], n: usize) -> Result<(usize, bool), String>;

    /// Whatever makes written data settle before `readrandom` reads it
    /// (flush, compaction).
    fn settle(&self) -> Result<(), String>;

    /// Group-commit counters, for engines that expose them.
    fn counters(&self) -> Option<Counters> {
        None
    }

    /// Table files per level, table bytes written and journal records
    /// since open, as far as the engine exposes them (see `amp`).
    fn shape(&self) -> Shape {
        Shape::default()
    }

    /// Write stalls since open, for engines that count them.
    fn stalls(&self) -> Option<Stalls> {
        None
    }

    /// The engine's default write buffer (memtable) size, for the `reopen`
    /// workload's memory ratio, if known.
    fn write_buffer_size() -> Option<u64> {
        None
    }

    /// Closes the database, syncing what it holds.
    fn close(self) -> Result<(), String>;
}

/// How an engine compresses its tables in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// None at all: the cells of incompressible values, where compressing
    /// would only cost time, run every engine so (BENCH.md).
    Off,
    /// The engine's default (`--compressible`): Snappy for Tributary,
    /// LevelDB and RocksDB, LZ4 for fjall.
    Default,
}

impl Compression {
    /// `Default` with `--compressible`, else `Off`.
    pub fn for_values(compressible: bool) -> Compression {
        if compressible {
            Compression::Default
        } else {
            Compression::Off
        }
    }
}

/// How an engine is opened in a run: the compression every engine
/// follows, and Tributary's own options (`--tributary-options`).
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub compression: Compression,
    pub tuning: Tuning,
}

impl Setup {
    /// The setup `spec` asks for.
    pub fn of(spec: &Spec) -> Setup {
        Setup {
            compression: Compression::for_values(spec.compressible),
            tuning: spec.tuning,
        }
    }

    /// Tributary's `options` with the run's tuning.
    fn tune(self, options: tributary::Options) -> tributary::Options {
        let mut options = options;
        if self.tuning.rocksdb_budget {
            options.write_buffer_size = 64 << 20;
            options.level1_size = 256 << 20;
            options.table_file_size = 64 << 20;
        }
        if self.tuning.leveldb_picker {
            options.compaction_picker = tributary::CompactionPicker::LevelDb;
        }
        if let Some(pipelined) = self.tuning.pipelined {
            options.pipelined_commit = pipelined;
        }
        if let Some(dynamic) = self.tuning.dynamic_levels {
            options.dynamic_level_sizes = dynamic;
        }
        if let Some(mib) = self.tuning.write_buffer_mib {
            options.write_buffer_size = (mib << 20) as usize;
        }
        if let Some(mib) = self.tuning.level1_mib {
            options.level1_size = mib << 20;
        }
        if let Some(mib) = self.tuning.table_mib {
            options.table_file_size = mib << 20;
        }
        options
    }
}

/// Counters of the write path, subtracted around the timed phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub fsyncs: u64,
    pub groups: u64,
    pub writes: u64,
    pub max_group: u64,
}

/// Write stalls: the writes an engine slowed down or stopped because its
/// flushes or compactions were behind, and the time they lost. Engines
/// count them differently (each says how in its `stalls`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stalls {
    /// Slowdowns and stops together.
    pub count: u64,
    pub slowdowns: u64,
    pub stops: u64,
    /// Time spent in both, in seconds.
    pub secs: f64,
}

impl Stalls {
    /// What happened between the readings `before` and `self`.
    pub fn since(self, before: Stalls) -> Stalls {
        Stalls {
            count: self.count.saturating_sub(before.count),
            slowdowns: self.slowdowns.saturating_sub(before.slowdowns),
            stops: self.stops.saturating_sub(before.stops),
            secs: (self.secs - before.secs).max(0.0),
        }
    }
}

/// Tributary with `Options::default()` (a 4 MiB write buffer, group
/// commit on, Snappy), with compression off unless `--compressible`.
pub struct Tributary {
    db: tributary::Db,
}

impl Engine for Tributary {
    type Batch = tributary::Batch;

    fn open(dir: &Path, setup: Setup) -> Result<Tributary, String> {
        let options = match setup.compression {
            Compression::Off => tributary::Options {
                compression: tributary::Compression::None,
                ..tributary::Options::default()
            },
            Compression::Default => tributary::Options::default(),
        };
        let options = setup.tune(options);
        let db = tributary::Db::open(dir, options).map_err(error)?;
        Ok(Tributary { db })
    }

    #[inline]
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), String> {
        self.db
            .put_with(key, value, &tributary::WriteOptions { sync, merge: true })
            .map(|_| ())
            .map_err(error)
    }

    fn new_batch(&self) -> tributary::Batch {
        tributary::Batch::new()
    }

    #[inline]
    fn batch_put(&self, batch: &mut tributary::Batch, key: &[u8], value: &[u8]) {
        batch.put(key, value);
    }

    #[inline]
    fn write(&self, batch: &mut tributary::Batch, sync: bool) -> Result<(), String> {
        let res = self
            .db
            .write(batch, &tributary::WriteOptions { sync, merge: true })
            .map(|_| ())
            .map_err(error);
        batch.clear();
        res
    }

    #[inline]
    fn get(&self, key: &[u8]) -> Result<bool, String> {
        Ok(self.db.get(key).map_err(error)?.is_some())
    }

    /// `Db::iter`: an iterator on a snapshot taken now.
    type Scan<'a> = tributary::Iter;

    fn scan(&self) -> Result<tributary::Iter, String> {
        Ok(self.db.iter())
    }

    #[inline]
    fn scan_next(&self, scan: &mut tributary::Iter) -> Result<bool, String> {
        match scan.next() {
            Some(Ok(entry)) => {
                std::hint::black_box(entry);
                Ok(true)
            }
            Some(Err(e)) => Err(error(e)),
            None => Ok(false),
        }
    }

    /// `Db::range(key..)`, taking `n` entries.
    #[inline]
    fn seek_read(&self, key: &[u8], n: usize) -> Result<(usize, bool), String> {
        let mut read = 0;
        let mut exact = false;
        for entry in self.db.range(key..).take(n) {
            let (k, v) = entry.map_err(error)?;
            if read == 0 {
                exact = k == key;
            }
            std::hint::black_box((k, v));
            read += 1;
        }
        Ok((read, exact))
    }

    /// A full compaction (`Db::compact`): the memtable and every frozen one
    /// merged into the sorted run, as the peers' `CompactRange` does.
    fn settle(&self) -> Result<(), String> {
        self.db.compact().map_err(error)
    }

    fn counters(&self) -> Option<Counters> {
        let w = self.db.stats().writer;
        Some(Counters {
            fsyncs: w.fsyncs,
            groups: w.groups,
            writes: w.writes,
            max_group: w.max_group,
        })
    }

    /// `Stats`: tables per level, `table_bytes_written`, the group
    /// commits, one journal record each, and the journal bytes written
    /// (which leave out batches larger than the write buffer: those go
    /// straight to tables).
    fn shape(&self) -> Shape {
        let stats = self.db.stats();
        Shape {
            files_per_level: Some(stats.files_per_level.iter().map(|&n| n as u64).collect()),
            table_bytes: Some(stats.table_bytes_written),
            journal_records: Some(stats.writer.groups),
            journal_bytes: Some(stats.journal_bytes_written),
            leveldb_journal: true,
            coarse_journal_bytes: None,
            table_files: None,
            table_bytes_per_level: Some(stats.table_bytes_written_per_level.clone()),
        }
    }

    /// `Stats::write_slowdowns` (write groups that slept 1 ms because
    /// level 0 held 20 tables), `write_stops` (groups that waited for the
    /// background at 30 tables, or for a memtable's flush) and
    /// `write_stall_time`: counted per write group, not per write.
    fn stalls(&self) -> Option<Stalls> {
        let stats = self.db.stats();
        Some(Stalls {
            count: stats.write_slowdowns + stats.write_stops,
            slowdowns: stats.write_slowdowns,
            stops: stats.write_stops,
            secs: stats.write_stall_time.as_secs_f64(),
        })
    }

    fn write_buffer_size() -> Option<u64> {
        Some(tributary::Options::default().write_buffer_size as u64)
    }

    fn close(self) -> Result<(), String> {
        self.db.close().map_err(error)
    }
}

/// An error with its chain of sources, on one line.
pub fn error(e: impl std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_msg = s.to_string();
        if !msg.contains(&s_msg) {
            msg.push_str(": ");
            msg.push_str(&s_msg);
        }
        source = s.source();
    }
    msg
}

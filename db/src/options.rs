//! Options of a database and of each write.

use crate::error::Error;
use crate::fs::{Fs, OsFs};
use crate::shape::CompactionPicker;
use crate::table::Compression;
use crate::tuning::MAX_WRITE_BUFFER_SIZE;
use std::fmt;
use std::sync::Arc;

/// The longest key the database takes: 64 KiB, fjall's limit (LevelDB has
/// none). Every table's smallest and largest keys go into the manifest,
/// whose records a reader decodes only up to a limit (64 MiB); with keys
/// bounded, each table's entry is bounded (about 128 KiB at most), and
/// the writer splits larger edits into records that reader can read back
/// (`version::manifest`). Without a bound, one 40 MiB key had made a
/// database that no open could read again. A longer key is refused with
/// [`Error::KeyTooLarge`] by `put`, `delete` and `write` before anything is
/// written.
pub const MAX_KEY_SIZE: usize = 64 << 10;

/// How a database is opened.
///
/// `Options::default()` gives the documented defaults, chosen to match
/// goleveldb's and LevelDB's where they have one.
///
/// # Examples
///
/// Where rust-rocksdb calls setters on `Options::default()`, set the
/// fields that differ and take the rest from the defaults:
///
/// ```
/// use tributary::{Compression, Db, Options, RecoveryMode};
///
/// # let dir = tempfile::tempdir().unwrap();
/// let options = Options {
///     write_buffer_size: 64 << 20,    // set_write_buffer_size
///     compression: Compression::Zstd, // set_compression_type
///     recovery: RecoveryMode::Strict, // set_wal_recovery_mode(TolerateCorruptedTailRecords)
///     ..Options::default()
/// };
/// let db = Db::open(dir.path(), options)?;
/// # Ok::<(), tributary::Error>(())
/// ```
#[derive(Clone)]
pub struct Options {
    /// Memtable budget in bytes of keys, values and 8-byte trailers
    /// (`internal_len`). When the next write does not fit, the memtable is
    /// frozen and a new one, with a new journal, takes its place.
    /// Default: 4 MiB, as goleveldb. At least 64 KiB.
    ///
    /// A larger buffer writes less: a 5 M-key fillrandom, settled (`bench
    /// --workload fillrandom --num 5000000 --settle-after
    /// --tributary-options write-buffer-mib=N`), wrote 6.6 bytes per
    /// user byte with 4 MiB, 5.2 with 8 and 4.1 with 16. It costs memory
    /// (up to three buffers: the active one and two frozen) and every open
    /// after a close replays up to a buffer of journal: the reopen of a
    /// 2 M-key fill (`--workload reopen --num 2000000`) took 7 ms with
    /// 4 MiB, 30 to 70 with 8 and 85 to 115 with 16. The default keeps
    /// LevelDB's reopen time and footprint; a bulk load that reopens
    /// rarely should raise it.
    pub write_buffer_size: usize,
    /// Whether concurrent writes are merged into one journal record and one
    /// fsync (group commit). Default: `true`. Turning it off serialises
    /// writes on the write lock; it is the same as goleveldb's
    /// `NoWriteMerge`.
    pub merge_writes: bool,
    /// Whether the group-commit leader hands the write lock on before its
    /// group's fsync (the pipelined commit, `writer::Options::pipelined`):
    /// the next group merges and appends while that fsync runs, and one
    /// fsync covers every group appended before it began. A group is
    /// visible to readers before its fsync ends, as any unsynced write
    /// is; its writers are answered after it. A synced group's lock moves
    /// on early only to a writer already waiting for it, and only after a
    /// small group; else the fsync runs under the lock. Default: `true`:
    /// measured against goleveldb's order (`false`) on a 2-core machine,
    /// it leads at 64 writers and is within about 10% either way at 1 to
    /// 16, where one group holds every writer (figures in
    /// `writer/README.md`, issue #27).
    pub pipelined_commit: bool,
    /// Whether [`Db::put`](crate::Db::put) and
    /// [`Db::delete`](crate::Db::delete) sync, through
    /// [`Db::default_write_options`](crate::Db::default_write_options).
    /// Writes given their own [`WriteOptions`] follow those instead
    /// ([`WriteOptions::default`] does not sync). Default: `false`, as
    /// LevelDB: a write survives a process crash at once, and a power loss
    /// once a later synced write or [`Db::sync`](crate::Db::sync) covers it.
    pub sync: bool,
    /// Create the directory and an empty database if there is none.
    /// Only the directory itself is created, never a missing parent (as
    /// LevelDB and RocksDB: a typo in a parent is an [`Error::Io`] that
    /// names the path).
    ///
    /// Default: `true`, unlike LevelDB's and RocksDB's `false`: Rust's
    /// embedded stores (fjall, sled, redb's `Database::create`) open or
    /// create in one call, and `Db::open(path, Options::default())` is
    /// the first line a newcomer writes. A program that must not create a
    /// database (a tool over an existing one) sets it to `false`, or uses
    /// [`Db::open_read_only`](crate::Db::open_read_only), which never
    /// creates anything.
    ///
    /// [`Error::Io`]: crate::Error::Io
    pub create_if_missing: bool,
    /// Refuse to open a directory that already holds a database.
    /// Default: `false`.
    pub error_if_exists: bool,
    /// What opening does with a damaged journal. Default:
    /// [`RecoveryMode::PointInTime`].
    pub recovery: RecoveryMode,
    /// The largest batch accepted, in `internal_len` bytes; a larger write
    /// fails with [`Error::BatchTooLarge`] and changes nothing.
    /// Default: 256 MiB.
    pub max_batch_size: usize,
    /// The size at which compaction ends an output table, in bytes
    /// (LevelDB's `max_file_size`, RocksDB's `target_file_size_base`).
    /// Default: 2 MiB, as LevelDB: 4 MiB wrote more on a 5 M-key
    /// fillrandom, settled (6.8 bytes per user byte against 6.6), as each
    /// table moved down overlaps more of the level below. At least 4 KiB.
    pub table_file_size: u64,
    /// The target size of level 1 in bytes; each deeper level's is ten
    /// times the one above (RocksDB's `max_bytes_for_level_base`).
    /// Compaction moves data down once a level is over its target.
    /// Default: 10 MiB, as LevelDB. Before level-0 batching, a 10 M-key
    /// fillrandom (`bench --workload fillrandom --threads 1 --num
    /// 10000000`) wrote 9.30x its user bytes with 5 MiB, 8.60x with 10 MiB
    /// and 8.64x with 40 MiB, and ran fastest with 10 (a larger level 1
    /// makes every level-0 compaction merge more of it). With batching, a
    /// 5 M-key fill, settled, wrote 6.6x with 10 MiB, 6.2x with 20 and
    /// 5.9x with 40, but ran 7% and 18% slower, and a larger level 1
    /// holds more that a read may have to search past level 0: 10 stays.
    /// At least 16 KiB.
    pub level1_size: u64,
    /// How compaction chooses what to rewrite ([`CompactionPicker`]).
    /// Default: [`CompactionPicker::LeastOverlap`].
    pub compaction_picker: CompactionPicker,
    /// Whether the level targets follow the data (RocksDB's
    /// `level_compaction_dynamic_level_bytes`): the last level's target is
    /// what it holds, each level above holds a tenth of the one below,
    /// and level 0 compacts into the first level whose share reaches
    /// [`level1_size`](Options::level1_size), the levels above it staying
    /// empty. Without, level 1 holds `level1_size` and each deeper level
    /// ten times more (LevelDB's). Either way a tree opens with the other
    /// setting: data above a dynamic tree's base moves down in time.
    /// Default: `false`. Measured once settled (`bench --workload
    /// fillrandom --num N --settle-after`, with and without
    /// `--tributary-options dynamic-levels`), bytes written per user byte:
    /// 6.7 fixed against 7.0 dynamic at 5 M keys, 9.25 against 8.95 at
    /// 20 M, and 3.9 against 4.1 at 20 M with RocksDB's sizes
    /// (`rocksdb-budget`). Dynamic targets keep the tree's last level
    /// full (space on disk 1.07x the live data at 5 M keys, against
    /// 1.13x), where fixed ones leave a growing tree's last level short of
    /// its target, and the merges into it cheap.
    pub dynamic_level_sizes: bool,
    /// The size at which a table's data block is cut, before the block's
    /// last entry (LevelDB's `block_size`): larger blocks make a smaller
    /// index and faster scans, smaller ones cheaper point reads. Default:
    /// 4 KiB, as LevelDB. From 1 KiB to 4 MiB.
    pub block_size: usize,
    /// How table blocks are compressed ([`Compression`]): a block is
    /// stored compressed only if that saves an eighth of it. Default:
    /// Snappy, as LevelDB, goleveldb, RocksDB and Pebble. Tables already
    /// written keep theirs; every type is read whatever this says.
    pub compression: Compression,
    /// The compression of each level's tables, overriding
    /// [`compression`](Options::compression) (RocksDB's
    /// `compression_per_level`): entry `i` for level `i`, the last entry
    /// for every deeper level, such as `[None, None, Snappy]` to keep the
    /// levels that are rewritten most cheap to write. Empty (the default):
    /// `compression` everywhere. At most 7 entries.
    pub compression_per_level: Vec<Compression>,
    /// The size past which the manifest is rolled: written anew as one
    /// snapshot of the tables, `CURRENT` pointed at it, the old one
    /// deleted (RocksDB's `max_manifest_file_size`), so that an open
    /// replays a snapshot and a few edits, not every edit since the last
    /// open. A manifest is never rolled before it is twice the snapshot it
    /// began with, so a large database does not roll at every commit.
    /// Default: 64 KiB: after a 10 M-key fill the manifest LevelDB's
    /// rule keeps (no roll until the next open) was 355 KiB, 9% of the
    /// reopen's time.
    pub max_manifest_file_size: u64,
    /// The file system. Default: the operating system's ([`OsFs`]); tests
    /// pass a `FaultFs` (`tributary::fs::FaultFs`, built with the
    /// `fault-injection` feature).
    pub fs: Arc<dyn Fs>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            write_buffer_size: 4 << 20,
            merge_writes: true,
            pipelined_commit: true,
            sync: false,
            create_if_missing: true,
            error_if_exists: false,
            recovery: RecoveryMode::PointInTime,
            max_batch_size: 256 << 20,
            table_file_size: 2 << 20,
            level1_size: 10 << 20,
            compaction_picker: CompactionPicker::LeastOverlap,
            dynamic_level_sizes: false,
            block_size: crate::table::BLOCK_SIZE,
            compression: Compression::Snappy,
            compression_per_level: Vec::new(),
            max_manifest_file_size: 64 << 10,
            fs: Arc::new(OsFs),
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("write_buffer_size", &self.write_buffer_size)
            .field("merge_writes", &self.merge_writes)
            .field("pipelined_commit", &self.pipelined_commit)
            .field("sync", &self.sync)
            .field("create_if_missing", &self.create_if_missing)
            .field("error_if_exists", &self.error_if_exists)
            .field("recovery", &self.recovery)
            .field("max_batch_size", &self.max_batch_size)
            .field("table_file_size", &self.table_file_size)
            .field("compaction_picker", &self.compaction_picker)
            .field("dynamic_level_sizes", &self.dynamic_level_sizes)
            .field("level1_size", &self.level1_size)
            .field("block_size", &self.block_size)
            .field("compression", &self.compression)
            .field("compression_per_level", &self.compression_per_level)
            .field("max_manifest_file_size", &self.max_manifest_file_size)
            .field("fs", &self.fs)
            .finish()
    }
}

/// The smallest accepted [`Options::write_buffer_size`].
pub const MIN_WRITE_BUFFER_SIZE: usize = 64 << 10;

impl Options {
    /// The tree's shape for the compaction picker and the table writers.
    pub(crate) fn shape(&self) -> crate::shape::Shape {
        crate::shape::Shape {
            l0_trigger: crate::tuning::L0_COMPACTION_TRIGGER,
            l0_batch: crate::tuning::L0_BATCH_TRIGGER,
            writes_quiet: std::time::Duration::from_secs_f64(
                self.write_buffer_size as f64 / crate::tuning::BATCHING_WRITE_RATE as f64,
            ),
            l1_bytes: self.level1_size,
            ratio: crate::tuning::LEVEL_SIZE_RATIO,
            target_file_size: self.table_file_size,
            picker: self.compaction_picker,
            dynamic: self.dynamic_level_sizes,
            block_size: self.block_size,
            compression: std::array::from_fn(|level| match self.compression_per_level.as_slice() {
                [] => self.compression,
                levels => levels[level.min(levels.len() - 1)],
            }),
        }
    }

    /// Checks the options, naming the first bad one.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.write_buffer_size < MIN_WRITE_BUFFER_SIZE {
            return Err(Error::InvalidOptions(format!(
                "write_buffer_size is {} bytes, below the minimum of {MIN_WRITE_BUFFER_SIZE}",
                self.write_buffer_size
            )));
        }
        if self.write_buffer_size > MAX_WRITE_BUFFER_SIZE {
            return Err(Error::InvalidOptions(format!(
                "write_buffer_size is {} bytes, above the maximum of 1 GiB",
                self.write_buffer_size
            )));
        }
        if self.table_file_size < 4 << 10 {
            return Err(Error::InvalidOptions(format!(
                "table_file_size is {} bytes, below the minimum of 4096",
                self.table_file_size
            )));
        }
        if self.level1_size < 16 << 10 {
            return Err(Error::InvalidOptions(format!(
                "level1_size is {} bytes, below the minimum of 16384",
                self.level1_size
            )));
        }
        if self.compression_per_level.len() > crate::version::NUM_LEVELS {
            return Err(Error::InvalidOptions(format!(
                "compression_per_level has {} entries, for {} levels",
                self.compression_per_level.len(),
                crate::version::NUM_LEVELS
            )));
        }
        if !(1 << 10..=4 << 20).contains(&self.block_size) {
            return Err(Error::InvalidOptions(format!(
                "block_size is {} bytes, outside 1 KiB to 4 MiB",
                self.block_size
            )));
        }
        if self.max_batch_size == 0 {
            return Err(Error::InvalidOptions("max_batch_size is zero".to_owned()));
        }
        if self.error_if_exists && !self.create_if_missing {
            return Err(Error::InvalidOptions(
                "error_if_exists without create_if_missing can never open".to_owned(),
            ));
        }
        Ok(())
    }
}

/// What opening a database does when its history is damaged.
///
/// A torn tail (the newest write cut short or left half-written over
/// zeros by a crash, with no record after it) is the normal result of a
/// crash: every mode drops it and reports it. Anything else (a gap between
/// journals, damage with records after it, a torn end of an older journal
/// while a later one holds records) is possible loss of acknowledged
/// writes. In every mode nothing is destroyed: what is not replayed is
/// kept whole in the directory's `lost/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// Recover to the last intact record before the first damage: the
    /// damaged journal is cut there (its original kept in `lost/`) and
    /// every later journal is moved into `lost/`, so that the database
    /// holds a prefix of its history with no hole and the next open finds
    /// the same. The damage is in
    /// [`RecoveryReport::damage`](crate::RecoveryReport::damage).
    PointInTime,
    /// Refuse to open, with [`Error::Corruption`] naming the journal and
    /// offset and changing nothing on disk, unless the history is whole up
    /// to a torn tail.
    Strict,
}

/// Options of one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Return only once the write is on stable storage (one `fdatasync`,
    /// shared with the writes merged beside it).
    pub sync: bool,
    /// Whether this write may be merged with others (and lead a group).
    /// Turning it off for one write makes it take the write lock alone.
    pub merge: bool,
}

impl Default for WriteOptions {
    /// Not synced, merged.
    fn default() -> WriteOptions {
        WriteOptions {
            sync: false,
            merge: true,
        }
    }
}

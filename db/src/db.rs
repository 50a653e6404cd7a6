//! [`Db`]: open, write, read, close.

use crate::backend::Backend;
use crate::compaction::{self};
use crate::error::{io_err, table_err, CorruptionKind, Error, Reason};
use crate::export::{ExportOptions, Exported};
use crate::failure::Failure;
use crate::files::{self, Files};
use crate::fs::FileLock;
use crate::options::{Options, WriteOptions};
use crate::progress::{mib, progress};
use crate::read::{Cursor, Iter, ReadState, ScanRange, View};
use crate::read_only;
use crate::recovery::RecoveryReport;
use crate::state::{Count, Shared};
use crate::sync::lock;
use crate::version::{Catalog, Deleter, TableFile};
use batch::{Batch, Record, SeqNum};
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// An open database.
///
/// `Db` is `Send + Sync`: share it between threads by reference or in an
/// `Arc`. Concurrent writes are merged by group commit (see the `writer`
/// crate). Reads never wait for writes.
///
/// Call [`close`](Db::close) to learn whether the final sync succeeded; it
/// takes `&self`, so any holder of an `Arc<Db>` may close it. Dropping a
/// `Db` that is still open closes it the same way, syncing the journal,
/// but cannot return an error: a failed final sync is logged (`log::error!`)
/// and the writes it did not cover survive a process crash but not a power
/// loss, as after any unsynced write.
pub struct Db {
    shared: Arc<Shared>,
    /// The write path; `None` when opened read-only.
    commit: Option<writer::GroupCommit>,
    options: Options,
    report: RecoveryReport,
    /// The manifest's catalog of a read-only database (a writable one
    /// keeps its own in the version set).
    read_only_catalog: std::sync::Mutex<Catalog>,
    closed: AtomicBool,
    /// The tables the open found, opened on first use
    /// (`version::current`): at close, those a snapshot or iterator still
    /// holds are opened, so that they stay readable once another open
    /// deletes their files (a mapping outlives the name).
    unopened: Vec<Weak<TableFile>>,
    /// Held until [`close`](Db::close) (or drop), which releases `LOCK`.
    lock: std::sync::Mutex<Option<Box<dyn FileLock>>>,
    /// Held shared by `compact` and `compact_range` for their whole run,
    /// and exclusively by `close` before it releases `LOCK`.
    maintenance: std::sync::RwLock<()>,
    /// Held by `refresh` across its load and swap, so that two refreshes
    /// cannot install their loads out of order.
    refreshing: std::sync::Mutex<()>,
}

/// A consistent read-only view of the database at one sequence number.
///
/// Reads through a snapshot see every write acknowledged before it was
/// taken and none after. A snapshot is independent of the [`Db`] it came
/// from and may outlive it. Unlike RocksDB's, it needs no release and no
/// `ReadOptions`: it is read through its own methods, and what it holds is
/// freed when the last clone of it (and the last iterator from it) drops.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
/// db.put("k", "1")?;
/// let snapshot = db.snapshot();
/// db.delete("k")?;
/// db.close()?;
/// // It still reads what it saw, even with the database closed.
/// assert_eq!(snapshot.get("k")?.as_deref(), Some(&b"1"[..]));
/// assert_eq!(snapshot.iter().count(), 1);
/// # Ok::<(), tributary::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Snapshot {
    seq: SeqNum,
    view: Arc<View>,
}

/// The data blocks of one level's tables, before compression and as
/// stored ([`Db::data_bytes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataBytes {
    /// Bytes before compression, of the tables that record it.
    pub raw: u64,
    /// The same tables' data block bytes as stored.
    pub stored: u64,
    /// Tables that record no size before compression (LevelDB's).
    pub unrecorded: usize,
}

/// Counters and sizes of an open database, from [`Db::stats`]: typed
/// fields where RocksDB has property strings (`rocksdb.stats`,
/// `rocksdb.num-files-at-level<N>`, ...). Its `Debug` prints them all.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
/// db.put("k", "v")?;
/// let stats = db.stats();
/// // Journal and table bytes written since open: over the bytes the
/// // application wrote, the write amplification.
/// let written = stats.journal_bytes_written + stats.table_bytes_written;
/// assert!(written > 0);
/// println!("{} tables, {written} bytes written", stats.files_per_level.iter().sum::<usize>());
/// println!("{stats:#?}");
/// # Ok::<(), tributary::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Stats {
    /// Group-commit metrics: groups, merged writes, fsyncs, waiting time.
    pub writer: writer::Metrics,
    /// The last sequence number applied.
    pub last_seq: SeqNum,
    /// Bytes (`internal_len`) in the active memtable.
    pub memtable_bytes: usize,
    /// Entries in the active memtable.
    pub memtable_entries: usize,
    /// Frozen memtables waiting for a flush.
    pub frozen_memtables: usize,
    /// Bytes in frozen memtables.
    pub frozen_bytes: usize,
    /// Tables in each level (level 0 first).
    pub files_per_level: Vec<usize>,
    /// Bytes of tables in each level.
    pub bytes_per_level: Vec<u64>,
    /// Entries (every version and tombstone) in all tables.
    pub table_entries: u64,
    /// Flushes of memtables to tables since open.
    pub flushes: u64,
    /// Batches larger than the write buffer written straight to level-0
    /// tables since open, neither journaled nor held in a memtable.
    pub large_batches: u64,
    /// Compactions since open: leveled ones the background ran and full
    /// ones ([`Db::compact`]).
    pub compactions: u64,
    /// Bytes of tables written since open (write amplification's
    /// numerator, with the journals').
    pub table_bytes_written: u64,
    /// [`table_bytes_written`](Stats::table_bytes_written) by the level
    /// the tables were written into, level 0 first (flushes write level
    /// 0; a compaction writes the level below its inputs): where the
    /// write amplification comes from, as the `Write(MB)` column of
    /// LevelDB's `leveldb.stats`.
    pub table_bytes_written_per_level: Vec<u64>,
    /// Bytes of the data blocks of the tables written since open, before
    /// compression ([`Options::compression`](crate::Options::compression)).
    pub data_bytes_raw: u64,
    /// The same data blocks' bytes as stored: over
    /// [`data_bytes_raw`](Stats::data_bytes_raw), what compression kept.
    pub data_bytes_stored: u64,
    /// The live manifest and its size, if the database is writable.
    pub manifest: Option<(std::path::PathBuf, u64)>,
    /// The manifest's counters: the log number (journals below it are
    /// obsolete), the next file number, and the last sequence number in
    /// tables.
    pub log_number: u64,
    /// See [`log_number`](Stats::log_number).
    pub next_file_number: u64,
    /// See [`log_number`](Stats::log_number).
    pub tables_last_seq: u64,
    /// Bytes in all live journals.
    pub journal_bytes: u64,
    /// Bytes appended to journals since open (write amplification's
    /// numerator, with [`table_bytes_written`](Stats::table_bytes_written)).
    pub journal_bytes_written: u64,
    /// Memtable rotations since open.
    pub rotations: u64,
    /// Write groups that slept 1 ms because level 0 held 20 tables or more
    /// (goleveldb's write slowdown).
    pub write_slowdowns: u64,
    /// Write groups that waited for the background because level 0 held
    /// 30 tables, or two memtables were waiting for their flush.
    pub write_stops: u64,
    /// Time spent in both kinds of stall.
    pub write_stall_time: std::time::Duration,
    /// Tables a compaction found damaged, with what it found: compaction
    /// goes around them until a repair (`Db::repair`) rewrites them.
    pub quarantined: Vec<(std::path::PathBuf, String)>,
}

impl Db {
    /// Opens the database in `dir`, creating it if `options` allow, and
    /// recovers it from its journals.
    ///
    /// Unlike RocksDB's, [`Options::default`] creates a missing database
    /// ([`Options::create_if_missing`]), so `Db::open(path,
    /// Options::default())` is rust-rocksdb's `DB::open_default(path)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tributary::{Db, Options};
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path();
    /// let db = Db::open(path, Options::default())?;
    /// db.put("my key", "my value")?;
    /// db.close()?; // or drop it, which cannot report a failed final sync
    ///
    /// let db = Db::open(path, Options::default())?;
    /// assert_eq!(db.get("my key")?.as_deref(), Some(&b"my value"[..]));
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOptions`], [`Error::Locked`] if another open database
    /// holds the directory, [`Error::NotFound`] or [`Error::AlreadyExists`]
    /// as the options say, [`Error::Corruption`] in strict recovery, and
    /// [`Error::Io`] for a failing file operation.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Db, Error> {
        options.validate()?;
        let opened = crate::open::open_writable(dir.as_ref(), &options)?;
        Ok(Db {
            shared: opened.shared,
            commit: Some(opened.commit),
            options,
            report: opened.report,
            read_only_catalog: std::sync::Mutex::new(Catalog::default()),
            closed: AtomicBool::new(false),
            unopened: opened.unopened,
            lock: std::sync::Mutex::new(Some(opened.lock)),
            maintenance: std::sync::RwLock::new(()),
            refreshing: std::sync::Mutex::new(()),
        })
    }

    /// Opens the database in `dir` for reading only: it never changes a
    /// byte in the directory (no journal is created, no damage repaired,
    /// nothing renamed, no `LOCK` created or taken), so any number of
    /// read-only opens may sit beside one live writer, in this process or
    /// another, as RocksDB's read-only and secondary instances do.
    ///
    /// It reads a consistent snapshot of what was committed when it opened:
    /// the tables the manifest lists (each mapped at once, so that the
    /// writer's compactions may delete them afterwards) and the journals
    /// replayed as [`open`](Db::open) would, with the same recovery mode,
    /// but keeping what a repair would do to itself: a torn tail (or the
    /// record a live writer is appending) is skipped, the prefix before
    /// damage is read. If the writer deletes or renames a file while the
    /// open reads, the open starts over (`read_only.rs`). Writes, syncs
    /// and compactions fail with [`Error::ReadOnly`]; see
    /// [`refresh`](Db::refresh) to catch up with the writer.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let writer = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// writer.put("k", "1")?;
    /// let reader = tributary::Db::open_read_only(dir.path(), tributary::Options::default())?;
    /// writer.put("k", "2")?;
    /// assert_eq!(reader.get("k")?.as_deref(), Some(&b"1"[..]));
    /// reader.refresh()?;
    /// assert_eq!(reader.get("k")?.as_deref(), Some(&b"2"[..]));
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if `dir` holds no database (nothing is
    /// created), otherwise as [`open`](Db::open).
    pub fn open_read_only(dir: impl AsRef<Path>, options: Options) -> Result<Db, Error> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let fs = Arc::clone(&options.fs);
        let blocks = compaction::memtable_pool(options.write_buffer_size);
        let loaded = read_only::load(&fs, &dir, &options, &blocks)?;
        let shared = Arc::new(Shared::new(
            Arc::new(Files::new(&dir, &fs, loaded.numbers)),
            Arc::new(Failure::default()),
            ReadState::new(loaded.view, loaded.last_seq),
            None,
            Deleter::none(),
            blocks,
            options.shape(),
        ));
        // The journals replayed stay live: what `stats` reports of them.
        shared.journals.set_current_bytes(loaded.report.bytes());
        Ok(Db {
            shared,
            commit: None,
            options,
            report: loaded.report,
            read_only_catalog: std::sync::Mutex::new(loaded.catalog),
            closed: AtomicBool::new(false),
            unopened: Vec::new(),
            lock: std::sync::Mutex::new(None),
            maintenance: std::sync::RwLock::new(()),
            refreshing: std::sync::Mutex::new(()),
        })
    }

    /// Catches a read-only database up with the writer beside it (RocksDB's
    /// `TryCatchUpWithPrimary`): loads the directory again, as
    /// [`open_read_only`](Db::open_read_only) does, and makes what it
    /// found the database's newest state. Snapshots and iterators taken
    /// before keep reading what they saw. Returns the new last sequence
    /// number; a writable database is always current and returns its own.
    ///
    /// If the writer crashed and its next open dropped writes this
    /// database had read (never synced ones), the refresh shows the
    /// recovered history: the last sequence number may go back.
    /// [`recovery_report`](Db::recovery_report) stays the open's.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let writer = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// let reader = tributary::Db::open_read_only(dir.path(), tributary::Options::default())?;
    /// let seq = writer.write(&tributary::Batch::new(), &Default::default())?;
    /// writer.put("k", "v")?;
    /// assert!(reader.refresh()? > seq);
    /// assert_eq!(reader.get("k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`open_read_only`](Db::open_read_only), with the state before
    /// the call kept.
    #[doc(alias = "try_catch_up_with_primary")]
    pub fn refresh(&self) -> Result<SeqNum, Error> {
        if self.commit.is_some() {
            return Ok(self.shared.read.last_seq());
        }
        let _one_at_a_time = lock(&self.refreshing);
        let files = &self.shared.files;
        let loaded = read_only::load(files.fs(), files.dir(), &self.options, &self.shared.blocks)?;
        let last_seq = loaded.last_seq;
        self.shared
            .journals
            .set_current_bytes(loaded.report.bytes());
        *lock(&self.read_only_catalog) = loaded.catalog;
        self.shared.read.replace(loaded.view);
        Ok(last_seq)
    }

    /// The write path, or [`Error::ReadOnly`].
    fn writer(&self) -> Result<&writer::GroupCommit, Error> {
        self.commit.as_ref().ok_or(Error::ReadOnly)
    }

    /// Whether the database was opened with
    /// [`open_read_only`](Db::open_read_only).
    pub fn is_read_only(&self) -> bool {
        self.commit.is_none()
    }

    /// Checks the database in `dir` without changing it: reads the
    /// manifest, checks the order of its levels, checks that every table
    /// it lists is that table (number, key range, entry count) and every
    /// block of it, including the filter and metaindex that reads can do
    /// without, replays the live journals, and reports what opening would
    /// drop and set aside.
    ///
    /// It creates no file, not even `LOCK`. It takes the lock if the file
    /// is there, so it fails with [`Error::Locked`] while the database is
    /// open.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// db.put("k", "v")?;
    /// db.close()?;
    /// let report = tributary::Db::check(dir.path(), &tributary::Options::default())?;
    /// assert!(report.is_clean(), "{report}");
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if `dir` holds no database; [`Error::Io`] naming
    /// the real cause if the lock cannot be taken (a `LOCK` that is a
    /// directory, say); otherwise as [`open`](Db::open). With
    /// [`RecoveryMode::Strict`](crate::RecoveryMode::Strict), a break in the
    /// history is an [`Error::Corruption`].
    pub fn check(dir: impl AsRef<Path>, options: &Options) -> Result<RecoveryReport, Error> {
        // A read-only open is exactly this: no lock, the same replay, no
        // repair; then every block of every table is read and checked (an
        // open checks a block only when a read first needs it). Beside a
        // live writer, the record it is appending may show as a torn tail.
        let db = Db::open_read_only(dir, options.clone())?;
        let version = Arc::clone(&db.shared.read.view().version);
        // The levels first: a table in the wrong place or overlapping
        // another gives wrong answers with every block intact.
        if let Err(reason) = version.check() {
            return Err(Error::Corruption {
                path: db.report.manifest.clone().unwrap_or_default(),
                offset: 0,
                reason: Reason::new(
                    CorruptionKind::Manifest,
                    format!("the manifest's levels are out of order: {reason}"),
                ),
            });
        }
        let count = version.tables().count();
        let bytes: u64 = version.tables().map(|(_, f)| f.meta.size).sum();
        let mut read = 0;
        for (i, (_, file)) in version.tables().enumerate() {
            // Opening it checks it is the table listed (`version::set`).
            let entries = file.table()?.verify_all().map_err(table_err(file.path()))?;
            read += file.meta.size;
            progress!(
                "check: {} of {count} tables read ({:.1} of {:.1} MiB)",
                i + 1,
                mib(read),
                mib(bytes)
            );
            // 0: listed by a LevelDB manifest, which records no count.
            if file.meta.entries != 0 && entries != file.meta.entries {
                return Err(Error::Corruption {
                    path: file.path().to_path_buf(),
                    offset: 0,
                    reason: Reason::new(
                        CorruptionKind::Table,
                        format!(
                            "it holds {entries} entries, where the manifest lists {}",
                            file.meta.entries
                        ),
                    ),
                });
            }
        }
        Ok(db.report.clone())
    }

    /// Rebuilds the database in `dir` from whatever is readable, for when
    /// [`open`](Db::open) refuses (a damaged manifest, a missing or damaged
    /// table) and the rest of the data is wanted back: every data block
    /// that checks out of every table file, and every journal record that
    /// reads, newest version of each key kept (so nothing a surviving newer
    /// version replaced comes back). Damaged tables and journals and the
    /// old manifests are kept whole in `lost/`, never deleted; a crash at
    /// any point leaves a directory that the next repair turns into the
    /// same database (see the `repair` module). It takes the directory's
    /// lock, and accepts a directory LevelDB's `RepairDB` left.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// # db.put("k", "v")?;
    /// # db.close()?;
    /// // After an open refused with a corruption error:
    /// let report = tributary::Db::repair(dir.path(), &tributary::Options::default())?;
    /// println!("{report}"); // what was salvaged, and what was set aside in lost/
    /// let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// assert_eq!(db.get("k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if `dir` holds no database, [`Error::Locked`]
    /// while it is open, [`Error::Io`] for a failing file operation (the
    /// directory then opens or repairs as it did before).
    pub fn repair(dir: impl AsRef<Path>, options: &Options) -> Result<crate::RepairReport, Error> {
        crate::repair::repair(dir.as_ref(), options)
    }

    /// What opening found and dropped.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The directory of the database.
    pub fn path(&self) -> &Path {
        self.shared.files.dir()
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The options [`put`](Db::put) and [`delete`](Db::delete) write with:
    /// `sync` from [`Options::sync`], and merged (whether merging happens
    /// at all is [`Options::merge_writes`]).
    pub fn default_write_options(&self) -> WriteOptions {
        WriteOptions {
            sync: self.options.sync,
            merge: true,
        }
    }

    /// Sets `key` to `value` with the default write options.
    ///
    /// Keys and values are any bytes: `&str`, `String`, `&[u8]`, `Vec<u8>`,
    /// byte arrays. [`put_with`](Db::put_with) takes its own
    /// [`WriteOptions`], as rust-rocksdb's `put_opt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tributary::WriteOptions;
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// db.put("apple", "red")?;
    /// db.put(b"pear", String::from("green"))?;
    /// db.put(vec![0xff, 0x00], [1, 2, 3])?;
    /// assert_eq!(db.get("pear")?.as_deref(), Some(&b"green"[..]));
    ///
    /// // Durable once it returns: rust-rocksdb's `put_opt` with `set_sync(true)`.
    /// db.put_with("apple", "green", &WriteOptions { sync: true, ..WriteOptions::default() })?;
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// See [`write`](Db::write).
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
        self.put_with(key, value, &self.default_write_options())
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    ///
    /// See [`write`](Db::write).
    pub fn put_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: &WriteOptions,
    ) -> Result<(), Error> {
        let (key, value) = (key.as_ref(), value.as_ref());
        check_key(key)?;
        self.check_size(Record::Put { key, value }.internal_len())?;
        self.writer()?.put(key, value, writer_options(options))?;
        Ok(())
    }

    /// Removes `key` with the default write options. Removing an absent key
    /// is not an error.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// db.put("apple", "red")?;
    /// db.delete("apple")?;
    /// assert_eq!(db.get("apple")?, None);
    /// db.delete("never written")?;
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// See [`write`](Db::write).
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<(), Error> {
        self.delete_with(key, &self.default_write_options())
    }

    /// Removes `key`.
    ///
    /// # Errors
    ///
    /// See [`write`](Db::write).
    pub fn delete_with(&self, key: impl AsRef<[u8]>, options: &WriteOptions) -> Result<(), Error> {
        let key = key.as_ref();
        check_key(key)?;
        self.check_size(Record::Delete { key }.internal_len())?;
        self.writer()?.delete(key, writer_options(options))?;
        Ok(())
    }

    /// Applies every record of `batch` atomically: after a crash, recovery
    /// finds all of them or none. The batch is not modified. Returns the
    /// sequence number of the batch's first record. An empty batch writes
    /// nothing and returns the last sequence number applied (RocksDB and
    /// LevelDB take it as a no-op too).
    ///
    /// # Examples
    ///
    /// ```
    /// use tributary::{Batch, WriteOptions};
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// let mut batch = Batch::new();
    /// batch.put("apple", "red");
    /// batch.put(String::from("pear"), String::from("green"));
    /// batch.delete("plum");
    /// db.write(&batch, &WriteOptions::default())?;
    /// assert_eq!(db.get("pear")?.as_deref(), Some(&b"green"[..]));
    ///
    /// // Durable once it returns: rust-rocksdb's `write_opt` with `set_sync(true)`.
    /// batch.clear();
    /// batch.put("apple", "green");
    /// db.write(&batch, &WriteOptions { sync: true, ..WriteOptions::default() })?;
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::BatchTooLarge`] and
    /// [`Error::KeyTooLarge`] before anything is written; [`Error::Write`] if the journal write or sync failed (then
    /// nothing of the batch is visible, and the database refuses writes until
    /// reopened), or the database is closing.
    pub fn write(&self, batch: &Batch, options: &WriteOptions) -> Result<SeqNum, Error> {
        if batch.is_empty() {
            // No record, so no sequence number and no journal bytes.
            self.writer()?;
            return Ok(self.shared.read.last_seq());
        }
        self.check_size(batch.internal_len())?;
        check_key_len(batch.max_key_len())?;
        Ok(self.writer()?.write(batch, writer_options(options))?)
    }

    /// Decodes `bytes` as an encoded batch (LevelDB's format, header
    /// included; the header's sequence number is ignored) and writes it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBatch`] naming the offset and fault, with nothing
    /// written; otherwise as [`write`](Db::write).
    pub fn write_encoded(&self, bytes: &[u8], options: &WriteOptions) -> Result<SeqNum, Error> {
        let batch = Batch::decode(bytes)?;
        self.write(&batch, options)
    }

    fn check_size(&self, size: usize) -> Result<(), Error> {
        if size > self.options.max_batch_size {
            return Err(Error::BatchTooLarge {
                size,
                max: self.options.max_batch_size,
            });
        }
        Ok(())
    }

    /// Syncs the journal: every write acknowledged before the call survives
    /// a power loss once it returns.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// for i in 0..100u32 {
    ///     db.put(i.to_be_bytes(), "unsynced")?; // fast, survives a process crash
    /// }
    /// db.sync()?; // now all of them survive a power loss too
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the sync fails (the database is then poisoned), or
    /// [`Error::Closed`].
    pub fn sync(&self) -> Result<(), Error> {
        let res = self.writer()?.with_backend(|backend| {
            let backend: &mut Backend = backend
                .as_any_mut()
                .downcast_mut()
                .expect("the database's writer drives its own backend");
            backend.sync_journals()
        })?;
        res.map_err(|e| self.poison("sync journal in", e))
    }

    /// The error of a journal operation run outside a write (a sync, a
    /// rotation): kept as the database's failure (`crate::failure`), so
    /// that every later write fails at once, saying why.
    fn poison(&self, op: &'static str, e: std::io::Error) -> Error {
        let dir = self.shared.files.dir();
        let kept = std::io::Error::new(e.kind(), e.to_string());
        self.shared.stop(io_err(op, dir)(kept));
        io_err(op, dir)(e)
    }

    /// The value of `key` in the newest state, owned.
    ///
    /// Values are copied out of the memtable or table file they are found
    /// in: a read holds no lock and no reference into the database after it
    /// returns.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// db.put("apple", "red")?;
    /// match db.get("apple")? {
    ///     Some(value) => println!("apple is {}", String::from_utf8_lossy(&value)),
    ///     None => println!("no apple"),
    /// }
    /// assert_eq!(db.get("apple")?, Some(b"red".to_vec()));
    /// assert_eq!(db.get("pear")?, None);
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] naming the table and offset if a table read
    /// finds damage.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, Error> {
        self.snapshot().get(key)
    }

    /// The values of `keys`, in order, one `Result` per key, as
    /// rust-rocksdb's `multi_get`: all read at one snapshot, so they are
    /// consistent with each other.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default()).unwrap();
    /// db.put("a", "1")?;
    /// db.put("c", "3")?;
    /// let values = db.multi_get(["a", "b", "c"]);
    /// assert_eq!(values.len(), 3);
    /// assert_eq!(values[0].as_ref().unwrap().as_deref(), Some(&b"1"[..]));
    /// assert_eq!(values[1].as_ref().unwrap(), &None);
    /// # Ok::<(), tributary::Error>(())
    /// ```
    pub fn multi_get<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Vec<Result<Option<Vec<u8>>, Error>> {
        self.snapshot().multi_get(keys)
    }

    /// A snapshot of the newest state: reads through it see what was
    /// written before it was taken and nothing after.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// db.put("k", "1")?;
    /// let snapshot = db.snapshot();
    /// db.put("k", "2")?;
    /// db.put("l", "3")?;
    /// assert_eq!(snapshot.get("k")?.as_deref(), Some(&b"1"[..]));
    /// assert_eq!(snapshot.iter().count(), 1);
    /// assert_eq!(db.get("k")?.as_deref(), Some(&b"2"[..]));
    /// # Ok::<(), tributary::Error>(())
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let (seq, view) = self.shared.read.snapshot();
        Snapshot { seq, view }
    }

    /// Flushes the memtable and every frozen memtable to level-0 tables,
    /// deletes the journals that held them, then merges every table into
    /// non-overlapping tables of one level, holding the newest version of
    /// each key: the first level whose target size holds them all, so
    /// that no compaction moves them afterwards (LevelDB's `CompactRange`
    /// over all keys). Snapshots taken
    /// before keep reading what they saw; the old tables are deleted once
    /// none holds them.
    ///
    /// A database already settled (every table in one level below level 0,
    /// at or below the level its size calls for) is left as it is, so a
    /// second `compact` writes nothing, as RocksDB's `CompactRange` leaves
    /// its bottommost level. Such a level may still hold versions and
    /// deletes that a snapshot, since released, kept when it was written.
    ///
    /// The active memtable is frozen first, which starts a new journal.
    /// Flushes also run by themselves in the background as memtables
    /// freeze; this call is for a caller that wants the data in tables
    /// now.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// for i in 0..1000u32 {
    ///     db.put(i.to_be_bytes(), "v")?;
    ///     db.delete(i.to_be_bytes())?;
    /// }
    /// db.compact()?; // the deletes and what they hid are gone from disk
    /// assert!(db.iter().next().is_none());
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if freezing fails to create the new journal (the
    /// database is then poisoned, as after a failed write), a table write
    /// or manifest error (after a manifest error writes are refused until
    /// reopened), [`Error::ReadOnly`], or [`Error::Closed`].
    pub fn compact(&self) -> Result<(), Error> {
        let _open = self.maintenance()?;
        self.flush_memtables()?;
        compaction::merge::compact_all(&self.shared)?;
        // The inputs no snapshot holds go now, not at the next rotation.
        self.shared.delete_retired();
        Ok(())
    }

    /// Compacts the keys from `start` to `end` (both inclusive; `None` is
    /// unbounded), as LevelDB's `CompactRange` and RocksDB's
    /// `compact_range` do: the memtables are flushed, then every table
    /// holding keys in the range is merged down, level by level, into the
    /// deepest level that held any. Overwritten versions and deletes
    /// with nothing left to hide go, and their space comes back once no
    /// snapshot or iterator taken before holds the old tables.
    ///
    /// `compact_range(None::<&[u8]>, None::<&[u8]>)` compacts everything, level by
    /// level; [`compact`](Db::compact) does the same in one merge.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// db.put("a", "1")?;
    /// db.put("a", "2")?;
    /// db.delete("b")?;
    /// db.compact_range(Some("a"), Some("z"))?;
    /// db.compact_range(None::<&[u8]>, None::<&[u8]>)?;
    /// assert_eq!(db.get("a")?.as_deref(), Some(&b"2"[..]));
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`compact`](Db::compact).
    pub fn compact_range<S: AsRef<[u8]>, E: AsRef<[u8]>>(
        &self,
        start: Option<S>,
        end: Option<E>,
    ) -> Result<(), Error> {
        let _open = self.maintenance()?;
        self.flush_memtables()?;
        let (start, end) = (
            start.as_ref().map(AsRef::as_ref),
            end.as_ref().map(AsRef::as_ref),
        );
        compaction::level::compact_range(&self.shared, &self.shared.shape, start, end)?;
        self.shared.delete_retired();
        Ok(())
    }

    /// Freezes the active memtable if it holds anything, and flushes every
    /// frozen one to level-0 tables.
    fn flush_memtables(&self) -> Result<(), Error> {
        let res = self.writer()?.with_backend(|backend| {
            let backend: &mut Backend = backend
                .as_any_mut()
                .downcast_mut()
                .expect("the database's writer drives its own backend");
            if backend.active_is_empty() {
                Ok(())
            } else {
                backend.rotate()
            }
        })?;
        res.map_err(|e| self.poison("rotate journal in", e))?;
        compaction::flush_now(&self.shared)
    }

    /// Every live key and value in key order; `.rev()` walks backwards.
    ///
    /// The [`Iter`] reads a snapshot taken now. Each item is a `Result`: a
    /// read from a table file can fail. For RocksDB's `Seek`-`Next`-`Prev`
    /// style, see [`cursor`](Db::cursor).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// db.put("a", "1")?;
    /// db.put("b", "2")?;
    /// for item in db.iter() {
    ///     let (key, value) = item?;
    ///     println!("{:?} = {:?}", key, value);
    /// }
    /// let all: Vec<(Vec<u8>, Vec<u8>)> = db.iter().rev().collect::<Result<_, _>>()?;
    /// assert_eq!(all[0], (b"b".to_vec(), b"2".to_vec()));
    /// # Ok::<(), tributary::Error>(())
    /// ```
    pub fn iter(&self) -> Iter {
        self.snapshot().into_range(ScanRange::all())
    }

    /// The live keys in `range`, in key order, with their values: RocksDB's
    /// `iterate_lower_bound` and `iterate_upper_bound` as a Rust range
    /// (`"b".."d"`, `"b"..`, `..="d"`, of any byte type).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// for key in ["a", "b", "c", "d"] {
    ///     db.put(key, "v")?;
    /// }
    /// let mut keys = Vec::new();
    /// for item in db.range("b".."d") {
    ///     let (key, _value) = item?;
    ///     keys.push(key);
    /// }
    /// assert_eq!(keys, [b"b", b"c"]);
    /// assert_eq!(db.range(..="b").rev().count(), 2);
    /// # Ok::<(), tributary::Error>(())
    /// ```
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        self.snapshot().into_range(ScanRange::from_bounds(&range))
    }

    /// The live keys that start with `prefix`, in key order: rust-rocksdb's
    /// `prefix_iterator`, with no prefix extractor to set up, and ending
    /// at the last key with the prefix.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// db.put("user:1", "ann")?;
    /// db.put("user:2", "bob")?;
    /// db.put("video:1", "cat")?;
    /// let users: Vec<(Vec<u8>, Vec<u8>)> = db.prefix("user:").collect::<Result<_, _>>()?;
    /// assert_eq!(users.len(), 2);
    /// assert_eq!(users[1], (b"user:2".to_vec(), b"bob".to_vec()));
    /// # Ok::<(), tributary::Error>(())
    /// ```
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        self.snapshot()
            .into_range(ScanRange::prefix(prefix.as_ref()))
    }

    /// A [`Cursor`] over a snapshot of the newest state, on no entry until
    /// positioned: RocksDB's iterator (`seek`, `seek_for_prev`, `next`,
    /// `prev`, `valid`, `key`, `value`, `status`).
    pub fn cursor(&self) -> Cursor {
        self.snapshot().into_cursor()
    }

    /// Each level's data block bytes before compression and as stored,
    /// from the tables' metaindex (`tributary.raw`): what compression
    /// saves, level by level. Unlike [`stats`](Db::stats), this opens
    /// every table not open yet.
    ///
    /// # Errors
    ///
    /// A table that does not open ([`Error::Corruption`] or
    /// [`Error::Io`]).
    pub fn data_bytes(&self) -> Result<Vec<DataBytes>, Error> {
        let view = self.shared.read.view();
        let mut levels = vec![DataBytes::default(); view.version.levels.len()];
        for (level, file) in view.version.tables() {
            let table = file.table()?;
            let bytes = &mut levels[level];
            match table.properties().data_raw {
                Some(raw) => {
                    bytes.raw += raw;
                    bytes.stored += table.data_stored();
                }
                None => bytes.unrecorded += 1,
            }
        }
        Ok(levels)
    }

    /// Counters and sizes: see [`Stats`].
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// db.put("k", "v")?;
    /// let stats = db.stats();
    /// assert_eq!(stats.last_seq, tributary::SeqNum(1));
    /// assert_eq!(stats.memtable_entries, 1);
    /// println!("tables per level: {:?}", stats.files_per_level);
    /// # Ok::<(), tributary::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let view = self.shared.read.view();
        let versions = lock(&self.shared.versions);
        let catalog = versions.as_ref().map_or_else(
            || lock(&self.read_only_catalog).clone(),
            |s| s.catalog().clone(),
        );
        let stalls = &self.shared.lanes.gate.counters;
        let table_bytes = self.shared.counters.table_bytes();
        Stats {
            writer: self
                .commit
                .as_ref()
                .map(|c| c.metrics())
                .unwrap_or_default(),
            last_seq: self.shared.read.last_seq(),
            memtable_bytes: view.active.used(),
            memtable_entries: view.active.len(),
            frozen_memtables: view.frozen.len(),
            frozen_bytes: view.frozen.iter().map(|f| f.memdb.used()).sum(),
            files_per_level: view.version.levels.iter().map(Vec::len).collect(),
            bytes_per_level: view
                .version
                .levels
                .iter()
                .map(|l| l.iter().map(|t| t.meta.size).sum())
                .collect(),
            table_entries: view.version.tables().map(|(_, t)| t.meta.entries).sum(),
            flushes: self.shared.counters.get(Count::Flushes),
            large_batches: self.shared.counters.get(Count::LargeBatches),
            compactions: self.shared.counters.get(Count::Compactions),
            table_bytes_written: table_bytes.iter().sum(),
            table_bytes_written_per_level: table_bytes,
            data_bytes_raw: self.shared.counters.get(Count::DataBytesRaw),
            data_bytes_stored: self.shared.counters.get(Count::DataBytesStored),
            manifest: versions
                .as_ref()
                .map(|s| (s.manifest_path().to_path_buf(), s.manifest_size())),
            log_number: catalog.log_number,
            next_file_number: catalog.next_file_number,
            tables_last_seq: catalog.last_seq,
            journal_bytes: self.shared.journals.bytes(),
            journal_bytes_written: self.shared.journals.bytes_written(),
            rotations: self.shared.counters.get(Count::Rotations),
            write_slowdowns: stalls.slowdowns.load(Ordering::Relaxed),
            write_stops: stalls.stops.load(Ordering::Relaxed),
            write_stall_time: stalls.time(),
            quarantined: self
                .shared
                .lanes
                .quarantined()
                .iter()
                .map(|(&n, why)| (files::table_path(self.shared.files.dir(), n), why.clone()))
                .collect(),
        }
    }

    /// Test machinery: while `paused`, the background starts no leveled
    /// compaction (flushes go on), so that a test can fill level 0 and
    /// watch writes stall; unpausing wakes the compaction lane.
    ///
    /// Pausing returns once no compaction runs and every table it retired
    /// that nothing else holds is deleted, so that a test can compare the
    /// directory with the live tables without waiting on time.
    #[cfg(feature = "fault-injection")]
    pub fn pause_compaction(&self, paused: bool) {
        self.shared.lanes.set_paused(paused);
        if paused {
            // The running compaction holds this until its inputs are
            // released (they drop before its guard).
            drop(self.shared.lanes.compacting());
            self.shared.delete_retired();
        } else {
            self.shared.lanes.wake_compaction();
        }
    }

    /// Hands the directory back to LevelDB and goleveldb (INTEROP.md §5),
    /// then closes the database: the memtables are flushed, a manifest in
    /// LevelDB's format listing every table is written, and `CURRENT` is
    /// pointed at it atomically, so that C++ LevelDB and goleveldb open
    /// the directory directly and see exactly what this database saw. A
    /// crash at any point leaves a directory that Tributary opens with
    /// every record (and, once `CURRENT` is switched, LevelDB too); a
    /// later Tributary open converts it again.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = tributary::Db::open(dir.path(), tributary::Options::default())?;
    /// db.put("k", "v")?;
    /// let exported = db.export_leveldb(tributary::ExportOptions::default())?;
    /// // C++ LevelDB or goleveldb now opens the directory, `k` in it.
    /// assert!(exported.manifest.exists());
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Unexportable`] naming a table that stores zstd blocks
    /// (LevelDB 1.23 and goleveldb read only Snappy and uncompressed
    /// ones), with nothing changed but the flush, unless
    /// [`ExportOptions::rewrite_zstd`] asks to rewrite such tables with
    /// Snappy first; [`Error::ReadOnly`]; a flush's, a rewrite's or a
    /// commit's errors; the I/O error of the new manifest or of `CURRENT`.
    pub fn export_leveldb(self, options: ExportOptions) -> Result<Exported, Error> {
        self.flush_memtables()?;
        let exported = crate::export::export(&self.shared, options)?;
        self.close()?;
        Ok(exported)
    }

    /// Closes the database: waits for the writes in flight, syncs the
    /// journal, and releases the directory.
    ///
    /// It takes `&self`, so a database shared in an `Arc` is closed by any
    /// of its holders, as RocksDB's `Close`. Writers blocked in the
    /// meantime, and every write after it, return [`Error::Write`] with
    /// `Closed`; acknowledged writes are never lost. Snapshots and
    /// iterators taken before keep reading what they saw, whatever later
    /// opens of the directory do (the tables they hold are opened here);
    /// reads through the closed database itself go on as long as no other
    /// open deletes its tables.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = Arc::new(tributary::Db::open(dir.path(), tributary::Options::default())?);
    /// let writer = {
    ///     let db = Arc::clone(&db);
    ///     std::thread::spawn(move || db.put("k", "v"))
    /// };
    /// writer.join().unwrap()?;
    /// db.close()?;
    /// assert!(db.put("k", "w").is_err());
    /// assert_eq!(db.get("k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), tributary::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The final sync's error, or the poisoning error of an earlier journal
    /// failure. A second call returns [`Error::Closed`].
    pub fn close(&self) -> Result<(), Error> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Err(Error::Closed);
        }
        self.open_held_tables();
        let mut result = Ok(());
        if let Some(commit) = &self.commit {
            // A writer stalled for the background returns now.
            self.shared.lanes.gate.close();
            // Closed first, then synced: no write is acknowledged after
            // the sync that should cover it.
            let closed = commit.close().map_err(Error::from);
            // The backend's journal and background threads end here, not
            // when the last holder drops the `Db`: the next open may start
            // as soon as this returns.
            let synced = commit.take_backend().map_or(Ok(()), |mut backend| {
                let backend: &mut Backend = backend
                    .as_any_mut()
                    .downcast_mut()
                    .expect("the database's writer drives its own backend");
                backend
                    .sync_journals()
                    .map_err(io_err("sync journal in", self.shared.files.dir()))
            });
            result = closed.and(synced);
        }
        // A `compact` another holder runs finishes first (and none starts:
        // they check `closed`), so nothing of this database writes a file
        // once `LOCK` is released.
        drop(
            self.maintenance
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        drop(lock(&self.lock).take());
        result
    }

    /// Admits a foreground compaction, unless the database is closed:
    /// [`close`](Db::close) waits for the guard to be dropped.
    fn maintenance(&self) -> Result<std::sync::RwLockReadGuard<'_, ()>, Error> {
        let guard = self
            .maintenance
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(guard)
    }
}

impl Db {
    /// Opens every table the open found that something still holds, so
    /// that snapshots and iterators, which may outlive the database, keep
    /// reading it after the next open deletes files this one left. An
    /// error is left for the read that meets it.
    ///
    /// A table that only the current version holds, a version that only
    /// the database's own read state holds, is left closed: opening every
    /// table took a third of a CLI `put` on a 10 M-key database. Reads
    /// through the closed database itself then open it when they need it
    /// (see [`close`](Db::close)).
    fn open_held_tables(&self) {
        let view = self.shared.read.view();
        // Counts: `view` here and the read state's; the version, the view's.
        let ours_alone = Arc::strong_count(&view) == 2 && Arc::strong_count(&view.version) == 1;
        for file in self.unopened.iter().filter_map(Weak::upgrade) {
            // Counts: `file` here and the current version's.
            if ours_alone && Arc::strong_count(&file) == 2 {
                continue;
            }
            let _ = file.table();
        }
    }
}

/// Refuses a key longer than [`MAX_KEY_SIZE`](crate::MAX_KEY_SIZE).
fn check_key(key: &[u8]) -> Result<(), Error> {
    check_key_len(key.len())
}

/// Refuses a key length over [`MAX_KEY_SIZE`](crate::MAX_KEY_SIZE) (a
/// batch's longest key, which it keeps: no walk of its records).
fn check_key_len(len: usize) -> Result<(), Error> {
    if len > crate::MAX_KEY_SIZE {
        return Err(Error::KeyTooLarge {
            len,
            max: crate::MAX_KEY_SIZE,
        });
    }
    Ok(())
}

impl Drop for Db {
    fn drop(&mut self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        // As close, with nobody to return an error to (the type's docs).
        if let Err(e) = self.close() {
            log::error!(
                "closing {} on drop: {e}; writes since the last sync may not survive a power loss",
                self.shared.files.dir().display()
            );
        }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.shared.files.dir())
            .field("last_seq", &self.shared.read.last_seq())
            .finish()
    }
}

impl Snapshot {
    /// The sequence number the snapshot reads at.
    pub fn seq(&self) -> SeqNum {
        self.seq
    }

    /// The value of `key` at this snapshot.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] naming the table and offset if a table read
    /// finds damage.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, Error> {
        self.view.get(key.as_ref(), self.seq)
    }

    /// The values of `keys` at this snapshot, in order, one `Result` per
    /// key (see [`Db::multi_get`]).
    pub fn multi_get<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Vec<Result<Option<Vec<u8>>, Error>> {
        keys.into_iter().map(|key| self.get(key)).collect()
    }

    /// Every live key at this snapshot, in key order.
    pub fn iter(&self) -> Iter {
        self.clone().into_range(ScanRange::all())
    }

    /// The live keys in `range` at this snapshot, in key order.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        self.clone().into_range(ScanRange::from_bounds(&range))
    }

    /// The live keys that start with `prefix` at this snapshot.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        self.clone().into_range(ScanRange::prefix(prefix.as_ref()))
    }

    /// A [`Cursor`] over this snapshot, on no entry until positioned.
    pub fn cursor(&self) -> Cursor {
        self.clone().into_cursor()
    }

    fn into_range(self, range: ScanRange) -> Iter {
        Iter::new(self.view, self.seq, range)
    }

    fn into_cursor(self) -> Cursor {
        Cursor::new(self.into_range(ScanRange::all()))
    }
}

fn writer_options(options: &WriteOptions) -> writer::WriteOptions {
    writer::WriteOptions {
        sync: options.sync,
        merge: options.merge,
    }
}

//! Tributary: an embedded key-value store built around group commit.
//!
//! This crate is the facade users depend on. It composes the layers below:
//!
//! | crate | role here |
//! |---|---|
//! | `batch` | the [`Batch`] a write carries, and the journal record format |
//! | `writer` | group commit: concurrent writes merged into one journal record and one fsync |
//! | `journal` | the write-ahead log files (`NNNNNN.log`) |
//! | `memdb` | the memtables: the newest writes, which reads look in first |
//!
//! and owns what they leave out: the directory and its files, the lock,
//! recovery, options, table files (LevelDB's format), the manifest,
//! flushes and compactions.
//!
//! # One read
//!
//! A read takes a snapshot: the published last sequence number and the
//! current view, made of the active memtable, the frozen ones, and the
//! table files under them. It looks in each, newest first, for the newest
//! version at or below the snapshot. A background thread flushes each
//! frozen memtable to a level-0 table, records it in the manifest, and
//! deletes the journals that held it; an open replays only the journals
//! not yet flushed.
//!
//! # One write
//!
//! [`Db::put`] offers the write to the group-commit leader, or becomes the
//! leader. The leader makes room (rotating to a new memtable and journal when
//! the budget is spent), appends the whole group as one journal record,
//! fsyncs once if any member asked for `sync`, inserts the group into the
//! memtable, publishes its last sequence number for readers, and answers
//! every member.
//!
//! # Guarantees
//!
//! - A write acknowledged with `sync` survives power loss.
//! - After a crash, [`Db::open`] recovers a prefix of the acknowledged
//!   history: no hole, no partial batch; what it dropped is in
//!   [`Db::recovery_report`].
//! - Recovery never destroys data: what it cannot use it moves (or, for a
//!   journal it cuts short, copies) whole into the directory's `lost/`,
//!   and a crash in the middle of a repair changes nothing about the
//!   outcome. [`RecoveryMode::Strict`] opens only on a whole history.
//! - After a journal write or sync error, or a manifest write or sync
//!   error, the database refuses writes until it is reopened (reads go
//!   on); it never retries an fsync nor reuses a sequence number.
//! - A damaged table or manifest is a typed error naming the file and
//!   offset, never a panic or a wrong answer.
//! - Reads see whole groups only, and never wait for writers.
//! - A second opener of the same directory, in this process or another, gets
//!   [`Error::Locked`].
//!
//! # Example
//!
//! ```
//! use tributary::{Batch, Db, Options, WriteOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! db.put("apple", "red")?;
//!
//! let mut batch = Batch::new();
//! batch.put(b"banana", b"yellow");
//! batch.delete(b"apple");
//! db.write(&batch, &WriteOptions { sync: true, merge: true })?;
//!
//! assert_eq!(db.get("apple")?, None);
//! assert_eq!(db.get("banana")?.as_deref(), Some(&b"yellow"[..]));
//! // Scans yield `Result`s: a read from a table file can fail.
//! for item in db.range("a".."c") {
//!     let (key, value) = item?;
//!     assert_eq!((key, value), (b"banana".to_vec(), b"yellow".to_vec()));
//! }
//! db.close()?;
//!
//! // Reopening reads the manifest and tables and replays the unflushed
//! // journal; a reader changes nothing on disk.
//! let db = Db::open_read_only(dir.path(), Options::default())?;
//! assert_eq!(db.get("banana")?.as_deref(), Some(&b"yellow"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backend;
mod compaction;
mod db;
mod error;
mod export;
mod failure;
mod files;
// Public for `Options::fs`, whose type is `Arc<dyn fs::Fs>`: a user needs
// this module to run the database over another file system, such as
// `fs::FaultFs` (feature `fault-injection`) in crash tests, and its docs
// open with that. Everything in it is the seam's own API, nothing
// internal.
pub mod fs;
mod open;
mod options;
mod progress;
mod read;
mod read_only;
mod recovery;
mod repair;
mod shape;
mod stall;
mod state;
mod sync;
// Internals, public only for the command-line tool's dump commands
// (`dump-table`, `dump-manifest`) and for the tests, which read tables and
// manifests directly: hidden from the documentation, which is the user's
// API. Not a stable interface.
#[doc(hidden)]
pub mod table;
mod tuning;
#[doc(hidden)]
pub mod version;
mod wal;

pub use batch::{Batch, DecodeError, DecodeErrorKind, Kind, Record, Records, SeqNum};
pub use db::{DataBytes, Db, Snapshot, Stats};
pub use error::{CorruptionKind, Error, Reason};
pub use export::{ExportOptions, Exported};
// The bound on file numbers in the directory (2^53), public for the tests
// that plant names around it; the user meets it only as
// `Error::ForeignFile` and `Error::FileNumberExhausted`, whose docs give
// the number.
#[doc(hidden)]
pub use files::MAX_FILE_NUMBER;
pub use options::{Options, RecoveryMode, WriteOptions, MAX_KEY_SIZE, MIN_WRITE_BUFFER_SIZE};
pub use progress::PROGRESS_LOG_TARGET;
pub use read::{Cursor, Iter};
pub use recovery::{Damage, DropKind, DroppedRange, JournalReport, RecoveryReport, SetAside};
pub use repair::{RepairReport, Salvaged};
pub use shape::CompactionPicker;
pub use table::Compression;
/// The group-commit types the database's API names: [`Stats::writer`],
/// [`Error::Write`].
pub use writer::{Metrics, RoomError, WriteError};

/// The README's Rust examples, compiled and run by `cargo test --doc -p
/// tributary` so that they cannot drift from the API. Its other blocks are
/// fenced as `sh`, `toml` or `text`, which rustdoc does not compile.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

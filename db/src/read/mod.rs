//! The read path, apart from the write backend and the background lanes:
//! the read state (the published view and last sequence number,
//! `state.rs`), range scans over a snapshot of it (`iter.rs`) and the
//! RocksDB-style cursor built on them (`cursor.rs`), over the internal
//! source cursors (`entry_cursor.rs`).
//!
//! A read loads the published last sequence number, then the current view
//! (the active memtable, the frozen ones, and the tables of the version
//! under them), and looks up entries at or below that number. The write
//! side publishes into it (`backend.rs`: rotation and each group's last
//! sequence number), and so does flush (`compaction/flush.rs`).

mod cursor;
mod entry_cursor;
mod iter;
mod state;

pub use cursor::Cursor;
pub(crate) use entry_cursor::{EntryCursor, LevelCursor, Recheck};
pub use iter::Iter;
pub(crate) use iter::ScanRange;
pub(crate) use state::{Change, Frozen, ReadState, View};

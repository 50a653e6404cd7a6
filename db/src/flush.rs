//! The seam where frozen memtables will become table files.
//!
//! Rotation hands each frozen memtable to a [`Flush`]. Today the only one,
//! [`KeepInMemory`], keeps it readable in memory and its journal live, so
//! recovery replays it. The table issue fills this seam: a flush that writes
//! the memtable to a sorted table, records it in a manifest with the journal
//! number it covers, drops the memtable from the read view, and deletes the
//! journal.

use memdb::MemDb;
use std::sync::Arc;

/// Receives each memtable frozen by rotation, on the write path.
///
/// It must not block for long: the group-commit leader calls it while
/// holding the write lock. A real flush hands the memtable to a background
/// thread.
pub(crate) trait Flush: Send {
    /// `memdb` will receive no more writes.
    fn frozen(&mut self, memdb: Arc<MemDb>);
}

/// The flush of a database without tables: frozen memtables stay in the
/// read view (the backend keeps them there) and their journals stay live.
#[derive(Debug, Default)]
pub(crate) struct KeepInMemory;

impl Flush for KeepInMemory {
    fn frozen(&mut self, _memdb: Arc<MemDb>) {}
}

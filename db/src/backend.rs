//! The database side of group commit, behind the `writer` crate's traits:
//! the active memtable and its rotation, write stalls, and batches larger
//! than a memtable. The journals are [`Wal`]'s.
//!
//! The group-commit leader owns the [`Backend`] while it holds the write lock,
//! so everything here runs on one thread at a time and needs no lock of its
//! own; readers see its effects only through [`Shared`], the read state
//! (`read/`) it publishes into.

use crate::compaction::Flush;
use crate::error::Error;
use crate::read::Frozen;
use crate::stall::{GateClosed, Pressure, Stall};
use crate::state::{Count, Lane, Shared};
use crate::wal::{Wake, Wal};
use batch::Batch;
use memdb::{Inserter, MemDb};
use std::io;
use std::sync::Arc;

/// The pipelined commit's fsync, beside the leader's appends: every
/// journal appended to so far (`Journals::sync_appended`).
struct JournalSync(Arc<crate::wal::Journals>);

impl writer::Syncer for JournalSync {
    fn sync(&self) -> io::Result<()> {
        self.0.sync_appended()
    }
}

/// What the group-commit leader drives.
pub(crate) struct Backend {
    shared: Arc<Shared>,
    /// The current journal and its lifecycle.
    wal: Wal,
    inserter: Inserter,
    write_buffer_size: usize,
    flush: Box<dyn Flush>,
}

impl Backend {
    /// The write side of a database just opened: its journals `wal`, the
    /// active memtable's inserter, and where frozen memtables go.
    pub fn new(
        shared: Arc<Shared>,
        wal: Wal,
        inserter: Inserter,
        write_buffer_size: usize,
        flush: Box<dyn Flush>,
    ) -> Backend {
        Backend {
            shared,
            wal,
            inserter,
            write_buffer_size,
            flush,
        }
    }

    /// Makes every journal durable (`Db::sync`).
    pub fn sync_journals(&mut self) -> io::Result<()> {
        self.wal.sync_all()
    }

    /// Whether the active memtable holds no record.
    pub fn active_is_empty(&self) -> bool {
        self.inserter.memdb().is_empty()
    }

    /// Freezes the active memtable and starts a new memtable and journal.
    ///
    /// The old journal is queued for its sync, which the background thread
    /// does, and every later synced group waits for (see
    /// `wal::closed`). An error leaves the memtables as they were and
    /// stops writes (`crate::failure`): the journal lifecycle is in doubt
    /// (a journal may exist without a durable name).
    pub fn rotate(&mut self) -> io::Result<()> {
        self.shared.failure.check_io()?;
        let began = match self.wal.rotate() {
            Ok(began) => began,
            Err(source) => {
                let refused = io::Error::new(source.kind(), format!("rotation failed: {source}"));
                self.shared.stop(Error::Io {
                    op: "rotate from",
                    path: self.wal.path().to_path_buf(),
                    source,
                });
                return Err(refused);
            }
        };
        let (memdb, inserter) = MemDb::with_pool(self.write_buffer_size, &self.shared.blocks);
        let old = std::mem::replace(&mut self.inserter, inserter);
        // The old memtable takes no more writes now; the background thread,
        // woken below, flushes it.
        let frozen = Arc::new(Frozen {
            memdb: Arc::clone(old.memdb()),
            journal: began,
        });
        self.shared
            .read
            .rotate_memtables(memdb, self.wal.memtable_began(), frozen);
        let frozen = Arc::clone(old.memdb());
        self.shared.counters.add(Count::Rotations, 1);
        log::debug!(
            "rotated to {} ({} bytes in the frozen memtable)",
            self.wal.path().display(),
            frozen.used()
        );
        self.flush.frozen(frozen);
        Ok(())
    }
}

impl writer::Log for Backend {
    fn append(&mut self, group: &Batch) -> io::Result<()> {
        self.wal.append(group.as_bytes())?;
        if self.wal.after_append() == Wake::Prepare {
            self.flush.wake();
        }
        Ok(())
    }

    /// The pipelined commit's fsync ([`JournalSync`]), if the current
    /// journal can sync from another thread.
    fn syncer(&mut self) -> Option<Arc<dyn writer::Syncer>> {
        let journals = Arc::clone(&self.shared.journals);
        if !journals.can_sync_appended() {
            return None;
        }
        Some(Arc::new(JournalSync(journals)))
    }

    /// A synced group's sync.
    fn sync(&mut self) -> io::Result<()> {
        if self.wal.sync_group()? == Wake::Prepare {
            self.flush.wake();
        }
        Ok(())
    }
}

impl writer::Memtable for Backend {
    fn apply(&mut self, group: &Batch) {
        // Sequence numbers follow on, one group after the other: the
        // writer numbers each group from the last it published, and a
        // large batch publishes its own (`ReadState::install`).
        assert_eq!(
            group.seq().0,
            self.shared.read.last_seq().0 + 1,
            "a group must follow the last published sequence number"
        );
        self.inserter.apply(group.seq(), group);
        let last = group.seq().0 + group.len() as u64 - 1;
        // Publication point: readers taking a snapshot from now on see the
        // whole group (see the invariant on `ReadState::last_seq`).
        self.shared.read.publish(last);
    }
}

impl Backend {
    /// Why no write may happen now, if one may not.
    fn refusal(&self) -> Result<(), writer::RoomError> {
        match self.shared.failure.as_source() {
            None => Ok(()),
            Some(cause) => Err(writer::RoomError::with_source(
                "refusing writes after a failure",
                cause,
            )),
        }
    }
}

impl Backend {
    /// Holds the group back while level 0 or the frozen memtables are
    /// over their limits (`stall`). `fits` says whether the
    /// write goes into the active memtable without a rotation; it cannot
    /// change meanwhile, as the leader holds the write lock.
    fn stall(&self, fits: bool) -> Result<(), writer::RoomError> {
        let pressure = || {
            let view = self.shared.read.view();
            Pressure {
                level0_tables: view.version.levels[0].len(),
                frozen_memtables: view.frozen.len(),
                fits,
                flush_failing: self.shared.lanes.failing(Lane::Flush),
                compaction_failing: self.shared.lanes.failing(Lane::Compaction),
            }
        };
        let gate = &self.shared.lanes.gate;
        let mut slowed = false;
        loop {
            match Stall::decide(pressure(), slowed) {
                Stall::Proceed => return Ok(()),
                Stall::SlowDown => gate.slow_down(),
                Stall::Stop => gate.wait(|| -> Result<bool, writer::RoomError> {
                    self.refusal()?;
                    Ok(Stall::decide(pressure(), true) == Stall::Stop)
                })?,
            }
            slowed = true;
        }
    }

    /// [`rotate`](Backend::rotate), its error as the write's.
    fn rotate_for_room(&mut self) -> Result<(), writer::RoomError> {
        let from = self.wal.path().display().to_string();
        self.rotate().map_err(|e| {
            writer::RoomError::with_source(&format!("rotating from {from}"), Box::new(e))
        })
    }

    /// Whether a write of `n` bytes goes into the active memtable as it
    /// is: it has the room, or it is empty and takes the write whole
    /// (goleveldb lets its empty memdb grow the same way).
    fn fits(&self, n: usize) -> bool {
        let memdb = self.inserter.memdb();
        memdb.free() >= n || memdb.is_empty()
    }
}

impl From<GateClosed> for writer::RoomError {
    fn from(closed: GateClosed) -> writer::RoomError {
        match closed {
            GateClosed::Closing => writer::RoomError::new("the database is closing"),
        }
    }
}

impl writer::Room for Backend {
    fn make_room(&mut self, n: usize) -> Result<usize, writer::RoomError> {
        self.refusal()?;
        let fits = self.fits(n);
        self.stall(fits)?;
        if fits {
            // An empty memtable's room is the write itself: the merge
            // limit then admits nobody beside it. A write larger than the
            // whole budget never comes here (`is_large`).
            return Ok(self.inserter.memdb().free().max(n));
        }
        self.rotate_for_room()?;
        Ok(self.inserter.memdb().free().max(n))
    }

    /// Larger than a memtable: such a batch goes straight to a table.
    fn is_large(&self, n: usize) -> bool {
        n > self.write_buffer_size
    }

    /// The large batch becomes a level-0 table (`compaction::large`),
    /// after everything older: the active memtable is rotated first if it
    /// holds anything, and `large::write` flushes every frozen one.
    fn write_large(&mut self, group: &Batch) -> Result<(), writer::RoomError> {
        self.refusal()?;
        // It adds a level-0 table, as a rotation does.
        self.stall(false)?;
        if !self.active_is_empty() {
            self.rotate_for_room()?;
        }
        crate::compaction::large::write(&self.shared, group).map_err(|e| {
            writer::RoomError::with_source("writing a large batch to a table", Box::new(e))
        })?;
        Ok(())
    }

    fn after_write(&mut self, _applied: usize) -> Result<(), writer::RoomError> {
        // Rotation happens in `make_room`, before the write that needs it:
        // rotating here too would only move the same work earlier.
        Ok(())
    }
}

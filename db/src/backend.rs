//! The database side of group commit: the journal file, the active memtable
//! and rotation, behind the `writer` crate's traits.
//!
//! The group-commit leader owns the [`Backend`] while it holds the write lock,
//! so everything here runs on one thread at a time and needs no lock of its
//! own; readers see its effects only through [`Shared`], the read state
//! (`read/`) it publishes into.

use crate::compaction::stall::{GateClosed, Pressure, Stall};
use crate::compaction::Flush;
use crate::error::{io_context, Error};
use crate::files;
use crate::read::{lock, Frozen, Shared, View};
use crate::wal::{self, JournalWriter};
use batch::Batch;
use memdb::{Inserter, MemDb};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What the group-commit leader drives.
pub(crate) struct Backend {
    shared: Arc<Shared>,
    journal: JournalWriter,
    journal_path: PathBuf,
    journal_number: u64,
    /// The journal the active memtable's records begin in (a memtable
    /// spans two journals when the write path moves to a zero-filled one).
    active_journal: u64,
    inserter: Inserter,
    write_buffer_size: usize,
    flush: Box<dyn Flush>,
    /// The number taken for the next journal, asked to be zero-filled
    /// ahead, since the current one began.
    next_requested: Option<u64>,
    /// Whether the current journal is zero-filled (see `wal::prepared`).
    journal_zeroed: bool,
}

impl Backend {
    /// The write side of a database just opened: its current journal
    /// `journal`, numbered `journal_number`, the active memtable's
    /// inserter, and where frozen memtables go. File numbers come from
    /// `shared.files`.
    pub fn new(
        shared: Arc<Shared>,
        journal: JournalWriter,
        journal_number: u64,
        inserter: Inserter,
        write_buffer_size: usize,
        flush: Box<dyn Flush>,
    ) -> Backend {
        let journal_path = files::journal_path(shared.files.dir(), journal_number);
        Backend {
            shared,
            journal,
            journal_path,
            journal_number,
            active_journal: journal_number,
            inserter,
            write_buffer_size,
            flush,
            next_requested: None,
            journal_zeroed: false,
        }
    }

    /// Makes journal `number` the current one; returns the one it replaces.
    fn start_journal(
        &mut self,
        number: u64,
        journal: JournalWriter,
        zeroed: bool,
    ) -> JournalWriter {
        let old = std::mem::replace(&mut self.journal, journal);
        lock(&self.shared.journals).insert(self.journal_number, old.size());
        self.shared.journal_bytes.store(0, Ordering::Relaxed);
        self.journal_path = files::journal_path(self.shared.files.dir(), number);
        self.journal_number = number;
        self.journal_zeroed = zeroed;
        self.next_requested = None;
        old
    }

    /// Makes every journal durable: the closed ones first, as a synced write
    /// must not outlive an earlier one, then the current one.
    pub fn sync_journals(&mut self) -> io::Result<()> {
        self.shared.closed_journals.sync_all()?;
        self.journal
            .sync()
            .map_err(io_context("fdatasync", &self.journal_path))
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
        if let Err(source) = self.start_next_journal() {
            let refused = io::Error::new(source.kind(), format!("rotation failed: {source}"));
            self.shared.stop(Error::Io {
                op: "rotate from",
                path: self.journal_path.clone(),
                source,
            });
            return Err(refused);
        }
        let (memdb, inserter) = MemDb::with_pool(self.write_buffer_size, &self.shared.blocks);
        let old = std::mem::replace(&mut self.inserter, inserter);
        // The old memtable takes no more writes now; the background thread,
        // woken below, flushes it.
        let frozen = Arc::new(Frozen {
            memdb: Arc::clone(old.memdb()),
            journal: self.active_journal,
        });
        self.active_journal = self.journal_number;
        {
            let mut view = self.shared.view.write().unwrap_or_else(|e| e.into_inner());
            let mut all_frozen = Vec::with_capacity(view.frozen.len() + 1);
            all_frozen.push(frozen);
            all_frozen.extend(view.frozen.iter().cloned());
            *view = Arc::new(View {
                active: memdb,
                active_journal: self.active_journal,
                frozen: all_frozen,
                version: Arc::clone(&view.version),
            });
        }
        let frozen = Arc::clone(old.memdb());
        self.shared.rotations.fetch_add(1, Ordering::Relaxed);
        log::debug!(
            "rotated to {} ({} bytes in the frozen memtable)",
            self.journal_path.display(),
            frozen.used()
        );
        self.flush.frozen(frozen);
        Ok(())
    }
}

impl Backend {
    /// Moves to the next journal, prepared or created now, and queues the
    /// old one for its sync.
    fn start_next_journal(&mut self) -> io::Result<()> {
        // The number a prepared journal was asked for with, or a new one.
        let number = match self.next_requested {
            Some(number) => number,
            None => self.allocate_journal_number()?,
        };
        let (journal, zeroed) = match self.shared.next_journal.take(number) {
            Some(journal) => (journal, true),
            None => (
                wal::create(&**self.shared.files.fs(), self.shared.files.dir(), number)?,
                false,
            ),
        };
        let old_path = self.journal_path.clone();
        let old = self.start_journal(number, journal, zeroed);
        self.shared.closed_journals.push(old_path, old);
        Ok(())
    }

    /// The number of the next journal, taken from the file numbers.
    ///
    /// The error is an `io::Error`, as every error of rotation is: the
    /// write path reports it as a write error.
    fn allocate_journal_number(&mut self) -> io::Result<u64> {
        self.shared.files.new_journal().map_err(|e| match e {
            Error::FileNumberExhausted { path } => {
                io::Error::other(format!("{} holds the largest file number", path.display()))
            }
            other => io::Error::other(other.to_string()),
        })
    }
}

impl writer::Log for Backend {
    fn append(&mut self, group: &Batch) -> io::Result<()> {
        let path = &self.journal_path;
        let before = self.journal.size();
        self.journal
            .append(group.as_bytes())
            .and_then(|()| self.journal.flush())
            .map_err(io_context("write", path))?;
        let size = self.journal.size();
        self.shared.journal_bytes.store(size, Ordering::Relaxed);
        self.shared
            .journal_bytes_written
            .fetch_add(size - before, Ordering::Relaxed);
        Ok(())
    }

    /// A synced group's sync.
    fn sync(&mut self) -> io::Result<()> {
        if self.next_requested.is_none() {
            // A synced workload: have the next journal zero-filled ahead,
            // under a number taken now.
            if let Ok(number) = self.allocate_journal_number() {
                self.next_requested = Some(number);
                self.shared.next_journal.request(number);
                self.flush.wake();
            }
        }
        self.sync_journals()?;
        if let (false, Some(next)) = (self.journal_zeroed, self.next_requested) {
            // Leave an appended journal for a zero-filled one as soon as it
            // is ready. The old one was just synced whole: nothing waits on
            // it, and the manifest may record its length.
            if let Some(journal) = self.shared.next_journal.take_ready(next) {
                let old_path = self.journal_path.clone();
                let old = self.start_journal(next, journal, true);
                self.shared
                    .closed_journals
                    .note_synced(old_path, old.size());
            }
        }
        Ok(())
    }
}

impl writer::Memtable for Backend {
    fn apply(&mut self, group: &Batch) {
        self.inserter.apply(group.seq(), group);
        let last = group.seq().0 + group.len() as u64 - 1;
        // Publication point: readers taking a snapshot from now on see the
        // whole group (see the invariant on `Shared::last_seq`).
        self.shared.last_seq.store(last, Ordering::Release);
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
    /// over their limits (`compaction::stall`). `fits` says whether the
    /// write goes into the active memtable without a rotation; it cannot
    /// change meanwhile, as the leader holds the write lock.
    fn stall(&self, fits: bool) -> Result<(), writer::RoomError> {
        let pressure = || {
            let view = self.shared.view();
            Pressure {
                level0_tables: view.version.levels[0].len(),
                frozen_memtables: view.frozen.len(),
                fits,
                flush_failing: self.shared.flush_failing.load(Ordering::Acquire),
                compaction_failing: self.shared.compaction_failing.load(Ordering::Acquire),
            }
        };
        let gate = &self.shared.gate;
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
        self.rotate().map_err(|e| {
            let msg = format!("rotating from {}", self.journal_path.display());
            writer::RoomError::with_source(&msg, Box::new(e))
        })?;
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
            self.rotate().map_err(|e| {
                let msg = format!("rotating from {}", self.journal_path.display());
                writer::RoomError::with_source(&msg, Box::new(e))
            })?;
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

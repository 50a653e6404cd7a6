//! A fake backend that records every call, for the loom, stress and unit
//! tests: what was appended (every attempt, failed ones included), synced,
//! applied, and the room each group was given; with faults injected on the
//! n-th call.
//!
//! Under loom its mutex is loom's, so that the model sees the races on what
//! it records (a backend call after close, say); elsewhere it is std's.

// Each test file uses a different part of the fake.
#![allow(dead_code)]

#[cfg(loom)]
use loom::sync::{Condvar, Mutex, MutexGuard};
use std::io;
use std::sync::{Arc, PoisonError};
#[cfg(not(loom))]
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use batch::{Batch, Record};
use writer::{Log, Memtable, Room, RoomError, Syncer};

/// One record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

impl Rec {
    pub fn internal_len(&self) -> usize {
        self.key.len() + self.value.as_ref().map_or(0, Vec::len) + 8
    }
}

/// One `Log::append` call.
#[derive(Debug, Clone)]
pub struct Append {
    /// The group's first sequence number.
    pub seq: u64,
    pub records: Vec<Rec>,
    /// Whether the call succeeded.
    pub ok: bool,
    /// The free room the last `make_room` returned before this append.
    pub free: usize,
    /// The `n` the last `make_room` was asked for: the leader's own write.
    pub room_asked: usize,
}

impl Append {
    /// The sequence numbers the group takes.
    pub fn seqs(&self) -> std::ops::Range<u64> {
        self.seq..self.seq + self.records.len() as u64
    }
}

/// Everything the fake saw.
#[derive(Debug, Default)]
pub struct Journal {
    /// Every append attempt, in call order.
    pub appends: Vec<Append>,
    /// Sync calls, and those that succeeded.
    pub n_syncs: usize,
    /// For each sync call, how many appends preceded it.
    pub sync_after: Vec<usize>,
    pub n_syncs_ok: usize,
    /// The last sequence number of the last successful append.
    pub appended_through: u64,
    /// The last sequence number covered by a successful sync.
    pub synced_through: u64,
    /// `(first seq, n records)` of every `Memtable::apply`, in call order.
    pub applied: Vec<(u64, usize)>,
    /// `(first seq, n records)` of every `Room::write_large` call, in call
    /// order, and whether it succeeded.
    pub large: Vec<(u64, usize, bool)>,
    /// `make_room` and `after_write` calls.
    pub n_room: usize,
    pub n_after_write: usize,
    /// The last `make_room` result and request.
    pub last_free: usize,
    pub last_asked: usize,
    /// Set by a test once `close` returned: later calls are counted here.
    pub closed: bool,
    pub calls_after_close: usize,
    /// Set while a call is in progress; a second concurrent call is counted
    /// here (the writer must call the backend from one thread at a time).
    pub busy: bool,
    pub overlapping_calls: usize,
    /// Set while the pipelined writer's fsync runs; a second concurrent
    /// one is counted here (the writer runs one at a time).
    pub syncing: bool,
    pub overlapping_syncs: usize,
}

/// A gate that `make_room` can wait at, opened by the test.
#[derive(Debug, Default)]
pub struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    /// Set once a caller waits at the gate.
    pub waiting: Mutex<usize>,
}

impl Gate {
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    pub fn open(&self) {
        *lock(&self.open) = true;
        self.opened.notify_all();
    }

    fn pass(&self) {
        *lock(&self.waiting) += 1;
        let mut open = lock(&self.open);
        while !*open {
            open = self
                .opened
                .wait(open)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// How many callers reached the gate.
    pub fn n_waiting(&self) -> usize {
        *lock(&self.waiting)
    }
}

/// Faults and delays.
#[derive(Debug, Clone)]
pub struct Config {
    /// The 1-based `append` call that fails.
    pub fail_append: Option<usize>,
    /// The 1-based `sync` call that fails.
    pub fail_sync: Option<usize>,
    /// The 1-based `make_room` call that fails.
    pub fail_room: Option<usize>,
    /// The 1-based `after_write` call that fails.
    pub fail_after_write: Option<usize>,
    /// The 1-based `apply` call that panics.
    pub panic_apply: Option<usize>,
    /// Time each sync sleeps.
    pub sync_delay: Duration,
    /// What `make_room` returns.
    pub free: usize,
    /// The 1-based `make_room` call that waits at `gate`.
    pub gate_room: Option<(usize, Arc<Gate>)>,
    /// Whether to keep records (off for speed in big runs; counts are kept).
    pub keep_records: bool,
    /// Writes of more internal bytes than this are large
    /// (`Room::is_large`); `None`: none is.
    pub large_over: Option<usize>,
    /// The 1-based `write_large` call that fails.
    pub fail_large: Option<usize>,
}

impl Config {
    pub fn new() -> Config {
        Config {
            fail_append: None,
            fail_sync: None,
            fail_room: None,
            fail_after_write: None,
            panic_apply: None,
            sync_delay: Duration::ZERO,
            free: 64 << 20,
            gate_room: None,
            keep_records: true,
            large_over: None,
            fail_large: None,
        }
    }
}

/// The fake backend. Clone the [`Fake::journal`] handle before boxing it.
pub struct Fake {
    pub journal: Arc<Mutex<Journal>>,
    config: Config,
    n_append: usize,
    n_sync: usize,
}

impl Fake {
    pub fn new(config: Config) -> Fake {
        Fake {
            journal: Arc::new(Mutex::new(Journal::default())),
            config,
            n_append: 0,
            n_sync: 0,
        }
    }

    fn enter(&self) -> MutexGuard<'_, Journal> {
        let mut journal = lock(&self.journal);
        if journal.closed {
            journal.calls_after_close += 1;
        }
        if journal.busy {
            journal.overlapping_calls += 1;
        }
        journal
    }
}

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn records(group: &Batch) -> Vec<Rec> {
    group
        .records()
        .map(|record| match record {
            Record::Put { key, value } => Rec {
                key: key.to_vec(),
                value: Some(value.to_vec()),
            },
            Record::Delete { key } => Rec {
                key: key.to_vec(),
                value: None,
            },
        })
        .collect()
}

impl Log for Fake {
    fn append(&mut self, group: &Batch) -> io::Result<()> {
        self.n_append += 1;
        let ok = self.config.fail_append != Some(self.n_append);
        let mut journal = self.enter();
        let records = if self.config.keep_records {
            records(group)
        } else {
            Vec::new()
        };
        let (free, room_asked) = (journal.last_free, journal.last_asked);
        journal.appends.push(Append {
            seq: group.seq().0,
            records,
            ok,
            free,
            room_asked,
        });
        if !ok {
            return Err(io::Error::other(format!(
                "injected append failure #{}",
                self.n_append
            )));
        }
        journal.appended_through = group.seq().0 + group.len() as u64 - 1;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let call = {
            let mut journal = self.enter();
            journal.n_syncs += 1;
            let n_appends = journal.appends.len();
            journal.sync_after.push(n_appends);
            journal.busy = true;
            journal.n_syncs
        };
        self.n_sync = call;
        let ok = self.config.fail_sync != Some(call);
        if !self.config.sync_delay.is_zero() {
            std::thread::sleep(self.config.sync_delay);
        }
        let mut journal = lock(&self.journal);
        journal.busy = false;
        if !ok {
            return Err(io::Error::other(format!(
                "injected sync failure #{}",
                self.n_sync
            )));
        }
        journal.n_syncs_ok += 1;
        journal.synced_through = journal.appended_through;
        Ok(())
    }

    fn syncer(&mut self) -> Option<Arc<dyn Syncer>> {
        Some(Arc::new(FakeSync {
            journal: Arc::clone(&self.journal),
            fail_sync: self.config.fail_sync,
            sync_delay: self.config.sync_delay,
        }))
    }
}

/// The fake's fsync for a pipelined writer: it runs beside appends, and
/// covers what was appended when it began. Its calls count with
/// `Log::sync`'s for `Config::fail_sync`.
struct FakeSync {
    journal: Arc<Mutex<Journal>>,
    fail_sync: Option<usize>,
    sync_delay: Duration,
}

impl Syncer for FakeSync {
    fn sync(&self) -> io::Result<()> {
        let (call, covers) = {
            let mut journal = lock(&self.journal);
            if journal.closed {
                journal.calls_after_close += 1;
            }
            if journal.syncing {
                journal.overlapping_syncs += 1;
            }
            journal.syncing = true;
            journal.n_syncs += 1;
            let n_appends = journal.appends.len();
            journal.sync_after.push(n_appends);
            (journal.n_syncs, journal.appended_through)
        };
        if !self.sync_delay.is_zero() {
            std::thread::sleep(self.sync_delay);
        }
        let mut journal = lock(&self.journal);
        journal.syncing = false;
        if self.fail_sync == Some(call) {
            return Err(io::Error::other(format!("injected sync failure #{call}")));
        }
        journal.n_syncs_ok += 1;
        journal.synced_through = journal.synced_through.max(covers);
        Ok(())
    }
}

impl Memtable for Fake {
    fn apply(&mut self, group: &Batch) {
        let mut journal = self.enter();
        let call = journal.applied.len() + 1;
        if self.config.panic_apply == Some(call) {
            drop(journal);
            panic!("injected panic in apply");
        }
        journal.applied.push((group.seq().0, group.len()));
    }
}

impl Room for Fake {
    fn make_room(&mut self, n: usize) -> Result<usize, RoomError> {
        let call = {
            let mut journal = self.enter();
            journal.n_room += 1;
            journal.last_asked = n;
            journal.last_free = self.config.free;
            journal.n_room
        };
        if let Some((at, gate)) = &self.config.gate_room {
            if *at == call {
                gate.pass();
            }
        }
        if self.config.fail_room == Some(call) {
            return Err(RoomError::new("injected make_room failure"));
        }
        Ok(self.config.free)
    }

    fn is_large(&self, n: usize) -> bool {
        self.config.large_over.is_some_and(|over| n > over)
    }

    fn write_large(&mut self, group: &Batch) -> Result<(), RoomError> {
        let mut journal = self.enter();
        let call = journal.large.len() + 1;
        let ok = self.config.fail_large != Some(call);
        journal.large.push((group.seq().0, group.len(), ok));
        if ok {
            Ok(())
        } else {
            Err(RoomError::new("injected write_large failure"))
        }
    }

    fn after_write(&mut self, _applied: usize) -> Result<(), RoomError> {
        let mut journal = self.enter();
        journal.n_after_write += 1;
        if self.config.fail_after_write == Some(journal.n_after_write) {
            return Err(RoomError::new("injected after_write failure"));
        }
        Ok(())
    }
}

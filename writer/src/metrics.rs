//! Counters of the group commit, readable at any time: [`Metrics`].

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::sync::AtomicU64;

/// A snapshot of the writer's counters, from
/// [`GroupCommit::metrics`](crate::GroupCommit::metrics).
///
/// The fields are read one by one while writers may be running, so a
/// snapshot taken during a group commit may count part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Metrics {
    /// Groups committed: journaled (and synced if asked) and applied.
    pub groups: u64,
    /// Writes in committed groups, leaders included.
    pub writes: u64,
    /// Of [`writes`](Metrics::writes), those merged into another writer's
    /// group.
    pub merged_writes: u64,
    /// The largest committed group, in writes.
    pub max_group: u64,
    /// Groups that failed after merging (journal error or sequence numbers
    /// exhausted); every member got the group's error.
    pub failed_groups: u64,
    /// Writes in failed groups.
    pub failed_writes: u64,
    /// Journal fsyncs attempted: at most one per group.
    pub fsyncs: u64,
    /// Times a leader stopped merging at a write that did not fit and handed
    /// the write lock straight to it.
    pub overflows: u64,
    /// Total time leaders spent in `Room::make_room`.
    pub room_wait: Duration,
    /// Writers waiting right now, to be merged or for the write lock.
    pub waiting: u64,
}

impl Metrics {
    /// Mean writes per committed group, or 0 before the first.
    pub fn mean_group(&self) -> f64 {
        if self.groups == 0 {
            0.0
        } else {
            self.writes as f64 / self.groups as f64
        }
    }
}

/// The live counters behind [`Metrics`] (all but `waiting`, which is read
/// from the queues). Only the write-lock holder adds to them, so relaxed
/// atomics suffice.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) groups: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) merged_writes: AtomicU64,
    pub(crate) max_group: AtomicU64,
    pub(crate) failed_groups: AtomicU64,
    pub(crate) failed_writes: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
    pub(crate) overflows: AtomicU64,
    pub(crate) room_wait_nanos: AtomicU64,
}

impl Counters {
    /// Counts a group of `n_writes` writes (leader included) answered with
    /// `committed` or a failure.
    pub(crate) fn group_answered(&self, n_writes: u64, committed: bool) {
        if committed {
            self.groups.fetch_add(1, Ordering::Relaxed);
            self.writes.fetch_add(n_writes, Ordering::Relaxed);
            self.merged_writes
                .fetch_add(n_writes - 1, Ordering::Relaxed);
            self.max_group.fetch_max(n_writes, Ordering::Relaxed);
        } else {
            self.failed_groups.fetch_add(1, Ordering::Relaxed);
            self.failed_writes.fetch_add(n_writes, Ordering::Relaxed);
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn room_wait(&self, waited: Duration) {
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.room_wait_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Metrics {
            groups: get(&self.groups),
            writes: get(&self.writes),
            merged_writes: get(&self.merged_writes),
            max_group: get(&self.max_group),
            failed_groups: get(&self.failed_groups),
            failed_writes: get(&self.failed_writes),
            fsyncs: get(&self.fsyncs),
            overflows: get(&self.overflows),
            room_wait: Duration::from_nanos(get(&self.room_wait_nanos)),
            waiting: 0,
        }
    }
}

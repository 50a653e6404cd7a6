//! The group commit's policy: every tuning constant of the writer, each with
//! why it has its value, and the rules built on them.
//!
//! The protocol (the rest of [`group_commit`](super)) decides what every
//! writer is answered. Policy decides only how much one group may hold and
//! how fast writers meet and learn their answers:
//!
//! - the merge limits of step 2 ([`merge_limit`]), goleveldb's;
//! - the commit delay: how long a synced group's leader waits for more
//!   writers before it merges ([`CommitDelay`]);
//! - spinning before parking: how long a waiting writer looks for its answer
//!   before it sleeps ([`Parking`]);
//! - the wake tree: how many writers each woken writer wakes ([`FAN_OUT`]);
//! - pipelined, whether a leader hands the lock on before its group's
//!   fsync or after it ([`hands_on_before_sync`]);
//! - the group buffer kept from one group to the next
//!   ([`MAX_KEPT_GROUP_BYTES`]).
//!
//! Every value here keeps the protocol's invariants, within the bounds each
//! constant states. The measurements behind them are in `writer/README.md`.
//! The merge limits serve [`channels`](crate::channels) too, through the
//! crate root.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use batch::Batch;

use crate::offer::Durability;
use crate::sync::AtomicU64;

/// The merge limit of a leader whose own write is at most this large
/// (goleveldb: `128 << 10`), in internal bytes.
///
/// Why this value: the spec (`WRITE-MERGE.md`, step 2) keeps goleveldb's,
/// which follows LevelDB's `BuildBatchGroup`: a small write should not wait
/// for a large group's append before its answer.
pub const MERGE_LIMIT: usize = 128 << 10;

/// The most a group can hold when its leader's write is over
/// [`MERGE_LIMIT`] (goleveldb: `1 << 20`), in internal bytes: the leader
/// merges at most this minus its own write.
///
/// Why this value: goleveldb's, as the spec asks; it bounds one journal
/// record, and the memory of one group, whatever the leader's write.
/// A write larger than this can never be merged, so it is never copied for
/// a leader.
pub const MERGE_LIMIT_LARGE: usize = 1 << 20;

/// How many internal bytes of other writes a leader may merge (step 2 of the
/// group commit).
///
/// `own` is the leader's write and `free` the memtable's free room returned
/// by `Room::make_room`, both in internal bytes
/// ([`Batch::internal_len`](batch::Batch::internal_len)).
/// Mirrors goleveldb `writeLocked`: 128 KiB, or 1 MiB minus the leader's
/// write when that is over 128 KiB; never more than the free room minus the
/// leader's write, so that the group fits the memtable.
///
/// ```
/// use writer::{merge_limit, MERGE_LIMIT};
///
/// assert_eq!(merge_limit(100, 4 << 20), MERGE_LIMIT);
/// assert_eq!(merge_limit(MERGE_LIMIT + 1, 4 << 20), (1 << 20) - MERGE_LIMIT - 1);
/// assert_eq!(merge_limit(100, 1000), 900);
/// assert_eq!(merge_limit(2 << 20, 4 << 20), 0);
/// ```
pub fn merge_limit(own: usize, free: usize) -> usize {
    let limit = if own > MERGE_LIMIT {
        MERGE_LIMIT_LARGE.saturating_sub(own)
    } else {
        MERGE_LIMIT
    };
    limit.min(free.saturating_sub(own))
}

/// The group buffer is dropped after a group whose encoding is larger than
/// this, rather than kept for the next group, so that one huge write does
/// not pin its memory.
///
/// Why twice [`MERGE_LIMIT_LARGE`]: no merged group holds more internal
/// bytes than that, and a group's encoding is no longer than its internal
/// length plus the batch header, so every merged group's buffer is reused;
/// only a single write larger than any group gives its memory back.
pub(super) const MAX_KEPT_GROUP_BYTES: usize = 2 * MERGE_LIMIT_LARGE;

/// Drops `group`'s buffer if it grew past [`MAX_KEPT_GROUP_BYTES`]; else
/// keeps it for the next group to reuse.
pub(super) fn trim_group_buffer(group: &mut Batch) {
    if group.as_bytes().len() > MAX_KEPT_GROUP_BYTES {
        *group = Batch::new();
    }
}

/// Children per node of the wake tree (see [`woken_by`]).
///
/// Why four rather than two: the last member of a group of 14 is woken at
/// depth 2 instead of 3, and of 40 at depth 3 instead of 5, each level being
/// a wake-up latency; fillsync at 16 and 64 threads measured about 7% faster
/// in paired runs (8 did no better).
/// Any value of at least one is correct: a member's children always come
/// after it in merge order, which the answering order relies on.
pub(super) const FAN_OUT: usize = 4;

const _: () = assert!(FAN_OUT >= 1, "the wake tree needs a child per node");

/// Who wakes a set of merged writers, once every member's slot is filled.
#[derive(Debug, Clone, Copy)]
pub(super) enum Waker {
    /// The leader, after it moved the lock on: it wakes the tree's roots.
    Leader,
    /// The member at this index in merge order, once it has run.
    Member(usize),
}

/// The members `waker` wakes in the wake tree: the leader wakes the first
/// [`FAN_OUT`]; member `k` wakes members `FAN_OUT * (k + 1)` to
/// `FAN_OUT * (k + 1) + FAN_OUT - 1`. Places past the group's end are
/// `None`.
///
/// Why a tree: waking a sleeping thread costs a futex syscall, and on two
/// cores the woken thread often preempts its waker at once. A leader that
/// woke each of 60 members itself measured about 10 µs per member, more than
/// a 150 µs fsync for the whole group. So the leader fills every member's
/// slot (cheap, and all before it moves the lock on) and wakes only the
/// roots; the rest of the wake-ups are spread over the members' own threads.
/// A member's result is fixed when its slot is filled; the tree only
/// delivers it.
pub(super) fn woken_by<T: Clone>(members: &[T], waker: Waker) -> [Option<T>; FAN_OUT] {
    let first = match waker {
        Waker::Leader => 0,
        Waker::Member(k) => FAN_OUT * (k + 1),
    };
    std::array::from_fn(|i| members.get(first + i).cloned())
}

/// The largest synced group whose leader hands the write lock on before
/// its fsync (pipelined, [`hands_on_before_sync`]).
///
/// Why a bound: a large group means many writers on few cores, and the
/// few already waiting would form a second, small cohort, each cohort then
/// waiting for two fsyncs (64 threads measured 0.63x when every group
/// handed on early). Keeping the lock through a large group's fsync lets
/// every writer coming back join the next group. Why 8: it lies above the
/// groups of 4 threads, where handing on early after any group had won
/// (1.06x to 1.29x), and below those of 16 and more, where it had tied or
/// lost. It is the only value measured (`writer/README.md`).
pub(super) const EARLY_HAND_ON_MAX_GROUP: usize = 8;

/// Whether a pipelined leader hands the lock on before its group's fsync
/// rather than after it: always for an unsynced group or for the overflow
/// writer; for a synced group of `group_writes` writes (its leader with
/// them), only while that is at most [`EARLY_HAND_ON_MAX_GROUP`] and a
/// writer is waiting for the lock (`has_waiters`, asked last).
///
/// Either way the answers are the same; only when the next group forms
/// changes.
pub(super) fn hands_on_before_sync(
    durability: Durability,
    overflow: bool,
    group_writes: usize,
    has_waiters: impl FnOnce() -> bool,
) -> bool {
    durability == Durability::Buffered
        || overflow
        || (group_writes <= EARLY_HAND_ON_MAX_GROUP && has_waiters())
}

/// How often a writer whose write is not synced yields its core, looking for
/// its answer, before it parks (see [`Parking`]).
///
/// Why 8: in `fillrandom` at 16 threads, parking at once measured 271-318 k
/// ops/s, 4 yields 345-440 k, 8 yields 384-452 k; 16 and 64 did no better,
/// the writers then mostly yielding to each other (`writer/README.md`).
pub(super) const UNSYNCED_YIELDS: usize = 8;

/// How long a synced writer yields its core, looking for its answer,
/// before it parks: this many average sync times (see [`Parking`]).
///
/// Why 4: a synced member waits for the fsync in flight, its group's
/// gathering (at most one sync time, [`CommitDelay::wait`]) and its own
/// fsync, so about three sync times, and more at 64 threads, where the
/// gathering is slower. `fillsync` at 16 threads, 2 rounds each on a noisy
/// host: parking at once 20-33 k ops/s, 150 µs of yields 18-27 k, 300 µs
/// 43-65 k, 600 µs 44-66 k; at 64 threads 45-79 k, 42-78 k, 45-104 k and
/// 92-129 k (`writer/README.md`).
pub(super) const SYNCED_YIELD_SYNCS: u32 = 4;

/// A synced writer yields before it parks only while the average sync
/// takes at most this long.
///
/// Why 500 µs: a wake-up costs tens of microseconds on a busy machine,
/// much of a 100-200 µs fsync but little of a slow disk's milliseconds,
/// where yielding for four sync times would only burn a core. It is twice
/// the fast device's sync, so that a burst of slow syncs on a busy host
/// does not turn the yielding off; it caps a synced writer's yielding at
/// 2 ms.
pub(super) const SYNCED_YIELD_MAX_SYNC: Duration = Duration::from_micros(500);

/// How a waiting writer looks for its answer before it parks (see
/// [`Parking::wait_for`]).
///
/// A parked writer costs a futex sleep and a wake-up, and on two cores the
/// wake-up often waits for a core; a writer that finds its answer while
/// yielding costs neither. With more threads than cores, the threads it
/// yields to are the writers that join the group and the leader that
/// answers it.
/// The loom models leave it out: it changes only whether a writer sleeps,
/// never what it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Parking {
    /// Yield up to this many times (an unsynced write, answered within a
    /// few microseconds: one journal append and memtable insert).
    AfterYields(usize),
    /// Yield until this much time has passed (a synced write, answered
    /// after an fsync).
    AfterYielding(Duration),
}

impl Parking {
    /// How a writer whose write has `durability` waits, when syncs take
    /// `sync` on average (zero before the first): [`UNSYNCED_YIELDS`]
    /// yields if unsynced; if synced, [`SYNCED_YIELD_SYNCS`] sync times of
    /// yielding while the sync is no longer than [`SYNCED_YIELD_MAX_SYNC`],
    /// else none.
    pub(super) fn of(durability: Durability, sync: Duration) -> Parking {
        match durability {
            Durability::Buffered => Parking::AfterYields(UNSYNCED_YIELDS),
            Durability::Synced if sync <= SYNCED_YIELD_MAX_SYNC => {
                Parking::AfterYielding(sync * SYNCED_YIELD_SYNCS)
            }
            Durability::Synced => Parking::AfterYields(0),
        }
    }

    /// Yields as this says, returning as soon as `answered`.
    pub(super) fn wait_for(self, answered: impl Fn() -> bool) {
        if cfg!(loom) {
            return;
        }
        match self {
            Parking::AfterYields(n) => {
                for _ in 0..n {
                    if answered() {
                        return;
                    }
                    std::thread::yield_now();
                }
            }
            Parking::AfterYielding(budget) => {
                if budget.is_zero() {
                    return;
                }
                let until = Instant::now() + budget;
                while !answered() && Instant::now() < until {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// The longest a synced group's leader waits for the previous group's
/// writers to come back, whatever the sync time (see [`CommitDelay::wait`]).
///
/// Why 300 µs: as a fixed delay it gathered the most at 16 threads
/// (`fillsync`: 43-45 k ops/s against 37-42 k at 100 µs and 30-33 k with
/// none); as the cap of the adaptive delay it bounds what the bet can add to
/// a synced write's latency on a disk slower than measured.
pub(super) const COMMIT_DELAY_MAX: Duration = Duration::from_micros(300);

/// The weight of one new sync time in the moving average, as a divisor:
/// each sync counts for 1/8.
///
/// Why 1/8: one slow fsync then moves the average, and so the next commit
/// delay, by only an eighth of its excess, while a lasting change of the
/// disk's speed is followed to within 10% in about 17 syncs.
const SYNC_AVERAGE_DIVISOR: u64 = 8;

/// The fewest arrivals from which [`CommitDelay::wait`] predicts the rest
/// from their pace.
///
/// Why 2: the pace of one arrival is a single wake-up latency, too noisy to
/// end the wait on; from two on it averages.
const PACE_MIN_ARRIVALS: usize = 2;

/// [`CommitDelay::wait`] predicts the rest of the expected writers from the
/// pace of the first 1/this of them.
///
/// Why a quarter: early enough to stop a wait that would not pay before it
/// costs much, late enough that the pace is not that of the first one or two
/// writers alone.
const PACE_SAMPLE_DIVISOR: usize = 4;

/// The commit delay and what it remembers between groups.
///
/// Commit delay (PostgreSQL's `commit_delay`, MySQL's
/// `binlog_group_commit_sync_delay`): before a synced group merges, its
/// leader waits briefly for the writers of the previous group, which are
/// being woken now and will offer their next write, so that one fsync
/// serves them too instead of a second cohort's.
pub(super) struct CommitDelay {
    /// Writes in the last group answered.
    last_group: AtomicU64,
    /// A moving average of the backend's sync time in nanoseconds (0 before
    /// the first).
    // Invariant: stored by one thread at a time: the write-lock holder, or
    // the one running the pipeline's fsync.
    sync_nanos: AtomicU64,
}

impl CommitDelay {
    /// No group and no sync seen yet: the first groups do not wait.
    pub(super) fn new() -> CommitDelay {
        CommitDelay {
            last_group: AtomicU64::new(0),
            sync_nanos: AtomicU64::new(0),
        }
    }

    /// The commit delay of a leader whose own write has `durability`, before
    /// it merges; `n_waiting` counts the writes queued right now.
    ///
    /// The wait is a bet, and it stops as soon as it stops paying. A group
    /// of `g` writes that waited `w` costs `(sync + w) / g` per write; one
    /// more writer lowers that only if it arrives within that cost. So the
    /// wait ends when all the writers expected are queued (the previous
    /// group's size plus those waiting at the start), when no writer arrived
    /// for that cost, when the pace of arrivals says the rest would come
    /// after the wait's end, or at that end: one sync time, at most
    /// [`COMMIT_DELAY_MAX`]. With few threads it gathers the whole previous group;
    /// with many threads on few cores, where waking them is the bottleneck,
    /// it stops early and lets the rest form the next group during this
    /// group's fsync (measured in `writer/README.md`).
    ///
    /// It changes only when the merge loop runs, never what it may merge:
    /// the loop still takes only writers already waiting, within the limits.
    /// The loom models leave it out (a timed spin would only multiply their
    /// interleavings without adding a new one).
    pub(super) fn wait(&self, durability: Durability, n_waiting: impl Fn() -> usize) {
        if cfg!(loom) || durability == Durability::Buffered {
            return;
        }
        let previous = self.last_group.load(Ordering::Relaxed) as usize;
        let sync = self.sync_average();
        if previous <= 1 || sync.is_zero() {
            return;
        }
        let started = Instant::now();
        let mut waiting = n_waiting();
        let expected = previous + waiting;
        let max_wait = sync.min(COMMIT_DELAY_MAX);
        let at_start = waiting;
        let mut last_arrival = started;
        loop {
            let now = Instant::now();
            let group = waiting + 1;
            let waited = now - started;
            if group >= expected || waited >= max_wait {
                break;
            }
            let cost_per_write = (sync + waited) / group as u32;
            if now - last_arrival > cost_per_write {
                break;
            }
            let arrived = waiting - at_start;
            // Once a quarter of the writers expected came back, their pace
            // predicts the rest: stop if the whole group would not be in
            // before the wait's end (many threads on few cores).
            if arrived >= PACE_MIN_ARRIVALS.max((expected - at_start) / PACE_SAMPLE_DIVISOR) {
                let projected = waited + waited / arrived as u32 * (expected - group) as u32;
                if projected > max_wait {
                    break;
                }
            }
            std::thread::yield_now();
            let now_waiting = n_waiting();
            if now_waiting > waiting {
                waiting = now_waiting;
                last_arrival = Instant::now();
            }
        }
    }

    /// The average sync time (zero before the first sync).
    pub(super) fn sync_average(&self) -> Duration {
        Duration::from_nanos(self.sync_nanos.load(Ordering::Relaxed))
    }

    /// Remembers the size of the group just answered, `n_writes` with its
    /// leader: the writers the next synced group's delay expects back.
    pub(super) fn note_group(&self, n_writes: u64) {
        self.last_group.store(n_writes, Ordering::Relaxed);
    }

    /// Folds one sync time into the moving average (weight
    /// 1/[`SYNC_AVERAGE_DIVISOR`]).
    pub(super) fn note_sync(&self, took: Duration) {
        if cfg!(loom) {
            return; // as `wait`: no use there, and extra interleavings
        }
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = self.sync_nanos.load(Ordering::Relaxed);
        let new = if old == 0 {
            took
        } else {
            old - old / SYNC_AVERAGE_DIVISOR + took / SYNC_AVERAGE_DIVISOR
        };
        // One thread at a time stores it: a plain store suffices.
        self.sync_nanos.store(new, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_synced_writer_yields_for_four_syncs_only_on_a_fast_device() {
        let us = Duration::from_micros;
        assert_eq!(
            Parking::of(Durability::Buffered, us(100)),
            Parking::AfterYields(UNSYNCED_YIELDS)
        );
        assert_eq!(
            Parking::of(Durability::Synced, us(100)),
            Parking::AfterYielding(us(400))
        );
        assert_eq!(
            Parking::of(Durability::Synced, SYNCED_YIELD_MAX_SYNC),
            Parking::AfterYielding(SYNCED_YIELD_MAX_SYNC * SYNCED_YIELD_SYNCS)
        );
        // A slow disk: a wake-up is cheap beside its sync.
        assert_eq!(
            Parking::of(Durability::Synced, SYNCED_YIELD_MAX_SYNC + us(1)),
            Parking::AfterYields(0)
        );
        // Before the first sync nothing is known: park at once.
        assert_eq!(
            Parking::of(Durability::Synced, Duration::ZERO),
            Parking::AfterYielding(Duration::ZERO)
        );
    }

    #[test]
    fn only_a_small_synced_group_hands_the_lock_on_before_its_sync() {
        let waiting = || true;
        let nobody = || false;
        let big = EARLY_HAND_ON_MAX_GROUP + 1;
        assert!(hands_on_before_sync(
            Durability::Buffered,
            false,
            big,
            nobody
        ));
        assert!(hands_on_before_sync(Durability::Synced, true, big, nobody));
        assert!(hands_on_before_sync(Durability::Synced, false, 4, waiting));
        assert!(hands_on_before_sync(
            Durability::Synced,
            false,
            EARLY_HAND_ON_MAX_GROUP,
            waiting
        ));
        assert!(!hands_on_before_sync(Durability::Synced, false, 4, nobody));
        assert!(!hands_on_before_sync(
            Durability::Synced,
            false,
            big,
            waiting
        ));
    }

    #[test]
    fn yielding_stops_at_the_answer_or_at_its_bound() {
        let looks = Cell::new(0);
        let answered_at_third_look = || {
            looks.set(looks.get() + 1);
            looks.get() == 3
        };
        Parking::AfterYields(8).wait_for(answered_at_third_look);
        assert_eq!(looks.get(), 3);

        looks.set(0);
        Parking::AfterYields(8).wait_for(|| {
            looks.set(looks.get() + 1);
            false
        });
        assert_eq!(looks.get(), 8, "one look before each yield");

        looks.set(0);
        Parking::AfterYielding(Duration::from_secs(3600)).wait_for(answered_at_third_look);
        assert_eq!(looks.get(), 3, "an answer ends a long budget at once");

        let budget = Duration::from_millis(2);
        let started = Instant::now();
        Parking::AfterYielding(budget).wait_for(|| false);
        assert!(
            started.elapsed() >= budget,
            "it yields until its budget ends"
        );

        looks.set(0);
        Parking::AfterYielding(Duration::ZERO).wait_for(|| {
            looks.set(looks.get() + 1);
            false
        });
        assert_eq!(looks.get(), 0, "no budget: park at once");
    }
}

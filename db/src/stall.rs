//! Write stalls: how writers are held back while level 0 or the frozen
//! memtables outgrow what the background can drain (goleveldb's
//! `flush()` in `db_write.go`, TABLES.md §6).
//!
//! The group-commit leader asks [`Stall::decide`] before each write group,
//! with the tree's state as it is now:
//!
//! 1. At [`L0_SLOWDOWN_TRIGGER`] level-0 tables each group sleeps 1 ms,
//!    once: the writers yield a little of their time to the compaction lane,
//!    spread over many writes instead of a long stop later.
//! 2. If the write fits the active memtable, it goes ahead.
//! 3. If it does not, the memtable must rotate, adding a frozen memtable
//!    to memory and, once flushed, a table to level 0. At
//!    [`L0_STOP_TRIGGER`] level-0 tables, counting the frozen memtables
//!    that will become ones, or at [`MAX_FROZEN_MEMTABLES`] frozen
//!    memtables, the leader waits (and every writer queues behind it)
//!    until the background has brought them down. Counting the frozen
//!    memtables is what keeps level 0 at or below the trigger, not just
//!    near it (goleveldb counts only tables, and goes one over).
//!
//! A stop never outlasts a failing lane: while the flush is failing (a
//! table write error, retried with back-off), frozen memtables do not
//! stop writes, and while compactions are failing, level 0 does not. The
//! writes then go on into memory and level 0, durable in the journal as
//! ever, instead of hanging on work that cannot finish (TABLES.md §6:
//! the memtable stays frozen and readable meanwhile); the stops come back
//! with the lane's first success.
//!
//! A waiting leader sleeps on [`WriteGate`], which the background wakes at
//! every change that may end a stall: a version published (a flush, a
//! compaction, a large batch), a lane starting to fail, a persistent error
//! (which then reaches every writer in turn, as goleveldb's `compPerErrC`
//! does), and close.
//!
//! [`Stall::decide`] is a pure function of the state it is given; the gate
//! is the only part that blocks. Both are counted in [`StallCounters`] for
//! `Stats`.
//!
//! [`L0_SLOWDOWN_TRIGGER`]: crate::tuning::L0_SLOWDOWN_TRIGGER
//! [`L0_STOP_TRIGGER`]: crate::tuning::L0_STOP_TRIGGER
//! [`MAX_FROZEN_MEMTABLES`]: crate::tuning::MAX_FROZEN_MEMTABLES

use crate::sync::lock;
use crate::tuning::{L0_SLOWDOWN_TRIGGER, L0_STOP_TRIGGER, MAX_FROZEN_MEMTABLES, STALL_RECHECK};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The state a stall is decided on, read by the leader for each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pressure {
    /// Tables in level 0.
    pub level0_tables: usize,
    /// Memtables frozen and not yet flushed.
    pub frozen_memtables: usize,
    /// Whether the write at hand fits the active memtable (or the memtable
    /// is empty and takes it whole): no rotation needed.
    pub fits: bool,
    /// Whether the last flush failed (it is being retried).
    pub flush_failing: bool,
    /// Whether the last compaction failed (it is being retried).
    pub compaction_failing: bool,
}

/// What the leader does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stall {
    /// Sleep 1 ms, then decide again (at most once per group).
    SlowDown,
    /// Wait on the gate until the background changes the tree, then decide
    /// again.
    Stop,
    /// Go on: write, rotating first unless the write fits.
    Proceed,
}

impl Stall {
    /// The next step for a group whose leader has `slowed` already (or
    /// not), under `pressure`.
    pub fn decide(pressure: Pressure, slowed: bool) -> Stall {
        if pressure.level0_tables >= L0_SLOWDOWN_TRIGGER && !slowed {
            return Stall::SlowDown;
        }
        if pressure.fits {
            return Stall::Proceed;
        }
        // Frozen memtables become level-0 tables only while flushes work.
        let frozen = if pressure.flush_failing {
            0
        } else {
            pressure.frozen_memtables
        };
        let level0_full =
            pressure.level0_tables + frozen >= L0_STOP_TRIGGER && !pressure.compaction_failing;
        if level0_full || frozen >= MAX_FROZEN_MEMTABLES {
            return Stall::Stop;
        }
        Stall::Proceed
    }
}

/// Counters of stalls since open.
#[derive(Debug, Default)]
pub(crate) struct StallCounters {
    /// Groups that slept at the slowdown trigger.
    pub slowdowns: AtomicU64,
    /// Groups that waited at a stop.
    pub stops: AtomicU64,
    /// Nanoseconds spent in both.
    pub nanos: AtomicU64,
}

impl StallCounters {
    fn add_time(&self, since: Instant) {
        let nanos = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The time spent stalled.
    pub fn time(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

/// Why a stopped writer stopped waiting without the stall ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GateClosed {
    /// The database is closing.
    Closing,
}

/// Where stopped writers wait for the background (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct WriteGate {
    /// Bumped under the lock by every [`notify`](WriteGate::notify), so that
    /// a waiter that read the state before a change never sleeps through
    /// it.
    epoch: Mutex<u64>,
    changed: Condvar,
    closing: AtomicBool,
    /// The stalls since open.
    pub counters: StallCounters,
}

impl WriteGate {
    /// Something that may end a stall happened: wakes every waiter.
    pub fn notify(&self) {
        *lock(&self.epoch) += 1;
        self.changed.notify_all();
    }

    /// The database is closing: every waiter returns, and no one waits
    /// again.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.notify();
    }

    /// Sleeps the 1 ms of a slowdown, and counts it.
    pub fn slow_down(&self) {
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(1));
        self.counters.slowdowns.fetch_add(1, Ordering::Relaxed);
        self.counters.add_time(start);
    }

    /// Waits while `stopped` says the write must wait, re-asking after
    /// every notification (and every [`STALL_RECHECK`], so that a change
    /// nobody announced cannot hold a writer for ever). `stopped` returns
    /// an error to end the wait with it: a persistent failure.
    ///
    /// # Errors
    ///
    /// `stopped`'s error, or [`GateClosed`] once the database closes.
    pub fn wait<E: From<GateClosed>>(
        &self,
        mut stopped: impl FnMut() -> Result<bool, E>,
    ) -> Result<(), E> {
        let start = Instant::now();
        self.counters.stops.fetch_add(1, Ordering::Relaxed);
        let outcome = loop {
            let seen = *lock(&self.epoch);
            if self.closing.load(Ordering::Acquire) {
                break Err(E::from(GateClosed::Closing));
            }
            match stopped() {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
            let epoch = lock(&self.epoch);
            if *epoch == seen {
                // Nothing changed since the state was read: sleep until it
                // does (a notification bumps the epoch under this lock, so
                // it cannot slip between the check and the wait).
                let _ = self
                    .changed
                    .wait_timeout(epoch, STALL_RECHECK)
                    .unwrap_or_else(|e| e.into_inner());
            }
        };
        self.counters.add_time(start);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pressure(level0_tables: usize, frozen_memtables: usize, fits: bool) -> Pressure {
        Pressure {
            level0_tables,
            frozen_memtables,
            fits,
            flush_failing: false,
            compaction_failing: false,
        }
    }

    #[test]
    fn a_failing_lane_lifts_its_stop() {
        let (p, f) = (L0_STOP_TRIGGER, MAX_FROZEN_MEMTABLES);
        let failing = |l0, frozen, flush_failing, compaction_failing| {
            Stall::decide(
                Pressure {
                    level0_tables: l0,
                    frozen_memtables: frozen,
                    fits: false,
                    flush_failing,
                    compaction_failing,
                },
                true,
            )
        };
        // (level 0, frozen, flush failing, compaction failing) -> step
        let rows = [
            ((0, f, false, false), Stall::Stop),
            ((0, f + 4, true, false), Stall::Proceed),
            ((p, 0, false, false), Stall::Stop),
            ((p + 3, 0, false, true), Stall::Proceed),
            // Failing flushes: frozen memtables count for nothing, the
            // tables already in level 0 still do.
            ((p - 1, 1, true, false), Stall::Proceed),
            ((p, 1, true, false), Stall::Stop),
            // Failing compactions: the frozen cap still holds.
            ((p, f, false, true), Stall::Stop),
        ];
        for ((l0, frozen, flush, compaction), want) in rows {
            assert_eq!(
                failing(l0, frozen, flush, compaction),
                want,
                "level 0 {l0}, frozen {frozen}, flush failing {flush}, compaction failing {compaction}"
            );
        }
    }

    #[test]
    fn decide_follows_goleveldb() {
        use Stall::*;
        let s = L0_SLOWDOWN_TRIGGER;
        let p = L0_STOP_TRIGGER;
        let f = MAX_FROZEN_MEMTABLES;
        // (level 0, frozen, fits, slowed already) -> step
        let rows = [
            ((0, 0, true, false), Proceed),
            ((0, 0, false, false), Proceed),
            ((s - 1, 0, true, false), Proceed),
            ((s - 1, 0, false, false), Proceed),
            ((s, 0, true, false), SlowDown),
            ((s, 0, true, true), Proceed),
            ((s, 0, false, true), Proceed),
            ((p - 1, 0, false, true), Proceed),
            ((p, 0, false, false), SlowDown),
            ((p, 0, false, true), Stop),
            // A write that fits never stops, whatever level 0 holds.
            ((p + 5, 0, true, true), Proceed),
            // Frozen memtables are level-0 tables to come.
            ((p - 1, 1, false, true), Stop),
            ((p - 2, 1, false, true), Proceed),
            ((0, f, false, false), Stop),
            ((0, f - 1, false, false), Proceed),
            ((0, f + 3, true, false), Proceed),
        ];
        for ((l0, frozen, fits, slowed), want) in rows {
            assert_eq!(
                Stall::decide(pressure(l0, frozen, fits), slowed),
                want,
                "level 0 {l0}, frozen {frozen}, fits {fits}, slowed {slowed}"
            );
        }
    }

    #[derive(Debug, PartialEq)]
    enum Ended {
        Closing,
        Failed,
    }

    impl From<GateClosed> for Ended {
        fn from(_: GateClosed) -> Ended {
            Ended::Closing
        }
    }

    /// Runs a waiter on `gate` whose condition is `state` (0 wait, 1 go,
    /// 2 fail), and returns its outcome once `act` has run.
    fn waiter_outcome(act: impl FnOnce(&WriteGate, &Mutex<u8>)) -> Result<(), Ended> {
        let gate = Arc::new(WriteGate::default());
        let state = Arc::new(Mutex::new(0u8));
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let waiter = {
            let (gate, state) = (Arc::clone(&gate), Arc::clone(&state));
            std::thread::spawn(move || {
                let outcome = gate.wait(|| match *lock(&state) {
                    0 => Ok(true),
                    1 => Ok(false),
                    _ => Err(Ended::Failed),
                });
                done_tx.send(()).unwrap();
                outcome
            })
        };
        // The waiter waits until told (it cannot end on its own: its
        // condition holds until `act` changes it).
        while gate.counters.stops.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        assert!(done_rx.recv_timeout(Duration::from_millis(50)).is_err());
        act(&gate, &state);
        let outcome = waiter.join().unwrap();
        assert_eq!(gate.counters.stops.load(Ordering::Relaxed), 1);
        assert!(gate.counters.time() >= Duration::from_millis(50));
        outcome
    }

    #[test]
    fn a_waiter_resumes_when_the_state_changes() {
        let outcome = waiter_outcome(|gate, state| {
            *lock(state) = 1;
            gate.notify();
        });
        assert_eq!(outcome, Ok(()));
    }

    #[test]
    fn a_waiter_fails_on_a_persistent_error() {
        let outcome = waiter_outcome(|gate, state| {
            *lock(state) = 2;
            gate.notify();
        });
        assert_eq!(outcome, Err(Ended::Failed));
    }

    #[test]
    fn a_waiter_returns_on_close() {
        let outcome = waiter_outcome(|gate, _| gate.close());
        assert_eq!(outcome, Err(Ended::Closing));
    }

    #[test]
    fn a_closed_gate_never_waits() {
        let gate = WriteGate::default();
        gate.close();
        assert_eq!(gate.wait(|| Ok::<_, Ended>(true)), Err(Ended::Closing));
    }
}

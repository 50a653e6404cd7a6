//! The pipelined commit's sync side ([`Pipeline`]): a leader that hands
//! the write lock on before its group's fsync, and the one shared fsync
//! that makes every group appended before it started durable.
//!
//! With [`Options::pipelined`](crate::Options::pipelined) and a backend
//! that gives a [`Syncer`], a leader appends its group, applies it to the
//! memtable, publishes it and hands the lock on, all as before (steps 5
//! to 7 and the hand-over of step 8), and only then waits for the group's
//! durability, if a member asked for it, and answers its members. The
//! next leader merges and appends while that fsync runs.
//!
//! **When the lock moves on early** (policy,
//! [`hands_on_before_sync`](super::policy::hands_on_before_sync)). For
//! every unsynced group and to the overflow writer; for a synced group,
//! only to a writer already waiting for it and only after a small group.
//! With nobody waiting, the leader keeps the lock through the fsync, as
//! unpipelined: every writer is then in this group, and the first to come
//! back would only find the lock free and wait for the same fsync. After
//! a large group it keeps the lock too: the few writers waiting would
//! form a second, small cohort, and both would then wait for two fsyncs
//! (64 threads measured 0.63x so). A
//! synced leader lets the fsync in flight end before it merges
//! ([`Pipeline::wait_for_sync`]), so that the writers arriving meanwhile
//! join its group; each appending alone had halved the groups. Both waits
//! yield before they park, as a synced writer does ([`Parking`]): the
//! thread waiting for an fsync's end appends or syncs next.
//!
//! The **ledger** numbers the appends: the lock holder registers each
//! successful append ([`Pipeline::appended`]), so tickets follow journal
//! order. A waiter whose ticket is not yet durable syncs itself if no one
//! is syncing, covering every append registered before its fsync began
//! (WRITE-MERGE.md §Pipelining, rule 3), or else waits for the fsync in
//! flight and looks again. So fsyncs run back to back while anyone waits,
//! each covering every group appended during the one before.
//!
//! A failed fsync is recorded for good: every waiter it did not cover
//! fails with it, whichever thread ran it, and an append registered after
//! it fails too (its fate is unknown once an fsync failed), so no group
//! after the failure is acknowledged (rule 6). The thread that ran the
//! failed fsync poisons the writer.
//!
//! Groups are applied and published under the write lock, in journal
//! order, so a group is visible only once every earlier group is (rule 4);
//! a member is answered only after its group is visible and, if asked,
//! durable (rule 5). What a pipelined group shows before its fsync ends
//! is what any unsynced write shows: a reader may see it, and a crash may
//! lose it; if the fsync fails, its writers get the error and the writer
//! refuses every later write, as after a crash.
//!
//! The ledger also counts the groups in flight (handed on, not yet
//! answered), so that `close` returns only once they are answered, and
//! the threads asleep on it, so that nobody is signalled when none sleeps:
//! on this VM the futex call of each fsync's end and each group's answer
//! cost pipelining 13% of `fillsync` at 4 threads.
//!
//! Measured against the unpipelined order on a 2-core machine (figures in
//! `writer/README.md`): it leads at 64 writers and is within about 10%
//! either way at 1 to 16, so the database turns it on by default.

use std::io;
use std::sync::Arc;

use std::time::Instant;

use super::policy::{CommitDelay, Parking};
use crate::metrics::Counters;
use crate::offer::Durability;
use crate::sync::{lock, wait, Condvar, Mutex, MutexGuard};
use crate::Syncer;

/// The sync side of a pipelined writer.
pub(super) struct Pipeline {
    /// The backend's fsync, callable beside the lock holder's appends.
    syncer: Arc<dyn Syncer>,
    /// Appends, fsyncs and groups in flight.
    ledger: Mutex<Ledger>,
    /// Signalled when an fsync ends and when the last group in flight is
    /// answered.
    changed: Condvar,
}

/// What the pipeline knows of the journal.
#[derive(Debug, Default)]
struct Ledger {
    /// Successful appends registered, in journal order: the last ticket.
    appended: u64,
    /// Every ticket up to this one is durable.
    synced: u64,
    /// Whether a thread is in the syncer's fsync now.
    syncing: bool,
    /// How many fsyncs have ended, so that a waiter yielding for the one
    /// in flight sees it end even if the next one has begun.
    syncs_ended: u64,
    /// The fsync that failed, once one did. Never cleared.
    failed: Option<Arc<io::Error>>,
    /// Groups registered and not yet answered.
    in_flight: u64,
    /// Threads asleep on `changed`: with none, nobody is signalled (a
    /// futex call saved at each fsync's end and each group's answer).
    sleeping: u32,
}

/// How a wait for durability ended badly.
pub(super) struct SyncFailed {
    /// The fsync's error.
    pub(super) cause: Arc<io::Error>,
    /// Whether this thread ran the failed fsync, and so must poison the
    /// writer.
    pub(super) ran_it: bool,
}

impl Pipeline {
    /// The sync side over `syncer`, nothing appended yet.
    pub(super) fn new(syncer: Arc<dyn Syncer>) -> Pipeline {
        Pipeline {
            syncer,
            ledger: Mutex::new(Ledger::default()),
            changed: Condvar::new(),
        }
    }

    /// Registers a group just appended, by the write-lock holder, before
    /// anything else of its commit: its ticket, and one more group in
    /// flight. If an fsync failed already,
    /// the group's fate is unknown: its error, and nothing registered.
    pub(super) fn appended(&self) -> Result<u64, Arc<io::Error>> {
        let mut ledger = lock(&self.ledger);
        if let Some(cause) = &ledger.failed {
            return Err(Arc::clone(cause));
        }
        ledger.appended += 1;
        ledger.in_flight += 1;
        Ok(ledger.appended)
    }

    /// Returns once `ticket` is durable, running the fsync itself whenever
    /// none is running and it is not; or the failure of an fsync that did
    /// not cover it.
    pub(super) fn wait_durable(
        &self,
        ticket: u64,
        counters: &Counters,
        delay: &CommitDelay,
    ) -> Result<(), SyncFailed> {
        let mut ledger = lock(&self.ledger);
        loop {
            if ledger.synced >= ticket {
                return Ok(());
            }
            if let Some(cause) = &ledger.failed {
                return Err(SyncFailed {
                    cause: Arc::clone(cause),
                    ran_it: false,
                });
            }
            if ledger.syncing {
                ledger = self.wait_sync_end(ledger, delay);
                continue;
            }
            // Ours to run: it covers every append registered until now.
            let covers = ledger.appended;
            ledger.syncing = true;
            drop(ledger);
            Counters::add(&counters.fsyncs, 1);
            let started = Instant::now();
            let synced = self.syncer.sync();
            // One fsync runs at a time: its thread alone notes it.
            delay.note_sync(started.elapsed());
            ledger = lock(&self.ledger);
            ledger.syncing = false;
            ledger.syncs_ended += 1;
            let outcome = match synced {
                Ok(()) => {
                    ledger.synced = ledger.synced.max(covers);
                    Ok(())
                }
                Err(err) => {
                    let cause = Arc::new(err);
                    ledger.failed = Some(Arc::clone(&cause));
                    if cfg!(feature = "seeded_bug_failed_sync_covers_later_groups") {
                        // Seeded bug: the failed fsync's range counts as
                        // durable for everyone but the thread that ran it,
                        // so the groups it covered are told OK.
                        ledger.synced = ledger.synced.max(covers);
                    }
                    Err(SyncFailed {
                        cause,
                        ran_it: true,
                    })
                }
            };
            self.notify(&ledger);
            return outcome;
        }
    }

    /// Returns once no fsync is running: a synced leader's wait before it
    /// merges, so that the writers arriving during the fsync join its
    /// group instead of each appending alone (measured in
    /// `writer/README.md`).
    pub(super) fn wait_for_sync(&self, delay: &CommitDelay) {
        let mut ledger = lock(&self.ledger);
        while ledger.syncing {
            ledger = self.wait_sync_end(ledger, delay);
        }
    }

    /// Waits, with the ledger `held` while an fsync runs, until that fsync
    /// ends (or spuriously); the ledger again. Like a synced writer
    /// ([`Parking`]), it yields first and parks only if the fsync outlasts
    /// that: the thread waiting here appends or syncs next, and a wake-up
    /// would put its latency between two fsyncs.
    fn wait_sync_end<'a>(
        &'a self,
        held: MutexGuard<'a, Ledger>,
        delay: &CommitDelay,
    ) -> MutexGuard<'a, Ledger> {
        let seen = held.syncs_ended;
        drop(held);
        Parking::of(Durability::Synced, delay.sync_average()).wait_for(|| {
            self.ledger
                .try_lock()
                .is_ok_and(|ledger| ledger.syncs_ended != seen)
        });
        let ledger = lock(&self.ledger);
        if ledger.syncs_ended != seen {
            return ledger;
        }
        self.sleep(ledger)
    }

    /// Sleeps on `changed`, counted in `sleeping` so that a change is
    /// signalled only when someone sleeps.
    fn sleep<'a>(&self, mut ledger: MutexGuard<'a, Ledger>) -> MutexGuard<'a, Ledger> {
        ledger.sleeping += 1;
        let mut ledger = wait(&self.changed, ledger);
        ledger.sleeping -= 1;
        ledger
    }

    /// Signals a change of the `ledger` (held) to every thread asleep on
    /// it, if any.
    fn notify(&self, ledger: &Ledger) {
        if ledger.sleeping > 0 {
            self.changed.notify_all();
        }
    }

    /// A group registered by [`appended`](Pipeline::appended) was
    /// answered.
    pub(super) fn answered(&self) {
        let mut ledger = lock(&self.ledger);
        ledger.in_flight -= 1;
        if ledger.in_flight == 0 {
            self.notify(&ledger);
        }
    }

    /// Returns once no group is in flight (`close`, after the write lock
    /// came back: no new group can start).
    pub(super) fn wait_idle(&self) {
        let mut ledger = lock(&self.ledger);
        while ledger.in_flight > 0 {
            ledger = self.sleep(ledger);
        }
    }
}

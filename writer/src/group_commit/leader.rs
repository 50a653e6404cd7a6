//! The holder of the write lock ([`Leader`]): the leader's group commit,
//! steps 1 to 8 in order, a large write's commit, poisoning after a journal
//! failure, and the guard that keeps a panicking backend from hanging
//! anyone.
//!
//! The merge (steps 2 and 3) is in `merge.rs`, and the answers and the
//! hand-over of step 8 in `unlock.rs`; this file decides when each runs.

use std::io;
use std::mem;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use batch::SeqNum;

use super::pipeline::Pipeline;
use super::policy::{self, Waker};
use super::slot::{Reply, Slot, WakeNext};
use super::state::Token;
use super::GroupCommit;
use crate::metrics::Counters;
use crate::offer::{Durability, Merge, Own};
use crate::sync::lock;
use crate::{RoomError, WriteError};

/// The holder of the write lock, running one group commit (or a maintenance
/// task).
///
/// Its `Drop` is the safety net of raft-engine's leader guard: if the
/// backend panics mid-group, it poisons the writer, answers every merged
/// writer, and releases or hands off the lock, so that no writer hangs.
pub(super) struct Leader<'a> {
    /// The writer whose lock this is.
    pub(super) gc: &'a GroupCommit,
    /// The write lock, until released.
    // Invariant: `Some` until `release` or `Drop`.
    token: Option<Box<Token>>,
    /// The write that did not fit, taken from the queue: it gets the lock
    /// when this group is done.
    // Invariant: set only by the merge, and taken when the lock moves on.
    pub(super) overflow: Option<Arc<Slot>>,
    /// A pipelined group registered in flight and not yet handed on: if
    /// the backend panics, the guard ends it (`Pipeline::answered`).
    in_flight: bool,
}

impl<'a> Leader<'a> {
    /// The leader of `gc`, holding its write lock `token`.
    pub(super) fn new(gc: &'a GroupCommit, token: Box<Token>) -> Leader<'a> {
        Leader {
            gc,
            token: Some(token),
            overflow: None,
            in_flight: false,
        }
    }

    /// The write lock and what it guards.
    pub(super) fn token(&mut self) -> &mut Token {
        self.token
            .as_mut()
            .expect("the leader holds the token until it ends")
    }

    /// The leader's group commit, steps 1 to 8, with `own` first; `own`
    /// asked for `durability` and may merge as `merge` says.
    pub(super) fn commit(
        mut self,
        own: Own<'_>,
        durability: Durability,
        merge: Merge,
    ) -> Result<SeqNum, WriteError> {
        let own_len = own.internal_len();
        if self.token().backend.is_large(own_len) {
            return self.commit_large(own);
        }

        // Step 1: make room for our own write.
        let free = match self.make_room(own_len) {
            Ok(free) => free,
            Err(err) => {
                // Nothing merged yet: only we see the error.
                self.release(None);
                return Err(WriteError::Room(err));
            }
        };

        // Steps 2 and 3: merge the writes already waiting, up to the limit.
        let group_durability = match merge {
            Merge::Allowed => self.merge(own, free, durability),
            Merge::Alone => durability,
        };

        // Step 4: sequence numbers.
        let (first, last) = match self.build_group(own) {
            Ok(range) => range,
            Err(err) => return self.finish(Err(err), own.n_records(), None),
        };

        // Steps 5 to 8, pipelined: the fsync after the hand-over.
        let gc = self.gc;
        if let Some(pipeline) = &gc.pipeline {
            return self.commit_pipelined(
                pipeline,
                own.n_records(),
                (first, last),
                group_durability,
            );
        }

        // Step 5: one journal record, and at most one fsync.
        if let Err(err) = self.write_journal(group_durability) {
            return self.fail_journal(err, own.n_records());
        }

        // Step 6: the memtable, then the publication.
        self.apply(last);

        // Step 7: rotate the memtable if full.
        self.after_write();

        // Step 8.
        self.finish(Ok(first), own.n_records(), None)
    }

    /// Steps 5 to 8 of a pipelined writer (`pipeline.rs`): append the
    /// group, apply and publish it, make room after it, hand the lock on;
    /// then wait for the fsync that covers it if `durability` asks, and
    /// answer every member. `own_records` comes first in the group, which
    /// takes `first..=last`.
    fn commit_pipelined(
        mut self,
        pipeline: &Pipeline,
        own_records: usize,
        (first, last): (SeqNum, SeqNum),
        durability: Durability,
    ) -> Result<SeqNum, WriteError> {
        let gc = self.gc;
        let token = self.token();
        if let Err(err) = token.backend.append(&token.group) {
            return self.fail_journal(err, own_records);
        }
        let ticket = match pipeline.appended() {
            Ok(ticket) => ticket,
            // An fsync failed after an earlier append: this group's fate is
            // unknown too. Not applied, as an unpipelined group whose fsync
            // failed is not; the writer is poisoned already.
            Err(cause) => {
                let err = WriteError::Poisoned(Arc::clone(&cause));
                return self.finish(Err(err), own_records, Some(cause));
            }
        };
        // From here the group is in flight, which `close` waits for; the
        // guard answers for it if the backend panics below.
        self.in_flight = true;
        if cfg!(feature = "seeded_bug_publish_after_hand_off") {
            // Seeded bug: the group is applied under the lock but published
            // after the hand-over, so that the next group may be published
            // first, and the last sequence number go backwards.
            let token = self.token();
            token.backend.apply(&token.group);
            token.last_seq = last;
        } else {
            self.apply(last);
        }
        self.after_write();
        let members = mem::take(&mut self.token().members);
        // The lock moves on before a synced group's fsync only to a writer
        // already waiting for it, who then gathers the next group during
        // this fsync, and only after a small group; else the fsync runs
        // under the lock, as unpipelined (`policy::hands_on_before_sync`).
        let hand_on_first = policy::hands_on_before_sync(
            durability,
            self.overflow.is_some(),
            1 + members.len(),
            || lock(&gc.state).has_waiters(),
        );
        if hand_on_first {
            self.hand_on_in_flight();
        }
        if cfg!(feature = "seeded_bug_publish_after_hand_off") {
            gc.published.store(last.0, Ordering::Release);
        }
        let answer = |result: &Result<SeqNum, WriteError>| {
            gc.ack(&members, own_records, result);
            let roots = policy::woken_by(&members, Waker::Leader);
            for root in roots.into_iter().flatten() {
                root.wake();
            }
        };
        let acked_early = cfg!(feature = "seeded_bug_ack_before_sync");
        if acked_early {
            // Seeded bug: the members are answered before their fsync.
            answer(&Ok(first));
        }
        let result = match durability {
            Durability::Buffered => Ok(first),
            Durability::Synced => {
                match pipeline.wait_durable(ticket, &gc.counters, &gc.commit_delay) {
                    Ok(()) => Ok(first),
                    Err(failed) => {
                        if failed.ran_it {
                            gc.poison(Arc::clone(&failed.cause));
                        }
                        Err(WriteError::Log(failed.cause))
                    }
                }
            }
        };
        if !hand_on_first {
            self.hand_on_in_flight();
        }
        if !acked_early {
            answer(&result);
        }
        pipeline.answered();
        result
    }

    /// Moves the lock on with this pipelined group still in flight: from
    /// here the guard no longer answers for it, the pipeline's count does.
    fn hand_on_in_flight(&mut self) {
        self.release(None);
        self.in_flight = false;
    }

    /// Step 1: asks the backend for room for our own write of `own_len`
    /// internal bytes; the memtable's free room, or why there is none.
    fn make_room(&mut self, own_len: usize) -> Result<usize, RoomError> {
        let gc = self.gc;
        let started = Instant::now();
        let room = self.token().backend.make_room(own_len);
        gc.counters.room_wait(started.elapsed());
        room
    }

    /// Step 4: builds the group in the token's buffer, `own` first and then
    /// the merged writes in merge order, and numbers it; its first and last
    /// sequence numbers.
    fn build_group(&mut self, own: Own<'_>) -> Result<(SeqNum, SeqNum), WriteError> {
        let token = self.token();
        token.group.clear();
        own.append_to(&mut token.group);
        for member in &token.members {
            member.offer.append_to(&mut token.group);
        }
        token.number_group()
    }

    /// Step 5: appends the group as one journal record, then syncs once if
    /// the group's `durability` asks.
    fn write_journal(&mut self, durability: Durability) -> io::Result<()> {
        let gc = self.gc;
        let token = self.token();
        token.backend.append(&token.group)?;
        if durability == Durability::Synced {
            Counters::add(&gc.counters.fsyncs, 1);
            let started = Instant::now();
            token.backend.sync()?;
            gc.commit_delay.note_sync(started.elapsed());
        }
        Ok(())
    }

    /// Step 6: applies the group to the memtable, then publishes `last` as
    /// the last sequence number (done by `apply` for readers, and here for
    /// `last_seq`).
    fn apply(&mut self, last: SeqNum) {
        let gc = self.gc;
        let token = self.token();
        token.backend.apply(&token.group);
        token.last_seq = last;
        gc.published.store(last.0, Ordering::Release);
    }

    /// Step 7: lets the backend rotate the memtable if full. An error here
    /// cannot undo the group, which is journaled and applied: it becomes the
    /// background error, which fails later writes.
    fn after_write(&mut self) {
        let gc = self.gc;
        let token = self.token();
        let applied = token.group.internal_len();
        policy::trim_group_buffer(&mut token.group);
        if let Err(err) = token.backend.after_write(applied) {
            gc.set_background_error(err);
        }
    }

    /// The group commit of a large write (see [`Room::is_large`]): alone,
    /// numbered as step 4 numbers a group, then made durable and visible
    /// by the backend in one step in place of steps 1, 5, 6 and 7. A
    /// failure leaves nothing behind (the backend's promise), so the
    /// sequence numbers are not consumed and the writer is not poisoned.
    ///
    /// [`Room::is_large`]: crate::Room::is_large
    fn commit_large(mut self, own: Own<'_>) -> Result<SeqNum, WriteError> {
        let gc = self.gc;
        // Nothing is merged yet, so the group is `own` alone.
        let (first, last) = match self.build_group(own) {
            Ok(range) => range,
            Err(err) => return self.finish(Err(err), own.n_records(), None),
        };
        let token = self.token();
        let started = Instant::now();
        let written = token.backend.write_large(&token.group);
        gc.counters.room_wait(started.elapsed());
        policy::trim_group_buffer(&mut token.group);
        if let Err(err) = written {
            return self.finish(Err(WriteError::Room(err)), own.n_records(), None);
        }
        token.last_seq = last;
        gc.published.store(last.0, Ordering::Release);
        self.finish(Ok(first), own.n_records(), None)
    }

    /// A failed journal append or sync: the group fails, and the writer is
    /// poisoned so that no later group reuses its sequence numbers or
    /// retries the fsync.
    fn fail_journal(self, err: io::Error, own_records: usize) -> Result<SeqNum, WriteError> {
        let cause = Arc::new(err);
        let poison = if cfg!(feature = "seeded_bug_seq_reuse_after_error") {
            // Seeded bug: treat the failure as transient, as goleveldb does
            // (its quirk (a)): the next group starts at the same sequence
            // number.
            None
        } else {
            Some(Arc::clone(&cause))
        };
        self.finish(Err(WriteError::Log(cause)), own_records, poison)
    }

    /// Step 8: answer every merged writer with the group's one result, and
    /// only then release the lock or hand it to the overflow writer.
    /// `own_records` is the leader's own record count, which comes first in
    /// the group. Returns the leader's own result.
    fn finish(
        mut self,
        result: Result<SeqNum, WriteError>,
        own_records: usize,
        poison: Option<Arc<io::Error>>,
    ) -> Result<SeqNum, WriteError> {
        let mut members = mem::take(&mut self.token().members);
        let roots: WakeNext = policy::woken_by(&members, Waker::Leader);
        if cfg!(feature = "seeded_bug_ack_after_unlock") {
            // Seeded bug (goleveldb #136, fixed by PR #137): release the lock
            // first and answer the group afterwards.
            self.release(poison);
            self.gc.ack(&members, own_records, &result);
        } else {
            self.gc.ack(&members, own_records, &result);
            // Keep the members' allocation for the next group.
            members.clear();
            self.token().members = members;
            self.release(poison);
        }
        // Every member's answer is fixed; now deliver it, through the wake
        // tree, after the next leader was woken.
        for root in roots.into_iter().flatten() {
            root.wake();
        }
        result
    }

    /// Releases the lock, or hands it to the overflow writer.
    pub(super) fn release(&mut self, poison: Option<Arc<io::Error>>) {
        let token = self.token.take().expect("the leader holds the token");
        let overflow = self.overflow.take();
        self.gc.release_token(token, overflow, poison);
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let Some(mut token) = self.token.take() else {
            return;
        };
        if self.in_flight {
            if let Some(pipeline) = &self.gc.pipeline {
                pipeline.answered();
            }
        }
        // Only a panic in the backend (or a bug) gets here: the group's
        // state is unknown, so poison the writer and answer everyone.
        let cause = Arc::new(io::Error::other(
            "a group-commit leader panicked; the journal's state is unknown",
        ));
        let members = mem::take(&mut token.members);
        let err = WriteError::Poisoned(Arc::clone(&cause));
        for member in &members {
            member.answer(Reply::Done(Err(err.clone())));
        }
        let overflow = self.overflow.take();
        self.gc.release_token(token, overflow, Some(cause));
    }
}

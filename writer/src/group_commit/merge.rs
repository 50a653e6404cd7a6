//! Steps 2 and 3 of the leader's group commit: how much the leader may
//! merge, and taking the writes already waiting into its group.
//!
//! Merging a write is taking it out of the offers queue. That is the answer
//! "merged" (goleveldb's `writeMergedC <- true`), given without waking the
//! writer, which sleeps on until its ack.

use std::sync::Arc;

use super::leader::Leader;
use super::policy::merge_limit;
use super::slot::Slot;
use super::state::Token;
use super::GroupCommit;
use crate::metrics::Counters;
use crate::offer::{Durability, Own};
use crate::sync::lock;

impl Leader<'_> {
    /// Steps 2 and 3, for a leader whose own write `own` asked for
    /// `durability` and left `free` bytes of room: after the commit delay,
    /// merges the writes waiting, up to [`merge_limit`]. Returns the group's
    /// durability: `durability` OR-ed with every merged write's.
    pub(super) fn merge(
        &mut self,
        own: Own<'_>,
        free: usize,
        durability: Durability,
    ) -> Durability {
        let gc = self.gc;
        let mut group_durability = durability;
        if let (Some(pipeline), Durability::Synced) = (&gc.pipeline, durability) {
            // Pipelined, a synced leader lets the fsync in flight end
            // first, holding the lock, so that the writers arriving
            // meanwhile queue to be merged: the group appends just after
            // that fsync and starts the next, while the last group's
            // answers and wake-ups run beside it (`pipeline.rs`). The
            // commit delay then waits as it would unpipelined.
            pipeline.wait_for_sync(&gc.commit_delay);
        }
        gc.commit_delay
            .wait(durability, || lock(&gc.state).offers.len());
        let limit = merge_limit(own.internal_len(), free);
        if limit > 0 {
            let Token {
                backend, members, ..
            } = self.token();
            let is_large = |n| backend.is_large(n);
            let overflow = gc.take_offers(
                limit,
                own.n_records(),
                members,
                &mut group_durability,
                &is_large,
            );
            self.overflow = overflow;
        }
        group_durability
    }
}

impl GroupCommit {
    /// Step 3: takes the writes already waiting, oldest first, into
    /// `members` while they fit in `limit` and the group's `n_records`, OR-ing
    /// each one's durability into `group_durability`. Returns the first that
    /// does not fit (the overflow writer), or the first that `is_large`,
    /// which leads its own group whatever the limit.
    pub(super) fn take_offers(
        &self,
        mut limit: usize,
        mut n_records: usize,
        members: &mut Vec<Arc<Slot>>,
        group_durability: &mut Durability,
        is_large: &dyn Fn(usize) -> bool,
    ) -> Option<Arc<Slot>> {
        let mut state = lock(&self.state);
        while limit > 0 {
            let Some(front) = state.offers.front() else {
                break;
            };
            let offer = &front.slot.offer;
            if !offer.fits(limit, n_records) || is_large(offer.internal_len) {
                Counters::add(&self.counters.overflows, 1);
                return state.offers.pop_front().map(|waiter| waiter.slot);
            }
            limit -= offer.internal_len;
            n_records += offer.n_records;
            if !cfg!(feature = "seeded_bug_dropped_sync_flag") {
                *group_durability = group_durability.or(offer.durability);
            }
            let waiter = state.offers.pop_front().expect("front exists");
            members.push(waiter.slot);
        }
        None
    }
}

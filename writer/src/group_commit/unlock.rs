//! Step 8 of the leader's group commit (goleveldb `unlockWrite`): answer
//! every merged writer with the group's one result, then move the write lock
//! on (hand it to the overflow writer or the oldest waiter, or release it).
//!
//! The leader calls them in that order (`Leader::finish`); a panicking
//! leader's guard calls the hand-over alone.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use batch::SeqNum;

use super::policy::{self, Waker};
use super::slot::{answer_all, Reply, Slot, WakeNext};
use super::state::Token;
use super::GroupCommit;
use crate::sync::lock;
use crate::WriteError;

impl GroupCommit {
    /// The ack half of step 8: every merged writer gets the group's result;
    /// on success each its own first sequence number. Fills the slots and
    /// wakes nobody: the wake tree delivers the answers.
    pub(super) fn ack(
        &self,
        members: &[Arc<Slot>],
        own_records: usize,
        result: &Result<SeqNum, WriteError>,
    ) {
        self.counters
            .group_answered(1 + members.len() as u64, result.is_ok());
        self.commit_delay.note_group(1 + members.len() as u64);
        // Fill from the last member back: a member's children in the wake
        // tree come after it, so they are answered before it is. A member
        // that finds its answer without waiting for its wake-up (an unsynced
        // writer looks before it parks) may wake its children at once, and
        // they must find theirs.
        let total: u64 = members.iter().map(|m| m.offer.n_records as u64).sum();
        let mut seq_after = result
            .as_ref()
            .map_or(0, |first| first.0 + own_records as u64 + total);
        for (k, member) in members.iter().enumerate().rev() {
            let reply = match result {
                Ok(_) => {
                    seq_after -= member.offer.n_records as u64;
                    Ok(SeqNum(seq_after))
                }
                // Seeded bug (goleveldb-style #3096): followers are told OK
                // though the journal write failed.
                Err(_) if cfg!(feature = "seeded_bug_follower_ok_after_error") => Ok(SeqNum(0)),
                Err(err) => Err(err.clone()),
            };
            let wake_next: WakeNext = policy::woken_by(members, Waker::Member(k));
            member.fill(Reply::Done(reply), wake_next);
        }
    }

    /// The unlock half of step 8: record the poison, then hand the token to
    /// the overflow writer, or to the oldest waiter, or put it back. When the
    /// writer is closed, poisoned or has a background error, nobody gets it:
    /// the waiters (the overflow writer included) are answered with the
    /// error instead.
    pub(super) fn release_token(
        &self,
        token: Box<Token>,
        overflow: Option<Arc<Slot>>,
        poison: Option<Arc<io::Error>>,
    ) {
        let mut state = lock(&self.state);
        if let Some(cause) = poison {
            state.poisoned.get_or_insert(cause);
        }
        let (failed, err) = match state.check_write() {
            Ok(()) => (Vec::new(), None),
            Err(err) => {
                let mut failed = if state.closed {
                    state.drain_all()
                } else {
                    state.drain_writes()
                };
                failed.extend(overflow.clone());
                (failed, Some(err))
            }
        };
        let next = match (err.is_none(), overflow) {
            (true, Some(overflow)) => Some(overflow),
            _ if state.closed => None,
            _ => state.pop_oldest().map(|waiter| waiter.slot),
        };
        let handed = match next {
            Some(next) => Some((next, token)),
            None => {
                state.token = Some(token);
                self.lock_held.store(false, Ordering::Relaxed);
                if state.closer_waiting {
                    self.idle.notify_all();
                }
                None
            }
        };
        drop(state);
        if let Some(err) = err {
            answer_all(failed, &err);
        }
        if let Some((next, token)) = handed {
            next.answer(Reply::Lock(token));
        }
    }
}

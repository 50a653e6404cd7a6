//! The writers' meeting point ([`State`]), guarded by the one state mutex of
//! [`GroupCommit`](super::GroupCommit): the write lock ([`Token`]), the two
//! queues of waiting writers, and the sticky errors.
//!
//! Everything here runs under that mutex and is short: no backend call, no
//! waiting, no answer given (answers are given after the mutex is released).

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;

use batch::{Batch, SeqNum};

use super::slot::Slot;
use crate::offer::Merge;
use crate::{Backend, RoomError, WriteError};

/// Everything writers meet over.
pub(super) struct State {
    /// The write lock (goleveldb `writeLockC`): `Some` when free. Taking it
    /// out is acquiring the lock; whoever holds the [`Token`] holds the lock
    /// and the backend.
    // Invariant: while the token is free and the writer is not closed, both
    // queues are empty: a releasing leader hands the token to the oldest
    // waiter rather than put it back.
    pub(super) token: Option<Box<Token>>,
    /// Writes offered to the leader, oldest first (goleveldb `writeMergeC`).
    /// A writer in this queue is also waiting for the lock, as goleveldb's
    /// `select` sends on both `writeMergeC` and `writeLockC`.
    pub(super) offers: VecDeque<Waiter>,
    /// Writers that wait for the lock but do not merge (merging off for
    /// them), and maintenance tasks (`with_backend`), oldest first.
    pub(super) lockers: VecDeque<Waiter>,
    /// The ticket of the next waiter, to find the oldest of both queues.
    next_ticket: u64,
    /// Set by `close` (goleveldb `closeC`). Never cleared.
    pub(super) closed: bool,
    /// Whether `close` waits on the writer's `idle` condition variable for
    /// the token to come back.
    pub(super) closer_waiting: bool,
    /// The journal error that poisoned the writer. Never cleared.
    pub(super) poisoned: Option<Arc<io::Error>>,
    /// The persistent background error (goleveldb `compPerErrC`). Never
    /// cleared.
    pub(super) background: Option<RoomError>,
}

/// The write lock and what only its holder may touch.
pub(super) struct Token {
    /// The journal, memtable and flush side.
    pub(super) backend: Box<dyn Backend>,
    /// The last sequence number used by a committed group.
    pub(super) last_seq: SeqNum,
    /// The group being built: reused across groups to save allocations.
    // Invariant: cleared at the start of every group.
    pub(super) group: Batch,
    /// The writes merged into the group being built, in merge order.
    // Invariant: empty outside a group commit.
    pub(super) members: Vec<Arc<Slot>>,
}

/// A writer waiting in a queue.
pub(super) struct Waiter {
    /// Arrival order across both queues.
    ticket: u64,
    /// Where its answer goes.
    pub(super) slot: Arc<Slot>,
    /// What it waits for, which decides the errors that fail it.
    waiting: Waiting,
}

/// What a queued writer waits for: its queue, and which errors fail it
/// while it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Waiting {
    /// A write offered to the leader, to be merged or handed the lock
    /// ([`State::offers`]).
    Offer,
    /// A write that does not merge and waits for the lock only
    /// ([`State::lockers`]).
    Lock,
    /// A `with_backend` call: waits for the lock only
    /// ([`State::lockers`]), and fails only on close.
    Maintenance,
}

impl Waiting {
    /// How a write that merges as `merge` says waits.
    pub(super) fn write(merge: Merge) -> Waiting {
        match merge {
            Merge::Allowed => Waiting::Offer,
            Merge::Alone => Waiting::Lock,
        }
    }
}

impl State {
    /// A free write lock holding `token`, no waiter, no error.
    pub(super) fn new(token: Token) -> State {
        State {
            token: Some(Box::new(token)),
            offers: VecDeque::new(),
            lockers: VecDeque::new(),
            next_ticket: 0,
            closed: false,
            closer_waiting: false,
            poisoned: None,
            background: None,
        }
    }

    /// Why a write arriving now fails at once, if it does: closed, then
    /// poisoned, then a background error.
    pub(super) fn check_write(&self) -> Result<(), WriteError> {
        if self.closed {
            Err(WriteError::Closed)
        } else if let Some(cause) = &self.poisoned {
            Err(WriteError::Poisoned(Arc::clone(cause)))
        } else if let Some(err) = &self.background {
            Err(WriteError::Background(err.clone()))
        } else {
            Ok(())
        }
    }

    /// Queues the writer answered through `slot`, behind every writer
    /// already waiting, in the queue `waiting` says.
    pub(super) fn enqueue(&mut self, slot: Arc<Slot>, waiting: Waiting) {
        let waiter = Waiter {
            ticket: self.next_ticket,
            slot,
            waiting,
        };
        self.next_ticket += 1;
        match waiting {
            Waiting::Offer => self.offers.push_back(waiter),
            Waiting::Lock | Waiting::Maintenance => self.lockers.push_back(waiter),
        }
    }

    /// Whether any writer waits for the lock (to be merged or to lead).
    pub(super) fn has_waiters(&self) -> bool {
        !self.offers.is_empty() || !self.lockers.is_empty()
    }

    /// Removes the oldest waiter of both queues.
    pub(super) fn pop_oldest(&mut self) -> Option<Waiter> {
        let offers_first = match (self.offers.front(), self.lockers.front()) {
            (Some(offer), Some(locker)) => offer.ticket < locker.ticket,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if offers_first {
            self.offers.pop_front()
        } else {
            self.lockers.pop_front()
        }
    }

    /// Removes every waiting write, keeping maintenance waiters.
    pub(super) fn drain_writes(&mut self) -> Vec<Arc<Slot>> {
        let mut failed: Vec<Arc<Slot>> = self.offers.drain(..).map(|w| w.slot).collect();
        self.lockers.retain(|waiter| {
            if waiter.waiting == Waiting::Maintenance {
                true
            } else {
                failed.push(Arc::clone(&waiter.slot));
                false
            }
        });
        failed
    }

    /// Removes every waiter.
    pub(super) fn drain_all(&mut self) -> Vec<Arc<Slot>> {
        let offers = self.offers.drain(..);
        offers
            .chain(self.lockers.drain(..))
            .map(|w| w.slot)
            .collect()
    }
}

impl Token {
    /// The write lock over `backend`, whose last used sequence number is
    /// `last_seq`.
    pub(super) fn new(backend: Box<dyn Backend>, last_seq: SeqNum) -> Token {
        Token {
            backend,
            last_seq,
            group: Batch::new(),
            members: Vec::new(),
        }
    }

    /// Step 4: gives the group built in `group` the sequence numbers after
    /// the last one used; returns its first and last.
    pub(super) fn number_group(&mut self) -> Result<(SeqNum, SeqNum), WriteError> {
        let n_records = self.group.len() as u64;
        let first = self.last_seq.checked_add(1);
        let last = first.and_then(|first| first.checked_add(n_records - 1));
        let (Some(first), Some(last)) = (first, last) else {
            return Err(WriteError::SeqOverflow {
                last: self.last_seq,
                n_records,
            });
        };
        self.group.set_seq(first);
        Ok((first, last))
    }
}

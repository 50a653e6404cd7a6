//! One waiting writer's place in the protocol ([`Slot`]): its offer, the
//! answer it is given ([`Reply`]), and its wait for that answer.
//!
//! A slot is goleveldb's `writeMergedC` and `writeAckC`, private to one
//! writer. A leader answers by filling the slot, which never blocks the
//! leader; the writer sleeps on the slot's own condition variable, so an
//! answer wakes exactly one thread.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use batch::SeqNum;

use super::policy::{Parking, FAN_OUT};
use super::state::Token;
use crate::offer::Offer;
use crate::sync::{lock, wait, AtomicBool, Condvar, Mutex};
use crate::WriteError;

/// One waiting writer's offer and the place for its answer.
pub(super) struct Slot {
    /// The offered write.
    pub(super) offer: Offer,
    /// The answer, once given, and the writers this one must wake after
    /// taking it (see [`WakeNext`]).
    // Invariant: filled exactly once.
    pub(super) reply: Mutex<Option<(Reply, WakeNext)>>,
    /// Signalled when `reply` is filled.
    ready: Condvar,
    /// Whether the writer went to sleep on `ready` (see [`Slot::wake`]).
    // Invariant: set only under the `reply` mutex, while `reply` is empty.
    parked: AtomicBool,
}

/// The answer to a waiting writer.
pub(super) enum Reply {
    /// Done: the result of the group it was merged into, or a reason it was
    /// never attempted (closed, poisoned, background error).
    Done(Result<SeqNum, WriteError>),
    /// The write lock is yours: the writer leads a group of its own. Carries
    /// the token, handed over without being released.
    Lock(Box<Token>),
}

/// Merged writers a woken writer wakes in turn: its children in the wake
/// tree, whose shape is policy ([`woken_by`](super::policy::woken_by)).
///
/// The leader fills every member's slot before it moves the lock on, then
/// wakes only the tree's roots; each member wakes its children as soon as it
/// runs.
pub(super) type WakeNext = [Option<Arc<Slot>>; FAN_OUT];

/// How a writer came out of waiting.
pub(super) enum Acquired {
    /// It holds the write lock.
    Lock(Box<Token>),
    /// It is done, with this result.
    Done(Result<SeqNum, WriteError>),
}

impl Slot {
    /// An empty slot for a writer that offers `offer`.
    pub(super) fn new(offer: Offer) -> Slot {
        Slot {
            offer,
            reply: Mutex::new(None),
            ready: Condvar::new(),
            parked: AtomicBool::new(false),
        }
    }

    /// Fills the slot with its answer without waking the writer; `wake_next`
    /// are the writers it must wake once it runs.
    pub(super) fn fill(&self, reply: Reply, wake_next: WakeNext) {
        let mut slot = lock(&self.reply);
        debug_assert!(slot.is_none(), "a writer was answered twice");
        *slot = Some((reply, wake_next));
    }

    /// Wakes the writer, whose slot is filled, if it sleeps: a writer that
    /// found its answer while yielding needs no futex wake-up.
    pub(super) fn wake(&self) {
        // `parked` is stored under the `reply` mutex before the writer
        // sleeps, and the slot was filled under that mutex before this call:
        // by this thread, or by the leader, which fills a child's slot
        // before its parent's (`ack` goes from the last member back), and
        // the parent calling this took its own answer under its mutex
        // since. So either the store happened before the fill, and is
        // visible here through those mutexes, or the writer sees the answer
        // and never sleeps.
        if self.parked.load(Ordering::Relaxed) {
            self.ready.notify_one();
        }
    }

    /// Gives the waiting writer its answer and wakes it. Never blocks on the
    /// writer: it only fills the slot and signals, and the writer runs on its
    /// own time.
    pub(super) fn answer(&self, reply: Reply) {
        self.fill(reply, Default::default());
        self.wake();
    }

    /// Waits for the answer, then wakes the writers this one must wake.
    ///
    /// Before it parks, the writer looks for its answer as `parking` says.
    pub(super) fn wait(&self, parking: Parking) -> Acquired {
        parking.wait_for(|| self.reply.try_lock().is_ok_and(|reply| reply.is_some()));
        let mut slot = lock(&self.reply);
        let (reply, wake_next) = loop {
            match slot.take() {
                Some(answer) => break answer,
                None => {
                    self.parked.store(true, Ordering::Relaxed);
                    slot = wait(&self.ready, slot);
                }
            }
        };
        drop(slot);
        for next in wake_next.into_iter().flatten() {
            next.wake();
        }
        match reply {
            Reply::Done(result) => Acquired::Done(result),
            Reply::Lock(token) => Acquired::Lock(token),
        }
    }
}

/// Answers every slot with `err`.
pub(super) fn answer_all(slots: Vec<Arc<Slot>>, err: &WriteError) {
    for slot in slots {
        slot.answer(Reply::Done(Err(err.clone())));
    }
}

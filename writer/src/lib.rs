//! Group commit for Tributary: the write-merge protocol of goleveldb
//! (`leveldb/db_write.go`), written against trait objects.
//!
//! An fsync costs about the same whether it makes one write durable or a
//! hundred; on this project's machines, about 150 µs.
//! Group commit lets the writes that arrive while one fsync runs share the
//! next one.
//! The first writer to find the write lock free becomes the *leader*: it
//! takes the writes queued behind it, writes them to the journal as one
//! record, syncs once if any of them asked, applies them to the memtable,
//! and gives every member the group's one result.
//! At 64 threads this multiplies synced-write throughput by tens (see
//! [Speed](#speed)).
//!
//! This crate is that protocol and nothing else.
//! It does no I/O and names neither the journal nor the memtable: it calls
//! them through three traits, [`Log`], [`Memtable`] and [`Room`] (together a
//! [`Backend`]), so that it can be tested with fakes and model-checked with
//! loom.
//! The design documents are `WRITE-MERGE.md` (the protocol) and
//! `goleveldb-write-path.md` §1, §2, §7 and §8 (goleveldb's code and its
//! known bugs).
//!
//! # The protocol at a glance
//!
//! **A writer** ([`GroupCommit::put`], [`delete`](GroupCommit::delete),
//! [`write`](GroupCommit::write)):
//!
//! 1. If the write lock is free, take it and lead (2).
//!    Otherwise offer the write to the leader (unless merging is off for it,
//!    in which case only wait for the lock) and sleep until one of three
//!    answers comes:
//!    - *merged*: the leader took the write into its group; the answer is
//!      that group's result;
//!    - *the lock*: the leader could not fit the write (it *overflowed*), or
//!      the lock came free; the lock is handed over without being released:
//!      lead (2);
//!    - *an error*: closed, poisoned, or a background error. Nothing of the
//!      write was applied.
//!
//!    A writer that arrives when the writer is closed, poisoned or has a
//!    background error fails at once.
//! 2. Lead a group commit with our own write first.
//!
//! **The leader's group commit:**
//!
//! 1. *Make room* for our own write: `Room::make_room` may rotate the
//!    memtable, stall while level 0 is full, or fail (then only we fail, and
//!    the lock moves on).
//! 2. *Merge limit*: 128 KiB, or 1 MiB minus our write when it is over
//!    128 KiB; never more than the free room minus our write
//!    ([`merge_limit`]).
//! 3. *Merge* the writes already waiting, oldest first, without waiting for
//!    any: while the limit is above zero, take the next offer; if it does
//!    not fit what is left of the limit, it is the *overflow* writer and
//!    merging stops; else it joins the group and its sync flag is OR-ed into
//!    the group's.
//! 4. *Sequence numbers*: the group takes `last + 1 ..= last + records`, in
//!    merge order; past [`batch::MAX_SEQ`] the group fails instead.
//! 5. *Journal*: one `Log::append` of the whole group as one batch (one
//!    header, every member's records), then one `Log::sync` if any member
//!    asked for sync.
//! 6. *Memtable*: `Memtable::apply`, which inserts every record and then
//!    publishes the last sequence number, so readers see all of the group or
//!    none of it.
//! 7. *Rotate if full*: `Room::after_write`.
//! 8. *Unlock*: answer every member with the group's one result, and only
//!    then hand the lock to the overflow writer, or else to the oldest
//!    waiting writer, or else release it.
//!
//! **Pipelined** ([`Options::pipelined`], with a backend whose
//! [`Log::syncer`] gives a [`Syncer`]): steps 5 and 8 are split. The
//! leader appends, applies and publishes, makes room after the group (step
//! 7) and hands the lock on; only then does it wait for the fsync that
//! covers its group, if a member asked for one, and answer the members.
//! The next leader merges and appends while that fsync runs. One fsync
//! runs at a time, started by a waiter whose group is not yet durable, and
//! covers every group appended before it began; a failed fsync fails
//! every group it did not cover and poisons the writer. A group is visible
//! before its fsync ends (as any unsynced write is), and answered only
//! after it. `close` waits for the groups in flight. A synced group's
//! lock moves on before its fsync only to a writer already waiting for
//! it, and only after a small group (at most 8 writes); else the leader
//! keeps it through the fsync, as unpipelined.
//!
//! **A large write**, one that `Room::is_large` says no memtable can hold
//! (goleveldb's large-batch transaction), is never merged: a leader meeting
//! it in the queue stops merging there, as at an overflow. Leading, it is
//! numbered as step 4 says and then handed whole to `Room::write_large`,
//! which makes it durable and visible in one step in place of steps 1 and
//! 5 to 7 (a database writes it straight to tables). If that fails, nothing
//! of it is left, its sequence numbers go to the next write, and the
//! writer is not poisoned.
//!
//! # From goleveldb's channels to reply slots
//!
//! goleveldb runs this protocol over Go channels, and
//! [`channels::GroupCommit`] does so one for one over crossbeam-channel.
//! Rendezvous hand-offs are cheap between goroutines but not between OS
//! threads: on these 2-core machines a `bounded(0)` hop costs about 20 µs,
//! because the sender waits until the receiving thread runs. A leader that
//! sends `merged <- true` and then `ack <- err` to each member pays two hops
//! per member: for a group of 30, more than a millisecond for one fsync.
//! [`GroupCommit`] keeps the semantics and changes the plumbing so that the
//! leader never waits for another thread:
//!
//! | goleveldb | role | here |
//! |---|---|---|
//! | `writeLockC` (capacity 1) | the write lock | `State::token`: an `Option<Box<Token>>` under the state mutex. Taking it out is acquiring the lock; the `Token` owns the backend, so only its holder can call it. |
//! | `writeMergeC` (capacity 0) | a writer offers its write | `State::offers`: a `VecDeque` of `Slot`s, each holding an owned copy of the write (the leader cannot borrow from another thread's stack). A rendezvous only pairs with senders already blocked; popping the queue only finds writers already queued: the same "only writers already waiting are merged". |
//! | `writeMergedC <- true` | "merged: wait for the ack" | Taking the slot out of the queue. No message: the writer sleeps on until its answer, and can no longer be failed by `close`. |
//! | `writeMergedC <- false` | "not merged: the lock is yours" | `Reply::Lock(token)` in the overflow writer's slot: the token itself changes hands. |
//! | `writeAckC <- err` | the group's result, once per member | `Reply::Done(result)` in each member's slot, filled before the lock is released or handed off; the members are then woken through a *wake tree*: the leader wakes the first four members, and each woken member wakes up to four more (the fan-out, `FAN_OUT` in `group_commit/policy.rs`). |
//! | `<-writeLockC` | release the lock | `release_token`: hand the token to the oldest waiter (both queues), or put it back. |
//! | `writeLockC <- {}` in a non-merging writer's `select` | wait for the lock only | `State::lockers`: writers that wait for the lock but do not merge, and `with_backend` calls. |
//! | `compPerErrC` | a persistent background error | `State::background`: `set_background_error` answers every queued writer with it, and writers that arrive later fail at once. |
//! | `closeC` | close | `State::closed`: `close` answers every queued writer `Closed`, then waits (on the `idle` condition variable) for the token and keeps it. |
//!
//! Each waiting writer sleeps on its own slot's condition variable, so an
//! answer wakes exactly one thread and never blocks the leader. Everything
//! is `Mutex` + `Condvar` from a shim (`crate::sync`) that becomes loom's
//! under `--cfg loom`, which is how the protocol is model-checked.
//!
//! Refinements within goleveldb's semantics (each is one of the schedules
//! goleveldb allows):
//! - A released lock goes to the oldest waiter; goleveldb's blocked selects
//!   race for it.
//! - An arriving writer checks close, then poisoning, then the background
//!   error, then the lock; goleveldb's `select` picks among ready cases at
//!   random.
//! - Merged records keep merge order. goleveldb gathers every merged single
//!   put into one batch at the first one's position.
//! - The wake tree delivers acks that are already fixed; each member's
//!   result is determined before the lock moves on (the fix of goleveldb
//!   #136 / PR #137).
//!
//! Deliberate changes of policy:
//! - After a journal append or sync failure the writer is *poisoned*: the
//!   group's members get [`WriteError::Log`], every later write
//!   [`WriteError::Poisoned`] with the same cause. goleveldb keeps going
//!   after a failed fsync and gives the next group the same sequence number
//!   (its quirk (a)); an fsync is never retried here.
//! - An error from `Room::after_write` does not fail the group, whose data
//!   is journaled and applied; it becomes the persistent background error.
//!   goleveldb returns it to the group.
//! - A handed-over lock (overflow) is not used when the writer is closed,
//!   poisoned or has a background error: the overflow writer gets that error.
//!
//! # Code map
//!
//! | part | code (folder `src/group_commit/`) | goleveldb |
//! |---|---|---|
//! | writer step 1 | `GroupCommit::write_own`, `GroupCommit::acquire` (`mod.rs`), `Slot::wait` (`slot.rs`) | `Write`, `putRec`: the `select` |
//! | an offer | `offer::Offer` (a batch copy, or one record: the `putRec` path) | `writeMerge` |
//! | the meeting point | `State`, `Token` (`state.rs`) | the channels above |
//! | leader steps 1-7 | `Leader::commit` (`leader.rs`) | `writeLocked`, `flush`, `writeJournal`, `putMem`, `addSeq`, `rotateMem` |
//! | step 2 | [`merge_limit`] (`policy.rs`), called by `Leader::merge` (`merge.rs`) | `mergeLimit` in `writeLocked` |
//! | step 3 | `GroupCommit::take_offers` (`merge.rs`) | the `writeMergeC` loop in `writeLocked` |
//! | step 8 | `Leader::finish` (`leader.rs`), `GroupCommit::ack`, `GroupCommit::release_token` (`unlock.rs`) | `unlockWrite` |
//! | poisoning | `Leader::fail_journal` (`leader.rs`) | (none: sticky journal error, #196) |
//! | a panicking backend | `Drop for Leader` (poisons, answers the group, moves the lock on) | (none) |
//! | persistent error | [`GroupCommit::set_background_error`] | `compactionError`, `compPerErrC` |
//! | close | [`GroupCommit::close`] | `Close`: `close(closeC)`, then `writeLockC <- {}` |
//! | maintenance under the lock | [`GroupCommit::with_backend`] | `CompactRange` etc. taking `writeLockC` |
//! | policy: merge limits, commit delay, spinning before parking, wake-tree fan-out | `policy.rs`, every tuning constant with why it has its value | `mergeLimit`; the rest has no goleveldb counterpart |
//!
//! # Invariants
//!
//! These hold on every path and are what the tests check:
//!
//! - Every write returns exactly once: with the result of the group it was
//!   in, or with an error under which nothing of it was applied.
//! - A group is one journal record: recovery replays all of it or none of
//!   it. A write is never split across groups.
//! - Sequence numbers are dense and increasing in journal order, the
//!   memtable applies groups in journal order, and no sequence number is
//!   given out twice, not even after a failed append.
//! - A write asked with `sync` returns only after an fsync that covers it.
//! - Every member of a group is answered before the lock is released or
//!   handed off.
//! - Only the holder of the write lock calls the backend, so it is never
//!   called from two threads at once.
//! - A leader merges at most [`merge_limit`]`(own, free)` internal bytes.
//! - [`GroupCommit::close`] fails every waiting writer with `Closed`, lets
//!   the group in flight finish, and returns only after that group's
//!   members were answered; the backend is not called after it returns.
//!
//! # Example
//!
//! ```
//! use std::io;
//! use std::sync::Arc;
//! use std::thread;
//!
//! use batch::{Batch, SeqNum};
//! use writer::{GroupCommit, Log, Memtable, Options, Room, RoomError, WriteOptions};
//!
//! /// A journal in memory and a memtable that only counts.
//! #[derive(Default)]
//! struct InMemory {
//!     journal: Vec<Vec<u8>>,
//!     applied: usize,
//! }
//!
//! impl Log for InMemory {
//!     fn append(&mut self, group: &Batch) -> io::Result<()> {
//!         self.journal.push(group.as_bytes().to_vec());
//!         Ok(())
//!     }
//!     fn sync(&mut self) -> io::Result<()> {
//!         Ok(())
//!     }
//! }
//!
//! impl Memtable for InMemory {
//!     fn apply(&mut self, group: &Batch) {
//!         self.applied += group.len();
//!     }
//! }
//!
//! impl Room for InMemory {
//!     fn make_room(&mut self, _n: usize) -> Result<usize, RoomError> {
//!         Ok(4 << 20) // the memtable's free room
//!     }
//!     fn after_write(&mut self, _applied: usize) -> Result<(), RoomError> {
//!         Ok(())
//!     }
//! }
//!
//! let gc = Arc::new(GroupCommit::new(
//!     Box::new(InMemory::default()),
//!     SeqNum(0),
//!     Options::new(),
//! ));
//!
//! // Eight threads put at once; some of them share a group and an fsync.
//! let threads: Vec<_> = (0..8_u8)
//!     .map(|i| {
//!         let gc = Arc::clone(&gc);
//!         thread::spawn(move || gc.put(&[i], b"value", WriteOptions::synced()))
//!     })
//!     .collect();
//! let mut seqs: Vec<SeqNum> = threads.into_iter().map(|t| t.join().unwrap().unwrap()).collect();
//! seqs.sort();
//! assert_eq!(seqs, (1..=8).map(SeqNum).collect::<Vec<_>>());
//!
//! // A batch takes consecutive sequence numbers; the caller's batch is not
//! // modified.
//! let mut batch = Batch::new();
//! batch.put(b"a", b"1");
//! batch.delete(b"b");
//! assert_eq!(gc.write(&batch, WriteOptions::new())?, SeqNum(9));
//! assert_eq!(gc.last_seq(), SeqNum(10));
//!
//! let metrics = gc.metrics();
//! assert_eq!(metrics.writes, 9);
//! assert!(metrics.groups <= 9 && metrics.fsyncs <= 8);
//!
//! gc.close()?;
//! assert!(gc.put(b"late", b"v", WriteOptions::new()).is_err());
//!
//! // The backend comes back once every thread is done with the writer.
//! let mut backend = Arc::into_inner(gc).unwrap().into_backend().unwrap();
//! let memory = backend.as_any_mut().downcast_mut::<InMemory>().unwrap();
//! assert_eq!(memory.applied, 10);
//! # Ok::<(), writer::WriteError>(())
//! ```
//!
//! # Checking it
//!
//! - `tests/loom.rs` model-checks the protocol with loom (RELIABILITY.md row
//!   C1): three writers with mixed sync race a `close`, with a journal
//!   failure at append k for k in {none, 1, 2} or at fsync 1; further
//!   models add an overflow hand-off, a writer that does not merge, a
//!   background error and `with_backend`; the pipelined models put two
//!   groups in flight, with a failure at append 1 or 2 or fsync 1 or 2. Loom rather than shuttle: the protocol is `Mutex` +
//!   `Condvar` (not crossbeam channels, which loom cannot model), and loom
//!   explores every interleaving within the preemption bound instead of a
//!   random sample.
//!
//!   ```text
//!   RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!       cargo test -p tributary-writer --test loom --release
//!   ```
//!
//!   Without `LOOM_MAX_PREEMPTIONS` the tests use 3.
//! - Seven seeded bugs, compiled in with the feature `seeded_bug_NAME`, each
//!   make that run fail: `ack_after_unlock` (goleveldb #136: the lock is
//!   released before the members are answered; caught because `close`
//!   returns before they are), `follower_ok_after_error` (members told OK
//!   after a failed append), `dropped_sync_flag` (a member's sync is not
//!   OR-ed into the group's), `seq_reuse_after_error` (a failed append does
//!   not poison, and the next group reuses its sequence numbers), and the
//!   pipeline's `ack_before_sync` (members answered before their fsync),
//!   `publish_after_hand_off` (a group published after the next one) and
//!   `failed_sync_covers_later_groups` (a failed fsync reported as success
//!   to the groups it covered). `writer/seeded-bugs.sh` runs all seven and
//!   expects each to fail:
//!
//!   ```text
//!   RUSTFLAGS="--cfg loom" cargo test -p tributary-writer --test loom --release \
//!       --features seeded_bug_ack_after_unlock   # must fail
//!   ```
//! - `tests/stress.rs` runs 64 threads against a fake that records every
//!   call, on both implementations, and checks the whole history;
//!   `tests/protocol.rs` checks the merge rules one by one.
//!
//! # Speed
//!
//! `cargo bench -p tributary-writer --bench group_commit` measures both
//! implementations over an in-memory journal whose fsync sleeps 150 µs (see
//! `writer/README.md` for the figures). In short: at 64 threads the reply
//! slots commit about 30 times the merge-off throughput with groups of about
//! 32 writes, against 6 to 8 times for the rendezvous channels, and cost
//! about 0.2 µs per write at one thread.

pub mod channels;

mod backend;
mod error;
mod group_commit;
mod metrics;
mod offer;
mod options;
mod sync;

pub use backend::{Backend, Log, Memtable, Room, Syncer};
pub use error::{RoomError, WriteError};
pub use group_commit::policy::{merge_limit, MERGE_LIMIT, MERGE_LIMIT_LARGE};
pub use group_commit::GroupCommit;
pub use metrics::Metrics;
pub use options::{Options, WriteOptions};

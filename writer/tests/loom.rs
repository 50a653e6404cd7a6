//! Model checking of the write-merge protocol with loom (RELIABILITY.md row
//! C1): three writers, one of them without sync, race each other and a
//! `close`; the journal fails at append k for k in {none, 1, 2}, or at
//! fsync 1. Further models race the same writers with an overflow hand-off
//! (with and without a journal error), a writer that does not merge, a
//! background error, and a `with_backend` call. The pipelined models run
//! the same writers with `Options::pipelined`, where a leader hands the
//! lock on before its fsync, so that two groups are in flight (the next
//! one appends during the last one's fsync), with the journal failing at
//! append 1 or 2 or at fsync 1 or 2.
//!
//! Run with (see the crate docs for the seeded bugs):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p tributary-writer --test loom --release
//! ```
//!
//! Invariants, checked on every explored interleaving:
//! - an `Ok(seq)` write was journaled exactly once, at `seq`, and applied;
//! - a failed write was neither journaled (by a successful append) nor
//!   applied, unless an fsync failed: then the groups it was to cover are
//!   journaled (and, pipelined, applied), and fail with its error; a
//!   pipelined group appended after the failure fails as poisoned;
//! - successful appends take dense sequence numbers from 1, and the memtable
//!   applies exactly them, in journal order; no append attempt, failed or
//!   not, reuses a sequence number;
//! - a write acknowledged with sync is covered by a successful fsync when it
//!   returns, and every acknowledged write is visible (`last_seq` at or
//!   past it);
//! - at most one fsync of the pipeline runs at a time;
//! - errors are the right ones: `Log` only for members of the failed group,
//!   `Poisoned` only after a failure;
//! - `close` returns only after every write of every group that reached the
//!   journal has been answered, and no backend call follows it;
//! - the backend is never called from two threads at once;
//! - no deadlock (loom reports one if every thread blocks).

#![cfg(loom)]

mod support;

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use batch::SeqNum;
use loom::thread;
use support::{lock, Config, Fake, Journal};
use writer::{GroupCommit, Options, RoomError, WriteError, WriteOptions};

/// One model: three writers, and what the main thread does besides
/// `close`.
#[derive(Clone, Copy)]
struct Spec {
    /// How many of the three writers run.
    n_writers: usize,
    /// Per writer: whether it syncs.
    sync: [bool; 3],
    /// Per writer: whether it may merge.
    merge: [bool; 3],
    /// The 1-based append that fails.
    fail_append: Option<usize>,
    /// The 1-based fsync that fails.
    fail_sync: Option<usize>,
    /// Whether the writer is pipelined.
    pipelined: bool,
    /// The free room `make_room` reports.
    free: usize,
    /// Before closing, the main thread sets a background error.
    background_error: bool,
    /// Before closing, the main thread runs `with_backend`.
    maintenance: bool,
    /// The main thread closes only after joining the writers, so that no
    /// preemption is spent on keeping `close` out of their way (the
    /// overflow models need their preemptions for the writers: at bound 2 a
    /// racing `close` leaves none for an overflow).
    close_after_join: bool,
}

/// Mixed sync, so that a non-sync leader may merge a sync follower; room
/// for every write.
const C1: Spec = Spec {
    n_writers: 3,
    sync: [false, true, true],
    merge: [true; 3],
    fail_append: None,
    fail_sync: None,
    pipelined: false,
    free: 1 << 20,
    background_error: false,
    maintenance: false,
    close_after_join: false,
};

/// Each put takes `1 + 1 + 8` internal bytes; with this much free room a
/// leader may merge 15 bytes: one follower, after which 5 bytes are left, so
/// a second waiting follower overflows and is handed the lock.
const ROOM_FOR_ONE_FOLLOWER: usize = 25;

#[test]
fn no_journal_error() {
    check(C1);
}

#[test]
fn journal_error_at_first_append() {
    check(Spec {
        fail_append: Some(1),
        ..C1
    });
}

#[test]
fn journal_error_at_second_append() {
    check(Spec {
        fail_append: Some(2),
        ..C1
    });
}

#[test]
fn sync_error_at_first_sync() {
    check(Spec {
        fail_sync: Some(1),
        ..C1
    });
}

/// C1 pipelined: the leader of a synced group hands the lock on before
/// its fsync.
const P1: Spec = Spec {
    pipelined: true,
    ..C1
};

#[test]
fn pipelined_no_error() {
    check(P1);
}

#[test]
fn pipelined_journal_error_at_first_append() {
    check(Spec {
        fail_append: Some(1),
        ..P1
    });
}

#[test]
fn pipelined_journal_error_at_second_append() {
    check(Spec {
        fail_append: Some(2),
        ..P1
    });
}

#[test]
fn pipelined_sync_error_at_first_sync() {
    check(Spec {
        fail_sync: Some(1),
        ..P1
    });
}

#[test]
fn pipelined_sync_error_at_second_sync() {
    check(Spec {
        fail_sync: Some(2),
        ..P1
    });
}

/// Checks `spec`, which leaves room for one follower only, and that some
/// interleaving handed the lock to the overflow writer.
fn check_overflow_hand_off(spec: Spec) {
    let n_overflows = check(Spec {
        free: ROOM_FOR_ONE_FOLLOWER,
        close_after_join: true,
        ..spec
    });
    assert!(
        n_overflows > 0,
        "no interleaving handed the lock to an overflow writer"
    );
}

#[test]
fn overflow_hand_off() {
    check_overflow_hand_off(C1);
}

#[test]
fn overflow_hand_off_after_a_journal_error() {
    check_overflow_hand_off(Spec {
        fail_append: Some(1),
        ..C1
    });
}

#[test]
fn a_writer_that_does_not_merge() {
    check(Spec {
        merge: [true, false, true],
        ..C1
    });
}

#[test]
fn background_error_then_close() {
    check(Spec {
        background_error: true,
        ..C1
    });
}

/// Two writers only: with three, this model has a million interleavings.
#[test]
fn maintenance_then_close() {
    check(Spec {
        n_writers: 2,
        maintenance: true,
        ..C1
    });
}

/// Explores every interleaving of `spec` within the preemption bound and
/// returns in how many of them an overflow writer was handed the lock.
fn check(spec: Spec) -> usize {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    let iterations = Arc::new(AtomicUsize::new(0));
    let overflows = Arc::new(AtomicUsize::new(0));
    let (counted, counted_overflows) = (Arc::clone(&iterations), Arc::clone(&overflows));
    builder.check(move || {
        counted.fetch_add(1, Relaxed);
        let mut config = Config::new();
        config.fail_append = spec.fail_append;
        config.fail_sync = spec.fail_sync;
        config.free = spec.free;
        let fake = Fake::new(config);
        let journal = Arc::clone(&fake.journal);
        let options = if spec.pipelined {
            Options::pipelined()
        } else {
            Options::new()
        };
        let gc = Arc::new(GroupCommit::new(Box::new(fake), SeqNum(0), options));
        assert_eq!(gc.is_pipelined(), spec.pipelined);

        let writers: Vec<_> = (0..spec.n_writers)
            .map(|i| {
                let gc = Arc::clone(&gc);
                let journal = Arc::clone(&journal);
                thread::spawn(move || {
                    let opts = WriteOptions {
                        sync: spec.sync[i],
                        merge: spec.merge[i],
                    };
                    let result = gc.put(&[i as u8], b"v", opts);
                    if let Ok(seq) = &result {
                        let visible = gc.last_seq();
                        assert!(
                            visible >= *seq,
                            "writer {i}: acked at seq {seq} but only {visible} is visible"
                        );
                    }
                    if let (Ok(seq), true) = (&result, spec.sync[i]) {
                        let synced = lock(&journal).synced_through;
                        assert!(
                            synced >= seq.0,
                            "writer {i}: sync write acked at seq {seq} but synced only through {synced}"
                        );
                    }
                    result
                })
            })
            .collect();

        let mut writers = Some(writers);
        let mut results = Vec::new();
        if spec.close_after_join {
            results = join(writers.take().unwrap());
        }
        if spec.background_error {
            gc.set_background_error(RoomError::new("injected background error"));
        }
        if spec.maintenance {
            let journal = Arc::clone(&journal);
            gc.with_backend(move |_| {
                lock(&journal).busy = true;
                // Another lock of the fake's mutex, so that a write in
                // flight could interleave here.
                lock(&journal).busy = false;
            })
            .expect("not closed yet");
        }
        gc.close().expect("first close");
        let metrics = gc.metrics();
        if metrics.overflows > 0 {
            counted_overflows.fetch_add(1, Relaxed);
        }
        let answered = metrics.writes + metrics.failed_writes;
        {
            let mut journal = lock(&journal);
            journal.closed = true;
            let attempted: usize = journal.appends.iter().map(|a| a.records.len()).sum();
            assert_eq!(
                answered, attempted as u64,
                "close returned before every write of the groups that reached the journal was answered"
            );
        }

        if let Some(writers) = writers {
            results = join(writers);
        }
        assert!(matches!(
            gc.put(b"late", b"v", WriteOptions::new()),
            Err(WriteError::Closed)
        ));
        assert!(matches!(gc.close(), Err(WriteError::Closed)));
        verify(&lock(&journal), &results, spec);
    });
    let n_overflows = overflows.load(Relaxed);
    println!(
        "{} interleavings explored, {n_overflows} with an overflow hand-off",
        iterations.load(Relaxed)
    );
    n_overflows
}

fn join(
    writers: Vec<thread::JoinHandle<Result<SeqNum, WriteError>>>,
) -> Vec<Result<SeqNum, WriteError>> {
    writers
        .into_iter()
        .map(|writer| writer.join().unwrap())
        .collect()
}

fn verify(journal: &Journal, results: &[Result<SeqNum, WriteError>], spec: Spec) {
    assert_eq!(
        journal.calls_after_close, 0,
        "backend called after close returned"
    );
    assert_eq!(journal.overlapping_calls, 0, "backend called concurrently");
    assert_eq!(journal.overlapping_syncs, 0, "two fsyncs ran at once");
    let sync_failed = spec.fail_sync.is_some_and(|k| journal.n_syncs >= k);

    // Dense sequence numbers; the memtable applies exactly the successful
    // appends, in order.
    let ok_appends: Vec<_> = journal.appends.iter().filter(|a| a.ok).collect();
    let mut next = 1;
    for append in &ok_appends {
        assert_eq!(
            append.seq, next,
            "sequence numbers not dense: {:?}",
            journal.appends
        );
        next += append.records.len() as u64;
    }
    let mut applied: Vec<_> = ok_appends
        .iter()
        .map(|a| (a.seq, a.records.len()))
        .collect();
    if sync_failed && journal.applied.len() < applied.len() {
        // A group applied only after its fsync (unpipelined), or appended
        // by a pipelined leader that then found an fsync had failed, is
        // journaled and not applied: the last one, as the writer is then
        // poisoned.
        applied.pop();
    }
    assert_eq!(journal.applied, applied, "memtable and journal disagree");

    // No sequence number is handed out twice, even after a failed append.
    let mut taken: Vec<u64> = journal.appends.iter().flat_map(|a| a.seqs()).collect();
    taken.sort_unstable();
    let n_taken = taken.len();
    taken.dedup();
    assert_eq!(
        taken.len(),
        n_taken,
        "a sequence number was reused: {:?}",
        journal.appends
    );

    let failed_at = spec.fail_append.filter(|&k| k <= journal.appends.len());
    for (i, result) in results.iter().enumerate() {
        let key = [i as u8];
        let journaled: Vec<u64> = ok_appends
            .iter()
            .flat_map(|a| {
                a.records
                    .iter()
                    .zip(a.seqs())
                    .filter(|(record, _)| record.key == key)
                    .map(|(_, seq)| seq)
            })
            .collect();
        match result {
            Ok(seq) => assert_eq!(
                journaled,
                vec![seq.0],
                "writer {i} acked at {seq} but journaled at {journaled:?}"
            ),
            Err(err) => {
                // After a failed fsync, the groups it was to cover reached
                // the journal, and may be durable (an fsync may cover an
                // append its ledger did not count yet); pipelined, so may a
                // group appended before the failure was known, which fails
                // as poisoned.
                match err {
                    WriteError::Log(_) if sync_failed => assert!(
                        !journaled.is_empty(),
                        "writer {i} got a failed fsync's error but never reached the journal"
                    ),
                    WriteError::Poisoned(_) if sync_failed && spec.pipelined => {}
                    _ => assert!(
                        journaled.is_empty(),
                        "writer {i} failed ({err}) but was journaled"
                    ),
                }
                match err {
                    WriteError::Closed => {}
                    WriteError::Log(_) if sync_failed => {}
                    WriteError::Log(_) => {
                        let k = failed_at.expect("a Log error without a failed append");
                        let group = &journal.appends[k - 1];
                        assert!(
                            group.records.iter().any(|r| r.key == key),
                            "writer {i} got the Log error of a group it was not in"
                        );
                    }
                    WriteError::Poisoned(_) => {
                        assert!(
                            failed_at.is_some() || sync_failed,
                            "poisoned without a failure"
                        );
                    }
                    WriteError::Background(_) => {
                        assert!(spec.background_error, "a background error out of nowhere");
                    }
                    other => panic!("writer {i}: unexpected error {other}"),
                }
            }
        }
    }
}

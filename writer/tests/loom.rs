//! Model checking of the write-merge protocol with loom (RELIABILITY.md row
//! C1): three writers, one of them without sync, race each other and a
//! `close`; the journal fails at append k for k in {none, 1, 2}.
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
//!   applied;
//! - successful appends take dense sequence numbers from 1, and the memtable
//!   applies exactly them, in journal order; no append attempt, failed or
//!   not, reuses a sequence number;
//! - a write acknowledged with sync is covered by a successful fsync when it
//!   returns;
//! - errors are the right ones: `Log` only for members of the failed group,
//!   `Poisoned` only after a failure;
//! - `close` returns only after every write of every group that reached the
//!   journal has been answered, and no backend call follows it;
//! - the backend is never called from two threads at once;
//! - no deadlock (loom reports one if every thread blocks).

#![cfg(loom)]

mod support;

use std::sync::Arc;

use batch::SeqNum;
use loom::thread;
use support::{lock, Config, Fake, Journal};
use writer::{GroupCommit, Options, WriteError, WriteOptions};

/// Sync flags of the three writers: mixed, so that a non-sync leader may
/// merge a sync follower.
const SYNC: [bool; 3] = [false, true, true];

#[test]
fn no_journal_error() {
    check(None);
}

#[test]
fn journal_error_at_first_append() {
    check(Some(1));
}

#[test]
fn journal_error_at_second_append() {
    check(Some(2));
}

fn check(fail_append: Option<usize>) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    let iterations = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&iterations);
    builder.check(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut config = Config::new();
        config.fail_append = fail_append;
        let fake = Fake::new(config);
        let journal = Arc::clone(&fake.journal);
        let gc = Arc::new(GroupCommit::new(
            Box::new(fake),
            SeqNum(0),
            Options::new(),
        ));

        let writers: Vec<_> = (0..SYNC.len())
            .map(|i| {
                let gc = Arc::clone(&gc);
                let journal = Arc::clone(&journal);
                thread::spawn(move || {
                    let opts = WriteOptions {
                        sync: SYNC[i],
                        merge: true,
                    };
                    let result = gc.put(&[i as u8], b"v", opts);
                    if let (Ok(seq), true) = (&result, SYNC[i]) {
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

        gc.close().expect("first close");
        let metrics = gc.metrics();
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

        let results: Vec<_> = writers
            .into_iter()
            .map(|writer| writer.join().unwrap())
            .collect();
        assert!(matches!(
            gc.put(b"late", b"v", WriteOptions::new()),
            Err(WriteError::Closed)
        ));
        assert!(matches!(gc.close(), Err(WriteError::Closed)));
        verify(&lock(&journal), &results, fail_append);
    });
    println!(
        "fail_append {fail_append:?}: {} interleavings explored",
        iterations.load(std::sync::atomic::Ordering::Relaxed)
    );
}

fn verify(journal: &Journal, results: &[Result<SeqNum, WriteError>], fail_append: Option<usize>) {
    assert_eq!(
        journal.calls_after_close, 0,
        "backend called after close returned"
    );
    assert_eq!(journal.overlapping_calls, 0, "backend called concurrently");

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
    let applied: Vec<_> = ok_appends
        .iter()
        .map(|a| (a.seq, a.records.len()))
        .collect();
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

    let failed_at = fail_append.filter(|&k| k <= journal.appends.len());
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
                assert!(
                    journaled.is_empty(),
                    "writer {i} failed ({err}) but was journaled"
                );
                match err {
                    WriteError::Closed => {}
                    WriteError::Log(_) => {
                        let k = failed_at.expect("a Log error without a failed append");
                        let group = &journal.appends[k - 1];
                        assert!(
                            group.records.iter().any(|r| r.key == key),
                            "writer {i} got the Log error of a group it was not in"
                        );
                    }
                    WriteError::Poisoned(_) => {
                        assert!(failed_at.is_some(), "poisoned without a failure");
                    }
                    other => panic!("writer {i}: unexpected error {other}"),
                }
            }
        }
    }
}

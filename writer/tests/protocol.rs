//! Deterministic tests of the protocol's rules (goleveldb-write-path.md §8),
//! on the reply-slot implementation.
//!
//! A test holds the first leader inside `make_room` (at a gate), lines up
//! followers in a known order (watching `Metrics::waiting`), opens the gate,
//! and checks the groups the fake journal recorded.

// Real threads: not for a loom build.
#![cfg(not(loom))]

mod support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use batch::{Batch, SeqNum, MAX_SEQ};
use support::{lock, Config, Fake, Gate, Journal};
use writer::{
    Backend, GroupCommit, Options, RoomError, WriteError, WriteOptions, MERGE_LIMIT,
    MERGE_LIMIT_LARGE,
};

/// A write of the table: a put whose internal length is `len`.
#[derive(Clone, Copy)]
struct W {
    name: &'static str,
    len: usize,
    sync: bool,
}

fn w(name: &'static str, len: usize) -> W {
    W {
        name,
        len,
        sync: false,
    }
}

fn synced(name: &'static str, len: usize) -> W {
    W {
        name,
        len,
        sync: true,
    }
}

fn put(gc: &GroupCommit, write: W) -> Result<SeqNum, WriteError> {
    let value = vec![b'v'; write.len - write.name.len() - 8];
    let opts = WriteOptions {
        sync: write.sync,
        merge: true,
    };
    gc.put(write.name.as_bytes(), &value, opts)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

type SharedJournal = Arc<std::sync::Mutex<Journal>>;

/// A writer whose first leader is held at the gate in `make_room`.
struct Held {
    gc: Arc<GroupCommit>,
    journal: SharedJournal,
    gate: Arc<Gate>,
    threads: Vec<thread::JoinHandle<Result<SeqNum, WriteError>>>,
}

impl Held {
    /// Starts `leader` and holds it at the gate.
    fn new(mut config: Config, leader: W) -> Held {
        let gate = Gate::new();
        config.gate_room = Some((1, Arc::clone(&gate)));
        let fake = Fake::new(config);
        let journal = Arc::clone(&fake.journal);
        let gc = Arc::new(GroupCommit::new(Box::new(fake), SeqNum(0), Options::new()));
        let mut held = Held {
            gc,
            journal,
            gate,
            threads: Vec::new(),
        };
        held.spawn(leader);
        let gate = Arc::clone(&held.gate);
        wait_until("the leader at the gate", || gate.n_waiting() == 1);
        held
    }

    /// Starts `write` and waits until it is queued.
    fn queue(&mut self, write: W) {
        let before = self.gc.metrics().waiting;
        self.spawn(write);
        let gc = Arc::clone(&self.gc);
        wait_until("a follower to queue", || gc.metrics().waiting == before + 1);
    }

    fn spawn(&mut self, write: W) {
        let gc = Arc::clone(&self.gc);
        self.threads.push(thread::spawn(move || put(&gc, write)));
    }

    /// Opens the gate and returns every write's result, in start order.
    fn finish(
        self,
    ) -> (
        Vec<Result<SeqNum, WriteError>>,
        Arc<GroupCommit>,
        SharedJournal,
    ) {
        self.gate.open();
        let results = self
            .threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        (results, self.gc, self.journal)
    }
}

/// One case of the merge table: the leader, the followers in queue order,
/// the free room `make_room` reports, and the expected groups (names in
/// journal order; a trailing `*` marks a group that was synced).
fn check(leader: W, followers: &[W], free: usize, expect: &[&str], expect_overflows: u64) {
    let mut config = Config::new();
    config.free = free;
    let mut held = Held::new(config, leader);
    for &follower in followers {
        held.queue(follower);
    }
    let (results, gc, journal) = held.finish();
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let journal = lock(&journal);
    let groups: Vec<String> = journal
        .appends
        .iter()
        .enumerate()
        .map(|(i, append)| {
            let names: Vec<String> = append
                .records
                .iter()
                .map(|r| String::from_utf8(r.key.clone()).unwrap())
                .collect();
            let synced = journal.sync_after.contains(&(i + 1));
            format!("{}{}", names.join(" "), if synced { "*" } else { "" })
        })
        .collect();
    assert_eq!(groups, expect);
    assert_eq!(gc.metrics().overflows, expect_overflows);
    assert_eq!(
        journal.n_syncs,
        expect.iter().filter(|g| g.ends_with('*')).count()
    );
    // Each write got the sequence number it has in the journal.
    let mut seq_of = std::collections::HashMap::new();
    for append in &journal.appends {
        for (record, seq) in append.records.iter().zip(append.seqs()) {
            seq_of.insert(record.key.clone(), seq);
        }
    }
    let all: Vec<W> = std::iter::once(leader)
        .chain(followers.iter().copied())
        .collect();
    for (write, result) in all.iter().zip(&results) {
        assert_eq!(
            result.as_ref().unwrap().0,
            seq_of[write.name.as_bytes()],
            "{}",
            write.name
        );
    }
}

const BIG: usize = 64 << 20;

#[test]
fn merges_waiting_writers_in_order_with_one_sync() {
    // A non-sync leader merges a sync follower: one fsync covers the group.
    check(
        w("L", 100),
        &[synced("A", 100), w("B", 100)],
        BIG,
        &["L A B*"],
        0,
    );
}

#[test]
fn a_write_that_exactly_fits_is_merged() {
    let half = MERGE_LIMIT / 2;
    // 128 KiB of followers fit exactly; the limit is then 0, so C is not even
    // looked at (no overflow): it gets the lock when the group is done.
    check(
        w("L", 100),
        &[w("A", half), w("B", half), w("C", 100)],
        BIG,
        &["L A B", "C"],
        0,
    );
}

#[test]
fn a_write_one_byte_over_overflows_and_gets_the_lock() {
    let half = MERGE_LIMIT / 2;
    // B does not fit: it is taken out as the overflow writer and handed the
    // lock; its sync is not OR-ed into the first group; C, queued behind it,
    // joins B's group.
    check(
        w("L", 100),
        &[w("A", half), synced("B", half + 1), w("C", 100)],
        BIG,
        &["L A", "B C*"],
        1,
    );
}

#[test]
fn a_leader_over_128_kib_merges_up_to_1_mib_minus_itself() {
    let own = MERGE_LIMIT + 1;
    let limit = MERGE_LIMIT_LARGE - own;
    check(
        w("L", own),
        &[w("A", limit), w("B", 100)],
        BIG,
        &["L A", "B"],
        0,
    );
    check(
        w("L", own),
        &[w("A", limit + 1), w("B", 100)],
        BIG,
        &["L", "A B"],
        1,
    );
}

#[test]
fn a_leader_of_a_mib_or_more_merges_nothing() {
    check(
        w("L", MERGE_LIMIT_LARGE),
        &[w("A", 100)],
        BIG,
        &["L", "A"],
        0,
    );
}

#[test]
fn the_group_never_exceeds_the_free_room() {
    // Free room 1100 for a 100-byte leader: 1000 bytes may be merged.
    check(
        w("L", 100),
        &[w("A", 600), w("B", 400), w("C", 100)],
        1100,
        &["L A B", "C"],
        0,
    );
    check(
        w("L", 100),
        &[w("A", 600), w("B", 401), w("C", 100)],
        1100,
        &["L A", "B C"],
        1,
    );
    // No free room beyond the leader: no merging at all.
    check(w("L", 100), &[w("A", 100)], 100, &["L", "A"], 0);
}

#[test]
fn a_write_that_does_not_merge_waits_for_the_lock_alone() {
    let mut held = Held::new(Config::new(), w("L", 100));
    held.queue(w("A", 100));
    let gc = Arc::clone(&held.gc);
    held.threads.push(thread::spawn(move || {
        let opts = WriteOptions {
            sync: false,
            merge: false,
        };
        gc.put(b"N", b"v", opts)
    }));
    let gc = Arc::clone(&held.gc);
    wait_until("N to queue", || gc.metrics().waiting == 2);
    held.queue(w("B", 100));
    let (results, _, journal) = held.finish();
    assert!(results.iter().all(Result::is_ok));
    let journal = lock(&journal);
    let groups: Vec<Vec<Vec<u8>>> = journal
        .appends
        .iter()
        .map(|a| a.records.iter().map(|r| r.key.clone()).collect())
        .collect();
    // The leader merges A and B around N; N gets the lock afterwards.
    assert_eq!(
        groups,
        vec![
            vec![b"L".to_vec(), b"A".to_vec(), b"B".to_vec()],
            vec![b"N".to_vec()]
        ]
    );
}

#[test]
fn close_fails_waiting_writers_and_waits_for_the_group_in_flight() {
    let mut held = Held::new(Config::new(), w("L", 100));
    held.queue(w("A", 100));
    held.queue(w("B", 100));
    let gc = Arc::clone(&held.gc);
    let closer = thread::spawn(move || gc.close());
    // The waiters return Closed at once, while the leader is still held.
    let followers: Vec<_> = held.threads.drain(1..).collect();
    for follower in followers {
        assert!(matches!(follower.join().unwrap(), Err(WriteError::Closed)));
    }
    thread::sleep(Duration::from_millis(20));
    assert!(
        !closer.is_finished(),
        "close returned with a group in flight"
    );
    let (results, gc, journal) = held.finish();
    closer.join().unwrap().unwrap();
    assert_eq!(results[0].as_ref().unwrap(), &SeqNum(1));
    assert_eq!(lock(&journal).appends.len(), 1);
    assert!(matches!(
        gc.put(b"k", b"v", WriteOptions::new()),
        Err(WriteError::Closed)
    ));
    assert!(matches!(gc.with_backend(|_| ()), Err(WriteError::Closed)));
    assert!(matches!(gc.close(), Err(WriteError::Closed)));
}

#[test]
fn a_background_error_reaches_waiting_writers_at_once() {
    let mut held = Held::new(Config::new(), w("L", 100));
    held.queue(w("A", 100));
    held.queue(w("B", 100));
    held.gc.set_background_error(RoomError::new("disk full"));
    let followers: Vec<_> = held.threads.drain(1..).collect();
    for follower in followers {
        let result = follower.join().unwrap();
        assert!(matches!(&result, Err(WriteError::Background(e)) if e.message() == "disk full"));
    }
    let (results, gc, _) = held.finish();
    // The leader's own group was already under way: it completes.
    assert_eq!(results[0].as_ref().unwrap(), &SeqNum(1));
    assert!(matches!(
        gc.put(b"k", b"v", WriteOptions::new()),
        Err(WriteError::Background(_))
    ));
    // The first error stays.
    gc.set_background_error(RoomError::new("another"));
    let Err(WriteError::Background(err)) = gc.put(b"k", b"v", WriteOptions::new()) else {
        panic!("expected the background error");
    };
    assert_eq!(err.message(), "disk full");
}

fn single(config: Config, last_seq: SeqNum) -> (GroupCommit, SharedJournal) {
    let fake = Fake::new(config);
    let journal = Arc::clone(&fake.journal);
    (
        GroupCommit::new(Box::new(fake), last_seq, Options::new()),
        journal,
    )
}

#[test]
fn an_empty_batch_consumes_no_sequence_number() {
    let (gc, journal) = single(Config::new(), SeqNum(41));
    assert_eq!(
        gc.write(&Batch::new(), WriteOptions::synced()).unwrap(),
        SeqNum(41)
    );
    assert_eq!(gc.put(b"k", b"v", WriteOptions::new()).unwrap(), SeqNum(42));
    assert_eq!(lock(&journal).appends.len(), 1);
    assert_eq!(gc.last_seq(), SeqNum(42));
}

#[test]
fn batches_take_consecutive_sequence_numbers_and_are_not_modified() {
    let (gc, journal) = single(Config::new(), SeqNum(0));
    let mut batch = Batch::new();
    batch.put(b"a", b"1");
    batch.delete(b"b");
    batch.put(b"c", b"3");
    let before = batch.clone();
    assert_eq!(gc.write(&batch, WriteOptions::new()).unwrap(), SeqNum(1));
    assert_eq!(batch, before);
    assert_eq!(batch.seq(), SeqNum(0));
    assert_eq!(gc.delete(b"a", WriteOptions::new()).unwrap(), SeqNum(4));
    assert_eq!(gc.last_seq(), SeqNum(4));
    let journal = lock(&journal);
    assert_eq!(journal.applied, vec![(1, 3), (4, 1)]);
    assert_eq!(journal.appends[1].records[0].value, None);
}

#[test]
fn sequence_numbers_run_out_with_an_error_not_a_panic() {
    let (gc, journal) = single(Config::new(), SeqNum(MAX_SEQ - 2));
    let mut two = Batch::new();
    two.put(b"a", b"1");
    two.put(b"b", b"2");
    assert_eq!(
        gc.write(&two, WriteOptions::new()).unwrap(),
        SeqNum(MAX_SEQ - 1)
    );
    assert!(matches!(
        gc.put(b"c", b"3", WriteOptions::new()),
        Err(WriteError::SeqOverflow { last, n_records: 1 }) if last == SeqNum(MAX_SEQ)
    ));
    assert_eq!(lock(&journal).appends.len(), 1);
    assert_eq!(gc.last_seq(), SeqNum(MAX_SEQ));
}

#[test]
fn a_room_error_fails_only_the_leader_and_consumes_nothing() {
    let mut config = Config::new();
    config.fail_room = Some(1);
    let (gc, journal) = single(config, SeqNum(0));
    assert!(matches!(
        gc.put(b"a", b"1", WriteOptions::new()),
        Err(WriteError::Room(_))
    ));
    assert_eq!(gc.put(b"b", b"2", WriteOptions::new()).unwrap(), SeqNum(1));
    assert_eq!(lock(&journal).appends.len(), 1);
}

#[test]
fn an_after_write_error_keeps_the_group_ok_and_fails_later_writes() {
    let mut config = Config::new();
    config.fail_after_write = Some(1);
    let (gc, journal) = single(config, SeqNum(0));
    assert_eq!(gc.put(b"a", b"1", WriteOptions::new()).unwrap(), SeqNum(1));
    assert!(matches!(
        gc.put(b"b", b"2", WriteOptions::new()),
        Err(WriteError::Background(_))
    ));
    assert_eq!(lock(&journal).applied, vec![(1, 1)]);
}

#[test]
fn a_journal_error_poisons_with_the_original_cause() {
    let mut config = Config::new();
    config.fail_sync = Some(1);
    let (gc, journal) = single(config, SeqNum(0));
    assert_eq!(gc.put(b"a", b"1", WriteOptions::new()).unwrap(), SeqNum(1));
    let Err(WriteError::Log(cause)) = gc.put(b"b", b"2", WriteOptions::synced()) else {
        panic!("expected the sync error");
    };
    for _ in 0..3 {
        let Err(WriteError::Poisoned(again)) = gc.put(b"c", b"3", WriteOptions::new()) else {
            panic!("expected Poisoned");
        };
        assert!(Arc::ptr_eq(&cause, &again));
    }
    // The failed group is in the journal (its fsync failed) but not applied,
    // and the fsync was not retried.
    let journal = lock(&journal);
    assert_eq!(journal.appends.len(), 2);
    assert_eq!(journal.applied, vec![(1, 1)]);
    assert_eq!(journal.n_syncs, 1);
    assert_eq!(gc.last_seq(), SeqNum(1));
}

#[test]
fn a_panicking_backend_poisons_and_answers_the_group() {
    let mut config = Config::new();
    config.panic_apply = Some(1);
    let mut held = Held::new(config, w("L", 100));
    held.queue(w("A", 100));
    held.queue(w("B", 100));
    held.gate.open();
    let mut threads = held.threads.into_iter();
    assert!(
        threads.next().unwrap().join().is_err(),
        "the leader's panic propagates"
    );
    for follower in threads {
        assert!(matches!(
            follower.join().unwrap(),
            Err(WriteError::Poisoned(_))
        ));
    }
    assert!(matches!(
        held.gc.put(b"k", b"v", WriteOptions::new()),
        Err(WriteError::Poisoned(_))
    ));
    held.gc.close().unwrap();
}

#[test]
fn with_backend_runs_alone_and_reaches_the_concrete_type() {
    let (gc, journal) = single(Config::new(), SeqNum(0));
    gc.put(b"a", b"1", WriteOptions::new()).unwrap();
    let n_appends = gc
        .with_backend(|backend: &mut dyn Backend| {
            let fake = backend.as_any_mut().downcast_mut::<Fake>().expect("a Fake");
            lock(&fake.journal).appends.len()
        })
        .unwrap();
    assert_eq!(n_appends, 1);
    assert_eq!(lock(&journal).appends.len(), 1);
    gc.close().unwrap();
    assert!(matches!(gc.with_backend(|_| ()), Err(WriteError::Closed)));
    let backend = gc.into_backend().expect("the backend comes back");
    let _ = backend;
}

#[test]
fn error_messages() {
    let io = Arc::new(std::io::Error::other("disk on fire"));
    let cases = [
        (
            WriteError::Log(Arc::clone(&io)),
            "journal failed: disk on fire",
        ),
        (
            WriteError::Poisoned(io),
            "writer poisoned by an earlier journal failure: disk on fire",
        ),
        (
            WriteError::Room(RoomError::new("level 0 full")),
            "no room for the write: level 0 full",
        ),
        (
            WriteError::Background(RoomError::with_source(
                "compaction failed",
                Box::new(std::io::Error::other("bad block")),
            )),
            "background error: compaction failed: bad block",
        ),
        (WriteError::Closed, "writer closed"),
        (
            WriteError::SeqOverflow {
                last: SeqNum(7),
                n_records: 2,
            },
            "sequence numbers exhausted: last is 7, 2 more needed",
        ),
        (
            WriteError::TooLarge { len: 5 },
            "key or value of 5 bytes is too large for a batch",
        ),
    ];
    for (err, expect) in cases {
        assert_eq!(err.to_string(), expect);
    }
}

proptest::proptest! {
    /// The merge limit, for any leader size and free room: 128 KiB for a
    /// leader up to 128 KiB, else 1 MiB minus the leader; never more than
    /// the free room minus the leader.
    #[test]
    fn merge_limit_bounds(own in 0_usize..3 << 20, free in 0_usize..8 << 20) {
        let limit = writer::merge_limit(own, free);
        proptest::prop_assert!(limit <= free.saturating_sub(own));
        if own <= MERGE_LIMIT {
            proptest::prop_assert_eq!(limit, MERGE_LIMIT.min(free.saturating_sub(own)));
        } else {
            proptest::prop_assert!(own + limit <= MERGE_LIMIT_LARGE.max(own));
            proptest::prop_assert_eq!(
                limit,
                MERGE_LIMIT_LARGE.saturating_sub(own).min(free.saturating_sub(own))
            );
        }
    }
}

/// Evaluates `$body` with `$gc` bound to a group commit over `$backend`
/// starting after `$last_seq`: the channels implementation if `$channels`,
/// else the reply slots one. The two share no trait, so the body is
/// written once here and compiled for each.
macro_rules! with_group_commit {
    ($channels:expr, $backend:expr, $last_seq:expr, |$gc:ident| $body:expr) => {
        if $channels {
            let $gc =
                writer::channels::GroupCommit::new(Box::new($backend), $last_seq, Options::new());
            $body
        } else {
            let $gc = GroupCommit::new(Box::new($backend), $last_seq, Options::new());
            $body
        }
    };
}

/// A batch of `n` puts of `len` internal bytes each, keys `k0`, `k1`, ...
fn batch_of(n: usize, len: usize) -> Batch {
    let mut b = Batch::new();
    for i in 0..n {
        let key = format!("k{i}");
        b.put(key.as_bytes(), vec![b'v'; len - key.len() - 8]);
    }
    b
}

#[test]
fn a_large_write_goes_to_the_backend_whole_and_alone() {
    for channels in [false, true] {
        let mut config = Config::new();
        config.large_over = Some(1000);
        let fake = Fake::new(config);
        let journal = Arc::clone(&fake.journal);
        let (small, large, after) = with_group_commit!(channels, fake, SeqNum(10), |gc| {
            let s = gc.put(b"a", b"1", WriteOptions::new()).unwrap();
            let l = gc
                .write(&batch_of(20, 100), WriteOptions::synced())
                .unwrap();
            let a = gc.put(b"b", b"2", WriteOptions::new()).unwrap();
            assert_eq!(gc.last_seq(), SeqNum(32));
            (s, l, a)
        });
        assert_eq!((small, large, after), (SeqNum(11), SeqNum(12), SeqNum(32)));
        let journal = lock(&journal);
        // The large write was neither journaled nor applied, nor asked for
        // room: the backend took it whole, numbered 12 to 31.
        assert_eq!(journal.large, vec![(12, 20, true)], "channels: {channels}");
        assert_eq!(journal.applied, vec![(11, 1), (32, 1)]);
        assert_eq!(journal.appends.len(), 2);
        assert_eq!(journal.n_room, 2);
        assert_eq!(journal.n_syncs, 0);
    }
}

#[test]
fn a_failed_large_write_consumes_no_sequence_number() {
    for channels in [false, true] {
        let mut config = Config::new();
        config.large_over = Some(1000);
        config.fail_large = Some(1);
        let fake = Fake::new(config);
        let journal = Arc::clone(&fake.journal);
        let results = with_group_commit!(channels, fake, SeqNum(0), |gc| [
            gc.write(&batch_of(20, 100), WriteOptions::new()),
            gc.write(&batch_of(20, 100), WriteOptions::new()),
            gc.put(b"a", b"1", WriteOptions::new()),
        ]);
        assert!(
            matches!(&results[0], Err(WriteError::Room(e)) if e.message() == "injected write_large failure"),
            "{results:?}"
        );
        // Not poisoned: the next large write takes the same numbers.
        assert_eq!(results[1].as_ref().unwrap(), &SeqNum(1));
        assert_eq!(results[2].as_ref().unwrap(), &SeqNum(21));
        assert_eq!(
            lock(&journal).large,
            vec![(1, 20, false), (1, 20, true)],
            "channels: {channels}"
        );
    }
}

#[test]
fn a_large_write_is_never_merged_into_a_group() {
    let mut config = Config::new();
    config.large_over = Some(1000);
    let mut held = Held::new(config, w("L", 100));
    let gc = Arc::clone(&held.gc);
    let before = gc.metrics().waiting;
    held.threads.push(thread::spawn(move || {
        gc.write(&batch_of(20, 100), WriteOptions::new())
    }));
    let gc = Arc::clone(&held.gc);
    wait_until("the large write to queue", || {
        gc.metrics().waiting == before + 1
    });
    held.queue(w("A", 100));
    let (results, gc, journal) = held.finish();
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let journal = lock(&journal);
    // The large write overflowed the leader's group and led alone; "A"
    // followed it.
    let groups: Vec<Vec<u64>> = journal.appends.iter().map(|a| a.seqs().collect()).collect();
    assert_eq!(groups, vec![vec![1], vec![22]]);
    assert_eq!(journal.large, vec![(2, 20, true)]);
    assert_eq!(gc.last_seq(), SeqNum(22));
}

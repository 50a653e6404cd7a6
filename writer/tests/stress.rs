//! Stress tests: many threads against a fake backend that records every
//! call, then a check of the whole history.
//!
//! - `sixty_four_threads_*`: 64 threads of mixed puts, deletes and batches,
//!   a quarter synced, some large enough to overflow a group: every write is
//!   answered once and journaled exactly once at its sequence number, groups
//!   are whole and within the merge limits, sequence numbers are dense, every
//!   synced write is covered by an fsync when it returns, and at least one
//!   overflow hand-off happened.
//! - `poisoning_*`: an append or fsync fails mid-run: the failed group's
//!   writers all get that error, every later write gets `Poisoned` with the
//!   same cause, nothing is appended afterwards and no sequence number is
//!   reused.
//! - `close_*`: close while writers are blocked: each returns its real result
//!   or `Closed`, none hangs, and no acknowledged write is missing.
//! - `background_error_*`: a persistent error reaches waiting writers.
//! - `merge_off_*`: merging off globally or per write.
//!
//! Each runs against both implementations: the reply slots
//! (`writer::GroupCommit`) and goleveldb's channels
//! (`writer::channels::GroupCommit`).

// Real threads: not for a loom build.
#![cfg(not(loom))]

mod support;

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use batch::{Batch, SeqNum};
use support::{lock, Config, Fake, Journal};
use writer::{merge_limit, Metrics, Options, RoomError, WriteError, WriteOptions};

/// The two implementations, behind one face.
trait Gc: Send + Sync + 'static {
    fn new(fake: Fake, options: Options) -> Self
    where
        Self: Sized;
    fn write(&self, batch: &Batch, opts: WriteOptions) -> Result<SeqNum, WriteError>;
    fn put(&self, key: &[u8], value: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError>;
    fn delete(&self, key: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError>;
    fn close(&self) -> Result<(), WriteError>;
    fn set_background_error(&self, err: RoomError);
    fn metrics(&self) -> Metrics;
}

macro_rules! impl_gc {
    ($ty:ty) => {
        impl Gc for $ty {
            fn new(fake: Fake, options: Options) -> Self {
                <$ty>::new(Box::new(fake), SeqNum(0), options)
            }
            fn write(&self, batch: &Batch, opts: WriteOptions) -> Result<SeqNum, WriteError> {
                <$ty>::write(self, batch, opts)
            }
            fn put(
                &self,
                key: &[u8],
                value: &[u8],
                opts: WriteOptions,
            ) -> Result<SeqNum, WriteError> {
                <$ty>::put(self, key, value, opts)
            }
            fn delete(&self, key: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError> {
                <$ty>::delete(self, key, opts)
            }
            fn close(&self) -> Result<(), WriteError> {
                <$ty>::close(self)
            }
            fn set_background_error(&self, err: RoomError) {
                <$ty>::set_background_error(self, err)
            }
            fn metrics(&self) -> Metrics {
                <$ty>::metrics(self)
            }
        }
    };
}

impl_gc!(writer::GroupCommit);
impl_gc!(writer::channels::GroupCommit);

type Slots = writer::GroupCommit;
type Channels = writer::channels::GroupCommit;

/// The reply slots pipelined (`Options::pipelined`): a leader hands the
/// lock on before its fsync.
struct Pipelined(writer::GroupCommit);

impl Gc for Pipelined {
    fn new(fake: Fake, options: Options) -> Self {
        let options = Options {
            pipelined: true,
            ..options
        };
        let gc = writer::GroupCommit::new(Box::new(fake), SeqNum(0), options);
        assert!(gc.is_pipelined());
        Pipelined(gc)
    }
    fn write(&self, batch: &Batch, opts: WriteOptions) -> Result<SeqNum, WriteError> {
        self.0.write(batch, opts)
    }
    fn put(&self, key: &[u8], value: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError> {
        self.0.put(key, value, opts)
    }
    fn delete(&self, key: &[u8], opts: WriteOptions) -> Result<SeqNum, WriteError> {
        self.0.delete(key, opts)
    }
    fn close(&self) -> Result<(), WriteError> {
        self.0.close()
    }
    fn set_background_error(&self, err: RoomError) {
        self.0.set_background_error(err)
    }
    fn metrics(&self) -> Metrics {
        self.0.metrics()
    }
}

/// One write of the workload, as issued and as answered.
#[derive(Debug, Clone)]
struct Issued {
    /// `(thread, index)`, encoded in each record's key.
    id: (usize, usize),
    n_records: usize,
    internal_len: usize,
    sync: bool,
    merge: bool,
    result: Result<SeqNum, WriteError>,
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn key(id: (usize, usize), record: usize) -> Vec<u8> {
    format!("w{:03}.{:06}.{:03}", id.0, id.1, record).into_bytes()
}

fn parse_key(key: &[u8]) -> ((usize, usize), usize) {
    let text = std::str::from_utf8(key).expect("utf-8 key");
    let mut parts = text[1..].split('.').map(|p| p.parse::<usize>().unwrap());
    let (t, j, r) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    ((t, j), r)
}

/// How the workload behaves.
#[derive(Clone, Copy)]
struct Workload {
    threads: usize,
    writes_per_thread: usize,
    /// Percent of writes that sync.
    sync_pct: u64,
    /// Percent of writes with a 40-100 KiB value, to overflow groups.
    large_pct: u64,
    /// Percent of writes that do not merge.
    no_merge_pct: u64,
    /// Stop a thread at its first error.
    stop_on_error: bool,
}

/// Runs `workload` on `gc`; each thread checks, right when a synced write
/// returns, that an fsync covers it.
fn run<G: Gc>(gc: &Arc<G>, journal: &Arc<Mutex<Journal>>, workload: Workload) -> Vec<Issued> {
    let start = Arc::new(Barrier::new(workload.threads));
    let handles: Vec<_> = (0..workload.threads)
        .map(|t| {
            let gc = Arc::clone(gc);
            let journal = Arc::clone(journal);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                let mut rng = Rng(0x5eed_0000 + t as u64);
                let mut issued = Vec::new();
                start.wait();
                for j in 0..workload.writes_per_thread {
                    let id = (t, j);
                    let opts = WriteOptions {
                        sync: rng.below(100) < workload.sync_pct,
                        merge: rng.below(100) >= workload.no_merge_pct,
                    };
                    let value_len = if rng.below(100) < workload.large_pct {
                        40_000 + rng.below(60_000) as usize
                    } else {
                        rng.below(200) as usize
                    };
                    let value = vec![b'v'; value_len];
                    let (n_records, internal_len, result) = match rng.below(10) {
                        0..=4 => {
                            let k = key(id, 0);
                            let len = k.len() + value.len() + 8;
                            (1, len, gc.put(&k, &value, opts))
                        }
                        5..=6 => {
                            let k = key(id, 0);
                            let len = k.len() + 8;
                            (1, len, gc.delete(&k, opts))
                        }
                        _ => {
                            let mut batch = Batch::new();
                            let n = 1 + rng.below(4) as usize;
                            for r in 0..n {
                                if r % 2 == 0 {
                                    batch.put(key(id, r), &value);
                                } else {
                                    batch.delete(key(id, r));
                                }
                            }
                            let before = batch.clone();
                            let result = gc.write(&batch, opts);
                            assert_eq!(batch, before, "the caller's batch was modified");
                            (n, batch.internal_len(), result)
                        }
                    };
                    if let (Ok(seq), true) = (&result, opts.sync) {
                        let last = seq.0 + n_records as u64 - 1;
                        let synced = lock(&journal).synced_through;
                        assert!(
                            synced >= last,
                            "sync write {id:?} acked through {last}, synced only through {synced}"
                        );
                    }
                    let failed = result.is_err();
                    issued.push(Issued {
                        id,
                        n_records,
                        internal_len,
                        sync: opts.sync,
                        merge: opts.merge,
                        result,
                    });
                    if failed && workload.stop_on_error {
                        break;
                    }
                }
                issued
            })
        })
        .collect();
    join_all(handles, Duration::from_secs(60))
}

/// Joins the threads, failing (rather than hanging) if any is stuck.
fn join_all<T: Send + 'static>(
    handles: Vec<thread::JoinHandle<Vec<T>>>,
    limit: Duration,
) -> Vec<T> {
    let (tx, rx) = mpsc::channel();
    let n = handles.len();
    for handle in handles {
        let tx = tx.clone();
        thread::spawn(move || {
            let _ = tx.send(handle.join());
        });
    }
    let mut all = Vec::new();
    for _ in 0..n {
        match rx.recv_timeout(limit) {
            Ok(Ok(items)) => all.extend(items),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => panic!("a writer thread hung"),
        }
    }
    all
}

/// A write's `(thread, index)`.
type WriteId = (usize, usize);

/// Where a journaled record was found: append index, position in the
/// append, record index in its write, sequence number.
type Found = (usize, usize, usize, u64);

/// Checks the whole history against the journal the fake recorded.
fn verify(journal: &Journal, issued: &[Issued]) {
    assert_eq!(journal.overlapping_calls, 0, "backend called concurrently");

    // Dense sequence numbers; the memtable applied exactly the successful
    // appends, in journal order.
    let ok_appends: Vec<_> = journal.appends.iter().filter(|a| a.ok).collect();
    let mut next = 1;
    for append in &ok_appends {
        assert_eq!(append.seq, next, "sequence numbers not dense");
        next += append.records.len() as u64;
    }
    let applied: Vec<_> = ok_appends
        .iter()
        .map(|a| (a.seq, a.records.len()))
        .collect();
    if journal.n_syncs_ok == journal.n_syncs {
        assert_eq!(journal.applied, applied, "memtable and journal disagree");
    } else {
        // The group whose fsync failed is in the journal but not applied.
        assert_eq!(
            journal.applied[..],
            applied[..applied.len() - 1],
            "memtable and journal disagree"
        );
    }

    // No sequence number handed out twice, failed attempts included.
    let mut taken: Vec<u64> = journal.appends.iter().flat_map(|a| a.seqs()).collect();
    let n_taken = taken.len();
    taken.sort_unstable();
    taken.dedup();
    assert_eq!(taken.len(), n_taken, "a sequence number was reused");

    // Every journaled record, by write: (append index, position, seq).
    let applied_seqs: Vec<(u64, u64)> = journal
        .applied
        .iter()
        .map(|&(seq, n)| (seq, seq + n as u64))
        .collect();
    let is_applied = |seq: u64| applied_seqs.iter().any(|&(lo, hi)| lo <= seq && seq < hi);
    let mut found: HashMap<WriteId, Vec<Found>> = HashMap::new();
    for (a, append) in journal.appends.iter().enumerate() {
        if !append.ok {
            continue;
        }
        for (p, (record, seq)) in append.records.iter().zip(append.seqs()).enumerate() {
            let (id, r) = parse_key(&record.key);
            found.entry(id).or_default().push((a, p, r, seq));
        }
    }
    let by_id: HashMap<(usize, usize), &Issued> = issued.iter().map(|w| (w.id, w)).collect();
    for id in found.keys() {
        assert!(
            by_id.contains_key(id),
            "journaled write {id:?} was never issued"
        );
    }
    for write in issued {
        let records = found.get(&write.id).map(Vec::as_slice).unwrap_or(&[]);
        match &write.result {
            Ok(seq) => {
                assert_eq!(
                    records.len(),
                    write.n_records,
                    "write {:?} acked but journaled {} of {} records",
                    write.id,
                    records.len(),
                    write.n_records
                );
                for (r, &(a, p, rec, s)) in records.iter().enumerate() {
                    assert_eq!(a, records[0].0, "write {:?} split across groups", write.id);
                    assert_eq!(p, records[0].1 + r, "write {:?} not contiguous", write.id);
                    assert_eq!(rec, r, "write {:?} records out of order", write.id);
                    assert_eq!(s, seq.0 + r as u64, "write {:?} at the wrong seq", write.id);
                    assert!(is_applied(s), "write {:?} acked but not applied", write.id);
                }
            }
            Err(err) => {
                if journal.n_syncs_ok == journal.n_syncs {
                    assert!(
                        records.is_empty(),
                        "write {:?} failed ({err}) but was journaled",
                        write.id
                    );
                }
                for &(_, _, _, s) in records {
                    assert!(
                        !is_applied(s),
                        "write {:?} failed ({err}) but was applied",
                        write.id
                    );
                }
            }
        }
    }

    // Groups are within the limits, and a write that does not merge is
    // alone in its group.
    for append in &journal.appends {
        let mut writes: Vec<((usize, usize), usize)> = Vec::new();
        for record in &append.records {
            let (id, _) = parse_key(&record.key);
            match writes.last_mut() {
                Some((last, len)) if *last == id => *len += record.internal_len(),
                _ => writes.push((id, record.internal_len())),
            }
        }
        for &(id, len) in &writes {
            assert_eq!(
                by_id[&id].internal_len, len,
                "write {id:?} journaled partly"
            );
        }
        let (_, leader_len) = writes[0];
        assert_eq!(
            leader_len, append.room_asked,
            "make_room was not asked for the leader's write"
        );
        let merged: usize = writes[1..].iter().map(|&(_, len)| len).sum();
        let limit = merge_limit(leader_len, append.free);
        assert!(
            merged <= limit,
            "group over the limit: merged {merged} > {limit}"
        );
        if writes.len() > 1 {
            for (id, _) in &writes {
                assert!(
                    by_id[id].merge,
                    "write {id:?} does not merge but shares a group"
                );
            }
        }
    }
}

fn big_workload() -> Workload {
    Workload {
        threads: 64,
        writes_per_thread: 300,
        sync_pct: 25,
        large_pct: 3,
        no_merge_pct: 0,
        stop_on_error: false,
    }
}

fn sixty_four_threads<G: Gc>() {
    let mut config = Config::new();
    config.sync_delay = Duration::from_micros(100);
    let fake = Fake::new(config);
    let journal = Arc::clone(&fake.journal);
    let gc = Arc::new(G::new(fake, Options::new()));
    let workload = big_workload();
    let issued = run(&gc, &journal, workload);
    let n_writes = (workload.threads * workload.writes_per_thread) as u64;
    assert_eq!(issued.len() as u64, n_writes);
    for write in &issued {
        assert!(
            write.result.is_ok(),
            "write {:?} failed: {:?}",
            write.id,
            write.result
        );
    }
    let journal = lock(&journal);
    verify(&journal, &issued);

    let metrics = gc.metrics();
    assert_eq!(metrics.writes, n_writes);
    assert_eq!(metrics.groups, journal.appends.len() as u64);
    assert_eq!(metrics.merged_writes, metrics.writes - metrics.groups);
    assert_eq!(metrics.fsyncs, journal.n_syncs as u64);
    assert!(metrics.max_group > 1, "nothing was merged: {metrics:?}");
    assert!(
        metrics.overflows > 0,
        "no overflow hand-off happened: {metrics:?}"
    );
    let n_synced = issued.iter().filter(|w| w.sync).count() as u64;
    assert!(
        metrics.fsyncs < n_synced,
        "fsyncs were not shared: {metrics:?}"
    );
}

#[test]
fn sixty_four_threads_slots() {
    sixty_four_threads::<Slots>();
}

#[test]
fn sixty_four_threads_channels() {
    sixty_four_threads::<Channels>();
}

#[test]
fn sixty_four_threads_pipelined() {
    sixty_four_threads::<Pipelined>();
}

/// A journal failure mid-run poisons the writer.
fn poisoning<G: Gc>(fail_append: Option<usize>, fail_sync: Option<usize>) {
    let mut config = Config::new();
    config.sync_delay = Duration::from_micros(50);
    config.fail_append = fail_append;
    config.fail_sync = fail_sync;
    let fake = Fake::new(config);
    let journal = Arc::clone(&fake.journal);
    let gc = Arc::new(G::new(fake, Options::new()));
    let workload = Workload {
        threads: 16,
        writes_per_thread: 40,
        sync_pct: 50,
        large_pct: 0,
        no_merge_pct: 0,
        stop_on_error: false,
    };
    let issued = run(&gc, &journal, workload);
    let journal = lock(&journal);
    verify(&journal, &issued);

    // The failed group: its writers got `Log`, all with one cause.
    let failed_group: Vec<&Issued> = issued
        .iter()
        .filter(|w| matches!(w.result, Err(WriteError::Log(_))))
        .collect();
    assert!(!failed_group.is_empty(), "no write saw the journal error");
    let Err(WriteError::Log(cause)) = &failed_group[0].result else {
        unreachable!()
    };
    for write in &failed_group {
        let Err(WriteError::Log(other)) = &write.result else {
            unreachable!()
        };
        assert!(
            Arc::ptr_eq(cause, other),
            "members of the failed group saw different errors"
        );
    }
    // Those writers formed exactly the failed group.
    let failed_attempt = journal
        .appends
        .iter()
        .position(|a| !a.ok)
        .unwrap_or(journal.appends.len() - 1);
    let in_attempt: std::collections::HashSet<(usize, usize)> = journal.appends[failed_attempt]
        .records
        .iter()
        .map(|r| parse_key(&r.key).0)
        .collect();
    let in_failed: std::collections::HashSet<(usize, usize)> =
        failed_group.iter().map(|w| w.id).collect();
    assert_eq!(
        in_attempt, in_failed,
        "the Log error went to other writers than the group's"
    );

    // Nothing was appended after the failure.
    assert_eq!(
        failed_attempt,
        journal.appends.len() - 1,
        "an append followed the failure"
    );

    // Every other failure is `Poisoned` with the original cause.
    for write in &issued {
        match &write.result {
            Ok(_) | Err(WriteError::Log(_)) => {}
            Err(WriteError::Poisoned(other)) => {
                assert!(Arc::ptr_eq(cause, other), "Poisoned with another cause")
            }
            Err(err) => panic!("unexpected error {err}"),
        }
    }
    let later = gc.put(b"later", b"v", WriteOptions::new());
    assert!(matches!(&later, Err(WriteError::Poisoned(other)) if Arc::ptr_eq(cause, other)));
    let metrics = gc.metrics();
    assert_eq!(metrics.failed_groups, 1);
    assert_eq!(metrics.failed_writes, failed_group.len() as u64);
}

#[test]
fn poisoning_after_append_error_slots() {
    poisoning::<Slots>(Some(20), None);
}

#[test]
fn poisoning_after_append_error_channels() {
    poisoning::<Channels>(Some(20), None);
}

#[test]
fn poisoning_after_append_error_pipelined() {
    poisoning::<Pipelined>(Some(20), None);
}

#[test]
fn poisoning_after_sync_error_slots() {
    poisoning::<Slots>(None, Some(10));
}

#[test]
fn poisoning_after_sync_error_channels() {
    poisoning::<Channels>(None, Some(10));
}

/// Close while 32 writers are busy or blocked behind a slow fsync.
fn close_with_blocked_writers<G: Gc>() {
    let mut config = Config::new();
    config.sync_delay = Duration::from_millis(2);
    let fake = Fake::new(config);
    let journal = Arc::clone(&fake.journal);
    let gc = Arc::new(G::new(fake, Options::new()));
    let workload = Workload {
        threads: 32,
        writes_per_thread: 1_000_000,
        sync_pct: 50,
        large_pct: 1,
        no_merge_pct: 10,
        stop_on_error: true,
    };
    let closer = {
        let gc = Arc::clone(&gc);
        let journal = Arc::clone(&journal);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            gc.close().expect("first close");
            lock(&journal).closed = true;
            gc.metrics()
        })
    };
    let issued = run(&gc, &journal, workload);
    let at_close = closer.join().unwrap();
    let journal = lock(&journal);
    verify(&journal, &issued);
    assert_eq!(
        journal.calls_after_close, 0,
        "backend called after close returned"
    );

    // Every thread ended on `Closed`, and nothing else failed.
    let mut last: HashMap<usize, &Issued> = HashMap::new();
    for write in &issued {
        match &write.result {
            Ok(_) | Err(WriteError::Closed) => {}
            Err(err) => panic!("unexpected error {err}"),
        }
        let entry = last.entry(write.id.0).or_insert(write);
        if write.id.1 > entry.id.1 {
            *entry = write;
        }
    }
    assert_eq!(last.len(), 32);
    for write in last.values() {
        assert!(
            matches!(write.result, Err(WriteError::Closed)),
            "{:?}",
            write.result
        );
    }
    let n_ok = issued.iter().filter(|w| w.result.is_ok()).count() as u64;
    assert!(n_ok > 0);
    // `close` returned after every answer: nothing changed afterwards.
    assert_eq!(at_close, gc.metrics());
    assert_eq!(at_close.writes, n_ok);

    assert!(matches!(
        gc.put(b"k", b"v", WriteOptions::new()),
        Err(WriteError::Closed)
    ));
    assert!(matches!(
        gc.write(&Batch::new(), WriteOptions::new()),
        Err(WriteError::Closed)
    ));
    assert!(matches!(gc.close(), Err(WriteError::Closed)));
}

#[test]
fn close_with_blocked_writers_slots() {
    close_with_blocked_writers::<Slots>();
}

#[test]
fn close_with_blocked_writers_channels() {
    close_with_blocked_writers::<Channels>();
}

#[test]
fn close_with_blocked_writers_pipelined() {
    close_with_blocked_writers::<Pipelined>();
}

/// A background error set mid-run: from then on every write fails with it,
/// and nothing that failed was journaled.
fn background_error<G: Gc>() {
    let mut config = Config::new();
    config.sync_delay = Duration::from_millis(1);
    let fake = Fake::new(config);
    let journal = Arc::clone(&fake.journal);
    let gc = Arc::new(G::new(fake, Options::new()));
    let workload = Workload {
        threads: 32,
        writes_per_thread: 1_000_000,
        sync_pct: 50,
        large_pct: 0,
        no_merge_pct: 10,
        stop_on_error: true,
    };
    let setter = {
        let gc = Arc::clone(&gc);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            gc.set_background_error(RoomError::new("level 0 is corrupt"));
        })
    };
    let issued = run(&gc, &journal, workload);
    setter.join().unwrap();
    verify(&lock(&journal), &issued);
    let mut n_background = 0;
    for write in &issued {
        match &write.result {
            Ok(_) => {}
            Err(WriteError::Background(err)) => {
                assert_eq!(err.message(), "level 0 is corrupt");
                n_background += 1;
            }
            Err(err) => panic!("unexpected error {err}"),
        }
    }
    assert_eq!(
        n_background, 32,
        "every thread ends on the background error"
    );
    assert!(matches!(
        gc.put(b"k", b"v", WriteOptions::new()),
        Err(WriteError::Background(_))
    ));
    gc.close().unwrap();
}

#[test]
fn background_error_slots() {
    background_error::<Slots>();
}

#[test]
fn background_error_channels() {
    background_error::<Channels>();
}

#[test]
fn background_error_pipelined() {
    background_error::<Pipelined>();
}

/// Merging off globally: every group is one write.
fn merge_off_globally<G: Gc>() {
    let mut config = Config::new();
    config.sync_delay = Duration::from_micros(50);
    let fake = Fake::new(config);
    let journal = Arc::clone(&fake.journal);
    let gc = Arc::new(G::new(
        fake,
        Options {
            merge: false,
            pipelined: false,
        },
    ));
    let mut workload = big_workload();
    workload.threads = 16;
    workload.writes_per_thread = 40;
    let issued = run(&gc, &journal, workload);
    let journal = lock(&journal);
    verify(&journal, &issued);
    assert!(issued.iter().all(|w| w.result.is_ok()));
    let metrics = gc.metrics();
    assert_eq!(metrics.merged_writes, 0);
    assert_eq!(metrics.max_group, 1);
    assert_eq!(metrics.groups, issued.len() as u64);
}

#[test]
fn merge_off_globally_slots() {
    merge_off_globally::<Slots>();
}

#[test]
fn merge_off_globally_channels() {
    merge_off_globally::<Channels>();
}

#[test]
fn merge_off_globally_pipelined() {
    merge_off_globally::<Pipelined>();
}

/// Merging off for half the writes: those are always alone in their group
/// (checked by `verify`), the others still merge.
fn merge_off_per_write<G: Gc>() {
    let mut config = Config::new();
    config.sync_delay = Duration::from_micros(100);
    let fake = Fake::new(config);
    let journal = Arc::clone(&fake.journal);
    let gc = Arc::new(G::new(fake, Options::new()));
    let mut workload = big_workload();
    workload.threads = 32;
    workload.writes_per_thread = 60;
    workload.no_merge_pct = 50;
    let issued = run(&gc, &journal, workload);
    verify(&lock(&journal), &issued);
    assert!(issued.iter().all(|w| w.result.is_ok()));
    assert!(gc.metrics().merged_writes > 0, "nothing merged");
}

#[test]
fn merge_off_per_write_slots() {
    merge_off_per_write::<Slots>();
}

#[test]
fn merge_off_per_write_channels() {
    merge_off_per_write::<Channels>();
}

#[test]
fn merge_off_per_write_pipelined() {
    merge_off_per_write::<Pipelined>();
}

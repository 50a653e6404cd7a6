//! Read-only opens beside a live writer (issue #26): each open sees a
//! consistent snapshot of what was committed when it opened, stays whole
//! while the writer flushes, compacts and deletes the tables under it, and
//! a refresh catches up.
//!
//! The writer's history makes a snapshot checkable from itself: batch `i`
//! puts key `i % KEYS` = `i` and `last` = `i`, so a snapshot whose `last`
//! is `n` must hold, for each key, the newest `i <= n` of it and nothing
//! else.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use tributary::{Batch, Db, Options, Snapshot, WriteOptions};

const KEYS: u64 = 3_000;

fn key(k: u64) -> Vec<u8> {
    format!("key{k:06}").into_bytes()
}

fn value(i: u64) -> Vec<u8> {
    // 200 bytes: a 64 KiB write buffer fills every 300 batches or so.
    let mut v = format!("{i:020}").into_bytes();
    v.resize(200, b'.');
    v
}

/// Small buffers and tables, so that the writer flushes, compacts through
/// several levels and deletes tables all the time.
fn options() -> Options {
    Options {
        write_buffer_size: tributary::MIN_WRITE_BUFFER_SIZE,
        table_file_size: 32 << 10,
        level1_size: 128 << 10,
        ..Options::default()
    }
}

/// What a snapshot whose `last` is `n` must hold.
fn expected(n: Option<u64>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut map = BTreeMap::new();
    let Some(n) = n else { return map };
    for k in 0..KEYS.min(n + 1) {
        let newest = n - (n - k) % KEYS;
        map.insert(key(k), value(newest));
    }
    map.insert(b"last".to_vec(), n.to_string().into_bytes());
    map
}

/// Checks that `snapshot` is a whole prefix of the writer's history, by a
/// scan and by gets; returns its `last`.
fn check(snapshot: &Snapshot, what: &str) -> Option<u64> {
    let last = snapshot
        .get("last")
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap().parse::<u64>().unwrap());
    let want = expected(last);
    let got: BTreeMap<Vec<u8>, Vec<u8>> = snapshot.iter().map(Result::unwrap).collect();
    assert_eq!(got.len(), want.len(), "{what}: entries at last = {last:?}");
    assert!(got == want, "{what}: contents at last = {last:?}");
    for k in (0..KEYS).step_by(97) {
        assert_eq!(
            snapshot.get(key(k)).unwrap(),
            want.get(&key(k)).cloned(),
            "{what}: get {k}"
        );
    }
    last
}

/// Sets its flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Clears its flag when dropped.
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn write_until(db: &Db, stop: &AtomicBool) -> u64 {
    let mut i = 0;
    while !stop.load(Ordering::Acquire) {
        let mut batch = Batch::new();
        batch.put(key(i % KEYS), value(i));
        batch.put("last", i.to_string());
        db.write(&batch, &WriteOptions::default()).unwrap();
        i += 1;
    }
    i
}

/// Waits until the writer has compacted `more` times since it had
/// compacted `before` times: an event, not a time. Panics if the writing
/// thread ended (it panicked), rather than wait for ever.
fn wait_for_compactions(writer: &Db, writing: &AtomicBool, before: u64, more: u64) -> u64 {
    loop {
        let now = writer.stats().compactions;
        if now >= before + more {
            return now;
        }
        assert!(writing.load(Ordering::Acquire), "the writing thread ended");
        std::thread::yield_now();
    }
}

/// Opens a reader and checks that its load found the history whole.
fn open_reader(path: &Path, what: &str) -> Db {
    let reader = Db::open_read_only(path, options()).unwrap();
    let report = reader.recovery_report();
    assert!(report.damage.is_none(), "{what}: {report}");
    reader
}

#[test]
fn read_only_opens_beside_a_writer_that_flushes_and_compacts() {
    let tmp = tempfile::tempdir().unwrap();
    let path: &Path = tmp.path();
    let writer = Db::open(path, options()).unwrap();
    let stop = AtomicBool::new(false);
    let writing = AtomicBool::new(true);
    std::thread::scope(|s| {
        let written = s.spawn(|| {
            // Says the thread ended, by a panic too.
            let _ended = ClearOnDrop(&writing);
            write_until(&writer, &stop)
        });
        // Stops the writer when the checks below end, by a failure too.
        let _stop = StopOnDrop(&stop);
        let mut compactions = wait_for_compactions(&writer, &writing, 0, 2);

        // A reader opened early: its snapshot must stay whole while the
        // writer deletes every table it read.
        let early = open_reader(path, "early open");
        let early_snapshot = early.snapshot();
        let early_last = check(&early_snapshot, "early open").expect("some writes");

        let mut seen = early_last;
        for round in 0..12 {
            compactions = wait_for_compactions(&writer, &writing, compactions, 2);
            // A fresh open, beside the writer.
            let reader = open_reader(path, &format!("open {round}"));
            let last = check(&reader.snapshot(), &format!("open {round}")).unwrap();
            assert!(
                last >= seen,
                "open {round}: last {last} went back from {seen}"
            );
            seen = last;
            // The early reader still reads what it saw, tables deleted or not.
            check(&early_snapshot, &format!("early snapshot, round {round}"));
            // A refresh catches up, and its view is whole too.
            let refreshed = early.refresh().unwrap();
            let last = check(&early.snapshot(), &format!("refresh {round}")).unwrap();
            assert_eq!(refreshed.0, early.snapshot().seq().0);
            assert!(
                last >= seen,
                "refresh {round}: last {last} went back from {seen}"
            );
            seen = last;
        }
        assert!(seen > early_last, "the refreshes saw newer writes");
        stop.store(true, Ordering::Release);
        let written = written.join().unwrap();
        assert!(written > seen);
        // After the writer closes, a refresh sees everything it wrote.
        writer.close().unwrap();
        early.refresh().unwrap();
        assert_eq!(check(&early.snapshot(), "after close"), Some(written - 1));
        // The old snapshot is still the one it was.
        assert_eq!(
            check(&early_snapshot, "early snapshot at the end"),
            Some(early_last)
        );
    });
}

/// A read-only database takes no lock: a writer opens beside readers, and
/// readers beside a writer; readers change nothing in the directory.
#[test]
fn readers_and_a_writer_open_in_any_order() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let writer = Db::open(&path, Options::default()).unwrap();
    writer.put("k", "v").unwrap();
    let reader = Db::open_read_only(&path, Options::default()).unwrap();
    assert_eq!(reader.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    writer.close().unwrap();
    let second = Db::open_read_only(&path, Options::default()).unwrap();
    let writer = Db::open(&path, Options::default()).unwrap();
    writer.put("k", "w").unwrap();
    assert_eq!(second.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    second.refresh().unwrap();
    assert_eq!(second.get("k").unwrap().as_deref(), Some(&b"w"[..]));
    assert_eq!(
        writer.refresh().unwrap(),
        writer.snapshot().seq(),
        "a writer is current"
    );
    // A second writer is still locked out.
    assert!(matches!(
        Db::open(&path, Options::default()),
        Err(tributary::Error::Locked { .. })
    ));
    drop((reader, second));
    writer.close().unwrap();
}

//! A sink that fails: the writer returns the error, stays failed, and writes
//! nothing after it, so the journal never has a hole followed by data.

mod common;

use common::read_all;
use journal::{Recovery, SyncWrite, Writer};
use std::io::{self, Write};

/// What the sink does on its n-th call (counting from 1).
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `write` fails with EIO.
    WriteError,
    /// `write` accepts 3 bytes; the next `write` fails.
    ShortThenError,
    /// `write` returns `Ok(0)`.
    WriteZero,
    /// `sync_data` fails.
    SyncError,
    /// `flush` fails.
    FlushError,
}

#[derive(Default)]
struct FaultySink {
    data: Vec<u8>,
    n_writes: usize,
    n_syncs: usize,
    n_flushes: usize,
    /// Fault and the call number it hits.
    fault: Option<(Fault, usize)>,
    /// Calls after the fault fired: must stay zero.
    calls_after_fault: usize,
    fired: bool,
    short_done: bool,
    interrupt_next: bool,
}

impl FaultySink {
    fn new(fault: Fault, at: usize) -> FaultySink {
        FaultySink {
            fault: Some((fault, at)),
            ..FaultySink::default()
        }
    }

    fn hits(&self, kinds: &[&str], n: usize) -> bool {
        matches!(self.fault, Some((f, at)) if at == n && kinds.contains(&format!("{f:?}").as_str()))
    }

    fn eio() -> io::Error {
        io::Error::other("injected EIO")
    }
}

impl Write for FaultySink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.fired {
            self.calls_after_fault += 1;
        }
        if self.interrupt_next {
            self.interrupt_next = false;
            return Err(io::ErrorKind::Interrupted.into());
        }
        self.n_writes += 1;
        let n = self.n_writes;
        if self.hits(&["WriteError"], n)
            || (self.short_done && self.hits(&["ShortThenError"], n - 1))
        {
            self.fired = true;
            return Err(FaultySink::eio());
        }
        if self.hits(&["ShortThenError"], n) {
            // `write_all` comes back for the rest, and gets the error.
            self.short_done = true;
            let k = buf.len().min(3);
            self.data.extend_from_slice(&buf[..k]);
            return Ok(k);
        }
        if self.hits(&["WriteZero"], n) {
            self.fired = true;
            return Ok(0);
        }
        self.data.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.fired {
            self.calls_after_fault += 1;
        }
        self.n_flushes += 1;
        if self.hits(&["FlushError"], self.n_flushes) {
            self.fired = true;
            return Err(FaultySink::eio());
        }
        Ok(())
    }
}

impl SyncWrite for FaultySink {
    fn sync_data(&mut self) -> io::Result<()> {
        if self.fired {
            self.calls_after_fault += 1;
        }
        self.n_syncs += 1;
        if self.hits(&["SyncError"], self.n_syncs) {
            self.fired = true;
            return Err(FaultySink::eio());
        }
        Ok(())
    }
}

/// Appends and syncs records until the first error, then checks that the
/// writer is failed for good and the sink saw nothing after the fault.
/// Returns the sink and how many records were synced.
fn run(fault: Fault, at: usize) -> (FaultySink, usize) {
    let mut w = Writer::new(FaultySink::new(fault, at));
    let mut n_synced = 0;
    let first_error = loop {
        let record = format!("record {n_synced}");
        let res = w.append(record.as_bytes()).and_then(|()| w.sync());
        match res {
            Ok(()) => n_synced += 1,
            Err(e) => break e,
        }
        assert!(n_synced < 100, "fault {fault:?} at {at} never fired");
    };
    assert!(w.get_ref().fired);

    // Sticky: every call fails, with the first error's kind and message.
    let kind = first_error.kind();
    for e in [
        w.append(b"more").unwrap_err(),
        w.flush().unwrap_err(),
        w.sync().unwrap_err(),
    ] {
        assert_eq!(e.kind(), kind);
        assert!(
            e.to_string().starts_with("journal writer failed earlier: "),
            "{e}"
        );
        assert!(e.to_string().ends_with(&first_error.to_string()), "{e}");
    }
    let sink = w.into_inner();
    assert_eq!(sink.calls_after_fault, 0, "wrote after the fault");
    (sink, n_synced)
}

/// Whatever reached the sink reads back as the synced records, then at most
/// a torn tail: never damage in the middle.
fn check_prefix(sink: &FaultySink, n_synced: usize) {
    let o = read_all(&sink.data, Recovery::Strict);
    assert!(o.error.is_none(), "{:?}", o.error);
    let want: Vec<String> = (0..n_synced).map(|i| format!("record {i}")).collect();
    assert_eq!(o.strings(), want);
}

#[test]
fn write_error_on_nth_write() {
    for at in 1..=4 {
        let (sink, n_synced) = run(Fault::WriteError, at);
        assert_eq!(n_synced, at - 1);
        check_prefix(&sink, n_synced);
        assert_eq!(sink.n_writes, at);
    }
}

#[test]
fn short_write_then_error() {
    for at in 1..=3 {
        let (sink, n_synced) = run(Fault::ShortThenError, at);
        assert_eq!(n_synced, at - 1);
        check_prefix(&sink, n_synced);
        // The 3 bytes of the torn write are there, and nothing after them.
        let o = read_all(&sink.data, Recovery::Tolerant);
        assert_eq!(o.torn_tail.map(|t| t.len), Some(3));
    }
}

#[test]
fn write_returning_zero_is_an_error() {
    let (sink, n_synced) = run(Fault::WriteZero, 2);
    assert_eq!(n_synced, 1);
    check_prefix(&sink, n_synced);
}

#[test]
fn sync_error() {
    for at in 1..=3 {
        let (sink, n_synced) = run(Fault::SyncError, at);
        assert_eq!(n_synced, at - 1);
        // The failed sync's record was written, but it was never
        // acknowledged; a failed fsync is not retried.
        assert_eq!(sink.n_syncs, at);
        assert_eq!(sink.n_writes, at);
        check_prefix(&sink, at);
    }
}

#[test]
fn flush_error() {
    let (sink, n_synced) = run(Fault::FlushError, 2);
    assert_eq!(n_synced, 1);
    assert_eq!(sink.n_syncs, 1);
}

#[test]
fn interrupted_writes_are_retried() {
    let sink = FaultySink {
        interrupt_next: true,
        ..FaultySink::default()
    };
    let mut w = Writer::new(sink);
    w.append(b"hello").unwrap();
    w.sync().unwrap();
    let sink = w.into_inner();
    assert!(!sink.fired);
    assert_eq!(read_all(&sink.data, Recovery::Strict).strings(), ["hello"]);
}

/// A record bigger than the write-through threshold is written out during
/// `append`; a fault there is returned by `append` itself.
#[test]
fn write_through_error_fails_append() {
    let mut w = Writer::new(FaultySink::new(Fault::WriteError, 1));
    let err = w.append(&vec![1u8; 3 << 20]).unwrap_err();
    assert_eq!(err.to_string(), "injected EIO");
    assert!(w.flush().is_err());
    assert!(w.get_ref().data.is_empty());
}

/// One `write` per flush, whatever the number of chunks.
#[test]
fn one_write_per_flush() {
    let mut w = Writer::new(FaultySink::default());
    w.append(&vec![2u8; 100_000]).unwrap();
    w.append(b"x").unwrap();
    w.flush().unwrap();
    assert_eq!(w.get_ref().n_writes, 1);
    w.flush().unwrap();
    assert_eq!(w.get_ref().n_writes, 1, "nothing to write");
    w.append(b"y").unwrap();
    w.sync().unwrap();
    assert_eq!(w.get_ref().n_writes, 2);
    assert_eq!(w.get_ref().n_syncs, 1);
}

/// `&mut W` is a `SyncWrite` too, so a writer can borrow its sink.
#[test]
fn writer_over_a_borrowed_sink() {
    let mut file = Vec::new();
    {
        let mut w = Writer::new(&mut file);
        w.append(b"borrowed").unwrap();
        w.sync().unwrap();
    }
    assert_eq!(read_all(&file, Recovery::Strict).strings(), ["borrowed"]);
}

/// The real file: `sync` is `fdatasync`, and the bytes are in the file.
#[test]
fn file_sink() {
    let mut file = tempfile::tempfile().unwrap();
    let mut w = Writer::new(&mut file);
    w.append(b"on disk").unwrap();
    w.append(&vec![3u8; 40_000]).unwrap();
    w.sync().unwrap();
    let size = w.size();
    drop(w);
    use std::io::{Read, Seek};
    file.rewind().unwrap();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes.len() as u64, size);
    let o = read_all(&bytes, Recovery::Strict);
    assert_eq!(o.records, [b"on disk".to_vec(), vec![3u8; 40_000]]);
}

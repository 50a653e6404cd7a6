//! The journal writer: frames records into chunks and blocks, buffers them,
//! and hands them to a [`SyncWrite`] in whole `write_all` calls.
//!
//! Mirrors goleveldb `journal.Writer` (`Next`, `Write`, `Flush`, `Size`), with
//! one record per [`Writer::append`] call instead of a record writer object.

use std::sync::Arc;
use std::{fmt, fs, io};

use crate::format::{encode_header, ChunkType, BLOCK_SIZE, HEADER_LEN};

/// A byte sink that can make what was written to it durable.
///
/// Durability is in the type: a journal writer can only be built over
/// something that knows how to `fdatasync`, so [`Writer::sync`] always means
/// what it says.
pub trait SyncWrite: io::Write {
    /// Makes every byte written so far survive a crash or power loss, as
    /// `fdatasync` does: file data and the length, not necessarily other
    /// metadata.
    ///
    /// Only bytes already handed over with [`io::Write::write`] count; a
    /// buffering implementation must flush first.
    ///
    /// # Errors
    ///
    /// Whatever the device reports.
    /// After an error the state of unsynced data is unknown, so callers must
    /// not retry and assume success.
    fn sync_data(&mut self) -> io::Result<()>;

    /// A handle that makes this sink's bytes durable from another thread,
    /// beside writes through the sink: what lets a pipelined group commit
    /// run its fsync after handing the write lock on. `None` (the
    /// default): the sink has none, and syncs only through
    /// [`sync_data`](SyncWrite::sync_data).
    fn sync_handle(&self) -> Option<Arc<dyn SyncHandle>> {
        None
    }
}

/// The fsync of a sink, callable from any thread while others write to
/// it ([`SyncWrite::sync_handle`]).
pub trait SyncHandle: Send + Sync {
    /// Makes every byte handed to the sink before this call began survive
    /// a crash or power loss, as [`SyncWrite::sync_data`] does.
    ///
    /// # Errors
    ///
    /// Whatever the device reports; as for `sync_data`, never retry.
    fn sync_data(&self) -> io::Result<()>;
}

impl SyncWrite for fs::File {
    /// `fdatasync(2)` (`File::sync_data`).
    fn sync_data(&mut self) -> io::Result<()> {
        fs::File::sync_data(self)
    }

    /// A duplicate of the descriptor: `fdatasync` on it covers every write
    /// through either.
    fn sync_handle(&self) -> Option<Arc<dyn SyncHandle>> {
        let file = self.try_clone().ok()?;
        Some(Arc::new(file))
    }
}

impl SyncHandle for fs::File {
    fn sync_data(&self) -> io::Result<()> {
        fs::File::sync_data(self)
    }
}

impl SyncWrite for Vec<u8> {
    /// Nothing to do: memory is as durable as it gets. For tests.
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: SyncWrite + ?Sized> SyncWrite for &mut W {
    fn sync_data(&mut self) -> io::Result<()> {
        (**self).sync_data()
    }

    fn sync_handle(&self) -> Option<Arc<dyn SyncHandle>> {
        (**self).sync_handle()
    }
}

/// Writes records to a journal.
///
/// [`append`](Writer::append) frames a record into chunks in an internal
/// buffer; [`flush`](Writer::flush) hands everything appended to the sink in
/// one `write_all`; [`sync`](Writer::sync) flushes and then makes it durable.
/// A group-commit leader calls `append` once with the merged batch, then
/// `flush` or `sync`: one system call per group (two when synced).
///
/// Errors are sticky: after any I/O error from the sink, every later call
/// fails and nothing more is written, so the journal never has a hole
/// followed by data.
/// Dropping a writer discards what was appended but not flushed; it does no
/// I/O.
pub struct Writer<W: SyncWrite> {
    /// The sink.
    inner: W,
    /// Framed bytes not yet handed to `inner`.
    // Invariant: these are the last `buf.len()` of the `size` logical bytes;
    // all bytes before them were passed to `inner.write_all`, which succeeded.
    // Outside `append`, `buf.len() < WRITE_THROUGH + BLOCK_SIZE` unless a
    // flush failed.
    buf: Vec<u8>,
    /// Logical length of the journal: bytes flushed plus bytes buffered.
    // Invariant: `size % BLOCK_SIZE` is where the next chunk or trailer goes
    // in the current block.
    size: u64,
    /// The first I/O error, kept so that later calls can report it.
    // Invariant: once `Some`, stays `Some`, and `inner` is not written again.
    failed: Option<Failure>,
}

/// A copy of the error that made a writer fail (`io::Error` is not `Clone`).
struct Failure {
    kind: io::ErrorKind,
    message: String,
}

/// Buffered bytes at which `append` writes through to the sink, so that a
/// huge record does not get copied whole into the buffer.
const WRITE_THROUGH: usize = 1 << 20;

/// Source of trailer bytes.
const ZEROS: [u8; HEADER_LEN] = [0; HEADER_LEN];

impl<W: SyncWrite> Writer<W> {
    /// A writer for a new, empty journal: `inner` is at offset 0.
    pub fn new(inner: W) -> Writer<W> {
        Writer::with_offset(inner, 0)
    }

    /// A writer that continues a journal whose first `offset` bytes are
    /// already in the file, for example after truncating a recovered journal
    /// to [`Reader::offset`](crate::Reader::offset).
    ///
    /// `inner` must append at `offset`, and the bytes before it must end at a
    /// record boundary, or readers will see a partial record.
    /// LevelDB's `Writer(dest, dest_length)`; goleveldb never reuses a journal.
    pub fn with_offset(inner: W, offset: u64) -> Writer<W> {
        Writer {
            inner,
            buf: Vec::new(),
            size: offset,
            failed: None,
        }
    }

    /// Frames `record` as one journal record (a `full` chunk, or `first`,
    /// `middle`s and `last`) and buffers it.
    ///
    /// The record is not handed to the sink until [`flush`](Writer::flush),
    /// except that a buffer past 1 MiB is written through in whole
    /// `write_all`s as it fills.
    /// An empty record is legal.
    ///
    /// # Errors
    ///
    /// An earlier I/O error (the writer is failed), or the sink's error when
    /// writing through. Either way the writer is failed from then on.
    pub fn append(&mut self, record: &[u8]) -> io::Result<()> {
        self.check_failed()?;
        self.buf
            .reserve(framed_len_bound(record.len()).min(WRITE_THROUGH + BLOCK_SIZE));
        let mut rest = record;
        let mut is_first = true;
        loop {
            let mut left = BLOCK_SIZE - self.block_offset();
            if left < HEADER_LEN {
                // Not even a header fits: zero-fill the trailer.
                self.buf.extend_from_slice(&ZEROS[..left]);
                self.size += left as u64;
                left = BLOCK_SIZE;
            }
            let (data, tail) = rest.split_at(rest.len().min(left - HEADER_LEN));
            let is_last = tail.is_empty();
            let chunk_type = ChunkType::for_position(is_first, is_last);
            self.buf.extend_from_slice(&encode_header(chunk_type, data));
            self.buf.extend_from_slice(data);
            self.size += (HEADER_LEN + data.len()) as u64;
            if self.buf.len() >= WRITE_THROUGH {
                self.write_buffered()?;
            }
            if is_last {
                return Ok(());
            }
            rest = tail;
            is_first = false;
        }
    }

    /// Hands every appended byte to the sink with one `write_all`, then calls
    /// the sink's `flush`.
    ///
    /// The bytes are then with the operating system: they survive a process
    /// crash but not a power loss. Use [`sync`](Writer::sync) for that.
    ///
    /// # Errors
    ///
    /// An earlier I/O error, or the sink's. The writer is failed from then on.
    pub fn flush(&mut self) -> io::Result<()> {
        self.check_failed()?;
        self.write_buffered()?;
        let res = self.inner.flush();
        self.note(res)
    }

    /// Flushes, then makes the journal durable with
    /// [`SyncWrite::sync_data`].
    ///
    /// # Errors
    ///
    /// An earlier I/O error, or the sink's. The writer is failed from then on:
    /// a failed fsync is never retried.
    pub fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        let res = self.inner.sync_data();
        self.note(res)
    }

    /// Logical length of the journal in bytes, buffered bytes included: where
    /// the file ends after the next successful flush (LevelDB's `Size`).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The sink.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The sink's [`SyncHandle`], if it has one: an fsync that another
    /// thread may run while this writer appends. It covers the bytes
    /// [`flush`](Writer::flush)ed before it runs, not those still
    /// buffered here.
    pub fn sync_handle(&self) -> Option<Arc<dyn SyncHandle>> {
        self.inner.sync_handle()
    }

    /// The sink, mutably. Writing to it directly corrupts the journal.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The sink, discarding anything appended since the last successful
    /// flush. Call [`flush`](Writer::flush) or [`sync`](Writer::sync) first.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Where the next chunk goes in the current block.
    fn block_offset(&self) -> usize {
        (self.size % BLOCK_SIZE as u64) as usize
    }

    /// Writes the buffer to the sink, whole.
    fn write_buffered(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let res = self.inner.write_all(&self.buf);
        if res.is_ok() {
            self.buf.clear();
        }
        self.note(res)
    }

    /// Makes the writer failed if `res` is an error.
    fn note(&mut self, res: io::Result<()>) -> io::Result<()> {
        if let Err(e) = &res {
            self.failed = Some(Failure {
                kind: e.kind(),
                message: e.to_string(),
            });
        }
        res
    }

    fn check_failed(&self) -> io::Result<()> {
        match &self.failed {
            None => Ok(()),
            Some(f) => Err(io::Error::new(
                f.kind,
                format!("journal writer failed earlier: {}", f.message),
            )),
        }
    }
}

impl<W: SyncWrite> fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("size", &self.size)
            .field("buffered", &self.buf.len())
            .field("failed", &self.failed.as_ref().map(|f| &f.message))
            .finish_non_exhaustive()
    }
}

/// An upper bound on the framed length of a record of `len` bytes: the data,
/// one header per chunk, and a trailer.
fn framed_len_bound(len: usize) -> usize {
    let n_chunks = len / (BLOCK_SIZE - HEADER_LEN) + 2;
    len.saturating_add(n_chunks * HEADER_LEN + HEADER_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_record_is_one_full_chunk() {
        let mut w = Writer::new(Vec::new());
        w.append(b"").unwrap();
        assert_eq!(w.size(), 7);
        assert!(w.get_ref().is_empty(), "nothing is written before flush");
        w.flush().unwrap();
        let bytes = w.into_inner();
        assert_eq!(bytes.len(), 7);
        assert_eq!(bytes[4..], [0, 0, 1]);
    }

    #[test]
    fn exactly_seven_left_starts_with_an_empty_first_chunk() {
        let mut w = Writer::new(Vec::new());
        w.append(&vec![b'a'; BLOCK_SIZE - 2 * HEADER_LEN]).unwrap();
        assert_eq!(w.size(), (BLOCK_SIZE - HEADER_LEN) as u64);
        w.append(b"xy").unwrap();
        w.flush().unwrap();
        let bytes = w.into_inner();
        let tail = &bytes[BLOCK_SIZE - HEADER_LEN..];
        assert_eq!(tail[4..7], [0, 0, ChunkType::First as u8]);
        assert_eq!(tail[11..14], [2, 0, ChunkType::Last as u8]);
        assert_eq!(bytes.len(), BLOCK_SIZE + HEADER_LEN + 2);
    }

    #[test]
    fn short_trailer_is_zero_filled() {
        let mut w = Writer::new(Vec::new());
        w.append(&vec![b'a'; BLOCK_SIZE - HEADER_LEN - 3]).unwrap();
        w.append(b"z").unwrap();
        w.flush().unwrap();
        let bytes = w.into_inner();
        assert_eq!(bytes[BLOCK_SIZE - 3..BLOCK_SIZE], [0, 0, 0]);
        assert_eq!(bytes[BLOCK_SIZE + 4..BLOCK_SIZE + 7], [1, 0, 1]);
    }

    #[test]
    fn big_record_is_written_through_in_whole_pieces() {
        let n = if cfg!(miri) {
            40_000
        } else {
            3 * WRITE_THROUGH
        };
        let mut w = Writer::new(Vec::new());
        w.append(&vec![7u8; n]).unwrap();
        assert!(w.buf.len() < WRITE_THROUGH + BLOCK_SIZE);
        w.flush().unwrap();
        assert_eq!(w.get_ref().len() as u64, w.size());
    }

    #[test]
    fn framed_len_bound_is_an_upper_bound() {
        let lens: &[usize] = if cfg!(miri) {
            &[0, 1, MAX + 1]
        } else {
            &[0, 1, 100, MAX - 1, MAX, MAX + 1, 3 * MAX + 5]
        };
        for &len in lens {
            for start in [0, 1, BLOCK_SIZE - 7, BLOCK_SIZE - 6, BLOCK_SIZE - 1] {
                let mut w = Writer::with_offset(Vec::new(), start as u64);
                w.append(&vec![0u8; len]).unwrap();
                let framed = (w.size() - start as u64) as usize;
                assert!(framed <= framed_len_bound(len), "{len} at {start}");
            }
        }
    }

    const MAX: usize = BLOCK_SIZE - HEADER_LEN;
}

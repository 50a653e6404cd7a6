//! `load`: puts read from stdin, one `KEY VALUE` pair a line as `scan`
//! prints them (with `--hex`, as `tributary --hex scan` or `ldb dump
//! --hex` prints them), written in large batches.
//!
//! Loading 180,000 keys one `tributary put` at a time opens and closes
//! the database 180,000 times; here one open writes a batch per
//! [`BATCH_ENTRIES`] entries or [`BATCH_BYTES`] bytes, unsynced, and the
//! close syncs the journal once at the end.

use crate::progress::{mib, StatusLine};
use crate::text::Notation;
use crate::Failure;
use std::io::BufRead;
use std::time::{Duration, Instant};
use tributary::{Batch, Db, WriteOptions};

/// A batch is written once it holds this many entries...
pub const BATCH_ENTRIES: usize = 10_000;
/// ... or this many bytes, whichever comes first: few enough writes that
/// their overhead is lost in the copying, small enough that a batch stays
/// well within a memtable.
pub const BATCH_BYTES: usize = 1 << 20;
/// The least time between two progress lines.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// What has been written to the database.
#[derive(Default)]
struct Loaded {
    /// Entries written.
    entries: u64,
    /// Bytes of their keys and values.
    bytes: u64,
    /// Input lines read into them: every line up to this one is loaded.
    lines: u64,
}

/// The batch being filled, and what is loaded before it.
struct Loader<'a> {
    /// Where the batches go.
    db: &'a Db,
    /// The pairs read since the last write.
    batch: Batch,
    /// Bytes of the batch's keys and values.
    batch_bytes: u64,
    /// What the writes so far hold.
    loaded: Loaded,
}

/// Puts every pair `input` holds, in `notation`, into `db`, with a
/// progress line on stderr.
///
/// # Errors
///
/// A malformed line is [`Failure::Usage`] naming its number, with nothing
/// of its batch written: every line before the batch's first is loaded,
/// none from it on (the message says which). A failing read or write is
/// [`Failure::Db`].
pub fn load(db: &Db, notation: Notation, input: &mut dyn BufRead) -> Result<(), Failure> {
    let started = Instant::now();
    let mut status = StatusLine::new(PROGRESS_EVERY);
    let mut loader = Loader {
        db,
        batch: Batch::new(),
        batch_bytes: 0,
        loaded: Loaded::default(),
    };
    let mut line_number = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::Db(format!("read stdin: {e}")))?;
        if n == 0 {
            break;
        }
        line_number += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        // A blank line (the end of a hand-written file, say) holds no pair.
        if !text.is_empty() {
            let (key, value) = parse_line(notation, text)
                .map_err(|why| malformed(line_number, &why, &loader.loaded))?;
            loader.put(&key, &value);
        }
        if loader.batch_is_full() {
            loader.write(line_number)?;
            status.tick(|| progress(&loader.loaded, started));
        }
    }
    loader.write(line_number)?;
    status.finish(&format!("{}, done", progress(&loader.loaded, started)));
    Ok(())
}

impl Loader<'_> {
    /// Adds a pair to the batch.
    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.batch.put(key, value);
        self.batch_bytes += (key.len() + value.len()) as u64;
    }

    /// Whether the batch is big enough to write.
    fn batch_is_full(&self) -> bool {
        self.batch.len() >= BATCH_ENTRIES || self.batch.as_bytes().len() >= BATCH_BYTES
    }

    /// Writes the batch, which holds every line up to `through_line`, and
    /// empties it.
    fn write(&mut self, through_line: u64) -> Result<(), Failure> {
        let options = WriteOptions {
            // The close syncs once, at the end.
            sync: false,
            merge: true,
        };
        self.db.write(&self.batch, &options)?;
        self.loaded.entries += self.batch.len() as u64;
        self.loaded.bytes += std::mem::take(&mut self.batch_bytes);
        self.loaded.lines = through_line;
        self.batch.clear();
        Ok(())
    }
}

/// The key and value of one line (its newline taken off): `KEY VALUE`,
/// with `--hex` also `0xKEY ==> 0xVALUE` as `ldb dump --hex` prints it.
fn parse_line(notation: Notation, line: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    // Neither notation ever holds a carriage return: it is a line end.
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let space = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or("no space between key and value")?;
    let (key, rest) = (&line[..space], &line[space + 1..]);
    let value = match notation {
        Notation::Hex => rest.strip_prefix(b"==> ").unwrap_or(rest),
        Notation::Plain => rest,
    };
    let key = notation
        .parse_text(key)
        .map_err(|e| format!("the key: {e}"))?;
    if key.len() > tributary::MAX_KEY_SIZE {
        return Err(format!(
            "a key of {} bytes, longer than the {} a key may have",
            key.len(),
            tributary::MAX_KEY_SIZE
        ));
    }
    let value = notation
        .parse_text(value)
        .map_err(|e| format!("the value: {e}"))?;
    Ok((key, value))
}

/// The error for line `number`, saying what is loaded.
fn malformed(number: u64, why: &str, loaded: &Loaded) -> Failure {
    let kept = match loaded.lines {
        0 => "nothing was loaded".to_owned(),
        lines => format!(
            "lines 1 to {lines} were loaded ({} entries), nothing from line {} on",
            loaded.entries,
            lines + 1
        ),
    };
    Failure::Usage(format!("stdin line {number}: {why}; {kept}"))
}

/// The progress line: entries and bytes so far, and the rate once there
/// is time enough to measure one.
fn progress(loaded: &Loaded, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs >= 0.1 {
        format!(", {:.0} entries/s", loaded.entries as f64 / secs)
    } else {
        String::new()
    };
    format!(
        "loaded {} entries ({:.2} MiB of keys and values) in {secs:.1} s{rate}",
        loaded.entries,
        mib(loaded.bytes),
    )
}

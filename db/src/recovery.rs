//! Opening replays every journal, oldest first, into memtables.
//!
//! Replay keeps these promises (RELIABILITY.md, "the oracle"):
//!
//! - A batch is applied whole or not at all: it is decoded and checked
//!   completely before the first of its records reaches a memtable.
//! - The history is a prefix: the first batch takes sequence number 1 and
//!   each later one starts right after the one before. A gap is damage.
//! - The last sequence number is restored exactly, so the next write takes
//!   the next one and no number is reused.
//! - Damage is never skipped over. A torn tail ends a journal quietly; any
//!   other damage ends the replay ([`RecoveryMode::PointInTime`]) or the open
//!   ([`RecoveryMode::Strict`]). Either way, what was dropped is reported.
//!
//! When it may change the directory (`Fix::Repair`), point-in-time recovery
//! also makes its choice stable: the damaged journal is cut after its last
//! good record and later journals are renamed aside, so that a second open
//! finds exactly the same history and new journals never follow a hole.

use crate::error::{io_err, Error};
use crate::files;
use crate::fs::Fs;
use crate::options::RecoveryMode;
use batch::{Batch, SeqNum};
use memdb::{BlockPool, Inserter, MemDb};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What opening found in the journals and what it dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Journals replayed, oldest first, with what each held.
    pub journals: Vec<JournalReport>,
    /// The last sequence number recovered: the next write takes the one after.
    pub last_seq: SeqNum,
    /// Byte ranges not replayed, with the reason, in file order.
    pub dropped: Vec<DroppedRange>,
    /// Journals after the damage, renamed to `*.log.dropped` (point-in-time
    /// recovery only).
    pub set_aside: Vec<PathBuf>,
    /// Time spent replaying.
    pub elapsed: Duration,
}

impl RecoveryReport {
    /// Journal bytes read.
    pub fn bytes(&self) -> u64 {
        self.journals.iter().map(|j| j.bytes).sum()
    }

    /// Batches replayed.
    pub fn batches(&self) -> u64 {
        self.journals.iter().map(|j| j.batches).sum()
    }

    /// Whether nothing at all was dropped, not even a torn tail.
    pub fn is_clean(&self) -> bool {
        self.dropped.is_empty() && self.set_aside.is_empty()
    }
}

/// One journal's part of a [`RecoveryReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalReport {
    /// The journal file.
    pub path: PathBuf,
    /// Its size in bytes when opened.
    pub bytes: u64,
    /// Batches replayed from it.
    pub batches: u64,
    /// Records (puts and deletes) replayed from it.
    pub records: u64,
}

/// A byte range of a journal that recovery did not replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedRange {
    /// The journal file.
    pub path: PathBuf,
    /// Where the range starts.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Why: a torn tail, or the damage found.
    pub reason: String,
}

/// Whether recovery may change the directory to make its result stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fix {
    /// Cut a damaged journal after its last good record and rename later
    /// journals aside (opening a database).
    Repair,
    /// Change nothing (`tributary check`).
    ReadOnly,
}

/// The state a replay ends in.
pub(crate) struct Recovered {
    pub report: RecoveryReport,
    /// Frozen memtables, newest first.
    pub frozen: Vec<Arc<MemDb>>,
    /// The memtable new writes go to, with its inserter.
    pub active: (Arc<MemDb>, Inserter),
    /// The highest journal number seen, live or set aside.
    pub max_journal: u64,
    /// Bytes in the journals that stay live.
    pub journal_bytes: u64,
}

/// A reader that counts the bytes it returned.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// The journals in `dir`, oldest first.
pub(crate) fn list_journals(fs: &dyn Fs, dir: &Path) -> Result<Vec<(u64, PathBuf)>, Error> {
    let mut journals: Vec<(u64, PathBuf)> = fs
        .list(dir)
        .map_err(io_err("list", dir))?
        .iter()
        .filter_map(|name| files::parse_journal_name(name).map(|n| (n, dir.join(name))))
        .collect();
    journals.sort();
    Ok(journals)
}

/// Whether the journal at `path` holds a readable record that starts past
/// `offset`, skipping damage: damage with records after it is not a torn
/// write.
fn record_follows(fs: &dyn Fs, path: &Path, offset: u64) -> Result<bool, Error> {
    let file = fs.open(path).map_err(io_err("open", path))?;
    let mut reader = journal::Reader::new(file, journal::Recovery::Tolerant);
    loop {
        match reader.next_record().map(|r| r.is_some()) {
            Ok(true) if reader.record_offset() > offset => return Ok(true),
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(journal::ReadError::Io(e)) => {
                return Err(Error::Io {
                    op: "read",
                    path: path.to_path_buf(),
                    source: e,
                })
            }
            // Tolerant mode skips damage; anything else ends the search.
            Err(_) => return Ok(false),
        }
    }
}

/// Replays the journals of `dir`.
pub(crate) fn replay(
    fs: &dyn Fs,
    dir: &Path,
    mode: RecoveryMode,
    write_buffer_size: usize,
    blocks: &Arc<BlockPool>,
    fix: Fix,
) -> Result<Recovered, Error> {
    let started = Instant::now();
    let journals = list_journals(fs, dir)?;
    let mut report = RecoveryReport::default();
    let mut frozen: Vec<Arc<MemDb>> = Vec::new();
    let mut active = MemDb::with_pool(write_buffer_size, blocks);
    let mut last_seq = SeqNum::ZERO;
    let mut journal_bytes = 0;
    let mut stopped = false;
    let max_journal = list_max_number(fs, dir)?;

    for (_, path) in &journals {
        if stopped {
            if fix == Fix::Repair {
                let aside = path.with_extension("log.dropped");
                fs.rename(path, &aside).map_err(io_err("set aside", path))?;
            }
            report.set_aside.push(path.clone());
            continue;
        }
        let file = fs.open(path).map_err(io_err("open", path))?;
        let mut counting = Counting {
            inner: file,
            count: 0,
        };
        let mut journal_report = JournalReport {
            path: path.clone(),
            bytes: 0,
            batches: 0,
            records: 0,
        };
        // Offset just past the last record replayed: where a repair cuts.
        let mut good_end: u64 = 0;
        let mut damage: Option<(u64, String)> = None;
        {
            let mut reader = journal::Reader::new(&mut counting, journal::Recovery::Strict);
            loop {
                match reader.next_record() {
                    Ok(Some(record)) => {
                        let decoded = Batch::decode(record);
                        let at = reader.record_offset();
                        let batch = match decoded {
                            Ok(b) => b,
                            Err(e) => {
                                damage = Some((at, format!("bad batch: {e}")));
                                break;
                            }
                        };
                        let expected = SeqNum(last_seq.0 + 1);
                        if batch.seq() > expected && journal_report.batches == 0 {
                            // A journal that begins past a gap: the journals
                            // before it lost an unsynced tail in a power
                            // loss (rotation leaves a closed journal's sync
                            // to later). Nothing here was acknowledged as
                            // synced, since a synced group syncs every
                            // earlier journal first: drop it and what
                            // follows as a torn tail, not as damage.
                            damage = Some((
                                at,
                                format!(
                                    "torn tail: journal begins at sequence number {} where {expected} was expected",
                                    batch.seq()
                                ),
                            ));
                            stopped = true;
                            break;
                        }
                        if batch.seq() != expected {
                            damage = Some((
                                at,
                                format!(
                                    "batch sequence number {} where {expected} was expected",
                                    batch.seq()
                                ),
                            ));
                            break;
                        }
                        if batch.is_empty() {
                            damage = Some((at, "empty batch".to_owned()));
                            break;
                        }
                        let Some(batch_last) = batch.seq().checked_add(batch.len() as u64 - 1)
                        else {
                            damage = Some((at, "sequence number past the maximum".to_owned()));
                            break;
                        };
                        if active.0.free() < batch.internal_len() && !active.0.is_empty() {
                            let full = std::mem::replace(
                                &mut active,
                                MemDb::with_pool(write_buffer_size, blocks),
                            );
                            frozen.insert(0, full.0);
                        }
                        active.1.apply(batch.seq(), &batch);
                        last_seq = batch_last;
                        journal_report.batches += 1;
                        journal_report.records += batch.len() as u64;
                        good_end = reader.offset();
                    }
                    Ok(None) => {
                        // Zeros to the end are how a zero-filled journal
                        // ends (see `next_journal`): nothing is dropped. A
                        // repair still cuts them, below.
                        if let Some(torn) = reader
                            .torn_tail()
                            .filter(|t| t.reason != journal::Corruption::ZeroedTail)
                        {
                            damage = Some((torn.offset, format!("torn tail: {}", torn.reason)));
                        }
                        break;
                    }
                    Err(journal::ReadError::Corrupt { offset, reason })
                        if !record_follows(fs, path, offset)? =>
                    {
                        // No record can be read past the damage: the last
                        // write was torn by a crash. Over a zero-filled
                        // journal that is a partial record followed by
                        // zeros, not a short file.
                        damage = Some((offset, format!("torn tail: {reason}")));
                        break;
                    }
                    Err(journal::ReadError::Corrupt { offset, reason }) => {
                        if mode == RecoveryMode::Strict {
                            return Err(Error::Corruption {
                                path: path.clone(),
                                offset,
                                reason: reason.to_string(),
                            });
                        }
                        damage = Some((offset, reason.to_string()));
                        stopped = true;
                        break;
                    }
                    Err(journal::ReadError::Io(e)) => {
                        return Err(Error::Io {
                            op: "read",
                            path: path.clone(),
                            source: e,
                        })
                    }
                    Err(e) => {
                        return Err(Error::Io {
                            op: "read",
                            path: path.clone(),
                            source: io::Error::other(e.to_string()),
                        })
                    }
                }
            }
        }
        // Count the rest of the file, to report and cut what was dropped.
        io::copy(&mut counting, &mut io::sink()).map_err(io_err("read", path))?;
        let file_len = counting.count;
        journal_report.bytes = file_len;
        if let Some((offset, reason)) = damage {
            let torn = reason.starts_with("torn tail");
            if !torn {
                if mode == RecoveryMode::Strict {
                    return Err(Error::Corruption {
                        path: path.clone(),
                        offset,
                        reason,
                    });
                }
                stopped = true;
            }
            report.dropped.push(DroppedRange {
                path: path.clone(),
                offset: good_end,
                len: file_len - good_end,
                reason: format!("{reason} (at offset {offset})"),
            });
        }
        if fix == Fix::Repair && file_len > good_end {
            fs.truncate(path, good_end)
                .map_err(io_err("truncate", path))?;
            journal_bytes += good_end;
        } else {
            journal_bytes += file_len;
        }
        report.journals.push(journal_report);
    }
    if fix == Fix::Repair && !report.set_aside.is_empty() {
        fs.sync_dir(dir).map_err(io_err("sync directory", dir))?;
    }
    report.last_seq = last_seq;
    report.elapsed = started.elapsed();
    Ok(Recovered {
        report,
        frozen,
        active,
        max_journal,
        journal_bytes,
    })
}

/// The highest journal number in `dir`, counting journals set aside, so
/// that a new journal never takes the number of an old one.
fn list_max_number(fs: &dyn Fs, dir: &Path) -> Result<u64, Error> {
    Ok(fs
        .list(dir)
        .map_err(io_err("list", dir))?
        .iter()
        .filter_map(|name| {
            let base = name.strip_suffix(".dropped").unwrap_or(name);
            files::parse_journal_name(base)
        })
        .max()
        .unwrap_or(0))
}

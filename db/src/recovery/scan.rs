//! The read-only first pass of recovery: which files the directory holds,
//! whether the database may touch them, and what each journal holds.
//!
//! Nothing here changes the directory, and nothing here decides: a
//! [`JournalScan`] describes one journal on its own (its sequence numbers
//! are checked against each other, not against other journals), and
//! `plan` turns the scans into a decision.

use crate::error::{io_err, CorruptionKind, Error, Reason};
use crate::files::{self, FileNumbers, Name};
use crate::fs::{FileKind, Fs, Metadata};
use crate::version::ListedTable;
use batch::{Batch, SeqNum};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The files of a database directory that recovery works with.
#[derive(Debug)]
pub(crate) struct Listing {
    /// The directory listed.
    pub dir: PathBuf,
    /// Journals, oldest first.
    pub journals: Vec<(u64, PathBuf)>,
    /// Shortened copies left by a repair that a crash interrupted.
    pub repair_copies: Vec<PathBuf>,
    /// Tables, by number.
    pub tables: Vec<ListedTable>,
    /// Manifests, by number.
    pub manifests: Vec<(u64, PathBuf)>,
    /// Temporary files (`NNNNNN.dbtmp`) a crash left.
    pub temps: Vec<PathBuf>,
    /// Whether `CURRENT` exists.
    pub current: bool,
    /// The file numbers: a new file takes one more than any number in the
    /// directory, `lost/` included.
    pub numbers: FileNumbers,
}

/// Lists `dir` and checks every entry named like a database file before
/// anything is read or changed: each must be a regular file with a single
/// name, and its number must leave room for the next one.
///
/// # Errors
///
/// [`Error::ForeignFile`] naming the first entry that fails,
/// [`Error::FileNumberExhausted`], or [`Error::Io`].
pub(crate) fn list(fs: &dyn Fs, dir: &Path) -> Result<Listing, Error> {
    let mut journals = Vec::new();
    let mut repair_copies = Vec::new();
    let (mut tables, mut manifests, mut temps) = (Vec::new(), Vec::new(), Vec::new());
    let mut current = false;
    let mut highest: Option<(u64, PathBuf)> = None;
    let mut note = |n: u64, path: &Path| {
        if highest.as_ref().is_none_or(|(h, _)| n > *h) {
            highest = Some((n, path.to_path_buf()));
        }
    };
    for name in fs.list(dir).map_err(io_err("list", dir))? {
        let path = dir.join(&name);
        match files::classify(&name) {
            Name::Journal(n) => {
                check_own_file(fs, &path)?;
                note(n, &path);
                journals.push((n, path));
            }
            Name::RepairCopy(n) => {
                check_own_file(fs, &path)?;
                note(n, &path);
                repair_copies.push(path);
            }
            Name::Table(n) => {
                let len = check_own_file(fs, &path)?.len;
                note(n, &path);
                tables.push(ListedTable {
                    number: n,
                    path,
                    len,
                });
            }
            Name::Manifest(n) => {
                check_own_file(fs, &path)?;
                note(n, &path);
                manifests.push((n, path));
            }
            Name::Temp(n) => {
                check_own_file(fs, &path)?;
                note(n, &path);
                temps.push(path);
            }
            Name::Other if name == files::CURRENT => {
                check_own_file(fs, &path)?;
                current = true;
            }
            Name::NumberTooLarge => {
                return Err(Error::ForeignFile {
                    path,
                    reason: format!(
                        "its file number is beyond {}, the largest this database makes",
                        files::MAX_FILE_NUMBER
                    ),
                })
            }
            Name::Other if name == files::LOST => {
                let meta = fs.stat(&path).map_err(io_err("stat", &path))?;
                if meta.kind != FileKind::Dir {
                    return Err(Error::ForeignFile {
                        path,
                        reason: format!("{} where recovery keeps a directory", describe(meta.kind)),
                    });
                }
                for kept in fs.list(&path).map_err(io_err("list", &path))? {
                    match lost_number(&kept) {
                        Some(n) if n > files::MAX_FILE_NUMBER => {
                            return Err(Error::ForeignFile {
                                path: path.join(&kept),
                                reason: format!(
                                    "its file number is beyond {}, the largest this database \
                                     makes",
                                    files::MAX_FILE_NUMBER
                                ),
                            })
                        }
                        Some(n) => note(n, &path.join(&kept)),
                        None => {}
                    }
                }
            }
            Name::Other => {}
        }
    }
    journals.sort();
    repair_copies.sort();
    tables.sort();
    manifests.sort();
    temps.sort();
    let numbers = FileNumbers::after(highest)?;
    Ok(Listing {
        dir: dir.to_path_buf(),
        journals,
        repair_copies,
        tables,
        manifests,
        temps,
        current,
        numbers,
    })
}

/// The file number of a name in `lost/`: `NNNNNN.log` (or any other
/// database file name), or with a `.K` suffix where that name was taken.
pub(crate) fn lost_number(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(crate::files::MANIFEST_PREFIX)
        .unwrap_or(name);
    let (digits, _) = digits.split_once('.').unwrap_or((digits, ""));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Checks that `path` is a regular file with one name: the only kind of
/// entry the database reads, renames or keeps; returns what `stat` said.
pub(crate) fn check_own_file(fs: &dyn Fs, path: &Path) -> Result<Metadata, Error> {
    let meta = fs.stat(path).map_err(io_err("stat", path))?;
    let reason = if meta.kind != FileKind::File {
        format!("{}, not a regular file", describe(meta.kind))
    } else if meta.links != 1 {
        format!(
            "a regular file with {} names (hard links): changing it would change the others",
            meta.links
        )
    } else {
        return Ok(meta);
    };
    Err(Error::ForeignFile {
        path: path.to_path_buf(),
        reason,
    })
}

fn describe(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "a regular file",
        FileKind::Dir => "a directory",
        FileKind::Symlink => "a symbolic link",
        FileKind::Other => "a FIFO, socket or device",
    }
}

/// What one journal holds, judged on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalScan {
    /// The journal's file.
    pub path: PathBuf,
    /// Its number.
    pub number: u64,
    /// Its length in bytes.
    pub len: u64,
    /// The good batches: readable, decodable, non-empty, each starting
    /// right after the one before. `None` if there is none.
    pub seqs: Option<SeqRange>,
    /// Batches and records in the good part.
    pub batches: u64,
    /// Records (puts and deletes) in the good part.
    pub records: u64,
    /// Offset just past the last good batch: where the good part ends.
    pub good_end: u64,
    /// The good batches themselves, in journal order, kept for the replay
    /// (`recovery::replay`), which takes them: no journal is read twice.
    /// They are what the replay holds anyway, until its tables or
    /// memtables are made.
    pub good: Vec<Batch>,
    /// Offset just past the last non-zero byte: zeros from here to the end
    /// are the unwritten part of a zero-filled journal.
    pub data_end: u64,
    /// How the journal ends after its good part.
    pub ending: Ending,
}

/// The first and last sequence numbers of a journal's good batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeqRange {
    /// The first batch's sequence number.
    pub first: SeqNum,
    /// The last record's sequence number.
    pub last: SeqNum,
}

/// How a journal ends after its good part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// At the end of the file, or at zeros that run to it (the unwritten
    /// part of a zero-filled journal).
    Clean,
    /// In a way a crash leaves: the file ends inside a record, or no
    /// readable record follows the damage (a torn write over zeros).
    Torn {
        /// Where the damage was found.
        offset: u64,
        /// What it is.
        reason: String,
    },
    /// In a way no crash leaves: a record was written after the damage (a
    /// chunk that starts one, with a valid checksum, at any offset past
    /// it), or a readable record is not a well-formed batch that continues
    /// the ones before it.
    Damaged {
        /// Where the damage was found.
        offset: u64,
        /// What it is.
        reason: String,
        /// Framing damage, a record that is no batch, or a batch whose
        /// sequence number does not follow on.
        kind: CorruptionKind,
    },
}

impl JournalScan {
    /// Whether the journal holds a readable record: a good batch, or a
    /// record after damage.
    pub fn holds_records(&self) -> bool {
        self.seqs.is_some() || matches!(self.ending, Ending::Damaged { .. })
    }
}

/// Reads journal `number` at `path` through, checking every batch.
pub(crate) fn journal(fs: &dyn Fs, number: u64, path: &Path) -> Result<JournalScan, Error> {
    let file = fs.open(path).map_err(io_err("open", path))?;
    let mut counting = Counting {
        inner: file,
        count: 0,
        data_end: 0,
    };
    let mut scan = JournalScan {
        path: path.to_path_buf(),
        number,
        len: 0,
        seqs: None,
        batches: 0,
        records: 0,
        good_end: 0,
        good: Vec::new(),
        data_end: 0,
        ending: Ending::Clean,
    };
    {
        let mut reader = journal::Reader::new(&mut counting, journal::Recovery::Strict);
        scan.ending = loop {
            let decoded = match reader.next_record() {
                Ok(Some(record)) => Batch::decode(record),
                Ok(None) => {
                    break match reader.torn_tail() {
                        // Past the start of the torn record itself, whose
                        // first chunk may be whole. A length damaged in the
                        // last block reads as a chunk running past the end.
                        Some(t) if t.reason != journal::Corruption::ZeroedTail => framing_ending(
                            fs,
                            path,
                            (t.offset, t.offset + 1),
                            &t.reason.to_string(),
                            format!("torn tail: {}", t.reason),
                        )?,
                        _ => Ending::Clean,
                    };
                }
                Err(journal::ReadError::Corrupt { offset, reason }) => {
                    break framing_ending(
                        fs,
                        path,
                        (offset, offset),
                        &reason.to_string(),
                        format!("torn write: {reason}, and no record after it"),
                    )?;
                }
                Err(e) => return Err(read_error(path, e)),
            };
            let at = reader.record_offset();
            let batch = match decoded {
                Ok(b) => b,
                Err(e) => {
                    break Ending::Damaged {
                        offset: at,
                        reason: format!("bad batch: {e}"),
                        kind: CorruptionKind::Batch,
                    }
                }
            };
            if let Err((kind, reason)) = follow_on(&mut scan.seqs, &batch) {
                break Ending::Damaged {
                    offset: at,
                    reason,
                    kind,
                };
            }
            scan.batches += 1;
            scan.records += batch.len() as u64;
            scan.good_end = reader.offset();
            scan.good.push(batch);
        };
    }
    io::copy(&mut counting, &mut io::sink()).map_err(io_err("read", path))?;
    scan.len = counting.count;
    scan.data_end = counting.data_end;
    Ok(scan)
}

/// How a journal ends at framing damage found at `at.0`: damaged if a
/// record starts after it (searched from `at.1`), torn (`torn` says how)
/// if none does.
fn framing_ending(
    fs: &dyn Fs,
    path: &Path,
    at: (u64, u64),
    what: &str,
    torn: String,
) -> Result<Ending, Error> {
    let (offset, search_from) = at;
    Ok(match record_after(fs, path, search_from)? {
        Some(after) => Ending::Damaged {
            kind: CorruptionKind::Journal,
            offset,
            reason: format!("{what}, with a record after it at offset {after}"),
        },
        None => Ending::Torn {
            offset,
            reason: torn,
        },
    })
}

/// Adds `batch` to the journal's sequence range `seqs`, or says why it
/// does not follow on: empty, past the largest sequence number, or not
/// numbered one past the batch before it.
fn follow_on(seqs: &mut Option<SeqRange>, batch: &Batch) -> Result<(), (CorruptionKind, String)> {
    if batch.is_empty() {
        return Err((CorruptionKind::Batch, "empty batch".to_owned()));
    }
    let Some(last) = batch.seq().checked_add(batch.len() as u64 - 1) else {
        return Err((
            CorruptionKind::Sequence,
            "sequence number past the maximum".to_owned(),
        ));
    };
    match seqs {
        None => {
            *seqs = Some(SeqRange {
                first: batch.seq(),
                last,
            });
        }
        Some(range) if range.last.0.checked_add(1) == Some(batch.seq().0) => range.last = last,
        Some(range) => {
            return Err((
                CorruptionKind::Sequence,
                format!(
                    "batch sequence number {} where {} was expected",
                    batch.seq(),
                    range.last.0.saturating_add(1)
                ),
            ))
        }
    }
    Ok(())
}

/// Where the first record after damage at `offset` of the journal at
/// `path` starts, if one does: damage with a record written after it is
/// not a torn write. Every offset is tried, not only block starts (see
/// [`journal::record_start_at_or_after`]).
fn record_after(fs: &dyn Fs, path: &Path, offset: u64) -> Result<Option<u64>, Error> {
    let file = fs.open(path).map_err(io_err("open", path))?;
    journal::record_start_at_or_after(file, offset).map_err(io_err("read", path))
}

/// A read error of the journal at `path`, as the database's error.
pub(crate) fn read_error(path: &Path, e: journal::ReadError) -> Error {
    match e {
        journal::ReadError::Io(source) => Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        },
        journal::ReadError::Corrupt { offset, reason } => Error::Corruption {
            path: path.to_path_buf(),
            offset,
            reason: Reason::new(CorruptionKind::Journal, reason.to_string()),
        },
        other => Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source: io::Error::other(other.to_string()),
        },
    }
}

/// A reader that counts the bytes it returned.
/// It also notes where the last non-zero byte ends.
struct Counting<R> {
    inner: R,
    count: u64,
    /// Offset just past the last non-zero byte read.
    data_end: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(last) = last_nonzero(&buf[..n]) {
            self.data_end = self.count + last as u64 + 1;
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// The index of the last non-zero byte of `bytes`, looking at zeros a word
/// at a time.
fn last_nonzero(bytes: &[u8]) -> Option<usize> {
    let mut end = bytes.len();
    while end >= 8 {
        let word = u64::from_le_bytes(bytes[end - 8..end].try_into().expect("eight bytes"));
        if word != 0 {
            break;
        }
        end -= 8;
    }
    bytes[..end].iter().rposition(|&b| b != 0)
}

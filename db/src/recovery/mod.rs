//! Opening recovers the database from its journals, and never destroys
//! data doing it.
//!
//! Recovery runs in four steps, each in its own module:
//!
//! 1. [`scan`] lists the directory, refuses any entry named like a database
//!    file that the database may not touch (not a regular file, a hard
//!    link, a number out of range), then reads every journal through and
//!    describes it on its own: its good batches and how it ends.
//! 2. [`plan`] decides, as a pure function of the scans, how much history
//!    to replay, whether acknowledged writes may be lost, and the repair.
//! 3. Replay reads the good part of the journals again into memtables.
//! 4. [`repair`] makes a break stable, so that the next open finds the same
//!    history and new journals never follow a hole. (A torn tail of the
//!    newest write needs none: see `plan`.)
//!
//! # The guarantees (ARCHITECTURE.md, Recovery)
//!
//! - **A prefix.** A batch is applied whole or not at all; the history is
//!   dense from sequence number 1; the last sequence number is restored
//!   exactly, so no number is reused. Damage is never skipped over.
//! - **Strict means strict.** [`RecoveryMode::Strict`] opens only on a
//!   whole history: a torn tail that no later record follows (the newest
//!   write, cut by a crash) is the one damage it accepts. Anything else is
//!   possible loss of acknowledged writes: strict refuses with
//!   [`Error::Corruption`] naming the journal and offset, before changing
//!   anything; [`RecoveryMode::PointInTime`] replays the prefix before it,
//!   sets the rest aside, and reports it in [`RecoveryReport::damage`].
//! - **Nothing is destroyed.** A repair never truncates, overwrites or
//!   deletes a byte it has not kept first: journals after the damage are
//!   moved into `lost/` whole, and a journal cut short is first copied
//!   there whole. The only bytes recovery removes without keeping them are
//!   zeros after a journal's last written byte: the unwritten part of a
//!   zero-filled journal, which hold nothing ([`Fs::trim_zeros`] refuses
//!   to cut anything else).
//! - **Repair is atomic and idempotent.** A crash (or a failing operation)
//!   after any step leaves a directory that the next open treats as this
//!   one treated the original, until the last step completes the repair
//!   (see `plan` for the order and why it holds).
//!
//! With `Fix::ReadOnly` (`tributary check`), steps 1 to 3 run and the
//! repair is only reported.

mod plan;
mod repair;
mod scan;

use crate::error::Error;
use crate::files::FileNumbers;
use crate::options::RecoveryMode;
use batch::{Batch, SeqNum};
use memdb::{BlockPool, Inserter, MemDb};
use plan::Step;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fs::Fs;

/// What opening found in the journals, what it dropped and what it set
/// aside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Every journal found, oldest first, with what was replayed from it.
    pub journals: Vec<JournalReport>,
    /// The last sequence number recovered: the next write takes the one after.
    pub last_seq: SeqNum,
    /// Byte ranges not replayed, with the reason, in journal order.
    pub dropped: Vec<DroppedRange>,
    /// Where the history broke, if it did: acknowledged writes may be lost
    /// from there on. Strict recovery refuses to open instead.
    pub damage: Option<Damage>,
    /// Files moved or copied into `lost/`, in the order it was done (for
    /// `check`, what opening would do).
    pub set_aside: Vec<SetAside>,
    /// Time spent recovering.
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

    /// Whether nothing at all was dropped or set aside, not even a torn tail.
    pub fn is_clean(&self) -> bool {
        self.dropped.is_empty() && self.set_aside.is_empty() && self.damage.is_none()
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
    /// Whether it is the normal end of a crash or damage.
    pub kind: DropKind,
    /// What was found there, and why it was dropped.
    pub reason: String,
}

/// Why bytes were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropKind {
    /// A torn tail: what a crash leaves after the newest write, or bytes
    /// that provably held no record. No acknowledged write is lost that a
    /// crash could not lose.
    TornTail,
    /// Damage or the history after it: acknowledged writes may be lost.
    Damage,
}

/// Where the history broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The journal.
    pub path: PathBuf,
    /// The offset in it.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// A file recovery kept in `lost/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// The file in the database directory.
    pub path: PathBuf,
    /// Where its whole original is kept.
    pub kept_as: PathBuf,
    /// `None`: the file was moved there. `Some(len)`: it was copied there,
    /// and the file in the database directory was cut to `len` bytes.
    pub cut_to: Option<u64>,
}

/// Whether recovery may change the directory to make its result stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fix {
    /// Carry out the repair (opening a database).
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
    /// The file numbers, for the new journal and every file after it.
    pub numbers: FileNumbers,
    /// Bytes in the journals that stay live.
    pub journal_bytes: u64,
}

/// Whether `dir` holds a journal: whether a database is there.
pub(crate) fn holds_journals(fs: &dyn Fs, dir: &Path) -> Result<bool, Error> {
    Ok(!scan::list(fs, dir)?.journals.is_empty())
}

/// Recovers the database in `dir`.
pub(crate) fn recover(
    fs: &dyn Fs,
    dir: &Path,
    mode: RecoveryMode,
    write_buffer_size: usize,
    blocks: &Arc<BlockPool>,
    fix: Fix,
) -> Result<Recovered, Error> {
    let started = Instant::now();
    let listing = scan::list(fs, dir)?;
    let scans = listing
        .journals
        .iter()
        .map(|(number, path)| scan::journal(fs, *number, path))
        .collect::<Result<Vec<_>, Error>>()?;
    let plan = plan::plan(&scans);
    if mode == RecoveryMode::Strict {
        if let Some(d) = plan.damage {
            return Err(Error::Corruption {
                path: d.path,
                offset: d.offset,
                reason: d.reason,
            });
        }
    }
    let (frozen, active) = replay(fs, &scans[..plan.replayed], write_buffer_size, blocks)?;

    // Shortened copies left by an interrupted repair go first: their
    // journals are still whole (a copy's name disappears in the rename
    // that puts it in place), but they are kept all the same.
    let steps: Vec<Step> = listing
        .repair_copies
        .iter()
        .map(|path| Step::SetAside { path: path.clone() })
        .chain(plan.steps)
        .collect();
    let set_aside = match fix {
        Fix::Repair => repair::run(fs, dir, &steps)?,
        Fix::ReadOnly => repair::preview(fs, dir, &steps),
    };
    let trimmed = |scan: &scan::JournalScan| {
        steps.iter().find_map(|s| match s {
            Step::TrimZeros { path, len } if *path == scan.path && fix == Fix::Repair => Some(*len),
            _ => None,
        })
    };
    let journal_bytes = scans
        .iter()
        .filter_map(|scan| {
            let done = set_aside.iter().find(|s| s.path == scan.path);
            match done {
                None => Some(trimmed(scan).unwrap_or(scan.len)),
                Some(s) => s.cut_to,
            }
        })
        .sum();
    let journals = scans
        .iter()
        .enumerate()
        .map(|(i, scan)| {
            let replayed = i < plan.replayed;
            JournalReport {
                path: scan.path.clone(),
                bytes: scan.len,
                batches: if replayed { scan.batches } else { 0 },
                records: if replayed { scan.records } else { 0 },
            }
        })
        .collect();
    Ok(Recovered {
        report: RecoveryReport {
            journals,
            last_seq: plan.last_seq,
            dropped: plan.dropped,
            damage: plan.damage,
            set_aside,
            elapsed: started.elapsed(),
        },
        frozen,
        active,
        numbers: listing.numbers,
        journal_bytes,
    })
}

/// Replayed memtables: the frozen ones, newest first, and the active one
/// with its inserter.
type Memtables = (Vec<Arc<MemDb>>, (Arc<MemDb>, Inserter));

/// Replays the good part of each of `scans` into memtables; returns the
/// frozen ones (newest first) and the active one.
///
/// The scan checked every batch already; a journal that reads differently
/// now was changed behind the lock's back, and is an error.
fn replay(
    fs: &dyn Fs,
    scans: &[scan::JournalScan],
    write_buffer_size: usize,
    blocks: &Arc<BlockPool>,
) -> Result<Memtables, Error> {
    let mut frozen: Vec<Arc<MemDb>> = Vec::new();
    let mut active = MemDb::with_pool(write_buffer_size, blocks);
    for scan in scans {
        if scan.good_end == 0 {
            continue;
        }
        let file = fs
            .open(&scan.path)
            .map_err(crate::error::io_err("open", &scan.path))?;
        let mut reader = journal::Reader::new(file, journal::Recovery::Strict);
        while reader.offset() < scan.good_end {
            let at = reader.offset();
            let changed = || Error::Corruption {
                path: scan.path.clone(),
                offset: at,
                reason: "the journal changed while it was being recovered".to_owned(),
            };
            let batch = match reader.next_record() {
                Ok(Some(record)) => Batch::decode(record).map_err(|_| changed())?,
                Ok(None) => return Err(changed()),
                Err(e) => return Err(scan::read_error(&scan.path, e)),
            };
            if active.0.free() < batch.internal_len() && !active.0.is_empty() {
                let full =
                    std::mem::replace(&mut active, MemDb::with_pool(write_buffer_size, blocks));
                frozen.insert(0, full.0);
            }
            active.1.apply(batch.seq(), &batch);
        }
    }
    Ok((frozen, active))
}

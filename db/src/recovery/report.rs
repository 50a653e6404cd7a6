//! [`RecoveryReport`]: what an open found in the journals, what it dropped
//! and what it set aside, for the caller (`Db::recovery_report`), the log,
//! and `tributary check`, which print it through its `Display`.

use crate::error::CorruptionKind;
use batch::SeqNum;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

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
    /// The manifest `CURRENT` named, if the database had one.
    pub manifest: Option<PathBuf>,
    /// Whether that manifest is LevelDB's (a LevelDB or goleveldb
    /// directory, opened in place): a writer's open converts it, replacing
    /// it with one of this database's through `CURRENT`.
    pub leveldb_manifest: bool,
    /// Tables the manifest lists.
    pub tables: usize,
    /// Their bytes.
    pub table_bytes: u64,
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
    /// What kind of damage it is: journal framing, a record that is no
    /// batch, or sequence numbers that do not follow on.
    pub kind: CorruptionKind,
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

impl fmt::Display for JournalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} bytes, {} batches, {} records",
            self.path.display(),
            self.bytes,
            self.batches,
            self.records
        )
    }
}

impl fmt::Display for DroppedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DropKind::TornTail => "torn tail",
            DropKind::Damage => "damage",
        };
        write!(
            f,
            "drop {} offset {} len {} ({kind}): {}",
            self.path.display(),
            self.offset,
            self.len,
            self.reason
        )
    }
}

impl fmt::Display for SetAside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cut_to {
            None => write!(
                f,
                "kept {} as {}",
                self.path.display(),
                self.kept_as.display()
            ),
            Some(len) => write!(
                f,
                "cut {} to {len} bytes, its original kept as {}",
                self.path.display(),
                self.kept_as.display()
            ),
        }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DAMAGE {} at offset {} ({}): {}",
            self.path.display(),
            self.offset,
            self.kind,
            self.reason
        )
    }
}

/// One line each: the manifest and its tables, each journal, each range
/// dropped, each file set aside, the damage if the history broke, and
/// the last sequence number recovered.
impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = if self.leveldb_manifest {
            " (LevelDB's)"
        } else {
            ""
        };
        match &self.manifest {
            Some(m) => writeln!(
                f,
                "{}{format}: {} tables, {} bytes",
                m.display(),
                self.tables,
                self.table_bytes
            )?,
            None => writeln!(f, "no manifest: a directory of journals only")?,
        }
        for j in &self.journals {
            writeln!(f, "{j}")?;
        }
        for d in &self.dropped {
            writeln!(f, "{d}")?;
        }
        for s in &self.set_aside {
            writeln!(f, "{s}")?;
        }
        if let Some(d) = &self.damage {
            writeln!(f, "{d}")?;
        }
        write!(f, "last_seq {}", self.last_seq)
    }
}

impl RecoveryReport {
    /// Tells the `log` facade what recovery did: damage as an error
    /// (writes may be lost), what was dropped or set aside as warnings,
    /// the rest as information.
    pub(crate) fn log(&self) {
        if let Some(d) = &self.damage {
            log::error!(
                "recovery: history broken: {d}; recovered up to sequence number {}, the rest set \
                 aside in lost/",
                self.last_seq
            );
        }
        for d in &self.dropped {
            log::warn!("recovery: {d}");
        }
        for s in &self.set_aside {
            log::warn!("recovery: {s}");
        }
        log::info!(
            "recovery: {} batches from {} journals ({} bytes) in {:?}, last sequence number {}",
            self.batches(),
            self.journals.len(),
            self.bytes(),
            self.elapsed,
            self.last_seq
        );
    }
}

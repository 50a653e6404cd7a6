//! The read-only open: a consistent snapshot of a directory that a writer,
//! in this process or another, may be changing meanwhile, as RocksDB's
//! read-only and secondary instances read beside their primary.
//!
//! A read-only open takes no lock, so it never stops a writer, and a
//! writer never stops it. What makes that safe:
//!
//! - **Tables never change.** Every table the manifest lists is mapped
//!   during the load (`TableFile::pin`; it is read and checked at its
//!   first use, as in a writable open); a mapping outlives the file's
//!   name, so a writer's compaction may delete the table afterwards and
//!   the snapshot still reads it.
//! - **A load that meets the writer's changes starts again.** The writer
//!   may delete a journal or a table, roll the manifest or append to it,
//!   or fill a journal and move on to the next, between the load's listing
//!   and its reads; the load then fails (a file is missing) or finds the
//!   history broken (records past a gap). Either starts the load over, up
//!   to [`LOAD_ATTEMPTS`] times; an outcome that repeats while the
//!   directory does not move (its names, `CURRENT`, the manifest's
//!   length) is real damage, reported as a writable open would report it.
//! - **A journal being appended reads as a prefix.** Replay stops at the
//!   end of the last whole record, as it stops at a torn tail; the records
//!   after it are the writer's newer writes, not seen until a refresh.
//!
//! [`Db::refresh`](crate::Db::refresh) loads again and swaps the result in:
//! RocksDB's `TryCatchUpWithPrimary`.

use crate::error::{repair_can_fix, Error};
use crate::files::{self, FileNumbers};
use crate::fs::Fs;
use crate::options::Options;
use crate::read::{Frozen, View};
use crate::recovery::{self, Fix, RecoveryReport, Replayed};
use crate::version::set::read_all;
use crate::version::Catalog;
use batch::SeqNum;
use memdb::BlockPool;
use std::path::Path;
use std::sync::Arc;

/// How many times a load starts over while the directory keeps moving
/// under it. Each attempt is one listing and one read of what it lists,
/// so a writer would have to delete or rename a file during every one of
/// them to exhaust this.
pub(crate) const LOAD_ATTEMPTS: usize = 20;

/// What a read-only load found.
pub(crate) struct Loaded {
    pub view: View,
    pub last_seq: SeqNum,
    pub catalog: Catalog,
    pub numbers: FileNumbers,
    pub report: RecoveryReport,
}

/// Loads a snapshot of the database in `dir`, starting over while a
/// writer moves the directory under the load.
///
/// A load that fails, or that finds the history broken, is tried again:
/// beside a live writer both are what a change between the load's reads
/// looks like (a journal deleted after the listing, a journal scanned
/// before the writer filled it and one after, with records past a gap).
/// The outcome is kept once it repeats over a directory that did not
/// move, which real damage does, or after [`LOAD_ATTEMPTS`].
pub(crate) fn load(
    fs: &Arc<dyn Fs>,
    dir: &Path,
    options: &Options,
    blocks: &Arc<BlockPool>,
) -> Result<Loaded, Error> {
    let mut previous: Option<String> = None;
    let mut attempt = 1;
    loop {
        let before = Fingerprint::take(fs.as_ref(), dir);
        let result = load_once(fs, dir, options, blocks);
        let outcome = match &result {
            Ok(loaded) => match &loaded.report.damage {
                None => return result,
                Some(damage) => format!("{damage:?}"),
            },
            Err(e) => e.to_string(),
        };
        let moved = before != Fingerprint::take(fs.as_ref(), dir);
        if attempt == LOAD_ATTEMPTS || (!moved && previous.as_ref() == Some(&outcome)) {
            return result;
        }
        log::debug!(
            "read-only load of {} (attempt {attempt}) met {outcome}; loading again",
            dir.display()
        );
        previous = Some(outcome);
        attempt += 1;
    }
}

/// One attempt: recover without changing anything, then map every table
/// of the version, so that none can be deleted before it is read.
fn load_once(
    fs: &Arc<dyn Fs>,
    dir: &Path,
    options: &Options,
    blocks: &Arc<BlockPool>,
) -> Result<Loaded, Error> {
    if !fs.exists(dir) {
        return Err(Error::NotFound {
            path: dir.to_path_buf(),
        });
    }
    let listing = recovery::list(fs.as_ref(), dir)?;
    if !listing.holds_database() {
        return Err(Error::NotFound {
            path: dir.to_path_buf(),
        });
    }
    let recovered = recovery::recover(
        fs,
        listing,
        options.recovery,
        options.write_buffer_size,
        blocks,
        Fix::ReadOnly,
        None,
    )
    .map_err(repair_can_fix)?;
    for (_, file) in recovered.version.tables() {
        file.pin()?;
    }
    let (frozen, active) = match recovered.replayed {
        Replayed::Memtables { frozen, active } => (frozen, active),
        Replayed::Batches(_) => unreachable!("a read-only recovery replays into memtables"),
    };
    let last_seq = recovered.report.last_seq;
    let view = View {
        active,
        active_journal: recovered.catalog.log_number,
        frozen: frozen
            .into_iter()
            .map(|memdb| Arc::new(Frozen { memdb, journal: 0 }))
            .collect(),
        version: Arc::new(recovered.version),
        loaded_at: Some(last_seq),
        table_sizes: Default::default(),
    };
    Ok(Loaded {
        view,
        last_seq,
        catalog: recovered.catalog,
        numbers: recovered.numbers,
        report: recovered.report,
    })
}

/// What a writer changes when it deletes, creates or renames a file, rolls
/// the manifest or commits an edit: the directory's names, `CURRENT`'s
/// contents and the current manifest's length. A journal's appends do not
/// show; a load reads them as a prefix and never fails on them.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    names: Vec<String>,
    current: Option<Vec<u8>>,
    manifest_len: Option<u64>,
}

impl Fingerprint {
    fn take(fs: &dyn Fs, dir: &Path) -> Fingerprint {
        let mut names = fs.list(dir).unwrap_or_default();
        names.sort_unstable();
        let current = read_all(fs, &dir.join(files::CURRENT)).ok();
        let manifest_len = current
            .as_deref()
            .and_then(files::parse_current)
            .and_then(|number| fs.stat(&dir.join(files::manifest_name(number))).ok())
            .map(|meta| meta.len);
        Fingerprint {
            names,
            current,
            manifest_len,
        }
    }
}

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
//! 3. Replay reads the good part of the journals again: into batches for a
//!    writer's open, which writes them to level-0 tables, or into memtables
//!    for a read-only one.
//! 4. [`lost`] makes a break stable, so that the next open finds the same
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

pub(crate) mod lost;
mod plan;
mod report;
pub(crate) mod scan;

use crate::error::{CorruptionKind, Error};
use crate::files::FileNumbers;
use crate::options::RecoveryMode;
use crate::version::set::Loaded;
use crate::version::{self, Catalog, Retired, Version};
use batch::{Batch, SeqNum};
use memdb::{BlockPool, MemDb};
use plan::Step;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Instant;

use crate::fs::Fs;

/// Whether recovery may change the directory to make its result stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fix {
    /// Carry out the repair (opening a database for writing); the replay
    /// comes back as batches, for sorted memtables or level-0 tables.
    Repair,
    /// Change nothing (`tributary check`, a read-only open); the replay
    /// comes back as memtables, read in place.
    ReadOnly,
}

/// The state a replay ends in.
pub(crate) struct Recovered {
    pub report: RecoveryReport,
    /// What the journals held, in the form the caller asked for.
    pub replayed: Replayed,
    /// The file numbers, for the new journal and every file after it.
    pub numbers: FileNumbers,
    /// What the manifest said.
    pub catalog: Catalog,
    /// Its tables, open.
    pub version: Version,
    /// The journals replayed that stay in the directory, each with whether
    /// it holds bytes replay could not use (to be set aside, not deleted,
    /// once its records are in tables).
    pub replayed_journals: Vec<(PathBuf, bool)>,
    /// Files no state refers to: journals below the log number, tables and
    /// manifests not current, temporary files. A writer deletes them once
    /// its own manifest is installed.
    pub orphans: Vec<PathBuf>,
}

pub use report::{Damage, DropKind, DroppedRange, JournalReport, RecoveryReport, SetAside};
pub(crate) use scan::{list, Listing};

impl Listing {
    /// Whether the directory holds a database: a journal, a table or
    /// `CURRENT`.
    pub(crate) fn holds_database(&self) -> bool {
        !self.journals.is_empty() || !self.tables.is_empty() || self.current
    }
}

/// Recovers the database in the directory `listing` lists ([`list`],
/// made once the caller holds the lock, so that one listing serves both
/// the caller's check that a database is there and this).
///
/// The steps: the manifest `CURRENT` names ([`load_manifest`]); its
/// tables, checked present ([`open_listed_tables`], which also judges a
/// torn last manifest record); a scan of each live journal and the pure
/// plan over them (`plan`); the replay of the part the plan keeps; then
/// what the plan sets aside, and what no state refers to any more
/// ([`set_aside`]).
pub(crate) fn recover(
    shared_fs: &Arc<dyn Fs>,
    listing: Listing,
    mode: RecoveryMode,
    write_buffer_size: usize,
    blocks: &Arc<BlockPool>,
    fix: Fix,
    retire: Option<&Sender<Retired>>,
) -> Result<Recovered, Error> {
    let fs: &dyn Fs = &**shared_fs;
    let started = Instant::now();
    let dir = &listing.dir.clone();
    let loaded = load_manifest(fs, &listing)?;
    let mut catalog = loaded
        .as_ref()
        .map(|l| l.catalog.clone())
        .unwrap_or_default();
    let mut version = open_listed_tables(shared_fs, &listing, loaded.as_ref(), &catalog, retire)?;
    // Journals below the log number hold nothing that is not in tables.
    let (obsolete_journals, live): (Vec<_>, Vec<_>) = listing
        .journals
        .iter()
        .cloned()
        .partition(|(number, _)| *number < catalog.log_number);
    let mut scans = live
        .iter()
        .map(|(number, path)| scan::journal(fs, *number, path))
        .collect::<Result<Vec<_>, Error>>()?;
    if let Some(l) = loaded.as_ref().filter(|l| l.torn > 0) {
        judge_torn_manifest(fs, dir, l, &catalog, &scans)?;
    }
    let leveldb = loaded.as_ref().is_some_and(|l| l.leveldb);
    if leveldb {
        catalog.last_seq = tables_last_seq(catalog.last_seq, &scans);
        version.max_seq = catalog.last_seq;
    }
    let plan = plan::plan_with(
        &scans,
        plan::Expect {
            first_seq: SeqNum(catalog.last_seq.saturating_add(1)),
            synced: &catalog.synced_journals,
            // LevelDB records no journal syncs.
            tracking: loaded.is_some() && !leveldb,
        },
    );
    if let (RecoveryMode::Strict, Some(d)) = (mode, &plan.damage) {
        return Err(Error::corruption(
            d.kind,
            &d.path,
            d.offset,
            d.reason.clone(),
        ));
    }
    let into = match fix {
        // The writer's open, which sorts the runs into a memtable (or
        // each into a table) before its first write.
        Fix::Repair => ReplayInto::Batches,
        // A read-only open, which reads it in place.
        Fix::ReadOnly => ReplayInto::Memtables,
    };
    let replayed = replay(&mut scans[..plan.replayed], write_buffer_size, blocks, into);
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
    let (last_seq, dropped, damage) = (plan.last_seq, plan.dropped.clone(), plan.damage.clone());
    let settled = set_aside(fs, &listing, &catalog, &scans, plan, fix)?;
    let mut orphans: Vec<PathBuf> = obsolete_journals.into_iter().map(|(_, p)| p).collect();
    orphans.extend(settled.orphans);
    orphans.extend(
        listing
            .manifests
            .iter()
            .filter(|(n, _)| loaded.as_ref().is_none_or(|l| l.number != *n))
            .map(|(_, p)| p.clone()),
    );
    orphans.extend(listing.temps.iter().cloned());
    let mut numbers = listing.numbers;
    numbers.at_least(catalog.next_file_number);
    Ok(Recovered {
        report: RecoveryReport {
            journals,
            last_seq,
            dropped,
            damage,
            set_aside: settled.set_aside,
            manifest: loaded.as_ref().map(|l| l.path.clone()),
            leveldb_manifest: leveldb,
            tables: version.table_count(),
            table_bytes: version.tables().map(|(_, t)| t.meta.size).sum(),
            elapsed: started.elapsed(),
        },
        replayed,
        numbers,
        catalog,
        version,
        replayed_journals: settled.replayed_journals,
        orphans,
    })
}

/// The highest sequence number in the tables of a LevelDB manifest whose
/// last sequence number is `recorded`. LevelDB records the last number
/// used when it wrote its last edit, which may count records written
/// since its memtable was frozen, which are only in the live journals.
/// Those journals begin where the tables end: the first live journal's
/// first batch, one past the tables, unless that is past `recorded` + 1
/// (records missing between them, which the plan then reports as the
/// gap it is).
fn tables_last_seq(recorded: u64, scans: &[scan::JournalScan]) -> u64 {
    match scans.iter().find_map(|s| s.seqs.map(|r| r.first.0)) {
        Some(first) if first <= recorded.saturating_add(1) => first.saturating_sub(1),
        _ => recorded,
    }
}

/// The manifest `CURRENT` names, if there is one.
///
/// # Errors
///
/// [`Error::Corruption`] if tables lie in the directory with no
/// `CURRENT` (deleting them as orphans could destroy data), if the
/// manifest does not read, or if its next file number is past the
/// largest this database makes.
fn load_manifest(fs: &dyn Fs, listing: &Listing) -> Result<Option<Loaded>, Error> {
    let dir = &listing.dir;
    if !listing.current {
        return match listing.tables.first().map(|t| &t.path) {
            // A directory someone took `CURRENT` from.
            Some(table) => Err(Error::corruption(
                CorruptionKind::Manifest,
                dir.join(crate::files::CURRENT),
                0,
                format!(
                    "missing while the directory holds tables ({} and maybe others): \
                     no manifest says which of them are live",
                    table.display()
                ),
            )),
            None => Ok(None),
        };
    }
    let loaded = version::set::load(fs, dir)?;
    if loaded.catalog.next_file_number > crate::files::MAX_FILE_NUMBER + 1 {
        return Err(Error::corruption(
            CorruptionKind::Manifest,
            &loaded.path,
            0,
            format!(
                "it records the next file number as {}, beyond {}, the largest this database \
                 makes",
                loaded.catalog.next_file_number,
                crate::files::MAX_FILE_NUMBER
            ),
        ));
    }
    Ok(Some(loaded))
}

/// The tables `catalog` lists, checked present with their sizes, under
/// the names `listing` found.
///
/// # Errors
///
/// A table missing or of another size. If the manifest's last record is
/// torn ([`judge_torn_manifest`]), that absence is proof the record
/// committed: the error names the manifest instead.
fn open_listed_tables(
    shared_fs: &Arc<dyn Fs>,
    listing: &Listing,
    loaded: Option<&Loaded>,
    catalog: &Catalog,
    retire: Option<&Sender<Retired>>,
) -> Result<Version, Error> {
    match (
        version::set::open_tables(shared_fs, &listing.dir, catalog, &listing.tables, retire),
        loaded.filter(|l| l.torn > 0),
    ) {
        (Err(Error::Corruption { path, reason, .. }), Some(l)) => Err(torn_but_committed(
            l,
            format!(
                "{} (which the records before it list): {reason}",
                path.display()
            ),
        )),
        (result, _) => result,
    }
}

/// Judges the torn last record of manifest `l`. It was torn by a crash
/// only if nothing shows that it committed: once an edit commits, what
/// it made obsolete is deleted (a compaction's inputs, the journals a
/// flush emptied), and a crash never loses those deletions without the
/// edit. With such proof it is damage, refused in every mode, naming the
/// manifest, before anything changes (the tables it added would
/// otherwise be deleted as orphans); without, it is dropped with a
/// warning.
fn judge_torn_manifest(
    fs: &dyn Fs,
    dir: &Path,
    l: &Loaded,
    catalog: &Catalog,
    scans: &[scan::JournalScan],
) -> Result<(), Error> {
    let lost = dir.join(crate::files::LOST);
    let set_aside = |n: u64| fs.exists(&crate::files::journal_path(&lost, n));
    if let Some(proof) = plan::committed_past(catalog, scans, &set_aside) {
        return Err(torn_but_committed(l, proof));
    }
    // An edit whose sync never returned: no caller was told it committed,
    // and what it described is still in the journals.
    log::warn!(
        "recovery: dropped a torn last edit ({} bytes) of {}",
        l.torn,
        l.path.display()
    );
    Ok(())
}

/// The error of manifest `l`, whose last record does not read but
/// committed, as `proof` shows.
fn torn_but_committed(l: &Loaded, proof: String) -> Error {
    Error::corruption(
        CorruptionKind::Manifest,
        &l.path,
        l.good_len,
        format!(
            "the manifest's last record ({} bytes) does not read, and it committed: {proof}; \
             a crash cannot explain this, so nothing was changed",
            l.torn
        ),
    )
}

/// What [`set_aside`] leaves.
struct Settled {
    set_aside: Vec<SetAside>,
    replayed_journals: Vec<(PathBuf, bool)>,
    orphans: Vec<PathBuf>,
}

/// Carries out (or, for a read-only open, previews) what `plan` sets
/// aside, and sorts the rest: the journals that stay, with whether each
/// holds bytes replay could not use, and the unlisted tables that are
/// orphans.
///
/// Shortened copies left by an interrupted repair go first: their
/// journals are still whole (a copy's name disappears in the rename that
/// puts it in place), but they are kept all the same. Tables the manifest
/// does not list are a crash's uncommitted outputs, deleted once the open
/// is done, only while the history is whole. After a break something is
/// missing, and such a table may be all that is left of it: it is set
/// aside whole, first, so that a crash later in the repair cannot leave
/// it for an open that would delete it.
fn set_aside(
    fs: &dyn Fs,
    listing: &Listing,
    catalog: &Catalog,
    scans: &[scan::JournalScan],
    plan: plan::Plan,
    fix: Fix,
) -> Result<Settled, Error> {
    let unlisted = |n: &u64| !catalog.tables().any(|(_, f)| f.number == *n);
    let unlisted: Vec<PathBuf> = listing
        .tables
        .iter()
        .filter(|t| unlisted(&t.number))
        .map(|t| t.path.clone())
        .collect();
    let (kept_tables, orphans) = match plan.damage {
        Some(_) => (unlisted, Vec::new()),
        None => (Vec::new(), unlisted),
    };
    let steps: Vec<Step> = kept_tables
        .iter()
        .chain(&listing.repair_copies)
        .map(|path| Step::SetAside { path: path.clone() })
        .chain(plan.steps)
        .collect();
    let set_aside = match fix {
        Fix::Repair => lost::run(fs, &listing.dir, &steps)?,
        Fix::ReadOnly => lost::preview(fs, &listing.dir, &steps),
    };
    // The journals that stay in the directory, and whether each holds
    // bytes replay could not use (a torn tail): once their records are in
    // tables those are set aside whole rather than deleted.
    let replayed_journals = scans
        .iter()
        .filter_map(|scan| {
            let done = set_aside.iter().find(|s| s.path == scan.path);
            match done {
                Some(s) if s.cut_to.is_none() => None,
                // Cut to its good part: nothing unusable is left in it.
                Some(_) => Some((scan.path.clone(), false)),
                None => Some((scan.path.clone(), scan.data_end > scan.good_end)),
            }
        })
        .collect();
    Ok(Settled {
        set_aside,
        replayed_journals,
        orphans,
    })
}

/// After a writer installed its manifest: removes what no state refers to
/// any more. Journals whose records are now in tables are deleted, or set
/// aside whole into `lost/` if they hold bytes replay could not use (a torn
/// tail is not data, but recovery never destroys what it did not read);
/// orphans are deleted. A failure only leaves a file for the next open,
/// which finds it obsolete again.
pub(crate) fn finish(fs: &dyn Fs, dir: &Path, replayed: &[(PathBuf, bool)], orphans: &[PathBuf]) {
    for (path, keep) in replayed {
        let done = if *keep {
            lost::run(fs, dir, &[Step::SetAside { path: path.clone() }])
                .map(|kept| {
                    for k in kept {
                        log::warn!(
                            "recovery: kept {} as {}",
                            k.path.display(),
                            k.kept_as.display()
                        );
                    }
                })
                .map_err(|e| e.to_string())
        } else {
            fs.remove(path).map_err(|e| e.to_string())
        };
        if let Err(e) = done {
            log::warn!("cannot retire flushed journal {}: {e}", path.display());
        }
    }
    for path in orphans {
        if let Err(e) = fs.remove(path) {
            log::warn!("cannot delete obsolete {}: {e}", path.display());
        }
    }
}

/// What replay builds from the journals' batches (see [`Replayed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplayInto {
    /// Memtables, for an open that reads them where they are.
    Memtables,
    /// Batches, for an open that writes them to tables at once.
    Batches,
}

/// What the journals held, replayed.
pub(crate) enum Replayed {
    /// For a read-only open: the frozen memtables, newest first, and the
    /// active one, which takes no more writes.
    Memtables {
        frozen: Vec<Arc<MemDb>>,
        active: Arc<MemDb>,
    },
    /// For a writable open, which makes the runs one memtable, or each a
    /// level-0 table: the batches in runs of up to a write buffer, oldest
    /// first, with no empty batch. Either way the records are sorted once
    /// (`compaction::build::SortedRecords`): inserted in journal order, a
    /// 3 MB journal's cost the reopen after a 10 M-key fill 9 to 17 ms of
    /// skiplist searches.
    Batches(Vec<Vec<Batch>>),
}

/// Replays the good batches each of `scans` kept (`JournalScan::good`,
/// taken from them) into what `into` says.
fn replay(
    scans: &mut [scan::JournalScan],
    write_buffer_size: usize,
    blocks: &Arc<BlockPool>,
    into: ReplayInto,
) -> Replayed {
    match into {
        ReplayInto::Memtables => {
            let mut frozen: Vec<Arc<MemDb>> = Vec::new();
            let mut active = MemDb::with_pool(write_buffer_size, blocks);
            for_each_batch(scans, |batch| {
                if active.0.free() < batch.internal_len() && !active.0.is_empty() {
                    let full =
                        std::mem::replace(&mut active, MemDb::with_pool(write_buffer_size, blocks));
                    frozen.insert(0, full.0);
                }
                active.1.apply(batch.seq(), &batch);
            });
            Replayed::Memtables {
                frozen,
                active: active.0,
            }
        }
        ReplayInto::Batches => {
            // Cut where a memtable would have rotated, about: each run
            // makes one table of at most about a write buffer.
            let mut runs: Vec<Vec<Batch>> = Vec::new();
            let mut run_len = 0;
            for_each_batch(scans, |batch| {
                if batch.is_empty() {
                    return;
                }
                let len = batch.internal_len();
                match runs.last_mut() {
                    Some(run) if run_len + len <= write_buffer_size => run.push(batch),
                    _ => {
                        runs.push(vec![batch]);
                        run_len = 0;
                    }
                }
                run_len += len;
            });
            Replayed::Batches(runs)
        }
    }
}

/// Hands each good batch of `scans`, taken from them, to `visit`, in
/// journal order.
fn for_each_batch(scans: &mut [scan::JournalScan], mut visit: impl FnMut(Batch)) {
    for scan in scans {
        std::mem::take(&mut scan.good)
            .into_iter()
            .for_each(&mut visit);
    }
}

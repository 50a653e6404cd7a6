//! A writer's open, step by step: take the directory, recover it, commit
//! what the journals held with one new manifest, and start the write path
//! and the background lanes over the result.
//!
//! # The commit of an open
//!
//! What the journals held stays in memory, as frozen memtables, and the
//! journals stay live until the background flushes them, as RocksDB's
//! `avoid_flush_during_recovery` does; new writes go to a new journal.
//! One new manifest holds the old one's catalog and that journal, its log
//! number unchanged, and `CURRENT` is pointed at it: the commit point.
//! Until then the old manifest and journals are what recovery reads, and
//! the new files are orphans it deletes. LevelDB writes level-0 tables
//! instead and syncs them before its open returns: sorting the records
//! into a memtable ([`recover_into_memory`]) is what made the reopen after
//! a 10 M-key fill faster than LevelDB's (ARCHITECTURE.md, Recovery).
//!
//! That is when recovery found the journals whole. A journal holding
//! bytes replay could not use (a torn tail) must be set aside whole, once
//! what it held is elsewhere, and after damage, a repair or the conversion
//! of a LevelDB directory no replayed journal should meet a later open
//! again: then the records go to level-0 tables first, which the manifest
//! names with the new journal's number as log number. Writing that
//! manifest fsyncs the directory, which makes the tables' and the
//! journal's names durable with its own (five syncs with one table). If
//! those tables meet a full disk, the records stay in memory after all:
//! deletes and compactions can then free space, where a refused open could
//! not.

use crate::backend::Backend;
use crate::compaction::{self, build, Background};
use crate::error::{io_err, lock_error, repair_can_fix, Error};
use crate::failure::Failure;
use crate::files::{self, Files};
use crate::fs::{FileLock, LockMode};
use crate::options::Options;
use crate::read::{Frozen, ReadState, View};
use crate::recovery::{self, Fix, Recovered, RecoveryReport, Replayed};
use crate::state::Shared;
use crate::table::TableOptions;
use crate::version::{Deleter, Field, FileMeta, Retired, TableFile, Version, VersionSet};
use crate::wal::{self, JournalWriter, Wal};
use batch::{Batch, SeqNum};
use memdb::{BlockPool, Inserter, MemDb};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Weak};

/// A database open for writing.
pub(crate) struct Opened {
    /// What the write path, the lanes and readers share.
    pub shared: Arc<Shared>,
    /// The write path.
    pub commit: writer::GroupCommit,
    /// What recovery did.
    pub report: RecoveryReport,
    /// The tables the open found, opened on first use (`Db::close`).
    pub unopened: Vec<Weak<TableFile>>,
    /// The directory's `LOCK`, held for the life of the database.
    pub lock: Box<dyn FileLock>,
}

/// Opens the database in `dir` for writing (`Db::open`).
pub(crate) fn open_writable(dir: &Path, options: &Options) -> Result<Opened, Error> {
    let (lock, listing) = take_directory(dir, options)?;
    let had_current = listing.current;
    let blocks = compaction::memtable_pool(options.write_buffer_size);
    let deleter = Deleter::new();
    let retire = deleter.sender().cloned();
    let recovered = recovery::recover(
        &options.fs,
        listing,
        options.recovery,
        options.write_buffer_size,
        &blocks,
        Fix::Repair,
        retire.as_ref(),
    )
    .map_err(repair_can_fix)?;
    recovered.report.log();
    let failure = Arc::new(Failure::default());
    let last_seq = recovered.report.last_seq;
    let unopened = weak_tables(&recovered.version);
    let committed = commit_recovered(
        dir,
        &failure,
        retire,
        recovered,
        had_current,
        options,
        &blocks,
    )?;

    // Its head is written now: no huge page to fault in on the open's path.
    let (memdb, inserter) = MemDb::with_pool_ordinary_pages(options.write_buffer_size, &blocks);
    let number = committed.number;
    let view = View {
        active: memdb,
        active_journal: number,
        frozen: committed.in_memory.into_iter().rev().collect(),
        version: Arc::new(committed.version),
        loaded_at: None,
        table_sizes: Default::default(),
    };
    let shared = Arc::new(Shared::new(
        committed.files,
        failure,
        ReadState::new(view, last_seq),
        Some(committed.set),
        deleter,
        blocks,
        options.shape(),
    ));
    // The journals whose records stay in memory are live until their
    // flush, which deletes them (`compaction::flush`).
    for (number, bytes) in committed.live_journals {
        shared.journals.track(number, bytes);
    }
    let journal = committed.journal;
    let commit = start_writing(&shared, journal, number, inserter, last_seq, options)?;
    Ok(Opened {
        shared,
        commit,
        report: committed.report,
        unopened,
        lock,
    })
}

/// Creates `dir` (not its parents) if the options allow, takes its `LOCK`
/// and lists it,
/// checking `create_if_missing` and `error_if_exists`.
fn take_directory(
    dir: &Path,
    options: &Options,
) -> Result<(Box<dyn FileLock>, recovery::Listing), Error> {
    let fs = &*options.fs;
    if !fs.exists(dir) {
        if !options.create_if_missing {
            return Err(Error::NotFound {
                path: dir.to_path_buf(),
            });
        }
        // The last path component only, as LevelDB and RocksDB: a typo in
        // a parent is an error, not a new tree of directories.
        fs.create_dir(dir)
            .map_err(io_err("create directory (its parent must exist)", dir))?;
    }
    let lock_path = dir.join(files::LOCK);
    let lock = fs
        .lock(&lock_path, LockMode::Write)
        .map_err(lock_error(&lock_path))?;
    let listing = recovery::list(fs, dir)?;
    let exists = listing.holds_database();
    if !exists && !options.create_if_missing {
        return Err(Error::NotFound {
            path: dir.to_path_buf(),
        });
    }
    if exists && options.error_if_exists {
        return Err(Error::AlreadyExists {
            path: dir.to_path_buf(),
        });
    }
    Ok((lock, listing))
}

/// What the commit of an open leaves.
struct Committed {
    files: Arc<Files>,
    set: VersionSet,
    version: Version,
    /// The new journal, named durably by the manifest's directory fsync.
    journal: JournalWriter,
    number: u64,
    /// What stays in memory on a full disk, oldest first.
    in_memory: Vec<Arc<Frozen>>,
    /// The journals that then stay live: (number, bytes).
    live_journals: Vec<(u64, u64)>,
    report: RecoveryReport,
}

/// The commit of an open (see the module docs): the replayed batches into
/// level-0 tables (or memory), a new journal, one new manifest, and the
/// files it made obsolete deleted or set aside.
fn commit_recovered(
    dir: &Path,
    failure: &Arc<Failure>,
    retire: Option<Sender<Retired>>,
    recovered: Recovered,
    had_current: bool,
    options: &Options,
    blocks: &Arc<BlockPool>,
) -> Result<Committed, Error> {
    let Recovered {
        report,
        replayed,
        numbers,
        catalog,
        version,
        replayed_journals,
        mut orphans,
    } = recovered;
    let files = &Arc::new(Files::new(dir, &options.fs, numbers));
    let fs = &**files.fs();
    let Replayed::Batches(runs) = replayed else {
        unreachable!("a writer's open asks for batches")
    };
    if !had_current && !runs.is_empty() {
        // A table is never left beside a missing `CURRENT` (recovery
        // refuses that: tables no manifest names could be anyone's), so a
        // directory of journals alone gets a manifest first.
        let first = VersionSet::create(
            files,
            failure,
            None,
            catalog.clone(),
            &[],
            options.max_manifest_file_size,
        )?;
        orphans.push(first.manifest_path().to_path_buf());
    }
    let mut edit = Vec::new();
    let mut in_memory = Vec::new();
    let mut live_journals = Vec::new();
    // The journals stay live, with their records in memory, until the
    // background flushes them, when recovery found them whole. Anything
    // else (a torn tail to set aside once its records are in tables,
    // damage, a repair, a LevelDB directory converted) takes the way
    // LevelDB's open takes: level-0 tables first, and every replayed
    // journal retired at once, so that no later open meets it again.
    let whole = report.damage.is_none()
        && report.dropped.is_empty()
        && report.set_aside.is_empty()
        && !report.leveldb_manifest
        && replayed_journals.iter().all(|&(_, keep)| !keep);
    let tables = if !whole || runs.is_empty() {
        match write_recovered_runs(files, &runs, options.shape().table_options(0)) {
            Ok(tables) => Some(tables),
            Err(Error::Io { op, path, source })
                if source.kind() == std::io::ErrorKind::StorageFull =>
            {
                log::warn!(
                    "open: {op} {}: {source}; the {} batches recovered stay in memory and in \
                     their journals until there is room to flush them",
                    path.display(),
                    runs.iter().map(Vec::len).sum::<usize>()
                );
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    match tables {
        // Oldest first, each new table in front of level 0's newer end.
        Some(tables) => edit.extend(
            tables
                .into_iter()
                .map(|file| Field::AddFile { level: 0, file }),
        ),
        None => {
            (in_memory, live_journals) = keep_in_memory(
                &runs,
                &replayed_journals,
                &report,
                catalog.log_number,
                options.write_buffer_size,
                blocks,
            );
        }
    }
    drop(runs);

    // The edit names the new journal as the first live one, so every
    // older journal is obsolete once `CURRENT` names the manifest (unless
    // what they held is still only in memory).
    let number = files.new_journal()?;
    let journal = wal::create_unnamed(fs, dir, number)
        .map_err(io_err("create journal", &files::journal_path(dir, number)))?;
    if in_memory.is_empty() {
        edit.extend([Field::LogNumber(number), Field::LastSeq(report.last_seq.0)]);
    }
    let set = VersionSet::create(
        files,
        failure,
        retire,
        catalog,
        &edit,
        options.max_manifest_file_size,
    )?;
    let version = set.version(&version)?;
    if report.leveldb_manifest {
        log::warn!(
            "open: converted the LevelDB directory {}: {} replaces LevelDB's manifest {}",
            dir.display(),
            set.manifest_path().display(),
            report
                .manifest
                .as_deref()
                .unwrap_or(Path::new(""))
                .display()
        );
    }
    // The manifest recovery read is obsolete now, with the rest.
    orphans.extend(report.manifest.clone());
    let retired_journals: &[(PathBuf, bool)] = if in_memory.is_empty() {
        &replayed_journals
    } else {
        &[]
    };
    recovery::finish(fs, dir, retired_journals, &orphans);
    Ok(Committed {
        files: Arc::clone(files),
        set,
        version,
        journal,
        number,
        in_memory,
        live_journals,
        report,
    })
}

/// What an open keeps in memory: the runs of recovered batches as one
/// frozen memtable, whose records begin in the first replayed journal (or
/// `log_number`), and the replayed journals, which stay live until its
/// flush: (number, bytes).
fn keep_in_memory(
    runs: &[Vec<Batch>],
    replayed_journals: &[(PathBuf, bool)],
    report: &RecoveryReport,
    log_number: u64,
    write_buffer_size: usize,
    blocks: &Arc<BlockPool>,
) -> (Vec<Arc<Frozen>>, Vec<(u64, u64)>) {
    let live: Vec<(u64, u64)> = replayed_journals
        .iter()
        .filter_map(|(path, _)| {
            let bytes = report.journals.iter().find(|j| j.path == *path);
            journal_number(path).map(|n| (n, bytes.map_or(0, |j| j.bytes)))
        })
        .collect();
    let first_journal = live.iter().map(|&(n, _)| n).min().unwrap_or(log_number);
    let frozen = vec![Arc::new(Frozen {
        memdb: recover_into_memory(runs, write_buffer_size, blocks),
        journal: first_journal,
    })];
    (frozen, live)
}

/// Starts the background lanes and the write path over `shared`, writing
/// to `journal` (number `number`) and the active memtable of `inserter`,
/// from `last_seq` on.
fn start_writing(
    shared: &Arc<Shared>,
    journal: JournalWriter,
    number: u64,
    inserter: Inserter,
    last_seq: SeqNum,
    options: &Options,
) -> Result<writer::GroupCommit, Error> {
    let background = Background::start(Arc::clone(shared), options.write_buffer_size).map_err(
        io_err("start the background thread for", shared.files.dir()),
    )?;
    let backend = Backend::new(
        Arc::clone(shared),
        Wal::new(&shared.journals, journal, number),
        inserter,
        options.write_buffer_size,
        Box::new(background),
    );
    Ok(writer::GroupCommit::new(
        Box::new(backend),
        last_seq,
        writer::Options {
            merge: options.merge_writes,
            pipelined: options.pipelined_commit,
        },
    ))
}

/// Writes each run of batches recovered from the journals to a new
/// level-0 table, oldest first, synced (their names are left to the
/// directory fsync of the manifest that names them); on an error removes
/// the ones written (nothing names them yet).
fn write_recovered_runs(
    files: &Files,
    runs: &[Vec<Batch>],
    table_options: TableOptions,
) -> Result<Vec<FileMeta>, Error> {
    let fs = &**files.fs();
    let mut tables: Vec<(FileMeta, PathBuf)> = Vec::with_capacity(runs.len());
    for run in runs {
        let written = files.new_table().and_then(|(number, path)| {
            build::write_batches(fs, &path, number, table_options, run)
                .map(|written| (written.meta, path.clone()))
                .map_err(io_err("write table", &path))
        });
        match written {
            Ok(table) => tables.push(table),
            Err(e) => {
                for (_, path) in &tables {
                    let _ = fs.remove(path);
                }
                return Err(e);
            }
        }
    }
    Ok(tables.into_iter().map(|(meta, _)| meta).collect())
}

/// The runs of recovered batches as one memtable, however many write
/// buffers they fill.
///
/// One, because the replayed journals stay live until it is flushed: the
/// flush's edit records its last sequence number with the new journal's
/// number as log number, in one step. Two memtables over the same
/// journals would let a crash between their flushes leave a manifest whose
/// last sequence number lies inside a live journal, which recovery
/// rightly refuses.
///
/// The records go in sorted, so that each insert links its entry behind
/// the last one without a search ([`memdb::Inserter::insert`]): the 23 k
/// records of a 10 M fill's last journal took 14 to 23 ms applied in
/// journal order, and 5 to 9 ms sorted and inserted.
fn recover_into_memory(
    runs: &[Vec<Batch>],
    write_buffer_size: usize,
    blocks: &Arc<BlockPool>,
) -> Arc<MemDb> {
    let bytes: usize = runs.iter().flatten().map(Batch::internal_len).sum();
    let (memdb, mut inserter) =
        MemDb::with_pool_ordinary_pages(bytes.max(write_buffer_size), blocks);
    for (record, seq) in build::SortedRecords::new(runs.iter().flatten()).iter() {
        inserter.insert(seq, record);
    }
    memdb
}

/// The number of the journal at `path`, if it names one.
fn journal_number(path: &Path) -> Option<u64> {
    match files::classify(path.file_name()?.to_str()?) {
        files::Name::Journal(n) => Some(n),
        _ => None,
    }
}

/// The tables of `version`, weakly: those a snapshot or iterator still
/// holds at close are opened then (`Db::close`).
pub(crate) fn weak_tables(version: &Version) -> Vec<Weak<TableFile>> {
    version.tables().map(|(_, f)| Arc::downgrade(f)).collect()
}

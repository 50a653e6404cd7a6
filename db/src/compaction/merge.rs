//! The merge job: input tables merged into new tables of one level, and
//! the edit that swaps them in. Both compactions use it: the leveled one
//! the background picks (`compaction::level`) and the full one of
//! `Db::compact` ([`compact_all`]), which merges every table into one
//! level.
//!
//! # The merge
//!
//! One pass over the inputs in internal-key order (a user key's versions
//! newest first, whichever input holds them). Only the newest version of
//! each user key is kept: a snapshot taken after the compaction loads a
//! sequence number at or above every table's (`ReadState::snapshot`), so it
//! sees only newest versions, and a snapshot or iterator taken before
//! keeps the version it pinned, and with it the inputs, which are deleted
//! only once the last of them drops (`version::current`). A newest
//! version that is a tombstone is dropped too when no table below the
//! output level can hold its key: there is nothing left for it to hide.
//! Output tables are cut at the target file size or where [`OutputCut`]
//! says, always between user keys, so no user key spans two tables of a
//! level.
//!
//! # The commit
//!
//! Outputs synced, the directory fsynced, then one edit (inputs deleted,
//! outputs added, the level's compact pointer): the commit point, as for a
//! flush (`version::set`). The view then drops the inputs and gains the
//! outputs; tables flushed meanwhile stay in level 0 above them. Only one
//! compaction runs at a time (`Lanes::compacting`), so its inputs are
//! still live when it commits: flushes only add tables.

use super::build::{self, OutputTable};
use super::pick::OutputCut;
use crate::error::{io_err, table_err, CorruptionKind, Error};
use crate::fs::WritableFile;
use crate::read::Change;
use crate::read::{EntryCursor, LevelCursor, Recheck};
use crate::state::{Count, Shared};
use crate::sync::lock;
use crate::table::TableOptions;
use crate::version::{Field, FileMeta, TableFile};
use batch::{key, Kind, SeqNum};
use std::path::PathBuf;
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;

/// Merges every table into one level, the first whose target holds them
/// ([`Shape::level_for`](super::pick::Shape::level_for)), so that the
/// compaction lane has nothing to move afterwards; returns the tables
/// written.
pub(crate) fn compact_all(shared: &Shared) -> Result<usize, Error> {
    let _alone = shared.lanes.compacting();
    let view = shared.read.view();
    let inputs: Vec<(usize, Arc<TableFile>)> = view
        .version
        .tables()
        .map(|(level, file)| (level, Arc::clone(file)))
        .collect();
    let bytes: u64 = inputs.iter().map(|(_, f)| f.meta.size).sum();
    let level = shared.shape.level_for(bytes);
    if settled(&inputs, level) {
        return Ok(0);
    }
    // Every table is an input: no deeper table can hold a key a tombstone
    // would hide.
    let runs = sorted_runs(&inputs);
    let outputs = merge(shared, &runs, &|_| false, None, level, Span::default())?;
    let written = outputs.len();
    commit(shared, &inputs, Vec::new(), outputs, level, None)?;
    shared.counters.add(Count::Compactions, 1);
    Ok(written)
}

/// Whether `tables` (level, table) are already what [`compact_all`] would
/// make: one sorted run in a level below level 0, at or below `target`,
/// where no compaction moves them. Rewriting them would only copy them
/// (RocksDB's `CompactRange` leaves its bottommost level alone too): a
/// second `compact` writes nothing.
fn settled(tables: &[(usize, Arc<TableFile>)], target: usize) -> bool {
    match tables.first() {
        None => true,
        Some(&(level, _)) => {
            level > 0 && level >= target && tables.iter().all(|(l, _)| *l == level)
        }
    }
}

/// `tables` (level, table, in the version's order) as the sorted runs of
/// [`merge`]: each level-0 table alone, each deeper level's tables as one.
pub(crate) fn sorted_runs(tables: &[(usize, Arc<TableFile>)]) -> Vec<Vec<&Arc<TableFile>>> {
    let mut runs: Vec<Vec<&Arc<TableFile>>> = Vec::new();
    let mut run_level = None;
    for (level, file) in tables {
        if *level == 0 || run_level != Some(*level) {
            runs.push(Vec::new());
            run_level = Some(*level);
        }
        runs.last_mut().expect("pushed above").push(file);
    }
    runs
}

/// A finished, synced output table.
pub(crate) struct Output {
    meta: FileMeta,
    path: PathBuf,
}

/// One sorted run of a merge's inputs: a level-0 table alone, or tables
/// of a deeper level in key order, which do not overlap and so read as
/// one sequence: the reads' [`LevelCursor`], checking every block as it
/// is read. The merge then picks each next key among one cursor per run,
/// not one per table: a compaction of one table into ten below compares
/// two keys a step, not eleven.
type InputRun<'a> = LevelCursor<'a, &'a Arc<TableFile>>;

/// A run over `files`, on its first entry whose user key is after `after`
/// (the first of all with `None`).
fn open_run<'a>(
    files: &'a [&'a Arc<TableFile>],
    after: Option<&[u8]>,
) -> Result<InputRun<'a>, Error> {
    let mut run = LevelCursor::new(files, Recheck::Always);
    match after {
        None => run.seek_to_first(),
        Some(after) => {
            // Every version of `after` sorts at or before its version 0.
            run.seek(after, SeqNum::ZERO);
            while run.valid() && run.entry().0 <= after {
                run.next();
            }
        }
    }
    checked(&mut run)?;
    Ok(run)
}

/// Moves `run` to its next entry.
fn advance(run: &mut InputRun<'_>) -> Result<(), Error> {
    run.next();
    checked(run)
}

/// The damage `run` met, if any, said to be met by compaction.
fn checked(run: &mut InputRun<'_>) -> Result<(), Error> {
    match run.take_error() {
        Some(Error::Corruption {
            path,
            offset,
            reason,
        }) => Err(Error::corruption(
            reason.kind(),
            path,
            offset,
            format!("{reason} (met by compaction)"),
        )),
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The error for a key of `run` met out of order.
fn out_of_order(run: &InputRun<'_>) -> Error {
    let path = run.table().map(|t| t.path().to_path_buf());
    Error::corruption(
        CorruptionKind::Table,
        path.unwrap_or_default(),
        0,
        "table keys out of order (met by compaction)",
    )
}

/// The part of the user keys one merge covers: after `after` (exclusive)
/// and up to `through` (inclusive), `None` unbounded.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span<'a> {
    pub after: Option<&'a [u8]>,
    pub through: Option<&'a [u8]>,
}

/// Merges `runs` over the two halves of their keys on two threads, split
/// after the user key `split` (RocksDB's subcompactions), or on this
/// thread alone with `None`; returns the outputs of both, in key order.
///
/// No user key is on both sides of the split, so the halves' outputs are
/// tables of one level as a single merge's would be, committed by one
/// edit. A flush-bound writer leaves a core idle while it waits on level
/// 0 (goleveldb's stalls); the second half uses it. If either half fails,
/// the other's outputs are removed too.
pub(crate) fn merge_split(
    shared: &Shared,
    runs: &[Vec<&Arc<TableFile>>],
    deeper_may_hold: &(dyn Fn(&[u8]) -> bool + Sync),
    cut: impl Fn() -> Option<OutputCut>,
    level: usize,
    split: Option<&[u8]>,
) -> Result<Vec<Output>, Error> {
    let Some(split) = split else {
        return merge(shared, runs, deeper_may_hold, cut(), level, Span::default());
    };
    let low_span = Span {
        after: None,
        through: Some(split),
    };
    let high_span = Span {
        after: Some(split),
        through: None,
    };
    let (low_cut, high_cut) = (cut(), cut());
    let (low, high) = std::thread::scope(|scope| {
        let high = std::thread::Builder::new()
            .name("tributary-subcompaction".into())
            .spawn_scoped(scope, || {
                merge(shared, runs, deeper_may_hold, high_cut, level, high_span)
            });
        let low = merge(shared, runs, deeper_may_hold, low_cut, level, low_span);
        let high = match high {
            // A panic there is one of this thread's, as if it had merged
            // both halves itself.
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread: this one merges the other half after its own.
            Err(_) => merge(shared, runs, deeper_may_hold, cut(), level, high_span),
        };
        (low, high)
    });
    match (low, high) {
        (Ok(mut low), Ok(high)) => {
            low.extend(high);
            Ok(low)
        }
        (low, high) => {
            for out in low.iter().chain(high.iter()).flatten() {
                let _ = shared.files.fs().remove(&out.path);
            }
            Err(low.and(high).err().expect("one half failed"))
        }
    }
}

/// Merges the keys of `runs` in `span` into new synced tables (see the
/// module comment), the directory fsynced after them. Each run is a
/// level-0 table alone or a deeper level's tables in key order
/// ([`InputRun`]); on a tie in user key the internal order puts the
/// newest version first, whichever run holds it.
/// `deeper_may_hold(user_key)` says whether a table below the output
/// level may hold the key; `cut` ends tables early; the outputs are of
/// `level`, cut at its target size and written as its tables are. On an
/// error no output is left.
///
/// # Errors
///
/// A damaged input, including one whose keys the merge meets out of order
/// (a block written wrong and checksummed after): [`Error::Corruption`]
/// naming the table, and no output kept. A table write error.
pub(crate) fn merge(
    shared: &Shared,
    runs: &[Vec<&Arc<TableFile>>],
    deeper_may_hold: &(dyn Fn(&[u8]) -> bool + Sync),
    cut: Option<OutputCut>,
    level: usize,
    span: Span<'_>,
) -> Result<Vec<Output>, Error> {
    let dir = shared.files.dir();
    let fs = &**shared.files.fs();
    let mut inputs: Vec<InputRun<'_>> = runs
        .iter()
        .filter(|files| !files.is_empty())
        .map(|files| open_run(files, span.after))
        .collect::<Result<_, Error>>()?;

    // Each output is synced as soon as the next one opens, as LevelDB
    // does (syncing them all at the end had sent a whole compaction's
    // bytes, 256 MiB after four 64 MiB batches, to the disk in one burst
    // in front of every synced writer's fsync), but on a thread of its
    // own: the merge writes the next table while the device takes the
    // last. The queue holds one table, so at most three are unsynced.
    std::thread::scope(|scope| {
        let (queue, queued) = mpsc::sync_channel::<(Box<dyn WritableFile>, PathBuf)>(1);
        let syncer = std::thread::Builder::new()
            .name("tributary-table-sync".into())
            .spawn_scoped(scope, move || -> Result<(), Error> {
                for (mut file, path) in queued {
                    file.sync_data().map_err(io_err("sync table", &path))?;
                }
                Ok(())
            })
            .map_err(io_err("start a table sync thread", dir))?;
        let merged = merge_into(
            shared,
            &mut inputs,
            deeper_may_hold,
            cut,
            level,
            span,
            &queue,
        );
        // The syncer ends once the queue closes; its error comes first,
        // since a merge stopped by it only saw the queue close.
        drop(queue);
        let synced = syncer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let (finished, paths) = merged;
        let remove_all = || {
            for p in &paths {
                let _ = fs.remove(p);
            }
        };
        let finished = match synced.and(finished) {
            Ok(finished) => finished,
            Err(e) => {
                remove_all();
                return Err(e);
            }
        };
        if let Err(e) = fs.sync_dir(dir) {
            remove_all();
            return Err(io_err("directory fsync", dir)(e));
        }
        Ok(finished)
    })
}

/// The merge loop of [`merge`]: writes the outputs, handing each finished
/// one to `sync`; returns them, or the error that stopped it, and the
/// paths of every output it created (what a failure removes).
fn merge_into(
    shared: &Shared,
    inputs: &mut [InputRun<'_>],
    deeper_may_hold: &(dyn Fn(&[u8]) -> bool + Sync),
    mut cut: Option<OutputCut>,
    level: usize,
    span: Span<'_>,
    sync: &SyncSender<(Box<dyn WritableFile>, PathBuf)>,
) -> (Result<Vec<Output>, Error>, Vec<PathBuf>) {
    let fs = &**shared.files.fs();
    let target = shared.shape.target_file_size;
    let table_options = shared.shape.table_options(level);
    let mut current: Option<OutputTable> = None;
    let mut finished: Vec<Output> = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    let finish = |out: OutputTable, finished: &mut Vec<Output>| -> Result<(), Error> {
        let path = out.path().to_path_buf();
        let (written, file) = out
            .finish_unsynced()
            .map_err(io_err("write table", &path))?;
        written.count(&shared.counters, level);
        if sync.send((file, path.clone())).is_err() {
            // The syncer failed; `merge` reports its error.
            return Err(io_err("sync table", &path)(std::io::Error::other(
                "the table sync thread stopped",
            )));
        }
        finished.push(Output {
            meta: written.meta,
            path,
        });
        Ok(())
    };
    // The user key of the last version read, in one buffer reused from
    // key to key: the merge allocates nothing per key.
    let mut last_user: Vec<u8> = Vec::new();
    let mut first = true;
    // The runs that still hold entries, by current key: the head holds
    // the merge's next entry. A run that moves goes back in place by a
    // binary search, so a step costs about log2(runs) comparisons, not
    // one per run (eight level-0 tables had spent most of the merge in
    // picking the smallest key). Two runs never hold the same internal
    // key, so the order is strict.
    let mut order: Vec<usize> = (0..inputs.len()).filter(|&i| inputs[i].valid()).collect();
    order.sort_by(|&a, &b| key::compare(inputs[a].key(), inputs[b].key()));
    let result: Result<(), Error> = (|| {
        while let Some(&b) = order.first() {
            let run = &mut inputs[b];
            let (user, _, kind) = key::parse(run.key()).expect("a valid table cursor's key parses");
            if span.through.is_some_and(|end| user > end) {
                break;
            }
            let new_key = match user.cmp(last_user.as_slice()) {
                _ if first => true,
                std::cmp::Ordering::Equal => false,
                std::cmp::Ordering::Greater => true,
                // The runs merge in order only if each is in order: a
                // block written out of order and checksummed after is
                // refused here, so no output inherits the disorder.
                std::cmp::Ordering::Less => return Err(out_of_order(run)),
            };
            if new_key {
                first = false;
                last_user.clear();
                last_user.extend_from_slice(user);
                let keep = kind == Kind::Put || deeper_may_hold(user);
                if keep {
                    let full = current.as_ref().is_none_or(|o| o.size_estimate() >= target);
                    let early = cut.as_mut().is_some_and(|c| c.before(run.key()));
                    if full || early {
                        if let Some(c) = cut.as_mut() {
                            c.reset();
                        }
                        if let Some(done) = current.take() {
                            finish(done, &mut finished)?;
                        }
                        let (number, path) = shared.files.new_table()?;
                        paths.push(path.clone());
                        current = Some(
                            OutputTable::create(fs, &path, number, table_options)
                                .map_err(io_err("create table", &path))?,
                        );
                    }
                    let out = current.as_mut().expect("an output is open");
                    out.add(run.key(), run.value())
                        .map_err(io_err("write table", out.path()))?;
                }
            }
            advance(run)?;
            order.remove(0);
            if inputs[b].valid() {
                let key = inputs[b].key();
                let at = order.partition_point(|&i| key::compare(inputs[i].key(), key).is_lt());
                order.insert(at, b);
            }
        }
        if let Some(done) = current.take() {
            finish(done, &mut finished)?;
        }
        Ok(())
    })();
    drop(current);
    (result.map(|()| finished), paths)
}

/// Rewrites table `file` of `level` as one new table of the same entries,
/// written as `options` say (another compression, for an export), and
/// commits the swap as a compaction would. The caller holds the
/// compaction lane. Each block is checked whole as it is read.
///
/// # Errors
///
/// A damaged block ([`Error::Corruption`] naming the table), a table
/// write, or the commit's error; the new table is removed on an error.
pub(crate) fn rewrite_table(
    shared: &Shared,
    level: usize,
    file: &Arc<TableFile>,
    options: TableOptions,
) -> Result<(), Error> {
    let table = file.table()?;
    let (number, path) = shared.files.new_table()?;
    let fs = &**shared.files.fs();
    let mut damage = None;
    let written = build::write_table_with(fs, &path, number, options, |out| {
        let mut it = table.iter_rechecked();
        it.seek_to_first();
        while it.valid() {
            out.add(it.key(), it.value())?;
            it.next();
        }
        damage = it.error().cloned();
        match &damage {
            Some(e) => Err(std::io::Error::other(e.to_string())),
            None => Ok(()),
        }
    });
    if let Some(e) = damage {
        return Err(table_err(file.path())(e));
    }
    let written = written.map_err(io_err("write table", &path))?;
    let dir = shared.files.dir();
    if let Err(e) = fs.sync_dir(dir) {
        let _ = fs.remove(&path);
        return Err(io_err("directory fsync", dir)(e));
    }
    written.count(&shared.counters, level);
    let output = Output {
        meta: written.meta,
        path,
    };
    commit(
        shared,
        &[(level, Arc::clone(file))],
        Vec::new(),
        vec![output],
        level,
        None,
    )
}

/// Commits a compaction and publishes it: `deleted` (level, table) leave
/// and are marked obsolete, to go once nothing holds them; `moved`
/// (level, table) leave their level and join `level` unchanged; `outputs`
/// join `level` as new tables; `pointer` becomes the compact pointer of
/// its level.
pub(crate) fn commit(
    shared: &Shared,
    deleted: &[(usize, Arc<TableFile>)],
    moved: Vec<(usize, Arc<TableFile>)>,
    outputs: Vec<Output>,
    level: usize,
    pointer: Option<(usize, Vec<u8>)>,
) -> Result<(), Error> {
    let fs = &**shared.files.fs();
    let mut guard = lock(&shared.versions);
    let Some(set) = guard.as_mut() else {
        return Ok(());
    };
    // Every deletion before every addition: a moved table leaves its level
    // before it joins the next.
    let mut edit: Vec<Field> = deleted
        .iter()
        .chain(&moved)
        .map(|(level, file)| Field::DeleteFile {
            level: *level as u8,
            number: file.meta.number,
        })
        .collect();
    for (_, file) in &moved {
        edit.push(Field::AddFile {
            level: level as u8,
            file: file.meta.clone(),
        });
    }
    for out in &outputs {
        edit.push(Field::AddFile {
            level: level as u8,
            file: out.meta.clone(),
        });
    }
    if let Some((level, key)) = pointer {
        edit.push(Field::CompactPointer {
            level: level as u8,
            key,
        });
    }
    match set.log_and_apply(edit, &shared.read.view().version) {
        Ok(version) => shared.install(version, Change::Tables),
        Err(e) => {
            let paths: Vec<_> = outputs.iter().map(|o| o.path.clone()).collect();
            drop(guard);
            if !super::note_stopped(shared, &e) {
                // Not committed: the outputs are orphans.
                for p in paths {
                    let _ = fs.remove(&p);
                }
            }
            return Err(e);
        }
    }
    Ok(())
}

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
//! sequence number at or above every table's (`Shared::snapshot`), so it
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
//! compaction runs at a time (`Shared::compacting`), so its inputs are
//! still live when it commits: flushes only add tables.

use super::build::OutputTable;
use super::pick::OutputCut;
use crate::error::{io_err, Error};
use crate::files;
use crate::read::{lock, Shared};
use crate::table::{TableError, TableIter};
use crate::version::{self, Field, FileMeta, TableFile};
use batch::{key, Kind};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Merges every table into one level, the first whose target holds them
/// ([`Shape::level_for`](super::pick::Shape::level_for)), so that the
/// compaction lane has nothing to move afterwards; returns the tables
/// written.
pub(crate) fn compact_all(shared: &Shared) -> Result<usize, Error> {
    let _alone = lock(&shared.compacting);
    let view = shared.view();
    let inputs: Vec<(usize, Arc<TableFile>)> = view
        .version
        .tables()
        .map(|(level, file)| (level, Arc::clone(file)))
        .collect();
    let bytes: u64 = inputs.iter().map(|(_, f)| f.meta.size).sum();
    let level = shared.shape.level_for(bytes);
    if inputs.is_empty() || (inputs.len() == 1 && inputs[0].0 == level) {
        return Ok(0);
    }
    // Every table is an input: no deeper table can hold a key a tombstone
    // would hide.
    let files: Vec<&Arc<TableFile>> = inputs.iter().map(|(_, f)| f).collect();
    let outputs = merge(
        shared,
        &files,
        |_| false,
        None,
        shared.shape.target_file_size,
    )?;
    let written = outputs.len();
    install(shared, &inputs, Vec::new(), outputs, level, None)?;
    shared.compactions.fetch_add(1, Ordering::Relaxed);
    Ok(written)
}

/// A finished, synced output table.
pub(crate) struct Output {
    meta: FileMeta,
    path: PathBuf,
}

/// Merges `inputs` into new synced tables (see the module comment), the
/// directory fsynced after them. `deeper_may_hold(user_key)` says whether
/// a table below the output level may hold the key; `cut` ends tables
/// early, and `target` is their size. On an error no output is left.
pub(crate) fn merge(
    shared: &Shared,
    inputs: &[&Arc<TableFile>],
    mut deeper_may_hold: impl FnMut(&[u8]) -> bool,
    mut cut: Option<OutputCut>,
    target: u64,
) -> Result<Vec<Output>, Error> {
    let dir = &shared.dir;
    let fs = &*shared.fs;
    let mut iters: Vec<(TableIter, &Arc<TableFile>)> = inputs
        .iter()
        .map(|&file| {
            // Every input block's checksum is checked as the merge reads
            // it, even one a read checked before.
            let mut it = file.table()?.iter_rechecked();
            it.seek_to_first();
            Ok((it, file))
        })
        .collect::<Result<_, Error>>()?;
    let damaged = |file: &TableFile, e: &TableError| Error::Corruption {
        path: file.path().to_path_buf(),
        offset: e.offset,
        reason: format!("table {} (met by compaction)", e.kind),
    };

    // Each output is finished (synced) as soon as the next one opens, as
    // LevelDB does: syncing them all at the end had sent a whole
    // compaction's bytes (256 MiB after four 64 MiB batches) to the disk
    // in one burst, in front of every synced writer's fsync.
    let mut current: Option<OutputTable> = None;
    let mut finished: Vec<Output> = Vec::new();
    // Every output created, finished or not: what a failure removes.
    let mut paths: Vec<PathBuf> = Vec::new();
    let finish = |out: OutputTable, finished: &mut Vec<Output>| -> Result<(), Error> {
        let path = out.path().to_path_buf();
        let meta = out.finish().map_err(io_err("write table", &path))?;
        shared
            .table_bytes_written
            .fetch_add(meta.size, Ordering::Relaxed);
        finished.push(Output { meta, path });
        Ok(())
    };
    let mut last_user: Option<Vec<u8>> = None;
    let result: Result<(), Error> = (|| {
        loop {
            // The smallest current key among the inputs; on a tie in user
            // key the internal order puts the newest first.
            let mut best: Option<usize> = None;
            for (i, (it, file)) in iters.iter().enumerate() {
                if let Some(e) = it.error() {
                    return Err(damaged(file, e));
                }
                if it.valid()
                    && best.is_none_or(|b| key::compare(it.key(), iters[b].0.key()).is_lt())
                {
                    best = Some(i);
                }
            }
            let Some(b) = best else { break };
            let (it, _) = &mut iters[b];
            let (user, _, kind) = key::parse(it.key()).expect("a valid table cursor's key parses");
            if last_user.as_deref() != Some(user) {
                last_user = Some(user.to_vec());
                let keep = kind == Kind::Put || deeper_may_hold(user);
                if keep {
                    let full = current.as_ref().is_none_or(|o| o.size_estimate() >= target);
                    let early = cut.as_mut().is_some_and(|c| c.before(it.key()));
                    if full || early {
                        if let Some(c) = cut.as_mut() {
                            c.reset();
                        }
                        if let Some(done) = current.take() {
                            finish(done, &mut finished)?;
                        }
                        let number =
                            lock(&shared.numbers).allocate(|n| files::table_path(dir, n))?;
                        let path = files::table_path(dir, number);
                        paths.push(path.clone());
                        current = Some(
                            OutputTable::create(fs, &path, number, shared.shape.block_size)
                                .map_err(io_err("create table", &path))?,
                        );
                    }
                    let out = current.as_mut().expect("an output is open");
                    out.add(it.key(), it.value())
                        .map_err(io_err("write table", out.path()))?;
                }
            }
            it.next();
        }
        if let Some(done) = current.take() {
            finish(done, &mut finished)?;
        }
        Ok(())
    })();
    let remove_all = || {
        for p in &paths {
            let _ = fs.remove(p);
        }
    };
    if let Err(e) = result {
        drop(current);
        remove_all();
        return Err(e);
    }
    if let Err(e) = fs.sync_dir(dir) {
        remove_all();
        return Err(io_err("directory fsync", dir)(e));
    }
    Ok(finished)
}

/// Commits a compaction and publishes it: `deleted` (level, table) leave
/// and are marked obsolete, to go once nothing holds them; `moved`
/// (level, table) leave their level and join `level` unchanged; `outputs`
/// join `level` as new tables; `pointer` becomes the compact pointer of
/// its level.
pub(crate) fn install(
    shared: &Shared,
    deleted: &[(usize, Arc<TableFile>)],
    moved: Vec<(usize, Arc<TableFile>)>,
    outputs: Vec<Output>,
    level: usize,
    pointer: Option<(usize, Vec<u8>)>,
) -> Result<(), Error> {
    let fs = &*shared.fs;
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
    edit.push(Field::NextFileNumber(
        lock(&shared.numbers).peek().unwrap_or(u64::MAX),
    ));
    if let Err(e) = set.commit(edit) {
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

    let mut added = Vec::with_capacity(moved.len() + outputs.len());
    for out in outputs {
        added.push(super::open_committed(shared, out.meta, out.path)?);
    }
    {
        let mut current = shared.view.write().unwrap_or_else(|e| e.into_inner());
        let mut tables = (*current.version).clone();
        for (from, file) in deleted.iter().chain(&moved) {
            tables.levels[*from].retain(|t| !Arc::ptr_eq(t, file));
        }
        tables.levels[level].extend(moved.into_iter().map(|(_, file)| file));
        tables.levels[level].extend(added);
        version::set::sort_levels(&mut tables);
        *current = Arc::new(current.with_version(tables));
    }
    drop(guard);
    shared.tables_changed();
    for (_, file) in deleted {
        file.mark_obsolete();
    }
    Ok(())
}

//! A full compaction (`Db::compact`): every table merged into level-1
//! tables that do not overlap.
//!
//! It keeps the newest version of each user key and drops tombstones:
//! every table is an input, so no deeper table can hold an older version
//! for a tombstone to hide. Snapshots and iterators taken before it keep
//! the version they pinned, and with it the input tables, which are
//! deleted only once the last of them drops (`version::current`). Output
//! files are cut at [`TARGET_FILE_SIZE`], always between user keys.
//!
//! Leveled compaction (issue #14) replaces this with picked, bounded
//! compactions between adjacent levels; this one serves `Db::compact` and
//! the benchmarks' settle step until then.

use super::build::OutputTable;
use crate::error::{io_err, Error};
use crate::files;
use crate::read::{lock, Shared, View};
use crate::table::{TableError, TableIter};
use crate::tuning::TARGET_FILE_SIZE;
use crate::version::{self, Field, TableFile, Version};
use batch::{key, Kind};
use std::sync::Arc;

/// Merges every table into level 1; returns the tables written.
pub(crate) fn compact_all(shared: &Shared) -> Result<usize, Error> {
    let mut guard = lock(&shared.versions);
    let Some(set) = guard.as_mut() else {
        return Ok(0);
    };
    let view = shared.view();
    let inputs: Vec<(usize, Arc<TableFile>)> = view
        .version
        .tables()
        .map(|(level, file)| (level, Arc::clone(file)))
        .collect();
    let only_level_one = inputs.iter().all(|(level, _)| *level == 1);
    if inputs.is_empty() || (inputs.len() == 1 && only_level_one) {
        return Ok(0);
    }
    let dir = &shared.dir;
    let fs = &*shared.fs;

    // Newest first among equal user keys: level 0 newest first, then the
    // deeper levels, which hold older data.
    let mut iters: Vec<(TableIter, &Arc<TableFile>)> = inputs
        .iter()
        .map(|(_, file)| {
            let mut it = file.table.iter();
            it.seek_to_first();
            (it, file)
        })
        .collect();
    let damaged = |file: &TableFile, e: &TableError| Error::Corruption {
        path: file.path().to_path_buf(),
        offset: e.offset,
        reason: format!("table {} (met by compaction)", e.kind),
    };

    let mut outputs: Vec<OutputTable> = Vec::new();
    let mut metas = Vec::new();
    let mut last_user: Option<Vec<u8>> = None;
    let result: Result<(), Error> = (|| {
        loop {
            // The smallest current key among the inputs; on a tie in user
            // key the internal order already puts the newest first.
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
            let (user, _, kind) = key::parse(it.key()).expect("the table reader checked every key");
            let newest = last_user.as_deref() != Some(user);
            if newest {
                last_user = Some(user.to_vec());
                if kind == Kind::Put {
                    let cut = outputs
                        .last()
                        .is_none_or(|o| o.size_estimate() >= TARGET_FILE_SIZE);
                    if cut {
                        let number =
                            lock(&shared.numbers).allocate(|n| files::table_path(dir, n))?;
                        let path = files::table_path(dir, number);
                        outputs.push(
                            OutputTable::create(fs, &path, number)
                                .map_err(io_err("create table", &path))?,
                        );
                    }
                    let out = outputs.last_mut().expect("an output is open");
                    out.add(it.key(), it.value())
                        .map_err(io_err("write table", out.path()))?;
                }
            }
            it.next();
        }
        Ok(())
    })();
    if let Err(e) = result {
        for out in outputs {
            let _ = fs.remove(out.path());
        }
        return Err(e);
    }
    let paths: Vec<_> = outputs.iter().map(|o| o.path().to_path_buf()).collect();
    for out in outputs {
        let path = out.path().to_path_buf();
        match out.finish() {
            Ok(meta) => {
                shared
                    .table_bytes_written
                    .fetch_add(meta.size, std::sync::atomic::Ordering::Relaxed);
                metas.push((meta, path))
            }
            Err(e) => {
                for p in &paths {
                    let _ = fs.remove(p);
                }
                return Err(io_err("write table", &path)(e));
            }
        }
    }
    fs.sync_dir(dir).map_err(io_err("directory fsync", dir))?;

    let mut edit: Vec<Field> = inputs
        .iter()
        .map(|(level, file)| Field::DeleteFile {
            level: *level as u8,
            number: file.meta.number,
        })
        .collect();
    for (meta, _) in &metas {
        edit.push(Field::AddFile {
            level: 1,
            file: meta.clone(),
        });
    }
    edit.push(Field::NextFileNumber(
        lock(&shared.numbers).peek().unwrap_or(u64::MAX),
    ));
    set.commit(edit)?;

    let mut level_one = Vec::with_capacity(metas.len());
    for (meta, path) in metas {
        let table = version::set::open_table(fs, &path, meta.size)?;
        level_one.push(Arc::new(TableFile::new(
            meta,
            table,
            path,
            shared.retire.clone(),
        )));
    }
    {
        let mut current = shared.view.write().unwrap_or_else(|e| e.into_inner());
        // Only flushes change tables, and they wait for the version set
        // this holds: the current version's tables are the inputs.
        let mut tables = Version {
            max_seq: current.version.max_seq,
            ..Version::default()
        };
        tables.levels[1] = level_one;
        version::set::sort_levels(&mut tables);
        *current = Arc::new(View {
            active: Arc::clone(&current.active),
            active_journal: current.active_journal,
            frozen: current.frozen.clone(),
            version: Arc::new(tables),
        });
    }
    // Deleted once no snapshot or iterator holds them.
    for (_, file) in &inputs {
        file.mark_obsolete();
    }
    shared
        .compactions
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(paths.len())
}

//! Leveled compaction: the job the compaction lane runs while any level
//! is over its target (TABLES.md §6).
//!
//! [`compact_once`] asks the pure picker (`pick`) for the most needed
//! compaction of the current version, then either moves its one table a
//! level down (a trivial move: one edit, nothing rewritten) or merges its
//! inputs of two adjacent levels into new tables of the lower one
//! (`merge`). It holds `Lanes::compacting`, never the version set, while
//! it works, so flushes go on beside it; they only add level-0 tables,
//! which stay above its outputs.

use super::merge;
use super::pick::{self, Entry, OutputCut, Pick, Shape};
use crate::error::{CorruptionKind, Error, Reason};
use crate::progress::progress;
use crate::state::{Count, Shared};
use crate::sync::lock;
use crate::tuning::L0_STOP_TRIGGER;
use crate::version::{FileMeta, TableFile, Version, NUM_LEVELS};
use batch::key;
use std::sync::Arc;

impl Entry for Arc<TableFile> {
    fn meta(&self) -> &FileMeta {
        &self.meta
    }
}

/// Runs the compaction the current version needs most, if any; returns
/// whether it ran one.
///
/// # Errors
///
/// A damaged input, a table write error (nothing committed, the outputs
/// removed), or a manifest error (commits stop; the background error is
/// set).
pub(crate) fn compact_once(shared: &Shared, shape: &Shape) -> Result<bool, Error> {
    let _alone = shared.lanes.compacting();
    // Checked under the guard, so that a pause (`Db::pause_compaction`)
    // that took the guard after setting it is never followed by a start.
    if shared.lanes.paused() {
        return Ok(false);
    }
    let version = Arc::clone(&shared.read.view().version);
    let pointers = lock(&shared.versions)
        .as_ref()
        .map(|set| set.catalog().compact_pointers.clone())
        .unwrap_or_default();
    let pointer_of = |level: usize| pointers.get(&(level as u8)).cloned();
    let quarantined = shared.lanes.quarantined();
    let avoid = |number: u64| quarantined.contains_key(&number);
    let batching = shared.lanes.writes_flowing(shape.writes_quiet).is_some();
    let Some(picked) = pick::pick(&version.levels, &pointer_of, shape, batching, &avoid) else {
        if let Some((number, why)) = quarantined.iter().next() {
            if version.levels[0].len() >= L0_STOP_TRIGGER {
                // Level 0 is full and every compaction that would drain it
                // takes a damaged table: writes would wait for ever.
                // They stop instead, naming it (level 0 stays bounded).
                shared.stop(Error::Corruption {
                    path: crate::files::table_path(shared.files.dir(), *number),
                    offset: 0,
                    reason: Reason::new(
                        CorruptionKind::Table,
                        format!(
                            "level 0 holds {} tables and no compaction can drain it without this \
                         damaged table ({why}); `tributary repair` rebuilds the database",
                            version.levels[0].len(),
                        ),
                    ),
                });
            }
        }
        return Ok(false);
    };
    match run(shared, &version, &picked, shape) {
        Err(Error::Corruption {
            path,
            offset,
            reason,
        }) if inputs(&version, &picked).any(|t| t.path() == path) => {
            // A damaged input: retrying it would fail for ever (issue
            // #23: level 0 had reached 299 tables). It is quarantined, and
            // the next pick goes around it; reads of it still fail, and
            // `check` and a repair find it.
            let number = inputs(&version, &picked)
                .find(|t| t.path() == path)
                .map(|t| t.meta.number)
                .expect("found above");
            let why = format!("{reason} at offset {offset}");
            log::error!(
                "compaction found table {} damaged ({why}): it is quarantined, compaction goes \
                 around it; `tributary repair` rebuilds the database from what is readable",
                path.display()
            );
            shared.lanes.quarantine(number, why);
            Ok(true)
        }
        Err(e) => Err(e),
        Ok(()) => Ok(true),
    }
}

/// The input tables of `picked`, both levels.
fn inputs<'a>(version: &'a Version, picked: &'a Pick) -> impl Iterator<Item = &'a Arc<TableFile>> {
    let (level, output) = (picked.level, picked.output);
    picked.inputs[0]
        .iter()
        .map(move |&i| &version.levels[level][i])
        .chain(
            picked.inputs[1]
                .iter()
                .map(move |&i| &version.levels[output][i]),
        )
}

/// Compacts every table whose keys meet `[start, end]` (inclusive, `None`
/// unbounded) down the levels, LevelDB's manual compaction: level 0 into
/// its output (level 1, or the base level of dynamic targets), then each
/// level into the next, down to the deepest level holding such a table,
/// each in one merge ([`pick::pick_range`]; the empty levels above a
/// base have nothing to merge). Overwritten versions
/// and tombstones with nothing left below them go, so the space they held
/// comes back once no snapshot holds the inputs. Returns the compactions
/// run.
///
/// # Errors
///
/// As [`compact_once`].
pub(crate) fn compact_range(
    shared: &Shared,
    shape: &Shape,
    start: Option<&[u8]>,
    end: Option<&[u8]>,
) -> Result<usize, Error> {
    let deepest = {
        let version = &shared.read.view().version;
        (1..NUM_LEVELS)
            .rev()
            .find(|&level| {
                version.levels[level]
                    .iter()
                    .any(|t| pick::meets(&t.meta, start, end))
            })
            .unwrap_or(1)
    };
    let mut ran = 0;
    for level in 0..deepest {
        let _alone = shared.lanes.compacting();
        let version = Arc::clone(&shared.read.view().version);
        if let Some(picked) = pick::pick_range(&version.levels, level, start, end, shape) {
            run(shared, &version, &picked, shape)?;
            ran += 1;
            progress!(
                "compact: level {level} merged into level {} ({} of {deepest} levels)",
                picked.output,
                level + 1
            );
        }
    }
    Ok(ran)
}

/// Runs `picked`, a compaction of `version` (the current one, with
/// `Lanes::compacting` held): a move or a merge, then its commit.
fn run(shared: &Shared, version: &Version, picked: &Pick, shape: &Shape) -> Result<(), Error> {
    let (level, output) = (picked.level, picked.output);
    let take = |level: usize, idx: &[usize]| -> Vec<(usize, Arc<TableFile>)> {
        idx.iter()
            .map(|&i| (level, Arc::clone(&version.levels[level][i])))
            .collect()
    };
    let upper = take(level, &picked.inputs[0]);
    let lower = take(output, &picked.inputs[1]);
    let pointer = Some((level, picked.compact_pointer.clone()));
    if picked.trivial_move {
        log::debug!(
            "moving table {} from level {level} to {output}",
            upper[0].1.meta.number
        );
        merge::commit(shared, &[], upper, Vec::new(), output, pointer)?;
    } else {
        let grandparents: Vec<(Vec<u8>, u64)> = picked
            .grandparents
            .iter()
            .map(|&i| {
                let meta = &version.levels[output + 1][i].meta;
                (meta.largest.clone(), meta.size)
            })
            .collect();
        // Both levels' inputs, each in key order (`Pick::inputs`): the
        // merge's sorted runs, and what the edit deletes.
        let (upper_len, lower_len) = (upper.len(), lower.len());
        let deleted: Vec<(usize, Arc<TableFile>)> = upper.into_iter().chain(lower).collect();
        let split = split_key(&deleted, output, shape);
        // The levels between `level` and `output` are empty (`Pick::output`):
        // only tables below the output may hide under a tombstone.
        let outputs = merge::merge_split(
            shared,
            &merge::sorted_runs(&deleted),
            &|user_key| deeper_may_hold(version, output + 1, user_key),
            || Some(OutputCut::new(grandparents.clone(), shape)),
            output,
            split.as_deref(),
        )?;
        log::debug!(
            "compacted {upper_len} + {lower_len} tables of levels {level} and {output} into {}",
            outputs.len()
        );
        merge::commit(shared, &deleted, Vec::new(), outputs, output, pointer)?;
    }
    shared.counters.add(Count::Compactions, 1);
    Ok(())
}

/// Where a compaction of `inputs` (level, table) into `output` splits
/// into two halves merged on two threads ([`merge::merge_split`]), if it
/// is large enough to pay for a second thread
/// ([`Shape::split_min_bytes`]): after the user key ending the middle
/// table of the output level's inputs. Those tables do not overlap and
/// hold most of the bytes (ten times the upper level's, by the ratio),
/// so each half gets about as much to do.
fn split_key(inputs: &[(usize, Arc<TableFile>)], output: usize, shape: &Shape) -> Option<Vec<u8>> {
    let bytes: u64 = inputs.iter().map(|(_, t)| t.meta.size).sum();
    let lower: Vec<&Arc<TableFile>> = inputs
        .iter()
        .filter(|(l, _)| *l == output)
        .map(|(_, t)| t)
        .collect();
    if bytes < shape.split_min_bytes() || lower.len() < 2 {
        return None;
    }
    Some(lower[lower.len() / 2 - 1].user_range().1.to_vec())
}

/// Whether a table of `version` at level `from` or deeper may hold
/// `user_key`: if none may, a tombstone for it hides nothing and can go.
fn deeper_may_hold(version: &Version, from: usize, user_key: &[u8]) -> bool {
    (from..NUM_LEVELS).any(|level| {
        // Deeper levels are in key order without overlap: the one table
        // that may hold the key is the first that ends at or after it.
        let files = &version.levels[level];
        let i = files.partition_point(|t| key::user_key(&t.meta.largest) < user_key);
        files
            .get(i)
            .is_some_and(|t| key::user_key(&t.meta.smallest) <= user_key)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::OsFs;
    use batch::{Kind, SeqNum};
    use std::path::PathBuf;

    /// `split_min_bytes` is 800.
    const SHAPE: Shape = pick::TEST_SHAPE;

    fn table(level: usize, first: &str, last: &str, size: u64) -> (usize, Arc<TableFile>) {
        let ikey = |user: &str| {
            let mut out = Vec::new();
            key::encode(&mut out, user.as_bytes(), SeqNum(1), Kind::Put);
            out
        };
        let meta = FileMeta {
            number: 0,
            size,
            entries: 1,
            smallest: ikey(first),
            largest: ikey(last),
        };
        let file = TableFile::unopened(meta, PathBuf::new(), Arc::new(OsFs), None);
        (level, Arc::new(file))
    }

    fn inputs(level: usize, upper_size: u64, lower_sizes: &[u64]) -> Vec<(usize, Arc<TableFile>)> {
        let mut out = vec![table(level, "b", "y", upper_size)];
        let ranges = [("a", "e"), ("f", "j"), ("k", "o"), ("p", "z"), ("z1", "z9")];
        for (&size, (first, last)) in lower_sizes.iter().zip(ranges) {
            out.push(table(level + 1, first, last, size));
        }
        out
    }

    #[test]
    fn a_large_compaction_splits_after_the_middle_table_below() {
        let four = inputs(1, 100, &[200, 200, 200, 200]);
        assert_eq!(split_key(&four, 2, &SHAPE), Some(b"j".to_vec()));
        // With an odd count, the lower half is the smaller.
        let five = inputs(2, 100, &[200, 200, 200, 200, 200]);
        assert_eq!(split_key(&five, 3, &SHAPE), Some(b"j".to_vec()));
        let two = inputs(0, 100, &[400, 400]);
        assert_eq!(split_key(&two, 1, &SHAPE), Some(b"e".to_vec()));
    }

    #[test]
    fn a_small_compaction_or_one_table_below_runs_whole() {
        // 700 bytes, under the 800 that pay for a second thread.
        assert_eq!(
            split_key(&inputs(1, 100, &[150, 150, 150, 150]), 2, &SHAPE),
            None
        );
        // Exactly 800 splits.
        assert!(split_key(&inputs(1, 200, &[150, 150, 150, 150]), 2, &SHAPE).is_some());
        // One table below: no key inside it to split at.
        assert_eq!(split_key(&inputs(1, 100, &[5000]), 2, &SHAPE), None);
        // The upper level's tables do not count as the lower level's.
        let mut upper_only = inputs(1, 5000, &[]);
        upper_only.push(table(1, "z", "zz", 5000));
        assert_eq!(split_key(&upper_only, 2, &SHAPE), None);
    }
}

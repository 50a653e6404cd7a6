//! Choosing a compaction: a pure function of the tables' manifest entries,
//! the compact pointers and the tree's [`Shape`] (TABLES.md §6, LevelDB's
//! `VersionSet::PickCompaction` without seek compactions).
//!
//! 1. **Score** each level but the last: a level below 0 by its bytes
//!    over its target ([`Shape::targets`]: fixed, [`Shape::l1_bytes`]
//!    times [`Shape::ratio`] per level below 1, or dynamic, set from the
//!    last level up); level 0 by its file count (every read consults each
//!    level-0 table, so their number is what costs) over
//!    [`Shape::l0_trigger`], or over [`Shape::l0_batch`] while the writes
//!    flow (the caller says so: tables reach level 0 less than
//!    [`Shape::writes_quiet`] apart). That is **level-0 batching**: each
//!    level-0 merge takes more new data for its rewrite of level 1 (the
//!    figures are at `tuning::L0_BATCH_TRIGGER`). The highest score at or above 1 is
//!    compacted; on a tie, the upper level, whose data is newer and read
//!    first.
//! 2. **The first input**, by [`Shape::picker`]. LevelDB's: the first
//!    table of the level, in key order, that ends after the level's
//!    compact pointer, or the level's first table when none does (round
//!    robin: successive compactions sweep the key space, so each part of
//!    a level is compacted in its turn). RocksDB's least overlap: the
//!    table whose overlap with the next level is smallest for its size,
//!    so each compaction moves the most data down for what it rewrites.
//!    Level 0's tables overlap each other and go together (step 3).
//! 3. **Expand** the input to the tables whose user keys overlap it, until
//!    nothing more does. On level 0 tables overlap freely; on any level a
//!    user key's versions may lie on both sides of a table boundary, and a
//!    compaction that took one side only would move the newer version
//!    below the older one.
//! 4. **The output level's inputs**: the tables of the output level
//!    ([`Targets::output`]: level + 1, or for level 0 the base level)
//!    overlapping that range, expanded the same way. Then, if it adds tables of the
//!    first level without adding any of the next, the first input is
//!    widened to the whole range, within [`Shape::expanded_limit`] bytes.
//! 5. **A trivial move** when one table overlaps nothing below and little
//!    of the level after: the edit moves it, and nothing is rewritten.
//! 6. **The compact pointer** of the level becomes the largest key of the
//!    inputs, recorded with the compaction's edit.
//!
//! [`OutputCut`] is the merge job's other decision from the same shape: it
//! ends an output table before it overlaps too much of the grandparent
//! level, so that one table's next compaction stays bounded.

use crate::shape::CompactionPicker;
pub(crate) use crate::shape::{Shape, Targets};
use crate::version::{FileMeta, NUM_LEVELS};
use batch::key;
use std::cmp::Ordering;

/// What a picker reads of a table: its manifest entry.
pub(crate) trait Entry {
    /// The table's manifest entry.
    fn meta(&self) -> &FileMeta;
}

impl Entry for FileMeta {
    fn meta(&self) -> &FileMeta {
        self
    }
}

/// A compaction to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pick {
    /// The level compacted: its inputs move into `output`.
    pub level: usize,
    /// The level the inputs move into ([`Targets::output`]); every level
    /// between is empty.
    pub output: usize,
    /// Indices into the levels given of the inputs of `level` and of
    /// `output`, each in key order.
    pub inputs: [Vec<usize>; 2],
    /// Indices of the tables of `output + 1` that the inputs overlap, in
    /// key order: where outputs are cut ([`OutputCut`]).
    pub grandparents: Vec<usize>,
    /// One input overlapping nothing in `output`: moved, not rewritten.
    pub trivial_move: bool,
    /// The level's new compact pointer: the inputs' largest internal key.
    pub compact_pointer: Vec<u8>,
}

/// The score of each level but the last (level 0 first); a level scoring
/// at least 1 needs a compaction.
/// `batching` says whether the writes are flowing, so that level 0 waits
/// for a batch ([`Shape::l0_batch`] tables).
pub(crate) fn scores<E: Entry>(
    levels: &[Vec<E>; NUM_LEVELS],
    targets: &Targets,
    shape: &Shape,
    batching: bool,
) -> Vec<f64> {
    (0..NUM_LEVELS - 1)
        .map(|level| {
            if level == 0 {
                // Below its due count level 0 waits (a score under 1);
                // at it, it competes as it would unbatched, at the count
                // over the trigger: a batch is worth waiting for, not
                // worth stalling the writers for.
                let tables = levels[0].len();
                let due = shape.l0_due(batching);
                let over = if tables >= due { shape.l0_trigger } else { due };
                tables as f64 / over as f64
            } else {
                let bytes: u64 = levels[level].iter().map(|t| t.meta().size).sum();
                bytes as f64 / targets.max_bytes(level) as f64
            }
        })
        .collect()
}

/// The targets of the tree `levels` ([`Shape::targets`]).
pub(crate) fn targets<E: Entry>(levels: &[Vec<E>; NUM_LEVELS], shape: &Shape) -> Targets {
    shape.targets(&std::array::from_fn(|level| {
        levels[level].iter().map(|t| t.meta().size).sum()
    }))
}

/// The compaction to run next, if any level needs one. `levels` may list
/// each level's tables in any order; `pointers` gives each level's compact
/// pointer, if it has one; `batching`, whether level 0 waits for a batch
/// ([`scores`]); `avoid`, tables no compaction may take.
pub(crate) fn pick<E: Entry>(
    levels: &[Vec<E>; NUM_LEVELS],
    pointers: &dyn Fn(usize) -> Option<Vec<u8>>,
    shape: &Shape,
    batching: bool,
    avoid: &dyn Fn(u64) -> bool,
) -> Option<Pick> {
    // Step 1, most needed level first; the upper level wins a tie. The
    // next level in line is tried only when every compaction of this one
    // would take a table to `avoid`.
    let targets = targets(levels, shape);
    let mut needy: Vec<(usize, f64)> = scores(levels, &targets, shape, batching)
        .into_iter()
        .enumerate()
        .filter(|&(_, score)| score >= 1.0)
        .collect();
    needy.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(Ordering::Equal)
            .then(a.0.cmp(&b.0))
    });
    for (level, _) in needy {
        let output = targets.output(level);
        // Step 2, then the next candidates in the same order, going
        // around tables to avoid (a damaged table compaction
        // quarantined: issue #23).
        for first in candidates(levels, level, output, pointers(level).as_deref(), shape) {
            let mut pick = expand(levels, level, output, &[first], shape);
            let takes = |lvl: usize, idx: &[usize]| {
                idx.iter().any(|&i| avoid(levels[lvl][i].meta().number))
            };
            if takes(level, &pick.inputs[0]) || takes(output, &pick.inputs[1]) {
                continue;
            }
            // Step 5.
            let grandparent_bytes = match levels.get(output + 1) {
                Some(grand) => total(grand, &pick.grandparents),
                None => 0,
            };
            pick.trivial_move = pick.inputs[0].len() == 1
                && pick.inputs[1].is_empty()
                && grandparent_bytes <= shape.grandparent_limit();
            return Some(pick);
        }
    }
    None
}

/// The tables of `level` in the order step 2 tries them as the first
/// input. Level 0 and [`CompactionPicker::LevelDb`]: round robin, from
/// the first table ending past the level's compact pointer.
/// [`CompactionPicker::LeastOverlap`], below level 0: by the bytes of
/// `output` each overlaps over its own size, least first (level 0's
/// tables overlap each other, and step 3 takes them together anyway).
fn candidates<E: Entry>(
    levels: &[Vec<E>; NUM_LEVELS],
    level: usize,
    output: usize,
    pointer: Option<&[u8]>,
    shape: &Shape,
) -> Vec<usize> {
    let files = in_key_order(&levels[level]);
    if level > 0 && shape.picker == CompactionPicker::LeastOverlap {
        let below = in_key_order(&levels[output]);
        let overlaps = overlap_bytes(&levels[level], &files, &levels[output], &below);
        let mut order: Vec<(usize, u64, u64)> = files
            .iter()
            .zip(overlaps)
            .map(|(&i, overlap)| (i, overlap, levels[level][i].meta().size.max(1)))
            .collect();
        // overlap_a / size_a < overlap_b / size_b, exactly; a tie keeps
        // key order (the sort is stable).
        order.sort_by(|a, b| {
            (u128::from(a.1) * u128::from(b.2)).cmp(&(u128::from(b.1) * u128::from(a.2)))
        });
        return order.into_iter().map(|(i, _, _)| i).collect();
    }
    let start = files
        .iter()
        .position(|&i| {
            pointer.is_none_or(|p| key::compare(&levels[level][i].meta().largest, p).is_gt())
        })
        .unwrap_or(0);
    (0..files.len())
        .map(|k| files[(start + k) % files.len()])
        .collect()
}

/// For each table of `upper` (visited in `upper_order`, which must be key
/// order, as `lower_order` for `lower`), the bytes of the tables of
/// `lower` whose user keys overlap it: one sweep over both levels.
fn overlap_bytes<E: Entry>(
    upper: &[E],
    upper_order: &[usize],
    lower: &[E],
    lower_order: &[usize],
) -> Vec<u64> {
    let mut first = 0;
    upper_order
        .iter()
        .map(|&i| {
            let (lo, hi) = user_range(upper, &[i]);
            // Tables of `lower` ending before `lo` end before every later
            // table of `upper` starts too: skip them for good.
            while first < lower_order.len()
                && key::user_key(&lower[lower_order[first]].meta().largest) < lo
            {
                first += 1;
            }
            lower_order[first..]
                .iter()
                .map(|&j| lower[j].meta())
                .take_while(|m| key::user_key(&m.smallest) <= hi)
                .map(|m| m.size)
                .sum()
        })
        .collect()
}

/// The compaction of `level` into its output level ([`Targets::output`])
/// of every table of `level` whose user keys meet `[start, end]` (each
/// bound inclusive, `None` unbounded), expanded as [`pick`]'s steps 3, 4
/// and 6 do; `None` if no table of the level meets the range, or the
/// level is the last.
/// `Db::compact_range` runs it level by level (LevelDB's manual
/// compaction). Its tables are always rewritten, never moved: the caller
/// wants the space of overwritten and deleted keys back.
pub(crate) fn pick_range<E: Entry>(
    levels: &[Vec<E>; NUM_LEVELS],
    level: usize,
    start: Option<&[u8]>,
    end: Option<&[u8]>,
    shape: &Shape,
) -> Option<Pick> {
    if level + 1 >= NUM_LEVELS {
        return None;
    }
    let files = in_key_order(&levels[level]);
    let first: Vec<usize> = files
        .iter()
        .copied()
        .filter(|&i| meets(levels[level][i].meta(), start, end))
        .collect();
    if first.is_empty() {
        return None;
    }
    let output = targets(levels, shape).output(level);
    Some(expand(levels, level, output, &first, shape))
}

/// Whether a table's user keys meet `[start, end]` (`None` unbounded).
pub(crate) fn meets(meta: &FileMeta, start: Option<&[u8]>, end: Option<&[u8]>) -> bool {
    start.is_none_or(|s| key::user_key(&meta.largest) >= s)
        && end.is_none_or(|e| key::user_key(&meta.smallest) <= e)
}

/// Steps 3, 4 and 6 from the first inputs `first` of `level`: the
/// compaction they grow into (never a trivial move; [`pick`] decides
/// that).
fn expand<E: Entry>(
    levels: &[Vec<E>; NUM_LEVELS],
    level: usize,
    output: usize,
    first: &[usize],
    shape: &Shape,
) -> Pick {
    let files = in_key_order(&levels[level]);
    let below = in_key_order(&levels[output]);
    // Step 3.
    let (lo, hi) = user_range(&levels[level], first);
    let mut upper = overlapping(&levels[level], &files, lo, hi);

    // Step 4.
    let (lo, hi) = user_range(&levels[level], &upper);
    let mut lower = overlapping(&levels[output], &below, lo, hi);
    if !lower.is_empty() {
        let (all_lo, all_hi) = joint_range(levels, [level, output], &upper, &lower);
        let widened = overlapping(&levels[level], &files, all_lo, all_hi);
        if widened.len() > upper.len() {
            let bytes = total(&levels[level], &widened) + total(&levels[output], &lower);
            let (w_lo, w_hi) = user_range(&levels[level], &widened);
            let widened_lower = overlapping(&levels[output], &below, w_lo, w_hi);
            if bytes < shape.expanded_limit() && widened_lower.len() == lower.len() {
                upper = widened;
                lower = widened_lower;
            }
        }
    }

    let grandparents = if output + 1 < NUM_LEVELS {
        let (all_lo, all_hi) = joint_range(levels, [level, output], &upper, &lower);
        let grand = in_key_order(&levels[output + 1]);
        overlapping_once(&levels[output + 1], &grand, all_lo, all_hi)
    } else {
        Vec::new()
    };

    // Step 6.
    let compact_pointer = upper
        .iter()
        .map(|&i| &levels[level][i].meta().largest)
        .max_by(|a, b| key::compare(a, b))
        .expect("at least one input")
        .clone();
    Pick {
        level,
        output,
        inputs: [upper, lower],
        grandparents,
        trivial_move: false,
        compact_pointer,
    }
}

/// The indices of `files`, by smallest internal key.
fn in_key_order<E: Entry>(files: &[E]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| key::compare(&files[a].meta().smallest, &files[b].meta().smallest));
    order
}

/// The smallest and largest user keys of the tables `chosen` of `files`.
fn user_range<'a, E: Entry>(files: &'a [E], chosen: &[usize]) -> (&'a [u8], &'a [u8]) {
    let lo = chosen
        .iter()
        .map(|&i| key::user_key(&files[i].meta().smallest))
        .min()
        .expect("at least one table");
    let hi = chosen
        .iter()
        .map(|&i| key::user_key(&files[i].meta().largest))
        .max()
        .expect("at least one table");
    (lo, hi)
}

/// The user-key range of the inputs of both levels (`[level, output]`).
fn joint_range<'a, E: Entry>(
    levels: &'a [Vec<E>; NUM_LEVELS],
    [level, output]: [usize; 2],
    upper: &[usize],
    lower: &[usize],
) -> (&'a [u8], &'a [u8]) {
    let (mut lo, mut hi) = user_range(&levels[level], upper);
    if !lower.is_empty() {
        let (l, h) = user_range(&levels[output], lower);
        lo = lo.min(l);
        hi = hi.max(h);
    }
    (lo, hi)
}

/// The tables of `files` (visited in `order`) whose user keys overlap
/// `[lo, hi]`, once.
fn overlapping_once<E: Entry>(files: &[E], order: &[usize], lo: &[u8], hi: &[u8]) -> Vec<usize> {
    order
        .iter()
        .copied()
        .filter(|&i| {
            let meta = files[i].meta();
            key::user_key(&meta.smallest) <= hi && key::user_key(&meta.largest) >= lo
        })
        .collect()
}

/// The tables of `files` whose user keys overlap `[lo, hi]`, widened until
/// no other table overlaps the range they span (steps 3 and 4).
fn overlapping<E: Entry>(files: &[E], order: &[usize], lo: &[u8], hi: &[u8]) -> Vec<usize> {
    let mut chosen = overlapping_once(files, order, lo, hi);
    loop {
        if chosen.is_empty() {
            return chosen;
        }
        let (lo, hi) = user_range(files, &chosen);
        let wider = overlapping_once(files, order, lo, hi);
        if wider.len() == chosen.len() {
            return chosen;
        }
        chosen = wider;
    }
}

/// The bytes of the tables `chosen` of `files`.
fn total<E: Entry>(files: &[E], chosen: &[usize]) -> u64 {
    chosen.iter().map(|&i| files[i].meta().size).sum()
}

/// Where the merge job ends an output table early: before it overlaps
/// more than [`Shape::grandparent_limit`] bytes of the grandparent level
/// (LevelDB's `Compaction::ShouldStopBefore`).
#[derive(Debug)]
pub(crate) struct OutputCut {
    /// The grandparents' largest internal keys and sizes, in key order.
    grandparents: Vec<(Vec<u8>, u64)>,
    next: usize,
    seen_key: bool,
    overlapped: u64,
    limit: u64,
}

impl OutputCut {
    /// A cut over the grandparent tables given (largest key and size), in
    /// key order.
    pub fn new(grandparents: Vec<(Vec<u8>, u64)>, shape: &Shape) -> OutputCut {
        OutputCut {
            grandparents,
            next: 0,
            seen_key: false,
            overlapped: 0,
            limit: shape.grandparent_limit(),
        }
    }

    /// Whether the output table being written should end before
    /// `internal_key`, the first version of a new user key; keys come in
    /// increasing order. The caller starts a new table when it says so.
    pub fn before(&mut self, internal_key: &[u8]) -> bool {
        while let Some((largest, size)) = self.grandparents.get(self.next) {
            if key::compare(internal_key, largest).is_le() {
                break;
            }
            if self.seen_key {
                self.overlapped += size;
            }
            self.next += 1;
        }
        self.seen_key = true;
        if self.overlapped > self.limit {
            self.overlapped = 0;
            true
        } else {
            false
        }
    }

    /// The output table was cut for another reason (its size): it starts
    /// its count of overlapped bytes afresh.
    pub fn reset(&mut self) {
        self.overlapped = 0;
    }
}

/// A small tree for the compaction tests: level 1 holds 1000 bytes,
/// tables are cut at 100, so a split needs 800 (`split_min_bytes`).
#[cfg(test)]
pub(crate) const TEST_SHAPE: Shape = Shape {
    l0_trigger: 4,
    l0_batch: 8,
    writes_quiet: std::time::Duration::from_secs(1),
    l1_bytes: 1000,
    ratio: 10,
    target_file_size: 100,
    picker: CompactionPicker::LevelDb,
    dynamic: false,
    block_size: 4096,
    compression: [crate::table::Compression::None; crate::version::NUM_LEVELS],
};

#[cfg(test)]
mod tests {
    use super::*;
    use batch::{Kind, SeqNum};

    const SHAPE: Shape = TEST_SHAPE;

    fn ikey(user: &str, seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        key::encode(&mut out, user.as_bytes(), SeqNum(seq), Kind::Put);
        out
    }

    /// Table `number` from `lo` to `hi` (user keys, newest versions at
    /// `seq`), of `size` bytes.
    fn t(number: u64, lo: &str, hi: &str, size: u64) -> FileMeta {
        FileMeta {
            number,
            size,
            entries: 1,
            smallest: ikey(lo, 100 + number),
            largest: ikey(hi, 100 + number),
        }
    }

    fn levels(tables: &[(usize, FileMeta)]) -> [Vec<FileMeta>; NUM_LEVELS] {
        let mut levels: [Vec<FileMeta>; NUM_LEVELS] = Default::default();
        for (level, meta) in tables {
            levels[*level].push(meta.clone());
        }
        levels
    }

    /// The numbers of the picked tables: (level, upper, lower,
    /// grandparents, trivial move).
    fn numbers(
        levels: &[Vec<FileMeta>; NUM_LEVELS],
        pick: &Pick,
    ) -> (usize, Vec<u64>, Vec<u64>, Vec<u64>, bool) {
        let n = |level: usize, idx: &[usize]| {
            let mut v: Vec<u64> = idx.iter().map(|&i| levels[level][i].number).collect();
            v.sort_unstable();
            v
        };
        (
            pick.level,
            n(pick.level, &pick.inputs[0]),
            n(pick.output, &pick.inputs[1]),
            if pick.output + 1 < NUM_LEVELS {
                n(pick.output + 1, &pick.grandparents)
            } else {
                Vec::new()
            },
            pick.trivial_move,
        )
    }

    type Expect = Option<(usize, Vec<u64>, Vec<u64>, Vec<u64>, bool)>;

    fn run(tables: &[(usize, FileMeta)], pointers: &[(usize, Vec<u8>)], expect: Expect) {
        let levels = levels(tables);
        let pointers = pointers.to_vec();
        let lookup = move |level: usize| {
            pointers
                .iter()
                .find(|(l, _)| *l == level)
                .map(|(_, k)| k.clone())
        };
        let got = pick(&levels, &lookup, &SHAPE, false, &|_| false).map(|p| numbers(&levels, &p));
        assert_eq!(got, expect, "tables {tables:?}");
    }

    /// Issue #23: a table compaction found damaged is gone around: the
    /// picker takes the next table of the level whose compaction leaves it
    /// out, then the next level in need, and gives up only when every
    /// compaction would take it.
    #[test]
    fn a_table_to_avoid_is_gone_around() {
        let levels = levels(&[
            (1, t(10, "a", "c", 400)),
            (1, t(11, "d", "f", 400)),
            (1, t(12, "g", "i", 400)),
            (2, t(20, "a", "b", 100)),
            (2, t(21, "e", "e", 100)),
        ]);
        let none = |_: usize| None;
        let first = |avoid: &dyn Fn(u64) -> bool| {
            pick(&levels, &none, &SHAPE, false, avoid).map(|p| numbers(&levels, &p))
        };
        // Table 10 and its overlap 20 go first, unless one is avoided.
        assert_eq!(first(&|_| false).unwrap().1, vec![10]);
        assert_eq!(first(&|n| n == 10).unwrap().1, vec![11]);
        assert_eq!(first(&|n| n == 20).unwrap().1, vec![11]);
        assert_eq!(first(&|n| n == 21).unwrap().1, vec![10]);
        assert_eq!(first(&|n| n == 10 || n == 11).unwrap().1, vec![12]);
        assert_eq!(first(&|n| (10..=12).contains(&n)), None);
    }

    /// `CompactionPicker::LeastOverlap`: the table of the level whose
    /// overlap below is smallest for its size goes first, wherever the
    /// compact pointer is; LevelDB's picker takes the next past the
    /// pointer whatever it costs.
    #[test]
    fn the_least_overlapping_table_goes_first() {
        let tables = [
            // Level 1: 1,200 of 1,000 bytes.
            (1, t(1, "a", "c", 400)),
            (1, t(2, "d", "f", 400)),
            (1, t(3, "g", "i", 200)),
            (1, t(4, "j", "l", 200)),
            // Below 1: 300 bytes (0.75 of it). Below 2: 100 (0.25).
            // Below 3: 100 (0.5). Below 4: 0.
            (2, t(20, "a", "b", 300)),
            (2, t(21, "e", "e", 100)),
            (2, t(22, "h", "h", 100)),
        ];
        let levels = levels(&tables);
        let least = Shape {
            picker: CompactionPicker::LeastOverlap,
            ..SHAPE
        };
        let order = candidates(&levels, 1, 2, None, &least);
        let first: Vec<u64> = order.iter().map(|&i| levels[1][i].number).collect();
        assert_eq!(first, [4, 2, 3, 1]);
        // The pointer does not matter to it; the first pick is table 4,
        // moved (it overlaps nothing below).
        let past_2 = |_: usize| Some(ikey("f", 102));
        let got = pick(&levels, &past_2, &least, false, &|_| false).map(|p| numbers(&levels, &p));
        assert_eq!(got, Some((1, vec![4], vec![], vec![], true)));
        // Table 4 avoided: table 2 with its 100 bytes below.
        let got = pick(&levels, &past_2, &least, false, &|n| n == 4).map(|p| numbers(&levels, &p));
        assert_eq!(got, Some((1, vec![2], vec![21], vec![], false)));
        // LevelDB's: the table after the pointer, 3.
        let got = pick(&levels, &past_2, &SHAPE, false, &|_| false).map(|p| numbers(&levels, &p));
        assert_eq!(got, Some((1, vec![3], vec![22], vec![], false)));
    }

    /// The sweep over both levels gives each table the bytes it overlaps,
    /// a table below shared by two above counted for each.
    #[test]
    fn overlaps_are_counted_for_every_table_they_meet() {
        let upper = [t(1, "a", "c", 1), t(2, "c", "f", 1), t(3, "x", "z", 1)];
        let lower = [
            t(10, "b", "b", 10),
            t(11, "c", "d", 20),
            t(12, "e", "g", 40),
            t(13, "h", "w", 80),
        ];
        let order = |n: usize| (0..n).collect::<Vec<_>>();
        assert_eq!(
            overlap_bytes(&upper, &order(3), &lower, &order(4)),
            [30, 60, 0]
        );
    }

    #[test]
    fn nothing_to_do_below_every_target() {
        run(&[], &[], None);
        run(
            &[
                (0, t(1, "a", "z", 10)),
                (0, t(2, "a", "z", 10)),
                (0, t(3, "a", "z", 10)),
                (1, t(4, "a", "m", 999)),
            ],
            &[],
            None,
        );
    }

    #[test]
    fn level_zero_takes_every_overlapping_table_transitively() {
        // 1 overlaps 2, 2 overlaps 3; 4 is apart. The first in key order
        // is 1; the closure takes 1, 2 and 3 and the level-1 tables under
        // a..h.
        run(
            &[
                (0, t(1, "a", "c", 10)),
                (0, t(2, "c", "f", 10)),
                (0, t(3, "e", "h", 10)),
                (0, t(4, "x", "z", 10)),
                (1, t(5, "b", "d", 50)),
                (1, t(6, "g", "k", 50)),
                (1, t(7, "m", "p", 50)),
                (2, t(8, "a", "b", 50)),
                (2, t(9, "q", "r", 50)),
            ],
            &[],
            Some((0, vec![1, 2, 3], vec![5, 6], vec![8], false)),
        );
    }

    #[test]
    fn the_compact_pointer_goes_round_robin() {
        let tables = [
            (1, t(1, "a", "b", 400)),
            (1, t(2, "c", "d", 400)),
            (1, t(3, "e", "f", 400)),
        ];
        // Level 1 holds 1200 of 1000 bytes: it scores 1.2.
        run(&tables, &[], Some((1, vec![1], vec![], vec![], true)));
        run(
            &tables,
            &[(1, ikey("b", 101))],
            Some((1, vec![2], vec![], vec![], true)),
        );
        // Past the last table: back to the first.
        run(
            &tables,
            &[(1, ikey("f", 103))],
            Some((1, vec![1], vec![], vec![], true)),
        );
    }

    #[test]
    fn a_user_key_is_never_split_between_inputs() {
        // Tables 1 and 2 of level 1 both hold versions of "c": picking 1
        // takes 2 as well. In level 2, 4 and 5 share "k" the same way.
        run(
            &[
                (1, t(1, "a", "c", 800)),
                (1, t(2, "c", "e", 800)),
                (2, t(3, "a", "b", 10)),
                (2, t(4, "d", "k", 10)),
                (2, t(5, "k", "m", 10)),
            ],
            &[],
            Some((1, vec![1, 2], vec![3, 4, 5], vec![], false)),
        );
    }

    #[test]
    fn the_upper_inputs_widen_when_the_lower_ones_stay() {
        // Picking 1 (a..c) takes 10 (a..f) below; widening to a..f adds 2
        // (e..f) above without adding anything below.
        run(
            &[
                (1, t(1, "a", "c", 600)),
                (1, t(2, "e", "f", 600)),
                (1, t(3, "x", "y", 600)),
                (2, t(10, "a", "f", 100)),
                (2, t(11, "g", "h", 100)),
            ],
            &[],
            Some((1, vec![1, 2], vec![10], vec![], false)),
        );
        // Not when widening would pull in more of the lower level...
        run(
            &[
                (1, t(1, "a", "c", 600)),
                (1, t(2, "e", "g", 600)),
                (2, t(10, "a", "f", 100)),
                (2, t(11, "g", "h", 100)),
            ],
            &[],
            Some((1, vec![1], vec![10], vec![], false)),
        );
        // ...nor past the expanded limit (2,500 bytes).
        run(
            &[
                (1, t(1, "a", "c", 1500)),
                (1, t(2, "e", "f", 1500)),
                (2, t(10, "a", "f", 100)),
            ],
            &[],
            Some((1, vec![1], vec![10], vec![], false)),
        );
    }

    #[test]
    fn the_highest_score_wins_and_a_tie_goes_up() {
        // Level 0 scores 1 (4 tables), level 1 scores 2: level 1.
        let mut tables = vec![
            (0, t(1, "a", "b", 1)),
            (0, t(2, "a", "b", 1)),
            (0, t(3, "a", "b", 1)),
            (0, t(4, "a", "b", 1)),
            (1, t(5, "m", "n", 2000)),
        ];
        run(&tables, &[], Some((1, vec![5], vec![], vec![], true)));
        // Level 1 at 1: a tie, level 0 wins.
        tables[4] = (1, t(5, "m", "n", 1000));
        run(
            &tables,
            &[],
            Some((0, vec![1, 2, 3, 4], vec![], vec![], false)),
        );
    }

    /// Level-0 batching: while the writes flow, level 0 waits for
    /// `l0_batch` tables (8 here) instead of `l0_trigger` (4). Without
    /// the rule, level 0 would be due at 4 tables either way.
    #[test]
    fn level_zero_waits_for_a_batch_while_the_writes_flow() {
        let with_l0 = |n: u64| -> [Vec<FileMeta>; NUM_LEVELS] {
            let mut tables: Vec<(usize, FileMeta)> =
                (1..=n).map(|i| (0, t(i, "a", "z", 10))).collect();
            tables.push((1, t(100, "a", "z", 900)));
            levels(&tables)
        };
        let none = |_: usize| None;
        let first = |levels: &[Vec<FileMeta>; NUM_LEVELS], batching: bool| {
            pick(levels, &none, &SHAPE, batching, &|_| false).map(|p| numbers(levels, &p))
        };
        let four = with_l0(4);
        assert_eq!(
            first(&four, false),
            Some((0, vec![1, 2, 3, 4], vec![100], vec![], false))
        );
        assert_eq!(first(&four, true), None);
        assert_eq!(first(&with_l0(7), true), None);
        assert_eq!(
            first(&with_l0(8), true),
            Some((0, (1..=8).collect(), vec![100], vec![], false))
        );
    }

    #[test]
    fn a_move_is_trivial_only_over_little_grandparent_data() {
        // Level 2 is 10,000 bytes; its target: a score of 1.
        let big = [(2, t(1, "a", "c", 10_000)), (4, t(2, "a", "c", 1_001))];
        run(&big, &[], Some((2, vec![1], vec![], vec![2], false)));
        let small = [(2, t(1, "a", "c", 10_000)), (4, t(2, "a", "c", 1_000))];
        run(&small, &[], Some((2, vec![1], vec![], vec![2], true)));
    }

    #[test]
    fn the_last_level_is_never_compacted() {
        let huge = [(NUM_LEVELS - 1, t(1, "a", "z", u64::MAX / 2))];
        run(&huge, &[], None);
    }

    #[test]
    fn scores_follow_the_targets() {
        let levels = levels(&[
            (0, t(1, "a", "b", 1)),
            (0, t(2, "a", "b", 1)),
            (1, t(3, "a", "b", 500)),
            (2, t(4, "a", "b", 20_000)),
        ]);
        let targets = targets(&levels, &SHAPE);
        let s = scores(&levels, &targets, &SHAPE, false);
        assert_eq!(s.len(), NUM_LEVELS - 1);
        assert_eq!(&s[..3], &[0.5, 0.5, 2.0]);
        // While the writes flow, level 0's 2 tables count against the
        // batch trigger (8).
        assert_eq!(scores(&levels, &targets, &SHAPE, true)[0], 0.25);
        assert_eq!(targets.max_bytes(3), 100_000);
        assert_eq!(targets.output(0), 1);
        assert_eq!(SHAPE.level_for(0), 1);
        assert_eq!(SHAPE.level_for(1000), 1);
        assert_eq!(SHAPE.level_for(1001), 2);
        assert_eq!(SHAPE.level_for(u64::MAX), NUM_LEVELS - 1);
    }

    /// Dynamic targets (level 1's is 1,000 bytes, the ratio 10): set from
    /// the last level up, the base where a level's share reaches level
    /// 1's; none below level 1's. Each case differs from the fixed
    /// targets (1,000 / 10,000 / ... from level 1, base 1).
    #[test]
    fn dynamic_targets_follow_the_last_level() {
        let dynamic = Shape {
            dynamic: true,
            ..SHAPE
        };
        let with = |bytes: &[(usize, u64)]| {
            let mut levels = [0; NUM_LEVELS];
            for &(level, b) in bytes {
                levels[level] = b;
            }
            let targets = dynamic.targets(&levels);
            let deep: Vec<u64> = (targets.base..NUM_LEVELS)
                .map(|l| targets.max_bytes(l))
                .collect();
            (targets.base, deep)
        };
        // Empty, or a last level under level 1's target: level 0 goes
        // straight into the last level.
        assert_eq!(with(&[]).0, NUM_LEVELS - 1);
        assert_eq!(with(&[(0, 5_000), (6, 800)]), (6, vec![1_000]));
        // 50,000 in the last level: 5,000 above it, 500 above that (the
        // base, at least 1,000).
        assert_eq!(with(&[(6, 50_000)]), (4, vec![1_000, 5_000, 50_000]));
        assert_eq!(with(&[(5, 3_000), (6, 50_000)]).0, 4);
        // The base is never below the first level holding data: a tree
        // built with fixed targets keeps its base at 1, and targets grow
        // from a tenth of level 1's until the data moves down.
        assert_eq!(
            with(&[(1, 10), (3, 100_000)]),
            (
                1,
                vec![1_000, 1_010, 10_100, 101_000, 1_010_000, 10_100_000]
            )
        );
        // Past level 1's target even at level 1: the base is 1, at level
        // 1's target, the rest by the ratio from there.
        assert_eq!(
            with(&[(6, 10_000_000_000)]),
            (
                1,
                vec![1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]
            )
        );
    }

    /// With dynamic targets level 0 compacts into the base level, past
    /// the empty levels above it, and a level over its dynamic target is
    /// compacted though under its fixed one.
    #[test]
    fn level_zero_compacts_into_the_base_level() {
        let dynamic = Shape {
            dynamic: true,
            ..SHAPE
        };
        let none = |_: usize| None;
        // The last level holds 5,000: the base is 5 (target 1,000).
        let levels = levels(&[
            (0, t(1, "a", "m", 10)),
            (0, t(2, "b", "n", 10)),
            (0, t(3, "c", "o", 10)),
            (0, t(4, "d", "p", 10)),
            (6, t(60, "a", "z", 5_000)),
        ]);
        let picked = pick(&levels, &none, &dynamic, false, &|_| false).unwrap();
        assert_eq!(picked.output, 5);
        assert_eq!(
            numbers(&levels, &picked),
            (0, vec![1, 2, 3, 4], vec![], vec![60], false)
        );
        let fixed = pick(&levels, &none, &SHAPE, false, &|_| false).unwrap();
        assert_eq!(fixed.output, 1);
        // Level 5 at 2,000: twice its dynamic target, a fifty-thousandth
        // of its fixed one.
        let levels = self::levels(&[(5, t(50, "a", "m", 2_000)), (6, t(60, "a", "z", 5_000))]);
        let picked = pick(&levels, &none, &dynamic, false, &|_| false).unwrap();
        assert_eq!((picked.level, picked.output), (5, 6));
        assert_eq!(pick(&levels, &none, &SHAPE, false, &|_| false), None);
    }

    #[test]
    fn outputs_are_cut_before_too_much_grandparent_overlap() {
        // Grandparents of 600 bytes each; the limit is 1,000. Keys walk
        // past them one by one.
        let grand: Vec<(Vec<u8>, u64)> = ["b", "d", "f", "h"]
            .iter()
            .map(|k| (ikey(k, 1), 600))
            .collect();
        let mut cut = OutputCut::new(grand, &SHAPE);
        let cuts: Vec<bool> = ["a", "c", "e", "g", "i"]
            .iter()
            .map(|k| cut.before(&ikey(k, 50)))
            .collect();
        // "a": nothing passed yet. "c": passed b (600). "e": passed d
        // (1,200 > 1,000): cut. "g": passed f (600). "i": passed h (1,200):
        // cut.
        assert_eq!(cuts, [false, false, true, false, true]);
    }

    #[test]
    fn a_range_takes_every_table_it_meets_and_what_they_overlap() {
        let tables = [
            (1, t(1, "a", "c", 10)),
            (1, t(2, "d", "f", 10)),
            (1, t(3, "g", "i", 10)),
            (2, t(4, "a", "b", 10)),
            (2, t(5, "e", "h", 10)),
            (3, t(6, "f", "z", 10)),
        ];
        let levels = levels(&tables);
        let b = |s: &'static str| Some(s.as_bytes());
        // (level, start, end) -> (level, upper, lower, grandparents, trivial)
        type Range<'a> = (usize, Option<&'a [u8]>, Option<&'a [u8]>);
        let rows: [(Range, Expect); 8] = [
            // Inclusive bounds: "f" meets table 2 only; table 5 below
            // widens the range to "d".."h", and table 3 joins, as it
            // brings nothing more of level 2 (step 4).
            (
                (1, b("f"), b("f")),
                Some((1, vec![2, 3], vec![5], vec![6], false)),
            ),
            (
                (1, b("c"), b("d")),
                Some((1, vec![1, 2, 3], vec![4, 5], vec![6], false)),
            ),
            (
                (1, b("h"), None),
                Some((1, vec![2, 3], vec![5], vec![6], false)),
            ),
            (
                (1, None, None),
                Some((1, vec![1, 2, 3], vec![4, 5], vec![6], false)),
            ),
            // Between tables, or past them: nothing to do.
            ((1, b("cc"), b("cz")), None),
            ((1, b("j"), None), None),
            // Never a move, even of one table overlapping nothing.
            (
                (2, b("a"), b("a")),
                Some((2, vec![4], vec![], vec![], false)),
            ),
            ((NUM_LEVELS - 1, None, None), None),
        ];
        for ((level, start, end), expect) in rows {
            let got = pick_range(&levels, level, start, end, &SHAPE).map(|p| numbers(&levels, &p));
            assert_eq!(got, expect, "level {level}, {start:?}..={end:?}");
        }
    }

    #[test]
    fn a_level_0_range_takes_overlapping_tables_transitively() {
        let tables = [
            (0, t(1, "a", "c", 10)),
            (0, t(2, "b", "e", 10)),
            (0, t(3, "e", "g", 10)),
            (0, t(4, "x", "z", 10)),
        ];
        let levels = levels(&tables);
        let got =
            pick_range(&levels, 0, Some(b"a"), Some(b"a"), &SHAPE).map(|p| numbers(&levels, &p));
        assert_eq!(got, Some((0, vec![1, 2, 3], vec![], vec![], false)));
    }
}

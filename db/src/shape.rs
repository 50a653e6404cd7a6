//! [`Shape`]: the sizes that shape the tree, fixed from the options at
//! open: when a level needs compacting, how large its tables are, and
//! how each level's tables are written. The picker (`compaction::pick`)
//! decides from it, the table writers cut and compress by it. The
//! public [`CompactionPicker`] option, which it carries, lives here too.

use crate::table::{Compression, TableOptions};
use crate::version::NUM_LEVELS;
use std::time::Duration;

/// The sizes that shape the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Level-0 tables at which level 0 scores 1.
    pub l0_trigger: usize,
    /// Level-0 tables at which level 0 scores 1 while the writes flow
    /// (level-0 batching).
    pub l0_batch: usize,
    /// The pause in level-0 arrivals after which the writes no longer
    /// flow: a write buffer's worth of `tuning::BATCHING_WRITE_RATE`.
    pub writes_quiet: Duration,
    /// The target size of level 1 in bytes.
    pub l1_bytes: u64,
    /// How much larger each level's target is than the one above.
    pub ratio: u64,
    /// The size at which compaction cuts its output tables.
    pub target_file_size: u64,
    /// How the first input of a level's compaction is chosen.
    pub picker: CompactionPicker,
    /// Whether the level targets follow the data ([`Shape::targets`]).
    pub dynamic: bool,
    /// The size at which every table writer cuts a data block (not the
    /// picker's concern, but fixed with the tree's other sizes).
    pub block_size: usize,
    /// How each level's tables are compressed.
    pub compression: [Compression; NUM_LEVELS],
}

impl Shape {
    /// How a table written into `level` is written.
    pub fn table_options(&self, level: usize) -> TableOptions {
        TableOptions {
            block_size: self.block_size,
            compression: self.compression[level],
        }
    }

    /// The level-0 tables at which level 0 is due: [`l0_batch`] while
    /// `batching`, else [`l0_trigger`].
    ///
    /// [`l0_batch`]: Shape::l0_batch
    /// [`l0_trigger`]: Shape::l0_trigger
    pub fn l0_due(&self, batching: bool) -> usize {
        if batching {
            self.l0_batch
        } else {
            self.l0_trigger
        }
    }

    /// Each level's target, and the level that level 0 compacts into,
    /// for levels holding `level_bytes` (level 0 first).
    ///
    /// **Fixed** (LevelDB's): level 1 holds [`l1_bytes`], each deeper
    /// level [`ratio`] times the one above, and level 0 compacts into
    /// level 1.
    ///
    /// **Dynamic** (RocksDB's `level_compaction_dynamic_level_bytes`): the
    /// targets are set from the bottom up, so that the last level holds
    /// most of the data and each level above a tenth of the one below.
    /// The last level's target is the largest level's size; the levels
    /// above take a tenth each, up to the first whose share is no more
    /// than [`l1_bytes`]: the **base level**, which level 0 compacts
    /// into. The levels above the base are empty and stay so: the base
    /// is never below the first level holding data (a level 0 merged
    /// below data of level 1 would put newer versions under older ones),
    /// and only level 0 writes above it. No target is below
    /// [`l1_bytes`] (RocksDB's floor: a level smaller than that would be
    /// compacted before level 0, which would fill and stall the writers).
    /// An empty tree's base is the last level: the first compactions
    /// write straight into it, and a level opens above it each time the
    /// data grows past another factor of [`ratio`].
    ///
    /// [`l1_bytes`]: Shape::l1_bytes
    /// [`ratio`]: Shape::ratio
    pub fn targets(&self, level_bytes: &[u64; NUM_LEVELS]) -> Targets {
        let last = NUM_LEVELS - 1;
        let first = (1..NUM_LEVELS).find(|&level| level_bytes[level] > 0);
        let (base, first) = match (self.dynamic, first) {
            (false, _) => {
                let mut bytes = [u64::MAX; NUM_LEVELS];
                for (level, target) in bytes.iter_mut().enumerate().skip(1) {
                    *target = self.max_bytes(level);
                }
                return Targets { base: 1, bytes };
            }
            (true, None) => {
                return Targets {
                    base: last,
                    bytes: [u64::MAX; NUM_LEVELS],
                }
            }
            (true, Some(first)) => (first, first),
        };
        let largest = level_bytes[1..].iter().copied().max().unwrap_or(0);
        // The first nonempty level's share of a tree whose last level
        // holds `largest`; then up, while the share is over level 1's.
        let mut share = largest;
        for _ in first..last {
            share /= self.ratio;
        }
        let mut base = base;
        while base > 1 && share > self.l1_bytes {
            base -= 1;
            share /= self.ratio;
        }
        // A share below a tenth of level 1's means more levels hold data
        // than the data needs (it shrank, or the tree was built with fixed
        // targets): the base stays the first nonempty level, and the
        // targets grow from there until the data settles lower.
        let mut size = if share <= self.l1_bytes / self.ratio {
            self.l1_bytes / self.ratio + 1
        } else {
            share.min(self.l1_bytes)
        };
        let mut bytes = [u64::MAX; NUM_LEVELS];
        for (level, target) in bytes.iter_mut().enumerate().skip(base) {
            if level > base {
                size = size.saturating_mul(self.ratio);
            }
            *target = size.max(self.l1_bytes);
        }
        Targets { base, bytes }
    }

    /// The fixed target size of `level` (1 or deeper) in bytes.
    fn max_bytes(&self, level: usize) -> u64 {
        debug_assert!(level >= 1);
        let mut bytes = self.l1_bytes;
        for _ in 1..level {
            bytes = bytes.saturating_mul(self.ratio);
        }
        bytes
    }

    /// The first level (1 or deeper) whose fixed target holds `bytes`, or
    /// the last: where a full compaction puts everything, so that the
    /// tree is one level no compaction needs to move (LevelDB's
    /// `CompactRange` over every key ends the same way, level by level).
    /// With dynamic targets, the last level: the one that holds the data
    /// (RocksDB's full compaction ends there too).
    pub fn level_for(&self, bytes: u64) -> usize {
        if self.dynamic {
            return NUM_LEVELS - 1;
        }
        (1..NUM_LEVELS)
            .find(|&level| bytes <= self.max_bytes(level))
            .unwrap_or(NUM_LEVELS - 1)
    }

    /// The most bytes a compaction's inputs may reach by widening its
    /// first level (step 4; LevelDB's 25 tables).
    pub fn expanded_limit(&self) -> u64 {
        self.target_file_size.saturating_mul(25)
    }

    /// The input bytes from which a compaction merges its two halves on
    /// two threads (`level::split_key`): eight tables, so that a small
    /// compaction does not pay for a thread and leaves no short table at
    /// the split.
    pub fn split_min_bytes(&self) -> u64 {
        self.target_file_size.saturating_mul(8)
    }

    /// The most bytes of the grandparent level one output table may
    /// overlap, and a trivial move may leave overlapped (LevelDB's 10
    /// tables).
    pub fn grandparent_limit(&self) -> u64 {
        self.target_file_size.saturating_mul(10)
    }
}

/// Each level's target size, and where level 0 compacts
/// ([`Shape::targets`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Targets {
    /// The level level 0 compacts into; every level between them is
    /// empty.
    pub base: usize,
    /// Each level's target in bytes; `u64::MAX` for level 0 (counted in
    /// tables) and the levels above the base.
    bytes: [u64; NUM_LEVELS],
}

impl Targets {
    /// The target size of `level` in bytes.
    pub fn max_bytes(&self, level: usize) -> u64 {
        self.bytes[level]
    }

    /// The level that compactions of `level` write into.
    pub fn output(&self, level: usize) -> usize {
        if level == 0 {
            self.base
        } else {
            level + 1
        }
    }
}

/// How compaction chooses, within a level over its target, the table to
/// push into the next level. Either way the levels keep LevelDB's
/// invariants (no user key split across a level's tables, level 0
/// bounded by the write stalls, a tombstone dropped only when no deeper
/// level may hold its key), so the choice changes what is written, never
/// what is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompactionPicker {
    /// LevelDB's: a compact pointer per level, so that successive
    /// compactions sweep the level's key space round robin, each table
    /// in its turn whatever its cost.
    LevelDb,
    /// RocksDB's default (`kMinOverlappingRatio`): the table whose
    /// overlap with the next level, in bytes, is smallest for its own
    /// size, so that each compaction moves the most data down for the
    /// bytes it rewrites. Measured on a 5 M-key fillrandom (`bench
    /// --workload fillrandom --num 5000000 --settle-after`, with and
    /// without `--tributary-options leveldb-picker`): 6.6 and 6.7 bytes
    /// written per user byte once settled, against 6.8 and 6.9 with
    /// [`LevelDb`](CompactionPicker::LevelDb), at the same speed.
    LeastOverlap,
}

//! [`Shape`]: the sizes that shape the tree, fixed from the options at
//! open: when a level needs compacting, how large its tables are, and
//! how each level's tables are written. The picker (`compaction::pick`)
//! decides from it, the table writers cut and compress by it. The
//! public [`CompactionPicker`] option, which it carries, lives here too.

use crate::table::{Compression, TableOptions};
use crate::version::NUM_LEVELS;

/// The sizes that shape the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Level-0 tables at which level 0 scores 1.
    pub l0_trigger: usize,
    /// Level-0 tables at which level 0 scores 1 while the writes flow
    /// (level-0 batching).
    pub l0_batch: usize,
    /// The target size of level 1 in bytes.
    pub l1_bytes: u64,
    /// How much larger each level's target is than the one above.
    pub ratio: u64,
    /// The size at which compaction cuts its output tables.
    pub target_file_size: u64,
    /// How the first input of a level's compaction is chosen.
    pub picker: CompactionPicker,
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

    /// The target size of `level` (1 or deeper) in bytes.
    pub fn max_bytes(&self, level: usize) -> u64 {
        debug_assert!(level >= 1);
        let mut bytes = self.l1_bytes;
        for _ in 1..level {
            bytes = bytes.saturating_mul(self.ratio);
        }
        bytes
    }

    /// The first level (1 or deeper) whose target holds `bytes`, or the
    /// last: where a full compaction puts everything, so that the tree
    /// is one level no compaction needs to move (LevelDB's `CompactRange`
    /// over every key ends the same way, level by level).
    pub fn level_for(&self, bytes: u64) -> usize {
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

//! [`Shape`]: the sizes that shape the tree, fixed from the options at
//! open: when a level needs compacting, how large its tables are, and
//! how each level's tables are written. The picker (`compaction::pick`)
//! decides from it, the table writers cut and compress by it.

use crate::table::{Compression, TableOptions};
use crate::version::NUM_LEVELS;

/// The sizes that shape the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Level-0 tables at which level 0 scores 1.
    pub l0_trigger: usize,
    /// The target size of level 1 in bytes.
    pub l1_bytes: u64,
    /// How much larger each level's target is than the one above.
    pub ratio: u64,
    /// The size at which compaction cuts its output tables.
    pub target_file_size: u64,
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

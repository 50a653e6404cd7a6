//! Every internal constant of the database, in one place, each with why it
//! has its value and where that value comes from (LevelDB keeps its own in
//! `db/dbformat.h`, `namespace config`).
//!
//! What is not here, on purpose:
//!
//! - Knobs a user may set: they are fields of `Options`, with their
//!   defaults there, and the public [`MIN_WRITE_BUFFER_SIZE`] beside them.
//! - Byte layouts: they stay next to their format (`table/`'s blocks and
//!   filters, the `journal` crate's blocks), so a format reads whole in one
//!   file.
//! - File names (`LOCK`, `lost`): `files.rs`, with the directory's layout.
//!
//! [`MIN_WRITE_BUFFER_SIZE`]: crate::MIN_WRITE_BUFFER_SIZE

// Background work (`compaction/`).

/// Memtables' worth of memory the block pool keeps from flushed memtables
/// for the next ones: with flushes right behind rotation at most one or
/// two memtables are frozen at a time, and two keep every new memtable on
/// reused pages (fresh ones cost 10% of a one-thread `fillseq`,
/// ARCHITECTURE.md `memdb`) while bounding the memory a reopened database
/// holds to a few write buffers (issue #13).
pub(crate) const POOL_MEMTABLES: usize = 2;

/// The first wait before a failed flush is retried, doubling up to
/// [`FLUSH_RETRY_MAX`]: a table write error is retried with back-off
/// (TABLES.md §6), quickly for a transient error and without spinning on
/// a full disk.
pub(crate) const FLUSH_RETRY_MIN: std::time::Duration = std::time::Duration::from_millis(50);

/// Bytes a table writer buffers before a write system call: 256 KiB,
/// sixty-four 4 KiB blocks, so a table is written in few large writes.
pub(crate) const TABLE_WRITE_BUFFER: usize = 256 << 10;

/// Level-0 tables at which level 0 is due for compaction (its score is
/// 1): LevelDB's `kL0_CompactionTrigger`. Every read consults each level-0
/// table whose range holds its key, so their count is what costs.
pub(crate) const L0_COMPACTION_TRIGGER: usize = 4;

/// Level-0 tables at which level 0 is due while the writes flow (at
/// [`BATCHING_WRITE_RATE`] or faster): level-0 batching
/// (`compaction::pick`). Each level-0 merge rewrites all of level 1 that
/// random keys overlap, so merging four times as many tables at once
/// writes level 1 a quarter as often, and leaves it larger, so that each
/// of its tables overlaps less of level 2 when it moves down. Measured
/// on a 5 M-key fillrandom (`bench --workload fillrandom --num 5000000
/// --settle-after`), bytes written per user byte once settled: 8.1 with
/// no batching (LevelDB's 4 tables throughout), 7.2 batching at 8, 6.6
/// at 12, 6.0 at 16, at the same speed; measured again beside a busy
/// second core, four runs each, 6.26-6.46 at 12, 6.02-6.38 at 14 and
/// 6.00-6.17 at 16 (and a 20 M-key fill 9.40 at 12 against 9.16 at 16).
/// The price is stall time at 20 M keys, where level 0 reaches the
/// slowdown trigger sooner: 15% of the fill at 12 and 21% at 16 in the
/// same runs, under the 25% a fill may stall (issue #28). Batching only
/// while a deeper level was over its target instead (a pure function of
/// the tables) gave 7.6: a fill's compaction catches up often enough to
/// merge small batches in between.
pub(crate) const L0_BATCH_TRIGGER: usize = 16;

/// The write rate, in bytes a second, below which level 0 does not
/// batch: the writes count as flowing while tables reach level 0 less
/// than a write buffer's worth of this rate apart
/// (`Shape::writes_quiet`), one second with the default 4 MiB buffer;
/// after such a pause, level 0 is compacted from
/// [`L0_COMPACTION_TRIGGER`] tables again, for the reads that follow.
/// A fixed second instead never batched with 64 MiB buffers, whose
/// tables come 1.5 s apart at full speed: a 20 M-key fill with RocksDB's
/// sizes (`bench --workload fillrandom --num 20000000 --settle-after
/// --tributary-options rocksdb-budget`) wrote 5.28 bytes per user byte,
/// settled, with it, and 3.92 with a five-second pause.
pub(crate) const BATCHING_WRITE_RATE: u64 = 4 << 20;

/// Level-0 tables at which each write group sleeps 1 ms, once
/// (`stall`): RocksDB's `level0_slowdown_writes_trigger`, past the batch
/// trigger with room for a batch's merge (flushes go on during it)
/// before writers feel it. LevelDB's 8 would slow every batching fill.
pub(crate) const L0_SLOWDOWN_TRIGGER: usize = 20;

/// Level-0 tables at which a write that needs a rotation waits for the
/// compaction lane (RocksDB's `level0_stop_writes_trigger` is 36,
/// LevelDB's 12). It bounds level 0, and so the tables a read may probe.
pub(crate) const L0_STOP_TRIGGER: usize = 30;

/// Frozen memtables at which a write that needs a rotation waits for the
/// flush: memory stays within the active memtable and two frozen ones
/// whatever the load (RocksDB's default `max_write_buffer_number` is 2
/// memtables in all, goleveldb's one frozen; two frozen give a flush
/// slowed by a compaction on the other core a memtable of slack).
pub(crate) const MAX_FROZEN_MEMTABLES: usize = 2;

/// The longest a stopped writer sleeps before it looks at the tree again
/// without being woken: every change that ends a stall wakes it, so this
/// only bounds the cost of one that did not (a journal sync failure found
/// by the background thread).
pub(crate) const STALL_RECHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// How much larger each level's target size is than the one above:
/// LevelDB's and RocksDB's 10, which bounds the write amplification of
/// each level to about 10 and the space held by stale versions to about
/// 11%.
pub(crate) const LEVEL_SIZE_RATIO: u64 = 10;

/// The longest wait between flush retries.
pub(crate) const FLUSH_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// A memtable's arena, in quarters of its budget: the skiplist's links make
/// it about a quarter larger, so the background thread faults in
/// `write_buffer_size / 4 * ARENA_QUARTERS` bytes for the next memtable
/// (commit 681e487, which measured fillseq/1 at 611-637k -> 689-701k ops/s).
pub(crate) const ARENA_QUARTERS: usize = 5;

// Reads (`read/iter.rs`).

/// Versions a scan fetches from each source (memtable or table) per
/// refill: each refill starts with a seek in every source, so a chunk spreads that cost over
/// many keys while a short scan copies little. 128 at first (commit
/// e209930, unmeasured); 256 measured readseq over 5 M settled keys 11%
/// faster (5 interleaved runs each: medians 5.89 M and 6.60 M ops/s), and
/// 512 no faster than 256 (6.53 M) for twice the buffers (two runs of
/// up to this many entries per iterator).
pub(crate) const SCAN_CHUNK: usize = 256;

/// The chunk of a scan's first refill, and of the first after a seek,
/// doubling at each refill up to [`SCAN_CHUNK`]: seekrandom reads 10
/// entries per seek, and a first chunk of 128 from every source made it
/// 0.1-0.25x the peers (issue #14's beyond-memory cells).
pub(crate) const SCAN_FIRST_CHUNK: usize = 16;

// Journals (`wal/prepared.rs`, `fs/os.rs`).

/// A zero-filled journal, in quarters of the write buffer: a journal holds
/// one memtable's records with their journal and batch headers, a little
/// more than its budget, and 5/4 covers that (commit efc186a).
pub(crate) const ZEROED_JOURNAL_QUARTERS: u64 = 5;

/// Bytes of zeros `OsFs::create_zeroed` writes per call: 1 MiB, large
/// enough that the system call count does not matter next to the writeback.
pub(crate) const ZERO_FILL_CHUNK: usize = 1 << 20;

/// The read buffer of a file opened by `OsFs::open` (recovery reads every
/// journal through it): 256 KiB, eight journal blocks, so that a replay
/// makes few large reads.
pub(crate) const READ_BUFFER: usize = 256 << 10;

/// Bytes `OsFs::trim_zeros` reads at a time while it checks that a tail is
/// only zeros: 64 KiB, two journal blocks, a small buffer for a pass that
/// runs once per repaired journal.
pub(crate) const TRIM_CHECK_BUFFER: usize = 64 << 10;

// Limits of the options (`options.rs`).

/// The largest accepted `Options::write_buffer_size`, 1 GiB, which bounds
/// what one budget multiplies into (an arena and a zero-filled journal of
/// 5/4 of it, a block pool of eight): set with the first facade (commit
/// e209930), with no other reason recorded and not taken from a peer.
pub(crate) const MAX_WRITE_BUFFER_SIZE: usize = 1 << 30;

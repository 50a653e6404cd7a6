//! Every internal constant of the database, in one place, each with why it
//! has its value and where that value comes from (LevelDB keeps its own in
//! `db/dbformat.h`, `namespace config`).
//!
//! What is not here, on purpose:
//!
//! - Knobs a user may set: they are fields of `Options`, with their
//!   defaults there, and the public [`MIN_WRITE_BUFFER_SIZE`] beside them.
//! - Byte layouts: they stay next to their format (`run.rs`'s index slot,
//!   the `journal` crate's blocks), so a format reads whole in one file.
//! - File names (`LOCK`, `lost`): `files.rs`, with the directory's layout.
//!
//! [`MIN_WRITE_BUFFER_SIZE`]: crate::MIN_WRITE_BUFFER_SIZE

// Background compaction (`flush.rs`).

/// Frozen memtables that wait for a background compaction at least, so
/// that one compaction merges several at once: set with the sorted run
/// (commit 79bfb62), the same count as LevelDB's level-0 trigger
/// (`kL0_CompactionTrigger`).
pub(crate) const MIN_FROZEN: usize = 4;

/// A background compaction waits until the frozen memtables hold at least
/// `1 / RUN_FRACTION` of the run's bytes, so that the run grows
/// geometrically and each byte is copied a bounded number of times (about
/// `RUN_FRACTION + 1`, three with 2, as ARCHITECTURE.md says).
pub(crate) const RUN_FRACTION: usize = 2;

/// The memtable block pool keeps this many times the budget of the
/// [`MIN_FROZEN`] memtables one compaction frees, because an arena is
/// larger than its budget by the skiplist's links and the memtables filled
/// before the next compaction should all reuse memory instead of faulting
/// in fresh pages (10% of a one-thread `fillseq`, ARCHITECTURE.md `memdb`).
pub(crate) const POOL_COMPACTIONS: usize = 2;

/// A memtable's arena, in quarters of its budget: the skiplist's links make
/// it about a quarter larger, so the background thread faults in
/// `write_buffer_size / 4 * ARENA_QUARTERS` bytes for the next memtable
/// (commit 681e487, which measured fillseq/1 at 611-637k -> 689-701k ops/s).
pub(crate) const ARENA_QUARTERS: usize = 5;

// Reads (`filter.rs`, `run.rs`, `read/iter.rs`).

/// Bloom filter bits per distinct key of a frozen memtable: LevelDB's
/// `NewBloomFilterPolicy(10)`, about 1% false positives.
pub(crate) const BITS_PER_KEY: usize = 10;

/// Bloom filter probes per key: `BITS_PER_KEY * ln 2` rounded (6.93), the
/// count that minimises false positives for 10 bits (LevelDB truncates it
/// to 6).
pub(crate) const PROBES: u32 = 7;

/// Slots of the sorted run's hash index per key, before rounding up to a
/// power of two: at most half the slots are full, so linear probing stays
/// short (the invariant on `SortedRun::index`).
pub(crate) const RUN_INDEX_SLOTS_PER_KEY: usize = 2;

/// Versions a scan fetches from each memtable per refill: each refill
/// starts with a seek in every memtable, so a chunk spreads that cost over
/// many keys while a short scan copies little; set with the first iterator
/// (commit e209930), with no measurement recorded.
pub(crate) const SCAN_CHUNK: usize = 128;

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

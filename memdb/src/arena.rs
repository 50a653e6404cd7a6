//! An append-only arena of blocks that never move.
//!
//! The skiplist keeps its nodes here, keys and values inline, so that a node
//! never moves and is never freed while the list lives: readers hold plain
//! pointers into the arena with no reference counts and no epochs, and an
//! insert costs one pointer bump instead of a heap allocation.
//! Everything is freed at once when the arena drops.
//!
//! Memory is handed out through a [`Bump`] cursor that the list's single
//! writer owns; the arena itself only records its blocks, so that it can
//! report their size and free them.
//! Small requests are carved from blocks; a request larger than a quarter
//! block gets a block of its own, so that the space left unused at the end of
//! a block is at most a quarter block (LevelDB `util/arena.cc` does the same).
//!
//! Blocks start at about half the memtable's capacity, at least
//! [`MIN_BLOCK`], and double up to [`MAX_BLOCK`], 2 MiB: a small memtable
//! stays small, and the default 4 MiB one is all in 2 MiB blocks.
//! On Linux those are 2 MiB-aligned and marked `MADV_HUGEPAGE`: a search
//! touches a few dozen nodes scattered over the whole arena, and with 4 KiB
//! pages nearly every one of them is a TLB miss (on the benchmark's
//! 1 M-entry memtable, gets and inserts are 10-20% faster with huge pages).
//!
//! A [`BlockPool`] shared by the memtables of one database takes back the
//! `MAX_BLOCK`s of a dropped arena and hands them to the next one. Fresh
//! memory costs a page fault and the kernel zeroing the page on first
//! touch: 10% of the time of a one-thread `fillseq` in `perf`. Recycling
//! removes most of it (C++ LevelDB gets the same from `malloc` reusing the
//! heap of flushed memtables); [`BlockPool::prefill`], run by a background
//! thread, removes the rest while the memtables in use grow.

#![allow(unsafe_code)]

use std::alloc::{self, Layout};
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Alignment of every allocation, and the unit its size is rounded up to.
pub(crate) const ALIGN: usize = 8;

// Nodes start with their links and length fields, so allocations must be
// aligned for them.
const _: () = assert!(align_of::<AtomicPtr<u8>>() <= ALIGN && align_of::<u32>() <= ALIGN);

/// Size of the first block. Smaller under Miri, so that the unit tests
/// cross block boundaries at the small sizes Miri can afford.
pub(crate) const MIN_BLOCK: usize = if cfg!(miri) { 1 << 10 } else { 64 << 10 };

/// Size of the blocks once the arena has grown: a huge page.
pub(crate) const MAX_BLOCK: usize = if cfg!(miri) { 4 << 10 } else { 2 << 20 };

/// The blocks of one skiplist's nodes.
pub(crate) struct Arena {
    /// Every block allocated, with the layout it was allocated with.
    // Invariant: each block came from `alloc::alloc(layout)` with a non-zero
    // size (directly, or through the pool, which then gave up its claim),
    // is not freed before `Drop`, and is freed or given back to the pool
    // there exactly once.
    // The mutex is taken only when a block is added and on drop; readers of
    // the skiplist never touch it.
    blocks: Mutex<Vec<Block>>,
    /// Sum of the sizes of `blocks`.
    reserved: AtomicUsize,
    /// Where `MAX_BLOCK`s come from first and go back to on drop.
    pool: Option<Arc<BlockPool>>,
    /// Whether the `MAX_BLOCK`s it allocates itself are marked for huge
    /// pages (see [`Arena::new`]).
    huge_pages: bool,
}

struct Block {
    ptr: NonNull<u8>,
    layout: Layout,
    /// Whether a pool may take it back: it came from the pool, or was
    /// marked for huge pages as the pool's are. A block left to ordinary
    /// pages is freed, so that it never serves the memtables after.
    poolable: bool,
}

/// The writer's cursor into the current block.
pub(crate) struct Bump {
    /// The next free byte of the current block.
    // Invariant: `next .. next + remaining` lies inside one block of the
    // arena this cursor belongs to, is `ALIGN`-aligned, and has never been
    // handed out. With `remaining == 0`, `next` may dangle and is never read.
    next: NonNull<u8>,
    remaining: usize,
    /// Size of the next ordinary block.
    // Invariant: a power of two in `MIN_BLOCK..=MAX_BLOCK`.
    block_size: usize,
}

// SAFETY: a `Bump` is a cursor into memory that no one else uses yet (its
// invariant); it has no tie to the thread that made it, so moving it to
// another thread is sound. It is not `Sync` and needs not be.
unsafe impl Send for Bump {}

// SAFETY: `Arena` owns its blocks (raw pointers only because they come from
// `alloc::alloc`); the list of blocks is behind a mutex and the size counter
// is atomic, so sharing or sending the arena cannot race. What is stored in
// the blocks is the skiplist's concern (see its invariants).
unsafe impl Send for Arena {}
// SAFETY: as for `Send`: `&Arena` gives access only to the mutex-protected
// block list and the atomic counter.
unsafe impl Sync for Arena {}

impl Arena {
    /// An empty arena for a memtable of about `capacity` bytes, drawing its
    /// `MAX_BLOCK`s from `pool` if given, and the cursor to allocate from it.
    /// Allocates nothing until the first [`alloc`](Arena::alloc).
    ///
    /// With `huge_pages`, the `MAX_BLOCK`s it allocates itself (the pool
    /// had none) are marked for transparent huge pages, as the pool's own
    /// are: fewer TLB misses in a big memtable, but the first touch of each
    /// faults in and zeroes 2 MiB at once. Without, they stay on ordinary
    /// pages and are freed with the arena, not given to the pool: the
    /// first memtable of an open had otherwise passed its ordinary pages
    /// on to every memtable after it (fillrandom at 4 threads, 1.55x
    /// LevelDB's, fell to 1.22x).
    pub(crate) fn new(
        capacity: usize,
        pool: Option<Arc<BlockPool>>,
        huge_pages: bool,
    ) -> (Arena, Bump) {
        let arena = Arena {
            blocks: Mutex::new(Vec::new()),
            reserved: AtomicUsize::new(0),
            pool,
            huge_pages,
        };
        let bump = Bump {
            next: NonNull::dangling(),
            remaining: 0,
            block_size: first_block(capacity),
        };
        (arena, bump)
    }

    /// `size` bytes of fresh, uninitialised, `ALIGN`-aligned memory that
    /// stays valid, unmoved, until this arena drops.
    ///
    /// The caller owns the bytes exclusively until it shares them.
    /// `bump` must be the cursor returned with this arena by
    /// [`Arena::new`]; otherwise the memory belongs to another arena and dies
    /// with it (the skiplist's `Writer` keeps the pair together).
    ///
    /// # Panics
    ///
    /// If `size` is zero or larger than `isize::MAX` rounded down to `ALIGN`.
    pub(crate) fn alloc(&self, bump: &mut Bump, size: usize) -> NonNull<u8> {
        assert!(size > 0, "memdb arena: zero-sized allocation");
        let size = size
            .checked_next_multiple_of(ALIGN)
            .expect("memdb arena: allocation too large");
        if size > bump.remaining {
            if size > bump.block_size / 4 {
                // The current block keeps its tail for later small requests.
                return self.new_block(size);
            }
            bump.next = self.new_block(bump.block_size);
            bump.remaining = bump.block_size;
            bump.block_size = (bump.block_size * 2).min(MAX_BLOCK);
        }
        let ptr = bump.next;
        // SAFETY: `size <= remaining`, so `next + size` is inside the block
        // or one past its end (the `Bump` invariant), which `add` allows.
        bump.next = unsafe { ptr.add(size) };
        bump.remaining -= size;
        ptr
    }

    /// Bytes of all blocks allocated so far.
    pub(crate) fn reserved(&self) -> usize {
        self.reserved.load(Ordering::Relaxed)
    }

    fn new_block(&self, size: usize) -> NonNull<u8> {
        let layout = block_layout(size);
        let recycled = match &self.pool {
            Some(pool) if layout == POOLED => pool.take(),
            _ => None,
        };
        let poolable = recycled.is_some() || self.huge_pages || !HUGE_PAGES;
        let ptr = recycled.unwrap_or_else(|| {
            // SAFETY: `layout` has a non-zero size: `alloc` rejects zero and
            // `MIN_BLOCK` is not zero.
            let ptr = unsafe { alloc::alloc(layout) };
            let ptr = NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(layout));
            if layout == POOLED && HUGE_PAGES && self.huge_pages {
                advise_huge_pages(ptr, size);
            }
            ptr
        });
        self.blocks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Block {
                ptr,
                layout,
                poolable,
            });
        self.reserved.fetch_add(size, Ordering::Relaxed);
        ptr
    }
}

/// The size of the first ordinary block of an arena for a memtable of
/// `capacity` bytes: about half of it, so that a memtable that fills its
/// budget needs few blocks, within `MIN_BLOCK..=MAX_BLOCK`.
fn first_block(capacity: usize) -> usize {
    (capacity / 2)
        .checked_next_power_of_two()
        .unwrap_or(MAX_BLOCK)
        .clamp(MIN_BLOCK, MAX_BLOCK)
}

/// How a block of `size` bytes is allocated: `MAX_BLOCK`s on a huge-page
/// boundary where huge pages are used.
fn block_layout(size: usize) -> Layout {
    let align = if size == MAX_BLOCK && HUGE_PAGES {
        MAX_BLOCK
    } else {
        ALIGN
    };
    Layout::from_size_align(size, align).expect("memdb arena: block too large")
}

/// The layout of the blocks a [`BlockPool`] keeps.
const POOLED: Layout =
    match Layout::from_size_align(MAX_BLOCK, if HUGE_PAGES { MAX_BLOCK } else { ALIGN }) {
        Ok(layout) => layout,
        Err(_) => panic!("MAX_BLOCK is a power of two"),
    };

/// The smallest page size: touching one byte in each faults a block in.
const PAGE: usize = 4096;

/// Whether [`MAX_BLOCK`]s are aligned and marked for transparent huge pages.
const HUGE_PAGES: bool = cfg!(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64"),
    not(miri)
));

/// Asks Linux to back `len` bytes at `ptr`, a whole number of aligned huge
/// pages, with transparent huge pages. Only a hint: failure changes nothing.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64"),
    not(miri)
))]
fn advise_huge_pages(ptr: NonNull<u8>, len: usize) {
    use std::ffi::{c_int, c_void};

    /// `MADV_HUGEPAGE` from `asm-generic/mman-common.h`, the value on x86-64
    /// and AArch64.
    const MADV_HUGEPAGE: c_int = 14;
    extern "C" {
        fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    }
    // SAFETY: `madvise` with `MADV_HUGEPAGE` only changes how the kernel
    // backs the pages, not their contents or validity; `ptr .. ptr + len` is
    // a page-aligned range of our own allocation. An error (for example
    // with THP disabled) is harmless and ignored.
    unsafe { madvise(ptr.as_ptr().cast(), len, MADV_HUGEPAGE) };
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64"),
    not(miri)
)))]
fn advise_huge_pages(_ptr: NonNull<u8>, _len: usize) {}

impl Drop for Arena {
    fn drop(&mut self) {
        let blocks = self
            .blocks
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        // `&mut self` means no reference into the blocks is alive: every
        // `Node<'a>` and slice handed out borrows the skiplist that owns
        // this arena. So each block can be reused or freed.
        for block in blocks.drain(..) {
            if block.layout == POOLED && block.poolable {
                if let Some(pool) = &self.pool {
                    if pool.give(block.ptr) {
                        continue;
                    }
                }
            }
            // SAFETY: the block came from `alloc::alloc(block.layout)`, or
            // from a pool that got it from there with the same layout, and
            // is freed only here, once, as `drain` removes it (the `blocks`
            // invariant).
            unsafe { alloc::dealloc(block.ptr.as_ptr(), block.layout) };
        }
    }
}

/// `MAX_BLOCK`s kept between memtables, so that a new memtable reuses the
/// memory of a dropped one instead of faulting in fresh pages.
///
/// One pool serves the memtables of one database (create them with
/// [`MemDb::with_pool`](crate::MemDb::with_pool)). It keeps at most the
/// bytes given to [`BlockPool::new`]: blocks that a memtable held before,
/// until a later memtable takes them, and blocks a background thread
/// faulted in ahead with [`prefill`](BlockPool::prefill). It frees what it
/// holds when the last `Arc` to it drops.
pub struct BlockPool {
    /// Blocks no arena uses, each allocated with the layout `POOLED`.
    // Invariant: each came from `alloc::alloc(POOLED)`, is owned by the pool
    // alone (no arena lists it) and is freed or handed out exactly once.
    free: Mutex<Vec<NonNull<u8>>>,
    /// At most this many blocks are kept.
    max_blocks: usize,
}

// SAFETY: the pool owns its blocks outright (its invariant); they are plain
// memory with no tie to a thread, and the list is behind a mutex.
unsafe impl Send for BlockPool {}
// SAFETY: as for `Send`: `&BlockPool` reaches the blocks only through the
// mutex.
unsafe impl Sync for BlockPool {}

impl BlockPool {
    /// A pool that keeps up to `max_bytes` of blocks (rounded down to whole
    /// 2 MiB blocks).
    pub fn new(max_bytes: usize) -> Arc<BlockPool> {
        Arc::new(BlockPool {
            free: Mutex::new(Vec::new()),
            max_blocks: max_bytes / MAX_BLOCK,
        })
    }

    /// Bytes the pool holds now, ready for the next memtables.
    pub fn pooled_bytes(&self) -> usize {
        self.lock().len() * MAX_BLOCK
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<NonNull<u8>>> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Allocates blocks, and touches every page of them, until the pool
    /// holds at least `bytes` (or is full).
    ///
    /// Meant for a background thread: the page faults and the kernel's
    /// zeroing happen there, not in the memtable insert that would
    /// otherwise touch the fresh pages first.
    pub fn prefill(&self, bytes: usize) {
        let want = bytes.div_ceil(MAX_BLOCK).min(self.max_blocks);
        while self.lock().len() < want {
            // SAFETY: `POOLED` has a non-zero size.
            let ptr = unsafe { alloc::alloc(POOLED) };
            let block = NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(POOLED));
            if HUGE_PAGES {
                advise_huge_pages(block, MAX_BLOCK);
            }
            for offset in (0..MAX_BLOCK).step_by(PAGE) {
                // SAFETY: `offset < MAX_BLOCK`, inside the block we own; a
                // volatile write so the touch is not optimised away.
                unsafe { block.as_ptr().add(offset).write_volatile(0) };
            }
            if !self.give(block) {
                // Filled meanwhile by a dropped arena.
                // SAFETY: `block` came from `alloc::alloc(POOLED)` just
                // above and the pool refused it, so we still own it.
                unsafe { alloc::dealloc(block.as_ptr(), POOLED) };
                return;
            }
        }
    }

    /// A block with the layout `POOLED`, now owned by the caller.
    fn take(&self) -> Option<NonNull<u8>> {
        self.lock().pop()
    }

    /// Takes `block` back unless the pool is full. `block` must have come
    /// from `alloc::alloc(POOLED)` and be unused; on `true` the pool owns it.
    fn give(&self, block: NonNull<u8>) -> bool {
        let mut free = self.lock();
        if free.len() < self.max_blocks {
            free.push(block);
            true
        } else {
            false
        }
    }
}

impl Drop for BlockPool {
    fn drop(&mut self) {
        let free = self.free.get_mut().unwrap_or_else(PoisonError::into_inner);
        for block in free.drain(..) {
            // SAFETY: the pool owns the block, which came from
            // `alloc::alloc(POOLED)` (the `free` invariant); `drain` removes
            // it, so it is freed once.
            unsafe { alloc::dealloc(block.as_ptr(), POOLED) };
        }
    }
}

impl fmt::Debug for BlockPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockPool")
            .field("pooled_bytes", &self.pooled_bytes())
            .field("max_bytes", &(self.max_blocks * MAX_BLOCK))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_aligned_disjoint_and_big_ones_get_own_blocks() {
        let (arena, mut bump) = Arena::new(0, None, true);
        assert_eq!(arena.reserved(), 0);
        let mut alloc = |size: usize| {
            let p = arena.alloc(&mut bump, size);
            assert_eq!(p.as_ptr() as usize % ALIGN, 0);
            // SAFETY: `p` is `size` fresh bytes that this test owns.
            unsafe { p.as_ptr().write_bytes(0xAB, size) };
            (p.as_ptr() as usize, arena.reserved())
        };
        let (a, _) = alloc(1);
        let (b, _) = alloc(9);
        let (c, reserved) = alloc(8);
        assert_eq!((b - a, c - b), (ALIGN, 2 * ALIGN));
        assert_eq!(reserved, MIN_BLOCK);
        // 32 bytes used; a big request that fits is carved from the block.
        let (d, reserved) = alloc(MIN_BLOCK - 32 - ALIGN);
        assert_eq!((d - c, reserved), (ALIGN, MIN_BLOCK));
        // One over a quarter of the next block that does not fit gets a
        // block of its own, and the current block's tail stays in use.
        let (_, reserved) = alloc(MIN_BLOCK / 2 + 1);
        assert_eq!(reserved, MIN_BLOCK + MIN_BLOCK / 2 + ALIGN);
        let (e, reserved) = alloc(ALIGN);
        assert_eq!(
            (e - d, reserved),
            (MIN_BLOCK - 32 - ALIGN, MIN_BLOCK + MIN_BLOCK / 2 + ALIGN)
        );
        // A small request that does not fit starts a new block, twice as big.
        let (_, reserved) = alloc(1);
        assert_eq!(reserved, 3 * MIN_BLOCK + MIN_BLOCK / 2 + ALIGN);
    }

    #[test]
    fn blocks_double_up_to_max_block() {
        let (arena, mut bump) = Arena::new(0, None, true);
        let mut blocks = Vec::new();
        let mut reserved = 0;
        while blocks.iter().filter(|&&b| b == MAX_BLOCK).count() < 2 {
            let p = arena.alloc(&mut bump, 256);
            // SAFETY: `p` is 256 fresh bytes that this test owns.
            unsafe { p.as_ptr().write_bytes(0xCD, 256) };
            if arena.reserved() != reserved {
                blocks.push(arena.reserved() - reserved);
                reserved = arena.reserved();
            }
        }
        let mut expect = vec![MIN_BLOCK];
        while *expect.last().unwrap() < MAX_BLOCK {
            expect.push(expect.last().unwrap() * 2);
        }
        expect.push(MAX_BLOCK);
        assert_eq!(blocks, expect);
    }

    #[test]
    fn the_first_block_is_about_half_the_capacity() {
        assert_eq!(first_block(0), MIN_BLOCK);
        assert_eq!(first_block(MIN_BLOCK), MIN_BLOCK);
        assert_eq!(first_block(4 * MIN_BLOCK), 2 * MIN_BLOCK);
        assert_eq!(first_block(4 * MIN_BLOCK - 1), 2 * MIN_BLOCK);
        assert_eq!(first_block(2 * MAX_BLOCK), MAX_BLOCK);
        assert_eq!(first_block(usize::MAX), MAX_BLOCK);
    }

    /// Fills an arena of `capacity` from `pool` with `blocks` whole
    /// `MAX_BLOCK`s, writing `byte` over each, and returns their addresses.
    fn fill(pool: &Arc<BlockPool>, blocks: usize, byte: u8) -> (Arena, Vec<usize>) {
        let (arena, mut bump) = Arena::new(2 * MAX_BLOCK, Some(Arc::clone(pool)), true);
        let mut addrs = Vec::new();
        for _ in 0..blocks {
            // A quarter block at a time, so the blocks are ordinary ones.
            for i in 0..4 {
                let p = arena.alloc(&mut bump, MAX_BLOCK / 4);
                // SAFETY: `p` is a quarter block of fresh bytes this test owns.
                unsafe { p.as_ptr().write_bytes(byte, MAX_BLOCK / 4) };
                if i == 0 {
                    addrs.push(p.as_ptr() as usize);
                }
            }
        }
        assert_eq!(arena.reserved(), blocks * MAX_BLOCK);
        (arena, addrs)
    }

    #[test]
    fn a_pool_hands_the_blocks_of_a_dropped_arena_to_the_next_up_to_its_bound() {
        let pool = BlockPool::new(2 * MAX_BLOCK + MAX_BLOCK / 2);
        let (first, first_blocks) = fill(&pool, 3, 0x11);
        assert_eq!(pool.pooled_bytes(), 0);
        drop(first);
        // Bounded at two blocks: the third was freed.
        assert_eq!(pool.pooled_bytes(), 2 * MAX_BLOCK);

        let (second, second_blocks) = fill(&pool, 3, 0x22);
        assert_eq!(pool.pooled_bytes(), 0);
        let reused = second_blocks
            .iter()
            .filter(|b| first_blocks.contains(b))
            .count();
        assert!(reused >= 2, "{reused} of the 2 pooled blocks reused");
        drop(second);
        assert_eq!(pool.pooled_bytes(), 2 * MAX_BLOCK);

        // Arenas without a pool, or with a pool of no room, free their blocks.
        let (arena, mut bump) = Arena::new(2 * MAX_BLOCK, None, true);
        arena.alloc(&mut bump, 8);
        drop(arena);
        let empty = BlockPool::new(MAX_BLOCK - 1);
        drop(fill(&empty, 1, 0x33));
        assert_eq!(empty.pooled_bytes(), 0);
        // Dropping the pool frees what it holds (Miri reports a leak if not).
        drop(pool);
    }

    /// An arena left to ordinary pages frees its blocks: the pool keeps
    /// only huge-page ones (where there are huge pages), but still lends
    /// them to such an arena.
    #[test]
    fn blocks_on_ordinary_pages_never_reach_the_pool() {
        let pool = BlockPool::new(4 * MAX_BLOCK);
        let (arena, mut bump) = Arena::new(2 * MAX_BLOCK, Some(Arc::clone(&pool)), false);
        for _ in 0..8 {
            arena.alloc(&mut bump, MAX_BLOCK / 4);
        }
        drop(arena);
        let kept = if HUGE_PAGES { 0 } else { 2 * MAX_BLOCK };
        assert_eq!(pool.pooled_bytes(), kept);

        let (pooled, _) = fill(&pool, 2, 0x55);
        drop(pooled);
        assert_eq!(pool.pooled_bytes(), 2 * MAX_BLOCK);
        let (arena, mut bump) = Arena::new(2 * MAX_BLOCK, Some(Arc::clone(&pool)), false);
        for _ in 0..8 {
            arena.alloc(&mut bump, MAX_BLOCK / 4);
        }
        assert_eq!(pool.pooled_bytes(), 0, "the pool's blocks are lent");
        drop(arena);
        assert_eq!(pool.pooled_bytes(), 2 * MAX_BLOCK, "and come back");
    }

    #[test]
    fn prefill_fills_the_pool_up_to_its_bound() {
        let pool = BlockPool::new(3 * MAX_BLOCK);
        pool.prefill(MAX_BLOCK + 1);
        assert_eq!(pool.pooled_bytes(), 2 * MAX_BLOCK);
        pool.prefill(MAX_BLOCK);
        assert_eq!(pool.pooled_bytes(), 2 * MAX_BLOCK, "already enough");
        pool.prefill(usize::MAX);
        assert_eq!(pool.pooled_bytes(), 3 * MAX_BLOCK);
        // An arena takes the prefilled blocks, and gives them back.
        let (arena, _) = fill(&pool, 2, 0x44);
        assert_eq!(pool.pooled_bytes(), MAX_BLOCK);
        drop(arena);
        assert_eq!(pool.pooled_bytes(), 3 * MAX_BLOCK);
    }
}

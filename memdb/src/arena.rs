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
//! Blocks start at [`MIN_BLOCK`] bytes and double up to [`MAX_BLOCK`], 2 MiB,
//! so a small memtable stays small and a big one is mostly in 2 MiB blocks.
//! On Linux those are 2 MiB-aligned and marked `MADV_HUGEPAGE`: a search
//! touches a few dozen nodes scattered over the whole arena, and with 4 KiB
//! pages nearly every one of them is a TLB miss (on the benchmark's
//! 1 M-entry memtable, gets and inserts are 10-20% faster with huge pages).

#![allow(unsafe_code)]

use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

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
    // size, is not freed before `Drop`, and is freed there exactly once.
    // The mutex is taken only when a block is added and on drop; readers of
    // the skiplist never touch it.
    blocks: Mutex<Vec<Block>>,
    /// Sum of the sizes of `blocks`.
    reserved: AtomicUsize,
}

struct Block {
    ptr: NonNull<u8>,
    layout: Layout,
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
    /// An empty arena and the cursor to allocate from it.
    /// Allocates nothing until the first [`alloc`](Arena::alloc).
    pub(crate) fn new() -> (Arena, Bump) {
        let arena = Arena {
            blocks: Mutex::new(Vec::new()),
            reserved: AtomicUsize::new(0),
        };
        let bump = Bump {
            next: NonNull::dangling(),
            remaining: 0,
            block_size: MIN_BLOCK,
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
        let huge = size == MAX_BLOCK && HUGE_PAGES;
        let align = if huge { MAX_BLOCK } else { ALIGN };
        let layout = Layout::from_size_align(size, align).expect("memdb arena: block too large");
        // SAFETY: `layout` has a non-zero size: `alloc` rejects zero and
        // `MIN_BLOCK` is not zero.
        let ptr = unsafe { alloc::alloc(layout) };
        let ptr = NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        if huge {
            advise_huge_pages(ptr, size);
        }
        self.blocks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Block { ptr, layout });
        self.reserved.fetch_add(size, Ordering::Relaxed);
        ptr
    }
}

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
        for block in blocks.drain(..) {
            // SAFETY: the block came from `alloc::alloc(block.layout)` and is
            // freed only here, once, as `drain` removes it (the `blocks`
            // invariant). `&mut self` means no reference into it is alive:
            // every `Node<'a>` and slice handed out borrows the skiplist that
            // owns this arena.
            unsafe { alloc::dealloc(block.ptr.as_ptr(), block.layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_aligned_disjoint_and_big_ones_get_own_blocks() {
        let (arena, mut bump) = Arena::new();
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
        let (arena, mut bump) = Arena::new();
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
}

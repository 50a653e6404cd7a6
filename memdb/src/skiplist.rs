//! The skiplist: one writer, lock-free readers, nodes inline in an arena.
//!
//! This is LevelDB's `db/skiplist.h` with RocksDB's `InlineSkipList` node
//! layout: every node is one arena allocation holding its links, the user
//! key, the trailer and the value, and links are atomic pointers.
//! The writer links a finished node in with `Release` stores; readers follow
//! links with `Acquire` loads and never lock, wait or retry.
//! Nothing is ever unlinked, changed or freed while the list lives, so a
//! reader can keep a node (and slices into it) for as long as it borrows the
//! list.
//!
//! Two departures from LevelDB, both for speed on big lists, where a search
//! is a chain of cache misses: a node gets each extra level with probability
//! 1/2 (LevelDB: 1/4), and a search prefetches the node it will compare first
//! on the next level down while it compares on this one (see `descend`).
//!
//! # Node layout
//!
//! A node of height `h` is addressed by `p`, the address of its level-0 link.
//! Links of higher levels sit below `p`, so every field after them is at a
//! fixed offset whatever the height:
//!
//! ```text
//!  p - L*(h-1)   ...   p - L      p          p + L     p + L + 4   p + L + 8
//! +-------------+-----+----------+----------+---------+-----------+----------+---------+-------+
//! | link h-1    | ... | link 1   | link 0   | key_len | value_len | user key | trailer | value |
//! +-------------+-----+----------+----------+---------+-----------+----------+---------+-------+
//!   AtomicPtr (L bytes each; null = end)      u32       u32         key_len    u64 LE    value_len
//! ```
//!
//! `user key | trailer` is the internal key, contiguous, as in LevelDB.
//! The height is not stored: a search only ever reads the links of a node up
//! to the level through which it reached the node.
//!
//! # Invariants
//!
//! 1. **Immutable nodes.** After a node is published, only its links change
//!    (and only by the writer); its lengths, key, trailer and value never do.
//!    No node is unlinked or freed before the list drops.
//! 2. **Order.** Level 0 is sorted by internal key: user key ascending by the
//!    comparator, then trailer descending (newest first). Level `i + 1` is a
//!    sublist of level `i`. The head is first on every level and has
//!    [`MAX_HEIGHT`] links; it holds no entry.
//! 3. **Publication.** The writer writes all of a node, its links included,
//!    before the first `Release` store that makes it reachable (at level 0,
//!    then upwards). Readers load links with `Acquire`, so whoever reaches a
//!    node sees all of its bytes.
//! 4. **Heights.** A link at level `i` only ever points to a node of height
//!    greater than `i`, so a node reached through a level-`i` link has links
//!    `0..=i`.
//! 5. **One writer.** Only the holder of the list's [`Writer`] stores links,
//!    and it is not `Clone`. [`SkipList::insert`] is `unsafe` because the
//!    pairing of a writer with its list is the caller's to keep.

#![allow(unsafe_code)]

use std::cmp::Ordering;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{self, AtomicPtr, AtomicUsize};
use std::sync::Arc;

use crate::arena::{Arena, BlockPool, Bump};
use crate::comparator::Cmp;

/// The most levels a node can have. With branching 2, 24 levels keep searches
/// logarithmic up to about `2^24` (16 M) entries, LevelDB's bound too.
pub(crate) const MAX_HEIGHT: usize = 24;

/// Whether searches prefetch the node they will compare first on the next
/// level down (see [`SkipList::descend`]).
const PREFETCH: bool = cfg!(all(target_arch = "x86_64", not(miri)));

/// Bytes of one link.
const LINK: usize = size_of::<AtomicPtr<u8>>();
/// Bytes of the length fields: `key_len: u32` and `value_len: u32`.
const LENS: usize = 8;
/// Bytes of the internal-key trailer.
const TRAILER: usize = batch::TRAILER_LEN;

/// A sorted list of entries with one writer and any number of readers.
/// See the [module docs](self) for the layout and invariants.
pub(crate) struct SkipList {
    /// The head node, in the arena.
    // Invariant: a node of height `MAX_HEIGHT` with an empty key and value;
    // it never moves.
    head: NonNull<u8>,
    /// Levels in use: the height of the tallest node, at least 1.
    // Invariant: `1 <= max_height <= MAX_HEIGHT`. Only the writer stores it;
    // readers load it `Relaxed`: a reader that sees a new height before the
    // head's link at that level finds a null link and goes down, as in
    // LevelDB.
    max_height: AtomicUsize,
    cmp: Cmp,
    /// Owns every node. Declared last so that it drops last.
    arena: Arena,
}

// SAFETY: a `SkipList` owns its arena and nodes (the raw pointers point into
// its own arena), and `Cmp` is `Send + Sync` (`Comparator: Send + Sync`).
// Moving it to another thread moves that ownership; nothing is tied to a
// thread.
unsafe impl Send for SkipList {}
// SAFETY: through `&SkipList` a thread can only read: nodes are immutable
// once published (invariant 1) and were published with `Release` and are read
// after an `Acquire` (invariant 3), so those reads do not race; links and
// `max_height` are atomics. The only way to write through `&SkipList` is
// `insert`, which is `unsafe` and requires the unique `Writer` (invariant 5),
// so there is one writer, which only initialises fresh arena memory that no
// reader can reach yet and `Release`-stores links.
unsafe impl Sync for SkipList {}

/// The right to insert into one [`SkipList`], with the writer's state.
pub(crate) struct Writer {
    /// Cursor into the list's arena.
    bump: Bump,
    /// State of the xorshift64* generator that picks node heights. Seeded the
    /// same for every list, so heights are reproducible.
    // Invariant: not zero.
    rng: u64,
    /// Address of the list's head, to catch a writer used with another list.
    head: usize,
    /// The last node on each level (the head on a level with none), where
    /// an entry that sorts after every other one is linked without a
    /// search ([`SkipList::insert`] with `append`).
    // Invariant: `tail[level]` is the head or a node of this writer's list
    // whose link at `level` is null, and it is the last node of `level`:
    // only this writer links nodes in, and each insert that links a node at
    // the end of a level updates it.
    tail: [NonNull<u8>; MAX_HEIGHT],
}

// SAFETY: `tail` points into the writer's own list, which is `Send` and
// `Sync`; the pointers are only followed through that list (see
// `SkipList::insert`), never by the writer alone.
unsafe impl Send for Writer {}

/// A handle to an entry of a [`SkipList`] that lives for `'a`.
#[derive(Clone, Copy)]
pub(crate) struct Node<'a> {
    /// Address of the node's level-0 link.
    // Invariant: a published node, or the head, of a list borrowed for `'a`
    // (so its bytes live and stay unchanged for `'a`), reached through an
    // `Acquire` load or created by this thread.
    ptr: NonNull<u8>,
    _list: PhantomData<&'a SkipList>,
}

// SAFETY: a `Node<'a>` is in effect a shared reference to immutable bytes and
// atomic links (invariants 1 and 3) that outlive `'a`, like `&'a [u8]` and
// `&'a AtomicPtr<u8>`, which are `Send` and `Sync`.
unsafe impl Send for Node<'_> {}
// SAFETY: as for `Send`.
unsafe impl Sync for Node<'_> {}

impl SkipList {
    /// An empty list ordered by `cmp`, and the one writer for it, with an
    /// arena sized for about `capacity` bytes and drawing on `pool`
    /// ([`Arena::new`] says what `huge_pages` does).
    pub(crate) fn new(
        cmp: Cmp,
        capacity: usize,
        pool: Option<Arc<BlockPool>>,
        huge_pages: bool,
    ) -> (SkipList, Writer) {
        let (arena, mut bump) = Arena::new(capacity, pool, huge_pages);
        let size = LINK * MAX_HEIGHT + LENS + TRAILER;
        let block = arena.alloc(&mut bump, size);
        // SAFETY: `block` is `size` fresh bytes that we own, aligned for
        // links and `u32`s. The head's level-0 link is at
        // `LINK * (MAX_HEIGHT - 1)`, its lengths follow and then the
        // 8 trailer bytes, all inside `size`.
        let head = unsafe {
            let head = block.add(LINK * (MAX_HEIGHT - 1));
            for level in 0..MAX_HEIGHT {
                link_ptr(head, level).write(AtomicPtr::new(ptr::null_mut()));
            }
            head.add(LINK).cast::<[u32; 2]>().write([0, 0]);
            head.add(LINK + LENS)
                .cast::<[u8; TRAILER]>()
                .write([0; TRAILER]);
            head
        };
        let list = SkipList {
            head,
            max_height: AtomicUsize::new(1),
            cmp,
            arena,
        };
        let writer = Writer {
            bump,
            rng: 0x9E37_79B9_7F4A_7C15,
            head: head.as_ptr() as usize,
            tail: [head; MAX_HEIGHT],
        };
        (list, writer)
    }

    /// The user-key comparator.
    pub(crate) fn cmp(&self) -> &Cmp {
        &self.cmp
    }

    /// Bytes the arena has taken from the allocator.
    pub(crate) fn reserved(&self) -> usize {
        self.arena.reserved()
    }

    /// Whether `node` sorts before the internal key `(user_key, trailer)`.
    #[inline]
    pub(crate) fn is_before(&self, node: Node<'_>, user_key: &[u8], trailer: u64) -> bool {
        match self.cmp.compare(node.user_key(), user_key) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => node.trailer() > trailer,
        }
    }

    /// The first entry, if any.
    pub(crate) fn first(&self) -> Option<Node<'_>> {
        self.head().next()
    }

    /// The last entry, if any.
    pub(crate) fn last(&self) -> Option<Node<'_>> {
        self.entry(self.descend(|_| true, None).0)
    }

    /// The first entry for which `before` is false.
    ///
    /// `before` must be true for a prefix of the list and false after it
    /// (for example "sorts before key k"); otherwise the answer is some entry
    /// but not a meaningful one.
    #[inline]
    pub(crate) fn find_first<'a>(&'a self, before: impl Fn(Node<'a>) -> bool) -> Option<Node<'a>> {
        // The successor that the search compared, not a fresh load of the
        // link: an entry inserted there since may be `before`.
        self.descend(before, None).1
    }

    /// The last entry for which `before` is true; `before` as in
    /// [`find_first`](SkipList::find_first).
    #[inline]
    pub(crate) fn find_last<'a>(&'a self, before: impl Fn(Node<'a>) -> bool) -> Option<Node<'a>> {
        self.entry(self.descend(before, None).0)
    }

    /// The entry just before `node` in the list, if any.
    ///
    /// An O(log n) search, as in LevelDB (nodes have no back links).
    /// With a comparator that is not a total order the search may miss
    /// `node`; then this returns `None`.
    pub(crate) fn prev<'a>(&'a self, node: Node<'a>) -> Option<Node<'a>> {
        let (user_key, trailer) = (node.user_key(), node.trailer());
        let mut x = self
            .descend(|n| self.is_before(n, user_key, trailer), None)
            .0;
        // Entries equal to `node` (a repeated sequence number) may sit
        // between `x` and `node`; walk to the one whose successor is `node`.
        loop {
            let next = self.node(x).next()?;
            if next.ptr == node.ptr {
                return self.entry(x);
            }
            x = next.ptr;
        }
    }

    /// Inserts the entry `(user_key, trailer) -> value`.
    ///
    /// An entry equal to an existing one goes before it, so the newer insert
    /// is found first.
    ///
    /// With `append`, it first compares the entry with the list's last one:
    /// an entry after it is linked behind the last node of each level with
    /// no search (RocksDB's hinted insert), so entries inserted in order cost
    /// one comparison each. Without it, that comparison (a likely cache miss
    /// under random keys) is skipped.
    ///
    /// # Safety
    ///
    /// `writer` must be the writer returned with this list by
    /// [`SkipList::new`]. (Its cursor allocates from this list's arena; with
    /// another list's writer, nodes would live in an arena that may be freed
    /// first, and two threads could insert at once.)
    ///
    /// # Panics
    ///
    /// If the key or the value is 4 GiB or longer.
    pub(crate) unsafe fn insert(
        &self,
        writer: &mut Writer,
        user_key: &[u8],
        trailer: u64,
        value: &[u8],
        append: bool,
    ) {
        debug_assert_eq!(
            writer.head,
            self.head.as_ptr() as usize,
            "memdb: writer of another list"
        );
        let key_len = u32::try_from(user_key.len()).expect("memdb: key of 4 GiB or more");
        let value_len = u32::try_from(value.len()).expect("memdb: value of 4 GiB or more");

        // Where the node goes on each level: after `prev[level]`. Levels above
        // the current height start from the head.
        let last = writer.tail[0];
        let mut prev = [self.head; MAX_HEIGHT];
        // `last` is the head or a node this writer linked (its invariant),
        // so a handle to it is valid for as long as the list is borrowed.
        if append && (last == self.head || self.is_before(self.node(last), user_key, trailer)) {
            // After every entry: on each level, after its last node, which
            // sorts before the entry (it is the last one or before it).
            prev = writer.tail;
        } else {
            self.descend(|n| self.is_before(n, user_key, trailer), Some(&mut prev));
        }

        let height = writer.random_height();
        // Only this writer stores `max_height` (invariant 5).
        if height > self.max_height.load(atomic::Ordering::Relaxed) {
            self.max_height.store(height, atomic::Ordering::Relaxed);
        }

        let size = LINK * height + LENS + user_key.len() + TRAILER + value.len();
        let block = self.arena.alloc(&mut writer.bump, size);
        // SAFETY: `block` is `size` fresh bytes of this list's arena (the
        // caller's promise about `writer`), aligned for links and `u32`s,
        // that no one else can reach yet. The node's level-0 link is at
        // `LINK * (height - 1)` from the start, so its links `0..height`,
        // the lengths, the key, the trailer and the value fill exactly
        // `size` bytes. Each `prev[level]` is the head or a node reached
        // through a link at `level` or above, so it has a link at `level`
        // (invariant 4), and the head lives as long as the list.
        unsafe {
            let node = block.add(LINK * (height - 1));
            for (level, &prev) in prev.iter().enumerate().take(height) {
                let next = (*link_ptr(prev, level)).load(atomic::Ordering::Relaxed);
                link_ptr(node, level).write(AtomicPtr::new(next));
                if next.is_null() {
                    // The new last node of `level` (`tail`'s invariant).
                    writer.tail[level] = node;
                }
            }
            node.add(LINK)
                .cast::<[u32; 2]>()
                .write([key_len, value_len]);
            let key = node.add(LINK + LENS).as_ptr();
            ptr::copy_nonoverlapping(user_key.as_ptr(), key, user_key.len());
            let after_key = key.add(user_key.len());
            after_key
                .cast::<[u8; TRAILER]>()
                .write(trailer.to_le_bytes());
            ptr::copy_nonoverlapping(value.as_ptr(), after_key.add(TRAILER), value.len());

            // Publish, level 0 first (invariant 3). A reader that meets the
            // node on level `i` also finds its links below `i` set.
            for (level, &prev) in prev.iter().enumerate().take(height) {
                (*link_ptr(prev, level)).store(node.as_ptr(), atomic::Ordering::Release);
            }
        }
    }

    /// Walks from the head down to level 0, and returns the last node (or
    /// the head) for which `before` holds, with the successor that was found
    /// not `before` (`None` at the end of the list). With `prev`, records for
    /// each level below the current height the last node on it for which
    /// `before` holds.
    ///
    /// Under concurrent inserts the two need not be adjacent any more when
    /// this returns, but each answer was true when it was read.
    #[inline]
    fn descend<'a>(
        &'a self,
        before: impl Fn(Node<'a>) -> bool,
        mut prev: Option<&mut [NonNull<u8>; MAX_HEIGHT]>,
    ) -> (NonNull<u8>, Option<Node<'a>>) {
        let mut x = self.head;
        let mut level = self.max_height.load(atomic::Ordering::Relaxed) - 1;
        // A node already found not `before` on a higher level: skip
        // comparing it again (RocksDB's `last_bigger`).
        let mut not_before: *mut u8 = ptr::null_mut();
        loop {
            // SAFETY: `x` is the head, which has `MAX_HEIGHT > level` links,
            // or a node reached through a link at `level` or above, so it has
            // a link at `level` (invariant 4).
            let next = unsafe { self.node(x).next_at(level) };
            // If `next` is not `before`, the search goes down here and
            // compares `x`'s successor one level down next: start fetching
            // it now, so that its cache miss overlaps `next`'s.
            if PREFETCH && level > 0 {
                // SAFETY: as above, `x` has links up to `level`.
                if let Some(below) = unsafe { self.node(x).next_at(level - 1) } {
                    prefetch(below.ptr);
                }
            }
            match next {
                Some(n) if n.ptr.as_ptr() != not_before && before(n) => x = n.ptr,
                _ => {
                    not_before = next.map_or(ptr::null_mut(), |n| n.ptr.as_ptr());
                    if let Some(prev) = prev.as_deref_mut() {
                        prev[level] = x;
                    }
                    if level == 0 {
                        return (x, next);
                    }
                    level -= 1;
                }
            }
        }
    }

    fn head(&self) -> Node<'_> {
        self.node(self.head)
    }

    /// The handle for `ptr`, the head or a node reached by this list's links.
    fn node(&self, ptr: NonNull<u8>) -> Node<'_> {
        Node {
            ptr,
            _list: PhantomData,
        }
    }

    /// The handle for `ptr`, or `None` for the head.
    fn entry(&self, ptr: NonNull<u8>) -> Option<Node<'_>> {
        (ptr != self.head).then(|| self.node(ptr))
    }
}

impl Writer {
    /// A node height: 1, then one more with probability 1/2 each, at most
    /// `MAX_HEIGHT`.
    ///
    /// LevelDB uses 1/4. With the prefetch in `descend`, 1/2 measured about
    /// 15% faster on a 1 M-entry list (most levels then take one step, onto
    /// the node that was prefetched) for 8 more bytes of links per entry.
    fn random_height(&mut self) -> usize {
        // xorshift64*; the state never becomes zero.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let random = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // Each low zero bit has probability 1/2.
        let height = 1 + random.trailing_zeros() as usize;
        height.min(MAX_HEIGHT)
    }
}

impl<'a> Node<'a> {
    /// The next entry on level 0, if any.
    #[inline]
    pub(crate) fn next(self) -> Option<Node<'a>> {
        // SAFETY: every node, and the head, has a level-0 link.
        unsafe { self.next_at(0) }
    }

    /// The user key.
    #[inline]
    pub(crate) fn user_key(self) -> &'a [u8] {
        let (key_len, _) = self.lens();
        // SAFETY: the node holds `key_len` initialised key bytes at
        // `LINK + LENS`, which never change and live for `'a` (invariants 1
        // and 3 and the `Node` invariant).
        unsafe { std::slice::from_raw_parts(self.ptr.add(LINK + LENS).as_ptr(), key_len) }
    }

    /// The user key followed by the 8-byte trailer.
    pub(crate) fn internal_key(self) -> &'a [u8] {
        let (key_len, _) = self.lens();
        // SAFETY: as in `user_key`; the trailer's 8 bytes follow the key.
        unsafe { std::slice::from_raw_parts(self.ptr.add(LINK + LENS).as_ptr(), key_len + TRAILER) }
    }

    /// The trailer, `(seq << 8) | kind`.
    #[inline]
    pub(crate) fn trailer(self) -> u64 {
        let (key_len, _) = self.lens();
        // SAFETY: the trailer's 8 initialised bytes follow the key, and live
        // unchanged for `'a` (as in `user_key`); `[u8; 8]` needs no alignment.
        let bytes = unsafe {
            self.ptr
                .add(LINK + LENS + key_len)
                .cast::<[u8; TRAILER]>()
                .read()
        };
        u64::from_le_bytes(bytes)
    }

    /// The value (empty for a delete).
    pub(crate) fn value(self) -> &'a [u8] {
        let (key_len, value_len) = self.lens();
        // SAFETY: the node holds `value_len` initialised value bytes after
        // the trailer, unchanged for `'a` (as in `user_key`).
        unsafe {
            std::slice::from_raw_parts(
                self.ptr.add(LINK + LENS + key_len + TRAILER).as_ptr(),
                value_len,
            )
        }
    }

    /// `(key_len, value_len)`.
    #[inline]
    fn lens(self) -> (usize, usize) {
        // SAFETY: the lengths are initialised, `u32`-aligned (nodes are
        // `ALIGN`-aligned and `LINK` is a multiple of 4), at `LINK`, and
        // unchanged for `'a` (invariants 1 and 3 and the `Node` invariant).
        let [key_len, value_len] = unsafe { self.ptr.add(LINK).cast::<[u32; 2]>().read() };
        (key_len as usize, value_len as usize)
    }

    /// The next node on `level`, if any.
    ///
    /// # Safety
    ///
    /// The node must have a link at `level`: be the head, or have been
    /// reached through a link at `level` or above (invariant 4).
    #[inline]
    unsafe fn next_at(self, level: usize) -> Option<Node<'a>> {
        // SAFETY: the caller promises the link exists; it was initialised
        // before the node was published and is only accessed atomically
        // after (invariant 3), and lives for `'a`.
        let next = unsafe { (*link_ptr(self.ptr, level)).load(atomic::Ordering::Acquire) };
        NonNull::new(next).map(|ptr| Node {
            ptr,
            _list: PhantomData,
        })
    }
}

/// Starts loading the cache line at `ptr` (a node's level-0 link, whose
/// line usually holds its lengths and key too).
#[inline(always)]
fn prefetch(ptr: NonNull<u8>) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 CPU has, and only
    // hints the cache: it never faults, reads into the program or writes.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            ptr.as_ptr().cast::<i8>(),
        )
    };
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = ptr;
}

/// The address of the link at `level` of the node at `node`.
///
/// # Safety
///
/// The node must have a link at `level` (it is within its allocation).
#[inline]
unsafe fn link_ptr(node: NonNull<u8>, level: usize) -> *mut AtomicPtr<u8> {
    // SAFETY: the caller promises that the link at `level`, `LINK * level`
    // bytes below `node`, is inside the node's allocation.
    unsafe { node.as_ptr().sub(LINK * level).cast::<AtomicPtr<u8>>() }
}

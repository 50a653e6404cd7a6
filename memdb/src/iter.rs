//! Iterators over a memtable: [`Iter`], a cursor over internal entries, and
//! [`Range`], a Rust iterator over the user keys visible at a snapshot.

use std::cmp::Ordering;
use std::fmt;
use std::iter::FusedIterator;
use std::ops::Bound;

use batch::{Kind, SeqNum};

use crate::comparator::trailer_kind;
use crate::skiplist::{Node, SkipList};
use batch::key::{lookup_trailer, trailer_seq};

/// A cursor over every entry of a memtable, in internal-key order: user key
/// ascending, then sequence number descending.
///
/// It shows every version, deletes included, with no snapshot filter except
/// in [`seek`](Iter::seek). It starts unpositioned ([`valid`](Iter::valid) is
/// false); position it with a `seek*` call.
///
/// Concurrent inserts never invalidate or corrupt it: an entry that the
/// cursor is on stays in place, and [`next`](Iter::next) and
/// [`prev`](Iter::prev) may or may not show entries inserted meanwhile.
/// Entries with a sequence number above the caller's snapshot are those.
///
/// [`next`](Iter::next) costs O(1); [`prev`](Iter::prev) is a search,
/// O(log n), as in LevelDB.
#[derive(Clone)]
pub struct Iter<'a> {
    list: &'a SkipList,
    /// The current entry; `None` when not positioned.
    node: Option<Node<'a>>,
}

/// An iterator over the user keys of a memtable in a range, as seen at a
/// snapshot: for each user key, its newest entry with a sequence number at or
/// below the snapshot, skipped if that entry is a delete.
///
/// From [`MemDb::range`](crate::MemDb::range). Yields `(user_key, value)`
/// in comparator order, from either end.
#[derive(Clone)]
pub struct Range<'a> {
    list: &'a SkipList,
    /// Trailer of the snapshot: entries at or after `(k, trailer)` have
    /// `seq <= snapshot`.
    trailer: u64,
    /// The first entry of the smallest user key that neither end has taken.
    // Invariant: `None` once the range is exhausted. Otherwise every entry
    // of the same user key before it has a sequence number above the
    // snapshot (it is the key's first entry, unless newer ones were inserted
    // since).
    front: Option<Node<'a>>,
    /// The largest user key that neither end has taken.
    // Invariant: `None` exactly when `front` is `None`; otherwise the user
    // key of an entry in the list, not below `front`'s.
    back: Option<&'a [u8]>,
}

impl<'a> Iter<'a> {
    pub(crate) fn new(list: &'a SkipList) -> Iter<'a> {
        Iter { list, node: None }
    }

    /// Whether the cursor is on an entry.
    pub fn valid(&self) -> bool {
        self.node.is_some()
    }

    /// Moves to the first entry, if any.
    pub fn seek_to_first(&mut self) {
        self.node = self.list.first();
    }

    /// Moves to the last entry, if any.
    pub fn seek_to_last(&mut self) {
        self.node = self.list.last();
    }

    /// Moves to the first entry at or after the internal key
    /// `(user_key, snapshot)`: the newest entry for `user_key` with a sequence
    /// number at or below `snapshot`, or else the first entry of the next user
    /// key.
    pub fn seek(&mut self, user_key: &[u8], snapshot: SeqNum) {
        let trailer = lookup_trailer(snapshot);
        self.node = self
            .list
            .find_first(|n| self.list.is_before(n, user_key, trailer));
    }

    /// Moves to the next entry; becomes invalid after the last.
    ///
    /// # Panics
    ///
    /// If the cursor is not [`valid`](Iter::valid).
    pub fn next(&mut self) {
        self.node = self.current().next();
    }

    /// Moves to the previous entry; becomes invalid before the first.
    ///
    /// # Panics
    ///
    /// If the cursor is not [`valid`](Iter::valid).
    pub fn prev(&mut self) {
        self.node = self.list.prev(self.current());
    }

    /// The internal key: user key followed by the 8-byte little-endian trailer
    /// `(seq << 8) | kind`.
    ///
    /// # Panics
    ///
    /// If the cursor is not [`valid`](Iter::valid).
    pub fn key(&self) -> &'a [u8] {
        self.current().internal_key()
    }

    /// The user key.
    ///
    /// # Panics
    ///
    /// If the cursor is not [`valid`](Iter::valid).
    pub fn user_key(&self) -> &'a [u8] {
        self.current().user_key()
    }

    /// The entry's sequence number.
    ///
    /// # Panics
    ///
    /// If the cursor is not [`valid`](Iter::valid).
    pub fn seq(&self) -> SeqNum {
        trailer_seq(self.current().trailer())
    }

    /// The entry's kind: a put or a delete.
    ///
    /// # Panics
    ///
    /// If the cursor is not [`valid`](Iter::valid).
    pub fn kind(&self) -> Kind {
        trailer_kind(self.current().trailer())
    }

    /// The value; empty for a delete.
    ///
    /// # Panics
    ///
    /// If the cursor is not [`valid`](Iter::valid).
    pub fn value(&self) -> &'a [u8] {
        self.current().value()
    }

    fn current(&self) -> Node<'a> {
        self.node.expect("memdb::Iter: cursor is not valid")
    }
}

impl fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Iter");
        if let Some(node) = self.node {
            s.field("user_key", &node.user_key())
                .field("seq", &trailer_seq(node.trailer()))
                .field("kind", &trailer_kind(node.trailer()));
        } else {
            s.field("valid", &false);
        }
        s.finish()
    }
}

impl<'a> Range<'a> {
    /// Resolves the bounds to entries now. Entries inserted later carry
    /// sequence numbers above any snapshot a reader may use, so they do not
    /// change the answer.
    pub(crate) fn new(
        list: &'a SkipList,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        snapshot: SeqNum,
    ) -> Range<'a> {
        let cmp = list.cmp();
        let front = match start {
            Bound::Included(k) => {
                list.find_first(|n| cmp.compare(n.user_key(), k) == Ordering::Less)
            }
            Bound::Excluded(k) => {
                list.find_first(|n| cmp.compare(n.user_key(), k) != Ordering::Greater)
            }
            Bound::Unbounded => list.first(),
        };
        let back = match end {
            Bound::Included(k) => {
                list.find_last(|n| cmp.compare(n.user_key(), k) != Ordering::Greater)
            }
            Bound::Excluded(k) => {
                list.find_last(|n| cmp.compare(n.user_key(), k) == Ordering::Less)
            }
            Bound::Unbounded => list.last(),
        };
        let mut range = Range {
            list,
            trailer: lookup_trailer(snapshot),
            front: None,
            back: None,
        };
        if let (Some(front), Some(back)) = (front, back) {
            if cmp.compare(front.user_key(), back.user_key()) != Ordering::Greater {
                range.front = Some(front);
                range.back = Some(back.user_key());
            }
        }
        range
    }

    fn finish(&mut self) {
        self.front = None;
        self.back = None;
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let cmp = self.list.cmp();
        loop {
            let (first, back) = (self.front?, self.back?);
            let user_key = first.user_key();
            let last_key = match cmp.compare(user_key, back) {
                Ordering::Less => false,
                Ordering::Equal => true,
                Ordering::Greater => {
                    self.finish();
                    return None;
                }
            };
            // Walk past every entry of `user_key`, keeping the newest visible
            // one: the first with `seq <= snapshot`.
            let mut visible = None;
            let mut node = Some(first);
            while let Some(n) = node {
                if cmp.compare(n.user_key(), user_key) != Ordering::Equal {
                    break;
                }
                if visible.is_none() && n.trailer() <= self.trailer {
                    visible = Some(n);
                }
                node = n.next();
            }
            self.front = node;
            if last_key || node.is_none() {
                self.finish();
            }
            if let Some(n) = visible {
                if trailer_kind(n.trailer()) == Kind::Put {
                    return Some((user_key, n.value()));
                }
            }
        }
    }
}

impl<'a> DoubleEndedIterator for Range<'a> {
    fn next_back(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let list = self.list;
        let cmp = list.cmp();
        loop {
            let (front, user_key) = (self.front?, self.back?);
            let front_key = front.user_key();
            if cmp.compare(user_key, front_key) == Ordering::Less {
                self.finish();
                return None;
            }
            // The newest entry of `user_key` visible at the snapshot, if any.
            let trailer = self.trailer;
            let visible = list
                .find_first(|n| list.is_before(n, user_key, trailer))
                .filter(|n| cmp.compare(n.user_key(), user_key) == Ordering::Equal);
            if cmp.compare(user_key, front_key) == Ordering::Equal {
                self.finish();
            } else {
                // The largest user key below this one. It exists: `front`'s
                // key is below.
                self.back = list
                    .find_last(|n| cmp.compare(n.user_key(), user_key) == Ordering::Less)
                    .map(|n| n.user_key());
                if self.back.is_none() {
                    // Only with a comparator that is not a total order.
                    self.finish();
                }
            }
            if let Some(n) = visible {
                if trailer_kind(n.trailer()) == Kind::Put {
                    return Some((user_key, n.value()));
                }
            }
        }
    }
}

impl FusedIterator for Range<'_> {}

impl fmt::Debug for Range<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Range")
            .field("snapshot", &trailer_seq(self.trailer))
            .field("front", &self.front.map(|n| n.user_key()))
            .field("back", &self.back)
            .finish()
    }
}

//! User-key comparators and the internal-key order built on them.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use batch::Kind;

/// A total order on user keys.
///
/// The memtable orders entries by user key with this comparator, then by
/// sequence number, newest first.
/// It must be a total order and must not change while a memtable uses it;
/// a comparator that breaks this gives wrong answers (entries not found,
/// iterators that stop early, and a [`Range`](crate::Range) walked backwards
/// may not end), but never memory unsafety.
///
/// [`name`](Comparator::name) identifies the order for on-disk metadata, as
/// LevelDB's `Comparator::Name` does: two comparators with the same name must
/// order keys the same way.
pub trait Comparator: Send + Sync {
    /// Compares two user keys.
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering;

    /// The order's name, for example `"leveldb.BytewiseComparator"`.
    fn name(&self) -> &str;
}

/// Lexicographic order on bytes, LevelDB's default comparator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Bytewise;

impl Comparator for Bytewise {
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        a.cmp(b)
    }

    /// `"leveldb.BytewiseComparator"`, LevelDB's name for this order.
    fn name(&self) -> &str {
        "leveldb.BytewiseComparator"
    }
}

/// The comparator a memtable uses, with bytewise special-cased so that the
/// search loop compares with an inlined `memcmp` rather than a virtual call.
#[derive(Clone)]
pub(crate) enum Cmp {
    Bytewise,
    Custom(Arc<dyn Comparator>),
}

impl Cmp {
    #[inline]
    pub(crate) fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        match self {
            Cmp::Bytewise => compare_bytewise(a, b),
            Cmp::Custom(cmp) => cmp.compare(a, b),
        }
    }

    pub(crate) fn comparator(&self) -> &dyn Comparator {
        match self {
            Cmp::Bytewise => &Bytewise,
            Cmp::Custom(cmp) => &**cmp,
        }
    }
}

/// `a.cmp(b)`, eight bytes at a time while both have eight left.
///
/// The same order as `<[u8]>::cmp`, but inlined: a search compares a few
/// dozen short keys, and most differ in their first word, so this saves a
/// call to `memcmp` per comparison.
#[inline]
pub(crate) fn compare_bytewise(a: &[u8], b: &[u8]) -> Ordering {
    let (mut a_rest, mut b_rest) = (a, b);
    while let (Some((a_word, a_tail)), Some((b_word, b_tail))) = (
        a_rest.split_first_chunk::<8>(),
        b_rest.split_first_chunk::<8>(),
    ) {
        // Big-endian, so that integer order is byte order.
        let (x, y) = (u64::from_be_bytes(*a_word), u64::from_be_bytes(*b_word));
        if x != y {
            return x.cmp(&y);
        }
        (a_rest, b_rest) = (a_tail, b_tail);
    }
    a_rest.cmp(b_rest)
}

impl fmt::Debug for Cmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.comparator().name())
    }
}

/// The kind in a trailer the memtable wrote.
pub(crate) fn trailer_kind(trailer: u64) -> Kind {
    batch::key::trailer_kind(trailer)
        .expect("memdb invariant: trailers are written by `apply` with a valid kind")
}

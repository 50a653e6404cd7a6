//! The internal key: how one version of a user key is named and ordered,
//! everywhere below the API (memtable, table files, manifest).
//!
//! ```text
//! internal_key := user_key | trailer: u64 LE     trailer := seq << 8 | kind
//! ```
//!
//! Internal keys sort by user key ascending, then by trailer descending:
//! the newest version of a key first, and at one sequence number a put
//! before a delete. This module is the one owner of that layout and order;
//! the memtable (`memdb`) and the table format (`tributary::table`) both
//! use it, so the two cannot drift apart. It is LevelDB's
//! `InternalKeyComparator` over the bytewise user order.
//!
//! ```
//! use batch::{key, Kind, SeqNum};
//!
//! let mut a = Vec::new();
//! key::encode(&mut a, b"k", SeqNum(7), Kind::Put);
//! let mut b = Vec::new();
//! key::encode(&mut b, b"k", SeqNum(3), Kind::Put);
//! // Newer versions sort first.
//! assert!(key::compare(&a, &b).is_lt());
//! assert_eq!(key::parse(&a), Some((&b"k"[..], SeqNum(7), Kind::Put)));
//! ```

use crate::format::{Kind, MAX_SEQ, TRAILER_LEN};
use crate::SeqNum;
use std::cmp::Ordering;

/// The trailer of an internal key: `(seq << 8) | kind`.
///
/// `seq` must be at most [`MAX_SEQ`]; the memtable and the table builder
/// only see sequence numbers the write path assigned, which never pass it.
#[inline]
pub fn trailer(seq: SeqNum, kind: Kind) -> u64 {
    debug_assert!(seq.0 <= MAX_SEQ);
    (seq.0 << 8) | kind as u64
}

/// The trailer that sorts first among the versions of a user key visible at
/// `snapshot`: entries at or after `(user_key, lookup_trailer(snapshot))`
/// have `seq <= snapshot`. A snapshot past [`MAX_SEQ`] sees everything.
#[inline]
pub fn lookup_trailer(snapshot: SeqNum) -> u64 {
    // `Put` is the largest kind, so it sorts first among the entries of one
    // sequence number.
    trailer(SeqNum(snapshot.0.min(MAX_SEQ)), Kind::Put)
}

/// The sequence number of a trailer.
#[inline]
pub fn trailer_seq(trailer: u64) -> SeqNum {
    SeqNum(trailer >> 8)
}

/// The kind of a trailer, or `None` if its low byte is no known kind (a
/// trailer read from a damaged or foreign file).
#[inline]
pub fn trailer_kind(trailer: u64) -> Option<Kind> {
    Kind::from_byte(trailer as u8)
}

/// Appends the internal key of `(user_key, seq, kind)` to `out`.
#[inline]
pub fn encode(out: &mut Vec<u8>, user_key: &[u8], seq: SeqNum, kind: Kind) {
    out.reserve(user_key.len() + TRAILER_LEN);
    out.extend_from_slice(user_key);
    out.extend_from_slice(&trailer(seq, kind).to_le_bytes());
}

/// The internal key `user_key | trailer`, built to seek by. With
/// [`lookup_trailer`] it sorts first among the versions of `user_key` a
/// snapshot sees; with trailer 0, at or after every version of it.
#[inline]
pub fn seek_target(user_key: &[u8], trailer: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    out.extend_from_slice(user_key);
    out.extend_from_slice(&trailer.to_le_bytes());
    out
}

/// The user key and trailer of an internal key, or `None` if it is shorter
/// than a trailer.
#[inline]
pub fn split(internal_key: &[u8]) -> Option<(&[u8], u64)> {
    let cut = internal_key.len().checked_sub(TRAILER_LEN)?;
    let (user_key, trailer) = internal_key.split_at(cut);
    let trailer = u64::from_le_bytes(trailer.try_into().expect("split at len - 8"));
    Some((user_key, trailer))
}

/// The user key, sequence number and kind of an internal key, or `None` if
/// it is too short or its kind is unknown.
#[inline]
pub fn parse(internal_key: &[u8]) -> Option<(&[u8], SeqNum, Kind)> {
    let (user_key, trailer) = split(internal_key)?;
    Some((user_key, trailer_seq(trailer), trailer_kind(trailer)?))
}

/// The user key of an internal key (all of it if shorter than a trailer,
/// so that a malformed key still orders somewhere rather than panicking).
#[inline]
pub fn user_key(internal_key: &[u8]) -> &[u8] {
    split(internal_key).map_or(internal_key, |(user_key, _)| user_key)
}

/// The internal-key order: user key ascending (bytewise), then trailer
/// descending.
///
/// Keys shorter than a trailer, which only damaged input holds, sort as
/// user keys with the largest trailer, so the order stays total.
#[inline]
pub fn compare(a: &[u8], b: &[u8]) -> Ordering {
    let (a_user, a_trailer) = split(a).unwrap_or((a, u64::MAX));
    let (b_user, b_trailer) = split(b).unwrap_or((b, u64::MAX));
    a_user.cmp(b_user).then_with(|| b_trailer.cmp(&a_trailer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ikey(user: &[u8], seq: u64, kind: Kind) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, user, SeqNum(seq), kind);
        out
    }

    #[test]
    fn order_is_user_key_then_newest_first() {
        let keys = [
            ikey(b"a", 9, Kind::Put),
            ikey(b"a", 9, Kind::Delete),
            ikey(b"a", 1, Kind::Put),
            ikey(b"ab", 100, Kind::Put),
            ikey(b"b", MAX_SEQ, Kind::Put),
            ikey(b"b", 0, Kind::Delete),
        ];
        for (i, x) in keys.iter().enumerate() {
            for (j, y) in keys.iter().enumerate() {
                assert_eq!(compare(x, y), i.cmp(&j), "{i} vs {j}");
            }
        }
    }

    #[test]
    fn lookup_trailer_sorts_before_visible_versions_only() {
        let seek = lookup_trailer(SeqNum(5));
        assert!(trailer(SeqNum(5), Kind::Put) <= seek);
        assert!(trailer(SeqNum(5), Kind::Delete) <= seek);
        assert!(trailer(SeqNum(6), Kind::Delete) > seek);
        assert_eq!(
            lookup_trailer(SeqNum(u64::MAX)),
            trailer(SeqNum(MAX_SEQ), Kind::Put)
        );
    }

    #[test]
    fn seek_targets_bracket_the_versions_of_a_user_key() {
        let versions = [
            ikey(b"k", MAX_SEQ, Kind::Put),
            ikey(b"k", 5, Kind::Delete),
            ikey(b"k", 0, Kind::Put),
        ];
        let first = seek_target(b"k", lookup_trailer(SeqNum(u64::MAX)));
        let last = seek_target(b"k", 0);
        for v in &versions {
            assert!(compare(&first, v).is_le());
            assert!(compare(&last, v).is_ge());
        }
        assert!(compare(&ikey(b"j", 0, Kind::Delete), &first).is_lt());
        assert!(compare(&last, &ikey(b"k\0", MAX_SEQ, Kind::Put)).is_lt());
        assert_eq!(parse(&first), Some((&b"k"[..], SeqNum(MAX_SEQ), Kind::Put)));
    }

    #[test]
    fn parse_rejects_short_keys_and_unknown_kinds() {
        assert_eq!(parse(b"short"), None);
        let mut bad = b"k".to_vec();
        bad.extend_from_slice(&((7 << 8) | 9u64).to_le_bytes());
        assert_eq!(parse(&bad), None);
        assert_eq!(user_key(&bad), b"k");
        assert_eq!(user_key(b"abc"), b"abc");
    }
}

//! Property tests: records written come back equal, in both modes and after
//! reopening for append; arbitrary bytes never make the reader panic or
//! invent data; and damage gives a subsequence (tolerant) or a prefix
//! (strict) of what was written.

mod common;

use common::{layout, read_all, write_journal, Outcome, Rng};
use journal::{Recovery, Writer, BLOCK_SIZE, HEADER_LEN};
use proptest::prelude::*;

/// Record lengths that stress block boundaries: tiny, around one chunk's
/// capacity, and several blocks.
fn record_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..8,
        0usize..2_000,
        (BLOCK_SIZE - 2 * HEADER_LEN - 8)..(BLOCK_SIZE + 8),
        0usize..100_000,
    ]
}

/// Records of those lengths with seeded contents (cheaper to generate and
/// shrink than byte vectors).
fn records() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (prop::collection::vec(record_len(), 0..12), any::<u64>()).prop_map(|(lens, seed)| {
        let mut rng = Rng::new(seed);
        lens.into_iter().map(|n| rng.bytes(n)).collect()
    })
}

/// Checks what must hold for any input: nothing invented, ranges in bounds
/// and in order, records no bigger than the input.
fn check_sane(input_len: usize, o: &Outcome) {
    let len = input_len as u64;
    let returned: usize = o.records.iter().map(Vec::len).sum();
    assert!(returned <= input_len);
    assert!(o.records.len() <= input_len / HEADER_LEN);
    let mut prev_end = 0;
    for d in &o.dropped {
        assert!(
            d.offset >= prev_end && d.len > 0 && d.offset + d.len <= len,
            "{d:?}"
        );
        assert!(!d.reason.is_torn_tail());
        prev_end = d.offset + d.len;
    }
    if let Some(t) = o.torn_tail {
        assert_eq!(t.offset + t.len, len, "{t:?}");
        assert!(t.reason.is_torn_tail());
        assert!(o.error.is_none());
    }
    for &(start, end) in &o.positions {
        assert!(start < end && end <= len);
    }
    assert!(o.offset <= len);
}

fn is_subsequence(sub: &[Vec<u8>], of: &[Vec<u8>]) -> bool {
    let mut it = of.iter();
    sub.iter().all(|s| it.any(|o| o == s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 64 } else { 256 }))]

    #[test]
    fn round_trip(records in records()) {
        let bytes = write_journal(&records);
        let (model, end) = layout(&records.iter().map(Vec::len).collect::<Vec<_>>());
        prop_assert_eq!(bytes.len() as u64, end);
        for mode in [Recovery::Strict, Recovery::Tolerant] {
            let o = read_all(&bytes, mode);
            prop_assert!(o.error.is_none());
            prop_assert_eq!(&o.records, &records);
            prop_assert_eq!(o.torn_tail, None);
            prop_assert!(o.dropped.is_empty());
            let want: Vec<(u64, u64)> = model.iter().map(|r| (r.start(), r.end())).collect();
            prop_assert_eq!(&o.positions, &want);
            prop_assert_eq!(o.offset, model.last().map_or(0, |r| r.end()));
        }
    }

    /// Writing some records, then going on with a new writer at the reader's
    /// offset, gives the same bytes as one writer.
    #[test]
    fn reopen_for_append(records in records(), split in any::<prop::sample::Index>()) {
        let k = split.index(records.len() + 1);
        let first = write_journal(&records[..k]);
        let offset = read_all(&first, Recovery::Strict).offset;
        prop_assert_eq!(offset, first.len() as u64);
        let mut w = Writer::with_offset(first, offset);
        for r in &records[k..] {
            w.append(r).unwrap();
        }
        w.flush().unwrap();
        prop_assert_eq!(w.into_inner(), write_journal(&records));
    }

    /// Arbitrary bytes: no panic, nothing out of bounds.
    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..3 * BLOCK_SIZE)) {
        for mode in [Recovery::Strict, Recovery::Tolerant] {
            check_sane(bytes.len(), &read_all(&bytes, mode));
        }
    }

    /// Real journals with flips, zeroed ranges and truncation: tolerant mode
    /// returns a subsequence of the records, strict mode a prefix.
    #[test]
    fn damaged_journal(records in records(), damage in prop::collection::vec((any::<u8>(), any::<prop::sample::Index>(), 1usize..5000), 1..4)) {
        let mut bytes = write_journal(&records);
        for (what, at, n) in damage {
            if bytes.is_empty() {
                break;
            }
            let at = at.index(bytes.len());
            match what % 3 {
                0 => bytes[at] ^= what | 1,
                1 => {
                    let end = (at + n).min(bytes.len());
                    bytes[at..end].fill(0);
                }
                _ => bytes.truncate(at),
            }
        }
        let t = read_all(&bytes, Recovery::Tolerant);
        check_sane(bytes.len(), &t);
        prop_assert!(t.error.is_none());
        prop_assert!(is_subsequence(&t.records, &records));
        let s = read_all(&bytes, Recovery::Strict);
        check_sane(bytes.len(), &s);
        prop_assert!(s.dropped.is_empty());
        prop_assert!(records.starts_with(&s.records));
        // Strict stops at the first damage; tolerant returns the same records
        // before it.
        prop_assert!(t.records.starts_with(&s.records));
    }
}

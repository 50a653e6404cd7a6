//! Table properties (TABLES.md T1): what is written is read back exactly,
//! by iteration both ways, by seek and by get; absent keys are filtered.

use super::*;
use batch::{key, Kind, SeqNum};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// An entry: (user key, seq, kind, value).
type Entry = (Vec<u8>, u64, Kind, Vec<u8>);
/// Entries in internal-key order.
type Entries = Vec<Entry>;

fn ikey(user: &[u8], seq: u64, kind: Kind) -> Vec<u8> {
    let mut out = Vec::new();
    key::encode(&mut out, user, SeqNum(seq), kind);
    out
}

fn build(entries: &[Entry]) -> Arc<Table> {
    build_with(entries, Compression::None)
}

fn build_with(entries: &[Entry], compression: Compression) -> Arc<Table> {
    let mut b = TableBuilder::with_options(
        Vec::new(),
        TableOptions {
            compression,
            ..TableOptions::default()
        },
    );
    for (user, seq, kind, value) in entries {
        b.add(&ikey(user, *seq, *kind), value).unwrap();
    }
    let (bytes, summary) = b.finish().unwrap();
    assert_eq!(summary.size, bytes.len() as u64);
    assert_eq!(summary.entries, entries.len() as u64);
    let first = &entries[0];
    let last = entries.last().unwrap();
    assert_eq!(summary.smallest, ikey(&first.0, first.1, first.2));
    assert_eq!(summary.largest, ikey(&last.0, last.1, last.2));
    assert!(summary.data_stored <= summary.data_raw);
    if compression == Compression::None {
        assert_eq!(summary.data_stored, summary.data_raw);
    }
    Arc::new(Table::open(bytes).unwrap())
}

/// Sorted, distinct entries from arbitrary (user key, seq) pairs.
fn normalize(raw: Vec<(Vec<u8>, u64, bool, Vec<u8>)>) -> Entries {
    let mut map = BTreeMap::new();
    for (user, seq, put, value) in raw {
        let kind = if put { Kind::Put } else { Kind::Delete };
        let value = if put { value } else { Vec::new() };
        // Newest first within a user key: order by (user, !seq).
        map.insert((user, std::cmp::Reverse(seq)), (kind, value));
    }
    map.into_iter()
        .map(|((user, std::cmp::Reverse(seq)), (kind, value))| (user, seq, kind, value))
        .collect()
}

fn user_key_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Short keys from a small alphabet: many shared prefixes and
        // versions of one key.
        proptest::collection::vec(0u8..4, 0..6),
        // Long keys: a two-byte varint length, and prefixes longer than 127.
        (proptest::collection::vec(any::<u8>(), 0..3), 120usize..300).prop_map(|(tail, n)| {
            let mut k = vec![b'L'; n];
            k.extend(tail);
            k
        }),
        proptest::collection::vec(any::<u8>(), 0..20),
    ]
}

fn entries_strategy() -> impl Strategy<Value = Entries> {
    // Random bytes (stored raw: they do not compress) and runs of one
    // byte (which every codec shrinks).
    let value = prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 0..400),
        (any::<u8>(), 0..400usize).prop_map(|(b, n)| vec![b; n]),
    ];
    proptest::collection::vec(
        (user_key_strategy(), 0u64..1000, any::<bool>(), value),
        1..600,
    )
    .prop_map(normalize)
}

fn compression_strategy() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::None),
        Just(Compression::Snappy),
        Just(Compression::Zstd)
    ]
}

fn check_table(entries: &[Entry], compression: Compression) {
    let table = build_with(entries, compression);
    let keys: Vec<Vec<u8>> = entries.iter().map(|(u, s, k, _)| ikey(u, *s, *k)).collect();

    // Forward and backward iteration give exactly the entries.
    let mut it = table.iter();
    it.seek_to_first();
    for (k, e) in keys.iter().zip(entries) {
        assert!(it.valid());
        assert_eq!(it.key(), &k[..]);
        assert_eq!(it.value(), &e.3[..]);
        it.next();
    }
    assert!(!it.valid() && it.error().is_none());
    it.seek_to_last();
    for k in keys.iter().rev() {
        assert_eq!(it.key(), &k[..]);
        it.prev();
    }
    assert!(!it.valid() && it.error().is_none());

    // Every key is found by seek, and a seek just past it lands on the next.
    for (i, k) in keys.iter().enumerate() {
        it.seek(k);
        assert_eq!(it.key(), &k[..]);
        let (user, trailer) = key::split(k).unwrap();
        if trailer > 0 {
            let mut past = user.to_vec();
            past.extend_from_slice(&(trailer - 1).to_le_bytes());
            it.seek(&past);
            match keys.get(i + 1) {
                Some(next) => assert_eq!(it.key(), &next[..]),
                None => assert!(!it.valid()),
            }
        }
    }

    // get: the newest version at or below each snapshot.
    for (user, seq, _, _) in entries {
        for snapshot in [*seq, seq + 1, seq.saturating_sub(1), u64::MAX] {
            let want = entries
                .iter()
                .find(|(u, s, _, _)| u == user && *s <= snapshot)
                .map(|(_, s, k, v)| (SeqNum(*s), *k, v.clone()));
            let got = table
                .get(user, SeqNum(snapshot))
                .unwrap()
                .map(|f| (f.seq, f.kind, f.value.into_owned()));
            assert_eq!(got, want, "user key {user:?} at {snapshot}");
        }
    }
    assert_eq!(table.verify_all().unwrap(), entries.len() as u64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn tables_read_back_exactly(
        entries in entries_strategy(),
        compression in compression_strategy(),
    ) {
        check_table(&entries, compression);
    }
}

#[test]
fn many_blocks_and_restarts_read_back() {
    // 20,000 entries: hundreds of data blocks, several filters per block
    // range boundary, and every restart position.
    let entries: Entries = (0..20_000u32)
        .map(|i| {
            let user = format!("user{:08}", i / 2).into_bytes();
            let kind = if i % 7 == 0 { Kind::Delete } else { Kind::Put };
            let value = if kind == Kind::Put {
                vec![i as u8; (i % 50) as usize]
            } else {
                Vec::new()
            };
            (user, u64::from(100_000 - i % 2), kind, value)
        })
        .collect();
    check_table(&entries, Compression::None);
    assert!(build(&entries).data_blocks() > 100);
    // Compressed, over a tenth of them (dozens of blocks): values of one
    // repeated byte, so every data block is stored compressed.
    let some = &entries[..2_000];
    let raw = build(some).len();
    for compression in [Compression::Snappy, Compression::Zstd] {
        check_table(some, compression);
        let table = build_with(some, compression);
        assert!(table.data_blocks() > 10);
        assert!(
            table.len() < raw * 3 / 4,
            "{compression}: {} of {raw}",
            table.len()
        );
    }
}

#[test]
fn absent_keys_are_filtered_about_one_percent_false_positives() {
    let entries: Entries = (0..10_000u32)
        .map(|i| (format!("k{i}").into_bytes(), 1, Kind::Put, b"v".to_vec()))
        .collect();
    let entries = normalize(
        entries
            .into_iter()
            .map(|(u, s, _, v)| (u, s, true, v))
            .collect(),
    );
    let table = build(&entries);
    assert!(table.has_filter());
    let probes = 100_000u32;
    let passed = (0..probes)
        .filter(|i| {
            let user = format!("absent{i}").into_bytes();
            let target = ikey(&user, batch::MAX_SEQ, Kind::Put);
            let block = table.find_block(&target);
            block < table.data_blocks()
                && !table.filtered_out(table.index[block].handle.offset, &user)
        })
        .count();
    let rate = passed as f64 / f64::from(probes);
    println!(
        "filter false-positive rate: {:.2}% of {probes} absent keys",
        rate * 100.0
    );
    assert!(rate < 0.02, "false-positive rate {rate}");
    for i in (0..probes).step_by(7) {
        assert_eq!(
            table
                .get(format!("absent{i}").as_bytes(), SeqNum(u64::MAX))
                .unwrap(),
            None
        );
    }
}

#[test]
fn empty_table_is_refused() {
    assert!(TableBuilder::new(Vec::new()).finish().is_err());
}

#[test]
fn unknown_block_type_is_unsupported() {
    let entries = normalize(vec![(b"a".to_vec(), 1, true, b"x".to_vec())]);
    let mut b = TableBuilder::new(Vec::new());
    for (u, s, k, v) in &entries {
        b.add(&ikey(u, *s, *k), v).unwrap();
    }
    let (mut bytes, _) = b.finish().unwrap();
    // The first data block: mark it type 3, with a matching checksum.
    let table = Table::open(bytes.clone()).unwrap();
    let contents = table.index[0].contents.clone();
    bytes[contents.end] = 3;
    let crc = format::block_checksum(&bytes[contents.clone()], 3);
    bytes[contents.end + 1..contents.end + 5].copy_from_slice(&crc.to_le_bytes());
    let table = Table::open(bytes).unwrap();
    let err = table.get(b"a", SeqNum(5)).unwrap_err();
    assert_eq!(err.kind, Corruption::Unsupported(3));
    assert_eq!(err.offset, 0);
}

/// A filter whose checksum holds but which rules out a key its block
/// holds reads as "absent" for that key: `verify_all` (what `check` runs)
/// reports it, though every data block checks out.
#[test]
fn a_filter_that_misses_a_key_fails_verification() {
    let entries = normalize(vec![(b"a".to_vec(), 1, true, b"x".to_vec())]);
    let table = build(&entries);
    let filter = match &table.filter {
        Some((_, reader::Contents::InFile(range))) => range.clone(),
        other => panic!("an uncompressed table's filter is read in place: {other:?}"),
    };
    let mut bytes = table.file().to_vec();
    // Clear the bits of filter 0 (everything before its probe count, the
    // byte before the offset array), then give the block a fresh checksum.
    let array_start = u32::from_le_bytes(bytes[filter.end - 5..filter.end - 1].try_into().unwrap());
    bytes[filter.start..filter.start + array_start as usize - 1].fill(0);
    let crc = format::block_checksum(&bytes[filter.clone()], format::NO_COMPRESSION);
    bytes[filter.end + 1..filter.end + 5].copy_from_slice(&crc.to_le_bytes());
    let table = Table::open(bytes).unwrap();
    assert_eq!(table.meta_damage(), None);
    assert_eq!(table.get(b"a", SeqNum(5)).unwrap().map(|f| f.seq), None);
    let err = table.verify_all().unwrap_err();
    assert_eq!(err.kind, Corruption::FilterMissesKey);
    assert_eq!(err.offset, filter.start as u64);
}

proptest! {
    /// `find_block`'s word search gives what a plain binary search over
    /// the separators gives, for keys sharing long prefixes, keys that are
    /// prefixes of others, the empty key, and targets inside and outside
    /// the table's common prefix.
    #[test]
    fn find_block_agrees_with_a_plain_search(
        suffixes in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..12), 1..300),
        probes in proptest::collection::vec((proptest::collection::vec(0u8..5, 0..14), 0u64..3, any::<bool>()), 1..60),
        prefix_len in 0usize..10,
    ) {
        let prefix = vec![b'p'; prefix_len];
        let mut users: Vec<Vec<u8>> = suffixes
            .into_iter()
            .map(|s| [prefix.as_slice(), &s].concat())
            .collect();
        users.sort();
        users.dedup();
        let mut b = TableBuilder::with_options(
            Vec::new(),
            TableOptions {
                block_size: 64,
                ..TableOptions::default()
            },
        );
        for (i, user) in users.iter().enumerate() {
            for seq in [2u64, 1] {
                b.add(&ikey(user, seq, Kind::Put), &[i as u8; 20]).unwrap();
            }
        }
        let table = Table::open(b.finish().unwrap().0).unwrap();
        for (tail, seq, under_prefix) in probes {
            let user = if under_prefix { [prefix.as_slice(), &tail].concat() } else { tail };
            let target = ikey(&user, seq, Kind::Put);
            let blocks: Vec<usize> = (0..table.data_blocks()).collect();
            let plain = blocks
                .partition_point(|&i| key::compare(table.separator(i), &target).is_lt());
            prop_assert_eq!(table.find_block(&target), plain, "target {:?}", user);
        }
    }
}

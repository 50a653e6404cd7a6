//! Unit tests, small enough for Miri (`cargo +nightly miri test -p
//! tributary-memdb --lib`). The model-based and stress tests are in `tests/`.

use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

use batch::{Batch, Kind, SeqNum, MAX_SEQ};

use crate::{Bytewise, Comparator, Lookup, MemDb};

/// A batch of puts (`Some(value)`) and deletes (`None`).
fn batch(records: &[(&str, Option<&str>)]) -> Batch {
    let mut b = Batch::new();
    for &(key, value) in records {
        match value {
            Some(value) => b.put(key.as_bytes(), value.as_bytes()),
            None => b.delete(key.as_bytes()),
        }
    }
    b
}

/// Every entry, forward, as `(user_key, seq, kind, value)`.
fn entries(memdb: &MemDb) -> Vec<(String, u64, Kind, String)> {
    let mut out = Vec::new();
    let mut it = memdb.iter();
    it.seek_to_first();
    while it.valid() {
        out.push(entry(&it));
        it.next();
    }
    out
}

/// Every entry, walked backward from the last (each step a search from
/// the top, through every level), in forward order.
fn entries_backward(memdb: &MemDb) -> Vec<(String, u64, Kind, String)> {
    let mut out = Vec::new();
    let mut it = memdb.iter();
    it.seek_to_last();
    while it.valid() {
        out.push(entry(&it));
        it.prev();
    }
    out.reverse();
    out
}

fn entry(it: &crate::Iter<'_>) -> (String, u64, Kind, String) {
    let user_key = String::from_utf8(it.user_key().to_vec()).unwrap();
    let value = String::from_utf8(it.value().to_vec()).unwrap();
    (user_key, it.seq().0, it.kind(), value)
}

fn range(memdb: &MemDb, start: Bound<&str>, end: Bound<&str>, snapshot: u64) -> Vec<String> {
    let bounds = (start.map(str::as_bytes), end.map(str::as_bytes));
    memdb
        .range(bounds, SeqNum(snapshot))
        .map(|(k, v)| {
            format!(
                "{}={}",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(v)
            )
        })
        .collect()
}

#[test]
fn empty_memdb() {
    let (memdb, inserter) = MemDb::new(100);
    assert_eq!(memdb.get(b"k", SeqNum(MAX_SEQ)), Lookup::Absent);
    assert!(memdb.is_empty());
    assert_eq!(
        (memdb.len(), memdb.used(), memdb.free(), memdb.capacity()),
        (0, 0, 100, 100)
    );
    assert!(entries(&memdb).is_empty());
    let mut it = memdb.iter();
    assert!(!it.valid());
    it.seek_to_last();
    assert!(!it.valid());
    it.seek(b"", SeqNum(0));
    assert!(!it.valid());
    assert_eq!(memdb.range(.., SeqNum(MAX_SEQ)).count(), 0);
    assert_eq!(memdb.range(.., SeqNum(MAX_SEQ)).next_back(), None);
    assert!(Arc::ptr_eq(inserter.memdb(), &memdb));
    assert_eq!(memdb.comparator().name(), "leveldb.BytewiseComparator");
}

#[test]
fn get_honours_snapshots_and_deletes() {
    let (memdb, mut inserter) = MemDb::new(1 << 20);
    inserter.apply(
        SeqNum(1),
        &batch(&[("k", Some("v1")), ("other", Some("o"))]),
    );
    inserter.apply(SeqNum(5), &batch(&[("k", Some("v5"))]));
    inserter.apply(SeqNum(7), &batch(&[("k", None)]));
    inserter.apply(SeqNum(9), &batch(&[("k", Some(""))]));
    let check =
        |snapshot: u64, expect: Lookup<'_>| assert_eq!(memdb.get(b"k", SeqNum(snapshot)), expect);
    check(0, Lookup::Absent);
    check(1, Lookup::Found(b"v1"));
    check(4, Lookup::Found(b"v1"));
    check(5, Lookup::Found(b"v5"));
    check(6, Lookup::Found(b"v5"));
    check(7, Lookup::Deleted);
    check(8, Lookup::Deleted);
    check(9, Lookup::Found(b""));
    check(MAX_SEQ, Lookup::Found(b""));
    check(u64::MAX, Lookup::Found(b""));
    assert_eq!(memdb.get(b"", SeqNum(9)), Lookup::Absent);
    assert_eq!(memdb.get(b"j", SeqNum(9)), Lookup::Absent);
    assert_eq!(memdb.get(b"kk", SeqNum(9)), Lookup::Absent);
    assert_eq!(memdb.get(b"other", SeqNum(1)), Lookup::Absent);
    assert_eq!(memdb.get(b"other", SeqNum(2)), Lookup::Found(b"o"));
}

#[test]
fn iter_orders_user_key_then_newest_first() {
    let (memdb, mut inserter) = MemDb::new(1 << 20);
    inserter.apply(
        SeqNum(10),
        &batch(&[("b", Some("b10")), ("a", Some("a11")), ("c", None)]),
    );
    inserter.apply(
        SeqNum(20),
        &batch(&[("b", None), ("", Some("e21")), ("b", Some("b22"))]),
    );
    let e = |k: &str, seq: u64, kind: Kind, v: &str| (k.to_string(), seq, kind, v.to_string());
    let forward = vec![
        e("", 21, Kind::Put, "e21"),
        e("a", 11, Kind::Put, "a11"),
        e("b", 22, Kind::Put, "b22"),
        e("b", 20, Kind::Delete, ""),
        e("b", 10, Kind::Put, "b10"),
        e("c", 12, Kind::Delete, ""),
    ];
    assert_eq!(entries(&memdb), forward);

    assert_eq!(entries_backward(&memdb), forward);
    let mut it = memdb.iter();

    // The internal key is the user key and the little-endian trailer.
    it.seek(b"b", SeqNum(21));
    assert_eq!(entry(&it), forward[3]);
    let mut key = b"b".to_vec();
    key.extend_from_slice(&((20u64 << 8) | Kind::Delete as u64).to_le_bytes());
    assert_eq!(it.key(), &key[..]);
    it.prev();
    assert_eq!(entry(&it), forward[2]);
    it.next();
    it.next();
    assert_eq!(entry(&it), forward[4]);

    let seek = |key: &str, snapshot: u64| {
        let mut it = memdb.iter();
        it.seek(key.as_bytes(), SeqNum(snapshot));
        it.valid().then(|| entry(&it))
    };
    assert_eq!(seek("b", MAX_SEQ), Some(forward[2].clone()));
    assert_eq!(seek("b", 22), Some(forward[2].clone()));
    assert_eq!(seek("b", 9), Some(forward[5].clone()));
    assert_eq!(seek("bb", 0), Some(forward[5].clone()));
    assert_eq!(seek("", 0), Some(forward[1].clone()));
    assert_eq!(seek("c", 11), None);
    assert_eq!(seek("d", MAX_SEQ), None);
}

#[test]
fn budget_counts_internal_len_exactly() {
    let (memdb, mut inserter) = MemDb::new(40);
    let b = batch(&[("key", Some("value")), ("k", None)]);
    inserter.apply(SeqNum(1), &b);
    assert_eq!(memdb.used(), b.internal_len());
    assert_eq!(memdb.used(), (3 + 5 + 8) + (1 + 8));
    assert_eq!(memdb.free(), 40 - 25);
    assert_eq!(memdb.len(), 2);
    // An empty batch changes nothing.
    inserter.apply(SeqNum(3), &Batch::new());
    assert_eq!((memdb.used(), memdb.len()), (25, 2));
    // Past the budget: accepted, and `free` saturates.
    let big = batch(&[("big", Some(&"x".repeat(100)))]);
    inserter.apply(SeqNum(3), &big);
    assert_eq!(memdb.used(), 25 + 111);
    assert_eq!(memdb.free(), 0);
    assert!(memdb.approximate_size() >= memdb.used());
}

#[test]
fn range_bounds_and_both_ends() {
    let (memdb, mut inserter) = MemDb::new(1 << 20);
    inserter.apply(
        SeqNum(1),
        &batch(&[
            ("a", Some("1")),
            ("b", Some("2")),
            ("c", Some("3")),
            ("d", Some("4")),
            ("e", Some("5")),
        ]),
    );
    // At seq 6: c deleted, b rewritten, f added.
    inserter.apply(
        SeqNum(6),
        &batch(&[("c", None), ("b", Some("2b")), ("f", Some("6"))]),
    );
    let all = ["a=1", "b=2b", "d=4", "e=5", "f=6"];
    assert_eq!(range(&memdb, Unbounded, Unbounded, 8), all);
    assert_eq!(
        range(&memdb, Unbounded, Unbounded, 5),
        ["a=1", "b=2", "c=3", "d=4", "e=5"]
    );
    assert_eq!(range(&memdb, Unbounded, Unbounded, 0), Vec::<String>::new());
    assert_eq!(
        range(&memdb, Included("b"), Excluded("e"), 8),
        ["b=2b", "d=4"]
    );
    assert_eq!(
        range(&memdb, Excluded("b"), Included("e"), 8),
        ["d=4", "e=5"]
    );
    assert_eq!(range(&memdb, Included("bb"), Included("dd"), 8), ["d=4"]);
    assert_eq!(
        range(&memdb, Excluded("a"), Excluded("b"), 8),
        Vec::<String>::new()
    );
    assert_eq!(
        range(&memdb, Included("c"), Included("c"), 8),
        Vec::<String>::new()
    );
    assert_eq!(range(&memdb, Included("c"), Included("c"), 5), ["c=3"]);
    assert_eq!(
        range(&memdb, Included("e"), Included("a"), 8),
        Vec::<String>::new()
    );
    assert_eq!(
        range(&memdb, Included("g"), Unbounded, 8),
        Vec::<String>::new()
    );
    assert_eq!(
        range(&memdb, Unbounded, Excluded("a"), 8),
        Vec::<String>::new()
    );

    // A pair of `Bound<&[u8]>` is how bounded ranges are written.
    let (b, d): (&[u8], &[u8]) = (b"b", b"d");
    assert_eq!(
        memdb.range((Included(b), Included(d)), SeqNum(8)).count(),
        2
    );
    assert_eq!(memdb.range((Unbounded, Excluded(b)), SeqNum(8)).count(), 1);

    // Backwards, and from both ends at once without overlap.
    let mut rev: Vec<_> = memdb.range(.., SeqNum(8)).rev().map(|(k, _)| k).collect();
    rev.reverse();
    assert_eq!(rev, [b"a", b"b", b"d", b"e", b"f"]);
    let mut r = memdb.range(.., SeqNum(8));
    assert_eq!(r.next().unwrap().0, b"a");
    assert_eq!(r.next_back().unwrap().0, b"f");
    assert_eq!(r.next_back().unwrap().0, b"e");
    assert_eq!(r.next().unwrap().0, b"b");
    assert_eq!(r.next().unwrap().0, b"d");
    assert_eq!(r.next_back(), None);
    assert_eq!(r.next(), None);
    let mut r = memdb.range(.., SeqNum(8));
    assert_eq!(r.next_back().unwrap().0, b"f");
    assert_eq!(r.by_ref().count(), 4);
}

struct Reverse;

impl Comparator for Reverse {
    fn compare(&self, a: &[u8], b: &[u8]) -> std::cmp::Ordering {
        b.cmp(a)
    }

    fn name(&self) -> &str {
        "test.Reverse"
    }
}

#[test]
fn custom_comparator_orders_everything() {
    let (memdb, mut inserter) = MemDb::with_comparator(1 << 20, Arc::new(Reverse));
    assert_eq!(memdb.comparator().name(), "test.Reverse");
    inserter.apply(
        SeqNum(1),
        &batch(&[("a", Some("1")), ("c", Some("3")), ("b", Some("2"))]),
    );
    inserter.apply(SeqNum(4), &batch(&[("b", None), ("a", Some("1a"))]));
    let keys: Vec<_> = entries(&memdb).into_iter().map(|e| (e.0, e.1)).collect();
    let expect = [("c", 2), ("b", 4), ("b", 3), ("a", 5), ("a", 1)];
    assert_eq!(keys, expect.map(|(k, s)| (k.to_string(), s)));
    assert_eq!(memdb.get(b"b", SeqNum(3)), Lookup::Found(b"2"));
    assert_eq!(memdb.get(b"b", SeqNum(4)), Lookup::Deleted);
    assert_eq!(range(&memdb, Unbounded, Unbounded, 5), ["c=3", "a=1a"]);
    assert_eq!(
        range(&memdb, Included("c"), Excluded("a"), 3),
        ["c=3", "b=2"]
    );
    let back: Vec<_> = memdb.range(.., SeqNum(5)).rev().map(|(k, _)| k).collect();
    assert_eq!(back, [b"a", b"c"]);
    assert_eq!(Bytewise.compare(b"a", b"b"), std::cmp::Ordering::Less);
}

#[test]
fn repeated_sequence_numbers_keep_both_newest_insert_first() {
    let (memdb, mut inserter) = MemDb::new(1 << 20);
    inserter.apply(SeqNum(5), &batch(&[("k", Some("first"))]));
    inserter.apply(SeqNum(5), &batch(&[("k", Some("second"))]));
    inserter.apply(SeqNum(5), &batch(&[("k", Some("third"))]));
    assert_eq!(memdb.get(b"k", SeqNum(5)), Lookup::Found(b"third"));
    let mut it = memdb.iter();
    it.seek_to_last();
    let mut values = Vec::new();
    while it.valid() {
        values.push(it.value());
        it.prev();
    }
    assert_eq!(values, [&b"first"[..], b"second", b"third"]);
}

#[test]
fn big_and_many_entries_cross_blocks() {
    let (memdb, mut inserter) = MemDb::new(1 << 20);
    let big = vec![7u8; crate::arena::MAX_BLOCK / 2 + 1];
    let n = if cfg!(miri) { 60 } else { 2000 };
    let mut seq = 1;
    for i in 0..n {
        let mut b = Batch::new();
        let key = format!("key{:05}", (i * 7919) % n);
        if i % 97 == 0 {
            b.put(key.as_bytes(), &big);
        } else {
            b.put(key.as_bytes(), key.as_bytes());
        }
        inserter.apply(SeqNum(seq), &b);
        seq += 1;
    }
    assert_eq!(memdb.len(), n);
    let got: Vec<_> = memdb.range(.., SeqNum(seq)).collect();
    assert_eq!(got.len(), n);
    for (i, (key, value)) in got.iter().enumerate() {
        assert_eq!(*key, format!("key{i:05}").as_bytes());
        assert!(*value == *key || *value == &big[..]);
    }
    assert!(memdb.approximate_size() >= memdb.used());
}

/// One inserter and two readers. Every value is its key followed by the
/// sequence number, so a torn or misplaced entry shows; every get at a
/// published sequence number must see exactly the last write at or below it.
#[test]
fn readers_during_inserts_see_consistent_entries() {
    const KEYS: u64 = 16;
    let n_batches: u64 = if cfg!(miri) { 40 } else { 2000 };
    let (memdb, mut inserter) = MemDb::new(1 << 20);
    let published = Arc::new(AtomicU64::new(0));
    // Batch `i` (sequence number `i + 1`) writes key `i % KEYS`, deleting it
    // every third time.
    let key = |k: u64| format!("key{k:02}").into_bytes();
    let value = |k: u64, seq: u64| [key(k), seq.to_le_bytes().to_vec()].concat();
    let expected = move |k: u64, snapshot: u64| -> Option<Option<u64>> {
        // The last batch `i` with `i % KEYS == k` and `i + 1 <= snapshot`.
        let i = snapshot.checked_sub(1 + k)? / KEYS * KEYS + k;
        Some((i % 3 != 2).then_some(i + 1))
    };

    std::thread::scope(|s| {
        for reader in 0..2u64 {
            let (memdb, published) = (&memdb, &published);
            s.spawn(move || {
                let mut round = reader;
                loop {
                    let snapshot = published.load(AtomicOrdering::Acquire);
                    let k = round % KEYS;
                    round += 1;
                    let got = match memdb.get(&key(k), SeqNum(snapshot)) {
                        Lookup::Found(v) => {
                            Some(Some(u64::from_le_bytes(v[5..].try_into().unwrap())))
                        }
                        Lookup::Deleted => Some(None),
                        Lookup::Absent => None,
                    };
                    assert_eq!(got, expected(k, snapshot), "key {k} at {snapshot}");
                    let mut last: Option<&[u8]> = None;
                    for (key, v) in memdb.range(.., SeqNum(snapshot)) {
                        assert!(last < Some(key), "unsorted");
                        assert_eq!(&v[..5], key, "torn entry");
                        last = Some(key);
                    }
                    if snapshot == n_batches {
                        break;
                    }
                }
            });
        }
        for i in 0..n_batches {
            let k = i % KEYS;
            let mut b = Batch::new();
            if i % 3 == 2 {
                b.delete(key(k));
            } else {
                b.put(key(k), value(k, i + 1));
            }
            inserter.apply(SeqNum(i + 1), &b);
            published.store(i + 1, AtomicOrdering::Release);
        }
    });
    assert_eq!(memdb.len() as u64, n_batches);
}

#[test]
fn inlined_bytewise_compare_matches_slice_order() {
    // Bytes where signedness or word boundaries would show.
    const ALPHABET: [u8; 5] = [0, 1, 0x7f, 0x80, 0xff];
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut random_key = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let len = (rng % 20) as usize;
        (0..len)
            .map(|i| ALPHABET[(rng >> (3 * i + 8)) as usize % 5])
            .collect::<Vec<u8>>()
    };
    let n = if cfg!(miri) { 300 } else { 20_000 };
    for _ in 0..n {
        let (a, b) = (random_key(), random_key());
        assert_eq!(
            crate::comparator::compare_bytewise(&a, &b),
            a.cmp(&b),
            "{a:?} {b:?}"
        );
        let mut c = a.clone();
        c.push(0);
        assert_eq!(
            crate::comparator::compare_bytewise(&a, &c),
            std::cmp::Ordering::Less
        );
        assert_eq!(
            crate::comparator::compare_bytewise(&c, &c),
            std::cmp::Ordering::Equal
        );
    }
}

#[test]
fn memdb_is_send_sync_and_inserter_is_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<MemDb>();
    send_sync::<crate::Iter<'_>>();
    send_sync::<crate::Range<'_>>();
    send::<crate::Inserter>();
}

/// Records inserted in order take the append path, and the list it builds
/// is the one ordinary inserts build: the same entries forward, backward
/// (each step back a search from the top, through every level) and by
/// lookup, whatever comes in between: an out-of-order insert, an equal
/// internal key, a batch applied after the last entry.
#[test]
fn inserts_in_order_build_the_same_list_as_ordinary_ones() {
    use batch::Record;
    let n = if cfg!(miri) { 40 } else { 3000 };
    let key = |i: usize| format!("k{i:05}");
    let (memdb, mut inserter) = MemDb::new(1 << 24);
    let (model, mut model_inserter) = MemDb::new(1 << 24);
    let mut seq = 1;
    let mut both = |record: Record<'_>, seq: u64, by_apply: bool| {
        let mut b = Batch::new();
        b.push(record);
        if by_apply {
            inserter.apply(SeqNum(seq), &b);
        } else {
            inserter.insert(SeqNum(seq), record);
        }
        model_inserter.apply(SeqNum(seq), &b);
    };
    for i in 0..n {
        // Ascending keys, each one's versions newest first: the append path.
        let (k, v) = (key(2 * i), format!("v{i}"));
        both(
            Record::Put {
                key: k.as_bytes(),
                value: v.as_bytes(),
            },
            seq + 1,
            false,
        );
        both(Record::Delete { key: k.as_bytes() }, seq, false);
        seq += 2;
        if i % 7 == 3 {
            // Before the last entry: an ordinary insert.
            let early = key(2 * (i / 2) + 1);
            both(
                Record::Put {
                    key: early.as_bytes(),
                    value: b"early",
                },
                seq,
                false,
            );
            seq += 1;
        }
    }
    // Equal to the last entry: an ordinary insert, found first.
    let last = key(2 * (n - 1));
    both(
        Record::Delete {
            key: last.as_bytes(),
        },
        seq - 1,
        false,
    );
    // A batch after the last entry, through `apply`, then appends again:
    // `apply` keeps the last node of each level too.
    let tail = key(2 * n);
    both(
        Record::Put {
            key: tail.as_bytes(),
            value: b"by apply",
        },
        seq,
        true,
    );
    seq += 1;
    for i in n + 1..n + 20 {
        both(
            Record::Put {
                key: key(2 * i).as_bytes(),
                value: b"after",
            },
            seq,
            false,
        );
        seq += 1;
    }

    let want = entries(&model);
    assert_eq!(entries(&memdb), want);
    assert_eq!((memdb.len(), memdb.used()), (model.len(), model.used()));
    assert_eq!(entries_backward(&memdb), want);
    for i in 0..2 * (n + 20) {
        let k = key(i);
        assert_eq!(
            memdb.get(k.as_bytes(), SeqNum(MAX_SEQ)),
            model.get(k.as_bytes(), SeqNum(MAX_SEQ)),
            "{k}"
        );
    }
}

//! Stress test: one inserter and three readers on one memtable.
//!
//! The inserter applies a fixed, seeded workload of batches and publishes the
//! last sequence number of each after `apply` returns, as the database does.
//! Readers pick up the published number as their snapshot and check that
//! - every get is exactly the last write of the key at or below the snapshot;
//! - a range walk (forward or backward) is strictly sorted, every value
//!   belongs to its key (it carries a checksum of the key) and is untorn, and
//!   is exactly the version visible at the snapshot;
//! - a raw cursor walk is in internal-key order and every entry is untorn.

use std::sync::atomic::{AtomicU64, Ordering};

use batch::{Batch, Kind, SeqNum};
use memdb::{Lookup, MemDb};

const N_KEYS: u64 = 500;
const N_READERS: u64 = 3;

/// splitmix64: the workload's random numbers.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The 16-byte user key of key number `k`.
fn user_key(k: u64) -> Vec<u8> {
    format!("{:016x}", mix(k)).into_bytes()
}

/// The value written at `seq` for `key`: the sequence number, a checksum of
/// the key, then `seq % 61` filler bytes of `seq as u8`.
fn value(key: &[u8], seq: u64) -> Vec<u8> {
    let mut v = seq.to_le_bytes().to_vec();
    v.extend_from_slice(&checksum(key).to_le_bytes());
    v.resize(16 + (seq % 61) as usize, seq as u8);
    v
}

fn checksum(key: &[u8]) -> u64 {
    key.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Checks that `v` is a whole value written for `key`, and returns its
/// sequence number.
fn check_value(key: &[u8], v: &[u8]) -> u64 {
    assert!(v.len() >= 16, "torn value for {key:?}");
    let seq = u64::from_le_bytes(v[..8].try_into().unwrap());
    assert_eq!(
        u64::from_le_bytes(v[8..16].try_into().unwrap()),
        checksum(key),
        "value of another key"
    );
    assert_eq!(v.len(), 16 + (seq % 61) as usize, "torn value");
    assert!(v[16..].iter().all(|&b| b == seq as u8), "torn value");
    seq
}

/// The workload: record `i` has sequence number `i + 1` and writes key
/// `keys[i]`, a put unless `deletes[i]`.
struct Workload {
    keys: Vec<u64>,
    deletes: Vec<bool>,
    /// For each key, the sequence numbers that wrote it, ascending.
    history: Vec<Vec<u64>>,
}

impl Workload {
    fn new(n_records: u64) -> Workload {
        let mut w = Workload {
            keys: Vec::new(),
            deletes: Vec::new(),
            history: vec![Vec::new(); N_KEYS as usize],
        };
        for i in 0..n_records {
            let r = mix(i ^ 0x5eed);
            let k = r % N_KEYS;
            w.keys.push(k);
            w.deletes.push(r >> 32 & 7 == 0);
            w.history[k as usize].push(i + 1);
        }
        w
    }

    /// The sequence number and kind of the last write of `k` at or below
    /// `snapshot`.
    fn visible(&self, k: u64, snapshot: u64) -> Option<(u64, Kind)> {
        let history = &self.history[k as usize];
        let idx = history.partition_point(|&s| s <= snapshot).checked_sub(1)?;
        let seq = history[idx];
        let kind = if self.deletes[seq as usize - 1] {
            Kind::Delete
        } else {
            Kind::Put
        };
        Some((seq, kind))
    }
}

#[test]
fn one_inserter_three_readers() {
    let n_records: u64 = 50_000;
    let workload = Workload::new(n_records);
    let (memdb, mut inserter) = MemDb::new(64 << 20);
    let published = AtomicU64::new(0);
    let key_of: Vec<Vec<u8>> = (0..N_KEYS).map(user_key).collect();
    let k_of = |key: &[u8]| {
        key_of
            .iter()
            .position(|k| k == key)
            .expect("a key never written") as u64
    };

    std::thread::scope(|s| {
        for reader in 0..N_READERS {
            let (memdb, published, workload, key_of) = (&memdb, &published, &workload, &key_of);
            s.spawn(move || {
                let mut rounds = 0u64;
                loop {
                    let snapshot = published.load(Ordering::Acquire);
                    rounds += 1;
                    // Gets.
                    for j in 0..50 {
                        let k = mix(rounds * 1000 + j + reader * 7) % N_KEYS;
                        let key = &key_of[k as usize];
                        match (
                            memdb.get(key, SeqNum(snapshot)),
                            workload.visible(k, snapshot),
                        ) {
                            (Lookup::Found(v), Some((seq, Kind::Put))) => {
                                assert_eq!(check_value(key, v), seq)
                            }
                            (Lookup::Deleted, Some((_, Kind::Delete))) | (Lookup::Absent, None) => {
                            }
                            (got, expect) => {
                                panic!("get {k} at {snapshot}: {got:?}, expected {expect:?}")
                            }
                        }
                    }
                    // A range walk, alternately forward and backward.
                    let mut seen: Vec<&[u8]> = Vec::new();
                    let mut range = memdb.range(.., SeqNum(snapshot));
                    let forward = rounds.is_multiple_of(2);
                    while let Some((key, v)) = if forward {
                        range.next()
                    } else {
                        range.next_back()
                    } {
                        let seq = check_value(key, v);
                        assert_eq!(
                            workload.visible(k_of(key), snapshot),
                            Some((seq, Kind::Put))
                        );
                        seen.push(key);
                    }
                    if !forward {
                        seen.reverse();
                    }
                    assert!(seen.windows(2).all(|w| w[0] < w[1]), "range not sorted");
                    let n_visible = (0..N_KEYS)
                        .filter(|&k| matches!(workload.visible(k, snapshot), Some((_, Kind::Put))))
                        .count();
                    assert_eq!(seen.len(), n_visible, "range at {snapshot} missed keys");
                    // Every few rounds, a raw walk of all entries.
                    if rounds.is_multiple_of(8) {
                        let mut it = memdb.iter();
                        it.seek_to_first();
                        let mut last: Option<(&[u8], u64)> = None;
                        while it.valid() {
                            let (key, seq) = (it.user_key(), it.seq().0);
                            if let Some((last_key, last_seq)) = last {
                                assert!(
                                    last_key < key || (last_key == key && last_seq > seq),
                                    "entries out of order"
                                );
                            }
                            if it.kind() == Kind::Put {
                                assert_eq!(check_value(key, it.value()), seq);
                            }
                            last = Some((key, seq));
                            it.next();
                        }
                    }
                    if snapshot == n_records {
                        break;
                    }
                }
            });
        }

        // The inserter: batches of 1 to 16 records.
        let mut next = 0u64;
        while next < n_records {
            let n = (mix(next) % 16 + 1).min(n_records - next);
            let mut b = Batch::new();
            for i in next..next + n {
                let key = &key_of[workload.keys[i as usize] as usize];
                if workload.deletes[i as usize] {
                    b.delete(key);
                } else {
                    b.put(key, value(key, i + 1));
                }
            }
            inserter.apply(SeqNum(next + 1), &b);
            next += n;
            published.store(next, Ordering::Release);
            // Let the readers run at many different snapshots.
            if next % 64 < n {
                std::thread::yield_now();
            }
        }
    });
    assert_eq!(memdb.len() as u64, n_records);
}

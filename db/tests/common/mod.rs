//! Shared pieces of the database tests: a seeded workload and the oracle.

#![allow(dead_code)] // Each test binary uses a different part.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tributary::fs::FaultFs;
use tributary::{Batch, Db, Options, Record, SeqNum};

/// splitmix64, for seeded workloads.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Options over a fault file system with a small write buffer, so that a
/// short workload rotates through several journals.
pub fn options(fs: &FaultFs, write_buffer_size: usize) -> Options {
    Options {
        write_buffer_size,
        fs: Arc::new(fs.clone()),
        ..Options::default()
    }
}

/// A seeded batch of 1 to 4 puts and deletes over `n_keys` keys.
pub fn random_batch(rng: &mut u64, n_keys: u64, max_value: usize) -> Batch {
    let mut b = Batch::new();
    let n = 1 + splitmix64(rng) % 4;
    for _ in 0..n {
        let key = format!("key{:05}", splitmix64(rng) % n_keys);
        if splitmix64(rng).is_multiple_of(5) {
            b.delete(key.as_bytes());
        } else {
            let len = (splitmix64(rng) as usize) % max_value;
            let fill = (splitmix64(rng) % 26) as u8 + b'a';
            b.put(key.as_bytes(), &vec![fill; len]);
        }
    }
    b
}

/// One acknowledged write.
#[derive(Debug, Clone)]
pub struct Ack {
    pub seq: SeqNum,
    pub batch: Batch,
    pub sync: bool,
    /// The file system's mutation count when the write returned: a crash at
    /// or after this point comes after the acknowledgement.
    pub at_mutation: u64,
}

/// The history of acknowledged writes, by sequence number.
pub struct Oracle {
    /// Acks sorted by sequence number; the sequence numbers are dense.
    pub acks: Vec<Ack>,
}

impl Oracle {
    pub fn new(mut acks: Vec<Ack>) -> Oracle {
        acks.sort_by_key(|a| a.seq);
        let mut next = 1;
        for a in &acks {
            assert_eq!(a.seq.0, next, "acknowledged sequence numbers are dense");
            next += a.batch.len() as u64;
        }
        Oracle { acks }
    }

    /// The last sequence number of each batch, in order.
    pub fn boundaries(&self) -> Vec<u64> {
        self.acks
            .iter()
            .map(|a| a.seq.0 + a.batch.len() as u64 - 1)
            .collect()
    }

    /// The state after every batch ending at or below `last_seq`.
    pub fn state_at(&self, last_seq: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut state = BTreeMap::new();
        for a in &self.acks {
            if a.seq.0 > last_seq {
                break;
            }
            apply(&mut state, &a.batch);
        }
        state
    }

    /// The highest sequence number acknowledged with sync before a crash at
    /// mutation `crash_at` (everything done strictly before it survives).
    pub fn synced_before(&self, crash_at: u64) -> u64 {
        self.acks
            .iter()
            .filter(|a| a.sync && a.at_mutation <= crash_at)
            .map(|a| a.seq.0 + a.batch.len() as u64 - 1)
            .max()
            .unwrap_or(0)
    }
}

pub fn apply(state: &mut BTreeMap<Vec<u8>, Vec<u8>>, batch: &Batch) {
    for r in batch.records() {
        match r {
            Record::Put { key, value } => {
                state.insert(key.to_vec(), value.to_vec());
            }
            Record::Delete { key } => {
                state.remove(key);
            }
        }
    }
}

/// Everything in the database, by a full scan.
pub fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.iter().collect()
}

/// Bytes from hex digits; whitespace separates fields for reading.
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The directory all fault-file-system tests use.
pub fn dir() -> &'static Path {
    Path::new("/db")
}

//! Bloom filters over the user keys of frozen memtables.
//!
//! Until frozen memtables are flushed to tables, a read may have to look in
//! many of them (one per rotation since compaction), newest first. A filter
//! built by the background thread after a memtable is frozen answers "certainly not here" for almost every
//! memtable that does not hold the key, so a get costs a few hash probes per
//! frozen memtable plus one or two skiplist searches, instead of a search in
//! every one. (Profile: `MemDb::get` was 65% of `readrandom` with 30 frozen
//! memtables.)
//!
//! Ten bits per key and seven probes give about 1% false positives.

use crate::tuning::{BITS_PER_KEY, PROBES};
use memdb::MemDb;

/// A Bloom filter over a set of user keys.
#[derive(Debug)]
pub(crate) struct KeyFilter {
    /// Invariant: `bits.len() * 64` is the filter's size in bits, at least 64.
    bits: Vec<u64>,
}

impl KeyFilter {
    /// A filter over every user key of `memdb`, which must receive no more
    /// writes.
    pub fn build(memdb: &MemDb) -> KeyFilter {
        let n_words = (memdb.len() * BITS_PER_KEY).div_ceil(64).max(1);
        let mut filter = KeyFilter {
            bits: vec![0; n_words],
        };
        let mut it = memdb.iter();
        it.seek_to_first();
        let mut previous: Option<&[u8]> = None;
        while it.valid() {
            let key = it.user_key();
            // Versions of one key are adjacent: hash each key once.
            if previous != Some(key) {
                filter.insert(key);
                previous = Some(key);
            }
            it.next();
        }
        filter
    }

    fn insert(&mut self, key: &[u8]) {
        let n_bits = self.bits.len() as u64 * 64;
        for bit in probes(KeyHash::new(key), n_bits) {
            self.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    /// False only if the key hashed to `hash` is certainly not in the set.
    pub fn may_contain(&self, hash: KeyHash) -> bool {
        let n_bits = self.bits.len() as u64 * 64;
        probes(hash, n_bits).all(|bit| self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
}

/// A key's hash, computed once per read and probed in every filter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyHash(u64);

impl KeyHash {
    pub fn new(key: &[u8]) -> KeyHash {
        KeyHash(hash(key))
    }

    /// The 64-bit hash itself (the sorted run's index uses it too).
    pub fn value(self) -> u64 {
        self.0
    }
}

/// The bit positions of a key (double hashing over one 64-bit hash).
fn probes(hash: KeyHash, n_bits: u64) -> impl Iterator<Item = u64> {
    let h = hash.0;
    let delta = h.rotate_left(32) | 1;
    (0..PROBES).map(move |i| h.wrapping_add(u64::from(i).wrapping_mul(delta)) % n_bits)
}

/// A fast 64-bit hash of a short byte string (a multiply-xorshift mix of
/// 8-byte words); not for hostile input, only for spreading keys.
fn hash(key: &[u8]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15 ^ key.len() as u64;
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        h = mix(h ^ u64::from_le_bytes(word.try_into().unwrap()));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        h = mix(h ^ u64::from_le_bytes(buf));
    }
    mix(h)
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use batch::{Batch, SeqNum};

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let (memdb, mut inserter) = MemDb::new(1 << 20);
        let mut b = Batch::new();
        for i in 0..5000u32 {
            b.put(format!("key{i:08}").as_bytes(), b"v");
        }
        b.delete(b"key00000007");
        inserter.apply(SeqNum(1), &b);
        let filter = KeyFilter::build(&memdb);
        for i in 0..5000u32 {
            assert!(
                filter.may_contain(KeyHash::new(format!("key{i:08}").as_bytes())),
                "false negative {i}"
            );
        }
        let false_positives = (5000..105_000u32)
            .filter(|i| filter.may_contain(KeyHash::new(format!("key{i:08}").as_bytes())))
            .count();
        // About 1% expected; 3% leaves room for chance.
        assert!(
            false_positives < 3000,
            "{false_positives} false positives in 100,000"
        );
    }

    #[test]
    fn empty_memtable_filter_rejects_everything_it_can() {
        let (memdb, _inserter) = MemDb::new(1 << 16);
        let filter = KeyFilter::build(&memdb);
        assert!(!filter.may_contain(KeyHash::new(b"anything")));
        assert!(!filter.may_contain(KeyHash::new(b"")));
    }
}

//! The filter block: LevelDB's `filter.leveldb.BuiltinBloomFilter2`.
//!
//! ```text
//! filter_block := filter* | offset: u32 LE * n | array_start: u32 LE | base_lg: u8 (11)
//! bloom filter := bits | k: u8
//! ```
//!
//! Filter `i` covers the data blocks whose file offset lies in
//! `[i << 11, (i + 1) << 11)`, over the *user* keys of their entries (what
//! LevelDB's `InternalFilterPolicy` hands the Bloom policy). Bloom: 10 bits
//! per key, `k = 6` probes by double hashing of LevelDB's 32-bit `Hash`
//! with seed `0xbc9f1d34`.

/// The name the metaindex maps to the filter block's handle.
pub const FILTER_META_KEY: &[u8] = b"filter.leveldb.BuiltinBloomFilter2";
/// Bits of filter per key (LevelDB's `NewBloomFilterPolicy(10)`): about 1%
/// false positives.
const BITS_PER_KEY: usize = 10;
/// log2 of the file-offset range one filter covers.
const BASE_LG: u8 = 11;

/// LevelDB's `Hash` (util/hash.cc), a Murmur-like 32-bit hash.
pub fn leveldb_hash(data: &[u8], seed: u32) -> u32 {
    const M: u32 = 0xc6a4_a793;
    let mut h = seed ^ (data.len() as u32).wrapping_mul(M);
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        h = h.wrapping_add(u32::from_le_bytes(w.try_into().expect("4 bytes")));
        h = h.wrapping_mul(M);
        h ^= h >> 16;
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        for (i, &b) in rest.iter().enumerate().rev() {
            h = h.wrapping_add(u32::from(b) << (8 * i));
        }
        h = h.wrapping_mul(M);
        h ^= h >> 24;
    }
    h
}

fn bloom_hash(key: &[u8]) -> u32 {
    leveldb_hash(key, 0xbc9f_1d34)
}

/// Appends a Bloom filter over `keys` to `out`.
fn create_bloom(keys: &[&[u8]], out: &mut Vec<u8>) {
    // k = bits_per_key * ln 2, rounded down, as LevelDB computes it.
    let k = ((BITS_PER_KEY as f64 * 0.69) as usize).clamp(1, 30);
    let bits = (keys.len() * BITS_PER_KEY).max(64);
    let bytes = bits.div_ceil(8);
    let bits = bytes * 8;
    let start = out.len();
    out.resize(start + bytes, 0);
    out.push(k as u8);
    let array = &mut out[start..start + bytes];
    for key in keys {
        let mut h = bloom_hash(key);
        let delta = h.rotate_right(17);
        for _ in 0..k {
            let bit = h as usize % bits;
            array[bit / 8] |= 1 << (bit % 8);
            h = h.wrapping_add(delta);
        }
    }
}

/// Whether `key` may be in the set `filter` was built over. Anything
/// malformed answers "may match", so a damaged filter costs reads, never
/// answers.
fn bloom_may_match(key: &[u8], filter: &[u8]) -> bool {
    let len = filter.len();
    if len < 2 {
        return false;
    }
    let bits = (len - 1) * 8;
    let k = filter[len - 1];
    if k > 30 {
        // Reserved by LevelDB for future encodings.
        return true;
    }
    let mut h = bloom_hash(key);
    let delta = h.rotate_right(17);
    for _ in 0..k {
        let bit = h as usize % bits;
        if filter[bit / 8] & (1 << (bit % 8)) == 0 {
            return false;
        }
        h = h.wrapping_add(delta);
    }
    true
}

/// Builds the filter block beside the data blocks.
#[derive(Debug, Default)]
pub struct FilterBuilder {
    /// User keys of the data blocks since the last filter, concatenated.
    keys: Vec<u8>,
    starts: Vec<usize>,
    result: Vec<u8>,
    offsets: Vec<u32>,
}

impl FilterBuilder {
    /// A builder with no filter yet.
    pub fn new() -> FilterBuilder {
        FilterBuilder::default()
    }

    /// A data block starts at `block_offset`: emit the filters of the
    /// ranges before it.
    pub fn start_block(&mut self, block_offset: u64) {
        let index = block_offset >> BASE_LG;
        while index > self.offsets.len() as u64 {
            self.generate();
        }
    }

    /// Adds a user key of the current data block.
    pub fn add_key(&mut self, user_key: &[u8]) {
        self.starts.push(self.keys.len());
        self.keys.extend_from_slice(user_key);
    }

    fn generate(&mut self) {
        self.offsets.push(self.result.len() as u32);
        if self.starts.is_empty() {
            return;
        }
        let mut keys = Vec::with_capacity(self.starts.len());
        for (i, &s) in self.starts.iter().enumerate() {
            let end = self.starts.get(i + 1).copied().unwrap_or(self.keys.len());
            keys.push(&self.keys[s..end]);
        }
        create_bloom(&keys, &mut self.result);
        self.keys.clear();
        self.starts.clear();
    }

    /// The filter block's contents.
    pub fn finish(mut self) -> Vec<u8> {
        if !self.starts.is_empty() {
            self.generate();
        }
        let array_start = self.result.len() as u32;
        for o in &self.offsets {
            self.result.extend_from_slice(&o.to_le_bytes());
        }
        self.result.extend_from_slice(&array_start.to_le_bytes());
        self.result.push(BASE_LG);
        self.result
    }
}

/// A parsed filter block. It never fails to parse: a malformed one answers
/// "may match" for everything, as LevelDB's does.
#[derive(Debug, Clone, Copy)]
pub struct FilterReader<'a> {
    data: &'a [u8],
    /// Where the offset array starts; 0 with `num == 0` when malformed.
    array: usize,
    num: usize,
    base_lg: u8,
}

impl<'a> FilterReader<'a> {
    /// Reads a filter block.
    pub fn new(data: &'a [u8]) -> FilterReader<'a> {
        let malformed = FilterReader {
            data,
            array: 0,
            num: 0,
            base_lg: 0,
        };
        let n = data.len();
        if n < 5 {
            return malformed;
        }
        let base_lg = data[n - 1];
        let array = u32::from_le_bytes(data[n - 5..n - 1].try_into().expect("4 bytes")) as usize;
        if array > n - 5 || base_lg >= 64 {
            return malformed;
        }
        FilterReader {
            data,
            array,
            num: (n - 5 - array) / 4,
            base_lg,
        }
    }

    /// Whether the data block at `block_offset` may hold `user_key`.
    pub fn may_match(&self, block_offset: u64, user_key: &[u8]) -> bool {
        if self.num == 0 {
            return true;
        }
        let index = (block_offset >> self.base_lg) as usize;
        if index >= self.num {
            return true;
        }
        let offset = |i: usize| {
            let at = self.array + 4 * i;
            u32::from_le_bytes(self.data[at..at + 4].try_into().expect("4 bytes")) as usize
        };
        let start = offset(index);
        // The filter ends where the next begins, or at the offset array.
        let limit = if index + 1 < self.num {
            offset(index + 1)
        } else {
            self.array
        };
        if start == limit {
            // An empty filter covers no key.
            return false;
        }
        match self.data.get(start..limit) {
            Some(filter) if start < limit => bloom_may_match(user_key, filter),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_leveldb_test_vectors() {
        // util/hash_test.cc's vectors (signed-char regression included).
        assert_eq!(leveldb_hash(b"", 0xbc9f1d34), 0xbc9f1d34);
        assert_eq!(leveldb_hash(&[0x62], 0xbc9f1d34), 0xef1345c4);
        assert_eq!(leveldb_hash(&[0xc3, 0x97], 0xbc9f1d34), 0x5b663814);
        assert_eq!(leveldb_hash(&[0xe2, 0x99, 0xa5], 0xbc9f1d34), 0x323c078f);
        assert_eq!(
            leveldb_hash(&[0xe1, 0x80, 0xb9, 0x32], 0xbc9f1d34),
            0xed21633a
        );
    }

    #[test]
    fn filter_block_finds_its_keys_and_rejects_most_others() {
        let mut b = FilterBuilder::new();
        b.start_block(0);
        for i in 0..1000u32 {
            b.add_key(&i.to_le_bytes());
        }
        b.start_block(5000);
        b.add_key(b"late");
        let data = b.finish();
        let r = FilterReader::new(&data);
        for i in 0..1000u32 {
            assert!(r.may_match(0, &i.to_le_bytes()));
        }
        assert!(r.may_match(5000, b"late"));
        // The range [2048, 4096) got an empty filter.
        assert!(!r.may_match(3000, b"late"));
        let false_positives = (1000..11_000u32)
            .filter(|i| r.may_match(0, &i.to_le_bytes()))
            .count();
        assert!(false_positives < 300, "{false_positives} of 10000");
    }

    #[test]
    fn empty_filter_block_matches_leveldb() {
        // LevelDB's filter_block_test: an empty builder gives 0,0,0,0,11.
        assert_eq!(FilterBuilder::new().finish(), [0, 0, 0, 0, 11]);
        let r = FilterReader::new(&[0, 0, 0, 0, 11]);
        assert!(r.may_match(0, b"foo"));
        assert!(r.may_match(100000, b"foo"));
    }
}

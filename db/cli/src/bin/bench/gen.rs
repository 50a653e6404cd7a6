//! Keys and values, as BENCH.md defines them, so that every engine and every
//! harness writes the same bytes.
//!
//! - Keys: the index as zero-padded decimal, `key_size` bytes.
//! - Values: `value_size` bytes sliced from a 1 MiB buffer filled by
//!   splitmix64 (seed [`VALUE_SEED`]), so no engine can compress them; or,
//!   with `--compressible`, from db_bench's buffer of compressible values
//!   (INTEROP.md §6, [`compressible_buffer`]), which Snappy halves.
//! - Random indices: splitmix64 seeded `0x5eed0000 + thread`, mapped onto
//!   `[0, n)` by Lemire's multiply-shift (`(x * n) >> 64`), which needs no
//!   division and is uniform to within `n / 2^64`.

/// The length of the value buffer: 1 MiB.
pub const VALUE_BUFFER_LEN: usize = 1 << 20;

/// Seed of the value buffer's splitmix64 stream.
pub const VALUE_SEED: u64 = 0x7a1_0000;

/// Seed of thread `t`'s random key stream is `RANDOM_KEY_SEED + t`.
pub const RANDOM_KEY_SEED: u64 = 0x5eed_0000;

/// Seed of `readrandom`'s untimed prep writer.
pub const PREP_SEED: u64 = 0xf111_0000;

/// Value size of the `--big-batch` writer's records.
pub const BIG_VALUE_LEN: usize = 64 << 10;

/// Records in one `--big-batch` batch of `mib` MiB.
pub fn big_batch_records(mib: usize) -> usize {
    (mib << 20) / BIG_VALUE_LEN
}

/// The splitmix64 generator (Steele, Lea and Flood 2014), as in
/// `java.util.SplittableRandom` and the xoshiro authors' seeding code.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform index in `[0, n)`.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Writes `index` as zero-padded decimal into `key`, which must be long
/// enough (the argument parser checks the key space against `--key-size`).
#[inline]
pub fn write_key(key: &mut [u8], mut index: u64) {
    for byte in key.iter_mut().rev() {
        *byte = b'0' + (index % 10) as u8;
        index /= 10;
    }
    debug_assert_eq!(index, 0, "key too short for its index");
}

/// The 1 MiB buffer values are sliced from.
pub fn value_buffer() -> Vec<u8> {
    let mut rng = SplitMix64::new(VALUE_SEED);
    let mut buf = Vec::with_capacity(VALUE_BUFFER_LEN);
    while buf.len() < VALUE_BUFFER_LEN {
        buf.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    buf
}

/// The buffer values are sliced from: [`compressible_buffer`] if
/// `compressible`, else [`value_buffer`].
pub fn values_for(compressible: bool) -> Vec<u8> {
    if compressible {
        compressible_buffer()
    } else {
        value_buffer()
    }
}

/// Bytes of each piece of [`compressible_buffer`], and of the random run
/// repeated in it: db_bench's `--compression_ratio` 0.5 on 100-byte pieces.
const PIECE_LEN: usize = 100;
const PIECE_RUN: usize = 50;

/// Seed of [`compressible_buffer`]'s generator: db_bench's `Random rnd(301)`.
const COMPRESSIBLE_SEED: u32 = 301;

/// db_bench's `RandomGenerator` at its default `--compression_ratio 0.5`
/// (INTEROP.md §6), byte for byte: 100-byte pieces appended until the
/// buffer holds 1 MiB (so 1,048,600 bytes), each a random string of 50
/// printable bytes (`' ' + Uniform(95)`, LevelDB's `test::RandomString`)
/// repeated to 100 (`test::CompressibleString`). Snappy stores a piece in
/// about 50 bytes, so every engine's compression has something to do.
pub fn compressible_buffer() -> Vec<u8> {
    let mut rng = LevelDbRandom::new(COMPRESSIBLE_SEED);
    let mut buf = Vec::with_capacity(VALUE_BUFFER_LEN + PIECE_LEN);
    while buf.len() < VALUE_BUFFER_LEN {
        let run: Vec<u8> = (0..PIECE_RUN)
            .map(|_| b' ' + rng.uniform(95) as u8)
            .collect();
        buf.extend(run.iter().cycle().take(PIECE_LEN));
    }
    buf
}

/// LevelDB's `util/random.h` `Random` (Park and Miller's minimal standard
/// generator, `seed * 16807 mod 2^31-1`): the one db_bench's values come
/// from, so that [`compressible_buffer`] is db_bench's.
#[derive(Debug, Clone)]
struct LevelDbRandom {
    seed: u32,
}

impl LevelDbRandom {
    const M: u32 = 2_147_483_647;
    const A: u64 = 16_807;

    fn new(seed: u32) -> LevelDbRandom {
        let seed = seed & 0x7fff_ffff;
        // Both would make the sequence constant.
        let seed = if seed == 0 || seed == Self::M {
            1
        } else {
            seed
        };
        LevelDbRandom { seed }
    }

    fn next(&mut self) -> u32 {
        let product = u64::from(self.seed) * Self::A;
        // product mod 2^31-1, without a division: 2^31 = 1 (mod 2^31-1).
        let mut seed = ((product >> 31) + (product & u64::from(Self::M))) as u32;
        if seed > Self::M {
            seed -= Self::M;
        }
        self.seed = seed;
        seed
    }

    fn uniform(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// One thread's walk through the value buffer, as db_bench's
/// `RandomGenerator`: each value starts where the last ended, wrapping to the
/// start when the next would run past the end. Thread `t` starts at
/// `t * 4099 * value_size` (mod the buffer) so threads write different bytes.
#[derive(Debug)]
pub struct Values<'a> {
    buf: &'a [u8],
    len: usize,
    // Invariant: pos + len <= buf.len().
    pos: usize,
}

impl<'a> Values<'a> {
    pub fn new(buf: &'a [u8], len: usize, thread: usize) -> Values<'a> {
        assert!(len <= buf.len());
        let span = buf.len() - len + 1;
        Values {
            buf,
            len,
            pos: thread.wrapping_mul(4099).wrapping_mul(len.max(1)) % span,
        }
    }

    #[inline]
    pub fn next_value(&mut self) -> &'a [u8] {
        let value = &self.buf[self.pos..self.pos + self.len];
        self.pos += self.len;
        if self.pos + self.len > self.buf.len() {
            self.pos = 0;
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference() {
        // First outputs for seed 0 of the reference C implementation.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn keys_are_zero_padded() {
        let mut key = [0u8; 16];
        write_key(&mut key, 12345);
        assert_eq!(&key, b"0000000000012345");
    }

    #[test]
    fn compressible_values_repeat_their_first_half() {
        // The reference sequence of `Random(301)`, from LevelDB's formula.
        let mut rng = LevelDbRandom::new(301);
        assert_eq!(rng.next(), 301 * 16_807);
        let buf = compressible_buffer();
        assert_eq!(buf.len(), 1_048_600);
        assert_eq!(buf[0], b' ' + ((301 * 16_807) % 95) as u8);
        let mut values = Values::new(&buf, 100, 0);
        for _ in 0..20_000 {
            let v = values.next_value();
            assert_eq!(v[..50], v[50..]);
            assert!(v.iter().all(|b| (b' '..=b'~').contains(b)));
        }
        assert_ne!(buf[..50], buf[100..150]);
    }

    #[test]
    fn values_wrap_inside_the_buffer() {
        let buf = value_buffer();
        let mut values = Values::new(&buf, 100_000, 3);
        for _ in 0..100 {
            assert_eq!(values.next_value().len(), 100_000);
        }
    }
}

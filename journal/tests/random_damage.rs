//! Seeded random damage on a 1 MiB journal (RELIABILITY B3): truncations,
//! single-byte changes with random masks, and zeroed 4 KiB ranges.
//!
//! Run in release for the full counts (`cargo test --release -p
//! tributary-journal --test random_damage`); a debug build runs a tenth of
//! them.
//! Every case is read in both modes and checked against the layout:
//!
//! - tolerant mode returns only records that were written, whole, in order,
//!   each at its original offset; it returns every record that ends before
//!   the first damaged block and every record that starts after the last
//!   one; and it reports the damage (a dropped range or a torn tail) unless
//!   only trailer bytes changed;
//! - strict mode returns a prefix of the records, at least up to the first
//!   damaged block, then an error at or before the first changed byte, or a
//!   torn tail, or nothing more if only trailer bytes changed;
//! - a truncation gives exactly the records inside it, with a torn tail
//!   unless it cuts at a record end (or after a complete trailer).

mod common;

use common::{layout, read_all, write_journal, Outcome, RecordAt, Rng};
use journal::{ReadError, Recovery, BLOCK_SIZE};
use std::time::Instant;

const BLOCK: u64 = BLOCK_SIZE as u64;

struct Journal {
    bytes: Vec<u8>,
    records: Vec<Vec<u8>>,
    model: Vec<RecordAt>,
}

fn build() -> Journal {
    let mut rng = Rng::new(0xb3b3_0001);
    let mut records = Vec::new();
    let mut len = 0;
    while len < 1 << 20 {
        let room = BLOCK - len % BLOCK;
        let n = match rng.below(12) {
            0 => 0,
            1..=5 => rng.below(1_000),
            6..=8 => rng.below(40_000),
            9 => rng.below(100 * 1024 + 1),
            // Leave a trailer of 1 to 6 bytes (when the room allows).
            _ => room.saturating_sub(7 + 1 + rng.below(6)),
        };
        records.push(rng.bytes(n as usize));
        len = layout(&records.iter().map(Vec::len).collect::<Vec<_>>()).1;
    }
    let bytes = write_journal(&records);
    let (model, _) = layout(&records.iter().map(Vec::len).collect::<Vec<_>>());
    Journal {
        bytes,
        records,
        model,
    }
}

impl Journal {
    /// The index of the record that starts at `offset`.
    fn record_at(&self, offset: u64) -> Option<usize> {
        self.model
            .binary_search_by_key(&offset, RecordAt::start)
            .ok()
    }

    /// Whether byte `at` is in a block trailer.
    fn in_trailer(&self, at: u64) -> bool {
        let i = self.model.partition_point(|r| r.end() <= at);
        match self.model.get(i) {
            None => false,
            Some(r) => !r.chunks.iter().any(|c| c.start <= at && at < c.end),
        }
    }
}

/// Checks that `o.records` are original records, whole, in order, at their
/// offsets; returns their indices.
fn indices(j: &Journal, o: &Outcome, case: &str) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for (r, &(start, end)) in o.records.iter().zip(&o.positions) {
        let i = j
            .record_at(start)
            .unwrap_or_else(|| panic!("{case}: record at {start} is not one written"));
        assert_eq!(r, &j.records[i], "{case}: record {i} differs");
        assert_eq!(end, j.model[i].end(), "{case}");
        assert!(
            out.last().is_none_or(|&last| last < i),
            "{case}: out of order"
        );
        out.push(i);
    }
    out
}

/// Checks both modes on a journal whose bytes differ from the original in
/// `first..=last` (file offsets); returns whether damage was reported.
fn check_damaged(j: &Journal, damaged: &[u8], first: u64, last: u64, case: &str) -> bool {
    let only_trailer = (first..=last)
        .filter(|&at| (at as usize) < damaged.len() && damaged[at as usize] != j.bytes[at as usize])
        .all(|at| j.in_trailer(at));
    let before = j
        .model
        .partition_point(|r| r.end() <= first / BLOCK * BLOCK);
    let after_block = (last / BLOCK + 1) * BLOCK;
    let after = j.model.partition_point(|r| r.start() < after_block);

    let t = read_all(damaged, Recovery::Tolerant);
    assert!(t.error.is_none(), "{case}: {:?}", t.error);
    let got = indices(j, &t, case);
    for i in (0..before).chain(after..j.records.len()) {
        assert!(
            got.contains(&i),
            "{case}: tolerant lost undamaged record {i}"
        );
    }
    let reported = !t.dropped.is_empty() || t.torn_tail.is_some();
    assert_eq!(
        reported, !only_trailer,
        "{case}: {:?} {:?}",
        t.dropped, t.torn_tail
    );

    let s = read_all(damaged, Recovery::Strict);
    assert!(s.dropped.is_empty());
    let got = indices(j, &s, case);
    assert!(
        got.iter().enumerate().all(|(n, &i)| n == i),
        "{case}: strict not a prefix"
    );
    assert!(got.len() >= before, "{case}: strict lost undamaged record");
    match &s.error {
        Some(ReadError::Corrupt { offset, .. }) => {
            assert!(*offset <= last, "{case}: error at {offset}")
        }
        Some(e) => panic!("{case}: {e}"),
        None => assert_eq!(
            s.torn_tail.is_some(),
            !only_trailer,
            "{case}: strict missed the damage"
        ),
    }
    reported
}

#[test]
fn random_truncations_flips_and_zeroed_ranges() {
    let j = build();
    let len = j.bytes.len() as u64;
    let scale = if cfg!(debug_assertions) { 10 } else { 1 };
    let (n_truncations, n_flips, n_zeroed) = (5_000 / scale, 5_000 / scale, 1_000 / scale);
    eprintln!(
        "journal: {len} bytes, {} blocks, {} records",
        len.div_ceil(BLOCK),
        j.records.len()
    );
    let mut rng = Rng::new(0xb3b3_0002);
    let started = Instant::now();

    // Truncations, half of them near a block end or a record end.
    let mut n_torn = 0;
    for _ in 0..n_truncations {
        let cut = match rng.below(3) {
            0 => rng.below(len + 1),
            1 => (rng.below(len / BLOCK + 1) * BLOCK + rng.below(16)).saturating_sub(8),
            _ => j.model[rng.below(j.model.len() as u64) as usize].end() - rng.below(9),
        }
        .min(len);
        let case = format!("truncation to {cut}");
        let k = j.model.partition_point(|r| r.end() <= cut);
        let e = if k == 0 { 0 } else { j.model[k - 1].end() };
        let next_start = j.model.get(k).map_or(len, RecordAt::start);
        let clean = cut == e || (cut == next_start && cut % BLOCK == 0);
        for mode in [Recovery::Strict, Recovery::Tolerant] {
            let o = read_all(&j.bytes[..cut as usize], mode);
            assert!(o.error.is_none() && o.dropped.is_empty(), "{case}");
            assert_eq!(indices(&j, &o, &case), (0..k).collect::<Vec<_>>());
            assert_eq!(o.torn_tail.is_none(), clean, "{case}: {:?}", o.torn_tail);
            if let Some(t) = o.torn_tail {
                assert_eq!(t.offset + t.len, cut);
                assert!(t.offset >= e);
            }
            assert_eq!(o.offset, e);
        }
        n_torn += u64::from(!clean);
    }

    // Single-byte changes, one in ten of them in a block trailer.
    let trailer_bytes: Vec<u64> = (0..len).filter(|&at| j.in_trailer(at)).collect();
    assert!(!trailer_bytes.is_empty());
    let mut damaged = j.bytes.clone();
    let mut n_flips_reported = 0;
    for n in 0..n_flips {
        let at = if n % 10 == 0 {
            trailer_bytes[rng.below(trailer_bytes.len() as u64) as usize]
        } else {
            rng.below(len)
        };
        let mask = (1 + rng.below(255)) as u8;
        damaged[at as usize] ^= mask;
        let case = format!("xor {mask:#04x} at {at}");
        n_flips_reported += u64::from(check_damaged(&j, &damaged, at, at, &case));
        damaged[at as usize] ^= mask;
    }

    // Zeroed 4 KiB ranges, clipped at the end of the file.
    let mut n_zeroed_reported = 0;
    for _ in 0..n_zeroed {
        let start = rng.below(len);
        let end = (start + 4096).min(len);
        damaged[start as usize..end as usize].fill(0);
        let case = format!("zeros at {start}..{end}");
        n_zeroed_reported += u64::from(check_damaged(&j, &damaged, start, end - 1, &case));
        damaged[start as usize..end as usize]
            .copy_from_slice(&j.bytes[start as usize..end as usize]);
    }

    eprintln!(
        "{n_truncations} truncations ({n_torn} torn), {n_flips} flips ({n_flips_reported} reported), \
         {n_zeroed} zeroed ranges ({n_zeroed_reported} reported), both modes, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(n_torn > n_truncations / 2);
    // Only changes in trailers go unreported.
    assert!(n_flips_reported >= n_flips * 89 / 100 && n_flips_reported < n_flips);
    assert_eq!(n_zeroed_reported, n_zeroed);
}

//! Exhaustive table damage (TABLES.md T2): every truncation and every
//! single-byte change of a table of at least 64 KiB either gives a typed
//! [`TableError`] or reads back exactly the original entries. Never a
//! panic, never a wrong value, never a silently shorter scan. The same
//! over the same entries stored with Snappy and with zstd (each a table
//! of some 20 KiB, every block compressed).
//!
//! Runs in release (`cargo xtask ci`'s release-tests step).

use std::sync::Arc;
use tributary::table::{Compression, Table, TableBuilder, TableError, TableOptions};
use tributary::{Kind, SeqNum};

/// (internal key, value) in order.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn entries() -> Entries {
    let mut out = Vec::new();
    for i in 0..1500u32 {
        let user = format!("key{:06}", i * 3).into_bytes();
        // Some keys have two versions, some are deletes, some values are
        // empty or long.
        let versions: &[(u64, Kind)] = match i % 5 {
            0 => &[(20_000, Kind::Put), (10, Kind::Delete)],
            1 => &[(9_000, Kind::Delete)],
            _ => &[(5_000, Kind::Put)],
        };
        for &(seq, kind) in versions {
            let mut k = Vec::new();
            batch::key::encode(&mut k, &user, SeqNum(seq + u64::from(i)), kind);
            let value = match (kind, i % 4) {
                (Kind::Delete, _) | (_, 0) => Vec::new(),
                (_, 1) => vec![b'v'; 130],
                _ => format!("value-{i}").into_bytes(),
            };
            out.push((k, value));
        }
    }
    out
}

fn build(entries: &Entries, compression: Compression) -> Vec<u8> {
    let mut b = TableBuilder::with_options(
        Vec::new(),
        TableOptions {
            compression,
            ..TableOptions::default()
        },
    );
    for (k, v) in entries {
        b.add(k, v).unwrap();
    }
    b.finish().unwrap().0
}

/// Reads everything a database reads from a table: a forward scan, a
/// backward scan and a get of every key. `Err` if the table reported
/// damage anywhere; otherwise what it read must be the original.
fn read_all(bytes: Vec<u8>, original: &Entries) -> Result<(), TableError> {
    let table = Arc::new(Table::open(bytes)?);
    let mut it = table.iter();
    it.seek_to_first();
    let mut forward = Vec::new();
    while it.valid() {
        forward.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    if let Some(e) = it.error() {
        return Err(e.clone());
    }
    assert_eq!(
        &forward, original,
        "a damaged table read back different entries"
    );
    it.seek_to_last();
    let mut backward = 0;
    while it.valid() {
        backward += 1;
        it.prev();
    }
    if let Some(e) = it.error() {
        return Err(e.clone());
    }
    assert_eq!(backward, original.len());
    for (k, v) in original {
        let (user, seq, kind) = batch::key::parse(k).unwrap();
        let found = table
            .get(user, seq)?
            .expect("a key of the table must be found");
        assert_eq!((found.seq, found.kind, &*found.value), (seq, kind, &v[..]));
    }
    table.verify_all()?;
    Ok(())
}

#[test]
fn every_truncation_and_byte_flip_is_an_error_or_the_original() {
    let original = entries();
    let bytes = build(&original, Compression::None);
    assert!(
        bytes.len() >= 64 << 10,
        "table is only {} bytes",
        bytes.len()
    );
    damage_every_byte(bytes, &original);
}

#[test]
fn every_truncation_and_byte_flip_of_a_snappy_table_is_an_error_or_the_original() {
    let original = entries();
    let bytes = build(&original, Compression::Snappy);
    assert!(bytes.len() * 2 < build(&original, Compression::None).len());
    damage_every_byte(bytes, &original);
}

#[test]
fn every_truncation_and_byte_flip_of_a_zstd_table_is_an_error_or_the_original() {
    let original = entries();
    let bytes = build(&original, Compression::Zstd);
    assert!(bytes.len() * 2 < build(&original, Compression::None).len());
    damage_every_byte(bytes, &original);
}

/// Reads `bytes` cut at every length and with every byte changed (one
/// bit, and all bits): each must fail with a typed error or read back
/// `original` exactly.
fn damage_every_byte(bytes: Vec<u8>, original: &Entries) {
    read_all(bytes.clone(), original).expect("the undamaged table reads");

    let mut errors = 0u64;
    let mut intact = 0u64;
    let mut count = |r: Result<(), TableError>| match r {
        Ok(()) => intact += 1,
        Err(_) => errors += 1,
    };
    // Every offset in release (`cargo xtask ci`'s release-tests step); a
    // sample in debug builds, which are some 20 times slower.
    let stride = if cfg!(debug_assertions) { 61 } else { 1 };
    let mut truncations = 0;
    for len in (0..bytes.len()).step_by(stride) {
        count(read_all(bytes[..len].to_vec(), original));
        truncations += 1;
    }
    let mut changes = 0;
    // Two changes per byte: one bit, and all bits.
    for at in (0..bytes.len()).step_by(stride) {
        for flip in [0x01u8, 0xff] {
            let mut damaged = bytes.clone();
            damaged[at] ^= flip;
            count(read_all(damaged, original));
            changes += 1;
        }
    }
    println!(
        "table of {} bytes: {truncations} truncations and {changes} byte changes; \
         {errors} typed errors, {intact} read back exactly, 0 panics, 0 wrong values",
        bytes.len()
    );
    // Truncations always fail (the footer moves); a change survives only
    // where the format ignores it (the footer's padding).
    assert!(intact <= 2 * 40, "{intact} damaged tables read as intact");
}

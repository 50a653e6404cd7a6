//! Fuzz target: the table reader on arbitrary bytes.
//!
//! It must never panic or loop. Whatever it reads must be consistent: a
//! forward scan, a backward scan and a get of each key scanned agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use tributary::table::Table;

fuzz_target!(|data: &[u8]| {
    let Ok(table) = Table::open(data.to_vec()) else {
        return;
    };
    let table = Arc::new(table);
    let mut it = table.iter();
    it.seek_to_first();
    let mut forward = Vec::new();
    while it.valid() {
        forward.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    let forward_failed = it.error().is_some();
    it.seek_to_last();
    let mut backward = Vec::new();
    while it.valid() {
        backward.push(it.key().to_vec());
        it.prev();
    }
    if !forward_failed && it.error().is_none() {
        backward.reverse();
        let keys: Vec<_> = forward.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, backward, "forward and backward scans disagree");
        assert_eq!(table.verify_all().ok(), Some(forward.len() as u64));
    }
    for (k, _) in &forward {
        it.seek(k);
        if it.valid() {
            assert_eq!(it.key(), &k[..], "seek to a scanned key lands elsewhere");
        }
        if let Some((user, seq, _)) = batch::key::parse(k) {
            if let Ok(found) = table.get(user, seq) {
                assert!(found.is_some(), "a scanned key is not found by get");
            }
        }
    }
});

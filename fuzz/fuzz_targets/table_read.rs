//! Fuzz target: the table reader on arbitrary bytes.
//!
//! It must never panic or loop. A table that [`Table::verify_all`] accepts
//! must read consistently: a forward scan and a backward scan see every
//! entry and agree, and a seek or a get that answers finds each key
//! scanned. Reads do
//! not check a block's key order (only its checksum and each entry they
//! decode), so a table that fails `verify_all` only has to be read without
//! a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use tributary::table::Table;

fuzz_target!(|data: &[u8]| {
    let Ok(table) = Table::open(data.to_vec()) else {
        return;
    };
    let table = Arc::new(table);
    let verified = table.verify_all().ok();
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
    let backward_failed = it.error().is_some();
    if let Some(entries) = verified {
        assert!(!forward_failed && !backward_failed, "a verified table fails a scan");
        backward.reverse();
        let keys: Vec<_> = forward.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, backward, "forward and backward scans disagree");
        assert_eq!(entries, forward.len() as u64, "a scan misses entries");
    }
    for (k, _) in &forward {
        it.seek(k);
        if verified.is_some() && it.valid() {
            assert_eq!(it.key(), &k[..], "seek to a scanned key lands elsewhere");
        }
        if let Some((user, seq, _)) = batch::key::parse(k) {
            if let (Some(_), Ok(found)) = (verified, table.get(user, seq)) {
                assert!(found.is_some(), "a scanned key is not found by get");
            }
        }
    }
});

//! Fuzz target: `Batch::decode` on arbitrary bytes.
//!
//! It must never panic; a batch it accepts must re-encode to the same bytes
//! and iterate to exactly its header count of records whose `internal_len`
//! sums to the batch's.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = batch::Batch::decode(data) {
        assert_eq!(b.as_bytes(), data);
        let mut n = 0;
        let mut internal_len = 0;
        for record in b.records() {
            n += 1;
            internal_len += record.internal_len();
        }
        assert_eq!(n, b.len());
        assert_eq!(internal_len, b.internal_len());
    }
});

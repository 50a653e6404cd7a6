//! Fuzz target: the journal reader on arbitrary bytes, in both recovery
//! modes.
//!
//! It must never panic or loop; tolerant mode must return every record that
//! strict mode returns before strict mode stops, in the same order.
#![no_main]

use journal::{Reader, Recovery};
use libfuzzer_sys::fuzz_target;

fn read_all(data: &[u8], mode: Recovery) -> (Vec<Vec<u8>>, bool) {
    let mut reader = Reader::new(data, mode);
    let mut records = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(record)) => {
                assert!(record.len() <= data.len());
                records.push(record.to_vec());
            }
            Ok(None) => return (records, false),
            Err(_) => return (records, true),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (strict, _) = read_all(data, Recovery::Strict);
    let (tolerant, failed) = read_all(data, Recovery::Tolerant);
    assert!(!failed, "tolerant mode reads from memory and never fails");
    assert!(tolerant.len() >= strict.len());
    assert_eq!(&tolerant[..strict.len()], &strict[..]);
});

//! Fuzz target: a LevelDB manifest record (`VersionEdit`) decoded from
//! arbitrary bytes.
//!
//! It must never panic, and whatever it accepts must write back to a
//! record that decodes to the same fields and comparator.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary::version::leveldb::{decode_edit, encode_edit};

fuzz_target!(|data: &[u8]| {
    if let Ok(edit) = decode_edit(data) {
        let comparator = edit
            .comparator
            .as_deref()
            .and_then(|c| std::str::from_utf8(c).ok());
        let again = decode_edit(&encode_edit(comparator, &edit.fields))
            .expect("a decoded edit writes back to one that decodes");
        assert_eq!(again.fields, edit.fields);
        if comparator.is_some() {
            assert_eq!(again.comparator, edit.comparator);
        }
    }
});

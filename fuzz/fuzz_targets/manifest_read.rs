//! Fuzz target: manifest replay on arbitrary bytes.
//!
//! It must never panic or loop, and whatever it accepts must be a catalog
//! that its own full-state edit rebuilds exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary::version::{manifest, Catalog};

fuzz_target!(|data: &[u8]| {
    if let Ok(replayed) = manifest::replay(data) {
        assert!(replayed.good_len + replayed.torn == data.len() as u64);
        let mut rebuilt = Catalog::default();
        rebuilt
            .apply(&replayed.catalog.full_edit())
            .expect("a replayed catalog's full edit applies");
        assert_eq!(rebuilt, replayed.catalog);
    }
});

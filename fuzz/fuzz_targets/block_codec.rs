//! Fuzz target: block compression both ways.
//!
//! Decompressing arbitrary bytes as a Snappy or zstd block (or any other
//! type) must give bytes or a typed error, never a panic or an allocation
//! beyond the cap; compressing arbitrary bytes with each codec must give
//! back exactly those bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary::table::compress::{decompress, Compressor};
use tributary::table::Compression;

fuzz_target!(|data: &[u8]| {
    let Some((&block_type, stored)) = data.split_first() else {
        return;
    };
    // Types 1 and 2 most of the time, the rest now and then.
    let _ = decompress(block_type % 4, stored);
    for compression in [Compression::None, Compression::Snappy, Compression::Zstd] {
        let mut compressor = Compressor::new(compression);
        let (bytes, written_type) = compressor.compress(data);
        let bytes = bytes.to_vec();
        let back = match written_type {
            0 => bytes,
            t => decompress(t, &bytes).expect("a block just compressed decompresses"),
        };
        assert_eq!(back, data, "{compression} round trip");
    }
});

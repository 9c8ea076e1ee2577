//! Fuzz target: untrusted chunk-tree outboard files; see `custody_hash::fuzzing::tree`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| custody_hash::fuzzing::tree(data));

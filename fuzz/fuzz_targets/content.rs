//! Fuzz target: content hashes of untrusted MP4/TS files; see `custody_hash::fuzzing::content`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| custody_hash::fuzzing::content(data));

//! Fuzz target: see `custody_container::fuzzing::window`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| custody_container::fuzzing::window(data));

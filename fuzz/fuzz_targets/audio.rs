//! Fuzz target: see `custody_testkit::fuzz::audio`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| custody_testkit::fuzz::audio(data));

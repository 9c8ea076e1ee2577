//! Fuzz target: see `custody_testkit::fuzz::ogg`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| custody_testkit::fuzz::ogg(data));

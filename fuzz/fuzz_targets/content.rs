//! Fuzz target: content hashes of untrusted MP4/TS files; see `custody_testkit::fuzz::content`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| custody_testkit::fuzz::content(data));

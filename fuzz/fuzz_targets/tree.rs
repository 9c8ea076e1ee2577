//! Fuzz target: untrusted chunk-tree outboard files; see `custody_testkit::fuzz::tree`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| custody_testkit::fuzz::tree(data));

//! Fuzz target: untrusted store documents (manifest, log line, head, key
//! record); see `custody_testkit::fuzz::store_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| custody_testkit::fuzz::store_json(data));

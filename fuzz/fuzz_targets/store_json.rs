//! Fuzz target: untrusted store documents (manifest, log line, head, key
//! record); see `custody_evidence::fuzzing::store_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| custody_evidence::fuzzing::store_json(data));

//! Fuzz target: the parsers through the C API; see `custody_ffi::fuzz_probe_bytes`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| custody_ffi::fuzz_probe_bytes(data));

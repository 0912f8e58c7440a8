//! Fuzz target: see `rnats_fuzz_checks::client_parser` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rnats_fuzz_checks::client_parser::check(data));

//! Fuzz target: see `rnats_fuzz_checks::route_parser` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rnats_fuzz_checks::route_parser::check(data));

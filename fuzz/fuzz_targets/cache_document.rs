//! Fuzz target `cache_document`: see `msal_core::fuzzing::cache_document` for what it reads and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| msal_core::fuzzing::cache_document(data));

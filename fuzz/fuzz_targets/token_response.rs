//! Fuzz target `token_response`: see `msal_core::fuzzing::token_response` for what it reads and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| msal_core::fuzzing::token_response(data));

//! Fuzz target `id_token`: see `msal_core::fuzzing::id_token` for what it reads and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| msal_core::fuzzing::id_token(data));

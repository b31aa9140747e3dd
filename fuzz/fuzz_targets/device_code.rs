//! Fuzz target `device_code`: see `msal_core::fuzzing::device_code` for what it reads and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| msal_core::fuzzing::device_code(data));

//! Fuzz target `instance_discovery`: see `msal_core::fuzzing::instance_discovery` for what it reads and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| msal_core::fuzzing::instance_discovery(data));

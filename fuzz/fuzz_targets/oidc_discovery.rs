//! Fuzz target `oidc_discovery`: see `msal_core::fuzzing::oidc_discovery` for what it reads and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| msal_core::fuzzing::oidc_discovery(data));

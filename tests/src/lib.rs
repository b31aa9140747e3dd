//! msal-tests: the integration and conformance suites of msal-rs. The local Microsoft Entra ID
//! emulator they run against is its own package, [`msal_emulator`], re-exported here as
//! [`emulator`] so the suites' `msal_tests::emulator::…` paths keep working.

pub use msal_emulator as emulator;

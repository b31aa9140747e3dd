//! msal-tests: the local Microsoft Entra ID emulator (library and `msal-emulator` binary), and
//! the integration and conformance suites of msal-rs.

pub mod emulator;

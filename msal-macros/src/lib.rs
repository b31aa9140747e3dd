//! msal-macros

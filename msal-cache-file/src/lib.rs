//! msal-cache-file

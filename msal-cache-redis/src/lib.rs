//! msal-cache-redis

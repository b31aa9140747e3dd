//! A daemon: client credentials with a secret and with a certificate, the second call served
//! from the cache, and one app serving several tenants.
//!
//! Environment: `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_TENANT_ID`,
//! `AZURE_OTHER_TENANT_ID`, `AZURE_CERT_CLIENT_ID`, `AZURE_CLIENT_CERTIFICATE_PATH`,
//! `AZURE_CLIENT_KEY_PATH` (`cargo xtask demo` sets them for the local emulator).

mod common;

use std::time::Instant;

use common::Graph;
use msal_core::{Authority, ClientCredential, ConfidentialClient, TokenCache, TokenSource};

#[tokio::main]
async fn main() -> msal_core::Result<()> {
    let tenant = common::env("AZURE_TENANT_ID")?;
    let cache = TokenCache::new();

    println!("daemon: client credentials with a client secret");
    let app = ConfidentialClient::builder(
        common::env("AZURE_CLIENT_ID")?,
        ClientCredential::secret(common::env("AZURE_CLIENT_SECRET")?),
    )
    .authority(Authority::tenant(&tenant))
    .cache(cache.clone())
    .http_client(common::http_client()?)
    .build()?;

    let t = Instant::now();
    let first = app.acquire_token_for_client(Graph::default_scope()).await?;
    common::report("first call (discovery + token request)", t, &first);
    assert_eq!(first.source(), TokenSource::IdentityProvider);

    let t = Instant::now();
    let second = app.acquire_token_for_client(Graph::default_scope()).await?;
    common::report("second call", t, &second);
    assert_eq!(second.source(), TokenSource::Cache);

    let t = Instant::now();
    let n = 100_000;
    for _ in 0..n {
        let r = app.acquire_token_for_client(Graph::default_scope()).await?;
        debug_assert_eq!(r.source(), TokenSource::Cache);
    }
    println!(
        "  {:<48} {:>9.3} µs per call{}",
        format!("{n} more calls, all from the cache"),
        t.elapsed().as_secs_f64() * 1e6 / f64::from(n),
        if cfg!(debug_assertions) {
            " (debug build; `cargo xtask bench` measures release)"
        } else {
            " (release build)"
        }
    );

    let other = common::env("AZURE_OTHER_TENANT_ID")?;
    let t = Instant::now();
    let r = app
        .acquire_token_for_client(Graph::default_scope())
        .tenant(&other)
        .await?;
    common::report("per-request tenant override", t, &r);
    let t = Instant::now();
    let r = app
        .acquire_token_for_client(Graph::default_scope())
        .tenant(&other)
        .await?;
    common::report("tenant override again", t, &r);

    println!("daemon: client credentials with a certificate (PS256 client assertion)");
    let cert = std::fs::read(common::env("AZURE_CLIENT_CERTIFICATE_PATH")?).map_err(|e| {
        msal_core::Error::with_source(
            msal_core::ErrorKind::Configuration,
            "cannot read the certificate",
            e,
        )
    })?;
    let key = std::fs::read(common::env("AZURE_CLIENT_KEY_PATH")?).map_err(|e| {
        msal_core::Error::with_source(
            msal_core::ErrorKind::Configuration,
            "cannot read the key",
            e,
        )
    })?;
    let credential = ClientCredential::certificate_pem(&key, &cert)?;
    println!(
        "  certificate thumbprint (x5t#S256): {}",
        credential
            .certificate_thumbprint_sha256()
            .unwrap_or_default()
    );
    let cert_app = ConfidentialClient::builder(common::env("AZURE_CERT_CLIENT_ID")?, credential)
        .authority(Authority::tenant(&tenant))
        .cache(cache.clone())
        .http_client(common::http_client()?)
        .build()?;
    let t = Instant::now();
    let r = cert_app
        .acquire_token_for_client(Graph::default_scope())
        .await?;
    common::report("certificate app, first call", t, &r);
    let t = Instant::now();
    let r = cert_app
        .acquire_token_for_client(Graph::default_scope())
        .await?;
    common::report("certificate app, second call", t, &r);

    let json = cache.serialize()?;
    println!(
        "  shared cache: {} bytes of MSAL-format JSON, {cache:?}",
        json.len()
    );
    Ok(())
}

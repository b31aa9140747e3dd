//! A web API calling a downstream API on behalf of its caller (OBO). The incoming user token
//! is `USER_ASSERTION`; the second request with the same token is served from the cache.
//!
//! Environment: `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_TENANT_ID`, `USER_ASSERTION`.

mod common;

use std::time::Instant;

use common::Graph;
use msal_core::{Authority, ClientCredential, ConfidentialClient, TokenSource};

#[tokio::main]
async fn main() -> msal_core::Result<()> {
    let api = ConfidentialClient::builder(
        common::env("AZURE_CLIENT_ID")?,
        ClientCredential::secret(common::env("AZURE_CLIENT_SECRET")?),
    )
    .authority(Authority::tenant(common::env("AZURE_TENANT_ID")?))
    .http_client(common::http_client()?)
    .build()?;
    let incoming = common::env("USER_ASSERTION")?;
    println!("web API: on-behalf-of the signed-in caller");

    let t = Instant::now();
    let r = api
        .acquire_token_on_behalf_of(&incoming, Graph::UserRead)
        .await?;
    common::report("OBO for Graph User.Read", t, &r);
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    if let Some(account) = r.account() {
        println!(
            "  on behalf of home account {} (tenant {})",
            account.home_account_id(),
            account.realm()
        );
    }

    let t = Instant::now();
    let r = api
        .acquire_token_on_behalf_of(&incoming, Graph::UserRead)
        .await?;
    common::report("same caller again", t, &r);
    assert_eq!(r.source(), TokenSource::Cache);
    Ok(())
}

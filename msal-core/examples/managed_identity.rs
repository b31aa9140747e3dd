//! Code running on Azure: a token for the resource's managed identity, the source detected
//! from the environment (App Service sets `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, a VM has
//! IMDS), the second call served from the cache, and a user-assigned identity by client id.
//!
//! Environment: whatever the Azure host sets, plus `AZURE_CLIENT_ID` for the user-assigned
//! identity (optional). `cargo xtask demo` runs it twice against the local emulator, App
//! Service style and IMDS style (`AZURE_POD_IDENTITY_AUTHORITY_HOST`).

use std::time::Instant;

use msal_core::managed_identity::{ManagedIdentity, ManagedIdentityClient, UserAssignedId};
use msal_core::{AuthenticationResult, TokenSource};

const VAULT: &str = "https://vault.azure.net";

fn report(step: &str, started: Instant, r: &AuthenticationResult) {
    println!(
        "  {step:<48} {:>9.3} ms  source={:?}  resource=\"{}\"",
        started.elapsed().as_secs_f64() * 1000.0,
        r.source(),
        r.scopes(),
    );
}

#[tokio::main]
async fn main() -> msal_core::Result<()> {
    let mi = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned).build()?;
    println!("managed identity: source {}", mi.source());

    let t = Instant::now();
    let first = mi.acquire_token_for_client(VAULT).await?;
    report("system-assigned, first call", t, &first);
    assert_eq!(first.source(), TokenSource::IdentityProvider);

    let t = Instant::now();
    let again = mi
        .acquire_token_for_client(format!("{VAULT}/.default"))
        .await?;
    report("again, as a .default scope (from the cache)", t, &again);
    assert_eq!(again.source(), TokenSource::Cache);

    if let Ok(client_id) = std::env::var("AZURE_CLIENT_ID") {
        let user = ManagedIdentityClient::builder(ManagedIdentity::user_assigned(
            UserAssignedId::ClientId(client_id),
        ))
        .cache(mi.cache().clone())
        .build()?;
        let t = Instant::now();
        let r = user.acquire_token_for_client(VAULT).await?;
        report("user-assigned (by client id)", t, &r);
        assert_ne!(r.access_token().secret(), first.access_token().secret());
    }
    Ok(())
}

//! A command-line tool: the user signs in once with a device code, later calls are silent —
//! from the cache while the token is valid, by refresh token after it expired.
//!
//! Environment: `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` (`cargo xtask demo` sets them, approves
//! the device code as the user would, and lets the demo fast-forward the emulator's clock).

mod common;

use std::time::{Duration, Instant};

use common::Graph;
use msal_core::clock::ManualClock;
use msal_core::{Authority, DangerousOptions, PublicClient, TokenSource};

#[tokio::main]
async fn main() -> msal_core::Result<()> {
    // The demo drives time itself to show a refresh; a real CLI uses the system clock (the
    // default) and leaves `dangerous` alone.
    let clock = ManualClock::new();
    let app = PublicClient::builder(common::env("AZURE_CLIENT_ID")?)
        .authority(Authority::tenant(common::env("AZURE_TENANT_ID")?))
        .http_client(common::http_client()?)
        .dangerous(DangerousOptions::new().clock(clock.clone()))
        .build()?;

    println!("cli: sign in with a device code");
    let t = Instant::now();
    let flow = app.device_code_flow(Graph::UserRead).initiate().await?;
    println!("  {}", flow.message());
    // Polling waits `interval` seconds between attempts on the app's clock; here the demo
    // moves that clock along while it waits for the user.
    let poll = flow.poll(&app);
    let ticker = async {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            clock.advance(Duration::from_secs(1));
        }
    };
    let done = tokio::select! {
        d = poll => d?,
        () = ticker => unreachable!("the ticker never ends"),
    };
    common::report("device code sign-in", t, done.result());
    let account = done.account().cloned().ok_or_else(|| {
        msal_core::Error::new(msal_core::ErrorKind::InvalidResponse, "no account")
    })?;
    println!(
        "  signed in as {} ({})",
        account.username(),
        account.home_account_id()
    );

    let t = Instant::now();
    let r = app.acquire_token_silent(Graph::UserRead, &account).await?;
    common::report("silent, from the cache", t, &r);
    assert_eq!(r.source(), TokenSource::Cache);

    // Two hours later (on both clocks): the access token expired, the refresh token is used.
    clock.advance(Duration::from_secs(2 * 3600));
    common::advance_emulator_clock(2 * 3600).await?;
    println!("  (two hours pass, on the app's clock and the emulator's)");
    let t = Instant::now();
    let r = app.acquire_token_silent(Graph::UserRead, &account).await?;
    common::report("silent, refreshed after expiry", t, &r);
    assert_eq!(r.source(), TokenSource::IdentityProvider);

    let t = Instant::now();
    let r = app.acquire_token_silent(Graph::UserRead, &account).await?;
    common::report("silent, from the cache again", t, &r);

    app.remove_account(&account).await?;
    println!(
        "  signed out: {} account(s) left",
        app.accounts().await?.len()
    );
    Ok(())
}

//! A web app: the user is sent to Entra ID with an authorization code flow (PKCE, nonce,
//! form_post), the flow waits in the web session, the posted response completes it; later
//! requests get tokens silently.
//!
//! Environment: `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_TENANT_ID`, `REDIRECT_URI`,
//! `LOGIN_HINT`. In `cargo xtask demo` this program also plays the user's browser.

mod common;

use std::time::Instant;

use common::Graph;
use msal_core::{
    AuthCodeFlow, Authority, ClientCredential, ConfidentialClient, Initiated, ResponseMode,
    TokenSource,
};

#[tokio::main]
async fn main() -> msal_core::Result<()> {
    let app = ConfidentialClient::builder(
        common::env("AZURE_CLIENT_ID")?,
        ClientCredential::secret(common::env("AZURE_CLIENT_SECRET")?),
    )
    .authority(Authority::tenant(common::env("AZURE_TENANT_ID")?))
    .http_client(common::http_client()?)
    .build()?;
    println!("web app: sign-in with an authorization code flow");

    // GET /login: start the flow, keep it in the session, redirect the browser.
    let flow = app
        .auth_code_flow([Graph::UserRead])
        .redirect_uri(common::env("REDIRECT_URI")?)
        .response_mode(ResponseMode::FormPost)
        .login_hint(common::env("LOGIN_HINT")?)
        .initiate()
        .await?;
    let session = serde_json::to_string(&flow).map_err(|e| {
        msal_core::Error::with_source(msal_core::ErrorKind::InvalidInput, "session", e)
    })?;
    println!(
        "  redirecting the browser to {}…",
        &flow.auth_uri()[..60.min(flow.auth_uri().len())]
    );

    // The browser signs in and posts the response to the redirect URI.
    let posted = play_browser(flow.auth_uri()).await?;

    // POST /callback: take the flow from the session, complete it with the posted form.
    let flow: AuthCodeFlow<Initiated> = serde_json::from_str(&session).map_err(|e| {
        msal_core::Error::with_source(msal_core::ErrorKind::InvalidInput, "session", e)
    })?;
    let t = Instant::now();
    let done = flow.complete(&app, posted.as_str()).await?;
    common::report("callback: code redeemed", t, done.result());
    let account = done.account().cloned().ok_or_else(|| {
        msal_core::Error::new(msal_core::ErrorKind::InvalidResponse, "no account")
    })?;
    println!("  {} signed in", account.username());

    // Any later request: silent, for the signed-in user.
    let t = Instant::now();
    let r = app.acquire_token_silent(Graph::UserRead, &account).await?;
    common::report("later request, User.Read", t, &r);
    assert_eq!(r.source(), TokenSource::Cache);
    let t = Instant::now();
    let r = app.acquire_token_silent(Graph::MailRead, &account).await?;
    common::report("later request, another scope (refresh)", t, &r);
    Ok(())
}

/// The user's browser, played: GET the authorization URL; the emulator signs the user in and
/// answers with the auto-submitting form_post page, whose fields the browser would post.
async fn play_browser(auth_uri: &str) -> msal_core::Result<String> {
    let page = common::browser()?
        .get(auth_uri)
        .send()
        .await
        .map_err(|e| msal_core::Error::transport("authorize", e))?
        .text()
        .await
        .map_err(|e| msal_core::Error::transport("authorize", e))?;
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for input in page.split("<input").skip(1) {
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            let start = input.find(&key)? + key.len();
            let end = input[start..].find('"')? + start;
            Some(
                input[start..end]
                    .replace("&amp;", "&")
                    .replace("&quot;", "\""),
            )
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            form.append_pair(&n, &v);
        }
    }
    Ok(form.finish())
}

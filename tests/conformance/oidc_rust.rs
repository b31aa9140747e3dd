//! msal-rs's side of an `oidc_provider` case: the apps built on `Authority::oidc(issuer)` over
//! an HTTP client that reaches only the provider, each flow run in-process, with
//! [`oidc_browser`](crate::oidc_browser) as the user's browser.

use std::time::Duration;

use anyhow::{Context as _, bail};
use msal_core::{
    Account, AuthCodeFlow, Authority, ClientCredential, ConfidentialClient, DeviceCodeFlow,
    Initiated, PublicClient, TokenCache, TokenSource,
};

use crate::oidc_browser::{self, Landing};
use crate::oidc_cases::{AccountView, ErrorClass, OidcFlow, SideRun, StepOutcome};
use crate::oidc_peer::{
    CERT_CLIENT_ID, PUBLIC_CLIENT_ID, Running, USER, WEB_APP_ID, WEB_APP_REDIRECT, WEB_APP_SECRET,
};

/// The scopes of the user flows (MSAL adds `openid profile offline_access`).
pub(crate) const USER_SCOPES: [&str; 1] = ["api.read"];
/// The scope of client credentials.
pub(crate) const APP_SCOPES: [&str; 1] = ["api.read"];
/// The password typed into the development login (it accepts any).
pub(crate) const PASSWORD: &str = "any-password";
/// How long the harness waits for a client's first device code poll.
pub(crate) const FIRST_POLL_DEADLINE: Duration = Duration::from_secs(30);
/// How long a client may take to get its tokens once the user approved the device code.
pub(crate) const POLL_DEADLINE: Duration = Duration::from_secs(30);

/// The class of an msal-rs error.
fn class(e: &msal_core::Error) -> ErrorClass {
    if e.is_invalid_client() {
        ErrorClass::InvalidClient
    } else if e.is_interaction_required() {
        ErrorClass::InteractionRequired
    } else {
        ErrorClass::Other(match e.service() {
            Some(s) => s.error.clone(),
            None => format!("{:?}", e.kind()),
        })
    }
}

fn outcome(r: msal_core::Result<msal_core::AuthenticationResult>) -> StepOutcome {
    match r {
        Ok(a) if a.access_token().secret().is_empty() => StepOutcome::Error(
            ErrorClass::Other("empty_access_token".into()),
            "msal-rs returned an empty access token".into(),
        ),
        Ok(a) => StepOutcome::Token(
            match a.source() {
                TokenSource::Cache => "cache",
                TokenSource::IdentityProvider => "identity_provider",
                _ => "other",
            }
            .to_string(),
        ),
        Err(e) => StepOutcome::Error(class(&e), format!("{e:#}")),
    }
}

fn view(a: &Account) -> AccountView {
    AccountView {
        home_account_id: Some(a.home_account_id().to_string()),
        environment: Some(a.environment().to_string()),
        realm: Some(a.realm().to_string()),
        local_account_id: Some(a.local_account_id().to_string()),
        username: Some(a.username().to_string()),
    }
}

fn web_app(running: &Running, issuer: &str, secret: &str) -> anyhow::Result<ConfidentialClient> {
    Ok(
        ConfidentialClient::builder(WEB_APP_ID, ClientCredential::secret(secret))
            .authority(Authority::oidc(issuer)?)
            .http_client(running.http_client()?)
            .cache(TokenCache::new())
            .build()?,
    )
}

fn cert_app(running: &Running, issuer: &str) -> anyhow::Result<ConfidentialClient> {
    let credential =
        ClientCredential::certificate_pem(&running.client_key_pem, &running.client_cert_pem)?;
    Ok(ConfidentialClient::builder(CERT_CLIENT_ID, credential)
        .authority(Authority::oidc(issuer)?)
        .http_client(running.http_client()?)
        .cache(TokenCache::new())
        .build()?)
}

fn public_app(running: &Running, issuer: &str) -> anyhow::Result<PublicClient> {
    Ok(PublicClient::builder(PUBLIC_CLIENT_ID)
        .authority(Authority::oidc(issuer)?)
        .http_client(running.http_client()?)
        .cache(TokenCache::new())
        .build()?)
}

/// Plays the user on the authorization URL: signs in, consents; returns the redirect's query.
pub(crate) async fn sign_in(running: &Running, auth_uri: &str) -> anyhow::Result<String> {
    let client = running.reqwest_client()?;
    let fill = [("login", USER), ("password", PASSWORD)];
    match oidc_browser::walk(&client, auth_uri, Some(WEB_APP_REDIRECT), &fill).await? {
        Landing::Redirect(url) => Ok(url::Url::parse(&url)?.query().unwrap_or("").to_string()),
        Landing::Page(p) => bail!(
            "the sign-in ended on a page, not at the redirect URI: {}",
            p.chars().take(300).collect::<String>()
        ),
    }
}

/// Waits for the client's first poll of the device code, then approves it as the user would
/// on another device (the provider's verification page, sign-in and consent).
pub(crate) async fn approve_after_first_poll(
    running: &Running,
    issuer: &str,
    user_code: &str,
    verification_uri: &str,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    while running.device_polls(issuer, user_code).await?.is_empty() {
        if started.elapsed() > FIRST_POLL_DEADLINE {
            bail!("the client did not poll within {FIRST_POLL_DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = running.reqwest_client()?;
    let fill = [
        ("user_code", user_code),
        ("login", USER),
        ("password", PASSWORD),
    ];
    match oidc_browser::walk(&client, verification_uri, None, &fill).await? {
        Landing::Page(p) if p.contains("Sign-in Success") => Ok(()),
        other => bail!("approving the device code did not end in success: {other:?}"),
    }
}

/// The answers the provider gave to the device code's polls.
pub(crate) async fn poll_answers(
    running: &Running,
    issuer: &str,
    user_code: &str,
) -> anyhow::Result<Vec<String>> {
    Ok(running
        .device_polls(issuer, user_code)
        .await?
        .into_iter()
        .map(|(_, a)| a)
        .collect())
}

/// Revokes every refresh token in a serialized MSAL cache at the provider's revocation
/// endpoint (RFC 7009), as the web app. Returns how many were revoked.
pub(crate) async fn revoke_refresh_tokens(
    running: &Running,
    issuer: &str,
    cache_json: &str,
) -> anyhow::Result<usize> {
    let doc: serde_json::Value = serde_json::from_str(cache_json)?;
    let tokens: Vec<String> = doc
        .get("RefreshToken")
        .and_then(|v| v.as_object())
        .map(|m| {
            m.values()
                .filter_map(|e| e.get("secret").and_then(|s| s.as_str()).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let client = running.reqwest_client()?;
    for token in &tokens {
        let resp = client
            .post(format!("{issuer}/token/revocation"))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(oidc_browser::form_body(&[
                ("token", token.as_str()),
                ("token_type_hint", "refresh_token"),
                ("client_id", WEB_APP_ID),
                ("client_secret", WEB_APP_SECRET),
            ]))
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!(
                "revoking a refresh token: HTTP {status}: {}",
                resp.text().await.unwrap_or_default()
            );
        }
    }
    Ok(tokens.len())
}

async fn accounts_of(list: msal_core::Result<Vec<Account>>) -> anyhow::Result<Vec<AccountView>> {
    let mut v: Vec<AccountView> = list?.iter().map(view).collect();
    v.sort();
    Ok(v)
}

/// Silent for the app's only account, optionally forcing a refresh.
macro_rules! silent {
    ($app:expr, $force:expr) => {{
        let accounts = $app.accounts().await?;
        match accounts.first() {
            Some(a) => outcome(
                $app.acquire_token_silent(USER_SCOPES, a)
                    .force_refresh($force)
                    .await,
            ),
            None => StepOutcome::Error(
                ErrorClass::Other("no_account".into()),
                "accounts() found none".into(),
            ),
        }
    }};
}

/// Runs `flow` at `issuer`.
pub(crate) async fn run(
    running: &Running,
    issuer: &str,
    flow: OidcFlow,
) -> anyhow::Result<SideRun> {
    let mut run = SideRun::default();
    match flow {
        OidcFlow::ClientSecret | OidcFlow::ClientCertificate | OidcFlow::WrongSecret => {
            let app = match flow {
                OidcFlow::ClientCertificate => cert_app(running, issuer)?,
                OidcFlow::WrongSecret => web_app(running, issuer, "not-the-secret")?,
                _ => web_app(running, issuer, WEB_APP_SECRET)?,
            };
            let times = if flow == OidcFlow::WrongSecret { 1 } else { 2 };
            for _ in 0..times {
                run.steps
                    .push(outcome(app.acquire_token_for_client(APP_SCOPES).await));
            }
        }
        OidcFlow::AuthCodeSecondInstance | OidcFlow::RevokedRefreshToken => {
            let first = web_app(running, issuer, WEB_APP_SECRET)?;
            let initiated = first
                .auth_code_flow(USER_SCOPES)
                .redirect_uri(WEB_APP_REDIRECT)
                .initiate()
                .await?;
            let saved = serde_json::to_string(&initiated)?;
            let query = sign_in(running, initiated.auth_uri()).await?;
            // The web fleet pattern: another instance (here a fresh app with its own cache)
            // completes the flow from what the first one stored in the session.
            let app = if flow == OidcFlow::AuthCodeSecondInstance {
                web_app(running, issuer, WEB_APP_SECRET)?
            } else {
                first
            };
            let restored: AuthCodeFlow<Initiated> =
                serde_json::from_str(&saved).context("restoring the serialized flow")?;
            let done = restored.complete(&app, query.as_str()).await;
            run.steps
                .push(outcome(done.map(|d| d.into_result()).map_err(Into::into)));
            if flow == OidcFlow::AuthCodeSecondInstance {
                run.steps.push(silent!(app, false));
                run.steps.push(silent!(app, true));
            } else {
                let revoked =
                    revoke_refresh_tokens(running, issuer, &app.cache().serialize()?).await?;
                anyhow::ensure!(revoked > 0, "msal-rs cached no refresh token to revoke");
                run.steps.push(silent!(app, true));
            }
            run.accounts = accounts_of(app.accounts().await).await?;
        }
        OidcFlow::DeviceCodeSecondInstance => {
            let first = public_app(running, issuer)?;
            let initiated = first.device_code_flow(USER_SCOPES).initiate().await?;
            let user_code = initiated.user_code().to_string();
            let verification = initiated.verification_uri().to_string();
            let saved = serde_json::to_string(&initiated)?;
            drop(first);
            let app = public_app(running, issuer)?;
            let restored: DeviceCodeFlow<Initiated> =
                serde_json::from_str(&saved).context("restoring the serialized flow")?;
            let poll = restored.poll(&app);
            let approve = approve_after_first_poll(running, issuer, &user_code, &verification);
            tokio::pin!(poll, approve);
            // Polling ends when the user approved (or the flow failed); an approval that fails
            // ends the case instead of leaving the poll to run until the code expires.
            let polled = tokio::select! {
                polled = &mut poll => Some(polled),
                approved = &mut approve => {
                    approved?;
                    tokio::time::timeout(POLL_DEADLINE, poll).await.ok()
                }
            };
            run.steps.push(match polled {
                Some(p) => outcome(p.map(|d| d.into_result()).map_err(Into::into)),
                None => StepOutcome::Error(
                    ErrorClass::Other("no_token_in_time".into()),
                    format!("still polling {POLL_DEADLINE:?} after the user approved"),
                ),
            });
            run.polls = poll_answers(running, issuer, &user_code).await?;
            run.steps.push(silent!(app, false));
            run.steps.push(silent!(app, true));
            run.steps.push(silent!(app, true));
            run.accounts = accounts_of(app.accounts().await).await?;
        }
    }
    Ok(run)
}

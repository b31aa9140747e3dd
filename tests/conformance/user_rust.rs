//! msal-rs's side of a user-flow script: the apps built from [`UserAppSpec`]s over one shared
//! cache, each step run in-process with the emulator playing the browser and the user.

use std::time::Duration;

use anyhow::{Context as _, bail};
use msal_core::{
    Account, AuthResponse, Authority, ClientCredential, ConfidentialClient, PublicClient,
    ResponseMode, SshCertificateRequest, TokenCache, TokenSource,
};
use msal_tests::emulator::{AppRegistration, RecordedRequest, seeds};
use serde_json::{Value, json};

use crate::cases::{Op, Step, UserAppSpec, UserClient};
use crate::emu::Emu;
use crate::rust_side::LoopbackOnly;

/// The client id of [`UserClient::ShortLived`].
pub(crate) const SHORT_LIVED_CLIENT_ID: &str = "5a0e7c11-0d3b-4c2a-9e4f-240240240240";
/// Its access token lifetime: under MSAL's 300-second expiry buffer.
const SHORT_LIVED_AT_SECS: u64 = 240;

/// What one step gave, on either side.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct StepRun {
    /// `identity_provider` or `cache`; `Err` with the error otherwise.
    pub(crate) source: Result<String, String>,
    /// The requests the emulator recorded during the step.
    pub(crate) requests: Vec<RecordedRequest>,
    /// The authorization URL (auth code steps).
    pub(crate) auth_uri: Option<String>,
    /// The app's accounts after the step (MSAL Python's `get_accounts()` fields).
    pub(crate) accounts: Vec<Value>,
    /// The result's `token_type`.
    pub(crate) token_type: Option<String>,
}

/// A seeded user's password.
pub(crate) fn password(username: &str) -> anyhow::Result<&'static str> {
    Ok(match username {
        u if u.eq_ignore_ascii_case(seeds::ALICE_USERNAME) => seeds::ALICE_PASSWORD,
        u if u.eq_ignore_ascii_case(seeds::BOB_USERNAME) => seeds::BOB_PASSWORD,
        u if u.eq_ignore_ascii_case(seeds::CAROL_USERNAME) => seeds::CAROL_PASSWORD,
        u if u.eq_ignore_ascii_case(seeds::ERIN_USERNAME) => seeds::ERIN_PASSWORD,
        u if u.eq_ignore_ascii_case(seeds::DAVE_USERNAME) => seeds::DAVE_PASSWORD,
        u if u.eq_ignore_ascii_case(seeds::FRANK_USERNAME) => seeds::FRANK_PASSWORD,
        other => bail!("no seeded password for {other:?}"),
    })
}

/// The client id of a user-flow app.
pub(crate) fn client_id(c: UserClient) -> &'static str {
    match c {
        UserClient::PublicClient => seeds::PUBLIC_CLIENT_ID,
        UserClient::WebApp => seeds::WEB_APP_CLIENT_ID,
        UserClient::FociAppA => seeds::FOCI_APP_A_CLIENT_ID,
        UserClient::FociAppB => seeds::FOCI_APP_B_CLIENT_ID,
        UserClient::ShortLived => SHORT_LIVED_CLIENT_ID,
    }
}

/// The secret of a confidential user-flow app.
pub(crate) fn secret(c: UserClient) -> Option<&'static str> {
    (c == UserClient::WebApp).then_some(seeds::WEB_APP_SECRET)
}

/// Registers the apps the seeds lack (registrations survive the emulator's reset).
pub(crate) async fn register_apps(emu: &Emu, apps: &[UserAppSpec]) -> anyhow::Result<()> {
    if apps.iter().any(|a| a.client == UserClient::ShortLived) {
        emu.admin
            .register_app(&AppRegistration {
                client_id: SHORT_LIVED_CLIENT_ID.into(),
                public_client: true,
                redirect_uris: vec!["http://localhost".into()],
                access_token_lifetime_secs: Some(SHORT_LIVED_AT_SECS),
                ..Default::default()
            })
            .await
            .context("registering the short-lived app")?;
    }
    Ok(())
}

/// A built app.
enum App {
    Public(PublicClient),
    Confidential(ConfidentialClient),
}

/// Calls the same user-flow method on either kind of app.
macro_rules! on_app {
    ($app:expr, $a:ident => $body:expr) => {
        match $app {
            App::Public($a) => $body,
            App::Confidential($a) => $body,
        }
    };
}

fn build(emu: &Emu, spec: &UserAppSpec, cache: &TokenCache) -> anyhow::Result<App> {
    let authority = Authority::from_url(&spec.authority)?;
    Ok(match secret(spec.client) {
        Some(s) => App::Confidential(
            ConfidentialClient::builder(client_id(spec.client), ClientCredential::secret(s))
                .authority(authority)
                .client_capabilities(spec.client_capabilities.clone())
                .exclude_scopes(spec.exclude_scopes.clone())
                .http_client(LoopbackOnly::new(emu)?)
                .cache(cache.clone())
                .build()?,
        ),
        None => App::Public(
            PublicClient::builder(client_id(spec.client))
                .authority(authority)
                .client_capabilities(spec.client_capabilities.clone())
                .exclude_scopes(spec.exclude_scopes.clone())
                .http_client(LoopbackOnly::new(emu)?)
                .cache(cache.clone())
                .build()?,
        ),
    })
}

/// Plays the browser: GETs the authorization URL (no redirect followed) and returns the query
/// of the redirect, or the inputs of the form_post page, as a form-encoded string.
pub(crate) async fn browse(emu: &Emu, auth_uri: &str) -> anyhow::Result<String> {
    let client = emu
        .emulator
        .http_client_builder()?
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let resp = client.get(auth_uri).send().await?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .context("a redirect without Location")?
            .to_owned();
        return Ok(url::Url::parse(&location)?.query().unwrap_or("").to_owned());
    }
    let body = resp.text().await?;
    anyhow::ensure!(status == 200, "authorize answered {status}: {body}");
    Ok(form_fields(&body))
}

/// The inputs of a form_post page, form-encoded.
fn form_fields(html: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for input in html.split("<input").skip(1) {
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            let start = input.find(&key)? + key.len();
            let end = input[start..].find('"')? + start;
            Some(
                input[start..end]
                    .replace("&quot;", "\"")
                    .replace("&#x27;", "'")
                    .replace("&#39;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            )
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.append_pair(&n, &v);
        }
    }
    out.finish()
}

fn source_name(s: TokenSource) -> String {
    match s {
        TokenSource::Cache => "cache",
        TokenSource::IdentityProvider => "identity_provider",
        _ => "other",
    }
    .to_string()
}

/// An account as MSAL Python's `get_accounts()` shows it (the fields both have).
pub(crate) fn account_view(a: &Account) -> Value {
    json!({
        "home_account_id": a.home_account_id(),
        "environment": a.environment(),
        "realm": a.realm(),
        "local_account_id": a.local_account_id(),
        "username": a.username(),
        "authority_type": a.authority_type(),
    })
}

async fn accounts(app: &App) -> anyhow::Result<Vec<Account>> {
    Ok(on_app!(app, a => a.accounts().await?))
}

async fn run_step(
    emu: &Emu,
    app: &App,
    step: &Step,
) -> anyhow::Result<(TokenSource, Option<String>, String)> {
    let scopes = step.scopes.as_slice();
    let ssh = step
        .ssh_key_id
        .as_ref()
        .map(|k| SshCertificateRequest::new(k.clone(), crate::cases::ssh_req_cnf(k)));
    if ssh.is_some() && !matches!(step.op, Op::UsernamePassword | Op::Silent) {
        bail!("ssh_key_id is supported on username_password and silent steps only");
    }
    match step.op {
        Op::AuthCode => {
            let flow = on_app!(app, a => {
                let mut b = a.auth_code_flow(scopes);
                if let Some(r) = &step.redirect_uri {
                    b = b.redirect_uri(r.clone());
                }
                if let Some(h) = &step.login_hint {
                    b = b.login_hint(h.clone());
                }
                match step.response_mode.as_deref() {
                    Some("form_post") => b = b.response_mode(ResponseMode::FormPost),
                    Some("query") => b = b.response_mode(ResponseMode::Query),
                    Some(other) => bail!("unknown response_mode {other:?}"),
                    None => {}
                }
                if let Some(p) = &step.prompt {
                    let Ok(p) = p.parse::<msal_core::Prompt>();
                    b = b.prompt(p);
                }
                if let Some(d) = &step.domain_hint {
                    b = b.domain_hint(d.clone());
                }
                if let Some(m) = step.max_age {
                    b = b.max_age(Duration::from_secs(m));
                }
                b.initiate().await?
            });
            let uri = flow.auth_uri().to_owned();
            let response = AuthResponse::from_query(&browse(emu, &uri).await?);
            let done = on_app!(app, a => flow.complete(a, response).await.map_err(msal_core::Error::from)?);
            let r = done.result();
            Ok((r.source(), Some(uri), r.token_type().to_owned()))
        }
        Op::DeviceCode => {
            let App::Public(a) = app else {
                bail!("the device code flow needs a public client");
            };
            let flow = a.device_code_flow(scopes).initiate().await?;
            emu.admin
                .approve_device_code(flow.user_code(), Some(&step.username))
                .await?;
            let done = flow.poll(a).await.map_err(msal_core::Error::from)?;
            let r = done.result();
            Ok((r.source(), None, r.token_type().to_owned()))
        }
        Op::UsernamePassword => {
            let pw = password(&step.username)?;
            let r = on_app!(app, a => {
                let mut b = a.acquire_token_by_username_password(step.username.clone(), pw, scopes);
                if let Some(s) = &ssh {
                    b = b.ssh_certificate(s.clone());
                }
                b.await?
            });
            Ok((r.source(), None, r.token_type().to_owned()))
        }
        Op::Silent => {
            let all = accounts(app).await?;
            let Some(account) = all
                .iter()
                .find(|x| x.username().eq_ignore_ascii_case(&step.username))
            else {
                bail!(
                    "no account for {:?} among {} account(s)",
                    step.username,
                    all.len()
                );
            };
            let r = on_app!(app, a => {
                let mut b = a.acquire_token_silent(scopes, account).force_refresh(step.force_refresh);
                if let Some(s) = &ssh {
                    b = b.ssh_certificate(s.clone());
                }
                b.await?
            });
            Ok((r.source(), None, r.token_type().to_owned()))
        }
    }
}

/// Runs the script over `cache` from a fresh emulator state; one [`StepRun`] per step.
pub(crate) async fn run_script(
    emu: &Emu,
    apps: &[UserAppSpec],
    steps: &[Step],
    cache: &TokenCache,
) -> anyhow::Result<Vec<StepRun>> {
    emu.reset().await?;
    let mut built: Vec<Option<App>> = apps.iter().map(|_| None).collect();
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let spec = apps
            .get(step.app)
            .with_context(|| format!("step {i}: no app {}", step.app))?;
        if built[step.app].is_none() {
            built[step.app] = Some(build(emu, spec, cache)?);
        }
        let Some(app) = built[step.app].as_ref() else {
            bail!("step {i}: the app was not built");
        };
        let outcome = run_step(emu, app, step).await;
        let (source, auth_uri, token_type) = match outcome {
            Ok((s, uri, tt)) => (Ok(source_name(s)), uri, Some(tt)),
            Err(e) => (Err(format!("{e:#}")), None, None),
        };
        let requests = emu.requests().await?;
        emu.clear_requests().await?;
        let accounts = accounts(app).await?.iter().map(account_view).collect();
        out.push(StepRun {
            source,
            requests,
            auth_uri,
            accounts,
            token_type,
        });
    }
    Ok(out)
}

//! msal-rs's side of the `msal_fixture` cases: the same questions MSAL Python's oracle
//! (`python/msal_fixture_oracle.py`) answers, asked through msal-rs's public API over a
//! transport that never opens a connection ([`Offline`]), at a manual clock.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use msal_core::clock::ManualClock;
use msal_core::http::HttpClient;
use msal_core::{
    Account, Authority, ClientCredential, ConfidentialClient, DangerousOptions, Error,
    PublicClient, TokenCache, TokenSource,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::fixture_doc::{FixtureApp, instance_metadata};

/// An account as either side lists it.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AccountView {
    /// `home_account_id`.
    pub(crate) home_account_id: Option<String>,
    /// `environment`.
    pub(crate) environment: Option<String>,
}

/// One silent call: the access token served from the cache, if any.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SilentAnswer {
    /// The account's home account id.
    pub(crate) home_account_id: Option<String>,
    /// The scopes asked for.
    pub(crate) scopes: Vec<String>,
    /// The secret of the access token served from the cache.
    pub(crate) access_token: Option<String>,
    /// The exception MSAL Python raised instead of answering.
    #[serde(default)]
    pub(crate) raised: Option<String>,
}

/// One forced refresh: the refresh tokens sent, in order.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RefreshAnswer {
    /// The account's home account id.
    pub(crate) home_account_id: Option<String>,
    /// The refresh tokens the token requests carried.
    pub(crate) refresh_tokens: Vec<Option<String>>,
    /// The exception MSAL Python raised instead of answering.
    #[serde(default)]
    pub(crate) raised: Option<String>,
}

/// One sign-out: the entries it removed.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RemovedAnswer {
    /// The account's home account id.
    pub(crate) home_account_id: Option<String>,
    /// `(section, key)` of every entry the sign-out selected (msal-rs: removed); none when
    /// it failed.
    pub(crate) entries: Option<Vec<(String, String)>>,
    /// MSAL Python: the selected entries it could not remove (stored under a key other than
    /// the one it computes).
    #[serde(default)]
    pub(crate) not_removed: Vec<(String, String)>,
    /// Why the sign-out failed.
    #[serde(default)]
    pub(crate) raised: Option<String>,
}

/// What one side can use through one app.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AppAnswer {
    /// Why the app could not be built.
    pub(crate) error: Option<String>,
    /// The accounts listed.
    pub(crate) accounts: Vec<AccountView>,
    /// Silent calls, per account and scope set.
    pub(crate) silent: Vec<SilentAnswer>,
    /// Forced refreshes, per account.
    pub(crate) refresh: Vec<RefreshAnswer>,
    /// Sign-outs, per account.
    pub(crate) removed: Vec<RemovedAnswer>,
}

/// A transport that answers discovery itself and refuses token requests, recording the
/// refresh tokens they carried; client credentials requests get a token (the one write the
/// re-serialization check makes).
#[derive(Debug, Clone, Default)]
pub(crate) struct Offline {
    refresh_tokens: Arc<Mutex<Vec<Option<String>>>>,
}

impl Offline {
    /// The refresh tokens sent so far.
    pub(crate) fn sent(&self) -> Vec<Option<String>> {
        self.refresh_tokens
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

fn reply(status: u16, body: &Value) -> msal_core::Result<http::Response<Vec<u8>>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes())
        .map_err(|e| Error::transport("building a response", e))
}

fn discovery(uri: &url::Url) -> (u16, Value) {
    let path = uri.path().trim_end_matches('/');
    if path.ends_with("/discovery/instance") {
        let asked = uri
            .query_pairs()
            .find(|(k, _)| k == "authorization_endpoint")
            .and_then(|(_, v)| url::Url::parse(&v).ok());
        let Some(asked) =
            asked.filter(|a| a.host_str().is_some_and(crate::fixture_doc::is_entra_host))
        else {
            return (
                400,
                json!({"error": "invalid_instance",
                       "error_description": "AADSTS50049: Unknown or invalid instance."}),
            );
        };
        let prefix = asked.path().split("/oauth2/").next().unwrap_or_default();
        return (
            200,
            json!({
                "tenant_discovery_endpoint": format!(
                    "https://{}{prefix}/v2.0/.well-known/openid-configuration",
                    asked.host_str().unwrap_or_default()
                ),
                "api-version": "1.1",
                "metadata": instance_metadata(),
            }),
        );
    }
    if let Some(base) = path.strip_suffix("/.well-known/openid-configuration") {
        let (base, version) = match base.strip_suffix("/v2.0") {
            Some(b) => (b, "/v2.0"),
            None => (base, ""),
        };
        let root = format!("https://{}{base}", uri.host_str().unwrap_or_default());
        return (
            200,
            json!({
                "issuer": format!("{root}{version}"),
                "authorization_endpoint": format!("{root}/oauth2{version}/authorize"),
                "token_endpoint": format!("{root}/oauth2{version}/token"),
                "device_authorization_endpoint": format!("{root}/oauth2{version}/devicecode"),
            }),
        );
    }
    (404, json!({"error": "not_found"}))
}

#[async_trait::async_trait]
impl HttpClient for Offline {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> msal_core::Result<http::Response<Vec<u8>>> {
        let uri = url::Url::parse(&request.uri().to_string())
            .map_err(|e| Error::transport("the request URL", e))?;
        if request.method() == http::Method::GET {
            let (status, body) = discovery(&uri);
            return reply(status, &body);
        }
        let form: Vec<(String, String)> = url::form_urlencoded::parse(request.body())
            .into_owned()
            .collect();
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match get("grant_type").as_deref() {
            Some("client_credentials") => reply(
                200,
                &json!({"access_token": "fixture-writer-access-token", "token_type": "Bearer",
                        "expires_in": 3600}),
            ),
            grant => {
                if grant == Some("refresh_token")
                    && let Ok(mut sent) = self.refresh_tokens.lock()
                {
                    sent.push(get("refresh_token"));
                }
                reply(
                    400,
                    &json!({"error": "invalid_grant",
                            "error_description": "refused: the conformance harness sends no token requests"}),
                )
            }
        }
    }
}

fn dangerous(now: u64, validate: bool) -> DangerousOptions {
    let d = DangerousOptions::new().clock(ManualClock::at_unix(now));
    if validate {
        d
    } else {
        d.skip_authority_validation()
    }
}

/// A cache holding `text`.
pub(crate) fn load(text: &str) -> msal_core::Result<TokenCache> {
    let cache = TokenCache::new();
    cache.deserialize(text)?;
    Ok(cache)
}

fn build(
    spec: &FixtureApp,
    text: &str,
    now: u64,
) -> anyhow::Result<(PublicClient, TokenCache, Offline)> {
    let cache = load(text)?;
    let transport = Offline::default();
    let app = PublicClient::builder(spec.client_id.clone())
        .authority(Authority::from_url(&spec.authority)?)
        .http_client(transport.clone())
        .cache(cache.clone())
        .dangerous(dangerous(now, spec.validate_authority))
        .build()?;
    Ok((app, cache, transport))
}

/// The accounts of `app`, one per home account id: the one in the app's realm when there are
/// several, as MSAL Python groups them.
async fn accounts(app: &PublicClient, realm: &str) -> msal_core::Result<Vec<Account>> {
    let all = app.accounts().await?;
    let mut out: Vec<Account> = Vec::new();
    for a in all {
        match out
            .iter_mut()
            .find(|x| x.home_account_id() == a.home_account_id())
        {
            Some(x) => {
                if a.realm().eq_ignore_ascii_case(realm) {
                    *x = a;
                }
            }
            None => out.push(a),
        }
    }
    Ok(out)
}

fn entry_keys(cache: &TokenCache) -> anyhow::Result<BTreeSet<(String, String)>> {
    let doc: Value = serde_json::from_str(&cache.serialize()?)?;
    let mut out = BTreeSet::new();
    if let Value::Object(m) = doc {
        for (section, v) in m {
            if let Value::Object(entries) = v {
                for key in entries.keys() {
                    out.insert((section.clone(), key.clone()));
                }
            }
        }
    }
    Ok(out)
}

async fn find(spec: &FixtureApp, app: &PublicClient, hid: &str) -> anyhow::Result<Account> {
    accounts(app, realm_of(spec))
        .await?
        .into_iter()
        .find(|a| a.home_account_id() == hid)
        .ok_or_else(|| anyhow::anyhow!("a fresh app does not list the account {hid:?}"))
}

fn realm_of(spec: &FixtureApp) -> &str {
    spec.authority.rsplit('/').next().unwrap_or_default()
}

/// What msal-rs can use from `text` through `spec`'s app, at `now`.
pub(crate) async fn run_app(spec: &FixtureApp, text: &str, now: u64) -> AppAnswer {
    let mut out = AppAnswer::default();
    if let Err(e) = questions(spec, text, now, &mut out).await {
        out.error = Some(format!("{e:#}"));
    }
    out
}

async fn questions(
    spec: &FixtureApp,
    text: &str,
    now: u64,
    out: &mut AppAnswer,
) -> anyhow::Result<()> {
    let (app, _, _) = build(spec, text, now)?;
    let listed = accounts(&app, realm_of(spec)).await?;
    out.accounts = listed
        .iter()
        .map(|a| AccountView {
            home_account_id: Some(a.home_account_id().to_owned()),
            environment: Some(a.environment().to_owned()),
        })
        .collect();
    for account in &listed {
        let hid = account.home_account_id();
        for scopes in &spec.scopes {
            let (app, _, _) = build(spec, text, now)?;
            let mine = find(spec, &app, hid).await?;
            let served = match app.acquire_token_silent(scopes.as_slice(), &mine).await {
                Ok(r) if r.source() == TokenSource::Cache => {
                    Some(r.access_token().secret().to_owned())
                }
                _ => None,
            };
            out.silent.push(SilentAnswer {
                home_account_id: Some(hid.to_owned()),
                scopes: scopes.clone(),
                access_token: served,
                raised: None,
            });
        }
        let (app, _, transport) = build(spec, text, now)?;
        let mine = find(spec, &app, hid).await?;
        let refresh_scopes = spec
            .scopes
            .first()
            .cloned()
            .unwrap_or_else(|| vec!["User.Read".to_owned()]);
        let _refused = app
            .acquire_token_silent(refresh_scopes.as_slice(), &mine)
            .force_refresh(true)
            .await;
        out.refresh.push(RefreshAnswer {
            home_account_id: Some(hid.to_owned()),
            refresh_tokens: transport.sent(),
            raised: None,
        });
        let (app, cache, _) = build(spec, text, now)?;
        let before = entry_keys(&cache)?;
        let mine = find(spec, &app, hid).await?;
        let removed = match app.remove_account(&mine).await {
            Ok(()) => RemovedAnswer {
                home_account_id: Some(hid.to_owned()),
                entries: Some(before.difference(&entry_keys(&cache)?).cloned().collect()),
                not_removed: Vec::new(),
                raised: None,
            },
            Err(e) => RemovedAnswer {
                home_account_id: Some(hid.to_owned()),
                entries: None,
                not_removed: Vec::new(),
                raised: Some(format!("{e:#}")),
            },
        };
        out.removed.push(removed);
    }
    Ok(())
}

/// The cache after one write by msal-rs: a client credentials token for a client the
/// document does not have, in the public cloud, at `now`.
pub(crate) async fn after_one_write(text: &str, now: u64) -> anyhow::Result<String> {
    let cache = load(text)?;
    let app = ConfidentialClient::builder(
        "5e1f1c7e-0000-4000-8000-f1f1f1f1f1f1",
        ClientCredential::secret("fixture-writer-secret"),
    )
    .authority(Authority::from_url(
        "https://login.microsoftonline.com/f645ad92-e38d-4d1a-b510-d1b09a74a8ca",
    )?)
    .http_client(Offline::default())
    .cache(cache.clone())
    .dangerous(dangerous(now, true))
    .build()?;
    let r = app
        .acquire_token_for_client(["https://graph.microsoft.com/.default"])
        .await?;
    anyhow::ensure!(
        r.source() == TokenSource::IdentityProvider,
        "the write was served from the cache"
    );
    Ok(cache.serialize()?)
}

//! The workloads of `cargo xtask icount`: instruction counts per operation, measured under
//! `valgrind --tool=callgrind`, checked against budgets (`xtask/icount-budgets.json`). Wall time
//! is not measured: instruction counts do not depend on what else the machine runs.
//!
//! ```text
//! icount gen DIR              # writes DIR/users-10000.json (deterministic)
//! icount run OP DIR [REPS]    # runs OP REPS times inside `icount_region`
//! ```
//!
//! OP is one of `hit-derived` (client-credentials cache hit, scope `Api::default_scope()`),
//! `hit-str` (the same hit with the scope as a `&str`), `hit-slice` (as `[&str; 1]`),
//! `silent` (a silent cache hit for one of the 10,000 accounts), `load` (deserialize the
//! 10,000-account file into a new cache) and `save` (serialize it). Setup (building apps,
//! discovery, loading the file for `silent` and `save`, a warm-up call) happens outside
//! `icount_region`; xtask runs callgrind with `--toggle-collect` on that function, so only the
//! operations themselves are counted, and divides by REPS.
//!
//! Every app gets an in-process [`HttpClient`] that answers OpenID discovery and refuses
//! anything else, so a call that is not a cache hit fails the run.

use std::future::{Future, IntoFuture};
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use anyhow::{Context as _, Result, bail};
use msal_core::http::HttpClient;
use msal_core::{
    Authority, ClientCredential, ConfidentialClient, Resource, TokenCache, TokenSource,
};
use serde_json::{Map, Value, json};

const ENVIRONMENT: &str = "login.microsoftonline.com";
const CLIENT_ID: &str = "5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60";
const APP_TENANT: &str = "7d3b7c1e-4a2f-4b8e-9c0d-1e2f3a4b5c6d";
/// Accounts in the generated users file.
const ACCOUNTS: usize = 10_000;
/// A fixed instant (2026-01-01) for `cached_at`, and an expiry far after it (2100-01-01).
const CACHED_AT: u64 = 1_767_225_600;
const EXPIRES_ON: u64 = 4_102_444_800;
/// The scopes every generated user signed in with (as MSAL Python records them).
const USER_TARGET: &str = "User.Read offline_access openid profile";

/// The API the client-credentials rows ask a token for.
#[derive(Resource, Debug, Clone, Copy)]
#[resource("https://graph.microsoft.com")]
enum Api {
    /// Unused; a resource has at least one scope.
    #[scope("User.Read")]
    UserRead,
}

/// The counted region: everything `f` does, and nothing else, is what callgrind collects.
#[inline(never)]
fn icount_region(reps: usize, f: &mut dyn FnMut()) {
    for _ in 0..reps {
        f();
    }
}

/// Answers OpenID discovery for any tenant of [`ENVIRONMENT`]; refuses everything else.
#[derive(Debug)]
struct DiscoveryOnly;

#[async_trait::async_trait]
impl HttpClient for DiscoveryOnly {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> msal_core::Result<http::Response<Vec<u8>>> {
        let uri = request.uri();
        let tenant = uri
            .path()
            .strip_suffix("/v2.0/.well-known/openid-configuration")
            .and_then(|p| p.strip_prefix('/'))
            .filter(|t| !t.is_empty() && !t.contains('/'));
        let Some(tenant) = tenant.filter(|_| uri.host() == Some(ENVIRONMENT)) else {
            return Err(msal_core::Error::new(
                msal_core::ErrorKind::InvalidInput,
                format!("icount: refused {} (a cache hit sends nothing)", uri.path()),
            ));
        };
        let base = format!("https://{ENVIRONMENT}/{tenant}");
        let doc = json!({
            "token_endpoint": format!("{base}/oauth2/v2.0/token"),
            "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
            "issuer": format!("{base}/v2.0"),
        });
        Ok(http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&doc).unwrap_or_default())
            .unwrap_or_default())
    }
}

/// Polls `f` once: a cache hit is ready at once.
fn poll_once<F: IntoFuture>(f: F) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut f = pin!(f.into_future());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Fails unless `r` is an access token from the cache.
fn expect_hit(r: Option<msal_core::Result<msal_core::AuthenticationResult>>) {
    match r {
        Some(Ok(r)) if r.source() == TokenSource::Cache => {
            std::hint::black_box(r.access_token().secret().len());
        }
        Some(Ok(_)) => panic!("the token came from the identity provider, not the cache"),
        Some(Err(e)) => panic!("the acquisition failed: {e}"),
        None => panic!("the acquisition did not resolve at once: not a cache hit"),
    }
}

/// A splitmix64 generator: deterministic content without a dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `n` base64url characters.
    fn b64u(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..n)
            .map(|_| char::from(ALPHABET[(self.next() % 64) as usize]))
            .collect()
    }

    /// A GUID-shaped id.
    fn guid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }

    /// A JWT-shaped token (header.claims.signature) of about 600 bytes.
    fn jwt(&mut self) -> String {
        format!(
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.{}",
            self.b64u(220),
            self.b64u(342)
        )
    }
}

/// One access token for the app (client credentials), in MSAL's cache layout.
fn app_cache() -> String {
    let target = Api::default_scope().to_wire();
    let key =
        format!("-{ENVIRONMENT}-accesstoken-{CLIENT_ID}-{APP_TENANT}-{target}").to_lowercase();
    json!({
        "AccessToken": { key: {
            "credential_type": "AccessToken",
            "secret": SplitMix(1).jwt(),
            "home_account_id": null,
            "environment": ENVIRONMENT,
            "client_id": CLIENT_ID,
            "target": target,
            "realm": APP_TENANT,
            "token_type": "Bearer",
            "cached_at": CACHED_AT.to_string(),
            "expires_on": EXPIRES_ON.to_string(),
            "extended_expires_on": EXPIRES_ON.to_string(),
        }},
        "AppMetadata": { format!("appmetadata-{ENVIRONMENT}-{CLIENT_ID}"): {
            "client_id": CLIENT_ID, "environment": ENVIRONMENT,
        }},
    })
    .to_string()
}

/// [`ACCOUNTS`] users signed in by the auth-code flow (AT, RT, IdT, Account each), in MSAL's
/// cache layout; deterministic.
fn users_cache() -> String {
    let mut rng = SplitMix(42);
    let (mut at, mut rt, mut idt, mut acc) = (Map::new(), Map::new(), Map::new(), Map::new());
    let tenants: Vec<String> = (0..100).map(|_| rng.guid()).collect();
    for i in 0..ACCOUNTS {
        let (uid, utid) = (rng.guid(), tenants[i % tenants.len()].clone());
        let hid = format!("{uid}.{utid}");
        let prefix = format!("{hid}-{ENVIRONMENT}");
        at.insert(
            format!("{prefix}-accesstoken-{CLIENT_ID}-{utid}-{USER_TARGET}").to_lowercase(),
            json!({
                "credential_type": "AccessToken", "secret": rng.jwt(),
                "home_account_id": hid, "environment": ENVIRONMENT, "client_id": CLIENT_ID,
                "target": USER_TARGET, "realm": utid, "token_type": "Bearer",
                "cached_at": CACHED_AT.to_string(), "expires_on": EXPIRES_ON.to_string(),
                "extended_expires_on": EXPIRES_ON.to_string(),
            }),
        );
        rt.insert(
            format!("{prefix}-refreshtoken-{CLIENT_ID}--{USER_TARGET}").to_lowercase(),
            json!({
                "credential_type": "RefreshToken", "secret": format!("1.A{}", rng.b64u(500)),
                "home_account_id": hid, "environment": ENVIRONMENT, "client_id": CLIENT_ID,
                "target": USER_TARGET, "last_modification_time": CACHED_AT.to_string(),
            }),
        );
        idt.insert(
            format!("{prefix}-idtoken-{CLIENT_ID}-{utid}-").to_lowercase(),
            json!({
                "credential_type": "IdToken", "secret": rng.jwt(),
                "home_account_id": hid, "environment": ENVIRONMENT, "realm": utid,
                "client_id": CLIENT_ID,
            }),
        );
        acc.insert(
            format!("{prefix}-{utid}").to_lowercase(),
            json!({
                "home_account_id": hid, "environment": ENVIRONMENT, "realm": utid,
                "local_account_id": uid, "username": format!("user{i}@contoso.example"),
                "authority_type": "MSSTS", "account_source": "authorization_code",
            }),
        );
    }
    let mut md = Map::new();
    md.insert(
        format!("appmetadata-{ENVIRONMENT}-{CLIENT_ID}"),
        json!({"client_id": CLIENT_ID, "environment": ENVIRONMENT}),
    );
    let doc = json!({
        "AccessToken": at, "RefreshToken": rt, "IdToken": idt, "Account": acc,
        "AppMetadata": Value::Object(md),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn users_path(dir: &Path) -> std::path::PathBuf {
    dir.join(format!("users-{ACCOUNTS}.json"))
}

fn app(tenant: &str, cache: &TokenCache) -> Result<ConfidentialClient> {
    ConfidentialClient::builder(CLIENT_ID, ClientCredential::secret("s"))
        .authority(Authority::tenant(tenant))
        .cache(cache.clone())
        .http_client(Arc::new(DiscoveryOnly))
        .build()
        .context("building the app")
}

fn load_users(dir: &Path) -> Result<(String, TokenCache)> {
    let path = users_path(dir);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run `icount gen` first)", path.display()))?;
    let cache = TokenCache::new();
    cache.deserialize(&text).context("deserializing")?;
    let found = cache.accounts().len();
    if found != ACCOUNTS {
        bail!("the users file holds {found} accounts, expected {ACCOUNTS}");
    }
    Ok((text, cache))
}

fn run(op: &str, dir: &Path, reps: usize) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match op {
        "hit-derived" | "hit-str" | "hit-slice" => {
            let cache = TokenCache::new();
            cache.deserialize(&app_cache())?;
            let app = app(APP_TENANT, &cache)?;
            // Discovery runs on the first call.
            expect_hit(Some(
                rt.block_on(
                    app.acquire_token_for_client(Api::default_scope())
                        .into_future(),
                ),
            ));
            // What users write: a literal, or one built at run time (not `'static`).
            let owned = String::from("https://graph.microsoft.com/.default");
            let scope = owned.as_str();
            let mut call: Box<dyn FnMut()> = match op {
                "hit-derived" => Box::new(|| {
                    expect_hit(poll_once(
                        app.acquire_token_for_client(Api::default_scope()),
                    ));
                }),
                "hit-str" => Box::new(|| {
                    expect_hit(poll_once(app.acquire_token_for_client(scope)));
                }),
                _ => Box::new(|| {
                    expect_hit(poll_once(app.acquire_token_for_client([scope])));
                }),
            };
            call();
            icount_region(reps, &mut call);
        }
        "silent" => {
            let (_, cache) = load_users(dir)?;
            let app = app("organizations", &cache)?;
            let accounts = cache.accounts();
            let account = accounts
                .get(ACCOUNTS / 2)
                .context("the account in the middle")?
                .clone();
            drop(accounts);
            expect_hit(Some(
                rt.block_on(
                    app.acquire_token_silent(["User.Read"], &account)
                        .into_future(),
                ),
            ));
            icount_region(reps, &mut || {
                expect_hit(poll_once(app.acquire_token_silent(["User.Read"], &account)));
            });
        }
        "load" => {
            let text = std::fs::read_to_string(users_path(dir))?;
            let mut fresh = Vec::with_capacity(reps);
            fresh.resize_with(reps, TokenCache::new);
            let mut it = fresh.iter();
            icount_region(reps, &mut || {
                if let Some(c) = it.next() {
                    c.deserialize(&text).expect("the users file loads");
                }
            });
            if fresh.iter().any(|c| c.accounts().len() != ACCOUNTS) {
                bail!("a load lost accounts");
            }
        }
        "save" => {
            let (text, cache) = load_users(dir)?;
            let mut out = String::new();
            icount_region(reps, &mut || {
                out = cache.serialize().expect("the cache serializes");
            });
            if out.len() < text.len() / 2 {
                bail!("the saved cache is too short");
            }
        }
        other => bail!("unknown operation {other}"),
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["gen", dir] => {
            let dir = Path::new(dir);
            std::fs::create_dir_all(dir)?;
            let path = users_path(dir);
            let text = users_cache();
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        }
        ["run", op, dir] => run(op, Path::new(dir), 1),
        ["run", op, dir, reps] => run(op, Path::new(dir), reps.parse()?),
        _ => bail!("usage: icount gen DIR | icount run OP DIR [REPS]"),
    }
}

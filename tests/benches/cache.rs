//! The Rust side of `cargo xtask bench` (the README's performance table): cache-hit `acquire_token_for_client`
//! (hot key at several cache sizes, uniform random over a million tokens), listing accounts,
//! loading and saving a cache file, and a cache-hit `acquire_token_silent` for one of many
//! signed-in accounts, measured on the cache files `gen_caches.py` wrote (listed in its
//! `manifest.json`), the same files MSAL Python is measured on.
//!
//! ```text
//! cargo bench -p msal-tests --bench cache -- --manifest target/bench/manifest.json \
//!     --out target/bench/rust.json [--rows hot,random,accounts,io,silent] [--batch 1000] \
//!     [--batches 1000] [--io-reps 10] [--accounts-reps 50]
//! ```
//!
//! Method: every app gets an in-process [`HttpClient`] that answers OpenID discovery for any
//! tenant of `login.microsoftonline.com` and refuses anything else (a token request during a
//! cache-hit benchmark aborts the run). After a warm-up (which also runs discovery), calls are
//! timed in batches with [`Instant`]; a row's value is the median of the per-batch means (p10,
//! p90 and min too). A cache hit resolves on its first poll, so each call is polled once with
//! a no-op waker, which is what `.await` does on a ready future; a call that does not resolve at
//! once is not a hit and aborts the run. No tracing subscriber is installed. Progress goes to
//! stderr, results to the `--out` JSON.

use std::future::{Future, IntoFuture};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use msal_cache_redis::RedisCache;
use msal_core::cache::CacheOptions;
use msal_core::http::HttpClient;
use msal_core::{
    Authority, ClientCredential, ConfidentialClient, ErrorKind, ScopeSet, TokenCache, TokenSource,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

const ENVIRONMENT: &str = "login.microsoftonline.com";

/// How long one timed row may run (once it has 20 batches).
const BUDGET: Duration = Duration::from_secs(3);

/// What `gen_caches.py` generated.
#[derive(Debug, Deserialize)]
struct Manifest {
    client_id: String,
    hits: Vec<Hits>,
    users: Users,
    silent: Silent,
}

/// One app-token cache file: `tenants` x `resources` tokens.
#[derive(Debug, Deserialize)]
struct Hits {
    tokens: usize,
    path: PathBuf,
    tenants: Vec<String>,
    resources: Vec<String>,
    hot_tenant: String,
    hot_resource: String,
}

/// The cache file of signed-in users.
#[derive(Debug, Deserialize)]
struct Users {
    accounts: usize,
    path: PathBuf,
}

/// The cache file of the silent-acquisition row.
#[derive(Debug, Deserialize)]
struct Silent {
    accounts: usize,
    path: PathBuf,
    /// The tenant of the authority the accounts signed in with (`organizations`).
    authority: String,
    scopes: Vec<String>,
    hot_home_account_id: String,
}

/// Command-line options.
#[derive(Debug)]
struct Args {
    manifest: PathBuf,
    out: PathBuf,
    rows: Vec<String>,
    batch: usize,
    batches: usize,
    io_reps: usize,
    accounts_reps: usize,
    /// A `redis-server` of the caller's for the Redis rows (never the system one).
    redis_url: Option<String>,
    /// Its process id, stopped (SIGSTOP) and resumed for the hung-Redis row.
    redis_pid: Option<u32>,
    /// Access tokens per app partition in the Redis rows.
    redis_tokens: usize,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        manifest: PathBuf::from("target/bench/manifest.json"),
        out: PathBuf::from("target/bench/rust.json"),
        rows: ["hot", "random", "accounts", "io", "silent"]
            .map(String::from)
            .to_vec(),
        batch: 1000,
        batches: 1000,
        io_reps: 10,
        accounts_reps: 50,
        redis_url: None,
        redis_pid: None,
        redis_tokens: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            // `cargo bench` passes this to every bench target.
            "--bench" => {}
            "--manifest" => a.manifest = value()?.into(),
            "--out" => a.out = value()?.into(),
            "--rows" => a.rows = value()?.split(',').map(str::to_owned).collect(),
            "--batch" => a.batch = value()?.parse()?,
            "--batches" => a.batches = value()?.parse()?,
            "--io-reps" => a.io_reps = value()?.parse()?,
            "--accounts-reps" => a.accounts_reps = value()?.parse()?,
            "--redis-url" => a.redis_url = Some(value()?),
            "--redis-pid" => a.redis_pid = Some(value()?.parse()?),
            "--redis-tokens" => a.redis_tokens = value()?.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    if a.batch == 0
        || a.batches == 0
        || a.io_reps == 0
        || a.accounts_reps == 0
        || a.redis_tokens == 0
    {
        bail!("batch sizes and repetition counts must be positive");
    }
    Ok(a)
}

/// Answers OpenID discovery for any tenant; counts and refuses everything else, except token
/// requests while `issue` is set (to fill Redis, and for the hung-Redis row).
#[derive(Debug, Default)]
struct DiscoveryOnly {
    refused: AtomicUsize,
    issue: AtomicBool,
    issued: AtomicUsize,
}

/// A JWT-sized (about 1.5 KB) access token, different for each `n`.
fn jwt_sized_token(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = SplitMix(n as u64);
    let mut t = String::from("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.");
    for i in 0..1460 {
        if i == 1118 {
            t.push('.');
        } else {
            t.push(char::from(ALPHABET[rng.below(64)]));
        }
    }
    t
}

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
        if self.issue.load(Ordering::Relaxed)
            && request.method() == http::Method::POST
            && uri.path().ends_with("/oauth2/v2.0/token")
        {
            let n = self.issued.fetch_add(1, Ordering::Relaxed);
            let body = json!({
                "token_type": "Bearer",
                "expires_in": 86399,
                "ext_expires_in": 86399,
                "access_token": jwt_sized_token(n),
            });
            return Ok(http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body).unwrap_or_default())
                .unwrap_or_default());
        }
        let (Some(tenant), true, true) = (
            tenant,
            request.method() == http::Method::GET,
            uri.host() == Some(ENVIRONMENT),
        ) else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(msal_core::Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "the benchmark transport refuses {} {} (a cache hit sends nothing)",
                    request.method(),
                    uri.path()
                ),
            ));
        };
        let base = format!("https://{ENVIRONMENT}/{tenant}");
        let doc = json!({
            "token_endpoint": format!("{base}/oauth2/v2.0/token"),
            "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
            "issuer": format!("https://{ENVIRONMENT}/{tenant}/v2.0"),
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

/// Summary of samples (nanoseconds per call, one per batch or repetition).
fn stats(mut samples: Vec<f64>, batch: usize) -> Value {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let median = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    };
    json!({
        "median_ns": median,
        "p10_ns": samples[n / 10],
        "p90_ns": samples[(9 * n) / 10],
        "min_ns": samples[0],
        "batches": n,
        "batch": batch,
        "calls": n * batch,
    })
}

/// Times batches of `batch` calls of `f(i)` after one warm-up batch: `batches` of them, or
/// fewer (at least 20) once [`BUDGET`] has passed.
fn measure(batch: usize, batches: usize, mut f: impl FnMut(usize)) -> Value {
    for i in 0..batch {
        f(i);
    }
    let mut means = Vec::with_capacity(batches);
    let mut i = batch;
    let started = Instant::now();
    while means.len() < batches && (means.len() < 20 || started.elapsed() < BUDGET) {
        let t = Instant::now();
        for _ in 0..batch {
            f(i);
            i += 1;
        }
        means.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    stats(means, batch)
}

/// Times `reps` single runs of `f`.
fn repeat(reps: usize, mut f: impl FnMut()) -> Value {
    let samples = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64
        })
        .collect();
    single(samples)
}

/// Summary of single-run samples (nanoseconds each).
fn single(samples: Vec<f64>) -> Value {
    let mut v = stats(samples, 1);
    if let Some(o) = v.as_object_mut() {
        o.remove("batch");
        o.remove("calls");
        if let Some(n) = o.remove("batches") {
            o.insert("reps".into(), n);
        }
    }
    v
}

fn rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kb| kb / 1024)
}

fn progress(msg: &str) {
    eprintln!("cache bench: {msg}");
}

/// A splitmix64 generator: reproducible uniform picks without a dependency.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((u128::from(z) * n as u128) >> 64) as usize
    }
}

/// A scope set per resource, built once as a program with constant scopes would (the strings
/// are leaked to make them `'static`, like string constants).
fn scope_sets(resources: &[String]) -> Result<Vec<ScopeSet>> {
    resources
        .iter()
        .map(|r| {
            let s: &'static str = Box::leak(r.clone().into_boxed_str());
            ScopeSet::new([s]).context("a resource scope")
        })
        .collect()
}

struct Bench {
    args: Args,
    manifest: Manifest,
    rt: tokio::runtime::Runtime,
    http: Arc<DiscoveryOnly>,
    rows: Map<String, Value>,
    info: Map<String, Value>,
}

impl Bench {
    fn app(&self, tenant: &str, cache: &TokenCache) -> Result<ConfidentialClient> {
        ConfidentialClient::builder(
            self.manifest.client_id.clone(),
            ClientCredential::secret("s"),
        )
        .authority(Authority::tenant(tenant))
        .cache(cache.clone())
        .http_client(Arc::clone(&self.http))
        .build()
        .context("building the app")
    }

    fn load(&mut self, hits: &Hits) -> Result<TokenCache> {
        progress(&format!(
            "loading {} tokens from {}",
            hits.tokens,
            hits.path.display()
        ));
        let text = std::fs::read_to_string(&hits.path)
            .with_context(|| format!("reading {}", hits.path.display()))?;
        let cache = TokenCache::new();
        let t = Instant::now();
        cache.deserialize(&text).context("deserializing")?;
        let secs = t.elapsed().as_secs_f64();
        drop(text);
        let rss = rss_mb();
        progress(&format!("loaded in {secs:.2} s (RSS {rss:?} MB)"));
        self.info
            .insert(format!("load_hits_{}_s", hits.tokens), json!(secs));
        self.info
            .insert(format!("rss_after_load_{}_mb", hits.tokens), json!(rss));
        Ok(cache)
    }

    fn hot(&mut self, hits: &Hits, cache: &TokenCache) -> Result<()> {
        let app = self.app(&hits.hot_tenant, cache)?;
        let scopes = scope_sets(std::slice::from_ref(&hits.hot_resource))?;
        let scopes = &scopes[0];
        // Discovery runs on the first call; it is served from the cache once discovered.
        let first = self
            .rt
            .block_on(app.acquire_token_for_client(scopes).into_future());
        expect_hit(Some(first));
        let r = measure(self.args.batch, self.args.batches, |_| {
            expect_hit(poll_once(app.acquire_token_for_client(scopes)));
        });
        progress(&format!(
            "hot-{}: median {} ns",
            hits.tokens, r["median_ns"]
        ));
        self.rows.insert(format!("hot-{}", hits.tokens), r);
        // For reference: the same hit with the scope passed as a `&str` each call.
        let scope = hits.hot_resource.as_str();
        let r = measure(self.args.batch, self.args.batches / 4 + 1, |_| {
            expect_hit(poll_once(app.acquire_token_for_client(scope)));
        });
        self.info.insert(
            format!("hot_{}_str_scope_median_ns", hits.tokens),
            r["median_ns"].clone(),
        );
        // For reference: the same hit through the per-request tenant override (row 2's path).
        let tenant = hits.hot_tenant.as_str();
        let r = measure(self.args.batch, self.args.batches / 4 + 1, |_| {
            expect_hit(poll_once(
                app.acquire_token_for_client(scopes).tenant(tenant),
            ));
        });
        self.info.insert(
            format!("hot_{}_tenant_override_median_ns", hits.tokens),
            r["median_ns"].clone(),
        );
        Ok(())
    }

    fn random(&mut self, hits: &Hits, cache: &TokenCache) -> Result<()> {
        // One app (for the first tenant) and a per-request tenant override.
        let app = self.app(&hits.tenants[0], cache)?;
        let scopes = scope_sets(&hits.resources)?;
        let tenants: Vec<&str> = hits.tenants.iter().map(String::as_str).collect();
        let t = Instant::now();
        self.rt.block_on(async {
            for tenant in &tenants {
                let r = app
                    .acquire_token_for_client(&scopes[0])
                    .tenant(*tenant)
                    .await;
                expect_hit(Some(r));
            }
        });
        progress(&format!(
            "random: discovery of {} tenants in {:.2} s",
            tenants.len(),
            t.elapsed().as_secs_f64()
        ));
        let mut rng = SplitMix(42);
        let picks: Vec<(u32, u32)> = (0..1 << 20)
            .map(|_| {
                (
                    rng.below(tenants.len()) as u32,
                    rng.below(scopes.len()) as u32,
                )
            })
            .collect();
        let mask = picks.len() - 1;
        let mut r = measure(self.args.batch, self.args.batches, |i| {
            let (t, s) = picks[i & mask];
            expect_hit(poll_once(
                app.acquire_token_for_client(&scopes[s as usize])
                    .tenant(tenants[t as usize]),
            ));
        });
        progress(&format!(
            "random over {}: median {} ns",
            hits.tokens, r["median_ns"]
        ));
        if let Some(o) = r.as_object_mut() {
            o.insert("tokens".into(), json!(hits.tokens));
        }
        self.rows.insert("random".into(), r);
        Ok(())
    }

    fn users(&mut self) -> Result<()> {
        let path = self.manifest.users.path.clone();
        let expected = self.manifest.users.accounts;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let want = |r: &str| self.args.rows.iter().any(|x| x == r);
        let (accounts, io) = (want("accounts"), want("io"));
        if accounts {
            let cache = TokenCache::new();
            cache.deserialize(&text)?;
            let found = cache.accounts().len();
            if found != expected {
                bail!("accounts() found {found} accounts, expected {expected}");
            }
            let r = repeat(self.args.accounts_reps, || {
                std::hint::black_box(cache.accounts());
            });
            progress(&format!("accounts: median {} ns", r["median_ns"]));
            self.rows.insert("accounts".into(), r);
        }
        if io {
            // A fresh cache each time, the previous one dropped outside the timed region (as
            // the Python side does).
            let mut cache = TokenCache::new();
            let mut samples = Vec::with_capacity(self.args.io_reps);
            for _ in 0..self.args.io_reps {
                let fresh = TokenCache::new();
                let t = Instant::now();
                fresh.deserialize(&text)?;
                samples.push(t.elapsed().as_nanos() as f64);
                cache = fresh;
            }
            let load = single(samples);
            let mut out = String::new();
            let save = repeat(self.args.io_reps, || {
                out = cache.serialize().expect("the cache serializes");
            });
            progress(&format!(
                "load: median {} ns, save: median {} ns",
                load["median_ns"], save["median_ns"]
            ));
            self.rows.insert("load".into(), load);
            self.rows.insert("save".into(), save);
            self.info.insert("saved_bytes".into(), json!(out.len()));
            self.info.insert("file_bytes".into(), json!(text.len()));
            self.info
                .insert("save_is_byte_identical".into(), json!(out == text));
        }
        Ok(())
    }

    /// `acquire_token_silent` for the hot account of the silent-row file (a cache hit), then,
    /// for reference, for accounts picked uniformly at random.
    fn silent(&mut self) -> Result<()> {
        let path = self.manifest.silent.path.clone();
        progress(&format!(
            "silent: loading {} accounts from {}",
            self.manifest.silent.accounts,
            path.display()
        ));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let cache = TokenCache::new();
        let t = Instant::now();
        cache.deserialize(&text).context("deserializing")?;
        self.info
            .insert("load_silent_s".into(), json!(t.elapsed().as_secs_f64()));
        drop(text);
        let tenant = self
            .manifest
            .silent
            .authority
            .rsplit('/')
            .next()
            .unwrap_or("organizations")
            .to_owned();
        let app = self.app(&tenant, &cache)?;
        let scopes = ScopeSet::new(self.manifest.silent.scopes.clone()).context("the scopes")?;
        let hid = self.manifest.silent.hot_home_account_id.clone();
        let account = self
            .rt
            .block_on(app.account(&hid))?
            .with_context(|| format!("the hot account {hid} is not in the cache"))?;
        // Discovery runs on the first call.
        expect_hit(Some(self.rt.block_on(
            app.acquire_token_silent(&scopes, &account).into_future(),
        )));
        let r = measure(self.args.batch, self.args.batches, |_| {
            expect_hit(poll_once(app.acquire_token_silent(&scopes, &account)));
        });
        progress(&format!(
            "silent over {} accounts: median {} ns",
            self.manifest.silent.accounts, r["median_ns"]
        ));
        let mut r = r;
        if let Some(o) = r.as_object_mut() {
            o.insert("accounts".into(), json!(self.manifest.silent.accounts));
        }
        self.rows.insert("silent".into(), r);
        // For reference: uniform random accounts (picks precomputed).
        let all = cache.accounts();
        let mut rng = SplitMix(7);
        let picks: Vec<&msal_core::Account> =
            (0..1 << 16).map(|_| &all[rng.below(all.len())]).collect();
        let mask = picks.len() - 1;
        let r = measure(self.args.batch, self.args.batches / 4 + 1, |i| {
            expect_hit(poll_once(
                app.acquire_token_silent(&scopes, picks[i & mask]),
            ));
        });
        self.info
            .insert("silent_random_median_ns".into(), r["median_ns"].clone());
        Ok(())
    }

    /// An app over `cache` for `tenant`.
    fn app_over(&self, tenant: &str, cache: TokenCache) -> Result<ConfidentialClient> {
        self.app(tenant, &cache)
    }

    /// The Redis rows: L1 hit, L1 miss (one round trip and the parse of a partition), and
    /// the cost of a hung Redis.
    fn redis(&mut self, url: &str, hits: &Hits) -> Result<()> {
        let per_partition = self.args.redis_tokens.min(hits.resources.len());
        let scopes = scope_sets(&hits.resources[..per_partition])?;
        let (a, b, c) = (
            hits.tenants[0].as_str(),
            hits.tenants[hits.tenants.len() / 2].as_str(),
            "redis-bench-unseen-tenant",
        );
        let prefix = format!("msal-bench-{}", std::process::id());
        let connect = |prefix: String| {
            RedisCache::builder(url)
                .key_prefix(prefix)
                .require_connection(true)
                .connect()
        };
        let store = self.rt.block_on(connect(prefix.clone()))?;

        // Fill the app partitions of tenants A and B through the library: each token request is
        // answered by the stub, and the cache writes the partition to Redis.
        self.http.issue.store(true, Ordering::Relaxed);
        let writer = self.app_over(a, TokenCache::with_store(store.clone()))?;
        self.rt.block_on(async {
            for t in [a, b] {
                for s in &scopes {
                    let r = writer.acquire_token_for_client(s).tenant(t).await?;
                    if r.source() != TokenSource::IdentityProvider {
                        bail!("filling Redis: expected a token from the identity provider");
                    }
                }
            }
            Ok(())
        })?;
        self.http.issue.store(false, Ordering::Relaxed);
        drop(writer);

        // L1 hit: a store-backed cache whose partition was read within max_staleness (30 s).
        let hot = &scopes[per_partition / 2];
        let l1 = TokenCache::with_store(store.clone());
        let app = self.app_over(a, l1.clone())?;
        expect_hit(Some(
            self.rt
                .block_on(app.acquire_token_for_client(hot).into_future()),
        ));
        let r = measure(self.args.batch, self.args.batches, |_| {
            expect_hit(poll_once(app.acquire_token_for_client(hot)));
        });
        progress(&format!("redis-l1: median {} ns", r["median_ns"]));
        self.rows.insert("redis-l1".into(), r);
        self.info.insert(
            "redis_partition_bytes".into(),
            json!(l1.serialize().map(|s| s.len()).unwrap_or(0)),
        );
        self.info
            .insert("redis_tokens_per_partition".into(), json!(per_partition));

        // L1 miss: memory holds one partition at most and calls alternate between tenants A
        // and B, so every call finds its partition evicted: one Redis read (the whole
        // partition) and its parse and indexing, then the hit.
        let evicting = TokenCache::with_store_options(
            store.clone(),
            CacheOptions::default().max_partitions(1),
        );
        let app = self.app_over(a, evicting)?;
        let calls = (self.args.batches * 2).clamp(200, 4000);
        let samples = self.rt.block_on(async {
            let mut samples = Vec::with_capacity(calls);
            for i in 0..calls + 100 {
                let t = Instant::now();
                let r = app
                    .acquire_token_for_client(hot)
                    .tenant(if i % 2 == 0 { a } else { b })
                    .await;
                let d = t.elapsed().as_nanos() as f64;
                expect_hit(Some(r));
                if i >= 100 {
                    samples.push(d);
                }
            }
            samples
        });
        let r = single(samples);
        progress(&format!("redis-miss: median {} ns", r["median_ns"]));
        self.rows.insert("redis-miss".into(), r);

        // For reference: max_staleness(0), one tenant, for 300 ms. A call whose partition was
        // last checked in an earlier millisecond asks Redis whether the version changed (it has
        // not: no bytes, no parse); calls within the same millisecond are served from memory.
        let checking = TokenCache::with_store_options(
            store.clone(),
            CacheOptions::default().max_staleness(Duration::ZERO),
        );
        let app = self.app_over(a, checking)?;
        let samples = self.rt.block_on(async {
            let mut samples = Vec::new();
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(300) {
                let t = Instant::now();
                let r = app.acquire_token_for_client(hot).await;
                samples.push(t.elapsed().as_nanos() as f64);
                expect_hit(Some(r));
            }
            samples
        });
        let total = samples.len();
        let checks: Vec<f64> = samples.into_iter().filter(|d| *d > 10_000.0).collect();
        self.info.insert(
            "redis_zero_staleness".into(),
            json!({
                "calls": total,
                "store_checks": checks.len(),
                "check_median_ns": if checks.is_empty() { Value::Null } else { single(checks)["median_ns"].clone() },
            }),
        );

        // Hung Redis (SIGSTOP): a fresh store (circuit breaker closed, default 20 ms deadline),
        // a stale partition of tenant A in memory; then calls alternate between a hit on A
        // (memory answers after the store fails) and a token for a tenant never seen (the
        // store fails on read and on write; discovery and the identity provider, here the
        // in-process stub, answer in microseconds, so the time is what the store adds).
        if let Some(pid) = self.args.redis_pid {
            let fresh = self.rt.block_on(connect(prefix))?;
            let cache = TokenCache::with_store_options(
                fresh,
                CacheOptions::default().max_staleness(Duration::ZERO),
            );
            let app = self.app_over(a, cache)?;
            expect_hit(Some(
                self.rt
                    .block_on(app.acquire_token_for_client(hot).into_future()),
            ));
            std::thread::sleep(Duration::from_millis(5));
            self.http.issue.store(true, Ordering::Relaxed);
            let stopped = Stopped::new(pid)?;
            let times = self.rt.block_on(async {
                let mut times = Vec::new();
                for i in 0..20 {
                    let unseen = format!("{c}-{i}");
                    let tenant = if i % 2 == 0 { a } else { unseen.as_str() };
                    let t = Instant::now();
                    let r = app.acquire_token_for_client(hot).tenant(tenant).await;
                    times.push(t.elapsed().as_nanos() as f64);
                    if let Err(e) = r {
                        bail!("with Redis hung, an acquisition failed: {e}");
                    }
                }
                Ok(times)
            });
            drop(stopped);
            self.http.issue.store(false, Ordering::Relaxed);
            let times = times?;
            let worst = times.iter().copied().fold(0.0, f64::max);
            let mut r = single(times.clone());
            if let Some(o) = r.as_object_mut() {
                o.insert("max_ns".into(), json!(worst));
                o.insert(
                    "per_call_ms".into(),
                    json!(
                        times
                            .iter()
                            .map(|t| (t / 1e4).round() / 100.0)
                            .collect::<Vec<_>>()
                    ),
                );
            }
            progress(&format!("redis-hung: worst {worst} ns"));
            self.rows.insert("redis-hung".into(), r);
        }
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        let want = |r: &str| self.args.rows.iter().any(|x| x == r);
        let (hot, random) = (want("hot"), want("random"));
        let users = want("accounts") || want("io");
        let want_redis = want("redis");
        let want_silent = want("silent");
        let mut hits = std::mem::take(&mut self.manifest.hits);
        hits.sort_by_key(|h| h.tokens);
        let largest = hits.last().map(|h| h.tokens);
        for h in &hits {
            let do_random = random && Some(h.tokens) == largest;
            if !(hot || do_random) {
                continue;
            }
            let cache = self.load(h)?;
            if hot {
                self.hot(h, &cache)?;
            }
            if do_random {
                self.random(h, &cache)?;
            }
        }
        if users {
            self.users()?;
        }
        if want_silent {
            self.silent()?;
        }
        if want_redis {
            let url = self
                .args
                .redis_url
                .clone()
                .context("the redis row needs --redis-url")?;
            let some = hits
                .iter()
                .find(|h| h.tenants.len() >= 2)
                .context("no app-token cache with two tenants in the manifest")?;
            self.redis(&url, some)?;
        }
        let refused = self.http.refused.load(Ordering::Relaxed);
        if refused > 0 {
            bail!("{refused} requests other than discovery were made");
        }
        Ok(())
    }
}

/// Keeps a process stopped (SIGSTOP) until dropped (SIGCONT).
struct Stopped(u32);

impl Stopped {
    fn new(pid: u32) -> Result<Stopped> {
        signal("STOP", pid)?;
        Ok(Stopped(pid))
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Err(e) = signal("CONT", self.0) {
            eprintln!("cache bench: could not resume redis-server {}: {e}", self.0);
        }
    }
}

fn signal(name: &str, pid: u32) -> Result<()> {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("kill -{name} {pid} failed");
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let manifest: Manifest = serde_json::from_str(
        &std::fs::read_to_string(&args.manifest)
            .with_context(|| format!("reading {}", args.manifest.display()))?,
    )
    .context("parsing the manifest")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut bench = Bench {
        args,
        manifest,
        rt,
        http: Arc::new(DiscoveryOnly::default()),
        rows: Map::new(),
        info: Map::new(),
    };
    bench.run()?;
    let out = json!({
        "impl": format!("msal-rs {}", env!("CARGO_PKG_VERSION")),
        "profile": if cfg!(debug_assertions) { "debug" } else { "optimized" },
        "rows": bench.rows,
        "info": bench.info,
    });
    std::fs::write(&bench.args.out, serde_json::to_vec_pretty(&out)?)
        .with_context(|| format!("writing {}", bench.args.out.display()))?;
    Ok(())
}

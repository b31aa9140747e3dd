//! A [`CacheStore`] over Redis, for a fleet of servers sharing one token cache.
//!
//! ```no_run
//! # async fn demo() -> msal_core::Result<()> {
//! use std::time::Duration;
//! use msal_cache_redis::RedisCache;
//!
//! let store = RedisCache::builder("redis://127.0.0.1:6379/")
//!     .key_prefix("myapp")
//!     .deadline(Duration::from_millis(20))
//!     .connect()
//!     .await?;
//! let cache = msal_core::cache::TokenCache::with_store(store);
//! # let _ = cache; Ok(()) }
//! ```
//!
//! # Connecting
//!
//! | Redis | URL and builder |
//! |---|---|
//! | one server | `redis://host[:port][/db]`, or `redis+unix:///path/to/socket` |
//! | with a password (`requirepass`) | `redis://:password@host/`, or [`password`](RedisCacheBuilder::password) |
//! | with an ACL user | `redis://user:password@host/`, or [`username`](RedisCacheBuilder::username) and [`password`](RedisCacheBuilder::password) |
//! | over TLS, public CA | `rediss://host:6380/` (the system's root certificates) |
//! | over TLS, private CA | `rediss://host:6380/` and [`tls_ca_pem`](RedisCacheBuilder::tls_ca_pem) |
//! | Redis Cluster | [`RedisCache::cluster_builder`] with one or more nodes' `redis://` or `rediss://` URLs |
//!
//! Azure Cache for Redis takes `rediss://:ACCESS_KEY@NAME.redis.cache.windows.net:6380/`;
//! ElastiCache with in-transit encryption `rediss://user:password@ENDPOINT:6379/` (a
//! cluster-mode ElastiCache: its configuration endpoint as the seed of
//! [`cluster_builder`](RedisCache::cluster_builder)). TLS is rustls (with aws-lc-rs), never
//! OpenSSL; hostnames are verified.
//!
//! ```no_run
//! # async fn demo(ca_pem: Vec<u8>) -> msal_core::Result<()> {
//! use msal_cache_redis::RedisCache;
//!
//! let store = RedisCache::cluster_builder(["rediss://redis-0.internal:6380/"])
//!     .tls_ca_pem(ca_pem)
//!     .username("msal-fleet")
//!     .password(std::env::var("REDIS_PASSWORD").unwrap_or_default())
//!     .connect()
//!     .await?;
//! # let _ = store; Ok(()) }
//! ```
//!
//! Passwords are kept out of `Debug` output and error messages. A failed call is an
//! [`ErrorKind::Cache`] error; [`RedisFailure::of`] says why ([`RedisFailure::Authentication`]
//! for a refused password, [`RedisFailure::Tls`] for an untrusted certificate, ...).
//!
//! # Layout
//!
//! One Redis hash per partition at `{prefix}:v1:{partition key}`, with field `d` (the
//! MSAL-format JSON bytes) and field `v` (a decimal counter: a random number from 2^32 to 2^62
//! when a write creates the hash, incremented by every later write). The partition's
//! [`Version`] is the decimal text of `v`. The random start keeps a partition that expired, or
//! that a Redis restart without persistence lost, from coming back at a version a client still
//! holds for the old contents (which that client would take for unchanged).
//!
//! On a Redis Cluster the layout is the same: each partition is one key, so the version and
//! the data always share a hash slot, and each Lua script touches that key only (passed in
//! `KEYS`); different partitions spread over the slots of every primary. The invalidation
//! channel is an ordinary `PUBLISH`, which a cluster delivers on every node.
//!
//! - [`read`](CacheStore::read) is one round trip (a Lua script): nothing when the partition is
//!   missing, only the version when it equals the caller's, else version and bytes. For user and
//!   on-behalf-of partitions it also refreshes their sliding TTL.
//! - [`modify`](CacheStore::modify) reads, applies the cache's operation, then writes by
//!   compare-and-set (a Lua script: WATCH/MULTI is unsound on a multiplexed connection). A
//!   conflict returns the newer contents, on which the operation runs again (bounded, with a
//!   small jittered backoff). A write sets the TTL (app partitions: the hint the cache gives, at
//!   least 1 s; user and on-behalf-of partitions: the sliding TTL, default 14 days) and publishes
//!   the partition key on `{prefix}:v1:invalidate` ([`RedisCache::invalidations`]).
//!
//! # Invalidations across the fleet
//!
//! A [`TokenCache`](msal_core::TokenCache) over this store subscribes to the invalidation
//! channel ([`CacheStore::watch`]) and marks each partition another server wrote stale, so its
//! next read asks Redis again: a sign-out on one server is honoured by the others within about
//! a round trip, not after [`CacheOptions::max_staleness`](msal_core::cache::CacheOptions)
//! (default 30 s). The subscriber has a connection of its own and reconnects by itself; while
//! it is down, what was published is lost, so memory falls back to the `max_staleness` bound,
//! and once it is back every partition in memory is marked stale.
//!
//! # Failing fast
//!
//! The token cache treats a store error as a miss and goes on to the identity provider, so this
//! store's job when Redis is unwell is to fail quickly and with a typed error
//! ([`ErrorKind::Cache`]):
//!
//! - every Redis call runs under a deadline (default 20 ms);
//! - a circuit breaker opens after consecutive failures (default 3) and for a while (default
//!   5 s) fails calls at once without touching Redis; then one call probes;
//! - the connection is re-established in the background by redis'
//!   [`ConnectionManager`].
//!
//! [`ConnectionManager`]: redis::aio::ConnectionManager
//!
//! [`RedisCache::connect`] does not require Redis to be up: it waits at most the connect timeout
//! (default 1 s) for a first connection and returns the store either way, so an application can
//! start while Redis is down; calls fail fast until Redis is back. Use [`RedisCache::ping`] for a
//! health check, or [`RedisCacheBuilder::require_connection`] to make `connect` fail instead.
//!
//! A call that timed out may still have been carried out by Redis later (a hung server that
//! resumes): a compare-and-set is then applied exactly as it would have been, never blindly.

mod breaker;
mod conn;
mod failure;
mod pubsub;
mod scripts;

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use msal_core::cache::{
    CacheStore, Invalidations, Modify, PartitionKey, PartitionKind, ReadOutcome, Snapshot, Version,
};
use msal_core::{Error, ErrorKind, Result};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisError, RedisResult, Value};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

pub use breaker::BreakerState;
pub use failure::{RedisFailure, RedisStoreError};
pub use pubsub::Invalidation;

use breaker::Breaker;
use conn::Conn;
use pubsub::Subscriber;
use scripts::Scripts;

const DEFAULT_PREFIX: &str = "msal";
const DEFAULT_DEADLINE: Duration = Duration::from_millis(20);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_SLIDING_TTL: Duration = Duration::from_secs(14 * 24 * 3600);
const DEFAULT_MAX_CAS_RETRIES: u32 = 16;
const DEFAULT_BREAKER_THRESHOLD: u32 = 3;
const DEFAULT_BREAKER_OPEN_FOR: Duration = Duration::from_secs(5);
const DEFAULT_INVALIDATION_CAPACITY: usize = 1024;
/// Background reconnection attempts per round (about 12 s at most 1 s apart).
const RECONNECT_RETRIES: usize = 16;
/// The shortest TTL given to an app partition.
const MIN_APP_TTL: Duration = Duration::from_secs(1);

/// The options of a [`RedisCache`]; see [`RedisCacheBuilder`].
#[derive(Debug, Clone)]
struct Options {
    prefix: String,
    deadline: Duration,
    connect_timeout: Duration,
    require_connection: bool,
    sliding_ttl: Duration,
    max_cas_retries: u32,
    breaker_threshold: u32,
    breaker_open_for: Duration,
    invalidation_capacity: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            prefix: DEFAULT_PREFIX.to_owned(),
            deadline: DEFAULT_DEADLINE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            require_connection: false,
            sliding_ttl: DEFAULT_SLIDING_TTL,
            max_cas_retries: DEFAULT_MAX_CAS_RETRIES,
            breaker_threshold: DEFAULT_BREAKER_THRESHOLD,
            breaker_open_for: DEFAULT_BREAKER_OPEN_FOR,
            invalidation_capacity: DEFAULT_INVALIDATION_CAPACITY,
        }
    }
}

/// Configures and connects a [`RedisCache`]; from [`RedisCache::builder`] or
/// [`RedisCache::cluster_builder`].
#[derive(Clone)]
#[must_use = "a builder does nothing until `connect` is awaited"]
pub struct RedisCacheBuilder {
    urls: Vec<String>,
    cluster: bool,
    tls_ca_pem: Option<Vec<u8>>,
    username: Option<String>,
    password: Option<String>,
    options: Options,
}

impl fmt::Debug for RedisCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<String> = self.urls.iter().map(|u| redact_url(u)).collect();
        f.debug_struct("RedisCacheBuilder")
            .field("urls", &urls)
            .field("cluster", &self.cluster)
            .field(
                "tls_roots",
                &if self.tls_ca_pem.is_some() {
                    "custom CA"
                } else {
                    "system"
                },
            )
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "REDACTED"))
            .field("options", &self.options)
            .finish()
    }
}

impl RedisCacheBuilder {
    /// The prefix of every key and channel (default `msal`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.options.prefix = prefix.into();
        self
    }

    /// The longest any single Redis call may take (default 20 ms); a call that takes longer
    /// fails with an [`ErrorKind::Cache`] error and counts as a failure for the circuit breaker.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline = deadline;
        self
    }

    /// How long [`connect`](Self::connect) waits for a first connection, and the bound of each
    /// background (re)connection attempt (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// With `true`, [`connect`](Self::connect) fails when Redis cannot be reached within the
    /// connect timeout (default `false`: it returns the store, whose calls fail fast until
    /// Redis is reachable).
    pub fn require_connection(mut self, require: bool) -> Self {
        self.options.require_connection = require;
        self
    }

    /// How long user and on-behalf-of partitions live after their last read or write (default
    /// 14 days): they hold refresh tokens, which carry no expiry.
    pub fn sliding_ttl(mut self, ttl: Duration) -> Self {
        self.options.sliding_ttl = ttl;
        self
    }

    /// How many times a write is retried after compare-and-set conflicts (default 16).
    pub fn max_cas_retries(mut self, retries: u32) -> Self {
        self.options.max_cas_retries = retries;
        self
    }

    /// The circuit breaker: open after `consecutive_failures` failed calls in a row (default 3)
    /// for `open_for` (default 5 s), then let one probe call through.
    pub fn circuit_breaker(mut self, consecutive_failures: u32, open_for: Duration) -> Self {
        self.options.breaker_threshold = consecutive_failures;
        self.options.breaker_open_for = open_for;
        self
    }

    /// How many invalidations a slow receiver of [`RedisCache::invalidations`] may fall behind
    /// before it sees [`RecvError::Lagged`](broadcast::error::RecvError::Lagged) (default 1024).
    pub fn invalidation_capacity(mut self, capacity: usize) -> Self {
        self.options.invalidation_capacity = capacity;
        self
    }

    /// Trusts only the CA certificates in `pem` (one or more PEM `CERTIFICATE` blocks) for the
    /// server's TLS certificate, instead of the system's roots: for a Redis whose certificate
    /// is issued by a private CA (a self-managed Redis, or ElastiCache or Azure Cache for Redis
    /// behind a corporate TLS proxy). Needs `rediss://` URLs.
    pub fn tls_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_ca_pem = Some(pem.into());
        self
    }

    /// The ACL user name to authenticate as (`AUTH user password`); overrides one in the URL.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The password (`requirepass`, or the ACL user's); overrides one in the URL. Kept out of
    /// `Debug` output and error messages.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Creates the store. Must run inside a Tokio runtime (the connection's tasks run on it).
    ///
    /// Fails on an invalid URL, certificate or option; waits at most the connect timeout for
    /// Redis and, unless [`require_connection`](Self::require_connection) is set, succeeds when
    /// Redis is down.
    pub async fn connect(self) -> Result<RedisCache> {
        validate(&self.options)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::new(
                ErrorKind::Configuration,
                "RedisCache::connect must run inside a Tokio runtime",
            )
        })?;
        let redacted_url = self
            .urls
            .iter()
            .map(|u| redact_url(u))
            .collect::<Vec<_>>()
            .join(",");
        let target = self.target()?;
        let options = self.options;
        let setup_error = SetupError::default();
        let (conn, first) = new_connection(&target, &options, &runtime, &setup_error)?;
        match tokio::time::timeout(options.connect_timeout, first).await {
            Ok(Ok(Ok(_))) => tracing::debug!("redis connected"),
            outcome => {
                let why = match outcome {
                    Ok(Ok(Err(e))) => failure::from_redis(e),
                    Err(_) => failure::error(
                        RedisFailure::Deadline,
                        format!(
                            "redis: no connection within {} ms",
                            options.connect_timeout.as_millis()
                        ),
                    ),
                    _ => failure::error(RedisFailure::Unavailable, "redis connection task failed"),
                };
                if options.require_connection {
                    return Err(why);
                }
                tracing::warn!(reason = %why, "redis unreachable at startup; cache calls fail fast until it is reachable");
            }
        }

        let breaker = Breaker::new(options.breaker_threshold, options.breaker_open_for);
        Ok(RedisCache {
            inner: Arc::new(Inner {
                conn: ArcSwap::from_pointee(conn),
                target,
                channel: format!("{}:v1:invalidate", options.prefix),
                options,
                breaker,
                scripts: Scripts::new(),
                redacted_url,
                runtime,
                subscriber: Mutex::new(None),
                setup_error,
            }),
        })
    }

    /// The clients to connect with, from the URLs, credentials and TLS roots.
    fn target(&self) -> Result<Target> {
        let config = |m: String| Error::new(ErrorKind::Configuration, m);
        if self.urls.is_empty() {
            return Err(config("no redis URL given".to_owned()));
        }
        let mut infos = Vec::with_capacity(self.urls.len());
        for url in &self.urls {
            let info: ConnectionInfo = url.as_str().into_connection_info().map_err(|e| {
                // The redis error may quote the URL, password included: keep only its category.
                config(format!("invalid redis URL ({:?})", e.kind()))
            })?;
            let mut settings = info.redis_settings().clone();
            if let Some(user) = &self.username {
                settings = settings.set_username(user);
            }
            if let Some(password) = &self.password {
                settings = settings.set_password(password);
            }
            let tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
            if self.tls_ca_pem.is_some() && !tls {
                return Err(config(
                    "a TLS CA was given but the redis URL is not rediss://".to_owned(),
                ));
            }
            infos.push(info.set_redis_settings(settings));
        }
        let certificates = match &self.tls_ca_pem {
            Some(pem) => Some(tls_certificates(pem)?),
            None => None,
        };
        // Every URL (every cluster seed node) gets its own client: the invalidation
        // subscriber connects to one of them (a PUBLISH reaches every node of a cluster).
        let mut clients = Vec::with_capacity(infos.len());
        for info in &infos {
            let client = match &certificates {
                Some(certs) => redis::Client::build_with_tls(info.clone(), certs.clone()),
                None => redis::Client::open(info.clone()),
            }
            .map_err(|e| config(format!("invalid redis client settings ({:?})", e.kind())))?;
            clients.push(client);
        }
        if !self.cluster {
            return Ok(Target {
                clients,
                cluster: None,
            });
        }
        let mut builder = ClusterClient::builder(infos);
        if let Some(certs) = certificates {
            builder = builder.certs(certs);
        }
        let cluster = builder.build().map_err(|e| {
            config(format!(
                "invalid redis cluster settings ({:?}): the seed nodes must share user, \
                 password, TLS mode and database, and be TCP addresses",
                e.kind()
            ))
        })?;
        Ok(Target {
            clients,
            cluster: Some(cluster),
        })
    }
}

/// The CA certificates in `pem` as redis' TLS settings; a configuration error when `pem`
/// holds none or one that does not parse.
fn tls_certificates(pem: &[u8]) -> Result<redis::TlsCertificates> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut count = 0usize;
    for cert in CertificateDer::pem_slice_iter(pem) {
        cert.map_err(|e| {
            Error::new(
                ErrorKind::Configuration,
                format!("the redis TLS CA PEM does not parse: {e}"),
            )
        })?;
        count += 1;
    }
    if count == 0 {
        return Err(Error::new(
            ErrorKind::Configuration,
            "the redis TLS CA PEM holds no CERTIFICATE block",
        ));
    }
    Ok(redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem.to_vec()),
    })
}

/// What the store connects to: one client per URL, and the cluster client in cluster mode.
#[derive(Clone)]
struct Target {
    clients: Vec<redis::Client>,
    cluster: Option<ClusterClient>,
}

/// Why the latest direct connection attempt failed (`None` once one succeeded): the store's
/// own connection retries setup failures in the background, so a call on it only sees its
/// deadline pass; this says why (a refused password, an untrusted certificate).
type SetupError = Arc<Mutex<Option<RedisError>>>;

/// A connection that connects lazily, and the task that checks the server with a direct
/// connection of its own (recording its outcome in `setup_error`), loads the scripts and
/// brings the store's connection up (so that it proceeds whoever waits for it).
fn new_connection(
    target: &Target,
    options: &Options,
    runtime: &tokio::runtime::Handle,
    setup_error: &SetupError,
) -> Result<(Conn, JoinHandle<RedisResult<()>>)> {
    let conn = match (&target.cluster, target.clients.first()) {
        (Some(cluster), _) => {
            let config = ClusterConfig::new()
                .set_connection_timeout(options.connect_timeout)
                .set_response_timeout(options.deadline);
            // Connects in the background; the cluster connection follows MOVED and ASK
            // redirections and refreshes its slot map after a failover by itself.
            let _guard = runtime.enter();
            Conn::Cluster(cluster.get_pending_async_connection_with_config(config))
        }
        (None, Some(client)) => {
            let config = ConnectionManagerConfig::new()
                .set_response_timeout(Some(options.deadline))
                .set_connection_timeout(Some(options.connect_timeout))
                // Reconnection runs in the background, at most 1 s apart, for longer than the
                // breaker stays open (so a probe finds the connection back soon after Redis
                // is), yet bounded, so that the reconnection task of a dropped store ends; the
                // next failed call after the retries are spent starts a new round.
                .set_min_delay(Duration::from_millis(50))
                .set_max_delay(Duration::from_secs(1))
                .set_number_of_retries(RECONNECT_RETRIES);
            Conn::Single(
                ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(|e| {
                    Error::with_source(ErrorKind::Configuration, "redis client setup", e)
                })?,
            )
        }
        (None, None) => {
            return Err(Error::new(ErrorKind::Configuration, "no redis URL given"));
        }
    };
    let mut warm = conn.clone();
    let target = target.clone();
    let (connect_timeout, deadline) = (options.connect_timeout, options.deadline);
    let slot = Arc::clone(setup_error);
    let first = runtime.spawn(async move {
        let checked = check_server(&target, connect_timeout, deadline).await;
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = checked.as_ref().err().cloned();
        checked?;
        redis::cmd("PING").query_async::<()>(&mut warm).await
    });
    Ok((conn, first))
}

/// Connects directly (no retries, so that a refused password or certificate is seen as such)
/// and loads the scripts: this saves the first calls the EVALSHA, NOSCRIPT, SCRIPT LOAD round
/// trips (a restarted Redis has lost them: then the first calls pay once). On a cluster,
/// SCRIPT LOAD goes to every primary.
async fn check_server(
    target: &Target,
    connect_timeout: Duration,
    deadline: Duration,
) -> RedisResult<()> {
    let mut conn = match (&target.cluster, target.clients.first()) {
        (Some(cluster), _) => Conn::Cluster(
            cluster
                .get_async_connection_with_config(
                    ClusterConfig::new()
                        .set_connection_timeout(connect_timeout)
                        .set_response_timeout(connect_timeout.max(deadline)),
                )
                .await?,
        ),
        (None, Some(client)) => Conn::Direct(
            client
                .get_multiplexed_async_connection_with_config(
                    &redis::AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(connect_timeout))
                        .set_response_timeout(Some(connect_timeout.max(deadline))),
                )
                .await?,
        ),
        (None, None) => {
            return Err(RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "no redis URL given",
            )));
        }
    };
    for code in scripts::ALL {
        redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(code)
            .query_async::<()>(&mut conn)
            .await?;
    }
    Ok(())
}

fn validate(o: &Options) -> Result<()> {
    let bad = |m: &str| Err(Error::new(ErrorKind::Configuration, m.to_owned()));
    if o.deadline.is_zero() {
        return bad("redis deadline must be positive");
    }
    if o.connect_timeout.is_zero() {
        return bad("redis connect timeout must be positive");
    }
    if o.sliding_ttl < Duration::from_secs(1) {
        return bad("redis sliding TTL must be at least 1 s");
    }
    if o.breaker_threshold == 0 {
        return bad("redis circuit breaker threshold must be at least 1");
    }
    Ok(())
}

/// A token cache store over Redis. Cheap to clone; every clone shares one multiplexed
/// connection, one circuit breaker and one invalidation subscriber.
#[derive(Clone)]
pub struct RedisCache {
    inner: Arc<Inner>,
}

struct Inner {
    /// Replaced by a fresh one when a probe fails (see [`RedisCache::call`]).
    conn: ArcSwap<Conn>,
    target: Target,
    channel: String,
    options: Options,
    breaker: Breaker,
    scripts: Scripts,
    redacted_url: String,
    runtime: tokio::runtime::Handle,
    subscriber: Mutex<Option<Subscriber>>,
    setup_error: SetupError,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.inner.options;
        f.debug_struct("RedisCache")
            .field("url", &self.inner.redacted_url)
            .field("cluster", &self.inner.target.cluster.is_some())
            .field("prefix", &o.prefix)
            .field("deadline", &o.deadline)
            .field("sliding_ttl", &o.sliding_ttl)
            .field("breaker", &self.inner.breaker.state())
            .finish_non_exhaustive()
    }
}

/// The outcome of a compare-and-set.
enum Cas {
    Written(Version),
    Conflict(Option<Snapshot>),
}

impl RedisCache {
    /// Connects with the default options (see [`RedisCacheBuilder`]).
    pub async fn connect(url: impl Into<String>) -> Result<RedisCache> {
        RedisCache::builder(url).connect().await
    }

    /// A builder for a store on one Redis server (or a primary that replicas follow) at `url`:
    /// `redis://[[user]:password@]host[:port][/db]`, `rediss://…` for TLS, or
    /// `redis+unix:///path`. See the [crate docs](crate#connecting) for the forms.
    pub fn builder(url: impl Into<String>) -> RedisCacheBuilder {
        RedisCacheBuilder {
            urls: vec![url.into()],
            cluster: false,
            tls_ca_pem: None,
            username: None,
            password: None,
            options: Options::default(),
        }
    }

    /// A builder for a store on a Redis Cluster, found from one or more of its nodes
    /// (`redis://` or `rediss://` URLs, sharing user, password and TLS mode; database 0). The
    /// rest of the cluster is discovered from them (`CLUSTER SLOTS`), and `MOVED`/`ASK`
    /// redirections and failovers are followed.
    pub fn cluster_builder<I, S>(seed_urls: I) -> RedisCacheBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RedisCacheBuilder {
            urls: seed_urls.into_iter().map(Into::into).collect(),
            cluster: true,
            tls_ca_pem: None,
            username: None,
            password: None,
            options: Options::default(),
        }
    }

    /// Checks that Redis answers, under the same deadline and circuit breaker as every call.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = Conn::clone(&self.inner.conn.load());
        self.call(redis::cmd("PING").query_async::<Value>(&mut conn))
            .await
            .map(drop)
    }

    /// The circuit breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// The Redis key of `partition`: `{prefix}:v1:{partition key}`.
    pub fn key_of(&self, partition: &PartitionKey) -> String {
        format!("{}:v1:{}", self.inner.options.prefix, partition.as_str())
    }

    /// The channel on which every write publishes its partition key.
    pub fn invalidation_channel(&self) -> &str {
        &self.inner.channel
    }

    /// Subscribes to the partitions written by any client of this Redis (this one included).
    ///
    /// The first call starts a subscriber task with a pub/sub connection of its own; it
    /// reconnects by itself and ends when the last clone of this `RedisCache` is dropped.
    /// [`Invalidation::All`] is sent each time the subscription is (re)established, since what
    /// was published in a gap is lost; a receiver that lags should act likewise.
    pub fn invalidations(&self) -> broadcast::Receiver<Invalidation> {
        let mut slot = self
            .inner
            .subscriber
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let subscriber = slot.get_or_insert_with(|| {
            Subscriber::start(
                &self.inner.runtime,
                self.inner.target.clients.clone(),
                self.inner.channel.clone(),
                self.inner.options.connect_timeout,
                self.inner.options.invalidation_capacity,
            )
        });
        subscriber.sender.subscribe()
    }

    /// Runs one Redis call under the breaker and the deadline.
    ///
    /// When the breaker's probe fails with an error other than a timeout, the connection
    /// manager is replaced by a fresh one: the manager reconnects by itself after I/O errors,
    /// but a connection whose setup failed otherwise (AUTH or SELECT refused while Redis was
    /// loading, say) would stay failed.
    async fn call<T>(&self, call: impl Future<Output = RedisResult<T>>) -> Result<T> {
        let Some(admission) = self.inner.breaker.admit() else {
            return Err(failure::error(
                RedisFailure::BreakerOpen,
                "redis circuit breaker open",
            ));
        };
        let probe = admission.is_probe();
        match tokio::time::timeout(self.inner.options.deadline, call).await {
            Ok(Ok(value)) => {
                admission.success();
                Ok(value)
            }
            Ok(Err(e)) => {
                let setup = self.setup_error();
                if means_unavailable(&e) {
                    admission.failure();
                    if probe && (!e.is_timeout() || setup.is_some()) {
                        self.renew_connection();
                    }
                } else {
                    admission.success();
                }
                if e.is_timeout() {
                    Err(self.timed_out(setup))
                } else {
                    Err(failure::from_redis(e))
                }
            }
            Err(_) => {
                // A slow or hung server: its connection is kept (it may come back), unless
                // its setup is what failed.
                admission.failure();
                let setup = self.setup_error();
                if probe && setup.is_some() {
                    self.renew_connection();
                }
                Err(self.timed_out(setup))
            }
        }
    }

    /// The latest setup failure, if the last direct connection attempt failed.
    fn setup_error(&self) -> Option<RedisError> {
        self.inner
            .setup_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The error of a call that timed out: why the connection could not be set up when that
    /// is known (the call waited on a connection being retried), else the deadline.
    fn timed_out(&self, setup: Option<RedisError>) -> Error {
        match setup {
            Some(e) => failure::from_redis(e),
            None => failure::error(RedisFailure::Deadline, self.deadline_msg()),
        }
    }

    /// Swaps in a fresh connection manager, whose first connection starts at once.
    fn renew_connection(&self) {
        let inner = &self.inner;
        match new_connection(
            &inner.target,
            &inner.options,
            &inner.runtime,
            &inner.setup_error,
        ) {
            Ok((conn, _first)) => {
                inner.conn.store(Arc::new(conn));
                tracing::debug!("redis connection renewed after a failed probe");
            }
            Err(e) => tracing::warn!(error = %e, "redis connection could not be renewed"),
        }
    }

    fn deadline_msg(&self) -> String {
        format!(
            "redis call exceeded its deadline of {} ms",
            self.inner.options.deadline.as_millis()
        )
    }

    /// The TTL to refresh on a read: the sliding TTL for partitions holding refresh tokens.
    fn sliding_ms(&self, kind: PartitionKind) -> u64 {
        match kind {
            PartitionKind::User | PartitionKind::OnBehalfOf => {
                millis(self.inner.options.sliding_ttl)
            }
            _ => 0,
        }
    }

    /// The TTL of a write (0: leave the key's TTL as it is).
    fn write_ttl_ms(&self, kind: PartitionKind, expires_in: Option<Duration>) -> u64 {
        match kind {
            PartitionKind::User | PartitionKind::OnBehalfOf => millis(
                self.inner
                    .options
                    .sliding_ttl
                    .max(expires_in.unwrap_or_default()),
            ),
            _ => expires_in.map_or(0, |d| millis(d.max(MIN_APP_TTL))),
        }
    }

    async fn read_key(
        &self,
        key: &str,
        known: Option<&Version>,
        ttl_ms: u64,
    ) -> Result<ReadOutcome> {
        let mut invocation = self.inner.scripts.read.prepare_invoke();
        invocation
            .key(key)
            .arg(known.map_or(&b""[..], Version::as_bytes))
            .arg(ttl_ms);
        let mut conn = Conn::clone(&self.inner.conn.load());
        let reply: Value = self.call(invocation.invoke_async(&mut conn)).await?;
        match reply {
            Value::Nil => Ok(ReadOutcome::Missing),
            Value::Array(items) => match <[Value; 1]>::try_from(items) {
                Ok([Value::BulkString(_)]) => Ok(ReadOutcome::Unchanged),
                Ok(_) => Err(unexpected_reply("read")),
                Err(items) => snapshot(items)
                    .map(ReadOutcome::Current)
                    .ok_or_else(|| unexpected_reply("read")),
            },
            _ => Err(unexpected_reply("read")),
        }
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: Option<&Version>,
        data: &[u8],
        ttl_ms: u64,
        partition: &str,
    ) -> Result<Cas> {
        let mut invocation = self.inner.scripts.compare_and_set.prepare_invoke();
        invocation
            .key(key)
            .arg(expected.map_or(&b""[..], Version::as_bytes))
            .arg(data)
            .arg(ttl_ms)
            .arg(self.inner.channel.as_str())
            .arg(partition)
            .arg(first_version());
        let mut conn = Conn::clone(&self.inner.conn.load());
        let reply: Value = self.call(invocation.invoke_async(&mut conn)).await?;
        let Value::Array(mut items) = reply else {
            return Err(unexpected_reply("compare-and-set"));
        };
        match items.first() {
            Some(Value::Int(1)) if items.len() == 2 => match items.pop() {
                Some(Value::BulkString(v)) => Ok(Cas::Written(Version::new(v))),
                _ => Err(unexpected_reply("compare-and-set")),
            },
            Some(Value::Int(0)) if items.len() == 1 => Ok(Cas::Conflict(None)),
            Some(Value::Int(0)) if items.len() == 3 => {
                items.remove(0);
                snapshot(items)
                    .map(|s| Cas::Conflict(Some(s)))
                    .ok_or_else(|| unexpected_reply("compare-and-set"))
            }
            _ => Err(unexpected_reply("compare-and-set")),
        }
    }
}

/// The version of a partition a write creates: random, from 2^32 (above the small counters
/// of any older client) to 2^62 (so that incrementing it cannot overflow Redis' 64-bit
/// integers). A partition that expired, or that a restart without persistence lost, must not
/// come back at a version a reader still holds for its earlier contents: that reader would
/// take the new contents for unchanged (the [`Version`] contract).
fn first_version() -> u64 {
    fastrand::u64((1 << 32)..(1 << 62))
}

/// `[v, d]` as a snapshot.
fn snapshot(items: Vec<Value>) -> Option<Snapshot> {
    let [Value::BulkString(v), Value::BulkString(d)] = <[Value; 2]>::try_from(items).ok()? else {
        return None;
    };
    Some(Snapshot {
        data: Arc::from(d),
        version: Version::new(v),
    })
}

fn unexpected_reply(script: &str) -> Error {
    failure::error(
        RedisFailure::UnexpectedReply,
        format!("unexpected reply from the redis {script} script"),
    )
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether an error says Redis is unreachable, unwell or refusing this client's connection
/// (a failure for the circuit breaker), rather than that it refused one request.
fn means_unavailable(e: &RedisError) -> bool {
    matches!(
        failure::classify(e),
        RedisFailure::Unavailable
            | RedisFailure::Deadline
            | RedisFailure::Tls
            | RedisFailure::Authentication
    )
}

/// The URL with its password (and any query, which may carry one) replaced.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("REDACTED"));
            }
            if u.query().is_some() {
                u.set_query(Some("REDACTED"));
            }
            u.to_string()
        }
        Err(_) => "<unparsable redis URL>".to_owned(),
    }
}

/// A short jittered pause before the `attempt`th retry after a conflict (none before the
/// first: the conflict already brought the newer contents).
async fn backoff(attempt: u32) {
    if attempt == 0 {
        return;
    }
    let cap_us = (500u64 << attempt.min(5)).min(16_000);
    tokio::time::sleep(Duration::from_micros(fastrand::u64(0..=cap_us))).await;
}

#[async_trait]
impl CacheStore for RedisCache {
    async fn read(
        &self,
        partition: &PartitionKey,
        known: Option<&Version>,
        _consistent: bool,
    ) -> Result<ReadOutcome> {
        // A script runs atomically, and writes replace both fields in one script: every read
        // is consistent.
        self.read_key(
            &self.key_of(partition),
            known,
            self.sliding_ms(partition.kind()),
        )
        .await
    }

    async fn modify(
        &self,
        partition: &PartitionKey,
        modify: &mut Modify<'_>,
    ) -> Result<Option<Snapshot>> {
        let key = self.key_of(partition);
        let mut current = match self
            .read_key(&key, None, self.sliding_ms(partition.kind()))
            .await?
        {
            ReadOutcome::Current(s) => Some(s),
            ReadOutcome::Missing => None,
            ReadOutcome::Unchanged => return Err(unexpected_reply("read")),
        };
        for attempt in 0..=self.inner.options.max_cas_retries {
            let Some(written) = modify(current.as_ref())? else {
                return Ok(current);
            };
            let ttl = self.write_ttl_ms(partition.kind(), written.expires_in);
            let expected = current.as_ref().map(|s| &s.version);
            match self
                .compare_and_set(&key, expected, &written.data, ttl, partition.as_str())
                .await?
            {
                Cas::Written(version) => {
                    return Ok(Some(Snapshot {
                        data: Arc::from(written.data),
                        version,
                    }));
                }
                Cas::Conflict(newer) => {
                    tracing::debug!(attempt, "redis compare-and-set conflict; retrying");
                    current = newer;
                    backoff(attempt).await;
                }
            }
        }
        Err(failure::error(
            RedisFailure::Contention,
            format!(
                "redis write abandoned after {} compare-and-set conflicts",
                self.inner.options.max_cas_retries + 1
            ),
        ))
    }

    fn is_partitioned(&self) -> bool {
        true
    }

    /// The announcements of [`RedisCache::invalidations`], a receiver that fell behind
    /// turned into [`Invalidation::All`]; the stream ends with the store.
    fn watch(&self) -> Option<Invalidations> {
        let receiver = self.invalidations();
        Some(Box::pin(futures_util::stream::unfold(
            receiver,
            |mut receiver| async move {
                let notice = match receiver.recv().await {
                    Ok(notice) => notice,
                    Err(broadcast::error::RecvError::Lagged(_)) => Invalidation::All,
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                Some((notice, receiver))
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        let r = redact_url("redis://user:s3cret@host:6380/2");
        assert!(!r.contains("s3cret"), "{r}");
        assert!(r.contains("user") && r.contains("host:6380"), "{r}");
        let r = redact_url("redis+unix:///tmp/r.sock?pass=s3cret");
        assert!(!r.contains("s3cret"), "{r}");
        assert_eq!(redact_url("not a url"), "<unparsable redis URL>");
    }

    #[test]
    fn server_refusals_do_not_trip_the_breaker() {
        let refusal = RedisError::from((redis::ErrorKind::Client, "bad"));
        assert!(!means_unavailable(&refusal));
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(means_unavailable(&io));
    }
}

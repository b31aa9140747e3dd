//! The `CacheStore` contract, checked by msal-core's conformance kit
//! (`msal_core::cache::conformance`) against a real `redis-server` of this test's own: each
//! check gets a key prefix of its own on it, and two `RedisCache` clients. The Redis-specific
//! behaviour (layout, TTLs, kill/hang/recovery, the circuit breaker, invalidations, TLS,
//! authentication, cluster) is in `redis.rs`, `tls_auth.rs` and `cluster.rs`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::RedisServer;
use msal_cache_redis::RedisCache;
use msal_core::cache::PartitionKey;
use msal_core::cache::conformance::{self, Backing, Clause, Options, Outcome};
use msal_core::{Error, ErrorKind};

/// A key prefix of its own on the shared test server.
struct Prefix {
    server: Arc<RedisServer>,
    prefix: String,
}

#[async_trait]
impl Backing for Prefix {
    type Store = RedisCache;

    async fn open(&self) -> msal_core::Result<RedisCache> {
        RedisCache::builder(self.server.url())
            .key_prefix(self.prefix.as_str())
            // The default 20 ms suits a production Redis next to the app; this one shares a
            // small machine with the compiler, and the kit moves an 8 MiB document.
            .deadline(Duration::from_secs(2))
            .connect()
            .await
    }

    /// A plain string where the partition's hash belongs (WRONGTYPE for the scripts).
    async fn write_foreign(&self, partition: &PartitionKey) -> msal_core::Result<bool> {
        let key = self.open().await?.key_of(partition);
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(b"\x00\xffnot a partition")
            .query(&mut self.server.conn())
            .map_err(|e| Error::with_source(ErrorKind::Cache, "SET", e))?;
        Ok(true)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_cache_conforms() {
    let server = Arc::new(RedisServer::start());
    let n = AtomicU32::new(0);
    let report = conformance::run(
        || {
            let prefix = format!("conformance{}", n.fetch_add(1, Ordering::Relaxed));
            let server = Arc::clone(&server);
            async move { Ok(Prefix { server, prefix }) }
        },
        &Options::default(),
    )
    .await;
    eprintln!("{report}");
    report.assert_passed();
    for (clause, outcome) in report.checks() {
        assert_eq!(*outcome, Outcome::Passed, "{clause}");
    }
    assert_eq!(report.checks().len(), Clause::ALL.len());
}

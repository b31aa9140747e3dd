//! The token cache shared through Redis (msal-cache-redis) by a fleet of servers, through the
//! public API against the emulator and a real `redis-server` of this test's own: tokens shared
//! between servers, acquisitions going on while Redis is killed or hung (within the design
//! bound), Redis used again once it is back, and sign-out honoured across the fleet.

mod support;

#[path = "../../msal-cache-redis/tests/common/mod.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use msal_cache_redis::RedisCache;
use msal_core::cache::CacheOptions;
use msal_core::{Authority, ClientCredential, ConfidentialClient, TokenCache, TokenSource};
use msal_tests::emulator::seeds;
use redis_server::RedisServer;
use support::{Env, GRAPH_DEFAULT};

const USER_READ: &str = "https://graph.microsoft.com/User.Read";

async fn redis_cache(server: &RedisServer) -> TokenCache {
    let store = RedisCache::builder(server.url())
        .circuit_breaker(3, Duration::from_millis(500))
        .connect()
        .await
        .expect("connect");
    TokenCache::with_store_options(store, CacheOptions::default().max_staleness(Duration::ZERO))
}

fn daemon(env: &Env, cache: TokenCache) -> ConfidentialClient {
    env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache),
        None,
    )
}

/// Tenants to ask tokens for.
const TENANTS: [&str; 2] = [seeds::CONTOSO_DOMAIN, seeds::FABRIKAM_DOMAIN];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_shares_tokens_and_survives_redis_killed_and_hung() {
    let env = Env::start().await;
    let mut server = RedisServer::start();
    let port = server.port;
    let a = daemon(&env, redis_cache(&server).await);
    let b = daemon(&env, redis_cache(&server).await);

    // Server A gets a token; server B is served by Redis.
    let t = Instant::now();
    let first = a
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    let healthy = t.elapsed();
    assert_eq!(first.source(), TokenSource::IdentityProvider);
    let shared = b
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(shared.source(), TokenSource::Cache);
    assert_eq!(
        shared.access_token().secret(),
        first.access_token().secret()
    );
    assert_eq!(env.token_requests().await.len(), 1);
    // One Redis hash per app partition, holding MSAL JSON.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("msal:v1:*")
        .query(&mut server.conn())
        .expect("KEYS");
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].ends_with("_AppTokenCache"), "{keys:?}");

    // Redis killed: every acquisition still works, through the identity provider, and costs
    // at most a few deadlines more than a healthy one.
    server.kill();
    let mut latest = None;
    for tenant in TENANTS {
        let t = Instant::now();
        let r = a
            .acquire_token_for_client(GRAPH_DEFAULT)
            .tenant(tenant)
            .force_refresh(true)
            .await
            .expect("acquisitions go on without Redis");
        let took = t.elapsed();
        assert_eq!(r.source(), TokenSource::IdentityProvider);
        assert!(
            took < healthy + Duration::from_millis(150),
            "with Redis dead an acquisition took {took:?} (healthy {healthy:?})"
        );
        latest.get_or_insert(r);
    }
    // What A obtained meanwhile is kept and served from its memory.
    let held = a
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(held.source(), TokenSource::Cache);
    let latest = latest.expect("a token");
    assert_eq!(held.access_token().secret(), latest.access_token().secret());
    assert_ne!(held.access_token().secret(), first.access_token().secret());

    // Redis back (empty: no persistence): after the breaker's pause it is used again.
    let server = RedisServer::start_on(port);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut used_again = false;
    for _ in 0..40 {
        a.acquire_token_for_client(GRAPH_DEFAULT)
            .tenant(seeds::FABRIKAM_DOMAIN)
            .force_refresh(true)
            .await
            .expect("token");
        let n: usize = redis::cmd("KEYS")
            .arg("msal:v1:*")
            .query::<Vec<String>>(&mut server.conn())
            .expect("KEYS")
            .len();
        if n > 0 {
            used_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(used_again, "a restarted Redis is written to again");
    // B's connection to the old server is broken; it reconnects by itself.
    let mut healthy_again = false;
    for _ in 0..60 {
        if b.cache().sync().await.is_ok() {
            healthy_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy_again, "B reconnects to the restarted Redis");
    let from_b = b
        .acquire_token_for_client(GRAPH_DEFAULT)
        .tenant(seeds::FABRIKAM_DOMAIN)
        .await
        .expect("token");
    assert_eq!(
        from_b.source(),
        TokenSource::Cache,
        "B reads what A wrote after the restart"
    );

    // Redis hung (SIGSTOP): acquisitions go on within the bound; then it is used again.
    server.hang();
    let t = Instant::now();
    let r = a
        .acquire_token_for_client(GRAPH_DEFAULT)
        .tenant(seeds::CONTOSO_TENANT_ID)
        .force_refresh(true)
        .await
        .expect("acquisitions go on with Redis hung");
    let took = t.elapsed();
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    assert!(
        took < healthy + Duration::from_millis(150),
        "with Redis hung an acquisition took {took:?} (healthy {healthy:?})"
    );
    server.resume();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_on_one_server_holds_across_the_fleet() {
    let env = Env::start().await;
    let server = RedisServer::start();
    let web = |cache: TokenCache| {
        env.app(
            seeds::WEB_APP_CLIENT_ID,
            ClientCredential::secret(seeds::WEB_APP_SECRET),
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            Some(cache),
            None,
        )
    };
    let a = web(redis_cache(&server).await);
    let b = web(redis_cache(&server).await);
    let r = a
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("alice signs in on server A");
    let account = r.account().expect("account").clone();
    // Server B finds the signed-in user by home account id (its request carries the id).
    let found = b
        .account(account.home_account_id())
        .await
        .expect("lookup")
        .expect("B finds alice in Redis");
    assert_eq!(found, account);
    let silent = b
        .acquire_token_silent([USER_READ], &found)
        .await
        .expect("silent on B");
    assert_eq!(silent.source(), TokenSource::Cache);

    // Server B signs alice out.
    b.remove_account(&found).await.expect("removed");
    // Server A still holds alice in memory; a refresh re-reads Redis and finds nothing.
    let e = a
        .acquire_token_silent([USER_READ], &account)
        .force_refresh(true)
        .await
        .unwrap_err();
    assert!(e.is_interaction_required(), "{e:?}");
    assert!(
        b.account(account.home_account_id())
            .await
            .expect("lookup")
            .is_none()
    );
    // The user partition in Redis holds no trace of alice's tokens.
    let data: Vec<String> = redis::cmd("HVALS")
        .arg(format!(
            "msal:v1:{}",
            account.home_account_id().to_ascii_lowercase()
        ))
        .query(&mut server.conn())
        .expect("HVALS");
    let doc = data
        .iter()
        .find(|v| v.starts_with('{'))
        .expect("the partition still exists");
    let json: serde_json::Value = serde_json::from_str(doc).expect("json");
    for section in ["AccessToken", "RefreshToken", "IdToken", "Account"] {
        assert_eq!(
            json[section].as_object().map(|m| m.len()).unwrap_or(0),
            0,
            "{section}"
        );
    }
}

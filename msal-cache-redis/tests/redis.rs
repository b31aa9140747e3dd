//! `RedisCache` against a real `redis-server` of its own per test (no mocks).

mod common;

use std::time::{Duration, Instant};

use common::RedisServer;
use msal_cache_redis::{BreakerState, Invalidation, RedisCache};
use msal_core::cache::{CacheStore, PartitionKey, ReadOutcome, Snapshot, Version, Written};
use msal_core::{Error, ErrorKind};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The tests that bound wall-clock times run one at a time, so that they do not slow each
/// other down on a small machine.
static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Adds `name: true` to the JSON object in `current` (or a new one).
fn add(current: Option<&Snapshot>, name: &str) -> msal_core::Result<Option<Written>> {
    let mut doc: Value = match current {
        Some(s) => serde_json::from_slice(&s.data)
            .map_err(|e| Error::with_source(ErrorKind::Cache, "test data", e))?,
        None => json!({}),
    };
    doc[name] = json!(true);
    Ok(Some(Written {
        data: serde_json::to_vec(&doc).map_err(|e| Error::with_source(ErrorKind::Cache, "x", e))?,
        expires_in: None,
    }))
}

fn doc(s: &Snapshot) -> Value {
    serde_json::from_slice(&s.data).expect("stored data is JSON")
}

async fn write(cache: &RedisCache, key: &PartitionKey, name: &str) -> Snapshot {
    cache
        .modify(key, &mut |cur| add(cur, name))
        .await
        .expect("write")
        .expect("written")
}

/// A write before a fault is injected, retried: on a loaded machine even a healthy call can
/// miss the 20 ms deadline, and that is not what these tests are about.
async fn setup_write(cache: &RedisCache, key: &PartitionKey, name: &str) -> Snapshot {
    for _ in 0..20 {
        if let Ok(Some(s)) = cache.modify(key, &mut |cur| add(cur, name)).await {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("setup write failed 20 times");
}

fn pttl(server: &RedisServer, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query(&mut server.conn())
        .expect("PTTL")
}

/// The version as the integer the store keeps in field `v`.
fn counter(v: &Version) -> u64 {
    std::str::from_utf8(v.as_bytes())
        .expect("decimal text")
        .parse()
        .expect("a decimal counter")
}

/// The generic contract is checked by msal-core's conformance kit (`tests/conformance.rs`);
/// this is what is particular to Redis: a version is a counter that starts at a random number
/// from 2^32 when the hash is created and goes up by one per write, and the layout is the
/// documented one (one hash per partition, fields `v` and `d`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_versions_and_the_documented_layout() -> TestResult {
    let server = RedisServer::start();
    let a = RedisCache::connect(server.url()).await?;
    let b = RedisCache::connect(server.url()).await?;
    let key = PartitionKey::app("cid", "tenant");
    let first = write(&a, &key, "a").await;
    let start = counter(&first.version);
    assert!((1 << 32..1 << 62).contains(&start), "first version {start}");
    let second = write(&b, &key, "b").await;
    assert_eq!(counter(&second.version), start + 1);
    assert_eq!(doc(&second), json!({"a": true, "b": true}));
    let same = a.modify(&key, &mut |_| Ok(None)).await?.expect("exists");
    assert_eq!(same.version, second.version);

    let stored: (String, Vec<u8>) = redis::cmd("HMGET")
        .arg(a.key_of(&key))
        .arg("v")
        .arg("d")
        .query(&mut server.conn())?;
    assert_eq!(a.key_of(&key), "msal:v1:cid_tenant_AppTokenCache");
    assert_eq!(stored.0.as_bytes(), second.version.as_bytes());
    assert_eq!(stored.1, &*second.data);

    // Other partitions start elsewhere.
    let starts: std::collections::HashSet<u64> = [
        start,
        counter(
            &write(&a, &PartitionKey::app("cid", "t2"), "a")
                .await
                .version,
        ),
        counter(
            &write(&a, &PartitionKey::app("cid", "t3"), "a")
                .await
                .version,
        ),
    ]
    .into();
    assert_eq!(starts.len(), 3, "{starts:?}");
    Ok(())
}

/// A partition that expires, or that a restart without persistence (here FLUSHALL) loses, is
/// written again from scratch: a second store that read the old contents must see the new ones,
/// never take them for unchanged because the new hash counted its versions from the same start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_partition_never_reuses_an_old_version() -> TestResult {
    let server = RedisServer::start();
    let writer = RedisCache::connect(server.url()).await?;
    let reader = RedisCache::connect(server.url()).await?;
    let key = PartitionKey::app("cid", "tenant");
    let held = |outcome: ReadOutcome| match outcome {
        ReadOutcome::Current(s) => s,
        other => panic!("expected contents, got {other:?}"),
    };

    // Expired: the app partition lives as long as the hint (at least 1 s).
    writer
        .modify(&key, &mut |_| {
            Ok(Some(Written {
                data: br#"{"generation":"old"}"#.to_vec(),
                expires_in: Some(Duration::from_millis(1)),
            }))
        })
        .await?;
    let old = held(reader.read(&key, None, false).await?);
    assert_eq!(doc(&old), json!({"generation": "old"}));
    let t = Instant::now();
    while redis::cmd("EXISTS")
        .arg(writer.key_of(&key))
        .query::<i64>(&mut server.conn())?
        == 1
    {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the partition did not expire"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let new = write(&writer, &key, "new").await;
    assert_ne!(new.version, old.version);
    let seen = held(reader.read(&key, Some(&old.version), false).await?);
    assert_eq!(doc(&seen), json!({"new": true}));
    assert_eq!(seen.version, new.version);

    // Lost with everything else (a restart without persistence).
    let user = PartitionKey::user("u.t");
    write(&writer, &user, "before").await;
    let before = held(reader.read(&user, None, false).await?);
    let _: () = redis::cmd("FLUSHALL").query(&mut server.conn())?;
    let after = write(&writer, &user, "after").await;
    assert_ne!(after.version, before.version);
    let seen = held(reader.read(&user, Some(&before.version), false).await?);
    assert_eq!(doc(&seen), json!({"after": true}));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttls() -> TestResult {
    let server = RedisServer::start();
    let cache = RedisCache::connect(server.url()).await?;

    // App partition: the expiry hint.
    let app = PartitionKey::app("cid", "t1");
    cache
        .modify(&app, &mut |_| {
            Ok(Some(Written {
                data: b"{}".to_vec(),
                expires_in: Some(Duration::from_secs(3600)),
            }))
        })
        .await?;
    let ttl = pttl(&server, &cache.key_of(&app));
    assert!((3_598_000..=3_600_000).contains(&ttl), "app PTTL {ttl}");

    // A tiny hint still keeps the partition 1 s.
    let app2 = PartitionKey::app("cid", "t2");
    cache
        .modify(&app2, &mut |_| {
            Ok(Some(Written {
                data: b"{}".to_vec(),
                expires_in: Some(Duration::from_millis(5)),
            }))
        })
        .await?;
    let ttl = pttl(&server, &cache.key_of(&app2));
    assert!((900..=1000).contains(&ttl), "app minimum PTTL {ttl}");

    // No hint on an app partition: no TTL.
    let app3 = PartitionKey::app("cid", "t3");
    write(&cache, &app3, "x").await;
    assert_eq!(pttl(&server, &cache.key_of(&app3)), -1);

    // User partition: the sliding TTL (default 14 days), refreshed by a read.
    let fourteen_days: i64 = 14 * 24 * 3600 * 1000;
    let user = PartitionKey::user("u.t");
    let written = write(&cache, &user, "x").await;
    let ttl = pttl(&server, &cache.key_of(&user));
    assert!(
        (fourteen_days - 2000..=fourteen_days).contains(&ttl),
        "user PTTL {ttl}"
    );
    let _: () = redis::cmd("PEXPIRE")
        .arg(cache.key_of(&user))
        .arg(5000)
        .query(&mut server.conn())?;
    assert!(pttl(&server, &cache.key_of(&user)) <= 5000);
    // Even a read that finds the partition unchanged slides it.
    cache.read(&user, Some(&written.version), false).await?;
    let ttl = pttl(&server, &cache.key_of(&user));
    assert!(
        (fourteen_days - 2000..=fourteen_days).contains(&ttl),
        "refreshed PTTL {ttl}"
    );

    // Configurable sliding TTL, for OBO partitions too.
    let short = RedisCache::builder(server.url())
        .key_prefix("short")
        .sliding_ttl(Duration::from_secs(60))
        .connect()
        .await?;
    let obo = PartitionKey::on_behalf_of("cid", "h");
    write(&short, &obo, "x").await;
    let ttl = pttl(&server, &short.key_of(&obo));
    assert!((58_000..=60_000).contains(&ttl), "OBO PTTL {ttl}");
    assert!(short.key_of(&obo).starts_with("short:v1:"));
    Ok(())
}

fn assert_cache_error(result: msal_core::Result<impl std::fmt::Debug>) -> Error {
    let err = result.expect_err("Redis is down: the call must fail");
    assert_eq!(err.kind(), ErrorKind::Cache, "{err}");
    err
}

/// After the breaker opened, calls fail at once without touching Redis.
async fn assert_breaker_fails_fast(cache: &RedisCache, key: &PartitionKey) {
    assert_eq!(cache.breaker_state(), BreakerState::Open);
    let mut times = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        let err = assert_cache_error(cache.read(key, None, false).await);
        times.push(t.elapsed());
        assert!(
            err.to_string().ends_with("redis circuit breaker open"),
            "{err}"
        );
    }
    let t = Instant::now();
    let err = assert_cache_error(cache.modify(key, &mut |c| add(c, "z")).await);
    times.push(t.elapsed());
    assert!(
        err.to_string().ends_with("redis circuit breaker open"),
        "{err}"
    );
    times.sort();
    let median = times[times.len() / 2];
    let max = times[times.len() - 1];
    eprintln!("breaker open: median {median:?}, max {max:?}");
    assert!(
        median < Duration::from_millis(1),
        "open-breaker median {median:?}"
    );
    assert!(max < Duration::from_millis(5), "open-breaker max {max:?}");
}

/// Polls until a read succeeds; returns how long it took.
async fn wait_for_recovery(cache: &RedisCache, key: &PartitionKey) -> Duration {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if cache.read(key, None, false).await.is_ok() {
            return t.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no recovery within 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_fails_fast_then_recovers_on_restart() -> TestResult {
    let _timing = TIMING.lock().await;
    let mut server = RedisServer::start();
    let port = server.port;
    let cache = RedisCache::connect(server.url()).await?;
    let key = PartitionKey::app("cid", "tenant");
    setup_write(&cache, &key, "before").await;

    server.kill();
    for i in 0..3 {
        let t = Instant::now();
        let err = if i == 1 {
            assert_cache_error(cache.modify(&key, &mut |c| add(c, "during")).await)
        } else {
            assert_cache_error(cache.read(&key, None, false).await)
        };
        let took = t.elapsed();
        eprintln!("killed: call {i} failed after {took:?}: {err}");
        assert!(
            took < Duration::from_millis(50),
            "call {i} took {took:?}: {err}"
        );
    }
    assert_breaker_fails_fast(&cache, &key).await;

    let server = RedisServer::start_on(port);
    let took = wait_for_recovery(&cache, &key).await;
    eprintln!("recovered after {took:?}");
    // One open period, or two when a probe is unlucky on a loaded machine.
    assert!(took < Duration::from_secs(15), "recovered after {took:?}");
    assert_eq!(cache.breaker_state(), BreakerState::Closed);
    // The new server is empty (no persistence); writes work again.
    assert!(matches!(
        cache.read(&key, None, false).await?,
        ReadOutcome::Missing
    ));
    let after = write(&cache, &key, "after").await;
    assert_eq!(doc(&after), json!({"after": true}));
    drop(server);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_server_fails_within_the_deadline_then_recovers() -> TestResult {
    let _timing = TIMING.lock().await;
    let server = RedisServer::start();
    let cache = RedisCache::connect(server.url()).await?;
    let key = PartitionKey::user("u.t");
    let before = setup_write(&cache, &key, "before").await;

    server.hang();
    for i in 0..3 {
        let t = Instant::now();
        let err = if i == 1 {
            assert_cache_error(cache.modify(&key, &mut |c| add(c, "during")).await)
        } else {
            assert_cache_error(cache.read(&key, None, false).await)
        };
        let took = t.elapsed();
        eprintln!("hung: call {i} failed after {took:?}: {err}");
        assert!(
            err.to_string()
                .contains("redis call exceeded its deadline of 20 ms"),
            "{err}"
        );
        assert!(
            took >= Duration::from_millis(19) && took < Duration::from_millis(50),
            "call {i} took {took:?}"
        );
    }
    assert_breaker_fails_fast(&cache, &key).await;

    server.resume();
    let took = wait_for_recovery(&cache, &key).await;
    eprintln!("recovered after {took:?}");
    // One open period, or two when a probe is unlucky on a loaded machine.
    assert!(took < Duration::from_secs(15), "recovered after {took:?}");
    assert_eq!(cache.breaker_state(), BreakerState::Closed);
    let ReadOutcome::Current(now) = cache.read(&key, None, false).await? else {
        panic!("data survives a hang");
    };
    // The write that timed out may have been applied once Redis resumed, but only as a
    // compare-and-set on the version it read.
    let d = doc(&now);
    assert_eq!(d["before"], json!(true));
    assert!(now.version == before.version || d["during"] == json!(true));
    Ok(())
}

/// A long hang with a short breaker period: several probes fail, every call stays fast, and
/// the store recovers once Redis resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_hang_with_repeated_failed_probes_recovers() -> TestResult {
    let _timing = TIMING.lock().await;
    let server = RedisServer::start();
    let cache = RedisCache::builder(server.url())
        .circuit_breaker(2, Duration::from_millis(150))
        .connect()
        .await?;
    let key = PartitionKey::app("cid", "t");
    setup_write(&cache, &key, "before").await;
    server.hang();
    let t = Instant::now();
    let mut failures = 0;
    while t.elapsed() < Duration::from_millis(1500) {
        let c = Instant::now();
        assert_cache_error(cache.read(&key, None, false).await);
        assert!(c.elapsed() < Duration::from_millis(50), "{:?}", c.elapsed());
        failures += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(failures > 20);
    server.resume();
    let took = wait_for_recovery(&cache, &key).await;
    // One open period, or two when a probe is unlucky on a loaded machine.
    assert!(took < Duration::from_secs(15), "recovered after {took:?}");
    let ReadOutcome::Current(s) = cache.read(&key, None, false).await? else {
        panic!("exists");
    };
    assert_eq!(doc(&s), json!({"before": true}));
    Ok(())
}

/// A connection whose setup is refused (wrong password) fails typed and fast, and works once
/// the server accepts the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_authentication_fails_typed_then_recovers() -> TestResult {
    let _timing = TIMING.lock().await;
    let server = RedisServer::start();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("old-pass")
        .query(&mut server.conn())?;
    let url = format!("redis://:new-pass@127.0.0.1:{}/", server.port);
    let cache = RedisCache::builder(url)
        .connect_timeout(Duration::from_millis(200))
        .circuit_breaker(3, Duration::from_millis(300))
        .connect()
        .await?;
    let key = PartitionKey::app("cid", "t");
    for _ in 0..3 {
        let t = Instant::now();
        let err = assert_cache_error(cache.read(&key, None, false).await);
        assert!(!err.to_string().contains("new-pass"), "{err}");
        assert!(t.elapsed() < Duration::from_millis(50), "{:?}", t.elapsed());
    }
    assert_eq!(cache.breaker_state(), BreakerState::Open);
    let mut admin = redis::Client::open(format!("redis://:old-pass@127.0.0.1:{}/", server.port))?
        .get_connection()?;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("new-pass")
        .query(&mut admin)?;
    let took = wait_for_recovery(&cache, &key).await;
    // One open period, or two when a probe is unlucky on a loaded machine.
    assert!(took < Duration::from_secs(15), "recovered after {took:?}");
    write(&cache, &key, "x").await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_while_redis_is_down_succeeds_and_calls_fail_fast() -> TestResult {
    let _timing = TIMING.lock().await;
    let port = {
        // A port nobody listens on (until we start a server there).
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let url = format!("redis://127.0.0.1:{port}/");
    let t = Instant::now();
    let cache = RedisCache::builder(url.as_str())
        .connect_timeout(Duration::from_millis(200))
        .circuit_breaker(3, Duration::from_millis(500))
        .connect()
        .await?;
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "connect took {:?}",
        t.elapsed()
    );
    let key = PartitionKey::app("cid", "t");
    for _ in 0..3 {
        let t = Instant::now();
        assert_cache_error(cache.read(&key, None, false).await);
        // Refused at once on loopback: well under the 200 ms connect timeout, with room for a
        // loaded machine.
        assert!(
            t.elapsed() < Duration::from_millis(150),
            "{:?}",
            t.elapsed()
        );
    }
    assert_eq!(cache.breaker_state(), BreakerState::Open);

    let strict = RedisCache::builder(url.as_str())
        .connect_timeout(Duration::from_millis(100))
        .require_connection(true)
        .connect()
        .await;
    assert_eq!(assert_cache_error(strict).kind(), ErrorKind::Cache);

    let _server = RedisServer::start_on(port);
    let took = wait_for_recovery(&cache, &key).await;
    // One open period, or two when a probe is unlucky on a loaded machine.
    assert!(took < Duration::from_secs(15), "recovered after {took:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidations_are_published_and_the_subscriber_ends_with_the_store() -> TestResult {
    let server = RedisServer::start();
    let reader = RedisCache::connect(server.url()).await?;
    let writer = RedisCache::connect(server.url()).await?;
    let mut rx = reader.invalidations();
    let mut rx2 = reader.clone().invalidations();

    // The subscription announces itself (All) once it is established.
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await??;
    assert_eq!(first, Invalidation::All);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), rx2.recv()).await??,
        Invalidation::All
    );

    let key = PartitionKey::app("cid", "tenant");
    write(&writer, &key, "x").await;
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await??;
    assert_eq!(got, Invalidation::Partition(key.as_str().to_owned()));
    // A modification that writes nothing publishes nothing.
    writer.modify(&key, &mut |_| Ok(None)).await?;
    write(&writer, &key, "y").await;
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await??;
    assert_eq!(got, Invalidation::Partition(key.as_str().to_owned()));
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), rx2.recv()).await??,
        Invalidation::Partition(key.as_str().to_owned())
    );

    let subscribers = |server: &RedisServer| -> i64 {
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("msal:v1:invalidate")
            .query(&mut server.conn())
            .expect("NUMSUB");
        n
    };
    assert_eq!(
        subscribers(&server),
        1,
        "one subscription shared by all clones"
    );
    drop(reader);
    let t = Instant::now();
    while subscribers(&server) != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the subscriber task outlived the store"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The task is gone: the receivers see the channel closed.
    assert!(matches!(
        rx.recv().await,
        Err(tokio::sync::broadcast::error::RecvError::Closed)
    ));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_hides_the_password_and_bad_urls_are_configuration_errors() -> TestResult {
    let server = RedisServer::start();
    let url = format!("redis://:hunter2@127.0.0.1:{}/", server.port);
    // The server has no password: connect (lazily) succeeds, calls fail (typed).
    let cache = RedisCache::builder(url)
        .connect_timeout(Duration::from_millis(200))
        .connect()
        .await?;
    let debug = format!("{cache:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
    let err = RedisCache::connect("http://nope")
        .await
        .expect_err("not a redis URL");
    assert_eq!(err.kind(), ErrorKind::Configuration);
    let err = RedisCache::builder(server.url())
        .deadline(Duration::ZERO)
        .connect()
        .await
        .expect_err("zero deadline");
    assert_eq!(err.kind(), ErrorKind::Configuration);
    Ok(())
}

//! `RedisCache` over TLS (`rediss://`, a CA of the test's own, as Azure Cache for Redis on port
//! 6380 or ElastiCache with in-transit encryption need) and with authentication (`requirepass`,
//! ACL users), against a real `redis-server` of each test's own.

mod common;

use std::time::{Duration, Instant};

use common::{RedisServer, Setup, test_dir, tls_files};
use msal_cache_redis::{RedisCache, RedisFailure};
use msal_core::ErrorKind;
use msal_core::cache::{CacheStore, PartitionKey, ReadOutcome, Written};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn written(text: &str) -> msal_core::Result<Option<Written>> {
    Ok(Some(Written {
        data: text.as_bytes().to_vec(),
        expires_in: None,
    }))
}

/// The failure category of a store error (asserting it is a cache error).
fn failure_of<T: std::fmt::Debug>(result: msal_core::Result<T>) -> (RedisFailure, String) {
    let err = result.expect_err("the call must fail");
    assert_eq!(err.kind(), ErrorKind::Cache, "{err:?}");
    let failure = RedisFailure::of(&err).unwrap_or_else(|| panic!("untyped: {err:?}"));
    (failure, format!("{err} / {err:?}"))
}

fn tls_server() -> (RedisServer, common::TlsFiles) {
    let tls = tls_files(&test_dir("tls"));
    let server = RedisServer::start_with(Setup {
        tls: Some(tls.clone()),
        ..Setup::default()
    });
    (server, tls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_a_custom_ca_serves_the_contract() -> TestResult {
    let (server, tls) = tls_server();
    let store = RedisCache::builder(server.tls_url())
        .tls_ca_pem(tls.ca_pem.as_bytes())
        .deadline(Duration::from_millis(500))
        .require_connection(true)
        .connect()
        .await?;
    store.ping().await?;
    let key = PartitionKey::app("cid", "tenant");
    let s = store
        .modify(&key, &mut |_| written("over tls"))
        .await?
        .expect("written");
    match store.read(&key, None, false).await? {
        ReadOutcome::Current(c) => {
            assert_eq!(&*c.data, b"over tls");
            assert_eq!(c.version, s.version);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.read(&key, Some(&s.version), false).await?,
        ReadOutcome::Unchanged
    ));
    // Written to the server behind the TLS port.
    let data: Vec<u8> = redis::cmd("HGET")
        .arg(store.key_of(&key))
        .arg("d")
        .query(&mut server.conn())?;
    assert_eq!(data, b"over tls");
    // Invalidations come over TLS too.
    let mut rx = store.invalidations();
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await??;
    assert_eq!(first, msal_cache_redis::Invalidation::All);
    store.modify(&key, &mut |_| written("again")).await?;
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await??;
    assert_eq!(
        got,
        msal_cache_redis::Invalidation::Partition(key.as_str().to_owned())
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrong_ca_fails_typed_and_fast_and_loses_nothing() -> TestResult {
    let (server, tls) = tls_server();
    let other_ca = tls_files(&test_dir("other-ca"));
    let good = RedisCache::builder(server.tls_url())
        .tls_ca_pem(tls.ca_pem.as_bytes())
        .deadline(Duration::from_millis(500))
        .require_connection(true)
        .connect()
        .await?;
    let key = PartitionKey::app("cid", "tenant");
    let before = good
        .modify(&key, &mut |_| written("kept"))
        .await?
        .expect("written");

    // require_connection: connect itself fails, typed, well within the connect timeout.
    let t = Instant::now();
    let strict = RedisCache::builder(server.tls_url())
        .tls_ca_pem(other_ca.ca_pem.as_bytes())
        .connect_timeout(Duration::from_secs(2))
        .require_connection(true)
        .connect()
        .await;
    let (failure, text) = failure_of(strict);
    assert_eq!(failure, RedisFailure::Tls, "{text}");
    assert!(text.contains("TLS"), "{text}");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "a refused certificate took {:?}",
        t.elapsed()
    );

    // A store that started anyway: every call fails typed, within its deadline.
    let bad = RedisCache::builder(server.tls_url())
        .tls_ca_pem(other_ca.ca_pem.as_bytes())
        .deadline(Duration::from_millis(200))
        .circuit_breaker(100, Duration::from_secs(1))
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .await?;
    for _ in 0..3 {
        let t = Instant::now();
        let (failure, text) = failure_of(bad.read(&key, None, false).await);
        assert!(
            matches!(failure, RedisFailure::Tls | RedisFailure::Deadline),
            "{failure:?}: {text}"
        );
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );
        let t = Instant::now();
        let (failure, text) = failure_of(bad.modify(&key, &mut |_| written("lost")).await);
        assert!(
            matches!(failure, RedisFailure::Tls | RedisFailure::Deadline),
            "{failure:?}: {text}"
        );
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );
    }
    // At least one of them named the certificate problem.
    let (failure, text) = failure_of(bad.ping().await);
    assert_eq!(failure, RedisFailure::Tls, "{text}");
    assert!(text.contains("certificate"), "{text}");

    // Nothing was written by the rejected client.
    match good.read(&key, None, false).await? {
        ReadOutcome::Current(c) => {
            assert_eq!(&*c.data, b"kept");
            assert_eq!(c.version, before.version);
        }
        other => panic!("{other:?}"),
    }
    // A TLS client against the plain port fails as a TLS failure too.
    let plain_port = format!("rediss://127.0.0.1:{}/", server.port);
    let (failure, text) = failure_of(
        RedisCache::builder(plain_port)
            .tls_ca_pem(tls.ca_pem.as_bytes())
            .require_connection(true)
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await,
    );
    assert!(
        matches!(failure, RedisFailure::Tls | RedisFailure::Deadline),
        "{failure:?}: {text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_settings_are_checked_when_built() -> TestResult {
    let err = RedisCache::builder("redis://127.0.0.1:1/")
        .tls_ca_pem(tls_files(&test_dir("ca-only")).ca_pem.as_bytes())
        .connect()
        .await
        .expect_err("a CA for a plain URL");
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("rediss://"), "{err}");
    for pem in [
        &b"not a pem"[..],
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        let err = RedisCache::builder("rediss://127.0.0.1:1/")
            .tls_ca_pem(pem)
            .connect()
            .await
            .expect_err("a bad PEM");
        assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requirepass_right_and_wrong_passwords() -> TestResult {
    let server = RedisServer::start_with(Setup {
        args: vec!["--requirepass".into(), "s3cret-pass".into()],
        admin_password: Some("s3cret-pass".into()),
        ..Setup::default()
    });
    let key = PartitionKey::app("cid", "tenant");

    // In the URL, or set on the builder.
    let in_url = format!("redis://:s3cret-pass@127.0.0.1:{}/", server.port);
    let a = RedisCache::builder(in_url)
        .deadline(Duration::from_millis(500))
        .require_connection(true)
        .connect()
        .await?;
    a.modify(&key, &mut |_| written("a")).await?;
    let builder = RedisCache::builder(server.url())
        .password("s3cret-pass")
        .deadline(Duration::from_millis(500))
        .require_connection(true);
    assert!(!format!("{builder:?}").contains("s3cret"), "{builder:?}");
    let b = builder.connect().await?;
    assert!(matches!(
        b.read(&key, None, false).await?,
        ReadOutcome::Current(_)
    ));
    assert!(!format!("{b:?}").contains("s3cret"));

    // A wrong password: typed as authentication, at connect and on calls; never printed.
    for builder in [
        RedisCache::builder(format!("redis://:wrong-pass@127.0.0.1:{}/", server.port)),
        RedisCache::builder(server.url()).password("wrong-pass"),
    ] {
        let (failure, text) = failure_of(
            builder
                .clone()
                .require_connection(true)
                .connect_timeout(Duration::from_secs(2))
                .connect()
                .await,
        );
        assert_eq!(failure, RedisFailure::Authentication, "{text}");
        assert!(text.contains("authentication"), "{text}");
        assert!(!text.contains("wrong-pass"), "{text}");
        let store = builder
            .deadline(Duration::from_millis(500))
            .connect_timeout(Duration::from_millis(300))
            .connect()
            .await?;
        let (failure, text) = failure_of(store.read(&key, None, false).await);
        assert_eq!(failure, RedisFailure::Authentication, "{text}");
        assert!(!text.contains("wrong-pass") && !format!("{store:?}").contains("wrong-pass"));
    }
    // No password at all (NOAUTH): authentication too.
    let (failure, text) = failure_of(
        RedisCache::builder(server.url())
            .require_connection(true)
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await,
    );
    assert_eq!(failure, RedisFailure::Authentication, "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_user_with_password_and_key_permissions() -> TestResult {
    let server = RedisServer::start_with(Setup {
        args: vec![
            "--user".into(),
            "fleet".into(),
            "on".into(),
            ">fleet-pass".into(),
            "~msal:*".into(),
            "&msal:*".into(),
            "+@all".into(),
        ],
        ..Setup::default()
    });
    let key = PartitionKey::app("cid", "tenant");
    let store = RedisCache::builder(server.url())
        .username("fleet")
        .password("fleet-pass")
        .deadline(Duration::from_millis(500))
        .require_connection(true)
        .connect()
        .await?;
    let mut rx = store.invalidations();
    store.modify(&key, &mut |_| written("acl")).await?;
    // As a URL too; both see the same data.
    let url = format!("redis://fleet:fleet-pass@127.0.0.1:{}/", server.port);
    let by_url = RedisCache::builder(url)
        .deadline(Duration::from_millis(500))
        .connect()
        .await?;
    match by_url.read(&key, None, false).await? {
        ReadOutcome::Current(c) => assert_eq!(&*c.data, b"acl"),
        other => panic!("{other:?}"),
    }
    // The subscriber authenticates as the user as well (channel msal:* allowed).
    let mut saw = false;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) && !saw {
        if let Ok(Ok(msal_cache_redis::Invalidation::Partition(p))) =
            tokio::time::timeout(Duration::from_secs(1), rx.recv()).await
        {
            saw = p == key.as_str();
        } else {
            store.modify(&key, &mut |_| written("acl2")).await?;
        }
    }
    assert!(saw, "the ACL user's subscriber received an invalidation");

    // The user's password wrong: authentication.
    let (failure, text) = failure_of(
        RedisCache::builder(server.url())
            .username("fleet")
            .password("not-it")
            .require_connection(true)
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await,
    );
    assert_eq!(failure, RedisFailure::Authentication, "{text}");
    assert!(!text.contains("not-it"), "{text}");
    // Keys outside the user's pattern: a permission failure, which leaves the breaker closed.
    let elsewhere = RedisCache::builder(server.url())
        .username("fleet")
        .password("fleet-pass")
        .key_prefix("other")
        .deadline(Duration::from_millis(500))
        .circuit_breaker(1, Duration::from_secs(30))
        .connect()
        .await?;
    let (failure, text) = failure_of(elsewhere.read(&key, None, false).await);
    assert_eq!(failure, RedisFailure::Permission, "{text}");
    assert_eq!(
        elsewhere.breaker_state(),
        msal_cache_redis::BreakerState::Closed
    );
    Ok(())
}

//! Resilience through the public API against the emulator: single flight (one request for a
//! thousand concurrent callers, different keys in parallel, a cancelled leader), proactive
//! refresh by one caller while the others keep the valid token, and throttling — all on the
//! app's replaceable clock, never sleeping for a protocol timer.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use msal_core::{Authority, ClientCredential, ErrorKind, TokenSource};
use msal_tests::emulator::{AppRegistration, FaultMatch, FaultRule, seeds};
use support::{Env, GRAPH_DEFAULT, clock};

fn slow_token_endpoint(ms: u64, times: u32) -> FaultRule {
    FaultRule {
        matches: FaultMatch {
            path_contains: Some("/token".into()),
            ..Default::default()
        },
        times: Some(times),
        delay_ms: Some(ms),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_cold_calls_make_one_discovery_and_one_token_request() {
    let env = Env::start().await;
    env.emulator
        .admin()
        .add_fault(&slow_token_endpoint(200, 0))
        .await
        .expect("fault");
    let app = env.secret_app();
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.acquire_token_for_client(GRAPH_DEFAULT).await })
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for c in calls {
        let r = c.await.expect("joined").expect("token");
        tokens.insert(r.access_token().secret().to_owned());
    }
    assert_eq!(tokens.len(), 1, "every caller got the same token");
    assert_eq!(
        env.token_requests().await.len(),
        1,
        "exactly one token request"
    );
    let stats = env.emulator.admin().stats().await.expect("stats");
    assert_eq!(stats.discovery_requests, 1, "exactly one discovery request");
    assert_eq!(stats.token_requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_tenants_are_fetched_in_parallel() {
    let env = Env::start().await;
    let app = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::organizations(),
        None,
        None,
    );
    // Warm discovery for both tenants, then slow the token endpoint down.
    for t in [seeds::CONTOSO_DOMAIN, seeds::FABRIKAM_DOMAIN] {
        app.acquire_token_for_client("https://management.azure.com/.default")
            .tenant(t)
            .await
            .expect("warm");
    }
    env.emulator
        .admin()
        .add_fault(&slow_token_endpoint(600, 0))
        .await
        .expect("fault");
    let started = Instant::now();
    let (a, b) = tokio::join!(
        app.acquire_token_for_client(GRAPH_DEFAULT)
            .tenant(seeds::CONTOSO_DOMAIN),
        app.acquire_token_for_client(GRAPH_DEFAULT)
            .tenant(seeds::FABRIKAM_DOMAIN),
    );
    let took = started.elapsed();
    assert_eq!(a.expect("contoso").tenant(), seeds::CONTOSO_TENANT_ID);
    assert_eq!(b.expect("fabrikam").tenant(), seeds::FABRIKAM_TENANT_ID);
    let graph: Vec<_> = env
        .token_requests()
        .await
        .into_iter()
        .filter(|p| p.form_value("scope") == Some(GRAPH_DEFAULT))
        .collect();
    assert_eq!(graph.len(), 2, "one request per tenant");
    assert!(
        took < Duration::from_millis(1100),
        "two 600 ms requests ran side by side: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_cancelled_mid_request_does_not_strand_the_waiters() {
    let env = Env::start().await;
    let app = env.secret_app();
    // Discovery first, so the token request is what is in flight.
    app.acquire_token_for_client("https://management.azure.com/.default")
        .await
        .expect("warm");
    env.emulator
        .admin()
        .add_fault(&slow_token_endpoint(500, 0))
        .await
        .expect("fault");
    let leader = {
        let app = app.clone();
        tokio::spawn(async move { app.acquire_token_for_client(GRAPH_DEFAULT).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.acquire_token_for_client(GRAPH_DEFAULT).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    leader.abort();
    assert!(leader.await.is_err(), "the leader was cancelled");
    for w in waiters {
        let r = w
            .await
            .expect("joined")
            .expect("the waiters still get the token");
        assert_eq!(r.source(), TokenSource::IdentityProvider);
    }
    let graph = env
        .token_requests()
        .await
        .into_iter()
        .filter(|p| p.form_value("scope") == Some(GRAPH_DEFAULT))
        .count();
    assert_eq!(graph, 1, "the leader's request was not sent twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_refresh_on_one_caller_refreshes_while_the_others_get_the_valid_token() {
    let env = Env::start().await;
    let client_id = "22222222-3333-4444-5555-666666666666";
    env.emulator
        .admin()
        .register_app(&AppRegistration {
            client_id: client_id.into(),
            secrets: vec!["long+lived".into()],
            access_token_lifetime_secs: Some(7200),
            ..Default::default()
        })
        .await
        .expect("register");
    let clock = clock();
    let app = env.app(
        client_id,
        ClientCredential::secret("long+lived"),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        Some(clock.clone()),
    );
    let first = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    clock.advance(Duration::from_secs(3700));
    env.emulator
        .admin()
        .add_fault(&slow_token_endpoint(400, 0))
        .await
        .expect("fault");
    let refresher = {
        let app = app.clone();
        tokio::spawn(async move { app.acquire_token_for_client(GRAPH_DEFAULT).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    for _ in 0..50 {
        let r = app
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .expect("token");
        assert_eq!(r.source(), TokenSource::Cache);
        assert_eq!(r.access_token().secret(), first.access_token().secret());
    }
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "the others did not wait for the refresh"
    );
    let refreshed = refresher.await.expect("joined").expect("refreshed");
    assert_eq!(refreshed.source(), TokenSource::IdentityProvider);
    assert_ne!(
        refreshed.access_token().secret(),
        first.access_token().secret()
    );
    assert_eq!(env.token_requests().await.len(), 2, "one refresh in all");
    let after = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(
        after.access_token().secret(),
        refreshed.access_token().secret()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_blocks_exactly_what_and_as_long_as_the_server_said() {
    let env = Env::start().await;
    let clock = clock();
    let app = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::organizations(),
        None,
        Some(clock.clone()),
    );
    let admin = env.emulator.admin();
    let fault = |status: u16, retry: Option<&str>| FaultRule {
        matches: FaultMatch {
            path_contains: Some("/token".into()),
            ..Default::default()
        },
        status: Some(status),
        retry_after: retry.map(str::to_owned),
        body: Some("{}".into()),
        ..Default::default()
    };
    let contoso = || {
        app.acquire_token_for_client(GRAPH_DEFAULT)
            .tenant(seeds::CONTOSO_DOMAIN)
    };
    let fabrikam = || {
        app.acquire_token_for_client(GRAPH_DEFAULT)
            .tenant(seeds::FABRIKAM_DOMAIN)
    };
    let sent = || async { env.token_requests().await.len() };

    // 429 with Retry-After: 30.
    admin
        .add_fault(&fault(429, Some("30")))
        .await
        .expect("fault");
    let e = contoso().await.unwrap_err();
    assert!(e.is_throttled());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    let n = sent().await;
    clock.advance(Duration::from_secs(29));
    let e = contoso().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Throttled);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(sent().await, n, "blocked for the whole 30 s");
    // A different request is not blocked.
    let other = fabrikam().await.expect("another tenant goes through");
    assert_eq!(other.source(), TokenSource::IdentityProvider);
    assert_eq!(sent().await, n + 1);
    clock.advance(Duration::from_secs(1));
    contoso().await.expect("exactly 30 s later it is sent");
    assert_eq!(sent().await, n + 2);

    // 5xx without Retry-After: 5 s for a confidential client.
    admin.add_fault(&fault(503, None)).await.expect("fault");
    let e = fabrikam().force_refresh(true).await.unwrap_err();
    assert!(e.is_transient());
    let n = sent().await;
    clock.advance(Duration::from_secs(4));
    assert!(
        fabrikam()
            .force_refresh(true)
            .await
            .unwrap_err()
            .is_throttled()
    );
    assert_eq!(sent().await, n);
    clock.advance(Duration::from_secs(1));
    fabrikam()
        .force_refresh(true)
        .await
        .expect("sent after 5 s");
    assert_eq!(sent().await, n + 1);

    // invalid_grant (400) is answered from memory for 60 s.
    let pca = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        Some(clock.clone()),
    );
    let wrong = || {
        pca.acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            "wrong",
            ["https://graph.microsoft.com/User.Read"],
        )
    };
    let e = wrong().await.unwrap_err();
    assert_eq!(e.service().map(|s| s.error.as_str()), Some("invalid_grant"));
    let n = sent().await;
    let e = wrong().await.unwrap_err();
    assert!(e.is_throttled(), "replayed from memory");
    assert!(
        e.is_interaction_required(),
        "with the identity provider's error"
    );
    assert_eq!(e.service().map(|s| s.error.as_str()), Some("invalid_grant"));
    assert_eq!(sent().await, n);
    clock.advance(Duration::from_secs(60));
    let e = wrong().await.unwrap_err();
    assert!(!e.is_throttled());
    assert_eq!(sent().await, n + 1, "sent again after 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_silent_refreshes_share_one_request() {
    let env = Env::start().await;
    let clock = clock();
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        Some(clock.clone()),
    );
    let r = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            ["https://graph.microsoft.com/User.Read"],
        )
        .await
        .expect("signed in");
    let account = Arc::new(r.account().expect("account").clone());
    clock.advance(Duration::from_secs(7200));
    env.emulator
        .admin()
        .advance_clock(7200.0)
        .await
        .expect("clock");
    env.emulator
        .admin()
        .add_fault(&slow_token_endpoint(200, 0))
        .await
        .expect("fault");
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let app = app.clone();
            let account = Arc::clone(&account);
            tokio::spawn(async move {
                app.acquire_token_silent(["https://graph.microsoft.com/User.Read"], &account)
                    .await
            })
        })
        .collect();
    for c in calls {
        c.await.expect("joined").expect("silent");
    }
    let refreshes = env
        .token_requests()
        .await
        .into_iter()
        .filter(|p| p.form_value("grant_type") == Some("refresh_token"))
        .count();
    assert_eq!(refreshes, 1, "one refresh for 200 concurrent callers");
}

//! Regional endpoints (ESTS-R) through the public API, against the emulator over real HTTPS:
//! where client-credentials requests go for an explicit region, `MSAL_FORCE_REGION`,
//! `REGION_NAME` and IMDS auto-detection; that the assertion's `aud` and the cache stay central;
//! that IMDS is asked lazily, once, within its bound; that other flows and authorities never go
//! regional; and that bad region names fail at build.
//!
//! The environment variables are read by child processes (this binary re-run on one
//! `#[ignore]`d test), never set in this process where other tests run in parallel.

mod emulator_support;
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use msal_core::authority::IMDS_PROBE_TIMEOUT;
use msal_core::{
    AssertionContext, Authority, AzureRegion, ClientCredential, ConfidentialClient,
    DangerousOptions, ErrorKind, TokenCache, TokenSource,
};
use msal_tests::emulator::{ImdsMode, RecordedRequest, UserTokenRequest, seeds};
use serde_json::Value;
use support::{Env, GRAPH_DEFAULT, child_done, is_child, run_child_test};

const CENTRAL: &str = "login.microsoftonline.com";
const ARM_DEFAULT: &str = "https://management.azure.com/.default";

/// The central token endpoint of contoso, as discovery gives it (the tenant GUID).
fn central_token_endpoint() -> String {
    format!(
        "https://{CENTRAL}/{}/oauth2/v2.0/token",
        seeds::CONTOSO_TENANT_ID
    )
}

/// A confidential client on the test transport, with the emulator's IMDS.
fn build(
    env: &Env,
    client_id: &str,
    credential: ClientCredential,
    authority: Authority,
    region: Option<AzureRegion>,
    cache: Option<&TokenCache>,
) -> msal_core::Result<ConfidentialClient> {
    let b = ConfidentialClient::builder(client_id, credential)
        .authority(authority)
        .cache(cache.cloned().unwrap_or_default())
        .http_client(Arc::clone(&env.transport))
        .dangerous(DangerousOptions::new().imds_endpoint(env.emulator.imds_url()));
    match region {
        Some(r) => b.azure_region(r).build(),
        None => b.build(),
    }
}

/// The seeded secret app on contoso with `region`.
fn secret_app(env: &Env, region: Option<AzureRegion>) -> ConfidentialClient {
    build(
        env,
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        region,
        None,
    )
    .expect("the app builds")
}

/// The hosts the token requests arrived at, in order.
async fn token_hosts(env: &Env) -> Vec<String> {
    env.token_requests()
        .await
        .into_iter()
        .map(|r| r.host)
        .collect()
}

async fn imds_requests(env: &Env) -> u64 {
    env.emulator
        .admin()
        .imds_requests()
        .await
        .expect("admin: stats")
}

fn jwt_payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

fn assertion_aud(post: &RecordedRequest) -> Value {
    jwt_payload(
        post.form_value("client_assertion")
            .expect("a client assertion"),
    )["aud"]
        .clone()
}

#[tokio::test]
async fn an_explicit_region_sends_client_credentials_to_the_regional_host_and_caches_centrally() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let app = build(
        &env,
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(AzureRegion::named("westus2")),
        Some(&cache),
    )
    .expect("the app builds");
    let first = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(first.source(), TokenSource::IdentityProvider);
    assert_eq!(first.tenant(), seeds::CONTOSO_TENANT_ID);

    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].host, "westus2.login.microsoft.com");
    assert_eq!(
        posts[0].path,
        format!("/{}/oauth2/v2.0/token", seeds::CONTOSO_TENANT_ID)
    );
    assert_eq!(
        posts[0].form_value("client_secret"),
        Some(seeds::SECRET_APP_SECRET)
    );
    // Discovery stays central (no discovery on the regional host), and IMDS is never asked
    // for an explicit region.
    let gets = env.discovery_requests().await;
    assert_eq!(gets.len(), 1);
    assert_eq!(gets[0].host, CENTRAL);
    assert_eq!(imds_requests(&env).await, 0);

    // The second call is a cache hit: the token was cached under the central environment.
    let second = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(second.source(), TokenSource::Cache);
    assert_eq!(
        second.access_token().secret(),
        first.access_token().secret()
    );
    assert_eq!(env.token_requests().await.len(), 1);
    let doc: Value = serde_json::from_str(&cache.serialize().expect("serialize")).expect("JSON");
    let envs: Vec<&str> = doc["AccessToken"]
        .as_object()
        .expect("access tokens")
        .values()
        .map(|at| at["environment"].as_str().expect("environment"))
        .collect();
    assert_eq!(envs, [CENTRAL]);

    // A central app sharing the cache is served the same token.
    let central = build(
        &env,
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(AzureRegion::Disabled),
        Some(&cache),
    )
    .expect("the app builds");
    let shared = central
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(shared.source(), TokenSource::Cache);
    assert_eq!(
        shared.access_token().secret(),
        first.access_token().secret()
    );
    assert_eq!(env.token_requests().await.len(), 1);
}

#[tokio::test]
async fn a_certificate_assertion_keeps_the_central_audience() {
    let env = Env::start().await;
    let app = build(
        &env,
        seeds::CERT_APP_CLIENT_ID,
        Env::cert_credential(),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(AzureRegion::named("eastus")),
        None,
    )
    .expect("the app builds");
    // The emulator refuses an assertion addressed to the regional endpoint, so success means
    // the aud was central; the recorded form says so too.
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].host, "eastus.login.microsoft.com");
    assert_eq!(assertion_aud(&posts[0]), central_token_endpoint().as_str());
    assert_eq!(
        posts[0].form_value("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
}

#[tokio::test]
async fn an_assertion_callback_is_told_the_regional_endpoint() {
    let env = Env::start().await;
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let told = Arc::clone(&seen);
    let central = central_token_endpoint();
    let credential = ClientCredential::assertion_callback(move |ctx: AssertionContext| {
        told.lock().expect("lock").push(ctx.token_endpoint);
        // Like a real federated credential, the assertion does not depend on where the
        // request goes; the emulator wants the central audience.
        let jwt = emulator_support::cert_app_assertion(&central);
        async move { Ok::<_, msal_core::Error>(jwt) }
    });
    let app = build(
        &env,
        seeds::CERT_APP_CLIENT_ID,
        credential,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(AzureRegion::named("centralus")),
        None,
    )
    .expect("the app builds");
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(
        *seen.lock().expect("lock"),
        [format!(
            "https://centralus.login.microsoft.com/{}/oauth2/v2.0/token",
            seeds::CONTOSO_TENANT_ID
        )]
    );
    assert_eq!(token_hosts(&env).await, ["centralus.login.microsoft.com"]);
}

#[tokio::test]
async fn sovereign_clouds_prefix_their_own_host() {
    let env = Env::start().await;
    let app = build(
        &env,
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::aad(seeds::USGOV_HOST, seeds::USGOV_DOMAIN),
        Some(AzureRegion::named("usgovvirginia")),
        None,
    )
    .expect("the app builds");
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(r.tenant(), seeds::USGOV_TENANT_ID);
    assert_eq!(
        token_hosts(&env).await,
        ["usgovvirginia.login.microsoftonline.us"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_detection_asks_imds_once_for_many_concurrent_first_calls() {
    if std::env::var_os("REGION_NAME").is_some() {
        eprintln!("skipped: REGION_NAME is set in this environment and would win over IMDS");
        return;
    }
    let env = Env::start().await;
    env.emulator
        .admin()
        .set_imds_region(Some("centralus"))
        .await
        .expect("admin: imds");
    // Three apps (one IMDS endpoint), two tenants, two resources: 12 different requests, each
    // asked for by 8 concurrent callers, all before any region is known.
    let apps: Vec<ConfidentialClient> = (0..3)
        .map(|_| {
            build(
                &env,
                seeds::SECRET_APP_CLIENT_ID,
                ClientCredential::secret(seeds::SECRET_APP_SECRET),
                Authority::organizations(),
                Some(AzureRegion::AutoDetect),
                None,
            )
            .expect("the app builds")
        })
        .collect();
    let mut calls = Vec::new();
    for app in &apps {
        for tenant in [seeds::CONTOSO_DOMAIN, seeds::FABRIKAM_DOMAIN] {
            for scope in [GRAPH_DEFAULT, ARM_DEFAULT] {
                for _ in 0..8 {
                    let app = app.clone();
                    calls.push(tokio::spawn(async move {
                        app.acquire_token_for_client(scope).tenant(tenant).await
                    }));
                }
            }
        }
    }
    for c in calls {
        c.await.expect("joined").expect("token");
    }
    assert_eq!(imds_requests(&env).await, 1, "one IMDS probe in all");
    let hosts = token_hosts(&env).await;
    assert_eq!(hosts.len(), 12, "one request per app, tenant and resource");
    assert!(
        hosts.iter().all(|h| h == "centralus.login.microsoft.com"),
        "{hosts:?}"
    );
    // The probe carried `Metadata: true` (IMDS answers 400 otherwise) and asked the compute
    // metadata as MSAL Python 1.39 does.
    let imds = env
        .emulator
        .admin()
        .requests()
        .await
        .expect("admin: requests")
        .into_iter()
        .find(|r| r.path.starts_with("/metadata/"))
        .expect("the IMDS request");
    assert_eq!(imds.status, 200);
    assert_eq!(imds.path, "/metadata/instance/compute");
    assert_eq!(imds.query_value("api-version"), Some("2021-02-01"));
    assert_eq!(imds.header("metadata"), Some("true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_imds_costs_one_bounded_wait_then_the_central_endpoint() {
    if std::env::var_os("REGION_NAME").is_some() {
        eprintln!("skipped: REGION_NAME is set in this environment and would win over IMDS");
        return;
    }
    let env = Env::start().await;
    env.emulator
        .admin()
        .set_imds_mode(ImdsMode::Hang)
        .await
        .expect("admin: imds");
    let started = Instant::now();
    let app = secret_app(&env, Some(AzureRegion::AutoDetect));
    let construction = started.elapsed();
    assert!(
        construction < Duration::from_millis(100),
        "construction does no I/O: {construction:?}"
    );
    assert_eq!(
        imds_requests(&env).await,
        0,
        "nothing asked at construction"
    );

    let started = Instant::now();
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("a token from the central endpoint");
    let first = started.elapsed();
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    assert!(
        first >= IMDS_PROBE_TIMEOUT,
        "the probe waited its bound: {first:?}"
    );
    assert!(
        first < IMDS_PROBE_TIMEOUT + Duration::from_millis(1500),
        "and not much more: {first:?}"
    );
    assert_eq!(token_hosts(&env).await, [CENTRAL]);
    assert_eq!(imds_requests(&env).await, 1);

    // Given up once for the process: other requests and other apps do not wait again.
    let started = Instant::now();
    app.acquire_token_for_client(ARM_DEFAULT)
        .await
        .expect("token");
    let other = secret_app(&env, Some(AzureRegion::AutoDetect));
    other
        .acquire_token_for_client(GRAPH_DEFAULT)
        .force_refresh(true)
        .await
        .expect("token");
    let later = started.elapsed();
    assert!(later < IMDS_PROBE_TIMEOUT, "no second wait: {later:?}");
    assert_eq!(imds_requests(&env).await, 1);
    assert_eq!(token_hosts(&env).await, [CENTRAL, CENTRAL, CENTRAL]);
    println!(
        "figures: construction {construction:?}; first call with IMDS hung {first:?} (bound {IMDS_PROBE_TIMEOUT:?}); two later calls {later:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_failing_imds_means_the_central_endpoint() {
    if std::env::var_os("REGION_NAME").is_some() {
        eprintln!("skipped: REGION_NAME is set in this environment and would win over IMDS");
        return;
    }
    let env = Env::start().await;
    // Nothing listens there: the connection is refused (and retried once).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let app = ConfidentialClient::builder(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
    )
    .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
    .http_client(Arc::clone(&env.transport))
    .dangerous(DangerousOptions::new().imds_endpoint(format!("http://{closed}")))
    .azure_region(AzureRegion::AutoDetect)
    .build()
    .expect("the app builds");
    let started = Instant::now();
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    let unreachable = started.elapsed();
    assert!(unreachable < IMDS_PROBE_TIMEOUT, "{unreachable:?}");
    assert_eq!(token_hosts(&env).await, [CENTRAL]);

    // IMDS answering 500.
    env.emulator
        .admin()
        .set_imds_mode(ImdsMode::Fail)
        .await
        .expect("admin: imds");
    let app = secret_app(&env, Some(AzureRegion::AutoDetect));
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(imds_requests(&env).await, 1);
    assert_eq!(token_hosts(&env).await, [CENTRAL, CENTRAL]);
    println!("figures: first call with IMDS unreachable (refused) {unreachable:?}");
}

#[tokio::test]
async fn on_behalf_of_and_user_flows_never_use_the_region() {
    let env = Env::start().await;
    let api = build(
        &env,
        seeds::MIDDLE_TIER_CLIENT_ID,
        ClientCredential::secret(seeds::MIDDLE_TIER_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(AzureRegion::named("westus2")),
        None,
    )
    .expect("the app builds");
    let incoming = env
        .emulator
        .admin()
        .mint_user_token(&UserTokenRequest {
            tenant: seeds::CONTOSO_DOMAIN.into(),
            username: seeds::ALICE_USERNAME.into(),
            audience: seeds::MIDDLE_TIER_CLIENT_ID.into(),
            scopes: vec!["access_as_user".into()],
            lifetime_secs: None,
            client_id: None,
        })
        .await
        .expect("mint")
        .access_token;
    api.acquire_token_on_behalf_of(incoming, "https://graph.microsoft.com/User.Read")
        .await
        .expect("OBO");
    // The same app's own token does go regional.
    api.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(
        token_hosts(&env).await,
        [CENTRAL, "westus2.login.microsoft.com"]
    );

    // A web app signing a user in (username/password here) and refreshing silently.
    let web = build(
        &env,
        seeds::WEB_APP_CLIENT_ID,
        ClientCredential::secret(seeds::WEB_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(AzureRegion::named("westus2")),
        None,
    )
    .expect("the app builds");
    let signed_in = web
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            ["https://graph.microsoft.com/User.Read"],
        )
        .await
        .expect("signed in");
    let account = signed_in.account().cloned().expect("an account");
    web.acquire_token_silent(["https://graph.microsoft.com/User.Read"], &account)
        .force_refresh(true)
        .await
        .expect("refreshed");
    let posts = env.token_requests().await;
    let user_grants: Vec<(&str, &str)> = posts[2..]
        .iter()
        .map(|p| (p.form_value("grant_type").unwrap_or(""), p.host.as_str()))
        .collect();
    assert_eq!(
        user_grants,
        [("password", CENTRAL), ("refresh_token", CENTRAL)]
    );
}

#[tokio::test]
async fn only_entra_id_authorities_go_regional() {
    let env = Env::start().await;
    let b2c = || {
        Authority::b2c(
            seeds::B2C_HOST,
            seeds::B2C_TENANT_DOMAIN,
            seeds::B2C_POLICY_SIGNUP_SIGNIN,
        )
    };
    for region in [AzureRegion::named("westus2"), AzureRegion::AutoDetect] {
        let app = build(
            &env,
            seeds::SECRET_APP_CLIENT_ID,
            ClientCredential::secret(seeds::SECRET_APP_SECRET),
            b2c(),
            Some(region),
            None,
        )
        .expect("the app builds");
        app.acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .expect("token");
    }
    assert_eq!(token_hosts(&env).await, [seeds::B2C_HOST, seeds::B2C_HOST]);
    assert_eq!(imds_requests(&env).await, 0, "IMDS is not asked for B2C");
}

#[tokio::test]
async fn invalid_region_names_and_imds_endpoints_fail_at_build() {
    let env = Env::start().await;
    let long = "a".repeat(64);
    for bad in [
        "",
        "West US",
        "WestUS2",
        "westus ",
        "-westus",
        "westus-",
        "2westus",
        "west_us",
        "westus2.evil.example",
        "westus\u{0}",
        long.as_str(),
    ] {
        let e = build(
            &env,
            seeds::SECRET_APP_CLIENT_ID,
            ClientCredential::secret(seeds::SECRET_APP_SECRET),
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            Some(AzureRegion::named(bad)),
            None,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{bad:?}");
        assert!(e.to_string().contains("region"), "{e}");
    }
    for bad in ["http://imds.example", "ftp://127.0.0.1", "not a url"] {
        let e = ConfidentialClient::builder(
            seeds::SECRET_APP_CLIENT_ID,
            ClientCredential::secret(seeds::SECRET_APP_SECRET),
        )
        .dangerous(DangerousOptions::new().imds_endpoint(bad))
        .build()
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{bad}");
    }
    assert_eq!(
        env.emulator
            .admin()
            .stats()
            .await
            .expect("stats")
            .token_requests,
        0
    );
}

// ---------------------------------------------------------------- the environment (children)

#[test]
fn msal_force_region_from_the_environment() {
    run_child_test(
        "child_msal_force_region",
        &[("MSAL_FORCE_REGION", "eastus")],
        &["REGION_NAME"],
    );
    run_child_test(
        "child_invalid_msal_force_region",
        &[("MSAL_FORCE_REGION", "East US")],
        &["REGION_NAME"],
    );
}

#[test]
fn region_name_from_the_environment() {
    run_child_test(
        "child_region_name",
        &[("REGION_NAME", "centralus")],
        &["MSAL_FORCE_REGION"],
    );
    run_child_test(
        "child_invalid_region_name",
        &[("REGION_NAME", "Central US")],
        &["MSAL_FORCE_REGION"],
    );
}

#[tokio::test]
#[ignore = "run by msal_force_region_from_the_environment in a child process"]
async fn child_msal_force_region() {
    if !is_child("child_msal_force_region") {
        return;
    }
    let env = Env::start().await;
    env.emulator
        .admin()
        .set_imds_region(Some("centralus"))
        .await
        .expect("admin: imds");
    // Unset → MSAL_FORCE_REGION; explicit wins; Disabled ignores it; AutoDetect detects.
    for (region, host) in [
        (None, "eastus.login.microsoft.com"),
        (
            Some(AzureRegion::named("westus2")),
            "westus2.login.microsoft.com",
        ),
        (Some(AzureRegion::Disabled), CENTRAL),
        (
            Some(AzureRegion::AutoDetect),
            "centralus.login.microsoft.com",
        ),
    ] {
        let app = secret_app(&env, region.clone());
        app.acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .unwrap_or_else(|e| panic!("{region:?}: {e:?}"));
        let last = token_hosts(&env).await.pop().expect("a request");
        assert_eq!(last, host, "{region:?}");
    }
    child_done("child_msal_force_region");
}

#[tokio::test]
#[ignore = "run by msal_force_region_from_the_environment in a child process"]
async fn child_invalid_msal_force_region() {
    if !is_child("child_invalid_msal_force_region") {
        return;
    }
    let env = Env::start().await;
    let build_with = |region| {
        build(
            &env,
            seeds::SECRET_APP_CLIENT_ID,
            ClientCredential::secret(seeds::SECRET_APP_SECRET),
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            region,
            None,
        )
    };
    let e = build_with(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.to_string().contains("MSAL_FORCE_REGION"), "{e}");
    // A choice in the builder means the variable is not read.
    let app = build_with(Some(AzureRegion::Disabled)).expect("Disabled ignores it");
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    build_with(Some(AzureRegion::named("westus2"))).expect("explicit wins");
    assert_eq!(token_hosts(&env).await, [CENTRAL]);
    child_done("child_invalid_msal_force_region");
}

#[tokio::test]
#[ignore = "run by region_name_from_the_environment in a child process"]
async fn child_region_name() {
    if !is_child("child_region_name") {
        return;
    }
    let env = Env::start().await;
    // IMDS would say westus2: REGION_NAME wins and IMDS is not asked.
    secret_app(&env, Some(AzureRegion::AutoDetect))
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    // REGION_NAME alone does not turn regions on.
    secret_app(&env, None)
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(
        token_hosts(&env).await,
        ["centralus.login.microsoft.com", CENTRAL]
    );
    assert_eq!(imds_requests(&env).await, 0);
    child_done("child_region_name");
}

#[tokio::test]
#[ignore = "run by region_name_from_the_environment in a child process"]
async fn child_invalid_region_name() {
    if !is_child("child_invalid_region_name") {
        return;
    }
    let env = Env::start().await;
    // As MSAL Python 1.39: an invalid REGION_NAME is dropped (logged) and IMDS not asked.
    secret_app(&env, Some(AzureRegion::AutoDetect))
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(token_hosts(&env).await, [CENTRAL]);
    assert_eq!(imds_requests(&env).await, 0);
    child_done("child_invalid_region_name");
}

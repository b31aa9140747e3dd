//! Managed identity through the public API, against the emulator's sources (IMDS, App Service,
//! Azure ML, Service Fabric over pinned TLS, Azure Arc with its key-file challenge, Cloud
//! Shell): every source × identity kind gets a token and then a cache hit; errors are mapped
//! per source; retryable faults are retried; claims challenges bypass the cache; Arc fails
//! closed on a wrong id echo; Service Fabric refuses a wrong thumbprint.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use msal_core::clock::ManualClock;
use msal_core::http::ReqwestHttpClient;
use msal_core::managed_identity::{
    ManagedIdentity, ManagedIdentityClient, ManagedIdentityEnvironment, ManagedIdentitySource,
    UserAssignedId,
};
use msal_core::{Authority, DangerousOptions, ErrorKind, PublicClient, TokenCache, TokenSource};
use msal_tests::emulator::model::{ManagedIdentityFault, ManagedIdentitySource as EmuSource};
use msal_tests::emulator::seeds;
use serde_json::Value;
use support::Env;

const ARM: &str = "https://management.azure.com/";
const VAULT: &str = "https://vault.azure.net";

/// Every source the emulator serves, by its name there.
const SOURCES: [(&str, EmuSource, ManagedIdentitySource); 6] = [
    ("imds", EmuSource::Imds, ManagedIdentitySource::Imds),
    (
        "app_service",
        EmuSource::AppService,
        ManagedIdentitySource::AppService,
    ),
    (
        "azure_ml",
        EmuSource::AzureMl,
        ManagedIdentitySource::AzureMl,
    ),
    (
        "service_fabric",
        EmuSource::ServiceFabric,
        ManagedIdentitySource::ServiceFabric,
    ),
    ("arc", EmuSource::Arc, ManagedIdentitySource::AzureArc),
    (
        "cloud_shell",
        EmuSource::CloudShell,
        ManagedIdentitySource::CloudShell,
    ),
];

/// The environment the emulator gives `source`, with its Arc key directory.
fn environment(env: &Env, source: &str) -> ManagedIdentityEnvironment {
    let mi = env.emulator.managed_identity();
    ManagedIdentityEnvironment::from_vars(mi.env(source))
        .arc_key_directory(&mi.arc_key_dir)
        .arc_agent_path("/nonexistent/azcmagent/himds")
}

fn client_with(
    env: &Env,
    environment: ManagedIdentityEnvironment,
    identity: ManagedIdentity,
    clock: &ManualClock,
) -> ManagedIdentityClient {
    ManagedIdentityClient::builder(identity)
        .environment(environment)
        .http_client(Arc::clone(&env.transport))
        .dangerous(DangerousOptions::new().clock(clock.clone()))
        .build()
        .expect("the managed identity client builds")
}

fn client(env: &Env, source: &str, identity: ManagedIdentity) -> ManagedIdentityClient {
    client_with(env, environment(env, source), identity, &support::clock())
}

/// The identities a source can select: system-assigned, and each user-assigned id kind.
fn identities(source: &str) -> Vec<(ManagedIdentity, &'static str)> {
    let system = (ManagedIdentity::SystemAssigned, seeds::MI_SYSTEM_CLIENT_ID);
    if matches!(source, "cloud_shell" | "service_fabric") {
        return vec![system];
    }
    vec![
        system,
        (
            ManagedIdentity::user_assigned(UserAssignedId::ClientId(
                seeds::MI_USER_ONE_CLIENT_ID.into(),
            )),
            seeds::MI_USER_ONE_CLIENT_ID,
        ),
        (
            ManagedIdentity::user_assigned(UserAssignedId::ResourceId(
                seeds::MI_USER_ONE_RESOURCE_ID.into(),
            )),
            seeds::MI_USER_ONE_CLIENT_ID,
        ),
        (
            ManagedIdentity::user_assigned(UserAssignedId::ObjectId(
                seeds::MI_USER_TWO_OBJECT_ID.into(),
            )),
            seeds::MI_USER_TWO_CLIENT_ID,
        ),
    ]
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

async fn count(env: &Env, source: EmuSource) -> usize {
    env.emulator
        .admin()
        .managed_identity_requests(source)
        .await
        .expect("admin: requests")
        .len()
}

/// Moves `clock` forward a second every few milliseconds, so retry waits pass quickly.
fn ticking(clock: &ManualClock) -> tokio::task::JoinHandle<()> {
    let clock = clock.clone();
    tokio::spawn(async move {
        loop {
            clock.advance(Duration::from_secs(1));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

#[tokio::test]
async fn every_source_and_identity_kind_gets_a_token_then_a_cache_hit() {
    let env = Env::start().await;
    for (name, emu_source, source) in SOURCES {
        for (identity, app_id) in identities(name) {
            let mi = client(&env, name, identity.clone());
            assert_eq!(mi.source(), source);
            let before = count(&env, emu_source).await;
            let first = mi
                .acquire_token_for_client(VAULT)
                .await
                .unwrap_or_else(|e| {
                    panic!("{name} {identity:?}: {e}");
                });
            assert_eq!(first.source(), TokenSource::IdentityProvider, "{name}");
            let c = claims(first.access_token().secret());
            assert_eq!(c["aud"], VAULT, "{name} {identity:?}");
            if name != "cloud_shell" {
                assert_eq!(c["appid"], app_id, "{name} {identity:?}");
            }
            assert_eq!(first.scopes(), VAULT);
            let second = mi
                .acquire_token_for_client(VAULT)
                .await
                .expect("a cache hit");
            assert_eq!(second.source(), TokenSource::Cache, "{name} {identity:?}");
            assert_eq!(
                second.access_token().secret(),
                first.access_token().secret()
            );
            // A `.default` scope names the same resource: served from the cache too.
            let scope = mi
                .acquire_token_for_client(format!("{VAULT}/.default"))
                .await
                .expect("the .default scope");
            assert_eq!(scope.source(), TokenSource::Cache, "{name}");
            // One token request (Arc: the challenge and the token request).
            let sent = count(&env, emu_source).await - before;
            assert_eq!(
                sent,
                if name == "arc" { 2 } else { 1 },
                "{name} {identity:?}"
            );
        }
    }
}

#[tokio::test]
async fn each_source_sends_what_msal_python_sends() {
    let env = Env::start().await;
    let cases: [(&str, EmuSource, &str, &str); 4] = [
        ("imds", EmuSource::Imds, "2018-02-01", "msi_res_id"),
        (
            "app_service",
            EmuSource::AppService,
            "2019-08-01",
            "mi_res_id",
        ),
        ("azure_ml", EmuSource::AzureMl, "2017-09-01", "msi_res_id"),
        ("arc", EmuSource::Arc, "2020-06-01", "msi_res_id"),
    ];
    for (name, emu_source, api_version, res_param) in cases {
        let by_res = ManagedIdentity::user_assigned(UserAssignedId::ResourceId(
            seeds::MI_USER_ONE_RESOURCE_ID.into(),
        ));
        client(&env, name, by_res)
            .acquire_token_for_client(VAULT)
            .await
            .expect("a token");
        let reqs = env
            .emulator
            .admin()
            .managed_identity_requests(emu_source)
            .await
            .expect("requests");
        let last = reqs.last().expect("a request");
        assert_eq!(last.method, "GET", "{name}");
        let q = |k: &str| {
            last.query
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(q("api-version"), Some(api_version), "{name}");
        assert_eq!(q("resource"), Some(VAULT), "{name}");
        assert_eq!(q(res_param), Some(seeds::MI_USER_ONE_RESOURCE_ID), "{name}");
        let h = |k: &str| {
            last.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        match name {
            "imds" => {
                assert_eq!(h("metadata"), Some("true"));
                assert!(h("x-ms-client-request-id").is_some());
            }
            "app_service" => {
                let secret = env.emulator.managed_identity().identity_header.clone();
                assert_eq!(h("x-identity-header"), Some(secret.as_str()));
            }
            "azure_ml" => {
                let secret = env.emulator.managed_identity().msi_secret.clone();
                assert_eq!(h("secret"), Some(secret.as_str()));
            }
            "arc" => assert!(h("authorization").is_some_and(|a| a.starts_with("Basic "))),
            _ => unreachable!(),
        }
    }
    // Azure ML names a client id `clientid`.
    let by_client = ManagedIdentity::user_assigned(UserAssignedId::ClientId(
        seeds::MI_USER_ONE_CLIENT_ID.into(),
    ));
    client(&env, "azure_ml", by_client)
        .acquire_token_for_client(VAULT)
        .await
        .expect("a token");
    let reqs = env
        .emulator
        .admin()
        .managed_identity_requests(EmuSource::AzureMl)
        .await
        .expect("requests");
    let last = reqs.last().expect("a request");
    assert!(
        last.query
            .iter()
            .any(|(k, v)| k == "clientid" && v == seeds::MI_USER_ONE_CLIENT_ID)
    );
}

#[tokio::test]
async fn tokens_are_cached_as_msal_python_caches_them() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let clock = support::clock();
    let build = |identity| {
        ManagedIdentityClient::builder(identity)
            .environment(environment(&env, "app_service"))
            .http_client(Arc::clone(&env.transport))
            .cache(cache.clone())
            .dangerous(DangerousOptions::new().clock(clock.clone()))
            .build()
            .expect("builds")
    };
    build(ManagedIdentity::SystemAssigned)
        .acquire_token_for_client(ARM)
        .await
        .expect("system-assigned");
    let by_object = ManagedIdentity::user_assigned(UserAssignedId::ObjectId(
        seeds::MI_USER_TWO_OBJECT_ID.into(),
    ));
    build(by_object)
        .acquire_token_for_client(ARM)
        .await
        .expect("user-assigned");
    let doc: Value = serde_json::from_str(&cache.serialize().expect("serializes")).expect("JSON");
    let ats = doc["AccessToken"].as_object().expect("access tokens");
    let system = &ats["-localhost-accesstoken--managed_identity-https://management.azure.com/"];
    assert_eq!(system["client_id"], Value::Null);
    assert_eq!(system["home_account_id"], Value::Null);
    assert_eq!(system["environment"], "localhost");
    assert_eq!(system["realm"], "managed_identity");
    assert_eq!(system["target"], ARM);
    assert_eq!(system["token_type"], "Bearer");
    // 24 h tokens are refreshed at half their lifetime.
    let expires: u64 = system["expires_on"].as_str().unwrap().parse().unwrap();
    let refresh: u64 = system["refresh_on"].as_str().unwrap().parse().unwrap();
    let cached: u64 = system["cached_at"].as_str().unwrap().parse().unwrap();
    assert!((expires - cached).abs_diff(2 * (refresh - cached)) <= 2);
    // A user-assigned identity is cached under its id, whatever the kind of id.
    let user_key = format!(
        "-localhost-accesstoken-{}-managed_identity-https://management.azure.com/",
        seeds::MI_USER_TWO_OBJECT_ID.to_ascii_lowercase()
    );
    assert_eq!(ats[&user_key]["client_id"], seeds::MI_USER_TWO_OBJECT_ID);
    assert!(doc["AppMetadata"]["appmetadata-localhost-"].is_object());
    assert!(
        doc.get("Account")
            .is_none_or(|a| a.as_object().is_none_or(|a| a.is_empty()))
    );
}

#[tokio::test]
async fn errors_are_mapped_per_source() {
    let env = Env::start().await;
    // Some errors are retried first (Service Fabric's 404): let the waits pass.
    let clock = support::clock();
    let _ticker = ticking(&clock);
    let client = |env: &Env, name: &str, identity| {
        client_with(env, environment(env, name), identity, &clock)
    };
    let unknown = || {
        ManagedIdentity::user_assigned(UserAssignedId::ClientId(
            "00000000-0000-0000-0000-00000000dead".into(),
        ))
    };
    // IMDS: the endpoint's own error.
    let e = client(&env, "imds", unknown())
        .acquire_token_for_client(ARM)
        .await
        .expect_err("unknown identity");
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.service().unwrap().error, "invalid_request");
    assert_eq!(e.http_status(), Some(400));
    // App Service and Azure ML: invalid_scope (MSAL Python's mapping).
    for name in ["app_service", "azure_ml"] {
        let e = client(&env, name, unknown())
            .acquire_token_for_client(ARM)
            .await
            .expect_err("unknown identity");
        assert_eq!(
            e.service().map(|s| s.error.as_str()),
            Some("invalid_scope"),
            "{name}"
        );
        assert!(e.service().unwrap().error_description.is_some(), "{name}");
    }
    // A wrong secret.
    let mi = env.emulator.managed_identity().clone();
    let wrong_app_service = ManagedIdentityEnvironment::from_vars([
        ("IDENTITY_ENDPOINT", mi.app_service_endpoint.as_str()),
        ("IDENTITY_HEADER", "not-the-header"),
    ]);
    let e = client_with(
        &env,
        wrong_app_service,
        ManagedIdentity::SystemAssigned,
        &clock,
    )
    .acquire_token_for_client(ARM)
    .await
    .expect_err("wrong header");
    assert_eq!(e.service().map(|s| s.error.as_str()), Some("invalid_scope"));
    // Service Fabric: its error codes mapped (a wrong secret is `ManagedIdentityNotFound`).
    let wrong_sf = ManagedIdentityEnvironment::from_vars([
        ("IDENTITY_ENDPOINT", mi.service_fabric_endpoint.as_str()),
        ("IDENTITY_HEADER", "not-the-secret"),
        (
            "IDENTITY_SERVER_THUMBPRINT",
            mi.service_fabric_thumbprint.as_str(),
        ),
    ]);
    let e = client_with(&env, wrong_sf, ManagedIdentity::SystemAssigned, &clock)
        .acquire_token_for_client(ARM)
        .await
        .expect_err("wrong secret");
    assert_eq!(
        e.service().map(|s| s.error.as_str()),
        Some("invalid_client")
    );
    // Cloud Shell: error.code and error.message.
    env.emulator
        .admin()
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: EmuSource::CloudShell,
            status: 403,
            body: Some(r#"{"error":{"code":"NotAllowed","message":"no"}}"#.into()),
            times: Some(1),
            ..Default::default()
        })
        .await
        .expect("fault");
    let e = client(&env, "cloud_shell", ManagedIdentity::SystemAssigned)
        .acquire_token_for_client(ARM)
        .await
        .expect_err("fault");
    let s = e.service().expect("a service error");
    assert_eq!(
        (s.error.as_str(), s.error_description.as_deref()),
        ("NotAllowed", Some("no"))
    );
    // Arc: an unknown identity → invalid_request.
    let e = client(&env, "arc", unknown())
        .acquire_token_for_client(ARM)
        .await
        .expect_err("unknown identity");
    assert_eq!(
        e.service().map(|s| s.error.as_str()),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn garbage_bodies_are_typed_errors() {
    let env = Env::start().await;
    for (name, emu_source, _) in SOURCES {
        env.emulator
            .admin()
            .add_managed_identity_fault(&ManagedIdentityFault {
                source: emu_source,
                status: 200,
                body: Some("<html>not json</html>".into()),
                after_challenge: name == "arc",
                times: Some(1),
                ..Default::default()
            })
            .await
            .expect("fault");
        let e = client(&env, name, ManagedIdentity::SystemAssigned)
            .acquire_token_for_client(ARM)
            .await
            .expect_err("garbage");
        if name == "arc" {
            // MSAL Python: Arc turns any non-token body into invalid_request.
            assert_eq!(
                e.service().map(|s| s.error.as_str()),
                Some("invalid_request")
            );
        } else {
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{name}: {e}");
        }
    }
}

#[tokio::test]
async fn retryable_faults_are_retried_then_succeed() {
    let env = Env::start().await;
    for (name, emu_source, _) in SOURCES {
        // Each status with the system-assigned identity, and a 500 with every id kind.
        let mut runs: Vec<(u16, Option<&str>, ManagedIdentity)> = vec![
            (429, Some("2"), ManagedIdentity::SystemAssigned),
            (404, None, ManagedIdentity::SystemAssigned),
        ];
        runs.extend(identities(name).into_iter().map(|(i, _)| (500, None, i)));
        for (status, retry_after, identity) in runs {
            env.emulator
                .admin()
                .add_managed_identity_fault(&ManagedIdentityFault {
                    source: emu_source,
                    status,
                    retry_after: retry_after.map(str::to_owned),
                    after_challenge: name == "arc",
                    times: Some(2),
                    ..Default::default()
                })
                .await
                .expect("fault");
            let clock = support::clock();
            let ticker = ticking(&clock);
            let before = count(&env, emu_source).await;
            let r = client_with(&env, environment(&env, name), identity.clone(), &clock)
                .acquire_token_for_client(ARM)
                .await;
            ticker.abort();
            let r = r.unwrap_or_else(|e| panic!("{name} {status} {identity:?}: {e}"));
            assert_eq!(r.source(), TokenSource::IdentityProvider);
            let sent = count(&env, emu_source).await - before;
            assert_eq!(sent, if name == "arc" { 4 } else { 3 }, "{name} {status}");
        }
    }
    // IMDS waits out an update (410), as MSAL .NET.
    env.emulator
        .admin()
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: EmuSource::Imds,
            status: 410,
            times: Some(5),
            ..Default::default()
        })
        .await
        .expect("fault");
    let clock = support::clock();
    let ticker = ticking(&clock);
    let r = client_with(
        &env,
        environment(&env, "imds"),
        ManagedIdentity::SystemAssigned,
        &clock,
    )
    .acquire_token_for_client(VAULT)
    .await;
    ticker.abort();
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test]
async fn a_non_retryable_or_persistent_failure_is_returned() {
    let env = Env::start().await;
    // 400 is not retried.
    env.emulator
        .admin()
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: EmuSource::AppService,
            status: 400,
            body: Some(r#"{"statusCode":400,"message":"bad"}"#.into()),
            times: Some(1),
            ..Default::default()
        })
        .await
        .expect("fault");
    let before = count(&env, EmuSource::AppService).await;
    let e = client(&env, "app_service", ManagedIdentity::SystemAssigned)
        .acquire_token_for_client(ARM)
        .await
        .expect_err("400");
    assert_eq!(
        e.service().and_then(|s| s.error_description.as_deref()),
        Some("400, bad")
    );
    assert_eq!(count(&env, EmuSource::AppService).await - before, 1);
    // A 500 that never ends: the first try and three retries, then the error.
    env.emulator
        .admin()
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: EmuSource::AzureMl,
            status: 500,
            ..Default::default()
        })
        .await
        .expect("fault");
    let clock = support::clock();
    let ticker = ticking(&clock);
    let before = count(&env, EmuSource::AzureMl).await;
    let e = client_with(
        &env,
        environment(&env, "azure_ml"),
        ManagedIdentity::SystemAssigned,
        &clock,
    )
    .acquire_token_for_client(ARM)
    .await
    .expect_err("500s");
    ticker.abort();
    assert_eq!(e.http_status(), Some(500));
    assert_eq!(count(&env, EmuSource::AzureMl).await - before, 4);
    // A Retry-After beyond a minute ends the retries at once.
    env.emulator
        .admin()
        .clear_managed_identity_faults()
        .await
        .expect("clear");
    env.emulator
        .admin()
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: EmuSource::Imds,
            status: 429,
            retry_after: Some("3600".into()),
            times: Some(1),
            ..Default::default()
        })
        .await
        .expect("fault");
    let e = client(&env, "imds", ManagedIdentity::SystemAssigned)
        .acquire_token_for_client(ARM)
        .await
        .expect_err("429 for an hour");
    assert_eq!(e.http_status(), Some(429));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn a_claims_challenge_bypasses_the_cache_and_names_the_token_to_service_fabric() {
    let env = Env::start().await;
    for (name, emu_source, _) in SOURCES {
        for (identity, _) in identities(name) {
            let mi = ManagedIdentityClient::builder(identity)
                .environment(environment(&env, name))
                .http_client(Arc::clone(&env.transport))
                .client_capabilities(["cp1"])
                .build()
                .expect("builds");
            let first = mi.acquire_token_for_client(ARM).await.expect("first");
            let challenged = mi
                .acquire_token_for_client(ARM)
                .claims(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#)
                .await
                .expect("challenged");
            assert_eq!(challenged.source(), TokenSource::IdentityProvider, "{name}");
            let reqs = env
                .emulator
                .admin()
                .managed_identity_requests(emu_source)
                .await
                .expect("requests");
            let last = reqs.last().expect("a request");
            let q = |k: &str| {
                last.query
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
            };
            if name == "service_fabric" {
                let d = aws_lc_rs::digest::digest(
                    &aws_lc_rs::digest::SHA256,
                    first.access_token().secret().as_bytes(),
                );
                let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(q("token_sha256_to_refresh"), Some(hex));
                assert_eq!(q("xms_cc").as_deref(), Some("cp1"));
            } else {
                assert_eq!(q("token_sha256_to_refresh"), None, "{name}");
                assert_eq!(q("xms_cc"), None, "{name}");
            }
            // The new token replaced the old one in the cache.
            let after = mi.acquire_token_for_client(ARM).await.expect("after");
            assert_eq!(after.source(), TokenSource::Cache);
            assert_eq!(
                after.access_token().secret(),
                challenged.access_token().secret(),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn arc_fails_closed_when_the_token_is_for_another_identity() {
    let env = Env::start().await;
    let by_client = ManagedIdentity::user_assigned(UserAssignedId::ClientId(
        seeds::MI_USER_ONE_CLIENT_ID.into(),
    ));
    env.emulator
        .admin()
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: EmuSource::Arc,
            wrong_echo: true,
            times: Some(1),
            ..Default::default()
        })
        .await
        .expect("fault");
    let mi = client(&env, "arc", by_client);
    let e = mi
        .acquire_token_for_client(ARM)
        .await
        .expect_err("wrong echo");
    assert_eq!(e.kind(), ErrorKind::Validation);
    // Nothing was cached: the next call asks again (and succeeds).
    let r = mi.acquire_token_for_client(ARM).await.expect("then ok");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    // The key is read only from the agent's directory: elsewhere there is none.
    let elsewhere = std::env::temp_dir().join(format!("msal-arc-empty-{}", std::process::id()));
    std::fs::create_dir_all(&elsewhere).expect("dir");
    let e = client_with(
        &env,
        environment(&env, "arc").arc_key_directory(&elsewhere),
        ManagedIdentity::SystemAssigned,
        &support::clock(),
    )
    .acquire_token_for_client(ARM)
    .await
    .expect_err("no key there");
    assert_eq!(e.kind(), ErrorKind::Credential);
    std::fs::remove_dir_all(&elsewhere).ok();
}

#[tokio::test]
async fn service_fabric_refuses_a_certificate_it_was_not_told_to_pin() {
    let env = Env::start().await;
    let mi = env.emulator.managed_identity().clone();
    let before = count(&env, EmuSource::ServiceFabric).await;
    let wrong = ManagedIdentityEnvironment::from_vars([
        ("IDENTITY_ENDPOINT", mi.service_fabric_endpoint.as_str()),
        ("IDENTITY_HEADER", mi.identity_header.as_str()),
        (
            "IDENTITY_SERVER_THUMBPRINT",
            "00112233445566778899AABBCCDDEEFF00112233",
        ),
    ]);
    let e = client_with(
        &env,
        wrong,
        ManagedIdentity::SystemAssigned,
        &support::clock(),
    )
    .acquire_token_for_client(ARM)
    .await
    .expect_err("wrong pin");
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert_eq!(
        count(&env, EmuSource::ServiceFabric).await,
        before,
        "no request reached it"
    );
    // The right pin in MSAL's other spelling (colons, lower case) is accepted.
    let colons: String = mi
        .service_fabric_thumbprint
        .to_ascii_lowercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let right = ManagedIdentityEnvironment::from_vars([
        ("IDENTITY_ENDPOINT", mi.service_fabric_endpoint.as_str()),
        ("IDENTITY_HEADER", mi.identity_header.as_str()),
        ("IDENTITY_SERVER_THUMBPRINT", colons.as_str()),
    ]);
    client_with(
        &env,
        right,
        ManagedIdentity::SystemAssigned,
        &support::clock(),
    )
    .acquire_token_for_client(ARM)
    .await
    .expect("pinned");
    // Plain http is refused before any request.
    let http = ManagedIdentityEnvironment::from_vars([
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/sf/token"),
        ("IDENTITY_HEADER", "h"),
        (
            "IDENTITY_SERVER_THUMBPRINT",
            mi.service_fabric_thumbprint.as_str(),
        ),
    ]);
    let e = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(http)
        .build()
        .expect_err("http");
    assert_eq!(e.kind(), ErrorKind::Configuration);
}

#[tokio::test]
async fn a_thousand_concurrent_misses_make_one_request() {
    let env = Env::start().await;
    let mi = client(&env, "app_service", ManagedIdentity::SystemAssigned);
    let before = count(&env, EmuSource::AppService).await;
    let calls = (0..1000).map(|_| {
        let mi = mi.clone();
        tokio::spawn(async move { mi.acquire_token_for_client(VAULT).await })
    });
    let results = futures_join(calls).await;
    let first = results[0].access_token().secret().to_owned();
    assert!(results.iter().all(|r| r.access_token().secret() == first));
    assert_eq!(count(&env, EmuSource::AppService).await - before, 1);
}

async fn futures_join(
    handles: impl Iterator<
        Item = tokio::task::JoinHandle<msal_core::Result<msal_core::AuthenticationResult>>,
    >,
) -> Vec<msal_core::AuthenticationResult> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.expect("joins").expect("a token"));
    }
    out
}

#[tokio::test]
async fn tokens_refresh_at_half_life_and_the_aged_token_covers_a_failure() {
    let env = Env::start().await;
    let clock = support::clock();
    let mi = client_with(
        &env,
        environment(&env, "imds"),
        ManagedIdentity::SystemAssigned,
        &clock,
    );
    let first = mi.acquire_token_for_client(ARM).await.expect("first");
    let refresh_on = first.refresh_on().expect("a 24 h token has refresh_on");
    clock.set(refresh_on + Duration::from_secs(60));
    // Past refresh_on, a failing endpoint: the cached token is still served.
    env.emulator
        .admin()
        .add_managed_identity_fault(&ManagedIdentityFault {
            source: EmuSource::Imds,
            status: 400,
            body: Some(r#"{"error":"invalid_request","error_description":"down"}"#.into()),
            times: Some(1),
            ..Default::default()
        })
        .await
        .expect("fault");
    let aged = mi.acquire_token_for_client(ARM).await.expect("aged token");
    assert_eq!(aged.source(), TokenSource::Cache);
    assert_eq!(aged.access_token().secret(), first.access_token().secret());
    // Then a working endpoint: a new token.
    let fresh = mi.acquire_token_for_client(ARM).await.expect("refreshed");
    assert_eq!(fresh.source(), TokenSource::IdentityProvider);
    assert_ne!(fresh.access_token().secret(), first.access_token().secret());
}

#[tokio::test]
async fn an_expired_token_is_returned_but_never_served_from_the_cache() {
    let env = Env::start().await;
    env.emulator
        .admin()
        .set_managed_identity_token_lifetime(-60)
        .await
        .expect("lifetime");
    let mi = client(&env, "app_service", ManagedIdentity::SystemAssigned);
    let a = mi.acquire_token_for_client(ARM).await.expect("first");
    assert_eq!(a.source(), TokenSource::IdentityProvider);
    let b = mi.acquire_token_for_client(ARM).await.expect("second");
    assert_eq!(b.source(), TokenSource::IdentityProvider);
}

#[tokio::test]
async fn an_absent_imds_is_reported_quickly() {
    // A loopback port that accepts connections and never answers (IMDS on a laptop hangs).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let env = ManagedIdentityEnvironment::from_vars([(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        format!("http://{addr}"),
    )])
    .arc_agent_path("/nonexistent/himds");
    let mi = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(env)
        .build()
        .expect("builds");
    assert_eq!(mi.source(), ManagedIdentitySource::Imds);
    let started = Instant::now();
    let e = mi.acquire_token_for_client(ARM).await.expect_err("no IMDS");
    assert!(started.elapsed() < Duration::from_secs(10), "it hung");
    assert_eq!(e.kind(), ErrorKind::Transport);
    assert!(e.to_string().contains("IMDS"), "{e}");
    hold.abort();
    // A closed port fails at once too.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let env = ManagedIdentityEnvironment::from_vars([(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        format!("http://{closed}"),
    )])
    .arc_agent_path("/nonexistent/himds");
    let e = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(env)
        .build()
        .expect("builds")
        .acquire_token_for_client(ARM)
        .await
        .expect_err("closed");
    assert_eq!(e.kind(), ErrorKind::Transport);
}

#[tokio::test]
async fn identity_requests_never_go_through_a_proxy() {
    let env = Env::start().await;
    // Every proxied request would fail: nothing listens on the proxy's port.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let proxied = ReqwestHttpClient::builder()
        .proxy(format!("http://{closed}"))
        .build()
        .expect("client");
    let mi = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(environment(&env, "app_service"))
        .http_client(proxied)
        .build()
        .expect("builds");
    mi.acquire_token_for_client(ARM).await.expect("direct");
}

#[tokio::test]
async fn misconfiguration_fails_when_the_client_is_built() {
    let cloud_shell =
        ManagedIdentityEnvironment::from_vars([("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0")]);
    let user = ManagedIdentity::user_assigned(UserAssignedId::ClientId("c".into()));
    let e = ManagedIdentityClient::builder(user)
        .environment(cloud_shell)
        .build()
        .expect_err("user-assigned in Cloud Shell");
    assert_eq!(e.kind(), ErrorKind::Configuration);
    let empty = ManagedIdentity::user_assigned(UserAssignedId::ResourceId(String::new()));
    let e = ManagedIdentityClient::builder(empty)
        .environment(ManagedIdentityEnvironment::default())
        .build()
        .expect_err("empty id");
    assert_eq!(e.kind(), ErrorKind::Configuration);
    let e = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(ManagedIdentityEnvironment::from_vars([
            ("IDENTITY_ENDPOINT", "not a url"),
            ("IDENTITY_HEADER", "h"),
        ]))
        .build()
        .expect_err("bad endpoint");
    assert_eq!(e.kind(), ErrorKind::Configuration);
    // Two resources in one request are refused before any request.
    let mi = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(ManagedIdentityEnvironment::from_vars([
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
            ("IDENTITY_HEADER", "h"),
        ]))
        .build()
        .expect("builds");
    let e = mi
        .acquire_token_for_client(["https://a/.default", "https://b/.default"])
        .await
        .expect_err("two resources");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn managed_identity_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let mi = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(ManagedIdentityEnvironment::from_vars([(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "http://127.0.0.1:1",
        )]))
        .build()
        .expect("builds");
    let fut = std::future::IntoFuture::into_future(mi.acquire_token_for_client(ARM));
    is_send(&fut);
    fn is_clone_send_sync<T: Clone + Send + Sync>() {}
    is_clone_send_sync::<ManagedIdentityClient>();
}

#[tokio::test]
async fn inside_cloud_shell_a_public_client_gets_the_shells_user() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let in_shell = PublicClient::builder(seeds::PUBLIC_CLIENT_ID)
        .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
        .http_client(Arc::clone(&env.transport))
        .cache(cache.clone())
        .host_environment(environment(&env, "cloud_shell"))
        .build()
        .expect("builds");
    let scopes = ["https://management.azure.com/.default"];
    let r = in_shell
        .acquire_token_interactive(scopes)
        .prompt(msal_core::Prompt::None)
        .open_browser(false)
        .await
        .expect("the shell's user");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    let account = r.account().expect("an account").clone();
    assert_eq!(account.authority_type(), "CLOUDSHELL");
    assert!(!account.username().is_empty());
    let c = claims(r.access_token().secret());
    assert_eq!(c["aud"], "https://management.azure.com");
    assert_eq!(
        account.home_account_id(),
        format!(
            "{}.{}",
            c["oid"].as_str().unwrap(),
            c["tid"].as_str().unwrap()
        )
    );
    let reqs = env
        .emulator
        .admin()
        .managed_identity_requests(EmuSource::CloudShell)
        .await
        .expect("requests");
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].form_value("resource"),
        Some("https://management.azure.com")
    );
    // Listed, and served from the cache; another resource asks the shell again.
    let listed = in_shell.accounts().await.expect("accounts");
    assert_eq!(listed.len(), 1);
    let again = in_shell
        .acquire_token_silent(scopes, &account)
        .await
        .expect("silent");
    assert_eq!(again.source(), TokenSource::Cache);
    let vault = in_shell
        .acquire_token_silent(["https://vault.azure.net/.default"], &account)
        .await
        .expect("silent, another resource");
    assert_eq!(vault.source(), TokenSource::IdentityProvider);
    assert_eq!(count(&env, EmuSource::CloudShell).await, 2);
    // Outside the shell, the same cache neither lists the account nor uses it.
    let outside = PublicClient::builder(seeds::PUBLIC_CLIENT_ID)
        .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
        .http_client(Arc::clone(&env.transport))
        .cache(cache.clone())
        .host_environment(ManagedIdentityEnvironment::default())
        .build()
        .expect("builds");
    assert!(outside.accounts().await.expect("accounts").is_empty());
    let e = outside
        .acquire_token_silent(["https://storage.azure.com/.default"], &account)
        .await
        .expect_err("not in the shell");
    assert!(e.is_interaction_required(), "{e}");
}

/// Azure Key Vault, declared as a type.
#[derive(msal_core::Resource, Debug, Clone, Copy, PartialEq, Eq)]
#[resource("https://vault.azure.net")]
enum Vault {
    /// Not used by managed identity (it takes the resource), but a real app has scopes.
    #[scope("user_impersonation")]
    #[allow(dead_code)]
    UserImpersonation,
}

#[tokio::test]
async fn a_derived_resources_default_scope_names_the_resource() {
    let env = Env::start().await;
    let mi = client(&env, "app_service", ManagedIdentity::SystemAssigned);
    let by_uri = mi.acquire_token_for_client(VAULT).await.expect("by URI");
    let derived = mi
        .acquire_token_for_client(Vault::default_scope())
        .await
        .expect("by the derived default scope");
    assert_eq!(derived.source(), TokenSource::Cache);
    assert_eq!(
        derived.access_token().secret(),
        by_uri.access_token().secret()
    );
    assert_eq!(claims(derived.access_token().secret())["aud"], VAULT);
}

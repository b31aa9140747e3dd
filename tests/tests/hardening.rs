//! Regression tests of the hardening of issue 9, through the public API against the emulator:
//! a serialized flow completes only at the app's own authority, home account ids match
//! exactly, a refresh answered for another account is refused, and a store that cannot be
//! written keeps the cache serving what it has.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use msal_cache_file::FileCache;
use msal_core::cache::CacheOptions;
use msal_core::{
    AuthCodeFlow, Authority, ClientCredential, DeviceCodeFlow, ErrorKind, Initiated, TokenCache,
    TokenSource,
};
use msal_tests::emulator::{FaultMatch, FaultRule, seeds};
use support::{Env, GRAPH_DEFAULT};

const USER_READ: &str = "https://graph.microsoft.com/User.Read";

/// A flow's recorded authority, edited in its serialized form.
fn with_authority<T: serde::Serialize + serde::de::DeserializeOwned>(
    flow: &T,
    authority: &str,
) -> T {
    let mut json = serde_json::to_value(flow).expect("the flow serializes");
    assert!(
        json.get("authority").is_some(),
        "the flow records its authority: {json}"
    );
    json["authority"] = serde_json::Value::String(authority.to_owned());
    serde_json::from_value(json).expect("the edited flow deserializes")
}

#[tokio::test]
async fn a_serialized_flow_redeems_only_at_the_apps_own_authority() {
    let env = Env::start().await;
    let app = env.app(
        seeds::WEB_APP_CLIENT_ID,
        ClientCredential::secret(seeds::WEB_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let start = || async {
        app.auth_code_flow([USER_READ])
            .redirect_uri(seeds::WEB_APP_REDIRECT_URI)
            .login_hint(seeds::ALICE_USERNAME)
            .initiate()
            .await
            .expect("initiate")
    };
    let hostile = [
        "https://evil.example/adfs",
        "https://evil.example/contoso.onmicrosoft.com",
        "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_x",
        "https://contoso.ciamlogin.com/contoso.onmicrosoft.com",
        "http://login.microsoftonline.com/contoso.onmicrosoft.com",
        "https://login.microsoftonline.com:8443/contoso.onmicrosoft.com",
        "https://login.microsoftonline.us/contoso.onmicrosoft.com",
        "https://login.microsoftonline.com/adfs",
        "not a url",
    ];
    for target in hostile {
        let flow = start().await;
        let response = env.browse(flow.auth_uri()).await;
        let forged: AuthCodeFlow<Initiated> = with_authority(&flow, target);
        let sent = env.transport.sent.load(Ordering::SeqCst);
        let e = forged
            .complete(&app, response.as_str())
            .await
            .expect_err(target);
        assert_eq!(e.error().kind(), ErrorKind::Validation, "{target}: {e:?}");
        assert_eq!(
            env.transport.sent.load(Ordering::SeqCst),
            sent,
            "{target}: nothing was sent anywhere"
        );
    }
    // A tenant of the app's own cloud is a per-request variant it accepts, and the untouched
    // flow completes.
    let flow = start().await;
    let response = env.browse(flow.auth_uri()).await;
    let same: AuthCodeFlow<Initiated> = with_authority(
        &flow,
        &format!(
            "https://login.microsoftonline.com/{}",
            seeds::CONTOSO_TENANT_ID
        ),
    );
    let done = same
        .complete(&app, response.as_str())
        .await
        .expect("a tenant of the app's cloud completes");
    assert!(done.account().is_some());
    let flow = start().await;
    let response = env.browse(flow.auth_uri()).await;
    flow.complete(&app, response.as_str())
        .await
        .expect("the untouched flow completes");

    // An override the flow could not complete at is refused when the flow starts.
    let e = app
        .auth_code_flow([USER_READ])
        .authority(Authority::aad(seeds::USGOV_HOST, seeds::USGOV_DOMAIN))
        .initiate()
        .await
        .expect_err("another cloud's authority");
    assert_eq!(e.kind(), ErrorKind::Validation);

    // The device code flow likewise.
    let public = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let flow = public
        .device_code_flow([USER_READ])
        .initiate()
        .await
        .expect("device code");
    let forged: DeviceCodeFlow<Initiated> = with_authority(&flow, "https://evil.example/adfs");
    let sent = env.transport.sent.load(Ordering::SeqCst);
    let e = forged.poll(&public).await.expect_err("forged");
    assert_eq!(e.error().kind(), ErrorKind::Validation);
    assert_eq!(env.transport.sent.load(Ordering::SeqCst), sent);
}

#[tokio::test]
async fn home_account_ids_match_exactly() {
    let env = Env::start().await;
    // Two AD FS users whose ids (the case-sensitive `sub`, no client_info) differ only in
    // case; only the first has a token.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let cid = seeds::PUBLIC_CLIENT_ID;
    let env_host = seeds::ADFS_HOST;
    let account = |hid: &str| {
        serde_json::json!({
            "home_account_id": hid, "environment": env_host, "realm": "adfs",
            "local_account_id": hid, "username": hid, "authority_type": "ADFS"
        })
    };
    let doc = serde_json::json!({
        "AccessToken": {
            format!("alice-sub-{env_host}-accesstoken-{cid}-adfs-{}", USER_READ.to_lowercase()): {
                "credential_type": "AccessToken", "secret": "alice-access-token",
                "home_account_id": "alice-sub", "environment": env_host, "client_id": cid,
                "target": USER_READ, "realm": "adfs", "token_type": "Bearer",
                "cached_at": now.to_string(), "expires_on": (now + 3600).to_string(),
                "extended_expires_on": (now + 3600).to_string()
            }
        },
        "Account": {
            format!("alice-sub-{env_host}-adfs"): account("alice-sub"),
            format!("ALICE-SUB-{env_host}-adfs"): account("ALICE-SUB")
        }
    });
    let cache = TokenCache::new();
    cache
        .deserialize(&doc.to_string())
        .expect("the document loads");
    let app = env.public_app(
        cid,
        Authority::adfs(&format!("https://{env_host}/adfs")).expect("adfs"),
        Some(cache.clone()),
        None,
    );
    let accounts = app.accounts().await.expect("accounts");
    let ids: Vec<&str> = accounts.iter().map(|a| a.home_account_id()).collect();
    assert_eq!(accounts.len(), 2, "two users, not one: {ids:?}");
    let upper = accounts
        .iter()
        .find(|a| a.home_account_id() == "ALICE-SUB")
        .expect("ALICE-SUB");
    let lower = accounts
        .iter()
        .find(|a| a.home_account_id() == "alice-sub")
        .expect("alice-sub");
    let own = app
        .acquire_token_silent([USER_READ], lower)
        .await
        .expect("alice-sub's own token");
    assert_eq!(own.access_token().secret(), "alice-access-token");
    match app.acquire_token_silent([USER_READ], upper).await {
        Ok(r) => assert_ne!(
            r.access_token().secret(),
            "alice-access-token",
            "ALICE-SUB was given alice-sub's token"
        ),
        Err(e) => assert!(
            e.is_interaction_required() || e.kind() == ErrorKind::InteractionRequired,
            "{e:?}"
        ),
    }
}

#[tokio::test]
async fn a_refresh_answered_for_another_account_is_refused() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    );
    let first = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("alice signs in");
    let alice = first.account().expect("account").clone();
    let bob_info = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::json!({"uid": seeds::BOB_OID, "utid": seeds::FABRIKAM_TENANT_ID}).to_string(),
    );
    env.emulator
        .admin()
        .add_fault(&FaultRule {
            matches: FaultMatch {
                path_contains: Some("/token".into()),
                grant_type: Some("refresh_token".into()),
                ..Default::default()
            },
            json: Some(serde_json::json!({
                "token_type": "Bearer",
                "access_token": "bobs-access-token",
                "refresh_token": "bobs-refresh-token",
                "expires_in": 3600,
                "scope": USER_READ,
                "client_info": bob_info,
            })),
            ..Default::default()
        })
        .await
        .expect("fault");
    let e = app
        .acquire_token_silent([USER_READ], &alice)
        .force_refresh(true)
        .await
        .expect_err("another account's answer");
    assert_eq!(e.kind(), ErrorKind::Validation, "{e:?}");
    let json = cache.serialize().expect("serialize");
    assert!(
        !json.contains("bobs-access-token"),
        "nothing cached: {json}"
    );
    assert!(!json.contains("bobs-refresh-token"), "nothing cached");
    assert!(!json.contains(seeds::BOB_OID), "no account for bob");
    let accounts = app.accounts().await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].home_account_id(), alice.home_account_id());
    // The fault is spent: the next refresh is alice's own.
    let again = app
        .acquire_token_silent([USER_READ], &alice)
        .force_refresh(true)
        .await
        .expect("alice's refresh");
    assert_eq!(again.source(), TokenSource::IdentityProvider);
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "msal-rs-hardening-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[tokio::test]
async fn a_store_that_cannot_be_written_keeps_serving_memory_and_says_so() {
    let env = Env::start().await;
    // The path's parent is a regular file: nothing can be written there until it goes.
    let dir = scratch_dir("unwritable");
    let blocker = dir.join("sub");
    std::fs::write(&blocker, b"not a directory").expect("blocker");
    let path = blocker.join("cache.json");
    let cache = TokenCache::with_store_options(
        FileCache::new(&path),
        CacheOptions::default().max_staleness(Duration::ZERO),
    );
    assert!(cache.store_health().is_healthy());
    let app = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    );
    let first = app
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .expect("the acquisition succeeds although the store fails");
    assert_eq!(first.source(), TokenSource::IdentityProvider);
    let health = cache.store_health();
    assert!(!health.is_healthy());
    assert!(health.unsaved_changes() >= 1, "{health:?}");
    assert!(
        health.last_failure().is_some_and(|f| f.was_write()),
        "{health:?}"
    );
    let e = cache
        .sync()
        .await
        .expect_err("sync reports the failed write");
    assert_eq!(e.kind(), ErrorKind::Cache, "{e:?}");

    // Memory keeps serving the token however stale the partition is (max_staleness is 0).
    for _ in 0..3 {
        let again = app
            .acquire_token_for_client([GRAPH_DEFAULT])
            .await
            .expect("served");
        assert_eq!(again.source(), TokenSource::Cache);
        assert_eq!(again.access_token().secret(), first.access_token().secret());
    }
    assert_eq!(env.token_requests().await.len(), 1, "one request to Entra");

    // Once the store can be written, sync writes what was unsaved.
    std::fs::remove_file(&blocker).expect("unblock");
    cache.sync().await.expect("the store works again");
    assert!(
        cache.store_health().is_healthy(),
        "{:?}",
        cache.store_health()
    );
    let text = std::fs::read_to_string(&path).expect("the cache file exists now");
    assert!(text.contains(first.access_token().secret()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_store_path_that_does_not_exist_and_cannot_be_created_keeps_the_token() {
    let env = Env::start().await;
    // Reads find nothing (a missing file), writes fail: memory must not be reset to the empty
    // file each time the partition is re-read.
    let cache = TokenCache::with_store_options(
        FileCache::new("/proc/msal-rs-nope/cache.json"),
        CacheOptions::default().max_staleness(Duration::ZERO),
    );
    let app = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    );
    let first = app
        .acquire_token_for_client([GRAPH_DEFAULT])
        .await
        .expect("first");
    assert!(cache.sync().await.is_err(), "the write failure is reported");
    for _ in 0..3 {
        let again = app
            .acquire_token_for_client([GRAPH_DEFAULT])
            .await
            .expect("served");
        assert_eq!(again.source(), TokenSource::Cache);
        assert_eq!(again.access_token().secret(), first.access_token().secret());
    }
    assert_eq!(env.token_requests().await.len(), 1);
    assert!(cache.store_health().unsaved_changes() >= 1);
}

#[tokio::test]
async fn a_serialized_device_code_flow_with_a_huge_interval_ends_at_its_expiry() {
    let env = Env::start().await;
    let public = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let flow = public
        .device_code_flow([USER_READ])
        .initiate()
        .await
        .expect("device code");
    let mut json = serde_json::to_value(&flow).expect("json");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json["interval"] = serde_json::json!(u64::MAX);
    json["expires_at"] = serde_json::json!(now + 2);
    let tampered: DeviceCodeFlow<Initiated> = serde_json::from_value(json).expect("flow");
    let e = tokio::time::timeout(Duration::from_secs(30), tampered.poll(&public))
        .await
        .expect("the poll ends at the code's expiry, not after u64::MAX seconds")
        .expect_err("expired");
    assert_eq!(
        e.error().service().map(|s| s.error.as_str()),
        Some("expired_token"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_generic_oidc_flow_completes_on_another_app_instance() {
    let env = Env::start().await;
    let authority = || Authority::oidc(seeds::OIDC_ISSUER).expect("oidc");
    let first = env.public_app(seeds::PUBLIC_CLIENT_ID, authority(), None, None);
    let second = env.public_app(seeds::PUBLIC_CLIENT_ID, authority(), None, None);
    let flow = first
        .auth_code_flow([USER_READ])
        .redirect_uri("http://localhost")
        .login_hint(seeds::ALICE_USERNAME)
        .initiate()
        .await
        .expect("initiate at the OIDC provider");
    let session = serde_json::to_string(&flow).expect("session");
    let response = env.browse(flow.auth_uri()).await;
    // Another instance of the web fleet completes it: the flow's authority stays a generic
    // OIDC authority (it used to be rebuilt from its URL as an Entra one, and instance
    // discovery at login.microsoftonline.com then failed).
    let flow: AuthCodeFlow<Initiated> = serde_json::from_str(&session).expect("flow");
    let done = flow
        .complete(&second, response.as_str())
        .await
        .expect("completed by the second instance");
    assert!(done.account().is_some());
    let instance_discovery = env
        .discovery_requests()
        .await
        .into_iter()
        .filter(|r| r.path.contains("discovery/instance"))
        .count();
    assert_eq!(
        instance_discovery, 0,
        "no Entra instance discovery for an OIDC provider"
    );
}

//! Caches written by other MSALs, through the public API against the emulator: tokens under
//! another alias of the cloud (`login.windows.net`), entries without optional fields (a
//! refresh token without `target`, an access token without `token_type`, an account without
//! `realm`), untouched entries written back as they were read, and new entries written in the
//! dialect the file already uses (MSAL Node's `""` for an absent home account id, MSAL
//! Python's `null`).
//!
//! The documents are modelled on MSAL Node's serialization (msal-node `Serializer`, keys as
//! msal-common's `CacheHelpers.generateCredentialKey` builds them): compact JSON, its own
//! field order, `""` for the home account id of app tokens, refresh tokens without `target`.

mod support;

use msal_core::{Authority, ClientCredential, TokenCache, TokenSource};
use msal_tests::emulator::seeds;
use serde_json::{Map, Value, json};
use support::{Env, GRAPH_DEFAULT};

const USER_READ: &str = "https://graph.microsoft.com/User.Read";
const NODE_ENV: &str = "login.windows.net";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn secret_app(env: &Env, cache: &TokenCache) -> msal_core::ConfidentialClient {
    env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    )
}

/// The one entry of `section` in a serialized cache.
fn only_entry(json: &str, section: &str) -> Map<String, Value> {
    let v: Value = serde_json::from_str(json).expect("json");
    let m = v[section].as_object().expect("section").clone();
    assert_eq!(m.len(), 1, "{section}: {m:?}");
    m.values()
        .next()
        .and_then(Value::as_object)
        .cloned()
        .expect("an entry")
}

/// What msal-rs caches for the secret app's Graph token, as (realm, target).
async fn app_token_shape(env: &Env) -> (String, String) {
    let cache = TokenCache::new();
    secret_app(env, &cache)
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    let at = only_entry(&cache.serialize().expect("json"), "AccessToken");
    (
        at["realm"].as_str().expect("realm").to_owned(),
        at["target"].as_str().expect("target").to_owned(),
    )
}

/// An app token as MSAL Node writes it, under `environment`, with `token_type` unless
/// `None`: (key, entry).
fn node_app_token(
    environment: &str,
    realm: &str,
    target: &str,
    secret: &str,
    token_type: Option<&str>,
) -> (String, Value) {
    let (at, far) = (now(), now() + 3600);
    let mut e = json!({
        "home_account_id": "",
        "environment": environment,
        "credential_type": "AccessToken",
        "client_id": seeds::SECRET_APP_CLIENT_ID,
        "secret": secret,
        "realm": realm,
        "target": target,
        "cached_at": at.to_string(),
        "expires_on": far.to_string(),
        "extended_expires_on": far.to_string(),
    });
    if let Some(t) = token_type {
        e["token_type"] = json!(t);
    }
    let key = format!(
        "-{environment}-accesstoken-{}-{realm}-{target}--",
        seeds::SECRET_APP_CLIENT_ID
    )
    .to_lowercase();
    (key, e)
}

fn doc(sections: &[(&str, Vec<(String, Value)>)]) -> String {
    let mut top = Map::new();
    for (name, entries) in sections {
        top.insert(
            (*name).to_owned(),
            Value::Object(entries.iter().cloned().collect()),
        );
    }
    // Compact, as MSAL Node's `JSON.stringify` writes it.
    Value::Object(top).to_string()
}

#[tokio::test]
async fn app_tokens_under_login_windows_net_are_cache_hits() {
    let env = Env::start().await;
    let (realm, target) = app_token_shape(&env).await;
    let sent_before = env.token_requests().await.len();
    let file = doc(&[(
        "AccessToken",
        vec![node_app_token(
            NODE_ENV,
            &realm,
            &target,
            "node-app-token",
            Some("Bearer"),
        )],
    )]);
    let cache = TokenCache::new();
    cache.deserialize(&file).expect("loads");
    let r = secret_app(&env, &cache)
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(r.source(), TokenSource::Cache);
    assert_eq!(r.access_token().secret(), "node-app-token");
    assert_eq!(env.token_requests().await.len(), sent_before);
}

#[tokio::test]
async fn an_access_token_without_token_type_is_a_bearer_token() {
    let env = Env::start().await;
    let (realm, target) = app_token_shape(&env).await;
    let sent_before = env.token_requests().await.len();
    let file = doc(&[(
        "AccessToken",
        vec![node_app_token(
            "login.microsoftonline.com",
            &realm,
            &target,
            "typeless-app-token",
            None,
        )],
    )]);
    let cache = TokenCache::new();
    cache.deserialize(&file).expect("loads");
    let r = secret_app(&env, &cache)
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(r.source(), TokenSource::Cache);
    assert_eq!(r.access_token().secret(), "typeless-app-token");
    assert_eq!(r.token_type(), "Bearer");
    assert_eq!(env.token_requests().await.len(), sent_before);
    // Untouched, it is written back without one.
    let out = cache.serialize().expect("json");
    assert!(!only_entry(&out, "AccessToken").contains_key("token_type"));
}

/// A user's account, access token and refresh token as MSAL Node writes them under
/// `environment` (the refresh token without `target`).
fn node_user_cache(environment: &str, rt_secret: &str) -> String {
    let hid = format!("{}.{}", seeds::ALICE_OID, seeds::CONTOSO_TENANT_ID);
    let tid = seeds::CONTOSO_TENANT_ID;
    let cid = seeds::PUBLIC_CLIENT_ID;
    let (at, far) = (now().to_string(), (now() + 3600).to_string());
    let target = "https://graph.microsoft.com/User.Read openid profile email";
    doc(&[
        (
            "Account",
            vec![(
                format!("{hid}-{environment}-{tid}").to_lowercase(),
                json!({
                    "home_account_id": hid, "environment": environment, "realm": tid,
                    "local_account_id": seeds::ALICE_OID, "username": seeds::ALICE_USERNAME,
                    "authority_type": "MSSTS", "client_info": "eyJ1aWQiOiJ4In0"
                }),
            )],
        ),
        (
            "AccessToken",
            vec![(
                format!("{hid}-{environment}-accesstoken-{cid}-{tid}-{target}--").to_lowercase(),
                json!({
                    "home_account_id": hid, "environment": environment,
                    "credential_type": "AccessToken", "client_id": cid,
                    "secret": "node-user-token", "realm": tid, "target": target,
                    "cached_at": at, "expires_on": far, "extended_expires_on": far,
                    "token_type": "Bearer"
                }),
            )],
        ),
        (
            "RefreshToken",
            vec![(
                format!("{hid}-{environment}-refreshtoken-{cid}----").to_lowercase(),
                json!({
                    "home_account_id": hid, "environment": environment,
                    "credential_type": "RefreshToken", "client_id": cid,
                    "secret": rt_secret
                }),
            )],
        ),
    ])
}

#[tokio::test]
async fn user_tokens_under_login_windows_net_are_cache_hits() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    cache
        .deserialize(&node_user_cache(NODE_ENV, "not-a-refresh-token"))
        .expect("loads");
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::organizations(),
        Some(cache),
        None,
    );
    let accounts = app.accounts().await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    let r = app
        .acquire_token_silent([USER_READ], &accounts[0])
        .await
        .expect("silent");
    assert_eq!(r.source(), TokenSource::Cache);
    assert_eq!(r.access_token().secret(), "node-user-token");
    assert_eq!(env.token_requests().await.len(), 0);
}

#[tokio::test]
async fn a_family_refresh_token_without_target_serves_a_sibling() {
    let env = Env::start().await;
    // A real family refresh token, from app A's sign-in.
    let signed_in = TokenCache::new();
    let a = env.public_app(
        seeds::FOCI_APP_A_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(signed_in.clone()),
        None,
    );
    let r = a
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("A signs in");
    let account = r.account().expect("account").clone();
    let json = signed_in.serialize().expect("json");
    let rt = only_entry(&json, "RefreshToken");
    assert_eq!(rt["family_id"], "1");
    let acc = only_entry(&json, "Account");

    // The same, as MSAL Node writes it: the refresh token has no target.
    let hid = account.home_account_id().to_owned();
    let environment = "login.microsoftonline.com";
    let file = doc(&[
        (
            "Account",
            vec![(
                format!(
                    "{hid}-{environment}-{}",
                    acc["realm"].as_str().expect("realm")
                )
                .to_lowercase(),
                Value::Object(acc),
            )],
        ),
        (
            "RefreshToken",
            vec![(
                format!("{hid}-{environment}-refreshtoken-1----").to_lowercase(),
                json!({
                    "home_account_id": hid, "environment": environment,
                    "credential_type": "RefreshToken",
                    "client_id": seeds::FOCI_APP_A_CLIENT_ID,
                    "secret": rt["secret"], "family_id": "1"
                }),
            )],
        ),
    ]);
    let cache = TokenCache::new();
    cache.deserialize(&file).expect("loads");
    let b = env.public_app(
        seeds::FOCI_APP_B_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache),
        None,
    );
    let accounts = b.accounts().await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    let rb = b
        .acquire_token_silent(["https://graph.microsoft.com/Mail.Read"], &accounts[0])
        .await
        .expect("B silently, with A's family refresh token");
    assert_eq!(rb.source(), TokenSource::IdentityProvider);
    let post = env.token_requests().await.pop().expect("the refresh");
    assert_eq!(post.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(
        post.form_value("client_id"),
        Some(seeds::FOCI_APP_B_CLIENT_ID)
    );
}

#[tokio::test]
async fn an_adfs_account_without_realm_is_listed() {
    // As MSAL .NET writes an AD FS account: no realm.
    let env = Env::start().await;
    let file = doc(&[(
        "Account",
        vec![(
            format!("alice-sub-{}-", seeds::ADFS_HOST),
            json!({
                "home_account_id": "alice-sub", "environment": seeds::ADFS_HOST,
                "local_account_id": "alice-sub", "username": seeds::ALICE_USERNAME,
                "authority_type": "ADFS"
            }),
        )],
    )]);
    let cache = TokenCache::new();
    cache.deserialize(&file).expect("loads");
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::adfs(&format!("https://{}/adfs", seeds::ADFS_HOST)).expect("adfs"),
        Some(cache.clone()),
        None,
    );
    let accounts = app.accounts().await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].username(), seeds::ALICE_USERNAME);
    assert_eq!(accounts[0].home_account_id(), "alice-sub");
    assert_eq!(cache.accounts().len(), 1);
}

/// Every entry of every section of a document, as (section, key, entry, in its order).
fn entries(json: &str) -> Vec<(String, String, Value)> {
    let v: Value = serde_json::from_str(json).expect("json");
    let mut out = Vec::new();
    for (section, m) in v.as_object().expect("object") {
        if let Some(m) = m.as_object() {
            for (k, e) in m {
                out.push((section.clone(), k.clone(), e.clone()));
            }
        }
    }
    out
}

/// The member names of an entry, in order.
fn names(e: &Value) -> Vec<String> {
    e.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn saving_a_node_file_keeps_its_entries_and_its_dialect() {
    let env = Env::start().await;
    let (realm, _) = app_token_shape(&env).await;
    // MSAL Node's app token for another resource, a user's refresh token with
    // `"family_id": null`, app metadata with `"family_id": null`; once with a timestamp as a
    // number (read by the complete reading), once without (the scanner).
    for numeric in [false, true] {
        let vault = "https://vault.azure.net/.default";
        let (k_at, mut at) = node_app_token(NODE_ENV, &realm, vault, "node-vault", Some("Bearer"));
        if numeric {
            at["cached_at"] = json!(now());
        }
        let hid = format!("{}.{}", seeds::ALICE_OID, seeds::CONTOSO_TENANT_ID);
        let file = doc(&[
            ("AccessToken", vec![(k_at, at)]),
            (
                "RefreshToken",
                vec![(
                    format!(
                        "{hid}-{NODE_ENV}-refreshtoken-{}----",
                        seeds::PUBLIC_CLIENT_ID
                    ),
                    json!({
                        "home_account_id": hid, "environment": NODE_ENV,
                        "credential_type": "RefreshToken", "client_id": seeds::PUBLIC_CLIENT_ID,
                        "secret": "node-rt", "family_id": null, "last_modification_time": "0170"
                    }),
                )],
            ),
            (
                "AppMetadata",
                vec![(
                    format!("appmetadata-{NODE_ENV}-{}", seeds::PUBLIC_CLIENT_ID),
                    json!({
                        "client_id": seeds::PUBLIC_CLIENT_ID, "environment": NODE_ENV,
                        "family_id": null
                    }),
                )],
            ),
        ]);
        let cache = TokenCache::new();
        cache.deserialize(&file).expect("loads");
        // Saved untouched, then after a new app token was added.
        let untouched = cache.serialize().expect("json");
        secret_app(&env, &cache)
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .expect("token");
        let saved = cache.serialize().expect("json");

        let before = entries(&file);
        for out in [&untouched, &saved] {
            let after = entries(out);
            for (section, key, entry) in &before {
                let kept = after
                    .iter()
                    .find(|(s, k, _)| s == section && k == key)
                    .map(|(_, _, e)| e)
                    .unwrap_or_else(|| panic!("{section} {key} kept"));
                assert_eq!(kept, entry, "{section} {key}");
                assert_eq!(names(kept), names(entry), "{section} {key}: member order");
            }
        }
        // The new app token is in the file's dialect: `""`, as MSAL Node finds it.
        let all = entries(&saved);
        let new: Vec<&Value> = all
            .iter()
            .filter(|(s, k, _)| s == "AccessToken" && !before.iter().any(|(_, bk, _)| bk == k))
            .map(|(_, _, e)| e)
            .collect();
        assert_eq!(new.len(), 1, "{saved}");
        assert_eq!(new[0]["home_account_id"], "");
        assert_eq!(new[0]["environment"], "login.microsoftonline.com");
        // Read again, the file is the same document.
        let again = TokenCache::new();
        again.deserialize(&saved).expect("loads");
        assert_eq!(again.serialize().expect("json"), saved);
    }
}

#[tokio::test]
async fn new_app_tokens_stay_in_msal_pythons_dialect() {
    let env = Env::start().await;
    let (realm, target) = app_token_shape(&env).await;
    // A file where app tokens are written with `null` (MSAL Python's): an expired one, so
    // that a new one is requested and added.
    let (key, mut old) = node_app_token(
        "login.microsoftonline.com",
        &realm,
        "https://vault.azure.net/.default",
        "python-vault",
        Some("Bearer"),
    );
    old["home_account_id"] = Value::Null;
    let file = doc(&[("AccessToken", vec![(key, old)])]);
    for start in [file.as_str(), ""] {
        let cache = TokenCache::new();
        cache.deserialize(start).expect("loads");
        secret_app(&env, &cache)
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .expect("token");
        let saved = cache.serialize().expect("json");
        let v: Value = serde_json::from_str(&saved).expect("json");
        let new = v["AccessToken"]
            .as_object()
            .and_then(|m| m.values().find(|e| e["target"] == target.as_str()))
            .expect("the new token");
        assert_eq!(new["home_account_id"], Value::Null, "{saved}");
    }
}

#[tokio::test]
async fn a_node_file_shared_through_the_file_store_keeps_working_for_node() {
    let env = Env::start().await;
    let (realm, target) = app_token_shape(&env).await;
    let sent_before = env.token_requests().await.len();
    let dir =
        std::env::temp_dir().join(format!("msal-rs-dialects-{}-{}", std::process::id(), now()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("node_cache.json");
    let vault = node_app_token(
        NODE_ENV,
        &realm,
        "https://vault.azure.net/.default",
        "node-vault",
        Some("Bearer"),
    );
    let graph = node_app_token(NODE_ENV, &realm, &target, "node-graph", Some("Bearer"));
    let graph_key = graph.0.clone();
    let file = doc(&[
        ("Account", vec![]),
        ("IdToken", vec![]),
        ("AccessToken", vec![vault, graph]),
        ("RefreshToken", vec![]),
        ("AppMetadata", vec![]),
    ]);
    std::fs::write(&path, &file).expect("written");
    let cache = TokenCache::with_store_options(
        msal_cache_file::FileCache::new(&path),
        msal_core::cache::CacheOptions::default().max_staleness(std::time::Duration::ZERO),
    );
    let app = secret_app(&env, &cache);
    // MSAL Node's token, under its alias, is served from the file.
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(r.source(), TokenSource::Cache);
    assert_eq!(r.access_token().secret(), "node-graph");
    assert_eq!(env.token_requests().await.len(), sent_before);
    // A new token is written to the file: it replaces MSAL Node's token of the same slot
    // (left next to it, MSAL Node would find two matches: acquireTokenByClientCredential then
    // fails with multiple_matching_tokens), MSAL Node's other entries stay as they were, and
    // the new one is in MSAL Node's dialect.
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .force_refresh(true)
        .await
        .expect("token");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    let saved = std::fs::read_to_string(&path).expect("read");
    let before = entries(&file);
    let after = entries(&saved);
    assert!(
        !after.iter().any(|(_, k, _)| *k == graph_key),
        "the replaced token is gone: {saved}"
    );
    for (section, key, entry) in before.iter().filter(|(_, k, _)| *k != graph_key) {
        let kept = after
            .iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, e)| e)
            .unwrap_or_else(|| panic!("{section} {key} kept"));
        assert_eq!(kept, entry);
        assert_eq!(names(kept), names(entry));
    }
    let new: Vec<&Value> = after
        .iter()
        .filter(|(s, k, _)| s == "AccessToken" && !before.iter().any(|(_, bk, _)| bk == k))
        .map(|(_, _, e)| e)
        .collect();
    assert_eq!(new.len(), 1, "{saved}");
    assert_eq!(new[0]["home_account_id"], "");
    let _ = std::fs::remove_dir_all(&dir);
}

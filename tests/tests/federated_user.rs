//! The MSAL Python 1.39 parity items of confidential clients, through the public API against the
//! emulator over real HTTPS: the user federated identity credential grant (`user_fic`), extra
//! claims signed into certificate assertions (`client_claims`), and `fmi_path` as a typed
//! option of client credentials.

mod support;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use msal_core::{
    Authority, ClientCredential, ConfidentialClient, ErrorKind, FicUser, TokenCache, TokenSource,
};
use msal_tests::emulator::model::FederatedTokenRequest;
use msal_tests::emulator::seeds;
use serde_json::{Map, Value, json};
use support::{Env, GRAPH_DEFAULT};

const USER_READ: &str = "https://graph.microsoft.com/User.Read";

fn jwt_claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// An agent instance token: a token of the workload issuer for `subject`.
async fn instance_token(env: &Env, subject: &str) -> String {
    env.emulator
        .admin()
        .mint_federated_token(&FederatedTokenRequest {
            subject: subject.to_owned(),
            ..Default::default()
        })
        .await
        .expect("a federated token")
        .access_token
}

fn agent_app(env: &Env, cache: TokenCache) -> ConfidentialClient {
    env.app(
        seeds::AGENT_APP_CLIENT_ID,
        ClientCredential::secret(seeds::AGENT_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache),
        None,
    )
}

fn form(r: &msal_tests::emulator::RecordedRequest) -> Vec<(&str, &str)> {
    r.form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[tokio::test]
async fn user_fic_by_username_sends_msal_pythons_request_and_caches_a_user_sign_in() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let app = agent_app(&env, cache.clone());
    let token = instance_token(&env, seeds::AGENT_INSTANCE_SUBJECT).await;

    let result = app
        .acquire_token_by_user_federated_identity_credential(
            USER_READ,
            token.clone(),
            FicUser::username(seeds::ALICE_USERNAME),
        )
        .await
        .expect("a user token");
    assert_eq!(result.source(), TokenSource::IdentityProvider);
    let account = result.account().expect("an account").clone();
    assert_eq!(account.username(), seeds::ALICE_USERNAME);
    assert_eq!(account.local_account_id(), seeds::ALICE_OID);
    assert_eq!(account.account_source(), Some("user_fic"));
    let at = jwt_claims(result.access_token().secret());
    assert_eq!(at["oid"], seeds::ALICE_OID);
    assert_eq!(at["appid"], seeds::AGENT_APP_CLIENT_ID);
    assert_eq!(
        result.id_token_claims().expect("an ID token")["preferred_username"],
        seeds::ALICE_USERNAME
    );

    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 1);
    let f = form(&posts[0]);
    let names: Vec<&str> = f.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "grant_type",
            "client_info",
            "client_secret",
            "scope",
            "user_federated_identity_credential",
            "username"
        ],
        "MSAL Python's fields, in its order"
    );
    let field = |n: &str| f.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    assert_eq!(field("grant_type"), Some("user_fic"));
    assert_eq!(
        field("user_federated_identity_credential"),
        Some(token.as_str())
    );
    assert_eq!(field("username"), Some(seeds::ALICE_USERNAME));
    let mut scope: Vec<&str> = field("scope").unwrap_or("").split(' ').collect();
    scope.sort_unstable();
    assert_eq!(
        scope,
        [USER_READ, "offline_access", "openid", "profile"],
        "the reserved scopes are added"
    );
    assert_eq!(
        posts[0].header("x-anchormailbox"),
        Some(format!("upn:{}", seeds::ALICE_USERNAME).as_str())
    );
    assert_eq!(
        posts[0].header("x-client-current-telemetry"),
        Some("4|950,0|")
    );

    // Cached as a user sign-in: the access token silently, then the refresh token.
    let silent = app
        .acquire_token_silent(USER_READ, &account)
        .await
        .expect("silent");
    assert_eq!(silent.source(), TokenSource::Cache);
    let refreshed = app
        .acquire_token_silent(USER_READ, &account)
        .force_refresh(true)
        .await
        .expect("refreshed with the cached refresh token");
    assert_eq!(refreshed.source(), TokenSource::IdentityProvider);
    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 2);
    assert!(
        form(&posts[1]).contains(&("grant_type", "refresh_token")),
        "the refresh token was cached"
    );
    let doc: Value = serde_json::from_str(&cache.serialize().expect("serialize")).expect("JSON");
    let accounts: Vec<&Value> = doc["Account"]
        .as_object()
        .expect("accounts")
        .values()
        .collect();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["account_source"], "user_fic");
    assert_eq!(doc["RefreshToken"].as_object().map(Map::len), Some(1));
    assert_eq!(doc["IdToken"].as_object().map(Map::len), Some(1));
    let at_keys: Vec<&String> = doc["AccessToken"]
        .as_object()
        .expect("ATs")
        .keys()
        .collect();
    assert!(
        at_keys.iter().all(|k| k.contains("-accesstoken-")),
        "user FIC tokens use the normal key, no extended cache key: {at_keys:?}"
    );
}

#[tokio::test]
async fn user_fic_by_object_id_sends_user_id_and_an_oid_anchor_and_always_asks() {
    let env = Env::start().await;
    let app = agent_app(&env, TokenCache::new());
    let token = instance_token(&env, seeds::AGENT_INSTANCE_SUBJECT).await;
    for _ in 0..2 {
        let r = app
            .acquire_token_by_user_federated_identity_credential(
                USER_READ,
                token.clone(),
                FicUser::object_id(seeds::ALICE_OID),
            )
            .await
            .expect("a user token");
        // MSAL Python's acquire_token_by_user_federated_identity_credential reads no cache.
        assert_eq!(r.source(), TokenSource::IdentityProvider);
        assert_eq!(
            r.account().map(|a| a.username().to_owned()).as_deref(),
            Some(seeds::ALICE_USERNAME)
        );
    }
    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 2);
    let f = form(&posts[0]);
    assert_eq!(f.last(), Some(&("user_id", seeds::ALICE_OID)));
    assert!(!f.iter().any(|(k, _)| *k == "username"));
    assert_eq!(
        posts[0].header("x-anchormailbox"),
        Some(format!("Oid:{}@{}", seeds::ALICE_OID, seeds::CONTOSO_TENANT_ID).as_str()),
        "the tenant of the token endpoint, as MSAL Python's authority.tenant"
    );
}

#[tokio::test]
async fn user_fic_failures_are_typed() {
    let env = Env::start().await;
    let app = agent_app(&env, TokenCache::new());

    // A credential no federated identity credential of the app accepts.
    let stranger = instance_token(&env, "someone-else").await;
    let e = app
        .acquire_token_by_user_federated_identity_credential(
            USER_READ,
            stranger,
            FicUser::username(seeds::ALICE_USERNAME),
        )
        .await
        .expect_err("an unknown subject is refused");
    let s = e.service().expect("the identity provider's error");
    assert_eq!(s.error, "invalid_grant");
    assert!(s.error_codes.contains(&70_021), "{s:?}");

    // A user the directory does not have.
    let token = instance_token(&env, seeds::AGENT_INSTANCE_SUBJECT).await;
    let e = app
        .acquire_token_by_user_federated_identity_credential(
            USER_READ,
            token.clone(),
            FicUser::username("nobody@contoso.onmicrosoft.com"),
        )
        .await
        .expect_err("an unknown user");
    assert_eq!(e.service().map(|s| s.error.as_str()), Some("invalid_grant"));

    // Bad input is refused before anything is sent.
    let before = env.token_requests().await.len();
    for (scopes, assertion, user) in [
        (USER_READ, "", FicUser::username(seeds::ALICE_USERNAME)),
        (USER_READ, token.as_str(), FicUser::username(" ")),
        (USER_READ, token.as_str(), FicUser::object_id("")),
        (
            "openid",
            token.as_str(),
            FicUser::object_id(seeds::ALICE_OID),
        ),
    ] {
        let e = app
            .acquire_token_by_user_federated_identity_credential(scopes, assertion, user)
            .await
            .expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert_eq!(env.token_requests().await.len(), before);
    assert!(
        !format!(
            "{:?}",
            app.acquire_token_by_user_federated_identity_credential(
                USER_READ,
                token.clone(),
                FicUser::object_id(seeds::ALICE_OID)
            )
        )
        .contains(&token),
        "the credential never appears in Debug"
    );
}

#[tokio::test]
async fn client_claims_are_signed_into_the_certificate_assertion() {
    let env = Env::start().await;
    let mut extra = Map::new();
    extra.insert("client_ip".into(), json!("203.0.113.7"));
    extra.insert("xms_ctx".into(), json!({"tier": 2}));
    let app = ConfidentialClient::builder(seeds::CERT_APP_CLIENT_ID, Env::cert_credential())
        .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
        .http_client(Arc::clone(&env.transport))
        .client_claims(extra)
        .build()
        .expect("the app builds");
    assert!(
        !format!("{app:?}").contains("203.0.113.7"),
        "claim values never appear in Debug"
    );
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("the emulator accepts the assertion");
    let posts = env.token_requests().await;
    let assertion = posts[0]
        .form
        .iter()
        .find(|(k, _)| k == "client_assertion")
        .map(|(_, v)| v.clone())
        .expect("a client assertion");
    let c = jwt_claims(&assertion);
    assert_eq!(c["client_ip"], "203.0.113.7");
    assert_eq!(c["xms_ctx"], json!({"tier": 2}));
    assert_eq!(
        c["iss"],
        seeds::CERT_APP_CLIENT_ID,
        "the standard claims stay"
    );
    let names: Vec<&String> = c.as_object().expect("claims").keys().collect();
    assert_eq!(
        names,
        [
            "aud",
            "iss",
            "sub",
            "exp",
            "iat",
            "jti",
            "client_ip",
            "xms_ctx"
        ],
        "MSAL Python's order: the standard claims, then the extra ones"
    );

    // A standard claim is replaced, as MSAL Python's payload.update does: here `sub`, which
    // the emulator then refuses (it must be the client id).
    let mut bad = Map::new();
    bad.insert("sub".into(), json!("someone-else"));
    let app = ConfidentialClient::builder(seeds::CERT_APP_CLIENT_ID, Env::cert_credential())
        .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
        .http_client(Arc::clone(&env.transport))
        .client_claims(bad)
        .build()
        .expect("the app builds");
    let e = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect_err("sub must be the client id");
    assert_eq!(
        e.service().map(|s| s.error.as_str()),
        Some("invalid_client")
    );

    // A secret signs nothing: the claims could not be sent.
    let e = ConfidentialClient::builder(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
    )
    .client_claims(Map::from_iter([("a".to_owned(), json!(1))]))
    .build()
    .expect_err("client_claims need a certificate");
    assert_eq!(e.kind(), ErrorKind::Configuration);
}

#[tokio::test]
async fn fmi_path_is_sent_told_to_the_callback_and_keys_the_cache() {
    let env = Env::start().await;
    let federated = instance_token(&env, seeds::WORKLOAD_SUBJECT).await;
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let credential = {
        let seen = Arc::clone(&seen);
        ClientCredential::assertion_callback(move |ctx: msal_core::AssertionContext| {
            seen.lock().expect("lock").push(ctx.fmi_path.clone());
            let jwt = federated.clone();
            async move { Ok(jwt) }
        })
    };
    let app = env.app(
        seeds::WORKLOAD_APP_CLIENT_ID,
        credential,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let get = |path: &'static str| {
        let app = app.clone();
        async move {
            app.acquire_token_for_client(GRAPH_DEFAULT)
                .fmi_path(path)
                .await
                .expect("a token")
        }
    };
    let a = get("SomeFmiPath/FmiCredentialPath").await;
    assert_eq!(a.source(), TokenSource::IdentityProvider);
    assert_eq!(
        jwt_claims(a.access_token().secret())["fmi_path"],
        "SomeFmiPath/FmiCredentialPath",
        "the emulator saw the path"
    );
    assert_eq!(
        get("SomeFmiPath/FmiCredentialPath").await.source(),
        TokenSource::Cache
    );
    assert_eq!(
        get("Other/Path").await.source(),
        TokenSource::IdentityProvider
    );
    // No path (and an empty one, which sends nothing, as in MSAL Python) is its own entry.
    assert_eq!(get("").await.source(), TokenSource::IdentityProvider);
    let plain = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("a token");
    assert_eq!(plain.source(), TokenSource::Cache);

    let posts = env.token_requests().await;
    let paths: Vec<Option<&str>> = posts
        .iter()
        .map(|r| {
            r.form
                .iter()
                .find(|(k, _)| k == "fmi_path")
                .map(|(_, v)| v.as_str())
        })
        .collect();
    assert_eq!(
        paths,
        [
            Some("SomeFmiPath/FmiCredentialPath"),
            Some("Other/Path"),
            None
        ]
    );
    assert_eq!(
        *seen.lock().expect("lock"),
        [
            Some("SomeFmiPath/FmiCredentialPath".to_owned()),
            Some("Other/Path".to_owned()),
            None
        ],
        "the callback is told the path of each request it signs for"
    );
    // The last setter wins.
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .fmi_path("First")
        .fmi_path("Other/Path")
        .await
        .expect("a token");
    assert_eq!(
        env.token_requests().await.len(),
        3,
        "served from Other/Path's entry"
    );
}

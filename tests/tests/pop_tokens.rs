//! Proof-of-possession tokens (`token_type=pop`, `req_cnf`) through the public API against the
//! emulator: the wire fields MSAL .NET sends, the `cnf` the token carries, signed HTTP requests
//! (draft-ietf-oauth-signed-http-request-03) accepted and refused by the emulated Key Vault,
//! and the cache keeping Bearer and PoP tokens, and the tokens of two keys, apart.

mod support;

use std::future::IntoFuture as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use msal_core::{
    AuthenticationResult, Authority, ClientCredential, ErrorKind, PopKey, TokenCache, TokenSource,
};
use msal_tests::emulator::{FaultMatch, FaultRule, UserTokenRequest, seeds};
use serde_json::Value;
use support::Env;

const VAULT_SCOPE: &str = "https://vault.azure.net/.default";

/// The claims of a JWT, unverified.
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// Asserts `r` is a PoP token bound to `key`.
fn assert_pop_for(r: &AuthenticationResult, key: &PopKey) {
    assert_eq!(r.token_type(), "pop");
    let c = claims(r.access_token().secret());
    assert_eq!(c["cnf"]["kid"], key.key_id(), "{c}");
}

/// Asserts `r` is a Bearer token (no `cnf`).
fn assert_bearer(r: &AuthenticationResult) {
    assert_eq!(r.token_type(), "Bearer");
    assert!(claims(r.access_token().secret()).get("cnf").is_none());
}

/// The vault's URL for the secret `name`.
fn secret_url(name: &str) -> String {
    format!(
        "https://{}/secrets/{name}?api-version=7.5",
        seeds::KEYVAULT_HOST
    )
}

/// An HTTP client reaching the emulator's vault.
fn http(env: &Env) -> reqwest::Client {
    env.emulator
        .http_client_builder()
        .expect("builder")
        .build()
        .expect("client")
}

/// Sends `method url` with `Authorization: authorization` (and a JSON body for PUT): (status,
/// body).
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    authorization: &str,
) -> (u16, String) {
    let mut req = http
        .request(method.clone(), url)
        .header("authorization", authorization);
    if method == reqwest::Method::PUT {
        req = req
            .header("content-type", "application/json")
            .body(r#"{"value":"s3cret"}"#);
    }
    let resp = req.send().await.expect("the vault answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

#[tokio::test]
async fn a_pop_token_is_requested_with_req_cnf_and_spent_as_a_signed_request() {
    let env = Env::start().await;
    let app = env.secret_app();
    let key = PopKey::generate().expect("a key");
    let r = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(key.clone())
        .await
        .expect("a PoP token");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    assert_pop_for(&r, &key);

    // MSAL .NET's fields: token_type=pop and req_cnf = base64url({"kid":"<thumbprint>"}).
    let post = env.token_requests().await.pop().expect("the request");
    assert_eq!(post.form_value("token_type"), Some("pop"));
    assert_eq!(post.form_value("key_id"), None);
    let req_cnf = URL_SAFE_NO_PAD
        .decode(post.form_value("req_cnf").expect("req_cnf"))
        .expect("base64url");
    assert_eq!(
        String::from_utf8(req_cnf).expect("utf-8"),
        format!(r#"{{"kid":"{}"}}"#, key.key_id())
    );

    let http = http(&env);
    let token = r.access_token().secret();
    let url = secret_url("pop-secret");
    let put = key
        .sign_http_request(token, "PUT", &url, None)
        .expect("signed");
    let (status, body) = call(&http, reqwest::Method::PUT, &url, &put).await;
    assert_eq!(status, 200, "{body}");
    let get = key
        .sign_http_request(token, "GET", &url, Some("nonce-1"))
        .expect("signed");
    let (status, body) = call(&http, reqwest::Method::GET, &url, &get).await;
    assert_eq!(status, 200, "{body}");
    let got: Value = serde_json::from_str(&body).expect("a secret bundle");
    assert_eq!(got["value"], "s3cret");

    // The same token as a Bearer token: refused (it is bound to the key).
    let (status, body) = call(
        &http,
        reqwest::Method::GET,
        &url,
        &format!("Bearer {token}"),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("signed request"), "{body}");
}

#[tokio::test]
async fn the_vault_refuses_signed_requests_for_another_request_time_or_key() {
    let env = Env::start().await;
    let app = env.secret_app();
    let key = PopKey::generate().expect("a key");
    let r = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(key.clone())
        .await
        .expect("a PoP token");
    let token = r.access_token().secret();
    let http = http(&env);
    let url = secret_url("guarded");
    let put = key
        .sign_http_request(token, "PUT", &url, None)
        .expect("signed");
    assert_eq!(call(&http, reqwest::Method::PUT, &url, &put).await.0, 200);

    let refused = |why: &'static str, (status, body): (u16, String)| {
        assert_eq!(status, 401, "{why}: {body}");
        body
    };
    // Signed for PUT, sent as GET.
    let body = refused(
        "method",
        call(&http, reqwest::Method::GET, &url, &put).await,
    );
    assert!(body.contains("another method"), "{body}");
    // Signed for another path.
    let other = key
        .sign_http_request(token, "GET", &secret_url("other"), None)
        .expect("signed");
    let body = refused(
        "path",
        call(&http, reqwest::Method::GET, &url, &other).await,
    );
    assert!(body.contains("another path"), "{body}");
    // Signed ten minutes ago.
    let stale = key
        .sign_http_request_at(
            token,
            "GET",
            &url,
            None,
            std::time::SystemTime::now() - std::time::Duration::from_secs(600),
        )
        .expect("signed");
    let body = refused("ts", call(&http, reqwest::Method::GET, &url, &stale).await);
    assert!(body.contains("timestamp"), "{body}");
    // Signed with another key than the token is bound to.
    let thief = PopKey::generate().expect("another key");
    let stolen = thief
        .sign_http_request(token, "GET", &url, None)
        .expect("signed");
    let body = refused(
        "key",
        call(&http, reqwest::Method::GET, &url, &stolen).await,
    );
    assert!(body.contains("token's key"), "{body}");
    // A Bearer token inside a signed request.
    let bearer = app
        .acquire_token_for_client(VAULT_SCOPE)
        .await
        .expect("a Bearer token");
    assert_bearer(&bearer);
    let wrapped = key
        .sign_http_request(bearer.access_token().secret(), "GET", &url, None)
        .expect("signed");
    let body = refused(
        "bearer",
        call(&http, reqwest::Method::GET, &url, &wrapped).await,
    );
    assert!(body.contains("not bound"), "{body}");
    // A signed request whose claims were changed after signing (another nonce).
    let good = key
        .sign_http_request(token, "GET", &url, Some("n1"))
        .expect("signed");
    let jws = good.strip_prefix("PoP ").expect("the PoP scheme");
    let parts: Vec<&str> = jws.split('.').collect();
    let mut altered = claims(jws);
    altered["nonce"] = "n2".into();
    let tampered = format!(
        "PoP {}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(altered.to_string()),
        parts[2]
    );
    let body = refused(
        "signature",
        call(&http, reqwest::Method::GET, &url, &tampered).await,
    );
    assert!(body.contains("signature is invalid"), "{body}");
    // And the good one still works.
    assert_eq!(call(&http, reqwest::Method::GET, &url, &good).await.0, 200);
}

#[tokio::test]
async fn bearer_and_pop_tokens_and_the_tokens_of_two_keys_are_cached_apart() {
    let env = Env::start().await;
    let app = env.secret_app();
    let k1 = PopKey::generate().expect("a key");
    let k2 = PopKey::generate().expect("another key");

    let bearer = app
        .acquire_token_for_client(VAULT_SCOPE)
        .await
        .expect("Bearer");
    assert_bearer(&bearer);
    assert_eq!(bearer.source(), TokenSource::IdentityProvider);

    // A PoP request is not served the cached Bearer token.
    let p1 = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(k1.clone())
        .await
        .expect("PoP k1");
    assert_eq!(p1.source(), TokenSource::IdentityProvider);
    assert_pop_for(&p1, &k1);

    // Both are now cached side by side (MSAL .NET keys PoP tokens with their type).
    let again = app
        .acquire_token_for_client(VAULT_SCOPE)
        .await
        .expect("Bearer again");
    assert_eq!(again.source(), TokenSource::Cache);
    assert_bearer(&again);
    assert_eq!(
        again.access_token().secret(),
        bearer.access_token().secret()
    );
    let again = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(k1.clone())
        .await
        .expect("PoP k1 again");
    assert_eq!(again.source(), TokenSource::Cache);
    assert_eq!(again.access_token().secret(), p1.access_token().secret());

    // Another key never gets k1's token.
    let p2 = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(k2.clone())
        .await
        .expect("PoP k2");
    assert_eq!(p2.source(), TokenSource::IdentityProvider);
    assert_pop_for(&p2, &k2);
    let again = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(k2.clone())
        .await
        .expect("PoP k2 again");
    assert_eq!(again.source(), TokenSource::Cache);
    assert_pop_for(&again, &k2);
    // The same key loaded again (equal public key) is the same key.
    let k2_clone = k2.clone();
    let again = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(k2_clone)
        .await
        .expect("PoP k2 clone");
    assert_eq!(again.source(), TokenSource::Cache);
    // The Bearer token is still there.
    let again = app
        .acquire_token_for_client(VAULT_SCOPE)
        .await
        .expect("Bearer");
    assert_eq!(again.source(), TokenSource::Cache);
    assert_bearer(&again);

    // The cache document: the PoP token under MSAL .NET's key, with its type and key id.
    let doc: Value =
        serde_json::from_str(&app.cache().serialize().expect("serialized")).expect("JSON");
    let ats = doc["AccessToken"].as_object().expect("access tokens");
    let pop: Vec<(&String, &Value)> = ats
        .iter()
        .filter(|(_, at)| at["token_type"] == "pop")
        .collect();
    assert_eq!(pop.len(), 1, "one PoP slot per scopes: {:?}", ats.keys());
    let (pop_key, pop_at) = pop[0];
    assert!(
        pop_key.contains("-accesstoken_with_authscheme-") && pop_key.ends_with("-pop"),
        "{pop_key}"
    );
    assert_eq!(pop_at["key_id"], k2.key_id());
    assert_eq!(pop_at["credential_type"], "AccessToken");
    assert!(
        ats.values()
            .any(|at| at["token_type"] == "Bearer" && at.get("key_id").is_none())
    );
}

#[tokio::test]
async fn conflicting_options_and_a_bad_req_cnf_are_refused() {
    let env = Env::start().await;
    let app = env.secret_app();
    let key = PopKey::generate().expect("a key");
    // Extra fields cannot also set what the PoP option sets.
    let e = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(key.clone())
        .extra_body("token_type", "Bearer")
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(env.token_requests().await.is_empty());
    // Nor can one request ask for a PoP token and an SSH certificate.
    let jwk = key.public_jwk().to_owned();
    let e = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(key.clone())
        .ssh_certificate(msal_core::SshCertificateRequest::new("k", jwk))
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(env.token_requests().await.is_empty());
    // The emulator refuses a req_cnf without a key id, as Entra ID does.
    let e = app
        .acquire_token_for_client(VAULT_SCOPE)
        .extra_body("token_type", "pop")
        .extra_body("req_cnf", URL_SAFE_NO_PAD.encode(r#"{"jwk":{}}"#))
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(
        e.service().map(|s| s.error.as_str()),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn concurrent_bearer_and_pop_requests_do_not_share_a_token_request() {
    let env = Env::start().await;
    let app = env.secret_app();
    let k1 = PopKey::generate().expect("a key");
    let k2 = PopKey::generate().expect("another key");
    let (bearer, p1, p2) = tokio::join!(
        app.acquire_token_for_client(VAULT_SCOPE).into_future(),
        app.acquire_token_for_client(VAULT_SCOPE)
            .proof_of_possession(k1.clone())
            .into_future(),
        app.acquire_token_for_client(VAULT_SCOPE)
            .proof_of_possession(k2.clone())
            .into_future(),
    );
    assert_bearer(&bearer.expect("Bearer"));
    assert_pop_for(&p1.expect("PoP k1"), &k1);
    assert_pop_for(&p2.expect("PoP k2"), &k2);
    assert_eq!(env.token_requests().await.len(), 3);
}

#[tokio::test]
async fn a_bearer_answer_to_a_pop_request_is_refused_and_not_cached() {
    let env = Env::start().await;
    let app = env.secret_app();
    let key = PopKey::generate().expect("a key");
    env.emulator
        .admin()
        .add_fault(&FaultRule {
            matches: FaultMatch {
                path_contains: Some("/token".into()),
                ..Default::default()
            },
            json: Some(serde_json::json!({
                "access_token": "a.bearer.token",
                "token_type": "Bearer",
                "expires_in": 3600,
            })),
            ..Default::default()
        })
        .await
        .expect("fault");
    let e = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(key.clone())
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    // Nothing was cached: neither request kind is served from the cache.
    let bearer = app
        .acquire_token_for_client(VAULT_SCOPE)
        .await
        .expect("Bearer");
    assert_eq!(bearer.source(), TokenSource::IdentityProvider);
    assert_ne!(bearer.access_token().secret(), "a.bearer.token");
    let pop = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(key.clone())
        .await
        .expect("PoP");
    assert_eq!(pop.source(), TokenSource::IdentityProvider);
    assert_pop_for(&pop, &key);
}

#[tokio::test]
async fn on_behalf_of_gets_pop_tokens_cached_per_key() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let app = env.app(
        seeds::MIDDLE_TIER_CLIENT_ID,
        ClientCredential::secret(seeds::MIDDLE_TIER_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
        None,
    );
    let alice = env
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
    let key = PopKey::generate().expect("a key");
    let scope = "https://graph.microsoft.com/User.Read";
    let pop = app
        .acquire_token_on_behalf_of(&alice, [scope])
        .proof_of_possession(key.clone())
        .await
        .expect("OBO PoP");
    assert_eq!(pop.source(), TokenSource::IdentityProvider);
    assert_pop_for(&pop, &key);
    let post = env.token_requests().await.pop().expect("the request");
    assert_eq!(post.form_value("token_type"), Some("pop"));
    assert_eq!(post.form_value("requested_token_use"), Some("on_behalf_of"));

    let again = app
        .acquire_token_on_behalf_of(&alice, [scope])
        .proof_of_possession(key.clone())
        .await
        .expect("OBO PoP again");
    assert_eq!(again.source(), TokenSource::Cache);
    let bearer = app
        .acquire_token_on_behalf_of(&alice, [scope])
        .await
        .expect("OBO Bearer");
    assert_eq!(bearer.source(), TokenSource::IdentityProvider);
    assert_bearer(&bearer);
    let other = PopKey::generate().expect("another key");
    let r = app
        .acquire_token_on_behalf_of(&alice, [scope])
        .proof_of_possession(other.clone())
        .await
        .expect("OBO PoP, another key");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    assert_pop_for(&r, &other);
}

#[tokio::test]
async fn debug_output_never_shows_the_private_key() {
    let pem = include_str!("../emulator/fixtures/certs/app-cert.key.pem");
    let key = PopKey::from_pkcs8_pem(pem).expect("the key loads");
    let env = Env::start().await;
    let app = env.secret_app();
    let request = app
        .acquire_token_for_client(VAULT_SCOPE)
        .proof_of_possession(key.clone());
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    for shown in [
        format!("{key:?}"),
        format!("{key:#?}"),
        format!("{request:?}"),
    ] {
        assert!(shown.contains(key.key_id()), "{shown}");
        for chunk in body.as_bytes().chunks(24) {
            let chunk = std::str::from_utf8(chunk).expect("ascii");
            assert!(!shown.contains(chunk), "{shown}");
        }
        // Nor the modulus (the public key is not secret, but Debug stays short).
        assert!(shown.len() < 2000, "{shown}");
    }
    drop(request);
}

//! Hostile and broken responses through the public API, served by the emulator's fault
//! injection over real HTTPS: token lifetimes that overflow or are not numbers (from the
//! token endpoint, the device authorization endpoint and the cache), error statuses whose
//! bodies are not JSON, and ID tokens issued for another application or by another issuer.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use msal_core::{
    Authority, ClientCredential, ErrorKind, MAX_TOKEN_LIFETIME, PublicClient, TokenCache,
    TokenSource,
};
use msal_tests::emulator::{FaultMatch, FaultRule, seeds};
use serde_json::{Value, json};
use support::{Env, GRAPH_DEFAULT};

const USER_READ: &str = "https://graph.microsoft.com/User.Read";

/// Serves `body` (status 200) for the next token request of `grant_type`.
async fn serve_token_response(env: &Env, grant_type: &str, body: Value) {
    env.emulator
        .admin()
        .add_fault(&FaultRule {
            matches: FaultMatch {
                path_contains: Some("/token".into()),
                grant_type: Some(grant_type.into()),
                ..Default::default()
            },
            times: Some(1),
            json: Some(body),
            ..Default::default()
        })
        .await
        .expect("fault");
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn secs_between(a: SystemTime, b: SystemTime) -> i64 {
    match b.duration_since(a) {
        Ok(d) => i64::try_from(d.as_secs()).expect("fits"),
        Err(e) => -i64::try_from(e.duration().as_secs()).expect("fits"),
    }
}

/// A fresh confidential client (own cache, own throttle state) on contoso.
fn secret_app(env: &Env, cache: Option<TokenCache>) -> msal_core::ConfidentialClient {
    env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        cache,
        None,
    )
}

// ---------------------------------------------------------------------------------------
// Token lifetimes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn huge_token_lifetimes_are_clamped_to_the_maximum() {
    let env = Env::start().await;
    for hostile in [
        json!(1e300),
        json!("18446744073709551615"),
        json!(u64::MAX),
        json!("99999999999999999999999999999"),
        json!("1e300"),
    ] {
        let app = secret_app(&env, None);
        serve_token_response(
            &env,
            "client_credentials",
            json!({
                "token_type": "Bearer", "access_token": "huge-at",
                "expires_in": hostile, "ext_expires_in": hostile, "refresh_in": hostile,
            }),
        )
        .await;
        let before = now();
        let r = app
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .unwrap_or_else(|e| panic!("{hostile}: {e}"));
        assert_eq!(r.source(), TokenSource::IdentityProvider);
        let max = i64::try_from(MAX_TOKEN_LIFETIME.as_secs()).expect("fits");
        let lifetime = secs_between(before, r.expires_on());
        assert!(
            (max - 5..=max + 5).contains(&lifetime),
            "{hostile}: {lifetime} s, not clamped to {max} s"
        );
        let refresh = secs_between(before, r.refresh_on().expect("refresh_on"));
        assert!(refresh <= max + 5, "{hostile}: refresh_on {refresh}");
        // Cached like any valid token.
        let again = app
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .expect("again");
        assert_eq!(again.source(), TokenSource::Cache, "{hostile}");
        assert_eq!(again.access_token().secret(), "huge-at");
        // The document is written and reads back.
        let doc = app.cache().serialize().expect("serializes");
        TokenCache::new().deserialize(&doc).expect("reads back");
    }
}

#[tokio::test]
async fn a_negative_lifetime_is_expired_and_never_served_from_the_cache() {
    let env = Env::start().await;
    for hostile in [json!(-1), json!("-1"), json!(-1e300), json!("-3600")] {
        let app = secret_app(&env, None);
        serve_token_response(
            &env,
            "client_credentials",
            json!({"token_type": "Bearer", "access_token": "expired-at", "expires_in": hostile}),
        )
        .await;
        let r = app
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .unwrap_or_else(|e| panic!("{hostile}: {e}"));
        assert_eq!(r.access_token().secret(), "expired-at");
        assert!(r.expires_on() < now(), "{hostile}: already expired");
        // The next call asks the identity provider (the emulator, without a fault now).
        let again = app
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .expect("again");
        assert_eq!(again.source(), TokenSource::IdentityProvider, "{hostile}");
        assert_ne!(again.access_token().secret(), "expired-at");
    }
}

#[tokio::test]
async fn a_lifetime_that_is_not_a_number_is_an_error_and_nothing_is_cached() {
    let env = Env::start().await;
    let cases = [
        ("expires_in", json!("soon")),
        ("expires_in", json!({})),
        ("expires_in", json!([])),
        ("expires_in", json!(true)),
        ("expires_in", json!("NaN")),
        ("ext_expires_in", json!("later")),
        ("refresh_in", json!({"a": 1})),
        ("expires_on", json!("tomorrow")),
    ];
    for (field, hostile) in cases {
        let app = secret_app(&env, None);
        let mut body =
            json!({"token_type": "Bearer", "access_token": "bad-at", "expires_in": 3599});
        body[field] = hostile.clone();
        serve_token_response(&env, "client_credentials", body).await;
        let e = app
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .expect_err("not a number");
        assert_eq!(
            e.kind(),
            ErrorKind::InvalidResponse,
            "{field}={hostile}: {e}"
        );
        assert!(e.to_string().contains(field), "{e}");
        assert_eq!(e.http_status(), Some(200));
        assert!(
            !app.cache().serialize().expect("ok").contains("bad-at"),
            "{field}={hostile}: nothing is cached"
        );
        let again = app
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .expect("the next call asks again");
        assert_eq!(again.source(), TokenSource::IdentityProvider);
    }
}

/// Edits every access token of a serialized cache.
fn edit_access_tokens(doc: &str, edit: impl Fn(&mut serde_json::Map<String, Value>)) -> String {
    let mut v: Value = serde_json::from_str(doc).expect("json");
    let ats = v["AccessToken"].as_object_mut().expect("access tokens");
    assert!(!ats.is_empty());
    for at in ats.values_mut() {
        edit(at.as_object_mut().expect("an object"));
    }
    v.to_string()
}

/// 9999-12-31T23:59:59Z, where a cached time beyond it reads.
const END_OF_9999: u64 = 253_402_300_799;

#[tokio::test]
async fn a_cached_expires_on_beyond_any_clock_is_served_without_panicking() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let app = secret_app(&env, Some(cache.clone()));
    app.acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("a token");
    let hostile = edit_access_tokens(&cache.serialize().expect("ok"), |at| {
        at.insert("expires_on".into(), json!("18446744073709551615"));
        at.insert("extended_expires_on".into(), json!(1.7e19));
        at.insert("refresh_on".into(), json!("18446744073709551615"));
        at.insert("cached_at".into(), json!(u64::MAX));
    });
    let loaded = TokenCache::new();
    loaded
        .deserialize(&hostile)
        .expect("a hostile document loads");
    let app = secret_app(&env, Some(loaded.clone()));
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("served");
    assert_eq!(r.source(), TokenSource::Cache);
    let end = UNIX_EPOCH + Duration::from_secs(END_OF_9999);
    assert_eq!(r.expires_on(), end);
    assert_eq!(r.refresh_on(), Some(end));
    let _ = format!("{r:?}");
    // The document keeps what it held (another MSAL wrote it), byte for byte in that field.
    assert!(
        loaded
            .serialize()
            .expect("ok")
            .contains(r#""expires_on": "18446744073709551615""#)
    );
}

#[tokio::test]
async fn a_cached_user_token_beyond_any_clock_is_served_silently() {
    let env = Env::start().await;
    let cache = TokenCache::new();
    let app = public_app(
        &env,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(cache.clone()),
    );
    app.acquire_token_by_username_password(
        seeds::ALICE_USERNAME,
        seeds::ALICE_PASSWORD,
        [USER_READ],
    )
    .await
    .expect("signed in");
    let hostile = edit_access_tokens(&cache.serialize().expect("ok"), |at| {
        at.insert("expires_on".into(), json!("18446744073709551615"));
        at.insert("refresh_on".into(), json!(1.7e19));
    });
    let loaded = TokenCache::new();
    loaded.deserialize(&hostile).expect("loads");
    let app = public_app(&env, Authority::tenant(seeds::CONTOSO_DOMAIN), Some(loaded));
    let account = app
        .accounts()
        .await
        .expect("accounts")
        .pop()
        .expect("alice");
    let r = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("served");
    assert_eq!(r.source(), TokenSource::Cache);
    assert_eq!(
        r.expires_on(),
        UNIX_EPOCH + Duration::from_secs(END_OF_9999)
    );
}

// ---------------------------------------------------------------------------------------
// Device code lifetimes
// ---------------------------------------------------------------------------------------

async fn serve_device_authorization(env: &Env, expires_in: Value) {
    env.emulator
        .admin()
        .add_fault(&FaultRule {
            matches: FaultMatch {
                path_contains: Some("devicecode".into()),
                ..Default::default()
            },
            times: Some(1),
            json: Some(json!({
                "device_code": "hostile-device-code", "user_code": "HOSTILE",
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": expires_in, "interval": 5,
            })),
            ..Default::default()
        })
        .await
        .expect("fault");
}

fn public_app(env: &Env, authority: Authority, cache: Option<TokenCache>) -> PublicClient {
    env.public_app(seeds::PUBLIC_CLIENT_ID, authority, cache, None)
}

#[tokio::test]
async fn device_code_lifetimes_are_clamped_expired_or_refused() {
    let env = Env::start().await;
    let app = public_app(&env, Authority::tenant(seeds::CONTOSO_DOMAIN), None);
    let max = i64::try_from(MAX_TOKEN_LIFETIME.as_secs()).expect("fits");
    for hostile in [json!("18446744073709551615"), json!(1e300), json!(u64::MAX)] {
        serve_device_authorization(&env, hostile.clone()).await;
        let before = now();
        let flow = app
            .device_code_flow([USER_READ])
            .initiate()
            .await
            .unwrap_or_else(|e| panic!("{hostile}: {e}"));
        let lifetime = secs_between(before, flow.expires_at());
        assert!(
            (max - 5..=max + 5).contains(&lifetime),
            "{hostile}: {lifetime} s"
        );
    }

    // Negative: already expired; polling ends at once, without a token request.
    for hostile in [json!(-1), json!("-600")] {
        serve_device_authorization(&env, hostile.clone()).await;
        let flow = app
            .device_code_flow([USER_READ])
            .initiate()
            .await
            .unwrap_or_else(|e| panic!("{hostile}: {e}"));
        assert!(flow.expires_at() <= now());
        let polls_before = env.token_requests().await.len();
        let e = tokio::time::timeout(Duration::from_secs(20), flow.poll(&app))
            .await
            .expect("does not hang")
            .expect_err("expired");
        assert_eq!(
            e.error().service().map(|s| s.error.as_str()),
            Some("expired_token")
        );
        assert_eq!(env.token_requests().await.len(), polls_before);
    }

    // Not a number: the flow does not start.
    for hostile in [json!("soon"), json!({}), json!(false)] {
        serve_device_authorization(&env, hostile.clone()).await;
        let e = app
            .device_code_flow([USER_READ])
            .initiate()
            .await
            .expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{hostile}: {e}");
        assert!(e.to_string().contains("expires_in"), "{e}");
        assert_eq!(e.http_status(), Some(200));
    }
}

// ---------------------------------------------------------------------------------------
// Error statuses with bodies that are not JSON
// ---------------------------------------------------------------------------------------

async fn serve_error(env: &Env, status: u16, content_type: &str, body: &str) {
    env.emulator
        .admin()
        .add_fault(&FaultRule {
            matches: FaultMatch {
                path_contains: Some("/token".into()),
                ..Default::default()
            },
            times: Some(1),
            status: Some(status),
            content_type: Some(content_type.into()),
            body: Some(body.into()),
            ..Default::default()
        })
        .await
        .expect("fault");
}

#[tokio::test]
async fn error_statuses_without_an_oauth_body_carry_the_status() {
    let env = Env::start().await;

    // 401 with an empty body: client authentication failed (RFC 6749 section 5.2).
    serve_error(&env, 401, "text/plain", "").await;
    let e = secret_app(&env, None)
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect_err("401");
    assert_eq!(e.http_status(), Some(401), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.is_invalid_client(), "{e:?}");
    assert!(!e.is_transient() && !e.is_interaction_required() && !e.is_throttled());
    assert!(e.to_string().contains("401"), "{e}");

    // 400 with an HTML page (a proxy or gateway): the status, and no guessing.
    serve_error(
        &env,
        400,
        "text/html",
        "<html><body><h1>400 Bad Request</h1></body></html>",
    )
    .await;
    let e = secret_app(&env, None)
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect_err("400");
    assert_eq!(e.http_status(), Some(400), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(!e.is_invalid_client() && !e.is_interaction_required() && !e.is_transient());
    assert!(
        !e.to_string().contains("<html>"),
        "the body is not echoed: {e}"
    );

    // 403 with text (a web application firewall).
    serve_error(&env, 403, "text/plain", "Forbidden by policy").await;
    let e = secret_app(&env, None)
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect_err("403");
    assert_eq!(e.http_status(), Some(403), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(!e.is_invalid_client() && !e.is_interaction_required() && !e.is_transient());

    // A real OAuth error keeps its code, and carries the status too.
    let wrong = env.app(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret("not the secret"),
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let e = wrong
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect_err("wrong secret");
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(
        e.service().map(|s| s.error.as_str()),
        Some("invalid_client")
    );
    assert_eq!(e.http_status(), e.service().map(|s| s.status));
    assert!(e.is_invalid_client());

    // A user flow: a 401 from the token endpoint on ROPC is an invalid client as well, and
    // nothing is cached.
    let app = public_app(&env, Authority::tenant(seeds::CONTOSO_DOMAIN), None);
    serve_error(&env, 401, "text/html", "<html>Unauthorized</html>").await;
    let e = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect_err("401");
    assert_eq!(e.http_status(), Some(401));
    assert!(e.is_invalid_client());
    assert!(app.accounts().await.expect("accounts").is_empty());
}

// ---------------------------------------------------------------------------------------
// ID tokens
// ---------------------------------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An unsigned (`alg: none`) JWT: signatures are not checked (the token comes over TLS from
/// the token endpoint), so a crafted token passes exactly when its claims do.
fn unsigned_jwt(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    )
}

fn alice_id_token(aud: &str, iss: &str, tid: &str, nonce: Option<&str>) -> String {
    let now = now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let mut c = json!({
        "aud": aud, "iss": iss, "tid": tid, "iat": now, "nbf": now, "exp": now + 3600,
        "oid": seeds::ALICE_OID, "sub": "alice-sub", "preferred_username": seeds::ALICE_USERNAME,
        "ver": "2.0",
    });
    if let Some(n) = nonce {
        c["nonce"] = json!(n);
    }
    unsigned_jwt(&c)
}

fn contoso_issuer() -> String {
    format!(
        "https://login.microsoftonline.com/{}/v2.0",
        seeds::CONTOSO_TENANT_ID
    )
}

fn user_token_response(id_token: String) -> Value {
    let client_info = b64(
        json!({"uid": seeds::ALICE_OID, "utid": seeds::CONTOSO_TENANT_ID})
            .to_string()
            .as_bytes(),
    );
    json!({
        "token_type": "Bearer", "scope": USER_READ, "expires_in": 3599, "ext_expires_in": 3599,
        "access_token": "crafted-at", "refresh_token": "crafted-rt", "id_token": id_token,
        "client_info": client_info,
    })
}

/// Nothing from the crafted response reached the cache.
async fn assert_nothing_cached(app: &PublicClient) {
    assert!(app.accounts().await.expect("accounts").is_empty());
    let doc = app.cache().serialize().expect("ok");
    assert!(
        !doc.contains("crafted-at") && !doc.contains("crafted-rt"),
        "{doc}"
    );
}

#[tokio::test]
async fn ropc_id_tokens_for_another_app_or_from_another_issuer_are_refused() {
    let env = Env::start().await;
    let sign_in = |app: &PublicClient| {
        let app = app.clone();
        async move {
            app.acquire_token_by_username_password(
                seeds::ALICE_USERNAME,
                seeds::ALICE_PASSWORD,
                [USER_READ],
            )
            .await
        }
    };
    let cid = seeds::PUBLIC_CLIENT_ID;
    let tid = seeds::CONTOSO_TENANT_ID;
    let other_tid = seeds::FABRIKAM_TENANT_ID;
    let cases = [
        // (authority, id token, the claim named in the error)
        (
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            alice_id_token(seeds::WEB_APP_CLIENT_ID, &contoso_issuer(), tid, None),
            "aud",
        ),
        (
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            unsigned_jwt(&json!({"iss": contoso_issuer(), "tid": tid, "sub": "s"})),
            "aud",
        ),
        (
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            alice_id_token(cid, "https://evil.example/v2.0", tid, None),
            "iss",
        ),
        (
            // Another tenant's issuer at a tenant authority.
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            alice_id_token(
                cid,
                &format!("https://login.microsoftonline.com/{other_tid}/v2.0"),
                other_tid,
                None,
            ),
            "iss",
        ),
        (
            // `organizations` has the `{tenantid}` template: filled with the token's tid,
            // which must then match the issuer.
            Authority::organizations(),
            alice_id_token(cid, &contoso_issuer(), other_tid, None),
            "iss",
        ),
        (
            // A generic OIDC provider's issuer is exactly the one of its discovery document.
            Authority::oidc(seeds::OIDC_ISSUER).expect("oidc"),
            alice_id_token(cid, &format!("{}/", seeds::OIDC_ISSUER), tid, None),
            "iss",
        ),
        (
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            "definitely.not-a.jwt!".to_owned(),
            "JWT",
        ),
    ];
    for (authority, id_token, claim) in cases {
        let app = public_app(&env, authority.clone(), None);
        serve_token_response(&env, "password", user_token_response(id_token)).await;
        let e = sign_in(&app).await.expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Validation, "{authority:?}: {e}");
        assert!(e.to_string().contains(claim), "{claim}: {e}");
        assert_nothing_cached(&app).await;
    }

    // The same crafted shape with the right claims passes (so the refusals above are the
    // checks, not the crafting), at a tenant and at `organizations`.
    for authority in [
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Authority::organizations(),
    ] {
        let app = public_app(&env, authority, None);
        serve_token_response(
            &env,
            "password",
            user_token_response(alice_id_token(cid, &contoso_issuer(), tid, None)),
        )
        .await;
        let r = sign_in(&app).await.expect("accepted");
        assert_eq!(r.access_token().secret(), "crafted-at");
        assert_eq!(
            r.id_token_claims().and_then(|c| c["aud"].as_str()),
            Some(cid)
        );
        assert_eq!(app.accounts().await.expect("accounts").len(), 1);
    }
}

#[tokio::test]
async fn auth_code_id_token_with_the_right_nonce_but_the_wrong_audience_or_issuer_is_refused() {
    let env = Env::start().await;
    for (aud, iss, claim) in [
        (seeds::WEB_APP_CLIENT_ID.to_owned(), contoso_issuer(), "aud"),
        (
            seeds::PUBLIC_CLIENT_ID.to_owned(),
            format!(
                "https://{}/{}/v2.0/",
                seeds::B2C_HOST,
                seeds::CONTOSO_TENANT_ID
            ),
            "iss",
        ),
    ] {
        let app = public_app(&env, Authority::tenant(seeds::CONTOSO_DOMAIN), None);
        let flow = app
            .auth_code_flow([USER_READ])
            .redirect_uri("http://localhost")
            .login_hint(seeds::ALICE_USERNAME)
            .initiate()
            .await
            .expect("initiate");
        let nonce_hash = url::Url::parse(flow.auth_uri())
            .expect("a URL")
            .query_pairs()
            .find(|(k, _)| k == "nonce")
            .map(|(_, v)| v.into_owned())
            .expect("a nonce");
        let response = env.browse(flow.auth_uri()).await;
        serve_token_response(
            &env,
            "authorization_code",
            user_token_response(alice_id_token(
                &aud,
                &iss,
                seeds::CONTOSO_TENANT_ID,
                Some(&nonce_hash),
            )),
        )
        .await;
        let e = flow
            .complete(&app, response.as_str())
            .await
            .expect_err("refused");
        assert_eq!(e.error().kind(), ErrorKind::Validation, "{}", e.error());
        assert!(e.error().to_string().contains(claim), "{}", e.error());
        assert_nothing_cached(&app).await;
    }
}

/// The emulator's own ID tokens pass the checks (B2C, CIAM and AD FS sign-ins are in
/// `user_flows.rs`, which runs them with the same checks).
#[tokio::test]
async fn the_emulators_id_tokens_pass_the_checks() {
    let env = Env::start().await;
    let ropc = [
        (
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
        ),
        (
            Authority::organizations(),
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
        ),
        (
            Authority::common(),
            seeds::BOB_USERNAME,
            seeds::BOB_PASSWORD,
        ),
        (
            Authority::oidc(seeds::OIDC_ISSUER).expect("oidc"),
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
        ),
    ];
    for (authority, user, password) in ropc {
        let app = public_app(&env, authority.clone(), None);
        let r = app
            .acquire_token_by_username_password(user, password, [USER_READ])
            .await
            .unwrap_or_else(|e| panic!("{authority:?}: {e}"));
        assert!(r.id_token_claims().is_some(), "{authority:?}");
    }
}

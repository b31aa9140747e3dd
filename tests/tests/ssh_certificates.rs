//! SSH certificates (`token_type=ssh-cert`) through the public API against the emulator: the
//! wire fields of every flow that offers them, the cache lookup by token type and `key_id`
//! (msal/application.py `_acquire_token_silent_from_cache_and_possibly_refresh_it`), silent
//! acquisition from a refresh token, and the entry in a file cache read by another process.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use msal_cache_file::FileCache;
use msal_core::{
    AuthenticationResult, Authority, ErrorKind, SshCertificateRequest, TokenCache, TokenSource,
};
use msal_tests::emulator::seeds;
use support::Env;

const USER_READ: &str = "https://graph.microsoft.com/User.Read";
const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

/// An RSA public key as a JWK (random modulus: the emulator certifies it as given).
fn jwk(kid: &str) -> String {
    let mut n = Vec::new();
    while n.len() < 256 {
        n.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    n[0] |= 0x80;
    format!(
        r#"{{"kty":"RSA","n":"{}","e":"AQAB","kid":"{kid}"}}"#,
        URL_SAFE_NO_PAD.encode(&n)
    )
}

fn ssh(key_id: &str) -> SshCertificateRequest {
    SshCertificateRequest::new(key_id, jwk(key_id))
}

/// Reads the fields of an OpenSSH certificate blob (OpenSSH PROTOCOL.certkeys) up to its key
/// id: (certificate type, RSA modulus, key id).
fn cert_fields(access_token: &str) -> (String, Vec<u8>, String) {
    let blob = STANDARD
        .decode(access_token)
        .expect("the certificate is base64");
    fn string(blob: &[u8], at: &mut usize) -> Vec<u8> {
        let len = u32::from_be_bytes(blob[*at..*at + 4].try_into().unwrap()) as usize;
        let s = blob[*at + 4..*at + 4 + len].to_vec();
        *at += 4 + len;
        s
    }
    let mut at = 0usize;
    let kind = String::from_utf8(string(&blob, &mut at)).unwrap();
    let _nonce = string(&blob, &mut at);
    let _e = string(&blob, &mut at);
    let n = string(&blob, &mut at);
    at += 8 + 4; // serial, type
    let key_id = String::from_utf8(string(&blob, &mut at)).unwrap();
    (kind, n, key_id)
}

/// Asserts `r` is an SSH certificate for `request`'s key.
fn assert_cert_for(r: &AuthenticationResult, request: &SshCertificateRequest) {
    assert_eq!(r.token_type(), "ssh-cert");
    let (kind, n, key_id) = cert_fields(r.access_token().secret());
    assert_eq!(kind, "ssh-rsa-cert-v01@openssh.com");
    assert_eq!(key_id, request.key_id);
    let jwk: serde_json::Value = serde_json::from_str(&request.req_cnf).unwrap();
    let expected = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    assert_eq!(
        n.iter().skip_while(|b| **b == 0).collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
}

/// Asserts `r` is a Bearer token (a JWT, not a certificate).
fn assert_bearer(r: &AuthenticationResult) {
    assert_eq!(r.token_type(), "Bearer");
    assert_eq!(r.access_token().secret().split('.').count(), 3);
}

/// Asserts the last token request carried `request`'s fields.
async fn assert_sent(env: &Env, request: &SshCertificateRequest) {
    let post = env.token_requests().await.pop().expect("a token request");
    assert_eq!(post.form_value("token_type"), Some("ssh-cert"));
    assert_eq!(post.form_value("key_id"), Some(request.key_id.as_str()));
    assert_eq!(post.form_value("req_cnf"), Some(request.req_cnf.as_str()));
}

fn temp_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "msal-rs-ssh-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[tokio::test]
async fn certificates_and_bearer_tokens_are_served_only_for_their_own_kind_and_key() {
    let env = Env::start().await;
    let dir = temp_dir();
    let path = dir.join("cache.json");
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(TokenCache::with_store(FileCache::new(&path))),
        None,
    );
    let bearer = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("signed in");
    assert_bearer(&bearer);
    let account = bearer.account().expect("an account").clone();
    let post = env.token_requests().await.pop().expect("the request");
    assert_eq!(post.form_value("token_type"), None);

    // No certificate is cached: the refresh token gets one, for this key.
    let k1 = ssh("k1");
    let c1 = app
        .acquire_token_silent([USER_READ], &account)
        .ssh_certificate(k1.clone())
        .await
        .expect("a certificate");
    assert_eq!(c1.source(), TokenSource::IdentityProvider);
    assert_cert_for(&c1, &k1);
    assert_sent(&env, &k1).await;
    assert_eq!(
        env.token_requests()
            .await
            .pop()
            .unwrap()
            .form_value("grant_type"),
        Some("refresh_token")
    );

    // The same key: served from the cache.
    let sent = env.token_requests().await.len();
    let again = app
        .acquire_token_silent([USER_READ], &account)
        .ssh_certificate(k1.clone())
        .await
        .expect("the cached certificate");
    assert_eq!(again.source(), TokenSource::Cache);
    assert_eq!(again.access_token().secret(), c1.access_token().secret());
    assert_eq!(env.token_requests().await.len(), sent);

    // The entry as MSAL Python writes it: the usual access-token key, token_type and key_id.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the file")).expect("JSON");
    let ats = doc["AccessToken"].as_object().expect("access tokens");
    assert_eq!(ats.len(), 1, "{ats:?}");
    let (key, entry) = ats.iter().next().unwrap();
    assert!(key.contains("-accesstoken-"), "{key}");
    assert!(!key.contains("k1"), "{key}");
    assert_eq!(entry["token_type"], "ssh-cert");
    assert_eq!(entry["key_id"], "k1");
    assert_eq!(entry["secret"], c1.access_token().secret());
    assert!(entry.get("ext_cache_key").is_none(), "{entry}");

    // Another key is not served the first key's certificate.
    let k2 = ssh("k2");
    let c2 = app
        .acquire_token_silent([USER_READ], &account)
        .ssh_certificate(k2.clone())
        .await
        .expect("a certificate for k2");
    assert_eq!(c2.source(), TokenSource::IdentityProvider);
    assert_cert_for(&c2, &k2);
    assert_sent(&env, &k2).await;

    // A Bearer request is never served a certificate.
    let b = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("a Bearer token");
    assert_bearer(&b);
    assert_eq!(b.source(), TokenSource::IdentityProvider);
    let post = env.token_requests().await.pop().unwrap();
    assert_eq!(post.form_value("token_type"), None);
    assert_eq!(post.form_value("key_id"), None);
    let b2 = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("the cached Bearer token");
    assert_eq!(b2.source(), TokenSource::Cache);
    assert_bearer(&b2);

    // ...and a certificate request never a Bearer token.
    let c1b = app
        .acquire_token_silent([USER_READ], &account)
        .ssh_certificate(k1.clone())
        .await
        .expect("a certificate again");
    assert_eq!(c1b.source(), TokenSource::IdentityProvider);
    assert_cert_for(&c1b, &k1);

    // Another process reads the file: the certificate round-trips, for its key only.
    let other = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        Some(TokenCache::with_store(FileCache::new(&path))),
        None,
    );
    let sent = env.token_requests().await.len();
    let read = other
        .acquire_token_silent([USER_READ], &account)
        .ssh_certificate(k1.clone())
        .await
        .expect("the certificate from the file");
    assert_eq!(read.source(), TokenSource::Cache);
    assert_eq!(read.access_token().secret(), c1b.access_token().secret());
    assert_eq!(read.token_type(), "ssh-cert");
    assert_eq!(env.token_requests().await.len(), sent);
    let b3 = other
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("a Bearer token");
    assert_bearer(&b3);
    let k3 = other
        .acquire_token_silent([USER_READ], &account)
        .ssh_certificate(ssh("k3"))
        .await
        .expect("a certificate for k3");
    assert_eq!(k3.source(), TokenSource::IdentityProvider);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_flow_that_offers_it_sends_the_fields_and_gets_a_certificate() {
    let env = Env::start().await;
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );

    // Username and password.
    let k = ssh("ropc");
    let r = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .ssh_certificate(k.clone())
        .await
        .expect("ROPC certificate");
    assert_cert_for(&r, &k);
    assert_sent(&env, &k).await;

    // Authorization code flow (the interactive flow redeems its code the same way).
    let k = ssh("code");
    let flow = app
        .auth_code_flow([USER_READ])
        .redirect_uri("http://localhost")
        .login_hint(seeds::ALICE_USERNAME)
        .ssh_certificate(k.clone())
        .initiate()
        .await
        .expect("initiate");
    // The flow keeps the request across a web session.
    let flow: msal_core::AuthCodeFlow<msal_core::Initiated> =
        serde_json::from_str(&serde_json::to_string(&flow).unwrap()).unwrap();
    let response = env.browse(flow.auth_uri()).await;
    let r = flow
        .complete(&app, response.as_str())
        .await
        .expect("complete")
        .into_result();
    assert_cert_for(&r, &k);
    assert_sent(&env, &k).await;
    let account = r.account().expect("an account").clone();

    // By refresh token (migration).
    let rt = {
        let doc: serde_json::Value =
            serde_json::from_str(&app.cache().serialize().expect("serializes")).unwrap();
        doc["RefreshToken"]
            .as_object()
            .and_then(|m| m.values().next())
            .and_then(|e| e["secret"].as_str())
            .expect("a refresh token")
            .to_owned()
    };
    let k = ssh("migrated");
    let r = app
        .acquire_token_by_refresh_token(rt, [USER_READ])
        .ssh_certificate(k.clone())
        .await
        .expect("refresh-token certificate");
    assert_cert_for(&r, &k);
    assert_sent(&env, &k).await;
    // ...now served silently for that key.
    let silent = app
        .acquire_token_silent([USER_READ], &account)
        .ssh_certificate(k.clone())
        .await
        .expect("silent");
    assert_eq!(silent.source(), TokenSource::Cache);
    assert_cert_for(&silent, &k);

    // Device code.
    let k = ssh("device");
    let flow = app
        .device_code_flow([USER_READ])
        .ssh_certificate(k.clone())
        .initiate()
        .await
        .expect("initiate");
    env.emulator
        .admin()
        .approve_device_code(flow.user_code(), Some(seeds::ALICE_USERNAME))
        .await
        .expect("approve");
    let r = flow.poll(&app).await.expect("signed in").into_result();
    assert_cert_for(&r, &k);
    assert_sent(&env, &k).await;

    // Client credentials: an app certificate, cached for its key.
    let cca = env.secret_app();
    let k = ssh("app");
    let r = cca
        .acquire_token_for_client(GRAPH_DEFAULT)
        .ssh_certificate(k.clone())
        .await
        .expect("app certificate");
    assert_cert_for(&r, &k);
    assert_sent(&env, &k).await;
    let cached = cca
        .acquire_token_for_client(GRAPH_DEFAULT)
        .ssh_certificate(k.clone())
        .await
        .expect("cached app certificate");
    assert_eq!(cached.source(), TokenSource::Cache);
    let bearer = cca
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("app Bearer token");
    assert_bearer(&bearer);
    assert_eq!(bearer.source(), TokenSource::IdentityProvider);
}

#[tokio::test]
async fn the_extra_body_fields_key_the_cache_the_same_way_and_bad_requests_are_refused() {
    let env = Env::start().await;
    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );
    let r = app
        .acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .await
        .expect("signed in");
    let account = r.account().expect("an account").clone();
    let k = ssh("k1");
    // MSAL Python's `data=dict(token_type="ssh-cert", req_cnf=..., key_id=...)`.
    let c = app
        .acquire_token_silent([USER_READ], &account)
        .extra_body("token_type", "ssh-cert")
        .extra_body("req_cnf", k.req_cnf.clone())
        .extra_body("key_id", "k1")
        .await
        .expect("a certificate");
    assert_cert_for(&c, &k);
    let typed = app
        .acquire_token_silent([USER_READ], &account)
        .ssh_certificate(k.clone())
        .await
        .expect("the same certificate");
    assert_eq!(typed.source(), TokenSource::Cache);
    assert_eq!(typed.access_token().secret(), c.access_token().secret());
    let other = app
        .acquire_token_silent([USER_READ], &account)
        .extra_body("token_type", "ssh-cert")
        .extra_body("req_cnf", jwk("k2"))
        .extra_body("key_id", "k2")
        .await
        .expect("another certificate");
    assert_eq!(other.source(), TokenSource::IdentityProvider);
    assert_eq!(cert_fields(other.access_token().secret()).2, "k2");
    let bearer = app
        .acquire_token_silent([USER_READ], &account)
        .await
        .expect("Bearer");
    assert_bearer(&bearer);

    // Refused before anything is sent (msal/application.py `_validate_ssh_cert_input_data`).
    let sent = env.token_requests().await.len();
    let refusals = [
        app.acquire_token_silent([USER_READ], &account)
            .ssh_certificate(SshCertificateRequest::new("", jwk("x")))
            .await
            .unwrap_err(),
        app.acquire_token_silent([USER_READ], &account)
            .ssh_certificate(SshCertificateRequest::new("k", ""))
            .await
            .unwrap_err(),
        app.acquire_token_silent([USER_READ], &account)
            .extra_body("token_type", "ssh-cert")
            .extra_body("key_id", "k")
            .await
            .unwrap_err(),
        app.acquire_token_silent([USER_READ], &account)
            .extra_body("token_type", "ssh-cert")
            .extra_body("req_cnf", jwk("k"))
            .await
            .unwrap_err(),
        app.acquire_token_silent([USER_READ], &account)
            .ssh_certificate(k.clone())
            .extra_body("key_id", "k9")
            .await
            .unwrap_err(),
        app.acquire_token_by_username_password(
            seeds::ALICE_USERNAME,
            seeds::ALICE_PASSWORD,
            [USER_READ],
        )
        .ssh_certificate(SshCertificateRequest::new("", ""))
        .await
        .unwrap_err(),
    ];
    for e in refusals {
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    let e = app
        .device_code_flow([USER_READ])
        .ssh_certificate(SshCertificateRequest::new("k", ""))
        .initiate()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(env.token_requests().await.len(), sent);
}

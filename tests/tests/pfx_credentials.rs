//! PKCS#12 (PFX) certificate credentials and keys given with a SHA-1 thumbprint, through the
//! public API against the emulator over real HTTPS: the emulator checks each assertion's
//! signature against the certificate registered on the app (found by `x5t#S256` or `x5t`).

mod support;

use base64::Engine as _;
use msal_core::{Authority, ClientCredential, ErrorKind, TokenSource};
use msal_tests::emulator::seeds;
use serde_json::Value;
use support::{Env, GRAPH_DEFAULT};

fn jwt_part(jwt: &str, i: usize) -> Value {
    let part = jwt.split('.').nth(i).expect("a JWT part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

fn sha1_x5t() -> String {
    let hex = seeds::APP_CERT_SHA1_THUMBPRINT;
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

fn app(env: &Env, credential: ClientCredential) -> msal_core::ConfidentialClient {
    env.app(
        seeds::CERT_APP_CLIENT_ID,
        credential,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    )
}

#[tokio::test]
async fn pfx_in_every_protection_acquires_a_token_with_a_ps256_assertion() {
    let env = Env::start().await;
    let forms = [
        (
            "legacy",
            seeds::APP_PFX_LEGACY,
            Some(seeds::APP_KEY_PASSPHRASE),
        ),
        ("aes", seeds::APP_PFX_AES, Some(seeds::APP_KEY_PASSPHRASE)),
        ("empty password", seeds::APP_PFX_EMPTY_PASSWORD, None),
    ];
    let pem = ClientCredential::certificate_pem(seeds::APP_KEY_PKCS8_PEM, seeds::APP_CERT_PEM)
        .expect("pem");
    for (name, pfx, password) in forms {
        let credential = ClientCredential::certificate_pfx(pfx, password).expect(name);
        assert_eq!(
            credential.certificate_thumbprint_sha256(),
            pem.certificate_thumbprint_sha256(),
            "{name}"
        );
        let r = app(&env, credential)
            .acquire_token_for_client(GRAPH_DEFAULT)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.source(), TokenSource::IdentityProvider, "{name}");
    }
    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 3);
    for p in &posts {
        assert_eq!(p.status, 200);
        let header = jwt_part(p.form_value("client_assertion").expect("assertion"), 0);
        assert_eq!(header["alg"], "PS256");
        assert_eq!(
            header["x5t#S256"].as_str(),
            pem.certificate_thumbprint_sha256().as_deref()
        );
        assert!(header.get("x5t").is_none() && header.get("x5c").is_none());
    }
}

#[tokio::test]
async fn pfx_chain_sends_x5c_leaf_first_and_the_emulator_accepts_it() {
    let env = Env::start().await;
    let credential =
        ClientCredential::certificate_pfx(seeds::APP_PFX_CHAIN, Some(seeds::APP_KEY_PASSPHRASE))
            .expect("chain pfx")
            .send_x5c(true);
    app(&env, credential)
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    let post = env.token_requests().await.pop().expect("a request");
    let header = jwt_part(post.form_value("client_assertion").expect("assertion"), 0);
    let x5c = header["x5c"].as_array().expect("x5c");
    assert_eq!(x5c.len(), 2);
    let body = |pem: &str| {
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(x5c[0], body(seeds::APP_CERT_PEM));
    assert_eq!(x5c[1], body(seeds::OTHER_CERT_PEM));
}

#[tokio::test]
async fn pfx_wrong_password_is_a_configuration_error() {
    for pfx in [seeds::APP_PFX_LEGACY, seeds::APP_PFX_AES] {
        let e = ClientCredential::certificate_pfx(pfx, Some("not the password")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
        assert!(e.to_string().contains("password"), "{e}");
        let e = ClientCredential::certificate_pfx(pfx, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
    }
}

#[tokio::test]
async fn key_with_sha1_thumbprint_acquires_a_token_with_rs256_and_x5t() {
    let env = Env::start().await;
    let credential = ClientCredential::certificate_key_with_thumbprint(
        seeds::APP_KEY_PKCS8_PEM,
        seeds::APP_CERT_SHA1_THUMBPRINT,
    )
    .expect("key + thumbprint");
    let app = app(&env, credential);
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("token");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    let post = env.token_requests().await.pop().expect("a request");
    assert_eq!(post.status, 200);
    let assertion = post.form_value("client_assertion").expect("assertion");
    let header = jwt_part(assertion, 0);
    assert_eq!(
        header,
        serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": sha1_x5t()})
    );
    let claims = jwt_part(assertion, 1);
    assert_eq!(claims["iss"], seeds::CERT_APP_CLIENT_ID);
    assert_eq!(claims["sub"], seeds::CERT_APP_CLIENT_ID);

    // The encrypted-key form too.
    let encrypted = ClientCredential::certificate_key_with_thumbprint_encrypted(
        seeds::APP_KEY_ENCRYPTED_PEM,
        &seeds::APP_CERT_SHA1_THUMBPRINT.to_lowercase(),
        seeds::APP_KEY_PASSPHRASE,
    )
    .expect("encrypted key + thumbprint");
    env.app(
        seeds::CERT_APP_CLIENT_ID,
        encrypted,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    )
    .acquire_token_for_client(GRAPH_DEFAULT)
    .await
    .expect("token with the encrypted key");
}

#[tokio::test]
async fn key_with_a_thumbprint_the_app_does_not_have_is_refused_by_the_emulator() {
    let env = Env::start().await;
    // The right key, an unregistered thumbprint: the emulator finds no certificate.
    let unknown = ClientCredential::certificate_key_with_thumbprint(
        seeds::APP_KEY_PKCS8_PEM,
        &"0".repeat(40),
    )
    .expect("loads");
    let e = app(&env, unknown)
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert!(e.is_invalid_client(), "{e}");
    // The registered thumbprint with another key: the signature does not verify.
    let wrong_key = ClientCredential::certificate_key_with_thumbprint(
        seeds::OTHER_KEY_PEM,
        seeds::APP_CERT_SHA1_THUMBPRINT,
    )
    .expect("loads");
    let e = app(&env, wrong_key)
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .unwrap_err();
    assert!(e.is_invalid_client(), "{e}");
    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|p| p.status == 401 || p.status == 400));
}

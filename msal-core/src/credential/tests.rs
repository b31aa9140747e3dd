use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use der::Decode as _;
use proptest::prelude::*;
use secrecy::ExposeSecret as _;
use serde_json::Value;

use super::*;

pub(super) const APP_KEY: &str =
    include_str!("../../../tests/emulator/fixtures/certs/app-cert.key.pem");
pub(super) const APP_RSA: &str =
    include_str!("../../../tests/emulator/fixtures/certs/app-cert.rsa.pem");
pub(super) const APP_ENC: &str =
    include_str!("../../../tests/emulator/fixtures/certs/app-cert.key.enc.pem");
pub(super) const APP_CRT: &str =
    include_str!("../../../tests/emulator/fixtures/certs/app-cert.crt.pem");
pub(super) const OTHER_KEY: &str =
    include_str!("../../../tests/emulator/fixtures/certs/other-cert.key.pem");
pub(super) const OTHER_CRT: &str =
    include_str!("../../../tests/emulator/fixtures/certs/other-cert.crt.pem");
pub(super) const PASSPHRASE: &str = "p@ss+/=&%word";

const CLIENT_ID: &str = "00000000-0000-0000-0000-000000000001";
const AUD: &str = "https://login.microsoftonline.com/contoso/oauth2/v2.0/token";
const REGIONAL: &str = "https://westus.login.microsoft.com/contoso/oauth2/v2.0/token";
/// 1795461581.4719853 rounded to the microsecond.
const T0_MICROS: u64 = 1_795_461_581_471_985;

pub(super) fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(T0_MICROS)
}

pub(super) fn req(now: SystemTime) -> ClientAuthRequest<'static> {
    ClientAuthRequest {
        client_id: CLIENT_ID,
        audience: AUD,
        token_endpoint: REGIONAL,
        is_adfs: false,
        fmi_path: None,
        now,
    }
}

pub(super) fn pem_der(pem: &str) -> Vec<u8> {
    der::pem::decode_vec(pem.as_bytes()).expect("fixture PEM").1
}

/// The PEM body lines of a single-block fixture, joined with `\n`.
pub(super) fn pem_body(pem: &str) -> String {
    let lines: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    lines.join("\n")
}

/// The RSAPublicKey bytes of a certificate's SPKI, read with x509-cert.
pub(super) fn cert_public_key(pem: &str) -> Vec<u8> {
    let cert = x509_cert::Certificate::from_der(&pem_der(pem)).expect("fixture cert");
    cert.tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec()
}

pub(super) fn b64url_padded_sha256(der: &[u8]) -> String {
    URL_SAFE.encode(digest::digest(&digest::SHA256, der))
}

pub(super) struct Jwt {
    pub(super) header_raw: String,
    pub(super) header: Value,
    pub(super) claims_raw: String,
    pub(super) claims: Value,
    pub(super) signing_input: String,
    pub(super) signature: Vec<u8>,
}

pub(super) fn split(jwt: &str) -> Jwt {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS compact serialization");
    for p in &parts {
        assert!(!p.contains('='), "base64url without padding");
    }
    let header_raw = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims_raw = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    Jwt {
        header: serde_json::from_str(&header_raw).unwrap(),
        claims: serde_json::from_str(&claims_raw).unwrap(),
        header_raw,
        claims_raw,
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature: URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    }
}

pub(super) async fn assertion_of(cred: &ClientCredential, r: &ClientAuthRequest<'_>) -> String {
    match cred.client_auth(r).await.expect("client auth") {
        ClientAuth::Assertion(a) => a.expose_secret().to_owned(),
        ClientAuth::Secret(_) => panic!("expected an assertion"),
    }
}

pub(super) fn verify_ps256(jwt: &Jwt, cert_pem: &str) {
    UnparsedPublicKey::new(
        &signature::RSA_PSS_2048_8192_SHA256,
        cert_public_key(cert_pem),
    )
    .verify(jwt.signing_input.as_bytes(), &jwt.signature)
    .expect("PS256 signature verifies with the certificate's key");
}

fn app_cred() -> ClientCredential {
    ClientCredential::certificate_pem(APP_KEY, APP_CRT).expect("app credential")
}

pub(super) fn config_err(r: Result<ClientCredential>) -> Error {
    match r {
        Ok(_) => panic!("expected a configuration error"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
            e
        }
    }
}

#[tokio::test]
async fn ps256_assertion_has_msal_python_shape_and_verifies() {
    let cred = app_cred();
    let jwt = split(&assertion_of(&cred, &req(t0())).await);
    verify_ps256(&jwt, APP_CRT);
    // A tampered signing input must not verify (the check above is meaningful).
    let tampered = UnparsedPublicKey::new(
        &signature::RSA_PSS_2048_8192_SHA256,
        cert_public_key(APP_CRT),
    )
    .verify(format!("{}x", jwt.signing_input).as_bytes(), &jwt.signature);
    assert!(tampered.is_err());
    // Nor with the other certificate's key.
    let other = UnparsedPublicKey::new(
        &signature::RSA_PSS_2048_8192_SHA256,
        cert_public_key(OTHER_CRT),
    )
    .verify(jwt.signing_input.as_bytes(), &jwt.signature);
    assert!(other.is_err());

    let thumb = b64url_padded_sha256(&pem_der(APP_CRT));
    assert_eq!(thumb.len(), 44);
    assert!(thumb.ends_with('='));
    assert_eq!(
        jwt.header_raw,
        format!(r#"{{"alg":"PS256","typ":"JWT","x5t#S256":"{thumb}"}}"#)
    );
    assert_eq!(jwt.header["alg"], "PS256");
    assert_eq!(jwt.header["typ"], "JWT");
    assert_eq!(jwt.header["x5t#S256"], thumb.as_str());
    assert!(jwt.header.get("x5t").is_none());
    assert!(jwt.header.get("x5c").is_none());
    assert_eq!(cred.certificate_thumbprint_sha256(), Some(thumb));

    let c = jwt.claims.as_object().unwrap();
    let keys: Vec<&str> = c.keys().map(String::as_str).collect();
    assert_eq!(keys, ["aud", "iss", "sub", "exp", "iat", "jti"]);
    assert_eq!(c["aud"], AUD);
    assert_eq!(c["iss"], CLIENT_ID);
    assert_eq!(c["sub"], CLIENT_ID);
    assert!(c["iat"].is_f64() && c["exp"].is_f64());
    let iat = c["iat"].as_f64().unwrap();
    let exp = c["exp"].as_f64().unwrap();
    assert!((iat - 1_795_461_581.471_985).abs() < 1e-6, "{iat}");
    assert!((exp - iat - 600.0).abs() < 1e-6);
    assert!(
        jwt.claims_raw.contains(r#""iat":1795461581.471985"#),
        "{}",
        jwt.claims_raw
    );
    let jti = c["jti"].as_str().unwrap();
    let jti = uuid::Uuid::parse_str(jti).expect("jti is a uuid");
    assert_eq!(jti.get_version_num(), 4);
    assert!(c.get("nbf").is_none());
}

#[tokio::test]
async fn whole_second_times_are_still_floats() {
    let r = req(UNIX_EPOCH + Duration::from_secs(1_795_461_581));
    let jwt = split(&assertion_of(&app_cred(), &r).await);
    assert!(
        jwt.claims_raw
            .contains(r#""exp":1795462181.0,"iat":1795461581.0,"#)
    );
}

#[tokio::test]
async fn adfs_uses_rs256_and_sha1_x5t() {
    let cred = app_cred();
    let r = ClientAuthRequest {
        is_adfs: true,
        audience: "https://adfs.contoso.com/adfs/oauth2/token",
        ..req(t0())
    };
    let jwt = split(&assertion_of(&cred, &r).await);
    UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        cert_public_key(APP_CRT),
    )
    .verify(jwt.signing_input.as_bytes(), &jwt.signature)
    .expect("RS256 verifies");
    // It is not a PSS signature.
    assert!(
        UnparsedPublicKey::new(
            &signature::RSA_PSS_2048_8192_SHA256,
            cert_public_key(APP_CRT)
        )
        .verify(jwt.signing_input.as_bytes(), &jwt.signature)
        .is_err()
    );
    let sha1 = URL_SAFE.encode(digest::digest(
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        &pem_der(APP_CRT),
    ));
    assert_eq!(sha1.len(), 28);
    assert!(sha1.ends_with('='));
    assert_eq!(
        jwt.header_raw,
        format!(r#"{{"alg":"RS256","typ":"JWT","x5t":"{sha1}"}}"#)
    );
    assert!(jwt.header.get("x5t#S256").is_none());
    assert_eq!(
        jwt.claims["aud"],
        "https://adfs.contoso.com/adfs/oauth2/token"
    );
}

#[tokio::test]
async fn send_x5c_sends_the_pem_bodies_of_the_chain() {
    let chain = format!("{APP_CRT}{OTHER_CRT}");
    let cred = ClientCredential::certificate_pem(APP_KEY, &chain)
        .unwrap()
        .send_x5c(true);
    let jwt = split(&assertion_of(&cred, &req(t0())).await);
    verify_ps256(&jwt, APP_CRT);
    let x5c = jwt.header["x5c"].as_array().expect("x5c array");
    assert_eq!(x5c.len(), 2);
    for (entry, pem) in x5c.iter().zip([APP_CRT, OTHER_CRT]) {
        let entry = entry.as_str().unwrap();
        assert_eq!(entry, pem_body(pem));
        assert!(entry.contains('\n') && !entry.ends_with('\n') && !entry.contains('-'));
        assert!(entry.lines().all(|l| l.len() <= 64));
        assert_eq!(
            STANDARD.decode(entry.replace('\n', "")).unwrap(),
            pem_der(pem)
        );
    }
    // PyJWT's sorted header order, thumbprint still of the leaf.
    let thumb = b64url_padded_sha256(&pem_der(APP_CRT));
    assert!(
        jwt.header_raw
            .starts_with(r#"{"alg":"PS256","typ":"JWT","x5c":["#)
    );
    assert!(
        jwt.header_raw
            .ends_with(&format!(r#"],"x5t#S256":"{thumb}"}}"#))
    );
    // ADFS with x5c: x5t (SHA-1) and no x5t#S256.
    let r = ClientAuthRequest {
        is_adfs: true,
        ..req(t0())
    };
    let jwt = split(&assertion_of(&cred, &r).await);
    assert_eq!(jwt.header["x5c"].as_array().map(Vec::len), Some(2));
    assert!(jwt.header.get("x5t").is_some() && jwt.header.get("x5t#S256").is_none());
}

#[tokio::test]
async fn pkcs1_and_encrypted_keys_sign_verifiable_assertions() {
    let pkcs1 = ClientCredential::certificate_pem(APP_RSA, APP_CRT).expect("PKCS#1 key");
    let enc = ClientCredential::certificate_pem_encrypted(APP_ENC, APP_CRT, PASSPHRASE)
        .expect("encrypted PKCS#8 key");
    // An unencrypted key is accepted with a passphrase too.
    let plain = ClientCredential::certificate_pem_encrypted(APP_KEY, APP_CRT, "unused")
        .expect("plain key, passphrase unused");
    let thumb = app_cred().certificate_thumbprint_sha256();
    for cred in [pkcs1, enc, plain] {
        assert_eq!(cred.certificate_thumbprint_sha256(), thumb);
        let jwt = split(&assertion_of(&cred, &req(t0())).await);
        verify_ps256(&jwt, APP_CRT);
    }
}

#[tokio::test]
async fn lenient_pem_forms_are_read() {
    let crlf_key = APP_KEY.replace('\n', "\r\n");
    let crlf_crt = APP_CRT.replace('\n', "\r\n");
    let squashed_key = APP_KEY.replace('\n', " ");
    let combined = format!("Bag Attributes: ignored\n{APP_KEY}{APP_CRT}");
    let cases = [
        ClientCredential::certificate_pem(&crlf_key, &crlf_crt),
        ClientCredential::certificate_pem(&squashed_key, APP_CRT),
        ClientCredential::certificate_pem(&combined, &combined),
    ];
    for cred in cases {
        let cred = cred.expect("lenient PEM").send_x5c(true);
        let jwt = split(&assertion_of(&cred, &req(t0())).await);
        verify_ps256(&jwt, APP_CRT);
        assert_eq!(jwt.header["x5c"][0], pem_body(APP_CRT).as_str());
        assert_eq!(jwt.header["x5c"].as_array().map(Vec::len), Some(1));
    }
}

#[test]
fn bad_inputs_give_configuration_errors() {
    let e = config_err(ClientCredential::certificate_pem_encrypted(
        APP_ENC,
        APP_CRT,
        "wrong passphrase",
    ));
    assert!(e.to_string().contains("passphrase"), "{e}");
    let e = config_err(ClientCredential::certificate_pem(APP_ENC, APP_CRT));
    assert!(e.to_string().contains("certificate_pem_encrypted"), "{e}");
    let e = config_err(ClientCredential::certificate_pem(APP_KEY, OTHER_CRT));
    assert!(e.to_string().contains("does not match"), "{e}");
    // The chain's leaf must come first.
    let reversed = format!("{OTHER_CRT}{APP_CRT}");
    let e = config_err(ClientCredential::certificate_pem(APP_KEY, &reversed));
    assert!(e.to_string().contains("does not match"), "{e}");
    let e = config_err(ClientCredential::certificate_pem(OTHER_KEY, APP_CRT));
    assert!(e.to_string().contains("does not match"), "{e}");

    let e = config_err(ClientCredential::certificate_pem("", APP_CRT));
    assert!(e.to_string().contains("empty"), "{e}");
    let e = config_err(ClientCredential::certificate_pem(APP_KEY, " \n"));
    assert!(e.to_string().contains("empty"), "{e}");
    config_err(ClientCredential::certificate_pem("garbage", APP_CRT));
    config_err(ClientCredential::certificate_pem(APP_KEY, "garbage"));
    config_err(ClientCredential::certificate_pem(
        [0xff, 0xfe, 0x00],
        APP_CRT,
    ));
    // A key where the certificate should be, and vice versa.
    let e = config_err(ClientCredential::certificate_pem(APP_KEY, APP_KEY));
    assert!(e.to_string().contains("no 'CERTIFICATE'"), "{e}");
    let e = config_err(ClientCredential::certificate_pem(APP_CRT, APP_CRT));
    assert!(e.to_string().contains("no private key"), "{e}");
    // Broken PEM structure.
    let truncated = &APP_KEY[..APP_KEY.len() / 2];
    config_err(ClientCredential::certificate_pem(truncated, APP_CRT));
    let bad_b64 = "-----BEGIN PRIVATE KEY-----\nMII*not*base64\n-----END PRIVATE KEY-----\n";
    config_err(ClientCredential::certificate_pem(bad_b64, APP_CRT));
    let not_der = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    config_err(ClientCredential::certificate_pem(not_der, APP_CRT));
    let not_cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    config_err(ClientCredential::certificate_pem(APP_KEY, not_cert));
    let legacy = APP_RSA.replace(
        "-----BEGIN RSA PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n",
    );
    let e = config_err(ClientCredential::certificate_pem(&legacy, APP_CRT));
    assert!(e.to_string().contains("legacy"), "{e}");
    let e = config_err(ClientCredential::certificate_pem(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        APP_CRT,
    ));
    assert!(e.to_string().contains("only RSA"), "{e}");
}

fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        pem::body_lines(der)
    )
}

#[test]
fn non_rsa_keys_are_rejected_clearly() {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let ec =
        signature::EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .unwrap();
    let e = config_err(ClientCredential::certificate_pem(
        pem("PRIVATE KEY", ec.as_ref()),
        APP_CRT,
    ));
    assert!(e.to_string().contains("an EC key"), "{e}");
    let ed = signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let e = config_err(ClientCredential::certificate_pem(
        pem("PRIVATE KEY", ed.as_ref()),
        APP_CRT,
    ));
    assert!(e.to_string().contains("only RSA"), "{e}");
    let e = config_err(ClientCredential::certificate_pem(
        pem("EC PRIVATE KEY", &[0x30, 0x00]),
        APP_CRT,
    ));
    assert!(e.to_string().contains("an EC key"), "{e}");
}

#[test]
fn errors_never_show_secrets() {
    let body = pem_body(APP_KEY);
    let first_key_line = body.lines().nth(1).unwrap();
    let results = [
        ClientCredential::certificate_pem_encrypted(APP_ENC, APP_CRT, "secret-wrong-pass"),
        ClientCredential::certificate_pem(APP_KEY, OTHER_CRT),
        ClientCredential::certificate_pem(&APP_KEY[..APP_KEY.len() / 2], APP_CRT),
        ClientCredential::certificate_pem(APP_KEY.replace('M', "*"), APP_CRT),
    ];
    for r in results {
        let e = r.expect_err("an error");
        for text in [format!("{e}"), format!("{e:?}")] {
            assert!(!text.contains("secret-wrong-pass"), "{text}");
            assert!(!text.contains(first_key_line), "{text}");
            assert!(!text.contains(PASSPHRASE), "{text}");
        }
    }
}

#[tokio::test]
async fn assertions_are_reused_for_nine_minutes() {
    let cred = app_cred();
    let first = assertion_of(&cred, &req(t0())).await;
    let at = |s: u64| t0() + Duration::from_secs(s);
    assert_eq!(assertion_of(&cred, &req(at(1))).await, first);
    assert_eq!(assertion_of(&cred, &req(at(539))).await, first);
    // A clone shares the cache.
    assert_eq!(assertion_of(&cred.clone(), &req(at(300))).await, first);
    let renewed = assertion_of(&cred, &req(at(541))).await;
    assert_ne!(renewed, first);
    let (a, b) = (split(&first), split(&renewed));
    assert_ne!(a.claims["jti"], b.claims["jti"]);
    let renewed_iat = b.claims["iat"].as_f64().unwrap();
    assert!((renewed_iat - a.claims["iat"].as_f64().unwrap() - 541.0).abs() < 1e-6);
    // The renewed one is reused from its own issue time.
    assert_eq!(assertion_of(&cred, &req(at(541 + 539))).await, renewed);
    // A clock moved backwards gets a new assertion, not one issued in its future.
    assert_ne!(assertion_of(&cred, &req(at(100))).await, renewed);
}

#[tokio::test]
async fn assertions_are_cached_per_audience_client_and_shape() {
    let cred = app_cred();
    let base = assertion_of(&cred, &req(t0())).await;
    let other_aud = ClientAuthRequest {
        audience: "https://login.microsoftonline.com/fabrikam/oauth2/v2.0/token",
        ..req(t0())
    };
    let a = assertion_of(&cred, &other_aud).await;
    assert_ne!(a, base);
    assert_eq!(split(&a).claims["aud"], other_aud.audience);
    let other_client = ClientAuthRequest {
        client_id: "another-client",
        ..req(t0())
    };
    let c = assertion_of(&cred, &other_client).await;
    assert_eq!(split(&c).claims["iss"], "another-client");
    let adfs = ClientAuthRequest {
        is_adfs: true,
        ..req(t0())
    };
    assert_eq!(
        split(&assertion_of(&cred, &adfs).await).header["alg"],
        "RS256"
    );
    let with_x5c = assertion_of(&cred.clone().send_x5c(true), &req(t0())).await;
    assert!(split(&with_x5c).header.get("x5c").is_some());
    // The regional endpoint does not change the audience.
    let regional = ClientAuthRequest {
        token_endpoint: "https://elsewhere.example/token",
        ..req(t0())
    };
    assert_eq!(assertion_of(&cred, &regional).await, base);
    assert_eq!(assertion_of(&cred, &req(t0())).await, base);
}

#[tokio::test]
async fn callback_is_told_the_request_and_called_each_time() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let cred = {
        let (calls, seen) = (calls.clone(), seen.clone());
        ClientCredential::assertion_callback(move |ctx: AssertionContext| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            seen.lock().unwrap().push(ctx);
            async move { Ok(format!("federated-{n}")) }
        })
    };
    let r = ClientAuthRequest {
        fmi_path: Some("SomeFmiPath/FmiCredentialPath"),
        ..req(t0())
    };
    assert_eq!(assertion_of(&cred, &r).await, "federated-0");
    assert_eq!(assertion_of(&cred, &req(t0())).await, "federated-1");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].client_id, CLIENT_ID);
    assert_eq!(seen[0].token_endpoint, REGIONAL);
    assert_eq!(
        seen[0].fmi_path.as_deref(),
        Some("SomeFmiPath/FmiCredentialPath")
    );
    assert_eq!(seen[1].fmi_path, None);
    assert!(!cred.is_secret());
    assert_eq!(cred.certificate_thumbprint_sha256(), None);
}

#[tokio::test]
async fn callback_errors_and_empty_assertions_are_credential_errors() {
    let failing = ClientCredential::assertion_callback(|_| async {
        Err(Error::new(ErrorKind::Transport, "token file unreadable"))
    });
    let e = failing.client_auth(&req(t0())).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential);
    let source = std::error::Error::source(&e).expect("source kept");
    assert!(source.to_string().contains("token file unreadable"));

    let empty = ClientCredential::assertion_callback(|_| async { Ok(String::new()) });
    let e = empty.client_auth(&req(t0())).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential);
    let e = ClientCredential::assertion(" ")
        .client_auth(&req(t0()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credential);
}

#[tokio::test]
async fn secret_and_static_assertion_pass_through() {
    let secret = ClientCredential::secret("s3cr3t~value");
    assert!(secret.is_secret());
    match secret.client_auth(&req(t0())).await.unwrap() {
        ClientAuth::Secret(s) => assert_eq!(s.expose_secret(), "s3cr3t~value"),
        other => panic!("unexpected {other:?}"),
    }
    // send_x5c has no effect on a secret.
    assert!(secret.clone().send_x5c(true).is_secret());
    let fic = ClientCredential::assertion("eyJ.static.jwt");
    assert!(!fic.is_secret());
    let at = |s| req(t0() + Duration::from_secs(s));
    assert_eq!(assertion_of(&fic, &at(0)).await, "eyJ.static.jwt");
    assert_eq!(assertion_of(&fic, &at(10_000)).await, "eyJ.static.jwt");
    assert!(!app_cred().is_secret());
}

#[tokio::test]
async fn debug_output_is_redacted() {
    let body = pem_body(APP_KEY);
    let key_lines: Vec<&str> = body.lines().collect();
    let enc_body = pem_body(APP_ENC);
    let cert = app_cred().send_x5c(true);
    let assertion = assertion_of(&cert, &req(t0())).await;
    let creds = [
        ClientCredential::secret("s3cr3t~value"),
        ClientCredential::assertion("eyJ.static.jwt"),
        ClientCredential::assertion_callback(|_| async { Ok("eyJ.cb.jwt".to_owned()) }),
        cert.clone(),
        ClientCredential::certificate_pem(APP_RSA, APP_CRT).unwrap(),
        ClientCredential::certificate_pem_encrypted(APP_ENC, APP_CRT, PASSPHRASE).unwrap(),
    ];
    let mut texts: Vec<String> = creds.iter().map(|c| format!("{c:?}")).collect();
    texts.push(format!("{:?}", cert.client_auth(&req(t0())).await.unwrap()));
    texts.push(format!(
        "{:?}",
        creds[0].client_auth(&req(t0())).await.unwrap()
    ));
    for text in &texts {
        for forbidden in ["s3cr3t~value", "eyJ", PASSPHRASE, &assertion] {
            assert!(!text.contains(forbidden), "{text}");
        }
        for line in key_lines
            .iter()
            .chain(enc_body.lines().collect::<Vec<_>>().iter())
        {
            assert!(!text.contains(line), "{text}");
        }
        // No long base64 run except the (public) thumbprint.
        let thumb = cert.certificate_thumbprint_sha256().unwrap();
        let stripped = text.replace(&thumb, "");
        let longest = stripped
            .split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-".contains(c)))
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest < 40, "{text}");
    }
    assert!(texts[3].contains("certificate") && texts[3].contains("send_x5c: true"));
}

#[test]
fn client_auth_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ClientCredential>();
    let cred = app_cred();
    let r = req(t0());
    let fut = cred.client_auth(&r);
    assert_send(&fut);
}

#[test]
fn body_lines_wraps_at_64() {
    assert_eq!(pem::body_lines(&[]), "");
    let der = vec![7u8; 100];
    let text = pem::body_lines(&der);
    let lens: Vec<usize> = text.lines().map(str::len).collect();
    assert_eq!(lens, [64, 64, 8]);
    assert!(!text.ends_with('\n'));
    assert_eq!(STANDARD.decode(text.replace('\n', "")).unwrap(), der);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(key in proptest::collection::vec(any::<u8>(), 0..512),
                                crt in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ClientCredential::certificate_pem(&key, &crt);
        let _ = ClientCredential::certificate_pem(&key, APP_CRT);
        let _ = ClientCredential::certificate_pem(APP_KEY, &crt);
        let _ = ClientCredential::certificate_pem_encrypted(&key, APP_CRT, "x");
    }

    #[test]
    fn random_pem_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600),
                                     label in prop::sample::select(vec![
                                         "PRIVATE KEY", "RSA PRIVATE KEY",
                                         "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY", "CERTIFICATE"])) {
        let block = pem(label, &body);
        let r = ClientCredential::certificate_pem(&block, APP_CRT);
        prop_assert!(r.is_err());
        let r = ClientCredential::certificate_pem_encrypted(&block, APP_CRT, PASSPHRASE);
        prop_assert!(r.is_err());
        let r = ClientCredential::certificate_pem(APP_KEY, &block);
        prop_assert!(r.is_err());
    }

    #[test]
    fn random_text_never_panics(text in "(-----(BEGIN|END) [A-Z ]{0,12}-----|[A-Za-z0-9+/=:\r\n -]{0,40}){0,8}") {
        let _ = ClientCredential::certificate_pem(&text, &text);
        let _ = ClientCredential::certificate_pem_encrypted(&text, APP_CRT, "pw");
    }
}

//! PKCS#12 (PFX) credentials and keys given with a SHA-1 thumbprint: parsing edge cases and the
//! assertion shapes (the fixtures are described in tests/emulator/fixtures/certs/README.md).

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use proptest::prelude::*;

use super::tests::{
    APP_CRT, APP_ENC, APP_KEY, APP_RSA, OTHER_CRT, PASSPHRASE, assertion_of, b64url_padded_sha256,
    cert_public_key, config_err, pem_body, pem_der, req, split, t0, verify_ps256,
};
use super::*;

const LEGACY: &[u8] = include_bytes!("../../../tests/emulator/fixtures/certs/app-cert.legacy.pfx");
const AES: &[u8] = include_bytes!("../../../tests/emulator/fixtures/certs/app-cert.aes.pfx");
const EMPTY_PASSWORD: &[u8] =
    include_bytes!("../../../tests/emulator/fixtures/certs/app-cert.empty-password.pfx");
const UNENCRYPTED: &[u8] =
    include_bytes!("../../../tests/emulator/fixtures/certs/app-cert.unencrypted.pfx");
const CHAIN: &[u8] = include_bytes!("../../../tests/emulator/fixtures/certs/app-cert.chain.pfx");
const CERT_ONLY: &[u8] =
    include_bytes!("../../../tests/emulator/fixtures/certs/app-cert.cert-only.pfx");
const EC: &[u8] = include_bytes!("../../../tests/emulator/fixtures/certs/ec.pfx");
const TOO_MANY_ITERATIONS: &[u8] =
    include_bytes!("../../../tests/emulator/fixtures/certs/app-cert.too-many-iterations.pfx");
/// `openssl x509 -in app-cert.crt.pem -noout -fingerprint -sha1`.
const APP_SHA1_HEX: &str = "B31ACD4926D455181A116DFD5CA7E33A049F7BB9";

fn app_sha1_x5t() -> String {
    URL_SAFE.encode(digest::digest(
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        &pem_der(APP_CRT),
    ))
}

#[tokio::test]
async fn every_pfx_protection_loads_the_app_key_and_certificate() {
    let cases: [(&str, &[u8], Option<&str>); 5] = [
        ("legacy 3DES + RC2-40, SHA-1 MAC", LEGACY, Some(PASSPHRASE)),
        ("PBES2 AES-256-CBC, SHA-256 MAC", AES, Some(PASSPHRASE)),
        ("empty password, as None", EMPTY_PASSWORD, None),
        ("empty password, as Some(\"\")", EMPTY_PASSWORD, Some("")),
        ("no encryption, no MAC", UNENCRYPTED, None),
    ];
    let s256 = b64url_padded_sha256(&pem_der(APP_CRT));
    for (what, pfx, password) in cases {
        let cred = ClientCredential::certificate_pfx(pfx, password)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            cred.certificate_thumbprint_sha256().as_deref(),
            Some(s256.as_str()),
            "{what}"
        );
        assert_eq!(cred.certificate_thumbprint_sha1(), Some(app_sha1_x5t()));
        let jwt = split(&assertion_of(&cred, &req(t0())).await);
        assert_eq!(
            jwt.header_raw,
            format!(r#"{{"alg":"PS256","typ":"JWT","x5t#S256":"{s256}"}}"#),
            "{what}"
        );
        verify_ps256(&jwt, APP_CRT);
    }
}

#[tokio::test]
async fn pfx_chain_is_sent_leaf_first_as_x5c() {
    let cred = ClientCredential::certificate_pfx(CHAIN, Some(PASSPHRASE))
        .unwrap()
        .send_x5c(true);
    let jwt = split(&assertion_of(&cred, &req(t0())).await);
    assert_eq!(
        jwt.header["x5c"],
        serde_json::json!([pem_body(APP_CRT), pem_body(OTHER_CRT)])
    );
    verify_ps256(&jwt, APP_CRT);
    assert!(format!("{cred:?}").contains("chain_len: 2"));
}

#[test]
fn pfx_errors_are_configuration_errors() {
    let cases: [(&str, &[u8], Option<&str>, &str); 9] = [
        ("wrong password", AES, Some("wrong"), "password"),
        ("wrong password, legacy", LEGACY, Some("wrong"), "password"),
        ("missing password", AES, None, "password-protected"),
        ("no key", CERT_ONLY, Some(PASSPHRASE), "no private key"),
        ("EC key", EC, Some(PASSPHRASE), "RSA"),
        ("not PKCS#12", b"not a pfx", None, "not valid PKCS#12"),
        ("empty", b"", None, "not valid PKCS#12"),
        (
            "a PEM key",
            APP_KEY.as_bytes(),
            Some(PASSPHRASE),
            "not valid PKCS#12",
        ),
        (
            "iteration bomb",
            TOO_MANY_ITERATIONS,
            Some(PASSPHRASE),
            "iterations",
        ),
    ];
    for (what, pfx, password, needle) in cases {
        let e = config_err(ClientCredential::certificate_pfx(pfx, password));
        assert!(e.to_string().contains(needle), "{what}: {e}");
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(PASSPHRASE), "{what}: {text}");
        }
    }
}

#[test]
fn a_truncated_pfx_is_a_configuration_error() {
    for len in [1, 16, AES.len() / 2, AES.len() - 1] {
        config_err(ClientCredential::certificate_pfx(
            &AES[..len],
            Some(PASSPHRASE),
        ));
    }
    // Damage inside the MAC-protected content is caught by the MAC.
    let mut flipped = AES.to_vec();
    flipped[AES.len() / 2] ^= 0x01;
    config_err(ClientCredential::certificate_pfx(
        &flipped,
        Some(PASSPHRASE),
    ));
}

#[tokio::test]
async fn key_with_sha1_thumbprint_signs_rs256_with_x5t_everywhere() {
    let forms = [
        ClientCredential::certificate_key_with_thumbprint(APP_KEY, APP_SHA1_HEX).unwrap(),
        ClientCredential::certificate_key_with_thumbprint(APP_RSA, &APP_SHA1_HEX.to_lowercase())
            .unwrap(),
        ClientCredential::certificate_key_with_thumbprint_encrypted(
            APP_ENC,
            "B3:1A:CD:49:26:D4:55:18:1A:11:6D:FD:5C:A7:E3:3A:04:9F:7B:B9",
            PASSPHRASE,
        )
        .unwrap(),
    ];
    let x5t = app_sha1_x5t();
    for cred in forms {
        assert_eq!(cred.certificate_thumbprint_sha256(), None);
        assert_eq!(
            cred.certificate_thumbprint_sha1().as_deref(),
            Some(x5t.as_str())
        );
        // x5c asked for, but there is no certificate to send.
        let cred = cred.send_x5c(true);
        for is_adfs in [false, true] {
            let r = ClientAuthRequest {
                is_adfs,
                ..req(t0())
            };
            let jwt = split(&assertion_of(&cred, &r).await);
            assert_eq!(
                jwt.header_raw,
                format!(r#"{{"alg":"RS256","typ":"JWT","x5t":"{x5t}"}}"#)
            );
            UnparsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                cert_public_key(APP_CRT),
            )
            .verify(jwt.signing_input.as_bytes(), &jwt.signature)
            .expect("RS256 verifies with the certificate's key");
            assert_eq!(jwt.claims["iss"], jwt.claims["sub"]);
        }
    }
}

#[test]
fn bad_thumbprints_and_keys_are_configuration_errors() {
    let sha256_hex = "AB".repeat(32);
    let cases: [(&str, &str, &str); 5] = [
        ("short", "B31ACD49", "40 hex digits"),
        ("SHA-256", &sha256_hex, "SHA-256"),
        ("not hex", &"ZZ".repeat(20), "not a hex digit"),
        ("multi-byte", &"é".repeat(20), "40 hex digits"),
        ("empty", "", "40 hex digits"),
    ];
    for (what, thumb, needle) in cases {
        let e = config_err(ClientCredential::certificate_key_with_thumbprint(
            APP_KEY, thumb,
        ));
        assert!(e.to_string().contains(needle), "{what}: {e}");
    }
    config_err(ClientCredential::certificate_key_with_thumbprint(
        "not a key",
        APP_SHA1_HEX,
    ));
    config_err(ClientCredential::certificate_key_with_thumbprint_encrypted(
        APP_ENC,
        APP_SHA1_HEX,
        "wrong",
    ));
    // An encrypted key needs the passphrase form.
    let e = config_err(ClientCredential::certificate_key_with_thumbprint(
        APP_ENC,
        APP_SHA1_HEX,
    ));
    assert!(e.to_string().contains("encrypted"), "{e}");
}

#[test]
fn debug_of_pfx_and_thumbprint_credentials_shows_no_secret() {
    let creds = [
        ClientCredential::certificate_pfx(AES, Some(PASSPHRASE)).unwrap(),
        ClientCredential::certificate_key_with_thumbprint(APP_KEY, APP_SHA1_HEX).unwrap(),
    ];
    let key_body = pem_body(APP_KEY);
    for cred in &creds {
        let text = format!("{cred:?}");
        assert!(!text.contains(PASSPHRASE), "{text}");
        for line in key_body.lines() {
            assert!(!text.contains(line), "{text}");
        }
        assert!(text.contains("x5t"), "{text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any damage to a PFX gives an error or (when it misses everything that matters) the same
    /// credential, never a panic.
    #[test]
    fn damaged_pfx_never_panics(at in 0usize..2486, byte in any::<u8>(), legacy in any::<bool>()) {
        let source = if legacy { LEGACY } else { AES };
        let mut damaged = source.to_vec();
        if let Some(b) = damaged.get_mut(at) {
            *b = byte;
        }
        if let Err(e) = ClientCredential::certificate_pfx(&damaged, Some(PASSPHRASE)) {
            prop_assert_eq!(e.kind(), ErrorKind::Configuration);
        }
    }

    #[test]
    fn truncated_pfx_never_panics(len in 0usize..2628) {
        let cut = AES.get(..len).unwrap_or(AES);
        if len < AES.len() {
            prop_assert!(ClientCredential::certificate_pfx(cut, Some(PASSPHRASE)).is_err());
        }
    }
}

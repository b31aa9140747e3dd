//! Test-side helpers for the emulator suites: an HTTPS client trusting only the emulator CA,
//! and client assertions signed here with aws-lc-rs (independently of the emulator's code).

#![allow(dead_code, unreachable_pub)]

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, RsaKeyPair, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use msal_tests::emulator::{Emulator, EmulatorConfig, seeds};
use serde_json::{Value, json};

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub async fn start() -> (Emulator, reqwest::Client) {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let client = client_for(&emu);
    (emu, client)
}

/// Resolves every served host to the emulator and trusts only its CA.
pub fn client_for(emu: &Emulator) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).expect("CA PEM");
    let mut b = reqwest::Client::builder().tls_certs_only([ca]);
    for host in emu.hosts() {
        b = b.resolve(host, emu.https_addr());
    }
    b.build().expect("client")
}

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
    pub text: String,
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
        text,
    }
}

pub async fn get(client: &reqwest::Client, url: &str) -> Answer {
    answer(client.get(url).send().await.expect("GET")).await
}

pub fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

pub async fn post_form(client: &reqwest::Client, url: &str, pairs: &[(&str, &str)]) -> Answer {
    post_form_with(client, url, pairs, &[]).await
}

pub async fn post_form_with(
    client: &reqwest::Client,
    url: &str,
    pairs: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = client
        .post(url)
        .header("content-type", FORM)
        .body(form_body(pairs));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req.send().await.expect("POST")).await
}

pub fn token_url(host: &str, tenant: &str) -> String {
    format!("https://{host}/{tenant}/oauth2/v2.0/token")
}

// ------------------------------------------------------------------ PEM, JWT

pub fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    STANDARD.decode(body).expect("PEM base64")
}

/// The PEM body with its line breaks, as MSAL Python puts it in `x5c`.
pub fn x5c_entry(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("JWT payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64url")).expect("JSON")
}

pub fn header(jwt: &str) -> Value {
    let part = jwt.split('.').next().expect("JWT header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64url")).expect("JSON")
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// PS256 with `x5t#S256`.
    Ps256,
    /// RS256 with `x5t`.
    Rs256,
}

pub struct AssertionSpec<'a> {
    pub alg: Alg,
    pub key_pem: &'a str,
    pub cert_pem: &'a str,
    pub padded_thumbprint: bool,
    pub with_x5c: bool,
    pub claims: Value,
}

/// Standard assertion claims for `client_id` and `aud`, valid for 10 minutes (float times).
pub fn assertion_claims(client_id: &str, aud: &str) -> Value {
    let now = now();
    json!({
        "aud": aud, "iss": client_id, "sub": client_id,
        "exp": now + 600.0, "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

pub fn sign_assertion(spec: &AssertionSpec<'_>) -> String {
    let cert = pem_der(spec.cert_pem);
    let (alg, thumb_name, thumb) = match spec.alg {
        Alg::Ps256 => ("PS256", "x5t#S256", digest::digest(&digest::SHA256, &cert)),
        Alg::Rs256 => (
            "RS256",
            "x5t",
            digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &cert),
        ),
    };
    let thumb = if spec.padded_thumbprint {
        URL_SAFE.encode(thumb.as_ref())
    } else {
        URL_SAFE_NO_PAD.encode(thumb.as_ref())
    };
    let mut header = json!({"alg": alg, "typ": "JWT", thumb_name: thumb});
    if spec.with_x5c {
        header["x5c"] = json!([x5c_entry(spec.cert_pem)]);
    }
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(spec.claims.to_string().as_bytes())
    );
    let key = RsaKeyPair::from_pkcs8(&pem_der(spec.key_pem)).expect("PKCS#8 key");
    let mut sig = vec![0; key.public_modulus_len()];
    let padding: &'static dyn signature::RsaEncoding = match spec.alg {
        Alg::Ps256 => &signature::RSA_PSS_SHA256,
        Alg::Rs256 => &signature::RSA_PKCS1_SHA256,
    };
    key.sign(padding, &SystemRandom::new(), input.as_bytes(), &mut sig)
        .expect("sign");
    format!("{input}.{}", b64url(&sig))
}

/// A valid PS256 assertion of the cert app (x5t#S256 padded, with x5c).
pub fn cert_app_assertion(aud: &str) -> String {
    sign_assertion(&AssertionSpec {
        alg: Alg::Ps256,
        key_pem: seeds::APP_KEY_PKCS8_PEM,
        cert_pem: seeds::APP_CERT_PEM,
        padded_thumbprint: true,
        with_x5c: true,
        claims: assertion_claims(seeds::CERT_APP_CLIENT_ID, aud),
    })
}

/// Verifies an RS256 JWT against a JWKS document (by `kid`), with aws-lc-rs.
pub fn verify_with_jwks(jwt: &str, jwks: &Value) -> bool {
    let kid = header(jwt)["kid"].as_str().unwrap_or_default().to_string();
    let Some(key) = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
    else {
        return false;
    };
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            input.as_bytes(),
            &sig,
        )
        .is_ok()
}

pub fn aadsts(answer: &Answer) -> u64 {
    answer.json["error_codes"][0].as_u64().unwrap_or(0)
}

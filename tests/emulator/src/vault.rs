//! A small Azure Key Vault (secrets) resource server at `https://contoso.vault.azure.net`,
//! so an Azure SDK for Rust client can be pointed at the emulator and spend the tokens it issues.
//!
//! It behaves as Key Vault does toward a client (Key Vault REST API, "Authentication, requests
//! and responses"): a request without a bearer token gets `401` with a challenge naming the
//! authority and the resource (`WWW-Authenticate: Bearer authorization="…", resource="…"`);
//! a bearer token is accepted only when it is an access token the emulator signed (RS256 with
//! its key), for the Key Vault audience, and neither expired nor not yet valid by the
//! emulator's clock. Two routes are served: `PUT /secrets/{name}` (set) and
//! `GET /secrets/{name}[/{version}]` (get).
//!
//! Proof-of-possession tokens are accepted as `Authorization: PoP <signed HTTP request>`
//! (draft-ietf-oauth-signed-http-request-03): the signed request is a JWS (`typ` `pop`,
//! RS256 or PS256) signed with the key in its own `cnf.jwk`, whose RFC 7638 thumbprint must be
//! the `cnf.kid` of the access token in its `at` claim (checked as a bearer token is); its `m`,
//! `u` (host, the port ignored) and `p` must be the request's method, host and path, and its
//! `ts` within five minutes of the emulator's clock. A PoP-bound token is refused as a bearer
//! token, and a bearer token inside a signed request.

use std::collections::BTreeMap;

use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use super::frontend::Incoming;
use super::hosts;
use super::jwt::{Jwt, b64url, b64url_decode};
use super::respond;
use super::seeds;
use super::state::EmuState;

/// Audiences Key Vault accepts: its resource URI (with or without a trailing slash) and its
/// application id.
const AUDIENCES: &[&str] = &[
    seeds::KEYVAULT_RESOURCE,
    "https://vault.azure.net/",
    seeds::KEYVAULT_APP_ID,
];

/// Clock skew allowed on `nbf`, in seconds.
const SKEW_SECS: f64 = 300.0;

/// Largest secret value accepted (Key Vault's limit is 25 KiB).
const MAX_VALUE: usize = 25 * 1024;

/// One stored version of a secret.
#[derive(Debug, Clone)]
pub(crate) struct SecretVersion {
    version: String,
    value: String,
    created: u64,
}

/// The vault's secrets: name (lower case, as Key Vault's names are case-insensitive) to
/// versions, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Vault {
    secrets: BTreeMap<String, Vec<SecretVersion>>,
}

/// Whether `host` is a vault this module serves.
pub(crate) fn is_vault_host(host: &str) -> bool {
    host.ends_with(".vault.azure.net")
}

/// Key Vault's error body.
fn error(status: StatusCode, code: &str, message: &str) -> axum::response::Response {
    respond::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// `401` with the challenge that tells a client where to get a token and for what.
fn challenge(message: &str) -> axum::response::Response {
    let mut resp = error(StatusCode::UNAUTHORIZED, "Unauthorized", message);
    let value = format!(
        "Bearer authorization=\"https://{}/{}\", resource=\"{}\"",
        seeds::PUBLIC_HOST,
        seeds::CONTOSO_TENANT_ID,
        seeds::KEYVAULT_RESOURCE
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// Why a request's token was refused, in Key Vault's words.
fn check_token(state: &EmuState, req: &Incoming) -> Result<(), &'static str> {
    let auth = req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim())
        .ok_or("AKV10000: Request is missing a Bearer or PoP token.")?;
    let (scheme, credential) = auth
        .split_once(' ')
        .map(|(scheme, t)| (scheme, t.trim()))
        .ok_or("AKV10001: The authorization scheme is not Bearer or PoP.")?;
    if scheme.eq_ignore_ascii_case("bearer") {
        let jwt = check_access_token(state, credential)?;
        if jwt.claims.contains_key("cnf") {
            return Err("AKV10001: A proof-of-possession token must be sent as a signed request.");
        }
        Ok(())
    } else if scheme.eq_ignore_ascii_case("pop") {
        check_signed_request(state, req, credential)
    } else {
        Err("AKV10001: The authorization scheme is not Bearer or PoP.")
    }
}

/// Checks an access token as Key Vault does: the emulator's signature, audience, issuer and
/// lifetime.
fn check_access_token(state: &EmuState, token: &str) -> Result<Jwt, &'static str> {
    let jwt = state
        .signer
        .verify(token)
        .map_err(|_| "AKV10013: The token's signature is invalid.")?;
    let aud = jwt.claim_str("aud").unwrap_or_default();
    if !AUDIENCES.contains(&aud) {
        return Err("AKV10022: Invalid audience.");
    }
    if jwt.claim_str("iss").is_none_or(str::is_empty) {
        return Err("AKV10032: Invalid issuer.");
    }
    let now = state.clock.now();
    match jwt.claim_f64("exp") {
        Some(exp) if exp > now => {}
        _ => return Err("AKV10016: The token has expired."),
    }
    if jwt
        .claim_f64("nbf")
        .is_some_and(|nbf| nbf > now + SKEW_SECS)
    {
        return Err("AKV10017: The token is not yet valid.");
    }
    Ok(jwt)
}

/// The RFC 7638 thumbprint (SHA-256, base64url) of an RSA JWK, and its modulus and exponent.
fn rsa_jwk(jwk: &Value) -> Option<(String, Vec<u8>, Vec<u8>)> {
    if jwk.get("kty").and_then(Value::as_str) != Some("RSA") {
        return None;
    }
    let n = jwk.get("n").and_then(Value::as_str)?;
    let e = jwk.get("e").and_then(Value::as_str)?;
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let thumbprint = b64url(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref(),
    );
    Some((thumbprint, b64url_decode(n)?, b64url_decode(e)?))
}

/// Checks a signed HTTP request (draft-ietf-oauth-signed-http-request-03) and the PoP token
/// in it.
fn check_signed_request(state: &EmuState, req: &Incoming, shr: &str) -> Result<(), &'static str> {
    let malformed = "AKV10040: The signed request is malformed.";
    let signed = Jwt::parse(shr).ok_or(malformed)?;
    if !signed
        .header_str("typ")
        .is_some_and(|t| t.eq_ignore_ascii_case("pop"))
    {
        return Err(malformed);
    }
    let token = signed.claim_str("at").ok_or(malformed)?;
    let inner = check_access_token(state, token)?;
    let cnf = inner
        .claims
        .get("cnf")
        .and_then(Value::as_object)
        .ok_or("AKV10041: The token is not bound to a key.")?;
    let jwk = signed
        .claims
        .get("cnf")
        .and_then(|c| c.get("jwk"))
        .ok_or(malformed)?;
    let (thumbprint, n, e) = rsa_jwk(jwk).ok_or(malformed)?;
    let bound = match (cnf.get("kid").and_then(Value::as_str), cnf.get("jwk")) {
        (Some(kid), _) => kid == thumbprint,
        (None, Some(token_jwk)) => rsa_jwk(token_jwk).is_some_and(|(t, _, _)| t == thumbprint),
        (None, None) => false,
    };
    if !bound {
        return Err("AKV10042: The signed request is not signed with the token's key.");
    }
    let algorithm: &'static aws_lc_rs::signature::RsaParameters = match signed.header_str("alg") {
        Some("PS256") => &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
        Some("RS256") => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        _ => return Err(malformed),
    };
    aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            algorithm,
            signed.signing_input.as_bytes(),
            &signed.signature,
        )
        .map_err(|_| "AKV10043: The signed request's signature is invalid.")?;
    if signed.claim_str("m") != Some(req.method.as_str()) {
        return Err("AKV10044: The signed request is for another method.");
    }
    if signed.claim_str("u").map(hosts::normalize).as_deref() != Some(req.host.as_str()) {
        return Err("AKV10045: The signed request is for another host.");
    }
    if signed.claim_str("p") != Some(req.path.as_str()) {
        return Err("AKV10046: The signed request is for another path.");
    }
    match signed.claim_f64("ts") {
        Some(ts) if (ts - state.clock.now()).abs() <= SKEW_SECS => Ok(()),
        _ => Err("AKV10047: The signed request's timestamp is too old or in the future."),
    }
}

/// A secret as Key Vault returns it (a `SecretBundle`).
fn bundle(host: &str, name: &str, s: &SecretVersion) -> Value {
    json!({
        "value": s.value,
        "id": format!("https://{host}/secrets/{name}/{}", s.version),
        "attributes": {
            "enabled": true,
            "created": s.created,
            "updated": s.created,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        },
    })
}

/// A secret name as Key Vault allows: 1-127 of `[0-9a-zA-Z-]`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 127
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Serves one request to the vault.
pub(crate) fn handle(state: &EmuState, req: &Incoming) -> axum::response::Response {
    if let Err(why) = check_token(state, req) {
        return challenge(why);
    }
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    match (&req.method, segs.as_slice()) {
        (&Method::PUT, ["secrets", name]) => set_secret(state, req, name),
        (&Method::GET, ["secrets", name]) => get_secret(state, req, name, None),
        (&Method::GET, ["secrets", name, version]) => get_secret(state, req, name, Some(version)),
        _ => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The emulated vault serves PUT /secrets/{name} and GET /secrets/{name}[/{version}].",
        ),
    }
}

fn set_secret(state: &EmuState, req: &Incoming, name: &str) -> axum::response::Response {
    if !valid_name(name) {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "Invalid secret name.",
        );
    }
    let value = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|v| v.get("value").and_then(Value::as_str).map(str::to_owned));
    let Some(value) = value.filter(|v| v.len() <= MAX_VALUE) else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The request body must be a JSON object with a string \"value\" of at most 25 KiB.",
        );
    };
    let version = SecretVersion {
        version: uuid::Uuid::new_v4().simple().to_string(),
        value,
        created: state.clock.now_secs(),
    };
    let body = bundle(&req.host, name, &version);
    state
        .vault()
        .secrets
        .entry(name.to_ascii_lowercase())
        .or_default()
        .push(version);
    respond::json(StatusCode::OK, &body)
}

fn get_secret(
    state: &EmuState,
    req: &Incoming,
    name: &str,
    version: Option<&str>,
) -> axum::response::Response {
    let vault = state.vault();
    let versions = vault.secrets.get(&name.to_ascii_lowercase());
    let found = versions.and_then(|vs| match version {
        None | Some("") => vs.last(),
        Some(v) => vs.iter().find(|s| s.version.eq_ignore_ascii_case(v)),
    });
    match found {
        Some(s) => respond::json(StatusCode::OK, &bundle(&req.host, name, s)),
        None => error(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            &format!("A secret with (name/id) {name} was not found in this key vault."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_key_vault_allows() {
        assert!(valid_name("db-password-2"));
        assert!(!valid_name(""));
        assert!(!valid_name("a_b"));
        assert!(!valid_name(&"a".repeat(128)));
    }

    #[test]
    fn vault_hosts() {
        assert!(is_vault_host("contoso.vault.azure.net"));
        assert!(!is_vault_host("vault.azure.net.evil.example"));
        assert!(!is_vault_host("login.microsoftonline.com"));
    }
}

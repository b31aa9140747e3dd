//! SSH certificates: a token request with `token_type=ssh-cert`, `req_cnf` (the user's RSA
//! public key as a JWK, RFC 7517) and `key_id` is answered as Entra ID answers it, with
//! `token_type: "ssh-cert"` and an `access_token` that is an OpenSSH user certificate for that
//! key (base64 of the `ssh-rsa-cert-v01@openssh.com` blob of OpenSSH's PROTOCOL.certkeys),
//! signed by the emulator's signing key as certificate authority (`rsa-sha2-256`, RFC 8332).
//! The certificate's key id is the request's `key_id`; its principal is the token's user (or
//! app). Any grant can ask for one; other `token_type` values are left alone.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::TokenRequest;
use crate::jwt::{Jwt, b64url_decode};
use crate::respond::OAuthError;

/// The `token_type` that asks for an SSH certificate.
pub(crate) const SSH_CERT: &str = "ssh-cert";

/// The certificate type of OpenSSH's PROTOCOL.certkeys for an RSA key.
const CERT_TYPE: &str = "ssh-rsa-cert-v01@openssh.com";

/// The user key of an SSH-certificate request.
pub(crate) struct SshKey {
    key_id: String,
    n: Vec<u8>,
    e: Vec<u8>,
}

/// The key a request asks a certificate for, when it asks for one (`token_type=ssh-cert`).
/// Checked before the grant runs, so a bad request consumes no code.
pub(crate) fn requested(ctx: &TokenRequest<'_>) -> Result<Option<SshKey>, OAuthError> {
    if ctx.param("token_type") != Some(SSH_CERT) {
        return Ok(None);
    }
    let key_id = ctx.required("key_id")?.to_owned();
    let req_cnf = ctx.required("req_cnf")?;
    let bad = |why: &str| {
        OAuthError::bad(
            "invalid_request",
            50_013,
            format!("The provided value for the input parameter 'req_cnf' is not valid: {why}."),
        )
    };
    let jwk: Map<String, Value> = serde_json::from_str(req_cnf).map_err(|_| bad("not a JWK"))?;
    if jwk.get("kty").and_then(Value::as_str) != Some("RSA") {
        return Err(bad("only RSA keys are supported"));
    }
    let part = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(b64url_decode)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad(&format!("no '{name}'")))
    };
    Ok(Some(SshKey {
        key_id,
        n: part("n")?,
        e: part("e")?,
    }))
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_be_bytes());
}

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_be_bytes());
}

/// An RFC 4251 section 5 `string`.
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_u32(out, u32::try_from(s.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(s);
}

/// An RFC 4251 section 5 `mpint` of an unsigned big-endian number.
fn put_mpint(out: &mut Vec<u8>, n: &[u8]) {
    let first = n.iter().position(|b| *b != 0).unwrap_or(n.len());
    let digits = &n[first..];
    if digits.first().is_some_and(|b| b & 0x80 != 0) {
        put_u32(out, u32::try_from(digits.len() + 1).unwrap_or(u32::MAX));
        out.push(0);
        out.extend_from_slice(digits);
    } else {
        put_string(out, digits);
    }
}

/// Turns a grant's Bearer answer into an SSH-certificate answer for `key`: the same fields,
/// `token_type: "ssh-cert"`, and the certificate as `access_token`.
pub(crate) fn answer(ctx: &TokenRequest<'_>, key: &SshKey, body: Value) -> Value {
    let Value::Object(mut out) = body else {
        return body;
    };
    let now = ctx.now_secs();
    let lifetime = out
        .get("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(3600);
    let principal = out
        .get("access_token")
        .and_then(Value::as_str)
        .and_then(Jwt::parse)
        .and_then(|jwt| {
            ["upn", "preferred_username", "oid"]
                .iter()
                .find_map(|c| jwt.claim_str(c).map(str::to_owned))
        })
        .unwrap_or_default();

    let (ca_n, ca_e) = ctx.state.signer.public_components();
    let mut ca = Vec::new();
    put_string(&mut ca, b"ssh-rsa");
    put_mpint(&mut ca, ca_e);
    put_mpint(&mut ca, ca_n);

    let mut principals = Vec::new();
    put_string(&mut principals, principal.as_bytes());

    let mut cert = Vec::new();
    put_string(&mut cert, CERT_TYPE.as_bytes());
    put_string(&mut cert, uuid::Uuid::new_v4().as_bytes());
    put_mpint(&mut cert, &key.e);
    put_mpint(&mut cert, &key.n);
    put_u64(&mut cert, now);
    put_u32(&mut cert, 1); // SSH_CERT_TYPE_USER
    put_string(&mut cert, key.key_id.as_bytes());
    put_string(&mut cert, &principals);
    put_u64(&mut cert, now.saturating_sub(300));
    put_u64(&mut cert, now.saturating_add(lifetime));
    put_string(&mut cert, b""); // critical options
    put_string(&mut cert, b""); // extensions
    put_string(&mut cert, b""); // reserved
    put_string(&mut cert, &ca);
    let sig = ctx.state.signer.sign_bytes(&cert);
    let mut signature = Vec::new();
    put_string(&mut signature, b"rsa-sha2-256");
    put_string(&mut signature, &sig);
    put_string(&mut cert, &signature);

    out.insert("token_type".into(), SSH_CERT.into());
    out.insert("access_token".into(), STANDARD.encode(&cert).into());
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpints_are_minimal_and_unsigned() {
        let mut v = Vec::new();
        put_mpint(&mut v, &[0, 0, 0x80, 1]);
        assert_eq!(v, [0, 0, 0, 3, 0, 0x80, 1]);
        let mut v = Vec::new();
        put_mpint(&mut v, &[0, 1, 0, 1]);
        assert_eq!(v, [0, 0, 0, 3, 1, 0, 1]);
        let mut v = Vec::new();
        put_mpint(&mut v, &[0]);
        assert_eq!(v, [0, 0, 0, 0]);
    }
}

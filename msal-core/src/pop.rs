//! Proof-of-possession (PoP) tokens: an access token bound to a key the client holds, spent as
//! a signed HTTP request.
//!
//! A confidential client asks Entra ID for a PoP token with
//! [`proof_of_possession`](crate::flow::client_credentials::AcquireTokenForClient::proof_of_possession):
//! the token request carries `token_type=pop` and `req_cnf`, the base64url of the JSON
//! `{"kid":"<key id>"}`, where the key id is the key's JWK thumbprint (RFC 7638, SHA-256,
//! base64url), as MSAL .NET sends it (`PopAuthenticationOperation.cs`). Entra ID answers with
//! `token_type` `pop` and an access token whose `cnf` claim names the key.
//!
//! The token alone is not accepted by a resource: each call carries
//! `Authorization: PoP <signed HTTP request>`, a JWS made by [`PopKey::sign_http_request`]
//! (draft-ietf-oauth-signed-http-request-03): header `{"alg":"PS256","kid":…,"typ":"pop"}`,
//! claims `at` (the access token), `ts` (seconds since the epoch), `m` (method), `u` (host and
//! port), `p` (path), `nonce`, and `cnf.jwk`, the public key, so the resource can check it
//! against the token's `cnf`. MSAL .NET's default key (`InMemoryCryptoProvider.cs`) is the same:
//! RSA 2048 bits, signing with PS256.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use der::Reader as _;

use crate::error::{Error, Result};

/// The `token_type` of a proof-of-possession request and answer.
pub(crate) const POP: &str = "pop";

/// The JWS algorithm of signed HTTP requests: RSASSA-PSS with SHA-256 (RFC 7518 section 3.5).
const ALG: &str = "PS256";

/// A key that proof-of-possession tokens are bound to: an RSA key pair, generated with
/// [`PopKey::generate`] or loaded from PKCS#8.
///
/// Cloning is cheap and shares the key. `Debug` shows the key id only, never the private key.
/// Tokens are cached per key: a request with this key is served only a cached PoP token bound to
/// it (its [`key_id`](PopKey::key_id)), never a Bearer token nor another key's.
///
/// ```
/// use msal_core::PopKey;
///
/// let key = PopKey::generate()?;
/// assert_eq!(key.key_id().len(), 43); // base64url of a SHA-256 digest
/// assert!(format!("{key:?}").contains(key.key_id()));
/// # Ok::<(), msal_core::Error>(())
/// ```
#[derive(Clone)]
pub struct PopKey {
    inner: Arc<Inner>,
}

struct Inner {
    key: RsaKeyPair,
    rng: SystemRandom,
    /// The canonical public JWK (RFC 7638 section 3.2): `{"e":…,"kty":"RSA","n":…}`.
    jwk: String,
    /// base64url(SHA-256(jwk)).
    key_id: String,
    /// base64url of `{"kid":"<key_id>"}`.
    req_cnf: String,
}

impl fmt::Debug for PopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopKey")
            .field("key_id", &self.inner.key_id)
            .finish_non_exhaustive()
    }
}

impl PartialEq for PopKey {
    /// Keys are equal when their public keys are (the same key id).
    fn eq(&self, other: &Self) -> bool {
        self.inner.key_id == other.inner.key_id
    }
}

impl Eq for PopKey {}

/// The modulus and exponent of a DER `RSAPublicKey` (RFC 8017 appendix A.1.1), without leading
/// zeros.
fn rsa_public_components(der_bytes: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut reader = der::SliceReader::new(der_bytes).ok()?;
    reader
        .sequence(|r| {
            let n = r.decode::<der::asn1::UintRef<'_>>()?;
            let e = r.decode::<der::asn1::UintRef<'_>>()?;
            Ok((n.as_bytes().to_vec(), e.as_bytes().to_vec()))
        })
        .ok()
}

impl PopKey {
    /// A new RSA 2048-bit key, held in memory only (MSAL .NET's default PoP key).
    ///
    /// # Errors
    /// [`ErrorKind::Credential`](crate::ErrorKind::Credential) when the system cannot generate
    /// a key.
    pub fn generate() -> Result<PopKey> {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| {
            Error::new(
                crate::ErrorKind::Credential,
                "could not generate an RSA key for proof of possession",
            )
        })?;
        PopKey::from_key_pair(key)
    }

    /// An RSA private key (2048 to 8192 bits) in unencrypted PKCS#8 DER.
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`](crate::ErrorKind::Configuration) when the bytes are not
    /// such a key.
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<PopKey> {
        let key = RsaKeyPair::from_pkcs8(der_bytes).map_err(|e| {
            Error::config(format!(
                "the proof-of-possession key is not an RSA PKCS#8 private key: {e}"
            ))
        })?;
        PopKey::from_key_pair(key)
    }

    /// An RSA private key in unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`](crate::ErrorKind::Configuration) when the text is not such
    /// a key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<PopKey> {
        let (label, der_bytes) = der::pem::decode_vec(pem.trim().as_bytes()).map_err(|_| {
            Error::config("the proof-of-possession key is not a PEM block".to_owned())
        })?;
        if label != "PRIVATE KEY" {
            return Err(Error::config(format!(
                "the proof-of-possession key is a PEM {label:?} block, not a PKCS#8 \"PRIVATE KEY\""
            )));
        }
        PopKey::from_pkcs8_der(&der_bytes)
    }

    fn from_key_pair(key: RsaKeyPair) -> Result<PopKey> {
        let (n, e) = rsa_public_components(key.public_key().as_ref())
            .ok_or_else(|| Error::config("cannot read the proof-of-possession public key"))?;
        // RFC 7638 section 3.2: the required members in lexicographic order, no whitespace.
        let jwk = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(&e),
            URL_SAFE_NO_PAD.encode(&n)
        );
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, jwk.as_bytes());
        let key_id = URL_SAFE_NO_PAD.encode(digest.as_ref());
        let req_cnf = URL_SAFE_NO_PAD.encode(format!(r#"{{"kid":"{key_id}"}}"#));
        Ok(PopKey {
            inner: Arc::new(Inner {
                key,
                rng: SystemRandom::new(),
                jwk,
                key_id,
                req_cnf,
            }),
        })
    }

    /// The key id: the public key's JWK thumbprint (RFC 7638, SHA-256, base64url). It is the
    /// `kid` of `req_cnf` and of signed requests, and the `key_id` of cached PoP tokens.
    pub fn key_id(&self) -> &str {
        &self.inner.key_id
    }

    /// The public key as a JWK (RFC 7517), in the canonical form of RFC 7638:
    /// `{"e":"AQAB","kty":"RSA","n":"…"}`.
    pub fn public_jwk(&self) -> &str {
        &self.inner.jwk
    }

    /// The `req_cnf` token request field: base64url of `{"kid":"<key id>"}`.
    pub(crate) fn req_cnf(&self) -> &str {
        &self.inner.req_cnf
    }

    /// The `Authorization` header value for one HTTP request spending the PoP token
    /// `access_token`: `PoP <signed HTTP request>`, with `ts` the current system time.
    ///
    /// `method` is the request's method (`GET`, upper-cased as sent), `url` its full URL:
    /// `u` is its host (with the port when it is not the scheme's default), `p` its path (the
    /// query is not signed). `nonce` is the resource's nonce when it gave one, else a random
    /// one is made. Sign each request afresh: resources accept a signed request for a few
    /// minutes only.
    ///
    /// ```
    /// use msal_core::PopKey;
    ///
    /// # fn call(token: &msal_core::AuthenticationResult) -> msal_core::Result<()> {
    /// let key = PopKey::generate()?;
    /// // ... acquire `token` with `.proof_of_possession(key.clone())` ...
    /// let authorization = key.sign_http_request(
    ///     token.access_token().secret(),
    ///     "GET",
    ///     "https://contoso.vault.azure.net/secrets/db?api-version=7.5",
    ///     None,
    /// )?;
    /// assert!(authorization.starts_with("PoP "));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when `url` is not an
    /// absolute URL with a host, or `method` or `access_token` is empty or not printable ASCII.
    pub fn sign_http_request(
        &self,
        access_token: &str,
        method: &str,
        url: &str,
        nonce: Option<&str>,
    ) -> Result<String> {
        self.sign_http_request_at(access_token, method, url, nonce, SystemTime::now())
    }

    /// As [`sign_http_request`](PopKey::sign_http_request), with `ts` taken from `now` (the
    /// application's [`Clock`](crate::clock::Clock), say).
    ///
    /// # Errors
    /// As [`sign_http_request`](PopKey::sign_http_request).
    pub fn sign_http_request_at(
        &self,
        access_token: &str,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<String> {
        let printable = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !printable(access_token) {
            return Err(Error::invalid_input(
                "a signed HTTP request needs the access token",
            ));
        }
        if !printable(method) || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(Error::invalid_input(
                "a signed HTTP request needs the HTTP method, such as GET",
            ));
        }
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::invalid_input(format!("cannot sign a request to that URL: {e}")))?;
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::invalid_input("cannot sign a request to a URL without a host"))?;
        // `u` is the URL's authority as MSAL .NET takes it (`Uri.Authority`): the host, and the
        // port when it is not the scheme's default.
        let authority = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let ts = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let nonce = match nonce.filter(|n| !n.is_empty()) {
            Some(n) => n.to_owned(),
            None => uuid::Uuid::new_v4().simple().to_string(),
        };
        let header = serde_json::json!({"alg": ALG, "kid": self.inner.key_id, "typ": POP});
        let jwk: serde_json::Value = serde_json::from_str(&self.inner.jwk)
            .map_err(|_| Error::config("the proof-of-possession public key is not JSON"))?;
        let claims = serde_json::json!({
            "at": access_token,
            "ts": ts,
            "m": method.to_ascii_uppercase(),
            "u": authority,
            "p": parsed.path(),
            "nonce": nonce,
            "cnf": {"jwk": jwk},
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.inner.key.public_modulus_len()];
        self.inner
            .key
            .sign(
                &signature::RSA_PSS_SHA256,
                &self.inner.rng,
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| {
                Error::new(
                    crate::ErrorKind::Credential,
                    "could not sign with the proof-of-possession key",
                )
            })?;
        Ok(format!("PoP {input}.{}", URL_SAFE_NO_PAD.encode(&sig)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(jws: &str, i: usize) -> serde_json::Value {
        let seg = jws.split('.').nth(i).expect("a JWS part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).expect("base64url")).expect("JSON")
    }

    #[test]
    fn req_cnf_names_the_jwk_thumbprint() {
        let key = PopKey::generate().expect("a key");
        let cnf = URL_SAFE_NO_PAD.decode(key.req_cnf()).expect("base64url");
        assert_eq!(
            String::from_utf8(cnf).expect("utf-8"),
            format!(r#"{{"kid":"{}"}}"#, key.key_id())
        );
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.public_jwk().as_bytes());
        assert_eq!(key.key_id(), URL_SAFE_NO_PAD.encode(digest.as_ref()));
        let jwk: serde_json::Value = serde_json::from_str(key.public_jwk()).expect("JSON");
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["n"].as_str().expect("n"))
                .expect("n")
                .len(),
            256
        );
    }

    #[test]
    fn signed_requests_carry_the_draft_claims_and_verify() {
        let key = PopKey::generate().expect("a key");
        let at = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let shr = key
            .sign_http_request_at(
                "the.access.token",
                "get",
                "https://contoso.vault.azure.net:8443/secrets/a?api-version=7.5",
                Some("n1"),
                at,
            )
            .expect("signed");
        let jws = shr.strip_prefix("PoP ").expect("the PoP scheme");
        let header = part(jws, 0);
        assert_eq!(header["alg"], "PS256");
        assert_eq!(header["typ"], "pop");
        assert_eq!(header["kid"], key.key_id());
        let claims = part(jws, 1);
        assert_eq!(claims["at"], "the.access.token");
        assert_eq!(claims["ts"], 1_700_000_000);
        assert_eq!(claims["m"], "GET");
        assert_eq!(claims["u"], "contoso.vault.azure.net:8443");
        assert_eq!(claims["p"], "/secrets/a");
        assert_eq!(claims["nonce"], "n1");
        let jwk: serde_json::Value = serde_json::from_str(key.public_jwk()).expect("JSON");
        assert_eq!(claims["cnf"]["jwk"], jwk);

        let (input, sig) = jws.rsplit_once('.').expect("three parts");
        let public = signature::UnparsedPublicKey::new(
            &signature::RSA_PSS_2048_8192_SHA256,
            key.inner.key.public_key().as_ref(),
        );
        public
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).expect("b64"))
            .expect("the signature verifies");

        // The default port is left out, and a nonce is made when none is given.
        let shr = key
            .sign_http_request("t", "POST", "https://example.com:443/x", None)
            .expect("signed");
        let claims = part(shr.strip_prefix("PoP ").expect("scheme"), 1);
        assert_eq!(claims["u"], "example.com");
        assert_eq!(claims["nonce"].as_str().expect("a nonce").len(), 32);
    }

    #[test]
    fn bad_arguments_are_invalid_input() {
        let key = PopKey::generate().expect("a key");
        for (token, method, url) in [
            ("", "GET", "https://a.example/"),
            ("t", "", "https://a.example/"),
            ("t", "G ET", "https://a.example/"),
            ("t", "GET", "/relative"),
            ("t", "GET", "mailto:someone@example.com"),
            ("t o", "GET", "https://a.example/"),
        ] {
            let e = key
                .sign_http_request(token, method, url, None)
                .expect_err("refused");
            assert_eq!(
                e.kind(),
                crate::ErrorKind::InvalidInput,
                "{token} {method} {url}"
            );
        }
    }

    #[test]
    fn keys_load_from_pkcs8_and_debug_hides_them() {
        let pem = include_str!("../../tests/emulator/fixtures/certs/app-cert.key.pem");
        let key = PopKey::from_pkcs8_pem(pem).expect("the app key loads");
        let again = PopKey::from_pkcs8_pem(pem).expect("again");
        assert_eq!(key, again);
        assert_ne!(key, PopKey::generate().expect("a key"));
        let debug = format!("{key:?}");
        assert!(debug.contains(key.key_id()), "{debug}");
        assert!(!debug.contains(&pem[40..80]), "{debug}");
        assert_eq!(
            PopKey::from_pkcs8_pem("not a key")
                .expect_err("refused")
                .kind(),
            crate::ErrorKind::Configuration
        );
        assert_eq!(
            PopKey::from_pkcs8_der(b"\x30\x03\x02\x01\x00")
                .expect_err("refused")
                .kind(),
            crate::ErrorKind::Configuration
        );
    }
}

//! JWTs: parsing, RS256 signing with the emulator key, and RSA signature verification, all
//! with aws-lc-rs directly.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use super::der;

/// base64url without padding.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url with or without `=` padding (standard-alphabet input is accepted too).
pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
        .or_else(|| STANDARD_NO_PAD.decode(trimmed).ok())
}

/// Decodes standard base64 after removing all whitespace (for `x5c` entries with line breaks).
pub(crate) fn b64_decode_lenient(s: &str) -> Option<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(clean.as_bytes())
        .ok()
        .or_else(|| b64url_decode(&clean))
}

/// A JWT split into its parts (nothing verified yet).
#[derive(Debug, Clone)]
pub(crate) struct Jwt {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
    pub(crate) signing_input: String,
    pub(crate) signature: Vec<u8>,
}

impl Jwt {
    pub(crate) fn parse(token: &str) -> Option<Self> {
        let mut parts = token.trim().split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header = serde_json::from_slice::<Value>(&b64url_decode(h)?).ok()?;
        let claims = serde_json::from_slice::<Value>(&b64url_decode(c)?).ok()?;
        let (Value::Object(header), Value::Object(claims)) = (header, claims) else {
            return None;
        };
        Some(Self {
            header,
            claims,
            signing_input: format!("{h}.{c}"),
            signature: b64url_decode(s)?,
        })
    }

    pub(crate) fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    pub(crate) fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric claim (integer or float, as MSAL Python sends floats).
    pub(crate) fn claim_f64(&self, name: &str) -> Option<f64> {
        self.claims.get(name).and_then(Value::as_f64)
    }
}

/// Verifies an RSA JWT signature (`RS256/384/512`, `PS256/384/512`) against a public key given
/// as `SubjectPublicKeyInfo` or `RSAPublicKey` DER. Unknown algorithms never verify.
pub(crate) fn verify_rsa(alg: &str, public_key_der: &[u8], message: &[u8], sig: &[u8]) -> bool {
    let algorithm: &'static dyn signature::VerificationAlgorithm = match alg {
        "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
        "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
        "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return false,
    };
    signature::UnparsedPublicKey::new(algorithm, public_key_der)
        .verify(message, sig)
        .is_ok()
}

/// Why the emulator's own token did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnTokenError {
    Malformed,
    BadSignature,
}

/// The emulator's token-signing key (RS256).
pub(crate) struct Signer {
    key: RsaKeyPair,
    rng: SystemRandom,
    kid: String,
    cert_der: Vec<u8>,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Loads the key (PKCS#8 PEM) and its certificate (PEM).
    pub(crate) fn new(key_pem: &str, cert_pem: &str) -> anyhow::Result<Self> {
        let key_der = der::pem_blocks(key_pem, "PRIVATE KEY")
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no PRIVATE KEY block in the signing key"))?;
        let key = RsaKeyPair::from_pkcs8(&key_der)
            .map_err(|e| anyhow::anyhow!("bad signing key: {e}"))?;
        let cert_der = der::pem_blocks(cert_pem, "CERTIFICATE")
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no CERTIFICATE block in the signing cert"))?;
        let (n, e) = der::rsa_public_components(key.public_key().as_ref())
            .ok_or_else(|| anyhow::anyhow!("cannot read the signing key's modulus"))?;
        let kid = b64url(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &cert_der).as_ref());
        Ok(Self {
            key,
            rng: SystemRandom::new(),
            kid,
            cert_der,
            n,
            e,
        })
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` as an RS256 JWT with `kid` and `x5t` headers.
    pub(crate) fn sign(&self, typ: &str, claims: &Value) -> String {
        let header = json!({"typ": typ, "alg": "RS256", "x5t": self.kid, "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        // Signing with a valid key into a buffer of the modulus length cannot fail.
        if self
            .key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &self.rng,
                input.as_bytes(),
                &mut sig,
            )
            .is_err()
        {
            sig.clear();
        }
        format!("{input}.{}", b64url(&sig))
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 and SHA-256 (an SSH certificate's `rsa-sha2-256`
    /// signature, RFC 8332 section 3).
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        // Signing with a valid key into a buffer of the modulus length cannot fail.
        if self
            .key
            .sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
            .is_err()
        {
            sig.clear();
        }
        sig
    }

    /// The public key's modulus and exponent (big-endian, unsigned).
    pub(crate) fn public_components(&self) -> (&[u8], &[u8]) {
        (&self.n, &self.e)
    }

    /// Parses a token and checks it is RS256, signed by this key. Times are not checked.
    pub(crate) fn verify(&self, token: &str) -> Result<Jwt, OwnTokenError> {
        let jwt = Jwt::parse(token).ok_or(OwnTokenError::Malformed)?;
        if jwt.header_str("alg") != Some("RS256") {
            return Err(OwnTokenError::BadSignature);
        }
        let ok = verify_rsa(
            "RS256",
            self.key.public_key().as_ref(),
            jwt.signing_input.as_bytes(),
            &jwt.signature,
        );
        if ok {
            Ok(jwt)
        } else {
            Err(OwnTokenError::BadSignature)
        }
    }

    /// The JWKS document (`{"keys":[…]}`), tagged with `issuer`.
    pub(crate) fn jwks(&self, issuer: &str) -> Value {
        json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(&self.n),
            "e": b64url(&self.e),
            "x5c": [STANDARD.encode(&self.cert_der)],
            "issuer": issuer,
        }]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds;

    fn signer() -> Signer {
        Signer::new(
            seeds::EMULATOR_SIGNING_KEY_PEM,
            seeds::EMULATOR_SIGNING_CERT_PEM,
        )
        .unwrap()
    }

    #[test]
    fn sign_then_verify() {
        let s = signer();
        let token = s.sign("JWT", &json!({"a": 1}));
        let jwt = s.verify(&token).unwrap();
        assert_eq!(jwt.claims["a"], 1);
        assert_eq!(jwt.header_str("kid"), Some(s.kid()));
        // Tamper with the payload: the signature no longer matches.
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = b64url(br#"{"a":2}"#);
        parts[1] = &other;
        assert_eq!(
            s.verify(&parts.join(".")).unwrap_err(),
            OwnTokenError::BadSignature
        );
        assert_eq!(s.verify("x.y").unwrap_err(), OwnTokenError::Malformed);
        assert_eq!(s.verify("").unwrap_err(), OwnTokenError::Malformed);
    }

    #[test]
    fn base64_variants() {
        assert_eq!(b64url_decode("AQ==").unwrap(), vec![1]);
        assert_eq!(b64url_decode("AQ").unwrap(), vec![1]);
        assert_eq!(b64url_decode("-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(b64url_decode("+/8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(b64_decode_lenient("AQID\nBA==").unwrap(), vec![1, 2, 3, 4]);
        assert!(b64url_decode("!!").is_none());
    }

    #[test]
    fn jwks_has_modulus() {
        let s = signer();
        let jwks = s.jwks("https://x");
        let n = jwks["keys"][0]["n"].as_str().unwrap();
        assert_eq!(b64url_decode(n).unwrap().len(), 256);
        assert_eq!(jwks["keys"][0]["e"], "AQAB");
    }
}

//! Certificate credentials: PEM loading, key/certificate matching, and the signed
//! client-assertion JWT (msal/oauth2cli/assertion.py), reused for nine minutes per audience.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use der::Decode as _;
use pkcs8::ObjectIdentifier;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value};

use super::ClientAuthRequest;
use super::pem::{self, PemBlock};
use super::pfx::{self, PFX_INPUT};
use crate::error::{Error, ErrorKind, Result};

/// `rsaEncryption` (RFC 8017 appendix C).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-ecPublicKey` (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Lifetime of a signed assertion (`exp - iat`).
const ASSERTION_LIFETIME_SECS: f64 = 600.0;
/// How long a signed assertion is reused: its lifetime minus 60 s, like MSAL's `AutoRefresher`.
const ASSERTION_REUSE: Duration = Duration::from_secs(540);

const KEY_INPUT: &str = "private key PEM";
const CERT_INPUT: &str = "certificate PEM";

fn config(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Configuration, message)
}

/// An RSA key, its certificate chain, and the assertions signed with them.
pub(super) struct Certificate {
    key: RsaKeyPair,
    /// base64url(SHA-256(leaf DER)), padded: the `x5t#S256` header. `None` when only a SHA-1
    /// thumbprint was supplied, which makes every assertion RS256 with `x5t`.
    x5t_s256: Option<String>,
    /// base64url(SHA-1(leaf DER)), padded: the `x5t` header (ADFS, or a supplied thumbprint).
    x5t: String,
    /// One PEM body per certificate, leaf first: the `x5c` header (empty without a certificate).
    x5c: Vec<String>,
    /// Signed assertions by (client id, audience, ADFS, x5c), shared by every clone.
    cache: Mutex<HashMap<AssertionKey, CachedAssertion>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AssertionKey {
    client_id: String,
    audience: String,
    is_adfs: bool,
    send_x5c: bool,
    /// The extra claims, serialized: assertions with other claims are other assertions.
    client_claims: String,
}

struct CachedAssertion {
    iat: SystemTime,
    jwt: SecretString,
}

#[derive(Serialize)]
struct Header<'a> {
    // Field order is PyJWT's (it sorts header keys).
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    x5c: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x5t: Option<&'a str>,
    #[serde(rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    x5t_s256: Option<&'a str>,
}

#[derive(Serialize)]
struct Claims<'a> {
    // Field order is MSAL Python's (PyJWT keeps payload order).
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    exp: f64,
    iat: f64,
    jti: String,
}

impl Certificate {
    /// Loads a key (PKCS#8, PKCS#1, or encrypted PKCS#8 when `passphrase` is given) and a
    /// certificate chain, leaf first, and checks that the leaf certifies the key.
    pub(super) fn from_pem(
        private_key_pem: &[u8],
        certificate_pem: &[u8],
        passphrase: Option<&str>,
    ) -> Result<Certificate> {
        let key = load_key(private_key_pem, passphrase)?;
        let chain = load_chain(certificate_pem)?;
        let Some(leaf) = chain.first() else {
            return Err(config(format!("the {CERT_INPUT} contains no certificate")));
        };
        check_leaf_matches(leaf, &key)?;
        Ok(Certificate::with_chain(key, &chain))
    }

    /// Loads the first private key of a PKCS#12 file and the certificate that certifies it
    /// (found by its public key, wherever it is in the file); the file's other certificates
    /// follow it in `x5c`, in file order.
    pub(super) fn from_pfx(data: &[u8], password: Option<&str>) -> Result<Certificate> {
        let contents = pfx::parse(data, password)?;
        let Some(key_der) = contents.keys.first() else {
            return Err(config(format!(
                "the {PFX_INPUT} contains no private key (it must hold the key and its certificate)"
            )));
        };
        let key = rsa_from_pkcs8(key_der, PFX_INPUT)?;
        let mut chain = Vec::with_capacity(contents.certs.len());
        for (i, der) in contents.certs.into_iter().enumerate() {
            let cert = x509_cert::Certificate::from_der(&der).map_err(|e| {
                Error::with_source(
                    ErrorKind::Configuration,
                    format!(
                        "certificate {} of the {PFX_INPUT} is not a valid X.509 certificate",
                        i + 1
                    ),
                    e,
                )
            })?;
            chain.push(ChainCert { der, cert });
        }
        let Some(leaf_at) = chain.iter().position(|c| certifies(c, &key)) else {
            return Err(config(format!(
                "the {PFX_INPUT} contains no certificate for its private key"
            )));
        };
        let leaf = chain.remove(leaf_at);
        chain.retain(|c| c.der != leaf.der);
        chain.insert(0, leaf);
        Ok(Certificate::with_chain(key, &chain))
    }

    /// An RSA key (unencrypted PEM, or encrypted PKCS#8 with `passphrase`) and the SHA-1
    /// thumbprint of its certificate as hex (MSAL Python's `private_key` + `thumbprint`): no
    /// certificate, so every assertion is RS256 with `x5t` and never carries `x5c`.
    pub(super) fn from_key_and_sha1_thumbprint(
        private_key_pem: &[u8],
        sha1_thumbprint_hex: &str,
        passphrase: Option<&str>,
    ) -> Result<Certificate> {
        let sha1 = parse_sha1_thumbprint(sha1_thumbprint_hex)?;
        let key = load_key(private_key_pem, passphrase)?;
        Ok(Certificate {
            key,
            x5t_s256: None,
            x5t: URL_SAFE.encode(sha1),
            x5c: Vec::new(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn with_chain(key: RsaKeyPair, chain: &[ChainCert]) -> Certificate {
        let leaf_der = chain.first().map_or(&[][..], |c| c.der.as_slice());
        Certificate {
            x5t_s256: Some(URL_SAFE.encode(digest::digest(&digest::SHA256, leaf_der))),
            x5t: URL_SAFE.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, leaf_der)),
            x5c: chain.iter().map(|c| pem::body_lines(&c.der)).collect(),
            key,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The `x5t#S256` thumbprint of the leaf certificate; `None` with a supplied SHA-1
    /// thumbprint.
    pub(super) fn thumbprint_sha256(&self) -> Option<&str> {
        self.x5t_s256.as_deref()
    }

    /// The `x5t` (SHA-1) thumbprint, base64url with padding.
    pub(super) fn thumbprint_sha1(&self) -> &str {
        &self.x5t
    }

    /// How many certificates the chain holds.
    pub(super) fn chain_len(&self) -> usize {
        self.x5c.len()
    }

    /// A signed client assertion for `req`: the cached one while it is younger than nine
    /// minutes, otherwise a freshly signed one.
    pub(super) fn assertion(
        &self,
        req: &ClientAuthRequest<'_>,
        send_x5c: bool,
        client_claims: Option<&Map<String, Value>>,
    ) -> Result<SecretString> {
        let key = AssertionKey {
            client_id: req.client_id.to_owned(),
            audience: req.audience.to_owned(),
            is_adfs: req.is_adfs,
            send_x5c,
            client_claims: client_claims
                .map(|c| Value::Object(c.clone()).to_string())
                .unwrap_or_default(),
        };
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = cache.get(&key)
                && is_fresh(cached.iat, req.now)
            {
                return Ok(cached.jwt.clone());
            }
        }
        // Signed outside the lock: two racing requests may both sign, which is harmless.
        let jwt = self.sign(req, send_x5c, client_claims)?;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|_, c| is_fresh(c.iat, req.now));
        cache.insert(
            key,
            CachedAssertion {
                iat: req.now,
                jwt: jwt.clone(),
            },
        );
        Ok(jwt)
    }

    fn sign(
        &self,
        req: &ClientAuthRequest<'_>,
        send_x5c: bool,
        client_claims: Option<&Map<String, Value>>,
    ) -> Result<SecretString> {
        let iat = req
            .now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| {
                Error::new(
                    ErrorKind::Credential,
                    "the clock is before 1970; cannot date a client assertion",
                )
            })?
            .as_secs_f64();
        // msal/application.py `_build_client`: PS256 with `x5t#S256` when the SHA-256
        // thumbprint is known and the authority is not ADFS; otherwise RS256 with the SHA-1
        // `x5t` (ADFS, or a key given with only its SHA-1 thumbprint).
        let s256 = self.x5t_s256.as_deref().filter(|_| !req.is_adfs);
        let (alg, padding): (&'static str, &'static dyn signature::RsaEncoding) = match s256 {
            Some(_) => ("PS256", &signature::RSA_PSS_SHA256),
            None => ("RS256", &signature::RSA_PKCS1_SHA256),
        };
        let header = Header {
            alg,
            typ: "JWT",
            x5c: (send_x5c && !self.x5c.is_empty()).then_some(self.x5c.as_slice()),
            x5t: s256.is_none().then_some(self.x5t.as_str()),
            x5t_s256: s256,
        };
        let claims = Claims {
            aud: req.audience,
            iss: req.client_id,
            sub: req.client_id,
            exp: iat + ASSERTION_LIFETIME_SECS,
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let header = serde_json::to_vec(&header).map_err(|e| {
            Error::with_source(ErrorKind::Credential, "cannot encode the JWT header", e)
        })?;
        let encode_failed =
            |e| Error::with_source(ErrorKind::Credential, "cannot encode the JWT claims", e);
        let claims = match client_claims {
            None => serde_json::to_vec(&claims).map_err(encode_failed)?,
            // msal/oauth2cli/assertion.py `create_normal_assertion`: the extra claims are
            // added to the payload as they are, replacing a standard claim of the same name.
            Some(extra) => {
                let mut payload = match serde_json::to_value(&claims).map_err(encode_failed)? {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                for (k, v) in extra {
                    payload.insert(k.clone(), v.clone());
                }
                serde_json::to_vec(&Value::Object(payload)).map_err(encode_failed)?
            }
        };
        let mut jwt = URL_SAFE_NO_PAD.encode(header);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut jwt);
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(padding, &SystemRandom::new(), jwt.as_bytes(), &mut sig)
            .map_err(|e| {
                Error::with_source(
                    ErrorKind::Credential,
                    "signing the client assertion failed",
                    e,
                )
            })?;
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut jwt);
        tracing::debug!(alg, is_adfs = req.is_adfs, "signed a new client assertion");
        Ok(SecretString::from(jwt))
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("x5t#S256", &self.x5t_s256)
            .field("x5t", &self.x5t)
            .field("chain_len", &self.x5c.len())
            .finish_non_exhaustive()
    }
}

/// True while an assertion issued at `iat` may still be sent at `now`.
fn is_fresh(iat: SystemTime, now: SystemTime) -> bool {
    now.duration_since(iat)
        .is_ok_and(|age| age < ASSERTION_REUSE)
}

fn load_key(pem_input: &[u8], passphrase: Option<&str>) -> Result<RsaKeyPair> {
    let blocks = pem::parse(pem_input, KEY_INPUT)?;
    let Some(block) = blocks.iter().find(|b| b.label.ends_with("PRIVATE KEY")) else {
        return Err(config(format!(
            "the {KEY_INPUT} contains no private key (expected a 'PRIVATE KEY' or 'RSA PRIVATE KEY' block)"
        )));
    };
    if block.has_headers {
        return Err(config(format!(
            "the {KEY_INPUT} uses legacy OpenSSL encryption headers, which are not supported; \
             convert it to encrypted PKCS#8 ('openssl pkcs8 -topk8') and use certificate_pem_encrypted"
        )));
    }
    match block.label.as_str() {
        "PRIVATE KEY" => rsa_from_pkcs8(&block.der, KEY_INPUT),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&block.der).map_err(|e| {
            Error::with_source(
                ErrorKind::Configuration,
                format!("the {KEY_INPUT} is not a usable PKCS#1 RSA private key"),
                e,
            )
        }),
        "ENCRYPTED PRIVATE KEY" => {
            let Some(passphrase) = passphrase else {
                return Err(config(format!(
                    "the {KEY_INPUT} is encrypted; use ClientCredential::certificate_pem_encrypted \
                     with its passphrase"
                )));
            };
            let info =
                pkcs8::EncryptedPrivateKeyInfo::try_from(block.der.as_slice()).map_err(|e| {
                    Error::with_source(
                        ErrorKind::Configuration,
                        format!("the {KEY_INPUT} is not a valid encrypted PKCS#8 key"),
                        e,
                    )
                })?;
            // A wrong passphrase fails here (bad padding) or, rarely, in the parse that follows.
            let document = info.decrypt(passphrase).map_err(|e| {
                Error::with_source(
                    ErrorKind::Configuration,
                    format!(
                        "cannot decrypt the {KEY_INPUT}: wrong passphrase or unsupported encryption"
                    ),
                    e,
                )
            })?;
            rsa_from_pkcs8(document.as_bytes(), KEY_INPUT).map_err(|_| {
                config(format!(
                    "cannot decrypt the {KEY_INPUT}: wrong passphrase or not an RSA key"
                ))
            })
        }
        "EC PRIVATE KEY" => Err(not_rsa("an EC", KEY_INPUT)),
        other => Err(config(format!(
            "the {KEY_INPUT} holds an unsupported '{other}' block; only RSA keys are supported"
        ))),
    }
}

fn not_rsa(what: &str, input: &str) -> Error {
    config(format!(
        "the {input} holds {what} key; only RSA keys are supported for client certificates"
    ))
}

fn rsa_from_pkcs8(der: &[u8], input: &str) -> Result<RsaKeyPair> {
    let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(|e| {
        Error::with_source(
            ErrorKind::Configuration,
            format!("the {input} does not hold a valid PKCS#8 private key"),
            e,
        )
    })?;
    let oid = info.algorithm.oid;
    if oid == EC_PUBLIC_KEY {
        return Err(not_rsa("an EC", input));
    }
    if oid != RSA_ENCRYPTION {
        return Err(not_rsa(&format!("a non-RSA (algorithm {oid})"), input));
    }
    RsaKeyPair::from_pkcs8(der).map_err(|e| {
        Error::with_source(
            ErrorKind::Configuration,
            format!("the {input} does not hold a usable RSA private key (2048 to 8192 bits)"),
            e,
        )
    })
}

/// A certificate of the chain: its DER and its parsed form.
struct ChainCert {
    der: Vec<u8>,
    cert: x509_cert::Certificate,
}

fn load_chain(pem_input: &[u8]) -> Result<Vec<ChainCert>> {
    let blocks: Vec<PemBlock> = pem::parse(pem_input, CERT_INPUT)?;
    let mut chain = Vec::new();
    for block in blocks.into_iter().filter(|b| b.label == "CERTIFICATE") {
        let cert = x509_cert::Certificate::from_der(&block.der).map_err(|e| {
            Error::with_source(
                ErrorKind::Configuration,
                format!(
                    "certificate {} of the {CERT_INPUT} is not a valid X.509 certificate",
                    chain.len() + 1
                ),
                e,
            )
        })?;
        chain.push(ChainCert {
            der: block.der.to_vec(),
            cert,
        });
    }
    if chain.is_empty() {
        return Err(config(format!(
            "the {CERT_INPUT} contains no 'CERTIFICATE' block"
        )));
    }
    Ok(chain)
}

/// Whether `cert` holds the public key of `key`.
fn certifies(cert: &ChainCert, key: &RsaKeyPair) -> bool {
    let spki = &cert.cert.tbs_certificate.subject_public_key_info;
    spki.algorithm.oid == RSA_ENCRYPTION
        && spki.subject_public_key.as_bytes() == Some(key.public_key().as_ref())
}

/// The 20 bytes of a SHA-1 thumbprint given as hex (as the Azure portal and PowerShell show
/// it; `:` or space separators, as `openssl x509 -fingerprint` prints them, are allowed).
fn parse_sha1_thumbprint(hex: &str) -> Result<[u8; 20]> {
    let digits: Vec<u8> = hex
        .bytes()
        .filter(|b| !matches!(b, b':' | b' ' | b'\t'))
        .collect();
    let bad = |why: &str| {
        config(format!(
            "the certificate thumbprint must be the certificate's SHA-1 as 40 hex digits; {why}"
        ))
    };
    if digits.len() == 64 {
        return Err(bad(
            "this one has 64, a SHA-256 thumbprint: give the certificate itself instead",
        ));
    }
    if digits.len() != 40 {
        return Err(bad(&format!("this one has {}", digits.len())));
    }
    let mut out = [0u8; 20];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let nibble = |c: u8| char::from(c).to_digit(16);
        let (Some(hi), Some(lo)) = (
            pair.first().and_then(|c| nibble(*c)),
            pair.get(1).and_then(|c| nibble(*c)),
        ) else {
            return Err(bad("it holds a character that is not a hex digit"));
        };
        *byte = u8::try_from(hi * 16 + lo).map_err(|_| bad("it is not hex"))?;
    }
    Ok(out)
}

fn check_leaf_matches(leaf: &ChainCert, key: &RsaKeyPair) -> Result<()> {
    let spki = &leaf.cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return Err(config(format!(
            "the first certificate of the {CERT_INPUT} does not hold an RSA public key \
             (algorithm {}); only RSA is supported",
            spki.algorithm.oid
        )));
    }
    let cert_key = spki.subject_public_key.as_bytes();
    if cert_key != Some(key.public_key().as_ref()) {
        return Err(config(
            "the private key does not match the first certificate of the certificate PEM \
             (the leaf certificate must come first)",
        ));
    }
    Ok(())
}

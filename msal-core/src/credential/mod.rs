//! Client credentials: how a confidential client proves its identity to the token endpoint.
//!
//! A [`ClientCredential`] is one of
//!
//! - a client secret ([`ClientCredential::secret`]), sent as the `client_secret` form field;
//! - a certificate: an RSA key whose certificate is registered on the application, from PEM
//!   ([`ClientCredential::certificate_pem`], [`ClientCredential::certificate_pem_encrypted`]) or
//!   a PKCS#12 / PFX file ([`ClientCredential::certificate_pfx`]). Each request carries a
//!   client-assertion JWT signed with the key, reused for nine minutes of its ten-minute
//!   lifetime;
//! - a key with only its certificate's SHA-1 thumbprint
//!   ([`ClientCredential::certificate_key_with_thumbprint`],
//!   [`ClientCredential::certificate_key_with_thumbprint_encrypted`]), MSAL Python's
//!   `{"private_key": ..., "thumbprint": ...}`;
//! - a pre-signed assertion ([`ClientCredential::assertion`]) or a callback producing one per
//!   request ([`ClientCredential::assertion_callback`]), e.g. for federated identity credentials.
//!
//! # Assertion algorithm and thumbprint
//!
//! As MSAL Python 1.39 chooses them (msal/application.py `_build_client`, signed by
//! msal/oauth2cli/assertion.py `JwtAssertionCreator`):
//!
//! | credential | Entra ID authority | ADFS authority |
//! | --- | --- | --- |
//! | certificate (PEM or PFX) | PS256, `x5t#S256` | RS256, `x5t` |
//! | key + SHA-1 thumbprint | RS256, `x5t` | RS256, `x5t` |
//!
//! Thumbprints are base64url with `=` padding of the SHA-256 (`x5t#S256`) or SHA-1 (`x5t`)
//! of the certificate's DER. With [`ClientCredential::send_x5c`], certificates also send
//! their chain as `x5c`: a PEM chain as given, a PFX's certificate for the key followed by the
//! file's other certificates (MSAL Python sends only the PFX's certificate for the key); a key
//! with a thumbprint has no certificate to send.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret as _, SecretString};

use crate::error::{Error, ErrorKind, Result};

mod certificate;
mod pem;
mod pfx;
#[cfg(test)]
mod pfx_tests;
#[cfg(test)]
mod tests;

use certificate::Certificate;

/// How a confidential client proves its identity.
///
/// Cloning is cheap (an `Arc` inside); clones share the cache of signed assertions.
/// `Debug` never shows a secret, an assertion or key material.
///
/// ```
/// use msal_core::credential::ClientCredential;
///
/// let credential = ClientCredential::secret("my client secret");
/// assert!(!format!("{credential:?}").contains("my client secret"));
/// assert_eq!(credential.certificate_thumbprint_sha256(), None);
/// ```
#[derive(Clone)]
pub struct ClientCredential {
    inner: Arc<Inner>,
    send_x5c: bool,
    /// Extra claims signed into certificate assertions (msal/application.py `client_claims`).
    client_claims: Option<Arc<serde_json::Map<String, serde_json::Value>>>,
}

type AssertionCallback =
    dyn Fn(AssertionContext) -> BoxFuture<'static, Result<String>> + Send + Sync;

enum Inner {
    Secret(SecretString),
    Assertion(SecretString),
    Callback(Box<AssertionCallback>),
    Certificate(Certificate),
}

/// What an assertion callback is told about the request it signs for.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct AssertionContext {
    /// The application's client id (the assertion's expected `iss` and `sub`).
    pub client_id: String,
    /// The token endpoint the request is sent to (a regional endpoint when a region is used).
    pub token_endpoint: String,
    /// The `fmi_path` of the request, when one was given.
    pub fmi_path: Option<String>,
}

impl ClientCredential {
    /// A client secret. It is kept in a [`SecretString`] and sent as the `client_secret` form
    /// field.
    pub fn secret(secret: impl Into<String>) -> ClientCredential {
        ClientCredential::from_inner(Inner::Secret(SecretString::from(secret.into())))
    }

    /// A certificate credential from an unencrypted PEM private key and its PEM certificate.
    ///
    /// - `private_key_pem`: an RSA key as PKCS#8 (`PRIVATE KEY`) or PKCS#1
    ///   (`RSA PRIVATE KEY`). For an `ENCRYPTED PRIVATE KEY` use
    ///   [`ClientCredential::certificate_pem_encrypted`].
    /// - `certificate_pem`: the certificate, or a chain with the leaf first. Other PEM blocks
    ///   (a private key in a combined file, for instance) are ignored.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Configuration`] error when either input is not valid PEM, the key is not
    /// RSA (2048 to 8192 bits), or the leaf certificate does not certify the key.
    ///
    /// ```no_run
    /// use msal_core::credential::ClientCredential;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let key = std::fs::read("app.key.pem")?;
    /// let cert = std::fs::read("app.crt.pem")?;
    /// let credential = ClientCredential::certificate_pem(key, cert)?;
    /// println!("registered thumbprint: {:?}", credential.certificate_thumbprint_sha256());
    /// # Ok(())
    /// # }
    /// ```
    pub fn certificate_pem(
        private_key_pem: impl AsRef<[u8]>,
        certificate_pem: impl AsRef<[u8]>,
    ) -> Result<ClientCredential> {
        let cert = Certificate::from_pem(private_key_pem.as_ref(), certificate_pem.as_ref(), None)?;
        Ok(ClientCredential::from_inner(Inner::Certificate(cert)))
    }

    /// A certificate credential from a passphrase-protected PEM private key
    /// (`ENCRYPTED PRIVATE KEY`, PKCS#8 with PBES2) and its PEM certificate or chain.
    /// An unencrypted key is accepted too; the passphrase is then unused.
    ///
    /// # Errors
    ///
    /// As [`ClientCredential::certificate_pem`], and an [`ErrorKind::Configuration`] error when
    /// the passphrase is wrong.
    pub fn certificate_pem_encrypted(
        private_key_pem: impl AsRef<[u8]>,
        certificate_pem: impl AsRef<[u8]>,
        passphrase: &str,
    ) -> Result<ClientCredential> {
        let cert = Certificate::from_pem(
            private_key_pem.as_ref(),
            certificate_pem.as_ref(),
            Some(passphrase),
        )?;
        Ok(ClientCredential::from_inner(Inner::Certificate(cert)))
    }

    /// A certificate credential from a PKCS#12 (PFX, `.p12`) file holding an RSA key and its
    /// certificate, and optionally more certificates (its chain, sent as `x5c` with
    /// [`ClientCredential::send_x5c`]). MSAL Python's
    /// `{"private_key_pfx_path": ..., "passphrase": ...}`.
    ///
    /// - `password`: the file's password; `None` for a file exported without one (the empty
    ///   password, as `openssl pkcs12 -export -passout pass:` writes it, or no encryption).
    ///   It is used to open the file and not kept.
    ///
    /// Files from Windows' certificate export, OpenSSL 3 (PBES2 with AES-256-CBC, the
    /// default), `openssl pkcs12 -legacy` and older tools (triple DES keys, RC2-40
    /// certificates), and Java keystores are read. The first private key is used, with the
    /// certificate holding its public key.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Configuration`] error when the password is wrong or missing, the file is
    /// not valid PKCS#12 or uses an unsupported protection (public-key modes, an iteration count
    /// above two million), it holds no private key or no certificate for it, or the key is not
    /// RSA (2048 to 8192 bits).
    ///
    /// ```no_run
    /// use msal_core::credential::ClientCredential;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pfx = std::fs::read("app.pfx")?;
    /// let password = std::env::var("PFX_PASSWORD")?;
    /// let credential = ClientCredential::certificate_pfx(&pfx, Some(&password))?;
    /// println!("registered thumbprint: {:?}", credential.certificate_thumbprint_sha256());
    /// # Ok(())
    /// # }
    /// ```
    pub fn certificate_pfx(
        pfx: impl AsRef<[u8]>,
        password: Option<&str>,
    ) -> Result<ClientCredential> {
        let cert = Certificate::from_pfx(pfx.as_ref(), password)?;
        Ok(ClientCredential::from_inner(Inner::Certificate(cert)))
    }

    /// A certificate credential from an unencrypted PEM RSA private key (PKCS#8 or PKCS#1) and
    /// the SHA-1 thumbprint of its registered certificate, as hex (40 digits, as the Azure
    /// portal shows it; `:` separators are allowed). The certificate itself is not needed.
    /// MSAL Python's `{"private_key": ..., "thumbprint": ...}`.
    ///
    /// Assertions are always RS256 with an `x5t` header (the older form, as MSAL Python sends
    /// for this credential), never `x5t#S256` or `x5c`. Prefer
    /// [`ClientCredential::certificate_pem`] or [`ClientCredential::certificate_pfx`] when
    /// the certificate is at hand.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Configuration`] error when the thumbprint is not 40 hex digits (a
    /// 64-digit SHA-256 thumbprint is refused: give the certificate instead), or the key is not
    /// valid PEM or not RSA (2048 to 8192 bits).
    ///
    /// ```
    /// use msal_core::credential::ClientCredential;
    ///
    /// let err = ClientCredential::certificate_key_with_thumbprint("not a key", "B31ACD49")
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), msal_core::ErrorKind::Configuration);
    /// ```
    pub fn certificate_key_with_thumbprint(
        private_key_pem: impl AsRef<[u8]>,
        sha1_thumbprint_hex: &str,
    ) -> Result<ClientCredential> {
        let cert = Certificate::from_key_and_sha1_thumbprint(
            private_key_pem.as_ref(),
            sha1_thumbprint_hex,
            None,
        )?;
        Ok(ClientCredential::from_inner(Inner::Certificate(cert)))
    }

    /// As [`ClientCredential::certificate_key_with_thumbprint`], with a passphrase-protected
    /// key (`ENCRYPTED PRIVATE KEY`, PKCS#8 with PBES2): MSAL Python's `private_key` +
    /// `thumbprint` + `passphrase`.
    ///
    /// # Errors
    ///
    /// As [`ClientCredential::certificate_key_with_thumbprint`], and an
    /// [`ErrorKind::Configuration`] error when the passphrase is wrong.
    pub fn certificate_key_with_thumbprint_encrypted(
        private_key_pem: impl AsRef<[u8]>,
        sha1_thumbprint_hex: &str,
        passphrase: &str,
    ) -> Result<ClientCredential> {
        let cert = Certificate::from_key_and_sha1_thumbprint(
            private_key_pem.as_ref(),
            sha1_thumbprint_hex,
            Some(passphrase),
        )?;
        Ok(ClientCredential::from_inner(Inner::Certificate(cert)))
    }

    /// Whether to send the certificate chain as `x5c` in assertion headers ("subject name and
    /// issuer" authentication, for apps that trust a certificate by subject rather than by
    /// thumbprint). Off by default; no effect on credentials other than certificates.
    #[must_use]
    pub fn send_x5c(mut self, send: bool) -> ClientCredential {
        self.send_x5c = send;
        self
    }

    /// A static, pre-signed client assertion (for example a federated identity credential),
    /// sent as-is with every request.
    pub fn assertion(jwt: impl Into<String>) -> ClientCredential {
        ClientCredential::from_inner(Inner::Assertion(SecretString::from(jwt.into())))
    }

    /// A client assertion produced per request by `f`, which is told the request's client id,
    /// token endpoint and `fmi_path`. Its errors surface as [`ErrorKind::Credential`].
    ///
    /// ```
    /// use msal_core::credential::{AssertionContext, ClientCredential};
    ///
    /// let credential = ClientCredential::assertion_callback(|ctx: AssertionContext| async move {
    ///     // Fetch a token for `ctx.client_id` from the workload's identity provider here.
    ///     Ok(format!("assertion-for-{}", ctx.client_id))
    /// });
    /// # let _ = credential;
    /// ```
    pub fn assertion_callback<F, Fut>(f: F) -> ClientCredential
    where
        F: Fn(AssertionContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String>> + Send + 'static,
    {
        let callback: Box<AssertionCallback> =
            Box::new(move |ctx| -> BoxFuture<'static, Result<String>> { Box::pin(f(ctx)) });
        ClientCredential::from_inner(Inner::Callback(callback))
    }

    /// The certificate's `x5t#S256` thumbprint: base64url of the SHA-256 of the leaf
    /// certificate's DER, with `=` padding (44 characters). `None` for other credentials and
    /// for a key given with only its SHA-1 thumbprint.
    pub fn certificate_thumbprint_sha256(&self) -> Option<String> {
        match &*self.inner {
            Inner::Certificate(c) => c.thumbprint_sha256().map(str::to_owned),
            _ => None,
        }
    }

    /// The certificate's `x5t` thumbprint: base64url of the SHA-1 of the leaf certificate's
    /// DER (or of the supplied SHA-1 thumbprint), with `=` padding (28 characters). `None` for
    /// credentials other than certificates.
    pub fn certificate_thumbprint_sha1(&self) -> Option<String> {
        match &*self.inner {
            Inner::Certificate(c) => Some(c.thumbprint_sha1().to_owned()),
            _ => None,
        }
    }

    fn from_inner(inner: Inner) -> ClientCredential {
        ClientCredential {
            inner: Arc::new(inner),
            send_x5c: false,
            client_claims: None,
        }
    }

    /// The same credential, signing `claims` into its certificate assertions as well
    /// (`ConfidentialClientBuilder::client_claims`). An error for credentials that sign
    /// nothing (a secret, a pre-signed assertion or a callback): the claims could not be sent.
    pub(crate) fn with_client_claims(
        mut self,
        claims: serde_json::Map<String, serde_json::Value>,
    ) -> Result<ClientCredential> {
        if !matches!(&*self.inner, Inner::Certificate(_)) {
            return Err(Error::new(
                ErrorKind::Configuration,
                "client_claims are signed into a certificate's client assertion; this credential is not a certificate",
            ));
        }
        self.client_claims = (!claims.is_empty()).then(|| Arc::new(claims));
        Ok(self)
    }

    /// True for a client secret.
    #[cfg(test)]
    pub(crate) fn is_secret(&self) -> bool {
        matches!(&*self.inner, Inner::Secret(_))
    }

    /// The client authentication for one token request.
    pub(crate) async fn client_auth(&self, req: &ClientAuthRequest<'_>) -> Result<ClientAuth> {
        match &*self.inner {
            Inner::Secret(s) => Ok(ClientAuth::Secret(s.clone())),
            Inner::Assertion(jwt) => {
                if jwt.expose_secret().trim().is_empty() {
                    return Err(Error::new(
                        ErrorKind::Credential,
                        "the client assertion is empty",
                    ));
                }
                Ok(ClientAuth::Assertion(jwt.clone()))
            }
            Inner::Certificate(cert) => Ok(ClientAuth::Assertion(cert.assertion(
                req,
                self.send_x5c,
                self.client_claims.as_deref(),
            )?)),
            Inner::Callback(callback) => {
                let ctx = AssertionContext {
                    client_id: req.client_id.to_owned(),
                    token_endpoint: req.token_endpoint.to_owned(),
                    fmi_path: req.fmi_path.map(str::to_owned),
                };
                let jwt = callback(ctx).await.map_err(|e| {
                    Error::with_source(
                        ErrorKind::Credential,
                        format!("the client assertion callback failed: {e}"),
                        e,
                    )
                })?;
                if jwt.trim().is_empty() {
                    return Err(Error::new(
                        ErrorKind::Credential,
                        "the client assertion callback returned an empty assertion",
                    ));
                }
                Ok(ClientAuth::Assertion(SecretString::from(jwt)))
            }
        }
    }
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ClientCredential");
        match &*self.inner {
            Inner::Secret(_) => d.field("kind", &"secret"),
            Inner::Assertion(_) => d.field("kind", &"assertion"),
            Inner::Callback(_) => d.field("kind", &"assertion_callback"),
            Inner::Certificate(c) => d
                .field("kind", &"certificate")
                .field("x5t#S256", &c.thumbprint_sha256())
                .field("x5t", &c.thumbprint_sha1())
                .field("chain_len", &c.chain_len())
                .field("send_x5c", &self.send_x5c),
        };
        // Claim names only: their values may be sensitive.
        if let Some(c) = &self.client_claims {
            d.field("client_claims", &c.keys().collect::<Vec<_>>());
        }
        d.finish_non_exhaustive()
    }
}

/// The client authentication of one token request.
pub(crate) enum ClientAuth {
    /// Sent as the `client_secret` form field.
    Secret(SecretString),
    /// Sent as `client_assertion`, with `client_assertion_type` jwt-bearer.
    Assertion(SecretString),
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuth::Secret(_) => f.write_str("ClientAuth::Secret([REDACTED])"),
            ClientAuth::Assertion(_) => f.write_str("ClientAuth::Assertion([REDACTED])"),
        }
    }
}

/// What a credential needs to know about the request it authenticates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAuthRequest<'a> {
    /// The application's client id: the assertion's `iss` and `sub`.
    pub(crate) client_id: &'a str,
    /// The central token endpoint URL: the assertion's `aud`.
    pub(crate) audience: &'a str,
    /// Where the request is actually sent (may be regional): told to assertion callbacks.
    pub(crate) token_endpoint: &'a str,
    /// ADFS wants RS256 with an `x5t` (SHA-1) thumbprint instead of PS256 with `x5t#S256`.
    pub(crate) is_adfs: bool,
    /// The request's `fmi_path`, told to assertion callbacks.
    pub(crate) fmi_path: Option<&'a str>,
    /// The time of the request, from the app's clock: dates the assertion and decides reuse.
    pub(crate) now: SystemTime,
}

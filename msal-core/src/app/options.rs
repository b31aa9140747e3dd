//! Options shared by the apps and their request builders: the per-request options every
//! `acquire_*` builder offers, the future those builders turn into, and the explicitly named
//! dangerous switches.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::authority::Authority;
use crate::cache::TokenBinding;
use crate::clock::Clock;
use crate::error::{Error, Result};

/// The `token_type` of an SSH certificate request (msal/application.py
/// `_validate_ssh_cert_input_data`).
pub(crate) const SSH_CERT: &str = "ssh-cert";

/// Asks for an OpenSSH certificate instead of a Bearer token (Entra ID's `token_type=ssh-cert`).
///
/// The identity provider answers with `token_type` `ssh-cert` and an access token that is the
/// certificate for the public key in `req_cnf` (what `az ssh` writes after
/// `ssh-rsa-cert-v01@openssh.com `). Certificates are cached like MSAL Python caches them
/// (msal/token_cache.py): under the access token's usual key, with the entry's `token_type`
/// `ssh-cert` and its `key_id`; a request is served only a cached certificate of the same
/// `key_id`, and a Bearer request never a certificate (nor the reverse). A certificate and a
/// Bearer token for the same scopes take the same cache slot in every MSAL (MSAL .NET keeps
/// SSH certificates under the Bearer key for compatibility), so getting one replaces the other.
///
/// ```
/// use msal_core::SshCertificateRequest;
///
/// let jwk = r#"{"kty":"RSA","n":"u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw","e":"AQAB","kid":"k1"}"#;
/// let request = SshCertificateRequest::new("k1", jwk);
/// assert_eq!(request.key_id, "k1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SshCertificateRequest {
    /// Names the key in `req_cnf`; cached certificates are looked up by it.
    pub key_id: String,
    /// The public key to certify, as a JSON Web Key (RFC 7517), e.g.
    /// `{"kty":"RSA","n":"...","e":"AQAB","kid":"..."}`. Sent as is.
    pub req_cnf: String,
}

impl SshCertificateRequest {
    /// Refuses a request without a key id or a key (msal/application.py
    /// `_validate_ssh_cert_input_data`).
    pub(crate) fn check(&self) -> Result<()> {
        if self.key_id.is_empty() || self.req_cnf.is_empty() {
            return Err(Error::invalid_input(
                "an SSH certificate request needs a key_id and the public key (req_cnf)",
            ));
        }
        Ok(())
    }

    /// A request for a certificate of the key `req_cnf` (a JWK as JSON) named `key_id`.
    pub fn new(key_id: impl Into<String>, req_cnf: impl Into<String>) -> SshCertificateRequest {
        SshCertificateRequest {
            key_id: key_id.into(),
            req_cnf: req_cnf.into(),
        }
    }
}

/// Per-request options common to every acquisition builder.
#[derive(Default, Clone)]
pub(crate) struct RequestOptions {
    pub(crate) authority: Option<Authority>,
    pub(crate) tenant: Option<String>,
    pub(crate) claims: Option<String>,
    pub(crate) force_refresh: bool,
    pub(crate) correlation_id: Option<String>,
    pub(crate) extra_body: Vec<(String, String)>,
    pub(crate) extra_query: Vec<(String, String)>,
    pub(crate) ssh_certificate: Option<SshCertificateRequest>,
    pub(crate) pop_key: Option<crate::pop::PopKey>,
    /// Client-originated claims (MSAL Python's `forwarded_client_claims`): merged into the
    /// `claims` field and part of the extended cache key, the cache still read.
    pub(crate) forwarded_client_claims: Option<String>,
}

impl RequestOptions {
    /// The extra body fields as pairs, for the extended cache key.
    pub(crate) fn extra_body_pairs(&self) -> Vec<(&str, &str)> {
        self.extra_body
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The fields of the extended cache key: the extra body fields and, under MSAL Python's
    /// internal name `client_claims`, the forwarded client claims (msal/application.py
    /// `_stash_client_claims`); `None` when there are none.
    pub(crate) fn ext_cache_key(&self) -> Option<String> {
        if self.extra_body.is_empty() && self.forwarded_client_claims.is_none() {
            return None;
        }
        let mut pairs = self.extra_body_pairs();
        if let Some(c) = &self.forwarded_client_claims {
            pairs.retain(|(k, _)| *k != "client_claims");
            pairs.push(("client_claims", c.as_str()));
        }
        crate::cache::keys::ext_cache_key(&pairs)
    }

    /// The last value of the extra body field `name`.
    fn extra(&self, name: &str) -> Option<&str> {
        self.extra_body
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The token type and key this request asks for: a proof-of-possession key's (`pop` and its
    /// key id), else an SSH certificate's, else what the extra body fields `token_type` and
    /// `key_id` say (as MSAL Python's `data=`), else Bearer.
    pub(crate) fn binding(&self) -> TokenBinding<'_> {
        if let Some(key) = &self.pop_key {
            return TokenBinding {
                token_type: crate::pop::POP,
                key_id: Some(key.key_id()),
            };
        }
        match &self.ssh_certificate {
            Some(ssh) => TokenBinding {
                token_type: SSH_CERT,
                key_id: Some(ssh.key_id.as_str()),
            },
            None => TokenBinding {
                token_type: self
                    .extra("token_type")
                    .filter(|t| !t.is_empty())
                    .unwrap_or(TokenBinding::BEARER.token_type),
                key_id: self.extra("key_id").filter(|k| !k.is_empty()),
            },
        }
    }

    /// Refuses an SSH certificate request without its key (msal/application.py
    /// `_validate_ssh_cert_input_data`), one given both as `ssh_certificate` and as extra body
    /// fields, and a proof-of-possession request that also asks for an SSH certificate or sets
    /// the binding's fields as extra body fields.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(c) = &self.forwarded_client_claims
            && !matches!(
                serde_json::from_str::<serde_json::Value>(c),
                Ok(serde_json::Value::Object(_))
            )
        {
            return Err(Error::invalid_input(
                "the forwarded client claims are not a JSON object",
            ));
        }
        let named = |f: &str| self.extra_body.iter().any(|(k, _)| k == f);
        if self.pop_key.is_some() {
            if self.ssh_certificate.is_some() {
                return Err(Error::invalid_input(
                    "a request asks for a proof-of-possession token or an SSH certificate, not both",
                ));
            }
            if ["token_type", "req_cnf", "key_id"].iter().any(|f| named(f)) {
                return Err(Error::invalid_input(
                    "a proof-of-possession request sets token_type and req_cnf itself: do not also give them as extra body fields",
                ));
            }
        }
        match &self.ssh_certificate {
            Some(ssh) => {
                if ["token_type", "req_cnf", "key_id"].iter().any(|f| named(f)) {
                    return Err(Error::invalid_input(
                        "an SSH certificate request sets token_type, req_cnf and key_id itself: do not also give them as extra body fields",
                    ));
                }
                ssh.check()?;
            }
            None if self.extra("token_type") == Some(SSH_CERT) => {
                if self.extra("req_cnf").is_none_or(str::is_empty) {
                    return Err(Error::invalid_input(
                        "token_type=ssh-cert needs a req_cnf field: the public key as a JWK",
                    ));
                }
                if self.extra("key_id").is_none_or(str::is_empty) {
                    return Err(Error::invalid_input(
                        "token_type=ssh-cert needs a key_id field naming the key in req_cnf",
                    ));
                }
            }
            None => {}
        }
        Ok(())
    }

    /// The form fields of the request's token binding and its extra body fields, in that
    /// order (`token_type`, `req_cnf`, `key_id` as MSAL Python's documented `data=`).
    pub(crate) fn extra_fields(&self) -> Vec<(&str, &str)> {
        let mut v = Vec::with_capacity(self.extra_body.len() + 3);
        if let Some(key) = &self.pop_key {
            // MSAL .NET's `PopAuthenticationOperation.GetTokenRequestParams`: no `key_id` field.
            v.push(("token_type", crate::pop::POP));
            v.push(("req_cnf", key.req_cnf()));
        }
        if let Some(ssh) = &self.ssh_certificate {
            v.push(("token_type", SSH_CERT));
            v.push(("req_cnf", ssh.req_cnf.as_str()));
            v.push(("key_id", ssh.key_id.as_str()));
        }
        v.extend(self.extra_body_pairs());
        v
    }

    /// True when the cache must not be read: a claims challenge or force refresh.
    pub(crate) fn bypasses_cache(&self) -> bool {
        self.force_refresh || self.claims.is_some()
    }
}

/// Generates the per-request option setters on a builder with a `options: RequestOptions`
/// field.
macro_rules! request_option_setters {
    () => {
        /// Sends the request to another authority than the app's, e.g. another B2C policy.
        pub fn authority(mut self, authority: $crate::Authority) -> Self {
            self.options.authority = Some(authority);
            self
        }

        /// Sends the request to another tenant of the same cloud (one app, many tenants).
        pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
            self.options.tenant = Some(tenant.into());
            self
        }

        /// A claims challenge (from a `WWW-Authenticate` header or an error's
        /// [`claims`](crate::ServiceError::claims)); the cache is not read.
        pub fn claims(mut self, claims: impl Into<String>) -> Self {
            self.options.claims = Some(claims.into());
            self
        }

        /// Skips the cached access token and asks the identity provider.
        pub fn force_refresh(mut self, force: bool) -> Self {
            self.options.force_refresh = force;
            self
        }

        /// The correlation id sent as `client-request-id` (a random UUID otherwise).
        pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
            self.options.correlation_id = Some(id.into());
            self
        }

        /// An extra form field for the token request (e.g. `fmi_path`). Tokens obtained with
        /// extra fields are cached apart (MSAL's extended cache key). The fields of an SSH
        /// certificate (`token_type=ssh-cert`, `req_cnf`, `key_id`) are better set with
        /// `ssh_certificate` where offered; given here they key the cache the same way.
        pub fn extra_body(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.options.extra_body.push((name.into(), value.into()));
            self
        }

        /// An extra query parameter for the token endpoint URL.
        pub fn extra_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.options.extra_query.push((name.into(), value.into()));
            self
        }
    };
}
pub(crate) use request_option_setters;

/// Generates `ssh_certificate` on a builder with a `options: RequestOptions` field: the flows
/// where MSAL Python checks an SSH certificate request (msal/application.py
/// `_validate_ssh_cert_input_data`).
macro_rules! ssh_certificate_setter {
    () => {
        /// Asks for an SSH certificate for a public key instead of a Bearer token (see
        /// [`SshCertificateRequest`](crate::SshCertificateRequest)): only a cached
        /// certificate of the same `key_id` is served.
        pub fn ssh_certificate(mut self, request: $crate::SshCertificateRequest) -> Self {
            self.options.ssh_certificate = Some(request);
            self
        }
    };
}
pub(crate) use ssh_certificate_setter;

/// Generates `proof_of_possession` on a builder with a `options: RequestOptions` field: the
/// confidential-client flows where MSAL .NET offers `WithSignedHttpRequestProofOfPossession`.
macro_rules! proof_of_possession_setter {
    () => {
        /// Asks for a proof-of-possession token bound to `key` instead of a Bearer token
        /// (Entra ID's `token_type=pop` with `req_cnf`; see [`PopKey`](crate::PopKey)). Only a
        /// cached PoP token of the same key is served; spend it with
        /// [`PopKey::sign_http_request`](crate::PopKey::sign_http_request).
        pub fn proof_of_possession(mut self, key: $crate::PopKey) -> Self {
            self.options.pop_key = Some(key);
            self
        }
    };
}
pub(crate) use proof_of_possession_setter;

/// Generates `forwarded_client_claims` on a builder with an `options: RequestOptions` field.
macro_rules! forwarded_client_claims_setter {
    () => {
        /// Client-originated claims, a JSON object (MSAL Python's `forwarded_client_claims`):
        /// merged into the `claims` request field (deep-merged over the client capabilities
        /// and any claims challenge, these claims winning), and part of the extended cache
        /// key. Unlike a claims challenge the cache is read: send the same value on every
        /// request that should share a cached token. Not the client assertion's claims
        /// ([`ConfidentialClientBuilder::client_claims`](crate::ConfidentialClientBuilder::client_claims)).
        /// A value that is not a JSON object fails the request with
        /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) before anything is sent.
        pub fn forwarded_client_claims(mut self, claims: impl Into<String>) -> Self {
            self.options.forwarded_client_claims = Some(claims.into());
            self
        }
    };
}
pub(crate) use forwarded_client_claims_setter;

type BoxedAcquire<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The future of an `acquire_*` builder. A cache hit is resolved before the future is first
/// polled, without allocating; anything else runs as a boxed future.
#[must_use = "futures do nothing unless awaited"]
pub struct AcquireFuture<'a, T> {
    state: State<'a, T>,
}

enum State<'a, T> {
    Ready(Option<Result<T>>),
    Pending(BoxedAcquire<'a, T>),
}

impl<'a, T> AcquireFuture<'a, T> {
    pub(crate) fn ready(result: Result<T>) -> Self {
        AcquireFuture {
            state: State::Ready(Some(result)),
        }
    }

    pub(crate) fn pending(f: impl Future<Output = Result<T>> + Send + 'a) -> Self {
        AcquireFuture {
            state: State::Pending(Box::pin(f)),
        }
    }
}

impl<T: Unpin> Future for AcquireFuture<'_, T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        match &mut self.state {
            State::Ready(r) => Poll::Ready(r.take().unwrap_or_else(|| {
                Err(Error::invalid_input(
                    "the future was polled after completion",
                ))
            })),
            State::Pending(f) => f.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for AcquireFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Ready(_) => "ready",
            State::Pending(_) => "pending",
        };
        f.debug_struct("AcquireFuture")
            .field("state", &state)
            .finish()
    }
}

/// Switches that weaken security or correctness guarantees, named so. Tests and local
/// development need them; production code should not.
///
/// ```
/// use msal_core::clock::ManualClock;
/// use msal_core::DangerousOptions;
///
/// let clock = ManualClock::new();
/// let dangerous = DangerousOptions::new()
///     .clock(clock.clone())
///     .allow_http_to_loopback();
/// # let _ = dangerous;
/// ```
#[derive(Clone, Default)]
pub struct DangerousOptions {
    pub(crate) clock: Option<Arc<dyn Clock>>,
    pub(crate) skip_authority_validation: bool,
    pub(crate) allow_http_to_loopback: bool,
    pub(crate) imds_endpoint: Option<String>,
}

impl DangerousOptions {
    /// No dangerous switch on.
    pub fn new() -> DangerousOptions {
        DangerousOptions::default()
    }

    /// Replaces the system clock: every expiry, refresh, throttling and polling decision then
    /// reads this clock.
    pub fn clock(mut self, clock: impl Clock) -> DangerousOptions {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Accepts an authority on a host that Entra ID's instance discovery does not know.
    pub fn skip_authority_validation(mut self) -> DangerousOptions {
        self.skip_authority_validation = true;
        self
    }

    /// Accepts `http://` authorities and endpoints on loopback hosts (a local test IdP).
    pub fn allow_http_to_loopback(mut self) -> DangerousOptions {
        self.allow_http_to_loopback = true;
        self
    }

    /// Asks this Instance Metadata Service instead of `http://169.254.169.254` when a
    /// confidential client auto-detects its region ([`AzureRegion::AutoDetect`]), e.g. a
    /// local emulator. An http(s) base URL without query; plain http only to a loopback or
    /// link-local address. Checked when the app is built; public clients ignore it.
    ///
    /// [`AzureRegion::AutoDetect`]: crate::AzureRegion::AutoDetect
    pub fn imds_endpoint(mut self, base_url: impl Into<String>) -> DangerousOptions {
        self.imds_endpoint = Some(base_url.into());
        self
    }
}

impl fmt::Debug for DangerousOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DangerousOptions")
            .field("clock", &self.clock)
            .field("skip_authority_validation", &self.skip_authority_validation)
            .field("allow_http_to_loopback", &self.allow_http_to_loopback)
            .field("imds_endpoint", &self.imds_endpoint)
            .finish()
    }
}

//! The one error type of msal-core: opaque, cheap to clone (an `Arc` inside, so a single-flight
//! result can be handed to every waiter), with a [`ErrorKind`] to branch on, the identity
//! provider's error fields in [`ServiceError`], and predicates for the common decisions.
//!
//! No secret ever reaches an error: messages are written by this crate from fixed text and
//! non-secret values (URLs without query, status codes, field names).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A specialised `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, broadly. New kinds may be added in minor releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The application was configured wrongly (authority URL, credential, option values).
    Configuration,
    /// A call received an invalid argument (scopes, user assertion, claims JSON).
    InvalidInput,
    /// The client credential could not produce client authentication (key, certificate,
    /// assertion callback).
    Credential,
    /// The request did not get a response: connection, TLS, DNS or timeout failure.
    Transport,
    /// The identity provider answered with an OAuth error; see [`Error::service`].
    Service,
    /// The identity provider answered with something that is not a valid response
    /// (not JSON, missing fields, too large, unexpected status).
    InvalidResponse,
    /// Authority validation, instance discovery or tenant discovery failed.
    Discovery,
    /// The token cache could not be read, parsed or written.
    Cache,
    /// The request was not sent because the identity provider asked to back off.
    Throttled,
    /// A value failed a protocol check (state, nonce, `max_age`, token shape, an ID token's
    /// `aud` or `iss`; see
    /// [`AuthenticationResult::id_token_claims`](crate::AuthenticationResult::id_token_claims)).
    Validation,
    /// Only the user can go on: no usable token or refresh token is cached, or the sign-in
    /// was not completed in time.
    InteractionRequired,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::Configuration => "configuration error",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Credential => "client credential error",
            ErrorKind::Transport => "transport error",
            ErrorKind::Service => "identity provider error",
            ErrorKind::InvalidResponse => "invalid response from the identity provider",
            ErrorKind::Discovery => "authority discovery error",
            ErrorKind::Cache => "token cache error",
            ErrorKind::Throttled => "request throttled",
            ErrorKind::Validation => "validation error",
            ErrorKind::InteractionRequired => "user interaction required",
        }
    }
}

/// The fields of an OAuth 2.0 error response from Microsoft Entra ID (or another authority).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceError {
    /// HTTP status of the response.
    pub status: u16,
    /// The OAuth `error` code, e.g. `invalid_grant`.
    pub error: String,
    /// The human-readable `error_description` (Entra prefixes it with `AADSTSnnnnn:`).
    pub error_description: Option<String>,
    /// Entra's numeric `error_codes`.
    pub error_codes: Vec<u64>,
    /// Entra's `suberror`, e.g. `bad_token` or `consent_required`.
    pub suberror: Option<String>,
    /// MSAL's classification derived from `suberror` (silent flows only).
    pub classification: Option<String>,
    /// A claims challenge the client should send back on its next interactive request.
    pub claims: Option<String>,
    /// The correlation id Entra reports.
    pub correlation_id: Option<String>,
    /// Entra's trace id.
    pub trace_id: Option<String>,
    /// How long the identity provider asked the client to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl ServiceError {
    /// Parses an OAuth error body. Returns `None` when the body carries no `error` field.
    pub(crate) fn from_json(status: u16, body: &serde_json::Value) -> Option<ServiceError> {
        let obj = body.as_object()?;
        let error = obj.get("error")?.as_str()?.to_owned();
        let text = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let error_codes = obj
            .get("error_codes")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|c| c.as_u64()).collect())
            .unwrap_or_default();
        Some(ServiceError {
            status,
            error,
            error_description: text("error_description"),
            error_codes,
            suberror: text("suberror"),
            classification: None,
            claims: text("claims"),
            correlation_id: text("correlation_id"),
            trace_id: text("trace_id"),
            retry_after: None,
        })
    }
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    service: Option<ServiceError>,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    /// The status of the HTTP response the error was built from.
    http_status: Option<u16>,
}

/// The error of every fallible msal-core operation.
///
/// Cheap to clone. Branch on [`Error::kind`], read the identity provider's fields with
/// [`Error::service`], or use the predicates such as [`Error::is_interaction_required`].
#[derive(Clone)]
pub struct Error {
    inner: Arc<Inner>,
}

impl Error {
    /// Creates an error of `kind` with a message. The message must not contain secrets.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Arc::new(Inner {
                kind,
                message: message.into(),
                service: None,
                source: None,
                http_status: None,
            }),
        }
    }

    /// Creates an error of `kind` caused by `source`.
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error {
            inner: Arc::new(Inner {
                kind,
                message: message.into(),
                service: None,
                source: Some(Arc::new(source)),
                http_status: None,
            }),
        }
    }

    /// A transport failure (for [`HttpClient`](crate::http::HttpClient) implementations).
    pub fn transport(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::with_source(ErrorKind::Transport, message, source)
    }

    pub(crate) fn from_service(service: ServiceError) -> Error {
        let message = match &service.error_description {
            Some(d) => format!("{}: {}", service.error, d),
            None => service.error.clone(),
        };
        Error {
            inner: Arc::new(Inner {
                kind: ErrorKind::Service,
                message,
                service: Some(service),
                source: None,
                http_status: None,
            }),
        }
    }

    pub(crate) fn with_service(
        kind: ErrorKind,
        message: impl Into<String>,
        service: ServiceError,
    ) -> Error {
        Error {
            inner: Arc::new(Inner {
                kind,
                message: message.into(),
                service: Some(service),
                source: None,
                http_status: None,
            }),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Configuration, message)
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidInput, message)
    }

    pub(crate) fn invalid_response(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidResponse, message)
    }

    /// This error, marked as built from an HTTP response with `status`.
    pub(crate) fn at_http_status(self, status: u16) -> Error {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        inner.http_status = Some(status);
        Error {
            inner: Arc::new(inner),
        }
    }

    /// The message, without the kind's prefix.
    pub(crate) fn message(&self) -> &str {
        &self.inner.message
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The identity provider's error fields, when it answered with an OAuth error.
    pub fn service(&self) -> Option<&ServiceError> {
        self.inner.service.as_ref()
    }

    /// The status of the HTTP response this error was built from: set for every error made
    /// from a response of the identity provider (an OAuth error, an error status with an
    /// empty, HTML or text body, a redirect, a body that is not a valid response), `None` when
    /// no response was received (transport, configuration, cache) or none was sent (throttled:
    /// the remembered status is in [`Error::service`]).
    ///
    /// ```
    /// # fn check(e: &msal_core::Error) {
    /// if e.http_status() == Some(403) {
    ///     // e.g. a proxy or a web application firewall refused the request
    /// }
    /// # }
    /// ```
    pub fn http_status(&self) -> Option<u16> {
        self.inner.http_status
    }

    /// The OAuth `error` code the identity provider sent, if it sent one (not the `http_{status}`
    /// placeholder of a body without one).
    fn oauth_error(&self) -> Option<&str> {
        self.inner
            .service
            .as_ref()
            .map(|s| s.error.as_str())
            .filter(|e| !is_placeholder(e))
    }

    /// How long to wait before retrying, when the identity provider said so.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.service.as_ref().and_then(|s| s.retry_after)
    }

    /// True when only a user interaction can fix this (sign in again, consent, MFA):
    /// `interaction_required`, `login_required`, `consent_required`, or `invalid_grant`
    /// (an expired or revoked refresh token) from the identity provider, or nothing usable in
    /// the cache ([`ErrorKind::InteractionRequired`]).
    pub fn is_interaction_required(&self) -> bool {
        if self.inner.kind == ErrorKind::InteractionRequired {
            return true;
        }
        match &self.inner.service {
            Some(s) => matches!(
                s.error.as_str(),
                "interaction_required" | "login_required" | "consent_required" | "invalid_grant"
            ),
            None => false,
        }
    }

    /// True when the request was refused locally because the identity provider asked the
    /// client to back off, or the identity provider answered 429.
    pub fn is_throttled(&self) -> bool {
        self.inner.kind == ErrorKind::Throttled
            || self.inner.service.as_ref().is_some_and(|s| s.status == 429)
    }

    /// True when the identity provider rejected the client's identity or credential
    /// (`invalid_client`, `unauthorized_client`), or answered HTTP 401 without an OAuth error
    /// code (an empty, HTML or text body): RFC 6749 section 5.2 reserves 401 at the token
    /// endpoint for failed client authentication.
    pub fn is_invalid_client(&self) -> bool {
        match self.oauth_error() {
            Some(e) => matches!(e, "invalid_client" | "unauthorized_client"),
            None => {
                matches!(
                    self.inner.kind,
                    ErrorKind::Service | ErrorKind::InvalidResponse
                ) && self.inner.http_status == Some(401)
            }
        }
    }

    /// True when retrying later may succeed: transport failures, HTTP 5xx, 429, throttling.
    pub fn is_transient(&self) -> bool {
        match self.inner.kind {
            ErrorKind::Transport | ErrorKind::Throttled => true,
            ErrorKind::Service | ErrorKind::InvalidResponse => self
                .inner
                .service
                .as_ref()
                .is_some_and(|s| s.status >= 500 || s.status == 429),
            _ => false,
        }
    }
}

/// `http_{status}`: the code this crate puts in a [`ServiceError`] whose body had none.
pub(crate) fn placeholder_code(status: u16) -> String {
    format!("http_{status}")
}

fn is_placeholder(code: &str) -> bool {
    code.strip_prefix("http_")
        .is_some_and(|d| d.len() == 3 && d.bytes().all(|b| b.is_ascii_digit()))
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(s) = &self.inner.service {
            d.field("service", s);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        if let Some(s) = self.inner.http_status {
            d.field("http_status", &s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.kind.describe(), self.inner.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entra_error_and_classifies() {
        let body = serde_json::json!({
            "error": "invalid_grant",
            "error_description": "AADSTS70000: bad",
            "error_codes": [70000],
            "suberror": "bad_token",
            "correlation_id": "c",
            "trace_id": "t",
        });
        let s = ServiceError::from_json(400, &body).expect("an error body");
        assert_eq!(s.error_codes, vec![70000]);
        assert_eq!(s.suberror.as_deref(), Some("bad_token"));
        let e = Error::from_service(s);
        assert!(e.is_interaction_required());
        assert!(!e.is_transient());
        assert!(!e.is_throttled());
        assert_eq!(e.kind(), ErrorKind::Service);
        assert!(e.to_string().contains("AADSTS70000"));
        let clone = e.clone();
        assert_eq!(clone.service(), e.service());
    }

    #[test]
    fn transient_and_throttled() {
        let s = ServiceError {
            status: 503,
            error: "temporarily_unavailable".into(),
            ..Default::default()
        };
        assert!(Error::from_service(s).is_transient());
        let t = Error::new(ErrorKind::Throttled, "wait");
        assert!(t.is_throttled() && t.is_transient());
        assert_eq!(t.http_status(), None);
        assert!(is_placeholder(&placeholder_code(401)));
        assert!(!is_placeholder("http_40x") && !is_placeholder("invalid_client"));
        // A 401 that is not from a response (no status) is not an invalid client.
        let e = Error::invalid_response("x");
        assert!(!e.is_invalid_client());
        let e = e.at_http_status(401);
        assert!(e.is_invalid_client() && format!("{e:?}").contains("401"));
        assert!(ServiceError::from_json(200, &serde_json::json!({"access_token": "x"})).is_none());
    }
}

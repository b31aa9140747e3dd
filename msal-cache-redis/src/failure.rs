//! Why a Redis call failed, as a type: every store error is an [`ErrorKind::Cache`] error whose
//! source is a [`RedisStoreError`], so that an application (or a health check) can tell a wrong
//! password from an untrusted certificate from a server that is down.

use std::fmt;

use msal_core::{Error, ErrorKind};
use redis::RedisError;

/// The category of a failed Redis call; see [`RedisFailure::of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RedisFailure {
    /// The server refused the credentials: wrong password, unknown or disabled ACL user
    /// (`WRONGPASS`), or a password required but none given (`NOAUTH`).
    Authentication,
    /// The ACL user may not run the store's commands or touch its keys (`NOPERM`).
    Permission,
    /// The TLS handshake failed: the server's certificate is not trusted (wrong CA), does not
    /// name the host, has expired, or the server does not speak TLS.
    Tls,
    /// The call exceeded its deadline (a slow, hung or unreachable server).
    Deadline,
    /// The circuit breaker is open: the call was not attempted.
    BreakerOpen,
    /// Redis could not be reached or is not serving (connection refused or lost, loading,
    /// cluster down).
    Unavailable,
    /// Redis answered the request with an error (other than the ones above).
    Refused,
    /// Redis answered with a reply the store does not understand.
    UnexpectedReply,
    /// A write lost the compare-and-set race to other writers more times than allowed
    /// ([`max_cas_retries`](crate::RedisCacheBuilder::max_cas_retries)).
    Contention,
}

impl RedisFailure {
    /// The failure category of an error returned by this store, or `None` for an error that
    /// did not come from it.
    pub fn of(error: &Error) -> Option<RedisFailure> {
        std::error::Error::source(error)?
            .downcast_ref::<RedisStoreError>()
            .map(RedisStoreError::failure)
    }

    fn describe(self) -> &'static str {
        match self {
            RedisFailure::Authentication => "redis authentication failed",
            RedisFailure::Permission => "redis refused permission (ACL)",
            RedisFailure::Tls => "redis TLS handshake failed",
            RedisFailure::Deadline => "redis call exceeded its deadline",
            RedisFailure::BreakerOpen => "redis circuit breaker open",
            RedisFailure::Unavailable => "redis unavailable",
            RedisFailure::Refused => "redis refused the request",
            RedisFailure::UnexpectedReply => "unexpected reply from redis",
            RedisFailure::Contention => "redis write abandoned after compare-and-set conflicts",
        }
    }
}

/// The source of every error this store returns: its [`RedisFailure`], a message, and the
/// `redis` crate's error when there is one.
#[derive(Debug, Clone)]
pub struct RedisStoreError {
    failure: RedisFailure,
    message: String,
    source: Option<RedisError>,
}

impl RedisStoreError {
    /// The failure category.
    pub fn failure(&self) -> RedisFailure {
        self.failure
    }
}

impl fmt::Display for RedisStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RedisStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// An [`ErrorKind::Cache`] error of `failure` with `message` (used as is).
pub(crate) fn error(failure: RedisFailure, message: impl Into<String>) -> Error {
    let message = message.into();
    Error::with_source(
        ErrorKind::Cache,
        message.clone(),
        RedisStoreError {
            failure,
            message,
            source: None,
        },
    )
}

/// An [`ErrorKind::Cache`] error for a failed Redis call, its category found from `e`.
pub(crate) fn from_redis(e: RedisError) -> Error {
    let failure = classify(&e);
    let message = match failure {
        RedisFailure::Authentication => format!(
            "{}: the server refused the user name or password ({})",
            failure.describe(),
            e.code().unwrap_or("AUTH")
        ),
        RedisFailure::Tls => match rustls_error(&e) {
            Some(tls) => format!("{}: {tls}", failure.describe()),
            None => failure.describe().to_owned(),
        },
        RedisFailure::Deadline => "redis call timed out".to_owned(),
        _ => format!("{}: {}", failure.describe(), e.category()),
    };
    Error::with_source(
        ErrorKind::Cache,
        message.clone(),
        RedisStoreError {
            failure,
            message,
            source: Some(e),
        },
    )
}

/// The category of a `redis` crate error.
pub(crate) fn classify(e: &RedisError) -> RedisFailure {
    use redis::{ErrorKind as K, ServerErrorKind as S};
    if rustls_error(e).is_some() {
        return RedisFailure::Tls;
    }
    if e.is_timeout() {
        return RedisFailure::Deadline;
    }
    match e.code() {
        Some("NOAUTH" | "WRONGPASS") => return RedisFailure::Authentication,
        Some("NOPERM") => return RedisFailure::Permission,
        _ => {}
    }
    match e.kind() {
        K::AuthenticationFailed => RedisFailure::Authentication,
        K::Server(S::NoPerm) => RedisFailure::Permission,
        K::Server(S::BusyLoading | S::TryAgain | S::ClusterDown | S::MasterDown | S::ReadOnly) => {
            RedisFailure::Unavailable
        }
        K::Server(_) | K::Client | K::InvalidClientConfig => RedisFailure::Refused,
        K::Extension if e.code() == Some("BUSY") => RedisFailure::Unavailable,
        K::Extension => RedisFailure::Refused,
        K::UnexpectedReturnType | K::Parse => RedisFailure::UnexpectedReply,
        _ => RedisFailure::Unavailable,
    }
}

/// The rustls error behind `e`, if the failure was a TLS one. tokio-rustls reports handshake
/// failures as an `io::Error` wrapping the `rustls::Error`, which `io::Error::source` skips,
/// hence the `get_ref`; redis keeps it in an `Arc`, whose `source` skips it as well.
fn rustls_error(e: &RedisError) -> Option<&rustls::Error> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(current) = next {
        if let Some(shared) = current.downcast_ref::<Shared>() {
            next = Some(&**shared);
            continue;
        }
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            next = inner.source();
            continue;
        }
        next = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        let auth = RedisError::from((redis::ErrorKind::AuthenticationFailed, "x"));
        assert_eq!(classify(&auth), RedisFailure::Authentication);
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(classify(&io), RedisFailure::Unavailable);
        let tls = RedisError::from(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        assert_eq!(classify(&tls), RedisFailure::Tls);
        let err = from_redis(tls);
        assert_eq!(RedisFailure::of(&err), Some(RedisFailure::Tls));
        assert!(err.to_string().contains("UnknownIssuer"), "{err}");
        let noauth = redis::make_extension_error("NOAUTH".into(), Some("required".into()));
        assert_eq!(classify(&noauth), RedisFailure::Authentication);
    }
}

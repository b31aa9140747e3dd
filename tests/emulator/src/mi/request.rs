//! A managed-identity request, read whole (with a size limit and a deadline).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Request;
use http::{HeaderMap, Method, StatusCode, header};

use crate::hosts;

/// Largest body accepted (Cloud Shell's form is the only one with a body).
const BODY_LIMIT: usize = 64 * 1024;
/// How long reading the body may take.
const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// A received managed-identity request.
#[derive(Debug)]
pub(crate) struct MiRequest {
    pub(crate) method: Method,
    /// The `Host` header, normalised.
    pub(crate) host: String,
    /// The path, as received.
    pub(crate) path: String,
    /// Decoded query pairs, in order.
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    /// Decoded form pairs, when the body is form-encoded.
    pub(crate) form: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

fn pairs(s: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl MiRequest {
    /// Reads `request` whole; the status to answer when its body is too large or too slow.
    pub(crate) async fn read(request: Request) -> Result<Self, StatusCode> {
        let (parts, body) = request.into_parts();
        let body = match tokio::time::timeout(BODY_DEADLINE, axum::body::to_bytes(body, BODY_LIMIT))
            .await
        {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => return Err(StatusCode::PAYLOAD_TOO_LARGE),
            Err(_) => return Err(StatusCode::REQUEST_TIMEOUT),
        };
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        let raw_host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_default();
        Ok(Self {
            method: parts.method,
            host: hosts::normalize(&raw_host),
            path: parts.uri.path().to_string(),
            query: pairs(parts.uri.query().unwrap_or_default().as_bytes()),
            headers: parts.headers,
            form: if is_form { pairs(&body) } else { Vec::new() },
            body,
        })
    }

    /// The first header named `name` (case-insensitive), if it is text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether `Metadata: true` was sent.
    pub(crate) fn metadata(&self) -> bool {
        self.header("metadata")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// The first query value named `name`.
    pub(crate) fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first form value named `name`.
    pub(crate) fn form_value(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The headers as (lowercase name, lossy text) pairs, in order.
    pub(crate) fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    }
}

/// Compares a presented secret with the expected one in constant time.
pub(crate) fn secret_matches(presented: Option<&str>, expected: &str) -> bool {
    presented.is_some_and(|p| {
        aws_lc_rs::constant_time::verify_slices_are_equal(p.as_bytes(), expected.as_bytes()).is_ok()
    })
}

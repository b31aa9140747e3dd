//! Building responses: JSON bodies and Entra-shaped OAuth errors.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use super::clock::format_timestamp;
use super::ids;

/// A JSON response with Entra's headers.
pub(crate) fn json(status: StatusCode, value: &Value) -> Response {
    let mut resp = Response::new(Body::from(value.to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// An OAuth error as Entra sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) code: u32,
    pub(crate) description: String,
    /// Extra top-level fields (`suberror`, `claims`, `error_additional_info`, …), rendered after
    /// the standard ones.
    pub(crate) extra: Map<String, Value>,
}

impl OAuthError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        code: u32,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            code,
            description: description.into(),
            extra: Map::new(),
        }
    }

    /// Adds a top-level field to the rendered error.
    pub(crate) fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(name.to_string(), value.into());
        self
    }

    /// `invalid_grant` (400).
    pub(crate) fn invalid_grant(code: u32, description: impl Into<String>) -> Self {
        Self::bad("invalid_grant", code, description)
    }

    /// `AADSTS{code}: {description}\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …`, with
    /// the trace id, correlation id and timestamp used.
    pub(crate) fn full_description(
        &self,
        now: u64,
        correlation_id: Option<&str>,
    ) -> (String, String, String, String) {
        let trace_id = ids::random_uuid();
        let correlation_id = correlation_id.map_or_else(ids::random_uuid, str::to_string);
        let timestamp = format_timestamp(now);
        let text = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
            self.code, self.description
        );
        (text, trace_id, correlation_id, timestamp)
    }

    /// `error_uri`.
    pub(crate) fn error_uri(&self) -> String {
        format!("https://login.microsoftonline.com/error?code={}", self.code)
    }

    /// 400 with the given error.
    pub(crate) fn bad(error: &'static str, code: u32, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, code, description)
    }

    /// 401 `invalid_client`.
    pub(crate) fn invalid_client(code: u32, description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            code,
            description,
        )
    }

    /// 400 `invalid_request` for a missing parameter (AADSTS900144).
    pub(crate) fn missing(param: &str) -> Self {
        Self::bad(
            "invalid_request",
            900_144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    /// Renders the error; `correlation_id` echoes the request's `client-request-id`.
    pub(crate) fn render(&self, now: u64, correlation_id: Option<&str>) -> Response {
        let (text, trace_id, correlation_id, timestamp) =
            self.full_description(now, correlation_id);
        let mut body = json!({
            "error": self.error,
            "error_description": text,
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": self.error_uri(),
        });
        if let Some(obj) = body.as_object_mut() {
            obj.extend(self.extra.clone());
        }
        json(self.status, &body)
    }
}

/// A non-OAuth error (404 on an unknown path, and the like).
pub(crate) fn plain_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

//! Sending requests to an identity provider the way MSAL does: the form rules of msal/oauth2cli/oauth2.py
//! (field order, empty values dropped), MSAL's headers and telemetry, and the mapping of
//! responses to a [`TokenResponse`] or a typed [`Error`].

use std::borrow::Cow;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::HttpContext;
use super::telemetry::{ApiId, RefreshReason, Telemetry};
use super::throttle::{ThrottleState, Verdict};
use crate::error::{Error, ErrorKind, Result, ServiceError, placeholder_code};
use crate::response::TokenResponse;

/// The library's SKU, as sent in `x-client-sku`.
pub(crate) const SKU: &str = "MSAL.Rust";
/// The library's version, as sent in `x-client-ver`.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `x-client-os` as MSAL Python spells it (`sys.platform`).
pub(crate) fn client_os() -> &'static str {
    match std::env::consts::OS {
        "windows" => "win32",
        "macos" => "darwin",
        other => other,
    }
}

enum FormValue {
    Plain(String),
    Secret(SecretString),
}

/// A form body whose fields keep their insertion order; empty values are never added
/// (MSAL drops every falsy value).
#[derive(Default)]
pub(crate) struct Form {
    fields: Vec<(Cow<'static, str>, FormValue)>,
}

impl Form {
    /// Adds `name=value` unless `value` is empty. A field already present is replaced in place.
    pub(crate) fn push(&mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        self.insert(name.into(), FormValue::Plain(value.into()));
    }

    /// Adds a field whose value is a secret (never logged, never in the cache-key data).
    pub(crate) fn push_secret(&mut self, name: &'static str, value: SecretString) {
        self.insert(Cow::Borrowed(name), FormValue::Secret(value));
    }

    fn insert(&mut self, name: Cow<'static, str>, value: FormValue) {
        let empty = match &value {
            FormValue::Plain(v) => v.is_empty(),
            FormValue::Secret(v) => v.expose_secret().is_empty(),
        };
        if empty {
            return;
        }
        if let Some(slot) = self.fields.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else {
            self.fields.push((name, value));
        }
    }

    /// The non-secret fields, for the extended cache key.
    pub(crate) fn plain_fields(&self) -> Vec<(&str, &str)> {
        self.fields
            .iter()
            .filter_map(|(n, v)| match v {
                FormValue::Plain(v) => Some((n.as_ref(), v.as_str())),
                FormValue::Secret(_) => None,
            })
            .collect()
    }

    /// Every field, secrets included, for the throttle key (hashed there, never kept).
    pub(crate) fn key_fields(&self) -> Vec<(&str, &str)> {
        self.fields
            .iter()
            .map(|(n, v)| {
                let v = match v {
                    FormValue::Plain(v) => v.as_str(),
                    FormValue::Secret(v) => v.expose_secret(),
                };
                (n.as_ref(), v)
            })
            .collect()
    }

    /// The `grant_type` field.
    pub(crate) fn grant_type(&self) -> Option<&str> {
        self.fields.iter().find_map(|(n, v)| match v {
            FormValue::Plain(v) if n == "grant_type" => Some(v.as_str()),
            _ => None,
        })
    }

    /// The names of all fields, in order (for tests and logs).
    #[cfg(test)]
    pub(crate) fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|(n, _)| n.as_ref()).collect()
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        for (i, (n, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b'&');
            }
            quote_plus(&mut out, n);
            out.push(b'=');
            match v {
                FormValue::Plain(v) => quote_plus(&mut out, v),
                FormValue::Secret(v) => quote_plus(&mut out, v.expose_secret()),
            }
        }
        out
    }
}

/// Form-encodes `s` as Python's `urllib.parse.quote_plus` does (what MSAL Python sends):
/// letters, digits and `_.-~` stay, a space becomes `+`, every other byte is `%XX`.
fn quote_plus(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]),
        }
    }
}

/// One POST to a token (or device authorization) endpoint.
pub(crate) struct TokenRequest {
    pub(crate) endpoint: String,
    pub(crate) form: Form,
    pub(crate) correlation_id: String,
    pub(crate) api: ApiId,
    pub(crate) reason: RefreshReason,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) query: Vec<(String, String)>,
    /// Without `Accept` and the telemetry headers (MSAL's device authorization request).
    pub(crate) bare: bool,
}

impl TokenRequest {
    pub(crate) fn new(endpoint: impl Into<String>, api: ApiId, reason: RefreshReason) -> Self {
        TokenRequest {
            endpoint: endpoint.into(),
            form: Form::default(),
            correlation_id: uuid::Uuid::new_v4().to_string(),
            api,
            reason,
            headers: Vec::new(),
            query: Vec::new(),
            bare: false,
        }
    }
}

fn endpoint_for_logs(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Builds the HTTP request: MSAL's headers, telemetry, the encoded form.
fn build_request(ctx: &HttpContext, req: &TokenRequest) -> Result<http::Request<Vec<u8>>> {
    let mut url = url::Url::parse(&req.endpoint)
        .map_err(|_| Error::invalid_response("an endpoint from discovery is not a valid URL"))?;
    if !req.query.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in &req.query {
            q.append_pair(k, v);
        }
    }
    let mut b = http::Request::builder()
        .method(http::Method::POST)
        .uri(url.as_str());
    if !req.bare {
        b = b.header("Accept", "application/json");
    }
    b = b
        .header("x-client-sku", SKU)
        .header("x-client-ver", VERSION)
        .header("x-client-os", client_os())
        .header("x-ms-lib-capability", "retry-after, h429");
    if let Some(name) = &ctx.app_name {
        b = b.header("x-app-name", name);
    }
    if let Some(ver) = &ctx.app_version {
        b = b.header("x-app-ver", ver);
    }
    b = b.header("client-request-id", &req.correlation_id);
    if !req.bare {
        b = b
            .header(
                "x-client-current-telemetry",
                Telemetry::current(req.api, req.reason),
            )
            .header("x-client-last-telemetry", ctx.telemetry.last());
    }
    for (name, value) in &req.headers {
        b = b.header(*name, value);
    }
    b.header("Content-Type", "application/x-www-form-urlencoded")
        .body(req.form.encode())
        .map_err(|e| {
            Error::with_source(ErrorKind::InvalidInput, "a request header is not valid", e)
        })
}

/// Maps a response to JSON or an error, by MSAL's rules: 3xx is invalid, an `error` field or
/// a 4xx/5xx status is a service error (with `Retry-After`), anything not JSON is invalid.
/// Every error carries the response's status ([`Error::http_status`]).
pub(crate) fn parse_response(resp: &http::Response<Vec<u8>>) -> Result<Value> {
    let status = resp.status().as_u16();
    parse_response_body(resp, status).map_err(|e| e.at_http_status(status))
}

fn parse_response_body(resp: &http::Response<Vec<u8>>, status: u16) -> Result<Value> {
    let retry = retry_after(resp.headers());
    if resp.status().is_redirection() {
        return Err(Error::invalid_response(format!(
            "the identity provider answered with a redirect (HTTP {status}), which is never followed"
        )));
    }
    let json: Option<Value> = serde_json::from_slice(resp.body()).ok();
    match json {
        Some(v) => {
            if let Some(mut s) = ServiceError::from_json(status, &v) {
                s.retry_after = retry;
                return Err(Error::from_service(s));
            }
            if status >= 400 {
                return Err(Error::from_service(ServiceError {
                    status,
                    error: placeholder_code(status),
                    retry_after: retry,
                    ..ServiceError::default()
                }));
            }
            Ok(v)
        }
        None if status >= 500 || status == 429 => Err(Error::from_service(ServiceError {
            status,
            error: placeholder_code(status),
            error_description: Some(format!("HTTP Error: {status}")),
            retry_after: retry,
            ..ServiceError::default()
        })),
        None if status >= 400 => Err(Error::invalid_response(format!(
            "the identity provider answered HTTP {status} with a body that is not an OAuth error (empty, HTML or text)"
        ))),
        None => Err(Error::invalid_response(format!(
            "the response (HTTP {status}) is not JSON"
        ))),
    }
}

/// The error of a request the throttle state answered.
fn throttled(resp: &http::Response<Vec<u8>>, wait: Option<Duration>) -> Error {
    let status = resp.status().as_u16();
    let mut service = serde_json::from_slice::<Value>(resp.body())
        .ok()
        .and_then(|v| ServiceError::from_json(status, &v))
        .unwrap_or_else(|| ServiceError {
            status,
            error: placeholder_code(status),
            ..ServiceError::default()
        });
    service.retry_after = wait;
    let message = match wait {
        Some(w) => format!(
            "not sent: the identity provider asked to wait, {} s more",
            w.as_secs()
        ),
        None => {
            "not sent: the identical request failed moments ago (answered from memory for 60 s)"
                .to_owned()
        }
    };
    Error::with_service(ErrorKind::Throttled, message, service)
}

/// Sends `req` and returns the status and parsed JSON body of a successful response.
/// Telemetry is updated either way; the throttle state may answer instead of the identity
/// provider.
pub(crate) async fn post_json(ctx: &HttpContext, req: &TokenRequest) -> Result<(u16, Value)> {
    let key = ThrottleState::post_key(&req.endpoint, &req.form.key_fields());
    let endpoint = endpoint_for_logs(&req.endpoint);
    match ctx.throttle.check(&key, ctx.clock.now()) {
        Verdict::Send => {}
        Verdict::Replay(resp) => {
            tracing::debug!(endpoint, "answered from the throttle state (400 replay)");
            return Err(throttled(&resp, None));
        }
        Verdict::Blocked(wait, resp) => {
            tracing::debug!(endpoint, wait_secs = wait.as_secs(), "throttled: not sent");
            return Err(throttled(&resp, Some(wait)));
        }
    }
    let is_device_code =
        req.form.grant_type() == Some("urn:ietf:params:oauth:grant-type:device_code");
    let http_req = build_request(ctx, req)?;
    let started = Instant::now();
    tracing::debug!(
        endpoint,
        correlation_id = %req.correlation_id,
        api = req.api as u32,
        "sending token request"
    );
    let result = match ctx.http.send(http_req).await {
        Ok(resp) => {
            tracing::debug!(
                endpoint,
                correlation_id = %req.correlation_id,
                status = resp.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "token response received"
            );
            ctx.throttle.record(
                &key,
                &resp,
                false,
                is_device_code,
                ctx.default_retry,
                ctx.clock.now(),
            );
            parse_response(&resp).map(|v| (resp.status().as_u16(), v))
        }
        Err(e) => Err(e),
    };
    match &result {
        Ok(_) => ctx.telemetry.record_success(),
        Err(e) => {
            let code = e
                .service()
                .map(|s| s.error.clone())
                .unwrap_or_else(|| format!("{:?}", e.kind()).to_lowercase());
            tracing::debug!(endpoint, correlation_id = %req.correlation_id, error = %code, "token request failed");
            ctx.telemetry
                .record_failure(req.api, &req.correlation_id, &code);
        }
    }
    result
}

/// Sends `req` to a token endpoint and parses the token response.
pub(crate) async fn post_token(ctx: &HttpContext, req: &TokenRequest) -> Result<TokenResponse> {
    let (status, json) = post_json(ctx, req).await?;
    TokenResponse::from_json(json).map_err(|e| e.at_http_status(status))
}

/// GETs a JSON document (discovery). Returns the status and body; 5xx and non-JSON bodies
/// are errors. `accept_json` adds `Accept: application/json` (MSAL sends it on instance
/// discovery, not on OpenID Connect discovery).
pub(crate) async fn get_json(
    ctx: &HttpContext,
    url: &str,
    accept_json: bool,
    correlation_id: Option<&str>,
) -> Result<(u16, Value)> {
    let mut b = http::Request::builder().method(http::Method::GET).uri(url);
    if accept_json {
        b = b.header("Accept", "application/json");
    }
    if let Some(id) = correlation_id {
        b = b.header("client-request-id", id);
    }
    let req = b
        .body(Vec::new())
        .map_err(|e| Error::with_source(ErrorKind::Configuration, "invalid discovery URL", e))?;
    let endpoint = endpoint_for_logs(url);
    let key = ThrottleState::get_key(url);
    let resp = match ctx.throttle.check(&key, ctx.clock.now()) {
        Verdict::Replay(resp) => resp,
        Verdict::Blocked(wait, resp) => return Err(throttled(&resp, Some(wait))),
        Verdict::Send => {
            tracing::debug!(endpoint, "discovery request");
            let resp = ctx.http.send(req).await?;
            ctx.throttle
                .record(&key, &resp, true, false, ctx.default_retry, ctx.clock.now());
            resp
        }
    };
    let status = resp.status().as_u16();
    if resp.status().is_redirection() {
        return Err(Error::new(
            ErrorKind::Discovery,
            format!("discovery at {endpoint} answered with a redirect (HTTP {status})"),
        )
        .at_http_status(status));
    }
    match serde_json::from_slice::<Value>(resp.body()) {
        Ok(v) if status < 500 => Ok((status, v)),
        _ => Err(Error::new(
            ErrorKind::Discovery,
            format!("discovery at {endpoint} failed with HTTP {status}"),
        )
        .at_http_status(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str, retry: Option<&str>) -> http::Response<Vec<u8>> {
        let mut b = http::Response::builder().status(status);
        if let Some(r) = retry {
            b = b.header("Retry-After", r);
        }
        b.body(body.as_bytes().to_vec()).expect("valid")
    }

    #[test]
    fn form_drops_empty_values_and_keeps_order() {
        let mut f = Form::default();
        f.push("client_id", "c");
        f.push("grant_type", "client_credentials");
        f.push("claims", "");
        f.push_secret("client_secret", SecretString::from("a+b/c=d&e%f"));
        f.push("scope", "s t~*");
        f.push("client_id", "c2");
        assert_eq!(
            f.names(),
            vec!["client_id", "grant_type", "client_secret", "scope"]
        );
        let body = String::from_utf8(f.encode()).expect("utf8");
        assert_eq!(
            body,
            "client_id=c2&grant_type=client_credentials&client_secret=a%2Bb%2Fc%3Dd%26e%25f&scope=s+t~%2A"
        );
        assert!(f.plain_fields().iter().all(|(n, _)| *n != "client_secret"));
    }

    #[test]
    fn maps_responses_like_msal() {
        let e = parse_response(&response(503, "oops", Some("7"))).unwrap_err();
        assert!(e.is_transient());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        let e = parse_response(&response(
            400,
            r#"{"error":"invalid_grant","error_codes":[70008]}"#,
            None,
        ))
        .unwrap_err();
        assert!(e.is_interaction_required());
        let e = parse_response(&response(200, "{not json", None)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        let e = parse_response(&response(302, "", None)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        let e = parse_response(&response(429, "{}", Some("30"))).unwrap_err();
        assert!(e.is_throttled());
        assert_eq!(e.http_status(), Some(429));
        assert!(parse_response(&response(200, r#"{"access_token":"a"}"#, None)).is_ok());
    }

    #[test]
    fn error_bodies_that_are_not_json_keep_the_status() {
        let e = parse_response(&response(401, "", None)).unwrap_err();
        assert_eq!(
            (e.kind(), e.http_status()),
            (ErrorKind::InvalidResponse, Some(401))
        );
        assert!(e.is_invalid_client() && !e.is_transient() && !e.is_interaction_required());
        let e = parse_response(&response(401, "{}", None)).unwrap_err();
        assert_eq!((e.kind(), e.http_status()), (ErrorKind::Service, Some(401)));
        assert!(e.is_invalid_client());
        // An OAuth error code wins over the status.
        let e = parse_response(&response(401, r#"{"error":"invalid_grant"}"#, None)).unwrap_err();
        assert!(!e.is_invalid_client() && e.is_interaction_required());
        for (status, body) in [(400, "<html>bad</html>"), (403, "Forbidden"), (404, "")] {
            let e = parse_response(&response(status, body, None)).unwrap_err();
            assert_eq!(e.http_status(), Some(status));
            assert_eq!(e.kind(), ErrorKind::InvalidResponse);
            assert!(!e.is_invalid_client() && !e.is_transient() && !e.is_interaction_required());
        }
        let e = parse_response(&response(307, "", None)).unwrap_err();
        assert_eq!(e.http_status(), Some(307));
        let e = parse_response(&response(502, "<html/>", None)).unwrap_err();
        assert_eq!(e.http_status(), Some(502));
        assert!(e.is_transient());
        assert!(parse_response(&response(200, r#"{"access_token":"a"}"#, None)).is_ok());
    }
}

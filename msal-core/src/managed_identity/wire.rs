//! What every managed identity source shares on the wire: requests that never go through a
//! proxy, sent with the retry policy and a deadline per attempt, and the JSON body read as
//! untrusted input.

use std::time::Duration;

use serde_json::{Map, Value};
use url::Url;

use super::retry::{Policy, Retry};
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result, ServiceError};
use crate::http::{BypassProxy, HttpClient};

/// The longest one attempt may take.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest the first IMDS attempt of a client may take before IMDS is declared absent
/// (azure-identity libraries probe IMDS with a similarly short deadline): on a laptop there is
/// no IMDS, and a caller must not hang for the full timeout to learn that.
pub(crate) const IMDS_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A request about to be sent (rebuilt for each attempt).
pub(crate) struct Outgoing {
    pub(crate) method: http::Method,
    pub(crate) url: Url,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

impl Outgoing {
    /// A GET of `url` with `params` appended to its query.
    pub(crate) fn get(url: &Url, params: &[(&str, &str)]) -> Outgoing {
        let mut url = url.clone();
        if !params.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        Outgoing {
            method: http::Method::GET,
            url,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A form POST to `url`.
    pub(crate) fn post_form(url: &Url, form: &[(&str, &str)]) -> Outgoing {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish()
            .into_bytes();
        Outgoing {
            method: http::Method::POST,
            url: url.clone(),
            headers: vec![(
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Outgoing {
        self.headers.push((name, value.into()));
        self
    }

    fn build(&self) -> Result<http::Request<Vec<u8>>> {
        let mut b = http::Request::builder()
            .method(self.method.clone())
            .uri(self.url.as_str())
            .extension(BypassProxy);
        for (k, v) in &self.headers {
            b = b.header(*k, v.as_str());
        }
        b.body(self.body.clone()).map_err(|_| {
            Error::config("a managed identity request could not be built (a header or the endpoint is not valid)")
        })
    }
}

/// Sends `out`, retrying as `policy` says; returns the last response, whatever its status.
pub(crate) async fn send(
    http: &dyn HttpClient,
    clock: &dyn Clock,
    policy: Policy,
    first_timeout: Duration,
    out: &Outgoing,
) -> Result<http::Response<Vec<u8>>> {
    let mut retry = Retry::new(policy);
    let mut timeout = first_timeout;
    loop {
        let req = out.build()?;
        let resp = match tokio::time::timeout(timeout, http.send(req)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Transport,
                    format!(
                        "the managed identity endpoint did not answer within {} s",
                        timeout.as_secs()
                    ),
                ));
            }
        };
        timeout = ATTEMPT_TIMEOUT;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok());
        match retry.next_wait(status, retry_after, clock.now()) {
            Some(wait) => {
                tracing::debug!(
                    status,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "managed identity endpoint answered a retryable status; asking again"
                );
                clock.sleep(wait).await;
            }
            None => return Ok(resp),
        }
    }
}

/// The response body as a JSON object; anything else is an invalid response.
pub(crate) fn json_object(resp: &http::Response<Vec<u8>>) -> Result<Map<String, Value>> {
    let status = resp.status().as_u16();
    match serde_json::from_slice::<Value>(resp.body()) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Error::invalid_response(format!(
            "the managed identity endpoint answered HTTP {status} with a body that is not a JSON object"
        ))
        .at_http_status(status)),
    }
}

/// A service error built by a source's error mapping.
pub(crate) fn service_error(
    status: u16,
    error: &str,
    description: Option<String>,
    retry_after: Option<Duration>,
) -> Error {
    Error::from_service(ServiceError {
        status,
        error: error.to_owned(),
        error_description: description,
        retry_after,
        ..ServiceError::default()
    })
    .at_http_status(status)
}

/// The response's `Retry-After` in seconds (for the error's [`Error::retry_after`]).
pub(crate) fn retry_after_secs(resp: &http::Response<Vec<u8>>) -> Option<Duration> {
    resp.headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The body text of an error response, for an error description (bounded, lossy UTF-8).
pub(crate) fn body_text(resp: &http::Response<Vec<u8>>) -> String {
    let body = resp.body();
    let cut = body.get(..body.len().min(2048)).unwrap_or(body);
    String::from_utf8_lossy(cut).into_owned()
}

/// A number of seconds in a JSON field that may be a string (`"3599"`) or a number, read as
/// the token response's fields are.
pub(crate) fn seconds(v: Option<&Value>) -> Option<i64> {
    crate::response::WireSeconds::from_json(v?)?.value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seconds_accept_numbers_and_numeric_strings() {
        assert_eq!(seconds(Some(&json!(3599))), Some(3599));
        assert_eq!(seconds(Some(&json!("3599"))), Some(3599));
        assert_eq!(seconds(Some(&json!(" 12 "))), Some(12));
        assert_eq!(seconds(Some(&json!("3599.7"))), Some(3599));
        assert_eq!(seconds(Some(&json!("-5"))), Some(-5));
        assert_eq!(seconds(Some(&json!("soon"))), None);
        assert_eq!(seconds(Some(&json!("NaN"))), None);
        assert_eq!(seconds(Some(&json!(null))), None);
        assert_eq!(seconds(Some(&json!({}))), None);
        assert_eq!(seconds(None), None);
    }

    #[test]
    fn requests_never_go_through_a_proxy() {
        let url = Url::parse("http://127.0.0.1:1/msi/token").unwrap();
        let out = Outgoing::get(&url, &[("resource", "https://r/"), ("api-version", "1")])
            .header("Metadata", "true");
        let req = out.build().unwrap();
        assert!(req.extensions().get::<BypassProxy>().is_some());
        assert_eq!(
            req.uri().to_string(),
            "http://127.0.0.1:1/msi/token?resource=https%3A%2F%2Fr%2F&api-version=1"
        );
        assert_eq!(req.headers()["Metadata"], "true");
        let bad = Outgoing::get(&url, &[]).header("Secret", "a\nb");
        assert!(bad.build().is_err());
    }
}

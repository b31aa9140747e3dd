//! The Azure Instance Metadata Service (IMDS), on its own plain-HTTP loopback listener as the
//! real one is plain HTTP on `169.254.169.254`: the compute location that region
//! auto-detection reads. Settings ([`ImdsSettings`]) come from the admin API; every request is
//! counted and recorded with the others. The managed-identity token path is served by
//! [`mi`] (its own settings and faults; [`ImdsSettings::mode`] does not apply to it).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::hosts;
use super::mi;
use super::model::{ImdsMode, ImdsSettings, RecordedRequest};
use super::respond;
use super::state::EmuState;

/// The IMDS router (every path, one handler).
pub(crate) fn router(state: Arc<EmuState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

fn text(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(axum::body::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn error(status: StatusCode, message: &str) -> Response {
    respond::json(status, &json!({ "error": message }))
}

/// What IMDS answers, by its rules (the same checks as the real service, in its order).
fn answer(
    settings: &ImdsSettings,
    method: &http::Method,
    path: &str,
    query: &[(String, String)],
    metadata: bool,
) -> Response {
    let q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if !metadata {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad request. Required metadata header not specified",
        );
    }
    if method != http::Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
    let path = path.trim_end_matches('/');
    let compute = path.eq_ignore_ascii_case("/metadata/instance/compute");
    let location = path.eq_ignore_ascii_case("/metadata/instance/compute/location");
    if !compute && !location {
        return error(StatusCode::NOT_FOUND, "Not found");
    }
    if q("api-version").is_none_or(str::is_empty) {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad request. api-version was not specified in the request",
        );
    }
    if settings.mode == ImdsMode::Fail {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    }
    if compute {
        let mut doc = json!({
            "azEnvironment": "AzurePublicCloud",
            "name": "msal-emulator-vm",
            "osType": "Linux",
            "vmId": "8c6a3f1e-1f2b-4b7e-9d7e-0c1a2b3c4d5e",
        });
        if let Some(r) = &settings.region {
            doc["location"] = json!(r);
        }
        return respond::json(StatusCode::OK, &doc);
    }
    match (&settings.region, q("format")) {
        (Some(r), Some("text")) => text(StatusCode::OK, r.clone()),
        (Some(r), _) => respond::json(StatusCode::OK, &json!(r)),
        (None, _) => error(StatusCode::NOT_FOUND, "Not found"),
    }
}

async fn handle(State(state): State<Arc<EmuState>>, request: Request) -> Response {
    if mi::is_path(request.uri().path(), mi::IMDS_TOKEN_PATH) {
        state.lock().stats.imds_requests += 1;
        return mi::serve_imds(&state, request).await;
    }
    let seq = state.next_seq();
    let (parts, _body) = request.into_parts();
    let metadata = parts
        .headers
        .get("metadata")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let raw_host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let mut record = RecordedRequest {
        seq,
        method: parts.method.to_string(),
        host: hosts::normalize(raw_host),
        path: parts.uri.path().to_string(),
        query: query.clone(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        form: Vec::new(),
        body: String::new(),
        status: 0,
        source: None,
    };
    let settings = {
        let mut reg = state.lock();
        reg.stats.imds_requests += 1;
        reg.imds.clone()
    };
    if settings.mode == ImdsMode::Hang && metadata {
        // Recorded with status 0 (no answer), then never answers.
        state.lock().requests.push(record);
        let never: std::convert::Infallible = std::future::pending().await;
        match never {}
    }
    let response = answer(&settings, &parts.method, parts.uri.path(), &query, metadata);
    record.status = response.status().as_u16();
    state.lock().requests.push(record);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(settings: &ImdsSettings, path: &str, query: &[(&str, &str)], metadata: bool) -> u16 {
        let q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        answer(settings, &http::Method::GET, path, &q, metadata)
            .status()
            .as_u16()
    }

    #[test]
    fn imds_rules() {
        let s = ImdsSettings::default();
        let v = [("api-version", "2021-02-01")];
        assert_eq!(status(&s, "/metadata/instance/compute", &v, true), 200);
        assert_eq!(status(&s, "/metadata/instance/compute", &v, false), 400);
        assert_eq!(status(&s, "/metadata/instance/compute", &[], true), 400);
        assert_eq!(
            status(
                &s,
                "/metadata/instance/compute/location",
                &[("format", "text"), ("api-version", "2021-01-01")],
                true
            ),
            200
        );
        assert_eq!(status(&s, "/metadata/identity/oauth2/token", &v, true), 404);
        let none = ImdsSettings {
            region: None,
            ..ImdsSettings::default()
        };
        assert_eq!(
            status(&none, "/metadata/instance/compute/location", &v, true),
            404
        );
        let fail = ImdsSettings {
            mode: ImdsMode::Fail,
            ..ImdsSettings::default()
        };
        assert_eq!(status(&fail, "/metadata/instance/compute", &v, true), 500);
    }
}

//! The HTTPS side: captures each request, records it, applies faults, and dispatches on the
//! `Host` header (never SNI) and the path.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};

use super::authority::{Authority, AuthorityError};
use super::authorize;
use super::discovery;
use super::faults::{self, Target};
use super::hosts::{self, HostKind};
use super::model::RecordedRequest;
use super::respond::{self, OAuthError};
use super::state::EmuState;
use super::token;
use super::userrealm;
use super::vault;
use super::wstrust;

/// Largest request body accepted.
const BODY_LIMIT: usize = 1 << 20;

/// A received request, fully read.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub(crate) method: Method,
    /// Normalised host.
    pub(crate) host: String,
    /// The path as received.
    pub(crate) path: String,
    /// Non-empty path segments (`//` tolerated, as MSAL sends `common//v2.0`).
    pub(crate) segments: Vec<String>,
    /// `/` + the segments joined.
    pub(crate) norm_path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) is_form: bool,
    pub(crate) form: Vec<(String, String)>,
    pub(crate) body: Bytes,
    pub(crate) client_request_id: Option<String>,
}

impl Incoming {
    pub(crate) fn form_value(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn pairs(s: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The HTTPS router (every host, every path, one handler).
pub(crate) fn router(state: Arc<EmuState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<Arc<EmuState>>, request: Request) -> Response {
    let seq = state.next_seq();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return respond::plain_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "The request body is too large or could not be read.",
            );
        }
    };
    let raw_host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let client_request_id = parts
        .headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let incoming = Incoming {
        method: parts.method.clone(),
        host: hosts::normalize(&raw_host),
        norm_path: format!("/{}", segments.join("/")),
        segments,
        path,
        query: pairs(parts.uri.query().unwrap_or_default().as_bytes()),
        headers,
        is_form,
        form: if is_form { pairs(&body) } else { Vec::new() },
        body,
        client_request_id,
    };

    let fault = {
        let mut reg = state.lock();
        let lower = incoming.norm_path.to_ascii_lowercase();
        if incoming.method == Method::POST && lower.ends_with("/token") {
            reg.stats.token_requests += 1;
        }
        if lower.ends_with("/openid-configuration") || lower.ends_with("/discovery/instance") {
            reg.stats.discovery_requests += 1;
        }
        let target = Target {
            method: incoming.method.as_str(),
            host: &incoming.host,
            path: &incoming.path,
            grant_type: incoming.form_value("grant_type"),
        };
        faults::take(&mut reg.faults, &target)
    };
    let mut response = None;
    if let Some(rule) = fault {
        if let Some(ms) = rule.delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        response = faults::response(&rule);
    }
    let mut response = response.unwrap_or_else(|| dispatch(&state, &incoming));
    if let Some(id) = incoming
        .client_request_id
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        response.headers_mut().insert("client-request-id", id);
    }
    let status = response.status().as_u16();
    state.lock().requests.push(RecordedRequest {
        seq,
        method: incoming.method.to_string(),
        host: incoming.host,
        path: incoming.path,
        query: incoming.query,
        headers: incoming.headers,
        form: incoming.form,
        body: String::from_utf8_lossy(&incoming.body).into_owned(),
        status,
        source: None,
    });
    response
}

fn not_found(req: &Incoming) -> Response {
    respond::plain_error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!(
            "The emulator does not serve {} https://{}{}",
            req.method, req.host, req.path
        ),
    )
}

fn wrong_method(req: &Incoming, now: u64) -> Response {
    OAuthError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        900_561,
        format!(
            "The endpoint only accepts {} requests.",
            if req.method == Method::GET {
                "POST"
            } else {
                "GET"
            }
        ),
    )
    .render(now, req.client_request_id.as_deref())
}

/// What a path asks for, once the tenant (and policy) segments are split off.
enum Endpoint {
    Discovery,
    Keys,
    Token,
    InstanceDiscovery,
    Authorize,
    DeviceCode,
    Logout,
    /// User realm discovery of the username (path segment, as received).
    UserRealm(String),
}

impl Endpoint {
    fn allows(&self, method: &Method) -> bool {
        match self {
            Self::Token | Self::DeviceCode => method == Method::POST,
            Self::Authorize | Self::Logout | Self::UserRealm(_) => {
                method == Method::GET || method == Method::POST
            }
            Self::Discovery | Self::Keys | Self::InstanceDiscovery => method == Method::GET,
        }
    }
}

fn oauth_endpoint(name: &str) -> Option<Endpoint> {
    match name.to_ascii_lowercase().as_str() {
        "authorize" => Some(Endpoint::Authorize),
        "devicecode" => Some(Endpoint::DeviceCode),
        "logout" => Some(Endpoint::Logout),
        _ => None,
    }
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Splits `segments` into (tenant, policy, endpoint) for a host kind.
fn route(kind: HostKind, segs: &[&str]) -> Option<(String, Option<String>, Endpoint)> {
    let (tenant, policy, rest): (&str, Option<&str>, &[&str]) = match kind {
        HostKind::B2c => match segs {
            [t, p, rest @ ..] if !rest.is_empty() => (t, Some(p), rest),
            _ => return None,
        },
        _ => match segs {
            [t, rest @ ..] => (t, None, rest),
            _ => return None,
        },
    };
    let v2 = !matches!(kind, HostKind::Adfs | HostKind::Oidc);
    let endpoint = match rest {
        [a, b, c]
            if v2 && eq(a, "v2.0") && eq(b, ".well-known") && eq(c, "openid-configuration") =>
        {
            Endpoint::Discovery
        }
        [b, c] if !v2 && eq(b, ".well-known") && eq(c, "openid-configuration") => {
            Endpoint::Discovery
        }
        [a, b, c] if v2 && eq(a, "discovery") && eq(b, "v2.0") && eq(c, "keys") => Endpoint::Keys,
        [a, b] if eq(a, "discovery") && eq(b, "keys") => Endpoint::Keys,
        [a, b] if matches!(kind, HostKind::Entra(_)) && eq(a, "discovery") && eq(b, "instance") => {
            Endpoint::InstanceDiscovery
        }
        [a, b, c] if v2 && eq(a, "oauth2") && eq(b, "v2.0") && eq(c, "token") => Endpoint::Token,
        [a, b] if !v2 && eq(a, "oauth2") && eq(b, "token") => Endpoint::Token,
        [a, b, c] if v2 && eq(a, "oauth2") && eq(b, "v2.0") => oauth_endpoint(c)?,
        [a, b] if !v2 && eq(a, "oauth2") => oauth_endpoint(b)?,
        [a, u] if matches!(kind, HostKind::Entra(_)) && eq(a, "userrealm") => {
            Endpoint::UserRealm(u.to_string())
        }
        _ => return None,
    };
    Some((tenant.to_string(), policy.map(str::to_string), endpoint))
}

/// Routes a request that no fault intercepted.
fn dispatch(state: &EmuState, req: &Incoming) -> Response {
    let now = state.clock.now_secs();
    if vault::is_vault_host(&req.host) {
        return vault::handle(state, req);
    }
    if wstrust::is_federation_host(&req.host) {
        return wstrust::handle(state, req);
    }
    let Some(kind) = hosts::classify(&req.host) else {
        return not_found(req);
    };
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let Some((tenant, policy, endpoint)) = route(kind, &segs) else {
        return not_found(req);
    };
    if !endpoint.allows(&req.method) {
        return wrong_method(req, now);
    }
    let cid = req.client_request_id.as_deref();
    if let Endpoint::InstanceDiscovery = endpoint {
        let forced = state.lock().fail_instance_discovery;
        return match discovery::instance_discovery(&req.query, forced) {
            Ok(doc) => respond::json(StatusCode::OK, &doc),
            Err(e) => e.render(now, cid),
        };
    }
    let resolved = {
        let reg = state.lock();
        Authority::resolve(&reg, kind, &req.host, &tenant, policy.as_deref())
    };
    let authority = match resolved {
        Ok(a) => a,
        Err(AuthorityError::UnknownTenant(t)) => {
            return discovery::unknown_tenant(&t).render(now, cid);
        }
        Err(AuthorityError::UnknownPolicy(p)) => {
            return discovery::unknown_policy(&p).render(now, cid);
        }
    };
    match endpoint {
        Endpoint::Discovery => {
            respond::json(StatusCode::OK, &discovery::openid_configuration(&authority))
        }
        Endpoint::Keys => {
            respond::json(StatusCode::OK, &discovery::jwks(&authority, &state.signer))
        }
        Endpoint::Token => token::handle(state, req, &authority),
        Endpoint::Authorize => authorize::handle(state, req, &authority),
        Endpoint::DeviceCode => token::device_authorization(state, req, &authority),
        Endpoint::Logout => authorize::logout(state, req),
        Endpoint::UserRealm(u) => respond::json(
            StatusCode::OK,
            &userrealm::user_realm(state, &authority, &u),
        ),
        Endpoint::InstanceDiscovery => not_found(req),
    }
}

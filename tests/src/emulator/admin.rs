//! The admin API (plain HTTP, JSON).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::authority::Authority;
use super::faults::ActiveFault;
use super::model::{
    AppRegistration, ClockChange, ClockState, DiscoverySettings, FaultRule, MintedToken,
    RequestFilter, Stats, UserRegistration, UserTokenRequest,
};
use super::recording;
use super::respond;
use super::seeds;
use super::state::{App, DEFAULT_LIFETIME, EmuState, User};
use super::token::issue::{UserClaims, UserToken};

type Shared = State<Arc<EmuState>>;

/// The admin router.
pub(crate) fn router(state: Arc<EmuState>) -> Router {
    Router::new()
        .route("/admin/manifest", get(manifest))
        .route("/admin/reset", post(reset))
        .route("/admin/apps", post(register_app))
        .route("/admin/users", post(add_user))
        .route("/admin/tokens/user", post(mint_user_token))
        .route("/admin/requests", get(list_requests).delete(clear_requests))
        .route(
            "/admin/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/admin/clock", get(get_clock).post(change_clock))
        .route("/admin/stats", get(stats))
        .route("/admin/discovery", get(get_discovery).post(set_discovery))
        .fallback(not_found)
        .with_state(state)
}

fn ok(value: &impl serde::Serialize) -> Response {
    match serde_json::to_value(value) {
        Ok(v) => respond::json(StatusCode::OK, &v),
        Err(e) => bad(&format!("cannot serialise the answer: {e}")),
    }
}

fn done() -> Response {
    respond::json(StatusCode::OK, &json!({"ok": true}))
}

fn bad(msg: &str) -> Response {
    respond::plain_error(StatusCode::BAD_REQUEST, "invalid_request", msg)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| Box::new(bad(&format!("invalid JSON body: {e}"))))
}

async fn not_found() -> Response {
    respond::plain_error(StatusCode::NOT_FOUND, "not_found", "unknown admin endpoint")
}

async fn manifest(State(s): Shared) -> Response {
    ok(&s.manifest)
}

async fn reset(State(s): Shared) -> Response {
    {
        let mut reg = s.lock();
        reg.requests.clear();
        reg.faults.clear();
        reg.stats = Stats::default();
        reg.fail_instance_discovery = false;
    }
    s.clock.reset();
    done()
}

async fn register_app(State(s): Shared, body: Bytes) -> Response {
    let reg: AppRegistration = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    match App::from_registration(&reg) {
        Ok(app) => {
            let id = app.client_id.clone();
            s.lock().put_app(app);
            respond::json(StatusCode::OK, &json!({"ok": true, "client_id": id}))
        }
        Err(e) => bad(&e),
    }
}

async fn add_user(State(s): Shared, body: Bytes) -> Response {
    let req: UserRegistration = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if req.username.trim().is_empty() {
        return bad("username is required");
    }
    let mut reg = s.lock();
    let Some(tenant_id) = reg.tenant(&req.tenant).map(|t| t.id.clone()) else {
        return bad(&format!("unknown tenant '{}'", req.tenant));
    };
    let username = req.username.trim().to_string();
    let user = User {
        oid: req
            .oid
            .clone()
            .unwrap_or_else(|| EmuState::derived_oid(&tenant_id, &username)),
        name: req
            .name
            .clone()
            .unwrap_or_else(|| username.split('@').next().unwrap_or_default().to_string()),
        tenant_id,
        username,
    };
    let info = user.info();
    reg.put_user(user);
    ok(&info)
}

async fn mint_user_token(State(s): Shared, body: Bytes) -> Response {
    let req: UserTokenRequest = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let (tenant, user) = {
        let reg = s.lock();
        let Some(tenant) = reg.tenant(&req.tenant).cloned() else {
            return bad(&format!("unknown tenant '{}'", req.tenant));
        };
        let Some(user) = reg.user(&tenant.id, &req.username).cloned() else {
            return bad(&format!(
                "unknown user '{}' in tenant '{}'",
                req.username, tenant.id
            ));
        };
        (tenant, user)
    };
    if req.audience.is_empty() {
        return bad("audience is required");
    }
    let now = s.clock.now_secs();
    let lifetime = req.lifetime_secs.unwrap_or(DEFAULT_LIFETIME);
    let claims = UserClaims {
        oid: user.oid.clone(),
        tid: tenant.id.clone(),
        username: user.username.clone(),
        name: user.name.clone(),
    };
    let access_token = UserToken {
        issuer: Authority::for_tenant(&tenant).access_token_issuer(&tenant.id),
        aud: &req.audience,
        client_id: req.client_id.as_deref().unwrap_or(seeds::PUBLIC_CLIENT_ID),
        acr: "0",
        user: &claims,
        scp: &req.scopes.join(" "),
        now,
        lifetime,
    }
    .sign(&s.signer);
    ok(&MintedToken {
        access_token,
        expires_on: now.saturating_add(lifetime),
    })
}

fn filter_from_query(query: Option<&str>) -> RequestFilter {
    let mut f = RequestFilter::default();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let v = Some(v.into_owned()).filter(|v| !v.is_empty());
        match k.as_ref() {
            "host" => f.host = v,
            "path_contains" => f.path_contains = v,
            "grant_type" => f.grant_type = v,
            _ => {}
        }
    }
    f
}

async fn list_requests(State(s): Shared, RawQuery(query): RawQuery) -> Response {
    let filter = filter_from_query(query.as_deref());
    let selected = recording::select(&s.lock().requests, &filter);
    ok(&selected)
}

async fn clear_requests(State(s): Shared) -> Response {
    s.lock().requests.clear();
    done()
}

async fn list_faults(State(s): Shared) -> Response {
    let rules: Vec<FaultRule> = s.lock().faults.iter().map(|f| f.rule.clone()).collect();
    ok(&rules)
}

async fn add_fault(State(s): Shared, body: Bytes) -> Response {
    let rule: FaultRule = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    match ActiveFault::new(rule) {
        Ok(f) => {
            s.lock().faults.push(f);
            done()
        }
        Err(e) => bad(&e),
    }
}

async fn clear_faults(State(s): Shared) -> Response {
    s.lock().faults.clear();
    done()
}

async fn get_clock(State(s): Shared) -> Response {
    ok(&ClockState { now: s.clock.now() })
}

async fn change_clock(State(s): Shared, body: Bytes) -> Response {
    let change: ClockChange = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    match (change.set, change.advance) {
        (Some(t), None) if t.is_finite() => s.clock.set(t),
        (None, Some(d)) if d.is_finite() => s.clock.advance(d),
        _ => return bad("give exactly one finite number: {\"set\": epoch} or {\"advance\": secs}"),
    }
    ok(&ClockState { now: s.clock.now() })
}

async fn stats(State(s): Shared) -> Response {
    let stats = s.lock().stats.clone();
    ok(&stats)
}

async fn get_discovery(State(s): Shared) -> Response {
    ok(&DiscoverySettings {
        fail_instance_discovery: s.lock().fail_instance_discovery,
    })
}

async fn set_discovery(State(s): Shared, body: Bytes) -> Response {
    let settings: Value = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let Some(fail) = settings
        .get("fail_instance_discovery")
        .and_then(Value::as_bool)
    else {
        return bad("expected {\"fail_instance_discovery\": bool}");
    };
    s.lock().fail_instance_discovery = fail;
    ok(&DiscoverySettings {
        fail_instance_discovery: fail,
    })
}

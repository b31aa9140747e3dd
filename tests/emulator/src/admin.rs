//! The admin API (plain HTTP, JSON).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::authority::Authority;
use super::faults::ActiveFault;
use super::mi::ArcKey;
use super::mi::faults::ActiveMiFault;
use super::mi::settings;
use super::model::{
    AppRegistration, AuthTimeSetting, ClockChange, ClockState, ConsentSetting, DefaultUserSetting,
    DeviceApproval, DeviceCodeInfo, DeviceSettings, DiscoverySettings, FaultRule,
    FederatedTokenRequest, ImdsSettings, InteractionSetting, ManagedIdentityFault,
    ManagedIdentitySettings, MintedToken, RefreshTokenSettings, RequestFilter, RevokeResult, Stats,
    UserRegistration, UserTokenRequest,
};
use super::recording;
use super::respond;
use super::seeds;
use super::state::{
    App, DEFAULT_LIFETIME, DeviceConfig, DeviceStatus, EmuState, Realm, Registry, RtStatus, User,
};
use super::token::issue::{UserClaims, UserToken};
use super::token::{approve_device_code, deny_device_code};

type Shared = State<Arc<EmuState>>;

/// The admin router.
pub(crate) fn router(state: Arc<EmuState>) -> Router {
    Router::new()
        .route("/admin/manifest", get(manifest))
        .route("/admin/reset", post(reset))
        .route("/admin/apps", post(register_app))
        .route("/admin/users", post(add_user))
        .route("/admin/tokens/user", post(mint_user_token))
        .route("/admin/tokens/federated", post(mint_federated_token))
        .route("/admin/requests", get(list_requests).delete(clear_requests))
        .route(
            "/admin/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/admin/clock", get(get_clock).post(change_clock))
        .route("/admin/stats", get(stats))
        .route("/admin/discovery", get(get_discovery).post(set_discovery))
        .route("/admin/imds", get(get_imds).post(set_imds))
        .route(
            "/admin/managed-identity",
            get(mi_settings).post(replace_mi_settings),
        )
        .route(
            "/admin/managed-identity/faults",
            get(mi_faults).post(add_mi_faults).delete(clear_mi_faults),
        )
        .route("/admin/users/{username}/consent", post(set_consent))
        .route("/admin/users/{username}/interaction", post(set_interaction))
        .route("/admin/users/{username}/auth_time", post(set_auth_time))
        .route("/admin/users/{username}/revoke", post(revoke))
        .route(
            "/admin/users/{username}/session",
            post(sign_in).delete(sign_out),
        )
        .route(
            "/admin/tenants/{tenant}/default_user",
            post(set_default_user),
        )
        .route(
            "/admin/refresh_tokens",
            get(get_refresh_settings).post(set_refresh_settings),
        )
        .route("/admin/device", get(list_device_codes))
        .route(
            "/admin/device/settings",
            get(get_device_settings).post(set_device_settings),
        )
        .route("/admin/device/{user_code}/approve", post(approve_device))
        .route("/admin/device/{user_code}/deny", post(deny_device))
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
    let old_mi = {
        let mut reg = s.lock();
        reg.requests.clear();
        reg.faults.clear();
        reg.stats = Stats::default();
        reg.fail_instance_discovery = false;
        reg.imds = ImdsSettings::default();
        reg.strict_rotation = false;
        reg.device_config = DeviceConfig::default();
        reg.sessions.clear();
        std::mem::take(&mut reg.managed_identity)
    };
    old_mi.arc_keys.iter().for_each(ArcKey::remove_file);
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
    let oid = req
        .oid
        .clone()
        .unwrap_or_else(|| EmuState::derived_oid(&tenant_id, &username));
    let name = req
        .name
        .clone()
        .unwrap_or_else(|| username.split('@').next().unwrap_or_default().to_string());
    let home = match &req.home_tenant {
        None => None,
        Some(h) => {
            let Some(home_tid) = reg.tenant(h).map(|t| t.id.clone()) else {
                return bad(&format!("unknown home tenant '{h}'"));
            };
            let Some(home_user) = reg.user(&home_tid, &username) else {
                return bad(&format!(
                    "no user '{username}' in the home tenant '{home_tid}'"
                ));
            };
            if home_tid.eq_ignore_ascii_case(&tenant_id) {
                return bad("a guest's home tenant must be another tenant");
            }
            Some((home_user.clone(), home_tid))
        }
    };
    let password = req.password.clone().unwrap_or_else(|| match &home {
        Some((u, _)) => u.password.clone(),
        None => seeds::DEFAULT_USER_PASSWORD.to_string(),
    });
    let mut user = User::new(&username, &tenant_id, &oid, &name, &password);
    user.home = home.map(|(u, home_tid)| (u.home_ids().0.to_string(), home_tid));
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
        home: user.home.clone(),
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

/// A token of an external issuer (see [`FederatedTokenRequest`]).
async fn mint_federated_token(State(s): Shared, body: Bytes) -> Response {
    let req: FederatedTokenRequest = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if req.subject.is_empty() {
        return bad("subject is required");
    }
    let now = s.clock.now_secs();
    let lifetime = req.lifetime_secs.unwrap_or(3600);
    let expires_on = now.saturating_add(lifetime);
    let claims = json!({
        "iss": req.issuer.as_deref().unwrap_or(seeds::WORKLOAD_ISSUER),
        "sub": req.subject,
        "aud": req.audience.as_deref().unwrap_or(seeds::FEDERATED_AUDIENCE),
        "iat": now,
        "nbf": now,
        "exp": expires_on,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    ok(&MintedToken {
        access_token: s.signer.sign("JWT", &claims),
        expires_on,
    })
}

fn filter_from_query(query: Option<&str>) -> Result<RequestFilter, String> {
    let mut f = RequestFilter::default();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let v = Some(v.into_owned()).filter(|v| !v.is_empty());
        match k.as_ref() {
            "host" => f.host = v,
            "path_contains" => f.path_contains = v,
            "grant_type" => f.grant_type = v,
            "source" => {
                f.source = match v {
                    Some(v) => Some(
                        serde_json::from_value(Value::String(v.clone()))
                            .map_err(|_| format!("unknown source '{v}'"))?,
                    ),
                    None => None,
                };
            }
            _ => {}
        }
    }
    Ok(f)
}

async fn list_requests(State(s): Shared, RawQuery(query): RawQuery) -> Response {
    let filter = match filter_from_query(query.as_deref()) {
        Ok(f) => f,
        Err(e) => return bad(&e),
    };
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

async fn get_imds(State(s): Shared) -> Response {
    let imds = s.lock().imds.clone();
    ok(&imds)
}

async fn set_imds(State(s): Shared, body: Bytes) -> Response {
    let settings: ImdsSettings = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if settings
        .region
        .as_deref()
        .is_some_and(|r| r.is_empty() || r.len() > 100 || r.chars().any(char::is_control))
    {
        return bad("region must be a short printable string (or null)");
    }
    s.lock().imds = settings.clone();
    ok(&settings)
}

// ---------------------------------------------------------------- managed identity

async fn mi_settings(State(s): Shared) -> Response {
    let settings = s.lock().managed_identity.settings.clone();
    ok(&settings)
}

async fn replace_mi_settings(State(s): Shared, body: Bytes) -> Response {
    let settings: ManagedIdentitySettings = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let mut reg = s.lock();
    if let Err(e) = settings::validate(&reg, &settings) {
        return bad(&e);
    }
    reg.managed_identity.settings = settings.clone();
    ok(&settings)
}

async fn mi_faults(State(s): Shared) -> Response {
    let rules: Vec<ManagedIdentityFault> = s
        .lock()
        .managed_identity
        .faults
        .iter()
        .map(ActiveMiFault::listed)
        .collect();
    ok(&rules)
}

/// One rule or a list of them.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<ManagedIdentityFault>),
    One(Box<ManagedIdentityFault>),
}

async fn add_mi_faults(State(s): Shared, body: Bytes) -> Response {
    let rules = match parse::<OneOrMany>(&body) {
        Ok(OneOrMany::Many(v)) => v,
        Ok(OneOrMany::One(r)) => vec![*r],
        Err(e) => return *e,
    };
    let mut active = Vec::with_capacity(rules.len());
    for rule in rules {
        match ActiveMiFault::new(rule) {
            Ok(f) => active.push(f),
            Err(e) => return bad(&e),
        }
    }
    s.lock().managed_identity.faults.extend(active);
    done()
}

async fn clear_mi_faults(State(s): Shared) -> Response {
    s.lock().managed_identity.faults.clear();
    done()
}

// ---------------------------------------------------------------- user sign-in switches

/// `?tenant=` of the per-user endpoints (to pick among same-named users).
fn tenant_filter(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "tenant")
        .map(|(_, v)| v.into_owned())
}

/// The (tenant id, username) of the user named `username` (in `tenant` when given).
fn find_user(
    reg: &Registry,
    username: &str,
    tenant: Option<&str>,
) -> Result<(String, String), Box<Response>> {
    let tenant_id = match tenant {
        Some(t) => Some(
            reg.tenant(t)
                .map(|t| t.id.clone())
                .ok_or_else(|| Box::new(bad(&format!("unknown tenant '{t}'"))))?,
        ),
        None => None,
    };
    reg.users_named(username)
        .find(|u| {
            tenant_id
                .as_deref()
                .is_none_or(|t| u.tenant_id.eq_ignore_ascii_case(t))
        })
        .map(|u| (u.tenant_id.clone(), u.username.clone()))
        .ok_or_else(|| Box::new(bad(&format!("unknown user '{username}'"))))
}

/// Applies `change` to the user named in the path.
fn with_user(
    s: &EmuState,
    username: &str,
    query: Option<&str>,
    change: impl FnOnce(&mut User),
) -> Response {
    let mut reg = s.lock();
    let (tid, name) = match find_user(&reg, username, tenant_filter(query).as_deref()) {
        Ok(k) => k,
        Err(e) => return *e,
    };
    match reg.user_mut(&tid, &name) {
        Some(u) => {
            change(u);
            done()
        }
        None => bad(&format!("unknown user '{username}'")),
    }
}

async fn set_consent(
    State(s): Shared,
    Path(username): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let setting: ConsentSetting = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if setting.client_id.trim().is_empty() {
        return bad("client_id is required");
    }
    with_user(&s, &username, query.as_deref(), |u| {
        let id = setting.client_id.trim().to_ascii_lowercase();
        u.needs_consent.retain(|c| *c != id);
        if setting.required {
            u.needs_consent.push(id);
        }
    })
}

async fn set_interaction(
    State(s): Shared,
    Path(username): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let setting: InteractionSetting = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if let Some(c) = &setting.claims
        && !serde_json::from_str::<Value>(c).is_ok_and(|v| v.is_object())
    {
        return bad("claims must be a JSON object (as a string)");
    }
    with_user(&s, &username, query.as_deref(), |u| {
        u.interaction = setting.required.then_some(setting.clone());
    })
}

async fn set_auth_time(
    State(s): Shared,
    Path(username): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let setting: AuthTimeSetting = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    with_user(&s, &username, query.as_deref(), |u| {
        u.auth_time = setting.auth_time;
    })
}

async fn revoke(
    State(s): Shared,
    Path(username): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let now = s.clock.now_secs();
    let mut reg = s.lock();
    let (tid, name) = match find_user(&reg, &username, tenant_filter(query.as_deref()).as_deref()) {
        Ok(k) => k,
        Err(e) => return *e,
    };
    let mut revoked = 0;
    for rt in reg.refresh_tokens.values_mut() {
        if rt.tid.eq_ignore_ascii_case(&tid)
            && rt.username.eq_ignore_ascii_case(&name)
            && !matches!(rt.status, RtStatus::Revoked(_))
        {
            rt.status = RtStatus::Revoked(now);
            revoked += 1;
        }
    }
    reg.sign_out(&tid, &name);
    ok(&RevokeResult { revoked })
}

async fn sign_in(
    State(s): Shared,
    Path(username): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let now = s.clock.now_secs();
    let mut reg = s.lock();
    let (tid, name) = match find_user(&reg, &username, tenant_filter(query.as_deref()).as_deref()) {
        Ok(k) => k,
        Err(e) => return *e,
    };
    let Some(user) = reg.user(&tid, &name).cloned() else {
        return bad(&format!("unknown user '{username}'"));
    };
    let auth_time = user.auth_time.unwrap_or(now);
    let sid = reg.sign_in(&user, auth_time);
    respond::json(
        StatusCode::OK,
        &json!({"ok": true, "session_state": sid, "auth_time": auth_time}),
    )
}

async fn sign_out(
    State(s): Shared,
    Path(username): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut reg = s.lock();
    let (tid, name) = match find_user(&reg, &username, tenant_filter(query.as_deref()).as_deref()) {
        Ok(k) => k,
        Err(e) => return *e,
    };
    let was = reg.sign_out(&tid, &name);
    respond::json(StatusCode::OK, &json!({"ok": true, "signed_out": was}))
}

async fn set_default_user(State(s): Shared, Path(tenant): Path<String>, body: Bytes) -> Response {
    let setting: DefaultUserSetting = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let mut reg = s.lock();
    let realm = match tenant.to_ascii_lowercase().as_str() {
        "common" | "organizations" => Realm::AnyOf(super::hosts::Cloud::Public),
        "consumers" => Realm::Consumers,
        _ => match reg.tenant(&tenant) {
            Some(t) if t.id == seeds::ADFS_TENANT_ID => Realm::Adfs,
            Some(t) => Realm::Tenant(t.id.clone()),
            None => return bad(&format!("unknown tenant '{tenant}'")),
        },
    };
    let Some(user) = reg
        .users_named(&setting.username)
        .find(|u| realm.admits(&reg, u))
        .cloned()
    else {
        return bad(&format!(
            "no user '{}' may sign in at '{tenant}'",
            setting.username
        ));
    };
    reg.default_users.insert(realm.default_key(), user.username);
    done()
}

async fn get_refresh_settings(State(s): Shared) -> Response {
    ok(&RefreshTokenSettings {
        strict_rotation: s.lock().strict_rotation,
    })
}

async fn set_refresh_settings(State(s): Shared, body: Bytes) -> Response {
    let settings: RefreshTokenSettings = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    s.lock().strict_rotation = settings.strict_rotation;
    ok(&settings)
}

fn device_settings(c: &DeviceConfig) -> DeviceSettings {
    DeviceSettings {
        expires_in: Some(c.expires_in),
        interval: Some(c.interval),
        force_slow_down: Some(c.force_slow_down),
    }
}

async fn get_device_settings(State(s): Shared) -> Response {
    ok(&device_settings(&s.lock().device_config))
}

async fn set_device_settings(State(s): Shared, body: Bytes) -> Response {
    let settings: DeviceSettings = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if settings.expires_in == Some(0) {
        return bad("expires_in must be positive");
    }
    let mut reg = s.lock();
    let c = &mut reg.device_config;
    if let Some(v) = settings.expires_in {
        c.expires_in = v;
    }
    if let Some(v) = settings.interval {
        c.interval = v;
    }
    if let Some(v) = settings.force_slow_down {
        c.force_slow_down = v;
    }
    ok(&device_settings(c))
}

async fn list_device_codes(State(s): Shared) -> Response {
    let now = s.clock.now();
    let reg = s.lock();
    let list: Vec<DeviceCodeInfo> = reg
        .device_codes
        .iter()
        .map(|d| {
            let (status, username) = match &d.status {
                DeviceStatus::Redeemed { username } => ("redeemed", Some(username.clone())),
                _ if d.expired(now) => ("expired", None),
                DeviceStatus::Pending => ("pending", None),
                DeviceStatus::Approved { user, .. } => ("approved", Some(user.username.clone())),
                DeviceStatus::Declined => ("declined", None),
            };
            DeviceCodeInfo {
                user_code: d.user_code.clone(),
                device_code: d.device_code.clone(),
                client_id: d.client_id.clone(),
                scope: d.scope.clone(),
                host: d.host.clone(),
                tenant: d.segment.clone(),
                status: status.into(),
                username,
                expires_at: (d.issued_at + d.expires_in as f64).max(0.0).floor() as u64,
            }
        })
        .collect();
    ok(&list)
}

async fn approve_device(State(s): Shared, Path(user_code): Path<String>, body: Bytes) -> Response {
    let approval: DeviceApproval = if body.iter().all(u8::is_ascii_whitespace) {
        DeviceApproval::default()
    } else {
        match parse(&body) {
            Ok(r) => r,
            Err(e) => return *e,
        }
    };
    match approve_device_code(&s, &user_code, approval.username.as_deref()) {
        Ok(()) => done(),
        Err(e) => bad(&e),
    }
}

async fn deny_device(State(s): Shared, Path(user_code): Path<String>) -> Response {
    match deny_device_code(&s, &user_code) {
        Ok(()) => done(),
        Err(e) => bad(&e),
    }
}

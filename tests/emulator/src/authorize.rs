//! The authorization endpoint (`GET|POST …/oauth2/v2.0/authorize`, B2C
//! `/{tenant}/{policy}/oauth2/v2.0/authorize`, ADFS `/adfs/oauth2/authorize`) and logout.
//!
//! There is no sign-in page: the user named by `login_hint` (else by `domain_hint`'s tenant,
//! else the realm's default user) signs in at once. The emulator models one browser: an
//! interactive sign-in leaves a session (`session_state`), which `prompt=none` needs.
//!
//! Errors before the redirect URI is trusted (client, redirect URI) are a 400 JSON OAuth error
//! (Entra shows an error page); later ones go to the redirect URI like Entra's, with `error`,
//! `error_description`, `error_uri` and `state`.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::Value;

use super::authority::Authority;
use super::frontend::Incoming;
use super::hosts::HostKind;
use super::ids;
use super::respond::{self, OAuthError};
use super::state::{App, AuthCode, EmuState, Realm, Registry, User};
use super::token::{issue, scopes, user as grants};

/// How the response reaches the redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Query,
    Fragment,
    FormPost,
}

fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

fn invalid_request(code: u32, msg: impl Into<String>) -> OAuthError {
    OAuthError::bad("invalid_request", code, msg)
}

fn is_loopback(u: &url::Url) -> bool {
    u.scheme() == "http"
        && matches!(
            u.host_str(),
            Some("localhost") | Some("127.0.0.1") | Some("[::1]")
        )
}

/// Whether `given` is one of the app's redirect URIs: exact (scheme, host, port, path, query),
/// or for public clients a loopback URI on any port (RFC 8252 §7.3).
pub(crate) fn redirect_matches(app: &App, given: &str) -> bool {
    let Ok(g) = url::Url::parse(given) else {
        return false;
    };
    if g.fragment().is_some() || g.cannot_be_a_base() {
        return false;
    }
    app.redirect_uris.iter().any(|registered| {
        let Ok(r) = url::Url::parse(registered) else {
            return false;
        };
        let same_path = r.scheme() == g.scheme()
            && r.host_str() == g.host_str()
            && r.path() == g.path()
            && r.query() == g.query();
        same_path
            && (r.port_or_known_default() == g.port_or_known_default()
                || (app.public_client && is_loopback(&r) && is_loopback(&g)))
    })
}

fn resolve_redirect(app: &App, given: Option<&str>) -> Result<String, OAuthError> {
    match given {
        None => app.redirect_uris.first().cloned().ok_or_else(|| {
            invalid_request(
                500_113,
                "No reply address is registered for the application.",
            )
        }),
        Some(g) if redirect_matches(app, g) => Ok(g.to_string()),
        Some(g) => Err(invalid_request(
            50_011,
            format!(
                "The redirect URI '{g}' specified in the request does not match the redirect \
                 URIs configured for the application '{}'. Make sure the redirect URI sent in \
                 the request matches one added to your application in the Azure portal. \
                 Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to \
                 fix this.",
                app.client_id
            ),
        )),
    }
}

/// `&`, `<`, `>`, `"`, `'` escaped.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    no_store(&mut resp);
    resp
}

fn found(location: &str) -> Option<Response> {
    let value = HeaderValue::from_str(location).ok()?;
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::FOUND;
    resp.headers_mut().insert(header::LOCATION, value);
    no_store(&mut resp);
    Some(resp)
}

/// Delivers `pairs` to `redirect` by `mode`.
fn deliver(redirect: &str, mode: Mode, pairs: &[(&str, String)]) -> Response {
    if mode == Mode::FormPost {
        let mut body = format!(
            "<html><head><title>Working...</title></head><body><form method=\"post\" \
             name=\"hiddenform\" action=\"{}\">",
            html_escape(redirect)
        );
        for (k, v) in pairs {
            body.push_str(&format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\" />",
                html_escape(k),
                html_escape(v)
            ));
        }
        body.push_str(
            "<noscript><p>Script is disabled. Click Submit to continue.</p><input \
             type=\"submit\" value=\"Submit\" /></noscript></form><script \
             language=\"javascript\">document.forms[0].submit();</script></body></html>",
        );
        return html(StatusCode::OK, body);
    }
    let mut enc = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        enc.append_pair(k, v);
    }
    let sep = match mode {
        Mode::Fragment => '#',
        _ if redirect.contains('?') => '&',
        _ => '?',
    };
    let location = format!("{redirect}{sep}{}", enc.finish());
    found(&location).unwrap_or_else(|| {
        respond::plain_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The redirect URI cannot be used in a Location header.",
        )
    })
}

/// What a successful authorization answers.
struct Granted {
    code: String,
    client_info: Option<String>,
    session_state: Option<String>,
}

/// The parsed request.
struct Request<'a> {
    params: &'a [(String, String)],
    now: f64,
}

impl Request<'_> {
    fn p(&self, name: &str) -> Option<&str> {
        first(self.params, name)
    }

    fn now_secs(&self) -> u64 {
        self.now.max(0.0).floor() as u64
    }
}

#[derive(Debug, Default)]
struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

fn parse_prompt(raw: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut p = Prompt::default();
    let Some(raw) = raw else {
        return Ok(p);
    };
    let mut count = 0;
    for v in raw.split_whitespace() {
        count += 1;
        match v {
            "none" => p.none = true,
            "login" => p.login = true,
            "consent" => p.consent = true,
            "select_account" | "create" => {}
            other => {
                return Err(invalid_request(
                    90_023,
                    format!(
                        "Invalid value '{other}' for the 'prompt' parameter: expected none, \
                         login, consent, select_account or create."
                    ),
                ));
            }
        }
    }
    if p.none && count > 1 {
        return Err(invalid_request(
            90_023,
            "The 'prompt' value 'none' cannot be combined with other values.",
        ));
    }
    Ok(p)
}

fn check_pkce(app: &App, r: &Request<'_>) -> Result<Option<(String, String)>, OAuthError> {
    match (r.p("code_challenge"), r.p("code_challenge_method")) {
        (None, Some(_)) => Err(invalid_request(
            90_023,
            "'code_challenge_method' was sent without 'code_challenge'.",
        )),
        (None, None) if app.public_client => Err(invalid_request(
            9_002_325,
            "Proof Key for Code Exchange is required: a public client must send \
             'code_challenge' and 'code_challenge_method=S256'.",
        )),
        (None, None) => Ok(None),
        (Some(challenge), method) => {
            let method = method.unwrap_or("plain");
            let s256 = method == "S256";
            if !s256 && method != "plain" {
                return Err(invalid_request(
                    90_023,
                    format!("Unsupported code_challenge_method '{method}'."),
                ));
            }
            if app.public_client && !s256 {
                return Err(invalid_request(
                    90_023,
                    "Public clients must use code_challenge_method=S256.",
                ));
            }
            let well_formed = (43..=128).contains(&challenge.len())
                && challenge
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
            if !well_formed {
                return Err(invalid_request(
                    501_491,
                    "Invalid size of Code_Challenge parameter.",
                ));
            }
            Ok(Some((challenge.to_string(), method.to_string())))
        }
    }
}

fn login_required(detail: &str) -> OAuthError {
    OAuthError::bad(
        "login_required",
        50_058,
        format!("A silent sign-in request was sent but no user is signed in. {detail}"),
    )
}

/// The user named by `hint` in `realm`.
fn hinted_user(
    reg: &Registry,
    realm: &Realm,
    hint: &str,
    tenant: &str,
) -> Result<User, OAuthError> {
    if let Some(u) = reg.users_named(hint).find(|u| realm.admits(reg, u)) {
        return Ok(u.clone());
    }
    if reg.users_named(hint).next().is_some() {
        return Err(invalid_request(
            50_020,
            format!(
                "User account '{{EUII Hidden}}' from identity provider 'live.com' does not exist \
                 in tenant '{tenant}' and cannot access the application in that tenant. The \
                 account needs to be added as an external user in the tenant first."
            ),
        ));
    }
    Err(invalid_request(
        50_034,
        format!(
            "The user account {{EUII Hidden}} does not exist in the {tenant} directory. To sign \
             into this application, the account must be added to the directory."
        ),
    ))
}

fn authorize(
    state: &EmuState,
    authority: &Authority,
    app: &App,
    redirect_uri: &str,
    r: &Request<'_>,
) -> Result<Granted, OAuthError> {
    match r.p("response_type") {
        None => return Err(OAuthError::missing("response_type")),
        Some("code") => {}
        Some(other) => {
            return Err(OAuthError::bad(
                "unsupported_response_type",
                700_054,
                format!(
                    "response_type '{other}' is not enabled for the application. The emulator \
                     issues authorization codes only (response_type=code)."
                ),
            ));
        }
    }
    let scope = r.p("scope").ok_or_else(|| OAuthError::missing("scope"))?;
    let challenge = check_pkce(app, r)?;
    let prompt = parse_prompt(r.p("prompt"))?;
    let max_age =
        match r.p("max_age") {
            None => None,
            Some(m) => Some(m.parse::<u64>().map_err(|_| {
                invalid_request(90_023, format!("Invalid value '{m}' for 'max_age'."))
            })?),
        };
    if let Some(raw) = r.p("claims")
        && !serde_json::from_str::<Value>(raw).is_ok_and(|v| v.is_object())
    {
        return Err(invalid_request(
            90_015,
            "The 'claims' parameter is not a valid JSON object.",
        ));
    }
    let now = r.now_secs();
    let realm = authority.realm();
    let tenant = authority.segment.as_str();
    let mut reg = state.lock();
    // Each scope must exist (several resources may be consented at once).
    for tok in scope.split_whitespace() {
        scopes::parse(&reg, tok)?;
    }
    let hinted = match r.p("login_hint") {
        Some(h) => Some(hinted_user(&reg, &realm, h, tenant)?),
        None => None,
    };
    let (user, auth_time, sid) = if prompt.none {
        let sessions: Vec<_> = reg
            .sessions
            .iter()
            .filter(|s| {
                reg.user(&s.tenant_id, &s.username)
                    .is_some_and(|u| realm.admits(&reg, u))
            })
            .filter(|s| {
                hinted.as_ref().is_none_or(|h| {
                    h.username.eq_ignore_ascii_case(&s.username)
                        && h.tenant_id.eq_ignore_ascii_case(&s.tenant_id)
                })
            })
            .cloned()
            .collect();
        let session = match sessions.as_slice() {
            [] => return Err(login_required("")),
            [one] => one.clone(),
            _ => {
                return Err(OAuthError::bad(
                    "interaction_required",
                    16_000,
                    "Either multiple user identities are available for the current request or \
                     selected account is not supported for the scenario.",
                ));
            }
        };
        let user = reg
            .user(&session.tenant_id, &session.username)
            .cloned()
            .ok_or_else(|| login_required(""))?;
        if max_age.is_some_and(|m| session.auth_time.saturating_add(m) < now) {
            return Err(login_required(
                "The session is older than max_age: the user must sign in again.",
            ));
        }
        if let Some(i) = &user.interaction {
            let (code, _, _) = grants::interaction_parts(i);
            return Err(OAuthError::bad(
                "interaction_required",
                code,
                grants::interaction_description(scope),
            ));
        }
        if user.needs_consent_for(&app.client_id) {
            return Err(OAuthError::bad(
                "consent_required",
                65_001,
                grants::consent_description(&app.client_id),
            ));
        }
        let auth_time = user.auth_time.unwrap_or(session.auth_time);
        (user, auth_time, session.sid)
    } else {
        let by_domain = || {
            let domain = r.p("domain_hint")?;
            let t = reg.tenant(domain)?;
            let realm = Realm::Tenant(t.id.clone());
            reg.default_user(&realm).cloned()
        };
        let user = match hinted {
            Some(u) => u,
            None => by_domain()
                .filter(|u| realm.admits(&reg, u))
                .or_else(|| reg.default_user(&realm).cloned())
                .ok_or_else(|| {
                    invalid_request(
                        50_034,
                        format!(
                            "No user to sign in at '{tenant}': send a login_hint (or set the \
                             default user through the admin API)."
                        ),
                    )
                })?,
        };
        if user.needs_consent_for(&app.client_id) && !prompt.consent {
            return Err(OAuthError::bad(
                "consent_required",
                65_001,
                grants::consent_description(&app.client_id),
            ));
        }
        let session_time = reg
            .session(&user.tenant_id, &user.username)
            .map(|s| s.auth_time)
            .filter(|t| !prompt.login && max_age.is_none_or(|m| t.saturating_add(m) >= now));
        let auth_time = user.auth_time.or(session_time).unwrap_or(now);
        // The interactive sign-in grants consent (prompt=consent) and satisfies MFA.
        if let Some(u) = reg.user_mut(&user.tenant_id, &user.username) {
            u.interaction = None;
            u.needs_consent
                .retain(|c| !c.eq_ignore_ascii_case(&app.client_id));
        }
        let sid = reg.sign_in(&user, auth_time);
        (user, auth_time, sid)
    };
    let code = ids::auth_code();
    reg.auth_codes.insert(
        code.clone(),
        AuthCode {
            client_id: app.client_id.clone(),
            redirect_uri: redirect_uri.to_string(),
            challenge,
            nonce: r.p("nonce").map(str::to_string),
            scope: scope.to_string(),
            user: user.clone(),
            kind: authority.kind,
            policy: authority.policy.clone(),
            auth_time,
            issued_at: r.now,
            redeemed: false,
        },
    );
    drop(reg);
    let client_info = (r.p("client_info") == Some("1"))
        .then(|| match (authority.kind, authority.policy_name()) {
            (HostKind::B2c, Some(p)) => Some(issue::b2c_client_info(&user.oid, &user.tenant_id, p)),
            (HostKind::Adfs | HostKind::Oidc, _) => None,
            _ => {
                let (uid, utid) = user.home_ids();
                Some(issue::client_info(uid, utid))
            }
        })
        .flatten();
    let session_state =
        matches!(authority.kind, HostKind::Entra(_) | HostKind::Ciam).then_some(sid);
    Ok(Granted {
        code,
        client_info,
        session_state,
    })
}

/// `GET|POST …/authorize`.
pub(crate) fn handle(state: &EmuState, req: &Incoming, authority: &Authority) -> Response {
    let now = state.clock.now();
    let now_secs = now.max(0.0).floor() as u64;
    let cid = req.client_request_id.as_deref();
    let params = if req.method == Method::POST {
        &req.form
    } else {
        &req.query
    };
    let r = Request { params, now };
    let Some(client_id) = r.p("client_id") else {
        return OAuthError::missing("client_id").render(now_secs, cid);
    };
    let app = {
        let reg = state.lock();
        reg.app(client_id)
            .filter(|a| a.allowed_in(authority.real_tenant()))
            .cloned()
    };
    let Some(app) = app else {
        return OAuthError::bad(
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. \
                 This can happen if the application has not been installed by the administrator \
                 of the tenant or consented to by any user in the tenant. You may have sent your \
                 authentication request to the wrong tenant.",
                authority.segment
            ),
        )
        .render(now_secs, cid);
    };
    let redirect = match resolve_redirect(&app, r.p("redirect_uri")) {
        Ok(u) => u,
        Err(e) => return e.render(now_secs, cid),
    };
    let state_param = r.p("state").map(str::to_string);
    let (mode, mode_error) = match r.p("response_mode") {
        None | Some("query") => (Mode::Query, None),
        Some("fragment") => (Mode::Fragment, None),
        Some("form_post") => (Mode::FormPost, None),
        Some(other) => (
            Mode::Query,
            Some(invalid_request(
                90_023,
                format!(
                    "Invalid value '{other}' for 'response_mode': expected query, fragment or \
                     form_post."
                ),
            )),
        ),
    };
    let outcome = match mode_error {
        Some(e) => Err(e),
        None => authorize(state, authority, &app, &redirect, &r),
    };
    let mut pairs: Vec<(&str, String)> = Vec::new();
    match outcome {
        Ok(g) => {
            pairs.push(("code", g.code));
            if let Some(ci) = g.client_info {
                pairs.push(("client_info", ci));
            }
            if let Some(s) = state_param {
                pairs.push(("state", s));
            }
            if let Some(s) = g.session_state {
                pairs.push(("session_state", s));
            }
        }
        Err(e) => {
            let (text, ..) = e.full_description(now_secs, cid);
            pairs.push(("error", e.error.to_string()));
            pairs.push(("error_description", text));
            pairs.push(("error_uri", e.error_uri()));
            if let Some(s) = state_param {
                pairs.push(("state", s));
            }
        }
    }
    deliver(&redirect, mode, &pairs)
}

/// `GET|POST …/logout`: ends the session of `logout_hint`'s user (every session without one),
/// then redirects to `post_logout_redirect_uri` (with `state`) or shows a signed-out page.
pub(crate) fn logout(state: &EmuState, req: &Incoming) -> Response {
    let params = if req.method == Method::POST {
        &req.form
    } else {
        &req.query
    };
    {
        let mut reg = state.lock();
        match first(params, "logout_hint") {
            Some(hint) => reg
                .sessions
                .retain(|s| !s.username.eq_ignore_ascii_case(hint)),
            None => reg.sessions.clear(),
        }
    }
    match first(params, "post_logout_redirect_uri") {
        Some(uri) if url::Url::parse(uri).is_ok() => {
            let pairs: Vec<(&str, String)> = first(params, "state")
                .map(|s| ("state", s.to_string()))
                .into_iter()
                .collect();
            if pairs.is_empty() {
                found(uri).unwrap_or_else(|| deliver(uri, Mode::Query, &pairs))
            } else {
                deliver(uri, Mode::Query, &pairs)
            }
        }
        _ => html(
            StatusCode::OK,
            "<html><head><title>Sign out</title></head><body><p>You signed out of your \
             account.</p></body></html>"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AppRegistration;

    fn app(public: bool, uris: &[&str]) -> App {
        App::from_registration(&AppRegistration {
            client_id: "x".into(),
            public_client: public,
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn redirect_rules() {
        let public = app(true, &["http://localhost", "http://127.0.0.1"]);
        assert!(redirect_matches(&public, "http://localhost"));
        assert!(redirect_matches(&public, "http://localhost:53124"));
        assert!(redirect_matches(&public, "http://localhost:53124/"));
        assert!(redirect_matches(&public, "http://127.0.0.1:8400"));
        assert!(!redirect_matches(&public, "http://localhost:53124/cb"));
        assert!(!redirect_matches(&public, "https://localhost:53124"));
        assert!(!redirect_matches(&public, "http://evil.example"));
        assert!(!redirect_matches(&public, "not a url"));
        let web = app(
            false,
            &["https://app.contoso.com/callback", "http://localhost"],
        );
        assert!(redirect_matches(&web, "https://app.contoso.com/callback"));
        assert!(redirect_matches(
            &web,
            "https://APP.contoso.com:443/callback"
        ));
        assert!(!redirect_matches(&web, "https://app.contoso.com/callback/"));
        assert!(!redirect_matches(
            &web,
            "https://app.contoso.com/callback#x"
        ));
        assert!(!redirect_matches(&web, "http://localhost:8080"));
        assert_eq!(html_escape(r#"a&b<c>"d'"#), "a&amp;b&lt;c&gt;&quot;d&#39;");
    }

    #[test]
    fn prompts() {
        assert!(parse_prompt(Some("none")).unwrap().none);
        let p = parse_prompt(Some("login consent")).unwrap();
        assert!(p.login && p.consent);
        assert!(parse_prompt(Some("none login")).is_err());
        assert!(parse_prompt(Some("bogus")).is_err());
    }
}

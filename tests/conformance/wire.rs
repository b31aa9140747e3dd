//! Comparing what MSAL Python and msal-rs put on the wire: token-endpoint POSTs (endpoint, form
//! fields with their order, MSAL's headers, the client assertion JWT) and discovery GETs.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use msal_tests::emulator::RecordedRequest;
use serde_json::Value;

/// Headers that belong to the HTTP stack rather than to MSAL.
const TRANSPORT_HEADERS: [&str; 5] = [
    "user-agent",
    "accept-encoding",
    "connection",
    "content-length",
    "host",
];

/// Headers that must be present on both sides but whose values name the library.
const PRESENCE_ONLY_HEADERS: [&str; 2] = ["x-client-sku", "x-client-ver"];

/// Headers whose value is a fresh UUID per request.
const UUID_HEADERS: [&str; 1] = ["client-request-id"];

/// Form fields whose values are secrets: compared, but never printed.
const SECRET_FIELDS: [&str; 5] = [
    "client_secret",
    "assertion",
    "password",
    "refresh_token",
    "user_federated_identity_credential",
];

/// Form fields of user flows whose values are fresh per run (codes, tokens, the PKCE
/// verifier): both sides must send a non-empty value; the PKCE verifier is checked for shape.
pub(crate) const USER_FLOW_VOLATILE_FIELDS: [&str; 5] = [
    "code",
    "code_verifier",
    "device_code",
    "refresh_token",
    "assertion",
];

/// The characters of a PKCE verifier (RFC 7636 `unreserved`).
fn is_pkce_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The lifetime MSAL gives its client assertions.
const ASSERTION_LIFETIME: f64 = 600.0;

/// Whether `r` is a token-endpoint POST.
pub(crate) fn is_token_post(r: &RecordedRequest) -> bool {
    r.method.eq_ignore_ascii_case("POST") && r.path.trim_end_matches('/').ends_with("/token")
}

/// Whether `r` is a device authorization POST.
pub(crate) fn is_device_authorization_post(r: &RecordedRequest) -> bool {
    r.method.eq_ignore_ascii_case("POST") && r.path.trim_end_matches('/').ends_with("/devicecode")
}

/// Whether `r` is the browser's visit to the authorization endpoint.
pub(crate) fn is_authorize(r: &RecordedRequest) -> bool {
    r.path.trim_end_matches('/').ends_with("/authorize")
}

/// Whether `r` is a user realm discovery GET.
pub(crate) fn is_user_realm_get(r: &RecordedRequest) -> bool {
    r.method.eq_ignore_ascii_case("GET") && r.path.contains("/userrealm/")
}

/// Whether `r` is a discovery GET (OIDC or instance discovery).
pub(crate) fn is_discovery_get(r: &RecordedRequest) -> bool {
    r.method.eq_ignore_ascii_case("GET")
}

/// Whether `r` is a WS-Trust request to a federation server's username/password endpoint.
pub(crate) fn is_ws_trust_post(r: &RecordedRequest) -> bool {
    r.method.eq_ignore_ascii_case("POST") && r.path.contains("/usernamemixed")
}

/// The `{namespace}local` name of the root element of a SAML bearer grant's `assertion`
/// (base64url without padding, RFC 7522 §2.1), or `None` when it is not that.
fn saml_root(v: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let doc = roxmltree::Document::parse(&text).ok()?;
    let root = doc.root_element();
    Some(format!(
        "{{{}}}{}",
        root.tag_name().namespace().unwrap_or_default(),
        root.tag_name().name()
    ))
}

/// The elements of a SOAP request as `{namespace}local = text` lines in document order, the
/// per-request values (message id, timestamps) replaced by a marker; the password's text is
/// shown by its length.
fn soap_outline(body: &str) -> Result<Vec<String>, String> {
    let doc = roxmltree::Document::parse(body).map_err(|e| e.to_string())?;
    Ok(doc
        .descendants()
        .filter(|n| n.is_element())
        .map(|n| {
            let name = n.tag_name().name();
            let text = if n.children().any(|c| c.is_element()) {
                String::new()
            } else {
                let t = n.text().unwrap_or_default().trim();
                match name {
                    "MessageID" | "Created" | "Expires" => "<fresh>".to_owned(),
                    "Password" => format!("<{} chars>", t.len()),
                    _ => t.to_owned(),
                }
            };
            format!(
                "{{{}}}{name} = {text}",
                n.tag_name().namespace().unwrap_or_default()
            )
        })
        .collect())
}

/// Differences between two WS-Trust requests: endpoint, SOAP headers and the SOAP envelope's
/// elements (per-request values aside; the passwords compared by value, never printed).
pub(crate) fn compare_ws_trust_posts(py: &RecordedRequest, rs: &RecordedRequest) -> Vec<String> {
    let mut d = Vec::new();
    if target(py) != target(rs) {
        d.push(format!(
            "endpoint: python {} | rust {}",
            target(py),
            target(rs)
        ));
    }
    let (pm, rm) = (header_map(&py.headers), header_map(&rs.headers));
    for name in ["content-type", "soapaction"] {
        let norm = |v: Option<&Vec<&str>>| -> Option<Vec<String>> {
            v.map(|v| {
                v.iter()
                    .map(|s| s.to_ascii_lowercase().replace(' ', ""))
                    .collect()
            })
        };
        if norm(pm.get(name)) != norm(rm.get(name)) {
            d.push(format!(
                "header {name}: python {:?} | rust {:?}",
                pm.get(name),
                rm.get(name)
            ));
        }
    }
    match (soap_outline(&py.body), soap_outline(&rs.body)) {
        (Ok(p), Ok(r)) => {
            if p != r {
                d.push(format!(
                    "SOAP envelope: python [{}] | rust [{}]",
                    p.join("; "),
                    r.join("; ")
                ));
            }
        }
        (p, r) => d.push(format!(
            "SOAP envelope not XML: python {:?} | rust {:?}",
            p.err(),
            r.err()
        )),
    }
    let password = |body: &str| -> Option<String> {
        let doc = roxmltree::Document::parse(body).ok()?;
        doc.descendants()
            .find(|n| n.tag_name().name() == "Password")
            .and_then(|n| n.text())
            .map(str::to_owned)
    };
    if password(&py.body) != password(&rs.body) {
        d.push("SOAP envelope: the passwords differ".to_owned());
    }
    d
}

/// `host/path?query` as received.
pub(crate) fn target(r: &RecordedRequest) -> String {
    let mut s = format!("{}{}", r.host, r.path);
    if !r.query.is_empty() {
        let q: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push('?');
        s.push_str(&q.join("&"));
    }
    s
}

fn show(name: &str, value: &str) -> String {
    if SECRET_FIELDS.contains(&name) {
        format!("<{} chars>", value.len())
    } else if name == "client_assertion" {
        "<jwt>".to_string()
    } else {
        format!("{value:?}")
    }
}

/// Every difference between MSAL Python's token POST (`py`) and msal-rs's (`rs`), one readable
/// line each; empty when they match.
pub(crate) fn compare_token_posts(py: &RecordedRequest, rs: &RecordedRequest) -> Vec<String> {
    compare_token_posts_with(py, rs, &[])
}

/// [`compare_token_posts`], with the values of `volatile` fields checked for presence (and
/// shape) rather than equality.
pub(crate) fn compare_token_posts_with(
    py: &RecordedRequest,
    rs: &RecordedRequest,
    volatile: &[&str],
) -> Vec<String> {
    let mut d = Vec::new();
    if py.method != rs.method || target(py) != target(rs) {
        d.push(format!(
            "endpoint: python {} {} | rust {} {}",
            py.method,
            target(py),
            rs.method,
            target(rs)
        ));
    }
    compare_form(&py.form, &rs.form, volatile, &mut d);
    compare_headers(&py.headers, &rs.headers, &mut d);
    d
}

fn compare_form(
    py: &[(String, String)],
    rs: &[(String, String)],
    volatile: &[&str],
    d: &mut Vec<String>,
) {
    let py_names: Vec<&str> = py.iter().map(|(k, _)| k.as_str()).collect();
    let rs_names: Vec<&str> = rs.iter().map(|(k, _)| k.as_str()).collect();
    if py_names != rs_names {
        d.push(format!(
            "form fields (in order): python [{}] | rust [{}]",
            py_names.join(", "),
            rs_names.join(", ")
        ));
    }
    let rs_map: BTreeMap<&str, &str> = rs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for (name, pv) in py {
        let Some(rv) = rs_map.get(name.as_str()) else {
            continue;
        };
        if volatile.contains(&name.as_str()) {
            for (side, v) in [("python", pv.as_str()), ("rust", *rv)] {
                if v.is_empty() {
                    d.push(format!("form {name}: {side} sent an empty value"));
                } else if name == "assertion" && saml_root(v).is_none() {
                    d.push(format!(
                        "form assertion: {side}'s is not a base64url (unpadded) XML document"
                    ));
                } else if name == "code_verifier" && !is_pkce_verifier(v) {
                    d.push(format!(
                        "form code_verifier: {side}'s is not a PKCE verifier ({} chars)",
                        v.len()
                    ));
                }
            }
            if name == "assertion" && saml_root(pv) != saml_root(rv) {
                d.push(format!(
                    "form assertion: root element python {:?} | rust {:?}",
                    saml_root(pv),
                    saml_root(rv)
                ));
            }
        } else if name == "client_assertion" {
            for line in compare_assertions(pv, rv) {
                d.push(format!("client_assertion: {line}"));
            }
        } else if pv != rv {
            d.push(format!(
                "form {name}: python {} | rust {}",
                show(name, pv),
                show(name, rv)
            ));
        }
    }
}

fn header_map(headers: &[(String, String)]) -> BTreeMap<String, Vec<&str>> {
    let mut m: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (k, v) in headers {
        let k = k.to_ascii_lowercase();
        if TRANSPORT_HEADERS.contains(&k.as_str()) {
            continue;
        }
        m.entry(k).or_default().push(v.as_str());
    }
    m
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

/// Differences between two requests' MSAL headers (transport headers ignored, the library's
/// name and version present on both, correlation ids UUIDs).
pub(crate) fn compare_headers(
    py: &[(String, String)],
    rs: &[(String, String)],
    d: &mut Vec<String>,
) {
    let (pm, rm) = (header_map(py), header_map(rs));
    let names: BTreeSet<&String> = pm.keys().chain(rm.keys()).collect();
    for name in names {
        match (pm.get(name), rm.get(name)) {
            (Some(p), None) => d.push(format!("header {name}: python {p:?} | rust absent")),
            (None, Some(r)) => d.push(format!("header {name}: python absent | rust {r:?}")),
            (Some(p), Some(r)) => {
                if PRESENCE_ONLY_HEADERS.contains(&name.as_str()) {
                    if p.len() != r.len() {
                        d.push(format!("header {name}: python {p:?} | rust {r:?}"));
                    }
                } else if UUID_HEADERS.contains(&name.as_str()) {
                    let ok = |v: &Vec<&str>| v.len() == 1 && is_uuid(v[0]);
                    if !ok(p) || !ok(r) {
                        d.push(format!(
                            "header {name}: expected one UUID each: python {p:?} | rust {r:?}"
                        ));
                    }
                } else if p != r {
                    d.push(format!("header {name}: python {p:?} | rust {r:?}"));
                }
            }
            (None, None) => {}
        }
    }
}

/// Decodes a JWT's header and claims (no signature check).
pub(crate) fn decode_jwt(jwt: &str) -> Result<(Value, Value), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err(format!("not a JWS compact JWT ({} parts)", parts.len()));
    }
    let part = |i: usize, what: &str| -> Result<Value, String> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[i].trim_end_matches('='))
            .map_err(|e| format!("{what} is not base64url: {e}"))?;
        let v: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("{what} is not JSON: {e}"))?;
        if v.is_object() {
            Ok(v)
        } else {
            Err(format!("{what} is not a JSON object"))
        }
    };
    Ok((part(0, "header")?, part(1, "claims")?))
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    k.sort_unstable();
    k
}

fn is_json_float(v: Option<&Value>) -> bool {
    v.is_some_and(|v| v.is_f64())
}

/// Differences between two client assertions: the decoded header must be equal; the claims
/// must have the same names, equal `aud`/`iss`/`sub` (and any other claim), float `exp` and
/// `iat` 600 s apart, and a UUID `jti`.
pub(crate) fn compare_assertions(py: &str, rs: &str) -> Vec<String> {
    let mut d = Vec::new();
    let (ph, pc) = match decode_jwt(py) {
        Ok(x) => x,
        Err(e) => return vec![format!("python's assertion: {e}")],
    };
    let (rh, rc) = match decode_jwt(rs) {
        Ok(x) => x,
        Err(e) => return vec![format!("rust's assertion: {e}")],
    };
    if keys(&ph) != keys(&rh) {
        d.push(format!(
            "header names: python {:?} | rust {:?}",
            keys(&ph),
            keys(&rh)
        ));
    }
    for k in keys(&ph) {
        if let Some(rv) = rh.get(k)
            && ph.get(k) != Some(rv)
        {
            d.push(format!("header {k}: python {} | rust {rv}", ph[k]));
        }
    }
    if keys(&pc) != keys(&rc) {
        d.push(format!(
            "claim names: python {:?} | rust {:?}",
            keys(&pc),
            keys(&rc)
        ));
    }
    for (side, c) in [("python", &pc), ("rust", &rc)] {
        for k in ["exp", "iat"] {
            if !is_json_float(c.get(k)) {
                d.push(format!(
                    "{side}'s {k} is not a JSON float: {}",
                    c.get(k).map_or("absent".to_string(), Value::to_string)
                ));
            }
        }
        if let (Some(exp), Some(iat)) = (
            c.get("exp").and_then(Value::as_f64),
            c.get("iat").and_then(Value::as_f64),
        ) && (exp - iat - ASSERTION_LIFETIME).abs() > 1e-3
        {
            d.push(format!("{side}'s exp - iat = {} (expected 600)", exp - iat));
        }
        if !c.get("jti").and_then(Value::as_str).is_some_and(is_uuid) {
            d.push(format!(
                "{side}'s jti is not a UUID: {}",
                c.get("jti").map_or("absent".to_string(), Value::to_string)
            ));
        }
    }
    for k in keys(&pc) {
        if matches!(k, "exp" | "iat" | "jti") {
            continue;
        }
        if let Some(rv) = rc.get(k)
            && pc.get(k) != Some(rv)
        {
            d.push(format!("claim {k}: python {} | rust {rv}", pc[k]));
        }
    }
    d
}

/// Differences between the sets of discovery GETs each side made.
pub(crate) fn compare_discovery(py: &[RecordedRequest], rs: &[RecordedRequest]) -> Vec<String> {
    let set = |rs: &[RecordedRequest]| -> BTreeSet<String> {
        rs.iter()
            .filter(|r| is_discovery_get(r))
            .map(target)
            .collect()
    };
    let (p, r) = (set(py), set(rs));
    let mut d = Vec::new();
    for only in p.difference(&r) {
        d.push(format!("discovery GET only by python: {only}"));
    }
    for only in r.difference(&p) {
        d.push(format!("discovery GET only by rust: {only}"));
    }
    d
}

/// Whether every recorded request is one the wire comparison knows (a discovery GET or a
/// token POST); anything else is reported.
pub(crate) fn unexpected_requests(side: &str, reqs: &[RecordedRequest]) -> Vec<String> {
    reqs.iter()
        .filter(|r| !is_token_post(r) && !is_discovery_get(r))
        .map(|r| {
            format!(
                "{side} sent an unexpected request: {} {}",
                r.method,
                target(r)
            )
        })
        .collect()
}

/// Authorization URL parameters drawn at random per flow: checked for shape, not value.
const AUTH_URI_RANDOM: [&str; 3] = ["state", "nonce", "code_challenge"];

fn is_base64url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why a random authorization URL parameter has the wrong shape, if it has.
fn random_param_shape(name: &str, v: &str) -> Option<String> {
    let ok = match name {
        // `secrets.token_urlsafe(16)`.
        "state" => v.len() == 22 && is_base64url(v),
        // The SHA-256 hex digest of the raw nonce.
        "nonce" => v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        // base64url(SHA-256(verifier)) without padding.
        "code_challenge" => v.len() == 43 && is_base64url(v),
        _ => true,
    };
    (!ok).then(|| format!("{v:?} ({} chars)", v.len()))
}

/// The query of `u` as (raw name, raw value, decoded name, decoded value), in order.
fn query_pairs(u: &url::Url) -> Vec<(String, String, String, String)> {
    u.query()
        .unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|seg| {
            let (rk, rv) = seg.split_once('=').unwrap_or((seg, ""));
            let dec = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (rk.to_string(), rv.to_string(), dec(rk), dec(rv))
        })
        .collect()
}

/// Every difference between two authorization URLs: the endpoint, the parameter names in
/// order, the deterministic values (decoded, then as encoded), and the shape of the random ones.
pub(crate) fn compare_auth_uris(py: &str, rs: &str) -> Vec<String> {
    let (p, r) = match (url::Url::parse(py), url::Url::parse(rs)) {
        (Ok(p), Ok(r)) => (p, r),
        (Err(e), _) => return vec![format!("python's authorization URL does not parse: {e}")],
        (_, Err(e)) => return vec![format!("rust's authorization URL does not parse: {e}")],
    };
    let mut d = Vec::new();
    let endpoint = |u: &url::Url| {
        format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.path()
        )
    };
    if endpoint(&p) != endpoint(&r) {
        d.push(format!(
            "authorization endpoint: python {} | rust {}",
            endpoint(&p),
            endpoint(&r)
        ));
    }
    let (pq, rq) = (query_pairs(&p), query_pairs(&r));
    let names = |q: &[(String, String, String, String)]| -> Vec<String> {
        q.iter().map(|x| x.2.clone()).collect()
    };
    if names(&pq) != names(&rq) {
        d.push(format!(
            "authorization URL parameters (in order): python [{}] | rust [{}]",
            names(&pq).join(", "),
            names(&rq).join(", ")
        ));
    }
    for (prk, prv, name, pv) in &pq {
        let Some((rrk, rrv, _, rv)) = rq.iter().find(|x| &x.2 == name) else {
            continue;
        };
        if AUTH_URI_RANDOM.contains(&name.as_str()) {
            for (side, v) in [("python", pv), ("rust", rv)] {
                if let Some(why) = random_param_shape(name, v) {
                    d.push(format!(
                        "authorization URL {name}: {side}'s has the wrong shape: {why}"
                    ));
                }
            }
        } else if pv != rv {
            d.push(format!(
                "authorization URL {name}: python {pv:?} | rust {rv:?}"
            ));
        } else if (prk, prv) != (rrk, rrv) {
            d.push(format!(
                "authorization URL {name}: encoded differently: python {prk}={prv} | rust {rrk}={rrv}"
            ));
        }
    }
    d
}

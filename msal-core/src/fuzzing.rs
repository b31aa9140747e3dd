//! Entry points for fuzzing the parsers that read what the library does not control: cache
//! documents (a shared file, a Redis value), token and device authorization responses, ID
//! tokens, the authorization response at the redirect URI (a query string or a `form_post`
//! body), and discovery documents (OpenID Connect and Entra instance discovery).
//!
//! Each entry takes arbitrary bytes, runs them through the same functions the library runs its
//! input through, and panics only when an invariant is broken: bad input must give a typed
//! error or be ignored, never a panic. The libFuzzer targets in `fuzz/` call these; the
//! property tests below run the same entries on arbitrary bytes and on mutations of the seed
//! corpora in `fuzz/corpus/`, and replay every input in `fuzz/regressions/` (see
//! `fuzz/README.md`).
//!
//! Only built with the `fuzzing` feature (and in this crate's tests); not a public API.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use futures_util::FutureExt as _;
use serde_json::Value;

use crate::authority::Authority;
use crate::authority::discovery::{
    DiscoveryOptions, read_discovery_document, read_instance_discovery,
};
use crate::cache::{NewEntries, TokenCache, TokenEvent};
use crate::error::{Error, ServiceError};
use crate::flow::auth_code::AuthResponse;
use crate::flow::device_code::{DeviceCodeFlow, Started};
use crate::flow::state::Initiated;
use crate::flow::user::classify;
use crate::http::token_request::parse_response;
use crate::response::{ClientInfo, TokenResponse, WireSeconds, decode_jwt_claims};
use crate::result::{Account, AuthenticationResult};
use crate::scope::ScopeSet;

/// The fuzz targets, as named in `fuzz/fuzz_targets/` and `fuzz/corpus/`.
pub const TARGETS: [&str; 7] = [
    "cache_document",
    "token_response",
    "device_code",
    "id_token",
    "auth_response",
    "oidc_discovery",
    "instance_discovery",
];

/// Runs the entry of `target` on `data`; false when there is no such target.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "cache_document" => cache_document(data),
        "token_response" => token_response(data),
        "device_code" => device_code(data),
        "id_token" => id_token(data),
        "auth_response" => auth_response(data),
        "oidc_discovery" => oidc_discovery(data),
        "instance_discovery" => instance_discovery(data),
        _ => return false,
    }
    true
}

/// A fixed "now" (2026-01-01T00:00:00Z), so that runs are reproducible.
const NOW: u64 = 1_767_225_600;
const CLIENT_ID: &str = "5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60";
const ENVIRONMENT: &str = "login.microsoftonline.com";
const REALM: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn http_response(status: u16, body: &[u8]) -> http::Response<Vec<u8>> {
    let mut resp = http::Response::new(body.to_vec());
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    resp
}

/// A cache document as a store or `TokenCache::deserialize` reads it. Invariants: an accepted
/// document saves, the saved form loads, and saving is idempotent
/// (`save(load(save(load(x)))) == save(load(x))`).
pub fn cache_document(data: &[u8]) {
    // The stores hand the loader bytes and refuse what is not UTF-8 (a typed error).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cache = TokenCache::new();
    if cache.deserialize(text).is_err() {
        return;
    }
    round_trip(&cache);
}

/// Saves `cache`, loads the saved form, saves again and compares.
fn round_trip(cache: &TokenCache) {
    for account in cache.accounts() {
        let _ = (
            account.home_account_id(),
            account.username(),
            format!("{account:?}"),
        );
    }
    let saved = cache
        .serialize()
        .expect("a document that was accepted (or recorded) saves");
    let again = TokenCache::new();
    again
        .deserialize(&saved)
        .expect("what the cache saved loads again");
    let resaved = again.serialize().expect("a reloaded document saves");
    assert_eq!(
        saved, resaved,
        "saving is not idempotent: save(load(save(load(x)))) != save(load(x))"
    );
}

/// A token endpoint's answer (the body of an HTTP 200, then of an HTTP 400): mapped to JSON or
/// a typed error as every flow maps it, read as a token response, recorded in a cache as a
/// sign-in records it, turned into the caller's result, saved and reloaded.
pub fn token_response(data: &[u8]) {
    // An error answer: a typed error with the service's fields, classified as the user flows
    // classify it.
    if let Err(e) = parse_response(&http_response(400, data)) {
        let e = classify(e);
        let _ = (e.to_string(), e.is_transient(), e.retry_after());
    }
    let json = match parse_response(&http_response(200, data)) {
        Ok(json) => json,
        Err(e) => {
            let _ = classify(e).to_string();
            return;
        }
    };
    let Ok(response) = TokenResponse::from_json(json) else {
        return;
    };
    record_and_reload(&response);
}

/// Records `response` as an authorization code redemption records it and checks the result.
fn record_and_reload(response: &TokenResponse) {
    let _ = response.scope_list();
    // Secrets never reach `Debug`: its output does not depend on them.
    let mut other = response.clone();
    for secret in [
        &mut other.access_token,
        &mut other.refresh_token,
        &mut other.id_token,
    ]
    .into_iter()
    .flatten()
    {
        secret.push_str("-other");
    }
    assert_eq!(
        format!("{response:?}"),
        format!("{other:?}"),
        "a token response's Debug shows a secret"
    );

    let scopes = ScopeSet::new(["User.Read"]).expect("a valid scope");
    let form = [
        ("client_id", CLIENT_ID),
        ("grant_type", "authorization_code"),
        ("scope", "User.Read offline_access openid profile"),
    ];
    let event = TokenEvent {
        client_id: CLIENT_ID,
        environment: ENVIRONMENT,
        realm: REALM,
        request_scopes: &scopes,
        response,
        grant_type: "authorization_code",
        data: &form,
        key_id: None,
        user_assertion_hash: None,
        username: None,
        authority_type: None,
        skip_account_creation: false,
        replaces_refresh_token: None,
        now: NOW,
    };
    // The entities alone, then through a cache (whose in-memory writes never wait).
    let _ = NewEntries::from_event(&event);
    let cache = TokenCache::new();
    let recorded = cache
        .record(&event, None)
        .now_or_never()
        .expect("an in-memory cache records without waiting");
    let at = recorded
        .access_token
        .expect("a response with an access_token caches one");
    let claims = response.id_token.as_deref().and_then(decode_jwt_claims);
    let result = AuthenticationResult::from_identity_provider(
        at.clone(),
        recorded.account.map(Account::from_entity),
        claims,
        "00000000-0000-0000-0000-000000000000",
    )
    .with_id_token(response.id_token.as_deref());
    let _ = (result.expires_on(), result.refresh_on());
    let _ = (
        result.scopes(),
        result.token_type(),
        result.tenant(),
        result.id_token_claims().map(|c| c.len()),
    );
    let mut other_at = (*at).clone();
    other_at.secret.push_str("-other");
    let other = AuthenticationResult::from_identity_provider(
        std::sync::Arc::new(other_at),
        result.account().cloned(),
        None,
        "00000000-0000-0000-0000-000000000000",
    );
    assert_eq!(
        format!("{result:?}"),
        format!("{other:?}"),
        "an authentication result's Debug shows neither the access token nor the ID token"
    );
    round_trip(&cache);
}

/// A device authorization response (RFC 8628 §3.2): mapped to JSON as the request maps it,
/// read into an initiated flow, its accessors called, and the flow serialized and read back
/// (web apps keep it in a session).
pub fn device_code(data: &[u8]) {
    let Ok(json) = parse_response(&http_response(200, data)) else {
        return;
    };
    let started = Started {
        ssh_certificate: None,
        client_id: CLIENT_ID.to_owned(),
        authority: format!("https://{ENVIRONMENT}/organizations/"),
        scopes: vec!["User.Read".to_owned()],
        now: NOW,
        correlation_id: "00000000-0000-0000-0000-000000000000".to_owned(),
        claims: None,
    };
    let Ok(flow) = DeviceCodeFlow::<Initiated>::from_response(200, &json, started) else {
        return;
    };
    let _ = (
        flow.user_code(),
        flow.verification_uri(),
        flow.message(),
        flow.interval(),
        flow.expires_at(),
        format!("{flow:?}"),
    );
    let saved = serde_json::to_string(&flow).expect("an initiated flow serializes");
    let back: DeviceCodeFlow<Initiated> =
        serde_json::from_str(&saved).expect("a serialized flow reads back");
    assert_eq!(
        saved,
        serde_json::to_string(&back).expect("serializes"),
        "a device code flow changes when serialized and read back"
    );
}

/// An ID token: the bytes as a compact JWT, then as the claims (payload) of one, decoded as
/// MSAL decodes them (without validation), and carried by a token response (with or without
/// `client_info`) into the cache, the account and the result.
pub fn id_token(data: &[u8]) {
    let _ = decode_jwt_claims(&String::from_utf8_lossy(data));
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
    // {"alg":"RS256","kid":"fuzz","typ":"JWT"}
    let jwt = format!("eyJhbGciOiJSUzI1NiIsImtpZCI6ImZ1enoiLCJ0eXAiOiJKV1QifQ.{payload}.c2ln");
    let _ = decode_jwt_claims(&jwt);
    // {"uid":"00000000-0000-0000-66f3-3332eca7ea81","utid":"72f988bf-86f1-41af-91ab-2d7cd011db47"}
    let client_info = "eyJ1aWQiOiIwMDAwMDAwMC0wMDAwLTAwMDAtNjZmMy0zMzMyZWNhN2VhODEiLCJ1dGlkIjoiNzJmOTg4YmYtODZmMS00MWFmLTkxYWItMmQ3Y2QwMTFkYjQ3In0";
    // One recording per input (the whole pipeline is the slow part): with `client_info` for
    // inputs of odd length, without (the subject names the account, as on AD FS) for even.
    let client_info = (data.len() % 2 == 1).then_some(client_info);
    let response = TokenResponse {
        access_token: Some("eyJ0eXAiOiJKV1QifQ.e30.c2ln".to_owned()),
        token_type: Some("Bearer".to_owned()),
        expires_in: Some(WireSeconds::Value(3599)),
        refresh_token: Some("0.AAAA-refresh".to_owned()),
        id_token: Some(jwt),
        client_info: client_info.map(str::to_owned),
        scope: Some("User.Read openid profile".to_owned()),
        ..TokenResponse::default()
    };
    record_and_reload(&response);
}

/// What reaches the redirect URI: a query string or a `form_post` body (read as the loopback
/// listener reads it, lossily as UTF-8), and what completing a flow reads from it: `state`,
/// `code`, an `error` with its description (a typed, classified error) and `client_info`.
pub fn auth_response(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let resp = AuthResponse::from_query(&text);
    let _ = format!("{resp:?}");
    for name in ["state", "code", "session_state", "cloud_instance_host_name"] {
        let _ = resp.get(name);
    }
    if let Some(error) = resp.get("error") {
        let e = classify(Error::from_service(ServiceError {
            status: 0,
            error: error.to_owned(),
            error_description: resp.get("error_description").map(str::to_owned),
            suberror: resp.get("suberror").map(str::to_owned),
            ..ServiceError::default()
        }));
        let _ = (e.to_string(), e.is_interaction_required(), format!("{e:?}"));
    }
    if let Some(ci) = resp.get("client_info").and_then(ClientInfo::parse) {
        let _ = format!("Oid:{}@{}", ci.uid, ci.utid);
        let _ = ci.home_account_id();
    }
}

/// The authorities a discovery document is read for: Entra ID (a tenant and `common`), B2C,
/// AD FS, CIAM and a generic OpenID Connect provider.
fn authorities() -> Vec<Authority> {
    let mut v = vec![
        Authority::tenant("contoso.onmicrosoft.com"),
        Authority::common(),
        Authority::aad("login.contoso-sovereign.example", "organizations"),
        Authority::b2c(
            "fabrikamb2c.b2clogin.com",
            "fabrikamb2c.onmicrosoft.com",
            "B2C_1_signupsignin1",
        ),
    ];
    for url in [
        Authority::adfs("https://fs.contoso.com/adfs"),
        Authority::ciam("https://contoso.ciamlogin.com/contoso.onmicrosoft.com"),
        Authority::oidc("https://accounts.contoso.example/tenant"),
    ] {
        v.extend(url.ok());
    }
    v
}

const OPTION_SETS: [DiscoveryOptions; 2] = [
    DiscoveryOptions {
        validate_authority: true,
        instance_discovery: true,
        allow_http_loopback: false,
    },
    DiscoveryOptions {
        validate_authority: false,
        instance_discovery: false,
        allow_http_loopback: true,
    },
];

/// An OpenID Connect discovery document (`.well-known/openid-configuration`), read into each
/// kind of authority's metadata; the endpoints it yields are https (or loopback http where
/// allowed) URLs.
pub fn oidc_discovery(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    for authority in authorities() {
        for opts in OPTION_SETS {
            for status in [200, 400] {
                match read_discovery_document(&authority, opts, status, &doc, None, now) {
                    Ok(meta) => {
                        assert_eq!(status, 200, "metadata from a failed discovery");
                        let token = url::Url::parse(&meta.token_endpoint)
                            .expect("the token endpoint is a URL");
                        assert!(
                            token.scheme() == "https" || opts.allow_http_loopback,
                            "a token endpoint that is not https"
                        );
                        assert!(!meta.aliases.is_empty());
                    }
                    Err(e) => {
                        let _ = (e.to_string(), e.kind());
                    }
                }
            }
        }
    }
}

/// An Entra instance discovery answer (`/common/discovery/instance`), read for each kind of
/// authority: the tenant discovery endpoint and the host's aliases, whose group must contain
/// the host.
pub fn instance_discovery(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for authority in authorities() {
        for opts in OPTION_SETS {
            for status in [200, 400] {
                match read_instance_discovery(&authority, opts, status, &body) {
                    Ok((tenant_discovery, aliases)) => {
                        if let Some(t) = tenant_discovery {
                            assert!(url::Url::parse(&t).is_ok());
                        }
                        if let Some(a) = aliases {
                            assert!(a.iter().any(|h| h == authority.host()));
                        }
                    }
                    Err(e) => {
                        let _ = (e.to_string(), e.kind());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

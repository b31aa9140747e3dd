//! Client authentication: a secret, or a JWT assertion verified against a registered certificate.

use serde_json::Value;

use super::{JWT_ASSERTION_TYPE, TokenRequest};
use crate::der::CertInfo;
use crate::jwt::{self, Jwt};
use crate::respond::OAuthError;
use crate::state::App;

/// How the client proved its identity (`appidacr`: 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMethod {
    None,
    Secret,
    Assertion,
}

impl AuthMethod {
    pub(crate) fn acr(self) -> &'static str {
        match self {
            Self::None => "0",
            Self::Secret => "1",
            Self::Assertion => "2",
        }
    }
}

/// The authenticated client.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) app: App,
    pub(crate) method: AuthMethod,
}

fn unknown_app(client_id: &str, tenant: &str) -> OAuthError {
    OAuthError::bad(
        "unauthorized_client",
        700_016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. \
             This can happen if the application has not been installed by the administrator of \
             the tenant or consented to by any user in the tenant. You may have sent your \
             authentication request to the wrong tenant."
        ),
    )
}

/// Identifies the client of a grant open to public clients: a public client presents no
/// credential, a confidential one must authenticate.
pub(crate) fn authenticate_any(ctx: &TokenRequest<'_>) -> Result<Client, OAuthError> {
    let app = ctx.param("client_id").and_then(|id| {
        let reg = ctx.state.lock();
        reg.app(id).cloned()
    });
    match app {
        Some(app) if app.public_client => {
            if !app.allowed_in(ctx.authority.real_tenant()) {
                return Err(unknown_app(&app.client_id, &ctx.authority.segment));
            }
            if ctx.param("client_secret").is_some() || ctx.param("client_assertion").is_some() {
                return Err(OAuthError::invalid_client(
                    700_025,
                    "Client is public so neither 'client_assertion' nor 'client_secret' should \
                     be presented.",
                ));
            }
            Ok(Client {
                app,
                method: AuthMethod::None,
            })
        }
        _ => authenticate(ctx),
    }
}

/// Authenticates the client of a confidential grant (a credential is required).
pub(crate) fn authenticate(ctx: &TokenRequest<'_>) -> Result<Client, OAuthError> {
    let assertion = ctx.param("client_assertion");
    let secret = ctx.param("client_secret");
    let client_id = match (ctx.param("client_id"), assertion) {
        (Some(id), _) => id.to_string(),
        (None, Some(a)) => Jwt::parse(a)
            .and_then(|j| j.claim_str("iss").map(str::to_string))
            .ok_or_else(|| OAuthError::missing("client_id"))?,
        (None, None) => return Err(OAuthError::missing("client_id")),
    };
    let app = {
        let reg = ctx.state.lock();
        reg.app(&client_id).cloned()
    }
    .filter(|app| app.allowed_in(ctx.authority.real_tenant()))
    .ok_or_else(|| unknown_app(&client_id, &ctx.authority.segment))?;

    if app.public_client && (secret.is_some() || assertion.is_some()) {
        return Err(OAuthError::invalid_client(
            700_025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be \
             presented.",
        ));
    }
    match (secret, assertion) {
        (Some(_), Some(_)) => Err(OAuthError::bad(
            "invalid_request",
            7_000_219,
            "Only one client credential may be presented: 'client_secret' or 'client_assertion'.",
        )),
        (Some(secret), None) => {
            if app
                .secrets
                .iter()
                .any(|s| constant_time_eq(s.as_bytes(), secret.as_bytes()))
            {
                Ok(Client {
                    app,
                    method: AuthMethod::Secret,
                })
            } else {
                Err(OAuthError::invalid_client(
                    7_000_215,
                    format!(
                        "Invalid client secret provided. Ensure the secret being sent in the \
                         request is the client secret value, not the client secret ID, for a \
                         secret added to app '{}'.",
                        app.client_id
                    ),
                ))
            }
        }
        (None, Some(assertion)) => {
            if ctx.param("client_assertion_type") != Some(JWT_ASSERTION_TYPE) {
                return Err(OAuthError::bad(
                    "invalid_request",
                    90_014,
                    format!(
                        "The required field 'client_assertion_type' is missing or is not \
                         '{JWT_ASSERTION_TYPE}'."
                    ),
                ));
            }
            verify_assertion(ctx, &app, assertion)?;
            Ok(Client {
                app,
                method: AuthMethod::Assertion,
            })
        }
        (None, None) => Err(OAuthError::invalid_client(
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or \
             'client_secret'.",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn bad_assertion(code: u32, msg: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client(code, msg)
}

/// The registered certificate the assertion header points at (by `x5t#S256` or `x5t`).
fn find_cert<'a>(jwt: &Jwt, app: &'a App) -> Result<&'a CertInfo, OAuthError> {
    let alg = jwt.header_str("alg").unwrap_or_default();
    let s256 = jwt.header_str("x5t#S256");
    let s1 = jwt.header_str("x5t");
    let order: [(Option<&str>, bool); 2] = if alg.starts_with("PS") {
        [(s256, true), (s1, false)]
    } else {
        [(s1, false), (s256, true)]
    };
    let (thumb, sha256) = order
        .into_iter()
        .find(|(t, _)| t.is_some())
        .and_then(|(t, s)| Some((t?, s)))
        .ok_or_else(|| {
            bad_assertion(
                700_021,
                "Client assertion has no 'x5t' or 'x5t#S256' header: the key cannot be found.",
            )
        })?;
    let digest = jwt::b64url_decode(thumb).unwrap_or_default();
    app.certs
        .iter()
        .find(|c| {
            !digest.is_empty()
                && if sha256 {
                    c.sha256 == digest
                } else {
                    c.sha1 == digest
                }
        })
        .ok_or_else(|| {
            bad_assertion(
                700_021,
                format!(
                    "Client assertion contains a certificate thumbprint '{thumb}' that is not \
                     registered on application '{}'.",
                    app.client_id
                ),
            )
        })
}

/// Checks `x5c` (optional): its first certificate must be the registered one.
fn check_x5c(jwt: &Jwt, cert: &CertInfo) -> Result<(), OAuthError> {
    let Some(x5c) = jwt.header.get("x5c") else {
        return Ok(());
    };
    let first = match x5c {
        Value::Array(items) => items.first().and_then(Value::as_str),
        Value::String(s) => Some(s.as_str()),
        _ => None,
    };
    let der = first.and_then(jwt::b64_decode_lenient);
    if der.as_deref() == Some(cert.der.as_slice()) {
        Ok(())
    } else {
        Err(bad_assertion(
            700_021,
            "The certificate in the client assertion's 'x5c' header is not registered on the \
             application or does not match its thumbprint.",
        ))
    }
}

fn audiences(jwt: &Jwt) -> Vec<String> {
    match jwt.claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether one of `app`'s federated identity credentials names `jwt`'s `iss` and `sub` and one
/// of its audiences.
pub(super) fn federated_match(app: &App, jwt: &Jwt) -> bool {
    let iss = jwt.claim_str("iss").unwrap_or_default();
    let sub = jwt.claim_str("sub").unwrap_or_default();
    let auds = audiences(jwt);
    app.federated_credentials.iter().any(|f| {
        f.issuer == iss && f.subject == sub && auds.iter().any(|a| f.audiences.contains(a))
    })
}

/// An assertion of an external issuer, accepted through one of the app's federated identity
/// credentials (Microsoft identity platform, "Workload identity federation"): `iss`, `sub` and
/// one `aud` must match a credential; the emulator stands in for every issuer, so the
/// signature is checked with its own key.
fn verify_federated(
    ctx: &TokenRequest<'_>,
    app: &App,
    jwt: &Jwt,
    assertion: &str,
) -> Result<(), OAuthError> {
    let iss = jwt.claim_str("iss").unwrap_or_default();
    let sub = jwt.claim_str("sub").unwrap_or_default();
    let auds = audiences(jwt);
    if !federated_match(app, jwt) {
        return Err(bad_assertion(
            70_021,
            format!(
                "No matching federated identity record found for presented assertion. \
                 Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: \
                 '{}'.",
                auds.join(",")
            ),
        ));
    }
    if ctx.state.signer.verify(assertion).is_err() {
        return Err(bad_assertion(
            700_027,
            "Client assertion contains an invalid signature. [Reason - The key was not found \
             in the issuer's keys.]",
        ));
    }
    let now = ctx.now;
    let exp = jwt.claim_f64("exp").unwrap_or(0.0);
    if exp <= now || jwt.claim_f64("nbf").is_some_and(|n| n > now) {
        return Err(bad_assertion(
            700_024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, expiry time of assertion {exp}."
            ),
        ));
    }
    Ok(())
}

fn verify_assertion(ctx: &TokenRequest<'_>, app: &App, assertion: &str) -> Result<(), OAuthError> {
    let jwt = Jwt::parse(assertion)
        .ok_or_else(|| bad_assertion(50_027, "JWT token is invalid or malformed."))?;
    let foreign = jwt
        .claim_str("iss")
        .is_some_and(|iss| !iss.eq_ignore_ascii_case(&app.client_id));
    if foreign && !app.federated_credentials.is_empty() {
        return verify_federated(ctx, app, &jwt, assertion);
    }
    let alg = jwt.header_str("alg").unwrap_or_default().to_string();
    if !matches!(
        alg.as_str(),
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512"
    ) {
        return Err(bad_assertion(
            700_027,
            format!("Client assertion uses an unsupported signing algorithm '{alg}'."),
        ));
    }
    for claim in ["iss", "sub"] {
        if !jwt
            .claim_str(claim)
            .is_some_and(|v| v.eq_ignore_ascii_case(&app.client_id))
        {
            return Err(bad_assertion(
                700_021,
                format!(
                    "Client assertion application identifier doesn't match 'client_id' parameter \
                     ('{claim}' must be '{}').",
                    app.client_id
                ),
            ));
        }
    }
    let cert = find_cert(&jwt, app)?;
    check_x5c(&jwt, cert)?;
    if !jwt::verify_rsa(
        &alg,
        &cert.spki,
        jwt.signing_input.as_bytes(),
        &jwt.signature,
    ) {
        return Err(bad_assertion(
            700_027,
            "Client assertion contains an invalid signature. [Reason - The key used to sign the \
             assertion does not match the registered certificate.]",
        ));
    }
    let accepted = ctx.authority.assertion_audiences(&ctx.req.norm_path);
    let auds = audiences(&jwt);
    let ok = auds.iter().any(|a| {
        accepted.iter().any(|x| {
            x.trim_end_matches('/')
                .eq_ignore_ascii_case(a.trim_end_matches('/'))
        })
    });
    if !ok {
        return Err(bad_assertion(
            50_012,
            format!(
                "Client assertion audience claim {auds:?} does not match the token endpoint. \
                 Expected '{}'.",
                accepted.first().map_or("", String::as_str)
            ),
        ));
    }
    let now = ctx.now;
    let exp = jwt
        .claim_f64("exp")
        .ok_or_else(|| bad_assertion(50_027, "JWT token is invalid or malformed: no 'exp'."))?;
    let nbf = jwt.claim_f64("nbf");
    if exp <= now || nbf.is_some_and(|n| n > now) {
        return Err(bad_assertion(
            700_024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, \
                 assertion valid from {}, expiry time of assertion {exp}.",
                nbf.map_or_else(|| "-".to_string(), |n| n.to_string())
            ),
        ));
    }
    let jti = jwt
        .claim_str("jti")
        .filter(|j| !j.is_empty())
        .ok_or_else(|| bad_assertion(50_027, "JWT token is invalid or malformed: no 'jti'."))?;
    // Entra accepts a reused assertion within its lifetime: count, do not reject.
    *ctx.state
        .lock()
        .stats
        .assertion_reuse
        .entry(jti.to_string())
        .or_insert(0) += 1;
    Ok(())
}

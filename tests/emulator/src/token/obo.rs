//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with
//! `requested_token_use=on_behalf_of`.

use serde_json::{Map, Value};

use super::issue::{self, IdFlavor, IdToken, UserClaims, UserToken};
use super::{TokenRequest, client_auth, client_credentials, scopes};
use crate::ids;
use crate::jwt::OwnTokenError;
use crate::respond::OAuthError;
use crate::seeds::ID_TOKEN_LIFETIME;
use crate::state::{RefreshTokenRecord, RtStatus};

fn invalid_grant(code: u32, msg: impl Into<String>) -> OAuthError {
    OAuthError::bad("invalid_grant", code, msg)
}

pub(super) fn handle(ctx: &TokenRequest<'_>) -> Result<Value, OAuthError> {
    match ctx.param("requested_token_use") {
        Some("on_behalf_of") => {}
        Some(other) => {
            return Err(OAuthError::bad(
                "invalid_request",
                90_009,
                format!("The requested_token_use '{other}' is not supported for this grant."),
            ));
        }
        None => return Err(OAuthError::missing("requested_token_use")),
    }
    let client = client_auth::authenticate(ctx)?;
    let assertion = ctx.required("assertion")?;
    let scope = ctx.required("scope")?;
    client_credentials::parse_claims(ctx)?;

    let jwt = ctx.state.signer.verify(assertion).map_err(|e| match e {
        OwnTokenError::Malformed => invalid_grant(50_013, "Assertion is malformed."),
        OwnTokenError::BadSignature => invalid_grant(
            50_013,
            "Assertion failed signature validation. [Reason - The key was not found.]",
        ),
    })?;
    let exp = jwt.claim_f64("exp").unwrap_or(0.0);
    if exp <= ctx.now || jwt.claim_f64("nbf").is_some_and(|n| n > ctx.now) {
        return Err(invalid_grant(
            500_133,
            format!(
                "Assertion is not within its valid time range. Ensure that the access token is not \
                 expired before using it for user assertion, or request a new token. Current \
                 time: {}, expiry time of assertion {exp}.",
                ctx.now
            ),
        ));
    }
    let aud = jwt.claim_str("aud").unwrap_or_default();
    if !client.app.is_audience(aud) {
        return Err(invalid_grant(
            50_013,
            format!(
                "Assertion audience does not match the Client app presenting the assertion. The \
                 audience in the assertion was '{aud}' and the expected audience is '{}' or one of \
                 the Application Id URIs of this web API.",
                client.app.client_id
            ),
        ));
    }
    let (Some(oid), Some(token_tid)) = (jwt.claim_str("oid"), jwt.claim_str("tid")) else {
        return Err(invalid_grant(
            50_013,
            "Assertion is not a user token (no oid/tid).",
        ));
    };
    if jwt.claim_str("scp").is_none() {
        return Err(invalid_grant(
            50_013,
            "Assertion is not a delegated (user) token.",
        ));
    }
    let tid = ctx.authority.tid().unwrap_or(token_tid).to_string();
    let username = jwt
        .claim_str("preferred_username")
        .or_else(|| jwt.claim_str("upn"))
        .unwrap_or_default();
    let user = UserClaims {
        oid: oid.to_string(),
        tid: tid.clone(),
        username: username.to_string(),
        name: jwt.claim_str("name").unwrap_or(username).to_string(),
        home: None,
    };

    let requested = scopes::parse(&ctx.state.lock(), scope)?;
    let now = ctx.now_secs();
    let lifetime = client.app.lifetime();
    let access_token = UserToken {
        issuer: ctx.authority.access_token_issuer(&tid),
        aud: &requested.resource.aud,
        client_id: &client.app.client_id,
        acr: client.method.acr(),
        user: &user,
        scp: &requested.scp.join(" "),
        now,
        lifetime,
    }
    .sign(&ctx.state.signer);

    let mut out = Map::new();
    out.insert("token_type".into(), "Bearer".into());
    out.insert("scope".into(), requested.granted.join(" ").into());
    issue::lifetime_fields(&mut out, lifetime);
    out.insert("access_token".into(), access_token.into());
    if requested.offline_access {
        let rt = ids::refresh_token();
        ctx.state.lock().refresh_tokens.insert(
            rt.clone(),
            RefreshTokenRecord {
                client_id: client.app.client_id.clone(),
                oid: user.oid.clone(),
                tid: tid.clone(),
                username: user.username.clone(),
                name: user.name.clone(),
                scopes: requested.granted.clone(),
                issued_at: now,
                family_id: client.app.family_id.clone(),
                kind: ctx.authority.kind,
                auth_time: None,
                status: RtStatus::Active,
            },
        );
        out.insert("refresh_token".into(), rt.into());
    }
    if requested.openid {
        let id_token = IdToken {
            issuer: ctx.authority.issuer_for(&tid),
            client_id: &client.app.client_id,
            user: &user,
            now,
            lifetime: ID_TOKEN_LIFETIME,
            nonce: None,
            auth_time: None,
            flavor: IdFlavor::Entra,
        }
        .sign(&ctx.state.signer);
        out.insert("id_token".into(), id_token.into());
    }
    if ctx.param("client_info") == Some("1") {
        out.insert(
            "client_info".into(),
            issue::client_info(&user.oid, &tid).into(),
        );
    }
    Ok(Value::Object(out))
}

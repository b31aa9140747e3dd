//! What the sign-in grants (authorization code, refresh token, password, device code) share:
//! the checks on the user, and the token response.
//!
//! Response shape (Entra ID and CIAM), in this order: `token_type`, `scope`, `expires_in`,
//! `ext_expires_in`, `refresh_in`?, `access_token`, `refresh_token`?, `foci`?, `id_token`?,
//! `client_info`? (`?`: only sometimes). `scope` follows [`Delegated::sign_in_scope`].
//! `refresh_token` when `offline_access` was asked (always for the refresh grant), `id_token`
//! when `openid` was, `client_info` when the request says `client_info=1`, `foci` when the
//! client is in a family.
//! B2C answers `not_before`, `expires_on`, `resource`, `id_token_expires_in` and
//! `refresh_token_expires_in` instead of `ext_expires_in`; ADFS answers `token_type: bearer`,
//! `resource`, `refresh_token_expires_in` and never `client_info`.

use serde_json::{Map, Value};

use super::TokenRequest;
use super::client_auth::Client;
use super::issue::{self, IdFlavor, IdToken, UserClaims, UserToken};
use super::scopes::Delegated;
use crate::hosts::HostKind;
use crate::ids;
use crate::model::InteractionSetting;
use crate::respond::OAuthError;
use crate::seeds;
use crate::state::{RefreshTokenRecord, RtStatus, User};

/// Lifetime reported for B2C and ADFS refresh tokens (14 days).
const RT_LIFETIME: u64 = 14 * 24 * 3600;

/// The default `claims` challenge of an interaction requirement.
pub(crate) const DEFAULT_CLAIMS_CHALLENGE: &str = r#"{"access_token":{"capolids":{"essential":true,"values":["c1a0c1a0-0000-4000-8000-00000000ca01"]}}}"#;

/// The AADSTS code, `suberror` and `claims` of an interaction requirement.
pub(crate) fn interaction_parts(i: &InteractionSetting) -> (u32, String, String) {
    (
        i.code.unwrap_or(50_076),
        i.suberror.clone().unwrap_or_else(|| "basic_action".into()),
        i.claims
            .clone()
            .unwrap_or_else(|| DEFAULT_CLAIMS_CHALLENGE.into()),
    )
}

/// AADSTS65001.
pub(crate) fn consent_description(client_id: &str) -> String {
    format!(
        "The user or administrator has not consented to use the application with ID \
         '{client_id}' named '{client_id}'. Send an interactive authorization request for this \
         user and resource."
    )
}

/// AADSTS50076 (or the configured code).
pub(crate) fn interaction_description(resource: &str) -> String {
    format!(
        "Due to a configuration change made by your administrator, or because you moved to a \
         new location, you must use multi-factor authentication to access '{resource}'."
    )
}

/// The token endpoint's refusal when the user must consent or interact first.
pub(crate) fn check_user(user: &User, client_id: &str, resource: &str) -> Result<(), OAuthError> {
    if user.needs_consent_for(client_id) {
        return Err(
            OAuthError::invalid_grant(65_001, consent_description(client_id))
                .with("suberror", "consent_required"),
        );
    }
    if let Some(i) = &user.interaction {
        let (code, suberror, claims) = interaction_parts(i);
        return Err(
            OAuthError::invalid_grant(code, interaction_description(resource))
                .with("suberror", suberror)
                .with("claims", claims),
        );
    }
    Ok(())
}

/// AADSTS50034: the user is not in the directory the authority names.
pub(crate) fn no_such_user(tenant: &str) -> OAuthError {
    OAuthError::invalid_grant(
        50_034,
        format!(
            "The user account {{EUII Hidden}} does not exist in the {tenant} directory. To sign \
             into this application, the account must be added to the directory."
        ),
    )
}

/// A completed sign-in to turn into tokens.
pub(crate) struct SignIn<'a> {
    pub(crate) client: &'a Client,
    pub(crate) user: &'a UserClaims,
    pub(crate) auth_time: Option<u64>,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) requested: &'a Delegated,
    /// Issue a refresh token even without `offline_access` (the refresh grant).
    pub(crate) always_refresh_token: bool,
}

/// The claims of a registered user in tokens.
pub(crate) fn claims_of(user: &User) -> UserClaims {
    UserClaims {
        oid: user.oid.clone(),
        tid: user.tenant_id.clone(),
        username: user.username.clone(),
        name: user.name.clone(),
        home: user.home.clone(),
    }
}

/// Builds the token response of a sign-in grant (and records its refresh token).
pub(crate) fn respond(ctx: &TokenRequest<'_>, s: &SignIn<'_>) -> Value {
    let now = ctx.now_secs();
    let app = &s.client.app;
    let kind = ctx.authority.kind;
    let policy = ctx.authority.policy_name();
    let lifetime = app.lifetime();
    let tid = s.user.tid.as_str();
    let access_token = UserToken {
        issuer: ctx.authority.access_token_issuer(tid),
        aud: &s.requested.resource.aud,
        client_id: &app.client_id,
        acr: s.client.method.acr(),
        user: s.user,
        scp: &s.requested.scp.join(" "),
        now,
        lifetime,
    }
    .sign(&ctx.state.signer);
    let refresh_token = (s.requested.offline_access || s.always_refresh_token).then(|| {
        let rt = ids::refresh_token();
        ctx.state.lock().refresh_tokens.insert(
            rt.clone(),
            RefreshTokenRecord {
                client_id: app.client_id.clone(),
                family_id: app.family_id.clone(),
                oid: s.user.oid.clone(),
                tid: tid.to_string(),
                username: s.user.username.clone(),
                name: s.user.name.clone(),
                scopes: s.requested.granted.clone(),
                issued_at: now,
                kind,
                auth_time: s.auth_time,
                status: RtStatus::Active,
            },
        );
        rt
    });
    let flavor = match (kind, policy) {
        (HostKind::B2c, Some(policy)) => IdFlavor::B2c { policy },
        (HostKind::Adfs, _) => IdFlavor::Adfs {
            public_client: app.public_client,
        },
        _ => IdFlavor::Entra,
    };
    let id_token = s.requested.openid.then(|| {
        IdToken {
            issuer: ctx.authority.issuer_for(tid),
            client_id: &app.client_id,
            user: s.user,
            now,
            lifetime: seeds::ID_TOKEN_LIFETIME,
            nonce: s.nonce,
            auth_time: s.auth_time,
            flavor,
        }
        .sign(&ctx.state.signer)
    });
    let client_info = (ctx.param("client_info") == Some("1")).then(|| match flavor {
        IdFlavor::B2c { policy } => Some(issue::b2c_client_info(&s.user.oid, tid, policy)),
        IdFlavor::Adfs { .. } => None,
        IdFlavor::Entra if kind == HostKind::Oidc => None,
        IdFlavor::Entra => Some(match &s.user.home {
            Some((home_oid, home_tid)) => issue::client_info(home_oid, home_tid),
            None => issue::client_info(&s.user.oid, tid),
        }),
    });
    let client_info = client_info.flatten();
    let scope = s.requested.sign_in_scope();

    let mut out = Map::new();
    match flavor {
        IdFlavor::Adfs { .. } => {
            out.insert("access_token".into(), access_token.into());
            out.insert("token_type".into(), "bearer".into());
            out.insert("expires_in".into(), lifetime.into());
            out.insert("resource".into(), s.requested.resource.aud.clone().into());
            if let Some(rt) = refresh_token {
                out.insert("refresh_token".into(), rt.into());
                out.insert("refresh_token_expires_in".into(), RT_LIFETIME.into());
            }
            out.insert("scope".into(), scope.into());
            if let Some(id) = id_token {
                out.insert("id_token".into(), id.into());
            }
        }
        IdFlavor::B2c { .. } => {
            out.insert("access_token".into(), access_token.into());
            if let Some(id) = id_token {
                out.insert("id_token".into(), id.into());
            }
            out.insert("token_type".into(), "Bearer".into());
            out.insert("not_before".into(), now.into());
            out.insert("expires_in".into(), lifetime.into());
            out.insert("expires_on".into(), now.saturating_add(lifetime).into());
            out.insert("resource".into(), s.requested.resource.aud.clone().into());
            out.insert(
                "id_token_expires_in".into(),
                seeds::ID_TOKEN_LIFETIME.into(),
            );
            out.insert("scope".into(), scope.into());
            if let Some(rt) = refresh_token {
                out.insert("refresh_token".into(), rt.into());
                out.insert("refresh_token_expires_in".into(), RT_LIFETIME.into());
            }
            if let Some(ci) = client_info {
                out.insert("client_info".into(), ci.into());
            }
        }
        IdFlavor::Entra => {
            out.insert("token_type".into(), "Bearer".into());
            out.insert("scope".into(), scope.into());
            issue::lifetime_fields(&mut out, lifetime);
            out.insert("access_token".into(), access_token.into());
            if let Some(rt) = refresh_token {
                out.insert("refresh_token".into(), rt.into());
            }
            if let Some(family) = &app.family_id {
                out.insert("foci".into(), family.clone().into());
            }
            if let Some(id) = id_token {
                out.insert("id_token".into(), id.into());
            }
            if let Some(ci) = client_info {
                out.insert("client_info".into(), ci.into());
            }
        }
    }
    Value::Object(out)
}

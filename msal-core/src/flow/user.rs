//! What the user-token grants share: the scopes they send (the caller's plus `openid profile
//! offline_access`), the CCS routing hint (`X-AnchorMailbox`), the mapping of `suberror` to
//! MSAL's `classification`, and sending a grant and recording its tokens.

use crate::app::core::AppRef;
use crate::app::options::RequestOptions;
use crate::authority::discovery::AuthorityMetadata;
use crate::error::{Error, ErrorKind, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::http::token_request::{Form, TokenRequest, post_token};
use crate::response::TokenResponse;
use crate::result::AuthenticationResult;
use crate::scope::ScopeSet;

use super::{
    Applying, Refreshed, apply_response, client_form, push_claims, push_extra, token_request,
};

/// Checks the caller's scopes for a user-token request: the reserved OIDC scopes are added by
/// the library and cannot be asked for.
pub(crate) fn user_scopes(scopes: Result<ScopeSet>) -> Result<ScopeSet> {
    let scopes = scopes?;
    if scopes.has_reserved() {
        return Err(Error::invalid_input(
            "openid, profile and offline_access are added automatically and cannot be requested",
        ));
    }
    Ok(scopes)
}

/// `X-AnchorMailbox: Oid:{uid}@{utid}` from a home account id `uid.utid`.
pub(crate) fn anchor_from_home_account(home_account_id: &str) -> Option<String> {
    let (uid, utid) = home_account_id.split_once('.')?;
    (!uid.is_empty() && !utid.is_empty()).then(|| format!("Oid:{uid}@{utid}"))
}

/// MSAL's `classification` of a `suberror` (msal/application.py, `acquire_token_silent_with_error`): these five become empty, the rest
/// are copied.
pub(crate) fn classify(e: Error) -> Error {
    let Some(s) = e.service() else {
        return e;
    };
    let Some(sub) = s.suberror.clone() else {
        return e;
    };
    let classification = match sub.as_str() {
        "bad_token"
        | "token_expired"
        | "protection_policy_required"
        | "client_mismatch"
        | "device_authentication_failed" => String::new(),
        other => other.to_owned(),
    };
    let mut s = s.clone();
    s.classification = Some(classification);
    Error::with_service(e.kind(), e.message(), s)
}

/// The error of a silent acquisition that found nothing to use.
pub(crate) fn no_token() -> Error {
    Error::new(
        ErrorKind::InteractionRequired,
        "no token or refresh token for this account and these scopes is cached: sign the user in interactively",
    )
}

/// One user-token grant: its fields after the client's, in MSAL Python's order.
pub(crate) struct Grant<'a> {
    pub(crate) app: AppRef<'a>,
    pub(crate) meta: &'a AuthorityMetadata,
    pub(crate) grant_type: &'static str,
    pub(crate) api: ApiId,
    pub(crate) reason: RefreshReason,
    /// The caller's scopes (sent decorated, cached as granted).
    pub(crate) scopes: &'a ScopeSet,
    pub(crate) options: &'a RequestOptions,
    /// Fields that come before `claims` (the device code grant's `code`).
    pub(crate) leading: Vec<(&'static str, String)>,
    /// Fields that come between `claims` and `scope` (e.g. `code_verifier`, `code`,
    /// `redirect_uri`; `refresh_token`; `username`, `password`).
    pub(crate) fields: Vec<(&'static str, String)>,
    /// Whether `scope` is sent (the device-code grant sends none).
    pub(crate) send_scope: bool,
    /// `X-AnchorMailbox`.
    pub(crate) anchor: Option<String>,
    pub(crate) refreshed: Option<Refreshed<'a>>,
    pub(crate) username: Option<&'a str>,
    /// A correlation id to reuse (the device flow keeps the one it started with).
    pub(crate) correlation_id: Option<&'a str>,
}

/// Builds the form of `g`: the client part, extra fields, `claims`, the grant's fields,
/// `scope`.
pub(crate) async fn grant_form(g: &Grant<'_>) -> Result<Form> {
    fn push(form: &mut Form, name: &'static str, value: &str) {
        if matches!(
            name,
            "password"
                | "refresh_token"
                | "code_verifier"
                | "code"
                | "device_code"
                | "user_federated_identity_credential"
                | "assertion"
        ) {
            form.push_secret(name, secrecy::SecretString::from(value.to_owned()));
        } else {
            form.push(name, value.to_owned());
        }
    }
    g.options.check()?;
    let mut form = client_form(g.app, g.meta, g.grant_type, None).await?;
    push_extra(&mut form, g.options);
    for (name, value) in &g.leading {
        push(&mut form, name, value);
    }
    push_claims(g.app.core, &mut form, g.options.claims.as_deref())?;
    for (name, value) in &g.fields {
        push(&mut form, name, value);
    }
    if g.send_scope {
        form.push("scope", g.app.core.decorate(g.scopes).to_wire());
    }
    Ok(form)
}

/// Sends `g`; returns the response and the request it answered (not yet recorded).
pub(crate) async fn send(g: &Grant<'_>) -> Result<(TokenResponse, TokenRequest)> {
    let form = grant_form(g).await?;
    let mut req = token_request(
        g.meta,
        form,
        g.api,
        g.reason,
        g.options.correlation_id.as_deref().or(g.correlation_id),
        &g.options.extra_query,
    );
    if let Some(a) = &g.anchor {
        req.headers.push(("X-AnchorMailbox", a.clone()));
    }
    let resp = post_token(&g.app.core.http, &req).await?;
    Ok((resp, req))
}

/// Records what `g` obtained; the result carries the account.
pub(crate) async fn record(
    g: &Grant<'_>,
    resp: &TokenResponse,
    req: &TokenRequest,
) -> Result<AuthenticationResult> {
    apply_response(
        g.app.core,
        resp,
        Applying {
            refreshed: g.refreshed,
            username: g.username,
            ..Applying::new(g.meta, req, g.scopes, g.grant_type)
        },
    )
    .await
}

/// Sends `g` and records the tokens; the result carries the account.
pub(crate) async fn redeem(g: Grant<'_>) -> Result<AuthenticationResult> {
    let (resp, req) = send(&g).await?;
    record(&g, &resp, &req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceError;

    #[test]
    fn anchor_and_classification() {
        assert_eq!(
            anchor_from_home_account("uid.utid").as_deref(),
            Some("Oid:uid@utid")
        );
        assert_eq!(anchor_from_home_account("adfs-sub"), None);
        let e = Error::from_service(ServiceError {
            status: 400,
            error: "invalid_grant".into(),
            suberror: Some("basic_action".into()),
            ..Default::default()
        });
        let c = classify(e);
        assert_eq!(
            c.service().and_then(|s| s.classification.as_deref()),
            Some("basic_action")
        );
        let e = Error::from_service(ServiceError {
            status: 400,
            error: "invalid_grant".into(),
            suberror: Some("token_expired".into()),
            ..Default::default()
        });
        assert_eq!(
            classify(e)
                .service()
                .and_then(|s| s.classification.as_deref()),
            Some("")
        );
        assert!(no_token().is_interaction_required());
        assert!(user_scopes("openid User.Read".into_scopes_for_test()).is_err());
    }

    trait ForTest {
        fn into_scopes_for_test(self) -> Result<ScopeSet>;
    }

    impl ForTest for &str {
        fn into_scopes_for_test(self) -> Result<ScopeSet> {
            crate::scope::IntoScopes::into_scopes(self)
        }
    }
}

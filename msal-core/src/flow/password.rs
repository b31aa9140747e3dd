//! Username and password (ROPC), for legacy apps and tests: user-realm discovery first; a
//! managed account signs in directly (`grant_type=password`), a federated one at its federation
//! server over WS-Trust, whose SAML assertion is then redeemed with the SAML bearer grant
//! (msal/application.py `acquire_token_by_username_password`; see the `wstrust` module).

use std::future::IntoFuture;

use serde_json::Value;

use super::user::{Grant, redeem, user_scopes};
use super::wstrust;
use crate::app::core::AppRef;
use crate::app::options::{
    AcquireFuture, RequestOptions, request_option_setters, ssh_certificate_setter,
};
use crate::authority::AuthorityKind;
use crate::error::{Error, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::http::token_request::get_json;
use crate::result::AuthenticationResult;
use crate::scope::ScopeSet;

/// The request builder of `acquire_token_by_username_password`. Set options, then `.await` it.
#[must_use = "a request does nothing until awaited"]
pub struct AcquireTokenByUsernamePassword<'a> {
    app: AppRef<'a>,
    username: String,
    password: secrecy::SecretString,
    scopes: Result<ScopeSet>,
    options: RequestOptions,
}

impl std::fmt::Debug for AcquireTokenByUsernamePassword<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcquireTokenByUsernamePassword")
            .field("password", &"<redacted>")
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl<'a> AcquireTokenByUsernamePassword<'a> {
    pub(crate) fn new(
        app: AppRef<'a>,
        username: String,
        password: String,
        scopes: Result<ScopeSet>,
    ) -> Self {
        AcquireTokenByUsernamePassword {
            app,
            username,
            password: secrecy::SecretString::from(password),
            scopes,
            options: RequestOptions::default(),
        }
    }

    request_option_setters!();
    ssh_certificate_setter!();
}

impl<'a> IntoFuture for AcquireTokenByUsernamePassword<'a> {
    type Output = Result<AuthenticationResult>;
    type IntoFuture = AcquireFuture<'a, AuthenticationResult>;

    fn into_future(self) -> Self::IntoFuture {
        AcquireFuture::pending(async move {
            use secrecy::ExposeSecret as _;
            let scopes = user_scopes(self.scopes)?;
            let username = self.username.trim();
            if username.is_empty()
                || username.chars().any(|c| {
                    c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '%')
                })
            {
                return Err(Error::invalid_input(
                    "the username is empty or not a sign-in name",
                ));
            }
            let core = self.app.core;
            let authority = core.authority_for(&self.options)?.into_owned();
            let meta = core.metadata(&authority).await?;
            // The user-realm lookup and the token request share one correlation id, as MSAL's do.
            let correlation_id = self
                .options
                .correlation_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            if authority.kind() != AuthorityKind::Adfs {
                // As MSAL: the username goes into the path as it is (it was checked above).
                let url = format!(
                    "{}/common/userrealm/{username}?api-version=1.0",
                    authority.origin()
                );
                let (status, realm) =
                    get_json(&core.http, &url, true, Some(&correlation_id)).await?;
                if status == 200
                    && realm
                        .get("account_type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t == "Federated")
                {
                    let assertion = wstrust::sign_in(
                        &core.http,
                        &realm,
                        username,
                        self.password.expose_secret(),
                        core.clock.now(),
                    )
                    .await?;
                    // As msal/application.py: the assertion grant carries no anchor mailbox.
                    return redeem(Grant {
                        app: self.app,
                        meta: &meta,
                        grant_type: assertion.grant_type,
                        api: ApiId::AcquireTokenByUsernamePassword,
                        reason: RefreshReason::NotApplicable,
                        scopes: &scopes,
                        options: &self.options,
                        leading: Vec::new(),
                        // As msal/oauth2cli/oauth2.py `obtain_token_by_assertion`: `scope`,
                        // then `assertion`.
                        fields: vec![
                            ("scope", scopes.with_reserved().to_wire()),
                            ("assertion", assertion.encoded()),
                        ],
                        send_scope: false,
                        anchor: None,
                        refreshed: None,
                        username: Some(username),
                        correlation_id: Some(&correlation_id),
                    })
                    .await;
                }
            }
            redeem(Grant {
                app: self.app,
                meta: &meta,
                grant_type: "password",
                api: ApiId::AcquireTokenByUsernamePassword,
                reason: RefreshReason::NotApplicable,
                scopes: &scopes,
                options: &self.options,
                leading: Vec::new(),
                fields: vec![
                    ("username", username.to_owned()),
                    ("password", self.password.expose_secret().to_owned()),
                ],
                send_scope: true,
                anchor: Some(format!("upn:{username}")),
                refreshed: None,
                username: Some(username),
                correlation_id: Some(&correlation_id),
            })
            .await
        })
    }
}

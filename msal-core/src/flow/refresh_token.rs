//! Redeeming a refresh token the app obtained elsewhere (migrating users from another library
//! into the cache). The new refresh token is stored as a new entry; a failure removes nothing.

use std::future::IntoFuture;

use super::user::{Grant, redeem, user_scopes};
use crate::app::core::AppRef;
use crate::app::options::{
    AcquireFuture, RequestOptions, request_option_setters, ssh_certificate_setter,
};
use crate::error::{Error, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::result::AuthenticationResult;
use crate::scope::ScopeSet;

/// The request builder of `acquire_token_by_refresh_token`. Set options, then `.await` it.
#[must_use = "a request does nothing until awaited"]
pub struct AcquireTokenByRefreshToken<'a> {
    app: AppRef<'a>,
    refresh_token: secrecy::SecretString,
    scopes: Result<ScopeSet>,
    options: RequestOptions,
}

impl std::fmt::Debug for AcquireTokenByRefreshToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcquireTokenByRefreshToken")
            .field("refresh_token", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<'a> AcquireTokenByRefreshToken<'a> {
    pub(crate) fn new(app: AppRef<'a>, refresh_token: String, scopes: Result<ScopeSet>) -> Self {
        AcquireTokenByRefreshToken {
            app,
            refresh_token: secrecy::SecretString::from(refresh_token),
            scopes,
            options: RequestOptions::default(),
        }
    }

    request_option_setters!();
    ssh_certificate_setter!();
}

impl<'a> IntoFuture for AcquireTokenByRefreshToken<'a> {
    type Output = Result<AuthenticationResult>;
    type IntoFuture = AcquireFuture<'a, AuthenticationResult>;

    fn into_future(self) -> Self::IntoFuture {
        AcquireFuture::pending(async move {
            use secrecy::ExposeSecret as _;
            let scopes = user_scopes(self.scopes)?;
            let rt = self.refresh_token.expose_secret();
            if rt.trim().is_empty() {
                return Err(Error::invalid_input("the refresh token is empty"));
            }
            let core = self.app.core;
            let authority = core.authority_for(&self.options)?.into_owned();
            let meta = core.metadata(&authority).await?;
            redeem(Grant {
                app: self.app,
                meta: &meta,
                grant_type: "refresh_token",
                api: ApiId::AcquireTokenByRefreshToken,
                reason: RefreshReason::NotApplicable,
                scopes: &scopes,
                options: &self.options,
                leading: Vec::new(),
                fields: vec![("refresh_token", rt.to_owned())],
                send_scope: true,
                anchor: None,
                refreshed: None,
                username: None,
                correlation_id: None,
            })
            .await
        })
    }
}

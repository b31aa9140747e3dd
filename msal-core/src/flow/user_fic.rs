//! The user federated identity credential grant (`grant_type=user_fic`): a confidential client
//! (typically an agent identity) exchanges a federated identity credential, such as an agent
//! instance token, for a token of a named user, as MSAL Python 1.39's
//! `acquire_token_by_user_federated_identity_credential` (msal/application.py) does.
//!
//! The request carries the credential as `user_federated_identity_credential` and the user as
//! `username` (a UPN) or `user_id` (an object id), with `X-AnchorMailbox` naming the same
//! user. As in MSAL Python, the cache is not read; the tokens are cached as a user sign-in
//! (account with `account_source` `user_fic`, ID token, refresh token), so
//! `acquire_token_silent` serves them afterwards.

use std::future::IntoFuture;

use secrecy::{ExposeSecret as _, SecretString};

use super::user::{Grant, redeem, user_scopes};
use crate::app::confidential::ConfidentialClient;
use crate::app::core::sealed::Sealed as _;
use crate::app::options::{AcquireFuture, RequestOptions, request_option_setters};
use crate::error::{Error, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::result::AuthenticationResult;
use crate::scope::ScopeSet;

/// The `grant_type` of the user federated identity credential grant.
const GRANT_TYPE: &str = "user_fic";

/// The user a [user federated identity credential](ConfidentialClient::acquire_token_by_user_federated_identity_credential)
/// token is for: by principal name or by object id (MSAL Python's mutually exclusive
/// `username` and `user_object_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FicUser {
    /// The user principal name (UPN), sent as `username`.
    Username(String),
    /// The user's object id, sent as `user_id`.
    ObjectId(String),
}

impl FicUser {
    /// The user with this principal name.
    pub fn username(upn: impl Into<String>) -> FicUser {
        FicUser::Username(upn.into())
    }

    /// The user with this object id.
    pub fn object_id(oid: impl Into<String>) -> FicUser {
        FicUser::ObjectId(oid.into())
    }
}

/// The request builder of
/// [`ConfidentialClient::acquire_token_by_user_federated_identity_credential`]. Set options,
/// then `.await` it.
#[must_use = "a request does nothing until awaited"]
pub struct AcquireTokenByUserFederatedIdentityCredential<'a> {
    app: &'a ConfidentialClient,
    scopes: Result<ScopeSet>,
    assertion: SecretString,
    user: FicUser,
    options: RequestOptions,
}

impl std::fmt::Debug for AcquireTokenByUserFederatedIdentityCredential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcquireTokenByUserFederatedIdentityCredential")
            .field("app", self.app)
            .field("scopes", &self.scopes)
            .field("assertion", &"<redacted>")
            .field("user", &self.user)
            .field("options", &self.options)
            .finish()
    }
}

impl<'a> AcquireTokenByUserFederatedIdentityCredential<'a> {
    pub(crate) fn new(
        app: &'a ConfidentialClient,
        scopes: Result<ScopeSet>,
        assertion: String,
        user: FicUser,
    ) -> Self {
        AcquireTokenByUserFederatedIdentityCredential {
            app,
            scopes,
            assertion: SecretString::from(assertion),
            user,
            options: RequestOptions::default(),
        }
    }

    request_option_setters!();
}

/// A UPN or object id that can name a user in a form field and a header.
fn check_user(user: &FicUser) -> Result<(&'static str, &str)> {
    let (field, value, what) = match user {
        FicUser::Username(u) => ("username", u.trim(), "username"),
        FicUser::ObjectId(o) => ("user_id", o.trim(), "user object id"),
    };
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid_input(format!(
            "the {what} of a user federated identity credential request is empty or not one"
        )));
    }
    Ok((field, value))
}

impl<'a> IntoFuture for AcquireTokenByUserFederatedIdentityCredential<'a> {
    type Output = Result<AuthenticationResult>;
    type IntoFuture = AcquireFuture<'a, AuthenticationResult>;

    fn into_future(self) -> Self::IntoFuture {
        AcquireFuture::pending(async move {
            let scopes = user_scopes(self.scopes)?;
            let assertion = self.assertion.expose_secret();
            if assertion.trim().is_empty() {
                return Err(Error::invalid_input(
                    "the user federated identity credential is empty",
                ));
            }
            let (field, user) = check_user(&self.user)?;
            let app = self.app.app_ref();
            let core = app.core;
            let authority = core.authority_for(&self.options)?.into_owned();
            let meta = core.metadata(&authority).await?;
            // msal/application.py: `upn:{username}`, or `Oid:{oid}@{tenant}` with the tenant of
            // the token endpoint.
            let anchor = match &self.user {
                FicUser::Username(_) => format!("upn:{user}"),
                FicUser::ObjectId(_) => format!("Oid:{user}@{}", meta.realm),
            };
            redeem(Grant {
                app,
                meta: &meta,
                grant_type: GRANT_TYPE,
                api: ApiId::AcquireTokenByUserFic,
                reason: RefreshReason::NotApplicable,
                scopes: &scopes,
                options: &self.options,
                leading: Vec::new(),
                // msal/oauth2cli/oauth2.py `obtain_token_by_user_fic`: scope, the credential,
                // then the user (client_info is already in the client part).
                fields: vec![
                    ("scope", scopes.with_reserved().to_wire()),
                    ("user_federated_identity_credential", assertion.to_owned()),
                    (field, user.to_owned()),
                ],
                send_scope: false,
                anchor: Some(anchor),
                refreshed: None,
                username: match &self.user {
                    FicUser::Username(_) => Some(user),
                    FicUser::ObjectId(_) => None,
                },
                correlation_id: None,
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_checked() {
        assert_eq!(
            check_user(&FicUser::username(" alice@contoso.com ")).ok(),
            Some(("username", "alice@contoso.com"))
        );
        assert_eq!(
            check_user(&FicUser::object_id("0000-1")).ok(),
            Some(("user_id", "0000-1"))
        );
        assert!(check_user(&FicUser::username("")).is_err());
        assert!(check_user(&FicUser::object_id("a b")).is_err());
    }
}

//! msal-rs clients as credentials of the Azure SDK for Rust (feature `azure`): every Azure
//! SDK client takes an `Arc<dyn azure_core::credentials::TokenCredential>`, and these adapters
//! let it use msal-rs's cache, single flight, managed identity and signed-in users.
//!
//! | adapter | tokens |
//! |---|---|
//! | [`AppCredential`] | a [`ConfidentialClient`]'s own (client credentials) |
//! | [`ManagedIdentityCredential`] | a [`ManagedIdentityClient`]'s |
//! | [`UserCredential`] | a signed-in user's, silently ([`PublicClient`] or [`ConfidentialClient`] + an [`Account`]) |
//!
//! ```
//! use std::sync::Arc;
//! use azure_core::credentials::TokenCredential;
//! use msal_core::azure::ManagedIdentityCredential;
//! use msal_core::managed_identity::{ManagedIdentity, ManagedIdentityClient};
//!
//! # fn main() -> msal_core::Result<()> {
//! let mi = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned).build()?;
//! let credential: Arc<dyn TokenCredential> = Arc::new(ManagedIdentityCredential::new(mi));
//! // e.g. azure_security_keyvault_secrets::SecretClient::new(url, credential, None)
//! # let _ = credential; Ok(()) }
//! ```
//!
//! The SDK asks again within five minutes of `expires_on`, the same buffer msal-core's cache
//! uses, so a cached token is handed out until then. azure_core 1.x's
//! `TokenRequestOptions` carry no claims challenge and no tenant, so neither can reach a
//! credential through the SDK; use the msal-rs client directly where a challenge must be
//! answered. Errors are `azure_core` errors of kind `Credential` whose source is the msal-rs
//! [`Error`](crate::Error) (with its [`ServiceError`](crate::ServiceError)); a user credential
//! that cannot get a token silently says "interaction required" and
//! [`Error::is_interaction_required`](crate::Error::is_interaction_required) is true on the
//! source.

use std::fmt;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind as AzureErrorKind;
use azure_core::time::OffsetDateTime;

use crate::managed_identity::ManagedIdentityClient;
use crate::result::AuthenticationResult;
use crate::{Account, ConfidentialClient, PublicClient};

/// An msal-rs result as the SDK's token.
fn to_access_token(r: &AuthenticationResult) -> azure_core::Result<AccessToken> {
    let secs = r
        .expires_on()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    let expires_on = OffsetDateTime::from_unix_timestamp(secs)
        .or_else(|_| OffsetDateTime::from_unix_timestamp(253_402_300_799))
        .map_err(|e| azure_core::Error::new(AzureErrorKind::DataConversion, e))?;
    Ok(AccessToken::new(
        r.access_token().secret().to_owned(),
        expires_on,
    ))
}

/// An msal-rs error as the SDK's, with the msal-rs error as its source.
fn to_azure_error(e: crate::Error) -> azure_core::Error {
    let message = if e.is_interaction_required() {
        format!("interaction required: {e}")
    } else {
        e.to_string()
    };
    azure_core::Error::with_error(AzureErrorKind::Credential, e, message)
}

/// A [`ConfidentialClient`]'s own tokens (client credentials) for the SDK's scopes.
#[derive(Debug, Clone)]
pub struct AppCredential {
    app: ConfidentialClient,
}

impl AppCredential {
    /// Wraps `app`.
    pub fn new(app: ConfidentialClient) -> AppCredential {
        AppCredential { app }
    }
}

#[async_trait::async_trait]
impl TokenCredential for AppCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let r = self
            .app
            .acquire_token_for_client(scopes)
            .await
            .map_err(to_azure_error)?;
        to_access_token(&r)
    }
}

/// A [`ManagedIdentityClient`]'s tokens; the SDK's one scope (`https://vault.azure.net/.default`)
/// names the resource.
#[derive(Debug, Clone)]
pub struct ManagedIdentityCredential {
    client: ManagedIdentityClient,
}

impl ManagedIdentityCredential {
    /// Wraps `client`.
    pub fn new(client: ManagedIdentityClient) -> ManagedIdentityCredential {
        ManagedIdentityCredential { client }
    }
}

#[async_trait::async_trait]
impl TokenCredential for ManagedIdentityCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let r = self
            .client
            .acquire_token_for_client(scopes)
            .await
            .map_err(to_azure_error)?;
        to_access_token(&r)
    }
}

/// The app behind a [`UserCredential`].
#[derive(Debug, Clone)]
enum UserApp {
    Public(PublicClient),
    Confidential(ConfidentialClient),
}

/// A signed-in user's tokens, got silently (from the cache, or with a refresh token); when
/// that is not possible the error says "interaction required" and the app must sign the user
/// in again.
#[derive(Clone)]
pub struct UserCredential {
    app: UserApp,
    account: Account,
}

impl fmt::Debug for UserCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredential")
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl UserCredential {
    /// `account`'s tokens from a public client.
    pub fn public(app: PublicClient, account: Account) -> UserCredential {
        UserCredential {
            app: UserApp::Public(app),
            account,
        }
    }

    /// `account`'s tokens from a confidential client (a web app's signed-in user).
    pub fn confidential(app: ConfidentialClient, account: Account) -> UserCredential {
        UserCredential {
            app: UserApp::Confidential(app),
            account,
        }
    }

    /// The account.
    pub fn account(&self) -> &Account {
        &self.account
    }
}

#[async_trait::async_trait]
impl TokenCredential for UserCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let r = match &self.app {
            UserApp::Public(app) => app.acquire_token_silent(scopes, &self.account).await,
            UserApp::Confidential(app) => app.acquire_token_silent(scopes, &self.account).await,
        }
        .map_err(to_azure_error)?;
        to_access_token(&r)
    }
}

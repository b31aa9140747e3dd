//! msal-rs clients as credentials of the Azure SDK for Rust (feature `azure`): every Azure
//! SDK client takes an `Arc<dyn azure_core::credentials::TokenCredential>`, and these adapters
//! let it use msal-rs's cache, single flight, managed identity and signed-in users.
//!
//! | adapter | tokens |
//! |---|---|
//! | [`AppCredential`] | a [`ConfidentialClient`]'s own (client credentials) |
//! | [`ManagedIdentityCredential`] | a [`ManagedIdentityClient`]'s |
//! | [`UserCredential`] | a signed-in user's, silently ([`PublicClient`] or [`ConfidentialClient`] + an [`Account`]) |
//! | [`DefaultCredential`](crate::environment::DefaultCredential) | environment → workload identity → managed identity (see [`environment`](crate::environment)) |
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
//! uses, so a cached token is handed out until then.
//!
//! azure_core 1.x's `TokenRequestOptions` have no field for a claims challenge or a tenant;
//! they carry the SDK call's `Context`, which these adapters read: put a [`Claims`] (the
//! decoded `claims` of a resource's challenge) or a [`Tenant`] in the `context` of a client
//! method's options and the token is requested with them (claims bypass the cache).
//!
//! ```
//! use azure_core::http::{ClientMethodOptions, Context};
//! use msal_core::azure::{Claims, Tenant};
//!
//! let options = ClientMethodOptions {
//!     context: Context::new()
//!         .with_value(Claims(r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#.into()))
//!         .with_value(Tenant("fabrikam.onmicrosoft.com".into())),
//! };
//! // e.g. secret_client.get_secret("name", Some(GetSecretOptions { method_options: options, ..Default::default() }))
//! # let _ = options;
//! ```
//!
//! Errors are `azure_core` errors of kind `Credential` whose source is the msal-rs
//! [`Error`](crate::Error) (with its [`ServiceError`](crate::ServiceError)); a user credential
//! that cannot get a token silently says "interaction required" and
//! [`Error::is_interaction_required`](crate::Error::is_interaction_required) is true on the
//! source.

use std::fmt;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind as AzureErrorKind;
use azure_core::time::OffsetDateTime;

use crate::environment::DefaultCredential;
use crate::managed_identity::ManagedIdentityClient;
use crate::result::AuthenticationResult;
use crate::{Account, ConfidentialClient, PublicClient};

/// A claims challenge for the token request, carried in the `Context` of the SDK call's
/// options (see the [module docs](self)). The cache is bypassed and the claims are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims(pub String);

/// A tenant for the token request (an app or user registered in several tenants), carried in
/// the `Context` of the SDK call's options (see the [module docs](self)). Managed identities
/// have one tenant and ignore it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub String);

/// What the SDK call's context carries for the token request.
fn extras<'a>(options: Option<&'a TokenRequestOptions<'_>>) -> (Option<&'a str>, Option<&'a str>) {
    let ctx = options.map(|o| &o.method_options.context);
    let claims = ctx
        .and_then(|c| c.value::<Claims>())
        .map(|c| c.0.as_str())
        .filter(|c| !c.is_empty());
    let tenant = ctx
        .and_then(|c| c.value::<Tenant>())
        .map(|t| t.0.as_str())
        .filter(|t| !t.is_empty());
    (claims, tenant)
}

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
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let (claims, tenant) = extras(options.as_ref());
        let mut req = self.app.acquire_token_for_client(scopes);
        if let Some(c) = claims {
            req = req.claims(c);
        }
        if let Some(t) = tenant {
            req = req.tenant(t);
        }
        let r = req.await.map_err(to_azure_error)?;
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
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let (claims, _) = extras(options.as_ref());
        let mut req = self.client.acquire_token_for_client(scopes);
        if let Some(c) = claims {
            req = req.claims(c);
        }
        let r = req.await.map_err(to_azure_error)?;
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
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let (claims, tenant) = extras(options.as_ref());
        let mut req = match &self.app {
            UserApp::Public(app) => app.acquire_token_silent(scopes, &self.account),
            UserApp::Confidential(app) => app.acquire_token_silent(scopes, &self.account),
        };
        if let Some(c) = claims {
            req = req.claims(c);
        }
        if let Some(t) = tenant {
            req = req.tenant(t);
        }
        let r = req.await.map_err(to_azure_error)?;
        to_access_token(&r)
    }
}

#[async_trait::async_trait]
impl TokenCredential for DefaultCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let (claims, _) = extras(options.as_ref());
        let r = self.acquire(scopes, claims).await.map_err(to_azure_error)?;
        to_access_token(&r)
    }
}

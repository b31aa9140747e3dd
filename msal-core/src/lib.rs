//! # msal-core: the Microsoft Authentication Library for Rust
//!
//! OAuth 2.0 and OpenID Connect token acquisition against Microsoft Entra ID (and Azure AD B2C,
//! AD FS, Entra External ID, any OpenID Connect provider), wire-compatible with Entra ID and
//! with the token caches of the other MSALs.
//!
//! ## Quick start: a daemon
//!
//! ```no_run
//! use msal_core::{Authority, ClientCredential, ConfidentialClient, TokenSource};
//!
//! # async fn run() -> msal_core::Result<()> {
//! let app = ConfidentialClient::builder()
//!     .client_id("5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60")
//!     .credential(ClientCredential::secret(std::env::var("CLIENT_SECRET").unwrap_or_default()))
//!     .authority(Authority::tenant("contoso.onmicrosoft.com"))
//!     .build()?;
//!
//! // The first call asks Entra ID; later calls are served from the cache until the token
//! // is within five minutes of expiry.
//! let token = app
//!     .acquire_token_for_client("https://graph.microsoft.com/.default")
//!     .await?;
//! assert_eq!(token.source(), TokenSource::IdentityProvider);
//! let again = app
//!     .acquire_token_for_client("https://graph.microsoft.com/.default")
//!     .tenant("fabrikam.onmicrosoft.com") // one app, many tenants
//!     .await?;
//! # let _ = again;
//! # Ok(()) }
//! ```
//!
//! ## What is here
//!
//! - [`ConfidentialClient`]: client credentials ([`acquire_token_for_client`]) with a secret, a
//!   certificate or an assertion ([`ClientCredential`]), and on-behalf-of
//!   ([`acquire_token_on_behalf_of`]), both served from the cache first.
//! - Every `acquire_*` method returns a request builder: set per-request options (tenant,
//!   claims challenge, force refresh, correlation id, extra parameters), then `.await` it.
//! - [`Authority`]: Entra ID tenants and clouds, B2C, AD FS, CIAM, generic OIDC; discovery is
//!   lazy, single-flighted and cached for 24 hours per app.
//! - [`TokenCache`]: the unified MSAL cache format; `serialize`/`deserialize` interoperate with
//!   MSAL Python's `SerializableTokenCache`.
//! - [`Error`]: one cheap-to-clone error with a [`ErrorKind`], the identity provider's fields
//!   ([`ServiceError`]) and predicates such as [`Error::is_transient`].
//! - [`http::HttpClient`]: the transport seam (http 1.x types); [`http::ReqwestHttpClient`] is
//!   the default, over rustls.
//!
//! Secrets (client secrets, assertions, tokens) never appear in `Debug` output, errors or logs.
//!
//! [`acquire_token_for_client`]: ConfidentialClient::acquire_token_for_client
//! [`acquire_token_on_behalf_of`]: ConfidentialClient::acquire_token_on_behalf_of
//!
//! ## Feature flags
//!
//! | feature | default | what |
//! | --- | --- | --- |
//! | `macros` | yes | re-exports `msal-macros` (its scope and resource derives are being written; it exports nothing yet) |

pub mod app;
pub mod authority;
pub mod cache;
pub mod clock;
pub mod credential;
pub mod error;
pub mod flow;
pub mod http;
pub mod scope;

mod response;
mod result;

pub use app::{
    ClientApplication, ConfidentialClient, ConfidentialClientBuilder, DangerousOptions,
    PublicClient, PublicClientBuilder,
};
pub use authority::{Authority, AuthorityKind};
pub use cache::TokenCache;
pub use credential::{AssertionContext, ClientCredential};
pub use error::{Error, ErrorKind, Result, ServiceError};
pub use flow::auth_code::{AuthCodeFlow, AuthResponse, ResponseMode};
pub use flow::device_code::DeviceCodeFlow;
pub use flow::state::{Completed, FlowError, FlowState, Initiated};
pub use result::{AccessToken, Account, AuthenticationResult, TokenSource};
pub use scope::{IntoScopes, Scope, ScopeSet};

/// The README's examples, compiled as doctests so they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

//! [`PublicClient`]: an application that cannot keep a secret (desktop, mobile, CLI). It signs
//! users in and keeps them signed in; it has no client-credentials or on-behalf-of method.

use std::fmt;
use std::sync::Arc;

use super::core::{AppCore, AppSettings, app_builder_setters, debug_settings};
use crate::authority::Authority;
use crate::cache::TokenCache;
use crate::error::Result;

/// Configures a [`PublicClient`]: [`PublicClient::builder`] takes its client id, the setters
/// the rest, and [`build`](PublicClientBuilder::build) checks the whole and builds it. A plain,
/// nameable type: return it from a helper, configure it conditionally.
///
/// ```
/// use msal_core::{Authority, PublicClient};
///
/// let app = PublicClient::builder("0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5")
///     .authority(Authority::organizations())
///     .build()?;
/// assert_eq!(app.client_id(), "0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5");
/// # Ok::<(), msal_core::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct PublicClientBuilder {
    settings: AppSettings,
}

impl PublicClientBuilder {
    app_builder_setters!();

    /// Checks the configuration and builds the client. Does no I/O: discovery happens on the
    /// first request.
    pub fn build(self) -> Result<PublicClient> {
        Ok(PublicClient {
            inner: Arc::new(AppCore::new(self.settings)?),
        })
    }
}

impl fmt::Debug for PublicClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("PublicClientBuilder");
        debug_settings(&mut d, &self.settings);
        d.finish_non_exhaustive()
    }
}

/// An application that signs users in: desktop apps, CLIs, mobile apps. It holds no secret.
///
/// Cheap to clone (an `Arc` inside); `Send + Sync`. It has no `acquire_token_for_client` and
/// no `acquire_token_on_behalf_of`: those need a [`ConfidentialClient`](crate::ConfidentialClient),
/// and calling them on a public client does not compile (pinned by the trybuild cases in the
/// repository's `tests/ui/api/`).
///
/// ```no_run
/// # async fn f(app: msal_core::PublicClient) -> msal_core::Result<()> {
/// let flow = app.device_code_flow(["User.Read"]).initiate().await?;
/// println!("{}", flow.message());
/// let signed_in = flow.poll(&app).await?;
/// println!("{:?}", signed_in.account());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PublicClient {
    pub(crate) inner: Arc<AppCore>,
}

impl PublicClient {
    /// Starts configuring a public client with its application (client) id from the app
    /// registration. See [`PublicClientBuilder`] for the rest.
    pub fn builder(client_id: impl Into<String>) -> PublicClientBuilder {
        PublicClientBuilder {
            settings: AppSettings::new(client_id.into(), false),
        }
    }

    /// The application (client) id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The configured authority.
    pub fn authority(&self) -> &Authority {
        &self.inner.authority
    }

    /// The token cache this app reads and writes.
    pub fn cache(&self) -> &TokenCache {
        &self.inner.cache
    }

    /// Signs a user in in the system browser, with a loopback listener as redirect URI
    /// (`http://localhost:{port}`, register it on the app).
    pub fn acquire_token_interactive(
        &self,
        scopes: impl crate::IntoScopes,
    ) -> crate::flow::interactive::AcquireTokenInteractive<'_> {
        use super::core::sealed::Sealed as _;
        crate::flow::interactive::AcquireTokenInteractive::new(self.app_ref(), scopes.into_scopes())
    }

    /// Starts a device code flow: `initiate().await` it, show the user its
    /// [`message`](crate::DeviceCodeFlow::message), then [`poll`](crate::DeviceCodeFlow::poll)
    /// it until the user signed in on another device.
    pub fn device_code_flow(
        &self,
        scopes: impl crate::IntoScopes,
    ) -> crate::flow::device_code::DeviceCodeFlowBuilder<'_> {
        use super::core::sealed::Sealed as _;
        crate::flow::device_code::DeviceCodeFlowBuilder::new(self.app_ref(), scopes.into_scopes())
    }
}

impl fmt::Debug for PublicClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClient")
            .field("app", &self.inner)
            .finish()
    }
}

impl super::core::sealed::Sealed for PublicClient {
    fn app_ref(&self) -> super::core::AppRef<'_> {
        super::core::AppRef {
            core: &self.inner,
            credential: None,
            owner: super::core::AppOwner::Public(&self.inner),
        }
    }
}

impl super::core::ClientApplication for PublicClient {}

//! msal-rs's side of a case: the app built from a case's [`AppSpec`], the call made in-process,
//! over an HTTP client that only reaches the emulator.

use msal_core::http::{HttpClient, ReqwestHttpClient};
use msal_core::{
    Authority, ClientCredential, ConfidentialClient, Error, FicUser, TokenCache, TokenSource,
};
use msal_tests::emulator::seeds;

use crate::cases::{Api, AppSpec, CallSpec, CredentialKind};
use crate::emu::{self, Emu};

/// An [`HttpClient`] that resolves the emulator's host names to its loopback port, trusts only
/// its CA, and refuses any other destination before a connection is made.
#[derive(Debug)]
pub(crate) struct LoopbackOnly {
    inner: ReqwestHttpClient,
    hosts: Vec<String>,
}

impl LoopbackOnly {
    pub(crate) fn new(emu: &Emu) -> anyhow::Result<LoopbackOnly> {
        let addr = emu.addr();
        anyhow::ensure!(addr.ip().is_loopback(), "the emulator is not on loopback");
        let mut b = ReqwestHttpClient::builder()
            .add_root_certificate_pem(emu.emulator.ca_pem())
            .only_added_roots(true)
            .proxy_from_env(false);
        for host in emu.emulator.hosts() {
            b = b.resolve(*host, addr);
        }
        Ok(LoopbackOnly {
            inner: b.build()?,
            hosts: emu.emulator.hosts().iter().map(|h| h.to_string()).collect(),
        })
    }
}

#[async_trait::async_trait]
impl HttpClient for LoopbackOnly {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> msal_core::Result<http::Response<Vec<u8>>> {
        let uri = request.uri();
        let allowed = uri.scheme_str() == Some("https")
            && uri.port_u16().is_none_or(|p| p == 443)
            && uri
                .host()
                .is_some_and(|h| self.hosts.iter().any(|e| e.eq_ignore_ascii_case(h)));
        if !allowed {
            return Err(Error::transport(
                format!("refused {uri}: not an emulator host (traffic must stay on loopback)"),
                std::io::Error::other("refused"),
            ));
        }
        self.inner.send(request).await
    }
}

/// Builds the msal-rs app of `spec` over `cache`.
pub(crate) fn build_app(
    emu: &Emu,
    spec: &AppSpec,
    cache: TokenCache,
) -> anyhow::Result<ConfidentialClient> {
    let credential = match spec.credential {
        CredentialKind::Secret => {
            ClientCredential::secret(emu::secret(spec.client, spec.credential)?.unwrap_or_default())
        }
        CredentialKind::Certificate => {
            ClientCredential::certificate_pem(seeds::APP_KEY_PKCS8_PEM, seeds::APP_CERT_PEM)?
                .send_x5c(true)
        }
        CredentialKind::PfxLegacy => ClientCredential::certificate_pfx(
            seeds::APP_PFX_LEGACY,
            Some(seeds::APP_KEY_PASSPHRASE),
        )?
        .send_x5c(true),
        CredentialKind::PfxAes => {
            ClientCredential::certificate_pfx(seeds::APP_PFX_AES, Some(seeds::APP_KEY_PASSPHRASE))?
        }
        CredentialKind::KeyThumbprint => ClientCredential::certificate_key_with_thumbprint(
            seeds::APP_KEY_PKCS8_PEM,
            seeds::APP_CERT_SHA1_THUMBPRINT,
        )?,
    };
    let mut b = ConfidentialClient::builder(emu::client_id(spec.client), credential)
        .authority(Authority::from_url(&spec.authority)?)
        .client_capabilities(spec.client_capabilities.clone())
        .http_client(LoopbackOnly::new(emu)?)
        .cache(cache);
    if let Some(claims) = &spec.client_claims {
        b = b.client_claims(claims.clone());
    }
    Ok(match (&spec.app_name, &spec.app_version) {
        (Some(name), Some(version)) => b.app_name(name).app_version(version).build()?,
        (None, None) => b.build()?,
        _ => anyhow::bail!("set both app_name and app_version, or neither"),
    })
}

/// Makes `call` with `app`; `assertion` is the incoming user token for OBO.
pub(crate) async fn call(
    app: &ConfidentialClient,
    call: &CallSpec,
    assertion: Option<&str>,
) -> anyhow::Result<TokenSource> {
    let scopes = call.scopes.as_slice();
    let result = match call.api {
        Api::AcquireTokenForClient => {
            let mut req = app.acquire_token_for_client(scopes);
            if let Some(c) = &call.claims {
                req = req.claims(c.clone());
            }
            if let Some(p) = &call.fmi_path {
                req = req.fmi_path(p.clone());
            }
            if let Some(f) = &call.forwarded_client_claims {
                req = req.forwarded_client_claims(f.clone());
            }
            req.await?
        }
        Api::AcquireTokenOnBehalfOf => {
            let assertion =
                assertion.ok_or_else(|| anyhow::anyhow!("an OBO call needs user_assertion"))?;
            let mut req = app.acquire_token_on_behalf_of(assertion, scopes);
            if let Some(c) = &call.claims {
                req = req.claims(c.clone());
            }
            if let Some(f) = &call.forwarded_client_claims {
                req = req.forwarded_client_claims(f.clone());
            }
            req.await?
        }
        Api::UserFederatedIdentityCredential => {
            let assertion = assertion
                .ok_or_else(|| anyhow::anyhow!("a user FIC call needs an instance token"))?;
            let user = match (&call.username, &call.user_object_id) {
                (Some(u), None) => FicUser::username(u.clone()),
                (None, Some(o)) => FicUser::object_id(o.clone()),
                _ => anyhow::bail!("a user FIC call names its user by username or object id"),
            };
            let mut req =
                app.acquire_token_by_user_federated_identity_credential(scopes, assertion, user);
            if let Some(c) = &call.claims {
                req = req.claims(c.clone());
            }
            req.await?
        }
    };
    anyhow::ensure!(
        !result.access_token().secret().is_empty(),
        "msal-rs returned an empty access token"
    );
    Ok(result.source())
}

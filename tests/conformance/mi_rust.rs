//! msal-rs's side of the managed identity cases: a `ManagedIdentityClient` for one of the
//! emulator's sources, over an HTTP client that only reaches loopback.

use msal_core::clock::ManualClock;
use msal_core::http::{HttpClient, ReqwestHttpClient};
use msal_core::managed_identity::{
    ManagedIdentity, ManagedIdentityClient, ManagedIdentityEnvironment, UserAssignedId,
};
use msal_core::{DangerousOptions, Error, TokenCache};
use msal_tests::emulator::seeds;

use crate::emu::Emu;
use crate::mi_cases::{MiIdentity, MiSource};

/// A user-assigned client id the emulator does not know.
pub(crate) const UNKNOWN_CLIENT_ID: &str = "00000000-0000-0000-0000-00000000dead";

/// Whether `url` names a loopback host (`127.0.0.1`, `::1`, `localhost`).
pub(crate) fn is_loopback_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    })
}

/// An [`HttpClient`] that refuses every destination but loopback (before connecting) and
/// never uses a proxy.
#[derive(Debug)]
pub(crate) struct LoopbackOnlyMi {
    inner: ReqwestHttpClient,
}

impl LoopbackOnlyMi {
    pub(crate) fn new() -> anyhow::Result<LoopbackOnlyMi> {
        Ok(LoopbackOnlyMi {
            inner: ReqwestHttpClient::builder().proxy_from_env(false).build()?,
        })
    }
}

#[async_trait::async_trait]
impl HttpClient for LoopbackOnlyMi {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> msal_core::Result<http::Response<Vec<u8>>> {
        let uri = request.uri().to_string();
        if !is_loopback_url(&uri) {
            return Err(Error::transport(
                format!("refused {uri}: not loopback (traffic must stay on loopback)"),
                std::io::Error::other("refused"),
            ));
        }
        self.inner.send(request).await
    }
}

/// The environment variables `source` reads, with `overrides` applied (e.g. a wrong secret);
/// every URL among them must be loopback.
pub(crate) fn env_vars(
    emu: &Emu,
    source: MiSource,
    overrides: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut vars = emu.emulator.managed_identity().env(source.name());
    anyhow::ensure!(!vars.is_empty(), "the emulator has no source {source:?}");
    for (k, v) in overrides {
        match vars.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v.clone(),
            None => vars.push((k.clone(), v.clone())),
        }
    }
    for (k, v) in &vars {
        if k.ends_with("_ENDPOINT") || k == "AZURE_POD_IDENTITY_AUTHORITY_HOST" {
            anyhow::ensure!(is_loopback_url(v), "{k}={v} is not loopback");
        }
    }
    Ok(vars)
}

/// msal-rs's identity for `id`.
pub(crate) fn identity(id: MiIdentity) -> ManagedIdentity {
    let user = ManagedIdentity::user_assigned;
    match id {
        MiIdentity::System => ManagedIdentity::SystemAssigned,
        MiIdentity::ClientId => user(UserAssignedId::ClientId(
            seeds::MI_USER_ONE_CLIENT_ID.into(),
        )),
        MiIdentity::ResourceId => user(UserAssignedId::ResourceId(
            seeds::MI_USER_ONE_RESOURCE_ID.into(),
        )),
        MiIdentity::ObjectId => user(UserAssignedId::ObjectId(
            seeds::MI_USER_TWO_OBJECT_ID.into(),
        )),
        MiIdentity::UnknownClientId => user(UserAssignedId::ClientId(UNKNOWN_CLIENT_ID.into())),
    }
}

/// The client for `source` over `cache`; with `clock`, retry waits pass as it is advanced.
pub(crate) fn client(
    emu: &Emu,
    vars: &[(String, String)],
    id: MiIdentity,
    capabilities: &[String],
    cache: TokenCache,
    clock: Option<&ManualClock>,
) -> anyhow::Result<ManagedIdentityClient> {
    let mi = emu.emulator.managed_identity();
    let environment = ManagedIdentityEnvironment::from_vars(vars.iter().cloned())
        .arc_key_directory(&mi.arc_key_dir)
        .arc_agent_path("/nonexistent/azcmagent/himds");
    let mut b = ManagedIdentityClient::builder(identity(id))
        .environment(environment)
        .http_client(LoopbackOnlyMi::new()?)
        .client_capabilities(capabilities.iter().cloned())
        .cache(cache);
    if let Some(c) = clock {
        b = b.dangerous(DangerousOptions::new().clock(c.clone()));
    }
    Ok(b.build()?)
}

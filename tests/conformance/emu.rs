//! The emulator the whole suite shares, and what the cases need from it: a fresh state between
//! sides, the request log, seeded apps and minted user tokens.

use msal_tests::emulator::seeds;
use msal_tests::emulator::{
    AdminClient, Emulator, EmulatorConfig, RecordedRequest, UserTokenRequest,
};

use crate::cases::{CredentialKind, SeedClient, UserAssertionSpec};

/// The running emulator and its admin client.
pub(crate) struct Emu {
    pub(crate) emulator: Emulator,
    pub(crate) admin: AdminClient,
}

impl Emu {
    /// Starts the emulator in this process.
    pub(crate) async fn start() -> anyhow::Result<Emu> {
        let emulator = Emulator::start(EmulatorConfig::default()).await?;
        let admin = emulator.admin();
        Ok(Emu { emulator, admin })
    }

    /// A fresh state: recorded requests, faults, stats and the clock offset cleared.
    pub(crate) async fn reset(&self) -> anyhow::Result<()> {
        self.admin.reset().await?;
        self.admin.clear_requests().await
    }

    /// Every request recorded since the last reset, in arrival order.
    pub(crate) async fn requests(&self) -> anyhow::Result<Vec<RecordedRequest>> {
        let mut r = self.admin.requests().await?;
        r.sort_by_key(|r| r.seq);
        Ok(r)
    }

    /// Clears the request log only.
    pub(crate) async fn clear_requests(&self) -> anyhow::Result<()> {
        self.admin.clear_requests().await
    }

    /// A user access token for the middle tier (the incoming OBO assertion).
    pub(crate) async fn mint(&self, spec: &UserAssertionSpec) -> anyhow::Result<String> {
        let t = self
            .admin
            .mint_user_token(&UserTokenRequest {
                tenant: spec.tenant.clone(),
                username: spec.username.clone(),
                audience: spec.audience.clone(),
                scopes: spec.scopes.clone(),
                lifetime_secs: None,
                client_id: None,
            })
            .await?;
        Ok(t.access_token)
    }

    /// An agent instance token of the seeded agent app (its federated identity credential's
    /// issuer and subject), for the user FIC grant.
    pub(crate) async fn mint_instance_token(&self) -> anyhow::Result<String> {
        let t = self
            .admin
            .mint_federated_token(&msal_tests::emulator::model::FederatedTokenRequest {
                subject: seeds::AGENT_INSTANCE_SUBJECT.to_owned(),
                ..Default::default()
            })
            .await?;
        Ok(t.access_token)
    }

    /// `127.0.0.1:P`.
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.emulator.https_addr()
    }
}

/// A seeded app's client id.
pub(crate) fn client_id(c: SeedClient) -> &'static str {
    match c {
        SeedClient::SecretApp => seeds::SECRET_APP_CLIENT_ID,
        SeedClient::CertApp => seeds::CERT_APP_CLIENT_ID,
        SeedClient::MiddleTier => seeds::MIDDLE_TIER_CLIENT_ID,
        SeedClient::AgentApp => seeds::AGENT_APP_CLIENT_ID,
    }
}

/// A seeded app's secret, when it has one and `kind` asks for it.
pub(crate) fn secret(c: SeedClient, kind: CredentialKind) -> anyhow::Result<Option<&'static str>> {
    if kind != CredentialKind::Secret {
        return Ok(None);
    }
    match c {
        SeedClient::SecretApp => Ok(Some(seeds::SECRET_APP_SECRET)),
        SeedClient::MiddleTier => Ok(Some(seeds::MIDDLE_TIER_SECRET)),
        SeedClient::AgentApp => Ok(Some(seeds::AGENT_APP_SECRET)),
        SeedClient::CertApp => anyhow::bail!("the cert app has no secret"),
    }
}

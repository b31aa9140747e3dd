#![doc = include_str!("../README.md")]
//!
//! ## The Rust API
//!
//! [`Emulator::start`] runs it in process; [`Emulator::admin`] is an [`AdminClient`] with one
//! method per admin route, taking and returning the [`model`] types; [`seeds`] names the seeded
//! tenants, apps, users and keys. [`Emulator::http_client_builder`] gives a plain reqwest client
//! that reaches it (for a browser stand-in or any other client):
//!
//! ```
//! # #[tokio::main] async fn main() -> anyhow::Result<()> {
//! use msal_emulator::{Emulator, EmulatorConfig};
//! let emu = Emulator::start(EmulatorConfig::default()).await?;
//! let client = emu.http_client_builder()?.build()?;
//! let doc = client
//!     .get("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration")
//!     .send()
//!     .await?;
//! assert!(doc.status().is_success());
//! # Ok(()) }
//! ```

mod admin;
mod admin_client;
mod authority;
mod authorize;
mod clock;
mod der;
mod discovery;
mod faults;
mod frontend;
mod hosts;
mod ids;
mod imds;
mod jwt;
mod mi;
pub mod model;
mod recording;
mod respond;
pub mod seeds;
mod server;
mod state;
mod tls;
mod token;
mod userrealm;
mod vault;
pub mod wstrust;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use admin_client::AdminClient;
pub use model::{
    AppRegistration, AuthTimeSetting, ClockChange, ClockState, ConsentSetting, DefaultUserSetting,
    DeviceApproval, DeviceCodeInfo, DeviceSettings, DiscoverySettings, FaultMatch, FaultRule,
    FederatedCredential, FederatedTokenRequest, ImdsMode, ImdsSettings, InteractionSetting,
    MANIFEST_VERSION, ManagedIdentityEndpoints, ManagedIdentityFault, ManagedIdentityRegistration,
    ManagedIdentitySettings, ManagedIdentitySource, ManagedIdentityStats, Manifest, MintedToken,
    RecordedRequest, RefreshTokenSettings, RequestFilter, RevokeResult, SeedApp, SeedAuthorities,
    SeedCertificates, SeedResource, SeedTenant, SeedUser, Seeds, Stats, UserInfo, UserRegistration,
    UserTokenRequest,
};

/// How to start the emulator.
#[derive(Debug, Clone, Default)]
pub struct EmulatorConfig {
    /// HTTPS port on 127.0.0.1 (0 = ephemeral).
    pub https_port: u16,
    /// Admin port on 127.0.0.1 (0 = ephemeral).
    pub admin_port: u16,
    /// Plain-HTTP IMDS port on 127.0.0.1 (0 = ephemeral); it serves the IMDS managed-identity
    /// token path too.
    pub imds_port: u16,
    /// Plain-HTTP port of the other managed-identity sources (App Service, Azure Machine
    /// Learning, Azure Arc, Cloud Shell) on 127.0.0.1 (0 = ephemeral).
    pub managed_identity_port: u16,
    /// HTTPS port of the Service Fabric managed-identity endpoint on 127.0.0.1 (0 = ephemeral).
    pub service_fabric_port: u16,
    /// Where to write `ca.pem`, the fixture keys and Azure Arc's key files (under
    /// `arc-tokens`); a fresh temporary directory (removed when the emulator is dropped) when
    /// `None`.
    pub state_dir: Option<PathBuf>,
}

/// A running emulator. Shuts down on drop.
#[derive(Debug)]
pub struct Emulator {
    https_addr: SocketAddr,
    admin_url: String,
    imds_url: String,
    ca_pem: String,
    ca_pem_path: PathBuf,
    state_dir: PathBuf,
    remove_state_dir: bool,
    state: Arc<state::EmuState>,
    tasks: Vec<JoinHandle<()>>,
}

fn path_string(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn seeds_manifest(dir: &Path, signing_kid: &str, reg: &state::Registry) -> Seeds {
    let file = |name: &str| path_string(&dir.join(name));
    let aad = |t: &state::Tenant| match t.kind {
        state::TenantKind::Aad(c) => (c.central().to_string(), "aad"),
        state::TenantKind::B2c => (seeds::B2C_HOST.to_string(), "b2c"),
        state::TenantKind::Ciam => (seeds::CIAM_HOST.to_string(), "ciam"),
        state::TenantKind::Adfs => (seeds::ADFS_HOST.to_string(), "adfs"),
    };
    let tenants = reg
        .tenants
        .iter()
        .map(|t| {
            let (host, kind) = aad(t);
            SeedTenant {
                name: t.name.clone(),
                id: t.id.clone(),
                domains: t.domains.clone(),
                host,
                kind: kind.into(),
                default_user: reg.default_users.get(&t.id.to_ascii_lowercase()).cloned(),
            }
        })
        .collect();
    let names = [
        (seeds::SECRET_APP_CLIENT_ID, "secret app"),
        (seeds::CERT_APP_CLIENT_ID, "cert app"),
        (seeds::MIDDLE_TIER_CLIENT_ID, "middle-tier API"),
        (seeds::WORKLOAD_APP_CLIENT_ID, "workload app"),
        (seeds::AGENT_APP_CLIENT_ID, "agent app"),
        (seeds::PUBLIC_CLIENT_ID, "public client"),
        (seeds::WEB_APP_CLIENT_ID, "web app"),
        (seeds::FOCI_APP_A_CLIENT_ID, "Office-like A"),
        (seeds::FOCI_APP_B_CLIENT_ID, "Office-like B"),
        (seeds::WORKLOAD_APP_CLIENT_ID, "workload"),
    ];
    let apps = state::seeded_apps()
        .into_iter()
        .map(|a| {
            let has_cert = !a.certificates.is_empty();
            SeedApp {
                name: names
                    .iter()
                    .find(|(id, _)| *id == a.client_id)
                    .map_or("app", |(_, n)| n)
                    .to_string(),
                secret: a.secrets.first().cloned(),
                certificate_path: has_cert.then(|| file("app-cert.crt.pem")),
                private_key_path: has_cert.then(|| file("app-cert.key.pem")),
                app_id_uri: a.app_id_uri.clone(),
                scopes: if a.app_id_uri.is_some() {
                    a.scopes.clone().unwrap_or_default()
                } else {
                    Vec::new()
                },
                public_client: a.public_client,
                redirect_uris: a.redirect_uris.clone(),
                family_id: a.family_id.clone(),
                federated_credentials: a.federated_credentials.clone(),
                client_id: a.client_id,
            }
        })
        .collect();
    let users = reg
        .users
        .iter()
        .map(|u| SeedUser {
            username: u.username.clone(),
            tenant_id: u.tenant_id.clone(),
            oid: u.oid.clone(),
            name: u.name.clone(),
            password: u.password.clone(),
            federated: reg.is_federated(&u.domain()),
        })
        .collect();
    let resources = reg
        .resources()
        .into_iter()
        .map(|(uri, scopes)| SeedResource { uri, scopes })
        .collect();
    let public = |t: &str| format!("https://{}/{t}", seeds::PUBLIC_HOST);
    let b2c = |p: &str| {
        format!(
            "https://{}/{}/{p}",
            seeds::B2C_HOST,
            seeds::B2C_TENANT_DOMAIN
        )
    };
    Seeds {
        tenants,
        apps,
        users,
        resources,
        authorities: SeedAuthorities {
            contoso: public(seeds::CONTOSO_DOMAIN),
            contoso_by_id: public(seeds::CONTOSO_TENANT_ID),
            fabrikam: public(seeds::FABRIKAM_DOMAIN),
            common: public("common"),
            organizations: public("organizations"),
            consumers: public("consumers"),
            usgov: format!("https://{}/{}", seeds::USGOV_HOST, seeds::USGOV_DOMAIN),
            custom_trusted: format!(
                "https://{}/{}",
                seeds::TRUSTED_CUSTOM_HOST,
                seeds::CONTOSO_DOMAIN
            ),
            b2c_signupsignin: b2c(seeds::B2C_POLICY_SIGNUP_SIGNIN),
            b2c_profileedit: b2c(seeds::B2C_POLICY_PROFILE_EDIT),
            ciam: format!("https://{}/{}", seeds::CIAM_HOST, seeds::CIAM_TENANT_DOMAIN),
            adfs: format!("https://{}/adfs", seeds::ADFS_HOST),
            oidc: seeds::OIDC_ISSUER.into(),
        },
        certificates: SeedCertificates {
            app_cert_pem: file("app-cert.crt.pem"),
            app_key_pkcs8_pem: file("app-cert.key.pem"),
            app_key_pkcs1_pem: file("app-cert.rsa.pem"),
            app_key_encrypted_pem: file("app-cert.key.enc.pem"),
            app_key_passphrase: seeds::APP_KEY_PASSPHRASE.into(),
            other_cert_pem: file("other-cert.crt.pem"),
            other_key_pem: file("other-cert.key.pem"),
            emulator_signing_cert_pem: file("emulator-signing.crt.pem"),
        },
        signing_kid: signing_kid.into(),
        managed_identities: model::seeded_managed_identities(),
    }
}

/// Binds a loopback listener, naming it in the error.
async fn bind(port: u16, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .with_context(|| format!("binding {what} port {port}"))
}

/// The managed-identity endpoints of listeners at `imds`, `mi` and `fabric`.
fn managed_identity_endpoints(
    imds_url: &str,
    mi: SocketAddr,
    fabric: SocketAddr,
    state_dir: &Path,
    thumbprint: String,
) -> ManagedIdentityEndpoints {
    let secret = || {
        format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    };
    ManagedIdentityEndpoints {
        imds_host: imds_url.to_string(),
        app_service_endpoint: format!("http://{mi}{}", mi::APP_SERVICE_PATH),
        identity_header: secret(),
        azure_ml_endpoint: format!("http://{mi}{}", mi::AZURE_ML_PATH),
        msi_secret: secret(),
        arc_endpoint: format!("http://{mi}{}", mi::ARC_PATH),
        arc_key_dir: path_string(&state_dir.join("arc-tokens")),
        cloud_shell_endpoint: format!("http://{mi}{}", mi::CLOUD_SHELL_PATH),
        service_fabric_endpoint: format!("https://{fabric}{}", mi::SERVICE_FABRIC_PATH),
        service_fabric_thumbprint: thumbprint,
    }
}

impl Emulator {
    /// Starts the emulator in this process (on the current tokio runtime).
    pub async fn start(config: EmulatorConfig) -> anyhow::Result<Self> {
        let (state_dir, remove_state_dir) = match &config.state_dir {
            Some(d) => (d.clone(), false),
            None => (
                std::env::temp_dir().join(format!(
                    "msal-emulator-{}-{}",
                    std::process::id(),
                    uuid::Uuid::new_v4().simple()
                )),
                true,
            ),
        };
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
        let tls = tls::generate().context("generating the test CA")?;
        let ca_pem_path = state_dir.join("ca.pem");
        std::fs::write(&ca_pem_path, &tls.ca_pem)
            .with_context(|| format!("writing {}", ca_pem_path.display()))?;
        for (name, contents) in seeds::FIXTURE_FILES {
            std::fs::write(state_dir.join(name), contents)
                .with_context(|| format!("writing {name}"))?;
        }

        let fabric_tls =
            mi::tls::generate().context("generating the Service Fabric certificate")?;

        let https = bind(config.https_port, "HTTPS").await?;
        let admin = bind(config.admin_port, "admin").await?;
        let imds = bind(config.imds_port, "IMDS").await?;
        let mi_listener = bind(config.managed_identity_port, "managed identity").await?;
        let fabric = bind(config.service_fabric_port, "Service Fabric").await?;
        let https_addr = https.local_addr()?;
        let admin_url = format!("http://{}", admin.local_addr()?);
        let imds_url = format!("http://{}", imds.local_addr()?);
        let managed_identity = managed_identity_endpoints(
            &imds_url,
            mi_listener.local_addr()?,
            fabric.local_addr()?,
            &state_dir,
            fabric_tls.thumbprint,
        );
        std::fs::create_dir_all(&managed_identity.arc_key_dir)
            .with_context(|| format!("creating {}", managed_identity.arc_key_dir))?;

        let signer = jwt::Signer::new(
            seeds::EMULATOR_SIGNING_KEY_PEM,
            seeds::EMULATOR_SIGNING_CERT_PEM,
        )?;
        let manifest = Manifest {
            manifest_version: MANIFEST_VERSION,
            https_addr: https_addr.to_string(),
            admin_url: admin_url.clone(),
            ca_pem: tls.ca_pem.clone(),
            ca_pem_path: path_string(&ca_pem_path),
            hosts: seeds::HOSTS.iter().map(|h| h.to_string()).collect(),
            imds_url: imds_url.clone(),
            managed_identity,
            seeds: seeds_manifest(&state_dir, signer.kid(), &state::Registry::seeded()),
        };
        let state = Arc::new(state::EmuState::new(manifest, signer));
        let tasks = vec![
            server::spawn(
                https,
                frontend::router(state.clone()),
                Some(tls.server_config),
            ),
            server::spawn(admin, admin::router(state.clone()), None),
            server::spawn(imds, imds::router(state.clone()), None),
            server::spawn(mi_listener, mi::router(state.clone()), None),
            server::spawn(
                fabric,
                mi::service_fabric_router(state.clone()),
                Some(fabric_tls.server_config),
            ),
        ];
        Ok(Self {
            https_addr,
            admin_url,
            imds_url,
            ca_pem: tls.ca_pem,
            ca_pem_path,
            state_dir,
            remove_state_dir,
            state,
            tasks,
        })
    }

    /// `127.0.0.1:P`, serving every host name over HTTPS.
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// `http://127.0.0.1:Q`, the admin API.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// `http://127.0.0.1:R`, the emulated Azure Instance Metadata Service (plain HTTP, like
    /// the real one at `169.254.169.254`): give it to msal-core as the IMDS endpoint for region
    /// auto-detection. See [`ImdsSettings`].
    pub fn imds_url(&self) -> &str {
        &self.imds_url
    }

    /// Where the managed-identity sources listen and the secrets they expect (the manifest's
    /// `managed_identity`); [`ManagedIdentityEndpoints::env`] gives a client's environment.
    pub fn managed_identity(&self) -> &ManagedIdentityEndpoints {
        &self.state.manifest.managed_identity
    }

    /// The test CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Where the CA certificate was written.
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem_path
    }

    /// The state directory (CA and fixture keys).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Every host name served (for resolver overrides).
    pub fn hosts(&self) -> &[&str] {
        seeds::HOSTS
    }

    /// The manifest (as printed by the binary).
    pub fn manifest(&self) -> &Manifest {
        &self.state.manifest
    }

    /// The manifest as one line of JSON, as the binary prints it: what
    /// `msal_core::http::ReqwestHttpClientBuilder::trust_emulator` reads.
    pub fn manifest_json(&self) -> String {
        // A struct of strings, numbers, booleans and lists: serialising it cannot fail.
        serde_json::to_string(&self.state.manifest).unwrap_or_default()
    }

    /// A typed admin API client.
    pub fn admin(&self) -> AdminClient {
        AdminClient::new(self.admin_url.clone())
    }

    /// A reqwest client builder that resolves every host in [`hosts`](Self::hosts) to the
    /// emulator and trusts only its CA.
    pub fn http_client_builder(&self) -> anyhow::Result<reqwest::ClientBuilder> {
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes())?;
        let mut b = reqwest::Client::builder().tls_certs_only([ca]);
        for host in self.hosts() {
            b = b.resolve(host, self.https_addr);
        }
        Ok(b)
    }

    /// Stops serving (connections are dropped).
    pub async fn shutdown(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if self.remove_state_dir {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

#[cfg(test)]
mod docs_tests {
    use std::collections::BTreeSet;

    /// (method, path) of every row of the README's admin API table.
    fn documented() -> BTreeSet<(String, String)> {
        let readme = include_str!("../README.md");
        let start = readme
            .find("<!-- admin-api:start -->")
            .expect("start marker");
        let end = readme.find("<!-- admin-api:end -->").expect("end marker");
        readme[start..end]
            .lines()
            .filter_map(|l| {
                let mut cells = l.split('|').map(str::trim).skip(1);
                let method = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
                let path = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
                Some((method.to_owned(), path.to_owned()))
            })
            .collect()
    }

    /// (method, path) of every route the admin router serves, read from its source.
    fn served() -> BTreeSet<(String, String)> {
        let source = include_str!("admin.rs");
        let router = &source[source.find("Router::new()").expect("the router")..];
        let router = &router[..router.find(".fallback(").expect("the fallback")];
        let mut out = BTreeSet::new();
        for route in router.split(".route(").skip(1) {
            let path = route.split('"').nth(1).expect("a quoted path");
            for method in ["get", "post", "delete", "put", "patch"] {
                let calls = route.matches(&format!("{method}(")).count();
                let named = route.matches(&format!("_{method}(")).count();
                if calls > named {
                    out.insert((method.to_ascii_uppercase(), path.to_owned()));
                }
            }
        }
        out
    }

    #[test]
    fn the_readme_documents_every_admin_route_and_no_other() {
        let served = served();
        assert!(served.len() >= 30, "the router was read: {served:?}");
        assert_eq!(documented(), served);
    }
}

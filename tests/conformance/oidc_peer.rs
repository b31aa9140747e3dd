//! node oidc-provider (`oidc-provider/server.mjs`, the package installed under
//! `MSAL_CONFORMANCE_OIDC_PROVIDER` by `cargo xtask conformance`) as a running peer: one `node`
//! process serving three issuers with 0, 1 and 2 path segments, each on a free loopback port
//! over HTTPS, started on the first case that needs it and killed when the suite ends.
//!
//! Everything secret or trusted is generated here at start: the test CA and the provider's
//! certificate (127.0.0.1), and the RSA certificate of the `private_key_jwt` client, whose
//! public key the provider registers as that client's `jwks`. The provider generates its own
//! signing keys.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use msal_core::Error;
use msal_core::http::{HttpClient, ReqwestHttpClient};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde::Deserialize;
use serde_json::json;

use crate::cases::crate_dir;
use crate::child::{self, Daemon};

/// The environment variable naming the directory oidc-provider is installed in.
pub(crate) const OIDC_DIR_VAR: &str = "MSAL_CONFORMANCE_OIDC_PROVIDER";

/// The confidential web app (client_secret_post).
pub(crate) const WEB_APP_ID: &str = "web-app";
/// Its secret.
pub(crate) const WEB_APP_SECRET: &str = "web-app-secret-6f1d2c";
/// Its registered redirect URI (never served: the browser stops there).
pub(crate) const WEB_APP_REDIRECT: &str = "http://localhost:5000/cb";
/// The public (native) client.
pub(crate) const PUBLIC_CLIENT_ID: &str = "public-client";
/// Its registered redirect URI.
pub(crate) const PUBLIC_CLIENT_REDIRECT: &str = "http://localhost";
/// The confidential client that authenticates with a certificate (`private_key_jwt`).
pub(crate) const CERT_CLIENT_ID: &str = "cert-client";
/// The user who signs in (oidc-provider's development login takes any name and password).
pub(crate) const USER: &str = "alice";
/// The `interval` the device authorization response announces, in seconds.
pub(crate) const DEVICE_INTERVAL_SECS: u64 = 1;
/// The issuers' paths: 0, 1 and 2 segments.
const MOUNTS: [&str; 3] = ["", "/tenant1", "/a/b"];
/// How long `node` may take to load oidc-provider and listen (a busy 2-core machine).
const START_DEADLINE: Duration = Duration::from_secs(45);

/// The running provider and what the cases need to reach and trust it.
pub(crate) struct Running {
    daemon: Mutex<Option<Daemon>>,
    /// One issuer per entry of `MOUNTS`, in that order.
    issuers: Vec<String>,
    /// The test CA (PEM) and where it is written (MSAL Python reads the file).
    pub(crate) ca_pem: String,
    pub(crate) ca_path: PathBuf,
    /// The `private_key_jwt` client's certificate and its PKCS#8 private key (PEM).
    pub(crate) client_cert_pem: String,
    pub(crate) client_key_pem: String,
    /// `127.0.0.1:PORT` of every issuer: the only places a request may go.
    pub(crate) origins: BTreeSet<String>,
    /// For the harness's own requests (device poll records).
    http: reqwest::Client,
}

/// oidc-provider as the suite holds it: not started until a case needs it.
pub(crate) struct OidcProvider {
    dir: Option<PathBuf>,
    script: PathBuf,
    running: tokio::sync::OnceCell<Result<std::sync::Arc<Running>, String>>,
}

impl OidcProvider {
    /// From `MSAL_CONFORMANCE_OIDC_PROVIDER`.
    pub(crate) fn from_env() -> OidcProvider {
        OidcProvider {
            dir: std::env::var_os(OIDC_DIR_VAR).map(PathBuf::from),
            script: crate_dir().join("conformance/oidc-provider/server.mjs"),
            running: tokio::sync::OnceCell::new(),
        }
    }

    /// Why the oidc-provider cases cannot run, if they cannot.
    pub(crate) fn missing(&self) -> Option<String> {
        match &self.dir {
            None => Some(format!(
                "oidc-provider not installed ({OIDC_DIR_VAR} is not set; `cargo xtask conformance` installs it)"
            )),
            Some(_) => None,
        }
    }

    /// The running provider, started on first use (a failure to start is kept: every case
    /// then reports it without trying again).
    pub(crate) async fn get(&self) -> anyhow::Result<std::sync::Arc<Running>> {
        let got = self
            .running
            .get_or_init(|| async {
                let Some(dir) = self.dir.clone() else {
                    return Err(format!("{OIDC_DIR_VAR} is not set"));
                };
                let script = self.script.clone();
                match tokio::task::spawn_blocking(move || start(&dir, &script)).await {
                    Ok(Ok(r)) => Ok(std::sync::Arc::new(r)),
                    Ok(Err(e)) => Err(format!("starting oidc-provider: {e:#}")),
                    Err(e) => Err(format!("starting oidc-provider: {e}")),
                }
            })
            .await;
        match got {
            Ok(r) => Ok(std::sync::Arc::clone(r)),
            Err(e) => bail!("{e}"),
        }
    }

    /// Stops the provider if it was started.
    pub(crate) fn shutdown(&self) {
        if let Some(Ok(r)) = self.running.get()
            && let Ok(mut d) = r.daemon.lock()
            && let Some(mut daemon) = d.take()
        {
            daemon.kill();
        }
    }
}

impl Running {
    /// The issuer with `segments` path segments (0, 1 or 2).
    pub(crate) fn issuer(&self, segments: usize) -> anyhow::Result<&str> {
        self.issuers
            .get(segments)
            .map(String::as_str)
            .with_context(|| format!("no issuer with {segments} path segment(s)"))
    }

    /// An msal-rs HTTP client that trusts only the test CA and reaches only the provider.
    pub(crate) fn http_client(&self) -> anyhow::Result<ProviderOnly> {
        Ok(ProviderOnly {
            inner: ReqwestHttpClient::builder()
                .add_root_certificate_pem(&self.ca_pem)
                .only_added_roots(true)
                .proxy_from_env(false)
                .timeout(Duration::from_secs(20))
                .build()?,
            origins: self.origins.clone(),
        })
    }

    /// A reqwest client for the harness's own requests: the test CA only, no redirects, no
    /// proxy.
    pub(crate) fn reqwest_client(&self) -> anyhow::Result<reqwest::Client> {
        reqwest_client(&self.ca_pem)
    }

    /// The polls the provider recorded for a device code (by its user code), in order:
    /// `(milliseconds since the code was issued, answer)`.
    pub(crate) async fn device_polls(
        &self,
        issuer: &str,
        user_code: &str,
    ) -> anyhow::Result<Vec<(u64, String)>> {
        #[derive(Deserialize)]
        struct Poll {
            ms: u64,
            answer: String,
        }
        #[derive(Deserialize)]
        struct Polls {
            polls: Vec<Poll>,
        }
        let mut url = url::Url::parse(issuer)?;
        url.set_path("/__harness/device-polls");
        url.query_pairs_mut().append_pair("user_code", user_code);
        let resp = self.http.get(url).send().await?;
        let status = resp.status();
        ensure!(
            status.is_success(),
            "the provider has no record of user code {user_code} (HTTP {status})"
        );
        let polls: Polls = serde_json::from_slice(&resp.bytes().await?)?;
        Ok(polls.polls.into_iter().map(|p| (p.ms, p.answer)).collect())
    }
}

fn reqwest_client(ca_pem: &str) -> anyhow::Result<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())?;
    Ok(reqwest::Client::builder()
        .tls_backend_rustls()
        .tls_certs_only(vec![ca])
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()?)
}

/// An [`HttpClient`] that refuses any destination but the provider's loopback origins (over
/// https) before a connection is made.
#[derive(Debug)]
pub(crate) struct ProviderOnly {
    inner: ReqwestHttpClient,
    origins: BTreeSet<String>,
}

#[async_trait::async_trait]
impl HttpClient for ProviderOnly {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> msal_core::Result<http::Response<Vec<u8>>> {
        let uri = request.uri();
        let allowed = uri.scheme_str() == Some("https")
            && uri
                .authority()
                .is_some_and(|a| self.origins.contains(a.as_str()));
        if !allowed {
            return Err(Error::transport(
                format!("refused {uri}: not the oidc-provider (traffic must stay on loopback)"),
                std::io::Error::other("refused"),
            ));
        }
        self.inner.send(request).await
    }
}

/// The test CA, the provider's TLS certificate and the client certificate, as PEM.
struct Material {
    ca_pem: String,
    /// The provider's certificate followed by the CA's.
    tls_chain_pem: String,
    tls_key_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

fn material() -> anyhow::Result<Material> {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        DnType::CommonName,
        "msal-rs conformance oidc-provider test CA",
    );
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let tls_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf.signed_by(&tls_key, &issuer)?;

    // MSAL's certificate credential is RSA (PS256 assertions).
    let client_key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, CERT_CLIENT_ID);
    let client_cert = client.self_signed(&client_key)?;

    Ok(Material {
        ca_pem: ca_cert.pem(),
        tls_chain_pem: format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
        tls_key_pem: tls_key.serialize_pem(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    })
}

fn write(dir: &Path, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Generates the material, starts `node server.mjs` and reads the issuers it serves.
fn start(install_dir: &Path, script: &Path) -> anyhow::Result<Running> {
    let scratch = child::case_dir("conformance-oidc", "server")?;
    let m = material()?;
    let ca_path = write(&scratch, "ca.pem", &m.ca_pem)?;
    let tls_cert = write(&scratch, "tls-chain.pem", &m.tls_chain_pem)?;
    let tls_key = write(&scratch, "tls-key.pem", &m.tls_key_pem)?;
    let client_cert = write(&scratch, "client-cert.pem", &m.client_cert_pem)?;
    let config = json!({
        "tls_cert": tls_cert,
        "tls_key": tls_key,
        "client_cert": client_cert,
        "device_interval": DEVICE_INTERVAL_SECS,
        "mounts": MOUNTS,
        "clients": {
            "web_app": {
                "client_id": WEB_APP_ID,
                "client_secret": WEB_APP_SECRET,
                "redirect_uri": WEB_APP_REDIRECT,
            },
            "public_client": {
                "client_id": PUBLIC_CLIENT_ID,
                "redirect_uri": PUBLIC_CLIENT_REDIRECT,
            },
            "cert_client": { "client_id": CERT_CLIENT_ID },
        },
    });
    let config_path = write(&scratch, "config.json", &serde_json::to_string(&config)?)?;
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .arg(&config_path)
        .current_dir(&scratch)
        .env("OIDC_PROVIDER_DIR", install_dir)
        .env_remove("NODE_OPTIONS")
        .env_remove("NODE_EXTRA_CA_CERTS")
        .env_remove("DEBUG");
    let (daemon, line) = Daemon::start(cmd, "oidc-provider", START_DEADLINE)?;
    #[derive(Deserialize)]
    struct Ready {
        issuers: Vec<String>,
    }
    let ready: Ready = serde_json::from_str(line.trim()).with_context(|| {
        format!(
            "oidc-provider's first line is not its issuers: {line:?}; stderr: {}",
            daemon.stderr_tail()
        )
    })?;
    ensure!(
        ready.issuers.len() == MOUNTS.len(),
        "oidc-provider serves {} issuers, expected {}",
        ready.issuers.len(),
        MOUNTS.len()
    );
    let mut origins = BTreeSet::new();
    for (issuer, mount) in ready.issuers.iter().zip(MOUNTS) {
        let u = url::Url::parse(issuer).with_context(|| format!("issuer {issuer}"))?;
        ensure!(
            u.scheme() == "https"
                && u.host_str() == Some("127.0.0.1")
                && u.path().trim_end_matches('/') == mount,
            "oidc-provider's issuer {issuer} is not https://127.0.0.1:PORT{mount}"
        );
        let port = u.port().context("the issuer has no port")?;
        origins.insert(format!("127.0.0.1:{port}"));
    }
    let http = reqwest_client(&m.ca_pem)?;
    Ok(Running {
        daemon: Mutex::new(Some(daemon)),
        issuers: ready.issuers,
        ca_pem: m.ca_pem,
        ca_path,
        client_cert_pem: m.client_cert_pem,
        client_key_pem: m.client_key_pem,
        origins,
        http,
    })
}

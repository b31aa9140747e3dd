//! Credentials configured by environment variables, under the names and in the precedence the
//! Azure Identity libraries use (azure-identity's `EnvironmentCredential`,
//! `WorkloadIdentityCredential` and `DefaultAzureCredential`), so a service deployed with
//! those variables works unchanged with msal-rs; and [`DefaultCredential`], the chain that
//! picks whichever is present.
//!
//! | variables | credential |
//! |---|---|
//! | `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET` | client secret ([`AzureEnvironment::environment_client`]) |
//! | `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_CERTIFICATE_PATH` [+ `AZURE_CLIENT_CERTIFICATE_PASSWORD`, `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`] | certificate, PEM (key and certificate in one file) or PKCS#12 ([`AzureEnvironment::environment_client`]) |
//! | `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_FEDERATED_TOKEN_FILE` | workload identity: the file's token as a federated client assertion, re-read for every token request so the kubelet's rotation is followed ([`AzureEnvironment::workload_identity_client`]) |
//! | the managed identity variables (`IDENTITY_ENDPOINT`, `MSI_ENDPOINT`, …), or none: IMDS | managed identity, user-assigned when `AZURE_CLIENT_ID` is set ([`AzureEnvironment::managed_identity_client`]) |
//!
//! `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com`) names the cloud; it
//! must be `https`. A secret wins over a certificate when both are set, as in azure-identity.
//! Username and password variables are not read (azure-identity deprecated them; see
//! [`PublicClient::acquire_token_by_username_password`](crate::PublicClient) instead).
//!
//! ```
//! use msal_core::environment::{AzureEnvironment, CredentialKind};
//!
//! let env = AzureEnvironment::from_vars([
//!     ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
//!     ("AZURE_CLIENT_ID", "5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60"),
//!     ("AZURE_CLIENT_SECRET", "s3cret"),
//! ]);
//! assert_eq!(env.environment_kind(), Some(CredentialKind::ClientSecret));
//! assert!(env.workload_identity_client().is_none());
//! assert!(!format!("{env:?}").contains("s3cret"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

use crate::app::ConfidentialClientBuilder;
use crate::error::{Error, ErrorKind, Result};
use crate::managed_identity::{
    ManagedIdentity, ManagedIdentityClient, ManagedIdentityClientBuilder,
    ManagedIdentityEnvironment, UserAssignedId,
};
use crate::{Authority, ClientCredential, ConfidentialClient};

mod chain;

pub use chain::{ChainAttempt, ChainFailure, DefaultCredential, DefaultCredentialBuilder};

/// The variables read (besides the managed identity ones).
const VARS: [&str; 8] = [
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
];

/// Variables whose values are secrets (never shown in `Debug`).
const SECRET_VARS: [&str; 2] = ["AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PASSWORD"];

/// The public cloud's authority host.
const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// Largest certificate file read (a PEM or PKCS#12 file with a chain is a few KiB).
const MAX_CERTIFICATE_FILE: u64 = 1 << 20;

/// Largest federated token file read (a service account token is about 1 KiB).
const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// The longest reading the federated token file may take.
const TOKEN_FILE_DEADLINE: Duration = Duration::from_secs(10);

/// What kind of credential a link of the chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialKind {
    /// `AZURE_CLIENT_SECRET`.
    ClientSecret,
    /// `AZURE_CLIENT_CERTIFICATE_PATH`.
    ClientCertificate,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    WorkloadIdentity,
    /// A managed identity.
    ManagedIdentity,
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialKind::ClientSecret => "environment (client secret)",
            CredentialKind::ClientCertificate => "environment (client certificate)",
            CredentialKind::WorkloadIdentity => "workload identity",
            CredentialKind::ManagedIdentity => "managed identity",
        })
    }
}

/// A snapshot of the credential variables, read from the process once
/// ([`from_process`](Self::from_process)) or given explicitly ([`from_vars`](Self::from_vars),
/// for tests and for services that keep their settings elsewhere). An empty value counts as
/// unset. `Debug` never shows the secret or the certificate password.
#[derive(Clone)]
pub struct AzureEnvironment {
    vars: BTreeMap<&'static str, SecretString>,
    managed_identity: ManagedIdentityEnvironment,
}

impl fmt::Debug for AzureEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.vars {
            if SECRET_VARS.contains(k) {
                m.entry(k, &"<redacted>");
            } else {
                m.entry(k, &v.expose_secret());
            }
        }
        m.entry(&"managed_identity", &self.managed_identity)
            .finish()
    }
}

impl AzureEnvironment {
    /// The process environment's variables.
    pub fn from_process() -> AzureEnvironment {
        AzureEnvironment {
            vars: collect(
                VARS.iter()
                    .filter_map(|k| std::env::var(k).ok().map(|v| (*k, v))),
            ),
            managed_identity: ManagedIdentityEnvironment::from_process(),
        }
    }

    /// Only these variables; the managed identity ones among them select the managed identity
    /// source (see [`ManagedIdentityEnvironment::from_vars`]).
    pub fn from_vars<K: AsRef<str>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> AzureEnvironment {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.into()))
            .collect();
        AzureEnvironment {
            vars: collect(vars.iter().map(|(k, v)| (k.as_str(), v.clone()))),
            managed_identity: ManagedIdentityEnvironment::from_vars(vars),
        }
    }

    /// Replaces the managed identity environment (for example to set where the Azure Arc
    /// agent keeps its files).
    #[must_use]
    pub fn with_managed_identity_environment(
        mut self,
        environment: ManagedIdentityEnvironment,
    ) -> AzureEnvironment {
        self.managed_identity = environment;
        self
    }

    /// The managed identity environment.
    pub fn managed_identity_environment(&self) -> &ManagedIdentityEnvironment {
        &self.managed_identity
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.expose_secret())
    }

    fn required(&self, name: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| Error::new(ErrorKind::Configuration, format!("{name} is not set")))
    }

    /// The authority: `AZURE_AUTHORITY_HOST` (default the public cloud) and `AZURE_TENANT_ID`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Configuration`] when `AZURE_TENANT_ID` is unset or not a tenant id or
    /// domain, or the host is not an `https` URL.
    pub fn authority(&self) -> Result<Authority> {
        let tenant = self.required("AZURE_TENANT_ID")?;
        if !tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(Error::new(
                ErrorKind::Configuration,
                "AZURE_TENANT_ID must be a tenant id or domain (letters, digits, '-' and '.')",
            ));
        }
        let host = self
            .get("AZURE_AUTHORITY_HOST")
            .unwrap_or(DEFAULT_AUTHORITY_HOST)
            .trim_end_matches('/');
        let url = url::Url::parse(host).map_err(|e| {
            Error::with_source(
                ErrorKind::Configuration,
                "AZURE_AUTHORITY_HOST is not a URL",
                e,
            )
        })?;
        if url.scheme() != "https" || url.host_str().is_none() {
            return Err(Error::new(
                ErrorKind::Configuration,
                format!("AZURE_AUTHORITY_HOST must be an https URL, not '{host}'"),
            ));
        }
        Authority::from_url(&format!("{host}/{tenant}"))
    }

    /// Which environment credential the variables configure: a secret when
    /// `AZURE_CLIENT_SECRET` is set, else a certificate when `AZURE_CLIENT_CERTIFICATE_PATH`
    /// is (both also need `AZURE_TENANT_ID` and `AZURE_CLIENT_ID`); `None` otherwise.
    pub fn environment_kind(&self) -> Option<CredentialKind> {
        let base = self.get("AZURE_TENANT_ID").is_some() && self.get("AZURE_CLIENT_ID").is_some();
        if !base {
            None
        } else if self.get("AZURE_CLIENT_SECRET").is_some() {
            Some(CredentialKind::ClientSecret)
        } else if self.get("AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
            Some(CredentialKind::ClientCertificate)
        } else {
            None
        }
    }

    /// A confidential client builder for the environment credential (see
    /// [`environment_kind`](Self::environment_kind)), with its authority set; `None` when the
    /// variables do not configure one. Add an HTTP client or a cache, then `build()`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Configuration`] when the authority is invalid or the certificate file
    /// cannot be read or parsed (a wrong password included).
    pub fn environment_client(&self) -> Option<Result<ConfidentialClientBuilder>> {
        let kind = self.environment_kind()?;
        Some(self.environment_client_of(kind))
    }

    fn environment_client_of(&self, kind: CredentialKind) -> Result<ConfidentialClientBuilder> {
        let client_id = self.required("AZURE_CLIENT_ID")?;
        let credential = match kind {
            CredentialKind::ClientSecret => {
                ClientCredential::secret(self.required("AZURE_CLIENT_SECRET")?)
            }
            _ => self.certificate_credential()?,
        };
        Ok(ConfidentialClient::builder(client_id, credential).authority(self.authority()?))
    }

    /// The certificate of `AZURE_CLIENT_CERTIFICATE_PATH`.
    fn certificate_credential(&self) -> Result<ClientCredential> {
        let path = Path::new(self.required("AZURE_CLIENT_CERTIFICATE_PATH")?);
        let bytes = read_capped(path, MAX_CERTIFICATE_FILE, "AZURE_CLIENT_CERTIFICATE_PATH")?;
        let password = self.get("AZURE_CLIENT_CERTIFICATE_PASSWORD");
        let credential = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            match password {
                Some(p) => ClientCredential::certificate_pem_encrypted(&bytes, &bytes, p)?,
                None => ClientCredential::certificate_pem(&bytes, &bytes)?,
            }
        } else {
            ClientCredential::certificate_pfx(&bytes, password)?
        };
        let chain = self
            .get("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        Ok(credential.send_x5c(chain))
    }

    /// A confidential client builder for workload identity: `AZURE_CLIENT_ID` authenticating
    /// with the token in `AZURE_FEDERATED_TOKEN_FILE` as its client assertion (a federated
    /// identity credential), at `AZURE_TENANT_ID`. The file is read for every token request
    /// (they are rare: tokens come from the cache), so a rotated token is always the one sent.
    /// `None` when any of the three variables is unset.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Configuration`] when the authority is invalid. A missing, empty or
    /// oversized token file is an [`ErrorKind::Credential`] error of the token request.
    pub fn workload_identity_client(&self) -> Option<Result<ConfidentialClientBuilder>> {
        let file = self.get("AZURE_FEDERATED_TOKEN_FILE")?;
        let client_id = self.get("AZURE_CLIENT_ID")?;
        self.get("AZURE_TENANT_ID")?;
        let credential = federated_token_file(PathBuf::from(file));
        Some(
            self.authority()
                .map(|a| ConfidentialClient::builder(client_id, credential).authority(a)),
        )
    }

    /// A managed identity client builder: user-assigned by client id when `AZURE_CLIENT_ID`
    /// is set (as azure-identity's `DefaultAzureCredential` does), else system-assigned, in
    /// this environment's managed identity source.
    pub fn managed_identity_client(&self) -> ManagedIdentityClientBuilder {
        let identity = match self.get("AZURE_CLIENT_ID") {
            Some(id) => ManagedIdentity::user_assigned(UserAssignedId::ClientId(id.to_owned())),
            None => ManagedIdentity::SystemAssigned,
        };
        ManagedIdentityClient::builder(identity).environment(self.managed_identity.clone())
    }
}

fn collect<'a>(
    vars: impl Iterator<Item = (&'a str, String)>,
) -> BTreeMap<&'static str, SecretString> {
    let mut map = BTreeMap::new();
    for (k, v) in vars {
        if let Some(name) = VARS.iter().find(|n| **n == k)
            && !v.is_empty()
        {
            map.insert(*name, SecretString::from(v));
        }
    }
    map
}

/// Reads a local file of at most `max` bytes (a larger one is refused, not truncated).
fn read_capped(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let config = |m: String| Error::new(ErrorKind::Configuration, m);
    let file = std::fs::File::open(path)
        .map_err(|e| config(format!("{what}: cannot read {}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| config(format!("{what}: cannot read {}: {e}", path.display())))?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > max) {
        return Err(config(format!(
            "{what}: {} is larger than {max} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// A client assertion read from `path` for every token request.
fn federated_token_file(path: PathBuf) -> ClientCredential {
    ClientCredential::assertion_callback(move |_| {
        let path = path.clone();
        async move { read_token_file(path).await }
    })
}

/// The federated token in `path`, trimmed; read off the async threads, within a deadline.
async fn read_token_file(path: PathBuf) -> Result<String> {
    let credential = |m: String| Error::new(ErrorKind::Credential, m);
    let shown = path.display().to_string();
    let read = tokio::task::spawn_blocking(move || {
        read_capped(&path, MAX_TOKEN_FILE, "AZURE_FEDERATED_TOKEN_FILE")
    });
    let bytes = match tokio::time::timeout(TOKEN_FILE_DEADLINE, read).await {
        Ok(Ok(r)) => r.map_err(|e| credential(e.to_string()))?,
        Ok(Err(e)) => return Err(credential(format!("reading {shown} failed: {e}"))),
        Err(_) => {
            return Err(credential(format!(
                "reading the federated token file {shown} took longer than {} s",
                TOKEN_FILE_DEADLINE.as_secs()
            )));
        }
    };
    let token = String::from_utf8(bytes)
        .map_err(|_| credential(format!("the federated token file {shown} is not text")))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(credential(format!(
            "the federated token file {shown} is empty"
        )));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_wins_over_a_certificate() {
        let env = AzureEnvironment::from_vars([
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent.pem"),
            ("AZURE_CLIENT_SECRET", "s"),
        ]);
        assert_eq!(env.environment_kind(), Some(CredentialKind::ClientSecret));
    }

    #[test]
    fn incomplete_sets_configure_nothing() {
        let env =
            AzureEnvironment::from_vars([("AZURE_CLIENT_ID", "c"), ("AZURE_CLIENT_SECRET", "s")]);
        assert_eq!(env.environment_kind(), None);
        let env = AzureEnvironment::from_vars([
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
            ("AZURE_TENANT_ID", ""),
        ]);
        assert!(env.workload_identity_client().is_none());
    }

    #[test]
    fn the_authority_host_must_be_https() {
        let env = AzureEnvironment::from_vars([
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
            ("AZURE_AUTHORITY_HOST", "http://login.microsoftonline.com"),
        ]);
        let e = env.authority().expect_err("http");
        assert_eq!(e.kind(), ErrorKind::Configuration);
        let env =
            AzureEnvironment::from_vars([("AZURE_TENANT_ID", "contoso.onmicrosoft.com/../x")]);
        assert_eq!(
            env.authority().expect_err("path").kind(),
            ErrorKind::Configuration
        );
        let env = AzureEnvironment::from_vars([
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/"),
        ]);
        assert_eq!(
            env.authority().expect("valid").as_str(),
            "https://login.microsoftonline.us/contoso.onmicrosoft.com"
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let env = AzureEnvironment::from_vars([
            ("AZURE_CLIENT_SECRET", "hunter2-secret"),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "pfx-password"),
            ("AZURE_CLIENT_ID", "visible-client"),
        ]);
        let shown = format!("{env:?}");
        assert!(!shown.contains("hunter2-secret") && !shown.contains("pfx-password"));
        assert!(shown.contains("visible-client"));
    }

    #[tokio::test]
    async fn token_files_are_read_with_limits() {
        let dir = std::env::temp_dir().join(format!("msal-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("token");
        std::fs::write(&file, "  eyJ.token.sig\n").expect("write");
        assert_eq!(
            read_token_file(file.clone()).await.expect("read"),
            "eyJ.token.sig"
        );
        std::fs::write(&file, "\n").expect("write");
        let e = read_token_file(file.clone()).await.expect_err("empty");
        assert_eq!(e.kind(), ErrorKind::Credential);
        std::fs::write(&file, vec![b'a'; 70 * 1024]).expect("write");
        assert_eq!(
            read_token_file(file.clone()).await.expect_err("big").kind(),
            ErrorKind::Credential
        );
        let e = read_token_file(dir.join("missing"))
            .await
            .expect_err("missing");
        assert_eq!(e.kind(), ErrorKind::Credential);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

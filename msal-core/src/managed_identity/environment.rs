//! Where the managed identity endpoint is: the environment variables each Azure host sets,
//! read once into a [`ManagedIdentityEnvironment`], and the source they select, in MSAL
//! Python's order (msal/managed_identity.py `get_managed_identity_source` and
//! `_obtain_token`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use crate::error::{Error, Result};

/// The variables a managed identity source is detected from.
const VARS: [&str; 8] = [
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZUREPS_HOST_ENVIRONMENT",
];

/// Variables whose values are secrets (never shown in `Debug`).
const SECRET_VARS: [&str; 2] = ["IDENTITY_HEADER", "MSI_SECRET"];

/// The default IMDS host (msal/managed_identity.py `_obtain_token_on_azure_vm`).
pub(crate) const IMDS_DEFAULT_HOST: &str = "http://169.254.169.254";
/// The Azure Arc agent's endpoint when `IDENTITY_ENDPOINT`/`IMDS_ENDPOINT` are not set.
pub(crate) const ARC_DEFAULT_ENDPOINT: &str =
    "http://localhost:40342/metadata/identity/oauth2/token";
/// The Cloud Shell token endpoint when `MSI_ENDPOINT` is not set (msal/cloudshell.py).
pub(crate) const CLOUD_SHELL_DEFAULT_ENDPOINT: &str = "http://localhost:50342/oauth2/token";

/// Which kind of Azure host provides the managed identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManagedIdentitySource {
    /// The Instance Metadata Service of a VM, VM scale set or AKS node
    /// (`http://169.254.169.254`, or `AZURE_POD_IDENTITY_AUTHORITY_HOST`).
    Imds,
    /// App Service, Azure Functions, Container Apps, Automation
    /// (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`).
    AppService,
    /// Azure Machine Learning compute (`MSI_ENDPOINT` + `MSI_SECRET`).
    AzureMl,
    /// A Service Fabric cluster (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER` +
    /// `IDENTITY_SERVER_THUMBPRINT`), over https pinned to that certificate thumbprint.
    ServiceFabric,
    /// An Azure Arc-enabled server (`IDENTITY_ENDPOINT` + `IMDS_ENDPOINT`, or the Arc agent
    /// installed).
    AzureArc,
    /// Azure Cloud Shell (`AZUREPS_HOST_ENVIRONMENT` starting with `cloud-shell`): the
    /// signed-in user's token from the shell's local endpoint.
    CloudShell,
}

impl fmt::Display for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ManagedIdentitySource::Imds => "IMDS",
            ManagedIdentitySource::AppService => "App Service",
            ManagedIdentitySource::AzureMl => "Azure Machine Learning",
            ManagedIdentitySource::ServiceFabric => "Service Fabric",
            ManagedIdentitySource::AzureArc => "Azure Arc",
            ManagedIdentitySource::CloudShell => "Cloud Shell",
        })
    }
}

/// A snapshot of what selects a managed identity source: the environment variables Azure
/// hosts set, and where the Azure Arc agent keeps its files. Read from the process once
/// ([`from_process`](Self::from_process), the default), or given explicitly (tests, a sidecar
/// that knows better).
///
/// ```
/// use msal_core::managed_identity::{ManagedIdentityEnvironment, ManagedIdentitySource};
///
/// let env = ManagedIdentityEnvironment::from_vars([
///     ("IDENTITY_ENDPOINT", "http://127.0.0.1:41234/msi/token"),
///     ("IDENTITY_HEADER", "secret-header"),
/// ]);
/// assert_eq!(env.source(), ManagedIdentitySource::AppService);
/// assert!(!format!("{env:?}").contains("secret-header"));
/// ```
#[derive(Clone)]
pub struct ManagedIdentityEnvironment {
    vars: BTreeMap<&'static str, SecretString>,
    arc_agent_path: PathBuf,
    arc_key_dir: PathBuf,
}

impl Default for ManagedIdentityEnvironment {
    /// No variable set: the IMDS source, unless the Arc agent is installed.
    fn default() -> Self {
        ManagedIdentityEnvironment::from_vars(std::iter::empty::<(&str, &str)>())
    }
}

impl fmt::Debug for ManagedIdentityEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.vars {
            if SECRET_VARS.contains(k) {
                m.entry(k, &"<redacted>");
            } else {
                m.entry(k, &v.expose_secret());
            }
        }
        m.entry(&"arc_agent_path", &self.arc_agent_path)
            .entry(&"arc_key_dir", &self.arc_key_dir)
            .finish()
    }
}

impl ManagedIdentityEnvironment {
    /// The process environment's managed identity variables.
    pub fn from_process() -> ManagedIdentityEnvironment {
        ManagedIdentityEnvironment::from_vars(
            VARS.iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (*k, v))),
        )
    }

    /// Only these variables (names other than the managed identity ones are ignored; an empty
    /// value counts as unset).
    pub fn from_vars<K: AsRef<str>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> ManagedIdentityEnvironment {
        let mut map = BTreeMap::new();
        for (k, v) in vars {
            let v: String = v.into();
            if let Some(name) = VARS.iter().find(|n| **n == k.as_ref())
                && !v.is_empty()
            {
                map.insert(*name, SecretString::from(v));
            }
        }
        ManagedIdentityEnvironment {
            vars: map,
            arc_agent_path: default_arc_agent_path(),
            arc_key_dir: default_arc_key_dir(),
        }
    }

    /// The file whose presence means the Azure Arc agent is installed (default
    /// `/opt/azcmagent/bin/himds`, or `%ProgramFiles%\AzureConnectedMachineAgent\himds.exe`
    /// on Windows).
    pub fn arc_agent_path(mut self, path: impl Into<PathBuf>) -> ManagedIdentityEnvironment {
        self.arc_agent_path = path.into();
        self
    }

    /// The only directory an Azure Arc challenge's key file is read from (default
    /// `/var/opt/azcmagent/tokens`, or `%ProgramData%\AzureConnectedMachineAgent\Tokens` on
    /// Windows).
    pub fn arc_key_directory(mut self, dir: impl Into<PathBuf>) -> ManagedIdentityEnvironment {
        self.arc_key_dir = dir.into();
        self
    }

    pub(crate) fn arc_key_dir(&self) -> &Path {
        &self.arc_key_dir
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.expose_secret())
    }

    /// The source these variables select (checks whether the Arc agent file exists when no
    /// variable decides).
    pub fn source(&self) -> ManagedIdentitySource {
        let has = |n: &str| self.get(n).is_some();
        if has("IDENTITY_ENDPOINT") && has("IDENTITY_HEADER") {
            if has("IDENTITY_SERVER_THUMBPRINT") {
                ManagedIdentitySource::ServiceFabric
            } else {
                ManagedIdentitySource::AppService
            }
        } else if has("MSI_ENDPOINT") && has("MSI_SECRET") {
            ManagedIdentitySource::AzureMl
        } else if (has("IDENTITY_ENDPOINT") && has("IMDS_ENDPOINT"))
            || self.arc_agent_path.is_file()
        {
            ManagedIdentitySource::AzureArc
        } else if self
            .get("AZUREPS_HOST_ENVIRONMENT")
            .is_some_and(|v| v.starts_with("cloud-shell"))
        {
            ManagedIdentitySource::CloudShell
        } else {
            ManagedIdentitySource::Imds
        }
    }

    /// Inside Azure Cloud Shell (`AZUREPS_HOST_ENVIRONMENT` starts with `cloud-shell`,
    /// msal/cloudshell.py): its token endpoint, `MSI_ENDPOINT` or the shell's default.
    pub(crate) fn cloud_shell_endpoint(&self) -> Option<Result<Url>> {
        let shell = self
            .get("AZUREPS_HOST_ENVIRONMENT")
            .is_some_and(|v| v.starts_with("cloud-shell"));
        shell.then(|| {
            parse_endpoint(
                "MSI_ENDPOINT",
                self.get("MSI_ENDPOINT")
                    .unwrap_or(CLOUD_SHELL_DEFAULT_ENDPOINT),
            )
        })
    }

    /// The selected source with its endpoint and secrets, checked.
    pub(crate) fn endpoint(&self) -> Result<SourceEndpoint> {
        let source = self.source();
        let var = |n: &'static str| -> Result<&str> {
            self.get(n)
                .ok_or_else(|| Error::config(format!("{n} is not set")))
        };
        let secret = |n: &'static str| -> Result<SecretString> { var(n).map(SecretString::from) };
        Ok(match source {
            ManagedIdentitySource::ServiceFabric => {
                let url = parse_endpoint("IDENTITY_ENDPOINT", var("IDENTITY_ENDPOINT")?)?;
                if url.scheme() != "https" {
                    return Err(Error::config(
                        "IDENTITY_ENDPOINT must be https for Service Fabric (its certificate is pinned by IDENTITY_SERVER_THUMBPRINT)",
                    ));
                }
                SourceEndpoint::ServiceFabric {
                    url,
                    secret: secret("IDENTITY_HEADER")?,
                    thumbprint: parse_thumbprint(var("IDENTITY_SERVER_THUMBPRINT")?)?,
                }
            }
            ManagedIdentitySource::AppService => SourceEndpoint::AppService {
                url: parse_endpoint("IDENTITY_ENDPOINT", var("IDENTITY_ENDPOINT")?)?,
                secret: secret("IDENTITY_HEADER")?,
            },
            ManagedIdentitySource::AzureMl => SourceEndpoint::AzureMl {
                url: parse_endpoint("MSI_ENDPOINT", var("MSI_ENDPOINT")?)?,
                secret: secret("MSI_SECRET")?,
            },
            ManagedIdentitySource::AzureArc => SourceEndpoint::AzureArc {
                url: match self.get("IDENTITY_ENDPOINT") {
                    Some(e) if self.get("IMDS_ENDPOINT").is_some() => {
                        parse_endpoint("IDENTITY_ENDPOINT", e)?
                    }
                    _ => parse_endpoint("the Azure Arc endpoint", ARC_DEFAULT_ENDPOINT)?,
                },
            },
            ManagedIdentitySource::CloudShell => SourceEndpoint::CloudShell {
                url: parse_endpoint(
                    "MSI_ENDPOINT",
                    self.get("MSI_ENDPOINT")
                        .unwrap_or(CLOUD_SHELL_DEFAULT_ENDPOINT),
                )?,
            },
            ManagedIdentitySource::Imds => {
                let host = self
                    .get("AZURE_POD_IDENTITY_AUTHORITY_HOST")
                    .unwrap_or(IMDS_DEFAULT_HOST)
                    .trim_end_matches('/');
                let url = parse_endpoint(
                    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                    &format!("{host}/metadata/identity/oauth2/token"),
                )?;
                SourceEndpoint::Imds { url }
            }
        })
    }
}

/// A detected source, ready to be asked.
#[derive(Clone)]
pub(crate) enum SourceEndpoint {
    Imds {
        url: Url,
    },
    AppService {
        url: Url,
        secret: SecretString,
    },
    AzureMl {
        url: Url,
        secret: SecretString,
    },
    ServiceFabric {
        url: Url,
        secret: SecretString,
        thumbprint: [u8; 20],
    },
    AzureArc {
        url: Url,
    },
    CloudShell {
        url: Url,
    },
}

impl SourceEndpoint {
    pub(crate) fn source(&self) -> ManagedIdentitySource {
        match self {
            SourceEndpoint::Imds { .. } => ManagedIdentitySource::Imds,
            SourceEndpoint::AppService { .. } => ManagedIdentitySource::AppService,
            SourceEndpoint::AzureMl { .. } => ManagedIdentitySource::AzureMl,
            SourceEndpoint::ServiceFabric { .. } => ManagedIdentitySource::ServiceFabric,
            SourceEndpoint::AzureArc { .. } => ManagedIdentitySource::AzureArc,
            SourceEndpoint::CloudShell { .. } => ManagedIdentitySource::CloudShell,
        }
    }
}

fn parse_endpoint(name: &str, value: &str) -> Result<Url> {
    let url = Url::parse(value).map_err(|_| Error::config(format!("{name} is not a valid URL")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(format!("{name} must be an http(s) URL")));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "{name} must not carry credentials or a fragment"
        )));
    }
    Ok(url)
}

/// `IDENTITY_SERVER_THUMBPRINT`: the SHA-1 of the Service Fabric endpoint's certificate, as
/// 40 hex digits, with or without `:` separators and whitespace, in either case.
pub(crate) fn parse_thumbprint(value: &str) -> Result<[u8; 20]> {
    let hex: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    let bad =
        || Error::config("IDENTITY_SERVER_THUMBPRINT is not a SHA-1 thumbprint (40 hex digits)");
    if hex.len() != 40 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 20];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = hex.get(i * 2..i * 2 + 2).ok_or_else(bad)?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

fn default_arc_agent_path() -> PathBuf {
    if cfg!(windows) {
        let base = std::env::var_os("ProgramFiles").unwrap_or_else(|| "C:\\Program Files".into());
        PathBuf::from(base)
            .join("AzureConnectedMachineAgent")
            .join("himds.exe")
    } else {
        PathBuf::from("/opt/azcmagent/bin/himds")
    }
}

fn default_arc_key_dir() -> PathBuf {
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        PathBuf::from(base)
            .join("AzureConnectedMachineAgent")
            .join("Tokens")
    } else {
        PathBuf::from("/var/opt/azcmagent/tokens")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> ManagedIdentityEnvironment {
        ManagedIdentityEnvironment::from_vars(vars.iter().copied())
            .arc_agent_path("/nonexistent/himds")
    }

    #[test]
    fn sources_are_detected_in_msal_pythons_order() {
        use ManagedIdentitySource::*;
        let cases: &[(&[(&str, &str)], ManagedIdentitySource)] = &[
            (&[], Imds),
            (
                &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:1")],
                Imds,
            ),
            (
                &[("IDENTITY_ENDPOINT", "http://l/"), ("IDENTITY_HEADER", "h")],
                AppService,
            ),
            (
                &[
                    ("IDENTITY_ENDPOINT", "https://l/"),
                    ("IDENTITY_HEADER", "h"),
                    ("IDENTITY_SERVER_THUMBPRINT", "ab"),
                ],
                ServiceFabric,
            ),
            (
                &[("MSI_ENDPOINT", "http://l/"), ("MSI_SECRET", "s")],
                AzureMl,
            ),
            (
                &[
                    ("MSI_ENDPOINT", "http://l/"),
                    ("MSI_SECRET", "s"),
                    ("IDENTITY_ENDPOINT", "http://a/"),
                    ("IMDS_ENDPOINT", "http://a/"),
                ],
                AzureMl,
            ),
            (
                &[
                    ("IDENTITY_ENDPOINT", "http://a/"),
                    ("IMDS_ENDPOINT", "http://a/"),
                ],
                AzureArc,
            ),
            (
                &[("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0")],
                CloudShell,
            ),
            (&[("AZUREPS_HOST_ENVIRONMENT", "vscode")], Imds),
            // Alone, MSI_ENDPOINT selects nothing (MSAL Python); IDENTITY_ENDPOINT neither.
            (&[("MSI_ENDPOINT", "http://l/")], Imds),
            (&[("IDENTITY_ENDPOINT", "http://l/")], Imds),
            (&[("IDENTITY_ENDPOINT", ""), ("IDENTITY_HEADER", "h")], Imds),
        ];
        for (vars, want) in cases {
            assert_eq!(env(vars).source(), *want, "{vars:?}");
        }
    }

    #[test]
    fn an_installed_arc_agent_selects_arc_at_its_fixed_endpoint() {
        let dir = std::env::temp_dir().join(format!("msal-mi-arc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let agent = dir.join("himds");
        std::fs::write(&agent, b"").unwrap();
        let e = ManagedIdentityEnvironment::from_vars([("X", "y")]).arc_agent_path(&agent);
        assert_eq!(e.source(), ManagedIdentitySource::AzureArc);
        match e.endpoint().unwrap() {
            SourceEndpoint::AzureArc { url } => assert_eq!(url.as_str(), ARC_DEFAULT_ENDPOINT),
            _ => panic!("not arc"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_imds_url_strips_the_hosts_trailing_slash() {
        let e = env(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9/")]);
        match e.endpoint().unwrap() {
            SourceEndpoint::Imds { url } => assert_eq!(
                url.as_str(),
                "http://127.0.0.1:9/metadata/identity/oauth2/token"
            ),
            _ => panic!("not imds"),
        }
    }

    #[test]
    fn service_fabric_needs_https_and_a_well_formed_thumbprint() {
        let sf = |endpoint: &str, thumb: &str| {
            env(&[
                ("IDENTITY_ENDPOINT", endpoint),
                ("IDENTITY_HEADER", "h"),
                ("IDENTITY_SERVER_THUMBPRINT", thumb),
            ])
            .endpoint()
        };
        let hex = "0123456789ABCDEF0123456789abcdef01234567";
        assert!(sf("https://127.0.0.1:2377/metadata/identity/oauth2/token", hex).is_ok());
        let colons = "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67";
        match sf("https://l/", colons).unwrap() {
            SourceEndpoint::ServiceFabric { thumbprint, .. } => {
                assert_eq!(thumbprint[0], 0x01);
                assert_eq!(thumbprint[19], 0x67);
            }
            _ => panic!("not sf"),
        }
        assert!(sf("http://127.0.0.1:2377/", hex).is_err());
        for bad in [
            " ",
            "abc",
            &hex[..38],
            "zz23456789ABCDEF0123456789abcdef01234567",
            "é123456789ABCDEF0123456789abcdef0123456",
        ] {
            assert!(sf("https://l/", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints_must_be_http_urls_without_credentials() {
        for bad in ["ftp://l/x", "not a url", "http://u:p@l/x", "http://l/x#f"] {
            let e = env(&[("IDENTITY_ENDPOINT", bad), ("IDENTITY_HEADER", "h")]);
            assert!(e.endpoint().is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_redacts_the_secrets() {
        let e = env(&[
            ("IDENTITY_ENDPOINT", "http://l/"),
            ("IDENTITY_HEADER", "top-secret-1"),
            ("MSI_SECRET", "top-secret-2"),
        ]);
        let d = format!("{e:?}");
        assert!(!d.contains("top-secret"), "{d}");
        assert!(d.contains("http://l/"));
    }
}

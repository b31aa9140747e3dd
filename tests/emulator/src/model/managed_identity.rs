//! Wire types of the emulated managed-identity endpoints: where they listen (in the manifest),
//! the identities and settings behind them (`/admin/managed-identity`), and their fault rules
//! (`/admin/managed-identity/faults`).

use serde::{Deserialize, Serialize};

use crate::seeds;

/// Where the emulated managed-identity sources listen, and the secrets they expect (the
/// manifest's `managed_identity`). [`env`](Self::env) gives the environment a client of each
/// source reads.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedIdentityEndpoints {
    /// `http://127.0.0.1:R`: the IMDS listener (the token path there is
    /// `/metadata/identity/oauth2/token`), what `AZURE_POD_IDENTITY_AUTHORITY_HOST` points at.
    pub imds_host: String,
    /// `http://127.0.0.1:M/msi/token`: App Service (`IDENTITY_ENDPOINT`).
    pub app_service_endpoint: String,
    /// The secret App Service expects in `X-IDENTITY-HEADER` and Service Fabric in `Secret`
    /// (`IDENTITY_HEADER`). Fresh each start.
    pub identity_header: String,
    /// `http://127.0.0.1:M/mlmsi/token`: Azure Machine Learning (`MSI_ENDPOINT`).
    pub azure_ml_endpoint: String,
    /// The secret Azure Machine Learning expects in the `secret` header (`MSI_SECRET`). Fresh
    /// each start.
    pub msi_secret: String,
    /// `http://127.0.0.1:M/arc/metadata/identity/oauth2/token`: Azure Arc (`IDENTITY_ENDPOINT`).
    pub arc_endpoint: String,
    /// The directory (inside the state directory) where Azure Arc writes its challenge key
    /// files.
    pub arc_key_dir: String,
    /// `http://127.0.0.1:M/cloudshell/oauth2/token`: Cloud Shell (`MSI_ENDPOINT` there).
    pub cloud_shell_endpoint: String,
    /// `https://127.0.0.1:S/sf/token`: Service Fabric (`IDENTITY_ENDPOINT`), over TLS with a
    /// self-signed certificate that the emulator's CA did not issue.
    pub service_fabric_endpoint: String,
    /// SHA-1 of the Service Fabric listener's certificate (DER), 40 uppercase hex characters
    /// (`IDENTITY_SERVER_THUMBPRINT`). Fresh each start.
    pub service_fabric_thumbprint: String,
}

impl std::fmt::Debug for ManagedIdentityEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentityEndpoints")
            .field("imds_host", &self.imds_host)
            .field("app_service_endpoint", &self.app_service_endpoint)
            .field("identity_header", &"<redacted>")
            .field("azure_ml_endpoint", &self.azure_ml_endpoint)
            .field("msi_secret", &"<redacted>")
            .field("arc_endpoint", &self.arc_endpoint)
            .field("arc_key_dir", &self.arc_key_dir)
            .field("cloud_shell_endpoint", &self.cloud_shell_endpoint)
            .field("service_fabric_endpoint", &self.service_fabric_endpoint)
            .field("service_fabric_thumbprint", &self.service_fabric_thumbprint)
            .finish()
    }
}

impl ManagedIdentityEndpoints {
    /// The environment variables a managed-identity client reads to find `source` (one of
    /// `"imds"`, `"app_service"`, `"azure_ml"`, `"service_fabric"`, `"arc"`, `"cloud_shell"`);
    /// empty for any other name.
    ///
    /// | source | variables |
    /// | --- | --- |
    /// | `imds` | `AZURE_POD_IDENTITY_AUTHORITY_HOST` |
    /// | `app_service` | `IDENTITY_ENDPOINT`, `IDENTITY_HEADER` |
    /// | `azure_ml` | `MSI_ENDPOINT`, `MSI_SECRET` |
    /// | `service_fabric` | `IDENTITY_ENDPOINT`, `IDENTITY_HEADER`, `IDENTITY_SERVER_THUMBPRINT` |
    /// | `arc` | `IDENTITY_ENDPOINT`, `IMDS_ENDPOINT` (the base URL of the listener) |
    /// | `cloud_shell` | `AZUREPS_HOST_ENVIRONMENT=cloud-shell/1.0`, `MSI_ENDPOINT` |
    pub fn env(&self, source: &str) -> Vec<(String, String)> {
        let pairs: Vec<(&str, String)> = match source {
            "imds" => vec![("AZURE_POD_IDENTITY_AUTHORITY_HOST", self.imds_host.clone())],
            "app_service" => vec![
                ("IDENTITY_ENDPOINT", self.app_service_endpoint.clone()),
                ("IDENTITY_HEADER", self.identity_header.clone()),
            ],
            "azure_ml" => vec![
                ("MSI_ENDPOINT", self.azure_ml_endpoint.clone()),
                ("MSI_SECRET", self.msi_secret.clone()),
            ],
            "service_fabric" => vec![
                ("IDENTITY_ENDPOINT", self.service_fabric_endpoint.clone()),
                ("IDENTITY_HEADER", self.identity_header.clone()),
                (
                    "IDENTITY_SERVER_THUMBPRINT",
                    self.service_fabric_thumbprint.clone(),
                ),
            ],
            "arc" => vec![
                ("IDENTITY_ENDPOINT", self.arc_endpoint.clone()),
                ("IMDS_ENDPOINT", base_url(&self.arc_endpoint)),
            ],
            "cloud_shell" => vec![
                ("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0".to_string()),
                ("MSI_ENDPOINT", self.cloud_shell_endpoint.clone()),
            ],
            _ => Vec::new(),
        };
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// `scheme://host:port` of `url` (the text before its path).
fn base_url(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url.get(after_scheme..).and_then(|rest| rest.find('/')) {
        Some(i) => url.get(..after_scheme + i).unwrap_or(url).to_string(),
        None => url.to_string(),
    }
}

/// A managed-identity source the emulator serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagedIdentitySource {
    /// The Azure Instance Metadata Service (VMs), on the IMDS listener.
    Imds,
    /// App Service and Functions (`/msi/token`).
    AppService,
    /// Azure Machine Learning (`/mlmsi/token`).
    AzureMl,
    /// Service Fabric (`/sf/token`, HTTPS).
    ServiceFabric,
    /// Azure Arc (`/arc/metadata/identity/oauth2/token`).
    Arc,
    /// Cloud Shell (`/cloudshell/oauth2/token`).
    CloudShell,
    /// Every source (in fault rules and filters only).
    #[default]
    Any,
}

impl ManagedIdentitySource {
    /// The snake-case name (as in JSON and in [`ManagedIdentityEndpoints::env`]).
    pub fn name(self) -> &'static str {
        match self {
            Self::Imds => "imds",
            Self::AppService => "app_service",
            Self::AzureMl => "azure_ml",
            Self::ServiceFabric => "service_fabric",
            Self::Arc => "arc",
            Self::CloudShell => "cloud_shell",
            Self::Any => "any",
        }
    }
}

/// A managed identity: in the manifest's `seeds.managed_identities` and in
/// [`ManagedIdentitySettings::identities`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedIdentityRegistration {
    /// Client (application) id: `appid` of its tokens; selected by `client_id` (`clientid` on
    /// Azure Machine Learning).
    pub client_id: String,
    /// Object (principal) id: `oid` and `sub` of its tokens; selected by `object_id`
    /// (`principal_id` too on App Service).
    pub object_id: String,
    /// Azure resource id: `xms_mirid` of its tokens; selected by `msi_res_id` (`mi_res_id` on
    /// App Service). For the system-assigned identity, the id of the resource it belongs to.
    pub resource_id: String,
    /// Whether it is the system-assigned identity (at most one is), served when a request
    /// names no identity.
    #[serde(default)]
    pub system_assigned: bool,
    /// Its tenant (id, domain or short name; contoso when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// `GET`/`POST /admin/managed-identity`: the identities behind every source and how tokens are
/// issued. Fields left out of a `POST` take their defaults (the seeded identities, 86400 s, any
/// `https` resource); `POST /admin/reset` restores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManagedIdentitySettings {
    /// The identities (replaced as a whole).
    pub identities: Vec<ManagedIdentityRegistration>,
    /// Lifetime of issued tokens in seconds (default 86400); zero or negative issues tokens
    /// that are already expired.
    pub token_lifetime_secs: i64,
    /// The resources tokens may be requested for (compared case-insensitively, a trailing `/`
    /// ignored); `None`: any absolute `https` URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
}

/// Default lifetime of managed-identity tokens (seconds).
pub const DEFAULT_MANAGED_IDENTITY_TOKEN_LIFETIME: i64 = 86_400;

impl Default for ManagedIdentitySettings {
    fn default() -> Self {
        Self {
            identities: seeded_managed_identities(),
            token_lifetime_secs: DEFAULT_MANAGED_IDENTITY_TOKEN_LIFETIME,
            resources: None,
        }
    }
}

/// The seeded identities: one system-assigned, two user-assigned, all in contoso.
pub fn seeded_managed_identities() -> Vec<ManagedIdentityRegistration> {
    let identity =
        |client: &str, object: &str, resource: &str, system: bool| ManagedIdentityRegistration {
            client_id: client.into(),
            object_id: object.into(),
            resource_id: resource.into(),
            system_assigned: system,
            tenant: None,
        };
    vec![
        identity(
            seeds::MI_SYSTEM_CLIENT_ID,
            seeds::MI_SYSTEM_OBJECT_ID,
            seeds::MI_SYSTEM_RESOURCE_ID,
            true,
        ),
        identity(
            seeds::MI_USER_ONE_CLIENT_ID,
            seeds::MI_USER_ONE_OBJECT_ID,
            seeds::MI_USER_ONE_RESOURCE_ID,
            false,
        ),
        identity(
            seeds::MI_USER_TWO_CLIENT_ID,
            seeds::MI_USER_TWO_OBJECT_ID,
            seeds::MI_USER_TWO_RESOURCE_ID,
            false,
        ),
    ]
}

/// `POST /admin/managed-identity/faults`: a fault rule for the managed-identity endpoints.
/// Rules are tried in the order added; the first that matches a request applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedIdentityFault {
    /// Which source's requests it applies to ([`ManagedIdentitySource::Any`]: all).
    pub source: ManagedIdentitySource,
    /// The status to answer; `0`: answer normally (after `delay_ms`, with `wrong_echo`).
    #[serde(default)]
    pub status: u16,
    /// A `Retry-After` header, sent verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// The body, sent verbatim (garbage, HTML, empty…); when absent, the source's own error
    /// shape for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Answer after this many milliseconds (a slow start; a large value is a hang).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Azure Arc: the token answer echoes a different id than the one requested (for a
    /// user-assigned identity). Such a rule applies to the retry after the challenge only.
    #[serde(default)]
    pub wrong_echo: bool,
    /// Azure Arc: apply to requests carrying `Authorization` (the retry after the challenge)
    /// only, not to the first, challenged request.
    #[serde(default)]
    pub after_challenge: bool,
    /// Applies to the next N matching requests; `None`: until cleared. When listed, the
    /// remaining count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// Managed-identity requests received per source (`GET /admin/stats`), faulted ones included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManagedIdentityStats {
    /// IMDS token requests.
    pub imds: u64,
    /// App Service requests.
    pub app_service: u64,
    /// Azure Machine Learning requests.
    pub azure_ml: u64,
    /// Service Fabric requests.
    pub service_fabric: u64,
    /// Azure Arc requests (challenged ones included).
    pub arc: u64,
    /// Cloud Shell requests.
    pub cloud_shell: u64,
}

impl ManagedIdentityStats {
    /// The count of `source` (the sum for [`ManagedIdentitySource::Any`]).
    pub fn get(&self, source: ManagedIdentitySource) -> u64 {
        match source {
            ManagedIdentitySource::Imds => self.imds,
            ManagedIdentitySource::AppService => self.app_service,
            ManagedIdentitySource::AzureMl => self.azure_ml,
            ManagedIdentitySource::ServiceFabric => self.service_fabric,
            ManagedIdentitySource::Arc => self.arc,
            ManagedIdentitySource::CloudShell => self.cloud_shell,
            ManagedIdentitySource::Any => [
                self.imds,
                self.app_service,
                self.azure_ml,
                self.service_fabric,
                self.arc,
                self.cloud_shell,
            ]
            .iter()
            .fold(0u64, |a, b| a.saturating_add(*b)),
        }
    }

    /// Counts one request of `source`.
    pub(crate) fn bump(&mut self, source: ManagedIdentitySource) {
        let slot = match source {
            ManagedIdentitySource::Imds => &mut self.imds,
            ManagedIdentitySource::AppService => &mut self.app_service,
            ManagedIdentitySource::AzureMl => &mut self.azure_ml,
            ManagedIdentitySource::ServiceFabric => &mut self.service_fabric,
            ManagedIdentitySource::Arc => &mut self.arc,
            ManagedIdentitySource::CloudShell => &mut self.cloud_shell,
            ManagedIdentitySource::Any => return,
        };
        *slot = slot.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> ManagedIdentityEndpoints {
        ManagedIdentityEndpoints {
            imds_host: "http://127.0.0.1:1".into(),
            app_service_endpoint: "http://127.0.0.1:2/msi/token".into(),
            identity_header: "h".into(),
            azure_ml_endpoint: "http://127.0.0.1:2/mlmsi/token".into(),
            msi_secret: "s".into(),
            arc_endpoint: "http://127.0.0.1:2/arc/metadata/identity/oauth2/token".into(),
            arc_key_dir: "/tmp/x".into(),
            cloud_shell_endpoint: "http://127.0.0.1:2/cloudshell/oauth2/token".into(),
            service_fabric_endpoint: "https://127.0.0.1:3/sf/token".into(),
            service_fabric_thumbprint: "AB".into(),
        }
    }

    #[test]
    fn env_per_source() {
        let e = endpoints();
        let names = |s: &str| -> Vec<String> { e.env(s).into_iter().map(|(k, _)| k).collect() };
        assert_eq!(names("imds"), ["AZURE_POD_IDENTITY_AUTHORITY_HOST"]);
        assert_eq!(
            names("app_service"),
            ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"]
        );
        assert_eq!(names("azure_ml"), ["MSI_ENDPOINT", "MSI_SECRET"]);
        assert_eq!(
            names("service_fabric"),
            [
                "IDENTITY_ENDPOINT",
                "IDENTITY_HEADER",
                "IDENTITY_SERVER_THUMBPRINT"
            ]
        );
        assert_eq!(
            e.env("arc"),
            [
                ("IDENTITY_ENDPOINT".to_string(), e.arc_endpoint.clone()),
                (
                    "IMDS_ENDPOINT".to_string(),
                    "http://127.0.0.1:2".to_string()
                )
            ]
        );
        assert_eq!(
            e.env("cloud_shell")[0],
            (
                "AZUREPS_HOST_ENVIRONMENT".to_string(),
                "cloud-shell/1.0".to_string()
            )
        );
        assert!(e.env("nope").is_empty());
    }

    #[test]
    fn debug_hides_the_secrets() {
        let text = format!("{:?}", endpoints());
        assert!(text.contains("<redacted>"));
        assert!(!text.contains("\"h\"") && !text.contains("\"s\""));
    }

    #[test]
    fn fault_rules_parse_with_defaults() {
        let rule: ManagedIdentityFault =
            serde_json::from_str(r#"{"source":"arc","status":500,"times":2}"#).unwrap();
        assert_eq!(rule.source, ManagedIdentitySource::Arc);
        assert_eq!(rule.status, 500);
        assert_eq!(rule.times, Some(2));
        assert!(!rule.wrong_echo);
        let settings: ManagedIdentitySettings =
            serde_json::from_str(r#"{"token_lifetime_secs": -5}"#).unwrap();
        assert_eq!(settings.token_lifetime_secs, -5);
        assert_eq!(settings.identities, seeded_managed_identities());
    }
}

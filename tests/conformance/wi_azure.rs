//! Workload identity against a peer: `azure_identity` 1.0.0's `WorkloadIdentityCredential`
//! (the Azure SDK for Rust) and msal-rs's `AzureEnvironment::workload_identity_client` read
//! the same service account token file for the same app, tenant and scope on the emulator
//! (`tests/fixtures/conformance/azure_identity_cases.json`). The token requests they send are
//! compared: the endpoint and the OAuth fields (grant type, client id, scope, the assertion and
//! its type) must be equal; other fields are findings on the case's line.
//!
//! azure_identity takes the client id, tenant and file path as options, so it runs in process;
//! its transport reaches only the emulator's host names (resolved to its loopback port, only
//! its CA trusted). Its authority host is the public cloud's (it reads `AZURE_AUTHORITY_HOST`
//! from the process environment, which the suite does not set), which the emulator serves.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use azure_core::credentials::TokenCredential as _;
use azure_core::http::{AsyncRawResponse, ClientOptions, HttpClient, Request, Transport};
use azure_identity::{
    ClientAssertionCredentialOptions, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use msal_core::environment::AzureEnvironment;
use msal_tests::emulator::model::FederatedTokenRequest;
use msal_tests::emulator::{RecordedRequest, seeds};
use serde::Deserialize;

use crate::emu::Emu;
use crate::rust_side::LoopbackOnly;

/// The scope both ask for.
const SCOPE: &str = "https://vault.azure.net/.default";
/// How long one request of azure_identity may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The form fields that must be equal.
const OAUTH_FIELDS: [&str; 5] = [
    "grant_type",
    "client_id",
    "scope",
    "client_assertion",
    "client_assertion_type",
];

/// What a workload identity case checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WiCheck {
    /// The seeded service account: both get a token (azure_identity's second call from its
    /// cache); their requests compared.
    Wire,
    /// A service account the app does not trust: both fail; their requests and errors compared.
    UnknownSubject,
}

/// One workload identity case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WiCase {
    /// What is checked.
    pub(crate) check: WiCheck,
}

/// azure_identity's transport: only the emulator's hosts, through the emulator's resolver.
#[derive(Debug)]
struct EmulatorOnly {
    client: reqwest::Client,
    hosts: Vec<String>,
}

#[async_trait::async_trait]
impl HttpClient for EmulatorOnly {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let url = request.url().clone();
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if url.scheme() != "https" || !self.hosts.contains(&host) {
            return Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Io,
                format!("refused {url}: not an emulator host (traffic must stay on loopback)"),
            ));
        }
        crate::mi_azure::forward(&self.client, request).await
    }
}

/// The token requests (POSTs to a token endpoint) recorded since the last reset.
async fn token_requests(emu: &Emu) -> anyhow::Result<Vec<RecordedRequest>> {
    Ok(emu
        .requests()
        .await?
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/token"))
        .collect())
}

fn form(r: &RecordedRequest) -> BTreeMap<&str, &str> {
    r.form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Differences between two token requests: `Err` for the OAuth ones, findings for the rest.
fn compare(az: &RecordedRequest, rs: &RecordedRequest) -> anyhow::Result<Vec<String>> {
    ensure!(
        az.host == rs.host && az.path == rs.path,
        "endpoint: azure_identity {}{} | msal-rs {}{}",
        az.host,
        az.path,
        rs.host,
        rs.path
    );
    let (a, b) = (form(az), form(rs));
    for field in OAUTH_FIELDS {
        ensure!(
            a.get(field) == b.get(field),
            "{field}: azure_identity {:?} | msal-rs {:?}",
            a.get(field),
            b.get(field)
        );
    }
    let mut findings = Vec::new();
    for (k, v) in &a {
        if !b.contains_key(k) {
            findings.push(format!("only azure_identity sends {k}={v}"));
        }
    }
    for (k, v) in &b {
        if !a.contains_key(k) {
            findings.push(format!("only msal-rs sends {k}={v}"));
        }
    }
    Ok(findings)
}

/// Runs a workload identity case; `Ok` carries the findings, if any.
pub(crate) async fn run(emu: &Emu, case: &WiCase) -> anyhow::Result<Option<String>> {
    emu.reset().await?;
    let subject = match case.check {
        WiCheck::Wire => seeds::WORKLOAD_SUBJECT,
        WiCheck::UnknownSubject => "system:serviceaccount:default:stranger",
    };
    let token = emu
        .admin
        .mint_federated_token(&FederatedTokenRequest {
            subject: subject.to_owned(),
            ..Default::default()
        })
        .await?
        .access_token;
    let dir = std::env::temp_dir().join(format!(
        "msal-conformance-wi-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = dir.join("token");
    std::fs::write(&file, &token).with_context(|| format!("writing {}", file.display()))?;
    let outcome = compare_peers(emu, case, &file).await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn compare_peers(
    emu: &Emu,
    case: &WiCase,
    file: &std::path::Path,
) -> anyhow::Result<Option<String>> {
    // azure_identity.
    let transport = EmulatorOnly {
        client: emu
            .emulator
            .http_client_builder()?
            .no_proxy()
            .connect_timeout(REQUEST_TIMEOUT)
            .build()?,
        hosts: emu.emulator.hosts().iter().map(|h| h.to_string()).collect(),
    };
    let options = WorkloadIdentityCredentialOptions {
        credential_options: ClientAssertionCredentialOptions {
            client_options: ClientOptions {
                transport: Some(Transport::new(Arc::new(transport))),
                ..Default::default()
            },
        },
        client_id: Some(seeds::WORKLOAD_APP_CLIENT_ID.to_owned()),
        tenant_id: Some(seeds::CONTOSO_TENANT_ID.to_owned()),
        token_file_path: Some(file.to_path_buf()),
    };
    let az = WorkloadIdentityCredential::new(Some(options))
        .map_err(|e| anyhow::anyhow!("azure_identity could not be built: {e}"))?;
    let az_first = az.get_token(&[SCOPE], None).await;
    let az_second = match &az_first {
        Ok(_) => Some(az.get_token(&[SCOPE], None).await),
        Err(_) => None,
    };
    let az_reqs = token_requests(emu).await?;

    // msal-rs, from a fresh state.
    emu.reset().await?;
    let env = AzureEnvironment::from_vars([
        ("AZURE_TENANT_ID", seeds::CONTOSO_TENANT_ID.to_owned()),
        ("AZURE_CLIENT_ID", seeds::WORKLOAD_APP_CLIENT_ID.to_owned()),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            file.to_string_lossy().into_owned(),
        ),
    ]);
    let app = env
        .workload_identity_client()
        .context("msal-rs: workload identity not configured")??
        .http_client(LoopbackOnly::new(emu)?)
        .build()?;
    let rs_first = app.acquire_token_for_client(SCOPE).await;
    let rs_second = match &rs_first {
        Ok(_) => Some(app.acquire_token_for_client(SCOPE).await),
        Err(_) => None,
    };
    let rs_reqs = token_requests(emu).await?;

    let mut findings = Vec::new();
    match case.check {
        WiCheck::Wire => {
            let a = az_first.map_err(|e| anyhow::anyhow!("azure_identity failed: {e}"))?;
            let b = rs_first.context("msal-rs failed")?;
            ensure!(
                az_second.is_some_and(|s| s.is_ok_and(|t| t.token.secret() == a.token.secret())),
                "azure_identity's second call did not return its cached token"
            );
            ensure!(
                rs_second.is_some_and(
                    |s| s.is_ok_and(|t| t.access_token().secret() == b.access_token().secret())
                ),
                "msal-rs's second call did not return its cached token"
            );
            ensure!(
                az_reqs.len() == 1 && rs_reqs.len() == 1,
                "token requests: azure_identity {} | msal-rs {} (one each expected)",
                az_reqs.len(),
                rs_reqs.len()
            );
        }
        WiCheck::UnknownSubject => {
            let Err(az_e) = az_first else {
                bail!("azure_identity got a token for a subject the app does not trust");
            };
            let Err(rs_e) = rs_first else {
                bail!("msal-rs got a token for a subject the app does not trust");
            };
            ensure!(
                rs_e.service()
                    .is_some_and(|s| s.error_codes.contains(&70_021)),
                "msal-rs: expected AADSTS70021, got {rs_e}"
            );
            ensure!(
                az_e.to_string().contains("70021"),
                "azure_identity: expected AADSTS70021, got {az_e}"
            );
            ensure!(
                !az_reqs.is_empty() && !rs_reqs.is_empty(),
                "both must have asked the token endpoint"
            );
        }
    }
    let (az_req, rs_req) = (
        az_reqs
            .first()
            .context("azure_identity sent no token request")?,
        rs_reqs.first().context("msal-rs sent no token request")?,
    );
    findings.extend(compare(az_req, rs_req)?);
    Ok((!findings.is_empty()).then(|| format!("findings:\n{}", findings.join("\n"))))
}

//! The second managed identity peer: `azure_identity` 1.0.0's `ManagedIdentityCredential` (the
//! Azure SDK for Rust), as a wire comparison with msal-rs
//! (`tests/fixtures/conformance/mi_azure_cases.json`).
//!
//! It reads its source from the process environment only, so it runs in a child process (this
//! binary re-run with [`CHILD_VAR`] set) whose environment holds the emulator source's
//! variables and nothing else of managed identity. Its transport is [`LoopbackTransport`]: any
//! host but loopback is refused before a connection is made, and no proxy is used. Of the
//! sources, azure_identity 1.0.0 serves App Service and IMDS
//! (src/managed_identity_credential.rs); its IMDS endpoint is the constant
//! `http://169.254.169.254/metadata/identity/oauth2/token`
//! (src/virtual_machine_managed_identity_credential.rs), which cannot be pointed at the
//! emulator: its IMDS case is not run. The request it sends is compared with msal-rs's for the
//! same `.default` scope; differences are findings on the case's line, not failures.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use azure_core::credentials::TokenCredential as _;
use azure_core::http::headers::Headers;
use azure_core::http::{
    AsyncRawResponse, ClientOptions, HttpClient, Request, StatusCode, Transport,
};
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use msal_core::TokenCache;
use serde::{Deserialize, Serialize};

use crate::emu::Emu;
use crate::mi_cases::{MiIdentity, MiSource};
use crate::mi_rust;
use crate::mi_wire;

/// Set (to `1`) in the child process that runs azure_identity.
pub(crate) const CHILD_VAR: &str = "MSAL_CONFORMANCE_AZURE_IDENTITY_CHILD";
/// The scope both clients ask for (azure_identity takes scopes, not resources).
const SCOPE: &str = "https://management.azure.com/.default";
/// How long one request of azure_identity may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The variables that select a managed identity source, cleared in the child.
const MI_VARS: [&str; 10] = [
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZUREPS_HOST_ENVIRONMENT",
    "AZURE_CLIENT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
];

/// What an azure_identity case checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AzureCheck {
    /// A token (then its own cache's, with no request); its request compared with msal-rs's.
    Wire,
    /// A failing request compared with msal-rs's (both must fail).
    Error,
    /// azure_identity refuses the configuration before any request (a finding, recorded).
    Refused,
}

/// One azure_identity case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AzureCase {
    /// The emulator source.
    pub(crate) source: MiSource,
    /// The identity.
    pub(crate) identity: MiIdentity,
    /// What is checked.
    pub(crate) check: AzureCheck,
}

/// The child's job.
#[derive(Debug, Serialize, Deserialize)]
struct ChildJob {
    /// `client_id`, `object_id` or `resource_id` and the id; none for system-assigned.
    user_assigned: Option<(String, String)>,
    /// How many `get_token` calls.
    calls: usize,
}

/// The child's outcome of one call.
#[derive(Debug, Serialize, Deserialize)]
struct ChildCall {
    ok: bool,
    /// The token (to compare calls), when `ok`.
    token_sha256: Option<String>,
    /// The error's HTTP status, if any.
    status: Option<u16>,
    /// The error, when not `ok`.
    error: Option<String>,
}

/// What the child printed.
#[derive(Debug, Serialize, Deserialize)]
struct ChildResult {
    /// Constructing the credential failed.
    construct_error: Option<String>,
    calls: Vec<ChildCall>,
}

/// azure_core's [`HttpClient`] over reqwest, refusing every host but loopback.
#[derive(Debug)]
struct LoopbackTransport {
    client: reqwest::Client,
}

#[async_trait::async_trait]
impl HttpClient for LoopbackTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let url = request.url().clone();
        if !mi_rust::is_loopback_url(url.as_str()) {
            return Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Io,
                format!("refused {url}: not loopback (traffic must stay on loopback)"),
            ));
        }
        forward(&self.client, request).await
    }
}

/// Sends an azure_core request with reqwest (within [`REQUEST_TIMEOUT`]) and returns the
/// answer as azure_core's; the caller has checked the destination.
pub(crate) async fn forward(
    client: &reqwest::Client,
    request: &Request,
) -> azure_core::Result<AsyncRawResponse> {
    let url = request.url();
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes())
        .map_err(|e| azure_core::Error::new(azure_core::error::ErrorKind::Other, e))?;
    let mut req = client.request(method, url.as_str());
    for (name, value) in request.headers().iter() {
        req = req.header(name.as_str(), value.as_str());
    }
    let body: azure_core::Bytes = request.body().into();
    let resp = req
        .body(body.to_vec())
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|e| azure_core::Error::new(azure_core::error::ErrorKind::Io, e))?;
    let status = StatusCode::from(resp.status().as_u16());
    let mut headers = Headers::new();
    for (k, v) in resp.headers() {
        if let Ok(v) = v.to_str() {
            headers.insert(k.as_str().to_owned(), v.to_owned());
        }
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| azure_core::Error::new(azure_core::error::ErrorKind::Io, e))?;
    Ok(AsyncRawResponse::from_bytes(
        status,
        headers,
        bytes.to_vec(),
    ))
}

/// The child's side: runs the job on stdin with the process environment and prints the result.
pub(crate) fn child_main() -> std::process::ExitCode {
    let mut input = String::new();
    let result = std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the job")
        .and_then(|_| serde_json::from_str::<ChildJob>(&input).context("parsing the job"))
        .and_then(|job| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(child_run(job))
        });
    match result.and_then(|r| Ok(serde_json::to_string(&r)?)) {
        Ok(out) => {
            println!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("azure_identity child: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn child_run(job: ChildJob) -> anyhow::Result<ChildResult> {
    let transport = LoopbackTransport {
        client: reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(REQUEST_TIMEOUT)
            .build()?,
    };
    let user_assigned_id = match &job.user_assigned {
        None => None,
        Some((kind, id)) => Some(match kind.as_str() {
            "client_id" => UserAssignedId::ClientId(id.clone()),
            "object_id" => UserAssignedId::ObjectId(id.clone()),
            "resource_id" => UserAssignedId::ResourceId(id.clone()),
            other => bail!("unknown id kind {other}"),
        }),
    };
    let options = ManagedIdentityCredentialOptions {
        user_assigned_id,
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(transport))),
            ..Default::default()
        },
    };
    let credential = match ManagedIdentityCredential::new(Some(options)) {
        Ok(c) => c,
        Err(e) => {
            return Ok(ChildResult {
                construct_error: Some(e.to_string()),
                calls: Vec::new(),
            });
        }
    };
    let mut calls = Vec::new();
    for _ in 0..job.calls {
        calls.push(match credential.get_token(&[SCOPE], None).await {
            Ok(t) => ChildCall {
                ok: true,
                token_sha256: Some(sha256_hex(t.token.secret())),
                status: None,
                error: None,
            },
            Err(e) => ChildCall {
                ok: false,
                token_sha256: None,
                status: e.http_status().map(u16::from),
                error: Some(e.to_string()),
            },
        });
    }
    Ok(ChildResult {
        construct_error: None,
        calls,
    })
}

fn sha256_hex(s: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the child with `vars` as its only managed identity variables.
async fn run_child(vars: &[(String, String)], job: &ChildJob) -> anyhow::Result<ChildResult> {
    let exe = std::env::current_exe().context("locating the conformance binary")?;
    let mut cmd = Command::new(exe);
    for v in MI_VARS {
        cmd.env_remove(v);
    }
    cmd.envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env(CHILD_VAR, "1")
        .env_remove("REGION_NAME")
        .env_remove("MSAL_FORCE_REGION");
    let input = serde_json::to_vec(job)?;
    let (stdout, _) =
        tokio::task::spawn_blocking(move || crate::child::run_job(cmd, "azure_identity", &input))
            .await??;
    serde_json::from_str(stdout.trim())
        .with_context(|| format!("azure_identity's child printed no result: {stdout:?}"))
}

/// The child's job for `id`.
fn job_for(id: MiIdentity, calls: usize) -> ChildJob {
    use msal_tests::emulator::seeds;
    let user = |k: &str, v: &str| Some((k.to_owned(), v.to_owned()));
    ChildJob {
        user_assigned: match id {
            MiIdentity::System => None,
            MiIdentity::ClientId => user("client_id", seeds::MI_USER_ONE_CLIENT_ID),
            MiIdentity::ResourceId => user("resource_id", seeds::MI_USER_ONE_RESOURCE_ID),
            MiIdentity::ObjectId => user("object_id", seeds::MI_USER_TWO_OBJECT_ID),
            MiIdentity::UnknownClientId => user("client_id", mi_rust::UNKNOWN_CLIENT_ID),
        },
        calls,
    }
}

/// Runs an azure_identity case; `Ok` carries the findings, if any.
pub(crate) async fn run(emu: &Emu, case: &AzureCase) -> anyhow::Result<Option<String>> {
    let vars = mi_rust::env_vars(emu, case.source, &BTreeMap::new())?;
    emu.reset().await?;
    let calls = if case.check == AzureCheck::Wire { 2 } else { 1 };
    let az = run_child(&vars, &job_for(case.identity, calls)).await?;
    let az_reqs = mi_wire::mi_requests(&emu.requests().await?);
    if case.check == AzureCheck::Refused {
        let why = az
            .construct_error
            .context("azure_identity was expected to refuse this configuration")?;
        ensure!(
            az_reqs.is_empty(),
            "azure_identity sent {} request(s) after refusing",
            az_reqs.len()
        );
        return Ok(Some(format!(
            "finding: azure_identity refuses it before any request: {why}"
        )));
    }
    if let Some(e) = &az.construct_error {
        bail!("azure_identity could not be built: {e}");
    }
    // msal-rs, the same scope, from a fresh state.
    emu.reset().await?;
    let rs = mi_rust::client(emu, &vars, case.identity, &[], TokenCache::new(), None)?;
    let rs_outcome = rs.acquire_token_for_client(SCOPE).await;
    let rs_reqs = mi_wire::mi_requests(&emu.requests().await?);
    let mut findings = Vec::new();
    match case.check {
        AzureCheck::Wire => {
            let first = az.calls.first().context("no call")?;
            ensure!(first.ok, "azure_identity failed: {:?}", first.error);
            let second = az.calls.get(1).context("no second call")?;
            ensure!(
                second.ok && second.token_sha256 == first.token_sha256,
                "azure_identity's second call did not return its cached token"
            );
            rs_outcome.context("msal-rs failed")?;
        }
        AzureCheck::Error => {
            let first = az.calls.first().context("no call")?;
            ensure!(!first.ok, "azure_identity got a token; expected a failure");
            let e = match rs_outcome {
                Ok(_) => bail!("msal-rs got a token; expected a failure"),
                Err(e) => e,
            };
            let rs_status = e.http_status();
            if first.status != rs_status {
                findings.push(format!(
                    "HTTP status: azure_identity {:?} | msal-rs {rs_status:?}",
                    first.status
                ));
            }
            findings.push(format!(
                "errors: azure_identity {:?} | msal-rs {:?} ({:?})",
                first.error.as_deref().unwrap_or(""),
                e.service().map(|s| s.error.as_str()).unwrap_or(""),
                e.kind()
            ));
        }
        AzureCheck::Refused => {}
    }
    ensure!(!az_reqs.is_empty(), "azure_identity sent no request");
    findings.extend(mi_wire::compare(
        "azure_identity",
        &az_reqs,
        "msal-rs",
        &rs_reqs,
    ));
    Ok((!findings.is_empty()).then(|| format!("findings:\n{}", findings.join("\n"))))
}

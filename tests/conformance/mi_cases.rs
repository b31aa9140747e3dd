//! Managed identity cases (`tests/fixtures/conformance/mi_cases.json`): MSAL Python 1.39's
//! `ManagedIdentityClient` (`python/msal_mi_harness.py`, the environment set in its process
//! only) and msal-rs's against the same emulator source. A round trip compares the request
//! each sends and the cache each writes, then has each read the other's cache (a hit, with no
//! request); a claims challenge compares Service Fabric's `token_sha256_to_refresh` and
//! `xms_cc`; an error case compares the requests and the mapped `error` code.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use msal_core::clock::ManualClock;
use msal_core::{TokenCache, TokenSource};
use msal_tests::emulator::seeds;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cache_cmp::compare_caches;
use crate::emu::Emu;
use crate::mi_rust;
use crate::mi_wire::{self, MiRequest};
use crate::python::Python;

/// The resource every case asks a token for.
pub(crate) const RESOURCE: &str = "https://management.azure.com/";
/// The claims challenge of the claims cases (a CAE `nbf` challenge).
const CLAIMS: &str = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;

/// A managed identity source of the emulator that MSAL Python 1.39's `ManagedIdentityClient`
/// supports (Cloud Shell is a public-client flow there, not a source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MiSource {
    /// IMDS, through `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
    Imds,
    /// App Service / Functions.
    AppService,
    /// Azure Machine Learning.
    AzureMl,
    /// Service Fabric (pinned https).
    ServiceFabric,
    /// Azure Arc (challenge and key file).
    Arc,
}

impl MiSource {
    /// The emulator's name of the source.
    pub(crate) fn name(self) -> &'static str {
        match self {
            MiSource::Imds => "imds",
            MiSource::AppService => "app_service",
            MiSource::AzureMl => "azure_ml",
            MiSource::ServiceFabric => "service_fabric",
            MiSource::Arc => "arc",
        }
    }
}

/// Which identity a case asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MiIdentity {
    /// System-assigned.
    System,
    /// User-assigned, by client id (the emulator's first user-assigned identity).
    ClientId,
    /// User-assigned, by resource id (the first).
    ResourceId,
    /// User-assigned, by object id (the second).
    ObjectId,
    /// User-assigned, by a client id the emulator does not know.
    UnknownClientId,
}

/// What a case checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MiCheck {
    /// The same request, the same cache, and each side a cache hit over the other's cache.
    RoundTrip,
    /// A claims challenge over the same cached token: the same request (with
    /// `token_sha256_to_refresh` and `xms_cc` on Service Fabric).
    Claims,
    /// The same failing request(s) and the same `error` code.
    Error,
}

/// One managed identity case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MiCase {
    /// The source.
    pub(crate) source: MiSource,
    /// The identity.
    pub(crate) identity: MiIdentity,
    /// What is checked.
    pub(crate) check: MiCheck,
    /// Client capabilities of both clients.
    #[serde(default)]
    pub(crate) client_capabilities: Vec<String>,
    /// Environment variables replaced (or added) for both clients, e.g. a wrong secret.
    #[serde(default)]
    pub(crate) env_override: BTreeMap<String, String>,
    /// Error cases: the `error` code both must map the failure to.
    #[serde(default)]
    pub(crate) expect_error: Option<String>,
    /// Error cases: compare only MSAL Python's requests with msal-rs's first ones (msal-rs
    /// retries what MSAL Python does not); the retries are reported in the case's note.
    #[serde(default)]
    pub(crate) first_requests_only: bool,
}

/// MSAL Python's outcome of one call.
#[derive(Debug, Clone, Deserialize)]
struct PyMiCall {
    token_source: Option<String>,
    has_access_token: bool,
    error: Option<String>,
    error_description: Option<String>,
}

/// What `msal_mi_harness.py` printed.
#[derive(Debug, Clone, Deserialize)]
struct PyMiResult {
    calls: Vec<PyMiCall>,
    cache: Option<String>,
    exception: Option<String>,
}

impl PyMiCall {
    fn expect_token(&self, source: &str) -> anyhow::Result<()> {
        if let Some(e) = &self.error {
            bail!(
                "MSAL Python failed: {e}: {}",
                self.error_description.as_deref().unwrap_or("")
            );
        }
        ensure!(
            self.has_access_token && self.token_source.as_deref() == Some(source),
            "MSAL Python: expected a token from {source}, got token_source {:?} (access token: {})",
            self.token_source,
            self.has_access_token
        );
        Ok(())
    }
}

/// MSAL Python's `ManagedIdentity` dict for `id`.
fn python_identity(id: MiIdentity) -> Value {
    let (kind, value) = match id {
        MiIdentity::System => ("SystemAssigned", None),
        MiIdentity::ClientId => ("ClientId", Some(seeds::MI_USER_ONE_CLIENT_ID)),
        MiIdentity::ResourceId => ("ResourceId", Some(seeds::MI_USER_ONE_RESOURCE_ID)),
        MiIdentity::ObjectId => ("ObjectId", Some(seeds::MI_USER_TWO_OBJECT_ID)),
        MiIdentity::UnknownClientId => ("ClientId", Some(mi_rust::UNKNOWN_CLIENT_ID)),
    };
    json!({"ManagedIdentityIdType": kind, "Id": value})
}

/// Runs one MSAL Python job: `claims` per call, over `cache`.
async fn run_python(
    emu: &Emu,
    py: &Python,
    case: &MiCase,
    vars: &[(String, String)],
    cache: Option<&str>,
    calls: &[Option<&str>],
) -> anyhow::Result<(Vec<PyMiCall>, String)> {
    let env: serde_json::Map<String, Value> = vars
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let job = json!({
        "env": env,
        "arc_key_dir": emu.emulator.managed_identity().arc_key_dir,
        "identity": python_identity(case.identity),
        "client_capabilities": if case.client_capabilities.is_empty() {
            Value::Null
        } else {
            json!(case.client_capabilities)
        },
        "cache": cache,
        "calls": calls
            .iter()
            .map(|c| json!({"resource": RESOURCE, "claims_challenge": c}))
            .collect::<Vec<_>>(),
    });
    let stdout = py.run_script("msal_mi_harness.py", &job).await?;
    let result: PyMiResult = serde_json::from_str(stdout.trim())
        .with_context(|| format!("MSAL Python's MI harness printed no result: {stdout:?}"))?;
    if let Some(tb) = &result.exception {
        bail!("MSAL Python raised:\n{}", tb.trim_end());
    }
    ensure!(
        result.calls.len() == calls.len(),
        "MSAL Python reported {} calls, expected {}",
        result.calls.len(),
        calls.len()
    );
    let cache = result.cache.context("MSAL Python returned no cache")?;
    Ok((result.calls, cache))
}

/// The managed identity requests recorded since the last reset.
async fn recorded(emu: &Emu) -> anyhow::Result<Vec<MiRequest>> {
    Ok(mi_wire::mi_requests(&emu.requests().await?))
}

/// Runs a managed identity case; `Ok` may carry a note.
pub(crate) async fn run(emu: &Emu, py: &Python, case: &MiCase) -> anyhow::Result<Option<String>> {
    let vars = mi_rust::env_vars(emu, case.source, &case.env_override)?;
    match case.check {
        MiCheck::RoundTrip => round_trip(emu, py, case, &vars).await.map(|()| None),
        MiCheck::Claims => claims(emu, py, case, &vars).await.map(|()| None),
        MiCheck::Error => error(emu, py, case, &vars).await,
    }
}

fn fail_on(diffs: Vec<String>) -> anyhow::Result<()> {
    if diffs.is_empty() {
        Ok(())
    } else {
        bail!("{}", diffs.join("\n"))
    }
}

async fn round_trip(
    emu: &Emu,
    py: &Python,
    case: &MiCase,
    vars: &[(String, String)],
) -> anyhow::Result<()> {
    // Each side from a fresh state: the request and the cache.
    emu.reset().await?;
    let (calls, py_cache) = run_python(emu, py, case, vars, None, &[None]).await?;
    calls[0].expect_token("identity_provider")?;
    let py_reqs = recorded(emu).await?;
    emu.reset().await?;
    let cache = TokenCache::new();
    let rs = mi_rust::client(
        emu,
        vars,
        case.identity,
        &case.client_capabilities,
        cache.clone(),
        None,
    )?;
    let got = rs.acquire_token_for_client(RESOURCE).await?;
    ensure!(
        got.source() == TokenSource::IdentityProvider,
        "msal-rs: expected a token from the source, got {:?}",
        got.source()
    );
    let rs_reqs = recorded(emu).await?;
    let rs_cache = cache.serialize()?;
    ensure!(
        py_reqs.len() == expected_requests(case.source),
        "MSAL Python sent {} request(s), expected {}",
        py_reqs.len(),
        expected_requests(case.source)
    );
    let mut diffs = mi_wire::compare("python", &py_reqs, "rust", &rs_reqs);
    diffs.extend(compare_caches(&py_cache, &rs_cache));
    fail_on(diffs)?;
    // msal-rs's cache serves MSAL Python.
    emu.reset().await?;
    let (calls, _) = run_python(emu, py, case, vars, Some(&rs_cache), &[None]).await?;
    calls[0]
        .expect_token("cache")
        .context("over msal-rs's cache")?;
    let sent = recorded(emu).await?;
    ensure!(
        sent.is_empty(),
        "MSAL Python sent {} request(s) over msal-rs's cache",
        sent.len()
    );
    // MSAL Python's cache serves msal-rs.
    let cache = TokenCache::new();
    cache.deserialize(&py_cache)?;
    let rs = mi_rust::client(
        emu,
        vars,
        case.identity,
        &case.client_capabilities,
        cache,
        None,
    )?;
    let got = rs.acquire_token_for_client(RESOURCE).await?;
    ensure!(
        got.source() == TokenSource::Cache,
        "msal-rs over MSAL Python's cache: expected a cache hit, got {:?}",
        got.source()
    );
    let sent = recorded(emu).await?;
    ensure!(
        sent.is_empty(),
        "msal-rs sent {} request(s) over MSAL Python's cache",
        sent.len()
    );
    Ok(())
}

/// How many requests one token takes: Azure Arc's challenge and the authorized retry, one
/// elsewhere.
fn expected_requests(source: MiSource) -> usize {
    if source == MiSource::Arc { 2 } else { 1 }
}

/// The secret of the only access token of a serialized cache.
fn only_access_token(cache: &str) -> anyhow::Result<String> {
    let doc: Value = serde_json::from_str(cache)?;
    let ats = doc
        .get("AccessToken")
        .and_then(Value::as_object)
        .context("no AccessToken section")?;
    ensure!(ats.len() == 1, "{} access tokens, expected 1", ats.len());
    ats.values()
        .next()
        .and_then(|at| at.get("secret"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .context("an access token without a secret")
}

fn sha256_hex(s: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

async fn claims(
    emu: &Emu,
    py: &Python,
    case: &MiCase,
    vars: &[(String, String)],
) -> anyhow::Result<()> {
    // One cached token (MSAL Python's), challenged by both.
    emu.reset().await?;
    let (calls, cached) = run_python(emu, py, case, vars, None, &[None]).await?;
    calls[0].expect_token("identity_provider")?;
    let token = only_access_token(&cached)?;
    emu.reset().await?;
    let (calls, _) = run_python(emu, py, case, vars, Some(&cached), &[Some(CLAIMS)]).await?;
    calls[0]
        .expect_token("identity_provider")
        .context("the claims challenge bypasses the cache")?;
    let py_reqs = recorded(emu).await?;
    emu.reset().await?;
    let cache = TokenCache::new();
    cache.deserialize(&cached)?;
    let rs = mi_rust::client(
        emu,
        vars,
        case.identity,
        &case.client_capabilities,
        cache,
        None,
    )?;
    let got = rs.acquire_token_for_client(RESOURCE).claims(CLAIMS).await?;
    ensure!(
        got.source() == TokenSource::IdentityProvider,
        "msal-rs: a claims challenge must bypass the cache, got {:?}",
        got.source()
    );
    let rs_reqs = recorded(emu).await?;
    ensure!(
        py_reqs.len() == expected_requests(case.source),
        "MSAL Python sent {} request(s), expected {}",
        py_reqs.len(),
        expected_requests(case.source)
    );
    fail_on(mi_wire::compare("python", &py_reqs, "rust", &rs_reqs))?;
    if case.source == MiSource::ServiceFabric {
        let want = sha256_hex(&token);
        for (side, reqs) in [("python", &py_reqs), ("rust", &rs_reqs)] {
            let r = reqs.first().context("no request")?;
            ensure!(
                r.query_value("token_sha256_to_refresh") == Some(want.as_str()),
                "{side}: token_sha256_to_refresh {:?}, expected sha256 of the cached token {want}",
                r.query_value("token_sha256_to_refresh")
            );
            let caps = case.client_capabilities.join(",");
            ensure!(
                r.query_value("xms_cc") == (!caps.is_empty()).then_some(caps.as_str()),
                "{side}: xms_cc {:?}, expected {caps:?}",
                r.query_value("xms_cc")
            );
        }
    }
    Ok(())
}

async fn error(
    emu: &Emu,
    py: &Python,
    case: &MiCase,
    vars: &[(String, String)],
) -> anyhow::Result<Option<String>> {
    let want = case
        .expect_error
        .as_deref()
        .context("an error case needs expect_error")?;
    emu.reset().await?;
    let (calls, _) = run_python(emu, py, case, vars, None, &[None]).await?;
    let py_reqs = recorded(emu).await?;
    ensure!(!py_reqs.is_empty(), "MSAL Python sent no request");
    ensure!(
        calls[0].error.as_deref() == Some(want) && !calls[0].has_access_token,
        "MSAL Python: expected error {want}, got {:?} ({:?})",
        calls[0].error,
        calls[0].error_description
    );
    emu.reset().await?;
    // Retry waits pass as the clock ticks.
    let clock = ManualClock::new();
    let ticker = {
        let clock = clock.clone();
        tokio::spawn(async move {
            loop {
                clock.advance(Duration::from_secs(1));
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let rs = mi_rust::client(
        emu,
        vars,
        case.identity,
        &case.client_capabilities,
        TokenCache::new(),
        Some(&clock),
    )?;
    let outcome = rs.acquire_token_for_client(RESOURCE).await;
    ticker.abort();
    let e = match outcome {
        Ok(_) => bail!("msal-rs got a token; expected error {want}"),
        Err(e) => e,
    };
    let code = e.service().map(|s| s.error.clone());
    ensure!(
        code.as_deref() == Some(want),
        "msal-rs: expected error {want}, got {code:?} ({e})"
    );
    let rs_reqs = recorded(emu).await?;
    if !case.first_requests_only {
        fail_on(mi_wire::compare("python", &py_reqs, "rust", &rs_reqs))?;
        return Ok(None);
    }
    let n = py_reqs.len().min(rs_reqs.len());
    fail_on(mi_wire::compare(
        "python",
        &py_reqs,
        "rust",
        rs_reqs.get(..n).unwrap_or_default(),
    ))?;
    // The rest are msal-rs's retries of the same request.
    for (i, r) in rs_reqs.iter().enumerate().skip(n) {
        let first = rs_reqs.get(i % n.max(1)).context("no first request")?;
        ensure!(
            r == first,
            "msal-rs's request {i} is not a retry of its first"
        );
    }
    Ok((rs_reqs.len() > py_reqs.len()).then(|| {
        format!(
            "msal-rs sent {} request(s) (retries by MSAL .NET's policy), MSAL Python {}",
            rs_reqs.len(),
            py_reqs.len()
        )
    }))
}

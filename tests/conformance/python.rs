//! MSAL Python's side of a case: a job for `python/msal_harness.py`, run as a child process
//! of the venv's interpreter (`MSAL_CONFORMANCE_PYTHON`, set by `cargo xtask conformance`).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, bail};
use msal_tests::emulator::{RecordedRequest, seeds};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cases::{Api, AppSpec, CallSpec, CredentialKind, Op, Step, UserAppSpec, crate_dir};
use crate::child::{self, tail};
use crate::emu::{self, Emu};
use crate::user_rust::{self, StepRun};

/// A request the Python shim sent (before rewriting to loopback).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SentRequest {
    /// `GET` or `POST`.
    pub(crate) method: String,
    /// The URL MSAL Python asked for.
    pub(crate) url: String,
}

/// The outcome of one call in MSAL Python.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PyCall {
    /// `identity_provider` or `cache` (absent on errors).
    pub(crate) token_source: Option<String>,
    /// Whether an access token came back.
    pub(crate) has_access_token: bool,
    /// The error, if any.
    pub(crate) error: Option<String>,
    /// Its description.
    pub(crate) error_description: Option<String>,
    /// The requests made during the call.
    pub(crate) requests: Vec<SentRequest>,
    /// User-flow scripts: the authorization URL of an auth code step.
    #[serde(default)]
    pub(crate) auth_uri: Option<String>,
    /// User-flow scripts: `get_accounts()` after the step.
    #[serde(default)]
    pub(crate) accounts: Vec<Value>,
    /// User-flow scripts: the result's `token_type`.
    #[serde(default)]
    pub(crate) token_type: Option<String>,
}

impl PyCall {
    /// Fails unless the call returned a token from `source`.
    pub(crate) fn expect_source(&self, which: &str, source: &str) -> anyhow::Result<()> {
        if let Some(e) = &self.error {
            bail!(
                "MSAL Python's {which} call failed: {e}: {}",
                self.error_description.as_deref().unwrap_or("")
            );
        }
        if !self.has_access_token || self.token_source.as_deref() != Some(source) {
            bail!(
                "MSAL Python's {which} call: expected an access token from {source}, got token_source {:?} (access token: {})",
                self.token_source,
                self.has_access_token
            );
        }
        Ok(())
    }
}

/// What the Python harness printed.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PyResult {
    /// Requests made while constructing the app (MSAL Python discovers eagerly).
    pub(crate) construction_requests: Vec<SentRequest>,
    /// One per call.
    pub(crate) calls: Vec<PyCall>,
    /// `SerializableTokenCache.serialize()` at the end.
    pub(crate) cache: Option<String>,
    /// A Python traceback, when something raised.
    pub(crate) exception: Option<String>,
}

/// Runs jobs in the venv's Python.
#[derive(Debug, Clone)]
pub(crate) struct Python {
    interpreter: Option<PathBuf>,
    script: PathBuf,
}

impl Python {
    /// From `MSAL_CONFORMANCE_PYTHON`.
    pub(crate) fn from_env() -> Python {
        Python {
            interpreter: std::env::var_os("MSAL_CONFORMANCE_PYTHON").map(PathBuf::from),
            script: crate_dir().join("conformance/python/msal_harness.py"),
        }
    }

    /// Runs `script` with `job` on stdin; returns its stdout and stderr.
    async fn run_script_at(
        &self,
        script: PathBuf,
        job: &Value,
    ) -> anyhow::Result<(String, String)> {
        let Some(python) = self.interpreter.clone() else {
            bail!(
                "MSAL_CONFORMANCE_PYTHON is not set: run the suite with `cargo xtask conformance`"
            );
        };
        let input = serde_json::to_vec(job)?;
        tokio::task::spawn_blocking(move || run_child(&python, &script, &input)).await?
    }

    /// Runs one job of `python/msal_fixture_oracle.py` (see `fixture_case.rs`) and returns
    /// what it printed.
    pub(crate) async fn run_fixture_oracle(&self, job: &Value) -> anyhow::Result<String> {
        let script = crate_dir().join("conformance/python/msal_fixture_oracle.py");
        let (stdout, stderr) = self.run_script_at(script, job).await?;
        if stdout.trim().is_empty() {
            bail!(
                "MSAL Python's fixture oracle printed nothing; stderr: {}",
                tail(&stderr)
            );
        }
        Ok(stdout)
    }

    /// Runs one job and returns its result; a Python exception is an error.
    pub(crate) async fn run(&self, job: &Value) -> anyhow::Result<PyResult> {
        let (stdout, stderr) = self.run_script_at(self.script.clone(), job).await?;
        let result: PyResult = serde_json::from_str(stdout.trim()).with_context(|| {
            format!(
                "MSAL Python's harness printed no result; stdout: {:?}; stderr: {}",
                tail(&stdout),
                tail(&stderr)
            )
        })?;
        if let Some(tb) = &result.exception {
            bail!("MSAL Python raised:\n{}", tb.trim_end());
        }
        Ok(result)
    }
}

impl Python {
    /// Runs another harness script of `conformance/python/` with `job` on stdin; its stdout.
    pub(crate) async fn run_script(&self, script: &str, job: &Value) -> anyhow::Result<String> {
        let script = crate_dir().join("conformance/python").join(script);
        Ok(self.run_script_at(script, job).await?.0)
    }
}

/// Runs the interpreter with the job on stdin ([`child::run_job`]).
fn run_child(python: &PathBuf, script: &PathBuf, input: &[u8]) -> anyhow::Result<(String, String)> {
    let mut cmd = Command::new(python);
    cmd.arg(script)
        // No region: MSAL Python would otherwise probe IMDS (169.254.169.254).
        .env_remove("REGION_NAME")
        .env_remove("MSAL_FORCE_REGION")
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    child::run_job(cmd, "MSAL Python", input)
}

/// The files of [`seeds::APP_PFX_LEGACY`] and [`seeds::APP_PFX_AES`], for MSAL Python's
/// `private_key_pfx_path`.
const PFX_LEGACY_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/emulator/fixtures/certs/app-cert.legacy.pfx"
);
const PFX_AES_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/emulator/fixtures/certs/app-cert.aes.pfx"
);

/// MSAL Python's `client_credential` for `spec`.
fn client_credential(spec: &AppSpec) -> anyhow::Result<Value> {
    Ok(match spec.credential {
        CredentialKind::Secret => json!(emu::secret(spec.client, spec.credential)?),
        CredentialKind::Certificate => json!({
            "private_key": seeds::APP_KEY_PKCS8_PEM,
            "public_certificate": seeds::APP_CERT_PEM,
        }),
        CredentialKind::PfxLegacy => json!({
            "private_key_pfx_path": PFX_LEGACY_PATH,
            "passphrase": seeds::APP_KEY_PASSPHRASE,
            "public_certificate": true,
        }),
        CredentialKind::PfxAes => json!({
            "private_key_pfx_path": PFX_AES_PATH,
            "passphrase": seeds::APP_KEY_PASSPHRASE,
        }),
        CredentialKind::KeyThumbprint => json!({
            "private_key": seeds::APP_KEY_PKCS8_PEM,
            "thumbprint": seeds::APP_CERT_SHA1_THUMBPRINT,
        }),
    })
}

/// The job of one call repeated `times` times, over an optional serialized cache.
pub(crate) fn job(
    emu: &Emu,
    app: &AppSpec,
    call: &CallSpec,
    assertion: Option<&str>,
    times: usize,
    cache: Option<&str>,
) -> anyhow::Result<Value> {
    let api = match call.api {
        Api::AcquireTokenForClient => "acquire_token_for_client",
        Api::AcquireTokenOnBehalfOf => "acquire_token_on_behalf_of",
        Api::UserFederatedIdentityCredential => {
            "acquire_token_by_user_federated_identity_credential"
        }
    };
    let one = json!({
        "api": api,
        "scopes": call.scopes,
        "claims_challenge": call.claims,
        "fmi_path": call.fmi_path,
        "forwarded_client_claims": call.forwarded_client_claims,
        "user_assertion": assertion,
        "username": call.username,
        "user_object_id": call.user_object_id,
    });
    Ok(json!({
        "emulator": {
            "addr": emu.addr().to_string(),
            "ca_path": emu.emulator.ca_pem_path(),
            "hosts": emu.emulator.hosts(),
        },
        "app": {
            "client_id": emu::client_id(app.client),
            "client_credential": client_credential(app)?,
            "authority": app.authority,
            "app_name": app.app_name,
            "app_version": app.app_version,
            "client_claims": app.client_claims,
            "client_capabilities": if app.client_capabilities.is_empty() {
                Value::Null
            } else {
                json!(app.client_capabilities)
            },
        },
        "cache": cache,
        "calls": vec![one; times],
    }))
}

/// The job of a user-flow script over an optional serialized cache.
pub(crate) fn script_job(
    emu: &Emu,
    apps: &[UserAppSpec],
    steps: &[Step],
    cache: Option<&str>,
) -> anyhow::Result<Value> {
    let apps: Vec<Value> = apps
        .iter()
        .map(|a| {
            json!({
                "client_id": user_rust::client_id(a.client),
                "client_credential": user_rust::secret(a.client),
                "authority": a.authority,
                "client_capabilities": if a.client_capabilities.is_empty() {
                    Value::Null
                } else {
                    json!(a.client_capabilities)
                },
                "exclude_scopes": if a.exclude_scopes.is_empty() {
                    Value::Null
                } else {
                    json!(a.exclude_scopes)
                },
            })
        })
        .collect();
    let mut out = Vec::new();
    for s in steps {
        let op = match s.op {
            Op::AuthCode => "auth_code",
            Op::DeviceCode => "device_code",
            Op::UsernamePassword => "username_password",
            Op::Silent => "silent",
        };
        let password = match s.op {
            Op::UsernamePassword => Some(user_rust::password(&s.username)?),
            _ => None,
        };
        out.push(json!({
            "op": op,
            "app": s.app,
            "scopes": s.scopes,
            "username": s.username,
            "password": password,
            "redirect_uri": s.redirect_uri,
            "login_hint": s.login_hint,
            "response_mode": s.response_mode,
            "prompt": s.prompt,
            "domain_hint": s.domain_hint,
            "max_age": s.max_age,
            "force_refresh": s.force_refresh,
            "ssh": s.ssh_key_id.as_ref().map(|k| json!({
                "key_id": k,
                "req_cnf": crate::cases::ssh_req_cnf(k),
            })),
        }));
    }
    Ok(json!({
        "emulator": {
            "addr": emu.addr().to_string(),
            "ca_path": emu.emulator.ca_pem_path(),
            "hosts": emu.emulator.hosts(),
        },
        "admin_url": emu.emulator.admin_url(),
        "apps": apps,
        "cache": cache,
        "steps": out,
    }))
}

/// Runs a user-flow script in MSAL Python from a fresh emulator state; one [`StepRun`] per
/// step, and the serialized cache at the end.
pub(crate) async fn run_script(
    emu: &Emu,
    py: &Python,
    apps: &[UserAppSpec],
    steps: &[Step],
    cache: Option<&str>,
) -> anyhow::Result<(Vec<StepRun>, String)> {
    emu.reset().await?;
    let job = script_job(emu, apps, steps, cache)?;
    let result = py.run(&job).await?;
    anyhow::ensure!(
        result.calls.len() == steps.len(),
        "MSAL Python reported {} steps, expected {}",
        result.calls.len(),
        steps.len()
    );
    let log = emu.requests().await?;
    let per_step = split_by_call(&result, &log)?;
    let runs = result
        .calls
        .iter()
        .zip(per_step)
        .map(|(c, requests)| StepRun {
            source: match (&c.error, &c.token_source) {
                (Some(e), _) => Err(format!(
                    "{e}: {}",
                    c.error_description.as_deref().unwrap_or("")
                )),
                (None, Some(s)) if c.has_access_token => Ok(s.clone()),
                (None, s) => Err(format!("no access token (token_source {s:?})")),
            },
            requests,
            auth_uri: c.auth_uri.clone(),
            accounts: c.accounts.clone(),
            token_type: c.token_type.clone(),
        })
        .collect();
    let cache = result
        .cache
        .ok_or_else(|| anyhow::anyhow!("MSAL Python returned no cache"))?;
    Ok((runs, cache))
}

/// Splits the emulator's log of a Python run into the requests of each call (construction
/// counts as part of the first call), checking that they match what the shim sent.
pub(crate) fn split_by_call(
    result: &PyResult,
    log: &[RecordedRequest],
) -> anyhow::Result<Vec<Vec<RecordedRequest>>> {
    let mut sent: Vec<Vec<&SentRequest>> = result
        .calls
        .iter()
        .map(|c| c.requests.iter().collect())
        .collect();
    if let Some(first) = sent.first_mut() {
        let mut all: Vec<&SentRequest> = result.construction_requests.iter().collect();
        all.append(first);
        *first = all;
    }
    let total: usize = sent.iter().map(Vec::len).sum();
    if total != log.len() {
        bail!(
            "the emulator recorded {} requests but MSAL Python's shim sent {total}",
            log.len()
        );
    }
    let mut out = Vec::new();
    let mut i = 0;
    for call in sent {
        let mut reqs = Vec::new();
        for s in call {
            let r = &log[i];
            let url = url::Url::parse(&s.url).with_context(|| format!("shim URL {}", s.url))?;
            if !s.method.eq_ignore_ascii_case(&r.method)
                || !url.host_str().unwrap_or("").eq_ignore_ascii_case(&r.host)
                || url.path() != r.path
            {
                bail!(
                    "request {i}: MSAL Python's shim sent {} {} but the emulator recorded {} {}{}",
                    s.method,
                    s.url,
                    r.method,
                    r.host,
                    r.path
                );
            }
            reqs.push(r.clone());
            i += 1;
        }
        out.push(reqs);
    }
    Ok(out)
}

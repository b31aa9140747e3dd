//! MSAL Python's side of an `oidc_provider` case: jobs for `python/msal_oidc_harness.py`, each
//! a new process (so a flow initiated by one job and completed by the next is completed by a
//! second app instance, as in a web fleet), with the harness playing the user in between.

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::child::tail;
use crate::oidc_cases::{AccountView, ErrorClass, OidcFlow, PythonRun, SideRun, StepOutcome};
use crate::oidc_peer::{
    CERT_CLIENT_ID, PUBLIC_CLIENT_ID, Running, WEB_APP_ID, WEB_APP_REDIRECT, WEB_APP_SECRET,
};
use crate::oidc_rust::{
    APP_SCOPES, POLL_DEADLINE, USER_SCOPES, approve_after_first_poll, poll_answers,
    revoke_refresh_tokens, sign_in,
};
use crate::python::Python;

const SCRIPT: &str = "msal_oidc_harness.py";

/// One step as the script reports it.
#[derive(Debug, Deserialize)]
struct PyStep {
    token_source: Option<String>,
    has_access_token: bool,
    error: Option<String>,
    error_description: Option<String>,
    flow: Option<Value>,
    auth_uri: Option<String>,
    user_code: Option<String>,
    accounts: Vec<AccountView>,
}

impl PyStep {
    fn outcome(&self) -> StepOutcome {
        match (&self.error, &self.token_source) {
            (Some(e), _) => StepOutcome::Error(
                ErrorClass::of_code(e),
                format!("{e}: {}", self.error_description.as_deref().unwrap_or("")),
            ),
            (None, Some(s)) if self.has_access_token => StepOutcome::Token(s.clone()),
            (None, s) => StepOutcome::Error(
                ErrorClass::Other("no_access_token".into()),
                format!("no access token (token_source {s:?})"),
            ),
        }
    }
}

/// What the script printed.
#[derive(Debug, Deserialize)]
struct PyResult {
    construction_error: Option<String>,
    steps: Vec<PyStep>,
    cache: Option<String>,
    exception: Option<String>,
}

/// A job's outcome: the steps and cache, or why MSAL Python built no app.
enum Job {
    Ran(Vec<PyStep>, String),
    NoApp(String),
}

/// The app of a job: which client, with which credential.
fn app(flow: OidcFlow, running: &Running) -> Value {
    match flow {
        OidcFlow::ClientCertificate => json!({
            "client_id": CERT_CLIENT_ID,
            "client_credential": {
                "private_key": running.client_key_pem,
                "public_certificate": running.client_cert_pem,
            },
        }),
        OidcFlow::WrongSecret => json!({
            "client_id": WEB_APP_ID,
            "client_credential": "not-the-secret",
        }),
        OidcFlow::DeviceCodeSecondInstance => json!({
            "client_id": PUBLIC_CLIENT_ID,
            "client_credential": null,
        }),
        _ => json!({ "client_id": WEB_APP_ID, "client_credential": WEB_APP_SECRET }),
    }
}

async fn job(
    python: &Python,
    running: &Running,
    issuer: &str,
    flow: OidcFlow,
    cache: Option<&str>,
    steps: Value,
) -> anyhow::Result<Job> {
    let input = json!({
        "ca_path": running.ca_path,
        "origins": running.origins,
        "authority": issuer,
        "app": app(flow, running),
        "cache": cache,
        "steps": steps,
    });
    let stdout = python.run_script(SCRIPT, &input).await?;
    let result: PyResult = serde_json::from_str(stdout.trim()).with_context(|| {
        format!(
            "MSAL Python's OIDC harness printed no result: {:?}",
            tail(&stdout)
        )
    })?;
    if let Some(tb) = &result.exception {
        bail!("MSAL Python raised:\n{}", tb.trim_end());
    }
    if let Some(e) = result.construction_error {
        return Ok(Job::NoApp(e));
    }
    Ok(Job::Ran(result.steps, result.cache.unwrap_or_default()))
}

/// The one step of an initiating job, with the flow it returned.
fn initiated(steps: &[PyStep]) -> anyhow::Result<(&PyStep, &Value)> {
    let step = steps.first().context("MSAL Python ran no step")?;
    match &step.flow {
        Some(f) => Ok((step, f)),
        None => bail!(
            "MSAL Python could not initiate the flow: {}",
            step.outcome()
        ),
    }
}

/// The query of a redirect as the `auth_response` dict MSAL Python takes.
fn auth_response(query: &str) -> Value {
    let map: serde_json::Map<String, Value> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    Value::Object(map)
}

fn accounts(steps: &[PyStep]) -> Vec<AccountView> {
    let mut v = steps.last().map(|s| s.accounts.clone()).unwrap_or_default();
    v.sort();
    v
}

macro_rules! ran {
    ($job:expr) => {
        match $job {
            Job::Ran(steps, cache) => (steps, cache),
            Job::NoApp(why) => return Ok(PythonRun::CannotBuildApp(why)),
        }
    };
}

/// Runs `flow` at `issuer` in MSAL Python.
pub(crate) async fn run(
    running: &Running,
    python: &Python,
    issuer: &str,
    flow: OidcFlow,
) -> anyhow::Result<PythonRun> {
    let mut run = SideRun::default();
    let silent =
        |force: bool| json!({"op": "silent", "scopes": USER_SCOPES, "force_refresh": force});
    match flow {
        OidcFlow::ClientSecret | OidcFlow::ClientCertificate | OidcFlow::WrongSecret => {
            let cc = json!({"op": "client_credentials", "scopes": APP_SCOPES});
            let steps = if flow == OidcFlow::WrongSecret {
                json!([cc])
            } else {
                json!([cc.clone(), cc])
            };
            let (steps, _) = ran!(job(python, running, issuer, flow, None, steps).await?);
            run.steps = steps.iter().map(PyStep::outcome).collect();
        }
        OidcFlow::AuthCodeSecondInstance | OidcFlow::RevokedRefreshToken => {
            let init = json!([{"op": "initiate_auth_code", "scopes": USER_SCOPES, "redirect_uri": WEB_APP_REDIRECT}]);
            let (first, _) = ran!(job(python, running, issuer, flow, None, init).await?);
            let (step, saved) = initiated(&first)?;
            let auth_uri = step.auth_uri.as_deref().context("no auth_uri")?;
            let query = sign_in(running, auth_uri).await?;
            let mut steps = vec![json!({
                "op": "complete_auth_code",
                "flow": saved,
                "auth_response": auth_response(&query),
            })];
            if flow == OidcFlow::AuthCodeSecondInstance {
                steps.push(silent(false));
                steps.push(silent(true));
            }
            let (done, cache) = ran!(job(python, running, issuer, flow, None, json!(steps)).await?);
            run.steps = done.iter().map(PyStep::outcome).collect();
            run.accounts = accounts(&done);
            if flow == OidcFlow::RevokedRefreshToken {
                let revoked = revoke_refresh_tokens(running, issuer, &cache).await?;
                anyhow::ensure!(revoked > 0, "MSAL Python cached no refresh token to revoke");
                let after = json!([silent(true)]);
                let (after, _) =
                    ran!(job(python, running, issuer, flow, Some(&cache), after).await?);
                run.steps.extend(after.iter().map(PyStep::outcome));
                run.accounts = accounts(&after);
            }
        }
        OidcFlow::DeviceCodeSecondInstance => {
            let init = json!([{"op": "initiate_device", "scopes": USER_SCOPES}]);
            let (first, _) = ran!(job(python, running, issuer, flow, None, init).await?);
            let (step, saved) = initiated(&first)?;
            let user_code = step.user_code.clone().context("no user_code")?;
            let verification = saved
                .get("verification_uri")
                .and_then(Value::as_str)
                .context("the flow has no verification_uri")?
                .to_string();
            let steps = json!([
                {"op": "poll_device", "flow": saved, "deadline_seconds": POLL_DEADLINE.as_secs()},
                silent(false),
                silent(true),
                silent(true),
            ]);
            // MSAL Python gives up polling at the deadline, so a failed approval cannot leave
            // the job running.
            let (polled, approved) = tokio::join!(
                job(python, running, issuer, flow, None, steps),
                approve_after_first_poll(running, issuer, &user_code, &verification)
            );
            approved?;
            let (done, _) = ran!(polled?);
            run.steps = done.iter().map(PyStep::outcome).collect();
            run.polls = poll_answers(running, issuer, &user_code).await?;
            run.accounts = accounts(&done);
        }
    }
    Ok(PythonRun::Ran(run))
}

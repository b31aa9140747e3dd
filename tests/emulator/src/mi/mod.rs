//! The managed-identity sources: the plain-HTTP listener (App Service, Azure Machine Learning,
//! Azure Arc, Cloud Shell), the HTTPS Service Fabric listener, and the IMDS token path (served
//! on the IMDS listener). Every request is recorded and counted, then faulted or answered by its
//! source's rules.

mod answers;
mod app_service;
mod arc;
mod azure_ml;
mod cloud_shell;
pub(crate) mod faults;
mod identity;
mod imds_token;
mod request;
mod service_fabric;
pub(crate) mod settings;
pub(crate) mod tls;
mod token;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;

use super::model::{ManagedIdentitySource, RecordedRequest};
use super::respond;
use super::state::EmuState;
use request::MiRequest;

pub(crate) use arc::ArcKey;

/// The IMDS token path (on the IMDS listener).
pub(crate) const IMDS_TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
/// App Service's token path.
pub(crate) const APP_SERVICE_PATH: &str = "/msi/token";
/// Azure Machine Learning's token path.
pub(crate) const AZURE_ML_PATH: &str = "/mlmsi/token";
/// Azure Arc's token path.
pub(crate) const ARC_PATH: &str = "/arc/metadata/identity/oauth2/token";
/// Cloud Shell's token path.
pub(crate) const CLOUD_SHELL_PATH: &str = "/cloudshell/oauth2/token";
/// Service Fabric's token path (on its HTTPS listener).
pub(crate) const SERVICE_FABRIC_PATH: &str = "/sf/token";

/// Whether `path` (trailing `/` ignored) is `expected`.
pub(crate) fn is_path(path: &str, expected: &str) -> bool {
    let trimmed = path.trim_end_matches('/');
    trimmed.eq_ignore_ascii_case(expected)
}

/// The router of the plain-HTTP managed-identity listener.
pub(crate) fn router(state: Arc<EmuState>) -> Router {
    Router::new().fallback(handle_plain).with_state(state)
}

/// The router of the Service Fabric (HTTPS) listener.
pub(crate) fn service_fabric_router(state: Arc<EmuState>) -> Router {
    Router::new().fallback(handle_fabric).with_state(state)
}

async fn handle_plain(State(state): State<Arc<EmuState>>, request: Request) -> Response {
    let path = request.uri().path();
    let source = [
        (APP_SERVICE_PATH, ManagedIdentitySource::AppService),
        (AZURE_ML_PATH, ManagedIdentitySource::AzureMl),
        (ARC_PATH, ManagedIdentitySource::Arc),
        (CLOUD_SHELL_PATH, ManagedIdentitySource::CloudShell),
    ]
    .into_iter()
    .find(|(p, _)| is_path(path, p))
    .map(|(_, s)| s);
    serve(&state, source, request).await
}

async fn handle_fabric(State(state): State<Arc<EmuState>>, request: Request) -> Response {
    let source = is_path(request.uri().path(), SERVICE_FABRIC_PATH)
        .then_some(ManagedIdentitySource::ServiceFabric);
    serve(&state, source, request).await
}

/// Serves a request to the IMDS token path (called by the IMDS listener).
pub(crate) async fn serve_imds(state: &Arc<EmuState>, request: Request) -> Response {
    serve(state, Some(ManagedIdentitySource::Imds), request).await
}

/// Records, counts, faults and answers one request (`source` `None`: an unknown path).
async fn serve(
    state: &Arc<EmuState>,
    source: Option<ManagedIdentitySource>,
    request: Request,
) -> Response {
    let seq = state.next_seq();
    let req = match MiRequest::read(request).await {
        Ok(r) => r,
        Err(status) => {
            return respond::plain_error(
                status,
                "invalid_request",
                "The request body is too large or could not be read.",
            );
        }
    };
    let fault = {
        let mut reg = state.lock();
        reg.requests.push(record(seq, &req, source));
        match source {
            Some(s) => {
                reg.stats.managed_identity.bump(s);
                let authorized = req.header("authorization").is_some();
                faults::take(&mut reg.managed_identity.faults, s, authorized)
            }
            None => None,
        }
    };
    let mut wrong_echo = false;
    let mut canned = None;
    if let (Some(rule), Some(s)) = (fault, source) {
        if let Some(ms) = rule.delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        wrong_echo = rule.wrong_echo;
        canned = faults::response(&rule, s);
    }
    let response = match (canned, source) {
        (Some(r), _) => r,
        (None, Some(s)) => answer(state, s, &req, wrong_echo),
        (None, None) => respond::plain_error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("The emulator does not serve {} {}", req.method, req.path),
        ),
    };
    let status = response.status().as_u16();
    if let Some(r) = state
        .lock()
        .requests
        .iter_mut()
        .rev()
        .find(|r| r.seq == seq)
    {
        r.status = status;
    }
    response
}

/// The source's own answer.
fn answer(
    state: &EmuState,
    source: ManagedIdentitySource,
    req: &MiRequest,
    wrong_echo: bool,
) -> Response {
    match source {
        ManagedIdentitySource::Imds => imds_token::answer(state, req),
        ManagedIdentitySource::AppService => app_service::answer(state, req),
        ManagedIdentitySource::AzureMl => azure_ml::answer(state, req),
        ManagedIdentitySource::ServiceFabric => service_fabric::answer(state, req),
        ManagedIdentitySource::Arc => arc::answer(state, req, wrong_echo),
        ManagedIdentitySource::CloudShell => cloud_shell::answer(state, req),
        ManagedIdentitySource::Any => {
            respond::plain_error(StatusCode::NOT_FOUND, "not_found", "no such source")
        }
    }
}

fn record(seq: u64, req: &MiRequest, source: Option<ManagedIdentitySource>) -> RecordedRequest {
    RecordedRequest {
        seq,
        method: req.method.to_string(),
        host: req.host.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        headers: req.header_pairs(),
        form: req.form.clone(),
        body: String::from_utf8_lossy(&req.body).into_owned(),
        status: 0,
        source,
    }
}

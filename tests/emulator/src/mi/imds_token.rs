//! IMDS's token endpoint (`GET /metadata/identity/oauth2/token`, the managed identity of a VM):
//! `Metadata: true`, `api-version=2018-02-01`, `resource`, at most one of `client_id`,
//! `object_id`, `msi_res_id`; every number of the answer is a string.

use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::json;

use crate::respond;
use crate::state::EmuState;

use super::answers::{oauth, unknown_resource};
use super::identity::{IMDS_PARAMS, SelectError, resource_allowed, select};
use super::request::MiRequest;
use super::token::{issue_app, tenant_of};

/// The api-version IMDS's token endpoint is asked with.
pub(crate) const API_VERSION: &str = "2018-02-01";

/// The answer to an identity that cannot be selected (IMDS and Azure Arc).
pub(crate) fn select_error(e: SelectError) -> Response {
    let description = match e {
        SelectError::Several => "Only one of client_id, object_id and msi_res_id may be specified",
        SelectError::NoSystem { user_assigned } if user_assigned > 1 => {
            "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"
        }
        SelectError::NotFound | SelectError::NoSystem { .. } => "Identity not found",
    };
    oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// Checks shared by IMDS and Azure Arc before the identity: the metadata header, the method,
/// the api-version (one of `versions`).
pub(crate) fn preflight(req: &MiRequest, versions: &[&str]) -> Option<Response> {
    if !req.metadata() {
        return Some(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        ));
    }
    if req.method != Method::GET {
        return Some(oauth(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "Only GET requests are supported",
        ));
    }
    match req.query_value("api-version") {
        None | Some("") => Some(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        )),
        Some(v) if !versions.contains(&v) => Some(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!(
                "Invalid api-version '{v}'. Supported versions: {}",
                versions.join(", ")
            ),
        )),
        Some(_) => None,
    }
}

/// The requested resource, or the answer when it is missing.
pub(crate) fn resource(req: &MiRequest) -> Result<&str, Box<Response>> {
    req.query_value("resource")
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| {
            Box::new(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Required audience parameter not specified",
            ))
        })
}

/// IMDS's answer.
pub(crate) fn answer(state: &EmuState, req: &MiRequest) -> Response {
    if let Some(r) = preflight(req, &[API_VERSION]) {
        return r;
    }
    let resource = match resource(req) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let settings = state.lock().managed_identity.settings.clone();
    let identity = match select(req, IMDS_PARAMS, &settings) {
        Ok((_, i)) => i,
        Err(e) => return select_error(e),
    };
    if !resource_allowed(&settings, resource) {
        let tid = tenant_of(state, identity);
        return oauth(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            &unknown_resource(resource, &tid, state.clock.now_secs()),
        );
    }
    let t = issue_app(
        state,
        identity,
        resource,
        settings.token_lifetime_secs,
        None,
    );
    respond::json(
        StatusCode::OK,
        &json!({
            "access_token": t.access_token,
            "client_id": identity.client_id,
            "expires_in": t.lifetime.to_string(),
            "expires_on": t.expires_on.to_string(),
            "ext_expires_in": t.lifetime.to_string(),
            "not_before": t.now.to_string(),
            "resource": resource,
            "token_type": "Bearer",
        }),
    )
}

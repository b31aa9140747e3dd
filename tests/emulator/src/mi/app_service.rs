//! App Service and Functions (`GET /msi/token`, api-version 2019-08-01): the secret in
//! `X-IDENTITY-HEADER`, at most one of `client_id`, `object_id` (alias `principal_id`),
//! `mi_res_id`; `expires_on` is a string of epoch seconds; errors are
//! `{"statusCode","message","correlationId"}`.

use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::json;

use crate::respond;
use crate::state::EmuState;

use super::answers::{hosting, unknown_resource};
use super::identity::{APP_SERVICE_PARAMS, SelectError, resource_allowed, select};
use super::request::{MiRequest, secret_matches};
use super::token::{issue_app, tenant_of};

/// The api-version App Service answers.
const API_VERSION: &str = "2019-08-01";

/// Checks shared with Azure Machine Learning once the secret is accepted: the method, the
/// api-version and the resource.
pub(crate) fn common_checks<'a>(
    req: &'a MiRequest,
    version: &str,
) -> Result<&'a str, Box<Response>> {
    let fail = |status, message: &str| Err(Box::new(hosting(status, message)));
    if req.method != Method::GET {
        let message = format!(
            "The requested resource does not support http method '{}'.",
            req.method
        );
        return fail(StatusCode::METHOD_NOT_ALLOWED, &message);
    }
    match req.query_value("api-version") {
        None | Some("") => {
            return fail(
                StatusCode::BAD_REQUEST,
                "The api-version parameter is required.",
            );
        }
        Some(v) if v != version => {
            let message = format!(
                "The api-version '{v}' is not supported. Supported version is '{version}'."
            );
            return fail(StatusCode::BAD_REQUEST, &message);
        }
        Some(_) => {}
    }
    match req.query_value("resource").filter(|r| !r.trim().is_empty()) {
        Some(r) => Ok(r),
        None => fail(
            StatusCode::BAD_REQUEST,
            "The resource parameter is required.",
        ),
    }
}

/// The answer to an identity that cannot be selected (App Service and Azure Machine Learning).
pub(crate) fn select_error(e: SelectError, names: &str) -> Response {
    let message = match e {
        SelectError::Several => format!("Only one of {names} may be specified."),
        SelectError::NotFound | SelectError::NoSystem { .. } => {
            "Unable to load the proper Managed Identity.".to_string()
        }
    };
    hosting(StatusCode::BAD_REQUEST, &message)
}

/// App Service's answer.
pub(crate) fn answer(state: &EmuState, req: &MiRequest) -> Response {
    let expected = &state.manifest.managed_identity.identity_header;
    if !secret_matches(req.header("x-identity-header"), expected) {
        return hosting(
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
        );
    }
    let resource = match common_checks(req, API_VERSION) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let settings = state.lock().managed_identity.settings.clone();
    let identity = match select(req, APP_SERVICE_PARAMS, &settings) {
        Ok((_, i)) => i,
        Err(e) => return select_error(e, "client_id, object_id (principal_id) and mi_res_id"),
    };
    if !resource_allowed(&settings, resource) {
        let tid = tenant_of(state, identity);
        return hosting(
            StatusCode::BAD_REQUEST,
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
            "expires_on": t.expires_on.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        }),
    )
}

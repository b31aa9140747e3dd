//! Azure Machine Learning (`GET /mlmsi/token`, api-version 2017-09-01): the secret in the
//! `secret` header, at most one of `clientid`, `object_id`, `msi_res_id`; `expires_in` is a
//! number and `expires_on` a string. A missing or wrong secret is answered in plain text, as
//! the service does.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use crate::respond;
use crate::state::EmuState;

use super::answers::{hosting, unknown_resource};
use super::app_service::{common_checks, select_error};
use super::identity::{AZURE_ML_PARAMS, resource_allowed, select};
use super::request::{MiRequest, secret_matches};
use super::token::{issue_app, tenant_of};

/// The api-version Azure Machine Learning answers.
const API_VERSION: &str = "2017-09-01";

fn bad_secret() -> Response {
    let mut resp = Response::new(Body::from("Invalid secret token header: ."));
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Azure Machine Learning's answer.
pub(crate) fn answer(state: &EmuState, req: &MiRequest) -> Response {
    if !secret_matches(
        req.header("secret"),
        &state.manifest.managed_identity.msi_secret,
    ) {
        return bad_secret();
    }
    let resource = match common_checks(req, API_VERSION) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let settings = state.lock().managed_identity.settings.clone();
    let identity = match select(req, AZURE_ML_PARAMS, &settings) {
        Ok((_, i)) => i,
        Err(e) => return select_error(e, "clientid, object_id and msi_res_id"),
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
            "expires_in": t.lifetime,
            "expires_on": t.expires_on.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "clientid": identity.client_id,
        }),
    )
}

//! Service Fabric (`GET /sf/token` over HTTPS, api-version 2019-07-01-preview): the secret in
//! `Secret`; id parameters are ignored (the application's system-assigned identity answers);
//! `token_sha256_to_refresh` and `xms_cc` are read (the latter lands in the token); `expires_on`
//! is a number; errors are `{"error":{"correlationId","code","message"}}` with the codes of
//! Service Fabric's managed-identity documentation.

use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::json;

use crate::respond;
use crate::state::EmuState;

use super::answers::fabric;
use super::identity::{Selector, find, resource_allowed};
use super::request::{MiRequest, secret_matches};
use super::token::issue_app;

/// The api-version Service Fabric answers.
const API_VERSION: &str = "2019-07-01-preview";

/// Service Fabric's answer.
pub(crate) fn answer(state: &EmuState, req: &MiRequest) -> Response {
    if req.method != Method::GET {
        return fabric(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Only GET requests are supported.",
        );
    }
    let Some(secret) = req.header("secret") else {
        return fabric(
            StatusCode::UNAUTHORIZED,
            "SecretHeaderNotFound",
            "Secret is not found in the request headers.",
        );
    };
    let not_found = || {
        fabric(
            StatusCode::NOT_FOUND,
            "ManagedIdentityNotFound",
            "Managed identity not found for the specified application host.",
        )
    };
    if !secret_matches(
        Some(secret),
        &state.manifest.managed_identity.identity_header,
    ) {
        return not_found();
    }
    let version = req.query_value("api-version").unwrap_or_default();
    if version != API_VERSION {
        return fabric(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            &format!(
                "The api-version '{version}' is not supported. Supported version is '{API_VERSION}'."
            ),
        );
    }
    let Some(resource) = req.query_value("resource").filter(|r| !r.trim().is_empty()) else {
        return fabric(
            StatusCode::BAD_REQUEST,
            "ArgumentNullOrEmpty",
            "The parameter 'resource' should not be null or empty string.",
        );
    };
    let settings = state.lock().managed_identity.settings.clone();
    let Ok(identity) = find(&settings, &Selector::System) else {
        return not_found();
    };
    if !resource_allowed(&settings, resource) {
        // What Service Fabric answers when Entra ID refuses the resource.
        return fabric(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "An error occurred.",
        );
    }
    let caps: Option<Vec<String>> = req.query_value("xms_cc").map(|c| {
        c.split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    });
    let t = issue_app(
        state,
        identity,
        resource,
        settings.token_lifetime_secs,
        caps.filter(|c| !c.is_empty()),
    );
    respond::json(
        StatusCode::OK,
        &json!({
            "access_token": t.access_token,
            "expires_on": t.expires_on,
            "resource": resource,
            "token_type": "Bearer",
        }),
    )
}

//! App Service, Azure Functions, Container Apps and Automation: `GET $IDENTITY_ENDPOINT
//! ?api-version=2019-08-01&resource=…` with `X-IDENTITY-HEADER: $IDENTITY_HEADER`
//! (msal/managed_identity.py `_obtain_token_on_app_service`).

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use url::Url;

use super::identity::ManagedIdentity;
use super::sources::{IdNames, has_token, id_param, text};
use super::wire::{self, Outgoing};
use crate::error::Result;

const API_VERSION: &str = "2019-08-01";
const ID_NAMES: IdNames = IdNames {
    client_id: "client_id",
    resource_id: "mi_res_id",
    object_id: "object_id",
};

/// The token request.
pub(crate) fn request(
    url: &Url,
    secret: &SecretString,
    resource: &str,
    identity: &ManagedIdentity,
) -> Outgoing {
    let mut params = vec![("api-version", API_VERSION), ("resource", resource)];
    params.extend(id_param(identity, &ID_NAMES));
    Outgoing::get(url, &params)
        .header("X-IDENTITY-HEADER", secret.expose_secret())
        .header("Metadata", "true")
}

/// A token (with `expires_on`), or the error mapped as MSAL Python maps it:
/// `invalid_scope` with `"{statusCode}, {message}"`.
pub(crate) fn parse(resp: &http::Response<Vec<u8>>) -> Result<Map<String, Value>> {
    let status = resp.status().as_u16();
    let m = wire::json_object(resp)?;
    if has_token(&m) && m.contains_key("expires_on") {
        return Ok(m);
    }
    let description = format!(
        "{}, {}",
        text(&m, "statusCode").unwrap_or_else(|| status.to_string()),
        text(&m, "message").unwrap_or_else(|| wire::body_text(resp)),
    );
    Err(wire::service_error(
        status,
        "invalid_scope",
        Some(description),
        wire::retry_after_secs(resp),
    ))
}

//! Azure Machine Learning compute: `GET $MSI_ENDPOINT?api-version=2017-09-01&resource=…` with
//! `secret: $MSI_SECRET`; a client id goes as `clientid` (msal/managed_identity.py
//! `_obtain_token_on_machine_learning`).

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use url::Url;

use super::identity::ManagedIdentity;
use super::sources::{IdNames, has_token, id_param};
use super::wire::{self, Outgoing};
use crate::error::Result;

const API_VERSION: &str = "2017-09-01";
const ID_NAMES: IdNames = IdNames {
    client_id: "clientid",
    resource_id: "msi_res_id",
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
    Outgoing::get(url, &params).header("secret", secret.expose_secret())
}

/// A token (with `expires_on`), or `invalid_scope` with the body as its description (MSAL
/// Python).
pub(crate) fn parse(resp: &http::Response<Vec<u8>>) -> Result<Map<String, Value>> {
    let status = resp.status().as_u16();
    let m = wire::json_object(resp)?;
    if has_token(&m) && m.contains_key("expires_on") {
        return Ok(m);
    }
    Err(wire::service_error(
        status,
        "invalid_scope",
        Some(wire::body_text(resp)),
        wire::retry_after_secs(resp),
    ))
}

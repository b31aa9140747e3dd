//! The Azure Instance Metadata Service (VMs, VM scale sets, AKS nodes): `GET
//! {host}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=…` with
//! `Metadata: true` (msal/managed_identity.py `_obtain_token_on_azure_vm`).

use serde_json::{Map, Value};
use url::Url;

use super::identity::ManagedIdentity;
use super::sources::{IdNames, has_token, id_param};
use super::wire::{self, Outgoing};
use crate::error::{Error, Result, ServiceError};

const API_VERSION: &str = "2018-02-01";
const ID_NAMES: IdNames = IdNames {
    client_id: "client_id",
    resource_id: "msi_res_id",
    object_id: "object_id",
};

/// The token request.
pub(crate) fn request(
    url: &Url,
    resource: &str,
    identity: &ManagedIdentity,
    correlation_id: &str,
) -> Outgoing {
    let mut params = vec![("api-version", API_VERSION), ("resource", resource)];
    params.extend(id_param(identity, &ID_NAMES));
    Outgoing::get(url, &params)
        .header("Metadata", "true")
        .header("x-client-SKU", crate::http::token_request::SKU)
        .header("x-client-Ver", env!("CARGO_PKG_VERSION"))
        .header("x-ms-client-request-id", correlation_id)
}

/// A token (with `expires_in` or `expires_on`), or the endpoint's error as it sent it.
pub(crate) fn parse(resp: &http::Response<Vec<u8>>) -> Result<Map<String, Value>> {
    let status = resp.status().as_u16();
    let m = wire::json_object(resp)?;
    if has_token(&m) && (m.contains_key("expires_in") || m.contains_key("expires_on")) {
        return Ok(m);
    }
    match ServiceError::from_json(status, &Value::Object(m)) {
        Some(mut e) => {
            e.retry_after = wire::retry_after_secs(resp);
            Err(Error::from_service(e).at_http_status(status))
        }
        None => Err(Error::invalid_response(format!(
            "IMDS answered HTTP {status} with neither a token nor an error"
        ))
        .at_http_status(status)),
    }
}

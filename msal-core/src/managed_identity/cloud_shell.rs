//! Azure Cloud Shell: `POST $MSI_ENDPOINT` (default `http://localhost:50342/oauth2/token`)
//! with `Metadata: true` and the form `resource=…`, answered with the signed-in user's token
//! (msal/cloudshell.py; MSAL .NET and MSAL Node offer it as a managed identity source too).
//! Only the shell's own identity exists there: a user-assigned identity is refused.

use serde_json::{Map, Value};
use url::Url;

use super::sources::{has_token, text};
use super::wire::{self, Outgoing};
use crate::error::{Error, Result};

/// The token request.
pub(crate) fn request(url: &Url, resource: &str) -> Outgoing {
    Outgoing::post_form(url, &[("resource", resource)]).header("Metadata", "true")
}

/// A token, or the error as `{error: error.code, error_description: error.message}`.
pub(crate) fn parse(resp: &http::Response<Vec<u8>>) -> Result<Map<String, Value>> {
    let status = resp.status().as_u16();
    let m = wire::json_object(resp)?;
    if status < 300
        && has_token(&m)
        && (m.contains_key("expires_in") || m.contains_key("expires_on"))
    {
        return Ok(m);
    }
    if status < 300 {
        return Err(Error::invalid_response(format!(
            "Cloud Shell answered HTTP {status} without a token"
        ))
        .at_http_status(status));
    }
    let err = m.get("error").and_then(Value::as_object);
    let code = err
        .and_then(|e| text(e, "code"))
        .unwrap_or_else(|| "unknown_error".into());
    let message = err.and_then(|e| text(e, "message"));
    Err(wire::service_error(
        status,
        &code,
        message,
        wire::retry_after_secs(resp),
    ))
}

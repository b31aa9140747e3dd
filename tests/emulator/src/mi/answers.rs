//! The error shapes of each managed-identity source, as the services send them.

use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use crate::ids;
use crate::model::ManagedIdentitySource;
use crate::respond::{self, OAuthError};

/// IMDS and Azure Arc: `{"error","error_description"}`.
pub(crate) fn oauth(status: StatusCode, error: &str, description: &str) -> Response {
    respond::plain_error(status, error, description)
}

/// App Service and Azure Machine Learning: `{"statusCode","message","correlationId"}`.
pub(crate) fn hosting(status: StatusCode, message: &str) -> Response {
    respond::json(
        status,
        &json!({
            "statusCode": status.as_u16(),
            "message": message,
            "correlationId": ids::random_uuid(),
        }),
    )
}

/// Service Fabric: `{"error":{"correlationId","code","message"}}`.
pub(crate) fn fabric(status: StatusCode, code: &str, message: &str) -> Response {
    respond::json(
        status,
        &json!({"error": {
            "correlationId": ids::random_uuid(),
            "code": code,
            "message": message,
        }}),
    )
}

/// Cloud Shell: `{"error":{"code","message"}}`.
pub(crate) fn shell(status: StatusCode, code: &str, message: &str) -> Response {
    respond::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// `TooManyRequests` for 429: the reason phrase without spaces.
fn pascal_reason(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("Error")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// The error a source sends for `status` when a fault rule gives no body.
pub(crate) fn status_error(source: ManagedIdentitySource, status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    match source {
        ManagedIdentitySource::Imds | ManagedIdentitySource::Arc | ManagedIdentitySource::Any => {
            let error = if status.is_server_error() {
                "server_error"
            } else if status == StatusCode::TOO_MANY_REQUESTS {
                "too_many_requests"
            } else {
                "invalid_request"
            };
            oauth(status, error, reason)
        }
        ManagedIdentitySource::AppService | ManagedIdentitySource::AzureMl => {
            hosting(status, reason)
        }
        ManagedIdentitySource::ServiceFabric => fabric(status, &pascal_reason(status), reason),
        ManagedIdentitySource::CloudShell => shell(status, &pascal_reason(status), reason),
    }
}

/// Entra ID's AADSTS500011 text for a resource it does not know.
pub(crate) fn unknown_resource(resource: &str, tenant_id: &str, now: u64) -> String {
    OAuthError::bad(
        "invalid_resource",
        500_011,
        format!(
            "The resource principal named {resource} was not found in the tenant named \
             {tenant_id}. This can happen if the application has not been installed by the \
             administrator of the tenant or consented to by any user in the tenant. You might \
             have sent your authentication request to the wrong tenant."
        ),
    )
    .full_description(now, None)
    .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        assert_eq!(
            pascal_reason(StatusCode::TOO_MANY_REQUESTS),
            "TooManyRequests"
        );
        assert_eq!(
            pascal_reason(StatusCode::INTERNAL_SERVER_ERROR),
            "InternalServerError"
        );
        let text = unknown_resource("https://x", "t", 0);
        assert!(text.starts_with("AADSTS500011: The resource principal named https://x"));
    }
}

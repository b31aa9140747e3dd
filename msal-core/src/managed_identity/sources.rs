//! What the per-source modules share: the identity selector parameter and the checks of a
//! success body.

use serde_json::{Map, Value};

use super::identity::{ManagedIdentity, UserAssignedId};

/// The names a source gives the three kinds of user-assigned id: client id, resource id,
/// object id.
pub(crate) struct IdNames {
    pub(crate) client_id: &'static str,
    pub(crate) resource_id: &'static str,
    pub(crate) object_id: &'static str,
}

/// The query parameter selecting `identity` (none for the system-assigned identity).
pub(crate) fn id_param<'a>(
    identity: &'a ManagedIdentity,
    names: &IdNames,
) -> Option<(&'static str, &'a str)> {
    Some(match identity.user_assigned_id()? {
        UserAssignedId::ClientId(v) => (names.client_id, v.as_str()),
        UserAssignedId::ResourceId(v) => (names.resource_id, v.as_str()),
        UserAssignedId::ObjectId(v) => (names.object_id, v.as_str()),
    })
}

/// True when `m` carries a non-empty `access_token` string.
pub(crate) fn has_token(m: &Map<String, Value>) -> bool {
    m.get("access_token")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
}

/// A string field, or a number shown as text (`statusCode`).
pub(crate) fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

//! Which managed identity a [`ManagedIdentityClient`](super::ManagedIdentityClient) acts as:
//! the resource's system-assigned identity, or a user-assigned one named by exactly one of its
//! client id, resource id or object id (msal/managed_identity.py `ManagedIdentity`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The identity to get tokens for.
///
/// ```
/// use msal_core::managed_identity::{ManagedIdentity, UserAssignedId};
///
/// let system = ManagedIdentity::SystemAssigned;
/// let user = ManagedIdentity::user_assigned(UserAssignedId::ClientId(
///     "04b07795-8ddb-461a-bbee-02f9e1bf7b46".into(),
/// ));
/// assert!(user.is_user_assigned() && !system.is_user_assigned());
///
/// // MSAL Python's JSON form (e.g. from a configuration file) is accepted too:
/// let from_config: ManagedIdentity = serde_json::from_str(
///     r#"{"ManagedIdentityIdType": "ObjectId", "Id": "2f8c3b7a-0000-4000-8000-000000000001"}"#,
/// )?;
/// assert!(from_config.is_user_assigned());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Repr", into = "Repr")]
#[non_exhaustive]
pub enum ManagedIdentity {
    /// The identity Azure assigned to the resource the code runs on.
    SystemAssigned,
    /// An identity created on its own and assigned to the resource.
    UserAssigned(UserAssignedId),
}

/// How a user-assigned identity is named: exactly one of these.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserAssignedId {
    /// Its client (application) id.
    ClientId(String),
    /// Its Azure resource id
    /// (`/subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/name`).
    ResourceId(String),
    /// Its object (principal) id.
    ObjectId(String),
}

impl ManagedIdentity {
    /// A user-assigned identity.
    pub fn user_assigned(id: UserAssignedId) -> ManagedIdentity {
        ManagedIdentity::UserAssigned(id)
    }

    /// True for a user-assigned identity.
    pub fn is_user_assigned(&self) -> bool {
        matches!(self, ManagedIdentity::UserAssigned(_))
    }

    /// The user-assigned id, if any.
    pub fn user_assigned_id(&self) -> Option<&UserAssignedId> {
        match self {
            ManagedIdentity::SystemAssigned => None,
            ManagedIdentity::UserAssigned(id) => Some(id),
        }
    }

    /// Checks the identity (a user-assigned id must not be empty or hold control characters).
    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(id) = self.user_assigned_id() {
            let v = id.value();
            if v.trim().is_empty() || v.chars().any(char::is_control) || v.len() > 1024 {
                return Err(Error::config(format!(
                    "the user-assigned managed identity's {} is empty or not a valid id",
                    id.kind_name()
                )));
            }
        }
        Ok(())
    }

    /// The `client_id` its tokens are cached under, as MSAL Python: the id as given whatever
    /// its kind, and nothing (JSON `null`) for the system-assigned identity.
    pub(crate) fn cache_client_id(&self) -> &str {
        self.user_assigned_id().map_or("", UserAssignedId::value)
    }
}

impl UserAssignedId {
    /// The id itself.
    pub fn value(&self) -> &str {
        match self {
            UserAssignedId::ClientId(v)
            | UserAssignedId::ResourceId(v)
            | UserAssignedId::ObjectId(v) => v,
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            UserAssignedId::ClientId(_) => "client id",
            UserAssignedId::ResourceId(_) => "resource id",
            UserAssignedId::ObjectId(_) => "object id",
        }
    }
}

impl fmt::Debug for UserAssignedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ids are not secrets, but they identify a resource: shown as MSAL shows them.
        let name = match self {
            UserAssignedId::ClientId(_) => "ClientId",
            UserAssignedId::ResourceId(_) => "ResourceId",
            UserAssignedId::ObjectId(_) => "ObjectId",
        };
        f.debug_tuple(name).field(&self.value()).finish()
    }
}

impl fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManagedIdentity::SystemAssigned => f.write_str("SystemAssigned"),
            ManagedIdentity::UserAssigned(id) => f.debug_tuple("UserAssigned").field(id).finish(),
        }
    }
}

/// MSAL Python's dictionary shape: `{"ManagedIdentityIdType": ..., "Id": ...}`.
#[derive(Serialize, Deserialize)]
struct Repr {
    #[serde(rename = "ManagedIdentityIdType")]
    kind: String,
    #[serde(rename = "Id", default)]
    id: Option<String>,
}

impl TryFrom<Repr> for ManagedIdentity {
    type Error = String;

    fn try_from(r: Repr) -> std::result::Result<ManagedIdentity, String> {
        let id = || {
            r.id.clone()
                .filter(|i| !i.is_empty())
                .ok_or_else(|| format!("a {} managed identity needs an Id", r.kind))
        };
        Ok(match r.kind.as_str() {
            "SystemAssigned" => ManagedIdentity::SystemAssigned,
            "ClientId" => ManagedIdentity::UserAssigned(UserAssignedId::ClientId(id()?)),
            "ResourceId" => ManagedIdentity::UserAssigned(UserAssignedId::ResourceId(id()?)),
            "ObjectId" => ManagedIdentity::UserAssigned(UserAssignedId::ObjectId(id()?)),
            other => {
                return Err(format!(
                    "unknown ManagedIdentityIdType {other:?} (expected SystemAssigned, ClientId, ResourceId or ObjectId)"
                ));
            }
        })
    }
}

impl From<ManagedIdentity> for Repr {
    fn from(m: ManagedIdentity) -> Repr {
        let (kind, id) = match m {
            ManagedIdentity::SystemAssigned => ("SystemAssigned", None),
            ManagedIdentity::UserAssigned(UserAssignedId::ClientId(v)) => ("ClientId", Some(v)),
            ManagedIdentity::UserAssigned(UserAssignedId::ResourceId(v)) => ("ResourceId", Some(v)),
            ManagedIdentity::UserAssigned(UserAssignedId::ObjectId(v)) => ("ObjectId", Some(v)),
        };
        Repr {
            kind: kind.to_owned(),
            id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msal_pythons_json_shape_round_trips() {
        for (json, want) in [
            (
                r#"{"ManagedIdentityIdType":"SystemAssigned","Id":null}"#,
                ManagedIdentity::SystemAssigned,
            ),
            (
                r#"{"ManagedIdentityIdType":"ClientId","Id":"c"}"#,
                ManagedIdentity::UserAssigned(UserAssignedId::ClientId("c".into())),
            ),
            (
                r#"{"ManagedIdentityIdType":"ResourceId","Id":"/r"}"#,
                ManagedIdentity::UserAssigned(UserAssignedId::ResourceId("/r".into())),
            ),
            (
                r#"{"ManagedIdentityIdType":"ObjectId","Id":"o"}"#,
                ManagedIdentity::UserAssigned(UserAssignedId::ObjectId("o".into())),
            ),
        ] {
            let parsed: ManagedIdentity = serde_json::from_str(json).unwrap();
            assert_eq!(parsed, want);
            assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
        }
        for bad in [
            r#"{"ManagedIdentityIdType":"ClientId","Id":null}"#,
            r#"{"ManagedIdentityIdType":"ClientId","Id":""}"#,
            r#"{"ManagedIdentityIdType":"Nope","Id":"x"}"#,
            r#"{"Id":"x"}"#,
        ] {
            assert!(
                serde_json::from_str::<ManagedIdentity>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_empty_user_assigned_id_is_refused() {
        let m = ManagedIdentity::user_assigned(UserAssignedId::ObjectId(" ".into()));
        assert!(m.validate().is_err());
        assert_eq!(ManagedIdentity::SystemAssigned.cache_client_id(), "");
        let m = ManagedIdentity::user_assigned(UserAssignedId::ResourceId("/sub/x".into()));
        assert_eq!(m.cache_client_id(), "/sub/x");
    }
}

//! The managed-identity state (identities, token settings, fault rules, outstanding Azure Arc
//! challenges) and the checks on settings posted to the admin API.

use crate::model::{ManagedIdentityRegistration, ManagedIdentitySettings};
use crate::state::{Registry, TenantKind};

use super::arc::ArcKey;
use super::faults::ActiveMiFault;

/// Everything the managed-identity sources share (inside the registry).
#[derive(Debug, Default)]
pub(crate) struct MiState {
    pub(crate) settings: ManagedIdentitySettings,
    pub(crate) faults: Vec<ActiveMiFault>,
    /// Challenges issued by Azure Arc and not yet answered, oldest first.
    pub(crate) arc_keys: Vec<ArcKey>,
}

/// The longest id or resource string accepted.
const MAX_LEN: usize = 1024;

fn check_text(what: &str, v: &str) -> Result<(), String> {
    if v.trim().is_empty() || v.len() > MAX_LEN || v.chars().any(char::is_control) {
        return Err(format!("{what} must be a non-empty printable string"));
    }
    Ok(())
}

/// Checks settings from the admin API: non-empty, distinct ids, at most one system-assigned
/// identity, known Entra ID tenants, printable resources.
pub(crate) fn validate(reg: &Registry, s: &ManagedIdentitySettings) -> Result<(), String> {
    let mut system = 0;
    for (i, id) in s.identities.iter().enumerate() {
        check_text("client_id", &id.client_id)?;
        check_text("object_id", &id.object_id)?;
        check_text("resource_id", &id.resource_id)?;
        if id.system_assigned {
            system += 1;
        }
        if let Some(t) = &id.tenant {
            match reg.tenant(t).map(|t| t.kind) {
                Some(TenantKind::Aad(_)) => {}
                Some(_) => return Err(format!("tenant '{t}' is not an Entra ID tenant")),
                None => return Err(format!("unknown tenant '{t}'")),
            }
        }
        let clash = |other: &ManagedIdentityRegistration| {
            other.client_id.eq_ignore_ascii_case(&id.client_id)
                || other.object_id.eq_ignore_ascii_case(&id.object_id)
                || other.resource_id.eq_ignore_ascii_case(&id.resource_id)
        };
        if s.identities.iter().take(i).any(clash) {
            return Err(format!(
                "identity {} repeats an id of an earlier identity",
                id.client_id
            ));
        }
    }
    if system > 1 {
        return Err("at most one identity may be system-assigned".into());
    }
    for r in s.resources.iter().flatten() {
        check_text("a resource", r)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::seeded_managed_identities;

    #[test]
    fn validation() {
        let reg = Registry::seeded();
        assert_eq!(validate(&reg, &ManagedIdentitySettings::default()), Ok(()));
        let mut two_system = ManagedIdentitySettings::default();
        for i in &mut two_system.identities {
            i.system_assigned = true;
        }
        assert!(validate(&reg, &two_system).is_err());
        let mut repeated = ManagedIdentitySettings::default();
        let first = seeded_managed_identities().remove(0);
        repeated.identities.push(ManagedIdentityRegistration {
            system_assigned: false,
            ..first
        });
        assert!(validate(&reg, &repeated).is_err());
        let mut b2c = ManagedIdentitySettings::default();
        b2c.identities[1].tenant = Some("contosob2c".into());
        assert!(validate(&reg, &b2c).is_err());
        let mut fabrikam = ManagedIdentitySettings::default();
        fabrikam.identities[1].tenant = Some("fabrikam".into());
        assert_eq!(validate(&reg, &fabrikam), Ok(()));
        let mut empty = ManagedIdentitySettings::default();
        empty.identities[2].object_id = " ".into();
        assert!(validate(&reg, &empty).is_err());
        let resources = ManagedIdentitySettings {
            resources: Some(vec!["a\nb".into()]),
            ..Default::default()
        };
        assert!(validate(&reg, &resources).is_err());
    }
}

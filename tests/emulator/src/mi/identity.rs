//! Which identity a request names (each source has its own parameter names), and which
//! resources tokens may be issued for.

use crate::model::{ManagedIdentityRegistration, ManagedIdentitySettings};

use super::request::MiRequest;

/// The kind of id an identity parameter carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    Client,
    Object,
    Resource,
}

impl IdKind {
    /// The identity's value of this kind.
    pub(crate) fn of(self, identity: &ManagedIdentityRegistration) -> &str {
        match self {
            Self::Client => &identity.client_id,
            Self::Object => &identity.object_id,
            Self::Resource => &identity.resource_id,
        }
    }
}

/// The identity a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    /// No id parameter: the system-assigned identity.
    System,
    /// `param=value`.
    User {
        param: &'static str,
        kind: IdKind,
        value: String,
    },
}

/// Why no identity answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelectError {
    /// More than one id parameter.
    Several,
    /// No identity has that id.
    NotFound,
    /// No id given and no system-assigned identity; `user_assigned` are registered.
    NoSystem { user_assigned: usize },
}

/// IMDS and Azure Arc.
pub(crate) const IMDS_PARAMS: &[(&str, IdKind)] = &[
    ("client_id", IdKind::Client),
    ("object_id", IdKind::Object),
    ("msi_res_id", IdKind::Resource),
];
/// App Service (`principal_id` is an alias of `object_id`).
pub(crate) const APP_SERVICE_PARAMS: &[(&str, IdKind)] = &[
    ("client_id", IdKind::Client),
    ("object_id", IdKind::Object),
    ("principal_id", IdKind::Object),
    ("mi_res_id", IdKind::Resource),
];
/// Azure Machine Learning.
pub(crate) const AZURE_ML_PARAMS: &[(&str, IdKind)] = &[
    ("clientid", IdKind::Client),
    ("object_id", IdKind::Object),
    ("msi_res_id", IdKind::Resource),
];

/// Reads the identity parameters `params` of `req` (at most one may be present).
pub(crate) fn selector(
    req: &MiRequest,
    params: &[(&'static str, IdKind)],
) -> Result<Selector, SelectError> {
    let mut found = None;
    for (name, value) in &req.query {
        let Some((param, kind)) = params.iter().find(|(p, _)| p == name) else {
            continue;
        };
        if found.is_some() {
            return Err(SelectError::Several);
        }
        found = Some(Selector::User {
            param,
            kind: *kind,
            value: value.clone(),
        });
    }
    Ok(found.unwrap_or(Selector::System))
}

/// The identity `selector` names.
pub(crate) fn find<'a>(
    settings: &'a ManagedIdentitySettings,
    selector: &Selector,
) -> Result<&'a ManagedIdentityRegistration, SelectError> {
    match selector {
        Selector::System => settings
            .identities
            .iter()
            .find(|i| i.system_assigned)
            .ok_or(SelectError::NoSystem {
                user_assigned: settings.identities.len(),
            }),
        Selector::User { kind, value, .. } => settings
            .identities
            .iter()
            .find(|i| !value.trim().is_empty() && kind.of(i).eq_ignore_ascii_case(value.trim()))
            .ok_or(SelectError::NotFound),
    }
}

/// Reads and finds in one step.
pub(crate) fn select<'a>(
    req: &MiRequest,
    params: &[(&'static str, IdKind)],
    settings: &'a ManagedIdentitySettings,
) -> Result<(Selector, &'a ManagedIdentityRegistration), SelectError> {
    let sel = selector(req, params)?;
    let identity = find(settings, &sel)?;
    Ok((sel, identity))
}

/// Whether tokens may be issued for `resource`: any absolute `https` URI with a host, or, when
/// the settings list resources, one of them (case-insensitive, a trailing `/` ignored).
pub(crate) fn resource_allowed(settings: &ManagedIdentitySettings, resource: &str) -> bool {
    match &settings.resources {
        Some(list) => {
            let want = resource.trim_end_matches('/');
            list.iter()
                .any(|r| r.trim_end_matches('/').eq_ignore_ascii_case(want))
        }
        None => url::Url::parse(resource)
            .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds;

    fn request(query: &[(&str, &str)]) -> MiRequest {
        MiRequest {
            method: http::Method::GET,
            host: "127.0.0.1".into(),
            path: "/".into(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers: http::HeaderMap::new(),
            form: Vec::new(),
            body: Default::default(),
        }
    }

    #[test]
    fn selection() {
        let s = ManagedIdentitySettings::default();
        let (sel, id) = select(&request(&[("resource", "x")]), IMDS_PARAMS, &s).unwrap();
        assert_eq!(sel, Selector::System);
        assert_eq!(id.client_id, seeds::MI_SYSTEM_CLIENT_ID);
        let q = [("msi_res_id", seeds::MI_USER_TWO_RESOURCE_ID)];
        let (_, id) = select(&request(&q), IMDS_PARAMS, &s).unwrap();
        assert_eq!(id.client_id, seeds::MI_USER_TWO_CLIENT_ID);
        let q = [("principal_id", seeds::MI_USER_ONE_OBJECT_ID)];
        let (_, id) = select(&request(&q), APP_SERVICE_PARAMS, &s).unwrap();
        assert_eq!(id.client_id, seeds::MI_USER_ONE_CLIENT_ID);
        // Another source's parameter names are not identity parameters here.
        let q = [("client_id", seeds::MI_USER_ONE_CLIENT_ID)];
        let (sel, _) = select(&request(&q), AZURE_ML_PARAMS, &s).unwrap();
        assert_eq!(sel, Selector::System);
        let q = [("client_id", "a"), ("object_id", "b")];
        assert_eq!(
            select(&request(&q), IMDS_PARAMS, &s).unwrap_err(),
            SelectError::Several
        );
        let q = [("client_id", "nobody")];
        assert_eq!(
            select(&request(&q), IMDS_PARAMS, &s).unwrap_err(),
            SelectError::NotFound
        );
        let no_system = ManagedIdentitySettings {
            identities: s.identities[1..].to_vec(),
            ..Default::default()
        };
        assert_eq!(
            select(&request(&[]), IMDS_PARAMS, &no_system).unwrap_err(),
            SelectError::NoSystem { user_assigned: 2 }
        );
    }

    #[test]
    fn resources() {
        let any = ManagedIdentitySettings::default();
        assert!(resource_allowed(&any, "https://management.azure.com/"));
        assert!(resource_allowed(&any, "https://vault.azure.net"));
        assert!(!resource_allowed(&any, "http://management.azure.com/"));
        assert!(!resource_allowed(&any, "api://something"));
        assert!(!resource_allowed(&any, "not a uri"));
        let listed = ManagedIdentitySettings {
            resources: Some(vec!["https://vault.azure.net".into(), "api://x".into()]),
            ..Default::default()
        };
        assert!(resource_allowed(&listed, "https://VAULT.azure.net/"));
        assert!(resource_allowed(&listed, "api://x"));
        assert!(!resource_allowed(&listed, "https://management.azure.com/"));
    }
}

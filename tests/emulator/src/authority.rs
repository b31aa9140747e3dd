//! The authority a request addresses: host kind, tenant (as given and resolved), B2C policy,
//! and the URLs and issuers derived from them.

use super::hosts::{Cloud, HostKind};
use super::seeds;
use super::state::{Realm, Registry, Tenant, TenantKind};

/// A pseudo-tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pseudo {
    Common,
    Organizations,
    Consumers,
}

impl Pseudo {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "common" => Some(Self::Common),
            "organizations" => Some(Self::Organizations),
            "consumers" => Some(Self::Consumers),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Common => "common",
            Self::Organizations => "organizations",
            Self::Consumers => "consumers",
        }
    }

    /// The tenant id in issuers: Entra uses a `{tenantid}` template except for consumers.
    fn issuer_tid(self) -> &'static str {
        match self {
            Self::Consumers => seeds::CONSUMERS_TENANT_ID,
            _ => "{tenantid}",
        }
    }
}

/// The tenant an authority resolved to.
#[derive(Debug, Clone)]
pub(crate) enum TenantSel {
    Real(Tenant),
    Pseudo(Pseudo),
    /// ADFS and generic OIDC: no Entra tenant.
    None,
}

/// Why an authority did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthorityError {
    UnknownTenant(String),
    UnknownPolicy(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Authority {
    pub(crate) kind: HostKind,
    /// The request host.
    pub(crate) host: String,
    /// The tenant path segment as given (`contoso.onmicrosoft.com`, `common`, `adfs`, …).
    pub(crate) segment: String,
    /// B2C policy, lowercased.
    pub(crate) policy: Option<String>,
    pub(crate) tenant: TenantSel,
}

impl Authority {
    /// Resolves `segment` (and `policy` for B2C) on a host of `kind`.
    pub(crate) fn resolve(
        reg: &Registry,
        kind: HostKind,
        host: &str,
        segment: &str,
        policy: Option<&str>,
    ) -> Result<Self, AuthorityError> {
        let unknown = || AuthorityError::UnknownTenant(segment.to_string());
        let tenant = match kind {
            HostKind::Entra(cloud) => match Pseudo::parse(segment) {
                Some(p) => TenantSel::Pseudo(p),
                None => TenantSel::Real(
                    reg.tenant(segment)
                        .filter(|t| t.kind == TenantKind::Aad(cloud))
                        .ok_or_else(unknown)?
                        .clone(),
                ),
            },
            HostKind::B2c | HostKind::Ciam => {
                let want = if kind == HostKind::B2c {
                    TenantKind::B2c
                } else {
                    TenantKind::Ciam
                };
                TenantSel::Real(
                    reg.tenant(segment)
                        .filter(|t| t.kind == want)
                        .ok_or_else(unknown)?
                        .clone(),
                )
            }
            HostKind::Adfs if segment.eq_ignore_ascii_case("adfs") => TenantSel::None,
            HostKind::Oidc if segment.eq_ignore_ascii_case(seeds::OIDC_TENANT) => TenantSel::None,
            HostKind::Adfs | HostKind::Oidc => return Err(unknown()),
        };
        let policy = match (kind, policy) {
            (HostKind::B2c, Some(p)) => {
                let known = [
                    seeds::B2C_POLICY_SIGNUP_SIGNIN,
                    seeds::B2C_POLICY_PROFILE_EDIT,
                ];
                if !known.iter().any(|k| k.eq_ignore_ascii_case(p)) {
                    return Err(AuthorityError::UnknownPolicy(p.to_string()));
                }
                Some(p.to_ascii_lowercase())
            }
            (HostKind::B2c, None) => return Err(AuthorityError::UnknownPolicy(String::new())),
            _ => None,
        };
        Ok(Self {
            kind,
            host: host.to_string(),
            segment: segment.to_string(),
            policy,
            tenant,
        })
    }

    /// The users this authority signs in.
    pub(crate) fn realm(&self) -> Realm {
        match (&self.tenant, self.kind) {
            (TenantSel::Real(t), _) => Realm::Tenant(t.id.clone()),
            (TenantSel::Pseudo(Pseudo::Consumers), _) => Realm::Consumers,
            (TenantSel::Pseudo(_), HostKind::Entra(c)) => Realm::AnyOf(c),
            (TenantSel::Pseudo(_), _) => Realm::AnyOf(Cloud::Public),
            (TenantSel::None, HostKind::Adfs) => Realm::Adfs,
            // The generic OIDC provider signs in contoso's users.
            (TenantSel::None, _) => Realm::Tenant(seeds::CONTOSO_TENANT_ID.into()),
        }
    }

    /// The B2C policy as registered (`B2C_1_signupsignin`), if any.
    pub(crate) fn policy_name(&self) -> Option<&'static str> {
        let p = self.policy.as_deref()?;
        [
            seeds::B2C_POLICY_SIGNUP_SIGNIN,
            seeds::B2C_POLICY_PROFILE_EDIT,
        ]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(p))
    }

    pub(crate) fn real_tenant(&self) -> Option<&Tenant> {
        match &self.tenant {
            TenantSel::Real(t) => Some(t),
            _ => None,
        }
    }

    fn cloud(&self) -> Option<Cloud> {
        match self.kind {
            HostKind::Entra(c) => Some(c),
            _ => None,
        }
    }

    /// The tenant segment endpoints carry: the GUID for a real Entra tenant, the pseudo-tenant
    /// name, or the domain for B2C.
    fn endpoint_segment(&self) -> String {
        match (&self.tenant, self.kind) {
            (TenantSel::Real(t), HostKind::B2c) => t.domains[0].clone(),
            (TenantSel::Real(t), _) => t.id.clone(),
            (TenantSel::Pseudo(p), _) => p.name().to_string(),
            (TenantSel::None, _) => self.segment.clone(),
        }
    }

    /// `https://host/{tenant}[/{policy}]`, the base of the endpoints.
    fn endpoint_base(&self) -> String {
        match &self.policy {
            Some(p) => format!("https://{}/{}/{p}", self.host, self.endpoint_segment()),
            None => format!("https://{}/{}", self.host, self.endpoint_segment()),
        }
    }

    /// The URL of an OAuth endpoint (`token`, `authorize`, `devicecode`, `logout`).
    pub(crate) fn endpoint(&self, name: &str) -> String {
        match self.kind {
            HostKind::Adfs | HostKind::Oidc => format!("{}/oauth2/{name}", self.endpoint_base()),
            _ => format!("{}/oauth2/v2.0/{name}", self.endpoint_base()),
        }
    }

    pub(crate) fn jwks_uri(&self) -> String {
        match self.kind {
            HostKind::Adfs | HostKind::Oidc => format!("{}/discovery/keys", self.endpoint_base()),
            _ => format!("{}/discovery/v2.0/keys", self.endpoint_base()),
        }
    }

    /// The tenant id tokens carry, if the authority determines one.
    pub(crate) fn tid(&self) -> Option<&str> {
        self.real_tenant().map(|t| t.id.as_str())
    }

    /// The OIDC issuer (ID tokens and discovery) for tenant id `tid`.
    pub(crate) fn issuer_for(&self, tid: &str) -> String {
        match self.kind {
            HostKind::Entra(cloud) => format!("https://{}/{tid}/v2.0", cloud.central()),
            HostKind::B2c => format!("https://{}/{tid}/v2.0/", self.host),
            HostKind::Ciam => format!("https://{tid}.ciamlogin.com/{tid}/v2.0"),
            HostKind::Adfs => format!("https://{}/adfs", seeds::ADFS_HOST),
            HostKind::Oidc => seeds::OIDC_ISSUER.to_string(),
        }
    }

    /// The issuer in discovery.
    pub(crate) fn discovery_issuer(&self) -> String {
        match &self.tenant {
            TenantSel::Real(t) => self.issuer_for(&t.id),
            TenantSel::Pseudo(p) => self.issuer_for(p.issuer_tid()),
            TenantSel::None => self.issuer_for(""),
        }
    }

    /// The issuer of (v1) access tokens for tenant id `tid`.
    pub(crate) fn access_token_issuer(&self, tid: &str) -> String {
        match self.cloud() {
            Some(c) => format!("https://{}/{tid}/", c.sts_host()),
            None => self.issuer_for(tid),
        }
    }

    /// `tenant_region_scope` in discovery.
    pub(crate) fn region_scope(&self) -> Option<&'static str> {
        match (&self.tenant, self.kind) {
            (TenantSel::Real(_), HostKind::Entra(Cloud::UsGov)) => Some("USGov"),
            (TenantSel::Real(_), _) => Some("NA"),
            _ => None,
        }
    }

    pub(crate) fn cloud_instance_name(&self) -> &'static str {
        match self.kind {
            HostKind::Entra(c) => c.instance_name(),
            HostKind::B2c | HostKind::Ciam => "microsoftonline.com",
            HostKind::Adfs | HostKind::Oidc => "",
        }
    }

    /// The `aud` values a client assertion sent to this authority's token endpoint may carry:
    /// the token endpoint on the request host, or on the cloud's central host or an alias, with
    /// the tenant as given in the path or as its GUID. A request to a regional host must carry
    /// the central audience: MSAL builds the assertion for the central authority (msal/application.py builds its client assertion for the central token endpoint),
    /// and the emulator holds clients to that.
    pub(crate) fn assertion_audiences(&self, token_path: &str) -> Vec<String> {
        let mut hosts = Vec::new();
        if !super::hosts::is_regional(&self.host) {
            hosts.push(self.host.clone());
        }
        if let Some(c) = self.cloud() {
            hosts.extend(c.aliases().iter().map(|h| h.to_string()));
        }
        let mut paths = vec![token_path.to_string()];
        if let Some(t) = self.real_tenant()
            && !t.id.eq_ignore_ascii_case(&self.segment)
        {
            paths.push(
                self.endpoint("token")
                    .split_once(&self.host)
                    .map_or_else(String::new, |(_, p)| p.to_string()),
            );
        }
        let mut out = Vec::new();
        for h in &hosts {
            for p in &paths {
                out.push(format!("https://{h}{p}"));
            }
        }
        out
    }
}

impl Authority {
    /// The central authority of a tenant (for tokens minted through the admin API).
    pub(crate) fn for_tenant(t: &Tenant) -> Self {
        let (kind, host) = match t.kind {
            TenantKind::Aad(c) => (HostKind::Entra(c), c.central()),
            TenantKind::B2c => (HostKind::B2c, seeds::B2C_HOST),
            TenantKind::Ciam => (HostKind::Ciam, seeds::CIAM_HOST),
            TenantKind::Adfs => (HostKind::Adfs, seeds::ADFS_HOST),
        };
        Self {
            kind,
            host: host.to_string(),
            segment: t.id.clone(),
            policy: None,
            tenant: if t.kind == TenantKind::Adfs {
                TenantSel::None
            } else {
                TenantSel::Real(t.clone())
            },
        }
    }
}

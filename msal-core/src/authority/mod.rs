//! Authorities: which identity provider and tenant an application signs in against.
//!
//! [`Authority`] covers every kind MSAL knows — Entra ID tenants (including `common`,
//! `organizations`, `consumers` and sovereign clouds), Azure AD B2C policies, AD FS, Entra
//! External ID (CIAM) and any OpenID Connect issuer — and canonicalises them (https, lower-case
//! host, no trailing slash). Building an authority does no I/O: discovery happens lazily, on
//! the first request, in the `discovery` module.

pub(crate) mod discovery;
mod known;
pub(crate) mod region;

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

pub(crate) use known::{WORLD_WIDE, is_well_known_host, known_aliases};
pub use region::{AzureRegion, IMDS_PROBE_TIMEOUT};

/// What kind of identity provider an [`Authority`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthorityKind {
    /// Microsoft Entra ID (a tenant, `common`, `organizations` or `consumers`).
    Aad,
    /// Azure AD B2C: a tenant and a user-flow policy.
    B2c,
    /// Active Directory Federation Services (2019 or later).
    Adfs,
    /// Microsoft Entra External ID for customers (`*.ciamlogin.com`).
    Ciam,
    /// Any OpenID Connect provider, found through its issuer's discovery document.
    Oidc,
}

/// Where tokens come from: an identity provider host and a tenant (plus a policy for B2C).
///
/// ```
/// use msal_core::authority::{Authority, AuthorityKind};
///
/// let a = Authority::tenant("contoso.onmicrosoft.com");
/// assert_eq!(a.as_str(), "https://login.microsoftonline.com/contoso.onmicrosoft.com");
///
/// let b: Authority = "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_SignIn/"
///     .parse()
///     .unwrap();
/// assert_eq!(b.kind(), AuthorityKind::B2c);
/// assert_eq!(b.tenant_name(), "contoso.onmicrosoft.com");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Authority {
    kind: AuthorityKind,
    scheme: Scheme,
    /// Lower-case host name, never with a port.
    host: String,
    port: Option<u16>,
    /// The path segments after the host (tenant first; B2C adds the policy).
    segments: Vec<String>,
    /// The canonical URL, cached.
    canonical: String,
    /// Why this authority is unusable, reported by `validate` (constructors do not fail).
    problem: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scheme {
    Https,
    Http,
}

const B2C_HOST_SUFFIXES: [&str; 5] = [
    "b2clogin.com",
    "b2clogin.cn",
    "b2clogin.us",
    "b2clogin.de",
    "ciamlogin.com",
];
const CIAM_SUFFIX: &str = ".ciamlogin.com";

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~'))
}

impl Authority {
    fn build(
        kind: AuthorityKind,
        scheme: Scheme,
        host: &str,
        port: Option<u16>,
        segments: Vec<String>,
    ) -> Authority {
        let host = host.to_ascii_lowercase();
        let mut problem = None;
        if host.is_empty() {
            problem = Some("the authority has no host");
        } else if segments.iter().any(|s| !valid_segment(s)) {
            problem = Some(
                "an authority path segment (tenant or policy) is empty or has characters other than letters, digits, '.', '-', '_' and '~'",
            );
        } else if segments.is_empty() && kind != AuthorityKind::Oidc {
            problem = Some("the authority has no tenant");
        }
        let scheme_str = match scheme {
            Scheme::Https => "https",
            Scheme::Http => "http",
        };
        // One allocation, sized up front (a tenant override builds an authority per request).
        let mut canonical = String::with_capacity(
            scheme_str.len()
                + 3
                + host.len()
                + 6
                + segments.iter().map(|s| s.len() + 1).sum::<usize>(),
        );
        canonical.push_str(scheme_str);
        canonical.push_str("://");
        canonical.push_str(&host);
        if let Some(p) = port {
            canonical.push(':');
            canonical.push_str(&p.to_string());
        }
        for s in &segments {
            canonical.push('/');
            canonical.push_str(s);
        }
        Authority {
            kind,
            scheme,
            host,
            port,
            segments,
            canonical,
            problem,
        }
    }

    /// An Entra ID tenant (a GUID or a domain such as `contoso.onmicrosoft.com`) in the public
    /// cloud, `https://login.microsoftonline.com/{tenant}`.
    pub fn tenant(tenant: impl AsRef<str>) -> Authority {
        Authority::aad(WORLD_WIDE, tenant)
    }

    /// `https://login.microsoftonline.com/common`: work, school and personal accounts.
    pub fn common() -> Authority {
        Authority::tenant("common")
    }

    /// `https://login.microsoftonline.com/organizations`: work and school accounts.
    pub fn organizations() -> Authority {
        Authority::tenant("organizations")
    }

    /// `https://login.microsoftonline.com/consumers`: personal Microsoft accounts.
    pub fn consumers() -> Authority {
        Authority::tenant("consumers")
    }

    /// An Entra ID tenant on another cloud's host, e.g. `login.microsoftonline.us`.
    pub fn aad(host: impl AsRef<str>, tenant: impl AsRef<str>) -> Authority {
        Authority::build(
            AuthorityKind::Aad,
            Scheme::Https,
            host.as_ref(),
            None,
            vec![tenant.as_ref().to_owned()],
        )
    }

    /// An Azure AD B2C authority: `https://{host}/{tenant}/{policy}`.
    pub fn b2c(
        host: impl AsRef<str>,
        tenant: impl AsRef<str>,
        policy: impl AsRef<str>,
    ) -> Authority {
        Authority::build(
            AuthorityKind::B2c,
            Scheme::Https,
            host.as_ref(),
            None,
            vec![tenant.as_ref().to_owned(), policy.as_ref().to_owned()],
        )
    }

    /// An AD FS authority, e.g. `https://fs.contoso.com/adfs`.
    pub fn adfs(url: &str) -> Result<Authority> {
        let a = Authority::from_url(url)?;
        if a.kind != AuthorityKind::Adfs {
            return Err(Error::config(
                "an AD FS authority must be https://{host}/adfs",
            ));
        }
        Ok(a)
    }

    /// An Entra External ID (CIAM) authority: `https://{sub}.ciamlogin.com` (the tenant is then
    /// `{sub}.onmicrosoft.com`) or `https://{sub}.ciamlogin.com/{tenant}`.
    pub fn ciam(url: &str) -> Result<Authority> {
        let a = Authority::from_url(url)?;
        if a.kind != AuthorityKind::Ciam {
            return Err(Error::config(
                "a CIAM authority must be on a *.ciamlogin.com host",
            ));
        }
        Ok(a)
    }

    /// Any OpenID Connect provider, by its issuer URL; its discovery document is read from
    /// `{issuer}/.well-known/openid-configuration`.
    pub fn oidc(issuer: &str) -> Result<Authority> {
        let (scheme, host, port, segments) = split_url(issuer)?;
        let a = Authority::build(AuthorityKind::Oidc, scheme, &host, port, segments);
        a.ensure_no_problem()?;
        Ok(a)
    }

    /// Parses an authority URL and recognises its kind the way MSAL does: a B2C host (or a
    /// two-segment path whose policy starts with `b2c_`) is B2C, a `*.ciamlogin.com` host is
    /// CIAM, the tenant `adfs` is AD FS, anything else is Entra ID.
    pub fn from_url(url: &str) -> Result<Authority> {
        let (scheme, host, port, segments) = split_url(url)?;
        let host_l = host.to_ascii_lowercase();
        let is_ciam = host_l.ends_with(CIAM_SUFFIX);
        let is_b2c_host = B2C_HOST_SUFFIXES
            .iter()
            .any(|s| host_l == *s || host_l.ends_with(&format!(".{s}")));
        let a = if is_ciam {
            let segs = if segments.is_empty() {
                let sub = host_l.trim_end_matches(CIAM_SUFFIX);
                vec![format!("{sub}.onmicrosoft.com")]
            } else {
                segments.into_iter().take(1).collect()
            };
            Authority::build(AuthorityKind::Ciam, scheme, &host_l, port, segs)
        } else if segments
            .first()
            .is_some_and(|t| t.eq_ignore_ascii_case("adfs"))
        {
            Authority::build(
                AuthorityKind::Adfs,
                scheme,
                &host_l,
                port,
                vec!["adfs".to_owned()],
            )
        } else if is_b2c_host
            || (segments.len() == 2 && segments[1].to_ascii_lowercase().starts_with("b2c_"))
        {
            if segments.len() < 2 {
                return Err(Error::config(
                    "a B2C authority must be https://{host}/{tenant}/{policy}",
                ));
            }
            Authority::build(
                AuthorityKind::B2c,
                scheme,
                &host_l,
                port,
                segments.into_iter().take(2).collect(),
            )
        } else {
            Authority::build(
                AuthorityKind::Aad,
                scheme,
                &host_l,
                port,
                segments.into_iter().take(1).collect(),
            )
        };
        a.ensure_no_problem()?;
        Ok(a)
    }

    fn ensure_no_problem(&self) -> Result<()> {
        match self.problem {
            Some(p) => Err(Error::config(p)),
            None => Ok(()),
        }
    }

    /// Checks that the authority is usable: well formed, and https unless
    /// `allow_http_loopback` permits plain http to a loopback host.
    pub(crate) fn validate(&self, allow_http_loopback: bool) -> Result<()> {
        self.ensure_no_problem()?;
        if self.scheme == Scheme::Http && !(allow_http_loopback && self.is_loopback()) {
            return Err(Error::config(
                "the authority must use https (plain http is only allowed to a loopback host through the dangerous options)",
            ));
        }
        Ok(())
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// The same authority with another tenant, for a per-request tenant override. Only Entra ID
    /// and CIAM authorities have tenants to switch.
    pub fn with_tenant(&self, tenant: &str) -> Result<Authority> {
        match self.kind {
            AuthorityKind::Aad | AuthorityKind::Ciam => {
                let a = Authority::build(
                    self.kind,
                    self.scheme,
                    &self.host,
                    self.port,
                    vec![tenant.to_owned()],
                );
                if a.problem.is_some() {
                    return Err(Error::invalid_input(
                        "the tenant override is not a valid tenant",
                    ));
                }
                Ok(a)
            }
            _ => Err(Error::invalid_input(
                "a tenant override needs an Entra ID or CIAM authority",
            )),
        }
    }

    /// The authority a serialized flow recorded, accepted only when it is this authority or one
    /// this authority allows per request without changing where trust lies: the same scheme,
    /// host and port (so the same cloud, the same instance discovery and the same TLS checks),
    /// the same kind, and for Entra ID and CIAM another tenant, for B2C another policy of the
    /// same tenant. AD FS and generic OIDC authorities accept only themselves.
    ///
    /// A flow's recorded authority is untrusted data (it may have round-tripped through a
    /// browser cookie or a session store), so it is never parsed on its own: a string naming
    /// any other host, scheme or kind gives `None`, and the caller refuses the flow before a
    /// secret, code or PKCE verifier is sent anywhere.
    pub(crate) fn accept_recorded(&self, recorded: &str) -> Option<Authority> {
        if recorded == self.canonical {
            return Some(self.clone());
        }
        let (scheme, host, port, segments) = split_url(recorded).ok()?;
        if scheme != self.scheme || host != self.host || port != self.port {
            return None;
        }
        let candidate = match (self.kind, segments.as_slice()) {
            // `adfs` as a tenant names an AD FS authority to every MSAL: not a variant of this one.
            (AuthorityKind::Aad | AuthorityKind::Ciam, [tenant])
                if !tenant.eq_ignore_ascii_case("adfs") =>
            {
                self.with_tenant(tenant).ok()?
            }
            (AuthorityKind::B2c, [tenant, policy])
                if self
                    .segments
                    .first()
                    .is_some_and(|t| t.eq_ignore_ascii_case(tenant)) =>
            {
                Authority::build(
                    AuthorityKind::B2c,
                    self.scheme,
                    &self.host,
                    self.port,
                    vec![tenant.clone(), policy.clone()],
                )
            }
            _ => return None,
        };
        (candidate.problem.is_none() && candidate.canonical == recorded).then_some(candidate)
    }

    /// The kind of identity provider.
    pub fn kind(&self) -> AuthorityKind {
        self.kind
    }

    /// The host, lower-case, without a port: the `environment` of cache entries.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The tenant as configured (`adfs` for AD FS, empty for an OIDC issuer without a path).
    pub fn tenant_name(&self) -> &str {
        self.segments.first().map(String::as_str).unwrap_or("")
    }

    /// The B2C policy, for B2C authorities.
    pub fn policy(&self) -> Option<&str> {
        match self.kind {
            AuthorityKind::B2c => self.segments.get(1).map(String::as_str),
            _ => None,
        }
    }

    /// The canonical URL: scheme, lower-case host, path without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// `scheme://host[:port]`.
    pub(crate) fn origin(&self) -> &str {
        let after_scheme = self.canonical.find("://").map_or(0, |i| i + 3);
        let end = self.canonical[after_scheme..]
            .find('/')
            .map_or(self.canonical.len(), |i| after_scheme + i);
        &self.canonical[..end]
    }

    /// True for the authority kinds whose hosts need no instance discovery because the
    /// developer vouches for them (MSAL's `_is_known_to_developer`).
    pub(crate) fn is_known_to_developer(&self) -> bool {
        matches!(
            self.kind,
            AuthorityKind::Adfs | AuthorityKind::B2c | AuthorityKind::Ciam | AuthorityKind::Oidc
        )
    }

    /// True for the `common`, `organizations` and `consumers` pseudo-tenants.
    pub fn is_multi_tenant(&self) -> bool {
        self.kind == AuthorityKind::Aad
            && ["common", "organizations", "consumers"]
                .iter()
                .any(|t| self.tenant_name().eq_ignore_ascii_case(t))
    }

    /// Where the OpenID Connect discovery document is.
    pub(crate) fn tenant_discovery_url(&self) -> String {
        match self.kind {
            AuthorityKind::Adfs => {
                format!("{}/adfs/.well-known/openid-configuration", self.origin())
            }
            AuthorityKind::Oidc => format!("{}/.well-known/openid-configuration", self.canonical),
            _ => format!("{}/v2.0/.well-known/openid-configuration", self.canonical),
        }
    }

    /// The authorization endpoint as instance discovery wants it.
    pub(crate) fn authorize_endpoint_for_instance_discovery(&self) -> String {
        format!(
            "https://{}/{}/oauth2/v2.0/authorize",
            self.host,
            self.tenant_name()
        )
    }
}

fn split_url(url: &str) -> Result<(Scheme, String, Option<u16>, Vec<String>)> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|_| Error::config("the authority is not a valid URL"))?;
    let scheme = match parsed.scheme() {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        _ => return Err(Error::config("the authority must be an https URL")),
    };
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::config(
            "the authority must not have a query or a fragment",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::config("the authority must not carry credentials"));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| Error::config("the authority has no host"))?
        .to_ascii_lowercase();
    let segments = parsed
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    Ok((scheme, host, parsed.port(), segments))
}

impl FromStr for Authority {
    type Err = Error;

    fn from_str(s: &str) -> Result<Authority> {
        Authority::from_url(s)
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority")
            .field("kind", &self.kind)
            .field("url", &self.canonical)
            .finish()
    }
}

impl Default for Authority {
    /// `https://login.microsoftonline.com/common`, MSAL's default.
    fn default() -> Self {
        Authority::common()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_authority_is_accepted_only_as_a_variant_of_the_apps() {
        let aad = Authority::tenant("contoso.onmicrosoft.com");
        let got = aad
            .accept_recorded("https://login.microsoftonline.com/other-tenant")
            .expect("another tenant");
        assert_eq!(got.kind(), AuthorityKind::Aad);
        for bad in [
            "https://evil.example/contoso.onmicrosoft.com",
            "http://login.microsoftonline.com/contoso.onmicrosoft.com",
            "https://login.microsoftonline.com:444/contoso.onmicrosoft.com",
            "https://login.microsoftonline.com/adfs",
            "https://login.microsoftonline.com/a/b",
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/",
            "https://login.microsoftonline.com/t?x=1",
            "https://user@login.microsoftonline.com/t",
            "",
        ] {
            assert!(aad.accept_recorded(bad).is_none(), "{bad}");
        }
        let b2c = Authority::b2c("x.b2clogin.com", "x.onmicrosoft.com", "B2C_1_signin");
        let other = b2c
            .accept_recorded("https://x.b2clogin.com/x.onmicrosoft.com/B2C_1_edit")
            .expect("another policy");
        assert_eq!(other.kind(), AuthorityKind::B2c);
        assert!(
            b2c.accept_recorded("https://x.b2clogin.com/y.onmicrosoft.com/B2C_1_edit")
                .is_none()
        );
        let oidc = Authority::oidc("https://idp.example/tenant1").expect("oidc");
        let same = oidc
            .accept_recorded("https://idp.example/tenant1")
            .expect("itself");
        assert_eq!(same.kind(), AuthorityKind::Oidc, "the kind is the app's");
        assert!(
            oidc.accept_recorded("https://idp.example/tenant2")
                .is_none()
        );
        let adfs = Authority::adfs("https://fs.contoso.com/adfs").expect("adfs");
        assert!(
            adfs.accept_recorded("https://fs.contoso.com/adfs")
                .is_some()
        );
        assert!(
            adfs.accept_recorded("https://fs.contoso.com/other")
                .is_none()
        );
    }

    #[test]
    fn canonicalises_and_recognises_kinds() {
        let a: Authority = "HTTPS://Login.MicrosoftOnline.com/Contoso.onmicrosoft.com/"
            .parse()
            .expect("valid");
        assert_eq!(a.kind(), AuthorityKind::Aad);
        assert_eq!(
            a.as_str(),
            "https://login.microsoftonline.com/Contoso.onmicrosoft.com"
        );
        assert_eq!(a.host(), "login.microsoftonline.com");
        assert_eq!(
            a.tenant_discovery_url(),
            "https://login.microsoftonline.com/Contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        );

        let b = Authority::from_url("https://x.b2clogin.com/x.onmicrosoft.com/B2C_1_signin")
            .expect("b2c");
        assert_eq!(b.kind(), AuthorityKind::B2c);
        assert_eq!(b.policy(), Some("B2C_1_signin"));
        let b2 = Authority::from_url("https://login.contoso.com/x.onmicrosoft.com/b2c_1_susi")
            .expect("b2c");
        assert_eq!(b2.kind(), AuthorityKind::B2c);
        assert!(Authority::from_url("https://x.b2clogin.com/x.onmicrosoft.com").is_err());

        let f = Authority::adfs("https://fs.contoso.com/ADFS/").expect("adfs");
        assert_eq!(f.tenant_name(), "adfs");
        assert_eq!(
            f.tenant_discovery_url(),
            "https://fs.contoso.com/adfs/.well-known/openid-configuration"
        );

        let c = Authority::ciam("https://contoso.ciamlogin.com").expect("ciam");
        assert_eq!(c.tenant_name(), "contoso.onmicrosoft.com");
        assert_eq!(
            c.tenant_discovery_url(),
            "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        );
        let c2 =
            Authority::ciam("https://contoso.ciamlogin.com/6fd1f5cd-a94c-4335-889b-6c598e6d8048")
                .expect("ciam");
        assert_eq!(c2.tenant_name(), "6fd1f5cd-a94c-4335-889b-6c598e6d8048");

        let o = Authority::oidc("https://idp.example/tenant1/").expect("oidc");
        assert_eq!(
            o.tenant_discovery_url(),
            "https://idp.example/tenant1/.well-known/openid-configuration"
        );
    }

    #[test]
    fn rejects_bad_authorities() {
        for bad in [
            "ftp://login.microsoftonline.com/x",
            "https://login.microsoftonline.com",
            "https://login.microsoftonline.com/x?y=1",
            "https://user:pw@login.microsoftonline.com/x",
            "not a url",
            "https://login.microsoftonline.com/a%20b",
        ] {
            assert!(Authority::from_url(bad).is_err(), "{bad}");
        }
        assert!(Authority::tenant("a/b").validate(false).is_err());
        assert!(Authority::tenant("").validate(false).is_err());
        let http = Authority::from_url("http://127.0.0.1:8080/t").expect("parses");
        assert!(http.validate(false).is_err());
        assert!(http.validate(true).is_ok());
        assert_eq!(http.host(), "127.0.0.1");
        assert_eq!(http.origin(), "http://127.0.0.1:8080");
        assert!(
            Authority::from_url("http://example.com/t")
                .expect("parses")
                .validate(true)
                .is_err()
        );
    }

    #[test]
    fn tenant_override() {
        let a = Authority::organizations();
        let t = a.with_tenant("fabrikam.onmicrosoft.com").expect("ok");
        assert_eq!(
            t.as_str(),
            "https://login.microsoftonline.com/fabrikam.onmicrosoft.com"
        );
        assert!(a.is_multi_tenant() && !t.is_multi_tenant());
        let b = Authority::b2c("x.b2clogin.com", "x.onmicrosoft.com", "B2C_1_a");
        assert!(b.with_tenant("y").is_err());
        assert!(a.with_tenant("bad/tenant").is_err());
    }
}

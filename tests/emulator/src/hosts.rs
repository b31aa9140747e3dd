//! Which kind of authority a host name is.

use super::seeds;

/// A Microsoft cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cloud {
    Public,
    UsGov,
}

impl Cloud {
    /// The central host.
    pub(crate) fn central(self) -> &'static str {
        match self {
            Self::Public => seeds::PUBLIC_HOST,
            Self::UsGov => seeds::USGOV_HOST,
        }
    }

    /// The hosts serving this cloud identically.
    pub(crate) fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::Public => seeds::PUBLIC_ALIASES,
            Self::UsGov => seeds::USGOV_ALIASES,
        }
    }

    /// `cloud_instance_name` in discovery.
    pub(crate) fn instance_name(self) -> &'static str {
        match self {
            Self::Public => "microsoftonline.com",
            Self::UsGov => "microsoftonline.us",
        }
    }

    /// Host in the `iss` of v1 access tokens.
    pub(crate) fn sts_host(self) -> &'static str {
        match self {
            Self::Public => "sts.windows.net",
            Self::UsGov => "login.microsoftonline.us",
        }
    }
}

/// What a host serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostKind {
    /// An Entra ID host (central, alias, regional, or trusted custom).
    Entra(Cloud),
    B2c,
    Ciam,
    Adfs,
    Oidc,
}

/// Normalises a `Host` header or authority: port stripped, lowercase, trailing dot removed.
pub(crate) fn normalize(raw: &str) -> String {
    let raw = raw.trim();
    let host = if let Some(rest) = raw.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        raw.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(raw, |(h, _)| h)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// A single DNS label.
pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn regional_of(host: &str, base: &str) -> bool {
    host.strip_suffix(base)
        .and_then(|p| p.strip_suffix('.'))
        .is_some_and(is_dns_label)
}

/// A regional Entra ID host (`<region>.login.microsoft.com`, `<region>.login.microsoftonline.us`).
pub(crate) fn is_regional(host: &str) -> bool {
    regional_of(host, seeds::PUBLIC_REGIONAL_BASE) || regional_of(host, seeds::USGOV_REGIONAL_BASE)
}

/// Classifies a normalised host name.
pub(crate) fn classify(host: &str) -> Option<HostKind> {
    if seeds::PUBLIC_ALIASES.contains(&host)
        || host == seeds::TRUSTED_CUSTOM_HOST
        || regional_of(host, seeds::PUBLIC_REGIONAL_BASE)
    {
        Some(HostKind::Entra(Cloud::Public))
    } else if seeds::USGOV_ALIASES.contains(&host) || regional_of(host, seeds::USGOV_REGIONAL_BASE)
    {
        Some(HostKind::Entra(Cloud::UsGov))
    } else if regional_of(host, "b2clogin.com") {
        Some(HostKind::B2c)
    } else if regional_of(host, "ciamlogin.com") {
        Some(HostKind::Ciam)
    } else if host == seeds::ADFS_HOST {
        Some(HostKind::Adfs)
    } else if host == seeds::OIDC_HOST {
        Some(HostKind::Oidc)
    } else {
        None
    }
}

/// Microsoft's well-known authority hosts (MSAL's list).
const WELL_KNOWN: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "login.microsoftonline.de",
    "login-us.microsoftonline.com",
    "login.microsoftonline.us",
    "login.usgovcloudapi.net",
    "login.sovcloud-identity.fr",
    "login.sovcloud-identity.de",
    "login.sovcloud-identity.sg",
];

/// Whether instance discovery vouches for `host`: a known Microsoft host, a regional host of
/// one, or a trusted custom host.
pub(crate) fn trusted_for_instance_discovery(host: &str) -> bool {
    WELL_KNOWN.contains(&host)
        || host == seeds::TRUSTED_CUSTOM_HOST
        || regional_of(host, seeds::PUBLIC_REGIONAL_BASE)
        || regional_of(host, seeds::USGOV_REGIONAL_BASE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(
            normalize("Login.MicrosoftOnline.com:8443"),
            "login.microsoftonline.com"
        );
        assert_eq!(normalize("sts.windows.net."), "sts.windows.net");
        assert_eq!(normalize("[::1]:443"), "::1");
        assert_eq!(
            classify("westus.login.microsoft.com"),
            Some(HostKind::Entra(Cloud::Public))
        );
        assert_eq!(classify("a.b.login.microsoft.com"), None);
        assert!(is_regional("westus.login.microsoft.com"));
        assert!(is_regional("usgovvirginia.login.microsoftonline.us"));
        assert!(!is_regional("login.microsoft.com"));
        assert!(!is_regional("login.microsoftonline.us"));
        assert!(!is_regional("login.microsoftonline.com"));
        assert_eq!(
            classify("login.contoso.com"),
            Some(HostKind::Entra(Cloud::Public))
        );
        assert_eq!(
            classify("usgovvirginia.login.microsoftonline.us"),
            Some(HostKind::Entra(Cloud::UsGov))
        );
        assert_eq!(classify("contosob2c.b2clogin.com"), Some(HostKind::B2c));
        assert_eq!(classify("fs.contoso.com"), Some(HostKind::Adfs));
        assert_eq!(classify("example.com"), None);
        assert!(trusted_for_instance_discovery("login.chinacloudapi.cn"));
        assert!(!trusted_for_instance_discovery("example.com"));
    }
}

//! The hosts MSAL trusts without instance discovery, and their aliases (the metadata Entra's
//! instance discovery returns for the public and sovereign clouds).

/// The public cloud's preferred host.
pub(crate) const WORLD_WIDE: &str = "login.microsoftonline.com";

/// Hosts that need no instance discovery (MSAL's `WELL_KNOWN_AUTHORITY_HOSTS`).
const WELL_KNOWN_HOSTS: [&str; 13] = [
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

/// Groups of host names that share tokens (Entra's instance metadata).
const ALIAS_GROUPS: [&[&str]; 8] = [
    &[
        "login.microsoftonline.com",
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
    ],
    &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
    &["login.microsoftonline.de"],
    &["login.microsoftonline.us", "login.usgovcloudapi.net"],
    &["login-us.microsoftonline.com"],
    &["login.sovcloud-identity.fr"],
    &["login.sovcloud-identity.de"],
    &["login.sovcloud-identity.sg"],
];

/// True when `host` is one of Microsoft's well-known authority hosts.
pub(crate) fn is_well_known_host(host: &str) -> bool {
    WELL_KNOWN_HOSTS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host))
}

/// The aliases of a well-known host (itself included), or `None` for other hosts.
pub(crate) fn known_aliases(host: &str) -> Option<&'static [&'static str]> {
    ALIAS_GROUPS
        .iter()
        .find(|g| g.iter().any(|h| h.eq_ignore_ascii_case(host)))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_of_the_public_cloud() {
        assert!(is_well_known_host("LOGIN.windows.net"));
        assert!(!is_well_known_host("login.contoso.com"));
        let a = known_aliases("sts.windows.net").expect("known");
        assert!(a.contains(&"login.microsoftonline.com"));
        assert!(known_aliases("login.contoso.com").is_none());
    }
}

//! User realm discovery: `GET https://{host}/common/userrealm/{username}?api-version=1.0`.
//!
//! `Managed` for a domain of a directory the host serves, `Federated` (with the federation
//! metadata and active-auth URLs) for a federated domain, `Unknown` otherwise.

use serde_json::{Value, json};

use super::authority::Authority;
use super::seeds;
use super::state::{EmuState, TenantKind};

/// Decodes `%XX` escapes (invalid ones are kept as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The user realm document for the path segment `raw_username`.
pub(crate) fn user_realm(state: &EmuState, authority: &Authority, raw_username: &str) -> Value {
    let username = percent_decode(raw_username);
    let domain = username
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    let instance = authority.cloud_instance_name();
    let audience = "urn:federation:MicrosoftOnline";
    let reg = state.lock();
    if !domain.is_empty() && reg.is_federated(&domain) {
        return json!({
            "ver": "1.0",
            "account_type": "Federated",
            "domain_name": domain,
            "federation_protocol": seeds::FEDERATION_PROTOCOL,
            "federation_metadata_url": seeds::FEDERATION_METADATA_URL,
            "federation_active_auth_url": seeds::FEDERATION_ACTIVE_AUTH_URL,
            "cloud_instance_name": instance,
            "cloud_audience_urn": audience,
        });
    }
    let managed = !domain.is_empty()
        && reg.tenant(&domain).is_some_and(|t| {
            t.kind != TenantKind::Adfs && t.domains.iter().any(|d| d.eq_ignore_ascii_case(&domain))
        });
    if managed {
        json!({
            "ver": "1.0",
            "account_type": "Managed",
            "domain_name": domain,
            "cloud_instance_name": instance,
            "cloud_audience_urn": audience,
        })
    } else {
        json!({
            "ver": "1.0",
            "account_type": "Unknown",
            "cloud_instance_name": instance,
            "cloud_audience_urn": audience,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(percent_decode("a%40b.com"), "a@b.com");
        assert_eq!(percent_decode("a@b.com"), "a@b.com");
        assert_eq!(percent_decode("bad%4"), "bad%4");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
    }
}

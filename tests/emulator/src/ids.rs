//! Stable and random identifiers.

use aws_lc_rs::digest;

use super::jwt::b64url;

fn sha256(parts: &[&str]) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p.as_bytes());
        ctx.update(&[0]);
    }
    ctx.finish().as_ref().to_vec()
}

/// A deterministic UUID (version 8 layout) derived from `parts`.
pub(crate) fn stable_uuid(parts: &[&str]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&sha256(parts)[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

/// A stable pairwise subject for `(user, client)`, like Entra's 43-character `sub`.
pub(crate) fn pairwise_sub(oid: &str, client_id: &str) -> String {
    b64url(&sha256(&[
        "sub",
        &oid.to_ascii_lowercase(),
        &client_id.to_ascii_lowercase(),
    ]))
}

/// A random v4 UUID string.
pub(crate) fn random_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A random 22-character token identifier (`uti`).
pub(crate) fn uti() -> String {
    b64url(uuid::Uuid::new_v4().as_bytes())
}

/// A random opaque refresh token.
pub(crate) fn refresh_token() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("1.EMU{}{}", b64url(a.as_bytes()), b64url(b.as_bytes()))
}

/// A random opaque authorization code.
pub(crate) fn auth_code() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("0.EMU{}{}", b64url(a.as_bytes()), b64url(b.as_bytes()))
}

/// A random opaque device code.
pub(crate) fn device_code() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("DAQ.EMU{}{}", b64url(a.as_bytes()), b64url(b.as_bytes()))
}

/// A random 9-character user code (upper-case letters and digits, no look-alikes).
pub(crate) fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uuid::Uuid::new_v4().as_bytes()[..9]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// base64url(SHA-256(`input`)), the PKCE S256 transform.
pub(crate) fn s256(input: &str) -> String {
    b64url(digest::digest(&digest::SHA256, input.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable() {
        assert_eq!(stable_uuid(&["a", "b"]), stable_uuid(&["a", "b"]));
        assert_ne!(stable_uuid(&["a", "b"]), stable_uuid(&["ab"]));
        assert_eq!(pairwise_sub("X", "y").len(), 43);
        assert_eq!(uti().len(), 22);
        assert_eq!(user_code().len(), 9);
        // RFC 7636 appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}

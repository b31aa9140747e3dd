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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable() {
        assert_eq!(stable_uuid(&["a", "b"]), stable_uuid(&["a", "b"]));
        assert_ne!(stable_uuid(&["a", "b"]), stable_uuid(&["ab"]));
        assert_eq!(pairwise_sub("X", "y").len(), 43);
        assert_eq!(uti().len(), 22);
    }
}

//! Building and signing access tokens and ID tokens, and the shared response fields.

use serde_json::{Map, Value, json};

use crate::emulator::ids;
use crate::emulator::jwt::{Signer, b64url};

/// `expires_in`, `ext_expires_in` and (for lifetimes of 2 h or more) `refresh_in`.
pub(crate) fn lifetime_fields(out: &mut Map<String, Value>, lifetime: u64) {
    out.insert("expires_in".into(), lifetime.into());
    out.insert("ext_expires_in".into(), lifetime.into());
    if lifetime >= 7200 {
        out.insert("refresh_in".into(), (lifetime / 2).into());
    }
}

/// An app-only access token.
pub(crate) struct AppToken<'a> {
    pub(crate) issuer: String,
    pub(crate) aud: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) acr: &'a str,
    pub(crate) tid: Option<&'a str>,
    pub(crate) now: u64,
    pub(crate) lifetime: u64,
    /// Extra claims (`xms_cc`, `fmi_path`, …).
    pub(crate) extra: Map<String, Value>,
}

impl AppToken<'_> {
    pub(crate) fn sign(&self, signer: &Signer) -> String {
        let sp_oid = ids::stable_uuid(&[
            "sp",
            &self.client_id.to_ascii_lowercase(),
            self.tid.unwrap_or(""),
        ]);
        let mut c = json!({
            "aud": self.aud,
            "iss": self.issuer,
            "iat": self.now,
            "nbf": self.now,
            "exp": self.now.saturating_add(self.lifetime),
            "appid": self.client_id,
            "appidacr": self.acr,
            "azp": self.client_id,
            "azpacr": self.acr,
            "idp": self.issuer,
            "idtyp": "app",
            "oid": sp_oid,
            "sub": sp_oid,
            "uti": ids::uti(),
            "ver": "1.0",
        });
        let obj = c.as_object_mut().expect("a JSON object literal");
        if let Some(tid) = self.tid {
            obj.insert("tid".into(), tid.into());
        }
        obj.extend(self.extra.clone());
        signer.sign("JWT", &c)
    }
}

/// The signed-in user a delegated token is for.
#[derive(Debug, Clone)]
pub(crate) struct UserClaims {
    pub(crate) oid: String,
    pub(crate) tid: String,
    pub(crate) username: String,
    pub(crate) name: String,
}

/// A delegated (user) access token.
pub(crate) struct UserToken<'a> {
    pub(crate) issuer: String,
    pub(crate) aud: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) acr: &'a str,
    pub(crate) user: &'a UserClaims,
    pub(crate) scp: &'a str,
    pub(crate) now: u64,
    pub(crate) lifetime: u64,
}

impl UserToken<'_> {
    pub(crate) fn sign(&self, signer: &Signer) -> String {
        let u = self.user;
        let c = json!({
            "aud": self.aud,
            "iss": self.issuer,
            "iat": self.now,
            "nbf": self.now,
            "exp": self.now.saturating_add(self.lifetime),
            "acr": "1",
            "amr": ["pwd"],
            "appid": self.client_id,
            "appidacr": self.acr,
            "azp": self.client_id,
            "azpacr": self.acr,
            "idtyp": "user",
            "name": u.name,
            "oid": u.oid,
            "preferred_username": u.username,
            "upn": u.username,
            "unique_name": u.username,
            "scp": self.scp,
            "sub": ids::pairwise_sub(&u.oid, self.aud),
            "tid": u.tid,
            "uti": ids::uti(),
            "ver": "1.0",
        });
        signer.sign("JWT", &c)
    }
}

/// An ID token for `client_id`.
pub(crate) fn id_token(
    signer: &Signer,
    issuer: &str,
    client_id: &str,
    user: &UserClaims,
    now: u64,
    lifetime: u64,
) -> String {
    let c = json!({
        "aud": client_id,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(lifetime),
        "name": user.name,
        "oid": user.oid,
        "preferred_username": user.username,
        "sub": ids::pairwise_sub(&user.oid, client_id),
        "tid": user.tid,
        "uti": ids::uti(),
        "ver": "2.0",
    });
    signer.sign("JWT", &c)
}

/// `client_info`: base64url (no padding) of `{"uid","utid"}`.
pub(crate) fn client_info(oid: &str, tid: &str) -> String {
    b64url(json!({"uid": oid, "utid": tid}).to_string().as_bytes())
}

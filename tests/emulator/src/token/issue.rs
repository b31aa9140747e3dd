//! Building and signing access tokens and ID tokens, and the shared response fields.

use serde_json::{Map, Value, json};

use crate::ids;
use crate::jwt::{Signer, b64url};

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
    /// A guest's home identity `(oid, tenant id)`: `client_info` names it, not `oid`/`tid`.
    pub(crate) home: Option<(String, String)>,
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

/// What kind of ID token an authority issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdFlavor<'a> {
    /// Entra ID and CIAM (and the generic OIDC provider): v2.0 claims.
    Entra,
    /// B2C: `ver` 1.0, `sub` = `oid`, `emails`, and the policy as `tfp` and `acr`.
    B2c { policy: &'a str },
    /// ADFS: `upn`/`unique_name`, no `oid`/`tid`/`preferred_username`.
    Adfs { public_client: bool },
}

/// An ID token for `client_id`.
pub(crate) struct IdToken<'a> {
    pub(crate) issuer: String,
    pub(crate) client_id: &'a str,
    pub(crate) user: &'a UserClaims,
    pub(crate) now: u64,
    pub(crate) lifetime: u64,
    /// Echoed as given (MSAL sends the SHA-256 hex of its nonce).
    pub(crate) nonce: Option<&'a str>,
    pub(crate) auth_time: Option<u64>,
    pub(crate) flavor: IdFlavor<'a>,
}

impl IdToken<'_> {
    pub(crate) fn sign(&self, signer: &Signer) -> String {
        let u = self.user;
        let mut c = Map::new();
        let mut put = |k: &str, v: Value| {
            c.insert(k.to_string(), v);
        };
        put("aud", self.client_id.into());
        put("iss", self.issuer.clone().into());
        put("iat", self.now.into());
        put("nbf", self.now.into());
        put("exp", self.now.saturating_add(self.lifetime).into());
        if let Some(t) = self.auth_time {
            put("auth_time", t.into());
        }
        if let Some(n) = self.nonce {
            put("nonce", n.into());
        }
        match self.flavor {
            IdFlavor::Entra => {
                put("name", u.name.clone().into());
                put("oid", u.oid.clone().into());
                put("preferred_username", u.username.clone().into());
                put("sub", ids::pairwise_sub(&u.oid, self.client_id).into());
                put("tid", u.tid.clone().into());
                put("uti", ids::uti().into());
                put("ver", "2.0".into());
            }
            IdFlavor::B2c { policy } => {
                put("name", u.name.clone().into());
                put("oid", u.oid.clone().into());
                put("sub", u.oid.clone().into());
                put("emails", json!([u.username]));
                put("tid", u.tid.clone().into());
                put("tfp", policy.into());
                put("acr", policy.to_ascii_lowercase().into());
                put("ver", "1.0".into());
            }
            IdFlavor::Adfs { public_client } => {
                put("sub", ids::pairwise_sub(&u.oid, self.client_id).into());
                put("upn", u.username.clone().into());
                put("unique_name", u.username.clone().into());
                put("name", u.name.clone().into());
                put(
                    "apptype",
                    if public_client {
                        "Public"
                    } else {
                        "Confidential"
                    }
                    .into(),
                );
                put("appid", self.client_id.into());
                put("ver", "1.0".into());
            }
        }
        signer.sign("JWT", &Value::Object(c))
    }
}

/// `client_info`: base64url (no padding) of `{"uid","utid"}`.
pub(crate) fn client_info(oid: &str, tid: &str) -> String {
    b64url(json!({"uid": oid, "utid": tid}).to_string().as_bytes())
}

/// B2C's `client_info`: `uid` is `{oid}-{policy, lowercase}`, so the home account id carries
/// the policy.
pub(crate) fn b2c_client_info(oid: &str, tid: &str, policy: &str) -> String {
    client_info(&format!("{oid}-{}", policy.to_ascii_lowercase()), tid)
}

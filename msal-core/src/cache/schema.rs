//! The five entity types of the unified token cache schema, with the exact JSON MSAL Python
//! writes (msal/token_cache.py): field order, timestamps as strings, JSON `null` for an absent
//! `home_account_id`/`client_id`, optional fields omitted, unknown fields kept in their order.
//!
//! Reading is lenient the way the other MSALs require: timestamps may be strings, integers or
//! floats; `""` for an id means "absent" (MSAL .NET and others write it for app tokens).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::document::RawMembers;
use super::keys;

/// An access token (section `"AccessToken"`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccessTokenEntity {
    /// Always `"AccessToken"`.
    pub credential_type: String,
    /// The access token itself.
    pub secret: String,
    /// `uid.utid` of the user (or the ID token's `sub` on ADFS); `None` for app tokens.
    #[serde(default, deserialize_with = "nullable_id")]
    pub home_account_id: Option<String>,
    /// The authority host, e.g. `login.microsoftonline.com`.
    pub environment: String,
    /// The application's client id.
    #[serde(default, deserialize_with = "nullable_id")]
    pub client_id: Option<String>,
    /// The granted scopes, sorted by code point and space-separated.
    pub target: String,
    /// The tenant path segment of the token endpoint (`organizations`, a GUID, `adfs`, ...);
    /// empty when the entry has none (MSAL .NET writes AD FS tokens so; msal/token_cache.py
    /// treats `realm` as optional).
    #[serde(default)]
    pub realm: String,
    /// The token type, `Bearer` unless the identity provider said otherwise (also when the
    /// entry has none, as MSAL .NET, Go, Java and Node may write it: msal/token_cache.py
    /// never queries it for bearer tokens).
    #[serde(default = "bearer")]
    pub token_type: String,
    /// When the token was cached, in seconds since the Unix epoch.
    #[serde(with = "timestamp")]
    pub cached_at: u64,
    /// When the token expires, in seconds since the Unix epoch.
    #[serde(with = "timestamp")]
    pub expires_on: u64,
    /// Until when the token may be used while the identity provider is unavailable; 0 when
    /// the entry has none or one that is not an epoch timestamp (MSAL .NET writes
    /// `"-62135596800"`, .NET's `DateTime.MinValue`, for AD FS tokens). MSAL Python never
    /// reads it (msal/token_cache.py), so such a value does not make the token unusable.
    #[serde(default, with = "unread_timestamp")]
    pub extended_expires_on: u64,
    /// The key id of a proof-of-possession or SSH-certificate token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The extended cache key (a hash of extra request parameters such as `fmi_path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_cache_key: Option<String>,
    /// When the token should be refreshed proactively (`now + refresh_in`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "optional_timestamp"
    )]
    pub refresh_on: Option<u64>,
    /// The hash of the incoming assertion an on-behalf-of token was obtained for (MSAL .NET's
    /// partition field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_assertion_hash: Option<String>,
    /// Fields this library does not know, in their original order, when the entity was
    /// deserialized through serde. (A [`TokenCache`](super::TokenCache) keeps the unknown
    /// fields it reads as their original text instead, so that they are written back
    /// unchanged.)
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Fields a cache document held that this library does not know: their original text.
    #[serde(skip)]
    pub(crate) raw_extra: RawMembers,
}

/// A refresh token (section `"RefreshToken"`). Refresh tokens are cross-tenant: no realm.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RefreshTokenEntity {
    /// Always `"RefreshToken"`.
    pub credential_type: String,
    /// The refresh token itself.
    pub secret: String,
    /// `uid.utid` of the user (or the ID token's `sub` on ADFS).
    #[serde(default, deserialize_with = "nullable_id")]
    pub home_account_id: Option<String>,
    /// The authority host.
    pub environment: String,
    /// The application's client id.
    #[serde(default, deserialize_with = "nullable_id")]
    pub client_id: Option<String>,
    /// The scopes of the request that obtained it, sorted and space-separated; `""` when the
    /// entry has none (MSAL Node writes refresh tokens without one; a refresh token is found
    /// by account, environment and client or family, never by target, as in
    /// msal/token_cache.py).
    #[serde(default)]
    pub target: String,
    /// When the token was written, in seconds since the Unix epoch.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "optional_timestamp"
    )]
    pub last_modification_time: Option<u64>,
    /// The family id (`"1"`) of a family (FOCI) refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_id: Option<String>,
    /// The hash of the incoming assertion of an on-behalf-of refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_assertion_hash: Option<String>,
    /// Fields this library does not know, in their original order, when the entity was
    /// deserialized through serde. (A [`TokenCache`](super::TokenCache) keeps the unknown
    /// fields it reads as their original text instead, so that they are written back
    /// unchanged.)
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Fields a cache document held that this library does not know: their original text.
    #[serde(skip)]
    pub(crate) raw_extra: RawMembers,
}

/// An ID token (section `"IdToken"`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdTokenEntity {
    /// Always `"IdToken"`.
    pub credential_type: String,
    /// The raw ID token (a JWT).
    pub secret: String,
    /// `uid.utid` of the user (or the ID token's `sub` on ADFS).
    #[serde(default, deserialize_with = "nullable_id")]
    pub home_account_id: Option<String>,
    /// The authority host.
    pub environment: String,
    /// The tenant path segment of the token endpoint (`""` when the entry has none).
    #[serde(default)]
    pub realm: String,
    /// The application's client id.
    #[serde(default, deserialize_with = "nullable_id")]
    pub client_id: Option<String>,
    /// Fields this library does not know, in their original order, when the entity was
    /// deserialized through serde. (A [`TokenCache`](super::TokenCache) keeps the unknown
    /// fields it reads as their original text instead, so that they are written back
    /// unchanged.)
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Fields a cache document held that this library does not know: their original text.
    #[serde(skip)]
    pub(crate) raw_extra: RawMembers,
}

/// A signed-in account (section `"Account"`). It has no `credential_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccountEntity {
    /// `uid.utid` of the user (or the ID token's `sub` on ADFS).
    #[serde(default, deserialize_with = "nullable_id")]
    pub home_account_id: Option<String>,
    /// The authority host.
    pub environment: String,
    /// The tenant path segment of the token endpoint; `""` when the entry has none (MSAL .NET
    /// writes AD FS accounts so).
    #[serde(default)]
    pub realm: String,
    /// The user's object id in the realm (`oid`, else `sub`); `null` when the response had no
    /// ID token.
    #[serde(default)]
    pub local_account_id: Option<String>,
    /// The user's sign-in name (`preferred_username` or `upn`), `""` when unknown.
    #[serde(default)]
    pub username: String,
    /// `MSSTS` (Entra ID), `ADFS`, or a caller's override such as `CLOUDSHELL`.
    pub authority_type: String,
    /// The grant that established the account (`authorization_code`, `password`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_source: Option<String>,
    /// Fields this library does not know, in their original order, when the entity was
    /// deserialized through serde. (A [`TokenCache`](super::TokenCache) keeps the unknown
    /// fields it reads as their original text instead, so that they are written back
    /// unchanged.)
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Fields a cache document held that this library does not know: their original text.
    #[serde(skip)]
    pub(crate) raw_extra: RawMembers,
}

/// What the cache knows about an application (section `"AppMetadata"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppMetadataEntity {
    /// The application's client id.
    #[serde(default, deserialize_with = "nullable_id")]
    pub client_id: Option<String>,
    /// The authority host.
    pub environment: String,
    /// The family id (`"1"`) when the application belongs to the Microsoft first-party family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_id: Option<String>,
    /// Fields this library does not know, in their original order, when the entity was
    /// deserialized through serde. (A [`TokenCache`](super::TokenCache) keeps the unknown
    /// fields it reads as their original text instead, so that they are written back
    /// unchanged.)
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Fields a cache document held that this library does not know: their original text.
    #[serde(skip)]
    pub(crate) raw_extra: RawMembers,
}

impl AccessTokenEntity {
    /// The key MSAL Python files this entry under; for a proof-of-possession token, the key
    /// MSAL .NET files it under, so that it sits beside the Bearer token of the same scopes.
    pub(crate) fn key(&self) -> String {
        keys::access_token_key_with_type(
            self.home_account_id.as_deref(),
            &self.environment,
            self.client_id.as_deref(),
            &self.realm,
            &self.target,
            self.ext_cache_key.as_deref(),
            &self.token_type,
        )
    }
}

impl RefreshTokenEntity {
    /// The key MSAL Python files this entry under.
    pub(crate) fn key(&self) -> String {
        keys::refresh_token_key(
            self.home_account_id.as_deref(),
            &self.environment,
            self.client_id.as_deref(),
            &self.target,
        )
    }
}

impl IdTokenEntity {
    /// The key MSAL Python files this entry under.
    pub(crate) fn key(&self) -> String {
        keys::id_token_key(
            self.home_account_id.as_deref(),
            &self.environment,
            self.client_id.as_deref(),
            &self.realm,
        )
    }
}

impl AccountEntity {
    /// The key MSAL Python files this entry under.
    pub(crate) fn key(&self) -> String {
        keys::account_key(
            self.home_account_id.as_deref(),
            &self.environment,
            &self.realm,
        )
    }
}

impl AppMetadataEntity {
    /// The key MSAL Python files this entry under.
    pub(crate) fn key(&self) -> String {
        keys::app_metadata_key(&self.environment, self.client_id.as_deref())
    }
}

const REDACTED: &str = "<redacted>";

impl fmt::Debug for AccessTokenEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenEntity")
            .field("credential_type", &self.credential_type)
            .field("secret", &REDACTED)
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("target", &self.target)
            .field("realm", &self.realm)
            .field("token_type", &self.token_type)
            .field("cached_at", &self.cached_at)
            .field("expires_on", &self.expires_on)
            .field("extended_expires_on", &self.extended_expires_on)
            .field("key_id", &self.key_id)
            .field("ext_cache_key", &self.ext_cache_key)
            .field("refresh_on", &self.refresh_on)
            .field("user_assertion_hash", &self.user_assertion_hash)
            .field("extra", &self.extra)
            .field("raw_extra", &self.raw_extra)
            .finish()
    }
}

impl fmt::Debug for RefreshTokenEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenEntity")
            .field("credential_type", &self.credential_type)
            .field("secret", &REDACTED)
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("target", &self.target)
            .field("last_modification_time", &self.last_modification_time)
            .field("family_id", &self.family_id)
            .field("user_assertion_hash", &self.user_assertion_hash)
            .field("extra", &self.extra)
            .field("raw_extra", &self.raw_extra)
            .finish()
    }
}

impl fmt::Debug for IdTokenEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenEntity")
            .field("credential_type", &self.credential_type)
            .field("secret", &REDACTED)
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("realm", &self.realm)
            .field("client_id", &self.client_id)
            .field("extra", &self.extra)
            .field("raw_extra", &self.raw_extra)
            .finish()
    }
}

/// The token type of an access token entry without one.
fn bearer() -> String {
    "Bearer".to_owned()
}

/// Reads an id that other MSALs may write as `""` when absent: `null`, missing and `""` are
/// all `None`.
fn nullable_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

fn timestamp_from_f64(f: f64) -> Option<u64> {
    // Truncation toward zero is what `int()` does; the range check keeps the cast exact.
    (f.is_finite() && (0.0..1.8e19).contains(&f)).then_some(f as u64)
}

/// Reads an epoch-seconds timestamp written as a string, an integer or a float, straight from
/// the input (no intermediate JSON value). A float or a numeric string is truncated toward
/// zero, as Python's `int()`; anything negative, out of range or not a number does not fit.
struct TimestampVisitor;

impl serde::de::Visitor<'_> for TimestampVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an epoch timestamp")
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom("not an epoch timestamp"))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
        timestamp_from_f64(v).ok_or_else(|| E::custom("not an epoch timestamp"))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
        parse_timestamp_str(v).ok_or_else(|| E::custom("not an epoch timestamp"))
    }
}

/// A timestamp no lookup reads: whatever does not fit reads as 0 (the entry keeps its text).
mod unread_timestamp {
    use super::*;

    pub(super) fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    struct Lenient;

    impl serde::de::Visitor<'_> for Lenient {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON scalar")
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            Ok(u64::try_from(v).unwrap_or(0))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            Ok(timestamp_from_f64(v).unwrap_or(0))
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
            Ok(parse_timestamp_str(v).unwrap_or(0))
        }

        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<u64, E> {
            Ok(0)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<u64, E> {
            Ok(0)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<u64, E> {
            Ok(0)
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(Lenient)
    }
}

/// A timestamp written as a string (surrounding whitespace allowed).
pub(crate) fn parse_timestamp_str(s: &str) -> Option<u64> {
    let s = s.trim();
    s.parse::<u64>()
        .ok()
        .or_else(|| s.parse::<f64>().ok().and_then(timestamp_from_f64))
}

mod timestamp {
    use super::*;

    pub(super) fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(TimestampVisitor)
    }
}

mod optional_timestamp {
    use super::*;

    pub(super) fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    struct OptionalTimestamp;

    impl<'de> serde::de::Visitor<'de> for OptionalTimestamp {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an epoch timestamp or null")
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
            d.deserialize_any(TimestampVisitor).map(Some)
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_option(OptionalTimestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_are_read_leniently_and_written_as_strings() {
        let at: AccessTokenEntity = serde_json::from_value(json!({
            "credential_type": "AccessToken", "secret": "s", "home_account_id": "",
            "environment": "e", "client_id": "c", "target": "t", "realm": "r",
            "token_type": "Bearer", "cached_at": 10, "expires_on": "20",
            "extended_expires_on": 30.7, "refresh_on": null, "z": 1, "a": [1]
        }))
        .expect("fits");
        assert_eq!(
            (at.cached_at, at.expires_on, at.extended_expires_on),
            (10, 20, 30)
        );
        assert_eq!(at.home_account_id, None);
        assert_eq!(at.refresh_on, None);
        let out = serde_json::to_string(&at).expect("serializes");
        assert_eq!(
            out,
            r#"{"credential_type":"AccessToken","secret":"s","home_account_id":null,"environment":"e","client_id":"c","target":"t","realm":"r","token_type":"Bearer","cached_at":"10","expires_on":"20","extended_expires_on":"30","z":1,"a":[1]}"#
        );
    }

    #[test]
    fn wrong_types_do_not_fit() {
        let base = json!({
            "credential_type": "AccessToken", "secret": "s", "home_account_id": null,
            "environment": "e", "client_id": "c", "target": "t", "realm": "r",
            "token_type": "Bearer", "cached_at": "1", "expires_on": "2",
            "extended_expires_on": "3"
        });
        assert!(serde_json::from_value::<AccessTokenEntity>(base.clone()).is_ok());
        for (field, bad) in [
            ("expires_on", json!("soon")),
            ("expires_on", json!(-5)),
            ("expires_on", json!(null)),
            ("secret", json!(5)),
            ("home_account_id", json!(7)),
            ("key_id", json!({})),
            ("refresh_on", json!(true)),
        ] {
            let mut v = base.clone();
            v[field] = bad;
            assert!(
                serde_json::from_value::<AccessTokenEntity>(v).is_err(),
                "{field} should not fit"
            );
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let rt: RefreshTokenEntity = serde_json::from_value(json!({
            "credential_type": "RefreshToken", "secret": "rt-very-secret",
            "home_account_id": "u.t", "environment": "e", "client_id": "c", "target": "t"
        }))
        .expect("fits");
        assert!(!format!("{rt:?}").contains("very-secret"));
        let idt: IdTokenEntity = serde_json::from_value(json!({
            "credential_type": "IdToken", "secret": "idt-very-secret",
            "home_account_id": "u.t", "environment": "e", "realm": "r", "client_id": "c"
        }))
        .expect("fits");
        assert!(!format!("{idt:?}").contains("very-secret"));
    }
}

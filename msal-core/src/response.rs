//! The token endpoint's successful response, parsed leniently the way MSAL does (numbers may
//! arrive as strings), and the two tokens-within-the-token MSAL reads without validating:
//! `client_info` and the ID token's claims.

use std::fmt;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A successful token response (`access_token` and friends), with unknown fields kept.
#[derive(Clone, Default, Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub(crate) access_token: Option<String>,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub(crate) expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub(crate) ext_expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub(crate) expires_on: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub(crate) refresh_in: Option<u64>,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
    #[serde(default)]
    pub(crate) client_info: Option<String>,
    #[serde(default)]
    pub(crate) scope: Option<String>,
    /// The family id (`"1"` for the Microsoft first-party family) of a FOCI refresh token.
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) foci: Option<String>,
}

impl TokenResponse {
    /// Parses a response body that has already been checked to carry no `error`.
    pub(crate) fn from_json(body: Value) -> Result<TokenResponse> {
        let r: TokenResponse = serde_json::from_value(body).map_err(|_| {
            Error::invalid_response("the token response has fields of the wrong type")
        })?;
        if r.access_token.as_deref().is_none_or(str::is_empty) {
            return Err(Error::invalid_response(
                "the token response has no access_token",
            ));
        }
        Ok(r)
    }

    /// The scopes the response says it granted, if it says.
    pub(crate) fn scope_list(&self) -> Option<Vec<&str>> {
        self.scope
            .as_deref()
            .map(|s| s.split_whitespace().collect::<Vec<_>>())
            .filter(|v| !v.is_empty())
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_in", &self.refresh_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .field("scope", &self.scope)
            .field("foci", &self.foci)
            .finish_non_exhaustive()
    }
}

fn lenient_u64<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<u64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    })
}

fn lenient_string<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Decodes base64 in either alphabet, with or without padding (Entra uses base64url for
/// `client_info`, MSAL Python's test fixtures standard base64; MSAL accepts both).
pub(crate) fn decode_base64_any(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim().trim_end_matches('=');
    let normalised: String = trimmed
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(normalised.as_bytes())
        .ok()
}

/// The `client_info` of a response: the user's object id and home tenant id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct ClientInfo {
    pub(crate) uid: String,
    pub(crate) utid: String,
}

impl ClientInfo {
    /// Parses `client_info`; `None` when it is absent, malformed or lacks `uid`/`utid`.
    pub(crate) fn parse(raw: &str) -> Option<ClientInfo> {
        let bytes = decode_base64_any(raw)?;
        let ci: ClientInfo = serde_json::from_slice(&bytes).ok()?;
        (!ci.uid.is_empty() && !ci.utid.is_empty()).then_some(ci)
    }

    /// `uid.utid`: the home account id.
    pub(crate) fn home_account_id(&self) -> String {
        format!("{}.{}", self.uid, self.utid)
    }
}

/// Decodes the claims (the middle segment) of a JWT without validating it.
pub(crate) fn decode_jwt_claims(jwt: &str) -> Option<Map<String, Value>> {
    let mut parts = jwt.split('.');
    let (_, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let bytes = decode_base64_any(payload)?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_may_be_strings() {
        let r = TokenResponse::from_json(json!({
            "access_token": "at", "expires_in": "3599", "ext_expires_in": 3599.0,
            "refresh_in": 1800, "foci": 1, "custom": {"a": 1}
        }))
        .expect("valid");
        assert_eq!(r.expires_in, Some(3599));
        assert_eq!(r.ext_expires_in, Some(3599));
        assert_eq!(r.refresh_in, Some(1800));
        assert_eq!(r.foci.as_deref(), Some("1"));
        assert!(!format!("{r:?}").contains("\"at\""));
    }

    #[test]
    fn missing_access_token_is_an_invalid_response() {
        let e = TokenResponse::from_json(json!({"token_type": "Bearer"})).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidResponse);
        assert!(TokenResponse::from_json(json!({"access_token": 5})).is_err());
    }

    #[test]
    fn client_info_in_both_alphabets() {
        // {"uid":"u>?","utid":"t"} has '+'/'/' style characters in standard base64.
        let raw = base64::engine::general_purpose::STANDARD.encode(br#"{"uid":"u>?~","utid":"t"}"#);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"uid":"u>?~","utid":"t"}"#);
        assert_eq!(ClientInfo::parse(&raw), ClientInfo::parse(&url));
        let ci = ClientInfo::parse(&url).expect("valid");
        assert_eq!(ci.home_account_id(), "u>?~.t");
        assert!(ClientInfo::parse("not base64!").is_none());
        assert!(ClientInfo::parse("e30").is_none()); // {}
    }

    #[test]
    fn jwt_claims_without_validation() {
        let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"s","exp":1}"#);
        let c = decode_jwt_claims(&format!("h.{p}.sig")).expect("claims");
        assert_eq!(c["sub"], "s");
        assert!(decode_jwt_claims("onlyone").is_none());
        assert!(decode_jwt_claims("a.b.c.d").is_none());
        assert!(decode_jwt_claims("a.!!!.c").is_none());
    }
}

//! The token endpoint's successful response, parsed leniently the way MSAL does (numbers may
//! arrive as strings), `client_info`, and the ID token's claims with the checks of
//! [`check_id_token`].
//!
//! Lifetimes (`expires_in`, `ext_expires_in`, `refresh_in`, and the absolute `expires_on` some
//! managed identity endpoints send) follow MSAL Python's `int(...)` in `msal/token_cache.py`
//! `add()`: a number or a numeric string is used (a float is truncated toward zero), a negative
//! lifetime yields an already expired token, and anything else (`"soon"`, `{}`, `true`) is an
//! [`ErrorKind::InvalidResponse`] before anything is
//! cached. Unlike Python's unbounded integers, values saturate at the ends of `i64` and a
//! lifetime is clamped to [`MAX_TOKEN_LIFETIME`](crate::MAX_TOKEN_LIFETIME) where it
//! is applied, so no arithmetic on them can overflow.

use std::fmt;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};

/// A successful token response (`access_token` and friends), with unknown fields kept.
#[derive(Clone, Default, Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub(crate) access_token: Option<String>,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
    /// Seconds from now (negative: already expired); checked by [`TokenResponse::from_json`].
    #[serde(default, deserialize_with = "wire_seconds")]
    pub(crate) expires_in: Option<WireSeconds>,
    #[serde(default, deserialize_with = "wire_seconds")]
    pub(crate) ext_expires_in: Option<WireSeconds>,
    /// An absolute expiry in epoch seconds (some managed identity endpoints).
    #[serde(default, deserialize_with = "wire_seconds")]
    pub(crate) expires_on: Option<WireSeconds>,
    #[serde(default, deserialize_with = "wire_seconds")]
    pub(crate) refresh_in: Option<WireSeconds>,
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
    /// ID token claims made up by the client where the answer has no ID token (Cloud Shell,
    /// as msal/cloudshell.py does); used for the account instead of the ID token's.
    #[serde(skip)]
    pub(crate) synthetic_id_token_claims: Option<Map<String, Value>>,
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
        for (name, v) in [
            ("expires_in", r.expires_in),
            ("ext_expires_in", r.ext_expires_in),
            ("expires_on", r.expires_on),
            ("refresh_in", r.refresh_in),
        ] {
            if v == Some(WireSeconds::Invalid) {
                return Err(Error::invalid_response(format!(
                    "the token response's {name} is not a number"
                )));
            }
        }
        Ok(r)
    }

    /// `expires_in` (validated by [`TokenResponse::from_json`]).
    pub(crate) fn expires_in(&self) -> Option<i64> {
        self.expires_in.and_then(WireSeconds::value)
    }

    /// `ext_expires_in` (validated).
    pub(crate) fn ext_expires_in(&self) -> Option<i64> {
        self.ext_expires_in.and_then(WireSeconds::value)
    }

    /// `expires_on` (validated).
    pub(crate) fn expires_on(&self) -> Option<i64> {
        self.expires_on.and_then(WireSeconds::value)
    }

    /// `refresh_in` (validated).
    pub(crate) fn refresh_in(&self) -> Option<i64> {
        self.refresh_in.and_then(WireSeconds::value)
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

/// A number of seconds as the wire sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WireSeconds {
    /// A number, or a numeric string, truncated toward zero and saturated to `i64`.
    Value(i64),
    /// Present but not a number (`"soon"`, `{}`, `true`, `"NaN"`).
    Invalid,
}

impl WireSeconds {
    /// The number, if it is one.
    pub(crate) fn value(self) -> Option<i64> {
        match self {
            WireSeconds::Value(v) => Some(v),
            WireSeconds::Invalid => None,
        }
    }

    /// Reads a JSON value the way Python's `int()` reads a number or a numeric string (a
    /// float string such as `"3599.0"` is accepted too); `null` is absent.
    pub(crate) fn from_json(v: &Value) -> Option<WireSeconds> {
        Some(match v {
            Value::Null => return None,
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => WireSeconds::Value(i),
                (None, Some(_), _) => WireSeconds::Value(i64::MAX),
                (None, None, Some(f)) => saturate_f64(f),
                _ => WireSeconds::Invalid,
            },
            Value::String(s) => parse_seconds_str(s),
            _ => WireSeconds::Invalid,
        })
    }
}

/// Truncates a float toward zero, saturating at the ends of `i64`; not finite is invalid.
fn saturate_f64(f: f64) -> WireSeconds {
    if f.is_finite() {
        // `as` saturates at the ends of the integer type and truncates toward zero.
        WireSeconds::Value(f as i64)
    } else {
        WireSeconds::Invalid
    }
}

fn parse_seconds_str(s: &str) -> WireSeconds {
    let t = s.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // An integer of any length, as Python's `int()`; saturated at the ends of `i64`.
        return WireSeconds::Value(t.parse::<i64>().unwrap_or(if t.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        }));
    }
    match t.parse::<f64>() {
        Ok(f) => saturate_f64(f),
        Err(_) => WireSeconds::Invalid,
    }
}

fn wire_seconds<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<WireSeconds>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.as_ref().and_then(WireSeconds::from_json))
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

/// Checks an ID token that came from the token endpoint and returns its claims, before
/// anything from the response is cached. Beyond MSAL Python (which stopped validating ID
/// tokens in 1.38; `msal/oauth2cli/oidc.py` `decode_id_token` keeps the checks), following
/// OpenID Connect Core 1.0 section 3.1.3.7:
///
/// - the token is a JWT whose payload is a JSON object (as Python's `decode_id_token`);
/// - `aud` (a string or an array) contains `client_id` (ASCII case-insensitively when the
///   client id is a GUID, as Entra ID client ids are; exactly otherwise);
/// - `iss` equals `issuer`, the issuer of the authority's discovery document, when it is
///   known, with Entra ID's `{tenantid}` template filled from the token's `tid`.
///
/// Not verified: the signature (the token came over TLS straight from the token endpoint,
/// which section 3.1.3.7 item 6 allows in place of it), `exp`/`iat`/`nbf` (as MSAL Python,
/// a wrong clock must not stop sign-ins), `azp`, `at_hash`. The nonce and `auth_time` are
/// checked by the authorization code flow, the only grant that sends them.
pub(crate) fn check_id_token(
    id_token: &str,
    client_id: &str,
    issuer: Option<&str>,
) -> Result<Map<String, Value>> {
    let invalid = |message: &str| Error::new(ErrorKind::Validation, message);
    let claims = decode_jwt_claims(id_token).ok_or_else(|| {
        invalid("the ID token is not a JWT with a JSON object of claims: nothing was cached")
    })?;
    let guid = is_guid(client_id);
    let matches = |aud: &Value| {
        aud.as_str()
            .is_some_and(|a| a == client_id || (guid && a.eq_ignore_ascii_case(client_id)))
    };
    let aud_ok = match claims.get("aud") {
        Some(Value::Array(list)) => list.iter().any(matches),
        Some(a) => matches(a),
        None => false,
    };
    if !aud_ok {
        return Err(invalid(
            "the ID token's aud does not contain this application's client id: it was not issued for this application, and nothing was cached",
        ));
    }
    if let Some(expected) = issuer.filter(|i| !i.is_empty()) {
        let iss = claims.get("iss").and_then(Value::as_str);
        let tid = claims.get("tid").and_then(Value::as_str);
        let ok = match (iss, expected.contains(TENANT_TEMPLATE)) {
            (None, _) => false,
            (Some(iss), false) => iss == expected,
            (Some(iss), true) => tid
                .filter(|t| !t.is_empty())
                .is_some_and(|t| iss == expected.replace(TENANT_TEMPLATE, t)),
        };
        if !ok {
            return Err(invalid(
                "the ID token's iss is not the authority's issuer: nothing was cached",
            ));
        }
    }
    Ok(claims)
}

/// The placeholder of Entra ID's multi-tenant issuer
/// (`https://login.microsoftonline.com/{tenantid}/v2.0`).
const TENANT_TEMPLATE: &str = "{tenantid}";

/// `8-4-4-4-12` hex digits.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
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
        assert_eq!(r.expires_in(), Some(3599));
        assert_eq!(r.ext_expires_in(), Some(3599));
        assert_eq!(r.refresh_in(), Some(1800));
        assert_eq!(r.foci.as_deref(), Some("1"));
        assert!(!format!("{r:?}").contains("\"at\""));
    }

    #[test]
    fn lifetimes_saturate_and_non_numbers_are_errors() {
        let secs = |v: Value| WireSeconds::from_json(&v);
        assert_eq!(secs(json!(3599)), Some(WireSeconds::Value(3599)));
        assert_eq!(secs(json!("3599")), Some(WireSeconds::Value(3599)));
        assert_eq!(secs(json!(" 3599.9 ")), Some(WireSeconds::Value(3599)));
        assert_eq!(secs(json!(-1)), Some(WireSeconds::Value(-1)));
        assert_eq!(secs(json!("-1")), Some(WireSeconds::Value(-1)));
        assert_eq!(secs(json!(1e300)), Some(WireSeconds::Value(i64::MAX)));
        assert_eq!(secs(json!(-1e300)), Some(WireSeconds::Value(i64::MIN)));
        assert_eq!(secs(json!(u64::MAX)), Some(WireSeconds::Value(i64::MAX)));
        assert_eq!(
            secs(json!("18446744073709551615")),
            Some(WireSeconds::Value(i64::MAX))
        );
        assert_eq!(
            secs(json!("-99999999999999999999999999")),
            Some(WireSeconds::Value(i64::MIN))
        );
        assert_eq!(secs(json!("1e300")), Some(WireSeconds::Value(i64::MAX)));
        assert_eq!(secs(json!(null)), None);
        for bad in [
            json!("soon"),
            json!(""),
            json!("NaN"),
            json!("inf"),
            json!({}),
            json!([]),
            json!(true),
        ] {
            assert_eq!(secs(bad.clone()), Some(WireSeconds::Invalid), "{bad}");
            for field in ["expires_in", "ext_expires_in", "expires_on", "refresh_in"] {
                let e = TokenResponse::from_json(json!({"access_token": "at", field: bad}))
                    .unwrap_err();
                assert_eq!(e.kind(), crate::ErrorKind::InvalidResponse);
                assert!(e.to_string().contains(field), "{e}");
            }
        }
    }

    fn jwt(claims: Value) -> String {
        let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.",
            enc(br#"{"alg":"none"}"#),
            enc(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn id_token_audience_and_issuer() {
        const CID: &str = "5e6a1c3d-0b1f-4f27-9a1e-7c3b2d4e5f60";
        const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let tid = "f645ad92-e38d-4d1a-b510-d1b09a74a8ca";
        let iss = format!("https://login.microsoftonline.com/{tid}/v2.0");
        let ok = jwt(json!({"aud": CID, "iss": iss, "tid": tid}));
        assert!(check_id_token(&ok, CID, Some(TEMPLATE)).is_ok());
        assert!(check_id_token(&ok, CID, Some(&iss)).is_ok());
        assert!(check_id_token(&ok, CID, None).is_ok());
        assert!(check_id_token(&ok, &CID.to_ascii_uppercase(), Some(&iss)).is_ok());
        let list = jwt(json!({"aud": ["other", CID], "iss": iss, "tid": tid}));
        assert!(check_id_token(&list, CID, Some(TEMPLATE)).is_ok());
        let not_guid = jwt(json!({"aud": "my-app", "iss": "https://idp.example"}));
        assert!(check_id_token(&not_guid, "my-app", Some("https://idp.example")).is_ok());
        assert!(check_id_token(&not_guid, "MY-APP", Some("https://idp.example")).is_err());
        assert!(check_id_token(&not_guid, "my-app", Some("https://idp.example/")).is_err());

        let bad = [
            (jwt(json!({"aud": "other", "iss": iss, "tid": tid})), "aud"),
            (
                jwt(json!({"aud": ["a", "b"], "iss": iss, "tid": tid})),
                "aud",
            ),
            (jwt(json!({"iss": iss, "tid": tid})), "aud"),
            (jwt(json!({"aud": 5, "iss": iss, "tid": tid})), "aud"),
            (jwt(json!({"aud": CID, "tid": tid})), "iss"),
            (
                jwt(json!({"aud": CID, "iss": "https://evil.example/x/v2.0", "tid": tid})),
                "iss",
            ),
            // The template is filled with the token's own tid: another tenant's issuer fails.
            (
                jwt(json!({"aud": CID, "iss": iss, "tid": "0287f963-2d72-4363-9e3a-5705c5b0f031"})),
                "iss",
            ),
            (jwt(json!({"aud": CID, "iss": iss})), "iss"),
            ("not a jwt".to_owned(), "JWT"),
            (jwt(json!([1, 2])), "JWT"),
        ];
        for (token, what) in bad {
            let e = check_id_token(&token, CID, Some(TEMPLATE)).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Validation);
            assert!(e.to_string().contains(what), "{e}");
        }
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

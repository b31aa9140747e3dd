//! Claims requests: a claims challenge merged with the app's client capabilities
//! (msal/application.py `_merge_claims_challenge_and_capabilities`), serialised the way MSAL Python's `json.dumps` does so the wire bytes match.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Checks that `claims` is a JSON object (MSAL rejects anything else).
pub(crate) fn parse_claims(claims: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(claims) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Error::invalid_input(
            "the claims challenge is not a JSON object",
        )),
    }
}

/// The `claims` to send: the challenge unchanged when there are no capabilities, else the
/// challenge (or `{}`) with `access_token.xms_cc.values` set to the capabilities.
pub(crate) fn merge_claims_and_capabilities(
    capabilities: &[String],
    claims: Option<&str>,
) -> Result<Option<String>> {
    if let Some(c) = claims {
        parse_claims(c)?;
    }
    if capabilities.is_empty() {
        return Ok(claims.map(str::to_owned));
    }
    let mut obj = match claims {
        Some(c) => parse_claims(c)?,
        None => Map::new(),
    };
    let at = obj
        .entry("access_token")
        .or_insert_with(|| Value::Object(Map::new()));
    if !at.is_object() {
        *at = Value::Object(Map::new());
    }
    if let Value::Object(at) = at {
        let mut cc = Map::new();
        cc.insert(
            "values".to_owned(),
            Value::Array(capabilities.iter().cloned().map(Value::String).collect()),
        );
        at.insert("xms_cc".to_owned(), Value::Object(cc));
    }
    Ok(Some(python_json_dumps(&Value::Object(obj))))
}

/// The `claims` to send when forwarded client claims are given: `claims` (the challenge and
/// capabilities, already merged) deep-merged with `forwarded`, whose values win (MSAL Python's
/// `_merge_claims`, msal/token_cache.py; MSAL .NET's `ClaimsHelper.MergeClaimsObjects`). Either
/// side absent: the other unchanged.
pub(crate) fn merge_forwarded_claims(
    claims: Option<String>,
    forwarded: Option<&str>,
) -> Result<Option<String>> {
    let Some(f) = forwarded else {
        return Ok(claims);
    };
    let forwarded_obj = serde_json::from_str::<Value>(f)
        .ok()
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .ok_or_else(|| Error::invalid_input("the forwarded client claims are not a JSON object"))?;
    let Some(c) = claims.filter(|c| !c.is_empty()) else {
        return Ok(Some(f.to_owned()));
    };
    let mut merged = parse_claims(&c)?;
    deep_merge(&mut merged, forwarded_obj);
    Ok(Some(python_json_dumps(&Value::Object(merged))))
}

/// Merges `b` into `a`: objects recursively, anything else replaced by `b`'s value.
fn deep_merge(a: &mut Map<String, Value>, b: Map<String, Value>) {
    for (k, v) in b {
        match (a.get_mut(&k), v) {
            (Some(Value::Object(left)), Value::Object(right)) => deep_merge(left, right),
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
}

/// `json.dumps(value)` with Python's defaults: `", "` and `": "` separators, non-ASCII escaped.
pub(crate) fn python_json_dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, v);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(out, k);
                out.push_str(": ");
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_claims_deep_merge_over_the_others_and_win() {
        let forwarded = r#"{"access_token":{"xms_cc":{"values":["X"]},"nbf":{"value":"2"}}}"#;
        // Alone: sent as given, byte for byte.
        assert_eq!(
            merge_forwarded_claims(None, Some(forwarded))
                .expect("ok")
                .as_deref(),
            Some(forwarded)
        );
        // Merged: nested objects merged, the forwarded value winning, Python's json.dumps.
        let merged = merge_forwarded_claims(
            Some(r#"{"access_token":{"xms_cc":{"values":["CP1"]}},"id_token":{"a":1}}"#.into()),
            Some(forwarded),
        )
        .expect("ok")
        .expect("claims");
        assert_eq!(
            merged,
            r#"{"access_token": {"xms_cc": {"values": ["X"]}, "nbf": {"value": "2"}}, "id_token": {"a": 1}}"#
        );
        assert_eq!(
            merge_forwarded_claims(Some("{}".into()), None)
                .expect("ok")
                .as_deref(),
            Some("{}")
        );
        assert!(merge_forwarded_claims(None, Some("[1]")).is_err());
    }

    #[test]
    fn capabilities_merge_like_msal_python() {
        let caps = vec!["CP1".to_owned()];
        assert_eq!(
            merge_claims_and_capabilities(&caps, None)
                .expect("ok")
                .as_deref(),
            Some(r#"{"access_token": {"xms_cc": {"values": ["CP1"]}}}"#)
        );
        let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1563308371"}}}"#;
        assert_eq!(
            merge_claims_and_capabilities(&caps, Some(challenge))
                .expect("ok")
                .as_deref(),
            Some(
                r#"{"access_token": {"nbf": {"essential": true, "value": "1563308371"}, "xms_cc": {"values": ["CP1"]}}}"#
            )
        );
        // Without capabilities the challenge goes out byte for byte.
        assert_eq!(
            merge_claims_and_capabilities(&[], Some(challenge))
                .expect("ok")
                .as_deref(),
            Some(challenge)
        );
        assert!(merge_claims_and_capabilities(&[], Some("[1]")).is_err());
        assert!(merge_claims_and_capabilities(&caps, Some("{")).is_err());
    }

    #[test]
    fn escapes_like_python() {
        let v = serde_json::json!({"a": "é\"\n\u{1F600}"});
        assert_eq!(python_json_dumps(&v), r#"{"a": "\u00e9\"\n\ud83d\ude00"}"#);
    }
}

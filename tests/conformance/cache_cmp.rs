//! Comparing the serialized caches of MSAL Python and msal-rs after the same call: the same
//! sections, keys and entry fields, with equal values except the per-run ones.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Fields whose values differ between runs (tokens, timestamps): compared by type only.
const VOLATILE_FIELDS: [&str; 6] = [
    "secret",
    "cached_at",
    "expires_on",
    "extended_expires_on",
    "last_modification_time",
    "refresh_on",
];

/// Timestamp fields: both sides must store them as strings of digits (msal/token_cache.py writes them with `str(int(...))`).
const TIMESTAMP_FIELDS: [&str; 5] = [
    "cached_at",
    "expires_on",
    "extended_expires_on",
    "last_modification_time",
    "refresh_on",
];

/// Fields msal-rs adds (MSAL.NET's OBO partition key); allowed on its side only.
const RUST_ONLY_FIELDS: [&str; 1] = ["user_assertion_hash"];

fn parse(side: &str, text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(format!("{side}'s cache is not a JSON object")),
        Err(e) => Err(format!("{side}'s cache is not JSON: {e}")),
    }
}

fn names(m: &Map<String, Value>) -> BTreeSet<&str> {
    m.keys().map(String::as_str).collect()
}

fn only_in(what: &str, p: &BTreeSet<&str>, r: &BTreeSet<&str>, d: &mut Vec<String>) {
    for k in p.difference(r) {
        d.push(format!("{what} only in python's cache: {k}"));
    }
    for k in r.difference(p) {
        d.push(format!("{what} only in rust's cache: {k}"));
    }
}

fn is_digits(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every schema difference between two serialized caches, one line each.
pub(crate) fn compare_caches(py: &str, rs: &str) -> Vec<String> {
    let (p, r) = match (parse("python", py), parse("rust", rs)) {
        (Ok(p), Ok(r)) => (p, r),
        (Err(e), _) | (_, Err(e)) => return vec![e],
    };
    let mut d = Vec::new();
    only_in("section", &names(&p), &names(&r), &mut d);
    for (section, pv) in &p {
        let Some(rv) = r.get(section) else { continue };
        let (Some(ps), Some(rs)) = (pv.as_object(), rv.as_object()) else {
            if pv != rv {
                d.push(format!("section {section}: not both objects"));
            }
            continue;
        };
        only_in(&format!("{section} key"), &names(ps), &names(rs), &mut d);
        for (key, pe) in ps {
            let Some(re) = rs.get(key) else { continue };
            compare_entry(&format!("{section}[{key}]"), pe, re, &mut d);
        }
    }
    d
}

fn compare_entry(at: &str, pe: &Value, re: &Value, d: &mut Vec<String>) {
    let (Some(pe), Some(re)) = (pe.as_object(), re.as_object()) else {
        d.push(format!("{at}: not both objects"));
        return;
    };
    let pn = names(pe);
    let rn: BTreeSet<&str> = names(re)
        .into_iter()
        .filter(|k| !RUST_ONLY_FIELDS.contains(k))
        .collect();
    only_in(&format!("{at} field"), &pn, &rn, d);
    for (field, pv) in pe {
        let Some(rv) = re.get(field) else { continue };
        if TIMESTAMP_FIELDS.contains(&field.as_str()) {
            if !is_digits(pv) || !is_digits(rv) {
                d.push(format!(
                    "{at}.{field}: expected a string of digits: python {pv} | rust {rv}"
                ));
            }
        } else if VOLATILE_FIELDS.contains(&field.as_str()) {
            if json_type(pv) != json_type(rv) {
                d.push(format!(
                    "{at}.{field}: python has a {} | rust a {}",
                    json_type(pv),
                    json_type(rv)
                ));
            }
        } else if pv != rv {
            d.push(format!("{at}.{field}: python {pv} | rust {rv}"));
        }
    }
}

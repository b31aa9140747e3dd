//! Checks of the harness itself: two synthetic token POSTs (or caches) that differ only where
//! MSAL Python and msal-rs legitimately differ must compare equal, and each mutation of one of
//! them must be reported. A comparison that stops catching differences fails the suite.

use base64::Engine as _;
use msal_tests::emulator::RecordedRequest;
use serde_json::{Value, json};

use crate::cache_cmp::compare_caches;
use crate::wire::{
    USER_FLOW_VOLATILE_FIELDS, compare_auth_uris, compare_discovery, compare_token_posts,
    compare_token_posts_with,
};

fn jwt(header: &Value, claims: &Value) -> String {
    let b = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(v).unwrap_or_default())
    };
    format!("{}.{}.c2lnbmF0dXJl", b(header), b(claims))
}

fn assertion_parts(iat: f64, jti: &str) -> (Value, Value) {
    (
        json!({"alg": "PS256", "typ": "JWT", "x5t#S256": "b4HxkRdYyYzxsHo0Q1k8yMZHn7sV6vR2NRdl0x5a0hA=",
               "x5c": ["MIIBszCCAVmgAwIBAgIU\nAbCdEf=="]}),
        json!({"aud": "https://login.microsoftonline.com/f645ad92-e38d-4d1a-b510-d1b09a74a8ca/oauth2/v2.0/token",
               "iss": "c3a7e1f0-2b4d-4c6e-8a9b-0d1e2f3a4b5c", "sub": "c3a7e1f0-2b4d-4c6e-8a9b-0d1e2f3a4b5c",
               "exp": iat + 600.0, "iat": iat, "jti": jti}),
    )
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A token POST as one side would send it; `python` picks the legitimately differing parts.
fn token_post(python: bool, assertion: &str) -> RecordedRequest {
    let (sku, corr, ua) = if python {
        (
            "MSAL.Python",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "python-requests/2.34.2",
        )
    } else {
        (
            "MSAL.Rust",
            "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "reqwest",
        )
    };
    let mut headers = pairs(&[
        ("host", "login.microsoftonline.com"),
        ("user-agent", ua),
        ("accept", "application/json"),
        ("x-client-sku", sku),
        ("x-client-ver", if python { "1.39.0" } else { "0.1.0" }),
        ("x-client-os", "linux"),
        ("x-ms-lib-capability", "retry-after, h429"),
        ("client-request-id", corr),
        ("x-client-current-telemetry", "4|730,2|"),
        ("x-client-last-telemetry", "4|0|||"),
        ("content-type", "application/x-www-form-urlencoded"),
        ("content-length", if python { "1200" } else { "1201" }),
    ]);
    if python {
        headers.push(("accept-encoding".into(), "gzip, deflate".into()));
        headers.push(("connection".into(), "keep-alive".into()));
    }
    RecordedRequest {
        seq: 1,
        method: "POST".into(),
        host: "login.microsoftonline.com".into(),
        path: "/f645ad92-e38d-4d1a-b510-d1b09a74a8ca/oauth2/v2.0/token".into(),
        query: Vec::new(),
        headers,
        form: pairs(&[
            ("client_id", "c3a7e1f0-2b4d-4c6e-8a9b-0d1e2f3a4b5c"),
            ("grant_type", "client_credentials"),
            ("client_assertion", assertion),
            ("client_info", "1"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("scope", "https://graph.microsoft.com/.default"),
        ]),
        body: String::new(),
        status: 200,
        source: None,
    }
}

fn discovery_get(path: &str) -> RecordedRequest {
    RecordedRequest {
        seq: 0,
        method: "GET".into(),
        host: "login.microsoftonline.com".into(),
        path: path.into(),
        query: Vec::new(),
        headers: Vec::new(),
        form: Vec::new(),
        body: String::new(),
        status: 200,
        source: None,
    }
}

fn set_form(r: &mut RecordedRequest, name: &str, value: &str) {
    if let Some(slot) = r.form.iter_mut().find(|(k, _)| k == name) {
        slot.1 = value.into();
    }
}

fn set_header(r: &mut RecordedRequest, name: &str, value: &str) {
    if let Some(slot) = r.headers.iter_mut().find(|(k, _)| k == name) {
        slot.1 = value.into();
    }
}

/// Applies a mutation to the JWT parts; `None` when `mutation` is not a JWT mutation.
fn mutate_jwt(mutation: &str, h: &mut Value, c: &mut Value) -> Option<()> {
    match mutation {
        "jwt_alg" => h["alg"] = json!("RS256"),
        "jwt_thumbprint_kind" => {
            let t = h.as_object_mut()?.remove("x5t#S256")?;
            h["x5t"] = t;
        }
        "jwt_x5c" => h["x5c"] = json!(["MIIBszCCAVmgAwIBAgIUAbCdEf=="]),
        "jwt_header_extra" => h["kid"] = json!("k1"),
        "jwt_int_times" => {
            c["iat"] = json!(1_700_000_000_u64);
            c["exp"] = json!(1_700_000_600_u64);
        }
        "jwt_lifetime" => c["exp"] = json!(c["iat"].as_f64()? + 300.0),
        "jwt_aud" => c["aud"] = json!("https://login.microsoftonline.com/common/oauth2/v2.0/token"),
        "jwt_jti" => c["jti"] = json!("not-a-uuid"),
        "jwt_extra_claim" => c["nbf"] = json!(c["iat"].clone()),
        _ => return None,
    }
    Some(())
}

/// Differences the token-POST comparison reports after `mutation` of msal-rs's side.
fn token_post_diffs(mutation: &str) -> anyhow::Result<Vec<String>> {
    let (ph, pc) = assertion_parts(
        1_795_461_581.471_985_3,
        "6ec0bd7f-11c0-43da-975e-2a8ad9ebae0b",
    );
    let (mut rh, mut rc) =
        assertion_parts(1_795_461_590.25, "9b2f7e9e-3d0a-4f4e-8c1e-0a2b3c4d5e6f");
    let jwt_mutated = mutate_jwt(mutation, &mut rh, &mut rc).is_some();
    let py = token_post(true, &jwt(&ph, &pc));
    let mut rs = token_post(false, &jwt(&rh, &rc));
    if !jwt_mutated {
        match mutation {
            "none" => {}
            "form_order" => rs.form.swap(0, 1),
            "form_value" => set_form(
                &mut rs,
                "scope",
                "https://graph.microsoft.com/.default offline_access",
            ),
            "form_missing" => rs.form.retain(|(k, _)| k != "client_info"),
            "form_extra" => rs.form.push(("claims".into(), "{}".into())),
            "header_missing" => rs.headers.retain(|(k, _)| k != "x-client-os"),
            "header_value" => set_header(&mut rs, "x-client-current-telemetry", "4|730,1|"),
            "header_extra" => rs.headers.push(("x-anchormailbox".into(), "upn:a".into())),
            "header_sku_missing" => rs.headers.retain(|(k, _)| k != "x-client-sku"),
            "correlation_id_not_uuid" => set_header(&mut rs, "client-request-id", "abc"),
            "endpoint" => rs.path = "/contoso.onmicrosoft.com/oauth2/v2.0/token".into(),
            other => anyhow::bail!("unknown token-POST mutation {other:?}"),
        }
    }
    Ok(compare_token_posts(&py, &rs))
}

fn py_cache() -> Value {
    json!({
        "AccessToken": {
            "-login.microsoftonline.com-accesstoken-cid-f645ad92-e38d-4d1a-b510-d1b09a74a8ca-https://graph.microsoft.com/.default": {
                "credential_type": "AccessToken", "secret": "at-python", "home_account_id": null,
                "environment": "login.microsoftonline.com", "client_id": "cid",
                "target": "https://graph.microsoft.com/.default",
                "realm": "f645ad92-e38d-4d1a-b510-d1b09a74a8ca", "token_type": "Bearer",
                "cached_at": "1795460536", "expires_on": "1795464135", "extended_expires_on": "1795464135"
            }
        },
        "AppMetadata": {
            "appmetadata-login.microsoftonline.com-cid": {"client_id": "cid", "environment": "login.microsoftonline.com"}
        }
    })
}

const AT_KEY: &str = "-login.microsoftonline.com-accesstoken-cid-f645ad92-e38d-4d1a-b510-d1b09a74a8ca-https://graph.microsoft.com/.default";

/// Differences the cache comparison reports after `mutation` of msal-rs's cache.
fn cache_diffs(mutation: &str) -> anyhow::Result<Vec<String>> {
    let py = py_cache();
    let mut rs = py_cache();
    // What legitimately differs: token, timestamps, and msal-rs's OBO partition key.
    {
        let at = &mut rs["AccessToken"][AT_KEY];
        at["secret"] = json!("at-rust");
        at["cached_at"] = json!("1795460600");
        at["expires_on"] = json!("1795464199");
        at["extended_expires_on"] = json!("1795464199");
        at["user_assertion_hash"] = json!("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }
    match mutation {
        "cache_none" => {}
        "cache_field_value" => {
            rs["AccessToken"][AT_KEY]["realm"] = json!("contoso.onmicrosoft.com")
        }
        "cache_extra_field" => rs["AccessToken"][AT_KEY]["refresh_on"] = json!("1795462000"),
        "cache_missing_field" => {
            rs["AccessToken"][AT_KEY]
                .as_object_mut()
                .map(|o| o.remove("token_type"));
        }
        "cache_timestamp_type" => {
            rs["AccessToken"][AT_KEY]["expires_on"] = json!(1_795_464_199_u64)
        }
        "cache_null_vs_empty" => rs["AccessToken"][AT_KEY]["home_account_id"] = json!(""),
        "cache_key" => {
            let obj = rs["AppMetadata"].as_object_mut();
            if let Some(o) = obj {
                let v = o.remove("appmetadata-login.microsoftonline.com-cid");
                o.insert(
                    "appmetadata-login.microsoftonline.com-CID".into(),
                    v.unwrap_or(Value::Null),
                );
            }
        }
        "cache_extra_section" => rs["Account"] = json!({}),
        other => anyhow::bail!("unknown cache mutation {other:?}"),
    }
    Ok(compare_caches(&py.to_string(), &rs.to_string()))
}

fn discovery_diffs(mutation: &str) -> anyhow::Result<Vec<String>> {
    let doc = "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration";
    let py = vec![discovery_get(doc)];
    let mut rs = vec![discovery_get(doc), discovery_get(doc)];
    match mutation {
        "discovery_none" => {}
        "discovery_extra" => rs.push(discovery_get("/common/discovery/instance")),
        "discovery_path" => {
            rs = vec![discovery_get(
                "/contoso.onmicrosoft.com/.well-known/openid-configuration",
            )]
        }
        other => anyhow::bail!("unknown discovery mutation {other:?}"),
    }
    Ok(compare_discovery(&py, &rs))
}

/// An authorization URL as one side would build it (`python` picks the random values).
fn auth_uri(python: bool, params: &[(&str, &str)]) -> String {
    let (state, nonce, challenge) = if python {
        (
            "APTj552uBkalMmul1pzaHw",
            "b160d6fe7432448598faf4c1ffed9a6b15398194363aab1ba668ee7e09336f74",
            "ZPH4CekK2EMG4eP9l4gr970JeOA9afoS-zgKJDl4dYw",
        )
    } else {
        (
            "Q6ssXFQFhiVHIHIrrSZO0g",
            "01f242ac90cd51d3f8d36fec153dfa757ad0bd9b75cb804ba1945670e930e263",
            "yYHMNPBUIbDGrK3wOMEmfFNh9zUzMz34zCsbwfHQZ_A",
        )
    };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        let v = match *k {
            "state" => state,
            "nonce" => nonce,
            "code_challenge" => challenge,
            _ => v,
        };
        q.append_pair(k, v);
    }
    format!(
        "https://login.microsoftonline.com/f645ad92-e38d-4d1a-b510-d1b09a74a8ca/oauth2/v2.0/authorize?{}",
        q.finish()
    )
}

/// Differences the authorization-URL comparison reports after `mutation` of msal-rs's URL.
fn auth_uri_diffs(mutation: &str) -> anyhow::Result<Vec<String>> {
    let mut params = vec![
        ("client_id", "0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5"),
        ("response_type", "code"),
        ("redirect_uri", "http://localhost"),
        (
            "scope",
            "https://graph.microsoft.com/User.Read offline_access openid profile",
        ),
        ("state", ""),
        ("code_challenge", ""),
        ("code_challenge_method", "S256"),
        ("nonce", ""),
        ("client_info", "1"),
        ("login_hint", "alice@contoso.onmicrosoft.com"),
        ("X-AnchorMailbox", "UPN:alice@contoso.onmicrosoft.com"),
    ];
    let py = auth_uri(true, &params);
    let mut rs = auth_uri(false, &params);
    match mutation {
        "auth_uri_none" => {}
        "auth_uri_order" => {
            params.swap(0, 1);
            rs = auth_uri(false, &params);
        }
        "auth_uri_value" => {
            params[2].1 = "http://localhost:8400";
            rs = auth_uri(false, &params);
        }
        "auth_uri_missing" => {
            params.retain(|(k, _)| *k != "X-AnchorMailbox");
            rs = auth_uri(false, &params);
        }
        "auth_uri_encoding" => {
            rs = rs.replace("User.Read+offline_access", "User.Read%20offline_access")
        }
        "auth_uri_state_shape" => rs = rs.replace("Q6ssXFQFhiVHIHIrrSZO0g", "short"),
        "auth_uri_nonce_not_hashed" => {
            rs = rs.replace(
                "01f242ac90cd51d3f8d36fec153dfa757ad0bd9b75cb804ba1945670e930e263",
                "Q6ssXFQFhiVHIHIrrSZO0g",
            )
        }
        "auth_uri_endpoint" => rs = rs.replace("/oauth2/v2.0/authorize", "/oauth2/authorize"),
        other => anyhow::bail!("unknown authorization-URL mutation {other:?}"),
    }
    Ok(compare_auth_uris(&py, &rs))
}

/// Differences the user-flow token-POST comparison reports after `mutation`: codes, refresh
/// tokens and PKCE verifiers differ per run and are checked for presence and shape only.
fn user_post_diffs(mutation: &str) -> anyhow::Result<Vec<String>> {
    let post = |python: bool, code: &str, verifier: &str| {
        let mut r = token_post(python, "");
        r.form = pairs(&[
            ("client_id", "0c9e4a1b-6d2f-4e83-b5a7-19f0c2d3e4a5"),
            ("grant_type", "authorization_code"),
            ("client_info", "1"),
            ("code_verifier", verifier),
            ("code", code),
            ("redirect_uri", "http://localhost"),
            (
                "scope",
                "https://graph.microsoft.com/User.Read offline_access openid profile",
            ),
        ]);
        r
    };
    let py = post(
        true,
        "0.EMU3HkzrwiRRQSYpZrdyngR",
        "RXe6DwSCA.5xR--AGjX4HtmL8aaaaaaaaaaaaaaaaaa",
    );
    let rs = match mutation {
        "user_volatile_none" => post(
            false,
            "0.EMUz99ob9e6TBenwExGf3Dd",
            "p7q62At6rI-wrgg9PsdqJt459bbbbbbbbbbbbbbbbbb",
        ),
        "user_verifier_shape" => post(false, "0.EMUz99ob9e6TBenwExGf3Dd", "p7q62At6rI+wrgg9"),
        "user_code_empty" => post(false, "", "p7q62At6rI-wrgg9PsdqJt459bbbbbbbbbbbbbbbbbb"),
        other => anyhow::bail!("unknown user-flow mutation {other:?}"),
    };
    Ok(compare_token_posts_with(
        &py,
        &rs,
        &USER_FLOW_VOLATILE_FIELDS,
    ))
}

/// Runs one self-check.
pub(crate) fn run(mutation: &str, expect_diff: bool) -> anyhow::Result<()> {
    let diffs = if mutation.starts_with("auth_uri_") {
        auth_uri_diffs(mutation)?
    } else if mutation.starts_with("user_") {
        user_post_diffs(mutation)?
    } else if mutation.starts_with("cache_") {
        cache_diffs(mutation)?
    } else if mutation.starts_with("discovery_") {
        discovery_diffs(mutation)?
    } else {
        token_post_diffs(mutation)?
    };
    match (expect_diff, diffs.is_empty()) {
        (true, true) => anyhow::bail!("the mutation {mutation:?} was NOT reported as a difference"),
        (false, false) => anyhow::bail!(
            "identical inputs were reported as different:\n{}",
            diffs.join("\n")
        ),
        _ => Ok(()),
    }
}

//! Golden cache-key vectors (computed with MSAL Python 1.39) through msal-core's public key
//! functions.

use msal_core::cache::keys::{
    access_token_key, account_key, app_metadata_key, ext_cache_key, id_token_key, refresh_token_key,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::cases::read_fixture;

#[derive(Deserialize)]
struct KeyVector {
    kind: String,
    home_account_id: Option<String>,
    environment: String,
    client_id: Option<String>,
    realm: Option<String>,
    target: Option<String>,
    ext_cache_key: Option<String>,
    expected: String,
}

#[derive(Deserialize)]
struct ExtVector {
    input: Map<String, Value>,
    expected: Option<String>,
}

fn finish(what: &str, total: usize, failures: Vec<String>) -> anyhow::Result<()> {
    anyhow::ensure!(total > 0, "{what}: the fixture has no vectors");
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} of {total} {what} differ:\n{}",
            failures.len(),
            failures.join("\n")
        )
    }
}

/// Every vector of `file` through the key function of its kind.
pub(crate) fn key_vectors(file: &str) -> anyhow::Result<()> {
    let vectors: Vec<KeyVector> = read_fixture(file)?;
    let mut failures = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let hid = v.home_account_id.as_deref();
        let cid = v.client_id.as_deref();
        let realm = v.realm.as_deref().unwrap_or("");
        let target = v.target.as_deref().unwrap_or("");
        let got = match v.kind.as_str() {
            "AccessToken" => access_token_key(
                hid,
                &v.environment,
                cid,
                realm,
                target,
                v.ext_cache_key.as_deref(),
            ),
            "RefreshToken" => refresh_token_key(hid, &v.environment, cid, target),
            "IdToken" => id_token_key(hid, &v.environment, cid, realm),
            "Account" => account_key(hid, &v.environment, realm),
            "AppMetadata" => app_metadata_key(&v.environment, cid),
            other => {
                failures.push(format!("vector {i}: unknown kind {other:?}"));
                continue;
            }
        };
        if got != v.expected {
            failures.push(format!(
                "vector {i} ({}): expected {:?}, got {got:?}",
                v.kind, v.expected
            ));
        }
    }
    finish("key vectors", vectors.len(), failures)
}

/// Every vector of `file` through `ext_cache_key`.
pub(crate) fn ext_cache_key_vectors(file: &str) -> anyhow::Result<()> {
    let vectors: Vec<ExtVector> = read_fixture(file)?;
    let mut failures = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let mut pairs = Vec::new();
        for (k, val) in &v.input {
            match val.as_str() {
                Some(s) => pairs.push((k.as_str(), s)),
                None => failures.push(format!("vector {i}: input {k} is not a string")),
            }
        }
        let got = ext_cache_key(&pairs);
        if got != v.expected {
            failures.push(format!(
                "vector {i} {}: expected {:?}, got {got:?}",
                Value::Object(v.input.clone()),
                v.expected
            ));
        }
    }
    finish("ext cache key vectors", vectors.len(), failures)
}

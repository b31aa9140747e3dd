//! The keys of the unified token cache, for tools that read MSAL caches.
//!
//! Every function reproduces the key MSAL Python 1.39 files an entry under (msal/token_cache.py `key_makers`):
//! the components joined by `-` and lowercased, except [`app_metadata_key`], whose case is
//! kept. An absent (`None`) component is an empty string. A `target` is passed as stored: the
//! scopes sorted by code point and joined by single spaces (see [`target`]).

use base64::Engine as _;

/// The request fields that never contribute to [`ext_cache_key`]: the standard OAuth 2.0
/// parameters of every grant, client authentication, and fields the cache keys separately.
const EXT_CACHE_KEY_EXCLUDED_FIELDS: [&str; 22] = [
    "client_id",
    "grant_type",
    "scope",
    "claims",
    "username",
    "password",
    "refresh_token",
    "code",
    "redirect_uri",
    "code_verifier",
    "device_code",
    "assertion",
    "requested_token_use",
    "client_assertion",
    "client_assertion_type",
    "client_secret",
    "token_type",
    "req_cnf",
    "key_id",
    "user_federated_identity_credential",
    "user_id",
    "client_info",
];

/// Joins the scopes into a cache `target`: sorted by code point, separated by single spaces.
pub fn target<'a>(scopes: impl IntoIterator<Item = &'a str>) -> String {
    let mut v: Vec<&str> = scopes.into_iter().collect();
    v.sort_unstable();
    v.join(" ")
}

fn joined_lowercase(parts: &[&str]) -> String {
    parts.join("-").to_lowercase()
}

/// The key of an access token:
/// `{home_account_id}-{environment}-accesstoken-{client_id}-{realm}-{target}`, or with an
/// extended cache key `{home_account_id}-{environment}-atext-{client_id}-{realm}-{target}-{ext}`.
/// An empty `ext_cache_key` counts as none.
pub fn access_token_key(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: Option<&str>,
    realm: &str,
    target: &str,
    ext_cache_key: Option<&str>,
) -> String {
    let hid = home_account_id.unwrap_or("");
    let cid = client_id.unwrap_or("");
    match ext_cache_key.filter(|e| !e.is_empty()) {
        Some(ext) => joined_lowercase(&[hid, environment, "atext", cid, realm, target, ext]),
        None => joined_lowercase(&[hid, environment, "accesstoken", cid, realm, target]),
    }
}

/// The key of an access token of type `token_type`: for a proof-of-possession token (`pop`),
/// MSAL .NET's key for tokens of an authentication scheme other than Bearer
/// (`MsalAccessTokenCacheKey.cs`, `AuthSchemeHelper.cs`):
/// `{home_account_id}-{environment}-accesstoken_with_authscheme-{client_id}-{realm}-{target}-pop`
/// (with an extended cache key, `{ext}` before `pop`), so that it takes its own slot beside
/// the Bearer token of the same scopes; for every other type (Bearer, SSH certificates, and
/// whatever else an identity provider answers) [`access_token_key`], as MSAL Python files it.
pub fn access_token_key_with_type(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: Option<&str>,
    realm: &str,
    target: &str,
    ext_cache_key: Option<&str>,
    token_type: &str,
) -> String {
    if !token_type.eq_ignore_ascii_case("pop") {
        return access_token_key(
            home_account_id,
            environment,
            client_id,
            realm,
            target,
            ext_cache_key,
        );
    }
    let hid = home_account_id.unwrap_or("");
    let cid = client_id.unwrap_or("");
    let scheme = "accesstoken_with_authscheme";
    match ext_cache_key.filter(|e| !e.is_empty()) {
        Some(ext) => joined_lowercase(&[
            hid,
            environment,
            scheme,
            cid,
            realm,
            target,
            ext,
            token_type,
        ]),
        None => joined_lowercase(&[hid, environment, scheme, cid, realm, target, token_type]),
    }
}

/// The key of a refresh token: `{home_account_id}-{environment}-refreshtoken-{client_id}--{target}`
/// (refresh tokens are cross-tenant, so the realm slot is empty).
pub fn refresh_token_key(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: Option<&str>,
    target: &str,
) -> String {
    joined_lowercase(&[
        home_account_id.unwrap_or(""),
        environment,
        "refreshtoken",
        client_id.unwrap_or(""),
        "",
        target,
    ])
}

/// The key of an ID token: `{home_account_id}-{environment}-idtoken-{client_id}-{realm}-`
/// (the schema requires an empty target segment).
pub fn id_token_key(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: Option<&str>,
    realm: &str,
) -> String {
    joined_lowercase(&[
        home_account_id.unwrap_or(""),
        environment,
        "idtoken",
        client_id.unwrap_or(""),
        realm,
        "",
    ])
}

/// The key of an account: `{home_account_id}-{environment}-{realm}`.
pub fn account_key(home_account_id: Option<&str>, environment: &str, realm: &str) -> String {
    joined_lowercase(&[home_account_id.unwrap_or(""), environment, realm])
}

/// The key of an application's metadata: `appmetadata-{environment}-{client_id}`. Unlike every
/// other key, it is **not** lowercased.
pub fn app_metadata_key(environment: &str, client_id: Option<&str>) -> String {
    format!("appmetadata-{environment}-{}", client_id.unwrap_or(""))
}

/// The extended cache key of a token request, from its form fields: `None` when no field
/// contributes.
///
/// Fields with an empty value and the standard fields (`client_id`, `grant_type`, `scope`,
/// `claims`, credentials, grant parameters, `key_id`, `req_cnf`, `token_type`, `client_info`,
/// ...) are dropped; what remains (in practice `fmi_path` and `client_claims`) is sorted by
/// name (code point order), encoded as `{byte length of name}:{name}{byte length of
/// value}:{value}` per field, hashed with SHA-256, and encoded as unpadded base64url in lower
/// case. When a name occurs twice, the last value counts. The result is byte-identical to
/// MSAL Python, Go and .NET.
pub fn ext_cache_key(data: &[(&str, &str)]) -> Option<String> {
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for &(k, v) in data {
        if v.is_empty() || EXT_CACHE_KEY_EXCLUDED_FIELDS.contains(&k) {
            continue;
        }
        match fields.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => fields.push((k, v)),
        }
    }
    if fields.is_empty() {
        return None;
    }
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut encoded = String::new();
    for (k, v) in fields {
        encoded.push_str(&format!("{}:{k}{}:{v}", k.len(), v.len()));
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, encoded.as_bytes());
    let mut out = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    out.make_ascii_lowercase();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct ExtVector {
        input: serde_json::Map<String, serde_json::Value>,
        expected: Option<String>,
    }

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

    #[test]
    fn ext_cache_key_golden_vectors_from_fixture() {
        let vectors: Vec<ExtVector> = serde_json::from_str(include_str!(
            "../../../tests/fixtures/cache/ext_cache_key_vectors.json"
        ))
        .expect("fixture parses");
        assert!(vectors.len() >= 10);
        for v in vectors {
            let pairs: Vec<(&str, &str)> = v
                .input
                .iter()
                .map(|(k, val)| (k.as_str(), val.as_str().unwrap_or("")))
                .collect();
            assert_eq!(ext_cache_key(&pairs), v.expected, "input {:?}", v.input);
        }
    }

    #[test]
    fn key_vectors_from_fixture() {
        let vectors: Vec<KeyVector> = serde_json::from_str(include_str!(
            "../../../tests/fixtures/cache/key_vectors.json"
        ))
        .expect("fixture parses");
        assert!(vectors.len() >= 10);
        for v in vectors {
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
                other => panic!("unknown kind {other}"),
            };
            assert_eq!(got, v.expected, "{} vector", v.kind);
        }
    }

    #[test]
    fn golden_vectors_inline() {
        assert_eq!(
            ext_cache_key(&[("key1", "value1"), ("key2", "value2")]).as_deref(),
            Some("latlwkpewb_a0rcsmjvkecqt0_huumkw4sflzociike")
        );
        assert_eq!(
            ext_cache_key(&[("fmi_path", "agent-app-id")]).as_deref(),
            Some("a0ry_zl4gccsdp7gnw927x8s0mrmnodv6tyilt0u07m")
        );
        assert_eq!(
            ext_cache_key(&[("cd", "e"), ("a", "b")]).as_deref(),
            Some("cybgactkrvlzlen1aiwzwl3ay5krkyixommrobc-ri4")
        );
    }

    #[test]
    fn tokens_of_another_scheme_are_keyed_with_their_type_as_msal_dotnet() {
        let key = |t: &str, ext: Option<&str>| {
            access_token_key_with_type(Some("Hid"), "env", Some("Cid"), "realm", "s1 s2", ext, t)
        };
        let bearer = access_token_key(Some("Hid"), "env", Some("Cid"), "realm", "s1 s2", None);
        assert_eq!(key("Bearer", None), bearer);
        assert_eq!(key("", None), bearer);
        assert_eq!(key("ssh-cert", None), bearer);
        // MSAL Python files every type under the plain key (its test_token_cache.py).
        assert_eq!(key("some type", None), bearer);
        assert_eq!(
            key("pop", None),
            "hid-env-accesstoken_with_authscheme-cid-realm-s1 s2-pop"
        );
        assert_eq!(
            key("PoP", Some("x")),
            "hid-env-accesstoken_with_authscheme-cid-realm-s1 s2-x-pop"
        );
    }

    #[test]
    fn exclusions_empty_values_order_and_duplicates() {
        assert_eq!(ext_cache_key(&[]), None);
        assert_eq!(ext_cache_key(&[("fmi_path", "")]), None);
        let every_excluded: Vec<(&str, &str)> = EXT_CACHE_KEY_EXCLUDED_FIELDS
            .iter()
            .map(|k| (*k, "x"))
            .collect();
        assert_eq!(ext_cache_key(&every_excluded), None);
        let plain = ext_cache_key(&[("fmi_path", "path/a")]);
        let mut with_excluded = every_excluded.clone();
        with_excluded.push(("fmi_path", "path/a"));
        assert_eq!(ext_cache_key(&with_excluded), plain);
        assert_ne!(
            ext_cache_key(&[("fmi_path", "path/a"), ("custom_param", "val")]),
            plain
        );
        assert_eq!(
            ext_cache_key(&[("b", "2"), ("a", "1"), ("c", "3")]),
            ext_cache_key(&[("c", "3"), ("a", "1"), ("b", "2")])
        );
        assert_eq!(
            ext_cache_key(&[("fmi_path", "old"), ("fmi_path", "path/a")]),
            plain
        );
        // Byte length, not code points: é (2 bytes) vs e + combining acute (3 bytes).
        assert_ne!(
            ext_cache_key(&[("k", "\u{e9}x")]),
            ext_cache_key(&[("k", "e\u{301}")])
        );
    }

    #[test]
    fn key_layouts() {
        assert_eq!(
            access_token_key(Some("hid"), "env", Some("cid"), "realm", "scope", None),
            "hid-env-accesstoken-cid-realm-scope"
        );
        assert_eq!(
            access_token_key(Some("hid"), "env", Some("cid"), "realm", "scope", Some("")),
            "hid-env-accesstoken-cid-realm-scope"
        );
        assert_eq!(
            access_token_key(
                Some("HID"),
                "Env",
                Some("CID"),
                "Realm",
                "User.Read",
                Some("abc")
            ),
            "hid-env-atext-cid-realm-user.read-abc"
        );
        assert_eq!(
            refresh_token_key(None, "env", None, "s2 s1 s3"),
            "-env-refreshtoken---s2 s1 s3"
        );
        assert_eq!(
            app_metadata_key("login.microsoftonline.com", Some("appA")),
            "appmetadata-login.microsoftonline.com-appA"
        );
        assert_eq!(
            target(["profile", "User.Read", "offline_access", "openid"]),
            "User.Read offline_access openid profile"
        );
    }
}

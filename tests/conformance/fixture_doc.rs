//! The cache documents of the other MSALs' test suites, as the `msal_fixture` cases read them:
//! the text (a UTF-8 byte order mark removed, as a UTF-8 reader of those files does), a copy
//! whose access and refresh token secrets are made unique so that the harness can tell which
//! entry a library used, the apps to ask about (every client id, environment and realm the
//! document has), the clock to ask at, and each entry's raw text.

use std::collections::BTreeSet;

use anyhow::{Context as _, bail};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Entra ID's instance discovery metadata: the alias groups of the public and sovereign clouds
/// (as MSAL.NET ships them in
/// src/client/Microsoft.Identity.Client/Instance/Discovery/KnownMetadataProvider.cs). Both
/// libraries get it from the offline transport when they ask.
pub(crate) fn instance_metadata() -> Value {
    let group = |aliases: &[&str]| {
        json!({
            "preferred_network": aliases.first().copied().unwrap_or_default(),
            "preferred_cache": if aliases.first() == Some(&"login.microsoftonline.com") {
                "login.windows.net"
            } else {
                aliases.first().copied().unwrap_or_default()
            },
            "aliases": aliases,
        })
    };
    json!([
        group(&[
            "login.microsoftonline.com",
            "login.windows.net",
            "login.microsoft.com",
            "sts.windows.net"
        ]),
        group(&["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"]),
        group(&["login.microsoftonline.de"]),
        group(&["login.microsoftonline.us", "login.usgovcloudapi.net"]),
        group(&["login-us.microsoftonline.com"]),
    ])
}

/// Whether `host` is in one of [`instance_metadata`]'s alias groups.
pub(crate) fn is_entra_host(host: &str) -> bool {
    instance_metadata()
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("aliases").and_then(Value::as_array))
        .flatten()
        .any(|a| a.as_str().is_some_and(|a| a.eq_ignore_ascii_case(host)))
}

/// The scopes MSAL adds to every user sign-in itself: an app never asks for them (MSAL
/// Python refuses them, msal/application.py `_decorate_scope`).
const RESERVED_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// The client id of the app that lists the accounts of an environment no entry names a
/// client for.
const ACCOUNTS_ONLY_CLIENT: &str = "00000000-0000-4000-8000-0000000000a1";

/// An app both libraries build and question.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FixtureApp {
    /// The client id.
    pub(crate) client_id: String,
    /// `https://{environment}/{realm}`.
    pub(crate) authority: String,
    /// False for a host in no alias group (MSAL Python `validate_authority=False`, msal-rs
    /// `skip_authority_validation`).
    pub(crate) validate_authority: bool,
    /// The scope sets to ask for: the targets of the client's access tokens, without the
    /// reserved scopes.
    pub(crate) scopes: Vec<Vec<String>>,
}

/// The text of a fixture file as a reader of UTF-8 with a byte order mark gets it.
pub(crate) fn text_of(bytes: &[u8]) -> anyhow::Result<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8(bytes.to_vec()).context("the fixture is not UTF-8")
}

/// A parsed document (strict JSON; the sections as objects).
pub(crate) type Doc = Map<String, Value>;

/// The document, when it is strict JSON with an object at the top.
pub(crate) fn parse(text: &str) -> Option<Doc> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// The entries of the credential and account sections, as `(section, key, entry)`.
pub(crate) fn entries(doc: &Doc) -> Vec<(&str, &str, &Map<String, Value>)> {
    let mut out = Vec::new();
    for (section, v) in doc {
        if let Value::Object(m) = v {
            for (key, e) in m {
                if let Value::Object(e) = e {
                    out.push((section.as_str(), key.as_str(), e));
                }
            }
        }
    }
    out
}

fn field<'a>(e: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    e.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A token whose secret the harness replaced by a tag.
#[derive(Debug, Clone)]
pub(crate) struct Tagged {
    /// `section/key`.
    pub(crate) entry: String,
    /// Its `realm` (empty when it has none).
    pub(crate) realm: String,
}

/// The document with every access and refresh token's `secret` replaced by a tag unique in
/// the document (`fixture-{section}-{n}`), and the tags mapped to `section/key`. The other
/// MSALs' fixtures often give every token the same placeholder secret; the tags let the
/// harness tell which entry a library served or sent, and keep MSAL Python's HTTP throttling
/// (keyed by the request body) from hiding a second refresh attempt with an equal secret.
pub(crate) fn tagged(doc: &Doc) -> (Doc, Vec<(String, Tagged)>) {
    let mut out = doc.clone();
    let mut tags = Vec::new();
    for section in ["AccessToken", "RefreshToken"] {
        let Some(Value::Object(m)) = out.get_mut(section) else {
            continue;
        };
        for (n, (key, e)) in m.iter_mut().enumerate() {
            if let Value::Object(e) = e
                && e.get("secret").is_some_and(Value::is_string)
            {
                let tag = format!("fixture-{section}-{n}");
                e.insert("secret".to_owned(), Value::String(tag.clone()));
                let realm = field(e, "realm").unwrap_or_default().to_owned();
                tags.push((
                    tag,
                    Tagged {
                        entry: format!("{section}/{key}"),
                        realm,
                    },
                ));
            }
        }
    }
    (out, tags)
}

/// The apps to ask about: for each client id and environment of a credential or app metadata
/// entry (and each environment of accounts only), one app per realm seen in that environment
/// (access tokens, ID tokens, accounts); `adfs` (AD FS) or `common` when it names no realm.
pub(crate) fn apps(doc: &Doc) -> Vec<FixtureApp> {
    let all = entries(doc);
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    for (section, _, e) in &all {
        if !matches!(
            *section,
            "AccessToken" | "RefreshToken" | "IdToken" | "AppMetadata"
        ) {
            continue;
        }
        if let (Some(c), Some(env)) = (field(e, "client_id"), field(e, "environment")) {
            pairs.insert((c.to_owned(), env.to_ascii_lowercase()));
        }
    }
    // Accounts are listed per environment, whatever the client: an environment with accounts
    // and no client (a file of accounts only) is asked about through a client of its own.
    for (section, _, e) in &all {
        if let (&"Account", Some(env)) = (section, field(e, "environment")) {
            let env = env.to_ascii_lowercase();
            if !pairs.iter().any(|(_, x)| *x == env) {
                pairs.insert((ACCOUNTS_ONLY_CLIENT.to_owned(), env));
            }
        }
    }
    let mut out = Vec::new();
    for (client_id, env) in pairs {
        let mut realms: BTreeSet<String> = all
            .iter()
            .filter(|(s, _, e)| {
                matches!(*s, "AccessToken" | "IdToken" | "Account")
                    && field(e, "environment").is_some_and(|x| x.eq_ignore_ascii_case(&env))
            })
            .filter_map(|(_, _, e)| field(e, "realm").map(str::to_owned))
            .collect();
        let entra = is_entra_host(&env);
        if realms.is_empty() {
            realms.insert(if entra { "common" } else { "adfs" }.to_owned());
        }
        let mut scopes: Vec<Vec<String>> = Vec::new();
        for (s, _, e) in &all {
            if *s == "AccessToken" && field(e, "client_id") == Some(client_id.as_str()) {
                let set: Vec<String> = field(e, "target")
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter(|s| !RESERVED_SCOPES.iter().any(|r| r.eq_ignore_ascii_case(s)))
                    .map(str::to_owned)
                    .collect();
                if !set.is_empty() && !scopes.contains(&set) {
                    scopes.push(set);
                }
            }
        }
        for realm in realms {
            out.push(FixtureApp {
                client_id: client_id.clone(),
                authority: format!("https://{env}/{realm}"),
                validate_authority: entra,
                scopes: scopes.clone(),
            });
        }
    }
    out
}

fn timestamp(e: &Map<String, Value>, name: &str) -> Option<u64> {
    match e.get(name)? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// The clock both libraries run at: just after the earliest `cached_at` of the access tokens
/// (the fixtures' tokens expired long ago), else an hour before the earliest `expires_on`;
/// never after 2100.
pub(crate) fn clock(doc: &Doc) -> u64 {
    let ats: Vec<&Map<String, Value>> = entries(doc)
        .into_iter()
        .filter(|(s, _, _)| *s == "AccessToken")
        .map(|(_, _, e)| e)
        .collect();
    let cached = ats.iter().filter_map(|e| timestamp(e, "cached_at")).min();
    let expiring = ats
        .iter()
        .filter_map(|e| timestamp(e, "expires_on"))
        .min()
        .map(|x| x.saturating_sub(3600));
    cached
        .map(|c| c.saturating_add(1))
        .or(expiring)
        .unwrap_or(1_000_000_000)
        .clamp(1, 4_102_444_800)
}

/// The members of a JSON object's text, as `(key, raw value text)`, in order. `text` must be
/// an object serde_json accepted.
pub(crate) fn raw_members(text: &str) -> anyhow::Result<Vec<(String, &str)>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        bail!("not an object");
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b'}') => return Ok(out),
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            _ => bail!("unexpected byte at {i}"),
        }
        let key_end = skip_value(b, i)?;
        let key: String = serde_json::from_str(text.get(i..key_end).unwrap_or_default())
            .context("a member name")?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            bail!("no ':' at {i}");
        }
        let start = skip_ws(b, i + 1);
        let end = skip_value(b, start)?;
        out.push((key, text.get(start..end).unwrap_or_default()));
        i = end;
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// The end of the value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> anyhow::Result<usize> {
    let mut depth = 0usize;
    let mut j = i;
    loop {
        let Some(&c) = b.get(j) else {
            bail!("the value at {i} does not end");
        };
        match c {
            b'"' => {
                j += 1;
                loop {
                    match b.get(j) {
                        Some(b'\\') => j += 2,
                        Some(b'"') => break,
                        Some(_) => j += 1,
                        None => bail!("a string at {i} does not end"),
                    }
                }
                j += 1;
            }
            b'{' | b'[' => {
                depth += 1;
                j += 1;
            }
            b'}' | b']' => {
                if depth == 0 {
                    return Ok(j);
                }
                depth -= 1;
                j += 1;
            }
            b',' if depth == 0 => return Ok(j),
            c if depth == 0 && c.is_ascii_whitespace() => return Ok(j),
            _ => j += 1,
        }
        if depth == 0 && matches!(b.get(j.wrapping_sub(1)), Some(b'"' | b'}' | b']')) {
            return Ok(j);
        }
    }
}

/// Every entry of every section object, as `(section, key, raw text)`.
pub(crate) fn raw_entries(text: &str) -> anyhow::Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for (section, raw) in raw_members(text)? {
        if raw.starts_with('{') {
            for (key, e) in raw_members(raw)? {
                out.push((section.clone(), key, e.to_owned()));
            }
        }
    }
    Ok(out)
}

/// `raw` without the whitespace outside its strings: the same tokens in the same order.
pub(crate) fn tokens(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in raw.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

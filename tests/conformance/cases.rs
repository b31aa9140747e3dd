//! The fixture model: `tests/fixtures/conformance/cases.json` (what to run) and `skips.json`
//! (what not to run, with a reason each).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// One conformance case.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Case {
    /// Unique name, printed in the report and matched by the filter and the skip list.
    pub(crate) name: String,
    /// Why the case exists or what it relies on (not used by the runner).
    #[serde(default)]
    #[allow(dead_code)]
    pub(crate) note: Option<String>,
    /// What to do.
    #[serde(flatten)]
    pub(crate) kind: CaseKind,
}

/// The kinds of case.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum CaseKind {
    /// Every cache-key vector of a file through msal-core's key functions.
    KeyVectors {
        /// Path relative to `tests/`.
        file: String,
    },
    /// Every extended-cache-key vector of a file through `ext_cache_key`.
    ExtCacheKeyVectors {
        /// Path relative to `tests/`.
        file: String,
    },
    /// The same call by MSAL Python and msal-rs: the token requests must be the same.
    Wire {
        /// The app.
        app: AppSpec,
        /// The call, made twice (the second is expected from the cache).
        call: CallSpec,
        /// Where each side's second call is expected to come from.
        #[serde(default)]
        second_call: SecondCall,
    },
    /// The same call by both; their serialized caches must have the same schema.
    CacheSchema {
        /// The app.
        app: AppSpec,
        /// The call.
        call: CallSpec,
    },
    /// A cache written by one side, loaded by the other, must serve the same call.
    CacheInterop {
        /// The app.
        app: AppSpec,
        /// The call.
        call: CallSpec,
        /// Who writes and who reads.
        direction: Direction,
    },
    /// Both sides must refuse an authority that the emulator does not serve, before any
    /// traffic leaves loopback (the emulator records nothing).
    LoopbackGuard {
        /// The app, with an authority on a host the emulator does not serve.
        app: AppSpec,
        /// The call.
        call: CallSpec,
    },
    /// The same user-flow script run by MSAL Python and by msal-rs, each from a fresh emulator
    /// state: each step's requests (authorization URL, device authorization POST, token POSTs,
    /// user realm GET), token source and accounts must be the same.
    UserWire {
        /// The apps (steps name them by index); built at their first step.
        apps: Vec<UserAppSpec>,
        /// The steps, in order.
        steps: Vec<Step>,
    },
    /// The same user-flow script run by both; their serialized caches must have the same
    /// schema.
    UserCacheSchema {
        /// The apps.
        apps: Vec<UserAppSpec>,
        /// The steps.
        steps: Vec<Step>,
    },
    /// A cache written by one side's `write` steps serves the other side's `read` steps (and
    /// lists the same accounts).
    UserCacheInterop {
        /// The apps.
        apps: Vec<UserAppSpec>,
        /// The writer's steps.
        write: Vec<Step>,
        /// The reader's steps, over the writer's cache.
        read: Vec<Step>,
        /// Who writes and who reads.
        direction: Direction,
    },
    /// One token cache file shared by msal-rs (`msal-cache-file`) and MSAL Python
    /// (msal-extensions' `PersistedTokenCache(FilePersistence(path))`): `rust_writers` msal-rs
    /// apps and `python_writers` MSAL Python processes, started at the same moment, each
    /// acquire `tokens_each` client-credentials tokens with distinct `fmi_path`s (one cache
    /// entry each); the file must then hold every one of them. Then a fresh msal-rs app serves
    /// every Python-written token from the file and a fresh MSAL Python app every
    /// msal-rs-written one, with no token request.
    FileWriters {
        /// The app (client credentials).
        app: AppSpec,
        /// The scopes of every call.
        scopes: Vec<String>,
        /// How many msal-rs writers (in-process, each its own cache and app).
        rust_writers: usize,
        /// How many MSAL Python processes.
        python_writers: usize,
        /// How many tokens each writer acquires.
        tokens_each: usize,
        /// A pause between two acquisitions of an msal-rs writer (ms), so that its writes
        /// spread over MSAL Python's (which retries a busy lock only every 250 ms).
        #[serde(default)]
        rust_pause_ms: u64,
    },
    /// A user signed in by MSAL Python into a cache file, found and served silently by msal-rs
    /// over the same file, signed out by msal-rs, and then gone for MSAL Python.
    FileSignOut {
        /// The app (a public client).
        app: UserAppSpec,
        /// MSAL Python's sign-in step (`username_password` or `device_code`); its user and
        /// scopes are those of msal-rs's silent call.
        sign_in: Step,
    },
    /// MSAL Node and msal-rs take turns (`phases`) over one token cache file; every step's
    /// token comes from where it is expected, with one token request per step expected from
    /// the identity provider and none for cache hits (see `node.rs`).
    NodeCacheFile {
        /// The apps (steps name them by index).
        apps: Vec<crate::node::NodeApp>,
        /// The turns, in order.
        phases: Vec<crate::node::Phase>,
        /// Users the case registers in the emulator (before every turn; the same records
        /// each time): a member, or a guest (B2B) of another tenant.
        #[serde(default)]
        users: Vec<crate::node::CaseUser>,
    },
    /// A token cache file from another MSAL's test suite: what MSAL Python can use from it,
    /// msal-rs must use too, and re-serializing it changes no entry (see `fixture_case.rs`).
    MsalFixture {
        /// Path relative to `tests/`.
        file: String,
    },
    /// One flow against node oidc-provider at the issuer with `segments` path segments, run by
    /// msal-rs and MSAL Python and compared (see `oidc_cases.rs`).
    OidcProvider {
        /// 0, 1 or 2.
        segments: usize,
        /// Which flow.
        flow: crate::oidc_cases::OidcFlow,
    },
    /// MSAL Python's `ManagedIdentityClient` and msal-rs's against one emulator source (see
    /// `mi_cases.rs`).
    ManagedIdentity(crate::mi_cases::MiCase),
    /// azure_identity's `ManagedIdentityCredential` beside msal-rs on one emulator source, as a
    /// wire comparison (see `mi_azure.rs`).
    ManagedIdentityAzureIdentity(crate::mi_azure::AzureCase),
    /// azure_identity's `WorkloadIdentityCredential` beside msal-rs's workload identity on the
    /// same token file, as a wire comparison (see `wi_azure.rs`).
    WorkloadIdentityAzureIdentity(crate::wi_azure::WiCase),
    /// Checks the harness itself: a mutation of a recorded request or a cache must be reported
    /// as a difference (and the unmutated one must not be).
    SelfCheck {
        /// The mutation to apply.
        mutation: String,
        /// Whether a difference must be reported.
        expect_diff: bool,
    },
}

/// A confidential client app of the emulator's seeds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppSpec {
    /// `secret_app`, `cert_app` or `middle_tier`.
    pub(crate) client: SeedClient,
    /// How it authenticates.
    pub(crate) credential: CredentialKind,
    /// The authority URL.
    pub(crate) authority: String,
    /// Client capabilities (`["CP1"]`).
    #[serde(default)]
    pub(crate) client_capabilities: Vec<String>,
    /// `app_name` (sent as `x-app-name`); set together with `app_version`.
    #[serde(default)]
    pub(crate) app_name: Option<String>,
    /// `app_version` (sent as `x-app-ver`).
    #[serde(default)]
    pub(crate) app_version: Option<String>,
    /// `client_claims`: extra claims signed into a certificate's client assertion.
    #[serde(default)]
    pub(crate) client_claims: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An app that signs users in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserAppSpec {
    /// Which app.
    pub(crate) client: UserClient,
    /// The authority URL.
    pub(crate) authority: String,
    /// Client capabilities (`["CP1"]`).
    #[serde(default)]
    pub(crate) client_capabilities: Vec<String>,
    /// Scopes never sent (`exclude_scopes`, e.g. `["offline_access"]`).
    #[serde(default)]
    pub(crate) exclude_scopes: Vec<String>,
}

/// The apps of user flows: the emulator's seeds, and one the suite registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum UserClient {
    /// The seeded public client (loopback redirects, PKCE required).
    PublicClient,
    /// The seeded web app (confidential, secret, `https://app.contoso.com/callback`).
    WebApp,
    /// FOCI family member A (public client).
    FociAppA,
    /// FOCI family member B (public client).
    FociAppB,
    /// A public client the suite registers with a 240-second access token lifetime: its
    /// tokens are within MSAL's 5-minute expiry buffer as soon as they are issued.
    ShortLived,
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Op {
    /// Authorization code with PKCE: initiate, play the browser, redeem.
    AuthCode,
    /// Device code: initiate, approve through the admin API, poll.
    DeviceCode,
    /// Resource owner password credentials.
    UsernamePassword,
    /// `acquire_token_silent` for the step's user.
    Silent,
}

/// One step of a user-flow script.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Step {
    /// What to do.
    pub(crate) op: Op,
    /// The app (index into `apps`).
    #[serde(default)]
    pub(crate) app: usize,
    /// The scopes.
    pub(crate) scopes: Vec<String>,
    /// The user (a seeded username): who signs in, or whose account `silent` uses.
    #[serde(default = "default_user")]
    pub(crate) username: String,
    /// Auth code: the redirect URI.
    #[serde(default)]
    pub(crate) redirect_uri: Option<String>,
    /// Auth code: `login_hint`.
    #[serde(default)]
    pub(crate) login_hint: Option<String>,
    /// Auth code: `response_mode` (`query` or `form_post`).
    #[serde(default)]
    pub(crate) response_mode: Option<String>,
    /// Auth code: `prompt`.
    #[serde(default)]
    pub(crate) prompt: Option<String>,
    /// Auth code: `domain_hint`.
    #[serde(default)]
    pub(crate) domain_hint: Option<String>,
    /// Auth code: `max_age` (seconds).
    #[serde(default)]
    pub(crate) max_age: Option<u64>,
    /// Silent: `force_refresh`.
    #[serde(default)]
    pub(crate) force_refresh: bool,
    /// Username/password and silent: ask for an SSH certificate of the key with this
    /// `key_id` (its `req_cnf` is [`ssh_req_cnf`]); both sides must get `token_type`
    /// `ssh-cert`, and Bearer without it.
    #[serde(default)]
    pub(crate) ssh_key_id: Option<String>,
    /// Where the step's token must come from (both sides).
    pub(crate) expect: Source,
}

fn default_user() -> String {
    msal_tests::emulator::seeds::ALICE_USERNAME.to_string()
}

/// The `req_cnf` of an SSH certificate step: an RSA public key as a JWK, the same for both
/// sides (a fixed 2048-bit modulus; the emulator certifies whatever key it is given).
pub(crate) fn ssh_req_cnf(key_id: &str) -> String {
    use base64::Engine as _;
    let n: Vec<u8> = (0u16..256)
        .map(|i| u8::try_from((i * 37 + 0xc5) % 256).unwrap_or(0) | u8::from(i == 0) << 7)
        .collect();
    format!(
        r#"{{"kty":"RSA","n":"{}","e":"AQAB","kid":"{key_id}"}}"#,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n)
    )
}

/// The seeded confidential clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SeedClient {
    /// The app with a secret.
    SecretApp,
    /// The app with the `app-cert` certificate.
    CertApp,
    /// The middle-tier API (secret and certificate).
    MiddleTier,
    /// The agent app (secret, and a federated identity credential for its instance tokens).
    AgentApp,
}

/// A credential kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CredentialKind {
    /// The app's client secret.
    Secret,
    /// The `app-cert` key and certificate (MSAL Python: `private_key` + `public_certificate`;
    /// msal-rs: `certificate_pem(..).send_x5c(true)`).
    Certificate,
    /// The `app-cert` PKCS#12 file with `-legacy` protection (MSAL Python:
    /// `private_key_pfx_path` + `passphrase` + `public_certificate: True`; msal-rs:
    /// `certificate_pfx(..).send_x5c(true)`).
    PfxLegacy,
    /// The `app-cert` PKCS#12 file with OpenSSL 3's default AES protection, without `x5c`
    /// (MSAL Python: `private_key_pfx_path` + `passphrase`; msal-rs: `certificate_pfx(..)`).
    PfxAes,
    /// The `app-cert` key with its certificate's SHA-1 thumbprint and no certificate (MSAL
    /// Python: `private_key` + `thumbprint`; msal-rs: `certificate_key_with_thumbprint(..)`).
    KeyThumbprint,
}

/// The acquisition APIs compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Api {
    /// Client credentials.
    AcquireTokenForClient,
    /// On-behalf-of.
    AcquireTokenOnBehalfOf,
    /// The user federated identity credential grant (`user_fic`), with an agent instance
    /// token the emulator mints (`acquire_token_by_user_federated_identity_credential`).
    #[serde(rename = "acquire_token_by_user_federated_identity_credential")]
    UserFederatedIdentityCredential,
}

/// One call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallSpec {
    /// Which API.
    pub(crate) api: Api,
    /// The scopes.
    pub(crate) scopes: Vec<String>,
    /// A claims challenge.
    #[serde(default)]
    pub(crate) claims: Option<String>,
    /// `fmi_path` (client credentials).
    #[serde(default)]
    pub(crate) fmi_path: Option<String>,
    /// `forwarded_client_claims` (client credentials, on-behalf-of): client-originated claims.
    #[serde(default)]
    pub(crate) forwarded_client_claims: Option<String>,
    /// For OBO: the user whose token the emulator mints as the incoming assertion.
    #[serde(default)]
    pub(crate) user_assertion: Option<UserAssertionSpec>,
    /// For the user FIC grant: the user, by principal name (`username`)...
    #[serde(default)]
    pub(crate) username: Option<String>,
    /// ... or by object id (`user_object_id`).
    #[serde(default)]
    pub(crate) user_object_id: Option<String>,
}

/// An incoming user token for OBO, minted by the emulator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserAssertionSpec {
    /// The user's tenant.
    pub(crate) tenant: String,
    /// The user.
    pub(crate) username: String,
    /// The token's audience (the middle-tier API).
    pub(crate) audience: String,
    /// Its `scp`.
    pub(crate) scopes: Vec<String>,
}

/// Where a second call must be served from, per side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecondCall {
    /// MSAL Python.
    pub(crate) python: Source,
    /// msal-rs.
    pub(crate) rust: Source,
}

impl Default for SecondCall {
    fn default() -> Self {
        SecondCall {
            python: Source::Cache,
            rust: Source::Cache,
        }
    }
}

/// A token source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Source {
    /// From the cache: no token request.
    Cache,
    /// From the identity provider: one token request.
    IdentityProvider,
}

impl Source {
    /// MSAL Python's `token_source` spelling.
    pub(crate) fn python_name(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::IdentityProvider => "identity_provider",
        }
    }

    /// How many token POSTs a call served this way sends.
    pub(crate) fn token_posts(self) -> usize {
        match self {
            Source::Cache => 0,
            Source::IdentityProvider => 1,
        }
    }
}

/// Who writes the cache and who reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Direction {
    /// MSAL Python writes, msal-rs reads.
    PythonToRust,
    /// msal-rs writes, MSAL Python reads.
    RustToPython,
}

/// The skip list: a case name or a glob (`*` and `?`) mapped to the reason.
#[derive(Debug, Default)]
pub(crate) struct Skips {
    entries: Vec<(String, String)>,
}

impl Skips {
    /// The reason `name` is skipped, if it is.
    pub(crate) fn reason(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(pattern, _)| glob_match(pattern, name))
            .map(|(_, r)| r.as_str())
    }
}

/// `*` matches any run of characters, `?` one character; everything else literally.
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `tests/` (the msal-tests crate root).
pub(crate) fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Loads the cases (`cases.json`, then MSAL Node's `node_cases.json`, the other MSALs' cache
/// fixtures' `msal_fixture_cases.json`, oidc-provider's `oidc_cases.json` and the managed
/// identity cases' `mi_cases.json` and `mi_azure_cases.json`, and azure_identity's workload
/// identity cases' `azure_identity_cases.json`); names must be unique.
pub(crate) fn load_cases() -> anyhow::Result<Vec<Case>> {
    let mut cases: Vec<Case> = Vec::new();
    for file in [
        "cases.json",
        "node_cases.json",
        "msal_fixture_cases.json",
        "oidc_cases.json",
        "mi_cases.json",
        "mi_azure_cases.json",
        "azure_identity_cases.json",
    ] {
        let path = crate_dir().join("fixtures/conformance").join(file);
        let more: Vec<Case> = serde_json::from_str(&read(&path)?)
            .with_context(|| format!("parsing {}", path.display()))?;
        cases.extend(more);
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in &cases {
        anyhow::ensure!(
            seen.insert(c.name.as_str()),
            "duplicate case name {:?}",
            c.name
        );
    }
    Ok(cases)
}

/// Loads the skip list (in file order).
pub(crate) fn load_skips() -> anyhow::Result<Skips> {
    let path = crate_dir().join("fixtures/conformance/skips.json");
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&read(&path)?)
        .with_context(|| format!("parsing {}", path.display()))?;
    let mut entries = Vec::new();
    for (pattern, reason) in map {
        let reason = reason
            .as_str()
            .filter(|r| !r.trim().is_empty())
            .with_context(|| format!("skip {pattern:?} needs a non-empty reason string"))?;
        entries.push((pattern, reason.to_string()));
    }
    Ok(Skips { entries })
}

/// Reads a JSON fixture relative to `tests/`.
pub(crate) fn read_fixture<T: serde::de::DeserializeOwned>(rel: &str) -> anyhow::Result<T> {
    let path = crate_dir().join(rel);
    serde_json::from_str(&read(&path)?).with_context(|| format!("parsing {}", path.display()))
}

//! MSAL Node (`@azure/msal-node`, pinned in `node/package.json`) as a second real cache peer:
//! the `node_cache_file` cases, where MSAL Node and msal-rs take turns over one token cache
//! FILE. MSAL Node's side is `node/msal_node_harness.cjs`, a child process of `node`, with
//! the package installed under `MSAL_CONFORMANCE_NODE` (set by `cargo xtask conformance`); it
//! reaches the emulator only through its network-client seam (`system.networkClient`) and the
//! file only through its `ICachePlugin`. msal-rs's side uses `msal-cache-file`'s `FileCache`.
//!
//! A case is a list of phases, each one process's turn over the file (MSAL Node's, or a fresh
//! msal-rs `TokenCache` over the file), from a fresh emulator state: every step's token must
//! come from where the case expects, and the emulator (its admin API) must record exactly one
//! token request per step expected from the identity provider; cache hits send none. A phase
//! may also require that every entry the file held when it started is still there, unchanged.
//!
//! Without `MSAL_CONFORMANCE_NODE` the cases are skipped ("MSAL Node not installed"), or fail
//! when `MSAL_REQUIRE_PEERS=1`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail, ensure};
use msal_cache_file::FileCache;
use msal_core::{Authority, PublicClient, TokenCache, TokenSource};
use msal_tests::emulator::{UserRegistration, seeds};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::cases::{AppSpec, CredentialKind, SeedClient, Source, crate_dir};
use crate::child::{self, tail};
use crate::emu::Emu;
use crate::rust_side::{self, LoopbackOnly};
use crate::user_rust;
use crate::wire;

/// The environment variable naming the directory `@azure/msal-node` is installed in.
pub(crate) const NODE_DIR_VAR: &str = "MSAL_CONFORMANCE_NODE";

/// An app of a `node_cache_file` case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeApp {
    /// Which seeded app.
    pub(crate) client: NodeClient,
    /// The authority URL.
    pub(crate) authority: String,
}

/// The seeded apps the Node cases use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NodeClient {
    /// The confidential app with a secret (client credentials).
    SecretApp,
    /// The public client (username/password, silent).
    PublicClient,
    /// FOCI family member A (public client).
    FociAppA,
    /// FOCI family member B (public client).
    FociAppB,
}

impl NodeClient {
    fn client_id(self) -> &'static str {
        match self {
            NodeClient::SecretApp => seeds::SECRET_APP_CLIENT_ID,
            NodeClient::PublicClient => seeds::PUBLIC_CLIENT_ID,
            NodeClient::FociAppA => seeds::FOCI_APP_A_CLIENT_ID,
            NodeClient::FociAppB => seeds::FOCI_APP_B_CLIENT_ID,
        }
    }

    fn secret(self) -> Option<&'static str> {
        (self == NodeClient::SecretApp).then_some(seeds::SECRET_APP_SECRET)
    }
}

/// Who takes a turn over the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Side {
    /// MSAL Node (one process).
    Node,
    /// msal-rs (a fresh `TokenCache` over the file, as a new process would have).
    Rust,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Node => "MSAL Node",
            Side::Rust => "msal-rs",
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NodeOp {
    /// Client credentials (`acquireTokenByClientCredential` / `acquire_token_for_client`).
    ClientCredentials,
    /// Resource owner password credentials.
    UsernamePassword,
    /// A silent call for the step's user (the account found by username).
    Silent,
}

/// One step of a phase.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeStep {
    /// What to do.
    pub(crate) op: NodeOp,
    /// The app (index into the case's `apps`).
    #[serde(default)]
    pub(crate) app: usize,
    /// The scopes.
    pub(crate) scopes: Vec<String>,
    /// The user (a seeded username).
    #[serde(default = "default_user")]
    pub(crate) username: String,
    /// Skip the cached token: client credentials `skipCache` / `force_refresh`, silent
    /// `forceRefresh` / `force_refresh`.
    #[serde(default)]
    pub(crate) force_refresh: bool,
    /// The tenant id the token must be issued in (MSAL Node's `tenantId`, msal-rs's
    /// `tenant()`); a silent step then uses the user's account for that tenant where the
    /// library lists one per tenant (MSAL Node's tenant profiles).
    #[serde(default)]
    pub(crate) tenant: Option<String>,
    /// Where the token must come from.
    pub(crate) expect: Source,
}

fn default_user() -> String {
    seeds::ALICE_USERNAME.to_string()
}

/// One side's turn over the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Phase {
    /// Who.
    pub(crate) side: Side,
    /// The steps, in order.
    pub(crate) steps: Vec<NodeStep>,
    /// Every entry the file held when the phase started must still be there afterwards, with
    /// the same JSON value (`""` stays `""`, `null` stays `null`, no field added or dropped).
    #[serde(default)]
    pub(crate) keep_entries: bool,
}

/// A user a case registers in the emulator, with the emulator's default password: a member
/// of `tenant`, or with `home_tenant` a guest (B2B) of `tenant` who is that home tenant's
/// user of the same name (one home account across both tenants). Cases register users of
/// their own, so that no other case sees them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseUser {
    /// The username.
    pub(crate) username: String,
    /// The tenant (id, domain or short name).
    pub(crate) tenant: String,
    /// The home tenant of a guest.
    #[serde(default)]
    pub(crate) home_tenant: Option<String>,
}

/// Registers the case's users, in order (a reset keeps registered users; registering again
/// replaces them with the same records).
async fn add_users(emu: &Emu, users: &[CaseUser]) -> anyhow::Result<()> {
    for u in users {
        emu.admin
            .add_user(&UserRegistration {
                tenant: u.tenant.clone(),
                username: u.username.clone(),
                home_tenant: u.home_tenant.clone(),
                ..Default::default()
            })
            .await
            .with_context(|| format!("registering {} in {}", u.username, u.tenant))?;
    }
    Ok(())
}

/// The password of a seeded user, or of a user the case registered.
fn password(username: &str, users: &[CaseUser]) -> anyhow::Result<&'static str> {
    if users
        .iter()
        .any(|u| u.username.eq_ignore_ascii_case(username))
    {
        return Ok(seeds::DEFAULT_USER_PASSWORD);
    }
    user_rust::password(username)
}

/// Runs MSAL Node jobs.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    dir: Option<PathBuf>,
    script: PathBuf,
}

impl Node {
    /// From `MSAL_CONFORMANCE_NODE`.
    pub(crate) fn from_env() -> Node {
        Node {
            dir: std::env::var_os(NODE_DIR_VAR).map(PathBuf::from),
            script: crate_dir().join("conformance/node/msal_node_harness.cjs"),
        }
    }

    /// Why the Node cases cannot run, if they cannot.
    pub(crate) fn missing(&self) -> Option<String> {
        match &self.dir {
            None => Some(format!(
                "MSAL Node not installed ({NODE_DIR_VAR} is not set; `cargo xtask conformance` installs it)"
            )),
            Some(_) => None,
        }
    }

    /// Runs one job; an exception in the script is an error.
    async fn run(&self, job: &Value) -> anyhow::Result<NodeResult> {
        let Some(dir) = self.dir.clone() else {
            bail!("{NODE_DIR_VAR} is not set: run the suite with `cargo xtask conformance`");
        };
        let script = self.script.clone();
        let input = serde_json::to_vec(job)?;
        let (stdout, stderr) =
            tokio::task::spawn_blocking(move || run_child(&dir, &script, &input)).await??;
        let result: NodeResult = serde_json::from_str(stdout.trim()).with_context(|| {
            format!(
                "MSAL Node's harness printed no result; stdout: {:?}; stderr: {}",
                tail(&stdout),
                tail(&stderr)
            )
        })?;
        if let Some(e) = &result.exception {
            bail!("MSAL Node threw:\n{}", e.trim_end());
        }
        Ok(result)
    }
}

/// What the Node harness printed.
#[derive(Debug, Clone, Deserialize)]
struct NodeResult {
    calls: Vec<NodeCall>,
    exception: Option<String>,
}

/// One step's outcome in MSAL Node.
#[derive(Debug, Clone, Deserialize)]
struct NodeCall {
    token_source: Option<String>,
    tenant_id: Option<String>,
    has_access_token: bool,
    error: Option<String>,
    error_description: Option<String>,
}

/// Runs `node script` with the job on stdin ([`child::run_job`]).
fn run_child(dir: &Path, script: &Path, input: &[u8]) -> anyhow::Result<(String, String)> {
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .env(NODE_DIR_VAR, dir)
        // MSAL Node reads no proxy settings from the environment, but be sure.
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("NODE_OPTIONS")
        .env_remove("NODE_EXTRA_CA_CERTS");
    child::run_job(cmd, "MSAL Node", input)
}

/// The case's directory, emptied.
fn case_dir(name: &str) -> anyhow::Result<PathBuf> {
    child::case_dir("conformance-node", name)
}

/// Every entry of the file, as `(section, key) → value` (none when there is no file yet).
fn entries(file: &Path) -> anyhow::Result<Vec<((String, String), Value)>> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let doc: Map<String, Value> = serde_json::from_str(&text)
        .with_context(|| format!("the cache file {} does not parse", file.display()))?;
    let mut out = Vec::new();
    for (section, v) in doc {
        if let Value::Object(m) = v {
            for (key, entry) in m {
                out.push(((section.clone(), key), entry));
            }
        }
    }
    Ok(out)
}

/// What differs between two versions of an entry, without secrets: the fields added,
/// dropped or changed (with their values, except `secret`).
fn changed_fields(before: &Value, after: &Value) -> String {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return "no longer an object".to_string();
    };
    let show = |k: &str, v: &Value| {
        if k == "secret" {
            "…".to_string()
        } else {
            v.to_string()
        }
    };
    let mut out = Vec::new();
    for (k, v) in b {
        match a.get(k) {
            None => out.push(format!("{k} dropped (was {})", show(k, v))),
            Some(n) if n != v => out.push(format!("{k}: {} → {}", show(k, v), show(k, n))),
            Some(_) => {}
        }
    }
    for (k, v) in a {
        if !b.contains_key(k) {
            out.push(format!("{k} added ({})", show(k, v)));
        }
    }
    out.join(", ")
}

/// The Node job of a phase.
fn node_job(
    emu: &Emu,
    apps: &[NodeApp],
    steps: &[NodeStep],
    file: &Path,
    users: &[CaseUser],
) -> anyhow::Result<Value> {
    let apps: Vec<Value> = apps
        .iter()
        .map(|a| {
            let host = url::Url::parse(&a.authority)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned));
            json!({
                "client_id": a.client.client_id(),
                "client_secret": a.client.secret(),
                "authority": a.authority,
                // Hosts MSAL Node does not know as Entra ID clouds (B2C, AD FS) are trusted
                // explicitly, as MSAL Node's documentation asks.
                "known_authorities": host.filter(|h| !h.starts_with("login.")).into_iter().collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = Vec::new();
    for s in steps {
        let op = match s.op {
            NodeOp::ClientCredentials => "client_credentials",
            NodeOp::UsernamePassword => "username_password",
            NodeOp::Silent => "silent",
        };
        let password = match s.op {
            NodeOp::UsernamePassword => Some(password(&s.username, users)?),
            _ => None,
        };
        out.push(json!({
            "op": op,
            "app": s.app,
            "scopes": s.scopes,
            "username": s.username,
            "password": password,
            "force_refresh": s.force_refresh,
            "tenant": s.tenant,
        }));
    }
    Ok(json!({
        "emulator": {
            "addr": emu.addr().to_string(),
            "ca_path": emu.emulator.ca_pem_path(),
            "hosts": emu.emulator.hosts(),
        },
        "cache_file": file,
        "apps": apps,
        "steps": out,
    }))
}

/// A step's outcome: where the token came from and the tenant it was issued in, or the error.
type Outcome = Result<(String, Option<String>), String>;

/// MSAL Node's phase: one step outcome each.
async fn node_phase(
    emu: &Emu,
    node: &Node,
    apps: &[NodeApp],
    steps: &[NodeStep],
    file: &Path,
    users: &[CaseUser],
) -> anyhow::Result<Vec<Outcome>> {
    let result = node.run(&node_job(emu, apps, steps, file, users)?).await?;
    ensure!(
        result.calls.len() == steps.len(),
        "MSAL Node reported {} steps, expected {}",
        result.calls.len(),
        steps.len()
    );
    Ok(result
        .calls
        .into_iter()
        .map(|c| match (c.error, c.token_source) {
            (Some(e), _) => Err(format!(
                "{e}: {}",
                c.error_description.as_deref().unwrap_or("")
            )),
            (None, Some(s)) if c.has_access_token => Ok((s, c.tenant_id)),
            (None, s) => Err(format!("no access token (token source {s:?})")),
        })
        .collect())
}

/// A built msal-rs app.
enum RsApp {
    Public(PublicClient),
    Confidential(msal_core::ConfidentialClient),
}

fn build_rust(emu: &Emu, spec: &NodeApp, cache: &TokenCache) -> anyhow::Result<RsApp> {
    Ok(match spec.client {
        NodeClient::SecretApp => RsApp::Confidential(rust_side::build_app(
            emu,
            &AppSpec {
                client: SeedClient::SecretApp,
                credential: CredentialKind::Secret,
                authority: spec.authority.clone(),
                client_capabilities: Vec::new(),
                app_name: None,
                app_version: None,
                client_claims: None,
            },
            cache.clone(),
        )?),
        c => RsApp::Public(
            PublicClient::builder(c.client_id())
                .authority(Authority::from_url(&spec.authority)?)
                .http_client(LoopbackOnly::new(emu)?)
                .cache(cache.clone())
                .build()?,
        ),
    })
}

async fn rust_step(
    app: &RsApp,
    step: &NodeStep,
    users: &[CaseUser],
) -> anyhow::Result<(TokenSource, String)> {
    let scopes = step.scopes.as_slice();
    let result = match (step.op, app) {
        (NodeOp::ClientCredentials, RsApp::Confidential(a)) => {
            a.acquire_token_for_client(scopes)
                .force_refresh(step.force_refresh)
                .await?
        }
        (NodeOp::ClientCredentials, RsApp::Public(_)) => {
            bail!("client credentials need the secret app")
        }
        (NodeOp::UsernamePassword, RsApp::Public(a)) => {
            let pw = password(&step.username, users)?;
            a.acquire_token_by_username_password(step.username.clone(), pw, scopes)
                .await?
        }
        (NodeOp::Silent, RsApp::Public(a)) => {
            let all = a.accounts().await?;
            let named = |x: &&msal_core::Account| x.username().eq_ignore_ascii_case(&step.username);
            let in_tenant = |x: &&msal_core::Account| {
                step.tenant
                    .as_deref()
                    .is_some_and(|t| x.realm().eq_ignore_ascii_case(t))
            };
            let Some(account) = all
                .iter()
                .filter(named)
                .find(in_tenant)
                .or_else(|| all.iter().find(named))
            else {
                bail!(
                    "no account for {:?} among {} account(s)",
                    step.username,
                    all.len()
                );
            };
            a.acquire_token_silent(scopes, account)
                .force_refresh(step.force_refresh)
                .await?
        }
        (_, RsApp::Confidential(_)) => bail!("user steps need a public client app"),
    };
    ensure!(
        !result.access_token().secret().is_empty(),
        "msal-rs returned an empty access token"
    );
    Ok((result.source(), result.tenant().to_string()))
}

/// msal-rs's phase: a fresh `TokenCache` over the file, its apps built at their first step.
async fn rust_phase(
    emu: &Emu,
    apps: &[NodeApp],
    steps: &[NodeStep],
    file: &Path,
    users: &[CaseUser],
) -> anyhow::Result<Vec<Outcome>> {
    let cache = TokenCache::with_store(FileCache::new(file));
    let mut built: Vec<Option<RsApp>> = apps.iter().map(|_| None).collect();
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let spec = apps
            .get(step.app)
            .with_context(|| format!("step {i}: no app {}", step.app))?;
        if built[step.app].is_none() {
            built[step.app] = Some(build_rust(emu, spec, &cache)?);
        }
        let Some(app) = built[step.app].as_ref() else {
            bail!("step {i}: the app was not built");
        };
        out.push(match rust_step(app, step, users).await {
            Ok((source, tenant)) => Ok((
                match source {
                    TokenSource::Cache => "cache".to_string(),
                    TokenSource::IdentityProvider => "identity_provider".to_string(),
                    other => format!("{other:?}"),
                },
                Some(tenant),
            )),
            Err(e) => Err(format!("{e:#}")),
        });
    }
    Ok(out)
}

/// `node_cache_file`: see [`crate::cases::CaseKind::NodeCacheFile`].
pub(crate) async fn cache_file_case(
    name: &str,
    emu: &Emu,
    node: &Node,
    apps: &[NodeApp],
    phases: &[Phase],
    users: &[CaseUser],
) -> anyhow::Result<()> {
    let dir = case_dir(name)?;
    let file = dir.join("msal_token_cache.json");
    let mut summary = Vec::new();
    let run = async {
        for (p, phase) in phases.iter().enumerate() {
            let who = phase.side.name();
            let before = entries(&file)?;
            emu.reset().await?;
            add_users(emu, users).await?;
            let outcomes = match phase.side {
                Side::Node => node_phase(emu, node, apps, &phase.steps, &file, users).await?,
                Side::Rust => rust_phase(emu, apps, &phase.steps, &file, users).await?,
            };
            let posts = emu
                .requests()
                .await?
                .iter()
                .filter(|r| wire::is_token_post(r))
                .count();
            let mut problems = Vec::new();
            let mut hits = 0;
            let mut wanted_hits = 0;
            for (k, (step, got)) in phase.steps.iter().zip(&outcomes).enumerate() {
                let want = step.expect.python_name();
                if step.expect == Source::Cache {
                    wanted_hits += 1;
                }
                match got {
                    Ok((s, tenant))
                        if s == want
                            && step.tenant.as_deref().is_some_and(|t| {
                                !tenant.as_deref().is_some_and(|g| g.eq_ignore_ascii_case(t))
                            }) =>
                    {
                        problems.push(format!(
                            "step {k} ({:?} {:?} app {}): a token of tenant {tenant:?}, expected {:?}",
                            step.op, step.scopes, step.app, step.tenant
                        ));
                    }
                    Ok((s, _)) if s == want => {
                        if step.expect == Source::Cache {
                            hits += 1;
                        }
                    }
                    Ok((s, _)) => problems.push(format!(
                        "step {k} ({:?} {:?} app {}): from {s}, expected {want}",
                        step.op, step.scopes, step.app
                    )),
                    Err(e) => problems.push(format!(
                        "step {k} ({:?} {:?} app {}): failed: {e}",
                        step.op, step.scopes, step.app
                    )),
                }
            }
            let wanted_posts: usize = phase.steps.iter().map(|s| s.expect.token_posts()).sum();
            if posts != wanted_posts {
                problems.push(format!(
                    "the emulator recorded {posts} token request(s), expected {wanted_posts}"
                ));
            }
            if phase.keep_entries {
                let after = entries(&file)?;
                for ((section, key), v) in &before {
                    match after
                        .iter()
                        .find(|((s, k), _)| s == section && k == key)
                        .map(|(_, a)| a)
                    {
                        None => problems.push(format!("{section} entry {key:?} was dropped")),
                        Some(a) if a != v => problems.push(format!(
                            "{section} entry {key:?} changed: {}",
                            changed_fields(v, a)
                        )),
                        Some(_) => {}
                    }
                }
            }
            summary.push(format!(
                "{who}: {hits}/{wanted_hits} cache hits, {posts} token request(s)"
            ));
            ensure!(
                problems.is_empty(),
                "phase {p} ({who}):\n{}",
                problems.join("\n")
            );
        }
        Ok::<(), anyhow::Error>(())
    };
    match run.await {
        Ok(()) => {
            eprintln!("  ({name}: {})", summary.join("; "));
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
        Err(e) => Err(e.context(format!(
            "(the cache file is kept in {}; phases before: {})",
            dir.display(),
            if summary.is_empty() {
                "none".to_string()
            } else {
                summary.join("; ")
            }
        ))),
    }
}

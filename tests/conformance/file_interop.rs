//! The cases over one token cache FILE shared by msal-rs (`msal-cache-file`) and MSAL Python
//! with msal-extensions (`PersistedTokenCache(FilePersistence(path))`, the `<path>.lockfile`
//! protocol): `file_writers` (concurrent writers of both lose nothing, and each serves the
//! other's tokens from the file) and `file_sign_out` (a user signed in by MSAL Python, served
//! and signed out by msal-rs, gone for MSAL Python).
//!
//! Each case works in its own directory under Cargo's `CARGO_TARGET_TMPDIR`, emptied when the
//! case starts and removed when it passes (kept, for reading, when it fails).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use msal_cache_file::FileCache;
use msal_core::cache::keys::ext_cache_key;
use msal_core::{Authority, PublicClient, TokenCache, TokenSource};
use serde_json::{Map, Value, json};

use crate::cases::{Api, AppSpec, CallSpec, Op, Source, Step, UserAppSpec};
use crate::emu::Emu;
use crate::python::{self, PyResult, Python};
use crate::rust_side::{self, LoopbackOnly};
use crate::user_rust;
use crate::wire;

/// How long the writers may take to get ready (MSAL Python starts in a few hundred ms).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The case's directory, emptied.
fn case_dir(name: &str) -> anyhow::Result<PathBuf> {
    crate::child::case_dir("conformance-file-interop", name)
}

/// Runs `body` in the case's directory; removes the directory when it passes, and names it in
/// the failure otherwise.
async fn in_case_dir<F, Fut>(name: &str, body: F) -> anyhow::Result<()>
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let dir = case_dir(name)?;
    match body(dir.clone()).await {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
        Err(e) => Err(e.context(format!("(the files are kept in {})", dir.display()))),
    }
}

/// The token POSTs among the emulator's recorded requests.
async fn token_posts(emu: &Emu) -> anyhow::Result<usize> {
    Ok(emu
        .requests()
        .await?
        .iter()
        .filter(|r| wire::is_token_post(r))
        .count())
}

/// The file, parsed.
fn read_cache_file(path: &Path) -> anyhow::Result<Map<String, Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => bail!("the cache file is not a JSON object"),
        Err(e) => bail!("the cache file does not parse: {e} ({} bytes)", text.len()),
    }
}

/// The entries of one section (none when it is absent).
fn section<'a>(doc: &'a Map<String, Value>, name: &str) -> Vec<(&'a String, &'a Value)> {
    doc.get(name)
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default()
}

/// Files the lock protocol and the atomic writes must not leave behind.
fn leftovers(dir: &Path, file: &Path) -> anyhow::Result<Vec<String>> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let n = e?.file_name().to_string_lossy().into_owned();
        if n != name && !n.starts_with("ready.") && n != "go" {
            out.push(n);
        }
    }
    out.sort();
    Ok(out)
}

/// A shortened list for messages.
fn some(items: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(", … ({} in all)", items.len()));
    }
    s
}

/// The `fmi_path` of writer `w` of `side`'s `k`th token: every token has its own `atext` key.
fn fmi_path(side: &str, w: usize, k: usize) -> String {
    format!("conformance/{side}-writer-{w}/token-{k:03}")
}

/// A job of client-credentials calls, one per `fmi_path`, for MSAL Python over the file.
fn python_job(
    emu: &Emu,
    app: &AppSpec,
    scopes: &[String],
    fmi_paths: &[String],
    file: &Path,
    barrier: Value,
) -> anyhow::Result<Value> {
    let call = CallSpec {
        api: Api::AcquireTokenForClient,
        scopes: scopes.to_vec(),
        claims: None,
        fmi_path: None,
        forwarded_client_claims: None,
        user_assertion: None,
        username: None,
        user_object_id: None,
    };
    let mut job = python::job(emu, app, &call, None, 0, None)?;
    job["calls"] = fmi_paths
        .iter()
        .map(|p| {
            json!({
                "api": "acquire_token_for_client",
                "scopes": scopes,
                "claims_challenge": null,
                "fmi_path": p,
                "user_assertion": null,
            })
        })
        .collect();
    job["cache_file"] = json!(file);
    job["barrier"] = barrier;
    Ok(job)
}

/// A fresh msal-rs cache over the file, as a process opening it would have.
fn file_cache(path: &Path) -> TokenCache {
    TokenCache::with_store(FileCache::new(path))
}

/// One msal-rs writer: its own cache over the file and its own app; returns each token it
/// got, by `fmi_path`.
async fn rust_writer(
    app: msal_core::ConfidentialClient,
    scopes: Vec<String>,
    paths: Vec<String>,
    pause: Duration,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, p) in paths.into_iter().enumerate() {
        if k > 0 && !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let r = app
            .acquire_token_for_client(scopes.as_slice())
            .extra_body("fmi_path", p.clone())
            .await
            .with_context(|| format!("msal-rs acquiring {p}"))?;
        ensure!(
            r.source() == TokenSource::IdentityProvider,
            "msal-rs's token for {p} came from {:?}, expected the identity provider",
            r.source()
        );
        out.push((p, r.access_token().secret().to_owned()));
    }
    Ok(out)
}

/// Waits until every Python writer created its ready file; fails early if one ended first.
async fn wait_ready(
    ready: &[PathBuf],
    jobs: &mut [tokio::task::JoinHandle<anyhow::Result<PyResult>>],
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if ready.iter().all(|r| r.exists()) {
            return Ok(());
        }
        for (i, j) in jobs.iter_mut().enumerate() {
            if j.is_finished() {
                let r = j.await;
                bail!(
                    "MSAL Python writer {i} ended before it was ready: {}",
                    match r {
                        Ok(Ok(_)) => "without an error".to_string(),
                        Ok(Err(e)) => format!("{e:#}"),
                        Err(e) => e.to_string(),
                    }
                );
            }
        }
        ensure!(
            started.elapsed() < READY_TIMEOUT,
            "the MSAL Python writers were not ready after {READY_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How often the token POSTs (in arrival order) switch between msal-rs's writers and MSAL
/// Python's; fails unless the two sides' writes overlapped, or the case would prove nothing.
fn overlap(log: &[msal_tests::emulator::RecordedRequest]) -> anyhow::Result<usize> {
    let sides: Vec<bool> = log
        .iter()
        .filter(|r| wire::is_token_post(r))
        .filter_map(|r| r.form_value("fmi_path"))
        .map(|p| p.starts_with("conformance/rust-"))
        .collect();
    let switches = sides.windows(2).filter(|w| w[0] != w[1]).count();
    let first = |rust: bool| sides.iter().position(|&s| s == rust);
    let last = |rust: bool| sides.iter().rposition(|&s| s == rust);
    let interleaved = matches!((first(false), last(true)), (Some(a), Some(b)) if a < b)
        && matches!((first(true), last(false)), (Some(a), Some(b)) if a < b);
    ensure!(
        interleaved,
        "the writers did not overlap (their token requests switched sides {switches} times): the case proves nothing"
    );
    Ok(switches)
}

/// `file_writers`: see [`crate::cases::CaseKind::FileWriters`].
pub(crate) async fn writers_case(
    name: &str,
    emu: &Emu,
    py: &Python,
    app: &AppSpec,
    scopes: &[String],
    (rust_writers, python_writers, each): (usize, usize, usize),
    pause: Duration,
) -> anyhow::Result<()> {
    in_case_dir(name, |dir| async move {
        let file = dir.join("msal_token_cache.json");
        let rs_paths: Vec<Vec<String>> = (0..rust_writers)
            .map(|w| (0..each).map(|k| fmi_path("rust", w, k)).collect())
            .collect();
        let py_paths: Vec<Vec<String>> = (0..python_writers)
            .map(|w| (0..each).map(|k| fmi_path("python", w, k)).collect())
            .collect();
        let total = (rust_writers + python_writers) * each;

        // 1. Every writer at once on the same file.
        let t0 = Instant::now();
        emu.reset().await?;
        let go = dir.join("go");
        let mut ready = Vec::new();
        let mut py_jobs = Vec::new();
        for (w, paths) in py_paths.iter().enumerate() {
            let r = dir.join(format!("ready.{w}"));
            let barrier = json!({ "ready": r, "go": go, "timeout": READY_TIMEOUT.as_secs() });
            let job = python_job(emu, app, scopes, paths, &file, barrier)?;
            let py = py.clone();
            py_jobs.push(tokio::spawn(async move { py.run(&job).await }));
            ready.push(r);
        }
        let mut rs_apps = Vec::new();
        for _ in 0..rust_writers {
            rs_apps.push(rust_side::build_app(emu, app, file_cache(&file))?);
        }
        wait_ready(&ready, &mut py_jobs).await?;
        let t_ready = t0.elapsed();
        std::fs::write(&go, b"go")?;
        let t1 = Instant::now();
        let rs_jobs: Vec<_> = rs_apps
            .into_iter()
            .zip(rs_paths.iter().cloned())
            .map(|(a, p)| tokio::spawn(rust_writer(a, scopes.to_vec(), p, pause)))
            .collect();
        let mut failures = Vec::new();
        let mut rs_tokens: BTreeMap<String, String> = BTreeMap::new();
        for (w, j) in rs_jobs.into_iter().enumerate() {
            match j.await {
                Ok(Ok(t)) => rs_tokens.extend(t),
                Ok(Err(e)) => failures.push(format!("msal-rs writer {w}: {e:#}")),
                Err(e) => failures.push(format!("msal-rs writer {w}: {e}")),
            }
        }
        let t_rust = t1.elapsed();
        for (w, j) in py_jobs.into_iter().enumerate() {
            let result = match j.await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    failures.push(format!("MSAL Python writer {w}: {e:#}"));
                    continue;
                }
                Err(e) => {
                    failures.push(format!("MSAL Python writer {w}: {e}"));
                    continue;
                }
            };
            if result.calls.len() != each {
                failures.push(format!(
                    "MSAL Python writer {w} made {} calls, expected {each}",
                    result.calls.len()
                ));
            }
            for (k, c) in result.calls.iter().enumerate() {
                if let Err(e) = c.expect_source(&format!("writer {w} call {k}"), "identity_provider")
                {
                    failures.push(format!("{e:#}"));
                }
            }
        }
        let t_all = t1.elapsed();
        ensure!(failures.is_empty(), "{}", failures.join("\n"));
        let posts = token_posts(emu).await?;
        ensure!(
            posts == total,
            "the emulator saw {posts} token POSTs from the writers, expected {total}"
        );
        let switches = overlap(&emu.requests().await?)?;

        // The file holds every token, once, and nothing is left behind.
        let doc = read_cache_file(&file)?;
        let ats = section(&doc, "AccessToken");
        let mut by_ext: BTreeMap<String, Vec<&Map<String, Value>>> = BTreeMap::new();
        for (_, v) in &ats {
            let e = v.as_object().context("an access token entry is not an object")?;
            let ext = e
                .get("ext_cache_key")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            by_ext.entry(ext).or_default().push(e);
        }
        let mut lost: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut doubled = Vec::new();
        let mut secrets: BTreeMap<String, String> = BTreeMap::new();
        for (side, paths) in [("msal-rs", &rs_paths), ("MSAL Python", &py_paths)] {
            for p in paths.iter().flatten() {
                let ext = ext_cache_key(&[("fmi_path", p)]).context("no ext_cache_key")?;
                match by_ext.get(&ext).map(Vec::as_slice) {
                    None | Some([]) => lost.entry(side).or_default().push(p.clone()),
                    Some([one]) => {
                        let secret = one.get("secret").and_then(Value::as_str).unwrap_or("");
                        secrets.insert(p.clone(), secret.to_owned());
                    }
                    Some(many) => doubled.push(format!("{p} ({} entries)", many.len())),
                }
            }
        }
        let mut problems = Vec::new();
        for (side, paths) in &lost {
            problems.push(format!(
                "{} of {side}'s tokens are not in the file: {}",
                paths.len(),
                some(paths)
            ));
        }
        if !doubled.is_empty() {
            problems.push(format!("tokens held twice: {}", some(&doubled)));
        }
        if ats.len() != total {
            problems.push(format!(
                "the file holds {} access tokens, expected {total}",
                ats.len()
            ));
        }
        let replaced: Vec<String> = rs_tokens
            .iter()
            .filter(|(p, s)| secrets.get(*p).is_some_and(|f| f != *s))
            .map(|(p, _)| p.clone())
            .collect();
        if !replaced.is_empty() {
            problems.push(format!(
                "the file holds another token than msal-rs got for {}",
                some(&replaced)
            ));
        }
        let metas = section(&doc, "AppMetadata");
        if metas.len() != 1 {
            problems.push(format!(
                "the file holds {} app metadata entries, expected 1",
                metas.len()
            ));
        }
        for s in ["Account", "IdToken", "RefreshToken"] {
            if !section(&doc, s).is_empty() {
                problems.push(format!("the file has {s} entries (client credentials only)"));
            }
        }
        let left = leftovers(&dir, &file)?;
        if !left.is_empty() {
            problems.push(format!("files left in the cache directory: {}", some(&left)));
        }
        ensure!(
            problems.is_empty(),
            "after {rust_writers} msal-rs and {python_writers} MSAL Python writers of {each} tokens each:\n{}",
            problems.join("\n")
        );
        let before = std::fs::read(&file)?;

        // 2a. msal-rs serves every Python-written token from the file.
        let t2 = Instant::now();
        emu.reset().await?;
        let reader = rust_side::build_app(emu, app, file_cache(&file))?;
        let mut d = Vec::new();
        for p in py_paths.iter().flatten() {
            let r = reader
                .acquire_token_for_client(scopes)
                .extra_body("fmi_path", p.clone())
                .await
                .with_context(|| format!("msal-rs reading {p}"))?;
            if r.source() != TokenSource::Cache {
                d.push(format!("msal-rs got {p} from {:?}", r.source()));
            } else if secrets.get(p).map(String::as_str) != Some(r.access_token().secret()) {
                d.push(format!("msal-rs got another token than the file's for {p}"));
            }
        }
        let posts = token_posts(emu).await?;
        if posts != 0 {
            d.push(format!(
                "msal-rs sent {posts} token POST(s) reading MSAL Python's tokens"
            ));
        }
        let t_rs_read = t2.elapsed();

        // 2b. MSAL Python serves every msal-rs-written token from the file.
        let t3 = Instant::now();
        emu.reset().await?;
        let all_rs: Vec<String> = rs_paths.iter().flatten().cloned().collect();
        let job = python_job(emu, app, scopes, &all_rs, &file, Value::Null)?;
        let result = py.run(&job).await?;
        ensure!(
            result.calls.len() == all_rs.len(),
            "MSAL Python reported {} calls, expected {}",
            result.calls.len(),
            all_rs.len()
        );
        for (p, c) in all_rs.iter().zip(&result.calls) {
            if let Err(e) = c.expect_source(&format!("reading {p}"), "cache") {
                d.push(format!("{e:#}"));
            }
        }
        let posts = token_posts(emu).await?;
        if posts != 0 {
            d.push(format!(
                "MSAL Python sent {posts} token POST(s) reading msal-rs's tokens"
            ));
        }
        let t_py_read = t3.elapsed();
        if std::fs::read(&file)? != before {
            d.push("reading from the cache rewrote the file".to_string());
        }
        ensure!(d.is_empty(), "{}", d.join("\n"));
        eprintln!(
            "  ({name}: {total} tokens; writers ready in {:.2} s, msal-rs writers done in {:.2} s, all writers in {:.2} s, {switches} switches between the sides' token requests; msal-rs read {} in {:.2} s, MSAL Python read {} in {:.2} s)",
            t_ready.as_secs_f64(),
            t_rust.as_secs_f64(),
            t_all.as_secs_f64(),
            python_writers * each,
            t_rs_read.as_secs_f64(),
            rust_writers * each,
            t_py_read.as_secs_f64(),
        );
        Ok(())
    })
    .await
}

/// A user-flow script for MSAL Python over the file; returns its one step's result.
async fn python_step(
    emu: &Emu,
    py: &Python,
    app: &UserAppSpec,
    step: &Step,
    file: &Path,
) -> anyhow::Result<python::PyCall> {
    emu.reset().await?;
    let mut job = python::script_job(
        emu,
        std::slice::from_ref(app),
        std::slice::from_ref(step),
        None,
    )?;
    job["cache_file"] = json!(file);
    let mut result = py.run(&job).await?;
    ensure!(
        result.calls.len() == 1,
        "MSAL Python reported {} steps, expected 1",
        result.calls.len()
    );
    Ok(result.calls.remove(0))
}

/// The user's entries of each section of the file (`home_account_id` equal to `home`).
fn user_entries(doc: &Map<String, Value>, home: &str) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for s in ["Account", "IdToken", "RefreshToken", "AccessToken"] {
        let n = section(doc, s)
            .iter()
            .filter(|(_, v)| v.get("home_account_id").and_then(Value::as_str) == Some(home))
            .count();
        out.insert(s, n);
    }
    out
}

/// `file_sign_out`: see [`crate::cases::CaseKind::FileSignOut`].
pub(crate) async fn sign_out_case(
    name: &str,
    emu: &Emu,
    py: &Python,
    app: &UserAppSpec,
    sign_in: &Step,
) -> anyhow::Result<()> {
    ensure!(
        user_rust::secret(app.client).is_none(),
        "file_sign_out needs a public client"
    );
    ensure!(
        matches!(sign_in.op, Op::UsernamePassword | Op::DeviceCode),
        "file_sign_out signs in with username_password or device_code"
    );
    user_rust::register_apps(emu, std::slice::from_ref(app)).await?;
    in_case_dir(name, |dir| async move {
        let file = dir.join("msal_token_cache.json");
        let t0 = Instant::now();

        // MSAL Python signs the user in, into the file.
        let signed_in = python_step(emu, py, app, sign_in, &file).await?;
        signed_in.expect_source("sign-in", sign_in.expect.python_name())?;
        let [py_account] = signed_in.accounts.as_slice() else {
            bail!(
                "MSAL Python lists {} accounts after signing in, expected 1",
                signed_in.accounts.len()
            );
        };
        let home = py_account
            .get("home_account_id")
            .and_then(Value::as_str)
            .context("MSAL Python's account has no home_account_id")?
            .to_owned();
        let doc = read_cache_file(&file)?;
        let held = user_entries(&doc, &home);
        ensure!(
            held.values().all(|&n| n >= 1),
            "after MSAL Python's sign-in the file holds, of the user's entries: {held:?}"
        );

        // msal-rs, over the file, lists the account and serves the user silently.
        emu.reset().await?;
        let rs = PublicClient::builder(user_rust::client_id(app.client))
            .authority(Authority::from_url(&app.authority)?)
            .client_capabilities(app.client_capabilities.clone())
            .http_client(LoopbackOnly::new(emu)?)
            .cache(file_cache(&file))
            .build()?;
        let accounts = rs.accounts().await?;
        let views: Vec<Value> = accounts.iter().map(user_rust::account_view).collect();
        ensure!(
            views.as_slice() == std::slice::from_ref(py_account),
            "msal-rs lists {} over the file; MSAL Python listed {py_account}",
            Value::from(views.clone())
        );
        let account = &accounts[0];
        let r = rs
            .acquire_token_silent(sign_in.scopes.as_slice(), account)
            .await
            .context("msal-rs's silent call over the file")?;
        ensure!(
            r.source() == TokenSource::Cache,
            "msal-rs's silent call came from {:?}, expected the cache",
            r.source()
        );
        let posts = token_posts(emu).await?;
        ensure!(posts == 0, "msal-rs's silent call sent {posts} token POST(s)");

        // msal-rs signs the user out: nothing of the user is left in the file.
        rs.remove_account(account).await?;
        ensure!(
            rs.accounts().await?.is_empty(),
            "msal-rs still lists an account after removing it"
        );
        let doc = read_cache_file(&file)?;
        let held = user_entries(&doc, &home);
        ensure!(
            held.values().all(|&n| n == 0),
            "after msal-rs signed the user out the file still holds, of the user's entries: {held:?}"
        );
        ensure!(
            section(&doc, "AppMetadata").len() == 1,
            "the file lost its app metadata"
        );

        // MSAL Python, over the file, finds no account.
        let silent = Step {
            op: Op::Silent,
            force_refresh: false,
            expect: Source::Cache,
            ..sign_in.clone()
        };
        let after = python_step(emu, py, app, &silent, &file).await?;
        ensure!(
            after.accounts.is_empty(),
            "MSAL Python still lists {} after msal-rs's sign-out",
            Value::from(after.accounts.clone())
        );
        ensure!(
            after.error.as_deref() == Some("no_account") && !after.has_access_token,
            "MSAL Python's silent call after the sign-out: error {:?}, access token {}",
            after.error,
            after.has_access_token
        );
        let posts = token_posts(emu).await?;
        ensure!(posts == 0, "MSAL Python sent {posts} token POST(s) after the sign-out");
        let left = leftovers(&dir, &file)?;
        ensure!(left.is_empty(), "files left in the cache directory: {}", some(&left));
        eprintln!("  ({name}: {:.2} s)", t0.elapsed().as_secs_f64());
        Ok(())
    })
    .await
}

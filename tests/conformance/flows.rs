//! The cases that run both MSAL Python and msal-rs against the emulator: `wire`,
//! `cache_schema` and `cache_interop`. Each side starts from a fresh emulator state.

use anyhow::{bail, ensure};
use msal_core::{TokenCache, TokenSource};
use msal_tests::emulator::RecordedRequest;

use crate::cache_cmp::compare_caches;
use crate::cases::{AppSpec, CallSpec, Direction, SecondCall, Source};
use crate::emu::Emu;
use crate::python::{self, Python};
use crate::rust_side;
use crate::wire;

fn token_posts(reqs: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    reqs.iter().filter(|r| wire::is_token_post(r)).collect()
}

fn rust_source(s: Source) -> TokenSource {
    match s {
        Source::Cache => TokenSource::Cache,
        Source::IdentityProvider => TokenSource::IdentityProvider,
    }
}

/// Fails with every difference, one per line.
pub(crate) fn differences(diffs: Vec<String>) -> anyhow::Result<()> {
    if diffs.is_empty() {
        return Ok(());
    }
    bail!(
        "{} difference(s) between MSAL Python and msal-rs:\n{}",
        diffs.len(),
        diffs
            .iter()
            .map(|d| format!("- {d}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

async fn assertion(emu: &Emu, call: &CallSpec) -> anyhow::Result<Option<String>> {
    if call.api == crate::cases::Api::UserFederatedIdentityCredential {
        return Ok(Some(emu.mint_instance_token().await?));
    }
    match &call.user_assertion {
        Some(u) => Ok(Some(emu.mint(u).await?)),
        None => Ok(None),
    }
}

/// MSAL Python makes the call `times` times on one app; returns its result and the requests
/// of each call.
async fn python_side(
    emu: &Emu,
    py: &Python,
    app: &AppSpec,
    call: &CallSpec,
    assertion: Option<&str>,
    times: usize,
    cache: Option<&str>,
) -> anyhow::Result<(python::PyResult, Vec<Vec<RecordedRequest>>)> {
    emu.reset().await?;
    let job = python::job(emu, app, call, assertion, times, cache)?;
    let result = py.run(&job).await?;
    ensure!(
        result.calls.len() == times,
        "MSAL Python reported {} calls, expected {times}",
        result.calls.len()
    );
    let log = emu.requests().await?;
    let per_call = python::split_by_call(&result, &log)?;
    Ok((result, per_call))
}

/// `wire`: the first call's token POST and discovery GETs must be the same; the second call
/// must come from where the case says, for each side.
pub(crate) async fn wire_case(
    name: &str,
    emu: &Emu,
    py: &Python,
    app: &AppSpec,
    call: &CallSpec,
    second: &SecondCall,
) -> anyhow::Result<()> {
    let assertion = assertion(emu, call).await?;
    let assertion = assertion.as_deref();

    let (result, py_calls) = python_side(emu, py, app, call, assertion, 2, None).await?;
    result.calls[0].expect_source("first", "identity_provider")?;
    result.calls[1].expect_source("second", second.python.python_name())?;

    emu.reset().await?;
    let rs_app = rust_side::build_app(emu, app, TokenCache::new())?;
    let s1 = rust_side::call(&rs_app, call, assertion).await?;
    ensure!(
        s1 == TokenSource::IdentityProvider,
        "msal-rs's first call came from {s1:?}, expected the identity provider"
    );
    let rs1 = emu.requests().await?;
    emu.clear_requests().await?;
    let s2 = rust_side::call(&rs_app, call, assertion).await?;
    let rs2 = emu.requests().await?;
    dump(name, &[&py_calls[0], &py_calls[1]], &[&rs1, &rs2])?;

    let mut d = Vec::new();
    for (side, reqs) in [
        ("python", &py_calls[0]),
        ("python", &py_calls[1]),
        ("rust", &rs1),
        ("rust", &rs2),
    ] {
        d.extend(wire::unexpected_requests(side, reqs));
    }
    let (pp, rp) = (token_posts(&py_calls[0]), token_posts(&rs1));
    if pp.len() == 1 && rp.len() == 1 {
        d.extend(wire::compare_token_posts(pp[0], rp[0]));
    } else {
        d.push(format!(
            "first call: python sent {} token POST(s), rust {} (expected 1 each)",
            pp.len(),
            rp.len()
        ));
    }
    d.extend(wire::compare_discovery(&py_calls[0], &rs1));

    let want = second.python.token_posts();
    let got = token_posts(&py_calls[1]).len();
    if got != want {
        d.push(format!(
            "second call: python sent {got} token POST(s), expected {want}"
        ));
    }
    if s2 != rust_source(second.rust) {
        d.push(format!(
            "second call: rust's token came from {s2:?}, expected {:?}",
            second.rust
        ));
    }
    let want = second.rust.token_posts();
    let got = token_posts(&rs2).len();
    if got != want {
        d.push(format!(
            "second call: rust sent {got} token POST(s), expected {want}"
        ));
    }
    // When both sides went to the network again, their second requests must match too
    // (telemetry now reports the first call's success).
    if let ([p], [r]) = (
        token_posts(&py_calls[1]).as_slice(),
        token_posts(&rs2).as_slice(),
    ) {
        d.extend(
            wire::compare_token_posts(p, r)
                .into_iter()
                .map(|x| format!("second call: {x}")),
        );
        // MSAL Python reuses a client assertion for 9 minutes (msal/oauth2cli/assertion.py).
        let reused = |a: &RecordedRequest, b: &RecordedRequest| {
            a.form_value("client_assertion")
                .is_some_and(|x| b.form_value("client_assertion") == Some(x))
        };
        if let (Some(p1), Some(r1)) = (pp.first(), rp.first()) {
            let (pr, rr) = (reused(p1, p), reused(r1, r));
            if pr != rr {
                d.push(format!(
                    "second call: python {} its client assertion, rust {}",
                    if pr { "reused" } else { "did not reuse" },
                    if rr { "reused it" } else { "did not reuse it" }
                ));
            }
        }
    }
    differences(d)
}

/// With `MSAL_CONFORMANCE_DUMP=<dir>`, writes each side's recorded requests per call to
/// `<dir>/<case name>.json`, and each side's serialized cache for cache cases (for reading
/// what was compared).
pub(crate) fn dump(
    name: &str,
    py: &impl serde::Serialize,
    rs: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let Some(dir) = std::env::var_os("MSAL_CONFORMANCE_DUMP") else {
        return Ok(());
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("{}.json", name.replace(['/', '\\'], "_")));
    let doc = serde_json::json!({ "python": py, "rust": rs });
    std::fs::write(&file, serde_json::to_string_pretty(&doc)?)?;
    Ok(())
}

/// Runs the call once in msal-rs over `cache`; returns the source and the requests.
async fn rust_once(
    emu: &Emu,
    app: &AppSpec,
    call: &CallSpec,
    assertion: Option<&str>,
    cache: TokenCache,
) -> anyhow::Result<(TokenSource, Vec<RecordedRequest>)> {
    emu.reset().await?;
    let rs_app = rust_side::build_app(emu, app, cache)?;
    let s = rust_side::call(&rs_app, call, assertion).await?;
    Ok((s, emu.requests().await?))
}

/// `cache_schema`: after the same call, both serialized caches have the same sections, keys,
/// fields and (non-volatile) values.
pub(crate) async fn cache_schema_case(
    name: &str,
    emu: &Emu,
    py: &Python,
    app: &AppSpec,
    call: &CallSpec,
) -> anyhow::Result<()> {
    let assertion = assertion(emu, call).await?;
    let assertion = assertion.as_deref();
    let (result, _) = python_side(emu, py, app, call, assertion, 1, None).await?;
    result.calls[0].expect_source("only", "identity_provider")?;
    let py_cache = result
        .cache
        .ok_or_else(|| anyhow::anyhow!("MSAL Python returned no cache"))?;

    let cache = TokenCache::new();
    let (s, _) = rust_once(emu, app, call, assertion, cache.clone()).await?;
    ensure!(
        s == TokenSource::IdentityProvider,
        "msal-rs's call came from {s:?}"
    );
    let rs_cache = cache.serialize()?;
    let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap_or_default();
    dump(name, &parse(&py_cache), &parse(&rs_cache))?;
    differences(compare_caches(&py_cache, &rs_cache))
}

/// `cache_interop`: a cache written by one side serves the other's call without a token request.
pub(crate) async fn cache_interop_case(
    emu: &Emu,
    py: &Python,
    app: &AppSpec,
    call: &CallSpec,
    direction: Direction,
) -> anyhow::Result<()> {
    let assertion = assertion(emu, call).await?;
    let assertion = assertion.as_deref();
    match direction {
        Direction::PythonToRust => {
            let (result, _) = python_side(emu, py, app, call, assertion, 1, None).await?;
            result.calls[0].expect_source("writing", "identity_provider")?;
            let text = result
                .cache
                .ok_or_else(|| anyhow::anyhow!("MSAL Python returned no cache"))?;
            let cache = TokenCache::new();
            cache.deserialize(&text)?;
            let (s, reqs) = rust_once(emu, app, call, assertion, cache).await?;
            let posts = token_posts(&reqs).len();
            ensure!(
                s == TokenSource::Cache && posts == 0,
                "msal-rs over MSAL Python's cache: token from {s:?} with {posts} token POST(s); expected the cache and none"
            );
        }
        Direction::RustToPython => {
            let cache = TokenCache::new();
            let (s, _) = rust_once(emu, app, call, assertion, cache.clone()).await?;
            ensure!(
                s == TokenSource::IdentityProvider,
                "msal-rs's writing call came from {s:?}"
            );
            let text = cache.serialize()?;
            let (result, per_call) =
                python_side(emu, py, app, call, assertion, 1, Some(&text)).await?;
            result.calls[0].expect_source("reading", "cache")?;
            let posts = token_posts(&per_call[0]).len();
            ensure!(
                posts == 0,
                "MSAL Python over msal-rs's cache sent {posts} token POST(s); expected none"
            );
        }
    }
    Ok(())
}

/// `loopback_guard`: an authority on a host the emulator does not serve is refused by both
/// sides' transports (MSAL Python's shim, msal-rs's [`rust_side::LoopbackOnly`]); the
/// emulator sees nothing.
pub(crate) async fn loopback_guard_case(
    emu: &Emu,
    py: &Python,
    app: &AppSpec,
    call: &CallSpec,
) -> anyhow::Result<()> {
    let assertion = assertion(emu, call).await?;
    let assertion = assertion.as_deref();
    emu.reset().await?;
    let job = python::job(emu, app, call, assertion, 1, None)?;
    match py.run(&job).await {
        Ok(r) => bail!(
            "MSAL Python was not refused: {:?}",
            r.calls.first().map(|c| &c.token_source)
        ),
        Err(e) if format!("{e:#}").contains("RefusedDestination") => {}
        Err(e) => bail!("MSAL Python failed, but not by the shim's refusal: {e:#}"),
    }
    let rs_app = rust_side::build_app(emu, app, TokenCache::new())?;
    match rust_side::call(&rs_app, call, assertion).await {
        Ok(s) => bail!("msal-rs was not refused (token from {s:?})"),
        Err(e) if format!("{e:#}").contains("not an emulator host") => {}
        Err(e) => bail!("msal-rs failed, but not by the guard's refusal: {e:#}"),
    }
    let seen = emu.requests().await?;
    ensure!(
        seen.is_empty(),
        "the emulator recorded {} request(s); expected none",
        seen.len()
    );
    Ok(())
}

//! The user-flow cases: the same script (auth code, device code, username/password, silent
//! refresh, FOCI) run by MSAL Python and by msal-rs, each from a fresh emulator state:
//! `user_wire`, `user_cache_schema` and `user_cache_interop`.

use anyhow::ensure;
use msal_core::TokenCache;
use msal_tests::emulator::RecordedRequest;
use serde_json::Value;

use crate::cache_cmp::compare_caches;
use crate::cases::{Direction, Op, Source, Step, UserAppSpec};
use crate::emu::Emu;
use crate::flows::{differences, dump};
use crate::python::{self, Python};
use crate::user_rust::{self, StepRun};
use crate::wire;

fn label(i: usize, step: &Step) -> String {
    let op = match step.op {
        Op::AuthCode => "auth_code",
        Op::DeviceCode => "device_code",
        Op::UsernamePassword => "username_password",
        Op::Silent if step.force_refresh => "silent(force_refresh)",
        Op::Silent if step.ssh_key_id.is_some() => "silent(ssh-cert)",
        Op::Silent => "silent",
    };
    format!("step {i} ({op}, app {})", step.app)
}

/// A step's source against what the case expects.
fn check_source(side: &str, run: &StepRun, want: Source) -> Option<String> {
    match &run.source {
        Ok(s) if s == want.python_name() => None,
        Ok(s) => Some(format!(
            "{side}'s token came from {s}, expected {}",
            want.python_name()
        )),
        Err(e) => Some(format!("{side} failed: {e}")),
    }
}

/// A successful step's token type against the step's kind: `ssh-cert` for an SSH certificate
/// step, Bearer otherwise.
fn check_token_type(side: &str, run: &StepRun, step: &Step) -> Option<String> {
    run.source.as_ref().ok()?;
    let want = if step.ssh_key_id.is_some() {
        "ssh-cert"
    } else {
        "Bearer"
    };
    match run.token_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case(want) => None,
        other => Some(format!("{side}'s token_type is {other:?}, expected {want}")),
    }
}

fn of(reqs: &[RecordedRequest], f: fn(&RecordedRequest) -> bool) -> Vec<&RecordedRequest> {
    reqs.iter().filter(|r| f(r)).collect()
}

/// Pairs `py` with `rs` in order and compares each pair.
fn compare_pairs(
    what: &str,
    py: &[&RecordedRequest],
    rs: &[&RecordedRequest],
    volatile: &[&str],
    d: &mut Vec<String>,
) {
    if py.len() != rs.len() {
        d.push(format!(
            "{what}: python sent {}, rust {}",
            py.len(),
            rs.len()
        ));
    }
    let many = py.len().max(rs.len()) > 1;
    for (n, (p, r)) in py.iter().zip(rs).enumerate() {
        let at = if many {
            format!("{what} #{}", n + 1)
        } else {
            what.to_string()
        };
        for x in wire::compare_token_posts_with(p, r, volatile) {
            d.push(format!("{at}: {x}"));
        }
    }
}

/// Whether a device code poll reuses the correlation id of its device authorization POST.
fn reuses_correlation_id(reqs: &[RecordedRequest]) -> Option<bool> {
    let init = reqs
        .iter()
        .find(|r| wire::is_device_authorization_post(r))?;
    let poll = reqs.iter().find(|r| wire::is_token_post(r))?;
    Some(correlation_id(init).is_some() && correlation_id(init) == correlation_id(poll))
}

fn correlation_id(r: &RecordedRequest) -> Option<String> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("client-request-id"))
        .map(|(_, v)| v.clone())
}

/// Whether the user realm GET carries the correlation id of the password grant after it.
fn realm_get_shares_correlation_id(reqs: &[RecordedRequest]) -> Option<bool> {
    let get = reqs.iter().find(|r| wire::is_user_realm_get(r))?;
    let post = reqs.iter().find(|r| wire::is_token_post(r))?;
    Some(correlation_id(get).is_some() && correlation_id(get) == correlation_id(post))
}

fn sorted_accounts(a: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = a.iter().map(Value::to_string).collect();
    v.sort();
    v
}

/// Every difference between the two sides' runs of `steps`.
fn compare_runs(steps: &[Step], py: &[StepRun], rs: &[StepRun]) -> Vec<String> {
    let mut d = Vec::new();
    for (i, ((step, p), r)) in steps.iter().zip(py).zip(rs).enumerate() {
        let at = label(i, step);
        let mut s = Vec::new();
        s.extend(check_source("python", p, step.expect));
        s.extend(check_source("rust", r, step.expect));
        s.extend(check_token_type("python", p, step));
        s.extend(check_token_type("rust", r, step));
        for (side, run) in [("python", p), ("rust", r)] {
            for x in run.requests.iter().filter(|x| {
                !wire::is_token_post(x)
                    && !wire::is_device_authorization_post(x)
                    && !wire::is_ws_trust_post(x)
                    && !wire::is_discovery_get(x)
            }) {
                s.push(format!(
                    "{side} sent an unexpected request: {} {}",
                    x.method,
                    wire::target(x)
                ));
            }
        }
        let browsed = |run: &StepRun| of(&run.requests, wire::is_authorize).len();
        let want_browse = usize::from(step.op == Op::AuthCode);
        if browsed(p) != want_browse || browsed(r) != want_browse {
            s.push(format!(
                "authorization endpoint visits: python {} | rust {} (expected {want_browse})",
                browsed(p),
                browsed(r)
            ));
        }
        match (&p.auth_uri, &r.auth_uri) {
            (Some(pu), Some(ru)) => s.extend(wire::compare_auth_uris(pu, ru)),
            (None, None) => {}
            (pu, ru) => s.push(format!(
                "authorization URL: python {:?} | rust {:?}",
                pu.is_some(),
                ru.is_some()
            )),
        }
        compare_pairs(
            "device authorization POST",
            &of(&p.requests, wire::is_device_authorization_post),
            &of(&r.requests, wire::is_device_authorization_post),
            &[],
            &mut s,
        );
        let (pw, rw) = (
            of(&p.requests, wire::is_ws_trust_post),
            of(&r.requests, wire::is_ws_trust_post),
        );
        if pw.len() != rw.len() {
            s.push(format!(
                "WS-Trust POST: python sent {}, rust {}",
                pw.len(),
                rw.len()
            ));
        }
        for (pg, rg) in pw.iter().zip(&rw) {
            s.extend(
                wire::compare_ws_trust_posts(pg, rg)
                    .into_iter()
                    .map(|x| format!("WS-Trust POST: {x}")),
            );
        }
        compare_pairs(
            "token POST",
            &of(&p.requests, wire::is_token_post),
            &of(&r.requests, wire::is_token_post),
            &wire::USER_FLOW_VOLATILE_FIELDS,
            &mut s,
        );
        for (side, run) in [("python", p), ("rust", r)] {
            for t in of(&run.requests, wire::is_token_post) {
                if let (Some(c), Some(dc)) = (t.form_value("code"), t.form_value("device_code"))
                    && c != dc
                {
                    s.push(format!("{side}'s device code poll: code != device_code"));
                }
            }
        }
        if step.op == Op::DeviceCode {
            let (pr, rr) = (
                reuses_correlation_id(&p.requests),
                reuses_correlation_id(&r.requests),
            );
            if pr != rr {
                s.push(format!(
                    "device code poll reuses the device authorization's client-request-id: python {pr:?} | rust {rr:?}"
                ));
            }
        }
        let (pu, ru) = (
            of(&p.requests, wire::is_user_realm_get),
            of(&r.requests, wire::is_user_realm_get),
        );
        let (pc, rc) = (
            realm_get_shares_correlation_id(&p.requests),
            realm_get_shares_correlation_id(&r.requests),
        );
        if pc != rc {
            s.push(format!(
                "user realm GET carries the password POST's client-request-id: python {pc:?} | rust {rc:?}"
            ));
        }
        for (pg, rg) in pu.iter().zip(&ru) {
            let mut h = Vec::new();
            wire::compare_headers(&pg.headers, &rg.headers, &mut h);
            s.extend(h.into_iter().map(|x| format!("user realm GET: {x}")));
        }
        if sorted_accounts(&p.accounts) != sorted_accounts(&r.accounts) {
            s.push(format!(
                "accounts after the step: python {} | rust {}",
                Value::from(p.accounts.clone()),
                Value::from(r.accounts.clone())
            ));
        }
        d.extend(s.into_iter().map(|x| format!("{at}: {x}")));
    }
    // Discovery (OIDC, instance discovery, user realm) over the whole script: MSAL Python
    // discovers when an app is built, msal-rs at its first request.
    let gets = |runs: &[StepRun]| -> Vec<RecordedRequest> {
        runs.iter()
            .flat_map(|r| r.requests.iter())
            .filter(|r| !wire::is_authorize(r))
            .cloned()
            .collect()
    };
    d.extend(wire::compare_discovery(&gets(py), &gets(rs)));
    d
}

/// Fails unless every step of one side's run came from where the case expects.
fn expect_sources(side: &str, steps: &[Step], runs: &[StepRun]) -> anyhow::Result<()> {
    let d: Vec<String> = steps
        .iter()
        .zip(runs)
        .enumerate()
        .filter_map(|(i, (s, r))| {
            check_source(side, r, s.expect)
                .or_else(|| check_token_type(side, r, s))
                .map(|x| format!("{}: {x}", label(i, s)))
        })
        .collect();
    ensure!(d.is_empty(), "{}", d.join("\n"));
    Ok(())
}

/// `user_wire`: the script's requests, sources and accounts must be the same on both sides.
pub(crate) async fn user_wire_case(
    name: &str,
    emu: &Emu,
    py: &Python,
    apps: &[UserAppSpec],
    steps: &[Step],
) -> anyhow::Result<()> {
    user_rust::register_apps(emu, apps).await?;
    let (py_runs, _) = python::run_script(emu, py, apps, steps, None).await?;
    let rs_runs = user_rust::run_script(emu, apps, steps, &TokenCache::new()).await?;
    dump(name, &py_runs, &rs_runs)?;
    differences(compare_runs(steps, &py_runs, &rs_runs))
}

/// `user_cache_schema`: after the script, both serialized caches have the same schema.
pub(crate) async fn user_cache_schema_case(
    name: &str,
    emu: &Emu,
    py: &Python,
    apps: &[UserAppSpec],
    steps: &[Step],
) -> anyhow::Result<()> {
    user_rust::register_apps(emu, apps).await?;
    let (py_runs, py_cache) = python::run_script(emu, py, apps, steps, None).await?;
    expect_sources("python", steps, &py_runs)?;
    let cache = TokenCache::new();
    let rs_runs = user_rust::run_script(emu, apps, steps, &cache).await?;
    expect_sources("rust", steps, &rs_runs)?;
    let rs_cache = cache.serialize()?;
    let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or_default();
    dump(name, &parse(&py_cache), &parse(&rs_cache))?;
    differences(compare_caches(&py_cache, &rs_cache))
}

/// `user_cache_interop`: the reader, over the writer's cache, lists the writer's accounts and
/// serves its `read` steps as the case expects (from the cache: no token request).
pub(crate) async fn user_cache_interop_case(
    emu: &Emu,
    py: &Python,
    apps: &[UserAppSpec],
    write: &[Step],
    read: &[Step],
    direction: Direction,
) -> anyhow::Result<()> {
    user_rust::register_apps(emu, apps).await?;
    let (writer, readers, reader_side) = match direction {
        Direction::PythonToRust => {
            let (w, text) = python::run_script(emu, py, apps, write, None).await?;
            expect_sources("python (writing)", write, &w)?;
            let cache = TokenCache::new();
            cache.deserialize(&text)?;
            let r = user_rust::run_script(emu, apps, read, &cache).await?;
            (w, r, "rust")
        }
        Direction::RustToPython => {
            let cache = TokenCache::new();
            let w = user_rust::run_script(emu, apps, write, &cache).await?;
            expect_sources("rust (writing)", write, &w)?;
            let text = cache.serialize()?;
            let (r, _) = python::run_script(emu, py, apps, read, Some(&text)).await?;
            (w, r, "python")
        }
    };
    let mut d = Vec::new();
    let written = writer
        .last()
        .map(|w| sorted_accounts(&w.accounts))
        .unwrap_or_default();
    for (i, (step, run)) in read.iter().zip(&readers).enumerate() {
        let at = label(i, step);
        d.extend(check_source(reader_side, run, step.expect).map(|x| format!("{at}: {x}")));
        d.extend(check_token_type(reader_side, run, step).map(|x| format!("{at}: {x}")));
        let posts = of(&run.requests, wire::is_token_post).len();
        if posts != step.expect.token_posts() {
            d.push(format!(
                "{at}: {reader_side} sent {posts} token POST(s), expected {}",
                step.expect.token_posts()
            ));
        }
        if sorted_accounts(&run.accounts) != written {
            d.push(format!(
                "{at}: the reader's accounts {} are not the writer's {}",
                Value::from(run.accounts.clone()),
                Value::from(
                    writer
                        .last()
                        .map(|w| w.accounts.clone())
                        .unwrap_or_default()
                )
            ));
        }
    }
    differences(d)
}

//! The `msal_fixture` cases: a token cache file from the test suite of MSAL .NET, Go, Java or
//! Node (`tests/fixtures/conformance/msal_fixtures/`, sources in `sources.json` there), read
//! by MSAL Python as the oracle and by msal-rs, with no network.
//!
//! For every app the file implies (client id × environment × realm), each side lists the
//! accounts, calls silent acquisition for every account and every access token's scopes (the
//! access token served from the cache), forces a refresh for every account (the refresh tokens
//! it would redeem) and signs every account out (the entries, ID tokens included, it
//! removes). Every token, account and entry MSAL Python uses, msal-rs must use too; anything
//! msal-rs uses that MSAL Python does not is a failure. Then msal-rs re-serializes the file
//! unchanged, and once more after writing one new token: every entry of the file must still be
//! there with the same value and the same text (whitespace aside; the count of entries that
//! are byte-identical is reported). What MSAL Python cannot read or do is recorded in the
//! case's summary line, not counted against msal-rs.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::cases::crate_dir;
use crate::fixture_doc::{self, FixtureApp, Tagged};
use crate::fixture_rust::{self, AppAnswer};
use crate::python::Python;

/// What the oracle printed.
#[derive(Debug, Deserialize)]
struct OracleResult {
    load_error: Option<String>,
    apps: Vec<AppAnswer>,
    exception: Option<String>,
}

/// What one comparison found.
#[derive(Default)]
struct Tally {
    /// (used by both, used by MSAL Python) per kind.
    at: (usize, usize),
    rt: (usize, usize),
    accounts: (usize, usize),
    removed: (usize, usize),
    /// Failures.
    problems: Vec<String>,
    /// What MSAL Python cannot do with the file.
    python_cannot: Vec<String>,
    /// What msal-rs uses beyond MSAL Python by design (each with the reason in the code).
    deliberate: Vec<String>,
}

/// `msal_fixture`: see the module documentation.
pub(crate) async fn fixture_case(name: &str, py: &Python, file: &str) -> anyhow::Result<()> {
    let path = crate_dir().join(file);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let text = fixture_doc::text_of(&bytes)?;
    let mut tally = Tally::default();
    let summary = match fixture_doc::parse(&text) {
        None => unreadable(py, &text, &mut tally).await?,
        Some(doc) => {
            usable(py, &doc, &mut tally).await?;
            let reserialized = reserialize(&text, fixture_doc::clock(&doc)).await?;
            tally.problems.extend(reserialized.1);
            format!(
                "AT {}/{}, RT {}/{}, accounts {}/{}, sign-out {}/{} entries, {}",
                tally.at.0,
                tally.at.1,
                tally.rt.0,
                tally.rt.1,
                tally.accounts.0,
                tally.accounts.1,
                tally.removed.0,
                tally.removed.1,
                reserialized.0
            )
        }
    };
    let cannot = if tally.python_cannot.is_empty() {
        String::new()
    } else {
        format!("; MSAL Python cannot: {}", tally.python_cannot.join("; "))
    };
    let deliberate = if tally.deliberate.is_empty() {
        String::new()
    } else {
        format!("; deliberate differences: {}", tally.deliberate.join("; "))
    };
    eprintln!("  ({name}: {summary}{cannot}{deliberate})");
    if !tally.problems.is_empty() {
        bail!(
            "{summary}{cannot}{deliberate}\n{}",
            tally.problems.join("\n")
        );
    }
    Ok(())
}

/// A file that is not strict JSON: MSAL Python's verdict, and msal-rs must not read what it
/// refuses.
async fn unreadable(py: &Python, text: &str, tally: &mut Tally) -> anyhow::Result<String> {
    let oracle = oracle(py, text, 0, &[]).await?;
    let rs = fixture_rust::load(text);
    match (&oracle.load_error, rs) {
        (Some(e), Err(r)) => {
            tally
                .python_cannot
                .push(format!("read the file ({})", first_line(e)));
            Ok(format!(
                "not JSON; neither reads it (msal-rs: {})",
                first_line(&r.to_string())
            ))
        }
        (Some(e), Ok(_)) => {
            tally.problems.push(format!(
                "msal-rs reads a file MSAL Python refuses ({})",
                first_line(e)
            ));
            Ok("not JSON; msal-rs reads it anyway".to_owned())
        }
        (None, _) => bail!(
            "MSAL Python reads a file serde_json refuses: the harness cannot derive its questions"
        ),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

async fn oracle(
    py: &Python,
    text: &str,
    now: u64,
    apps: &[FixtureApp],
) -> anyhow::Result<OracleResult> {
    let job = json!({
        "cache": text,
        "now": now,
        "instance_metadata": fixture_doc::instance_metadata(),
        "apps": apps,
    });
    let out = py.run_fixture_oracle(&job).await?;
    let result: OracleResult =
        serde_json::from_str(out.trim()).context("parsing the fixture oracle's answer")?;
    if let Some(tb) = &result.exception {
        bail!("MSAL Python's fixture oracle raised:\n{}", tb.trim_end());
    }
    Ok(result)
}

/// Both sides' answers for every app of the (tagged) document, compared.
async fn usable(py: &Python, doc: &fixture_doc::Doc, tally: &mut Tally) -> anyhow::Result<()> {
    let (tagged, tags) = fixture_doc::tagged(doc);
    let tags: BTreeMap<String, Tagged> = tags.into_iter().collect();
    let text = serde_json::to_string(&tagged)?;
    let apps = fixture_doc::apps(doc);
    let now = fixture_doc::clock(doc);
    let oracle = oracle(py, &text, now, &apps).await?;
    if let Some(e) = &oracle.load_error {
        tally
            .python_cannot
            .push(format!("read the file ({})", first_line(e)));
        if fixture_rust::load(&text).is_ok() {
            tally
                .problems
                .push("msal-rs reads a file MSAL Python refuses".to_owned());
        }
        return Ok(());
    }
    if oracle.apps.len() != apps.len() {
        bail!(
            "the oracle answered for {} apps, asked about {}",
            oracle.apps.len(),
            apps.len()
        );
    }
    for (spec, py_app) in apps.iter().zip(&oracle.apps) {
        let rs_app = fixture_rust::run_app(spec, &text, now).await;
        compare(spec, py_app, &rs_app, &tags, tally);
    }
    Ok(())
}

fn hid(h: &Option<String>) -> &str {
    h.as_deref().unwrap_or("")
}

fn show(tags: &BTreeMap<String, Tagged>, secret: &str) -> String {
    tags.get(secret)
        .map(|t| t.entry.clone())
        .unwrap_or_else(|| format!("a token not in the file ({secret:?})"))
}

/// The tenant placeholders of Entra ID's multi-tenant authorities.
fn names_no_tenant(realm: &str) -> bool {
    ["common", "organizations", "consumers"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(realm))
}

fn compare(
    spec: &FixtureApp,
    py: &AppAnswer,
    rs: &AppAnswer,
    tags: &BTreeMap<String, Tagged>,
    t: &mut Tally,
) {
    let app = format!("{} at {}", spec.client_id, spec.authority);
    if let Some(e) = &py.error {
        t.python_cannot
            .push(format!("build the app {app} ({})", first_line(e)));
        return;
    }
    if let Some(e) = &rs.error {
        t.problems.push(format!("{app}: msal-rs failed: {e}"));
    }
    let py_ids: BTreeSet<&str> = py
        .accounts
        .iter()
        .map(|a| hid(&a.home_account_id))
        .collect();
    let rs_ids: BTreeSet<&str> = rs
        .accounts
        .iter()
        .map(|a| hid(&a.home_account_id))
        .collect();
    t.accounts.1 += py_ids.len();
    t.accounts.0 += py_ids.intersection(&rs_ids).count();
    for id in py_ids.difference(&rs_ids) {
        t.problems.push(format!(
            "{app}: MSAL Python lists account {id:?}, msal-rs does not"
        ));
    }
    let mut parts = spec.authority.trim_start_matches("https://").split('/');
    let host = parts.next().unwrap_or_default();
    let app_realm = parts.next().unwrap_or_default();
    for id in rs_ids.difference(&py_ids) {
        let elsewhere = rs.accounts.iter().any(|a| {
            hid(&a.home_account_id) == *id
                && a.environment
                    .as_deref()
                    .is_some_and(|e| !e.eq_ignore_ascii_case(host))
        });
        if elsewhere && !py.accounts.is_empty() {
            // msal-rs lists the accounts of every alias of the app's cloud (`accounts()` in
            // msal-core/src/app/user_methods.rs), as MSAL .NET does; MSAL Python looks at the
            // aliases only when its own host has no account (msal/application.py
            // `get_accounts`).
            t.deliberate.push(format!(
                "{app}: msal-rs also lists {id:?}, cached under another alias of the cloud"
            ));
        } else {
            t.problems.push(format!(
                "{app}: msal-rs lists account {id:?}, MSAL Python does not"
            ));
        }
    }
    let rs_silent: BTreeMap<(&str, &Vec<String>), Option<&str>> = rs
        .silent
        .iter()
        .map(|s| {
            (
                (hid(&s.home_account_id), &s.scopes),
                s.access_token.as_deref(),
            )
        })
        .collect();
    for s in &py.silent {
        let key = (hid(&s.home_account_id), &s.scopes);
        if let Some(e) = &s.raised {
            t.python_cannot.push(format!(
                "answer silent for {:?} {:?} through {app} (raised {})",
                key.0,
                key.1.join(" "),
                first_line(e)
            ));
            continue;
        }
        let theirs = s.access_token.as_deref();
        let ours = rs_silent.get(&key).copied().flatten();
        if theirs.is_some() {
            t.at.1 += 1;
        }
        match (theirs, ours) {
            (Some(a), Some(b)) if a == b => t.at.0 += 1,
            (Some(a), Some(b)) => t.problems.push(format!(
                "{app}: silent for {:?} {:?}: MSAL Python serves {}, msal-rs {}",
                key.0,
                key.1.join(" "),
                show(tags, a),
                show(tags, b)
            )),
            (Some(a), None) => t.problems.push(format!(
                "{app}: silent for {:?} {:?}: MSAL Python serves {}, msal-rs nothing from the cache",
                key.0,
                key.1.join(" "),
                show(tags, a)
            )),
            (None, Some(b))
                if names_no_tenant(app_realm)
                    && tags
                        .get(b)
                        .is_some_and(|x| !x.realm.eq_ignore_ascii_case(app_realm)) =>
            {
                // An authority without a tenant also reads the account's own tenant, where
                // MSAL .NET, Go, Java and Node cache its tokens (`account_realm_query` in
                // msal-core/src/flow/silent.rs); MSAL Python looks under `common` only.
                t.deliberate.push(format!(
                    "{app}: silent for {:?} also serves {} (the account's tenant)",
                    key.0,
                    show(tags, b)
                ));
            }
            (None, Some(b)) => t.problems.push(format!(
                "{app}: silent for {:?} {:?}: msal-rs serves {}, MSAL Python nothing",
                key.0,
                key.1.join(" "),
                show(tags, b)
            )),
            (None, None) => {}
        }
    }
    for r in &py.refresh {
        let id = hid(&r.home_account_id);
        if let Some(e) = &r.raised {
            t.python_cannot.push(format!(
                "refresh {id:?} through {app} (raised {})",
                first_line(e)
            ));
            continue;
        }
        let theirs: BTreeSet<&str> = r
            .refresh_tokens
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let ours: BTreeSet<&str> = rs
            .refresh
            .iter()
            .filter(|x| hid(&x.home_account_id) == id)
            .flat_map(|x| x.refresh_tokens.iter().flatten().map(String::as_str))
            .collect();
        t.rt.1 += theirs.len();
        t.rt.0 += theirs.intersection(&ours).count();
        for rt in theirs.difference(&ours) {
            t.problems.push(format!(
                "{app}: refreshing {id:?}: MSAL Python redeems {}, msal-rs does not",
                show(tags, rt)
            ));
        }
        for rt in ours.difference(&theirs) {
            t.problems.push(format!(
                "{app}: refreshing {id:?}: msal-rs redeems {}, MSAL Python does not",
                show(tags, rt)
            ));
        }
    }
    for r in &py.removed {
        let id = hid(&r.home_account_id);
        let Some(theirs) = &r.entries else {
            t.python_cannot.push(format!(
                "sign {id:?} out of {app} (raised {})",
                first_line(r.raised.as_deref().unwrap_or("failed"))
            ));
            continue;
        };
        if !r.not_removed.is_empty() {
            t.python_cannot.push(format!(
                "remove {} of the {} entries its sign-out of {id:?} selects (stored under keys other than the ones it computes)",
                r.not_removed.len(),
                theirs.len()
            ));
        }
        let theirs: BTreeSet<&(String, String)> = theirs.iter().collect();
        let Some(mine) = rs.removed.iter().find(|x| hid(&x.home_account_id) == id) else {
            continue;
        };
        let Some(ours) = &mine.entries else {
            t.problems.push(format!(
                "{app}: msal-rs cannot sign {id:?} out: {}",
                mine.raised.as_deref().unwrap_or("failed")
            ));
            continue;
        };
        let ours: BTreeSet<&(String, String)> = ours.iter().collect();
        t.removed.1 += theirs.len();
        t.removed.0 += theirs.intersection(&ours).count();
        for (s, k) in theirs.difference(&ours) {
            t.problems.push(format!(
                "{app}: signing {id:?} out: MSAL Python removes {s}/{k}, msal-rs does not"
            ));
        }
        for (s, k) in ours.difference(&theirs) {
            t.problems.push(format!(
                "{app}: signing {id:?} out: msal-rs removes {s}/{k}, MSAL Python does not"
            ));
        }
    }
}

/// msal-rs re-serializing the file unchanged, and after one write: a summary and the
/// problems.
async fn reserialize(text: &str, now: u64) -> anyhow::Result<(String, Vec<String>)> {
    let mut problems = Vec::new();
    let cache = match fixture_rust::load(text) {
        Ok(c) => c,
        Err(e) => {
            return Ok((
                "not re-serialized".to_owned(),
                vec![format!("msal-rs cannot read the file: {e}")],
            ));
        }
    };
    let original = fixture_doc::raw_entries(text)?;
    let unchanged = cache.serialize()?;
    let (identical, total) =
        same_entries("re-serialized", &original, &unchanged, false, &mut problems)?;
    match fixture_rust::after_one_write(text, now).await {
        Ok(written) => {
            same_entries("after one write", &original, &written, true, &mut problems)?;
        }
        Err(e) => problems.push(format!("msal-rs's write failed: {e:#}")),
    }
    let summary = if problems.is_empty() {
        format!(
            "re-serialize: every entry unchanged ({identical}/{total} byte-identical, the rest differ in whitespace only), also after one write"
        )
    } else {
        "re-serialize: changed".to_owned()
    };
    Ok((summary, problems))
}

/// Every entry of `original` must be in `after` with the same value and tokens; returns how
/// many are byte-identical, of how many.
fn same_entries(
    when: &str,
    original: &[(String, String, String)],
    after: &str,
    one_new: bool,
    problems: &mut Vec<String>,
) -> anyhow::Result<(usize, usize)> {
    let after = fixture_doc::raw_entries(after).context("msal-rs's serialization")?;
    let mut identical = 0;
    for (section, key, raw) in original {
        let Some((_, _, now)) = after.iter().find(|(s, k, _)| s == section && k == key) else {
            problems.push(format!("{when}: {section}/{key} was dropped"));
            continue;
        };
        let before: Value = serde_json::from_str(raw)?;
        let later: Value = serde_json::from_str(now)?;
        if before != later {
            problems.push(format!(
                "{when}: {section}/{key} changed value: {raw} -> {now}"
            ));
        } else if fixture_doc::tokens(raw) != fixture_doc::tokens(now) {
            problems.push(format!(
                "{when}: {section}/{key} changed text: {raw} -> {now}"
            ));
        } else if raw == now {
            identical += 1;
        }
    }
    let added: Vec<String> = after
        .iter()
        .filter(|(s, k, _)| !original.iter().any(|(s2, k2, _)| s == s2 && k == k2))
        .map(|(s, k, _)| format!("{s}/{k}"))
        .collect();
    // The write adds its access token and, as MSAL Python does, its app's metadata.
    let new_tokens = added
        .iter()
        .filter(|a| a.starts_with("AccessToken/"))
        .count();
    let others = added
        .iter()
        .filter(|a| !a.starts_with("AccessToken/") && !a.starts_with("AppMetadata/"))
        .count();
    if new_tokens != usize::from(one_new) || others > 0 || (!one_new && !added.is_empty()) {
        problems.push(format!(
            "{when}: {} new entries, expected {}: {}",
            added.len(),
            if one_new {
                "one access token (and its app metadata)"
            } else {
                "none"
            },
            added.join(", ")
        ));
    }
    Ok((identical, original.len()))
}

//! The conformance suite of msal-rs: data-driven cases (`tests/fixtures/conformance/cases.json`)
//! that compare msal-rs with MSAL Python 1.39, the reference implementation, against the local
//! Entra ID emulator: golden cache-key vectors, the token requests each library sends (form
//! fields and their order, MSAL's headers, client assertions, discovery), the token-cache
//! schema, and caches written by one and read by the other; for client credentials and OBO,
//! and for the user flows (auth code with PKCE, device code, username/password, silent
//! refresh, FOCI) with MSAL Python as a second client of the emulator; and one token cache
//! file shared by msal-rs and MSAL Python with msal-extensions (concurrent writers, each
//! reading the other's tokens, a sign-out seen by the other). MSAL Node 7.2.1 is a second
//! cache peer (`tests/fixtures/conformance/node_cases.json`, see `node.rs`): a cache file
//! written by one serves the other from the cache, in both directions. The token cache files
//! of MSAL .NET's, Go's, Java's and Node's test suites (`msal_fixture_cases.json`, see
//! `fixture_case.rs`) are read by MSAL Python as the oracle and by msal-rs, with no network.
//! node oidc-provider 9.13.3, an OpenID Certified provider, is an independent OpenID Connect
//! peer (`tests/fixtures/conformance/oidc_cases.json`, see `oidc_cases.rs`): every flow at
//! issuers with 0, 1 and 2 path segments, run by msal-rs and MSAL Python and compared. MSAL
//! Python's `ManagedIdentityClient` is compared with msal-rs's on every managed identity source
//! it supports (`tests/fixtures/conformance/mi_cases.json`, see `mi_cases.rs`): the requests,
//! the caches, each reading the other's cache, claims challenges and error mapping; the Azure
//! SDK for Rust's `azure_identity` `ManagedIdentityCredential` is a second, wire-only peer
//! (`mi_azure_cases.json`, see `mi_azure.rs`), and its `WorkloadIdentityCredential` the peer of
//! msal-rs's workload identity (`azure_identity_cases.json`, see `wi_azure.rs`).
//!
//! Run with `cargo xtask conformance [FILTER]`, which prepares MSAL Python in a venv and sets
//! `MSAL_CONFORMANCE_PYTHON`, and installs MSAL Node and oidc-provider with npm and sets
//! `MSAL_CONFORMANCE_NODE` and `MSAL_CONFORMANCE_OIDC_PROVIDER` (without them those cases are
//! skipped, or fail when `MSAL_REQUIRE_PEERS=1`). Prints one line per case (`PASS name`,
//! `FAIL name: reason`, `SKIP name: reason`), then one `{peer}: N passed, N failed, N skipped`
//! line per peer (MSAL Python, msal-extensions, MSAL Node, msal fixtures, oidc-provider, MSAL
//! Python MI, azure_identity, the harness's self-checks); the last line is the total, `N passed, N failed, N skipped`. A
//! passed case may carry a note on its line (e.g. MSAL Python could not take part); a `note:`
//! line before the per-peer lines counts them. Cases listed in
//! `tests/fixtures/conformance/skips.json` (name or glob → reason) count as skipped.

mod cache_cmp;
mod cases;
mod child;
mod emu;
mod file_interop;
mod fixture_case;
mod fixture_doc;
mod fixture_rust;
mod flows;
mod mi_azure;
mod mi_cases;
mod mi_rust;
mod mi_wire;
mod node;
mod oidc_browser;
mod oidc_cases;
mod oidc_peer;
mod oidc_python;
mod oidc_rust;
mod python;
mod rust_side;
mod selfcheck;
mod user_flows;
mod user_rust;
mod vectors;
mod wi_azure;
mod wire;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use cases::{Case, CaseKind};
use emu::Emu;
use node::Node;
use oidc_peer::OidcProvider;
use python::Python;

/// What the suite shares between cases.
struct Suite {
    emu: Emu,
    python: Python,
    node: Node,
    oidc: OidcProvider,
}

enum Outcome {
    /// Passed; with a note for the report line, if any.
    Pass(Option<String>),
    Fail(String),
    Skip(String),
}

/// Runs a case; `Ok` may carry a note for its report line.
async fn run_case(suite: &Suite, case: &Case) -> anyhow::Result<Option<String>> {
    match &case.kind {
        CaseKind::OidcProvider { segments, flow } => {
            oidc_cases::run(&suite.oidc, &suite.python, *segments, *flow).await
        }
        CaseKind::ManagedIdentity(mi) => mi_cases::run(&suite.emu, &suite.python, mi).await,
        CaseKind::ManagedIdentityAzureIdentity(c) => mi_azure::run(&suite.emu, c).await,
        CaseKind::WorkloadIdentityAzureIdentity(c) => wi_azure::run(&suite.emu, c).await,
        _ => run_emulator_case(suite, case).await.map(|()| None),
    }
}

async fn run_emulator_case(suite: &Suite, case: &Case) -> anyhow::Result<()> {
    let (emu, py) = (&suite.emu, &suite.python);
    match &case.kind {
        CaseKind::KeyVectors { file } => vectors::key_vectors(file),
        CaseKind::ExtCacheKeyVectors { file } => vectors::ext_cache_key_vectors(file),
        CaseKind::SelfCheck {
            mutation,
            expect_diff,
        } => selfcheck::run(mutation, *expect_diff),
        CaseKind::Wire {
            app,
            call,
            second_call,
        } => flows::wire_case(&case.name, emu, py, app, call, second_call).await,
        CaseKind::CacheSchema { app, call } => {
            flows::cache_schema_case(&case.name, emu, py, app, call).await
        }
        CaseKind::LoopbackGuard { app, call } => {
            flows::loopback_guard_case(emu, py, app, call).await
        }
        CaseKind::CacheInterop {
            app,
            call,
            direction,
        } => flows::cache_interop_case(emu, py, app, call, *direction).await,
        CaseKind::UserWire { apps, steps } => {
            user_flows::user_wire_case(&case.name, emu, py, apps, steps).await
        }
        CaseKind::UserCacheSchema { apps, steps } => {
            user_flows::user_cache_schema_case(&case.name, emu, py, apps, steps).await
        }
        CaseKind::FileWriters {
            app,
            scopes,
            rust_writers,
            python_writers,
            tokens_each,
            rust_pause_ms,
        } => {
            file_interop::writers_case(
                &case.name,
                emu,
                py,
                app,
                scopes,
                (*rust_writers, *python_writers, *tokens_each),
                std::time::Duration::from_millis(*rust_pause_ms),
            )
            .await
        }
        CaseKind::FileSignOut { app, sign_in } => {
            file_interop::sign_out_case(&case.name, emu, py, app, sign_in).await
        }
        CaseKind::UserCacheInterop {
            apps,
            write,
            read,
            direction,
        } => user_flows::user_cache_interop_case(emu, py, apps, write, read, *direction).await,
        CaseKind::NodeCacheFile {
            apps,
            phases,
            users,
        } => node::cache_file_case(&case.name, emu, &suite.node, apps, phases, users).await,
        CaseKind::MsalFixture { file } => fixture_case::fixture_case(&case.name, py, file).await,
        CaseKind::OidcProvider { .. }
        | CaseKind::ManagedIdentity(_)
        | CaseKind::ManagedIdentityAzureIdentity(_)
        | CaseKind::WorkloadIdentityAzureIdentity(_) => {
            anyhow::bail!("run by run_case")
        }
    }
}

/// Runs one case on its own task, so that a panic fails the case rather than the suite.
async fn outcome(suite: &Arc<Suite>, case: &Case) -> Outcome {
    if let Err(e) = suite.emu.reset().await {
        return Outcome::Fail(format!("resetting the emulator: {e:#}"));
    }
    let (s, c) = (Arc::clone(suite), case.clone());
    match tokio::spawn(async move { run_case(&s, &c).await }).await {
        Ok(Ok(note)) => Outcome::Pass(note),
        Ok(Err(e)) => Outcome::Fail(format!("{e:#}")),
        Err(e) if e.is_panic() => Outcome::Fail(format!("panicked: {e}")),
        Err(e) => Outcome::Fail(format!("task failed: {e}")),
    }
}

/// A Node or oidc-provider case without the peer installed: skipped, or failed when
/// `MSAL_REQUIRE_PEERS=1`.
fn peer_missing(suite: &Suite, case: &Case) -> Option<Outcome> {
    let reason = match case.kind {
        CaseKind::NodeCacheFile { .. } => suite.node.missing()?,
        CaseKind::OidcProvider { .. } => suite.oidc.missing()?,
        _ => return None,
    };
    Some(
        if std::env::var_os("MSAL_REQUIRE_PEERS").is_some_and(|v| v == "1") {
            Outcome::Fail(format!("MSAL_REQUIRE_PEERS=1 but {reason}"))
        } else {
            Outcome::Skip(format!("skipped: {reason}"))
        },
    )
}

fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Multi-line reasons are indented under their case.
fn indent(reason: &str) -> String {
    reason.trim_end().replace('\n', "\n    ")
}

/// The peer a case checks msal-rs against, for the report's per-peer lines.
fn peer(kind: &CaseKind) -> &'static str {
    match kind {
        CaseKind::NodeCacheFile { .. } => "MSAL Node",
        // MSAL Python is the oracle; the files come from the other MSALs' test suites.
        CaseKind::MsalFixture { .. } => "msal fixtures",
        CaseKind::OidcProvider { .. } => "oidc-provider",
        CaseKind::ManagedIdentity(_) => "MSAL Python MI",
        CaseKind::ManagedIdentityAzureIdentity(_) | CaseKind::WorkloadIdentityAzureIdentity(_) => {
            "azure_identity"
        }
        CaseKind::FileWriters { .. } | CaseKind::FileSignOut { .. } => "msal-extensions",
        CaseKind::SelfCheck { .. } | CaseKind::LoopbackGuard { .. } => "harness self-checks",
        // Wire and cache comparisons run MSAL Python beside msal-rs; the key vectors were
        // computed with it.
        _ => "MSAL Python",
    }
}

/// Passed, failed and skipped cases.
#[derive(Default, Clone, Copy)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Passed cases whose report line carries a note (e.g. a peer could not take part).
    noted: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

async fn run(filter: Option<&str>) -> anyhow::Result<(usize, usize, usize)> {
    let cases = cases::load_cases()?;
    let skips = cases::load_skips()?;
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|c| filter.is_none_or(|f| c.name.contains(f)))
        .collect();
    let suite = Arc::new(Suite {
        emu: Emu::start().await?,
        python: Python::from_env(),
        node: Node::from_env(),
        oidc: OidcProvider::from_env(),
    });
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut per_peer: Vec<(&'static str, Tally)> = Vec::new();
    for case in selected {
        let peer = peer(&case.kind);
        let slot = match per_peer.iter().position(|(p, _)| *p == peer) {
            Some(i) => i,
            None => {
                per_peer.push((peer, Tally::default()));
                per_peer.len() - 1
            }
        };
        let started = Instant::now();
        let result = match skips.reason(&case.name) {
            Some(reason) => Outcome::Skip(reason.to_string()),
            None => match peer_missing(&suite, case) {
                Some(o) => o,
                None => outcome(&suite, case).await,
            },
        };
        match result {
            Outcome::Pass(note) => {
                passed += 1;
                per_peer[slot].1.passed += 1;
                match note {
                    Some(n) => {
                        per_peer[slot].1.noted += 1;
                        print_line(&format!("PASS {} ({})", case.name, indent(&n)));
                    }
                    None => print_line(&format!("PASS {}", case.name)),
                }
            }
            Outcome::Fail(reason) => {
                failed += 1;
                per_peer[slot].1.failed += 1;
                print_line(&format!("FAIL {}: {}", case.name, indent(&reason)));
            }
            Outcome::Skip(reason) => {
                skipped += 1;
                per_peer[slot].1.skipped += 1;
                print_line(&format!("SKIP {}: {}", case.name, indent(&reason)));
            }
        }
        eprintln!(
            "  ({} took {:.2} s)",
            case.name,
            started.elapsed().as_secs_f64()
        );
    }
    // The oidc-provider process ends with the suite, whoever still holds the suite.
    suite.oidc.shutdown();
    for (peer, tally) in per_peer.iter().filter(|(_, t)| t.noted > 0) {
        print_line(&format!(
            "note: {peer}: {} of {} passed case(s) carry a note on their PASS line",
            tally.noted, tally.passed
        ));
    }
    for (peer, tally) in &per_peer {
        print_line(&format!("{peer}: {tally}"));
    }
    Ok((passed, failed, skipped))
}

fn main() -> ExitCode {
    // This binary re-run as azure_identity's child process (see `mi_azure.rs`).
    if std::env::var_os(mi_azure::CHILD_VAR).is_some_and(|v| v == "1") {
        return mi_azure::child_main();
    }
    // The filter is the first argument that is not an option (cargo may pass `--quiet`).
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let started = Instant::now();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            print_line(&format!("FAIL harness: cannot start tokio: {e}"));
            print_line("0 passed, 1 failed, 0 skipped");
            return ExitCode::FAILURE;
        }
    };
    let (passed, failed, skipped) = match runtime.block_on(run(filter.as_deref())) {
        Ok(counts) => counts,
        Err(e) => {
            print_line(&format!("FAIL harness: {}", indent(&format!("{e:#}"))));
            (0, 1, 0)
        }
    };
    eprintln!(
        "conformance: {} case(s) in {:.1} s",
        passed + failed + skipped,
        started.elapsed().as_secs_f64()
    );
    print_line(&format!(
        "{passed} passed, {failed} failed, {skipped} skipped"
    ));
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

//! `cargo xtask ci`: everything that decides whether a change lands, in one command, with each
//! step timed and the whole run checked against its budget.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::util::{Steps, cargo, exec, fmt};

/// A whole CI run must finish within this on the 2-core CI machine (the contract allows 35
/// minutes in all, building xtask included).
const BUDGET: Duration = Duration::from_secs(32 * 60);

/// Crates of which one version only may be in the tree (one RustCrypto `der` line: mixing 0.7 and 0.8 types does not compile).
const SINGLE_VERSION: [&str; 8] = [
    "der",
    "spki",
    "pkcs1",
    "pkcs8",
    "x509-cert",
    "aws-lc-rs",
    "rustls",
    "const-oid",
];

/// Crates that must not be in the tree at all.
const FORBIDDEN: [(&str, &str); 2] = [
    (
        "rsa",
        "RUSTSEC-2023-0071 (Marvin): sign with aws-lc-rs instead",
    ),
    (
        "openssl-sys",
        "TLS and crypto go through rustls and aws-lc-rs",
    ),
];

pub(crate) fn run() -> Result<()> {
    let mut steps = Steps::new();
    let result = (|| -> Result<()> {
        steps.step("fmt", || {
            exec(cargo().args(["fmt", "--all", "--", "--check"]))
        })?;
        steps.step("tidy", tidy)?;
        steps.step("clippy", || {
            exec(cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))?;
            // The conformance harness is `test = false` (xtask runs it), so name it.
            exec(cargo().args([
                "clippy",
                "-p",
                "msal-tests",
                "--test",
                "conformance",
                "--",
                "-D",
                "warnings",
            ]))
        })?;
        // Public items are documented and their intra-doc links resolve.
        steps.step("doc", || {
            exec(
                cargo()
                    .args(["doc", "--workspace", "--no-deps", "--exclude", "xtask"])
                    .env("RUSTDOCFLAGS", "-D warnings"),
            )
        })?;
        // The real peers some tests run against: redis-server, and MSAL Python with
        // msal-extensions in a venv.
        let mut python = std::path::PathBuf::new();
        steps.step("peers", || {
            if !crate::util::have("redis-server") {
                crate::util::apt_install(
                    &["redis-server"],
                    "the Redis tests start their own redis-server",
                )?;
            }
            python = crate::conformance::ensure_venv()?;
            Ok(())
        })?;
        steps.step("test", || {
            exec(
                cargo()
                    .args(["test", "--workspace", "--no-fail-fast"])
                    .env("RUST_BACKTRACE", "1")
                    .env("MSAL_PYTHON", &python)
                    .env("MSAL_REQUIRE_PEERS", "1"),
            )
        })?;
        steps.step("conformance", || crate::conformance::run(None))?;
        // The published crates still package: manifests complete (description, licence,
        // readme, keywords), every file they need inside the package, path dependencies
        // versioned. Not verified by building: the test step built the same sources.
        steps.step("package", || {
            exec(cargo().args([
                "package",
                "--workspace",
                "--exclude",
                "msal-tests",
                "--exclude",
                "xtask",
                "--no-verify",
                "--allow-dirty",
            ]))
        })?;
        Ok(())
    })();
    steps.summary();
    result?;
    if steps.total() > BUDGET {
        bail!(
            "CI took {}, over its budget of {}",
            fmt(steps.total()),
            fmt(BUDGET)
        );
    }
    eprintln!("ci: all steps passed within the {} budget", fmt(BUDGET));
    Ok(())
}

/// Dependency hygiene: one version of each crypto/ASN.1 crate, no forbidden crates, and the
/// declared MSRV honoured by every dependency.
pub(crate) fn tidy() -> Result<()> {
    let out = cargo()
        .args([
            "tree",
            "--workspace",
            "--duplicates",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--depth",
            "0",
        ])
        .output()
        .context("cargo tree")?;
    if !out.status.success() {
        bail!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dups = String::from_utf8_lossy(&out.stdout);
    let mut problems = Vec::new();
    for line in dups.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if SINGLE_VERSION.contains(&name) {
            problems.push(format!("two versions of `{name}` in the tree: {line}"));
        }
    }
    for (name, why) in FORBIDDEN {
        let status = cargo()
            .args(["tree", "--workspace", "--invert", name, "--quiet"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .context("cargo tree --invert")?;
        if status.success() {
            problems.push(format!("`{name}` is in the dependency tree: {why}"));
        }
    }
    problems.extend(msrv_problems()?);
    problems.extend(citation_problems()?);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("tidy: {p}");
        }
        bail!("{} tidy problem(s)", problems.len());
    }
    eprintln!(
        "tidy: one version of each crypto crate, none forbidden, MSRV honoured, citations public"
    );
    Ok(())
}

/// Comments and docs cite public references (RFCs, MSAL source files) or this repository's own
/// docs: never the planning documents kept outside the repository, which its users do not have.
fn citation_problems() -> Result<Vec<String>> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .output()
        .context("git ls-files")?;
    if !out.status.success() {
        bail!("git ls-files failed");
    }
    // Spelled in pieces so that this file does not match itself.
    let needles: Vec<String> = [
        ("PROTOCOL", " §"),
        ("PROTOCOL", ".md"),
        ("DESIGN", " §"),
        ("DESIGN", ".md"),
        ("PEERS", ".md"),
        ("ECOSYSTEM", ".md"),
        ("../", "shared"),
    ]
    .iter()
    .map(|(a, b)| format!("{a}{b}"))
    .collect();
    let mut problems = Vec::new();
    for path in out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let path = String::from_utf8_lossy(path).into_owned();
        let texty = [".rs", ".md", ".toml", ".py", ".js", ".sh", ".yml", ".json"]
            .iter()
            .any(|e| path.ends_with(e))
            || path.starts_with(".ci/");
        if !texty {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if needles.iter().any(|x| line.contains(x.as_str())) {
                problems.push(format!(
                    "{path}:{}: cites a document users do not have: {}",
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    Ok(problems)
}

fn parse_version(v: &str) -> (u64, u64) {
    let mut it = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// Every package in the resolved graph must declare a rust-version no newer than ours.
fn msrv_problems() -> Result<Vec<String>> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .current_dir(crate::util::root())
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .context("cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata JSON")?;
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let ours = packages
        .iter()
        .find(|p| p["name"] == "msal-core")
        .and_then(|p| p["rust_version"].as_str())
        .map(parse_version)
        .context("msal-core declares no rust-version")?;
    let resolved: Vec<String> = meta["resolve"]["nodes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|n| n["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut problems = Vec::new();
    for p in &packages {
        let id = p["id"].as_str().unwrap_or("");
        if !resolved.iter().any(|r| r == id) {
            continue;
        }
        if let Some(rv) = p["rust_version"].as_str()
            && parse_version(rv) > ours
        {
            problems.push(format!(
                "{} {} needs Rust {rv}, newer than the declared MSRV {}.{}",
                p["name"].as_str().unwrap_or("?"),
                p["version"].as_str().unwrap_or("?"),
                ours.0,
                ours.1
            ));
        }
    }
    Ok(problems)
}

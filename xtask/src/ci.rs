//! `cargo xtask ci`: everything that decides whether a change lands, in one command, with each
//! step timed and the whole run checked against its budget.

use std::path::{Path, PathBuf};
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
        // Public and private items are documented and their intra-doc links resolve.
        steps.step("doc", doc)?;
        // The real peers some tests run against: redis-server, and MSAL Python with
        // msal-extensions in a venv.
        let mut python = std::path::PathBuf::new();
        steps.step("peers", || {
            if !crate::util::have("redis-server") || !crate::util::have("redis-cli") {
                crate::util::apt_install(
                    &["redis-server", "redis-tools"],
                    "the Redis tests start their own redis-server (TLS, ACL and a cluster created with redis-cli)",
                )?;
            }
            crate::util::check_redis_tls()?;
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
        // Instruction counts of the hot paths against xtask/icount-budgets.json (callgrind;
        // not wall time, so a busy runner does not fail it). About 4 minutes from a fresh
        // clone on 2 cores, most of it the bench profile's build.
        steps.step("icount", || crate::icount::run(&[]))?;
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

/// Dependency hygiene: one version of each crypto/ASN.1 crate, no forbidden crates, the
/// declared MSRV honoured by every dependency, public citations, and no declared dependency
/// left unused.
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
    problems.extend(default_build_problems()?);
    problems.extend(msrv_problems()?);
    problems.extend(citation_problems()?);
    problems.extend(unused_dependency_problems()?);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("tidy: {p}");
        }
        bail!("{} tidy problem(s)", problems.len());
    }
    eprintln!(
        "tidy: one version of each crypto crate, none forbidden, MSRV honoured, citations public, every dependency used"
    );
    Ok(())
}

/// Crates only an opt-in feature of msal-core may bring: its default build stays free of them.
const FEATURE_ONLY: &[(&str, &str)] = &[(
    "azure_core",
    "the Azure SDK bridge is msal-core's opt-in feature `azure`",
)];

/// msal-core's default build (no features asked for) has none of [`FEATURE_ONLY`].
fn default_build_problems() -> Result<Vec<String>> {
    let out = cargo()
        .args([
            "tree",
            "-p",
            "msal-core",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .context("cargo tree -p msal-core")?;
    if !out.status.success() {
        bail!(
            "cargo tree -p msal-core failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    Ok(FEATURE_ONLY
        .iter()
        .filter(|(name, _)| {
            tree.lines()
                .any(|l| l.split_whitespace().next() == Some(*name))
        })
        .map(|(name, why)| format!("`{name}` is in msal-core's default build: {why}"))
        .collect())
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

/// The flags of the doc step. The rustdoc link lints are named explicitly: they are rustdoc's
/// own (`rustdoc::`), and a broken link must fail the step whatever their default level.
const RUSTDOCFLAGS: &str =
    "-D warnings -D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links";

/// `cargo xtask doc`, CI's doc step: rustdoc over every crate but xtask, first as users see the
/// docs (no public doc links to a private item), then with the private items (every doc
/// comment's links resolve, also on items users do not see), then a scan of the pages of the
/// last run (cargo empties a crate's doc directory before documenting it, so none is stale) for
/// links that rustdoc left unresolved without a word.
///
/// The scan is needed because rustdoc reports nothing for a doc string that a macro from another
/// crate attaches: typed-builder's `setter(doc = "…")` becomes a `#[doc]` attribute whose span
/// is in that macro's expansion, where lints are not reported (the `[ReqwestHttpClient]` of a
/// setter was rendered as literal brackets, and `-D warnings` passed).
pub(crate) fn doc() -> Result<()> {
    let meta = metadata(None)?;
    let packages: Vec<&serde_json::Value> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] != "xtask")
        .collect();
    let mut crates = Vec::new();
    for p in &packages {
        for t in p["targets"].as_array().into_iter().flatten() {
            let documented = t["kind"].as_array().into_iter().flatten().any(|k| {
                k == "lib" || k == "proc-macro" || k == "bin" || k == "rlib" || k == "cdylib"
            });
            if documented && let Some(name) = t["name"].as_str() {
                crates.push(name.replace('-', "_"));
            }
        }
    }
    // Cargo empties a crate's doc directory before documenting it, and rustdoc renders a link
    // into another local crate as plain text (without a warning) when that crate's directory is
    // missing at the time. So the crates are documented a layer at a time, each after the
    // workspace crates it depends on, never alongside them.
    let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut layers: Vec<Vec<&str>> = Vec::new();
    let mut placed: Vec<&str> = Vec::new();
    while placed.len() < names.len() {
        let layer: Vec<&str> = packages
            .iter()
            .filter(|p| !placed.iter().any(|n| p["name"] == *n))
            .filter(|p| {
                p["dependencies"].as_array().into_iter().flatten().all(|d| {
                    d["kind"].as_str().is_some()
                        || !names.iter().any(|n| d["name"] == *n)
                        || placed.iter().any(|n| d["name"] == *n)
                })
            })
            .filter_map(|p| p["name"].as_str())
            .collect();
        if layer.is_empty() {
            bail!("the workspace crates depend on each other in a cycle");
        }
        placed.extend(&layer);
        layers.push(layer);
    }
    for private in [false, true] {
        for layer in &layers {
            let mut cmd = cargo();
            cmd.args(["doc", "--no-deps"])
                .env("RUSTDOCFLAGS", RUSTDOCFLAGS);
            for p in layer {
                cmd.args(["-p", p]);
            }
            if private {
                cmd.arg("--document-private-items");
            }
            exec(&mut cmd)?;
        }
    }
    let doc = crate::util::target_dir()?.join("doc");
    let problems = rendered_link_problems(&doc, &crates)?;
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("doc: {p}");
        }
        bail!(
            "{} unresolved intra-doc link(s) in the rendered docs (write the path rustdoc can resolve, e.g. [`Name`](crate::module::Name))",
            problems.len()
        );
    }
    eprintln!("doc: every intra-doc link resolves, in the rendered pages too");
    Ok(())
}

/// `cargo metadata --no-deps` of the workspace, or of another manifest (the fuzz workspace).
fn metadata(manifest: Option<&Path>) -> Result<serde_json::Value> {
    let mut cmd = cargo();
    cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
    if let Some(m) = manifest {
        cmd.arg("--manifest-path").arg(m);
    }
    let out = cmd.output().context("cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("cargo metadata JSON")
}

/// Rendered links that are known not to resolve, left to the change that rewrites their code:
/// (page under the doc directory, link as reported, why). An entry that no longer matches is
/// reported so that it can be removed.
const KNOWN_UNLINKED: [(&str, &str, &str); 0] = [];

/// Links rustdoc did not resolve to a page are rendered as their source text: a `[`Name`]`
/// shows as `[<code>Name</code>]`, a `[Name]` as `[Name]`. Such text is a broken link when it
/// names an item this workspace documents (the link should have reached its page: the name is
/// not in scope where the doc string is resolved). Names of other crates' items are not
/// reported: with `--no-deps` their pages do not exist, so a link to them renders the same way
/// (nor are `#[doc(hidden)]` items, which have no page). Code blocks, inline code, signatures
/// and the docs other crates' traits bring along are skipped (`v[i]`, `["CP1"]`, `&[u8]`).
fn rendered_link_problems(doc: &Path, crates: &[String]) -> Result<Vec<String>> {
    let mut pages = Vec::new();
    for c in crates {
        let dir = doc.join(c);
        if !dir.is_dir() {
            bail!("rustdoc wrote no {}", dir.display());
        }
        files_with_extension(&dir, "html", &mut pages)?;
    }
    pages.sort();
    // The items the workspace documents: rustdoc names their pages `<kind>.<Name>.html`.
    let ours: std::collections::BTreeSet<String> = pages
        .iter()
        .filter_map(|p| p.file_name()?.to_str())
        .filter_map(|f| f.strip_suffix(".html")?.split_once('.'))
        .filter(|(kind, _)| *kind != "sidebar-items" && *kind != "all" && *kind != "index")
        .map(|(_, name)| name.to_owned())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut known_hit = vec![false; KNOWN_UNLINKED.len()];
    let mut problems = Vec::new();
    for page in &pages {
        let html =
            std::fs::read_to_string(page).with_context(|| format!("reading {}", page.display()))?;
        // Only what this workspace wrote: not the docs of other crates' traits that rustdoc
        // shows for blanket and auto-trait impls, not signatures, scripts or code blocks.
        let end = [
            "id=\"synthetic-implementations\"",
            "id=\"blanket-implementations\"",
        ]
        .iter()
        .filter_map(|s| html.find(s))
        .min()
        .unwrap_or(html.len());
        let mut html = html[..end].to_owned();
        for (open, close) in [
            ("<!--", "-->"),
            ("<script", "</script>"),
            ("<pre", "</pre>"),
            ("<h3", "</h3>"),
            ("<h4", "</h4>"),
        ] {
            html = strip_elements(&html, open, close);
        }
        let mut found = Vec::new();
        let mut rest = html.as_str();
        while let Some(i) = rest.find("[<code>") {
            rest = &rest[i + "[<code>".len()..];
            if let Some(j) = rest.find("</code>]")
                && j <= 120
                && !rest[..j].contains('<')
            {
                found.push((format!("[`{}`]", &rest[..j]), rest[..j].to_owned()));
            }
        }
        let prose = strip_elements(&strip_elements(&html, "<code>", "</code>"), "<", ">");
        let mut rest = prose.as_str();
        while let Some(i) = rest.find('[') {
            rest = &rest[i + 1..];
            let Some(j) = rest.find(']') else { break };
            let inner = &rest[..j];
            if !matches!(rest[j + 1..].chars().next(), Some('(' | '[' | ':')) {
                found.push((format!("[{inner}]"), inner.to_owned()));
            }
        }
        let rel = page.strip_prefix(doc).unwrap_or(page);
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        for (link, target) in found {
            let path = target.trim_end_matches("()").trim_end_matches('!');
            let path_like = path.len() <= 120
                && path.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !path_like || !path.split("::").any(|seg| ours.contains(seg)) {
                continue;
            }
            if let Some(k) = KNOWN_UNLINKED
                .iter()
                .position(|(p, l, _)| *p == rel_str && *l == link)
            {
                known_hit[k] = true;
                continue;
            }
            // A doc comment shows on several pages (re-exports, impls): name it once per crate.
            let krate = rel.iter().next().map(|c| c.to_string_lossy().into_owned());
            if seen.insert((krate, link.clone())) {
                problems.push(format!(
                    "{rel_str}: {link} is not a link: this crate documents `{path}`, but rustdoc did not resolve the name where the doc string is (a doc string that a macro attaches is not checked by rustdoc)"
                ));
            }
        }
    }
    for ((page, link, why), hit) in KNOWN_UNLINKED.iter().zip(known_hit) {
        if hit {
            eprintln!("doc: known, left as it is: {page}: {link} ({why})");
        } else {
            eprintln!("doc: {page}: {link} is no longer unlinked: remove it from KNOWN_UNLINKED");
        }
    }
    Ok(problems)
}

/// `html` without the elements from `open` to `close` (their content included).
fn strip_elements(html: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(open) {
        out.push_str(&rest[..i]);
        match rest[i..].find(close) {
            Some(j) => rest = &rest[i + j + close.len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every file under `dir` whose name ends with `.{ext}`, skipping `target` directories and
/// directories that are packages of their own (a `Cargo.toml` of their own).
fn files_with_extension(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            let name = path.file_name().unwrap_or_default();
            if name == "target" || name == ".git" || path.join("Cargo.toml").is_file() {
                continue;
            }
            files_with_extension(&path, ext, out)?;
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    Ok(())
}

/// Dependencies used without their name appearing in the code (only to turn on a feature of a
/// crate further down the tree): (package, dependency, why).
const USED_WITHOUT_NAME: [(&str, &str, &str); 0] = [];

/// Every declared dependency is used: its crate name (`-` read as `_`, or its `package =`
/// rename) appears as `name::…`, `use name` or `extern crate name` in the code that can use it:
/// a normal dependency in the library and binaries (`src/`, the targets' own directories), a
/// build dependency in `build.rs`, a dev-dependency anywhere in the package (tests, examples,
/// benches, doctests, `#[cfg(test)]` modules). Also: every `[workspace.dependencies]` entry is
/// used by a member. Covers the workspace and the fuzz workspace.
fn unused_dependency_problems() -> Result<Vec<String>> {
    let root = crate::util::root();
    let mut problems = Vec::new();
    let mut declared_by_members = std::collections::BTreeSet::new();
    for manifest in [None, Some(root.join("fuzz").join("Cargo.toml"))] {
        let meta = metadata(manifest.as_deref())?;
        for p in meta["packages"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or("?");
            let toml = PathBuf::from(p["manifest_path"].as_str().unwrap_or(""));
            if manifest.is_none() {
                // `key = { workspace = true, … }` or `key.workspace = true`.
                let text = std::fs::read_to_string(&toml)
                    .with_context(|| format!("reading {}", toml.display()))?;
                for line in text.lines() {
                    let line = line.trim();
                    if let Some((key, value)) = line.split_once('=') {
                        let key = key.trim();
                        if let Some(key) = key.strip_suffix(".workspace") {
                            declared_by_members.insert(key.trim().to_owned());
                        } else if value.replace(' ', "").contains("workspace=true") {
                            declared_by_members.insert(key.to_owned());
                        }
                    }
                }
            }
            let dir = toml.parent().context("a manifest without a directory")?;
            let mut all = Vec::new();
            files_with_extension(dir, "rs", &mut all)?;
            let mut build = Vec::new();
            let mut lib_dirs = vec![dir.join("src")];
            for t in p["targets"].as_array().into_iter().flatten() {
                let src = PathBuf::from(t["src_path"].as_str().unwrap_or(""));
                let kinds: Vec<&str> = t["kind"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str())
                    .collect();
                if kinds.contains(&"custom-build") {
                    build.push(src);
                } else if kinds.iter().any(|k| {
                    matches!(
                        *k,
                        "lib" | "rlib" | "dylib" | "cdylib" | "proc-macro" | "bin"
                    )
                }) && let Some(d) = src.parent()
                {
                    lib_dirs.push(d.to_path_buf());
                }
            }
            let read = |files: &[PathBuf]| -> Result<Vec<String>> {
                files
                    .iter()
                    .map(|f| {
                        std::fs::read_to_string(f)
                            .with_context(|| format!("reading {}", f.display()))
                    })
                    .collect()
            };
            let lib: Vec<PathBuf> = all
                .iter()
                .filter(|f| lib_dirs.iter().any(|d| f.starts_with(d)))
                .cloned()
                .collect();
            let (all_text, lib_text, build_text) = (read(&all)?, read(&lib)?, read(&build)?);
            for d in p["dependencies"].as_array().into_iter().flatten() {
                let dep = d["name"].as_str().unwrap_or("?");
                if USED_WITHOUT_NAME
                    .iter()
                    .any(|(pkg, used, _)| *pkg == name && *used == dep)
                {
                    continue;
                }
                let ident = d["rename"].as_str().unwrap_or(dep).replace('-', "_");
                let (texts, section, place) = match d["kind"].as_str() {
                    Some("dev") => (&all_text, "dev-dependencies", "the package"),
                    Some("build") => (&build_text, "build-dependencies", "build.rs"),
                    _ => (&lib_text, "dependencies", "the library or binaries"),
                };
                if !texts.iter().any(|t| references(t, &ident)) {
                    let rel = toml.strip_prefix(&root).unwrap_or(&toml);
                    problems.push(format!(
                        "{name}: `{dep}` in [{section}] of {} is not used: nothing in {place} names `{ident}` (remove it{})",
                        rel.display(),
                        if section == "dependencies" {
                            ", or move it to [dev-dependencies] if only tests, examples or benches use it"
                        } else {
                            ""
                        }
                    ));
                }
            }
        }
    }
    let workspace_toml = std::fs::read_to_string(root.join("Cargo.toml")).context("Cargo.toml")?;
    let mut in_section = false;
    for line in workspace_toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[workspace.dependencies]";
            continue;
        }
        if !in_section || line.starts_with('#') {
            continue;
        }
        if let Some((key, _)) = line.split_once('=') {
            let key = key.trim();
            if !key.is_empty() && !declared_by_members.contains(key) {
                problems.push(format!(
                    "workspace: `{key}` in [workspace.dependencies] of Cargo.toml is not used by any member (remove it)"
                ));
            }
        }
    }
    Ok(problems)
}

/// True when `text` names the crate `ident`: `ident::`, `use ident`, `extern crate ident`.
fn references(text: &str, ident: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(i) = text[from..].find(ident) {
        let start = from + i;
        let end = start + ident.len();
        from = end;
        let before = &text[..start];
        if before.chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let after = &text[end..];
        if after.starts_with("::") {
            return true;
        }
        if after.chars().next().is_some_and(is_ident) {
            continue;
        }
        let before = before.trim_end();
        if before.ends_with("use") || before.ends_with("extern crate") {
            return true;
        }
    }
    false
}

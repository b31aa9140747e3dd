//! `cargo xtask conformance`: prepares the real peers (MSAL Python and msal-extensions from
//! PyPI, in a venv under cargo's target directory; MSAL Node and node oidc-provider from npm,
//! there too) and runs the data-driven conformance harness of the `msal-tests` crate, whose
//! last line is `N passed, N failed, N skipped`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{apt_install, cargo, exec, have, root, target_dir};

/// The peers, pinned: the MSAL Python and msal-extensions releases the conformance suite was verified against.
const PYTHON_PACKAGES: [&str; 2] = ["msal==1.39.0", "msal-extensions==1.3.1"];

pub(crate) fn run(filter: Option<&str>) -> Result<()> {
    let python = ensure_venv()?;
    let node = ensure_node()?;
    let oidc_provider = ensure_oidc_provider()?;
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--quiet",
        "-p",
        "msal-tests",
        "--test",
        "conformance",
        "--",
    ])
    .env("MSAL_CONFORMANCE_PYTHON", &python)
    .env("MSAL_CONFORMANCE_NODE", &node)
    .env("MSAL_CONFORMANCE_OIDC_PROVIDER", &oidc_provider);
    if let Some(f) = filter {
        cmd.arg(f);
    }
    exec(&mut cmd).context("conformance cases failed")
}

/// A venv with MSAL Python, created once and reused while its package list is unchanged.
pub(crate) fn ensure_venv() -> Result<PathBuf> {
    let dir = target_dir()?.join("conformance").join("venv");
    let python = dir.join("bin").join("python");
    let marker = dir.join(".msal-rs-packages");
    let wanted = PYTHON_PACKAGES.join("\n");
    if python.exists() && std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Ok(python);
    }
    if !have("python3") {
        apt_install(
            &["python3", "python3-venv"],
            "python3 is needed to run MSAL Python",
        )?;
    }
    if !python.exists() {
        eprintln!(
            "xtask: creating a Python venv for MSAL Python at {}",
            dir.display()
        );
        let made = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&dir)
            .status();
        if !made.map(|s| s.success()).unwrap_or(false) {
            apt_install(&["python3-venv"], "python3 cannot create a venv")?;
            exec(Command::new("python3").arg("-m").arg("venv").arg(&dir))?;
        }
    }
    eprintln!(
        "xtask: installing {} into the venv",
        PYTHON_PACKAGES.join(", ")
    );
    exec(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PYTHON_PACKAGES),
    )?;
    std::fs::write(&marker, wanted).context("writing the venv marker")?;
    if !python.exists() {
        bail!("the venv at {} has no python", dir.display());
    }
    Ok(python)
}

/// A peer installed from npm with `npm ci`, from a `package.json` and `package-lock.json`
/// committed in `tests/conformance/{src}`, into `target/conformance/{src}`.
struct NpmPeer {
    /// The peer's name in messages.
    name: &'static str,
    /// The directory under `tests/conformance` (and under `target/conformance`).
    src: &'static str,
    /// The package whose presence under `node_modules` shows the install worked.
    package: &'static str,
}

/// MSAL Node 7.2.1 (a cache peer).
const MSAL_NODE: NpmPeer = NpmPeer {
    name: "MSAL Node",
    src: "node",
    package: "@azure/msal-node",
};

/// node oidc-provider 9.13.3 (an OpenID Connect provider peer).
const OIDC_PROVIDER: NpmPeer = NpmPeer {
    name: "oidc-provider",
    src: "oidc-provider",
    package: "oidc-provider",
};

/// MSAL Node (`@azure/msal-node`, pinned by `tests/conformance/node/package-lock.json`),
/// installed with `npm ci` under `target/conformance/node`, once, and reused while the lock
/// file is unchanged. Returns the directory holding its `node_modules`.
pub(crate) fn ensure_node() -> Result<PathBuf> {
    ensure_npm(&MSAL_NODE)
}

/// node oidc-provider (pinned by `tests/conformance/oidc-provider/package-lock.json`),
/// installed with `npm ci` under `target/conformance/oidc-provider`, once, and reused while the
/// lock file is unchanged. Returns the directory holding its `node_modules`.
pub(crate) fn ensure_oidc_provider() -> Result<PathBuf> {
    ensure_npm(&OIDC_PROVIDER)
}

/// Installs `peer` with `npm ci` unless the lock file it was installed from is unchanged.
fn ensure_npm(peer: &NpmPeer) -> Result<PathBuf> {
    let name = peer.name;
    let src = root().join("tests").join("conformance").join(peer.src);
    let dir = target_dir()?.join("conformance").join(peer.src);
    let marker = dir.join(".msal-rs-lock");
    let lock = std::fs::read_to_string(src.join("package-lock.json"))
        .with_context(|| format!("reading tests/conformance/{}/package-lock.json", peer.src))?;
    let installed = dir.join("node_modules").join(peer.package);
    if installed.exists() && std::fs::read_to_string(&marker).is_ok_and(|m| m == lock) {
        return Ok(dir);
    }
    for tool in ["node", "npm"] {
        if !have(tool) {
            bail!(
                "`{tool}` is not installed: {name} needs Node.js 20 or later with npm \
                 (e.g. `sudo apt-get install nodejs npm`, or https://nodejs.org)"
            );
        }
    }
    let version = Command::new("node")
        .arg("--version")
        .output()
        .context("running node --version")?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        bail!("{name} needs Node.js 20 or later; `node --version` says {version:?}");
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(src.join(file), dir.join(file)).with_context(|| format!("copying {file}"))?;
    }
    eprintln!(
        "xtask: installing {name} with `npm ci` in {}",
        dir.display()
    );
    exec(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&dir),
    )
    .with_context(|| format!("npm ci failed for {name} (is the npm registry reachable?)"))?;
    if !installed.exists() {
        bail!(
            "npm ci did not install {} in {}",
            peer.package,
            dir.display()
        );
    }
    std::fs::write(&marker, lock).with_context(|| format!("writing the {name} marker"))?;
    Ok(dir)
}

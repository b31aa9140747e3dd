//! `cargo xtask conformance`: prepares the real peers (MSAL Python and msal-extensions from
//! PyPI, in a venv under cargo's target directory) and runs the data-driven conformance harness of the
//! `msal-tests` crate, whose last line is `N passed, N failed, N skipped`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{apt_install, cargo, exec, have, target_dir};

/// The peers, pinned: the MSAL Python and msal-extensions releases the conformance suite was verified against.
const PYTHON_PACKAGES: [&str; 2] = ["msal==1.39.0", "msal-extensions==1.3.1"];

pub(crate) fn run(filter: Option<&str>) -> Result<()> {
    let python = ensure_venv()?;
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
    .env("MSAL_CONFORMANCE_PYTHON", &python);
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

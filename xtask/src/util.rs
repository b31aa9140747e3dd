//! Small helpers: the workspace root, running commands with a clear echo, timing steps, and
//! installing system packages when they are missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The workspace root (the parent of this crate's directory).
pub(crate) fn root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    dir.parent().unwrap_or(dir).to_path_buf()
}

/// The cargo that runs this xtask.
pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    c.current_dir(root());
    c
}

/// Runs `cmd`, echoing it, and fails when it fails.
pub(crate) fn exec(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {}", describe(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", describe(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(cmd));
    }
    Ok(())
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// True when `program` is on the PATH.
pub(crate) fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Installs Debian packages with apt-get, saying so; fails with a clear message when that is
/// not possible.
pub(crate) fn apt_install(packages: &[&str], why: &str) -> Result<()> {
    eprintln!(
        "xtask: {why}: installing {} with apt-get",
        packages.join(" ")
    );
    if !have("apt-get") {
        bail!(
            "{why}, and apt-get is not available: install {} yourself",
            packages.join(" ")
        );
    }
    let sudo = if is_root() { vec![] } else { vec!["sudo"] };
    let mut update = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    if !sudo.is_empty() {
        update.arg("apt-get");
    }
    update.args(["-qq", "update"]);
    exec(&mut update)?;
    let mut install = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    if !sudo.is_empty() {
        install.arg("apt-get");
    }
    install
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["-qq", "install", "-y"])
        .args(packages);
    exec(&mut install)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Times named steps and prints a summary.
pub(crate) struct Steps {
    started: Instant,
    done: Vec<(String, Duration, bool)>,
}

impl Steps {
    pub(crate) fn new() -> Steps {
        Steps {
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Runs one step, recording its duration and outcome.
    pub(crate) fn step(&mut self, name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
        eprintln!("\n==> {name}");
        let t = Instant::now();
        let r = f();
        let d = t.elapsed();
        eprintln!(
            "<== {name}: {} in {}",
            if r.is_ok() { "ok" } else { "FAILED" },
            fmt(d)
        );
        self.done.push((name.to_owned(), d, r.is_ok()));
        r
    }

    pub(crate) fn total(&self) -> Duration {
        self.started.elapsed()
    }

    pub(crate) fn summary(&self) {
        eprintln!("\nstep durations:");
        for (name, d, ok) in &self.done {
            eprintln!(
                "  {:<14} {:>9}  {}",
                name,
                fmt(*d),
                if *ok { "ok" } else { "FAILED" }
            );
        }
        eprintln!("  {:<14} {:>9}", "total", fmt(self.total()));
    }
}

pub(crate) fn fmt(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        format!("{}m{:04.1}s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!("{s:.1}s")
    }
}

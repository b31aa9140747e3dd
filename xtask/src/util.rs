//! Small helpers: the workspace root and target directory, running commands with a clear echo,
//! building and locating executables, timing steps, and installing missing system packages (as
//! root only).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
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

/// Installs missing Debian packages: with apt-get when running as root, saying so; otherwise
/// fails with the exact command to run (xtask never runs `sudo` or `apt-get` unasked).
pub(crate) fn apt_install(packages: &[&str], why: &str) -> Result<()> {
    let list = packages.join(" ");
    if !have("apt-get") {
        bail!("{why}, and apt-get is not available: install {list} with your package manager");
    }
    if !is_root() {
        bail!(
            "{why}, and {list} {} not installed: install {} with\n    sudo apt-get update && sudo apt-get install -y {list}\nthen run this command again (xtask runs apt-get itself only as root)",
            if packages.len() == 1 { "is" } else { "are" },
            if packages.len() == 1 { "it" } else { "them" },
        );
    }
    eprintln!("xtask: {why}: running as root, so installing {list} with apt-get");
    exec(Command::new("apt-get").args(["-qq", "update"]))?;
    exec(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["-qq", "install", "-y"])
            .args(packages),
    )
}

/// Fails unless `redis-server` is built with TLS (the `rediss://` tests start it with
/// `--tls-port`). Asked without certificates and without a plain port, a TLS build complains
/// about the missing `tls-cert-file` and exits before listening on anything.
pub(crate) fn check_redis_tls() -> Result<()> {
    let out = Command::new("redis-server")
        .args(["--port", "0", "--tls-port", "1", "--save", ""])
        .stdin(Stdio::null())
        .output()
        .context("running redis-server to check its TLS support")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if text.contains("tls-cert-file") {
        return Ok(());
    }
    bail!(
        "redis-server is built without TLS support, and the Redis TLS tests need it: install \
         Debian's redis-server (built with TLS) or build Redis with BUILD_TLS=yes\n\
         (redis-server said: {})",
        text.lines().last().unwrap_or("nothing")
    )
}

/// True when the effective user is root (`id -u` prints 0).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The directory cargo builds into, as cargo itself resolves it (`CARGO_TARGET_DIR`,
/// `build.target-dir` in a `.cargo/config.toml`, or `target/` of the workspace): asked once
/// with `cargo metadata` and remembered.
pub(crate) fn target_dir() -> Result<PathBuf> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    if let Some(d) = DIR.get() {
        return Ok(d.clone());
    }
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()
        .context("could not start `cargo metadata`")?;
    if !out.status.success() {
        bail!("`cargo metadata` failed ({})", out.status);
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing `cargo metadata`")?;
    let dir = meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` names no target_directory")?;
    Ok(DIR.get_or_init(|| dir).clone())
}

/// Runs `cargo build` with `args` and returns the executables it built (or found fresh), by
/// target name, from cargo's own `compiler-artifact` messages: wherever the target directory
/// is and whatever the profile, these are the files cargo wrote.
pub(crate) fn build_executables(args: &[&str]) -> Result<BTreeMap<String, PathBuf>> {
    let mut cmd = cargo();
    cmd.arg("build")
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    eprintln!("$ {}", describe(&cmd));
    let out = cmd
        .output()
        .with_context(|| format!("could not start `{}`", describe(&cmd)))?;
    if !out.status.success() {
        bail!("`{}` failed ({})", describe(&cmd), out.status);
    }
    let mut found = BTreeMap::new();
    for line in out.stdout.split(|b| *b == b'\n') {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        if let (Some(name), Some(exe)) =
            (msg["target"]["name"].as_str(), msg["executable"].as_str())
        {
            found.insert(name.to_owned(), PathBuf::from(exe));
        }
    }
    Ok(found)
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

//! `cargo xtask fuzz [--seconds N] [--target NAME] [--sanitizer none]`: runs the cargo-fuzz
//! targets of `fuzz/` for N seconds each (default 60) and reports, per target, the executions
//! and executions per second from libFuzzer's final stats; fails when a target crashed, naming
//! the input it saved.
//!
//! Each target reads the hand-written seeds in `fuzz/corpus/<target>/` and the inputs in
//! `fuzz/regressions/<target>/`, and grows a working corpus in `fuzz/corpus/<target>/` of the
//! workspace's target directory (kept between runs, never committed). Crashing inputs go to `fuzz/artifacts/<target>/`
//! (git-ignored); `fuzz/README.md` says how to keep one as a regression.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::util::{fmt, have, root};

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [--target NAME] [--sanitizer none]";

/// What one target's run gave.
struct Outcome {
    target: String,
    executions: Option<u64>,
    per_second: Option<u64>,
    new_units: Option<u64>,
    crash: Option<String>,
    log: PathBuf,
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut seconds: u64 = 60;
    let mut only: Option<String> = None;
    let mut sanitizer: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value; {USAGE}"))
        };
        match a.as_str() {
            "--seconds" => {
                seconds = value("--seconds")?
                    .parse()
                    .with_context(|| format!("--seconds takes a number of seconds; {USAGE}"))?;
            }
            "--target" => only = Some(value("--target")?),
            "--sanitizer" => sanitizer = Some(value("--sanitizer")?),
            other => bail!("unknown argument `{other}`; {USAGE}"),
        }
    }
    let root = root();
    let fuzz = root.join("fuzz");
    let all = targets(&fuzz)?;
    let targets: Vec<String> = match only {
        Some(t) if all.contains(&t) => vec![t],
        Some(t) => bail!("no fuzz target `{t}`; the targets are {}", all.join(", ")),
        None => all,
    };
    ensure_cargo_fuzz()?;

    let mut flags: Vec<String> = Vec::new();
    if let Some(s) = &sanitizer {
        flags.extend(["--sanitizer".to_owned(), s.clone()]);
    }
    eprintln!(
        "fuzz: building {} target(s){}",
        targets.len(),
        if nightly() {
            ""
        } else {
            " (stable toolchain: RUSTC_BOOTSTRAP=1 for cargo-fuzz's nightly flags)"
        }
    );
    let mut build = cargo_fuzz(&root);
    build.arg("build").args(&flags);
    if let [one] = targets.as_slice() {
        build.arg(one);
    }
    crate::util::exec(&mut build)?;

    let mut outcomes = Vec::new();
    for target in &targets {
        outcomes.push(run_one(&root, target, seconds, &flags)?);
    }

    eprintln!("\nfuzz: {seconds} s per target");
    eprintln!(
        "  {:<20} {:>12} {:>9} {:>6}  result",
        "target", "executions", "exec/s", "new"
    );
    let show = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    for o in &outcomes {
        eprintln!(
            "  {:<20} {:>12} {:>9} {:>6}  {}",
            o.target,
            show(o.executions),
            show(o.per_second),
            show(o.new_units),
            match &o.crash {
                None => "ok".to_owned(),
                Some(a) => format!("CRASHED: {a}"),
            }
        );
    }
    let crashed: Vec<&Outcome> = outcomes.iter().filter(|o| o.crash.is_some()).collect();
    if !crashed.is_empty() {
        for o in &crashed {
            eprintln!("fuzz: {} crashed; its log: {}", o.target, o.log.display());
        }
        bail!(
            "{} target(s) crashed: reproduce with `cargo fuzz run <target> <artifact>` and keep the input in fuzz/regressions/<target>/ (fuzz/README.md)",
            crashed.len()
        );
    }
    eprintln!("fuzz: no crashes");
    Ok(())
}

/// The targets: the files of `fuzz/fuzz_targets/`.
fn targets(fuzz: &Path) -> Result<Vec<String>> {
    let dir = fuzz.join("fuzz_targets");
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    v.sort();
    if v.is_empty() {
        bail!("no fuzz targets in {}", dir.display());
    }
    Ok(v)
}

fn nightly() -> bool {
    Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("nightly"))
        .unwrap_or(false)
}

/// `cargo fuzz …` in `root`, with `RUSTC_BOOTSTRAP=1` on a stable toolchain.
fn cargo_fuzz(root: &Path) -> Command {
    let mut c = crate::util::cargo();
    c.current_dir(root).arg("fuzz");
    if !nightly() {
        c.env("RUSTC_BOOTSTRAP", "1");
    }
    c
}

fn ensure_cargo_fuzz() -> Result<()> {
    if have("cargo-fuzz") {
        return Ok(());
    }
    eprintln!(
        "xtask: cargo-fuzz is not installed: installing it with `cargo install cargo-fuzz --locked`"
    );
    crate::util::exec(crate::util::cargo().args(["install", "cargo-fuzz", "--locked"]))
}

fn run_one(root: &Path, target: &str, seconds: u64, flags: &[String]) -> Result<Outcome> {
    let work = crate::util::target_dir()?
        .join("fuzz")
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let logs = crate::util::target_dir()?.join("fuzz").join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let log = logs.join(format!("{target}.log"));
    let artifacts = root.join("fuzz/artifacts").join(target);
    std::fs::create_dir_all(&artifacts)
        .with_context(|| format!("creating {}", artifacts.display()))?;

    // The first corpus directory is the one libFuzzer adds to; the others are only read.
    let mut cmd = cargo_fuzz(root);
    cmd.arg("run").args(flags).arg(target).arg(&work);
    for dir in ["corpus", "regressions"] {
        let d = root.join("fuzz").join(dir).join(target);
        if d.is_dir() {
            cmd.arg(d);
        }
    }
    cmd.arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        // An input that takes this long is a hang: libFuzzer saves it as a timeout artifact.
        .arg("-timeout=10")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?,
        );
    eprintln!("fuzz: {target} for {seconds} s (log: {})", log.display());
    let started = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("could not start cargo fuzz run {target}"))?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let stat = |name: &str| {
        text.lines()
            .filter_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .filter_map(|v| v.trim().parse::<u64>().ok())
            .next_back()
    };
    let outcome = Outcome {
        target: target.to_owned(),
        executions: stat("number_of_executed_units"),
        per_second: stat("average_exec_per_sec"),
        new_units: stat("new_units_added"),
        crash: (!status.success()).then(|| {
            text.lines()
                .filter_map(|l| l.split_once("Test unit written to ").map(|(_, p)| p.trim()))
                .next_back()
                .map_or_else(
                    || format!("exit {status}, no artifact named (see the log)"),
                    str::to_owned,
                )
        }),
        log,
    };
    if outcome.crash.is_some() {
        // The end of the log says what broke.
        let lines: Vec<&str> = text.lines().collect();
        for l in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("  | {l}");
        }
    }
    eprintln!(
        "fuzz: {target}: {} executions in {} ({} exec/s){}",
        outcome.executions.unwrap_or(0),
        fmt(started.elapsed()),
        outcome.per_second.unwrap_or(0),
        if outcome.crash.is_some() {
            ", CRASHED"
        } else {
            ""
        }
    );
    Ok(outcome)
}

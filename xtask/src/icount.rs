//! `cargo xtask icount [--bless]`: the instruction-count regression gate.
//!
//! Builds the `icount` benchmark of `msal-tests` (`tests/benches/icount.rs`, optimised, the
//! `bench` profile), generates its deterministic 10,000-account cache file, and runs each
//! workload under `valgrind --tool=callgrind`, collecting only inside the benchmark's
//! `icount_region` function (`--toggle-collect`), so setup is not counted. Each count is
//! divided by the workload's repetitions and compared with its budget in
//! `xtask/icount-budgets.json`: a count above `budget × (1 + margin_percent / 100)` fails, as
//! does a ratio between two workloads above its limit (`ratios`). Every count is printed with
//! its budget. `--bless` writes the measured counts into the file as the new budgets.
//!
//! Instruction counts, not wall time: they barely move with the machine's load, so the gate
//! holds on a busy CI runner. Callgrind's counts vary a little between runs (hash seeds,
//! allocator state), which the margin absorbs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::util::{apt_install, build_executables, have, root, target_dir};

fn budgets_path() -> PathBuf {
    root().join("xtask").join("icount-budgets.json")
}

/// One measured workload.
struct Count {
    op: String,
    per_op: u64,
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let bless = args.iter().any(|a| a == "--bless");
    if let Some(bad) = args.iter().find(|a| *a != "--bless") {
        bail!("unknown icount option {bad} (usage: cargo xtask icount [--bless])");
    }
    if !have("valgrind") {
        apt_install(
            &["valgrind"],
            "the instruction counts are measured with valgrind --tool=callgrind",
        )?;
    }
    let path = budgets_path();
    let budgets: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("parsing {}", path.display()))?;
    let ops = budgets["ops"]
        .as_object()
        .with_context(|| format!("{}: no \"ops\" object", path.display()))?;
    let margin = budgets["margin_percent"].as_f64().unwrap_or(10.0);

    let exes = build_executables(&[
        "--profile",
        "bench",
        "-p",
        "msal-tests",
        "--bench",
        "icount",
    ])?;
    let exe = exes
        .get("icount")
        .context("cargo built no `icount` executable")?
        .clone();
    let dir = target_dir()?.join("icount");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let status = Command::new(&exe)
        .arg("gen")
        .arg(&dir)
        .status()
        .context("running icount gen")?;
    if !status.success() {
        bail!("icount gen failed ({status})");
    }

    // Two workloads at a time (callgrind runs one thread per process).
    let jobs: Vec<(String, u64)> = ops
        .iter()
        .map(|(op, v)| (op.clone(), v["reps"].as_u64().unwrap_or(1).max(1)))
        .collect();
    let queue = Mutex::new(jobs.into_iter());
    let results: Mutex<Vec<Result<Count>>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                    let Some((op, reps)) = next else { break };
                    let r = measure(&exe, &dir, &op, reps);
                    if let Ok(mut v) = results.lock() {
                        v.push(r);
                    }
                }
            });
        }
    });
    let mut counts = Vec::new();
    for r in results.into_inner().unwrap_or_default() {
        counts.push(r?);
    }
    counts.sort_by_key(|c| ops.keys().position(|k| *k == c.op));

    let mut failures = Vec::new();
    println!(
        "\ncargo xtask icount: instructions per operation (callgrind), budgets from {} (+{margin}%)\n",
        path.strip_prefix(root()).unwrap_or(&path).display()
    );
    println!(
        "{:<12} {:>14} {:>14} {:>14}  status",
        "workload", "instructions", "budget", "limit"
    );
    for c in &counts {
        let budget = ops[&c.op]["budget"].as_u64();
        let limit = budget.map(|b| (b as f64 * (1.0 + margin / 100.0)).floor() as u64);
        let status = match limit {
            Some(l) if c.per_op > l => {
                failures.push(format!("{}: {} > {l}", c.op, c.per_op));
                "OVER BUDGET"
            }
            Some(_) => "ok",
            None => "no budget",
        };
        println!(
            "{:<12} {:>14} {:>14} {:>14}  {status}",
            c.op,
            c.per_op,
            budget.map_or_else(|| "-".into(), |b| b.to_string()),
            limit.map_or_else(|| "-".into(), |l| l.to_string()),
        );
        if let Some(note) = ops[&c.op]["what"].as_str() {
            println!("{:<12} {note}", "");
        }
    }
    let per_op = |op: &str| counts.iter().find(|c| c.op == op).map(|c| c.per_op);
    if let Some(ratios) = budgets["ratios"].as_object() {
        println!();
        for (name, max) in ratios {
            let (Some((a, b)), Some(max)) = (name.split_once('/'), max.as_f64()) else {
                bail!(
                    "{}: a ratio is named \"a/b\" and has a number",
                    path.display()
                );
            };
            let (Some(x), Some(y)) = (per_op(a), per_op(b)) else {
                bail!("{}: ratio {name} names an unknown workload", path.display());
            };
            let ratio = x as f64 / y.max(1) as f64;
            let ok = ratio <= max;
            if !ok {
                failures.push(format!("{name}: {ratio:.2} > {max}"));
            }
            println!(
                "ratio {name}: {ratio:.2} (limit {max})  {}",
                if ok { "ok" } else { "OVER LIMIT" }
            );
        }
    }

    if bless {
        let mut doc = budgets.clone();
        if let Some(o) = doc["ops"].as_object_mut() {
            for c in &counts {
                if let Some(Value::Object(entry)) = o.get_mut(&c.op) {
                    entry.insert("budget".into(), json!(c.per_op));
                }
            }
        }
        std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!(
            "\nwrote the measured counts to {} as budgets",
            path.display()
        );
        return Ok(());
    }
    if !failures.is_empty() {
        bail!(
            "instruction counts over budget: {} (if intended, run `cargo xtask icount --bless` and commit {})",
            failures.join("; "),
            path.strip_prefix(root()).unwrap_or(&path).display()
        );
    }
    Ok(())
}

/// Runs workload `op` `reps` times under callgrind; instructions per repetition.
fn measure(exe: &Path, dir: &Path, op: &str, reps: u64) -> Result<Count> {
    let out = dir.join(format!("callgrind.{op}.out"));
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--toggle-collect=*icount_region*"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args(["run", op])
        .arg(dir)
        .arg(reps.to_string())
        .stdin(Stdio::null())
        .output()
        .context("starting valgrind")?;
    if !output.status.success() {
        bail!(
            "icount {op} under callgrind failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text =
        std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    let total = summary(&text).with_context(|| format!("{}: no summary line", out.display()))?;
    if total == 0 {
        bail!("icount {op}: callgrind collected nothing (is `icount_region` inlined away?)");
    }
    Ok(Count {
        op: op.to_owned(),
        per_op: total / reps,
    })
}

/// The `summary:` (or `totals:`) line of a callgrind output file: the instructions collected.
fn summary(text: &str) -> Option<u64> {
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    value("summary:").or_else(|| value("totals:"))
}

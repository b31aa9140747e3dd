//! `cargo xtask bench [--quick]`: the performance table of the README, msal-rs side by side with MSAL Python
//! 1.39 on the same workloads and the same cache files, in one run.
//!
//! Orchestration only: generate the cache files once (`tests/benches/python/gen_caches.py`,
//! reused while unchanged), start a private `redis-server` on a free loopback port, run the Rust
//! benchmark (`cargo bench -p msal-tests --bench cache`, optimised) and MSAL Python's
//! (`tests/benches/python/bench_msal.py`), read their JSON results and print the table.
//! Everything generated lives under `bench/` in cargo's target directory (`bench/quick/` for
//! `--quick`).

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::conformance::ensure_venv;
use crate::util::{apt_install, cargo, exec, have, root, target_dir};

/// The sizes of one run.
struct Sizes {
    hits: &'static [usize],
    users: usize,
    /// Accounts in the silent-acquisition row's cache file.
    silent: usize,
    rust_batches: usize,
    python_batches: usize,
    budget_s: f64,
}

const FULL: Sizes = Sizes {
    hits: &[10, 10_000, 1_000_000],
    users: 10_000,
    silent: 100_000,
    rust_batches: 1000,
    python_batches: 200,
    budget_s: 3.0,
};

const QUICK: Sizes = Sizes {
    hits: &[10, 10_000],
    users: 1_000,
    silent: 1_000,
    rust_batches: 100,
    python_batches: 20,
    budget_s: 0.5,
};

pub(crate) fn run(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    if let Some(bad) = args.iter().find(|a| *a != "--quick") {
        bail!("unknown bench option {bad} (usage: cargo xtask bench [--quick])");
    }
    let sizes = if quick { &QUICK } else { &FULL };
    let started = Instant::now();
    let load_before = loadavg();
    let dir = if quick {
        target_dir()?.join("bench").join("quick")
    } else {
        target_dir()?.join("bench")
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let python = ensure_venv()?;
    let scripts = root().join("tests").join("benches").join("python");

    eprintln!("\n==> cache files (generated once, in MSAL Python's format)");
    let hits: Vec<String> = sizes.hits.iter().map(usize::to_string).collect();
    exec(
        Command::new(&python)
            .arg(scripts.join("gen_caches.py"))
            .arg(&dir)
            .args(["--hits", &hits.join(",")])
            .args(["--users", &sizes.users.to_string()])
            .args(["--silent", &sizes.silent.to_string()]),
    )?;
    let manifest = dir.join("manifest.json");

    eprintln!("\n==> msal-rs (cargo bench, optimised)");
    let redis = match Redis::start(&dir) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("xtask: the Redis rows are skipped: {e:#}");
            None
        }
    };
    let rust_out = dir.join("rust.json");
    let mut rows = vec!["hot", "random", "accounts", "io", "silent"];
    if redis.is_some() {
        rows.push("redis");
    }
    let mut cmd = cargo();
    cmd.args([
        "bench",
        "--quiet",
        "-p",
        "msal-tests",
        "--bench",
        "cache",
        "--",
    ])
    .arg("--manifest")
    .arg(&manifest)
    .arg("--out")
    .arg(&rust_out)
    .args(["--rows", &rows.join(",")])
    .args(["--batches", &sizes.rust_batches.to_string()]);
    if let Some(r) = &redis {
        cmd.args(["--redis-url", &r.url()])
            .args(["--redis-pid", &r.child.id().to_string()]);
    }
    let rust_result = exec(&mut cmd);
    drop(redis);
    rust_result.context("the Rust benchmark failed")?;

    eprintln!("\n==> MSAL Python");
    let py_out = dir.join("python.json");
    exec(
        Command::new(&python)
            .arg(scripts.join("bench_msal.py"))
            .arg(&manifest)
            .arg(&py_out)
            .args(["--batches", &sizes.python_batches.to_string()])
            .args(["--budget", &sizes.budget_s.to_string()]),
    )
    .context("the MSAL Python benchmark failed")?;

    let read = |p: &Path| -> Result<Value> {
        serde_json::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("parsing {}", p.display()))
    };
    let table = Table {
        rs: read(&rust_out)?,
        py: read(&py_out)?,
        manifest: read(&manifest)?,
        load: format!("load average {load_before} before, {} after", loadavg()),
    }
    .render(quick, started.elapsed());
    println!("{table}");
    std::fs::write(dir.join("table.txt"), &table).context("writing table.txt")?;
    Ok(())
}

/// The 1-minute load average (other work on the machine skews every row).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// A private `redis-server` on a free loopback port, stopped on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(dir: &Path) -> Result<Redis> {
        if !have("redis-server") {
            apt_install(&["redis-server"], "the Redis rows need redis-server")?;
        }
        let work = dir.join("redis");
        std::fs::create_dir_all(&work)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&work)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server")?;
        let redis = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if redis.ping() {
                eprintln!(
                    "xtask: redis-server (pid {}) on 127.0.0.1:{port}",
                    redis.child.id()
                );
                return Ok(redis);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("redis-server did not answer PING on 127.0.0.1:{port}")
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        // In case the benchmark died with the server stopped.
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The two results and the manifest, rendered as the table.
struct Table {
    rs: Value,
    py: Value,
    manifest: Value,
    load: String,
}

/// One line of the table.
struct Line {
    id: String,
    what: String,
    rs: Option<f64>,
    py: Option<f64>,
    py_note: Option<String>,
    target: String,
    met: Option<bool>,
}

fn human(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000_000.0 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `text` wrapped at `width` columns, continuation lines indented by three spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = "   ".to_owned();
        }
        if !line.is_empty() && !line.ends_with("   ") {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn median(v: &Value, row: &str) -> Option<f64> {
    v["rows"][row]["median_ns"].as_f64()
}

impl Table {
    fn lines(&self) -> Vec<Line> {
        let mut lines = Vec::new();
        let mut hits: Vec<&Value> = self.manifest["hits"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        hits.sort_by_key(|h| h["tokens"].as_u64());
        for (i, h) in hits.iter().enumerate() {
            let n = h["tokens"].as_u64().unwrap_or(0);
            let id = format!("hot-{n}");
            let rs = median(&self.rs, &id);
            lines.push(Line {
                id: format!("1{}", (b'a' + i as u8) as char),
                what: format!("hit, hot key, {} tokens", thousands(n)),
                rs,
                py: median(&self.py, &id),
                py_note: None,
                target: "median ≤ 0.5 µs".into(),
                met: rs.map(|v| v <= 500.0),
            });
        }
        let rs_n = self.rs["rows"]["random"]["tokens"].as_u64().unwrap_or(0);
        let py_n = self.py["rows"]["random"]["tokens"].as_u64().unwrap_or(0);
        let rs = median(&self.rs, "random");
        lines.push(Line {
            id: "2".into(),
            what: format!("hit, uniform random, {} tokens", thousands(rs_n)),
            rs,
            py: median(&self.py, "random"),
            py_note: (py_n != rs_n).then(|| format!("at {} tokens", thousands(py_n))),
            target: "median ≤ 2 µs".into(),
            met: rs.map(|v| v <= 2_000.0),
        });
        let users = self.manifest["users"]["accounts"].as_u64().unwrap_or(0);
        let rs = median(&self.rs, "accounts");
        lines.push(Line {
            id: "3".into(),
            what: format!("list {} accounts", thousands(users)),
            rs,
            py: median(&self.py, "accounts"),
            py_note: None,
            target: "≤ 1 ms".into(),
            met: rs.map(|v| v <= 1e6),
        });
        for (id, row, what) in [
            ("4a", "load", "load (deserialize)"),
            ("4b", "save", "save (serialize)"),
        ] {
            let rs = median(&self.rs, row);
            let py = median(&self.py, row);
            lines.push(Line {
                id: id.into(),
                what: format!("{what}, {} accounts", thousands(users)),
                rs,
                py,
                py_note: None,
                target: "≤ 100 ms and ≥ 3x".into(),
                met: rs.zip(py).map(|(r, p)| r <= 1e8 && p / r >= 3.0),
            });
        }
        if self.rs["rows"].get("redis-l1").is_some() {
            let tokens = self.rs["info"]["redis_tokens_per_partition"]
                .as_u64()
                .unwrap_or(0);
            let l1 = median(&self.rs, "redis-l1");
            let miss = median(&self.rs, "redis-miss");
            let hung = self.rs["rows"]["redis-hung"]["max_ns"].as_f64();
            for (id, what, rs, target, met) in [
                (
                    "5a",
                    "Redis: hit from L1".to_owned(),
                    l1,
                    "≤ 1 µs",
                    l1.map(|v| v <= 1e3),
                ),
                (
                    "5b",
                    format!("Redis: L1 miss, {tokens}-token partition"),
                    miss,
                    "median ≤ 300 µs",
                    miss.map(|v| v <= 3e5),
                ),
                (
                    "5c",
                    "Redis hung (SIGSTOP): worst call".to_owned(),
                    hung,
                    "adds ≤ 50 ms",
                    hung.map(|v| v <= 5e7),
                ),
            ] {
                lines.push(Line {
                    id: id.into(),
                    what,
                    rs,
                    py: None,
                    py_note: Some("n/a".into()),
                    target: target.into(),
                    met,
                });
            }
        } else {
            lines.push(Line {
                id: "5".into(),
                what: "Redis rows".into(),
                rs: None,
                py: None,
                py_note: Some("n/a".into()),
                target: "skipped (no redis-server)".into(),
                met: None,
            });
        }
        let silent = self.manifest["silent"]["accounts"].as_u64().unwrap_or(0);
        let rs = median(&self.rs, "silent");
        lines.push(Line {
            id: "6".into(),
            what: format!("silent hit, one of {} accounts", thousands(silent)),
            rs,
            py: median(&self.py, "silent"),
            py_note: None,
            target: "median ≤ 1 µs".into(),
            met: rs.map(|v| v <= 1e3),
        });
        lines
    }

    fn render(&self, quick: bool, took: Duration) -> String {
        let mut t = String::new();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let _ = writeln!(
            t,
            "\ncargo xtask bench{}: {} vs {} (CPython {}), same workloads and cache files, one run",
            if quick { " --quick" } else { "" },
            self.rs["impl"].as_str().unwrap_or("msal-rs"),
            self.py["impl"].as_str().unwrap_or("MSAL Python"),
            self.py["python"].as_str().unwrap_or("?"),
        );
        let _ = writeln!(
            t,
            "{cpu}, {cores} cores, {}; took {:.0} s\n",
            self.load,
            took.as_secs_f64()
        );
        let _ = writeln!(
            t,
            "{:<3} {:<38} {:>10} {:>12} {:>10}  {:<32} met",
            "#", "row", "msal-rs", "MSAL Python", "Py/rs", "target"
        );
        let _ = writeln!(t, "{}", "-".repeat(118));
        for l in self.lines() {
            let rs = l.rs.map_or_else(|| "-".to_owned(), human);
            let py = match (l.py, &l.py_note) {
                (Some(p), None) => human(p),
                (Some(p), Some(n)) => format!("{} ({n})", human(p)),
                (None, Some(n)) => n.clone(),
                (None, None) => "-".into(),
            };
            let ratio = match (l.rs, l.py) {
                (Some(r), Some(p)) if r > 0.0 => format!("{:.1}x", p / r),
                (Some(_), None) => "n/a".into(),
                _ => "-".into(),
            };
            let met = match l.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            };
            let _ = writeln!(
                t,
                "{:<3} {:<38} {:>10} {:>12} {:>10}  {:<32} {}",
                l.id, l.what, rs, py, ratio, l.target, met
            );
        }
        for para in self.notes().lines() {
            t.push_str(&wrap(para, 118));
        }
        t
    }

    fn notes(&self) -> String {
        let m = &self.manifest;
        let hits: Vec<&Value> = m["hits"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let secret = hits
            .iter()
            .filter_map(|h| h["mean_secret_bytes"].as_u64())
            .max()
            .unwrap_or(0);
        let layout: Vec<String> = hits
            .iter()
            .map(|h| {
                format!(
                    "{} = {} x {}",
                    thousands(h["tokens"].as_u64().unwrap_or(0)),
                    h["tenants"].as_array().map_or(0, Vec::len),
                    h["resources"].as_array().map_or(0, Vec::len)
                )
            })
            .collect();
        let user_secret = m["users"]["mean_secret_bytes"].as_u64().unwrap_or(0);
        let file_mb = m["users"]["bytes"].as_f64().unwrap_or(0.0) / 1e6;
        let rs_info = &self.rs["info"];
        let py_info = &self.py["info"];
        let big = hits
            .iter()
            .filter_map(|h| h["tokens"].as_u64())
            .max()
            .unwrap_or(0);
        let batch = self.rs["rows"]["hot-10"]["batch"].as_u64().unwrap_or(1000);
        let mut n = String::new();
        let _ = writeln!(
            n,
            "\nEvery row: JWT-sized tokens (three base64url parts, mean secret {secret} bytes for app tokens, \
             {user_secret} bytes for user AT/RT/IdT); msal-rs runs with no tracing subscriber installed, \
             MSAL Python with no logging handler; one thread, calls one after another; no network (an \
             in-process transport answers OpenID discovery for any tenant and refuses token requests, so \
             a hit row that sent one would abort). Ratio = MSAL Python time / msal-rs time."
        );
        let _ = writeln!(
            n,
            "1  acquire_token_for_client on an app bound to the hot tenant, the same /.default scope every call \
             (msal-rs: a ScopeSet built once, passed as &ScopeSet; MSAL Python: one ConfidentialClientApplication, \
             scopes=[hot]). Caches (tenants x resources): {}. Median of per-batch means, batches of {batch} calls after a warm-up batch, \
             measured after the cache was loaded (load of {}: msal-rs {:.1} s, MSAL Python {:.1} s). \
             msal-rs polls each call once (a hit is ready at once; anything else aborts). For reference, \
             msal-rs at {}: the scope as a &str each call {}, the hit through .tenant(hot tenant) {}.",
            layout.join(", "),
            thousands(big),
            rs_info[format!("load_hits_{big}_s")]
                .as_f64()
                .unwrap_or(0.0),
            py_info[format!("load_hits_{big}_s")]
                .as_f64()
                .unwrap_or(0.0),
            thousands(big),
            rs_info[format!("hot_{big}_str_scope_median_ns")]
                .as_f64()
                .map_or_else(|| "-".into(), human),
            rs_info[format!("hot_{big}_tenant_override_median_ns")]
                .as_f64()
                .map_or_else(|| "-".into(), human),
        );
        let _ = writeln!(
            n,
            "2  uniform random (tenant, resource) over the {}-token cache, picks precomputed. msal-rs: one app, \
             .tenant(t) per request and &ScopeSet of the resource. MSAL Python binds an app to one tenant: {} \
             ConfidentialClientApplication objects (one per tenant, built in {} s) sharing one \
             SerializableTokenCache. RSS after load: msal-rs {} MB, MSAL Python {} MB.",
            thousands(self.rs["rows"]["random"]["tokens"].as_u64().unwrap_or(0)),
            thousands(self.py["rows"]["random"]["apps"].as_u64().unwrap_or(0)),
            self.py["rows"]["random"]["apps_build_s"],
            rs_info[format!("rss_after_load_{big}_mb")],
            py_info[format!("rss_after_load_{big}_mb")],
        );
        let _ = writeln!(
            n,
            "3  TokenCache::accounts() vs ConfidentialClientApplication.get_accounts() (authority organizations) on \
             users-N.json: N auth-code sign-ins recorded by MSAL Python's own TokenCache.add (AT, RT, IdT, Account \
             each; one AppMetadata); median of repeated calls."
        );
        let _ = writeln!(
            n,
            "4  the same file ({file_mb:.0} MB, json.dumps(indent=4) layout): TokenCache::deserialize(&str) into a \
             new cache (parse + index) vs SerializableTokenCache.deserialize(str) (json.loads); serialize() of the \
             loaded cache vs serialize(); file already in memory, no disk I/O; median of repetitions. msal-rs's \
             output is byte-identical to the file: {}.",
            rs_info["save_is_byte_identical"]
        );
        if self.rs["rows"].get("redis-l1").is_some() {
            let z = &rs_info["redis_zero_staleness"];
            let _ = writeln!(
                n,
                "5  a private redis-server 7 on loopback; TokenCache::with_store(RedisCache) (prefix per run), app \
                 partitions of {} tokens ({} bytes) filled through the library. 5a: partition read within \
                 max_staleness (default 30 s), hot key, batches as in 1. 5b: CacheOptions::max_partitions(1) and \
                 calls alternating between two tenants, so every call finds its partition evicted: one Redis read \
                 of the whole partition + parse + index, then the hit; median per call. (max_staleness(ZERO) does \
                 not force a check per call: freshness has millisecond resolution; over 300 ms, {} of {} calls \
                 checked Redis, median check {}.) 5c: redis-server SIGSTOPped, fresh store (20 ms deadline, \
                 breaker after 3 failures), stale partition in memory; 20 calls alternating a hit (memory answers \
                 after the read times out) and a never-seen tenant (read and write time out, the stub IdP \
                 answers); worst call shown, per call (ms): {}.",
                rs_info["redis_tokens_per_partition"],
                rs_info["redis_partition_bytes"],
                z["store_checks"],
                z["calls"],
                z["check_median_ns"]
                    .as_f64()
                    .map_or_else(|| "-".into(), human),
                self.rs["rows"]["redis-hung"]["per_call_ms"],
            );
        }
        let _ = writeln!(
            n,
            "6  acquire_token_silent(scopes {}, account) on a ConfidentialClient / ConfidentialClientApplication \
             (authority organizations) over silent-N.json ({:.0} MB: N auth-code sign-ins written like \
             users-N.json), the account in the middle every call (found once, before timing); a cache hit (the \
             cached target also holds offline_access openid profile, so the request is a subset of it). \
             Batches as in 1; MSAL Python's batches are sized from a first call (its exact-key fast path needs \
             the request's scopes to equal the cached target, so it scans the cache; calls per batch: {}). \
             For reference, msal-rs with an account picked uniformly at random each call: {}. Load of the file: \
             msal-rs {:.1} s, MSAL Python {:.1} s.",
            m["silent"]["scopes"],
            m["silent"]["bytes"].as_f64().unwrap_or(0.0) / 1e6,
            self.py["rows"]["silent"]["batch"],
            rs_info["silent_random_median_ns"]
                .as_f64()
                .map_or_else(|| "-".into(), human),
            rs_info["load_silent_s"].as_f64().unwrap_or(0.0),
            py_info["load_silent_s"].as_f64().unwrap_or(0.0),
        );
        n
    }
}

//! Concurrency across processes: this test binary re-runs itself as writer and reader
//! processes (the `child_process_entry` test, inert unless `MSAL_CACHE_FILE_CHILD` is set).
//!
//! A writer does N `modify` calls, each inserting one unique entry `w{id}-{i}` into the
//! "AccessToken" section; after each it reads the file without the lock (the bytes must always
//! parse, and must hold all of its own entries so far). A reader reads continuously until told
//! to stop (every read must parse; the number of entries must never go down).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use msal_cache_file::FileCache;
use msal_core::cache::{CacheStore, PartitionKey, ReadOutcome, Snapshot, Written};
use serde_json::{Value, json};

const CHILD: &str = "MSAL_CACHE_FILE_CHILD";

/// The multi-process tests run one at a time: each starts several busy processes, and the
/// timings they print mean something only when they do not share the CPUs with each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The child processes' entry point (a no-op in a normal test run).
#[test]
fn child_process_entry() {
    let Ok(role) = std::env::var(CHILD) else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let path = PathBuf::from(var("MSAL_CACHE_FILE_PATH"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stats = match role.as_str() {
        "writer" => rt.block_on(writer(
            &path,
            var("MSAL_CACHE_FILE_ID").parse().unwrap(),
            var("MSAL_CACHE_FILE_N").parse().unwrap(),
        )),
        "reader" => rt.block_on(reader(&path, Path::new(&var("MSAL_CACHE_FILE_STOP")))),
        _ => Stats {
            failures: vec!["unknown role".into()],
            ..Stats::default()
        },
    };
    println!(
        "STATS role={role} writes={} reads={} torn={} failures={} modify_ms={} of_which_json_ms={} reads_ms={}",
        stats.writes,
        stats.reads,
        stats.torn,
        stats.failures.len(),
        stats.modify_time.as_millis(),
        stats.json_time.as_millis(),
        stats.read_time.as_millis(),
    );
    for f in stats.failures.iter().take(10) {
        println!("FAILURE {f}");
    }
    std::process::exit(if stats.failures.is_empty() { 0 } else { 1 });
}

#[derive(Default)]
struct Stats {
    writes: u64,
    reads: u64,
    /// Unlocked reads that did not parse but parsed under the lock (only possible with a
    /// writer that writes in place, as MSAL Python does).
    torn: u64,
    failures: Vec<String>,
    /// Wall time in `modify` (waiting for the lock included), in the operation (the test's
    /// JSON work), and in reads (parsing included).
    modify_time: Duration,
    json_time: Duration,
    read_time: Duration,
}

fn entries(v: &Value) -> Option<&serde_json::Map<String, Value>> {
    v.get("AccessToken")?.as_object()
}

async fn writer(path: &Path, id: u32, n: u32) -> Stats {
    let cache = FileCache::builder(path)
        .lock_timeout(Duration::from_secs(60))
        .build();
    let whole = PartitionKey::whole();
    let mut st = Stats::default();
    let mut known = None;
    for i in 0..n {
        let key = format!("w{id}-{i}");
        let mut bad_input = None;
        let mut json_time = Duration::ZERO;
        let t0 = Instant::now();
        let r = cache
            .modify(&whole, &mut |cur: Option<&Snapshot>| {
                let t = Instant::now();
                let r = operation(cur, id, i, &key, &mut bad_input);
                json_time += t.elapsed();
                r
            })
            .await;
        st.modify_time += t0.elapsed();
        st.json_time += json_time;
        if let Some(b) = bad_input {
            st.failures.push(format!("write {i}: {b}"));
        }
        match r {
            Ok(Some(_)) => st.writes += 1,
            Ok(None) => st.failures.push(format!("write {i}: nothing stored")),
            Err(e) => st.failures.push(format!("write {i}: {e}")),
        }
        // Unlocked reads between writes; all of this writer's entries so far must be there.
        let t0 = Instant::now();
        for _ in 0..2 {
            if let Some(doc) = check_read(&cache, &whole, &mut known, &mut st).await {
                let mine = entries(&doc)
                    .map(|m| {
                        m.keys()
                            .filter(|k| k.starts_with(&format!("w{id}-")))
                            .count()
                    })
                    .unwrap_or(0);
                if mine != i as usize + 1 {
                    st.failures
                        .push(format!("after write {i}: {mine} own entries"));
                }
            }
        }
        st.read_time += t0.elapsed();
    }
    st
}

/// The writer's operation: insert `key` into "AccessToken".
fn operation(
    cur: Option<&Snapshot>,
    id: u32,
    i: u32,
    key: &str,
    bad_input: &mut Option<String>,
) -> msal_core::Result<Option<Written>> {
    let mut doc: Value = match cur {
        None => json!({}),
        Some(s) => match serde_json::from_slice(&s.data) {
            Ok(v) => v,
            Err(e) => {
                *bad_input = Some(format!("unparsable under the lock: {e}"));
                return Ok(None);
            }
        },
    };
    let Some(obj) = doc.as_object_mut() else {
        *bad_input = Some("not an object".into());
        return Ok(None);
    };
    let ats = obj.entry("AccessToken").or_insert_with(|| json!({}));
    if let Some(ats) = ats.as_object_mut() {
        ats.insert(
            key.to_owned(),
            json!({
                "credential_type": "AccessToken",
                "secret": format!("token-{id}-{i}"),
                "home_account_id": null,
                "cached_at": "1700000000",
            }),
        );
    }
    // Python's layout: indent=4.
    let data = serde_json::to_vec_pretty(&doc)
        .map_err(|e| msal_core::Error::with_source(msal_core::ErrorKind::Cache, "serialize", e))?;
    Ok(Some(Written {
        data,
        expires_in: None,
    }))
}

/// One unlocked read (with the version last seen): parses it, retrying under the lock as
/// msal-core does. Returns the document when the file changed.
async fn check_read(
    cache: &FileCache,
    whole: &PartitionKey,
    known: &mut Option<msal_core::cache::Version>,
    st: &mut Stats,
) -> Option<Value> {
    st.reads += 1;
    let snap = match cache.read(whole, known.as_ref(), false).await {
        Ok(ReadOutcome::Current(s)) => s,
        Ok(ReadOutcome::Unchanged) => return None,
        Ok(ReadOutcome::Missing) => {
            st.failures.push("missing after a write".into());
            return None;
        }
        Err(e) => {
            st.failures.push(format!("read: {e}"));
            return None;
        }
    };
    match serde_json::from_slice::<Value>(&snap.data) {
        Ok(doc) => {
            *known = Some(snap.version);
            Some(doc)
        }
        Err(e) => {
            if std::env::var("MSAL_CACHE_FILE_IN_PLACE_WRITERS").is_err() {
                st.failures
                    .push(format!("unlocked read did not parse: {e}"));
            }
            match cache.read(whole, None, true).await {
                Ok(ReadOutcome::Current(s)) => match serde_json::from_slice::<Value>(&s.data) {
                    Ok(doc) => {
                        st.torn += 1;
                        *known = Some(s.version);
                        Some(doc)
                    }
                    Err(e) => {
                        st.failures.push(format!("locked read did not parse: {e}"));
                        None
                    }
                },
                other => {
                    st.failures.push(format!("locked read: {other:?}"));
                    None
                }
            }
        }
    }
}

async fn reader(path: &Path, stop: &Path) -> Stats {
    let cache = FileCache::builder(path)
        .lock_timeout(Duration::from_secs(60))
        .build();
    let whole = PartitionKey::whole();
    let mut st = Stats::default();
    let mut known = None;
    let mut last = 0usize;
    while !stop.exists() {
        if !path.exists() {
            tokio::task::yield_now().await;
            continue;
        }
        if let Some(doc) = check_read(&cache, &whole, &mut known, &mut st).await {
            let n = entries(&doc).map(|m| m.len()).unwrap_or(0);
            if n < last {
                st.failures
                    .push(format!("entries went from {last} down to {n}"));
            }
            last = n;
        }
    }
    st
}

fn spawn_child(role: &str, path: &Path, id: u32, n: u32, stop: &Path) -> Child {
    child_command(role, path, id, n, stop).spawn().unwrap()
}

fn child_command(role: &str, path: &Path, id: u32, n: u32, stop: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_process_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, role)
    .env("MSAL_CACHE_FILE_PATH", path)
    .env("MSAL_CACHE_FILE_ID", id.to_string())
    .env("MSAL_CACHE_FILE_N", n.to_string())
    .env("MSAL_CACHE_FILE_STOP", stop)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// Waits for a child; returns its STATS/FAILURE lines, failing the test if it failed.
fn finish(child: Child, what: &str) -> String {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // libtest prints "test child_process_entry ... " before the child's first line.
    let lines: Vec<&str> = stdout
        .lines()
        .filter_map(|l| {
            l.find("STATS")
                .or_else(|| l.find("FAILURE"))
                .map(|at| &l[at..])
        })
        .collect();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        lines.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    lines.join("\n")
}

fn final_entries(path: &Path) -> serde_json::Map<String, Value> {
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    entries(&doc).cloned().unwrap()
}

fn assert_all_present(path: &Path, writers: u32, n: u32) {
    let ats = final_entries(path);
    assert_eq!(ats.len(), (writers * n) as usize);
    for id in 0..writers {
        for i in 0..n {
            assert!(ats.contains_key(&format!("w{id}-{i}")), "w{id}-{i} lost");
        }
    }
}

fn assert_clean_dir(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["cache.json".to_string()],
        "left behind: {names:?}"
    );
}

#[test]
fn eight_processes_two_hundred_writes_each() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let stop = dir.path().join("stop");
    let (writers, n) = (8, 200);
    let started = Instant::now();
    let children: Vec<Child> = (0..writers)
        .map(|id| spawn_child("writer", &path, id, n, &stop))
        .collect();
    let reports: Vec<String> = children
        .into_iter()
        .enumerate()
        .map(|(id, c)| finish(c, &format!("writer {id}")))
        .collect();
    let took = started.elapsed();
    eprintln!("8 processes x 200 writes: {took:?}\n{}", reports.join("\n"));
    assert_all_present(&path, writers, n);
    for r in &reports {
        assert!(r.contains("torn=0 failures=0"), "{r}");
    }
    assert_clean_dir(dir.path());
}

#[test]
fn two_writers_hammering_and_a_reader() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let stop = dir.path().join("stop");
    let reader = spawn_child("reader", &path, 99, 0, &stop);
    let w: Vec<Child> = (0..2)
        .map(|id| spawn_child("writer", &path, id, 300, &stop))
        .collect();
    let reports: Vec<String> = w
        .into_iter()
        .enumerate()
        .map(|(id, c)| finish(c, &format!("writer {id}")))
        .collect();
    std::fs::write(&stop, b"").unwrap();
    let r = finish(reader, "reader");
    eprintln!("{}\n{r}", reports.join("\n"));
    assert!(r.contains("torn=0 failures=0"), "{r}");
    let reads: u64 = r
        .split_whitespace()
        .find_map(|t| t.strip_prefix("reads="))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    assert!(reads > 100, "the reader read only {reads} times");
    std::fs::remove_file(&stop).unwrap();
    assert_all_present(&path, 2, 300);
    assert_clean_dir(dir.path());
}

/// The Python interpreter of a venv with msal-extensions, if there is one.
fn python() -> Option<PathBuf> {
    let p = std::env::var_os("MSAL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/conformance/venv/bin/python")
        });
    let ok = Command::new(&p)
        .args(["-c", "import msal_extensions"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(p)
}

/// MSAL Python's own persisted cache: `PersistedTokenCache.modify` takes msal-extensions' lock,
/// reloads only when the file's mtime is newer than its last sync, changes, saves in place
/// (O_TRUNC + write) and unlocks. A write of ours whose mtime it missed would be lost.
const PY_WRITER: &str = r#"
import sys
from msal_extensions import FilePersistence, PersistedTokenCache, LockError
path, wid, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cache = PersistedTokenCache(FilePersistence(path))
retries = 0
for i in range(n):
    entry = {"credential_type": "AccessToken", "home_account_id": "py%d" % wid,
             "environment": "login.example", "client_id": "c", "realm": "r",
             "target": "t%d" % i, "secret": "py"}
    while True:
        try:
            cache.modify(cache.CredentialType.ACCESS_TOKEN, entry, entry)
            break
        except LockError:
            retries += 1
print("PY writer", wid, "lock retries", retries)
"#;

#[test]
fn rust_and_msal_python_writers_share_the_file() {
    let Some(py) = python() else {
        assert!(
            std::env::var_os("MSAL_REQUIRE_PEERS").is_none(),
            "MSAL_REQUIRE_PEERS is set but no Python with msal-extensions was found (MSAL_PYTHON)"
        );
        eprintln!("skipped: no Python with msal-extensions (set MSAL_PYTHON)");
        return;
    };
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let stop = dir.path().join("stop");
    let n = 100;
    let started = Instant::now();
    // Python writes in place, so unlocked Rust reads may catch a torn file: that is allowed
    // (counted as torn) provided the read under the lock then parses.
    let rust: Vec<Child> = (0..2)
        .map(|id| {
            child_command("writer", &path, id, n, &stop)
                .env("MSAL_CACHE_FILE_IN_PLACE_WRITERS", "1")
                .spawn()
                .unwrap()
        })
        .collect();
    let pys: Vec<Child> = (2..4)
        .map(|id| {
            Command::new(&py)
                .args(["-c", PY_WRITER])
                .arg(&path)
                .arg(id.to_string())
                .arg(n.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let reader = child_command("reader", &path, 99, 0, &stop)
        .env("MSAL_CACHE_FILE_IN_PLACE_WRITERS", "1")
        .spawn()
        .unwrap();
    let mut reports = Vec::new();
    for (i, c) in rust.into_iter().enumerate() {
        reports.push(finish(c, &format!("rust writer {i}")));
    }
    for (i, c) in pys.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "python writer {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        reports.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    std::fs::write(&stop, b"").unwrap();
    reports.push(finish(reader, "reader"));
    std::fs::remove_file(&stop).unwrap();
    eprintln!(
        "2 Rust + 2 MSAL Python writers x {n}, 1 Rust reader: {:?}\n{}",
        started.elapsed(),
        reports.join("\n")
    );
    let ats = final_entries(&path);
    assert_eq!(ats.len(), 4 * n as usize, "updates were lost");
    for id in 0..2 {
        for i in 0..n {
            assert!(ats.contains_key(&format!("w{id}-{i}")), "w{id}-{i} lost");
        }
    }
    for id in 2..4 {
        for i in 0..n {
            let key = format!("py{id}-login.example-accesstoken-c-r-t{i}");
            assert!(ats.contains_key(&key), "{key} lost");
        }
    }
    assert_clean_dir(dir.path());
}

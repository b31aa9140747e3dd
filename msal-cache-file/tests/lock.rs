//! The `<path>.lockfile` protocol: waiting, stale-lock recovery, timeout, cleanup.

mod common;

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::{put, whole};
use msal_cache_file::FileCache;
use msal_core::ErrorKind;
use msal_core::cache::{CacheStore, Snapshot, Written};

/// A lock file as another MSAL creates it: exclusive create, `"{pid} {argv0}"`.
fn make_lockfile(path: &Path, pid: u32) -> File {
    let mut f = File::create_new(path).unwrap();
    write!(f, "{pid} /usr/bin/python3").unwrap();
    f
}

fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    pid
}

fn age(path: &Path, by: Duration) {
    let f = File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

fn ino(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

/// Starts a write of `data` on another task.
fn spawn_put(
    cache: &FileCache,
    data: &'static [u8],
) -> tokio::task::JoinHandle<msal_core::Result<Option<Snapshot>>> {
    let cache = cache.clone();
    tokio::spawn(async move {
        cache
            .modify(&whole(), &mut |_: Option<&Snapshot>| {
                Ok(Some(Written {
                    data: data.to_vec(),
                    expires_in: None,
                }))
            })
            .await
    })
}

#[tokio::test]
async fn a_live_flocking_holder_makes_modify_wait_then_proceed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::new(&path);
    let holder = make_lockfile(cache.lock_path(), std::process::id());
    holder.lock().unwrap();
    // Even an old lock file is not stale while it is flocked.
    age(cache.lock_path(), Duration::from_secs(3600));
    let task = spawn_put(&cache, b"{\"after\": \"wait\"}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!task.is_finished(), "modify did not wait for the lock");
    assert!(!path.exists());
    // Release as msal-rs and portalocker do.
    std::fs::remove_file(cache.lock_path()).unwrap();
    holder.unlock().unwrap();
    drop(holder);
    let released = Instant::now();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    eprintln!("proceeded {:?} after the release", released.elapsed());
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"after\": \"wait\"}");
    assert!(!cache.lock_path().exists());
}

#[tokio::test]
async fn a_live_holder_that_only_created_the_file_is_respected() {
    // msal-extensions' default lock: exclusive create only, no flock.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::new(&path);
    let holder = make_lockfile(cache.lock_path(), std::process::id());
    drop(holder);
    let task = spawn_put(&cache, b"{}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!task.is_finished(), "modify did not wait for the lock");
    assert!(
        cache.lock_path().exists(),
        "a live holder's lock file was removed"
    );
    std::fs::remove_file(cache.lock_path()).unwrap(); // os.remove(lockpath)
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(path.exists());
    assert!(!cache.lock_path().exists());
}

#[tokio::test]
async fn a_lock_file_of_a_dead_process_is_recovered_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::new(&path);
    drop(make_lockfile(cache.lock_path(), dead_pid()));
    let started = Instant::now();
    put(&cache, b"{\"recovered\": true}").await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"recovered\": true}");
    assert!(!cache.lock_path().exists());
}

#[tokio::test]
async fn an_old_lock_file_is_recovered_even_if_its_pid_lives() {
    // A pid that was reused by an unrelated live process: only the age tells.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::builder(&path)
        .stale_lock_age(Duration::from_secs(5))
        .build();
    drop(make_lockfile(cache.lock_path(), std::process::id()));
    age(cache.lock_path(), Duration::from_secs(6));
    let started = Instant::now();
    put(&cache, b"{}").await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );
    assert!(!cache.lock_path().exists());
}

#[tokio::test]
async fn a_young_lock_file_without_a_pid_is_waited_for_then_an_old_one_recovered() {
    // A holder between its create and its write: no pid yet, so only the age can tell.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::builder(&path)
        .lock_timeout(Duration::from_millis(300))
        .build();
    File::create_new(cache.lock_path()).unwrap();
    let before = ino(cache.lock_path());
    let err = put_err(&cache).await;
    assert_eq!(err.kind(), ErrorKind::Cache);
    assert_eq!(
        ino(cache.lock_path()),
        before,
        "a young lock file was removed"
    );
    age(cache.lock_path(), Duration::from_secs(31));
    put(&cache, b"{}").await;
    assert!(!cache.lock_path().exists());
}

async fn put_err(cache: &FileCache) -> msal_core::Error {
    cache
        .modify(&whole(), &mut |_: Option<&Snapshot>| {
            Ok(Some(Written {
                data: b"{}".to_vec(),
                expires_in: None,
            }))
        })
        .await
        .unwrap_err()
}

#[tokio::test]
async fn waiting_too_long_is_a_typed_timeout_and_leaves_the_holder_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::builder(&path)
        .lock_timeout(Duration::from_millis(400))
        .lock_retry_interval(Duration::from_millis(20))
        .build();
    let holder = make_lockfile(cache.lock_path(), std::process::id());
    holder.lock().unwrap();
    let before = ino(cache.lock_path());
    let started = Instant::now();
    let err = put_err(&cache).await;
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Cache);
    let msg = err.to_string();
    assert!(
        msg.contains("timed out waiting for the cache lock"),
        "{msg}"
    );
    assert!(msg.contains("cache.json.lockfile"), "{msg}");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1500),
        "took {took:?}"
    );
    assert_eq!(
        ino(cache.lock_path()),
        before,
        "the holder's lock file was touched"
    );
    assert!(!path.exists(), "written without the lock");
    // A consistent read of an existing file times out the same way.
    std::fs::write(&path, b"{}").unwrap();
    let err = cache.read(&whole(), None, true).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("timed out waiting for the cache lock")
    );
}

#[tokio::test]
async fn the_lock_file_is_gone_after_every_modify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::new(&path);
    let lock = cache.lock_path().to_path_buf();
    // Ok(None) on a missing file, a write, Ok(None), an error, a consistent read.
    let _ = cache
        .modify(&whole(), &mut |_: Option<&Snapshot>| Ok(None))
        .await
        .unwrap();
    assert!(!lock.exists());
    put(&cache, b"{}").await;
    assert!(!lock.exists());
    let _ = cache
        .modify(&whole(), &mut |_: Option<&Snapshot>| Ok(None))
        .await
        .unwrap();
    assert!(!lock.exists());
    let _ = cache
        .modify(&whole(), &mut |_: Option<&Snapshot>| {
            Err(msal_core::Error::new(ErrorKind::Cache, "no"))
        })
        .await
        .unwrap_err();
    assert!(!lock.exists());
    let _ = cache.read(&whole(), None, true).await.unwrap();
    assert!(!lock.exists());
    // A write that fails on the file system (the target is a directory) releases the lock too.
    let blocked = dir.path().join("dir.json");
    std::fs::create_dir(&blocked).unwrap();
    let bad = FileCache::new(&blocked);
    let err = put_err(&bad).await;
    assert_eq!(err.kind(), ErrorKind::Cache);
    assert!(err.to_string().contains("could not"), "{err}");
    assert!(!bad.lock_path().exists());
    assert_eq!(std::fs::read_dir(&blocked).unwrap().count(), 0);
}

#[tokio::test]
async fn a_cancelled_modify_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::new(&path);
    let holder = make_lockfile(cache.lock_path(), std::process::id());
    holder.lock().unwrap();
    let task = spawn_put(&cache, b"{}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    task.abort();
    let _ = task.await;
    std::fs::remove_file(cache.lock_path()).unwrap();
    drop(holder);
    // The aborted waiter left nothing behind that blocks the next writer.
    tokio::time::timeout(Duration::from_secs(2), put(&cache, b"{\"next\": 1}"))
        .await
        .unwrap();
    assert!(!cache.lock_path().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_in_one_process_exclude_each_other() {
    // Read-modify-write of a counter: without exclusion, increments would be lost.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let cache = FileCache::new(&path);
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                cache
                    .modify(&whole(), &mut |cur: Option<&Snapshot>| {
                        let n: u64 = cur
                            .map(|s| std::str::from_utf8(&s.data).unwrap().parse().unwrap())
                            .unwrap_or(0);
                        Ok(Some(Written {
                            data: (n + 1).to_string().into_bytes(),
                            expires_in: None,
                        }))
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "200");
    assert!(!FileCache::new(&path).lock_path().exists());
}

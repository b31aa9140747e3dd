//! What may be at the cache path: only a regular file (or a symlink to one), of bounded size,
//! and every call bounded in time. A FIFO, a device, a socket or a directory is a typed error,
//! never a hang or an unbounded read.

mod common;

use std::future::Future;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{current, put, stat, whole};
use msal_cache_file::FileCache;
use msal_core::cache::{CacheStore, ReadOutcome, Snapshot, Written};
use msal_core::{Error, ErrorKind, TokenCache};

/// Generous: the old code hung forever (or read until memory ran out) where these now fail
/// at once.
const NO_HANG: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(NO_HANG, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not return within {NO_HANG:?}"))
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

/// A write whose operation must never run; returns the error.
async fn modify_err(cache: &FileCache) -> Error {
    let mut ran = false;
    let e = within(
        "modify",
        cache.modify(&whole(), &mut |_: Option<&Snapshot>| {
            ran = true;
            Ok(Some(Written {
                data: b"{}".to_vec(),
                expires_in: None,
            }))
        }),
    )
    .await
    .expect_err("modify must fail");
    assert!(!ran, "the operation ran on a refused file");
    e
}

async fn read_err(cache: &FileCache, consistent: bool) -> Error {
    within("read", cache.read(&whole(), None, consistent))
        .await
        .expect_err("read must fail")
}

fn assert_cache_error(e: &Error, needle: &str) {
    assert_eq!(e.kind(), ErrorKind::Cache, "{e}");
    let msg = e.to_string();
    assert!(msg.contains(needle), "expected {needle:?} in {msg:?}");
}

/// Every way into the store fails with a typed error naming what is at the path.
async fn assert_refused(cache: &FileCache, needle: &str) {
    // Twice: a refused call leaves nothing behind that blocks the next one.
    for _ in 0..2 {
        assert_cache_error(&read_err(cache, false).await, needle);
        assert_cache_error(&read_err(cache, true).await, needle);
        assert_cache_error(&modify_err(cache).await, needle);
    }
    // Through msal-core: `sync` reports it, and a lookup answers from memory.
    let tokens = TokenCache::with_store(cache.clone());
    let e = within("sync", tokens.sync()).await.expect_err("sync fails");
    assert_cache_error(&e, needle);
    let found = within("account", tokens.account("uid.utid")).await;
    assert!(matches!(found, Ok(None)), "{found:?}");
    assert!(!cache.lock_path().exists(), "a lock file was left behind");
}

#[tokio::test]
async fn a_fifo_at_the_cache_path_is_a_typed_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    mkfifo(&path);
    let started = Instant::now();
    assert_refused(&FileCache::new(&path), "a FIFO").await;
    assert!(started.elapsed() < NO_HANG, "took {:?}", started.elapsed());
    // Still the FIFO: nothing was written over it.
    let ft = std::fs::symlink_metadata(&path).unwrap().file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&ft));
}

#[tokio::test]
async fn a_symlink_to_a_fifo_is_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo);
    let path = dir.path().join("cache.json");
    symlink(&fifo, &path).unwrap();
    assert_refused(&FileCache::new(&path), "a FIFO").await;
}

#[tokio::test]
async fn a_symlink_to_dev_zero_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    symlink("/dev/zero", &path).unwrap();
    assert_refused(&FileCache::new(&path), "a character device").await;
    assert_eq!(std::fs::read_link(&path).unwrap(), Path::new("/dev/zero"));
}

#[tokio::test]
async fn a_directory_at_the_cache_path_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    std::fs::create_dir(&path).unwrap();
    assert_refused(&FileCache::new(&path), "a directory").await;
    assert!(path.is_dir());
}

#[tokio::test]
async fn a_socket_at_the_cache_path_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    assert_refused(&FileCache::new(&path), "a socket").await;
}

#[tokio::test]
async fn a_fifo_at_the_lock_path_is_a_typed_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    std::fs::write(&path, b"{}").unwrap();
    let cache = FileCache::builder(&path)
        .lock_timeout(Duration::from_secs(60))
        .build();
    mkfifo(cache.lock_path());
    for _ in 0..2 {
        let e = modify_err(&cache).await;
        assert_cache_error(&e, "lock file is a FIFO");
        assert_cache_error(&read_err(&cache, true).await, "lock file is a FIFO");
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"{}");
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let big = format!(
        "{{\"AccessToken\": {{}}, \"pad\": \"{}\"}}",
        "x".repeat(4000)
    );
    std::fs::write(&path, &big).unwrap();
    let before = stat(&path);
    let cache = FileCache::builder(&path).max_file_size(1024).build();
    for _ in 0..2 {
        assert_cache_error(
            &read_err(&cache, false).await,
            "larger than the limit of 1024",
        );
        assert_cache_error(
            &read_err(&cache, true).await,
            "larger than the limit of 1024",
        );
        assert_cache_error(&modify_err(&cache).await, "larger than the limit of 1024");
    }
    let tokens = TokenCache::with_store(cache.clone());
    assert_cache_error(
        &tokens.sync().await.expect_err("sync reports it"),
        "larger than the limit",
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        big,
        "the file changed"
    );
    assert_eq!(stat(&path), before, "the file was rewritten");

    // Exactly at the limit is fine; so is the same file with a higher limit.
    let at_limit = FileCache::builder(&path)
        .max_file_size(big.len() as u64)
        .build();
    assert_eq!(&current(&at_limit).await.data[..], big.as_bytes());
    let one_under = FileCache::builder(&path)
        .max_file_size(big.len() as u64 - 1)
        .build();
    assert_cache_error(&read_err(&one_under, false).await, "larger than the limit");
}

#[tokio::test]
async fn a_symlink_to_a_regular_cache_file_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("shared").join("real.json");
    std::fs::create_dir(dir.path().join("shared")).unwrap();
    std::fs::write(&target, b"{\"AccessToken\": {}}").unwrap();
    let path = dir.path().join("cache.json");
    symlink(&target, &path).unwrap();
    let cache = FileCache::new(&path);
    assert_eq!(&current(&cache).await.data[..], b"{\"AccessToken\": {}}");
    assert!(
        within("sync", TokenCache::with_store(cache.clone()).sync())
            .await
            .is_ok()
    );
    put(&cache, b"{\"RefreshToken\": {}}").await;
    assert!(
        std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"{\"RefreshToken\": {}}");
    assert!(matches!(
        cache.read(&whole(), None, true).await.unwrap(),
        ReadOutcome::Current(_)
    ));
}

#[tokio::test]
async fn the_deadline_bounds_a_call_that_waits_for_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    std::fs::write(&path, b"{}").unwrap();
    let cache = FileCache::builder(&path)
        .lock_timeout(Duration::from_secs(120))
        .deadline(Duration::from_millis(300))
        .build();
    // A live holder (this process) that keeps the lock.
    let holder = std::fs::File::create_new(cache.lock_path()).unwrap();
    {
        use std::io::Write;
        write!(&holder, "{} /usr/bin/python3", std::process::id()).unwrap();
    }
    holder.lock().unwrap();
    let started = Instant::now();
    let e = modify_err(&cache).await;
    assert_cache_error(&e, "did not finish within 300 ms");
    let e = read_err(&cache, true).await;
    assert_cache_error(&e, "did not finish within 300 ms");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // An unlocked read needs no lock and is not held up.
    assert_eq!(&current(&cache).await.data[..], b"{}");
    // Once the holder lets go, writes go through again.
    drop(holder);
    std::fs::remove_file(cache.lock_path()).unwrap();
    put(&cache, b"{\"a\": 1}").await;
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\": 1}");
}

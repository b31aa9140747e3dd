//! What is particular to the file store, through the `CacheStore` trait: modes, symlinks, the
//! lock file, in-place writers (MSAL Python), modification times. The generic contract is
//! checked by msal-core's conformance kit (`conformance.rs`).

mod common;

use std::os::unix::fs::symlink;
use std::time::Duration;

use common::{current, mode, put, stat, whole};
use msal_cache_file::FileCache;
use msal_core::cache::{CacheStore, ReadOutcome, Snapshot, Written};
use msal_core::{Error, ErrorKind};

#[tokio::test]
async fn a_missing_file_reads_missing_and_reading_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("cache.json");
    let cache = FileCache::new(&path);
    assert!(!cache.is_partitioned());
    for consistent in [false, true] {
        let r = cache.read(&whole(), None, consistent).await.unwrap();
        assert!(matches!(r, ReadOutcome::Missing), "{r:?}");
    }
    assert!(!path.exists());
    assert!(!cache.lock_path().exists());
    assert!(
        !dir.path().join("sub").exists(),
        "reading created the directory"
    );
}

#[tokio::test]
async fn modify_creates_the_file_0600_in_a_new_0700_directory() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a").join("b");
    let path = sub.join("cache.json");
    let cache = FileCache::new(&path);
    let mut seen = None;
    let snap = cache
        .modify(&whole(), &mut |cur: Option<&Snapshot>| {
            seen = Some(cur.is_none());
            Ok(Some(Written {
                data: b"{\"AccessToken\": {}}".to_vec(),
                expires_in: Some(Duration::from_secs(60)),
            }))
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, Some(true), "modify saw contents of a missing file");
    assert_eq!(&snap.data[..], b"{\"AccessToken\": {}}");
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"AccessToken\": {}}");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&sub), 0o700);
    assert_eq!(mode(&dir.path().join("a")), 0o700);
    assert!(!cache.lock_path().exists());
    // Nothing else is left in the directory (no temporary file).
    let names: Vec<_> = std::fs::read_dir(&sub)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("cache.json")]);
}

#[tokio::test]
async fn an_existing_file_with_a_wider_mode_is_replaced_by_a_0600_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    std::fs::write(&path, b"{}").unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    put(&FileCache::new(&path), b"{\"a\": 1}").await;
    assert_eq!(mode(&path), 0o600);
}

#[tokio::test]
async fn a_write_by_another_writer_reads_current() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let a = FileCache::new(&path);
    let b = FileCache::new(&path);
    let first = put(&a, b"{\"v\": 1}").await;
    let second = put(&b, b"{\"v\": 2}").await;
    assert_ne!(first.version, second.version);
    match a.read(&whole(), Some(&first.version), false).await.unwrap() {
        ReadOutcome::Current(s) => assert_eq!(&s.data[..], b"{\"v\": 2}"),
        other => panic!("{other:?}"),
    }
    // A writer that writes in place (as MSAL Python does) is seen too.
    std::fs::write(&path, b"{\"v\": 3}").unwrap();
    match a
        .read(&whole(), Some(&second.version), false)
        .await
        .unwrap()
    {
        ReadOutcome::Current(s) => assert_eq!(&s.data[..], b"{\"v\": 3}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn modify_applies_the_operation_to_the_freshest_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::new(&path);
    let old = put(&cache, b"old").await;
    std::fs::write(&path, b"written by someone else").unwrap();
    let mut seen = Vec::new();
    cache
        .modify(&whole(), &mut |cur: Option<&Snapshot>| {
            let cur = cur.expect("contents");
            assert_ne!(cur.version, old.version);
            seen = cur.data.to_vec();
            let mut data = cur.data.to_vec();
            data.extend_from_slice(b" + mine");
            Ok(Some(Written {
                data,
                expires_in: None,
            }))
        })
        .await
        .unwrap();
    assert_eq!(seen, b"written by someone else");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"written by someone else + mine"
    );
}

#[tokio::test]
async fn a_failing_operation_leaves_the_file_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::new(&path);
    put(&cache, b"{\"last\": \"good\"}").await;
    let before = stat(&path);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let err = cache
        .modify(&whole(), &mut |_: Option<&Snapshot>| {
            Err(Error::new(ErrorKind::Cache, "the operation refused"))
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cache);
    assert!(err.to_string().contains("the operation refused"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"last\": \"good\"}");
    assert_eq!(stat(&path), before, "mtime, inode or size changed");
    assert!(
        !cache.lock_path().exists(),
        "the lock file is left after an error"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn nothing_to_write_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::new(&path);
    // On a missing file: nothing is created, and there is no snapshot.
    let r = cache
        .modify(&whole(), &mut |_: Option<&Snapshot>| Ok(None))
        .await
        .unwrap();
    assert!(r.is_none());
    assert!(!path.exists());
    assert!(!cache.lock_path().exists());
    // On an existing file: untouched, and the snapshot is the current one.
    let written = put(&cache, b"{}").await;
    let before = stat(&path);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let r = cache
        .modify(&whole(), &mut |_: Option<&Snapshot>| Ok(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.version, written.version);
    assert_eq!(&r.data[..], b"{}");
    assert_eq!(stat(&path), before);
    assert!(!cache.lock_path().exists());
}

#[tokio::test]
async fn a_symlinked_cache_path_stays_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let real_dir = dir.path().join("real");
    std::fs::create_dir(&real_dir).unwrap();
    let target = real_dir.join("cache.json");
    std::fs::write(&target, b"{}").unwrap();
    // link2 -> link1 -> real/cache.json, the first one relative.
    let link1 = dir.path().join("link1.json");
    let link2 = dir.path().join("link2.json");
    symlink("real/cache.json", &link1).unwrap();
    symlink(&link1, &link2).unwrap();
    let cache = FileCache::new(&link2);
    put(&cache, b"{\"through\": \"links\"}").await;
    assert!(
        std::fs::symlink_metadata(&link2)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata(&link1)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_link(&link1).unwrap(),
        std::path::Path::new("real/cache.json")
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"{\"through\": \"links\"}");
    assert_eq!(mode(&target), 0o600);
    assert_eq!(&current(&cache).await.data[..], b"{\"through\": \"links\"}");
    // The lock file is next to the path the cache was given (as the other MSALs do).
    assert_eq!(cache.lock_path(), dir.path().join("link2.json.lockfile"));
    assert!(!cache.lock_path().exists());
    // No temporary files left beside the target.
    assert_eq!(std::fs::read_dir(&real_dir).unwrap().count(), 1);
}

#[tokio::test]
async fn a_dangling_symlink_gets_its_target_created() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere").join("cache.json");
    let link = dir.path().join("cache.json");
    symlink(&target, &link).unwrap();
    let cache = FileCache::new(&link);
    assert!(matches!(
        cache.read(&whole(), None, false).await.unwrap(),
        ReadOutcome::Missing
    ));
    put(&cache, b"{}").await;
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"{}");
}

#[tokio::test]
async fn the_version_changes_on_every_write_even_within_one_clock_tick() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::new(&path);
    let reader = FileCache::new(&path);
    let mut versions = Vec::new();
    let mut mtimes = Vec::new();
    let mut known = None;
    for i in 0..50u8 {
        // Same size every time: only the mtime and the inode can tell the writes apart.
        let data = [b'a' + (i % 26); 16];
        let snap = put(&cache, &data).await;
        let (s, ns, _, _) = stat(&path);
        mtimes.push((s, ns));
        match reader.read(&whole(), known.as_ref(), false).await.unwrap() {
            ReadOutcome::Current(r) => assert_eq!(&r.data[..], &data[..], "write {i}"),
            other => panic!("write {i} not seen: {other:?}"),
        }
        known = Some(snap.version.clone());
        versions.push(snap.version);
    }
    let distinct: std::collections::HashSet<_> = versions.iter().collect();
    assert_eq!(distinct.len(), versions.len(), "a version repeated");
    assert!(
        mtimes.windows(2).all(|w| w[1] > w[0]),
        "mtime did not move forward: {mtimes:?}"
    );
}

#[tokio::test]
async fn the_mtime_moves_forward_even_past_a_file_stamped_in_the_future() {
    // Readers reload on a newer mtime; a file from a writer whose clock ran ahead must still
    // be followed by a newer one.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    std::fs::write(&path, b"{}").unwrap();
    let future = std::time::SystemTime::now() + Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(future)
        .unwrap();
    put(&FileCache::new(&path), b"{\"a\": 1}").await;
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert!(mtime > future, "{mtime:?} <= {future:?}");
}

#[tokio::test]
async fn a_same_size_rewrite_in_place_within_one_tick_is_not_missed() {
    // MSAL Python rewrites the file in place (same inode). Two such writes within one
    // timestamp tick, to the same size, leave (mtime, size, inode) as they were: simulate that
    // by putting the mtime back. A version taken that close to the modification must not let
    // the next read call the file unchanged.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::new(&path);
    std::fs::write(&path, b"{\"v\": \"A\"}").unwrap();
    let t = std::time::SystemTime::now();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(t)
        .unwrap();
    let first = current(&cache).await;
    let stamp = stat(&path);
    std::fs::write(&path, b"{\"v\": \"B\"}").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(t)
        .unwrap();
    assert_eq!(
        stat(&path),
        stamp,
        "the simulation did not reproduce the stamp"
    );
    match cache
        .read(&whole(), Some(&first.version), false)
        .await
        .unwrap()
    {
        ReadOutcome::Current(s) => assert_eq!(&s.data[..], b"{\"v\": \"B\"}"),
        other => panic!("the rewrite was missed: {other:?}"),
    }
    // Once the file is older than a tick, its stamp is trusted again.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let settled = current(&cache).await;
    let r = cache
        .read(&whole(), Some(&settled.version), false)
        .await
        .unwrap();
    assert!(matches!(r, ReadOutcome::Unchanged), "{r:?}");
    // And the version of what this process wrote itself is trusted at once.
    let written = put(&cache, b"{\"v\": \"C\"}").await;
    assert_eq!(current(&cache).await.version, written.version);
}

#[tokio::test]
async fn a_consistent_read_waits_for_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let cache = FileCache::new(&path);
    put(&cache, b"{\"v\": 1}").await;
    // Another process (here: a handle) holds the lock, as MSAL Python does while it writes.
    let lock_path = cache.lock_path().to_path_buf();
    let holder = std::fs::File::create_new(&lock_path).unwrap();
    std::io::Write::write_all(
        &mut &holder,
        format!("{} test", std::process::id()).as_bytes(),
    )
    .unwrap();
    holder.lock().unwrap();
    let task = tokio::spawn({
        let cache = cache.clone();
        async move { cache.read(&whole(), None, true).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !task.is_finished(),
        "the consistent read did not wait for the lock"
    );
    // The holder rewrites in place, then releases.
    std::fs::write(&path, b"{\"v\": 2}").unwrap();
    std::fs::remove_file(&lock_path).unwrap();
    holder.unlock().unwrap();
    drop(holder);
    let r = tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        matches!(r, ReadOutcome::Current(ref s) if &s.data[..] == b"{\"v\": 2}"),
        "{r:?}"
    );
    assert!(!lock_path.exists());
    // An unlocked read does not wait.
    let held = std::fs::File::create_new(&lock_path).unwrap();
    held.lock().unwrap();
    let r = tokio::time::timeout(
        Duration::from_millis(500),
        cache.read(&whole(), None, false),
    )
    .await
    .expect("an unlocked read waited")
    .unwrap();
    assert!(matches!(r, ReadOutcome::Current(_)));
}

#[test]
fn debug_shows_the_path_and_settings_only() {
    let cache = FileCache::builder("/tmp/x/cache.json")
        .lock_timeout(Duration::from_secs(3))
        .build();
    let s = format!("{cache:?}");
    assert!(
        s.contains("/tmp/x/cache.json") && s.contains("lock_timeout: 3s"),
        "{s}"
    );
    assert_eq!(
        cache.lock_path(),
        std::path::Path::new("/tmp/x/cache.json.lockfile")
    );
    // A relative path is made absolute.
    let rel = FileCache::new("rel.json");
    assert!(rel.path().is_absolute());
    assert!(rel.lock_path().ends_with("rel.json.lockfile"));
}

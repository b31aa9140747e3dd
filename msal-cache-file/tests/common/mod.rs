//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use msal_cache_file::FileCache;
use msal_core::cache::{CacheStore, PartitionKey, ReadOutcome, Snapshot, Written};

pub fn whole() -> PartitionKey {
    PartitionKey::whole()
}

/// Writes `data` through `modify`; returns the stored snapshot.
pub async fn put(cache: &FileCache, data: &[u8]) -> Snapshot {
    let data = data.to_vec();
    cache
        .modify(&whole(), &mut |_: Option<&Snapshot>| {
            Ok(Some(Written {
                data: data.clone(),
                expires_in: None,
            }))
        })
        .await
        .expect("modify")
        .expect("a snapshot")
}

/// Reads without a known version and expects contents.
pub async fn current(cache: &FileCache) -> Snapshot {
    match cache.read(&whole(), None, false).await.expect("read") {
        ReadOutcome::Current(s) => s,
        other => panic!("expected contents, got {other:?}"),
    }
}

/// (mtime seconds, mtime nanoseconds, inode, size) of `path`.
pub fn stat(path: &Path) -> (i64, i64, u64, u64) {
    let m = std::fs::metadata(path).expect("stat");
    (m.mtime(), m.mtime_nsec(), m.ino(), m.size())
}

pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").mode() & 0o777
}

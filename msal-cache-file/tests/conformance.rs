//! The `CacheStore` contract, checked by msal-core's conformance kit
//! (`msal_core::cache::conformance`): two `FileCache`s over one file in a fresh directory per
//! check. The file-specific behaviour (modes, symlinks, the lock file, in-place writers such as
//! MSAL Python) is in `contract.rs`, `lock.rs` and `multiprocess.rs`.

use async_trait::async_trait;
use msal_cache_file::FileCache;
use msal_core::cache::PartitionKey;
use msal_core::cache::conformance::{self, Backing, Clause, Options, Outcome};
use msal_core::{Error, ErrorKind};

/// A cache file in a temporary directory of its own, removed on drop.
struct CacheFile {
    dir: tempfile::TempDir,
}

impl CacheFile {
    fn new() -> msal_core::Result<CacheFile> {
        let dir = tempfile::tempdir()
            .map_err(|e| Error::with_source(ErrorKind::Cache, "temporary directory", e))?;
        Ok(CacheFile { dir })
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("msal_token_cache.json")
    }
}

#[async_trait]
impl Backing for CacheFile {
    type Store = FileCache;

    async fn open(&self) -> msal_core::Result<FileCache> {
        Ok(FileCache::new(self.path()))
    }

    /// Bytes no MSAL writes, as a damaged disk or another program would leave them.
    async fn write_foreign(&self, _partition: &PartitionKey) -> msal_core::Result<bool> {
        std::fs::write(self.path(), b"\x00\xffnot a token cache\x80")
            .map_err(|e| Error::with_source(ErrorKind::Cache, "writing foreign data", e))?;
        Ok(true)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_cache_conforms() {
    let report = conformance::run(|| async { CacheFile::new() }, &Options::default()).await;
    eprintln!("{report}");
    report.assert_passed();
    // Everything applies to a file but partitioning: it keeps one unit.
    for (clause, outcome) in report.checks() {
        if *clause == Clause::PartitionIsolation {
            assert!(matches!(outcome, Outcome::Skipped(_)), "{outcome:?}");
        } else {
            assert_eq!(*outcome, Outcome::Passed, "{clause}");
        }
    }
}

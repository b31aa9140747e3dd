//! # msal-cache-file: the MSAL token cache in a file, shared with the other MSALs
//!
//! [`FileCache`] is a [`CacheStore`] that keeps the whole token cache in one file in the
//! unified MSAL JSON format, the file MSAL Python (with msal-extensions), MSAL.NET and MSAL Node
//! use. Several processes, in any of those languages, can share it:
//!
//! - **Writers lock** with the MSAL extensions' protocol: `<path>.lockfile` is created
//!   exclusively (`O_CREAT|O_EXCL`) and `flock`ed, so both msal-extensions lock variants (the
//!   default exclusive-create one and the portalocker one) exclude msal-rs and are excluded by
//!   it. Under the lock, msal-rs re-reads the file, lets msal-core apply its operation to those
//!   fresh bytes, and writes the result: no update of another writer is lost.
//! - **Writes are atomic**: a temporary file in the same directory, mode 0600, synced, renamed
//!   over the target (a symlinked cache path stays a symlink; its target is replaced), then the
//!   directory is synced. A reader sees the old file or the new one, never half of one.
//! - **Reads take no lock**. The version is the file's (modification time, size, inode); a
//!   read that finds the version the cache holds reads nothing. A file that fails to parse
//!   (MSAL Python writes in place, so an unlocked reader can catch it half-written) is read
//!   again under the lock before msal-core calls it corrupt, and a corrupt file is never
//!   overwritten with less than what it held. A file modified less than a timestamp tick
//!   (100 ms; 2 s on file systems that keep whole seconds) before it was read gets a version
//!   that no later read can equal, as git does with "racily clean" files: an in-place rewrite
//!   to the same size within the same tick would otherwise go unnoticed.
//! - **Stale locks are recovered**: a lock file whose holder process has exited (its pid is
//!   not in `/proc`), or that is older than the stale age (30 s by default), is removed, unless
//!   it is `flock`ed (its holder is then alive). See [`FileCacheBuilder`] for the timings.
//!
//! ## What may be at the cache path
//!
//! - **Only a regular file** (or nothing yet). A FIFO, a device, a socket or a directory at
//!   the cache path (or at the lock path) fails every read and write with an
//!   [`ErrorKind::Cache`] error saying what was found: a FIFO would block a read forever and a
//!   device such as `/dev/zero` never ends. The file is opened with `O_NONBLOCK` (a FIFO's open
//!   then returns at once) and its type is checked on the opened handle (`fstat`), so it cannot
//!   be swapped between the check and the read.
//! - **Symbolic links are followed** when they lead to a regular file (or to a missing file,
//!   which the first write creates); a write replaces the link's target and leaves the link.
//!   msal-extensions opens the cache path with Python's `open()`, which follows links, and
//!   MSAL.NET and MSAL Node do the same, so a cache file linked into a shared location keeps
//!   working with every MSAL. Refusing links would add no protection here: whoever can plant a
//!   link in the cache's directory can replace the cache file itself.
//! - **At most 64 MiB** by default ([`FileCacheBuilder::max_file_size`]): a larger file is an
//!   error and is left as it is; no more than the limit and one byte is ever read.
//!
//! Every call is bounded in time ([`FileCacheBuilder::deadline`], 30 s by default), the wait
//! for the lock included, as a Redis store's calls are by its deadline.
//!
//! ## Stale locks: what remains racy
//!
//! The check and the removal hold the stale file's `flock` and remove it only if the path
//! still names the same inode, so two msal-rs processes cannot both remove it, nor remove a
//! fresh lock file that replaced it. Three cases are left, all needing a lock file that outlived
//! its holder or a holder that keeps the lock far longer than a cache write takes:
//!
//! - A holder that does not `flock` (msal-extensions' default lock) and runs in another pid
//!   namespace (a container sharing the cache directory) looks dead and loses its lock.
//! - A holder that does not `flock` and keeps the lock longer than the stale age loses it.
//! - A portalocker-variant Python process that gave up on the exclusive create (after 5 s)
//!   and `flock`s whatever file it opened is not excluded once that file is unlinked; that is
//!   a limit of that variant with every peer, not only with msal-rs.
//!
//! Python's lock polls every 250 ms, msal-rs's every 2-50 ms: under sustained contention from
//! msal-rs writers a Python writer can starve (its default lock then fails after 5 s).
//!
//! The cache file's modification time always moves forward on a write (readers of the other
//! MSALs reload on a newer modification time), and the file is created with mode 0600 in a
//! directory created with mode 0700 if it is missing.
//!
//! This crate is for Unix (it uses `flock`, inode numbers and file modes) and needs a Tokio
//! runtime: file I/O runs on Tokio's blocking pool, waits for the lock are Tokio sleeps.
//!
//! ## Example
//!
//! Normally the cache is handed to msal-core (`TokenCache::with_store(FileCache::new(path))`),
//! which reads and writes it through the [`CacheStore`] trait. Used directly:
//!
//! ```
//! use std::time::Duration;
//! use msal_cache_file::FileCache;
//! use msal_core::cache::{CacheStore, PartitionKey, ReadOutcome, Snapshot, Written};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> msal_core::Result<()> {
//! let dir = std::env::temp_dir().join(format!("msal-cache-file-doc-{}", std::process::id()));
//! let path = dir.join("msal_token_cache.json");
//! let cache = FileCache::builder(&path)
//!     .lock_timeout(Duration::from_secs(5))
//!     .build();
//! let whole = PartitionKey::whole(); // a file is one partition
//!
//! // Nothing yet, and reading creates nothing.
//! assert!(matches!(cache.read(&whole, None, false).await?, ReadOutcome::Missing));
//!
//! // Write under the lock: the operation sees the current contents (none here).
//! let stored = cache
//!     .modify(&whole, &mut |current: Option<&Snapshot>| {
//!         assert!(current.is_none());
//!         Ok(Some(Written { data: br#"{"AccessToken": {}}"#.to_vec(), expires_in: None }))
//!     })
//!     .await?
//!     .expect("written");
//!
//! // A reader that knows this version is told it is unchanged, without reading the file.
//! let again = cache.read(&whole, Some(&stored.version), false).await?;
//! assert!(matches!(again, ReadOutcome::Unchanged));
//! let ReadOutcome::Current(now) = cache.read(&whole, None, false).await? else { panic!() };
//! assert_eq!(&now.data[..], br#"{"AccessToken": {}}"#);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```

#![cfg(unix)]

mod fsio;
mod lock;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use msal_core::cache::{CacheStore, Modify, PartitionKey, ReadOutcome, Snapshot, Version};
use msal_core::{Error, ErrorKind, Result};

use crate::fsio::ReadState;
use crate::lock::{Attempt, LockGuard};

/// How often an unlocked read that caught the file changing under it reads again.
const READ_ATTEMPTS: u32 = 5;
/// The first wait between lock attempts; it doubles up to the retry interval.
const FIRST_BACKOFF: Duration = Duration::from_millis(2);
/// The default bound of one store call (see [`FileCacheBuilder::deadline`]).
const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// The token cache in one file, shared with other processes and the other MSALs.
///
/// Cheap to clone (clones share their settings). `Debug` shows the path and settings, never
/// contents. See the [crate documentation](crate) for the protocol.
#[derive(Clone)]
pub struct FileCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    lock_path: PathBuf,
    retry_interval: Duration,
    lock_timeout: Duration,
    stale_lock_age: Duration,
    max_file_size: u64,
    deadline: Duration,
    /// Blocking file operations of this cache that have not returned (see [`blocking`]).
    in_flight: Arc<AtomicUsize>,
    /// The stamp of the file this process last wrote (see [`fsio::read_once`]).
    written: std::sync::Mutex<Option<fsio::Stamp>>,
}

impl fmt::Debug for FileCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileCache")
            .field("path", &self.inner.path)
            .field("lock_path", &self.inner.lock_path)
            .field("retry_interval", &self.inner.retry_interval)
            .field("lock_timeout", &self.inner.lock_timeout)
            .field("stale_lock_age", &self.inner.stale_lock_age)
            .field("max_file_size", &self.inner.max_file_size)
            .field("deadline", &self.inner.deadline)
            .finish()
    }
}

impl FileCache {
    /// A cache in the file at `path`, with the default settings (see [`FileCacheBuilder`]).
    ///
    /// Nothing is touched until the first read or write. A relative path is made absolute
    /// against the current directory now, so a later change of directory does not move the
    /// cache.
    pub fn new(path: impl AsRef<Path>) -> FileCache {
        FileCache::builder(path).build()
    }

    /// A builder for a cache in the file at `path`, to change the lock timings, the size limit
    /// and the deadline of a call.
    pub fn builder(path: impl AsRef<Path>) -> FileCacheBuilder {
        let path = path.as_ref();
        FileCacheBuilder {
            path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
            retry_interval: Duration::from_millis(50),
            lock_timeout: Duration::from_secs(10),
            stale_lock_age: Duration::from_secs(30),
            max_file_size: fsio::DEFAULT_MAX_FILE_SIZE,
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// The cache file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The lock file's path: the cache file's path followed by `.lockfile`.
    pub fn lock_path(&self) -> &Path {
        &self.inner.lock_path
    }

    /// Takes the lock: exclusive create and flock, retried with a growing, jittered backoff
    /// until the lock timeout; stale lock files are removed on the way.
    async fn lock(&self) -> Result<LockGuard> {
        let inner = &self.inner;
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF.min(inner.retry_interval);
        let mut recoveries = 0u32;
        loop {
            let lock_path = inner.lock_path.clone();
            let stale_age = inner.stale_lock_age;
            let attempt = blocking(&inner.in_flight, move || {
                lock::try_acquire(&lock_path, stale_age)
            })
            .await
            .map_err(|e| {
                cache_error(
                    format!(
                        "could not take the cache lock {}",
                        inner.lock_path.display()
                    ),
                    e,
                )
            })?;
            match attempt {
                Attempt::Acquired(guard) => {
                    let waited = started.elapsed();
                    if waited > Duration::from_secs(1) {
                        tracing::debug!(?waited, "took the token cache lock after a wait");
                    }
                    return Ok(guard);
                }
                // Try again at once after removing a stale lock file, but not forever.
                Attempt::Recovered if recoveries < 3 => {
                    recoveries += 1;
                    continue;
                }
                Attempt::Recovered | Attempt::Busy => recoveries = 0,
            }
            let elapsed = started.elapsed();
            if elapsed >= inner.lock_timeout {
                return Err(Error::new(
                    ErrorKind::Cache,
                    format!(
                        "timed out waiting for the cache lock {} (waited {} ms)",
                        inner.lock_path.display(),
                        elapsed.as_millis()
                    ),
                ));
            }
            let jittered = backoff.mul_f64(0.5 + fastrand::f64());
            tokio::time::sleep(jittered.min(inner.lock_timeout - elapsed)).await;
            backoff = (backoff * 2).min(inner.retry_interval);
        }
    }

    /// Reads the file without the lock, again (a few times) when it changed while being read.
    async fn read_file(&self, known: Option<&Version>) -> Result<ReadState> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let path = self.inner.path.clone();
            let known_owned = known.cloned();
            let trusted = *lock_ignoring_poison(&self.inner.written);
            let max_size = self.inner.max_file_size;
            let state = blocking(&self.inner.in_flight, move || {
                fsio::read_once(&path, known_owned.as_ref(), trusted, max_size)
            })
            .await
            .map_err(|e| {
                cache_error(
                    format!(
                        "could not read the token cache file {}",
                        self.inner.path.display()
                    ),
                    e,
                )
            })?;
            match state {
                ReadState::Read(c) if !c.stable && attempt < READ_ATTEMPTS => {
                    tracing::debug!(attempt, "the token cache file changed while being read");
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                }
                other => return Ok(other),
            }
        }
    }
}

/// Settings of a [`FileCache`]: how it waits for the lock, when a lock file is stale, the
/// largest file it reads and how long one call may take.
///
/// ```
/// # use std::time::Duration;
/// let cache = msal_cache_file::FileCache::builder("/tmp/msal_token_cache.json")
///     .lock_retry_interval(Duration::from_millis(20))
///     .lock_timeout(Duration::from_secs(3))
///     .stale_lock_age(Duration::from_secs(60))
///     .max_file_size(16 * 1024 * 1024)
///     .deadline(Duration::from_secs(20))
///     .build();
/// assert!(cache.lock_path().ends_with("msal_token_cache.json.lockfile"));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct FileCacheBuilder {
    path: PathBuf,
    retry_interval: Duration,
    lock_timeout: Duration,
    stale_lock_age: Duration,
    max_file_size: u64,
    deadline: Duration,
}

impl FileCacheBuilder {
    /// The longest wait between two attempts to take the lock (default 50 ms). Waits start at
    /// 2 ms and double up to this, each with ±50 % jitter. Kept within 1 ms to 60 s.
    pub fn lock_retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// How long a write (or a consistent read) waits for the lock before it fails with an
    /// [`ErrorKind::Cache`] error "timed out waiting for the cache lock …" (default 10 s).
    /// msal-core then keeps the change in memory and goes on.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The age after which a lock file is considered abandoned even though its holder process
    /// seems to exist (default 30 s). A lock file whose holder process has exited is removed
    /// at once, whatever its age; one that is still `flock`ed is never removed.
    ///
    /// Lower values recover sooner from a lock file left behind by a process whose id was
    /// reused; they must stay well above the time any writer holds the lock, or a live holder
    /// that does not `flock` (msal-extensions' default lock) could lose its lock.
    pub fn stale_lock_age(mut self, age: Duration) -> Self {
        self.stale_lock_age = age;
        self
    }

    /// The largest cache file read (default 64 MiB). A larger file fails every read and write
    /// with an [`ErrorKind::Cache`] error and is left as it is (it is never overwritten with
    /// less than it held); at most this many bytes and one more are read to tell.
    ///
    /// A token cache holds a few kilobytes per account and resource; the limit is only there
    /// so that a file that grows without end (or a link to one) cannot exhaust memory.
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// The longest one call of the store (a read, or a whole read-modify-write with its wait
    /// for the lock) may take (default 30 s); a call that takes longer fails with an
    /// [`ErrorKind::Cache`] error "… did not finish within …", as a Redis store's calls do
    /// past their deadline. msal-core then goes on with what it holds in memory.
    ///
    /// This bounds calls on a file system that stops answering (a hung network mount). The
    /// blocking system call itself cannot be interrupted: it goes on in the background (a write
    /// keeps the lock until it returns and may still complete), and while 256 such operations
    /// of one cache have not returned, further calls fail at once instead of tying up more of
    /// Tokio's blocking threads. Keep it above the lock timeout, or a wait for the lock ends at
    /// the deadline instead.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The cache.
    pub fn build(self) -> FileCache {
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lockfile");
        FileCache {
            inner: Arc::new(Inner {
                path: self.path,
                lock_path: PathBuf::from(lock_path),
                retry_interval: self
                    .retry_interval
                    .clamp(Duration::from_millis(1), Duration::from_secs(60)),
                lock_timeout: self.lock_timeout,
                stale_lock_age: self.stale_lock_age,
                max_file_size: self.max_file_size,
                deadline: self.deadline,
                in_flight: Arc::new(AtomicUsize::new(0)),
                written: std::sync::Mutex::new(None),
            }),
        }
    }
}

#[async_trait]
impl CacheStore for FileCache {
    /// Reads the file, unless its (modification time, size, inode) is still `known`. Without
    /// `consistent` no lock is taken; a read that caught the file changing is retried a few
    /// times. With `consistent` the read happens under the lock, so it cannot see a writer
    /// (MSAL Python writes in place) half-way. Never creates the file or its directory.
    ///
    /// Bounded by the deadline (see [`FileCacheBuilder::deadline`]).
    async fn read(
        &self,
        _partition: &PartitionKey,
        known: Option<&Version>,
        consistent: bool,
    ) -> Result<ReadOutcome> {
        self.bounded("read", self.read_inner(known, consistent))
            .await
    }

    /// Under the lock: reads the file, applies `modify` to it once, and replaces the file
    /// atomically with the result. When `modify` fails or has nothing to write, the file is
    /// left as it was (byte for byte, modification time included). Bounded by the deadline
    /// (see [`FileCacheBuilder::deadline`]).
    async fn modify(
        &self,
        _partition: &PartitionKey,
        modify: &mut Modify<'_>,
    ) -> Result<Option<Snapshot>> {
        self.bounded("write", self.modify_inner(modify)).await
    }

    /// False: everything lives in one file.
    fn is_partitioned(&self) -> bool {
        false
    }
}

impl FileCache {
    /// Runs one store call within the deadline.
    async fn bounded<T>(&self, what: &str, call: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.inner.deadline, call).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::Cache,
                format!(
                    "the token cache file {what} of {} did not finish within {} ms",
                    self.inner.path.display(),
                    self.inner.deadline.as_millis()
                ),
            )),
        }
    }

    async fn read_inner(&self, known: Option<&Version>, consistent: bool) -> Result<ReadOutcome> {
        let _guard = if consistent {
            // A missing file is missing whoever writes (an in-place writer truncates, a renaming
            // writer swaps): no need for the lock, whose file would need the directory.
            let path = self.inner.path.clone();
            let exists = blocking(&self.inner.in_flight, move || {
                match std::fs::metadata(&path) {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(|e| {
                cache_error(
                    format!(
                        "could not read the token cache file {}",
                        self.inner.path.display()
                    ),
                    e,
                )
            })?;
            if !exists {
                return Ok(ReadOutcome::Missing);
            }
            Some(self.lock().await?)
        } else {
            None
        };
        Ok(match self.read_file(known).await? {
            ReadState::Missing => ReadOutcome::Missing,
            ReadState::Unchanged => ReadOutcome::Unchanged,
            ReadState::Read(c) => ReadOutcome::Current(c.into_snapshot().0),
        })
    }

    async fn modify_inner(&self, modify: &mut Modify<'_>) -> Result<Option<Snapshot>> {
        let guard = self.lock().await?;
        let current = match self.read_file(None).await? {
            ReadState::Missing | ReadState::Unchanged => None,
            ReadState::Read(c) => Some(c.into_snapshot()),
        };
        // The operation runs here, on the async side (it borrows the caller's state); an error
        // or nothing to write drops the guard, which releases the lock, and writes nothing.
        let written = match modify(current.as_ref().map(|(snap, _)| snap))? {
            Some(w) => w,
            None => return Ok(current.map(|(snap, _)| snap)),
        };
        let previous = current.and_then(|(_, stamp)| stamp.mtime());
        let path = self.inner.path.clone();
        // The guard moves into the blocking task: if this future is dropped mid-write, the
        // lock is still held until the write has finished.
        let (snap, stamp) = blocking(&self.inner.in_flight, move || {
            let result = fsio::write_atomic(&path, written.data, previous);
            drop(guard);
            result
        })
        .await
        .map_err(|e| {
            cache_error(
                format!(
                    "could not write the token cache file {}",
                    self.inner.path.display()
                ),
                e,
            )
        })?;
        *lock_ignoring_poison(&self.inner.written) = Some(stamp);
        Ok(Some(snap))
    }
}

/// How many blocking file operations of one cache may be outstanding (still running after
/// their call gave up at the deadline, or simply concurrent) before further calls fail at once.
/// A file system that stops answering then ties up this many of Tokio's blocking threads, not
/// all of them.
const MAX_STUCK: usize = 256;

/// Decrements the count of outstanding operations when the blocking work ends (even if the
/// call that started it has given up).
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs blocking file work on Tokio's blocking pool, unless too many operations of this cache
/// are outstanding.
async fn blocking<T, F>(in_flight: &Arc<AtomicUsize>, f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    if in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_STUCK {
        in_flight.fetch_sub(1, Ordering::AcqRel);
        return Err(io::Error::other(format!(
            "{MAX_STUCK} earlier operations on the file have not returned (the file system does not answer)"
        )));
    }
    let token = InFlight(Arc::clone(in_flight));
    tokio::task::spawn_blocking(move || {
        let _token = token;
        f()
    })
    .await
    .map_err(io::Error::other)?
}

fn lock_ignoring_poison<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A typed cache error; the I/O error's text is part of the message (a path that is not a
/// regular file, a file over the size limit) and the I/O error is its source.
fn cache_error(message: String, source: io::Error) -> Error {
    Error::with_source(ErrorKind::Cache, format!("{message}: {source}"), source)
}

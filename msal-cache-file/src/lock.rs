//! The `<path>.lockfile` protocol of the MSAL extensions (Python, .NET, Node).
//!
//! Acquire: create the lock file exclusively (`O_CREAT|O_EXCL`: what msal-extensions' default
//! `filelock.CrossPlatLock` relies on), write `"{pid} {exe}"`, then take `flock(LOCK_EX|LOCK_NB)`
//! on it (what the portalocker variant relies on), and check that the path still names the file
//! that was locked. Release: unlink (if the path still names our file), then unlock and close.
//!
//! Everything here is synchronous and quick (a few system calls); the caller runs it on
//! tokio's blocking pool and sleeps between attempts on the async side.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::fsio;

/// An acquired lock: the lock file, created by us and flocked. Dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct LockGuard {
    file: Option<File>,
    path: PathBuf,
    id: (u64, u64),
}

impl LockGuard {
    /// Unlinks the lock file if the path still names our file, then unlocks and closes it.
    ///
    /// Unlinking while the flock is still held means that no other msal-rs process can lock
    /// this file and then see it named by the path: a process that was waiting on it finds it
    /// gone when it checks the path, and starts over.
    fn release(&mut self) {
        let Some(file) = self.file.take() else {
            return;
        };
        match fs::symlink_metadata(&self.path) {
            Ok(m) if (m.dev(), m.ino()) == self.id => {
                if let Err(e) = fs::remove_file(&self.path)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %self.path.display(), error = %e, "could not remove the cache lock file");
                }
            }
            Ok(_) => tracing::warn!(
                path = %self.path.display(),
                "the cache lock file was replaced by another process while this one held it"
            ),
            Err(_) => {}
        }
        let _ = file.unlock();
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.release();
    }
}

/// The result of one acquisition attempt.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The lock is ours.
    Acquired(LockGuard),
    /// Another process holds it.
    Busy,
    /// A stale lock file was removed: try again at once.
    Recovered,
}

fn same_file(path: &Path, id: (u64, u64)) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == id)
}

/// One attempt to take the lock at `lock_path`.
pub(crate) fn try_acquire(lock_path: &Path, stale_age: Duration) -> io::Result<Attempt> {
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(lock_path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return check_stale(lock_path, stale_age);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // The cache's directory does not exist yet.
            fsio::ensure_dir(fsio::parent_dir(lock_path))?;
            return Ok(Attempt::Recovered);
        }
        Err(e) => return Err(e),
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            let _ = fs::remove_file(lock_path);
            return Err(e);
        }
    };
    let mut guard = LockGuard {
        file: None,
        path: lock_path.to_path_buf(),
        id: (meta.dev(), meta.ino()),
    };
    // Informative only, as in the other MSALs: who holds the lock.
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if let Err(e) = write!(file, "{} {}", std::process::id(), exe) {
        tracing::debug!(error = %e, "could not write the cache lock file's holder");
    }
    match file.try_lock() {
        Ok(()) => {
            if same_file(lock_path, guard.id) {
                guard.file = Some(file);
                Ok(Attempt::Acquired(guard))
            } else {
                // Judged stale and removed by someone between our create and our flock: it is
                // no longer the lock (and the path is not ours to unlink).
                drop(file);
                Ok(Attempt::Busy)
            }
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            // A portalocker-style process that gave up on the exclusive create opened our new
            // file and locked it first: the file is now its lock, and it removes it when done.
            // Leave it in place (no unlink) and wait.
            drop(file);
            Ok(Attempt::Busy)
        }
        Err(std::fs::TryLockError::Error(e)) => {
            // Without the flock the lock would not exclude portalocker users: give it back.
            guard.file = Some(file);
            drop(guard);
            Err(e)
        }
    }
}

/// Whether process `pid` exists: `Some` only where that can be told (Linux's /proc).
fn process_exists(pid: u32) -> Option<bool> {
    if pid == 0 || !Path::new("/proc/self").exists() {
        return None;
    }
    Some(Path::new("/proc").join(pid.to_string()).exists())
}

/// Looks at an existing lock file; removes it if it is stale. A lock file that cannot be judged
/// is treated as held; only something that is not a regular file at the lock path is an error.
fn check_stale(lock_path: &Path, stale_age: Duration) -> io::Result<Attempt> {
    // Opened without blocking (a FIFO at the lock path would block a plain open forever).
    let (mut file, meta) = match fsio::open_regular(lock_path, "token cache lock file") {
        Ok(f) => f,
        // Released between our create and this open.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Attempt::Recovered),
        // Not a lock file any peer could have made: waiting would never end.
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => return Err(e),
        Err(_) => return Ok(Attempt::Busy),
    };
    let id = (meta.dev(), meta.ino());
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default();
    let mut holder = String::new();
    let _ = (&mut file).take(4096).read_to_string(&mut holder);
    let pid = holder
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<u32>().ok());
    let reason = match pid.map(|p| (p, process_exists(p))) {
        Some((p, Some(false))) => format!("its holder (process {p}) has exited"),
        _ if age > stale_age => format!("it is {} s old", age.as_secs()),
        _ => return Ok(Attempt::Busy),
    };
    // A holder that flocks (msal-rs, portalocker) is alive as long as its lock is held.
    match file.try_lock() {
        Ok(()) => {}
        Err(_) => return Ok(Attempt::Busy),
    }
    // Holding the flock on the stale file, remove it only if the path still names it: no
    // msal-rs process can remove or replace it meanwhile (it would need this flock).
    if same_file(lock_path, id) {
        match fs::remove_file(lock_path) {
            Ok(()) => tracing::warn!(
                path = %lock_path.display(),
                "removed a stale token cache lock file: {reason}"
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::debug!(path = %lock_path.display(), error = %e, "could not remove a stale cache lock file");
                let _ = file.unlock();
                return Ok(Attempt::Busy);
            }
        }
    }
    let _ = file.unlock();
    Ok(Attempt::Recovered)
}

//! Blocking file operations: stamps (versions), reads, and the atomic write.
//!
//! Everything here is synchronous and runs on tokio's blocking pool.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use msal_core::cache::{Snapshot, Version};

/// What identifies one state of the cache file: modification time, size and identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    mtime_sec: i64,
    mtime_nsec: i64,
    size: u64,
    ino: u64,
    dev: u64,
}

impl Stamp {
    pub(crate) fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            mtime_sec: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            size: meta.size(),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }

    /// The version msal-core sees: the stamp's fields, big-endian, 40 bytes.
    pub(crate) fn version(&self) -> Version {
        let mut b = Vec::with_capacity(40);
        b.extend_from_slice(&self.mtime_sec.to_be_bytes());
        b.extend_from_slice(&self.mtime_nsec.to_be_bytes());
        b.extend_from_slice(&self.size.to_be_bytes());
        b.extend_from_slice(&self.ino.to_be_bytes());
        b.extend_from_slice(&self.dev.to_be_bytes());
        Version::new(b)
    }

    /// The modification time as a `SystemTime` (`None` if it is not representable).
    pub(crate) fn mtime(&self) -> Option<SystemTime> {
        let nsec = u32::try_from(self.mtime_nsec).ok()?;
        if self.mtime_sec >= 0 {
            UNIX_EPOCH.checked_add(Duration::new(u64::try_from(self.mtime_sec).ok()?, nsec))
        } else {
            UNIX_EPOCH
                .checked_sub(Duration::from_secs(self.mtime_sec.unsigned_abs()))?
                .checked_add(Duration::from_nanos(u64::from(nsec)))
        }
    }
}

/// How recent a modification time must be for its stamp not to be trusted (see
/// [`Contents::racy`]): file systems stamp from a clock with a coarse tick (a few ms on Linux).
const RACY_WINDOW: Duration = Duration::from_millis(100);
/// The same for a file system that keeps whole seconds (nanoseconds always 0).
const RACY_WINDOW_COARSE: Duration = Duration::from_secs(2);

/// The file's contents with the stamp they were read at.
#[derive(Debug)]
pub(crate) struct Contents {
    pub(crate) data: Vec<u8>,
    pub(crate) stamp: Stamp,
    /// False when the file changed while it was read (a writer that writes in place, as
    /// MSAL Python does, was half-way): the bytes may be a mix of two states.
    pub(crate) stable: bool,
    /// True when the file was modified within a timestamp tick of the read. A writer that
    /// rewrites the file in place (same inode) within that tick, to the same size, would leave
    /// the stamp as it is: as in git's "racily clean" index entries, such a stamp is not
    /// trusted, and the version handed out is one no later stamp can equal, so the next read
    /// reads the bytes again.
    pub(crate) racy: bool,
}

impl Contents {
    pub(crate) fn into_snapshot(self) -> (Snapshot, Stamp) {
        let version = if self.racy {
            let mut b = self.stamp.version().as_bytes().to_vec();
            b.extend_from_slice(b"racy");
            b.extend_from_slice(&fastrand::u64(..).to_be_bytes());
            Version::new(b)
        } else {
            self.stamp.version()
        };
        (
            Snapshot {
                data: Arc::from(self.data),
                version,
            },
            self.stamp,
        )
    }
}

/// Whether a stamp taken at `now` (or later) is too close to its modification time to be
/// trusted.
fn is_racy(stamp: &Stamp, now: SystemTime) -> bool {
    let window = if stamp.mtime_nsec == 0 {
        RACY_WINDOW_COARSE
    } else {
        RACY_WINDOW
    };
    match stamp.mtime() {
        Some(m) => now.duration_since(m).map_or(true, |age| age < window),
        None => true,
    }
}

/// The answer of one read attempt.
#[derive(Debug)]
pub(crate) enum ReadState {
    Missing,
    Unchanged,
    Read(Contents),
}

/// The largest cache file read by default (see `FileCacheBuilder::max_file_size`).
pub(crate) const DEFAULT_MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// What a file that is not a regular file is, for error messages.
fn kind_of(file_type: fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Refuses anything but a regular file: a FIFO would block a read (or an open) forever, a
/// device such as `/dev/zero` never ends, a directory is no cache.
pub(crate) fn ensure_regular(meta: &fs::Metadata, what: &str) -> io::Result<()> {
    if meta.file_type().is_file() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "the {what} is {}, not a regular file",
            kind_of(meta.file_type())
        ),
    ))
}

/// Opens `path` (following symlinks) for reading without blocking and checks, on the opened
/// handle, that it is a regular file.
///
/// `O_NONBLOCK` makes the open of a FIFO return at once instead of waiting for a writer, and
/// `O_NOCTTY` keeps a terminal from becoming the process's controlling terminal; the type is
/// then checked with `fstat` on the handle itself, so the path cannot be swapped between the
/// check and the open. On a regular file `O_NONBLOCK` changes nothing.
pub(crate) fn open_regular(path: &Path, what: &str) -> io::Result<(File, fs::Metadata)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    ensure_regular(&meta, what)?;
    Ok((file, meta))
}

fn too_large(max_size: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the file is larger than the limit of {max_size} bytes (FileCacheBuilder::max_file_size); it was left as it is"
        ),
    )
}

/// Reads the file at `path` (following symlinks) unless its stamp's version is `known`.
/// Never creates anything. Anything but a regular file is refused, and so is a file larger
/// than `max_size` bytes (at most `max_size + 1` bytes are read to tell).
///
/// `trusted` is the stamp of the last file this process wrote: its modification time was set
/// by us to the nanosecond, which no in-place rewrite reproduces, so it is never racy.
pub(crate) fn read_once(
    path: &Path,
    known: Option<&Version>,
    trusted: Option<Stamp>,
    max_size: u64,
) -> io::Result<ReadState> {
    // Taken before the stat, so that "modified within the window before the read" errs on
    // the side of distrust.
    let now = SystemTime::now();
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ReadState::Missing),
        Err(e) => return Err(e),
    };
    // Refused before opening: opening a device can have effects of its own.
    ensure_regular(&meta, "token cache file")?;
    if known.is_some_and(|k| *k == Stamp::of(&meta).version()) {
        return Ok(ReadState::Unchanged);
    }
    // Checked again on the handle: the path may have been replaced since the stat.
    let (file, opened) = match open_regular(path, "token cache file") {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ReadState::Missing),
        Err(e) => return Err(e),
    };
    let before = Stamp::of(&opened);
    if known.is_some_and(|k| *k == before.version()) {
        return Ok(ReadState::Unchanged);
    }
    if before.size > max_size {
        return Err(too_large(max_size));
    }
    // The size is only a hint (a file can be sparse, or change): never reserve more than the
    // default limit up front.
    let hint = before.size.min(DEFAULT_MAX_FILE_SIZE);
    let mut data = Vec::with_capacity(usize::try_from(hint).unwrap_or(0).saturating_add(1));
    // One byte more than the limit tells a file that grew past it while being read.
    (&file)
        .take(max_size.saturating_add(1))
        .read_to_end(&mut data)?;
    if data.len() as u64 > max_size {
        return Err(too_large(max_size));
    }
    let after = Stamp::of(&file.metadata()?);
    let stable = before == after && data.len() as u64 == after.size;
    Ok(ReadState::Read(Contents {
        data,
        stamp: after,
        stable,
        racy: trusted != Some(after) && is_racy(&after, now),
    }))
}

/// Follows `path` through symbolic links to the file that holds the data (which may not exist
/// yet), so that writing replaces the target and leaves the links as they are.
pub(crate) fn resolve_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p)?;
                p = if target.is_absolute() {
                    target
                } else {
                    p.parent().unwrap_or(Path::new("")).join(target)
                };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// The directory holding `file` ("." for a bare file name).
pub(crate) fn parent_dir(file: &Path) -> &Path {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Creates `dir` and its missing ancestors with mode 0700 (a token cache is private).
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new().recursive(true).mode(0o700).create(dir)
        }
        Err(e) => Err(e),
    }
}

/// Removes the temporary file unless the write got as far as the rename.
struct TempFile<'a> {
    path: &'a Path,
    armed: bool,
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(self.path);
        }
    }
}

/// Replaces the file at `path` (through symlinks) with `data`, atomically: a temporary file in
/// the target's directory, mode 0600, written, synced, stamped with a modification time later
/// than `previous` (the replaced file's) and not earlier than the wall clock, renamed over the
/// target; then the directory is synced. Returns the new contents' snapshot.
pub(crate) fn write_atomic(
    path: &Path,
    data: Vec<u8>,
    previous: Option<SystemTime>,
) -> io::Result<(Snapshot, Stamp)> {
    let target = resolve_symlinks(path)?;
    let dir = parent_dir(&target);
    ensure_dir(dir)?;
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.{:016x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ));
    let tmp = dir.join(tmp_name);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let mut guard = TempFile {
        path: &tmp,
        armed: true,
    };
    file.write_all(&data)?;
    file.sync_all()?;
    // Readers (MSAL Python among them) reload when the modification time is newer than the
    // time they last loaded. The kernel stamps files from a coarse clock that can lag the wall
    // clock by a tick, and two writes in one tick would get equal times: set the time
    // explicitly, from the wall clock, strictly after the previous one, and just before the
    // rename (after the sync, so a reader cannot load the old file after this time is taken
    // and before the new file is in place, except for the few microseconds to the rename).
    let now = SystemTime::now();
    let mtime = match previous.and_then(|p| p.checked_add(Duration::from_micros(1))) {
        Some(floor) if floor > now => floor,
        _ => now,
    };
    file.set_modified(mtime)?;
    let stamp = Stamp::of(&file.metadata()?);
    drop(file);
    fs::rename(&tmp, &target)?;
    guard.armed = false;
    // Make the rename durable. Some file systems refuse to sync a directory; the data is
    // already in place, so that is not an error.
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(error = %e, "could not sync the token cache directory");
    }
    Ok((
        Snapshot {
            data: Arc::from(data),
            version: stamp.version(),
        },
        stamp,
    ))
}

//! What the peers' sides share: running a peer's harness script as a child process with a job
//! on stdin (bounded in time), a long-running peer (a server) that dies with the suite,
//! trimming output for a report, and a per-case scratch directory.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How long one peer job may take.
pub(crate) const JOB_TIMEOUT: Duration = Duration::from_secs(120);

/// The last 2,000 bytes of `s` (on a character boundary), for a failure report.
pub(crate) fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(2000);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    &s[start..]
}

/// Runs `cmd` (the peer `peer`'s interpreter and script, with its environment set) with `input`
/// on stdin; stdout and stderr are drained on threads so a large cache cannot block the child;
/// the child is killed after [`JOB_TIMEOUT`]. Returns stdout and stderr of a successful run.
pub(crate) fn run_job(
    mut cmd: Command,
    peer: &str,
    input: &[u8],
) -> anyhow::Result<(String, String)> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {peer}"))?;
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().context("no stdout pipe")?));
    let err = drain(Box::new(child.stderr.take().context("no stderr pipe")?));
    {
        let mut stdin = child.stdin.take().context("no stdin pipe")?;
        stdin.write_all(input).context("writing the job")?;
    }
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if started.elapsed() > JOB_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{peer}'s job took longer than {JOB_TIMEOUT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        bail!("{peer} exited with {status}; stderr: {}", tail(&stderr));
    }
    Ok((stdout, stderr))
}

/// The case's directory under `group` in the test's scratch directory, emptied.
pub(crate) fn case_dir(group: &str, name: &str) -> anyhow::Result<PathBuf> {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(safe);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("emptying {}", dir.display())),
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A long-running peer (a server) started by the suite: killed when dropped. The child gets a
/// pipe as stdin that this end holds open, so a peer that exits when its stdin closes also
/// goes when the harness itself dies without running destructors.
pub(crate) struct Daemon {
    child: std::process::Child,
    /// Held open until drop (see above).
    _stdin: std::process::ChildStdin,
    /// What the child wrote to stderr so far (drained on a thread).
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Daemon {
    /// Starts `cmd` and waits at most `deadline` for its first line on stdout (the peer says
    /// where it listens); the rest of stdout is discarded, stderr is kept for reports.
    pub(crate) fn start(
        mut cmd: Command,
        peer: &str,
        deadline: Duration,
    ) -> anyhow::Result<(Daemon, String)> {
        use std::io::BufRead as _;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {peer}"))?;
        let stdin = child.stdin.take().context("no stdin pipe")?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let mut stderr_pipe = child.stderr.take().context("no stderr pipe")?;
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = std::sync::Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&text);
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep reading so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let mut daemon = Daemon {
            child,
            _stdin: stdin,
            stderr,
        };
        let first = match rx.recv_timeout(deadline) {
            Ok(Some(Ok(line))) => line,
            Ok(_) => bail!(
                "{peer} exited before it was ready; stderr: {}",
                daemon.stderr_tail()
            ),
            Err(_) => {
                daemon.kill();
                bail!(
                    "{peer} was not ready after {deadline:?}; killed; stderr: {}",
                    daemon.stderr_tail()
                )
            }
        };
        Ok((daemon, first))
    }

    /// The end of what the peer wrote to stderr, for a failure report.
    pub(crate) fn stderr_tail(&self) -> String {
        self.stderr
            .lock()
            .map(|s| tail(&s).to_string())
            .unwrap_or_default()
    }

    /// Kills the child (if it still runs) and reaps it.
    pub(crate) fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

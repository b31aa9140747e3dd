//! What the peers' sides share: running a peer's harness script as a child process with a job
//! on stdin (bounded in time), trimming its output for a report, and a per-case scratch
//! directory.

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

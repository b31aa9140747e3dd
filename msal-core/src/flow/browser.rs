//! Opening the system browser: the `BROWSER` environment variable first (a `:`-separated list
//! of commands, `%s` standing for the URL, as Python's `webbrowser` reads it), then the
//! platform's opener. Only http(s) URLs without control characters are ever passed on.

use std::process::{Command, Stdio};
use std::time::Duration;

/// How long a launcher may take to report failure before it counts as started.
const LAUNCH_GRACE: Duration = Duration::from_secs(2);

/// True when `uri` may be handed to a browser command.
pub(crate) fn is_safe_uri(uri: &str) -> bool {
    (uri.starts_with("https://") || uri.starts_with("http://"))
        && !uri.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// The commands to try, each as program and arguments with the URL in place.
fn candidates(uri: &str, browser_env: Option<&str>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    if let Some(list) = browser_env {
        for entry in list.split(':').map(str::trim).filter(|e| !e.is_empty()) {
            let mut words: Vec<String> = entry.split_whitespace().map(str::to_owned).collect();
            if words.iter().any(|w| w.contains("%s")) {
                for w in &mut words {
                    *w = w.replace("%s", uri);
                }
            } else {
                words.push(uri.to_owned());
            }
            out.push(words);
        }
        return out;
    }
    let with = |prog: &str, pre: &[&str]| {
        let mut v: Vec<String> = std::iter::once(prog.to_owned())
            .chain(pre.iter().map(|s| (*s).to_owned()))
            .collect();
        v.push(uri.to_owned());
        v
    };
    match std::env::consts::OS {
        "macos" => out.push(with("open", &[])),
        "windows" => out.push(with("rundll32", &["url.dll,FileProtocolHandler"])),
        _ => {
            out.push(with("xdg-open", &[]));
            out.push(with("gio", &["open"]));
            out.push(with("sensible-browser", &[]));
            out.push(with("wslview", &[]));
        }
    }
    out
}

/// Starts a browser on `uri`; false when none could be started (the caller then shows the URL).
pub(crate) async fn open(uri: &str) -> bool {
    if !is_safe_uri(uri) {
        return false;
    }
    let env = std::env::var("BROWSER").ok();
    for cmd in candidates(uri, env.as_deref()) {
        let Some((program, args)) = cmd.split_first() else {
            continue;
        };
        let Ok(mut child) = tokio::process::Command::from({
            let mut c = Command::new(program);
            c.args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            c
        })
        .kill_on_drop(false)
        .spawn() else {
            continue;
        };
        // A launcher that fails at once (no display, no browser) is not a browser.
        match tokio::time::timeout(LAUNCH_GRACE, child.wait()).await {
            Ok(Ok(status)) if status.success() => return true,
            Ok(_) => continue,
            Err(_) => {
                // Still running: a browser in the foreground. Reap it whenever it ends.
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_variable_is_read_like_python() {
        let c = candidates("https://x/y?a=1", Some("firefox %s --new-tab: chromium"));
        assert_eq!(c[0], vec!["firefox", "https://x/y?a=1", "--new-tab"]);
        assert_eq!(c[1], vec!["chromium", "https://x/y?a=1"]);
        assert!(!candidates("https://x", None).is_empty());
    }

    #[test]
    fn only_plain_http_urls_are_opened() {
        assert!(is_safe_uri("https://login.microsoftonline.com/a?b=c"));
        assert!(!is_safe_uri("file:///etc/passwd"));
        assert!(!is_safe_uri("https://x\n--evil"));
        assert!(!is_safe_uri("javascript:alert(1)"));
    }

    #[tokio::test]
    async fn a_failing_launcher_is_not_a_browser() {
        // `false` exits non-zero at once.
        let c = candidates("https://x", Some("false"));
        assert_eq!(c.len(), 1);
        // SAFETY of the environment: this test does not set BROWSER; it checks `open` refuses
        // unsafe input without spawning anything.
        assert!(!open("ftp://x").await);
    }
}

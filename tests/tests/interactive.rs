//! Interactive sign-in through the real launch path: `BROWSER` points at a script that plays
//! the browser against the emulator (tests/fixtures/browser/play_browser.py), so the loopback
//! listener, the launcher and the flow run exactly as for a user.
//!
//! `BROWSER` is process-wide and setting it in-process needs `unsafe` (forbidden here), so this
//! test binary (harness = false) re-runs itself with `BROWSER` set and reports the child's
//! outcome.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use msal_core::{Authority, ErrorKind, TokenSource};
use msal_tests::emulator::seeds;
use support::{Env, clock};

const USER_READ: &str = "https://graph.microsoft.com/User.Read";

fn player() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/browser/play_browser.py")
}

/// Writes the `BROWSER` wrapper for `mode`.
fn write_browser(env: &Env, wrapper: &Path, mode: &str) {
    let script = format!(
        "#!/bin/sh\nexec python3 '{}' --addr '{}' --ca '{}' --hosts '{}' --mode '{}' \"$@\"\n",
        player().display(),
        env.emulator.https_addr(),
        env.emulator.ca_pem_path().display(),
        env.emulator.hosts().join(","),
        mode
    );
    std::fs::write(wrapper, script).expect("wrapper written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

const WRAPPER_VAR: &str = "MSAL_TEST_BROWSER_WRAPPER";

fn main() -> std::process::ExitCode {
    match std::env::var_os(WRAPPER_VAR) {
        Some(wrapper) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(interactive_sign_in_through_the_browser_launch_path(
                PathBuf::from(wrapper),
            ));
            std::process::ExitCode::SUCCESS
        }
        None => {
            let dir = std::env::temp_dir().join(format!("msal-rs-browser-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let wrapper = dir.join("browser.sh");
            let exe = std::env::current_exe().expect("this test binary");
            let status = std::process::Command::new(exe)
                .env("BROWSER", &wrapper)
                .env(WRAPPER_VAR, &wrapper)
                .status()
                .expect("re-run with BROWSER set");
            let _ = std::fs::remove_dir_all(&dir);
            if status.success() {
                println!("test interactive_sign_in_through_the_browser_launch_path ... ok");
                std::process::ExitCode::SUCCESS
            } else {
                println!("test interactive_sign_in_through_the_browser_launch_path ... FAILED");
                std::process::ExitCode::FAILURE
            }
        }
    }
}

async fn interactive_sign_in_through_the_browser_launch_path(wrapper: PathBuf) {
    let env = Env::start().await;
    let dir = wrapper.parent().expect("a directory").to_path_buf();
    assert_eq!(
        std::env::var_os("BROWSER").as_deref(),
        Some(wrapper.as_os_str())
    );

    let app = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        None,
    );

    // 1. The browser signs in and posts the form back; the app was told just before the
    //    browser opened (on_before_open_browser, MSAL Python's on_before_launching_ui).
    write_browser(&env, &wrapper, "normal");
    let announced: Arc<Mutex<Vec<String>>> = Arc::default();
    let announced2 = Arc::clone(&announced);
    let r = app
        .acquire_token_interactive([USER_READ])
        .login_hint(seeds::ALICE_USERNAME)
        .on_before_open_browser(move |uri| {
            announced2.lock().expect("lock").push(uri.to_owned());
        })
        .await
        .expect("interactive sign-in");
    let announced = announced.lock().expect("lock").clone();
    assert_eq!(announced.len(), 1, "called once");
    assert!(
        announced[0].contains("/oauth2/v2.0/authorize?"),
        "{}",
        announced[0]
    );
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    assert_eq!(
        r.account().map(|a| a.username()),
        Some(seeds::ALICE_USERNAME)
    );
    let authorize = env
        .emulator
        .admin()
        .requests()
        .await
        .expect("requests")
        .into_iter()
        .find(|q| q.path.contains("authorize"))
        .expect("the browser went to the authorize endpoint");
    let q: std::collections::HashMap<String, String> = authorize.query.iter().cloned().collect();
    assert_eq!(q["response_mode"], "form_post");
    assert!(q["redirect_uri"].starts_with("http://localhost:"));

    // 2. A post with the wrong state is refused and the listener keeps waiting.
    write_browser(&env, &wrapper, "wrong-state-first");
    app.acquire_token_interactive([USER_READ])
        .login_hint(seeds::ALICE_USERNAME)
        .await
        .expect("the right post still completes the sign-in");

    // 3. A GET (query response mode) is refused; the form post completes.
    write_browser(&env, &wrapper, "get-first");
    app.acquire_token_interactive([USER_READ])
        .login_hint(seeds::ALICE_USERNAME)
        .await
        .expect("completed after a refused GET");

    // 4. No browser can be opened: the URL is handed out (and printed) and the flow waits.
    write_browser(&env, &wrapper, "fail");
    let seen: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let seen2 = Arc::clone(&seen);
    let helper_wrapper = dir.join("helper.sh");
    write_browser(&env, &helper_wrapper, "normal");
    let r = app
        .acquire_token_interactive([USER_READ])
        .login_hint(seeds::ALICE_USERNAME)
        .on_auth_uri(move |uri| {
            *seen2.lock().expect("lock") = Some(uri.to_owned());
            // The user copies the URL into a browser on their own.
            let _ = std::process::Command::new(&helper_wrapper).arg(uri).spawn();
        })
        .await
        .expect("signed in although no browser opened");
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    assert!(
        seen.lock()
            .expect("lock")
            .as_deref()
            .is_some_and(|u| u.starts_with("https://login.microsoftonline.com/"))
    );

    // 6. Idle local connections opened before the browser's redirect do not delay it: the
    //    listener serves connections concurrently (each idle one would otherwise hold it for
    //    its 10 s read deadline, 50 s for five).
    let took = sign_in_behind_idle_connections(&app, &dir, &env, 5).await;
    assert!(
        took < Duration::from_secs(15),
        "5 idle connections delayed the sign-in by {took:?}"
    );

    // 7. More idle connections than the listener serves at once: the oldest are closed and
    //    the redirect still goes through at once.
    let took = sign_in_behind_idle_connections(&app, &dir, &env, 40).await;
    assert!(
        took < Duration::from_secs(15),
        "40 idle connections delayed the sign-in by {took:?}"
    );

    // 5. Nobody signs in: the flow gives up at its timeout (on the app's clock).
    let clock = clock();
    let timed = env.public_app(
        seeds::PUBLIC_CLIENT_ID,
        Authority::tenant(seeds::CONTOSO_DOMAIN),
        None,
        Some(clock.clone()),
    );
    let waiting = timed
        .acquire_token_interactive([USER_READ])
        .timeout(Duration::from_secs(120));
    let ticker = async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            clock.advance(Duration::from_secs(30));
        }
    };
    let e = tokio::select! {
        r = waiting => r.unwrap_err(),
        () = ticker => unreachable!(),
    };
    assert_eq!(e.kind(), ErrorKind::InteractionRequired);
    assert!(e.is_interaction_required());
}

/// Signs in interactively with `idle` idle TCP connections opened to the loopback listener
/// before the browser delivers the redirect; returns how long the sign-in took.
async fn sign_in_behind_idle_connections(
    app: &msal_core::PublicClient,
    dir: &Path,
    env: &Env,
    idle: usize,
) -> Duration {
    let helper = dir.join(format!("helper-{idle}.sh"));
    write_browser(env, &helper, "normal");
    let held: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
    let held2 = Arc::clone(&held);
    let started = std::time::Instant::now();
    let r = app
        .acquire_token_interactive([USER_READ])
        .login_hint(seeds::ALICE_USERNAME)
        .open_browser(false)
        // On the old, one-at-a-time listener this fails at the timeout rather than after
        // idle × 10 s.
        .timeout(Duration::from_secs(40))
        .on_auth_uri(move |uri| {
            let url = url::Url::parse(uri).expect("the sign-in URL");
            let redirect = url
                .query_pairs()
                .find(|(k, _)| k == "redirect_uri")
                .map(|(_, v)| url::Url::parse(&v).expect("the redirect URI"))
                .expect("a redirect_uri");
            let port = redirect.port().expect("the listener's port");
            let mut held = held2.lock().expect("lock");
            for _ in 0..idle {
                // Connected (queued by the kernel) before the browser's connection; never
                // sends a byte.
                held.push(std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect"));
            }
            let _ = std::process::Command::new(&helper).arg(uri).spawn();
        })
        .await
        .expect("signed in despite the idle connections");
    let took = started.elapsed();
    assert_eq!(r.source(), TokenSource::IdentityProvider);
    assert_eq!(held.lock().expect("lock").len(), idle);
    drop(held);
    took
}

//! What the msal-core integration tests share: an emulator per test, the HTTP client users
//! would configure (real host names resolved to the emulator, only its test CA trusted) behind
//! a guard that refuses anything but the emulator's hosts, and app builders for the seeds.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use msal_core::clock::ManualClock;
use msal_core::http::{HttpClient, ReqwestHttpClient};
use msal_core::{
    Authority, ClientCredential, ConfidentialClient, DangerousOptions, Error, ErrorKind,
    PublicClient, TokenCache,
};
use msal_tests::emulator::{Emulator, EmulatorConfig, RecordedRequest, RequestFilter, seeds};

/// The transport of the tests: the default reqwest client, pointed at the emulator, refusing
/// every destination that is not one of the emulator's host names (which all resolve to
/// loopback) or a loopback address (the emulator's IMDS), and counting what it sends.
#[derive(Debug)]
pub struct EmulatorTransport {
    inner: ReqwestHttpClient,
    hosts: Vec<String>,
    pub sent: AtomicUsize,
}

#[async_trait]
impl HttpClient for EmulatorTransport {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> msal_core::Result<http::Response<Vec<u8>>> {
        let host = request.uri().host().unwrap_or("").to_ascii_lowercase();
        let loopback = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
        if !self.hosts.contains(&host) && !loopback {
            return Err(Error::new(
                ErrorKind::Transport,
                format!("refused: {host} is not an emulator host (tests stay on loopback)"),
            ));
        }
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.inner.send(request).await
    }
}

/// A running emulator plus a transport for it.
pub struct Env {
    pub emulator: Emulator,
    pub transport: Arc<EmulatorTransport>,
}

impl Env {
    pub async fn start() -> Env {
        let emulator = Emulator::start(EmulatorConfig::default())
            .await
            .expect("the emulator starts");
        // The one step users take (`trust_emulator`): every emulator host resolves to it,
        // only its CA is trusted, no proxy.
        let inner = ReqwestHttpClient::builder()
            .trust_emulator(&emulator.manifest_json())
            .expect("the emulator's manifest is accepted")
            .build()
            .expect("the HTTP client builds");
        let transport = Arc::new(EmulatorTransport {
            inner,
            hosts: emulator.hosts().iter().map(|h| h.to_string()).collect(),
            sent: AtomicUsize::new(0),
        });
        Env {
            emulator,
            transport,
        }
    }

    /// Token-endpoint POSTs the emulator recorded.
    pub async fn token_requests(&self) -> Vec<RecordedRequest> {
        self.emulator
            .admin()
            .requests_filtered(&RequestFilter {
                path_contains: Some("token".into()),
                ..Default::default()
            })
            .await
            .expect("admin: requests")
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    pub async fn discovery_requests(&self) -> Vec<RecordedRequest> {
        self.emulator
            .admin()
            .requests()
            .await
            .expect("admin: requests")
            .into_iter()
            .filter(|r| r.method == "GET" && !r.path.starts_with("/metadata/"))
            .collect()
    }

    /// A confidential client for `client_id` with `credential` on `authority`.
    pub fn app(
        &self,
        client_id: &str,
        credential: ClientCredential,
        authority: Authority,
        cache: Option<TokenCache>,
        clock: Option<ManualClock>,
    ) -> ConfidentialClient {
        let mut dangerous = DangerousOptions::new();
        if let Some(c) = clock {
            dangerous = dangerous.clock(c);
        }
        let b = ConfidentialClient::builder(client_id, credential)
            .authority(authority)
            .http_client(Arc::clone(&self.transport))
            .dangerous(dangerous);
        match cache {
            Some(c) => b.cache(c).build(),
            None => b.build(),
        }
        .expect("the app builds")
    }

    /// The seeded secret app on contoso.
    pub fn secret_app(&self) -> ConfidentialClient {
        self.app(
            seeds::SECRET_APP_CLIENT_ID,
            ClientCredential::secret(seeds::SECRET_APP_SECRET),
            Authority::tenant(seeds::CONTOSO_DOMAIN),
            None,
            None,
        )
    }

    /// The seeded certificate app on contoso.
    pub fn cert_credential() -> ClientCredential {
        ClientCredential::certificate_pem(seeds::APP_KEY_PKCS8_PEM, seeds::APP_CERT_PEM)
            .expect("the fixture key and certificate load")
    }
}

impl Env {
    /// A public client for `client_id` on `authority`.
    pub fn public_app(
        &self,
        client_id: &str,
        authority: Authority,
        cache: Option<TokenCache>,
        clock: Option<ManualClock>,
    ) -> PublicClient {
        let mut dangerous = DangerousOptions::new();
        if let Some(c) = clock {
            dangerous = dangerous.clock(c);
        }
        let b = PublicClient::builder(client_id)
            .authority(authority)
            .http_client(Arc::clone(&self.transport))
            .dangerous(dangerous);
        match cache {
            Some(c) => b.cache(c).build(),
            None => b.build(),
        }
        .expect("the app builds")
    }

    /// Plays the browser on an authorization URL: GETs it from the emulator (no redirects
    /// followed) and returns what the emulator sends back to the redirect URI — the query of
    /// a redirect, or the fields of a form_post page — as a form-encoded string.
    pub async fn browse(&self, auth_uri: &str) -> String {
        let client = self
            .emulator
            .http_client_builder()
            .expect("builder")
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let resp = client
            .get(auth_uri)
            .send()
            .await
            .expect("authorize answers");
        let status = resp.status().as_u16();
        if (300..400).contains(&status) {
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("a Location")
                .to_owned();
            let url = url::Url::parse(&location).expect("a URL");
            return url.query().unwrap_or("").to_owned();
        }
        let body = resp.text().await.expect("a body");
        assert_eq!(status, 200, "authorize: {body}");
        form_fields(&body)
    }
}

/// The hidden inputs of a form_post page, form-encoded.
pub fn form_fields(html: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for input in html.split("<input").skip(1) {
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            let start = input.find(&key)? + key.len();
            let end = input[start..].find('"')? + start;
            Some(html_unescape(&input[start..end]))
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.append_pair(&n, &v);
        }
    }
    out.finish()
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A manual clock starting at the system time (so the emulator, on system time, agrees).
pub fn clock() -> ManualClock {
    ManualClock::new()
}

/// Graph's `.default` scope.
pub const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

/// The variable naming the child test a re-executed test binary should run for real.
pub const CHILD_TEST_VAR: &str = "MSAL_RS_CHILD_TEST";

/// True when this process was started by [`run_child_test`] to run `name`. Child tests are
/// `#[ignore]`d and return at once otherwise, so the variables they need (process-wide, and
/// setting them in-process needs `unsafe`) never touch the tests running in parallel.
pub fn is_child(name: &str) -> bool {
    std::env::var(CHILD_TEST_VAR).is_ok_and(|v| v == name)
}

/// Runs the `#[ignore]`d test `name` of this test binary in a child process with `set` added
/// to and `unset` removed from the environment; panics with the child's output if it failed.
pub fn run_child_test(name: &str, set: &[(&str, &str)], unset: &[&str]) -> String {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = std::process::Command::new(exe);
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_TEST_VAR, name);
    for v in unset {
        cmd.env_remove(v);
    }
    for (k, v) in set {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the child test runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed") && text.contains(&done_marker(name)),
        "child test {name} failed:\n{text}"
    );
    text
}

fn done_marker(name: &str) -> String {
    format!("child test {name} ran to the end")
}

/// Tells [`run_child_test`] that the child test `name` ran to its end (not merely returned).
pub fn child_done(name: &str) {
    println!("{}", done_marker(name));
}

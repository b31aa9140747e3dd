//! Interactive sign-in in the system browser (msal/oauth2cli/authcode.py): an authorization code flow whose
//! redirect URI is a listener on the loopback interface (`http://localhost:{port}`,
//! `response_mode=form_post`).
//!
//! The listener binds 127.0.0.1 only, accepts the form POST whose `state` matches (anything
//! else gets a 400 and the wait goes on), answers with a fixed page that reflects nothing from
//! the request (or the app's own page, into which only the error fields go, escaped), and
//! gives up after the timeout. It serves up to 32 connections at once, each
//! with a 10 s deadline, closing the oldest when more arrive: idle local connections cannot
//! delay the browser's redirect. The browser is opened through `BROWSER` or the
//! platform's opener; when none can be opened the URL is printed to stderr and the flow still
//! waits, so it never hangs silently.

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinSet};

use super::auth_code::{AuthCodeFlowBuilder, AuthResponse, ResponseMode};
use super::browser;
use super::prompt::Prompt;
use crate::app::core::AppRef;
use crate::app::options::{AcquireFuture, SshCertificateRequest};
use crate::error::{Error, ErrorKind, Result};
use crate::result::AuthenticationResult;
use crate::scope::ScopeSet;

/// The default time the user has to sign in.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_HEADER_BYTES: usize = 16 * 1024;
const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long one connection to the loopback listener may take to deliver its request.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// How many connections the loopback listener serves at once (see [`wait_for_response_with`]).
const MAX_CONNECTIONS: usize = 32;

const SUCCESS_PAGE: &str = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Signed in</title></head><body><p>Authentication complete. You can return to the application. Please close this browser tab.</p></body></html>";
const FAILURE_PAGE: &str = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sign-in failed</title></head><body><p>Authentication failed. You can return to the application to see why. Please close this browser tab.</p></body></html>";

/// What `on_auth_uri` and `on_before_open_browser` hold.
type AuthUriCallback<'a> = Box<dyn Fn(&str) + Send + Sync + 'a>;

/// The Content-Security-Policy of an app's own pages: no script, no fetch, no frame; inline
/// styles and `data:` images allowed so a page can be styled without reaching out.
const CUSTOM_PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
/// The Content-Security-Policy of the built-in pages.
const DEFAULT_PAGE_CSP: &str = "default-src 'none'";

/// The pages the loopback listener answers the browser with.
#[derive(Default)]
struct Pages {
    success: Option<String>,
    failure: Option<String>,
}

impl Pages {
    /// The page for `resp`, and its Content-Security-Policy.
    fn render(&self, resp: &AuthResponse) -> (String, &'static str) {
        let failed = resp.get("error").is_some();
        let template = if failed { &self.failure } else { &self.success };
        match template {
            None => (
                (if failed { FAILURE_PAGE } else { SUCCESS_PAGE }).to_owned(),
                DEFAULT_PAGE_CSP,
            ),
            Some(t) => (fill(t, resp), CUSTOM_PAGE_CSP),
        }
    }
}

/// Fills a page template: `$error`, `$error_description` and `$error_uri` (RFC 6749 section
/// 4.1.2.1), HTML-escaped (msal/oauth2cli/authcode.py escapes them the same way in an HTML
/// template); absent ones are empty. Nothing else of the response is substituted: the code
/// and the state never reach a page. `$$` is a literal `$`.
fn fill(template: &str, resp: &AuthResponse) -> String {
    const FIELDS: [&str; 3] = ["error_description", "error_uri", "error"];
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('$') {
        out.push_str(before);
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        // A placeholder is a whole identifier: `$errors` is not `$error` + `s`.
        let placeholder = FIELDS.iter().find_map(|f| {
            after
                .strip_prefix(f)
                .filter(|tail| {
                    !tail
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                })
                .map(|tail| (*f, tail))
        });
        match placeholder {
            Some((f, tail)) => {
                out.push_str(&html_escape(resp.get(f).unwrap_or("")));
                rest = tail;
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The request builder of `acquire_token_interactive`. Set options, then `.await` it.
#[must_use = "a request does nothing until awaited"]
pub struct AcquireTokenInteractive<'a> {
    app: AppRef<'a>,
    scopes: Result<ScopeSet>,
    port: u16,
    timeout: Duration,
    prompt: Option<Prompt>,
    login_hint: Option<String>,
    domain_hint: Option<String>,
    claims: Option<String>,
    max_age: Option<Duration>,
    extra_scopes: Option<Result<ScopeSet>>,
    open_browser: bool,
    on_auth_uri: Option<AuthUriCallback<'a>>,
    ssh_certificate: Option<SshCertificateRequest>,
    on_before_open_browser: Option<AuthUriCallback<'a>>,
    pages: Pages,
}

impl std::fmt::Debug for AcquireTokenInteractive<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcquireTokenInteractive")
            .field("scopes", &self.scopes)
            .field("port", &self.port)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<'a> AcquireTokenInteractive<'a> {
    pub(crate) fn new(app: AppRef<'a>, scopes: Result<ScopeSet>) -> Self {
        AcquireTokenInteractive {
            app,
            scopes,
            port: 0,
            timeout: DEFAULT_TIMEOUT,
            prompt: None,
            login_hint: None,
            domain_hint: None,
            claims: None,
            max_age: None,
            extra_scopes: None,
            open_browser: true,
            on_auth_uri: None,
            ssh_certificate: None,
            on_before_open_browser: None,
            pages: Pages::default(),
        }
    }

    /// Asks for an SSH certificate for a public key instead of a Bearer token (see
    /// [`SshCertificateRequest`]).
    pub fn ssh_certificate(mut self, request: SshCertificateRequest) -> Self {
        self.ssh_certificate = Some(request);
        self
    }

    /// The loopback port to listen on (default: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How long the user has to sign in (default 5 minutes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What the sign-in page does (`prompt`): [`Prompt::SelectAccount`] to show the account
    /// picker, [`Prompt::Login`] to ask for credentials again, … Inside Azure Cloud Shell,
    /// [`Prompt::None`] gets the shell's signed-in user from the shell, with no browser (see
    /// the app builders' `host_environment`).
    pub fn prompt(mut self, prompt: Prompt) -> Self {
        self.prompt = Some(prompt);
        self
    }

    /// Pre-fills the username.
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// `domain_hint`.
    pub fn domain_hint(mut self, hint: impl Into<String>) -> Self {
        self.domain_hint = Some(hint.into());
        self
    }

    /// A claims challenge, merged with the app's client capabilities.
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into());
        self
    }

    /// Requires a sign-in no older than `max_age`.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// More scopes to consent to now (not redeemed).
    pub fn extra_scopes_to_consent(mut self, scopes: impl crate::IntoScopes) -> Self {
        self.extra_scopes = Some(scopes.into_scopes());
        self
    }

    /// Whether to open a browser (default true); when false the URL is only printed (and
    /// handed to [`on_auth_uri`](Self::on_auth_uri)).
    pub fn open_browser(mut self, open: bool) -> Self {
        self.open_browser = open;
        self
    }

    /// Called with the sign-in URL when no browser could be opened, so the app can show it
    /// its own way (the URL is printed to stderr as well).
    pub fn on_auth_uri(mut self, f: impl Fn(&str) + Send + Sync + 'a) -> Self {
        self.on_auth_uri = Some(Box::new(f));
        self
    }

    /// Called with the sign-in URL just before the browser is opened (MSAL Python's
    /// `on_before_launching_ui(ui="browser")`): tell the user a browser window is about to
    /// appear. Not called with [`open_browser(false)`](Self::open_browser), nor inside Azure
    /// Cloud Shell with [`Prompt::None`] (no browser then).
    pub fn on_before_open_browser(mut self, f: impl Fn(&str) + Send + Sync + 'a) -> Self {
        self.on_before_open_browser = Some(Box::new(f));
        self
    }

    /// The page the browser shows once the sign-in succeeded, instead of the built-in one
    /// (MSAL Python's `success_template`). Sent as `text/html` as it is, with a
    /// Content-Security-Policy that allows inline styles and `data:` images but no script and
    /// no outside resource.
    pub fn success_page(mut self, html: impl Into<String>) -> Self {
        self.pages.success = Some(html.into());
        self
    }

    /// The page the browser shows when the identity provider answered an error, instead of
    /// the built-in one (MSAL Python's `error_template`): `$error`, `$error_description` and
    /// `$error_uri` are replaced by the response's values, HTML-escaped (empty when absent);
    /// `$$` is a `$`. Nothing else from the response is put in the page. Sent as
    /// [`success_page`](Self::success_page) is.
    ///
    /// ```no_run
    /// # async fn f(app: msal_core::PublicClient) -> msal_core::Result<()> {
    /// let result = app
    ///     .acquire_token_interactive(["User.Read"])
    ///     .on_before_open_browser(|_| eprintln!("Opening your browser to sign in…"))
    ///     .success_page("<h1>Signed in to Contoso CLI</h1><p>You can close this tab.</p>")
    ///     .failure_page("<h1>Sign-in failed</h1><p>$error: $error_description</p>")
    ///     .await?;
    /// # let _ = result; Ok(()) }
    /// ```
    pub fn failure_page(mut self, html: impl Into<String>) -> Self {
        self.pages.failure = Some(html.into());
        self
    }
}

impl<'a> IntoFuture for AcquireTokenInteractive<'a> {
    type Output = Result<AuthenticationResult>;
    type IntoFuture = AcquireFuture<'a, AuthenticationResult>;

    fn into_future(self) -> Self::IntoFuture {
        AcquireFuture::pending(run(self))
    }
}

async fn run(r: AcquireTokenInteractive<'_>) -> Result<AuthenticationResult> {
    // Inside Cloud Shell, a sign-in that must not prompt gets the shell's user (msal/application.py
    // `acquire_token_interactive`).
    if r.prompt.as_ref().is_some_and(Prompt::is_no_prompt)
        && let Some(url) = &r.app.core.cloud_shell
    {
        let scopes = r.scopes?;
        return super::cloud_shell::acquire(r.app, url, &scopes).await;
    }
    let listener = TcpListener::bind(("127.0.0.1", r.port))
        .await
        .map_err(|e| {
            Error::with_source(
                ErrorKind::Configuration,
                format!("cannot listen on 127.0.0.1:{}", r.port),
                e,
            )
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::with_source(ErrorKind::Configuration, "no local address", e))?
        .port();
    let redirect_uri = format!("http://localhost:{port}");
    let mut builder = AuthCodeFlowBuilder::new(r.app, r.scopes)
        .redirect_uri(&redirect_uri)
        .response_mode(ResponseMode::FormPost);
    if let Some(p) = r.prompt {
        builder = builder.prompt(p);
    }
    if let Some(h) = r.login_hint {
        builder = builder.login_hint(h);
    }
    if let Some(d) = r.domain_hint {
        builder = builder.domain_hint(d);
    }
    if let Some(c) = r.claims {
        builder = builder.claims(c);
    }
    if let Some(m) = r.max_age {
        builder = builder.max_age(m);
    }
    if let Some(e) = r.extra_scopes {
        builder = builder.extra_scopes_to_consent(e?);
    }
    if let Some(ssh) = r.ssh_certificate {
        builder = builder.ssh_certificate(ssh);
    }
    let flow = builder.initiate().await?;
    if r.open_browser
        && let Some(f) = &r.on_before_open_browser
    {
        f(flow.auth_uri());
    }
    let opened = r.open_browser && browser::open(flow.auth_uri()).await;
    if !opened {
        // Never hang silently: tell the user where to go.
        eprintln!(
            "To sign in, open this URL in a browser:\n{}\n(waiting for the sign-in at {redirect_uri})",
            flow.auth_uri()
        );
        tracing::warn!("no browser could be opened; the sign-in URL was printed to stderr");
        if let Some(f) = &r.on_auth_uri {
            f(flow.auth_uri());
        }
    }
    let state = flow.state().to_owned();
    let wait = wait_for_response_with(&listener, &state, Arc::new(r.pages));
    let sleep = r.app.core.clock.sleep(r.timeout);
    let response = tokio::select! {
        resp = wait => resp?,
        () = sleep => {
            return Err(Error::new(
                ErrorKind::InteractionRequired,
                "the user did not complete the sign-in in time",
            ));
        }
    };
    drop(listener);
    let done = flow.complete(&InteractiveApp(r.app), response).await?;
    Ok(done.into_result())
}

/// Lets the flow complete with the app reference it was started with.
struct InteractiveApp<'a>(AppRef<'a>);

impl crate::app::core::sealed::Sealed for InteractiveApp<'_> {
    fn app_ref(&self) -> AppRef<'_> {
        self.0
    }
}

impl crate::app::core::ClientApplication for InteractiveApp<'_> {}

/// Serves the loopback listener until a form POST with the right state arrives.
///
/// Connections are served concurrently, each within its own [`CONNECTION_TIMEOUT`], so idle
/// or slow local connections (another program probing the port, a browser's speculative
/// preconnect) cannot hold up the browser's redirect. At most [`MAX_CONNECTIONS`] are served at
/// once; when another arrives, the oldest one still being served is closed. A connection that
/// delivers its request at once, as a browser does, is therefore served within milliseconds
/// however many idle ones were opened before it.
/// [`wait_for_response_with`] answering with the built-in pages (tests).
#[cfg(test)]
async fn wait_for_response(listener: &TcpListener, state: &str) -> Result<AuthResponse> {
    wait_for_response_with(listener, state, Arc::new(Pages::default())).await
}

/// Serves the loopback listener until the redirect carrying `state` arrives, answering it with
/// `pages`.
async fn wait_for_response_with(
    listener: &TcpListener,
    state: &str,
    pages: Arc<Pages>,
) -> Result<AuthResponse> {
    let state: Arc<str> = Arc::from(state);
    // Dropping the set (when the response arrives, or the wait is abandoned) aborts the rest.
    let mut serving: JoinSet<Option<AuthResponse>> = JoinSet::new();
    // The connections still being served, oldest first.
    let mut order: VecDeque<AbortHandle> = VecDeque::new();
    loop {
        tokio::select! {
            biased;
            Some(done) = serving.join_next(), if !serving.is_empty() => {
                if let Ok(Some(resp)) = done {
                    return Ok(resp);
                }
            }
            accepted = listener.accept() => {
                let (stream, peer) = accepted.map_err(|e| {
                    Error::with_source(ErrorKind::Transport, "the loopback listener failed", e)
                })?;
                if !peer.ip().is_loopback() {
                    continue;
                }
                order.retain(|h| !h.is_finished());
                if order.len() >= MAX_CONNECTIONS
                    && let Some(oldest) = order.pop_front()
                {
                    tracing::debug!(
                        "too many connections to the loopback listener; closing the oldest"
                    );
                    oldest.abort();
                }
                let state = Arc::clone(&state);
                let pages = Arc::clone(&pages);
                order.push_back(serving.spawn(async move {
                    match tokio::time::timeout(CONNECTION_TIMEOUT, handle(stream, &state, &pages)).await {
                        Ok(Ok(resp)) => resp,
                        Ok(Err(_)) | Err(_) => None,
                    }
                }));
            }
        }
    }
}

/// One connection: `Some` when it delivered the awaited response.
async fn handle(
    mut stream: TcpStream,
    state: &str,
    pages: &Pages,
) -> std::io::Result<Option<AuthResponse>> {
    let mut buf = Vec::with_capacity(2048);
    let header_end = loop {
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEADER_BYTES {
            reply(&mut stream, 431, "Request header too large").await?;
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let method = request_line.split(' ').next().unwrap_or("");
    let mut content_length = 0usize;
    let mut form = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap_or(usize::MAX);
            } else if name.eq_ignore_ascii_case("content-type") {
                form = value
                    .trim()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded");
            }
        }
    }
    if method != "POST" {
        reply(
            &mut stream,
            400,
            "This sign-in expects the response as a form post (response_mode=form_post); still waiting.",
        )
        .await?;
        return Ok(None);
    }
    if !form || content_length > MAX_BODY_BYTES {
        reply(&mut stream, 400, "Not a sign-in response; still waiting.").await?;
        return Ok(None);
    }
    let mut body = buf[header_end..].to_vec();
    while body.len() < content_length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(content_length);
    let resp = AuthResponse::from_query(&String::from_utf8_lossy(&body));
    if resp.get("code").is_none() && resp.get("error").is_none() {
        reply(&mut stream, 400, "Not a sign-in response; still waiting.").await?;
        return Ok(None);
    }
    if resp.get("state") != Some(state) {
        reply(
            &mut stream,
            400,
            "State mismatch: this is not the response to the current sign-in; still waiting.",
        )
        .await?;
        return Ok(None);
    }
    let (page, csp) = pages.render(&resp);
    write_page(&mut stream, 200, &page, csp).await?;
    Ok(Some(resp))
}

async fn reply(stream: &mut TcpStream, status: u16, text: &str) -> std::io::Result<()> {
    let page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><p>{text}</p></body></html>"
    );
    write_response(stream, status, &page).await
}

async fn write_response(stream: &mut TcpStream, status: u16, page: &str) -> std::io::Result<()> {
    write_page(stream, status, page, DEFAULT_PAGE_CSP).await
}

async fn write_page(
    stream: &mut TcpStream,
    status: u16,
    page: &str,
    csp: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        431 => "Request Header Fields Too Large",
        _ => "Bad Request",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Security-Policy: {csp}\r\nConnection: close\r\n\r\n",
        page.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(page.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_templates_fill_only_the_error_fields_escaped() {
        let resp = AuthResponse::from_query(
            "error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E%20%26%20%22x%22&code=c0de&state=s7ate",
        );
        assert_eq!(
            fill(
                "<p>$error: $error_description [$error_uri] $code $state $$5 $errors $</p>",
                &resp
            ),
            "<p>access_denied: &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; [] $code $state $5 $errors $</p>"
        );
        assert_eq!(fill("é$error€", &resp), "éaccess_denied€");
    }

    async fn send(port: u16, raw: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        s.write_all(raw.as_bytes()).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn waits_for_the_right_state_and_reflects_nothing() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let waiter = tokio::spawn(async move { wait_for_response(&listener, "good").await });
        let get = send(
            port,
            "GET /?code=x&state=good HTTP/1.1\r\nHost: localhost\r\n\r\n",
        )
        .await;
        assert!(get.starts_with("HTTP/1.1 400"), "{get}");
        let body = "code=c&state=bad<script>";
        let wrong = send(
            port,
            &format!(
                "POST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
        .await;
        assert!(wrong.starts_with("HTTP/1.1 400"), "{wrong}");
        assert!(!wrong.contains("<script>"), "nothing is reflected");
        let body = "code=the-code&state=good";
        let ok = send(
            port,
            &format!(
                "POST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
        .await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(!ok.contains("the-code"));
        let resp = waiter.await.expect("joined").expect("response");
        assert_eq!(resp.get("code"), Some("the-code"));
    }

    #[tokio::test]
    async fn idle_connections_do_not_hold_up_the_redirect() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        // More idle connections than are served at once, all queued before the redirect.
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS + 8 {
            idle.push(
                TcpStream::connect(("127.0.0.1", port))
                    .await
                    .expect("connect"),
            );
        }
        let started = std::time::Instant::now();
        let waiter = tokio::spawn(async move { wait_for_response(&listener, "good").await });
        let body = "code=the-code&state=good";
        let ok = send(
            port,
            &format!(
                "POST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
        .await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        let resp = waiter.await.expect("joined").expect("response");
        assert_eq!(resp.get("code"), Some("the-code"));
        // One at a time, each idle connection held the listener for its 10 s deadline.
        assert!(
            started.elapsed() < CONNECTION_TIMEOUT,
            "took {:?}",
            started.elapsed()
        );
        drop(idle);
    }
}

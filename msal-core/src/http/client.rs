//! The transport seam: [`HttpClient`] (http 1.x types in and out, nothing of reqwest in the
//! public API) and its default implementation over reqwest with rustls, [`ReqwestHttpClient`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Error, ErrorKind, Result};

/// Sends one HTTP request and returns the whole response.
///
/// Implementations must not follow redirects (msal-core treats a redirect from an identity
/// provider endpoint as an error) and should bound the response body. Return
/// [`Error::transport`] when no response was received.
///
/// ```
/// use msal_core::http::HttpClient;
/// use msal_core::Result;
///
/// #[derive(Debug)]
/// struct Canned;
///
/// #[async_trait::async_trait]
/// impl HttpClient for Canned {
///     async fn send(&self, _req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>> {
///         Ok(http::Response::builder()
///             .status(200)
///             .body(br#"{"access_token":"t","expires_in":3600}"#.to_vec())
///             .expect("a valid response"))
///     }
/// }
/// ```
#[async_trait]
pub trait HttpClient: Send + Sync + fmt::Debug + 'static {
    /// Sends `request` and returns the response, whatever its status.
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>>;
}

/// A request extension asking the transport to connect directly, never through a proxy.
///
/// msal-core puts it on its IMDS requests (region auto-detection); [`ReqwestHttpClient`]
/// honours it, and also never proxies loopback, link-local or `localhost` targets, marked or
/// not. A custom [`HttpClient`] that supports proxies should do the same.
///
/// ```
/// use msal_core::http::BypassProxy;
///
/// let req = http::Request::get("http://169.254.169.254/metadata/instance/compute")
///     .extension(BypassProxy)
///     .body(Vec::<u8>::new())
///     .unwrap();
/// assert!(req.extensions().get::<BypassProxy>().is_some());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BypassProxy;

/// True for hosts that are never reached through a proxy: `localhost` (and `*.localhost`),
/// loopback, link-local (IMDS at `169.254.169.254`) and unspecified addresses.
pub(crate) fn is_local_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost")
        || host
            .get(host.len().saturating_sub(10)..)
            .is_some_and(|t| t.eq_ignore_ascii_case(".localhost"))
    {
        return true;
    }
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_link_local())
        }
        Err(_) => false,
    }
}

/// The default [`HttpClient`]: reqwest over rustls (aws-lc-rs), with the platform's trust
/// store unless told otherwise, no redirects, timeouts and a response body cap.
///
/// **Retries.** As MSAL Python's `HTTPAdapter(max_retries=1)`: a request whose connection
/// cannot be made (refused, DNS, TLS handshake, connect timeout) is sent once more; a `GET`
/// whose connection is closed or reset before the response is sent once more too, but a `POST`
/// is not — the identity provider may have acted on it (an authorization code is single-use).
/// Nothing else is retried: not an HTTP status (429 and 5xx are remembered by the throttle
/// state and answered from it, msal/throttled_http_client.py), not a request that timed out waiting for its
/// response.
///
/// **Proxies.** Identity-provider traffic honours `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and
/// `NO_PROXY` from the environment (unless [`proxy_from_env(false)`]), or the proxy given to
/// [`proxy`]. Loopback, link-local and `localhost` targets (IMDS, managed identity endpoints,
/// local test servers) and requests marked [`BypassProxy`] always connect directly.
///
/// [`proxy_from_env(false)`]: ReqwestHttpClientBuilder::proxy_from_env
/// [`proxy`]: ReqwestHttpClientBuilder::proxy
#[derive(Clone)]
pub struct ReqwestHttpClient {
    /// Identity-provider traffic: proxies as configured.
    client: reqwest::Client,
    /// Traffic that must not be proxied; `None` when `client` never proxies.
    direct: Option<Arc<DirectClient>>,
    max_body_bytes: usize,
}

impl fmt::Debug for ReqwestHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestHttpClient")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("may_proxy", &self.direct.is_some())
            .finish_non_exhaustive()
    }
}

/// A proxy-free twin of the main client, built on first use.
struct DirectClient {
    base: BaseConfig,
    client: OnceLock<reqwest::Client>,
}

impl DirectClient {
    fn get(&self) -> Result<reqwest::Client> {
        if let Some(c) = self.client.get() {
            return Ok(c.clone());
        }
        let built = build_client(self.base.builder().no_proxy())?;
        Ok(self.client.get_or_init(|| built).clone())
    }
}

/// What both clients share.
#[derive(Clone)]
struct BaseConfig {
    certs: Vec<reqwest::Certificate>,
    only_added_roots: bool,
    resolve: Vec<(String, SocketAddr)>,
    timeout: Duration,
    connect_timeout: Duration,
}

impl BaseConfig {
    fn builder(&self) -> reqwest::ClientBuilder {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .tls_backend_rustls();
        b = if self.only_added_roots {
            b.tls_certs_only(self.certs.clone())
        } else {
            b.tls_certs_merge(self.certs.clone())
        };
        for (host, addr) in &self.resolve {
            b = b.resolve(host, *addr);
        }
        b
    }
}

fn build_client(b: reqwest::ClientBuilder) -> Result<reqwest::Client> {
    b.build().map_err(|e| {
        Error::with_source(
            ErrorKind::Configuration,
            "the HTTP client could not be built",
            e,
        )
    })
}

/// Configures a [`ReqwestHttpClient`].
pub struct ReqwestHttpClientBuilder {
    roots: Vec<Vec<u8>>,
    only_added_roots: bool,
    resolve: Vec<(String, SocketAddr)>,
    timeout: Duration,
    connect_timeout: Duration,
    max_body_bytes: usize,
    proxy_from_env: bool,
    /// May carry credentials: never shown.
    proxy: Option<String>,
}

impl fmt::Debug for ReqwestHttpClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestHttpClientBuilder")
            .field("roots", &self.roots.len())
            .field("only_added_roots", &self.only_added_roots)
            .field("resolve", &self.resolve)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("proxy_from_env", &self.proxy_from_env)
            .field("proxy", &self.proxy.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Default overall timeout of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on a response body: identity provider responses are a few kilobytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

impl Default for ReqwestHttpClientBuilder {
    fn default() -> Self {
        ReqwestHttpClientBuilder {
            roots: Vec::new(),
            only_added_roots: false,
            resolve: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            proxy_from_env: true,
            proxy: None,
        }
    }
}

impl ReqwestHttpClientBuilder {
    /// Trusts the CA certificate(s) in `pem` in addition to the platform's trust store
    /// (or instead of it, with [`only_added_roots`](Self::only_added_roots)).
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.roots.push(pem.as_ref().to_vec());
        self
    }

    /// Trusts only the certificates added with
    /// [`add_root_certificate_pem`](Self::add_root_certificate_pem).
    pub fn only_added_roots(mut self, only: bool) -> Self {
        self.only_added_roots = only;
        self
    }

    /// Resolves `host` to `addr` instead of asking DNS (the port of `addr` is used when the
    /// URL has none). Used to reach a local emulator under the real host names.
    pub fn resolve(mut self, host: impl Into<String>, addr: SocketAddr) -> Self {
        self.resolve.push((host.into(), addr));
        self
    }

    /// The overall timeout of one request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The connect timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest response body accepted (default 1 MiB); a larger one is an error.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Whether `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` from the environment are
    /// honoured for identity-provider traffic (default true). Loopback, link-local and
    /// `localhost` targets are never proxied either way.
    pub fn proxy_from_env(mut self, yes: bool) -> Self {
        self.proxy_from_env = yes;
        self
    }

    /// Sends identity-provider traffic through this proxy (`http://host:port`, optionally with
    /// `user:password@`; `https://` and `socks5://` proxies work too) instead of the one the
    /// environment names; `NO_PROXY` then does not apply. Loopback, link-local and `localhost`
    /// targets and requests marked [`BypassProxy`] still connect directly. An unparseable URL
    /// fails [`build`](Self::build); the URL is never logged or shown by `Debug`.
    ///
    /// ```
    /// use msal_core::http::ReqwestHttpClient;
    ///
    /// let http = ReqwestHttpClient::builder()
    ///     .proxy("http://proxy.internal.example:3128")
    ///     .build()
    ///     .unwrap();
    /// # let _ = http;
    /// ```
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Points this client at a running [msal-emulator](https://docs.rs/msal-emulator), the local
    /// Entra ID emulator for offline tests, in one step: every host name it serves resolves to
    /// its HTTPS address, only its test CA is trusted (not the platform's store), and no proxy
    /// is used.
    ///
    /// `manifest` is the emulator's manifest, the JSON line `msal-emulator` prints on stdout
    /// (or `Emulator::manifest_json()` in process, or `GET /admin/manifest`). Read are
    /// `manifest_version` (1), `https_addr` (a loopback `ip:port`), `hosts` and `ca_pem`; other
    /// fields are ignored. Fails with [`ErrorKind::Configuration`] when the text is not such a
    /// manifest, when its version is not 1, or when the address is not on loopback (a manifest
    /// can never send Microsoft's host names elsewhere).
    ///
    /// Never use this outside tests: it replaces the real identity provider with the emulator.
    ///
    /// ```
    /// use msal_core::http::ReqwestHttpClient;
    ///
    /// # fn main() -> msal_core::Result<()> {
    /// # let manifest = r#"{"manifest_version":1,"https_addr":"127.0.0.1:8443","hosts":["login.microsoftonline.com"],"ca_pem":"-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n"}"#;
    /// // `manifest`: the line `msal-emulator` printed.
    /// let builder = ReqwestHttpClient::builder().trust_emulator(manifest)?;
    /// # let _ = builder;
    /// # Ok(()) }
    /// ```
    pub fn trust_emulator(mut self, manifest: &str) -> Result<Self> {
        /// The fields of the manifest (version 1) this reads.
        #[derive(serde::Deserialize)]
        struct EmulatorManifest {
            manifest_version: Option<u64>,
            https_addr: String,
            hosts: Vec<String>,
            ca_pem: String,
        }
        let bad = |what: &str| Error::new(ErrorKind::Configuration, what.to_owned());
        let m: EmulatorManifest = serde_json::from_str(manifest.trim()).map_err(|e| {
            Error::with_source(
                ErrorKind::Configuration,
                "the text is not an msal-emulator manifest (one JSON object with manifest_version, https_addr, hosts and ca_pem)",
                e,
            )
        })?;
        match m.manifest_version {
            Some(1) => {}
            Some(v) => {
                return Err(Error::new(
                    ErrorKind::Configuration,
                    format!(
                        "the emulator manifest has manifest_version {v}; this msal-core reads version 1"
                    ),
                ));
            }
            None => return Err(bad("the emulator manifest has no manifest_version")),
        }
        let addr: SocketAddr = m
            .https_addr
            .parse()
            .map_err(|_| bad("the emulator manifest's https_addr is not an ip:port address"))?;
        if !addr.ip().is_loopback() {
            return Err(bad(
                "the emulator manifest's https_addr is not a loopback address",
            ));
        }
        if m.hosts.is_empty() || m.hosts.iter().any(|h| h.trim().is_empty()) {
            return Err(bad(
                "the emulator manifest lists no hosts, or an empty host name",
            ));
        }
        if !m.ca_pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(bad(
                "the emulator manifest's ca_pem holds no PEM certificate",
            ));
        }
        for host in m.hosts {
            self = self.resolve(host, addr);
        }
        self.proxy = None;
        Ok(self
            .add_root_certificate_pem(m.ca_pem)
            .only_added_roots(true)
            .proxy_from_env(false))
    }

    /// Builds the client. Fails on an unparseable root certificate or proxy URL, or when the
    /// TLS configuration cannot be set up.
    pub fn build(self) -> Result<ReqwestHttpClient> {
        let mut certs = Vec::new();
        for pem in &self.roots {
            let parsed = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                Error::with_source(
                    ErrorKind::Configuration,
                    "a root certificate is not valid PEM",
                    e,
                )
            })?;
            if parsed.is_empty() {
                return Err(Error::new(
                    ErrorKind::Configuration,
                    "a root certificate PEM holds no certificate",
                ));
            }
            certs.extend(parsed);
        }
        let base = BaseConfig {
            certs,
            only_added_roots: self.only_added_roots,
            resolve: self.resolve,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
        };
        let mut b = base.builder();
        let may_proxy = match &self.proxy {
            Some(url) => {
                // The error would show the URL, credentials included: not kept as the source.
                let proxy = reqwest::Proxy::all(url.as_str()).map_err(|_| {
                    Error::new(ErrorKind::Configuration, "the proxy URL is not valid")
                })?;
                b = b.proxy(proxy);
                true
            }
            None if self.proxy_from_env => true,
            None => {
                b = b.no_proxy();
                false
            }
        };
        let client = build_client(b)?;
        Ok(ReqwestHttpClient {
            client,
            direct: may_proxy.then(|| {
                Arc::new(DirectClient {
                    base,
                    client: OnceLock::new(),
                })
            }),
            max_body_bytes: self.max_body_bytes,
        })
    }
}

impl ReqwestHttpClient {
    /// A client with the defaults: platform trust store, 30 s timeout, 1 MiB body cap, proxies
    /// from the environment.
    pub fn new() -> Result<ReqwestHttpClient> {
        ReqwestHttpClient::builder().build()
    }

    /// Starts configuring a client.
    pub fn builder() -> ReqwestHttpClientBuilder {
        ReqwestHttpClientBuilder::default()
    }

    /// Wraps a reqwest client configured elsewhere (e.g. with a pinned certificate), which
    /// must never use a proxy for the requests it is given.
    pub(crate) fn from_reqwest(client: reqwest::Client) -> ReqwestHttpClient {
        ReqwestHttpClient {
            client,
            direct: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// The client for `request`: the proxy-free one for local targets and [`BypassProxy`].
    fn client_for(&self, request: &http::Request<Vec<u8>>) -> Result<reqwest::Client> {
        match &self.direct {
            Some(direct)
                if request.extensions().get::<BypassProxy>().is_some()
                    || request.uri().host().is_some_and(is_local_host) =>
            {
                direct.get()
            }
            _ => Ok(self.client.clone()),
        }
    }
}

/// Whether a failed attempt may be sent once more: a connect failure (nothing reached the
/// server), or, for a safe method, the connection closed or reset before the response (not a
/// timeout).
fn retryable(e: &reqwest::Error, method: &reqwest::Method) -> bool {
    e.is_connect() || (method.is_safe() && e.is_request() && !e.is_timeout())
}

fn transport_error(e: reqwest::Error) -> Error {
    let what = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "could not connect to the identity provider"
    } else {
        "the request failed before a response"
    };
    Error::transport(what, e.without_url())
}

/// Sends `req`, and once more when the first attempt got no response.
async fn execute(client: &reqwest::Client, req: reqwest::Request) -> Result<reqwest::Response> {
    let again = req.try_clone();
    match client.execute(req).await {
        Ok(resp) => Ok(resp),
        Err(e) => match again {
            Some(again) if retryable(&e, again.method()) => {
                tracing::debug!(
                    connect = e.is_connect(),
                    "the request failed before a response; sending it once more"
                );
                client.execute(again).await.map_err(transport_error)
            }
            _ => Err(transport_error(e)),
        },
    }
}

#[async_trait]
impl HttpClient for ReqwestHttpClient {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>> {
        let client = self.client_for(&request)?;
        let req = reqwest::Request::try_from(request).map_err(|e| {
            Error::with_source(ErrorKind::InvalidInput, "the request is not valid", e)
        })?;
        let mut resp = execute(&client, req).await?;
        let mut builder = http::Response::builder()
            .status(resp.status())
            .version(resp.version());
        if let Some(h) = builder.headers_mut() {
            *h = std::mem::take(resp.headers_mut());
        }
        let mut body = Vec::new();
        loop {
            let chunk = resp.chunk().await.map_err(|e| {
                Error::transport("the response body could not be read", e.without_url())
            })?;
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(Error::invalid_response(format!(
                    "the response body exceeds {} bytes",
                    self.max_body_bytes
                ))
                .at_http_status(resp.status().as_u16()));
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body).map_err(|e| {
            Error::with_source(
                ErrorKind::InvalidResponse,
                "the response could not be assembled",
                e,
            )
        })
    }
}

#[async_trait]
impl<T: HttpClient + ?Sized> HttpClient for std::sync::Arc<T> {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>> {
        (**self).send(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    /// What the loopback server does with the n-th connection (from 0).
    #[derive(Clone, Copy)]
    enum Act {
        /// Reads the request, then closes without a byte of response.
        Drop,
        /// Answers with this status.
        Answer(u16),
    }

    /// A plain-HTTP server on loopback acting by connection number; returns its address and
    /// the number of connections accepted.
    async fn server(plan: fn(usize) -> Act) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let n = seen.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    // Read the head and the (small) body of one request.
                    let mut buf = vec![0u8; 8192];
                    let mut got = 0;
                    loop {
                        let Ok(r) = stream.read(&mut buf[got..]).await else {
                            return;
                        };
                        got += r;
                        let text = String::from_utf8_lossy(&buf[..got]);
                        if let Some(head_end) = text.find("\r\n\r\n") {
                            let len = text[..head_end]
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("content-length")
                                        .then(|| v.trim().parse::<usize>().ok())
                                        .flatten()
                                })
                                .unwrap_or(0);
                            if got >= head_end + 4 + len {
                                break;
                            }
                        }
                        if r == 0 {
                            return;
                        }
                    }
                    match plan(n) {
                        Act::Drop => drop(stream),
                        Act::Answer(status) => {
                            let body = r#"{"ok":true}"#;
                            let resp = format!(
                                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            );
                            let _ = stream.write_all(resp.as_bytes()).await;
                            let _ = stream.shutdown().await;
                        }
                    }
                });
            }
        });
        (addr, count)
    }

    fn post(addr: SocketAddr) -> http::Request<Vec<u8>> {
        http::Request::post(format!("http://{addr}/tenant/oauth2/v2.0/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(b"grant_type=client_credentials".to_vec())
            .expect("valid")
    }

    fn client() -> ReqwestHttpClient {
        ReqwestHttpClient::builder()
            .proxy_from_env(false)
            .build()
            .expect("builds")
    }

    fn get(addr: SocketAddr) -> http::Request<Vec<u8>> {
        http::Request::get(format!(
            "http://{addr}/tenant/v2.0/.well-known/openid-configuration"
        ))
        .body(Vec::new())
        .expect("valid")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_get_dropped_before_the_response_is_retried_once() {
        let (addr, connections) =
            server(|n| if n == 0 { Act::Drop } else { Act::Answer(200) }).await;
        let resp = client().send(get(addr)).await.expect("the retry answers");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.body(), br#"{"ok":true}"#);
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_post_the_server_received_is_not_sent_again() {
        let (addr, connections) =
            server(|n| if n == 0 { Act::Drop } else { Act::Answer(200) }).await;
        let e = client().send(post(addr)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert_eq!(connections.load(Ordering::SeqCst), 1, "no second POST");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_one_retry() {
        let (addr, connections) = server(|_| Act::Drop).await;
        let e = client().send(get(addr)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert_eq!(connections.load(Ordering::SeqCst), 2, "one try, one retry");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn statuses_are_never_retried() {
        for status in [500, 503, 429, 400] {
            let plan: fn(usize) -> Act = match status {
                500 => |_| Act::Answer(500),
                503 => |_| Act::Answer(503),
                429 => |_| Act::Answer(429),
                _ => |_| Act::Answer(400),
            };
            let (addr, connections) = server(plan).await;
            let resp = client().send(post(addr)).await.expect("a response");
            assert_eq!(resp.status().as_u16(), status);
            assert_eq!(connections.load(Ordering::SeqCst), 1, "HTTP {status}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_connection_is_retried_once_then_fails() {
        // Bind then close: nothing listens on the port.
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr")
        };
        let e = client().send(post(addr)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transport);
        assert!(e.to_string().contains("could not connect"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_response_timeout_is_not_retried() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&connections);
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                held.push(s); // never answers
            }
        });
        let http = ReqwestHttpClient::builder()
            .proxy_from_env(false)
            .timeout(Duration::from_millis(300))
            .build()
            .expect("builds");
        let e = http.send(post(addr)).await.unwrap_err();
        assert!(e.to_string().contains("timed out"), "{e}");
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn local_hosts_are_never_proxied() {
        for h in [
            "localhost",
            "LOCALHOST",
            "app.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "[::1]",
            "::1",
            "[fe80::1]",
            "0.0.0.0",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_local_host(h), "{h}");
        }
        for h in [
            "login.microsoftonline.com",
            "10.0.0.1",
            "192.168.1.1",
            "8.8.8.8",
            "[2001:db8::1]",
            "notlocalhost",
            "localhost.example.com",
        ] {
            assert!(!is_local_host(h), "{h}");
        }
    }

    #[test]
    fn a_bad_proxy_url_is_a_configuration_error_that_does_not_echo_it() {
        let e = ReqwestHttpClient::builder()
            .proxy("http://user:s3cr3t@[bad")
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration);
        assert!(!format!("{e} {e:?}").contains("s3cr3t"));
        let b = ReqwestHttpClient::builder().proxy("http://user:s3cr3t@proxy.example:3128");
        assert!(!format!("{b:?}").contains("s3cr3t"));
        let c = b.build().expect("builds");
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}

#[cfg(test)]
mod emulator_manifest_tests {
    use super::*;

    /// A real self-signed certificate (the test app's), standing in for the emulator's CA.
    const CA: &str = include_str!("../../../tests/emulator/fixtures/certs/app-cert.crt.pem");

    fn manifest(version: &str, addr: &str, hosts: &str, ca: &str) -> String {
        let mut m = serde_json::json!({
            "https_addr": addr,
            "admin_url": "http://127.0.0.1:9",
            "hosts": serde_json::from_str::<serde_json::Value>(hosts).expect("hosts JSON"),
            "ca_pem": ca,
            "seeds": {"apps": [{"secret": "not read"}]},
        });
        if !version.is_empty() {
            m["manifest_version"] = serde_json::from_str(version).expect("version JSON");
        }
        m.to_string()
    }

    #[test]
    fn a_version_1_manifest_resolves_every_host_and_trusts_only_its_ca() {
        let text = manifest(
            "1",
            "127.0.0.1:4443",
            r#"["login.microsoftonline.com","login.windows.net","localhost"]"#,
            CA,
        );
        let b = ReqwestHttpClient::builder()
            .proxy("http://proxy.example:3128")
            .timeout(Duration::from_secs(5))
            .trust_emulator(&format!("{text}\n"))
            .expect("a version 1 manifest is accepted");
        let addr: SocketAddr = "127.0.0.1:4443".parse().expect("addr");
        assert_eq!(
            b.resolve,
            [
                ("login.microsoftonline.com".to_owned(), addr),
                ("login.windows.net".to_owned(), addr),
                ("localhost".to_owned(), addr),
            ]
        );
        assert_eq!(b.roots, [CA.as_bytes().to_vec()]);
        assert!(b.only_added_roots);
        assert!(!b.proxy_from_env);
        assert!(
            b.proxy.is_none(),
            "a proxy would bypass the resolver overrides"
        );
        assert_eq!(b.timeout, Duration::from_secs(5), "other settings stay");
        let client = b.build().expect("the client builds with the CA");
        assert!(client.direct.is_none(), "never proxies");
    }

    #[test]
    fn anything_but_a_loopback_version_1_manifest_is_a_configuration_error() {
        let hosts = r#"["login.microsoftonline.com"]"#;
        let cases = [
            ("not JSON".to_owned(), "not an msal-emulator manifest"),
            ("[]".to_owned(), "not an msal-emulator manifest"),
            (
                r#"{"manifest_version":1,"https_addr":"127.0.0.1:1","hosts":[]}"#.to_owned(),
                "not an msal-emulator manifest",
            ),
            (
                manifest("", "127.0.0.1:1", hosts, CA),
                "no manifest_version",
            ),
            (
                manifest("2", "127.0.0.1:1", hosts, CA),
                "manifest_version 2",
            ),
            (
                manifest("\"1\"", "127.0.0.1:1", hosts, CA),
                "not an msal-emulator manifest",
            ),
            (
                manifest("1", "10.1.2.3:443", hosts, CA),
                "not a loopback address",
            ),
            (manifest("1", "localhost:443", hosts, CA), "not an ip:port"),
            (manifest("1", "127.0.0.1:1", "[]", CA), "no hosts"),
            (manifest("1", "127.0.0.1:1", r#"[" "]"#, CA), "no hosts"),
            (
                manifest("1", "127.0.0.1:1", hosts, ""),
                "no PEM certificate",
            ),
        ];
        for (text, expected) in cases {
            let err = ReqwestHttpClient::builder()
                .trust_emulator(&text)
                .expect_err(&text);
            assert_eq!(err.kind(), ErrorKind::Configuration, "{text}");
            assert!(
                err.to_string().contains(expected),
                "{text}: {err} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn a_manifest_with_a_broken_ca_fails_at_build() {
        let text = manifest(
            "1",
            "[::1]:4443",
            r#"["login.microsoftonline.com"]"#,
            "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
        );
        let b = ReqwestHttpClient::builder()
            .trust_emulator(&text)
            .expect("IPv6 loopback is loopback");
        let err = b.build().expect_err("the CA does not parse");
        assert_eq!(err.kind(), ErrorKind::Configuration);
    }
}

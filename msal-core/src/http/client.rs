//! The transport seam: [`HttpClient`] (http 1.x types in and out, nothing of reqwest in the
//! public API) and its default implementation over reqwest with rustls, [`ReqwestHttpClient`].

use std::fmt;
use std::net::SocketAddr;
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

/// The default [`HttpClient`]: reqwest over rustls (aws-lc-rs), with the platform's trust
/// store unless told otherwise, no redirects, timeouts and a response body cap.
#[derive(Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
    max_body_bytes: usize,
}

impl fmt::Debug for ReqwestHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestHttpClient")
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// Configures a [`ReqwestHttpClient`].
#[derive(Debug)]
pub struct ReqwestHttpClientBuilder {
    roots: Vec<Vec<u8>>,
    only_added_roots: bool,
    resolve: Vec<(String, SocketAddr)>,
    timeout: Duration,
    connect_timeout: Duration,
    max_body_bytes: usize,
    proxy_from_env: bool,
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

    /// Whether `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` from the environment are honoured
    /// (default true).
    pub fn proxy_from_env(mut self, yes: bool) -> Self {
        self.proxy_from_env = yes;
        self
    }

    /// Builds the client. Fails on an unparseable root certificate or when the TLS
    /// configuration cannot be set up.
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
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .tls_backend_rustls();
        b = if self.only_added_roots {
            b.tls_certs_only(certs)
        } else {
            b.tls_certs_merge(certs)
        };
        if !self.proxy_from_env {
            b = b.no_proxy();
        }
        for (host, addr) in &self.resolve {
            b = b.resolve(host, *addr);
        }
        let client = b.build().map_err(|e| {
            Error::with_source(
                ErrorKind::Configuration,
                "the HTTP client could not be built",
                e,
            )
        })?;
        Ok(ReqwestHttpClient {
            client,
            max_body_bytes: self.max_body_bytes,
        })
    }
}

impl ReqwestHttpClient {
    /// A client with the defaults: platform trust store, 30 s timeout, 1 MiB body cap.
    pub fn new() -> Result<ReqwestHttpClient> {
        ReqwestHttpClient::builder().build()
    }

    /// Starts configuring a client.
    pub fn builder() -> ReqwestHttpClientBuilder {
        ReqwestHttpClientBuilder::default()
    }
}

#[async_trait]
impl HttpClient for ReqwestHttpClient {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>> {
        let req = reqwest::Request::try_from(request).map_err(|e| {
            Error::with_source(ErrorKind::InvalidInput, "the request is not valid", e)
        })?;
        let mut resp = self.client.execute(req).await.map_err(|e| {
            let what = if e.is_timeout() {
                "the request timed out"
            } else if e.is_connect() {
                "could not connect to the identity provider"
            } else {
                "the request failed before a response"
            };
            Error::transport(what, e.without_url())
        })?;
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
                )));
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

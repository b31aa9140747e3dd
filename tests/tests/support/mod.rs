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
    Authority, ClientCredential, ConfidentialClient, DangerousOptions, Error, ErrorKind, TokenCache,
};
use msal_tests::emulator::{Emulator, EmulatorConfig, RecordedRequest, RequestFilter, seeds};

/// The transport of the tests: the default reqwest client, pointed at the emulator, refusing
/// every destination that is not one of the emulator's host names (which all resolve to
/// loopback), and counting what it sends.
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
        if !self.hosts.contains(&host) {
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
        let mut b = ReqwestHttpClient::builder()
            .add_root_certificate_pem(emulator.ca_pem())
            .only_added_roots(true)
            .proxy_from_env(false);
        for h in emulator.hosts() {
            b = b.resolve(*h, emulator.https_addr());
        }
        let transport = Arc::new(EmulatorTransport {
            inner: b.build().expect("the HTTP client builds"),
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
            .filter(|r| r.method == "GET")
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
        let b = ConfidentialClient::builder()
            .client_id(client_id)
            .credential(credential)
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

/// A manual clock starting at the system time (so the emulator, on system time, agrees).
pub fn clock() -> ManualClock {
    ManualClock::new()
}

/// Graph's `.default` scope.
pub const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

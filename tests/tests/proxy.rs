//! Proxies through the public API: identity-provider traffic goes through an HTTP CONNECT proxy
//! (the one given to the builder, or `HTTPS_PROXY` from the environment, `NO_PROXY` honoured)
//! with TLS end to end to the emulator, while IMDS and other loopback or link-local targets
//! never do.
//!
//! The proxy is a few lines of tokio written here, on loopback; it tunnels every CONNECT to the
//! emulator and records what it was asked. The environment variables are read by child
//! processes (this binary re-run on one `#[ignore]`d test), never set in this process.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use msal_core::http::{BypassProxy, HttpClient, ReqwestHttpClient};
use msal_core::{Authority, AzureRegion, ClientCredential, ConfidentialClient, DangerousOptions};
use msal_tests::emulator::seeds;
use support::{Env, GRAPH_DEFAULT, child_done, is_child, run_child_test};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy saw: one entry per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// `CONNECT host:port`, and whether the client then spoke TLS (a handshake record).
    Tunnel { target: String, tls: bool },
    /// Any other request line (a plain-HTTP request sent to the proxy), refused.
    Plain(String),
}

struct Proxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Proxy {
    /// A CONNECT proxy on loopback tunnelling every request to `upstream`.
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(tunnel(client, upstream, Arc::clone(&log)));
            }
        });
        Proxy { addr, seen }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn tunnels(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter_map(|s| match s {
                Seen::Tunnel { target, tls: true } => Some(target),
                _ => None,
            })
            .collect()
    }
}

async fn tunnel(mut client: TcpStream, upstream: SocketAddr, log: Arc<Mutex<Vec<Seen>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let line = text.lines().next().unwrap_or("").to_owned();
    let mut parts = line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        log.lock().expect("lock").push(Seen::Plain(line));
        let _ = client
            .write_all(
                b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        return;
    };
    let target = target.to_owned();
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    // The first byte the client sends through the tunnel: 0x16 opens a TLS handshake.
    let mut first = [0u8; 1];
    if client.read_exact(&mut first).await.is_err() {
        return;
    }
    log.lock().expect("lock").push(Seen::Tunnel {
        target,
        tls: first[0] == 0x16,
    });
    if server.write_all(&first).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// The HTTP client a user would build for the emulator: its CA only, and every host resolved
/// to it (so that nothing could leave loopback even if the proxy were skipped).
fn client_builder(env: &Env) -> msal_core::http::ReqwestHttpClientBuilder {
    let mut b = ReqwestHttpClient::builder()
        .add_root_certificate_pem(env.emulator.ca_pem())
        .only_added_roots(true);
    for h in env.emulator.hosts() {
        b = b.resolve(*h, env.emulator.https_addr());
    }
    b
}

fn auto_region_app(http: ReqwestHttpClient, imds_url: &str) -> ConfidentialClient {
    ConfidentialClient::builder(
        seeds::SECRET_APP_CLIENT_ID,
        ClientCredential::secret(seeds::SECRET_APP_SECRET),
    )
    .authority(Authority::tenant(seeds::CONTOSO_DOMAIN))
    .http_client(http)
    .azure_region(AzureRegion::AutoDetect)
    .dangerous(DangerousOptions::new().imds_endpoint(imds_url))
    .build()
    .expect("the app builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_traffic_tunnels_through_the_configured_proxy_and_imds_does_not() {
    let env = Env::start().await;
    let proxy = Proxy::start(env.emulator.https_addr()).await;
    let http = client_builder(&env)
        .proxy(proxy.url())
        .build()
        .expect("the client builds");
    let app = auto_region_app(http, env.emulator.imds_url());
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("a token through the proxy");
    assert_eq!(r.tenant(), seeds::CONTOSO_TENANT_ID);

    // Discovery went to the central host, the token request to the region IMDS named
    // (westus2 by default), both through TLS tunnels; IMDS went straight to its port.
    let tunnels = proxy.tunnels();
    assert!(
        tunnels.contains(&"login.microsoftonline.com:443".to_owned()),
        "{tunnels:?}"
    );
    assert!(
        tunnels.contains(&"westus2.login.microsoft.com:443".to_owned()),
        "{tunnels:?}"
    );
    assert!(
        proxy
            .seen()
            .iter()
            .all(|s| matches!(s, Seen::Tunnel { tls: true, .. })),
        "only TLS tunnels: {:?}",
        proxy.seen()
    );
    let admin = env.emulator.admin();
    assert_eq!(admin.imds_requests().await.expect("stats"), 1);
    let posts = env.token_requests().await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].host, "westus2.login.microsoft.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marked_and_local_requests_connect_directly() {
    let env = Env::start().await;
    let proxy = Proxy::start(env.emulator.https_addr()).await;
    let http = client_builder(&env)
        .proxy(proxy.url())
        .build()
        .expect("the client builds");
    let discovery = format!(
        "https://login.microsoftonline.com/{}/v2.0/.well-known/openid-configuration",
        seeds::CONTOSO_DOMAIN
    );
    let get = |bypass: bool| {
        let mut b = http::Request::get(discovery.as_str());
        if bypass {
            b = b.extension(BypassProxy);
        }
        b.body(Vec::new()).expect("a request")
    };
    // Marked: straight to the emulator (resolved), the proxy sees nothing.
    let resp = http.send(get(true)).await.expect("direct");
    assert_eq!(resp.status(), 200);
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
    // Unmarked: through the proxy.
    let resp = http.send(get(false)).await.expect("proxied");
    assert_eq!(resp.status(), 200);
    assert_eq!(proxy.tunnels(), ["login.microsoftonline.com:443"]);
    // A loopback target (here the emulator's IMDS) is never proxied, marked or not.
    let imds = http::Request::get(format!(
        "{}/metadata/instance/compute?api-version=2021-02-01",
        env.emulator.imds_url()
    ))
    .header("Metadata", "true")
    .body(Vec::new())
    .expect("a request");
    let resp = http.send(imds).await.expect("IMDS");
    assert_eq!(resp.status(), 200);
    assert_eq!(proxy.seen().len(), 1);
}

// ---------------------------------------------------------------- the environment (children)

/// Where a child finds the parent's emulator.
const EMU_HTTPS: &str = "MSAL_RS_TEST_EMULATOR_HTTPS";
const EMU_CA: &str = "MSAL_RS_TEST_EMULATOR_CA";
const EMU_IMDS: &str = "MSAL_RS_TEST_EMULATOR_IMDS";
const PROXY_VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

fn run_env_child(env: &Env, proxy: &Proxy, no_proxy: Option<&str>) {
    let https = env.emulator.https_addr().to_string();
    let ca = env.emulator.ca_pem_path().display().to_string();
    let url = proxy.url();
    // HTTP_PROXY too: the plain-http IMDS request would go to the proxy if it were not exempt.
    let mut set = vec![
        ("HTTPS_PROXY", url.as_str()),
        ("HTTP_PROXY", url.as_str()),
        (EMU_HTTPS, https.as_str()),
        (EMU_CA, ca.as_str()),
        (EMU_IMDS, env.emulator.imds_url()),
    ];
    if let Some(n) = no_proxy {
        set.push(("NO_PROXY", n));
    }
    run_child_test(
        "child_environment_proxy",
        &set,
        &[&PROXY_VARS[..], &["MSAL_FORCE_REGION", "REGION_NAME"]].concat(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_proxies_are_honoured_for_identity_traffic_only() {
    let env = Env::start().await;
    let proxy = Proxy::start(env.emulator.https_addr()).await;
    let admin = env.emulator.admin();

    tokio::task::block_in_place(|| run_env_child(&env, &proxy, None));
    let tunnels = proxy.tunnels();
    assert!(
        tunnels.contains(&"login.microsoftonline.com:443".to_owned())
            && tunnels.contains(&"westus2.login.microsoft.com:443".to_owned()),
        "{tunnels:?}"
    );
    assert!(
        proxy
            .seen()
            .iter()
            .all(|s| matches!(s, Seen::Tunnel { tls: true, .. })),
        "nothing but TLS tunnels (IMDS went direct): {:?}",
        proxy.seen()
    );
    assert_eq!(admin.imds_requests().await.expect("stats"), 1);

    // NO_PROXY covering the identity provider's hosts: nothing through the proxy.
    let before = proxy.seen().len();
    tokio::task::block_in_place(|| {
        run_env_child(
            &env,
            &proxy,
            Some("login.microsoftonline.com,login.microsoft.com"),
        )
    });
    assert_eq!(proxy.seen().len(), before, "{:?}", proxy.seen());
    assert_eq!(admin.imds_requests().await.expect("stats"), 2);
    assert_eq!(env.token_requests().await.len(), 2);
}

#[tokio::test]
#[ignore = "run by environment_proxies_are_honoured_for_identity_traffic_only in a child process"]
async fn child_environment_proxy() {
    if !is_child("child_environment_proxy") {
        return;
    }
    let var = |n: &str| std::env::var(n).unwrap_or_else(|_| panic!("{n} is set"));
    let https: SocketAddr = var(EMU_HTTPS).parse().expect("an address");
    let ca = std::fs::read(var(EMU_CA)).expect("the CA");
    // The default builder: proxies from the environment.
    let mut b = ReqwestHttpClient::builder()
        .add_root_certificate_pem(ca)
        .only_added_roots(true);
    for h in seeds::HOSTS {
        b = b.resolve(*h, https);
    }
    let app = auto_region_app(b.build().expect("the client builds"), &var(EMU_IMDS));
    let r = app
        .acquire_token_for_client(GRAPH_DEFAULT)
        .await
        .expect("a token");
    assert_eq!(r.tenant(), seeds::CONTOSO_TENANT_ID);
    child_done("child_environment_proxy");
}

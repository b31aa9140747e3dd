//! A private `redis-server` per test, on a free loopback port; stopped on drop. Optionally
//! with TLS (certificates generated here with rcgen), a password or ACL users, or as a node
//! of a Redis Cluster (see [`RedisCluster`]).

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    /// The plain-text port (for TLS servers: the admin port the tests use behind the store).
    pub port: u16,
    /// The TLS port, when started with [`Setup::tls`].
    pub tls_port: Option<u16>,
    child: Option<Child>,
    dir: PathBuf,
    setup: Setup,
}

/// How to start a server beyond the defaults.
#[derive(Clone, Default)]
pub struct Setup {
    /// Serve TLS with these files on a second port.
    pub tls: Option<TlsFiles>,
    /// Extra `redis-server` arguments (`--requirepass x`, `--cluster-enabled yes`, ...).
    pub args: Vec<String>,
    /// The password the test's own admin connection ([`RedisServer::conn`]) uses.
    pub admin_password: Option<String>,
}

/// A CA and a server certificate (for 127.0.0.1 and localhost) signed by it, as PEM files.
#[derive(Clone)]
pub struct TlsFiles {
    pub ca_pem: String,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Generates a fresh ECDSA P-256 CA and a server certificate signed by it into `dir`.
pub fn tls_files(dir: &std::path::Path) -> TlsFiles {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    std::fs::create_dir_all(dir).expect("create the TLS dir");
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "msal-cache-redis test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).expect("CA cert");
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("leaf params");
    leaf.distinguished_name.push(DnType::CommonName, "redis");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf cert");
    let files = TlsFiles {
        ca_pem: ca_cert.pem(),
        ca_file: dir.join("ca.pem"),
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server.key"),
    };
    std::fs::write(&files.ca_file, &files.ca_pem).expect("write CA");
    std::fs::write(&files.cert_file, leaf_cert.pem()).expect("write cert");
    std::fs::write(&files.key_file, leaf_key.serialize_pem()).expect("write key");
    files
}

/// A directory of this test binary's own for `name`.
pub fn test_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        next_id()
    ))
}

fn next_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    let port = listener.local_addr().expect("local addr").port();
    assert_ne!(port, 6379, "never the system Redis port");
    port
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    // A server with a password answers -NOAUTH: it is up all the same.
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH"))
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> RedisServer {
        RedisServer::start_with(Setup::default())
    }

    /// Starts a server with `setup` on free ports.
    pub fn start_with(setup: Setup) -> RedisServer {
        for _ in 0..5 {
            if let Some(server) = RedisServer::try_start(free_port(), &setup) {
                return server;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// Starts a server on `port` (e.g. again after [`kill`](Self::kill)).
    pub fn start_on(port: u16) -> RedisServer {
        for _ in 0..20 {
            if let Some(server) = RedisServer::try_start(port, &Setup::default()) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not start on port {port}");
    }

    fn try_start(port: u16, setup: &Setup) -> Option<RedisServer> {
        assert_ne!(port, 6379, "never the system Redis port");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("redis-{port}"));
        std::fs::create_dir_all(&dir).expect("create the redis dir");
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir);
        let mut tls_port = None;
        if let Some(tls) = &setup.tls {
            let p = free_port();
            tls_port = Some(p);
            command
                .args(["--tls-port", &p.to_string()])
                .arg("--tls-cert-file")
                .arg(&tls.cert_file)
                .arg("--tls-key-file")
                .arg(&tls.key_file)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca_file)
                .args(["--tls-auth-clients", "no"]);
        }
        let child = command
            .args(&setup.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not on PATH: run `cargo xtask ci` (which installs it) or \
                 `apt-get install redis-server`"
            ),
            Err(e) => panic!("cannot run redis-server: {e}"),
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if ping(port) {
                return Some(RedisServer {
                    port,
                    tls_port,
                    child: Some(child),
                    dir,
                    setup: setup.clone(),
                });
            }
            if let Ok(Some(_)) = child.try_wait() {
                return None; // port taken, most likely
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {sig} failed");
    }

    /// SIGSTOP: the server hangs (its socket still accepts connections).
    pub fn hang(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// The `rediss://` URL of the TLS port.
    pub fn tls_url(&self) -> String {
        format!(
            "rediss://127.0.0.1:{}/",
            self.tls_port.expect("started with TLS")
        )
    }

    /// A plain synchronous connection (with the admin password, if any), to look at keys
    /// behind the store's back.
    pub fn conn(&self) -> redis::Connection {
        let url = match &self.setup.admin_password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port),
            None => self.url(),
        };
        redis::Client::open(url)
            .expect("client")
            .get_connection()
            .expect("connect")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of `redis-server --cluster-enabled yes` nodes on loopback, created with
/// `redis-cli --cluster create`; stopped on drop.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// `primaries` primaries with `replicas` replicas each, every node in state ok.
    pub fn start(primaries: usize, replicas: usize) -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..primaries * (1 + replicas))
            .map(|_| {
                RedisServer::start_with(Setup {
                    args: [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "1000",
                        "--cluster-port",
                        &free_port().to_string(),
                    ]
                    .map(String::from)
                    .to_vec(),
                    ..Setup::default()
                })
            })
            .collect();
        let status = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)))
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli is on PATH (run `cargo xtask ci`, which checks for it)");
        assert!(status.success(), "redis-cli --cluster create failed");
        let cluster = RedisCluster { nodes };
        let t = Instant::now();
        while !cluster.nodes.iter().all(|n| n.cluster_ok()) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the cluster did not reach state ok"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    /// The seed URLs (every node).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The node currently serving `key` as primary (asking every live node).
    pub fn primary_of(&self, key: &str) -> &RedisServer {
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            let exists: redis::RedisResult<i64> =
                redis::cmd("EXISTS").arg(key).query(&mut node.conn());
            let role: redis::RedisResult<Vec<redis::Value>> =
                redis::cmd("ROLE").query(&mut node.conn());
            let primary = matches!(role, Ok(r) if matches!(r.first(), Some(redis::Value::BulkString(b)) if b == b"master"));
            if exists.is_ok() && primary {
                return node;
            }
        }
        panic!("no primary serves {key}");
    }
}

impl RedisServer {
    /// `CLUSTER INFO` says `cluster_state:ok`.
    pub fn cluster_ok(&self) -> bool {
        let info: redis::RedisResult<String> =
            redis::cmd("CLUSTER").arg("INFO").query(&mut self.conn());
        matches!(info, Ok(i) if i.contains("cluster_state:ok"))
    }

    /// This node's cluster id.
    pub fn node_id(&self) -> String {
        redis::cmd("CLUSTER")
            .arg("MYID")
            .query(&mut self.conn())
            .expect("CLUSTER MYID")
    }
}

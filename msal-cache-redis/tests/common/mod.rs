//! A private `redis-server` per test, on a free loopback port; stopped on drop.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: PathBuf,
}

fn free_port() -> u16 {
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
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> RedisServer {
        for _ in 0..5 {
            if let Some(server) = RedisServer::try_start(free_port()) {
                return server;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// Starts a server on `port` (e.g. again after [`kill`](Self::kill)).
    pub fn start_on(port: u16) -> RedisServer {
        for _ in 0..20 {
            if let Some(server) = RedisServer::try_start(port) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not start on port {port}");
    }

    fn try_start(port: u16) -> Option<RedisServer> {
        assert_ne!(port, 6379, "never the system Redis port");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("redis-{port}"));
        std::fs::create_dir_all(&dir).expect("create the redis dir");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
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
                    child: Some(child),
                    dir,
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

    /// A plain synchronous connection, to look at keys behind the store's back.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
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

//! Real servers for the collector's tests, each on a free loopback port and killed on drop:
//! `redis-server` (the protocol Valkey speaks) and moto's S3 server, both installed by
//! `scripts/servers install`. A missing server fails the test with that command; nothing skips.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HINT: &str = "install the test servers with `scripts/servers install`";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One server process.
pub struct Server {
    child: Child,
    /// Its loopback port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(
    mut cmd: Command,
    what: &str,
    dir: tempfile::TempDir,
    port: u16,
    ready: impl Fn(u16) -> bool,
) -> Server {
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}; {HINT}"));
    let mut s = Server {
        child,
        port,
        _dir: dir,
    };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(status)) = s.child.try_wait() {
            let log = std::fs::read_to_string(s._dir.path().join("log")).unwrap_or_default();
            panic!("{what} exited ({status}): {log}; {HINT}");
        }
        if ready(port) {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} not ready after 60 s");
}

/// redis-server, no persistence.
pub fn redis() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = Command::new("redis-server");
    cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .arg("--dir")
        .arg(dir.path());
    spawn(cmd, "redis-server", dir, port, |p| {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", p)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    })
}

/// moto's S3 server.
pub fn moto() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = Command::new("moto_server");
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    spawn(cmd, "moto_server", dir, port, |p| {
        http(p, "GET", "/", b"").0 == 200
    })
}

/// One HTTP/1.1 request to a loopback port; `(status, body)`. moto checks no signature but
/// wants an AWS-style Authorization header to treat the caller as an account.
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, Vec::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Length: {}\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0\r\n\r\n",
        body.len()
    );
    if s.write_all(head.as_bytes()).is_err() || s.write_all(body).is_err() {
        return (0, Vec::new());
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, Vec::new());
    };
    let status = String::from_utf8_lossy(&raw[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, raw[split + 4..].to_vec())
}

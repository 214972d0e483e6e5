//! Real servers on free loopback ports, started per test and killed on drop: `redis-server`
//! (Valkey's protocol) and moto's S3 server. A missing binary fails the test with the command
//! that installs it; nothing is skipped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where a missing server comes from.
const INSTALL_HINT: &str =
    "put the folder `scripts/servers install` prints on PATH (redis-server, moto_server)";
const READY_TIMEOUT: Duration = Duration::from_secs(40);

/// A port nothing listens on right now (bound to port 0, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn require(name: &str) -> PathBuf {
    on_path(name).unwrap_or_else(|| panic!("{name} not found on PATH: {INSTALL_HINT}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Redis { aof: bool },
    Moto,
}

/// One server process.
pub struct Server {
    kind: Kind,
    child: Option<Child>,
    /// Its loopback port.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    /// redis-server without persistence.
    pub fn redis() -> Server {
        Server::start(Kind::Redis { aof: false })
    }

    /// redis-server with an append-only file fsynced on every write, so a restart after
    /// `kill -9` shows exactly what the server had committed.
    pub fn redis_with_aof() -> Server {
        Server::start(Kind::Redis { aof: true })
    }

    /// moto's S3 server, with bucket `bucket` created.
    pub fn moto(bucket: &str) -> Server {
        let s = Server::start(Kind::Moto);
        let (status, _, body) = http(s.port, "PUT", &format!("/{bucket}"), &[], &[]);
        assert_eq!(
            status,
            200,
            "create bucket: {}",
            String::from_utf8_lossy(&body)
        );
        s
    }

    fn start(kind: Kind) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut s = Server {
            kind,
            child: None,
            port: free_port(),
            dir,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log file");
        let mut cmd = match self.kind {
            Kind::Redis { aof } => {
                let mut c = Command::new(require("redis-server"));
                c.args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
                    .args(["--save", "", "--protected-mode", "no"])
                    .arg("--dir")
                    .arg(self.dir.path())
                    // Room for 100 MB values and replies.
                    .args([
                        "--proto-max-bulk-len",
                        "1gb",
                        "--client-query-buffer-limit",
                        "1gb",
                    ]);
                if aof {
                    c.args(["--appendonly", "yes", "--appendfsync", "always"]);
                } else {
                    c.args(["--appendonly", "no"]);
                }
                c
            }
            Kind::Moto => {
                let mut c = Command::new(require("moto_server"));
                c.args(["-H", "127.0.0.1", "-p", &self.port.to_string()]);
                c
            }
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}; {INSTALL_HINT}", self.kind));
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < READY_TIMEOUT {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "{:?} exited at start ({status}): {}; {INSTALL_HINT}",
                    self.kind,
                    self.log()
                );
            }
            let ready = match self.kind {
                Kind::Redis { .. } => redis_ping(self.port),
                Kind::Moto => {
                    TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                        && http(self.port, "GET", "/", &[], &[]).0 == 200
                }
            };
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{:?} not ready after {READY_TIMEOUT:?}: {}",
            self.kind,
            self.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// `kill -9`, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and folder (the AOF, if any, is replayed).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn redis_ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// moto checks no signatures, but treats a request without credentials as anonymous and denies
/// it access to private objects.
const MOTO_AUTH: &str = "Authorization: AWS4-HMAC-SHA256 \
    Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";

/// One plain HTTP/1.1 request to a loopback port (moto accepts unsigned requests), read to
/// the end: `(status, headers, body)`. Used to look at objects without the client under test.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, Vec::new(), Vec::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n{MOTO_AUTH}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    if s.write_all(req.as_bytes()).is_err() || s.write_all(body).is_err() {
        return (0, Vec::new(), Vec::new());
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, Vec::new(), Vec::new());
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body);
    }
    (status, headers, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || data.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[(eol + 4 + size).min(data.len())..];
    }
    out
}

/// The S3 object at `key`, read directly from the server; `None` when absent.
pub fn s3_object(port: u16, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let (status, _, body) = http(port, "GET", &format!("/{bucket}/{key}"), &[], &[]);
    match status {
        200 => Some(body),
        404 => None,
        other => panic!("GET {key}: status {other}"),
    }
}

/// Writes an S3 object directly.
pub fn put_s3_object(port: u16, bucket: &str, key: &str, body: &[u8]) {
    let (status, _, _) = http(port, "PUT", &format!("/{bucket}/{key}"), &[], body);
    assert_eq!(status, 200, "PUT {key}");
}

/// The keys of the bucket (ListObjectsV2, one page).
pub fn s3_keys(port: u16, bucket: &str) -> Vec<String> {
    let (status, _, body) = http(port, "GET", &format!("/{bucket}?list-type=2"), &[], &[]);
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    text.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned()))
        .collect()
}

/// A synchronous connection for looking at Valkey directly.
pub fn redis_conn(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .expect("connect to redis")
}

/// The value at `key`, read directly.
pub fn redis_get(port: u16, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut redis_conn(port))
        .expect("GET")
}

/// Sets `key` directly.
pub fn redis_set(port: u16, key: &str, value: &[u8]) {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query::<()>(&mut redis_conn(port))
        .expect("SET");
}

/// Every key on the server.
pub fn redis_keys(port: u16) -> Vec<String> {
    redis::cmd("KEYS")
        .arg("*")
        .query(&mut redis_conn(port))
        .expect("KEYS")
}

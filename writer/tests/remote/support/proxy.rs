//! A loopback TCP proxy of our own that injects real network faults between the client under
//! test and a real server: it passes bytes through, stalls (timeouts), resets connections
//! mid-stream (transient errors), or stops listening (connection refused).
//!
//! Bounded: every thread polls a stop flag at least every 50 ms and the proxy joins them all on
//! drop; it only ever connects to 127.0.0.1.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the proxy does to each new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Pass,
    /// Accept and read, never forward, never answer.
    Stall,
    /// Forward up to this many bytes client-to-server, then reset both sides (TCP RST).
    ResetAfter(u64),
    /// Forward up to this many bytes client-to-server, then hold the connection open without
    /// forwarding more (the server waits mid-request).
    PauseAfter(u64),
}

struct Shared {
    mode: Mutex<Mode>,
    stop: AtomicBool,
    /// Client-to-server bytes forwarded, over all connections.
    forwarded: AtomicU64,
    accepted: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
    conns: Mutex<Vec<TcpStream>>,
}

/// A proxy from a free loopback port to `127.0.0.1:<upstream>`.
pub struct Proxy {
    /// The port clients connect to.
    pub port: u16,
    upstream: u16,
    shared: Arc<Shared>,
    listener: Option<JoinHandle<()>>,
}

const TICK: Duration = Duration::from_millis(50);

/// Sends RST instead of FIN when `s` closes.
fn reset(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a descriptor we own, with a correctly sized value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = s.shutdown(Shutdown::Both);
}

impl Proxy {
    /// Starts forwarding to `upstream` in `mode`.
    pub fn start(upstream: u16, mode: Mode) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            stop: AtomicBool::new(false),
            forwarded: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            threads: Mutex::new(Vec::new()),
            conns: Mutex::new(Vec::new()),
        });
        let mut p = Proxy {
            port,
            upstream,
            shared,
            listener: None,
        };
        p.listen(listener);
        p
    }

    fn listen(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).expect("nonblocking");
        let shared = Arc::clone(&self.shared);
        let upstream = self.upstream;
        self.listener = Some(std::thread::spawn(move || {
            while !shared.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        shared.accepted.fetch_add(1, Ordering::SeqCst);
                        let _ = client.set_nonblocking(false);
                        let s = Arc::clone(&shared);
                        let h = std::thread::spawn(move || serve(client, upstream, s));
                        shared.threads.lock().unwrap().push(h);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK / 5),
                    Err(_) => std::thread::sleep(TICK),
                }
            }
        }));
    }

    /// Changes what happens to connections from now on. Open connections are reset, so a
    /// client's pooled connection cannot bypass the new mode (as when a network starts failing).
    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
        self.reset_all();
    }

    /// Client-to-server bytes forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Stops listening and resets every open connection: new connections are refused.
    pub fn refuse(&mut self) {
        self.shutdown();
    }

    /// Listens again on the same port, in `mode`.
    pub fn reopen(&mut self, mode: Mode) {
        self.shutdown();
        self.shared.stop.store(false, Ordering::SeqCst);
        self.set_mode(mode);
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("rebind proxy port");
        self.listen(listener);
    }

    /// Resets every open connection (both sides).
    pub fn reset_all(&self) {
        for c in self.shared.conns.lock().unwrap().drain(..) {
            reset(&c);
        }
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.listener.take() {
            let _ = h.join();
        }
        self.reset_all();
        let threads: Vec<_> = self.shared.threads.lock().unwrap().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve(client: TcpStream, upstream: u16, shared: Arc<Shared>) {
    let mode = *shared.mode.lock().unwrap();
    let _ = client.set_read_timeout(Some(TICK));
    let _ = client.set_write_timeout(Some(Duration::from_secs(10)));
    if let Ok(c) = client.try_clone() {
        shared.conns.lock().unwrap().push(c);
    }
    if mode == Mode::Stall {
        let mut buf = [0u8; 64 * 1024];
        let mut client = client;
        while !shared.stop.load(Ordering::SeqCst) {
            match client.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        }
        return;
    }
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        // The server is gone: the client sees a reset, as it would through a load balancer.
        reset(&client);
        return;
    };
    let _ = server.set_read_timeout(Some(TICK));
    let _ = server.set_write_timeout(Some(Duration::from_secs(10)));
    if let Ok(s) = server.try_clone() {
        shared.conns.lock().unwrap().push(s);
    }
    // Server to client: plain copy on its own thread.
    let back = {
        let (Ok(mut from), Ok(mut to)) = (server.try_clone(), client.try_clone()) else {
            return;
        };
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || pump(&mut from, &mut to, &shared, None))
    };
    let (mut from, mut to) = (client, server);
    pump(&mut from, &mut to, &shared, Some(mode));
    let _ = back.join();
}

/// Copies `from` to `to` until EOF, an error or stop; `mode` applies client-to-server limits.
fn pump(from: &mut TcpStream, to: &mut TcpStream, shared: &Shared, mode: Option<Mode>) {
    let mut buf = [0u8; 64 * 1024];
    let mut sent: u64 = 0;
    let limit = match mode {
        Some(Mode::ResetAfter(n) | Mode::PauseAfter(n)) => Some(n),
        _ => None,
    };
    while !shared.stop.load(Ordering::SeqCst) {
        let room = limit.map_or(buf.len() as u64, |l| (l - sent).min(buf.len() as u64));
        if room == 0 {
            match mode {
                Some(Mode::ResetAfter(_)) => {
                    reset(from);
                    reset(to);
                    return;
                }
                _ => {
                    // Paused: hold both sides open until stop or reset.
                    std::thread::sleep(TICK);
                    continue;
                }
            }
        }
        match from.read(&mut buf[..room as usize]) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    reset(from);
                    return;
                }
                sent += n as u64;
                if mode.is_some() {
                    shared.forwarded.fetch_add(n as u64, Ordering::SeqCst);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                reset(to);
                return;
            }
        }
    }
}

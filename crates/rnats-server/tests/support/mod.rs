//! Helpers shared by the integration tests that speak the NATS client
//! protocol as raw bytes:
//!
//! - [`start_server`]: an rnats server in-process, on a random loopback port;
//! - [`RawClient`]: a plain TCP connection that checks the INFO greeting and
//!   then compares what the server sends, byte for byte;
//! - [`ReferenceServer`]: the reference `nats-server` binary as a child
//!   process, for differential tests.
//!
//! Every wait is bounded (by [`TIMEOUT`] unless a caller gives its own
//! limit) and waits for a concrete event, never for time to pass: a `PONG`
//! that answers a `PING` proves the server has processed everything sent
//! before that `PING`.
//!
//! Each test binary that declares `mod support;` compiles this module and
//! uses only part of it, hence the `dead_code` allowance below.
#![allow(dead_code)]

pub mod cluster;
pub mod logs;
pub mod shape;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rnats_server::{Options, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout, timeout_at};

/// How long any single expectation may wait before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

/// Starts an rnats server in-process with `opts`.
pub async fn start_server(opts: Options) -> Server {
    Server::start(opts)
        .await
        .expect("the in-process rnats server starts")
}

/// Starts an rnats server with the test defaults (loopback, random port).
pub async fn start_default_server() -> Server {
    start_server(Options::for_tests()).await
}

/// Waits until the server counts exactly `n` connected clients. The server
/// removes a client only once its connection is fully closed, so this is
/// how a test knows a disconnect has been processed.
pub async fn wait_for_client_count(server: &Server, n: usize) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let count = server.shared().client_count();
        if count == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server still counts {count} clients after {TIMEOUT:?}, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Waits until the server's global account holds exactly `n`
/// subscriptions (a closed client's subscriptions are removed as it closes).
pub async fn wait_for_subscription_count(server: &Server, n: usize) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let count = server.shared().subscription_count();
        if count == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server still holds {count} subscriptions after {TIMEOUT:?}, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

// ---------------------------------------------------------------------------
// Showing bytes in failure messages
// ---------------------------------------------------------------------------

/// Bytes as an escaped string (`\r\n` and non-ASCII bytes escaped), with
/// the middle of long inputs elided, for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 400;
    let escape = |b: &[u8]| -> String { b.escape_ascii().to_string() };
    if bytes.len() <= MAX {
        format!("b\"{}\" ({} bytes)", escape(bytes), bytes.len())
    } else {
        format!(
            "b\"{}…{}\" ({} bytes)",
            escape(&bytes[..MAX / 2]),
            escape(&bytes[bytes.len() - MAX / 2..]),
            bytes.len()
        )
    }
}

/// How many times `needle` occurs in `haystack` (non-overlapping).
pub fn count_occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    assert!(!needle.is_empty(), "count_occurrences needs a needle");
    let mut count = 0;
    let mut at = 0;
    while at + needle.len() <= haystack.len() {
        if &haystack[at..at + needle.len()] == needle {
            count += 1;
            at += needle.len();
        } else {
            at += 1;
        }
    }
    count
}

// ---------------------------------------------------------------------------
// RawClient
// ---------------------------------------------------------------------------

/// How a [`RawClient::read_until`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The server closed the connection (EOF or reset).
    Closed,
    /// The caller's condition was met; the connection is still open.
    Done,
    /// Neither happened within the limit.
    TimedOut,
}

/// What a [`RawClient::read_until`] received and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub end: End,
}

/// One `MSG` or `HMSG` delivered to a [`RawClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub subject: String,
    pub sid: String,
    pub reply: Option<String>,
    /// The header block of an `HMSG`; `None` for a `MSG`.
    pub headers: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

/// A client that speaks the protocol as raw bytes over TCP.
///
/// [`RawClient::connect`] reads and checks the INFO greeting; afterwards the
/// test sends bytes with [`RawClient::send`] and checks every byte that comes
/// back with [`RawClient::expect`] and friends. Bytes that arrived but were
/// not expected yet are kept for the next expectation, so nothing the server
/// sends goes unchecked by accident.
pub struct RawClient {
    stream: TcpStream,
    /// Received but not consumed by an expectation yet.
    pending: Vec<u8>,
    /// The INFO line, with its `\r\n`.
    info: Vec<u8>,
    /// EOF or a reset was seen.
    closed: bool,
}

impl RawClient {
    /// Connects to `addr` and reads the INFO greeting.
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| panic!("connecting to {addr} timed out"))
            .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        Self::greeted(stream).await
    }

    /// Connects with a small socket receive buffer, so that a client that
    /// does not read fills up quickly (for slow consumer tests).
    pub async fn connect_with_recv_buffer(addr: SocketAddr, bytes: u32) -> RawClient {
        let socket = TcpSocket::new_v4().expect("a TCP socket");
        socket
            .set_recv_buffer_size(bytes)
            .expect("the receive buffer size can be set");
        let stream = timeout(TIMEOUT, socket.connect(addr))
            .await
            .unwrap_or_else(|_| panic!("connecting to {addr} timed out"))
            .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        Self::greeted(stream).await
    }

    /// Connects, sends `CONNECT {"verbose":false}` and waits for it to be
    /// processed: a quiet client that only hears what it is sent.
    pub async fn connect_quiet(addr: SocketAddr) -> RawClient {
        Self::connect_quiet_with(addr, r#"{"verbose":false}"#).await
    }

    /// Like [`RawClient::connect_quiet`] with the given CONNECT JSON, which
    /// must turn verbose off.
    pub async fn connect_quiet_with(addr: SocketAddr, connect_json: &str) -> RawClient {
        assert!(
            connect_json.contains(r#""verbose":false"#),
            "connect_quiet_with needs a CONNECT that turns verbose off, got {connect_json}"
        );
        let mut client = Self::connect(addr).await;
        client
            .send(format!("CONNECT {connect_json}\r\n").as_bytes())
            .await;
        client.assert_open().await;
        client
    }

    async fn greeted(stream: TcpStream) -> RawClient {
        stream.set_nodelay(true).expect("TCP_NODELAY can be set");
        let mut client = RawClient {
            stream,
            pending: Vec::new(),
            info: Vec::new(),
            closed: false,
        };
        client.read_info().await;
        client
    }

    async fn read_info(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        let end = loop {
            if let Some(i) = self.pending.windows(2).position(|w| w == b"\r\n") {
                break i + 2;
            }
            if !self.fill(deadline).await {
                panic!(
                    "no complete INFO line before {}; received {}",
                    if self.closed { "close" } else { "timeout" },
                    show(&self.pending)
                );
            }
        };
        self.info = self.pending.drain(..end).collect();
        assert!(
            self.info.starts_with(b"INFO {") && self.info.ends_with(b"} \r\n"),
            "the greeting must look like `INFO {{...}} \\r\\n`, got {}",
            show(&self.info)
        );
    }

    /// The INFO line the server greeted with (including `\r\n`).
    pub fn info(&self) -> &[u8] {
        &self.info
    }

    /// Reads once into `pending`. False when nothing more will come before
    /// `deadline`: the connection closed (see `self.closed`) or time ran out.
    async fn fill(&mut self, deadline: Instant) -> bool {
        if self.closed {
            return false;
        }
        // Read straight into `pending` (a buffer on the stack would make
        // every future that awaits this one large).
        self.pending.reserve(64 * 1024);
        match timeout_at(deadline, self.stream.read_buf(&mut self.pending)).await {
            Err(_) => false,
            Ok(Ok(0)) => {
                self.closed = true;
                false
            }
            Ok(Ok(_)) => true,
            Ok(Err(e)) if is_disconnect(&e) => {
                self.closed = true;
                false
            }
            Ok(Err(e)) => panic!("reading from the server: {e}"),
        }
    }

    /// Sends `bytes`; fails the test if they cannot be written.
    pub async fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = self.try_send(bytes).await {
            panic!("sending {}: {e}", show(bytes));
        }
    }

    /// Sends `bytes`, reporting failure (the server may already have closed
    /// the connection: a test of an error that closes early sends with this).
    pub async fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match timeout(TIMEOUT, async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        })
        .await
        {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("writing {} bytes took over {TIMEOUT:?}", bytes.len()),
            )),
        }
    }

    /// Sends `bytes` one byte per write (TCP_NODELAY is on, so each byte
    /// leaves in its own segment and the server sees frames split at
    /// (almost) every boundary).
    pub async fn send_bytewise(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            if let Err(e) = self.try_send(std::slice::from_ref(b)).await {
                panic!("sending byte {i} of {}: {e}", show(bytes));
            }
        }
    }

    /// Closes the sending side: the server reads EOF.
    pub async fn shutdown_write(&mut self) {
        // The server may have closed first; then there is nothing to do.
        let _ = timeout(TIMEOUT, self.stream.shutdown()).await;
    }

    /// Waits until exactly `expected` has arrived, as the next bytes from
    /// the server. Fails at the first byte that differs, when the connection
    /// closes first, or after [`TIMEOUT`], showing what was received.
    pub async fn expect(&mut self, expected: &[u8]) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let n = self.pending.len().min(expected.len());
            assert!(
                self.pending[..n] == expected[..n],
                "expected {}\n but received {}",
                show(expected),
                show(&self.pending)
            );
            if self.pending.len() >= expected.len() {
                self.pending.drain(..expected.len());
                return;
            }
            if !self.fill(deadline).await {
                panic!(
                    "expected {}\n but the connection {} after {}",
                    show(expected),
                    if self.closed {
                        "closed".to_string()
                    } else {
                        format!("stayed silent for {TIMEOUT:?}")
                    },
                    show(&self.pending)
                );
            }
        }
    }

    /// Reads until `done` says the bytes received so far (including any not
    /// yet consumed) are enough, the connection closes, or `limit` passes.
    /// Consumes everything it returns.
    pub async fn read_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&[u8]) -> bool,
    ) -> Received {
        let deadline = Instant::now() + limit;
        let end = loop {
            if done(&self.pending) {
                break End::Done;
            }
            if !self.fill(deadline).await {
                break if self.closed {
                    End::Closed
                } else {
                    End::TimedOut
                };
            }
        };
        Received {
            bytes: std::mem::take(&mut self.pending),
            end,
        }
    }

    /// Everything the server sends until it closes the connection (EOF or
    /// reset). Fails if it is still open after [`TIMEOUT`].
    pub async fn read_until_closed(&mut self) -> Vec<u8> {
        let received = self.read_until(TIMEOUT, |_| false).await;
        assert_eq!(
            received.end,
            End::Closed,
            "expected the server to close the connection within {TIMEOUT:?}; it is still open after sending {}",
            show(&received.bytes)
        );
        received.bytes
    }

    /// Asserts that the server sends exactly `expected` and then closes.
    pub async fn expect_closed_with(&mut self, expected: &[u8]) {
        let received = self.read_until_closed().await;
        assert!(
            received == expected,
            "expected {} and a close\n but received {} before the close",
            show(expected),
            show(&received)
        );
    }

    /// Sends `PING` and expects `PONG` as the very next bytes: the
    /// connection is open and the server has processed everything sent
    /// before (and had nothing else to say).
    pub async fn assert_open(&mut self) {
        self.send(b"PING\r\n").await;
        self.expect(b"PONG\r\n").await;
    }

    /// Reads the next `MSG` or `HMSG` frame; fails on anything else.
    pub async fn next_msg(&mut self) -> Msg {
        let deadline = Instant::now() + TIMEOUT;
        let line_end = loop {
            if let Some(i) = self.pending.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if !self.fill(deadline).await {
                panic!(
                    "expected a MSG, but the connection {} after {}",
                    if self.closed { "closed" } else { "went silent" },
                    show(&self.pending)
                );
            }
        };
        let line = String::from_utf8(self.pending[..line_end].to_vec())
            .unwrap_or_else(|_| panic!("non-UTF-8 control line in {}", show(&self.pending)));
        let args: Vec<&str> = line.split(' ').collect();
        let number = |s: &str| -> usize {
            s.parse()
                .unwrap_or_else(|_| panic!("bad size {s:?} in control line {line:?}"))
        };
        let (subject, sid, reply, header_len, total) = match args.as_slice() {
            ["MSG", s, id, n] => (*s, *id, None, None, number(n)),
            ["MSG", s, id, r, n] => (*s, *id, Some(*r), None, number(n)),
            ["HMSG", s, id, h, n] => (*s, *id, None, Some(number(h)), number(n)),
            ["HMSG", s, id, r, h, n] => (*s, *id, Some(*r), Some(number(h)), number(n)),
            _ => panic!(
                "expected a MSG or HMSG, got the line {line:?} in {}",
                show(&self.pending)
            ),
        };
        let start = line_end + 2;
        let frame_end = start + total + 2;
        while self.pending.len() < frame_end {
            if !self.fill(deadline).await {
                panic!(
                    "the payload of {line:?} did not arrive whole: {}",
                    show(&self.pending)
                );
            }
        }
        assert_eq!(
            &self.pending[frame_end - 2..frame_end],
            b"\r\n",
            "the payload of {line:?} must end with CRLF: {}",
            show(&self.pending)
        );
        let body = &self.pending[start..start + total];
        let msg = Msg {
            subject: subject.to_string(),
            sid: sid.to_string(),
            reply: reply.map(str::to_string),
            headers: header_len.map(|h| body[..h].to_vec()),
            payload: body[header_len.unwrap_or(0)..].to_vec(),
        };
        self.pending.drain(..frame_end);
        msg
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

// ---------------------------------------------------------------------------
// The reference nats-server
// ---------------------------------------------------------------------------

/// Where the reference server is looked for after `$PATH`.
const REFERENCE_FALLBACKS: [&str; 2] = ["/usr/sbin/nats-server", "/usr/bin/nats-server"];
/// Set to `1` to let tests that need the reference server pass without it.
pub const SKIP_REFERENCE_ENV: &str = "RNATS_SKIP_REFERENCE";

/// The reference `nats-server` running as a child process on a free
/// loopback port. Dropping it kills that process (and only that one).
pub struct ReferenceServer {
    child: Child,
    addr: SocketAddr,
    /// Files this instance created (config, log), removed on drop.
    files: Vec<PathBuf>,
}

impl ReferenceServer {
    /// The reference binary: `nats-server` on `$PATH`, else
    /// `/usr/sbin/nats-server`. `None` only when it is missing and
    /// `RNATS_SKIP_REFERENCE=1`; missing otherwise fails the test, and so
    /// does a binary that is not nats-server 2.9.
    pub fn binary() -> Option<PathBuf> {
        static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
        FOUND.get_or_init(Self::find_binary).clone()
    }

    fn find_binary() -> Option<PathBuf> {
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|dir| dir.join("nats-server"));
        let fallbacks = REFERENCE_FALLBACKS.iter().map(PathBuf::from);
        let Some(found) = on_path.chain(fallbacks).find(|p| p.is_file()) else {
            if std::env::var(SKIP_REFERENCE_ENV).as_deref() == Ok("1") {
                eprintln!("reference nats-server not found; skipped ({SKIP_REFERENCE_ENV}=1)");
                return None;
            }
            panic!(
                "the reference nats-server (v2.9.x) is needed for this test but was not found \
                 on $PATH nor at {REFERENCE_FALLBACKS:?}. Install it (`apt-get install \
                 nats-server`, as .ci/run does) or set {SKIP_REFERENCE_ENV}=1 to skip."
            );
        };
        let version = Command::new(&found)
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("running {} --version: {e}", found.display()));
        let version = String::from_utf8_lossy(&version.stdout);
        assert!(
            version.contains("v2.9."),
            "{} is not nats-server 2.9 (it says {:?}); the differential tests compare \
             against 2.9",
            found.display(),
            version.trim()
        );
        Some(found)
    }

    /// Current nats-server (2.15.1), the reference for monitoring, reload
    /// and everything newer than 2.9: `$RNATS_REFERENCE_LATEST`, else what
    /// `scripts/nats-server-latest.sh` downloads (once, into
    /// `target/reference/`). `None` only when that fails and
    /// `RNATS_SKIP_REFERENCE=1`.
    pub fn latest_binary() -> Option<PathBuf> {
        static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
        FOUND
            .get_or_init(|| {
                if let Some(path) = std::env::var_os("RNATS_REFERENCE_LATEST") {
                    return Some(PathBuf::from(path));
                }
                let script = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../scripts/nats-server-latest.sh");
                let fetched = Command::new("bash").arg(&script).output();
                match fetched {
                    Ok(out) if out.status.success() => Some(PathBuf::from(
                        String::from_utf8_lossy(&out.stdout).trim().to_string(),
                    )),
                    _ if std::env::var(SKIP_REFERENCE_ENV).as_deref() == Ok("1") => {
                        eprintln!(
                            "nats-server 2.15.1 unavailable; skipped ({SKIP_REFERENCE_ENV}=1)"
                        );
                        None
                    }
                    Ok(out) => panic!(
                        "{} failed: {}",
                        script.display(),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                    Err(e) => panic!("running {}: {e}", script.display()),
                }
            })
            .clone()
    }

    /// Starts the reference with `-a 127.0.0.1 -p <free port>` and `args`.
    /// `None` when the binary is missing and skipping is allowed.
    pub async fn start(args: &[&str]) -> Option<ReferenceServer> {
        Self::start_inner(None, args).await
    }

    /// Starts current nats-server (see [`ReferenceServer::latest_binary`])
    /// with a config file holding `config` and `args`.
    pub async fn start_latest(config: &str, args: &[&str]) -> Option<ReferenceServer> {
        let binary = Self::latest_binary()?;
        Self::start_binary(&binary, Some(config), args).await
    }

    /// Starts the reference with a config file holding `config` (plus the
    /// free port on the command line, which overrides the file).
    pub async fn start_with_config(config: &str) -> Option<ReferenceServer> {
        Self::start_inner(Some(config), &[]).await
    }

    /// Starts the current release (see [`Self::latest_binary`]) with a
    /// config file holding `config`, as [`Self::start_with_config`] starts 2.9.
    pub async fn start_latest_with_config(config: &str) -> Option<ReferenceServer> {
        Self::start_latest(config, &[]).await
    }

    async fn start_inner(config: Option<&str>, args: &[&str]) -> Option<ReferenceServer> {
        let binary = Self::binary()?;
        Self::start_binary(&binary, config, args).await
    }

    async fn start_binary(
        binary: &Path,
        config: Option<&str>,
        args: &[&str],
    ) -> Option<ReferenceServer> {
        // A port picked this way may be taken by someone else before the
        // reference binds it; then the child exits and we try another.
        const ATTEMPTS: usize = 5;
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let port = free_port();
            let stem = unique_stem(port);
            let log = std::env::temp_dir().join(format!("{stem}.log"));
            let mut files = vec![log.clone()];
            let mut command = Command::new(binary);
            if let Some(config) = config {
                let path = std::env::temp_dir().join(format!("{stem}.conf"));
                std::fs::write(&path, config)
                    .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
                command.arg("-c").arg(&path);
                files.push(path);
            }
            let log_file = std::fs::File::create(&log)
                .unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
            command
                .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            let mut server = ReferenceServer {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                files,
            };
            match server.wait_ready().await {
                Ok(()) => return Some(server),
                Err(why) => failures.push(format!("port {port}: {why}")),
            }
            // `server` is dropped here: the child is killed and reaped.
        }
        panic!(
            "the reference nats-server did not start in {ATTEMPTS} attempts:\n{}",
            failures.join("\n")
        );
    }

    /// Polls until the child accepts a connection and greets with its INFO.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("exited with {status}; log:\n{}", self.log()));
            }
            if let Ok(Ok(mut stream)) = timeout(TIMEOUT, TcpStream::connect(self.addr)).await {
                let mut info = Vec::with_capacity(4096);
                while !info.ends_with(b"\r\n") {
                    match timeout_at(deadline, stream.read_buf(&mut info)).await {
                        Ok(Ok(n)) if n > 0 => {}
                        _ => break,
                    }
                }
                // Someone else may hold the port: check that it is ours.
                let ours = format!("\"port\":{}", self.addr.port());
                let info = String::from_utf8_lossy(&info);
                if info.starts_with("INFO {") && info.contains(&ours) {
                    if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                        return Err(format!(
                            "another server answered on the port; ours exited with {status}"
                        ));
                    }
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("not ready after {TIMEOUT:?}; log:\n{}", self.log()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the reference has logged so far (its stderr).
    pub fn log(&self) -> String {
        self.files
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "log"))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The config file it was started with, for a test to rewrite before
    /// it signals a reload.
    pub fn config_path(&self) -> Option<&std::path::Path> {
        self.files
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "conf"))
            .map(PathBuf::as_path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        // Kill only the child we started, and reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// A file name stem unique to this process, call and port.
fn unique_stem(port: u16) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("rnats-reference-{}-{n}-{port}", std::process::id())
}

/// A plain HTTP/1.0 GET over a real socket: (status code, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = timeout(TIMEOUT, TcpStream::connect(addr))
        .await
        .unwrap_or_else(|_| panic!("connecting to {addr} timed out"))
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("sending the request");
    let mut response = Vec::new();
    timeout(TIMEOUT, stream.read_to_end(&mut response))
        .await
        .unwrap_or_else(|_| panic!("GET {path}: no complete answer in time"))
        .expect("reading the answer");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("GET {path}: no header end in {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: no status in {head:?}"));
    (status, body.to_string())
}

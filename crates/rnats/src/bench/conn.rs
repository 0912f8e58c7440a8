//! A blocking NATS client connection over a plain `std` TCP socket: the server address and
//! credentials ([`Endpoint`]), the login (`INFO` → `CONNECT` + `PING` → `PONG`) and a read
//! buffer that hands out complete server operations ([`Conn::read_ops`]).
//!
//! Blocking sockets on dedicated threads keep the client cheap: one `write` per batch, one
//! `read` per buffer-full, no readiness polling.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::BenchError;
use super::proto::{self, Op};
use super::tls::Stream;
use std::sync::Arc;

/// The default server.
pub const DEFAULT_SERVER: &str = "nats://127.0.0.1:4222";

/// Where to connect and how to log in.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The URL as given, without credentials (for reports).
    pub display: String,
    pub addrs: Vec<SocketAddr>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// The host name, for TLS server-name checks.
    pub host: String,
    /// TLS, from a `tls://` URL or `--tls-ca`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Endpoint {
    /// Reads `nats://[user:password@|token@]host[:port]` (the scheme and the port may be left
    /// out); credentials given as options win over those in the URL.
    pub fn parse(
        url: &str,
        user: Option<&str>,
        password: Option<&str>,
        token: Option<&str>,
    ) -> Result<Endpoint, BenchError> {
        let bad = |why: &str| BenchError::Usage(format!("bad server URL {url:?}: {why}"));
        let rest = match url.split_once("://") {
            Some((scheme, rest)) => {
                if !matches!(scheme, "nats" | "tcp" | "tls") {
                    return Err(bad("use nats:// or tls://"));
                }
                rest
            }
            None => url,
        };
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, rest),
        };
        let (mut url_user, mut url_password, mut url_token) = (None, None, None);
        if let Some(userinfo) = userinfo {
            match userinfo.split_once(':') {
                Some((u, p)) => {
                    url_user = Some(u.to_string());
                    url_password = Some(p.to_string());
                }
                None => url_token = Some(userinfo.to_string()),
            }
        }
        if hostport.is_empty() {
            return Err(bad("no host"));
        }
        let with_port = if hostport.starts_with('[') {
            // [v6] or [v6]:port
            if hostport.ends_with(']') {
                format!("{hostport}:4222")
            } else {
                hostport.to_string()
            }
        } else if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!("{hostport}:4222")
        };
        let addrs: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .map_err(|e| bad(&e.to_string()))?
            .collect();
        if addrs.is_empty() {
            return Err(bad("the host has no address"));
        }
        let host = with_port
            .rsplit_once(':')
            .map_or(with_port.as_str(), |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Ok(Endpoint {
            host,
            tls: None,
            display: format!("nats://{with_port}"),
            addrs,
            user: user.map(str::to_string).or(url_user),
            password: password.map(str::to_string).or(url_password),
            token: token.map(str::to_string).or(url_token),
        })
    }

    /// The `CONNECT` line and a `PING`, ready to send.
    pub fn connect_frame(&self, name: &str, headers: bool) -> Vec<u8> {
        let connect = ConnectBody {
            verbose: false,
            pedantic: false,
            tls_required: false,
            name,
            lang: "rust-rnats-bench",
            version: env!("CARGO_PKG_VERSION"),
            protocol: 1,
            echo: true,
            headers,
            no_responders: headers,
            user: self.user.as_deref(),
            pass: self.password.as_deref(),
            auth_token: self.token.as_deref(),
        };
        let mut frame = b"CONNECT ".to_vec();
        serde_json::to_writer(&mut frame, &connect).expect("CONNECT serializes");
        frame.extend_from_slice(b"\r\nPING\r\n");
        frame
    }
}

#[derive(Serialize)]
struct ConnectBody<'a> {
    verbose: bool,
    pedantic: bool,
    tls_required: bool,
    name: &'a str,
    lang: &'a str,
    version: &'a str,
    protocol: u8,
    echo: bool,
    headers: bool,
    no_responders: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pass: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_token: Option<&'a str>,
}

/// What the benchmark looks at in the server's `INFO`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServerInfo {
    pub server_id: String,
    pub version: String,
    pub max_payload: u64,
    pub headers: bool,
    pub tls_required: bool,
    pub auth_required: bool,
}

/// A connection with its read buffer.
pub struct Conn {
    pub stream: Stream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    pongs_to_send: usize,
}

/// What one [`Conn::read_ops`] call saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadResult {
    /// Some bytes were read and every complete operation was handed over.
    Data,
    /// The read timed out before any byte came.
    TimedOut,
}

impl Conn {
    /// Connects, reads `INFO`, sends `CONNECT` + `PING` (`connect_frame`) and waits for the
    /// `PONG`, with `timeout` for each step.
    pub fn login(
        endpoint: &Endpoint,
        connect_frame: &[u8],
        buf_size: usize,
        timeout: Duration,
    ) -> Result<(Conn, ServerInfo), BenchError> {
        let stream = connect_any(&endpoint.addrs, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        let mut conn = Conn {
            stream: Stream::Plain(stream),
            buf: vec![0; buf_size.max(4096)],
            start: 0,
            end: 0,
            pongs_to_send: 0,
        };
        let mut info = None;
        while info.is_none() {
            conn.read_until(timeout, "the server's INFO", |op| match op {
                Op::Info(json) => {
                    info = Some(serde_json::from_slice::<ServerInfo>(json).map_err(|e| {
                        BenchError::Protocol(format!("bad INFO from the server: {e}"))
                    })?);
                    Ok(true)
                }
                Op::Err(text) => Err(server_error(text)),
                _ => Ok(false),
            })?;
        }
        let info = info.expect("INFO was read");
        match (&endpoint.tls, info.tls_required) {
            (Some(config), _) => {
                let plain = std::mem::replace(&mut conn.stream, Stream::Upgrading);
                conn.stream = plain.start_tls(config, &endpoint.host)?;
            }
            (None, true) => {
                return Err(BenchError::Usage(
                    "the server requires TLS: give --tls-ca with the CA of its certificate".into(),
                ));
            }
            (None, false) => {}
        }
        conn.stream.write_all(connect_frame)?;
        conn.read_until(timeout, "the PONG for the login", |op| match op {
            Op::Pong => Ok(true),
            Op::Err(text) => Err(server_error(text)),
            _ => Ok(false),
        })?;
        Ok((conn, info))
    }

    /// Sets how long a read may block (`None`: for ever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// Writes all of `bytes`.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Waits until a `MSG` on `subject` arrives (other operations are
    /// skipped), for at most `timeout`; true if one came.
    pub fn wait_for_msg_on(
        &mut self,
        subject: &str,
        timeout: Duration,
    ) -> Result<bool, BenchError> {
        match self.read_until(timeout, "a readiness probe", |op| {
            Ok(matches!(op, Op::Msg(m) if m.args.split(|b| *b == b' ').next() == Some(subject.as_bytes())))
        }) {
            Ok(()) => Ok(true),
            Err(BenchError::Timeout(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sends `UNSUB sid` and a `PING`, and waits for the `PONG`, skipping
    /// whatever else arrives before it.
    pub fn unsubscribe(&mut self, sid: u64, timeout: Duration) -> Result<(), BenchError> {
        self.stream
            .write_all(format!("UNSUB {sid}\r\nPING\r\n").as_bytes())?;
        self.read_until(timeout, "the PONG after UNSUB", |op| match op {
            Op::Pong => Ok(true),
            Op::Err(text) => Err(server_error(text)),
            _ => Ok(false),
        })
    }

    /// Sends `SUB subject [queue] sid` and a `PING`, and waits for the `PONG`: once it is
    /// back, the server has registered the subscription.
    pub fn subscribe(
        &mut self,
        subject: &str,
        queue: Option<&str>,
        sid: u64,
        timeout: Duration,
    ) -> Result<(), BenchError> {
        let line = match queue {
            Some(queue) => format!("SUB {subject} {queue} {sid}\r\nPING\r\n"),
            None => format!("SUB {subject} {sid}\r\nPING\r\n"),
        };
        self.stream.write_all(line.as_bytes())?;
        self.read_until(timeout, "the PONG after SUB", |op| match op {
            Op::Pong => Ok(true),
            Op::Err(text) => Err(server_error(text)),
            _ => Ok(false),
        })
    }

    /// Reads until `f` returns true for an operation; a timeout is an error naming `what`.
    /// Operations after the one `f` accepted stay in the buffer.
    fn read_until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut f: impl FnMut(Op<'_>) -> Result<bool, BenchError>,
    ) -> Result<(), BenchError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            while let Some((op, used)) = proto::parse(&self.buf[self.start..self.end])? {
                let done = f(op)?;
                if op == Op::Ping {
                    self.stream.write_all(b"PONG\r\n")?;
                }
                self.start += used;
                if done {
                    return Ok(());
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(BenchError::Timeout(format!("no {what} within {timeout:?}")));
            }
            match self.fill() {
                Ok(0) => return Err(BenchError::Closed(format!("while waiting for {what}"))),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// One `read` (blocking up to the read timeout), then `f` for every complete operation in
    /// the buffer. Answers the server's `PING`s. End of stream is an error.
    pub fn read_ops(
        &mut self,
        mut f: impl FnMut(Op<'_>) -> Result<(), BenchError>,
    ) -> Result<ReadResult, BenchError> {
        match self.fill() {
            Ok(0) => return Err(BenchError::Closed("by the server".into())),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => return Ok(ReadResult::TimedOut),
            Err(e) => return Err(e.into()),
        }
        let mut pos = self.start;
        let end = self.end;
        while let Some((op, used)) = proto::parse(&self.buf[pos..end])? {
            if op == Op::Ping {
                self.pongs_to_send += 1;
            }
            f(op)?;
            pos += used;
        }
        self.start = pos;
        if self.pongs_to_send > 0 {
            let pongs = b"PONG\r\n".repeat(self.pongs_to_send);
            self.pongs_to_send = 0;
            self.stream.write_all(&pongs)?;
        }
        Ok(ReadResult::Data)
    }

    /// Makes room and reads once into the buffer; returns the bytes read (0 at end of stream).
    fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 && self.buf.len() - self.end < self.buf.len() / 4 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // One frame is larger than the whole buffer: grow it.
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Connects to the first address that answers.
fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, BenchError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(BenchError::Connect(
        last.map_or_else(|| "no address".into(), |e| e.to_string()),
    ))
}

/// A read timeout, as `std` reports it on Unix.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A `-ERR` from the server as an error.
pub fn server_error(text: &[u8]) -> BenchError {
    BenchError::Server(String::from_utf8_lossy(text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_and_without_credentials() {
        let e = Endpoint::parse("nats://127.0.0.1:4333", None, None, None).unwrap();
        assert_eq!(e.display, "nats://127.0.0.1:4333");
        assert_eq!(e.addrs, vec!["127.0.0.1:4333".parse().unwrap()]);
        assert!(e.user.is_none() && e.token.is_none());

        let e = Endpoint::parse("nats://bob:s3cret@127.0.0.1", None, None, None).unwrap();
        assert_eq!(e.addrs, vec!["127.0.0.1:4222".parse().unwrap()]);
        assert_eq!(e.user.as_deref(), Some("bob"));
        assert_eq!(e.password.as_deref(), Some("s3cret"));

        let e = Endpoint::parse("127.0.0.1:5000", None, None, Some("tok")).unwrap();
        assert_eq!(e.addrs, vec!["127.0.0.1:5000".parse().unwrap()]);
        assert_eq!(e.token.as_deref(), Some("tok"));

        let e = Endpoint::parse("nats://t0k@[::1]:4222", Some("u"), Some("p"), None).unwrap();
        assert_eq!(e.addrs, vec!["[::1]:4222".parse().unwrap()]);
        assert_eq!(e.token.as_deref(), Some("t0k"));
        assert_eq!(e.user.as_deref(), Some("u"));

        let e = Endpoint::parse("tls://localhost:4222", None, None, None).unwrap();
        assert_eq!(
            e.host, "localhost",
            "the name TLS checks the certificate against"
        );
        assert!(Endpoint::parse("http://127.0.0.1:4222", None, None, None).is_err());
        assert!(Endpoint::parse("nats://", None, None, None).is_err());
    }

    #[test]
    fn connect_frame_carries_only_the_given_credentials() {
        let e = Endpoint::parse("nats://127.0.0.1:1", Some("u"), Some("p"), None).unwrap();
        let frame = String::from_utf8(e.connect_frame("x", false)).unwrap();
        assert!(frame.starts_with("CONNECT {"), "{frame}");
        assert!(frame.ends_with("}\r\nPING\r\n"), "{frame}");
        assert!(frame.contains(r#""user":"u","pass":"p""#), "{frame}");
        assert!(!frame.contains("auth_token"), "{frame}");
        assert!(frame.contains(r#""verbose":false"#), "{frame}");
    }
}

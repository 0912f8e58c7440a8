//! A current nats-server (2.15) as a child process, for the tests of `rnats server …` and
//! `rnats top`, which need its system account services and monitoring port (the Debian
//! 2.9 the server's differential tests use is older than the JSON these commands read).
//!
//! The binary is found as the server's tests find it: `$RNATS_REFERENCE_LATEST`, else what
//! `scripts/nats-server-latest.sh` downloads (once, into `target/reference/`). When neither
//! gives one, a test prints why and passes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The environment variable naming the binary.
pub const LATEST_ENV: &str = "RNATS_REFERENCE_LATEST";
/// How long the server may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The binary, or `None` (with the reason printed) when it cannot be had.
pub fn binary() -> Option<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        if let Some(path) = std::env::var_os(LATEST_ENV) {
            return Ok(PathBuf::from(path));
        }
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/nats-server-latest.sh");
        match Command::new("bash").arg(&script).output() {
            Ok(out) if out.status.success() => Ok(PathBuf::from(
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            )),
            Ok(out) => Err(format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Err(format!("running {}: {e}", script.display())),
        }
    });
    match found {
        Ok(path) if path.is_file() => Some(path.clone()),
        Ok(path) => {
            eprintln!("skipped: nats-server 2.15 not found at {}", path.display());
            None
        }
        Err(why) => {
            eprintln!("skipped: nats-server 2.15 unavailable ({why}; or set {LATEST_ENV})");
            None
        }
    }
}

/// A nats-server on free loopback client and monitoring ports, with `config` (a
/// `server_name`, accounts…) in its config file. Dropping it kills that process only.
pub struct LatestServer {
    child: Child,
    pub port: u16,
    pub monitor_port: u16,
    _dir: tempfile::TempDir,
}

impl LatestServer {
    /// `None` when the binary is missing (and allowed to be).
    pub fn start(config: &str) -> Option<LatestServer> {
        Self::start_with(config, false, "")
    }

    /// With the monitoring port on HTTPS (`-ms`; `config` must have a `tls {}` block).
    pub fn start_https(config: &str) -> Option<LatestServer> {
        Self::start_with(config, true, "")
    }

    /// With `http_base_path: base_path` (added to `config`).
    pub fn start_with_base_path(config: &str, base_path: &str) -> Option<LatestServer> {
        let config = format!("{config}\nhttp_base_path: \"{base_path}\"\n");
        Self::start_with(&config, false, base_path)
    }

    fn start_with(config: &str, https: bool, base_path: &str) -> Option<LatestServer> {
        let binary = binary()?;
        let mut failures = Vec::new();
        // Ports picked free may be taken before the server binds them: then it exits (or
        // another server answers) and we try others.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let conf = dir.path().join("server.conf");
            std::fs::write(&conf, config).expect("writing the config");
            let (port, monitor_port) = (free_port(), free_port());
            let log = std::fs::File::create(dir.path().join("server.log")).expect("a log file");
            let child = Command::new(&binary)
                .arg("-c")
                .arg(&conf)
                .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .args([if https { "-ms" } else { "-m" }, &monitor_port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            let mut server = LatestServer {
                child,
                port,
                monitor_port,
                _dir: dir,
            };
            match server.wait_ready(https, base_path) {
                Ok(()) => return Some(server),
                Err(why) => failures.push(why),
            }
        }
        panic!("nats-server did not start:\n{}", failures.join("\n"));
    }

    /// Polls until the client port greets with this server's INFO and the monitoring port
    /// answers with the same server ID (for an HTTPS port: its log says it listens there).
    fn wait_ready(&mut self, https: bool, base_path: &str) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("exited with {status}: {}", self.log()));
            }
            if let Some(id) = server_id(self.port) {
                if https {
                    // It logs this once it holds the port (no plain GET can ask an HTTPS one).
                    let bound =
                        format!("Starting https monitor on 127.0.0.1:{}", self.monitor_port);
                    if self.log().contains(&bound) {
                        return Ok(());
                    }
                } else {
                    let varz = http_get(self.monitor_port, &format!("{base_path}/varz"))
                        .unwrap_or_default();
                    if varz.contains(&format!("\"server_id\": \"{id}\"")) {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after {START_TIMEOUT:?}: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for LatestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `server_id` in the INFO of whoever listens on the loopback `port`.
fn server_id(port: u16) -> Option<String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    let json = line.strip_prefix("INFO ")?;
    let info: serde_json::Value = serde_json::from_str(json.trim()).ok()?;
    Some(info["server_id"].as_str()?.to_string())
}

/// The body of `GET path` from the loopback `port` (HTTP/1.0: read to the end).
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (_, body) = answer.split_once("\r\n\r\n")?;
    Some(body.to_string())
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A client holding a connection open: logged in, subscribed to `SUB`, having published
/// `PUB` messages, all processed by the server (a PONG came back).
pub struct Holder {
    _stream: TcpStream,
}

impl Holder {
    pub fn connect(port: u16, connect: &str, subject: &str, publish: usize) -> Holder {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).expect("INFO");
        assert!(line.starts_with("INFO "), "{line}");
        let mut ops = format!("CONNECT {connect}\r\nSUB {subject} 1\r\n");
        for _ in 0..publish {
            ops += &format!("PUB {subject}.x 5\r\nhello\r\n");
        }
        ops += "PING\r\n";
        stream.write_all(ops.as_bytes()).unwrap();
        // Messages of others may come before the PONG: skip them.
        loop {
            line.clear();
            let n = reader.read_line(&mut line).expect("the server answers");
            assert!(n > 0, "the server closed the connection");
            assert!(!line.starts_with("-ERR"), "{line}");
            if line == "PONG\r\n" {
                break;
            }
            if line.starts_with("MSG ") {
                let mut payload = [0u8; 7];
                reader.read_exact(&mut payload).unwrap();
            }
        }
        Holder { _stream: stream }
    }
}

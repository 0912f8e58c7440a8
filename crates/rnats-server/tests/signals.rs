//! Signals and logs on the real `rnats-server` binary, with real files and
//! real signals: `-sl` against a running server, SIGUSR1 re-opening a log
//! file that logrotate moved away, size rotation keeping
//! `logfile_max_num` files, `-t` loading certificates, and the TLS flags.
//! Every wait is for a line or a file to appear, bounded.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::ReferenceServer;

const BIN: &str = env!("CARGO_BIN_EXE_rnats-server");
const WAIT: Duration = Duration::from_secs(10);

/// Polls `done` until it holds, failing the test after [`WAIT`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Connects a plain TCP client, reads INFO, sends `CONNECT <json>` and a
/// PING; returns the connection and the first line the server answers
/// (`PONG` when the login passed).
fn hello(addr: &str, connect_json: &str) -> (TcpStream, BufReader<TcpStream>, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap(); // INFO
    write!(stream, "CONNECT {connect_json}\r\nPING\r\n").unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    (stream, reader, line)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A running server, killed if the test ends early. Its stderr is
/// collected as it comes.
struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
    /// Reads stderr until the server closes it.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Starts the binary with `args` in `dir` and waits until it listens
    /// (its ports file appears); returns it with its client address.
    fn start(dir: &Path, args: &[&str]) -> (Running, String) {
        let mut child = Command::new(BIN)
            .current_dir(dir)
            .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
            .arg(dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr piped");
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let running = Running {
            child,
            stderr,
            reader: Some(reader),
        };
        let ports = dir.join(format!("rnats-server_{}.ports", running.pid()));
        let mut addr = String::new();
        wait_until("the ports file", || {
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&read(&ports)) else {
                return false;
            };
            addr = json["nats"][0]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("nats://")
                .to_string();
            !addr.is_empty()
        });
        (running, addr)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_stderr(&self, part: &str) {
        wait_until(&format!("{part:?} on stderr"), || {
            self.stderr().contains(part)
        });
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut status = None;
        wait_until("the server to exit", || {
            status = self.child.try_wait().expect("wait works");
            status.is_some()
        });
        // All it wrote is read once the pipe is closed.
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the stderr reader");
        }
        status.expect("exited")
    }
}

fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn wait_for_line(path: &Path, part: &str) {
    wait_until(&format!("{part:?} in {}", path.display()), || {
        read(path).contains(part)
    });
}

/// Runs the binary to completion (`-sl`, `-t`, or a start that fails).
fn run_bin(dir: &Path, args: &[&str], path_env: Option<&Path>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).args(args);
    if let Some(path) = path_env {
        cmd.env("PATH", path);
    }
    cmd.output().expect("the binary runs")
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `-sl reload=PIDFILE`, `-sl reload -P PIDFILE` and `-sl reload=PID`
/// reload a running server; `-sl quit=PIDFILE` stops it with SIGINT.
#[test]
fn sl_signals_a_running_server_named_by_pid_or_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nats.conf");
    let log = dir.path().join("nats.log");
    let pid_file = dir.path().join("nats.pid");
    std::fs::write(&conf, "logfile: nats.log\n").unwrap();
    let (mut running, _) = Running::start(dir.path(), &["-c", "nats.conf", "-P", "nats.pid"]);
    wait_for_line(&log, "Server is ready");
    let pid_arg = pid_file.to_str().unwrap();

    std::fs::write(&conf, "logfile: nats.log\ndebug: true\n").unwrap();
    let out = run_bin(dir.path(), &["-sl", &format!("reload={pid_arg}")], None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    wait_for_line(&log, "[INF] Reloaded: debug = true");

    std::fs::write(&conf, "logfile: nats.log\ndebug: true\ntrace: true\n").unwrap();
    let out = run_bin(dir.path(), &["--signal", "reload", "-P", pid_arg], None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    wait_for_line(&log, "[INF] Reloaded: trace = true");

    std::fs::write(&conf, "logfile: nats.log\n").unwrap();
    let pid = running.pid().to_string();
    let out = run_bin(dir.path(), &["-signal", &format!("reload={pid}")], None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    wait_for_line(&log, "[INF] Reloaded: debug = false");
    assert!(read(&log).contains("[INF] Reloaded: trace = false"));

    let out = run_bin(dir.path(), &["-sl", &format!("quit={pid_arg}")], None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(running.wait_exit().success());
    assert!(read(&log).contains("[INF] Trapped \"interrupt\" signal"));
}

/// A directory holding a fake `pgrep` that prints `output` and exits
/// with `code`, as the only program on `$PATH`.
fn fake_pgrep(output: &str, code: i32) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pgrep");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = rnats-server ] || exit 3\nprintf \"{output}\"\nexit {code}\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Without a pid, the server is found with `pgrep rnats-server` (the
/// signalling process itself left out); none, or more than one, is an
/// error in nats-server's words.
#[test]
fn sl_without_a_pid_finds_the_one_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, _) = Running::start(dir.path(), &[]);
    // The fake pgrep lists the signalling process (its parent) and the
    // server: only the server is signalled.
    let one = fake_pgrep(&format!("$PPID\\n{}\\n", running.pid()), 0);
    let out = run_bin(dir.path(), &["-sl", "ldm"], Some(one.path()));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(running.wait_exit().success());
    for line in [
        "[INF] Trapped \"user defined signal 2\" signal",
        "[INF] Entering lame duck mode, stop accepting new clients",
    ] {
        assert!(running.stderr().contains(line), "{}", running.stderr());
    }

    let two = fake_pgrep("4001\\n4002\\n", 0);
    let out = run_bin(dir.path(), &["-sl", "reload"], Some(two.path()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "rnats-server: multiple rnats-server processes running:\n4001\n4002\n"
    );

    // pgrep exits 1 when nothing matches.
    let none = fake_pgrep("", 1);
    let out = run_bin(dir.path(), &["-sl", "reload"], Some(none.path()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "rnats-server: no rnats-server processes running\n"
    );

    let no_pgrep = tempfile::tempdir().unwrap();
    let out = run_bin(dir.path(), &["-sl", "reload"], Some(no_pgrep.path()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "rnats-server: unable to resolve pid, try providing one\n"
    );
}

/// The refusals, worded as nats-server 2.15's.
#[test]
fn sl_errors_are_nats_servers() {
    let dir = tempfile::tempdir().unwrap();
    let err = |args: &[&str]| {
        let out = run_bin(dir.path(), args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        stderr_of(&out)
    };
    // No process has the largest pid.
    assert_eq!(
        err(&["-sl", "reload=2147483647"]),
        "rnats-server: \nsignal \"reload\" 2147483647: no such process\n"
    );
    assert_eq!(
        err(&["-sl", "bogus=2147483647"]),
        "rnats-server: unknown signal \"bogus\"\n"
    );
    assert_eq!(
        err(&["-sl", "reload=1=2"]),
        "rnats-server: invalid signal parameters: [2]\n"
    );
    assert_eq!(
        err(&["-sl", "reload=abc"]),
        "rnats-server: invalid pid: abc\n"
    );
    // A pid file written with a newline is not a pid, as in nats-server.
    std::fs::write(dir.path().join("nl.pid"), "2147483647\n").unwrap();
    assert_eq!(
        err(&["-sl", "reload=nl.pid"]),
        "rnats-server: invalid pid: 2147483647\n\n"
    );
}

/// logrotate's way: the log file is moved away, SIGUSR1 makes the server
/// start a new one by the configured name. Without a log file, SIGUSR1
/// is logged and ignored (it used to kill the server).
#[test]
fn sigusr1_reopens_the_log_file_after_it_was_moved() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nats.log");
    let moved = dir.path().join("nats.log.1");
    let (mut running, addr) = Running::start(dir.path(), &["-l", "nats.log"]);
    wait_for_line(&log, "Server is ready");
    std::fs::rename(&log, &moved).unwrap();
    kill(running.pid(), "USR1");
    wait_for_line(&log, "[INF] File log re-opened");
    assert!(read(&moved).contains("[INF] Trapped \"user defined signal 1\" signal"));
    assert!(!read(&moved).contains("re-opened"));
    // `-sl reopen` does the same; the server keeps serving meanwhile.
    std::fs::rename(&log, &moved).unwrap();
    let pid = running.pid().to_string();
    let out = run_bin(dir.path(), &["-sl", &format!("reopen={pid}")], None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    wait_for_line(&log, "[INF] File log re-opened");
    assert_eq!(hello(&addr, r#"{"verbose":false}"#).2, "PONG\r\n");
    kill(running.pid(), "TERM");
    assert!(running.wait_exit().success());
    assert!(read(&log).contains("Server Exiting.."));

    let (mut plain, _) = Running::start(dir.path(), &[]);
    plain.wait_stderr("Server is ready");
    kill(plain.pid(), "USR1");
    plain.wait_stderr("[INF] File log re-open ignored, not a file logger");
    kill(plain.pid(), "TERM");
    assert!(plain.wait_exit().success());
}

/// The current log file and its backups, oldest first.
fn log_files(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut backups = Vec::new();
    let mut current = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name == "nats.log" {
            current.push(path);
        } else if name.starts_with("nats.log.") {
            backups.push(path);
        }
    }
    backups.sort();
    (current, backups)
}

/// `logfile_size_limit` rotates the file into
/// `nats.log.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn` backups, the new file saying
/// where the old went, and `logfile_max_num` files are kept in all.
#[test]
fn size_limit_rotates_and_keeps_logfile_max_num_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nats.conf"),
        "logfile: nats.log\nlogfile_size_limit: 300\nlogfile_max_num: 3\ntrace: true\n",
    )
    .unwrap();
    let (mut running, addr) = Running::start(dir.path(), &["-c", "nats.conf"]);
    // Each PUB is traced before its PONG is sent: once the PONG is read,
    // the lines (and any rotation they caused) are written.
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    conn.write_all(b"CONNECT {\"verbose\":false}\r\n").unwrap();
    for i in 0..30 {
        conn.write_all(format!("PUB rotate.{i} 2\r\nhi\r\nPING\r\n").as_bytes())
            .unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "PONG\r\n");
    }
    let (current, backups) = log_files(dir.path());
    assert_eq!(current.len(), 1);
    assert_eq!(backups.len(), 2, "3 files in all: {backups:?}");
    let stamp_ok = |p: &PathBuf| {
        let name = p.file_name().unwrap().to_str().unwrap();
        let parts: Vec<&str> = name["nats.log.".len()..].split('.').collect();
        parts.len() == 7
            && parts
                .iter()
                .zip([4, 2, 2, 2, 2, 2, 9])
                .all(|(p, w)| p.len() == w && p.bytes().all(|b| b.is_ascii_digit()))
    };
    assert!(backups.iter().all(stamp_ok), "{backups:?}");
    let text = read(&current[0]);
    // Named as the configured file is (here relative to the directory).
    let newest = backups[1].file_name().unwrap().to_str().unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(&format!("[INF] Rotated log, backup saved as \"{newest}\"")),
        "{text}"
    );
    let all: String = backups.iter().map(|b| read(b)).collect::<String>() + &text;
    assert!(all.contains("[INF] Purged log file \"nats.log."), "{all}");
    assert!(all.contains("<<- [PUB rotate.29 2]"));
    // A backup is cut after the line that took it past the limit.
    for backup in &backups {
        let size = std::fs::metadata(backup).unwrap().len();
        let body = read(backup);
        let last = body.lines().last().unwrap().len() as u64 + 1;
        assert!(size > 300 && size - last <= 300, "{backup:?}: {size} bytes");
    }
    // A reload may not change the limit, as in nats-server.
    std::fs::write(
        dir.path().join("nats.conf"),
        "logfile: nats.log\nlogfile_size_limit: 1MB\nlogfile_max_num: 3\ntrace: true\n",
    )
    .unwrap();
    kill(running.pid(), "HUP");
    let refusal = "[ERR] Failed to reload server configuration: config reload not supported for LogSizeLimit: old=300, new=1048576";
    wait_until("the refused reload", || {
        let (current, backups) = log_files(dir.path());
        current
            .iter()
            .chain(&backups)
            .any(|f| read(f).contains(refusal))
    });
    kill(running.pid(), "TERM");
    assert!(running.wait_exit().success());
}

/// A reload applies `debug`, `trace`, `logtime` and `logfile` at once and
/// says so as nats-server does; a refused reload changes none of them.
#[test]
fn reload_changes_logging_only_when_the_reload_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nats.conf");
    let first = dir.path().join("first.log");
    let second = dir.path().join("second.log");
    std::fs::write(&conf, "logfile: first.log\n").unwrap();
    let (mut running, addr) = Running::start(dir.path(), &["-c", "nats.conf"]);
    wait_for_line(&first, "Server is ready");

    // Refused (clustering cannot be turned on by a reload): nothing
    // changes, the log stays where it was.
    std::fs::write(
        &conf,
        "logfile: second.log\ndebug: true\ncluster { listen: 127.0.0.1:-1 }\n",
    )
    .unwrap();
    kill(running.pid(), "HUP");
    wait_for_line(&first, "[ERR] Failed to reload server configuration");
    assert!(!read(&first).contains("Reloaded:"));
    assert!(!second.exists());

    std::fs::write(
        &conf,
        "logfile: second.log\ndebug: true\ntrace: true\nlogtime: false\n",
    )
    .unwrap();
    kill(running.pid(), "HUP");
    wait_for_line(&first, "[INF] Reloaded: log_file = second.log");
    let old = read(&first);
    for line in [
        "[INF] Reloaded: trace = true",
        "[INF] Reloaded: debug = true",
        "[INF] Reloaded: logtime = false",
    ] {
        assert!(old.contains(line), "{line}: {old}");
    }
    // The new settings hold in the new file: traces, no timestamps.
    assert_eq!(hello(&addr, r#"{"verbose":false}"#).2, "PONG\r\n");
    wait_for_line(&second, "- <<- [PING]");
    let pid = running.pid();
    let new = read(&second);
    assert!(
        new.lines().all(|l| l.starts_with(&format!("[{pid}] ["))),
        "no timestamps: {new}"
    );
    assert!(new.contains("[DBG] "), "{new}");

    // Back to stderr, with timestamps, without debug and trace.
    std::fs::write(&conf, "").unwrap();
    kill(pid, "HUP");
    wait_for_line(&second, "[INF] Reloaded: log_file = \n");
    kill(pid, "TERM");
    assert!(running.wait_exit().success());
    let err = running.stderr();
    let trapped = err
        .lines()
        .find(|l| l.contains("[INF] Trapped \"terminated\" signal"))
        .unwrap_or_else(|| panic!("no SIGTERM line on stderr: {err}"));
    // [pid] 2026/12/03 09:10:17.828057 [INF] ...
    assert_eq!(
        trapped.as_bytes()[format!("[{pid}] 2026").len()],
        b'/',
        "{trapped}"
    );
    assert!(!err.contains("[DBG]") && !err.contains("[TRC]"), "{err}");
}

fn pem_files(dir: &Path) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), cert.pem()).unwrap();
}

/// The reference binary's stderr for the same arguments, its program
/// name replaced by ours; `None` without the reference.
fn reference_stderr(dir: &Path, args: &[&str]) -> Option<(Option<i32>, String)> {
    let binary = ReferenceServer::binary()?;
    let out = Command::new(binary)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the reference runs");
    let err = stderr_of(&out).replacen("nats-server: ", "rnats-server: ", 1);
    Some((out.status.code(), err))
}

/// `-t` loads the certificates a config names, client and cluster, and
/// fails as nats-server does on a missing one.
#[test]
fn check_config_loads_certificates() {
    let dir = tempfile::tempdir().unwrap();
    pem_files(dir.path());
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "client.conf",
        "listen: 127.0.0.1:-1\ntls {\n  cert_file: \"missing.pem\"\n  key_file: \"key.pem\"\n}\n",
    );
    write(
        "cluster.conf",
        "listen: 127.0.0.1:-1\ncluster {\n  listen: 127.0.0.1:-1\n  tls {\n    cert_file: \"cert.pem\"\n    key_file: \"missing-key.pem\"\n    ca_file: \"ca.pem\"\n  }\n}\n",
    );
    write(
        "good.conf",
        "listen: 127.0.0.1:-1\ntls {\n  cert_file: \"cert.pem\"\n  key_file: \"key.pem\"\n}\n",
    );
    let cases = [
        (
            "client.conf",
            "rnats-server: client.conf:2:1: error parsing X509 certificate/key pair: open missing.pem: no such file or directory\n",
        ),
        (
            "cluster.conf",
            "rnats-server: cluster.conf:4:3: error parsing X509 certificate/key pair: open missing-key.pem: no such file or directory\n",
        ),
    ];
    for (conf, expected) in cases {
        let out = run_bin(dir.path(), &["-t", "-c", conf], None);
        assert_eq!(out.status.code(), Some(1), "{conf}");
        assert_eq!(stderr_of(&out), expected);
        if let Some((code, err)) = reference_stderr(dir.path(), &["-t", "-c", conf]) {
            assert_eq!(code, Some(1));
            // nats-server ends its message with an empty line.
            assert_eq!(err.trim_end(), expected.trim_end(), "{conf}");
        }
        // Starting with it fails the same way.
        let out = run_bin(dir.path(), &["-c", conf], None);
        assert_eq!(out.status.code(), Some(1), "{conf}");
        assert!(stderr_of(&out).ends_with(expected), "{}", stderr_of(&out));
    }
    let out = run_bin(dir.path(), &["-t", "-c", "good.conf"], None);
    assert!(out.status.success(), "{}", stderr_of(&out));
}

/// Any TLS flag turns TLS on, as in nats-server; the certificate and key
/// must both be given and load.
#[test]
fn tls_flags_turn_tls_on_or_fail_as_nats_server() {
    let dir = tempfile::tempdir().unwrap();
    pem_files(dir.path());
    let refused: &[(&[&str], &str)] = &[
        (
            &["--tlscert", "cert.pem"],
            "TLS Server private key must be present and valid",
        ),
        (
            &["--tlskey", "key.pem"],
            "TLS Server certificate must be present and valid",
        ),
        (
            &["--tlscacert", "ca.pem"],
            "TLS Server certificate must be present and valid",
        ),
        (
            &["--tls"],
            "TLS Server certificate must be present and valid",
        ),
        (
            &["--tlsverify", "--tlskey", "key.pem"],
            "TLS Server certificate must be present and valid",
        ),
        (
            &["--tlscert", "missing.pem", "--tlskey", "key.pem"],
            "error parsing X509 certificate/key pair: open missing.pem: no such file or directory",
        ),
        (
            &[
                "--tlsverify",
                "--tlscert",
                "cert.pem",
                "--tlskey",
                "key.pem",
                "--tlscacert",
                "missing.pem",
            ],
            "open missing.pem: no such file or directory",
        ),
    ];
    for (flags, message) in refused {
        let mut args = vec!["-a", "127.0.0.1", "-p", "-1"];
        args.extend_from_slice(flags);
        let out = run_bin(dir.path(), &args, None);
        assert_eq!(out.status.code(), Some(1), "{flags:?}");
        let expected = format!("rnats-server: {message}\n");
        assert_eq!(stderr_of(&out), expected, "{flags:?}");
        if let Some((code, err)) = reference_stderr(dir.path(), &args) {
            assert_eq!(code, Some(1), "{flags:?}");
            assert_eq!(err.trim_end(), expected.trim_end(), "{flags:?}");
        }
    }

    let tls_required = |flags: &[&str]| {
        let (mut running, addr) = Running::start(dir.path(), flags);
        let conn = TcpStream::connect(&addr).unwrap();
        conn.set_read_timeout(Some(WAIT)).unwrap();
        let mut info = String::new();
        BufReader::new(conn).read_line(&mut info).unwrap();
        kill(running.pid(), "TERM");
        assert!(running.wait_exit().success());
        info.contains("\"tls_required\":true")
    };
    for flags in [
        &["--tlscert", "cert.pem", "--tlskey", "key.pem"][..],
        &["--tls", "--tlscert", "cert.pem", "--tlskey", "key.pem"],
        &[
            "--tlsverify",
            "--tlscert",
            "cert.pem",
            "--tlskey",
            "key.pem",
            "--tlscacert",
            "ca.pem",
        ],
    ] {
        assert!(tls_required(flags), "{flags:?} turns TLS on");
    }
    assert!(
        !tls_required(&["--tls=false", "--tlscert", "cert.pem"]),
        "--tls=false turns TLS off"
    );
}

/// SIGHUP on the real binary: a rotated password closes its client with
/// `Authorization Violation`, a new pid file is written, and a file with
/// an error is reported where it is and changes nothing.
#[test]
fn sighup_reloads_users_and_pid_file_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nats.conf");
    std::fs::write(&conf, "authorization { user: a, password: a }\n").unwrap();
    let (running, addr) = Running::start(dir.path(), &["-c", "nats.conf"]);
    let login = |pass: &str| {
        hello(
            &addr,
            &format!(r#"{{"verbose":false,"user":"a","pass":"{pass}"}}"#),
        )
    };
    let (_stream, mut reader, answer) = login("a");
    assert_eq!(answer, "PONG\r\n");

    std::fs::write(
        &conf,
        "authorization { user: a, password: b }\npid_file: new.pid\n",
    )
    .unwrap();
    kill(running.pid(), "HUP");
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "-ERR 'Authorization Violation'\r\n");
    running.wait_stderr("Reloaded server configuration");
    running.wait_stderr("Reloaded: pid_file = new.pid");
    assert_eq!(read(&dir.path().join("new.pid")), running.pid().to_string());
    assert_eq!(login("b").2, "PONG\r\n");

    std::fs::write(&conf, "authorization { user: a, password: c\n").unwrap();
    kill(running.pid(), "HUP");
    running.wait_stderr("Failed to reload server configuration: ");
    let stderr = running.stderr();
    let failure = stderr
        .lines()
        .find(|l| l.contains("Failed to reload"))
        .unwrap();
    assert!(failure.contains("nats.conf:"), "located: {failure}");
    assert_eq!(login("b").2, "PONG\r\n", "the old configuration stays");
}

//! The `rnats-server` binary as a user runs it: flags, log format, the
//! ports and pid files, signals and exit codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rnats-server");

/// A server process that is killed if the test ends early.
struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status();
        assert!(status.expect("kill runs").success());
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait works") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit after the signal"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts the binary on a random loopback port and returns it with the
/// address it announced in its ports file.
fn start(extra: &[&str], dir: &Path) -> (Running, String) {
    let child = Command::new(BIN)
        .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let running = Running { child };
    let ports = dir.join(format!("rnats-server_{}.ports", running.child.id()));
    let deadline = Instant::now() + Duration::from_secs(10);
    let url = loop {
        if let Ok(text) = std::fs::read_to_string(&ports)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
        {
            break json["nats"][0]
                .as_str()
                .expect("nats url in ports file")
                .to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no ports file at {}",
            ports.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    (running, url.trim_start_matches("nats://").to_string())
}

/// Sends `input` after the INFO line and returns what came back up to PONG.
fn exchange(addr: &str, input: &[u8]) -> String {
    let mut conn = TcpStream::connect(addr).expect("connects");
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut info = String::new();
    reader.read_line(&mut info).unwrap();
    assert!(
        info.starts_with("INFO {") && info.ends_with("} \r\n"),
        "{info:?}"
    );
    conn.write_all(input).unwrap();
    let mut out = String::new();
    while !out.ends_with("PONG\r\n") {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "closed early; got {out:?}"
        );
        out.push_str(&line);
    }
    out
}

/// Sends `signal`, expects exit code 0, and returns what the server wrote
/// to stderr.
fn stderr_after(mut running: Running, signal: &str) -> String {
    running.signal(signal);
    assert!(running.wait_exit().success());
    let mut err = String::new();
    running
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

#[test]
fn logs_look_like_nats_server_and_sigterm_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("server.pid");
    let (running, addr) = start(&["-P", pid_file.to_str().unwrap()], dir.path());
    let pid = running.child.id();
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    assert_eq!(
        exchange(&addr, b"CONNECT {\"verbose\":false}\r\nPING\r\n"),
        "PONG\r\n"
    );
    let log = stderr_after(running, "TERM");
    let first = log.lines().next().expect("a log line");
    // [1234] 2026/11/23 16:21:32.123456 [INF] Starting rnats-server
    let prefix = format!("[{pid}] ");
    assert!(first.starts_with(&prefix), "{first}");
    let rest = &first[prefix.len()..];
    let bytes = rest.as_bytes();
    assert_eq!(
        (
            bytes[4], bytes[7], bytes[10], bytes[13], bytes[16], bytes[19]
        ),
        (b'/', b'/', b' ', b':', b':', b'.')
    );
    assert!(
        rest[26..].starts_with(" [INF] Starting rnats-server"),
        "{first}"
    );
    assert!(
        log.contains(&format!("[INF] Listening for client connections on {addr}")),
        "{log}"
    );
    assert!(log.contains("[INF] Server is ready"));
    assert!(log.contains("[INF] Trapped \"terminated\" signal"), "{log}");
    assert!(!log.contains("[DBG]") && !log.contains("[TRC]"));
    assert!(
        !dir.path()
            .join(format!("rnats-server_{pid}.ports"))
            .exists(),
        "ports file removed at exit"
    );
}

#[test]
fn debug_and_trace_show_the_protocol_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let (running, addr) = start(&["-DV", "-T=false"], dir.path());
    let got = exchange(
        &addr,
        b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"s3cr3t\",\"auth_token\":\"t0k3n\"}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n",
    );
    assert_eq!(got, "MSG foo 1 2\r\nhi\r\nPONG\r\n");
    let log = stderr_after(running, "TERM");
    let pid_tag = "] [";
    assert!(
        log.lines().all(|l| l.contains(pid_tag)),
        "no timestamps with -T=false:\n{log}"
    );
    assert!(log.contains("[DBG] 127.0.0.1:"), "{log}");
    assert!(log.contains("- Client connection created"));
    assert!(log.contains("- <<- [SUB foo 1]"));
    assert!(log.contains("- <<- [PUB foo 2]"));
    assert!(log.contains("- <<- MSG_PAYLOAD: [\"hi\"]"));
    assert!(log.contains("- ->> [MSG foo 1 2]"));
    assert!(log.contains("- ->> [PONG]"));
    assert!(log.contains("\"pass\":\"[REDACTED]\""), "{log}");
    assert!(log.contains("\"user\":\"alice\""));
    assert!(
        !log.contains("s3cr3t") && !log.contains("t0k3n"),
        "secrets leaked:\n{log}"
    );
}

#[test]
fn sigint_closes_clients_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, addr) = start(&[], dir.path());
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut info = String::new();
    reader.read_line(&mut info).unwrap();
    conn.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .unwrap();
    let mut pong = String::new();
    reader.read_line(&mut pong).unwrap();
    assert_eq!(pong, "PONG\r\n");
    running.signal("INT");
    assert!(running.wait_exit().success());
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    assert!(
        rest.is_empty() || rest.ends_with(b"\r\n"),
        "nothing half-written: {rest:?}"
    );
}

#[test]
fn unsupported_flags_are_refused_not_ignored() {
    let out = Command::new(BIN)
        .args(["--syslog", "-p", "-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'--syslog' is not supported by rnats-server yet"),
        "{err}"
    );

    let out = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn version_and_help() {
    let out = Command::new(BIN).arg("-v").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("rnats-server: v"));
    let out = Command::new(BIN).arg("-h").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--addr",
        "--port",
        "--name",
        "--pid",
        "--log",
        "--logtime",
        "--debug",
        "--trace",
        "--ports_file_dir",
    ] {
        assert!(help.contains(flag), "help lists {flag}");
    }
}

/// SIGUSR2 puts the server in lame duck mode, as nats-server: with no
/// clients to drain it shuts down at once and exits 0.
#[test]
fn sigusr2_enters_lame_duck_mode_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (running, _addr) = start(&[], dir.path());
    let err = stderr_after(running, "USR2");
    assert!(
        err.contains("[INF] Entering lame duck mode, stop accepting new clients"),
        "{err}"
    );
    assert!(err.contains("Server Exiting.."), "{err}");
}

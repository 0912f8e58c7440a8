//! Config files as a user runs them: `rnats-server -t -c nats.conf` to check
//! one, `rnats-server -c nats.conf` to start with one, flags on top.
//!
//! The examples of the NATS documentation page "NATS Server Authentication"
//! (`/work/shared/spec/server-authentication.md`, older rendering
//! `server-authentication-older-page.txt`) are used as a user would paste
//! them, as in `rnats-conf`'s `tests/spec_examples.rs`: the line breaks of
//! the older page, the closing braces of the `.md` page. The damaged forms
//! of both pages are refused with located messages.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rnats-server");

/// Writes `text` as `nats.conf` in `dir` and runs `rnats-server -t -c
/// nats.conf` there, so that messages name the file as the user wrote it.
fn check(dir: &Path, text: &str) -> Output {
    std::fs::write(dir.join("nats.conf"), text).unwrap();
    Command::new(BIN)
        .current_dir(dir)
        .args(["-t", "-c", "nats.conf"])
        .output()
        .expect("binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_valid(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = check(dir.path(), text);
    assert_eq!(
        (out.status.code(), stderr(&out).as_str()),
        (
            Some(0),
            "rnats-server: configuration file nats.conf is valid\n"
        ),
        "{text}"
    );
}

/// The whole of stderr for a refused file: the problems, one a line.
#[track_caller]
fn assert_refused(text: &str, problems: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = check(dir.path(), text);
    assert_eq!(
        (out.status.code(), stderr(&out)),
        (Some(1), format!("rnats-server: {problems}\n")),
        "{text}"
    );
}

#[test]
fn the_spec_examples_are_valid() {
    // Single user.
    assert_valid(
        "authorization {
  user:     derek
  password: T0pS3cr3t
  timeout:  1
}
",
    );
    // Multiple users.
    assert_valid(
        "authorization {
  users = [
    {user: alice, password: foo}
    {user: bob,   password: bar}
  ]
}
",
    );
    // A password from a variable: `PASS` is a definition, not an unknown field.
    assert_valid(
        "authorization {
  PASS: abcdefghijklmnopqrstuvwxyz0123456789
  users = [
    {user: alice, password: foo}
    {user: bob,   password: bar}
    {user: joe,   password: $PASS}
  ]
}
",
    );
    // The hash mkpasswd printed, unquoted and quoted.
    assert_valid(
        "authorization {
  users = [
    {user: alice, password: $2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba}
    {user: bob,   password: \"$2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba\"}
  ]
}
",
    );
}

#[test]
fn the_spec_cluster_example_is_accepted() {
    assert_valid(
        "cluster {
  authorization {
    user: route_user
    password: T0pS3cr3tT00!
    timeout: 0.5
  }
}
",
    );
}

#[test]
fn the_damaged_spec_examples_are_refused_where_they_break() {
    // The `.md` page flattened its code blocks onto one line.
    assert_refused(
        "authorization { user: derek password: T0pS3cr3t timeout: 1 }",
        "nats.conf:1:29: expected a new line, ',', ';' or '}' after the value of 'user', found 'p'",
    );
    // The older page lost its closing braces.
    assert_refused(
        "authorization {
  user:     derek
  password: T0pS3cr3t
  timeout:  1
",
        "nats.conf:5:1: expected '}' to close the map opened at 1:15, found end of file",
    );
}

#[test]
fn configuration_errors_are_all_reported_with_their_location() {
    assert_refused(
        "port: 4333\nfoo: bar\nauthorization {\n  bogus: 1\n}\n",
        "nats.conf:2:1: unknown field \"foo\"\nnats.conf:4:3: unknown field \"bogus\"",
    );
    assert_refused(
        "port: 4222\n\ntls {\n  cert_file: server.pem\n}\n",
        "nats.conf:3:5: tls requires cert_file and key_file",
    );
    assert_refused(
        "authorization {\n  user: derek\n  password: T0pS3cr3t\n  token: S3Cr3T0k3n!\n}\n",
        "nats.conf:1:1: Cannot have a user/pass and token",
    );
    assert_refused(
        "authorization {\n  token: S3Cr3T0k3n!\n  users = [ {user: alice, password: foo} ]\n}\n",
        "nats.conf:1:1: Can not have a token and a users array",
    );
    assert_refused(
        "authorization {\n  users = [\n    {user: alice, password: foo}\n    {user: alice, password: bar}\n  ]\n}\n",
        "nats.conf:4:12: Duplicate user \"alice\" detected",
    );
    assert_refused(
        "no_auth_user: bob\nauthorization {\n  users = [ {user: alice, password: foo} ]\n}\n",
        "nats.conf:1:15: no_auth_user: \"bob\" not present as user in authorization block or account configuration",
    );
}

#[test]
fn check_fails_on_warnings_as_nats_server_does() {
    // nats-server starts with a bare number of seconds, but `-t` refuses it.
    assert_refused(
        "ping_interval: 60\n",
        "nats.conf:1:16: invalid use of field \"ping_interval\": a bare number as a duration is \
         deprecated; 60 is read as seconds, write it as a string such as \"60s\"",
    );
    assert_valid("ping_interval: \"60s\"\n");
}

#[test]
fn check_needs_a_readable_config_file() {
    let out = Command::new(BIN).arg("-t").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("must specify [-c, --config] option to check configuration file syntax"),
        "{}",
        stderr(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["-t", "-c", "missing.conf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("rnats-server: cannot read config file 'missing.conf': "),
        "{}",
        stderr(&out)
    );
}

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
    /// Starts `rnats-server` in `dir` with `args` and waits for its ports
    /// file in `ports_dir`; returns it with the client address it announced.
    fn start(dir: &Path, args: &[&str], ports_dir: &Path) -> (Running, String) {
        let child = Command::new(BIN)
            .current_dir(dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        let mut running = Running { child };
        let ports = ports_dir.join(format!("rnats-server_{}.ports", running.child.id()));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(&ports)
                && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            {
                let url = json["nats"][0].as_str().expect("nats url in ports file");
                return (running, url.trim_start_matches("nats://").to_string());
            }
            if let Some(status) = running.child.try_wait().unwrap() {
                panic!("server exited with {status}: {}", running.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "no ports file at {}",
                ports.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server with SIGTERM and returns what it logged.
    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        assert!(status.expect("kill runs").success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "server did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stderr()
    }

    fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            err.read_to_string(&mut text).unwrap();
        }
        text
    }
}

/// The INFO the server sends a new client.
fn info(addr: &str) -> serde_json::Value {
    let conn = TcpStream::connect(addr).expect("connects");
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut line = String::new();
    BufReader::new(conn).read_line(&mut line).unwrap();
    let json = line
        .strip_prefix("INFO ")
        .unwrap_or_else(|| panic!("not an INFO line: {line:?}"));
    serde_json::from_str(json.trim_end()).expect("INFO is JSON")
}

#[test]
fn flags_win_over_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nats.conf"),
        "listen: 127.0.0.1:4222\nserver_name: from_file\nmax_payload: 512KB\n",
    )
    .unwrap();
    let ports_dir = dir.path().to_str().unwrap();
    let (running, addr) = Running::start(
        dir.path(),
        &[
            "-c",
            "nats.conf",
            "-p",
            "-1",
            "-n",
            "from_flag",
            "--ports_file_dir",
            ports_dir,
        ],
        dir.path(),
    );
    // The host comes from the file, the port and the name from the flags.
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_ne!(addr, "127.0.0.1:4222");
    let info = info(&addr);
    assert_eq!(info["server_name"], "from_flag");
    assert_eq!(info["max_payload"], 512 * 1024);
    let log = running.stop();
    assert!(
        log.contains("[INF] Using configuration file: nats.conf"),
        "{log}"
    );
}

#[test]
fn listen_with_a_random_port_and_the_ports_file_dir_from_the_file() {
    // nats-server accepts `-1` (any free port) in `listen` and in `port`.
    for text in [
        "listen: 127.0.0.1:-1\nports_file_dir: ports\n",
        "host: 127.0.0.1\nport: -1\nports_file_dir: ports\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ports")).unwrap();
        std::fs::write(dir.path().join("nats.conf"), text).unwrap();
        let (running, addr) =
            Running::start(dir.path(), &["-c", "nats.conf"], &dir.path().join("ports"));
        assert!(addr.starts_with("127.0.0.1:"), "{text}: {addr}");
        assert!(info(&addr)["port"].as_u64().is_some_and(|p| p > 0));
        running.stop();
    }
}

#[test]
fn warnings_are_logged_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nats.conf"),
        "listen: 127.0.0.1:-1\nping_interval: 60\nauthorization {\n  users = [ {user: alice, password: foo} ]\n}\n",
    )
    .unwrap();
    let ports_dir = dir.path().to_str().unwrap();
    let (running, _addr) = Running::start(
        dir.path(),
        &["-c", "nats.conf", "--ports_file_dir", ports_dir],
        dir.path(),
    );
    let log = running.stop();
    assert!(
        log.contains(
            "[WRN] nats.conf:2:16: invalid use of field \"ping_interval\": a bare number as a \
             duration is deprecated; 60 is read as seconds, write it as a string such as \"60s\""
        ),
        "{log}"
    );
    assert!(
        log.contains("[WRN] Plaintext passwords detected, use nkeys or bcrypt"),
        "{log}"
    );
}

#[test]
fn a_bad_config_file_stops_the_server_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nats.conf"),
        "listen: 127.0.0.1:-1\nmax_payload: 2MB\nmax_pending: 1MB\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["-c", "nats.conf", "--ports_file_dir", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "rnats-server: nats.conf:2:14: max_payload (2097152) cannot be higher than max_pending (1048576)\n"
    );
    let ports_files = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "ports")
        })
        .count();
    assert_eq!(ports_files, 0, "the server never started");
}

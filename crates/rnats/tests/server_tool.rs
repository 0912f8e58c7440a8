//! `rnats server ping|list|info|check` and `rnats top`: the built binary against a server with
//! a system account and a monitoring port, with two clients connected. Each scenario runs
//! against current nats-server (2.15, found as `support::latest` says, skipped without it)
//! and against rnats-server, which must show the same.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::TestServer;
use support::latest::{Holder, LatestServer, free_port};

/// The longest any command may take.
const WAIT: Duration = Duration::from_secs(30);

/// The accounts of every scenario: the system account `SYS` (user `sys`) and `APP`.
const ACCOUNTS: &str = "server_name: alpha
accounts {
  SYS { users = [{user: sys, password: sys}] }
  APP { users = [{user: a, password: a}] }
}
system_account: SYS
";

/// A server under test: where its clients and its monitoring port are.
struct Target {
    port: u16,
    monitor_port: u16,
    /// The server (a `LatestServer` or a `TestServer`), stopped when dropped.
    _server: Box<dyn std::any::Any>,
}

impl Target {
    fn latest() -> Option<Target> {
        let server = LatestServer::start(ACCOUNTS)?;
        Some(Target {
            port: server.port,
            monitor_port: server.monitor_port,
            _server: Box::new(server),
        })
    }

    fn rnats() -> Target {
        let dir = tempfile::tempdir().unwrap();
        let monitor_port = free_port();
        let config = format!("{ACCOUNTS}http: \"127.0.0.1:{monitor_port}\"\n");
        let server = TestServer::with_config(dir.path(), &config);
        let port = server
            .url()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the URL has a port");
        Target {
            port,
            monitor_port,
            _server: Box::new(server),
        }
    }

    fn url(&self, login: &str) -> String {
        format!("nats://{login}@127.0.0.1:{}", self.port)
    }

    fn sys(&self) -> String {
        self.url("sys:sys")
    }

    /// Two clients of `APP`: `holder-1` has published 1 message, `holder-2` 5.
    fn holders(&self) -> [Holder; 2] {
        let connect = |name: &str| {
            format!(
                r#"{{"user":"a","pass":"a","name":"{name}","lang":"test","version":"9.9","verbose":false}}"#
            )
        };
        [
            Holder::connect(self.port, &connect("holder-1"), "one", 1),
            Holder::connect(self.port, &connect("holder-2"), "two", 5),
        ]
    }
}

/// How an `rnats` run ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect(self, code: i32, what: &str) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "{what}\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs the built `rnats` to its end (killed after [`WAIT`]).
fn rnats(args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rnats runs");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rnats {args:?} did not end within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Borrowed arguments.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The cells of a table row (`│ a │ b │` → `["a", "b"]`).
fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('│')
        .split('│')
        .map(|c| c.trim().to_string())
        .collect()
}

/// The cell of `column` in the row whose first cell is `first`.
fn cell(table: &str, first: &str, column: &str) -> String {
    let header = table
        .lines()
        .map(cells)
        .find(|c| c.first().is_some_and(|c| c == "Name"))
        .unwrap_or_else(|| panic!("no header in\n{table}"));
    let index = header
        .iter()
        .position(|c| c == column)
        .unwrap_or_else(|| panic!("no column {column} in\n{table}"));
    let row = table
        .lines()
        .map(cells)
        .find(|c| c.first().is_some_and(|c| c == first))
        .unwrap_or_else(|| panic!("no row {first} in\n{table}"));
    row[index].clone()
}

fn ping(target: &Target) {
    let _holders = target.holders();
    let sys = target.sys();
    let run = rnats(&["server", "ping", "-s", &sys, "--count", "1"]).expect(0, "ping");
    let first = run.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("alpha ") && first.contains(" rtt="),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("---- ping statistics ----\n1 replies max: "),
        "{}",
        run.stdout
    );

    // Without --count, the first answer says how many servers there are.
    let run = rnats(&["server", "ping", "-s", &sys, "--id"]).expect(0, "ping --id");
    let id = run.stdout.split_whitespace().next().unwrap_or_default();
    assert!(id.len() == 56 && id.starts_with('N'), "{}", run.stdout);
    assert!(!run.stdout.contains("Missing"), "{}", run.stdout);

    // A user of another account does not reach the system account.
    let app = target.url("a:a");
    let run = rnats(&["server", "ping", "-s", &app]).expect(1, "ping as APP");
    assert!(
        run.stderr
            .contains("503 status from $SYS.REQ.SERVER.PING, ensure a system account is used"),
        "{}",
        run.stderr
    );
}

fn list(target: &Target) {
    let _holders = target.holders();
    let run = rnats(&["server", "list", "-s", &target.sys(), "--count", "1"]).expect(0, "list");
    let table = &run.stdout;
    assert!(table.contains("Server Overview"), "{table}");
    // The two holders and the list command itself.
    assert_eq!(cell(table, "alpha", "Conns"), "3", "{table}");
    assert_eq!(cell(table, "alpha", "Routes"), "0", "{table}");
    assert_eq!(cell(table, "alpha", "Host"), "127.0.0.1", "{table}");
    assert!(!cell(table, "alpha", "Version").is_empty(), "{table}");
    // The totals: no cluster, one server, three connections.
    let footer = table.lines().map(cells).rfind(|c| c.len() > 5).unwrap();
    assert_eq!(
        (&footer[1][..], &footer[2][..], &footer[5][..]),
        ("0", "1", "3"),
        "{table}"
    );
    assert!(!table.contains("Cluster Overview"), "{table}");

    let run = rnats(&["server", "list", "-s", &target.sys(), "--json"]).expect(0, "list --json");
    let answers: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(answers[0]["server"]["name"], "alpha", "{}", run.stdout);
    assert_eq!(answers[0]["statsz"]["connections"], 3, "{}", run.stdout);
}

fn info(target: &Target) {
    let _holders = target.holders();
    let sys = target.sys();
    let by_name = rnats(&["server", "info", "alpha", "-s", &sys]).expect(0, "info alpha");
    let text = &by_name.stdout;
    assert!(
        text.starts_with("Server information for alpha (N"),
        "{text}"
    );
    for section in [
        "Process Details:",
        "Connection Details:",
        "Limits:",
        "Statistics:",
    ] {
        assert!(
            text.contains(&format!("\n{section}\n")),
            "{section} in\n{text}"
        );
    }
    assert!(text.contains("  Auth Required: true\n"), "{text}");
    assert!(text.contains("    Connections: 3\n"), "{text}");
    assert!(
        text.contains(&format!("           Host: 127.0.0.1:{}", target.port)),
        "{text}"
    );

    // By ID, and whichever server answers first.
    let id = text
        .lines()
        .next()
        .and_then(|l| l.rsplit('(').next())
        .map(|id| id.trim_end_matches(')').to_string())
        .unwrap();
    let by_id = rnats(&["server", "info", &id, "-s", &sys]).expect(0, "info ID");
    assert!(by_id.stdout.starts_with("Server information for alpha ("));
    rnats(&["server", "info", "-s", &sys]).expect(0, "info");

    let run = rnats(&["server", "info", "nosuch", "--timeout", "500ms", "-s", &sys])
        .expect(1, "info of an unknown server");
    assert!(
        run.stderr
            .contains("no answer from a server named \"nosuch\" within 500ms"),
        "{}",
        run.stderr
    );
}

fn check_connection(target: &Target) {
    let app = target.url("a:a");
    // Thresholds no test machine reaches (times are never asserted), but for those given.
    let with = |lowered: &[(&str, &str)]| -> Vec<String> {
        let mut args: Vec<String> = ["server", "check", "connection", "-s", &app]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (flag, high) in [
            ("--connect-warn", "1h"),
            ("--connect-critical", "2h"),
            ("--rtt-warn", "1h"),
            ("--rtt-critical", "2h"),
            ("--req-warn", "1h"),
            ("--req-critical", "2h"),
        ] {
            let value = lowered
                .iter()
                .find(|(f, _)| *f == flag)
                .map_or(high, |(_, v)| *v);
            args.extend([flag.to_string(), value.to_string()]);
        }
        args
    };
    let base = with(&[]);
    let base = strs(&base);
    let run = rnats(&base).expect(0, "check connection");
    let line = run.stdout.trim_end();
    let expected = format!(
        "OK Connection OK:connected to nats://127.0.0.1:{} in ",
        target.port
    );
    assert!(line.starts_with(&expected), "{line}");
    assert!(line.contains(" OK:rtt time "), "{line}");
    assert!(line.contains(" OK:round trip took "), "{line}");
    assert!(
        line.contains(" | connect_time=") && line.contains("s;3600.0000;7200.0000 rtt="),
        "{line}"
    );

    // Thresholds any connection exceeds.
    let warn = with(&[("--connect-warn", "1ns")]);
    let run = rnats(&strs(&warn)).expect(1, "over the warning threshold");
    assert!(
        run.stdout
            .starts_with("WARNING Connection Warn:connected to nats://127.0.0.1:"),
        "{}",
        run.stdout
    );
    let mut critical = with(&[("--req-critical", "1ns")]);
    critical.extend(["--format".to_string(), "json".to_string()]);
    let run = rnats(&strs(&critical)).expect(2, "over the critical threshold");
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["status"], "CRITICAL");
    assert!(
        json["critical"][0]
            .as_str()
            .unwrap()
            .starts_with("round trip request took "),
        "{json}"
    );

    // Nobody listening.
    let nowhere = format!("nats://127.0.0.1:{}", free_port());
    let run = rnats(&["server", "check", "connection", "-s", &nowhere]).expect(2, "no server");
    assert!(
        run.stdout
            .starts_with("CRITICAL Connection Crit:connection failed: "),
        "{}",
        run.stdout
    );
}

fn check_server(target: &Target) {
    let _holders = target.holders();
    let sys = target.sys();
    let base = ["server", "check", "server", "-s", &sys, "--name", "alpha"];
    let run = rnats(&[&base[..], &["--auth-required"]].concat()).expect(0, "check server");
    assert!(
        run.stdout
            .starts_with("OK alpha OK:Authentication required | uptime="),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(" connections=3 "), "{}", run.stdout);

    // Three connections: at or over 2 is critical; at or under 5 (inverted) is critical too.
    let run = rnats(&[&base[..], &["--conn-warn", "1", "--conn-critical", "2"]].concat())
        .expect(2, "too many connections");
    assert!(
        run.stdout.contains("Crit:Connections 3.00"),
        "{}",
        run.stdout
    );
    let run = rnats(&[&base[..], &["--conn-warn", "10", "--conn-critical", "1"]].concat())
        .expect(1, "few connections");
    assert!(
        run.stdout.contains("Warn:Connections 3.00"),
        "{}",
        run.stdout
    );
    let run = rnats(&[&base[..], &["--tls-required"]].concat()).expect(2, "no TLS");
    assert!(
        run.stdout.contains("Crit:TLS not required"),
        "{}",
        run.stdout
    );

    let run = rnats(&[
        "server",
        "check",
        "server",
        "-s",
        &sys,
        "--name",
        "beta",
        "--timeout",
        "500ms",
    ])
    .expect(2, "an unknown server");
    assert!(
        run.stdout.starts_with("CRITICAL beta Crit:varz failed: "),
        "{}",
        run.stdout
    );
}

fn top(target: &Target) {
    let _holders = target.holders();
    let port = target.monitor_port.to_string();
    let run = rnats(&["top", "-m", &port, "--once", "-s", "msgs_from"]).expect(0, "top --once");
    let text = &run.stdout;
    assert!(text.starts_with("NATS server version "), "{text}");
    assert!(text.contains("\nServer: alpha\n"), "{text}");
    assert!(text.contains("\nConnections Polled: 2\n"), "{text}");
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("holder-")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    // Sorted by messages from the client, most first: holder-2 sent 5.
    assert!(rows[0].contains("holder-2"), "{text}");
    let fields: Vec<&str> = rows[0].split_whitespace().collect();
    // HOST CID NAME SUBS PENDING MSGS_TO MSGS_FROM BYTES_TO BYTES_FROM LANG VERSION …
    assert_eq!(
        &fields[3..11],
        ["1", "0", "0", "5", "0", "25", "test", "9.9"],
        "{text}"
    );

    let run = rnats(&["top", "-m", &port, "--once", "-n", "1"]).expect(0, "top -n 1");
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("holder-"))
        .collect();
    assert_eq!(rows.len(), 1, "{}", run.stdout);
    assert!(rows[0].contains("holder-1"), "by cid: {}", run.stdout);

    // The live view, not on a terminal: frames one after the other.
    let run = rnats(&["top", "-m", &port, "-d", "50ms", "-r", "2"]).expect(0, "top -r 2");
    assert_eq!(
        run.stdout.matches("NATS server version").count(),
        2,
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains('\x1b'), "no escapes off a terminal");

    let nowhere = free_port().to_string();
    let run = rnats(&["top", "-m", &nowhere, "--once"]).expect(1, "no server");
    assert!(
        run.stderr
            .starts_with("rnats top: error: could not get http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    rnats(&["top", "-m", &port, "-s", "bogus"]).expect(2, "a bad sort key");
}

/// A cluster of two nats-server 2.15 nodes, `n1` and `n2`: `ping` hears both, `list` shows
/// the cluster, `info` finds the second by name.
#[test]
fn a_cluster_of_two() {
    let (c1, c2) = (free_port(), free_port());
    let node = |name: &str, listen: u16, peer: u16| {
        format!(
            "{}cluster {{ name: c1, listen: \"127.0.0.1:{listen}\", routes: [\"nats://127.0.0.1:{peer}\"] }}\n",
            ACCOUNTS.replace("server_name: alpha", &format!("server_name: {name}"))
        )
    };
    let Some(n1) = LatestServer::start(&node("n1", c1, c2)) else {
        return;
    };
    let Some(n2) = LatestServer::start(&node("n2", c2, c1)) else {
        return;
    };
    // The route is up once each monitoring port shows the other.
    let deadline = Instant::now() + WAIT;
    for (port, peer) in [(n1.monitor_port, "n2"), (n2.monitor_port, "n1")] {
        while !support::latest::http_get(port, "/routez")
            .unwrap_or_default()
            .contains(&format!("\"remote_name\": \"{peer}\""))
        {
            assert!(Instant::now() < deadline, "no route after {WAIT:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let sys = format!("nats://sys:sys@127.0.0.1:{}", n1.port);

    let run = rnats(&["server", "ping", "-s", &sys, "--count", "2"]).expect(0, "ping");
    let mut names: Vec<&str> = run
        .stdout
        .lines()
        .take(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    names.sort();
    assert_eq!(names, ["n1", "n2"], "{}", run.stdout);
    assert!(run.stdout.contains("\n2 replies max: "), "{}", run.stdout);

    let run = rnats(&[
        "server", "list", "-s", &sys, "--count", "2", "--sort", "name",
    ])
    .expect(0, "list");
    let table = &run.stdout;
    for name in ["n1", "n2"] {
        assert_eq!(cell(table, name, "Cluster"), "c1", "{table}");
        // A pool of route connections (3 by default, and one for the system account).
        assert_ne!(cell(table, name, "Routes"), "0", "{table}");
    }
    assert!(
        table.find("│ n1 ").unwrap() < table.find("│ n2 ").unwrap(),
        "{table}"
    );
    let overview = &table[table.find("Cluster Overview").expect(table)..];
    assert_eq!(
        cells(overview.lines().nth(4).unwrap())[..2],
        ["c1", "2"],
        "{table}"
    );

    let run = rnats(&["server", "info", "n2", "-s", &sys]).expect(0, "info n2");
    assert!(
        run.stdout.starts_with("Server information for n2 ("),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\nCluster:\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("           Name: c1\n"),
        "{}",
        run.stdout
    );
}

/// A server with `http_base_path` serves its monitoring under it: `--base-path`.
#[test]
fn top_with_a_base_path() {
    let Some(server) = LatestServer::start_with_base_path(ACCOUNTS, "/nats") else {
        return;
    };
    let port = server.monitor_port.to_string();
    for base in ["/nats", "/nats/"] {
        let run = rnats(&["top", "-m", &port, "--once", "--base-path", base]).expect(0, base);
        assert!(run.stdout.contains("\nServer: alpha\n"), "{}", run.stdout);
    }
    let run = rnats(&["top", "-m", &port, "--once"]).expect(1, "without the base path");
    assert!(
        run.stderr.contains("stats request failed 404"),
        "{}",
        run.stderr
    );
    let run = rnats(&["top", "-m", &port, "--once", "--base-path", "nats"]).expect(1, "relative");
    assert!(run.stderr.contains("must start with /"), "{}", run.stderr);
}

/// `rnats top --tlsca` reads an HTTPS monitoring port; without trusting its CA it cannot.
#[test]
fn top_over_https() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    std::fs::write(dir.join("ca.pem"), ca.self_signed(&ca_key).unwrap().pem()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &Issuer::new(ca, ca_key))
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let config = format!(
        "{ACCOUNTS}tls {{ cert_file: {:?}, key_file: {:?} }}\n",
        dir.join("cert.pem"),
        dir.join("key.pem")
    );
    let Some(server) = LatestServer::start_https(&config) else {
        return;
    };
    let port = server.monitor_port.to_string();
    let ca = dir.join("ca.pem");
    let run = rnats(&[
        "top",
        "-m",
        &port,
        "--once",
        "--tlsca",
        ca.to_str().unwrap(),
    ])
    .expect(0, "top over https");
    assert!(run.stdout.contains("\nServer: alpha\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("\nConnections Polled: 0\n"),
        "{}",
        run.stdout
    );

    // Its certificate is not signed by a CA this system trusts; plain HTTP is no answer.
    let run = rnats(&["top", "-m", &port, "--once", "--tls"]).expect(1, "an unknown CA");
    assert!(run.stderr.contains("rnats top: error: "), "{}", run.stderr);
    // Unless told not to verify it (nats-top's -k).
    let run = rnats(&["top", "-m", &port, "--once", "-k"]).expect(0, "-k");
    assert!(run.stdout.contains("\nServer: alpha\n"), "{}", run.stdout);
    rnats(&["top", "-m", &port, "--once"]).expect(1, "http to an https port");
}

/// On a terminal (a pseudo-terminal made by util-linux's `script`), keys change the live
/// view at once: `o` the sort key, `s` the subscriptions column; `q` quits and gives the
/// cursor back. The delay is long, so every new frame comes from a key.
#[test]
fn top_keys_on_a_terminal() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` command to make a terminal");
        return;
    }
    let Some(target) = Target::latest() else {
        return;
    };
    let _holders = target.holders();
    let command = format!(
        "{} top -m {} -d 1h",
        env!("CARGO_BIN_EXE_rnats"),
        target.monitor_port
    );
    let mut child = Command::new("script")
        .args(["-qfc", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut keys = child.stdin.take().unwrap();
    let screen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let seen = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let deadline = Instant::now() + WAIT;
    let wait_for = |text: &str| {
        while !screen.lock().unwrap().contains(text) {
            assert!(
                Instant::now() < deadline,
                "{text:?} never came:\n{}",
                screen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for("sorted by cid");
    keys.write_all(b"o").unwrap();
    wait_for("sorted by start");
    keys.write_all(b"s").unwrap();
    wait_for("SUBSCRIPTIONS");
    keys.write_all(b"q").unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("top did not quit on q:\n{}", screen.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
    wait_for("\x1b[?25h");
}

/// In operator mode, the system account's user logs in with its `.creds` file; a user of
/// another account whose permissions do not cover `$SYS.REQ.>` is told so.
#[test]
fn operator_mode_with_creds() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let resolver = support::make_chain(dir);
    let Some(server) = LatestServer::start(&format!("server_name: alpha\n{resolver}")) else {
        return;
    };
    let url = format!("nats://127.0.0.1:{}", server.port);
    let creds = |file: &str| dir.join(file).to_str().unwrap().to_string();
    let run = rnats(&["server", "ping", "-s", &url, "--creds", &creds("sys.creds")])
        .expect(0, "ping with the system account's creds");
    assert!(run.stdout.starts_with("alpha "), "{}", run.stdout);
    rnats(&["server", "info", "-s", &url, "--creds", &creds("sys.creds")]).expect(0, "info");

    let run = rnats(&[
        "server",
        "ping",
        "-s",
        &url,
        "--creds",
        &creds("alice.creds"),
    ])
    .expect(1, "ping as alice");
    assert!(
        run.stderr
            .contains("Permissions Violation for Publish to \"$SYS.REQ.SERVER.PING\""),
        "{}",
        run.stderr
    );
}

/// `check credential` reads a `.creds` file offline: alice's expires in an hour, the system
/// user's never.
#[test]
fn check_credential_files() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    support::make_chain(dir);
    let file = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let alice = file("alice.creds");
    let check = |extra: &[&str]| {
        rnats(
            &[
                &["server", "check", "credential", "--credential"][..],
                extra,
            ]
            .concat(),
        )
    };
    let run = check(&[&alice]).expect(0, "an hour left");
    assert!(
        run.stdout.starts_with("OK Credential OK:expires in 20"),
        "{}",
        run.stdout
    );
    let run = check(&[
        &alice,
        "--validity-warn",
        "2h",
        "--validity-critical",
        "10m",
    ])
    .expect(1, "under the warning");
    assert!(
        run.stdout
            .starts_with("WARNING Credential Warn:expires sooner than 2h0m0s | expiry="),
        "{}",
        run.stdout
    );
    check(&[&alice, "--validity-critical", "1d"]).expect(2, "under the critical");
    let sys = file("sys.creds");
    let run = check(&[&sys]).expect(2, "never expires");
    assert!(
        run.stdout
            .starts_with("CRITICAL Credential Crit:never expires"),
        "{}",
        run.stdout
    );
    check(&[&sys, "--require-expiry", "false"]).expect(0, "allowed never to expire");

    // For a textfile collector: gauges, exit code 0 whatever the status, the file replaced.
    let prom = dir.join("credential.prom");
    let out = prom.to_str().unwrap();
    let run = check(&[&sys, "--format", "prometheus", "--outfile", out]).expect(0, "prometheus");
    assert_eq!(run.stdout, "");
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.contains(
            "nats_server_check_credential_status_code{item=\"Credential\",status=\"CRITICAL\"} 2\n"
        ),
        "{text}"
    );
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&prom).unwrap())
        .output()
    {
        Ok(lint) => assert!(
            lint.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&lint.stdout),
            String::from_utf8_lossy(&lint.stderr)
        ),
        Err(_) => eprintln!("promtool not found: the metrics were not linted"),
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod nats_server_latest {
            $(
                #[test]
                fn $name() {
                    if let Some(target) = super::Target::latest() {
                        super::$name(&target);
                    }
                }
            )*
        }
        mod rnats_server {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::Target::rnats());
                }
            )*
        }
    };
}

scenarios!(ping, list, info, check_connection, check_server, top);

//! `rnats stream add|info|ls|rm|purge|get|view`: the built binary against a server with
//! JetStream (each with its own store directory). Every scenario runs against rnats-server and
//! against current nats-server (2.15, found as `support::latest` says, skipped without it),
//! which must give the same results.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::TestServer;
use support::latest::LatestServer;

/// A server with JetStream: its URL, and the server (dropped with it) and store.
struct Target {
    name: &'static str,
    url: String,
    _server: Box<dyn std::any::Any>,
    _store: tempfile::TempDir,
}

fn store_config(store: &tempfile::TempDir) -> String {
    format!("jetstream {{ store_dir: {:?} }}\n", store.path())
}

impl Target {
    fn rnats() -> Target {
        let store = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::with_config(dir.path(), &store_config(&store));
        Target {
            name: "rnats-server",
            url: server.url(),
            _server: Box::new((server, dir)),
            _store: store,
        }
    }

    fn latest() -> Option<Target> {
        let store = tempfile::tempdir().unwrap();
        let server = LatestServer::start(&store_config(&store))?;
        Some(Target {
            name: "nats-server 2.15",
            url: format!("nats://127.0.0.1:{}", server.port),
            _server: Box::new(server),
            _store: store,
        })
    }

    /// Both servers (nats-server when it can be had).
    fn all() -> Vec<Target> {
        let mut targets = vec![Target::rnats()];
        targets.extend(Target::latest());
        targets
    }

    /// Runs `rnats ARGS -s URL` with stdin closed.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_rnats"))
            .args(args)
            .args(["-s", &self.url])
            .stdin(Stdio::null())
            .output()
            .expect("rnats runs")
    }

    /// Runs it and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{}: rnats {args:?} failed: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs it and requires exit code 1; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: rnats {args:?} should fail: {}",
            self.name,
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn info(&self, stream: &str) -> Value {
        serde_json::from_str(&self.ok(&["stream", "info", stream, "--json"])).unwrap()
    }

    /// Waits (bounded) until the stream holds `n` messages (core publishes are not acked).
    fn wait_for_messages(&self, stream: &str, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info = self.info(stream);
            if info["state"]["messages"] == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: the stream never held {n} messages: {info}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn streams_round_trip() {
    for t in Target::all() {
        let name = t.name;
        let added = t.ok(&[
            "stream",
            "add",
            "ORDERS",
            "--subjects",
            "orders.*,returns.>",
            "--storage",
            "file",
            "--max-msgs-per-subject",
            "10",
            "--max-age",
            "1h",
            "--dupe-window",
            "30s",
            "--allow-direct",
            "--description",
            "all orders",
        ]);
        assert!(
            added.starts_with("Stream ORDERS was created\n"),
            "{name}: {added}"
        );
        assert!(added.contains("Subjects: orders.*"), "{name}: {added}");
        assert!(added.contains("Maximum Age: 1h0m0s"), "{name}: {added}");

        let info = t.info("ORDERS");
        let config = &info["config"];
        assert_eq!(
            config["subjects"],
            serde_json::json!(["orders.*", "returns.>"])
        );
        assert_eq!(config["max_msgs_per_subject"], 10, "{name}");
        assert_eq!(config["max_age"], 3_600_000_000_000u64, "{name}");
        assert_eq!(config["duplicate_window"], 30_000_000_000u64, "{name}");
        assert_eq!(config["allow_direct"], true, "{name}");
        assert_eq!(config["storage"], "file", "{name}");
        assert_eq!(config["description"], "all orders", "{name}");
        assert!(info.get("type").is_none(), "{name}: --json drops the type");

        for (subject, body) in [
            ("orders.a", "one"),
            ("orders.b", "two"),
            ("orders.a", "three"),
            ("returns.x.y", "four"),
        ] {
            t.ok(&["pub", subject, body, "-H", "X-Id:{{Count}}"]);
        }
        t.wait_for_messages("ORDERS", 4);

        let text = t.ok(&["stream", "info", "ORDERS"]);
        for line in [
            "Information for Stream ORDERS created ",
            "Description: all orders",
            "Messages: 4",
            "Last Sequence: 4 @ ",
            "Number of Subjects: 3",
        ] {
            assert!(text.contains(line), "{name}: {line:?} not in\n{text}");
        }

        let got = t.ok(&["stream", "get", "ORDERS", "2"]);
        assert!(got.starts_with("Item: ORDERS#2 received "), "{name}: {got}");
        assert!(got.contains(" on Subject orders.b\n"), "{name}: {got}");
        assert!(got.contains("  X-Id: 1\n"), "{name}: {got}");
        assert!(got.ends_with("\ntwo\n"), "{name}: {got}");
        let last = t.ok(&["stream", "get", "ORDERS", "--last-for", "orders.a"]);
        assert!(last.starts_with("Item: ORDERS#3 "), "{name}: {last}");
        assert!(last.ends_with("\nthree\n"), "{name}: {last}");
        let raw: Value =
            serde_json::from_str(&t.ok(&["stream", "get", "ORDERS", "4", "--json"])).unwrap();
        assert_eq!(raw["subject"], "returns.x.y", "{name}");
        assert_eq!(raw["data"], "Zm91cg==", "{name}: base64 of four");

        let view = t.ok(&["stream", "view", "ORDERS"]);
        let seqs: Vec<&str> = view
            .lines()
            .filter(|l| l.starts_with('['))
            .map(|l| l.split(']').next().unwrap())
            .collect();
        assert_eq!(seqs, ["[1", "[2", "[3", "[4"], "{name}: {view}");
        assert!(
            view.contains("[4] Subject: returns.x.y Received: "),
            "{name}: {view}"
        );
        let view = t.ok(&["stream", "view", "ORDERS", "--since", "2", "--count", "2"]);
        let bodies: Vec<&str> = view
            .lines()
            .filter(|l| ["one", "two", "three", "four"].contains(l))
            .collect();
        assert_eq!(bodies, ["two", "three"], "{name}: {view}");

        let table = t.ok(&["stream", "ls"]);
        assert!(table.contains("│ ORDERS "), "{name}: {table}");
        assert!(table.contains("all orders"), "{name}: {table}");

        // Purging asks first; with stdin not a terminal it refuses without -f.
        let refused = t.fails(&["stream", "purge", "ORDERS", "--subject", "orders.a"]);
        assert!(refused.contains("add -f"), "{name}: {refused}");
        assert_eq!(t.info("ORDERS")["state"]["messages"], 4, "{name}");
        let purged = t.ok(&["stream", "purge", "ORDERS", "--subject", "orders.a", "-f"]);
        assert_eq!(purged, "Purged 2 messages from stream ORDERS\n", "{name}");
        // Deleted sequences are skipped.
        let view = t.ok(&["stream", "view", "ORDERS"]);
        assert!(
            view.starts_with("[2] Subject: orders.b") && view.contains("[4] "),
            "{name}: {view}"
        );
        assert!(
            !view.contains("[1]") && !view.contains("[3]"),
            "{name}: {view}"
        );
        let error = t.fails(&["stream", "get", "ORDERS", "1"]);
        assert!(
            error.contains("no message found (code 404, error code 10037)"),
            "{name}: {error}"
        );
        let purged = t.ok(&["stream", "purge", "ORDERS", "--keep", "1", "-f"]);
        assert_eq!(purged, "Purged 1 message from stream ORDERS\n", "{name}");

        t.ok(&["stream", "add", "EVENTS", "--storage", "memory"]);
        let names = t.ok(&["stream", "ls", "--names"]);
        assert_eq!(names, "EVENTS\nORDERS\n", "{name}");

        let refused = t.fails(&["stream", "rm", "ORDERS"]);
        assert!(refused.contains("add -f"), "{name}: {refused}");
        assert_eq!(
            t.ok(&["stream", "rm", "ORDERS", "-f"]),
            "Deleted stream ORDERS\n"
        );
        let error = t.fails(&["stream", "info", "ORDERS"]);
        assert_eq!(
            error, "rnats stream info: error: stream not found (code 404, error code 10059)\n",
            "{name}"
        );
        assert_eq!(t.ok(&["stream", "ls", "--names"]), "EVENTS\n", "{name}");
        t.ok(&["stream", "rm", "EVENTS", "-f"]);
        assert_eq!(t.ok(&["stream", "ls"]), "No Streams defined\n", "{name}");
    }
}

#[test]
fn a_config_file_makes_the_stream() {
    for t in Target::all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(
            &path,
            r#"{"name":"FROMFILE","subjects":["file.>"],"storage":"memory","retention":"limits",
                "max_msgs":5,"discard":"new","num_replicas":1,"deny_delete":true}"#,
        )
        .unwrap();
        let path = path.to_str().unwrap();
        let info: Value =
            serde_json::from_str(&t.ok(&["stream", "add", "--config", path, "--json"])).unwrap();
        let config = &info["config"];
        assert_eq!(config["name"], "FROMFILE", "{}", t.name);
        assert_eq!(config["max_msgs"], 5, "{}", t.name);
        assert_eq!(config["discard"], "new", "{}", t.name);
        assert_eq!(config["deny_delete"], true, "{}", t.name);
        // The name argument wins over the file's.
        t.ok(&["stream", "rm", "FROMFILE", "-f"]);
        t.ok(&["stream", "add", "RENAMED", "--config", path]);
        let info = t.info("RENAMED");
        assert_eq!(info["config"]["name"], "RENAMED", "{}", t.name);
    }
}

#[test]
fn errors_are_the_servers_and_exit_1() {
    for t in Target::all() {
        let name = t.name;
        t.ok(&["stream", "add", "S", "--subjects", "s.>"]);
        let error = t.fails(&["stream", "add", "S", "--subjects", "other"]);
        assert!(
            error.contains(
                "could not create stream S: stream name already in use with a different \
                 configuration (code 400, error code 10058)"
            ),
            "{name}: {error}"
        );
        let error = t.fails(&["stream", "add", "T", "--subjects", "s.a"]);
        assert!(
            error.contains("subjects overlap with an existing stream (code 400, error code 10065)"),
            "{name}: {error}"
        );
        let error = t.fails(&["stream", "get", "S", "--last-for", "s.none"]);
        assert!(error.contains("no message found"), "{name}: {error}");
        let error = t.fails(&["stream", "view", "NOPE"]);
        assert!(error.contains("stream not found"), "{name}: {error}");
        let error = t.fails(&["stream", "purge", "NOPE", "-f"]);
        assert!(error.contains("stream not found"), "{name}: {error}");
        let error = t.fails(&["stream", "rm", "NOPE", "-f"]);
        assert!(error.contains("stream not found"), "{name}: {error}");
        let error = t.fails(&["stream", "info", "a.b"]);
        assert!(
            error.contains("invalid stream name \"a.b\""),
            "{name}: {error}"
        );
    }
    // A server without JetStream: nothing answers the API.
    let server = TestServer::start();
    let out = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args(["stream", "ls", "-s", &server.url(), "--timeout", "2s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("JetStream not enabled"), "{error}");
}

#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    let t = Target::rnats();
    t.ok(&["stream", "add", "PIPED"]);
    // The reader is gone before the tool writes (it first connects and asks): the write
    // fails with a broken pipe, which must not be a panic (exit 101).
    let mut child = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args(["stream", "info", "PIPED", "-s", &t.url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_login_reaches_its_accounts_jetstream() {
    let accounts = "accounts {
  A { users: [{user: a, password: a}], jetstream: enabled }
  B { users: [{user: b, password: b}] }
}
";
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{}{accounts}", store_config(&store));
    let rnats = TestServer::with_config(dir.path(), &config);
    let mut urls = vec![("rnats-server", rnats.url())];
    let latest_store = tempfile::tempdir().unwrap();
    let latest = LatestServer::start(&format!("{}{accounts}", store_config(&latest_store)));
    if let Some(server) = &latest {
        urls.push((
            "nats-server 2.15",
            format!("nats://127.0.0.1:{}", server.port),
        ));
    }
    for (name, url) in urls {
        let run = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_rnats"))
                .args(args)
                .args(["-s", &url, "--timeout", "2s"])
                .output()
                .unwrap()
        };
        let out = run(&["stream", "add", "A1", "--user", "a", "--password", "a"]);
        assert!(out.status.success(), "{name}: {out:?}");
        let out = run(&["stream", "ls", "--names", "--user", "a", "--password", "a"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "A1\n", "{name}");
        // B has no JetStream: nats-server says so (10039), rnats-server has no responder;
        // either way the tool says JetStream is not enabled.
        let out = run(&["stream", "ls", "--user", "b", "--password", "b"]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let error = String::from_utf8_lossy(&out.stderr);
        assert!(error.contains("JetStream not enabled"), "{name}: {error}");
    }
}

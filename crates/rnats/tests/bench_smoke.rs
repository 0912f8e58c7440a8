//! Runs the built `rnats bench` with tiny counts against an in-process rnats-server and checks
//! the counts its `--json` report gives: publish/subscribe, a queue group, request/reply (with
//! built-in and with separate repliers), a connection storm, idle connections, and JetStream
//! publishing (async and sync, to a stream the run makes or one already there).

mod support;

use std::process::{Command, Output};

use serde_json::Value;
use support::TestServer;

fn run_bench(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args([
            "bench",
            "--server",
            url,
            "--json",
            "--no-progress",
            "--timeout",
            "10",
        ])
        .args(args)
        .output()
        .expect("rnats runs")
}

/// Runs `rnats bench` and returns its JSON report, requiring success.
fn bench(url: &str, args: &[&str]) -> Value {
    let output = run_bench(url, args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "rnats bench {args:?}: status {:?}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["errors"], Value::Array(vec![]), "{report}");
    report
}

#[test]
fn publish_only() {
    let server = TestServer::start();
    let r = bench(
        &server.url(),
        &["--pub", "2", "--msgs", "5000", "--size", "8"],
    );
    assert_eq!(r["mode"], "pubsub");
    assert_eq!(r["pub"]["msgs"], 5000);
    assert_eq!(r["pub"]["clients"], 2);
    assert_eq!(r["pub"]["per_client"][0]["msgs"], 2500);
    assert!(r.get("sub").is_none(), "{r}");
    assert_eq!(r["summary"]["unit"], "msgs/s published");
    assert!(r["summary"]["throughput"].as_f64().unwrap() > 0.0);
}

#[test]
fn fan_out_delivers_every_message_to_every_subscriber() {
    let server = TestServer::start();
    let r = bench(
        &server.url(),
        &[
            "--pub", "2", "--sub", "3", "--msgs", "1001", "--size", "100",
        ],
    );
    assert_eq!(r["pub"]["msgs"], 1001);
    assert_eq!(r["sub"]["msgs"], 3003);
    assert_eq!(r["sub"]["expected"], 3003);
    for client in r["sub"]["per_client"].as_array().unwrap() {
        assert_eq!(client["msgs"], 1001);
    }
    assert_eq!(r["summary"]["ops"], 3003);
}

#[test]
fn large_messages_span_reads() {
    let server = TestServer::start();
    let r = bench(
        &server.url(),
        &[
            "--sub", "1", "--msgs", "200", "--size", "70KiB", "--batch", "16K",
        ],
    );
    assert_eq!(r["sub"]["msgs"], 200);
    assert_eq!(r["sub"]["bytes"], 200 * 70 * 1024);
}

#[test]
fn queue_group_delivers_each_message_once() {
    let server = TestServer::start();
    let r = bench(
        &server.url(),
        &[
            "--sub", "3", "--queue", "workers", "--msgs", "999", "--size", "16",
        ],
    );
    assert_eq!(r["params"]["queue"], "workers");
    assert_eq!(r["sub"]["msgs"], 999);
    assert_eq!(r["sub"]["expected"], 999);
}

#[test]
fn request_reply_reports_latency() {
    let server = TestServer::start();
    let r = bench(
        &server.url(),
        &[
            "--request",
            "--pub",
            "2",
            "--sub",
            "2",
            "--msgs",
            "300",
            "--size",
            "32",
        ],
    );
    assert_eq!(r["mode"], "request");
    assert_eq!(r["pub"]["msgs"], 300);
    assert_eq!(r["sub"]["msgs"], 300);
    assert_eq!(r["latency_us"]["count"], 300);
    let p50 = r["summary"]["p50_us"].as_f64().unwrap();
    let p99 = r["summary"]["p99_us"].as_f64().unwrap();
    assert!(p50 > 0.0 && p99 >= p50, "{r}");
}

#[test]
fn requests_to_a_separate_replier() {
    let server = TestServer::start();
    let url = server.url();
    let replier = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args(["bench", "--server", &url, "--json", "--no-progress"])
        .args(["--reply", "--subject", "svc", "--hold", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("replier runs");
    // The replier subscribes within a moment; retry the requests until it is there.
    let mut attempts = 0;
    let r = loop {
        let output = run_bench(
            &url,
            &[
                "--request",
                "--sub",
                "0",
                "--subject",
                "svc",
                "--msgs",
                "50",
            ],
        );
        if output.status.success() {
            break serde_json::from_slice::<Value>(&output.stdout).unwrap();
        }
        attempts += 1;
        assert!(attempts < 50, "{}", String::from_utf8_lossy(&output.stdout));
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(r["latency_us"]["count"], 50);
    let out = replier.wait_with_output().expect("replier ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["mode"], "reply");
    assert!(reply["summary"]["ops"].as_u64().unwrap() >= 50, "{reply}");
}

#[test]
fn requests_without_a_replier_fail_fast() {
    let server = TestServer::start();
    let started = std::time::Instant::now();
    let output = run_bench(&server.url(), &["--request", "--sub", "0", "--msgs", "5"]);
    assert!(!output.status.success());
    let r: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(r["ok"], false);
    assert!(
        r["errors"][0].as_str().unwrap().contains("no responders"),
        "{r}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn connection_storm_counts_logins_and_reads_the_server_process() {
    let server = TestServer::start();
    // The server runs in this process, so its pid is ours.
    let pid = std::process::id().to_string();
    let r = bench(
        &server.url(),
        &[
            "--conns-storm",
            "60",
            "--concurrency",
            "4",
            "--server-pid",
            &pid,
        ],
    );
    assert_eq!(r["mode"], "storm");
    assert_eq!(r["summary"]["ops"], 60);
    assert_eq!(r["latency_us"]["count"], 60);
    assert_eq!(
        r["server_process"]["pid"].as_u64(),
        Some(u64::from(std::process::id()))
    );
    assert!(r["summary"]["server_rss_kib"].as_u64().unwrap() > 0);
}

#[test]
fn idle_connections_are_opened_and_held() {
    let server = TestServer::start();
    let r = bench(&server.url(), &["--idle", "25", "--hold", "0.3"]);
    assert_eq!(r["mode"], "idle");
    assert_eq!(r["idle"]["opened"], 25);
    assert_eq!(r["idle"]["dropped"], 0);
    assert!(r["idle"]["held_s"].as_f64().unwrap() >= 0.3);
}

#[test]
fn an_unreachable_server_is_an_error() {
    // Port 1 on loopback: nothing listens there.
    let output = run_bench("nats://127.0.0.1:1", &["--msgs", "1"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot connect"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A server with JetStream, its store in `store`.
fn js_server(store: &tempfile::TempDir) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("jetstream {{ store_dir: {:?} }}\n", store.path());
    (TestServer::with_config(dir.path(), &config), dir)
}

/// `rnats stream ARGS` against `url`; its stdout, requiring success.
fn stream_cmd(url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .arg("stream")
        .args(args)
        .args(["-s", url])
        .output()
        .expect("rnats runs");
    assert!(
        out.status.success(),
        "rnats stream {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn js_async_publish_counts_acks_and_removes_its_stream() {
    let store = tempfile::tempdir().unwrap();
    let (server, _dir) = js_server(&store);
    let r = bench(
        &server.url(),
        &[
            "--js",
            "--pub",
            "2",
            "--msgs",
            "3001",
            "--size",
            "16",
            "--max-pending",
            "64",
            "--batch",
            "256",
        ],
    );
    assert_eq!(r["mode"], "jspub");
    assert_eq!(r["params"]["subject"], "bench.js");
    assert_eq!(r["summary"]["ops"], 3001);
    assert_eq!(r["summary"]["unit"], "msgs/s stored");
    assert_eq!(r["pub"]["per_client"][0]["msgs"], 1501);
    assert_eq!(r["js"]["sync"], false);
    assert_eq!(r["js"]["max_pending"], 64);
    assert_eq!(
        (&r["js"]["created"], &r["js"]["kept"]),
        (&true.into(), &false.into())
    );
    assert!(r.get("latency_us").is_none(), "{r}");
    assert_eq!(stream_cmd(&server.url(), &["ls", "--names"]), "");
}

#[test]
fn js_sync_publish_reports_latency_and_keeps_the_stream() {
    let store = tempfile::tempdir().unwrap();
    let (server, _dir) = js_server(&store);
    let r = bench(
        &server.url(),
        &[
            "--js",
            "--sync",
            "--msgs",
            "500",
            "--size",
            "1KiB",
            "--storage",
            "memory",
            "--stream",
            "SYNC",
            "--subject",
            "sync.bench",
            "--keep",
        ],
    );
    assert_eq!(r["summary"]["ops"], 500);
    assert_eq!(r["latency_us"]["count"], 500);
    assert!(r["summary"]["p99_us"].as_f64().unwrap() >= r["summary"]["p50_us"].as_f64().unwrap());
    assert_eq!(r["js"]["max_pending"], serde_json::Value::Null);
    let info: Value =
        serde_json::from_str(&stream_cmd(&server.url(), &["info", "SYNC", "--json"])).unwrap();
    assert_eq!(info["config"]["storage"], "memory");
    assert_eq!(info["config"]["subjects"][0], "sync.bench");
    assert_eq!(info["state"]["messages"], 500);
    assert!(
        info["state"]["bytes"].as_u64().unwrap() > 500 * 1024,
        "{info}"
    );

    // A second run adds to the stream that is there, and leaves it.
    let r = bench(
        &server.url(),
        &[
            "--js",
            "--msgs",
            "100",
            "--stream",
            "SYNC",
            "--subject",
            "sync.bench",
        ],
    );
    assert_eq!(
        (&r["js"]["created"], &r["js"]["kept"]),
        (&false.into(), &true.into())
    );
    let info: Value =
        serde_json::from_str(&stream_cmd(&server.url(), &["info", "SYNC", "--json"])).unwrap();
    assert_eq!(info["state"]["messages"], 600);
}

#[test]
fn js_publish_refused_by_the_stream_is_an_error() {
    let store = tempfile::tempdir().unwrap();
    let (server, _dir) = js_server(&store);
    stream_cmd(
        &server.url(),
        &[
            "add",
            "SMALL",
            "--subjects",
            "small",
            "--max-msgs",
            "10",
            "--discard",
            "new",
        ],
    );
    let out = run_bench(
        &server.url(),
        &[
            "--js",
            "--sync",
            "--msgs",
            "20",
            "--stream",
            "SMALL",
            "--subject",
            "small",
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("publish refused: maximum messages exceeded"),
        "{stderr}"
    );

    // Without JetStream, nothing answers.
    let plain = TestServer::start();
    let out = run_bench(&plain.url(), &["--js", "--msgs", "10"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("JetStream not enabled"), "{stderr}");
}

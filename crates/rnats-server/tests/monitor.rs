//! HTTP monitoring: every endpoint answers with nats-server's keys and
//! types (compared with current nats-server, 2.15.1, on the same
//! scenario), the counters count what was sent, and bad parameters get
//! nats-server's errors.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use rnats_server::{Server, config};
use serde_json::Value;
use support::*;

const CONFIG: &str = r#"
server_name: mon
accounts {
  SYS { users = [{user: sys, password: sys}] }
  A { users = [{user: a, password: a}] }
}
system_account: SYS
"#;

/// Starts rnats with `config` and monitoring on a free port.
async fn rnats(config: &str) -> (Server, SocketAddr) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("rnats.conf");
    std::fs::write(
        &path,
        format!("{config}\nhttp_port: -1\nport: -1\nhost: 127.0.0.1\n"),
    )
    .expect("writing the config");
    let (opts, _) = config::load(&path).expect("the config loads");
    let server = start_server(opts).await;
    let http = server.monitor_addr().expect("monitoring is on");
    (server, http)
}

/// The same scenario on any server: a client that subscribes twice and
/// publishes once (and stays), one that leaves, one that fails to log in.
async fn scenario(addr: SocketAddr) -> RawClient {
    let mut stays = RawClient::connect(addr).await;
    stays
        .send(b"CONNECT {\"user\":\"a\",\"pass\":\"a\",\"name\":\"holder\",\"lang\":\"raw\",\"version\":\"1.0\",\"verbose\":false}\r\nSUB foo 1\r\nSUB bar q 2\r\nPUB foo 5\r\nhello\r\nPING\r\n")
        .await;
    stays.expect(b"MSG foo 1 5\r\nhello\r\nPONG\r\n").await;
    let mut leaves = RawClient::connect(addr).await;
    leaves
        .send(b"CONNECT {\"user\":\"a\",\"pass\":\"a\",\"verbose\":false}\r\nPING\r\n")
        .await;
    leaves.expect(b"PONG\r\n").await;
    drop(leaves);
    let mut refused = RawClient::connect(addr).await;
    refused
        .send(b"CONNECT {\"user\":\"a\",\"pass\":\"wrong\",\"verbose\":false}\r\n")
        .await;
    refused
        .expect_closed_with(b"-ERR 'Authorization Violation'\r\n")
        .await;
    stays
}

async fn json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = http_get(addr, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e} in {body}"))
}

/// Keys current nats-server has that rnats leaves out: its build's git
/// commit and JetStream's feature flags.
const NOT_IN_RNATS: &[&str] = &["git_commit", "feature_flags"];

#[tokio::test]
async fn every_endpoint_has_nats_server_keys_and_types() {
    let http_port = free_port();
    let Some(reference) =
        ReferenceServer::start_latest(CONFIG, &["-m", &http_port.to_string()]).await
    else {
        return;
    };
    let theirs_http = SocketAddr::from(([127, 0, 0, 1], http_port));
    let (server, ours_http) = rnats(CONFIG).await;
    let _theirs = scenario(reference.addr()).await;
    let _ours = scenario(server.local_addr()).await;
    let mut problems = Vec::new();
    for path in [
        "/varz",
        "/connz?subs=detail&auth=1",
        "/connz?subs=1",
        "/connz?state=closed&subs=1&auth=1",
        "/connz?state=any&sort=msgs_to",
        "/connz?state=closed&sort=reason",
        "/routez",
        "/subsz?subs=1",
        "/subsz?subs=1&test=foo",
        "/accountz",
        "/accountz?acc=A",
        "/accstatz",
        "/accstatz?unused=1",
        "/healthz",
        "/gatewayz",
        "/leafz",
    ] {
        let theirs = json(theirs_http, path).await;
        let ours = json(ours_http, path).await;
        problems.extend(shape::differences(path, &theirs, &ours, NOT_IN_RNATS, true));
    }
    assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
}

#[tokio::test]
async fn connz_counts_what_each_client_sent_and_received() {
    let (server, http) = rnats(CONFIG).await;
    let _stays = scenario(server.local_addr()).await;
    let connz = json(http, "/connz?subs=detail&auth=1").await;
    let conns = connz["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 1, "{connz}");
    let c = &conns[0];
    for (key, want) in [
        ("in_msgs", 1),
        ("out_msgs", 1),
        ("in_bytes", 5),
        ("out_bytes", 5),
        ("subscriptions", 2),
    ] {
        assert_eq!(c[key], want, "{key} in {c}");
    }
    assert_eq!(c["name"], "holder");
    assert_eq!(c["authorized_user"], "a");
    assert_eq!(c["account"], "A");
    let subs = c["subscriptions_list_detail"]
        .as_array()
        .expect("subscriptions");
    let foo = subs.iter().find(|s| s["subject"] == "foo").expect("foo");
    assert_eq!(foo["msgs"], 1);
    let bar = subs.iter().find(|s| s["subject"] == "bar").expect("bar");
    assert_eq!(bar["qgroup"], "q");

    let closed = json(http, "/connz?state=closed").await;
    let reasons: Vec<&str> = closed["connections"]
        .as_array()
        .expect("closed connections")
        .iter()
        .filter_map(|c| c["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        ["Client Closed", "Authentication Failure"],
        "{closed}"
    );

    let varz = json(http, "/varz").await;
    assert_eq!(varz["in_msgs"], 1);
    assert_eq!(varz["out_msgs"], 1);
    assert_eq!(varz["total_connections"], 3);
    assert_eq!(varz["connections"], 1);
    assert_eq!(varz["http_req_stats"]["/connz"], 2, "{varz}");

    let accstatz = json(http, "/accstatz").await;
    let a = &accstatz["account_statz"][0];
    assert_eq!(a["acc"], "A");
    assert_eq!(a["conns"], 1);
    assert_eq!(a["sent"]["msgs"], 1);
}

/// A client whose round trip is not known yet is sent a PING when
/// monitoring looks at it (as nats-server's `getRTT` does), so the next
/// look shows it without waiting for the first scheduled PING (2 s after
/// CONNECT; the read below gives up after 1 s).
#[tokio::test]
async fn looking_at_a_new_client_measures_its_round_trip() {
    let (server, http) = rnats("").await;
    let mut client = RawClient::connect(server.local_addr()).await;
    client
        .send(b"CONNECT {\"lang\":\"raw\",\"verbose\":false}\r\nPING\r\n")
        .await;
    client.expect(b"PONG\r\n").await;
    let before = json(http, "/connz").await;
    assert_eq!(before["connections"][0]["rtt"], "0s", "{before}");
    let ping = client
        .read_until(Duration::from_secs(1), |b| b.ends_with(b"PING\r\n"))
        .await;
    assert_eq!(
        ping.end,
        End::Done,
        "{:?}",
        String::from_utf8_lossy(&ping.bytes)
    );
    client.send(b"PONG\r\n").await;
    client.assert_open().await;
    let after = json(http, "/connz").await;
    assert_ne!(after["connections"][0]["rtt"], "0s", "{after}");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_parameters_get_nats_server_errors() {
    let (_server, http) = rnats(CONFIG).await;
    for (path, status, text) in [
        ("/connz?sort=bogus", 400, "invalid sorting option: bogus"),
        (
            "/connz?sort=stop",
            400,
            "sort by stop only valid on closed connections",
        ),
        (
            "/connz?sort=reason&state=any",
            400,
            "sort by reason only valid on closed connections",
        ),
        (
            "/connz?state=sideways",
            400,
            "Error decoding state for sideways",
        ),
        ("/connz?limit=x", 400, "Error decoding int for 'limit'"),
        (
            "/connz?filter_subject=foo",
            400,
            "filter by subject only valid with account filtering",
        ),
        (
            "/healthz?stream=s",
            400,
            "\"account\\\" must not be empty when checking stream health",
        ),
        ("/nothing", 404, "404 page not found"),
    ] {
        let (got, body) = http_get(http, path).await;
        assert_eq!(got, status, "GET {path}: {body}");
        assert!(
            body.contains(text.trim_start_matches('"')),
            "GET {path}: {body:?} lacks {text:?}"
        );
    }
}

#[tokio::test]
async fn base_path_prefixes_every_endpoint_and_jsonp_wraps() {
    let (_server, http) = rnats(&format!("{CONFIG}\nhttp_base_path: /nats\n")).await;
    let (status, _) = http_get(http, "/varz").await;
    assert_eq!(status, 404, "without the base path nothing is served");
    let (status, body) = http_get(http, "/nats/varz").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_get(http, "/nats/healthz?callback=cb").await;
    assert_eq!((status, body.as_str()), (200, "cb({\"status\":\"ok\"})"));
    let (status, body) = http_get(http, "/nats/").await;
    assert_eq!(status, 200);
    assert!(body.contains("/nats/connz"), "{body}");
}

#[tokio::test]
async fn metrics_are_valid_prometheus_with_the_exporter_names() {
    let (server, http) = rnats(CONFIG).await;
    let _stays = scenario(server.local_addr()).await;
    let (status, body) = http_get(http, "/metrics").await;
    assert_eq!(status, 200);
    let id = &server.shared().id;
    for line in [
        format!("gnatsd_varz_in_msgs{{server_id=\"{id}\"}} 1"),
        format!("gnatsd_varz_connections{{server_id=\"{id}\"}} 1"),
        format!("gnatsd_connz_num_connections{{server_id=\"{id}\"}} 1"),
        format!("gnatsd_connz_subscriptions{{server_id=\"{id}\"}} 2"),
        format!("gnatsd_routez_num_routes{{server_id=\"{id}\"}} 0"),
        format!(
            "gnatsd_accstatz_current_connections{{server_id=\"{id}\",account=\"A\",account_id=\"A\",account_name=\"A\"}} 1"
        ),
    ] {
        assert!(body.lines().any(|l| l == line), "no {line:?} in\n{body}");
    }
    // promtool (Debian's prometheus package) checks the exposition format.
    let Ok(mut promtool) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        assert!(
            std::env::var(SKIP_REFERENCE_ENV).as_deref() == Ok("1"),
            "promtool is needed (apt-get install prometheus, as .ci/run does)"
        );
        return;
    };
    use std::io::Write;
    promtool
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(body.as_bytes())
        .expect("feeding promtool");
    let out = promtool.wait_with_output().expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn https_monitoring_uses_the_tls_block_s_certificate() {
    use rustls_pki_types::CertificateDer;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().expect("a temp dir");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let path = dir.path().join("rnats.conf");
    std::fs::write(
        &path,
        format!(
            "port: -1\nhost: 127.0.0.1\nhttps_port: -1\ntls {{ cert_file: {:?}, key_file: {:?} }}\n",
            cert_file, key_file
        ),
    )
    .unwrap();
    let (opts, _) = config::load(&path).expect("the config loads");
    let server = start_server(opts).await;
    assert!(server.monitor_addr().is_none(), "no plain HTTP asked for");
    let addr = server.monitor_tls_addr().expect("HTTPS monitoring is on");

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert.der().to_vec()))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .expect("the TLS handshake");
    tls.write_all(b"GET /varz HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"https_port\": {}", addr.port())),
        "{text}"
    );
}

/// Kills the process it holds (one this test started) when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real Prometheus (Debian's `prometheus`) scrapes `/metrics` and can
/// answer a query on what it scraped.
#[tokio::test]
async fn a_real_prometheus_scrapes_the_metrics() {
    let (server, http) = rnats(CONFIG).await;
    let _stays = scenario(server.local_addr()).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: rnats\n    static_configs:\n      - targets: ['{http}']\n"
        ),
    )
    .unwrap();
    let web = free_port();
    let spawned = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(child) = spawned else {
        assert!(
            std::env::var(SKIP_REFERENCE_ENV).as_deref() == Ok("1"),
            "prometheus is needed (apt-get install prometheus, as .ci/run does)"
        );
        return;
    };
    let _prometheus = Child(child);
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], web));
    let query = "/api/v1/query?query=gnatsd_varz_connections";
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(Ok(_)) = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            tokio::net::TcpStream::connect(api),
        )
        .await
        {
            let (status, body) = http_get(api, query).await;
            if status == 200 && body.contains(&server.shared().id) {
                let answer: Value = serde_json::from_str(&body).expect("Prometheus answers JSON");
                assert_eq!(answer["data"]["result"][0]["value"][1], "1", "{body}");
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus never had gnatsd_varz_connections from {http}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

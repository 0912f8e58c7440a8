//! TLS with real certificates (made by rcgen for each test run) and the
//! real `async-nats` client: encryption, the nats-server handshake order,
//! TLS-first, mutual TLS, and certificates mapped to users.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::ConnectOptions;
use futures::StreamExt;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rnats_server::options::UserConfig;
use rnats_server::tls::TlsOptions;
use rnats_server::{Options, Server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

/// A CA, a server certificate for localhost/127.0.0.1, and client
/// certificates, written as PEM files into a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "rnats test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let issue = |name: &str, params: CertificateParams| {
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            std::fs::write(dir.path().join(format!("{name}-cert.pem")), cert.pem()).unwrap();
            std::fs::write(
                dir.path().join(format!("{name}-key.pem")),
                key.serialize_pem(),
            )
            .unwrap();
        };
        issue(
            "server",
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap(),
        );

        let mut alice = CertificateParams::new(Vec::<String>::new()).unwrap();
        alice.subject_alt_names =
            vec![SanType::Rfc822Name("alice@example.com".try_into().unwrap())];
        alice.distinguished_name.push(DnType::CommonName, "alice");
        issue("alice", alice);

        let mut bob = CertificateParams::new(Vec::<String>::new()).unwrap();
        // Encoded O then CN, as CAs usually do; printed most specific first.
        bob.distinguished_name = rcgen::DistinguishedName::new();
        bob.distinguished_name
            .push(DnType::OrganizationName, "Acme");
        bob.distinguished_name.push(DnType::CommonName, "bob");
        issue("bob", bob);

        let mut mallory = CertificateParams::new(Vec::<String>::new()).unwrap();
        mallory
            .distinguished_name
            .push(DnType::CommonName, "mallory");
        issue("mallory", mallory);
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn server_tls(&self) -> TlsOptions {
        TlsOptions {
            cert_file: Some(self.path("server-cert.pem")),
            key_file: Some(self.path("server-key.pem")),
            ..TlsOptions::default()
        }
    }

    fn mutual_tls(&self) -> TlsOptions {
        TlsOptions {
            ca_file: Some(self.path("ca.pem")),
            verify: true,
            ..self.server_tls()
        }
    }

    fn client(&self) -> ConnectOptions {
        ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(self.path("ca.pem"))
    }

    fn client_as(&self, who: &str) -> ConnectOptions {
        self.client().add_client_certificate(
            self.path(&format!("{who}-cert.pem")),
            self.path(&format!("{who}-key.pem")),
        )
    }
}

async fn start(tls: TlsOptions, users: &[&str]) -> Server {
    let mut opts = Options::for_tests();
    opts.tls = Some(tls);
    opts.auth.users = users
        .iter()
        .map(|u| UserConfig {
            user: u.to_string(),
            password: String::new(),
            permissions: None,
        })
        .collect();
    Server::start(opts).await.expect("server starts")
}

/// Subscribes, publishes and receives one message on `client`.
async fn round_trip(client: &async_nats::Client) {
    let mut sub = client.subscribe("secure.hello").await.unwrap();
    client
        .publish("secure.hello", "over TLS".into())
        .await
        .unwrap();
    let m = tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("in time")
        .expect("open");
    assert_eq!(m.payload, "over TLS");
}

fn url(server: &Server) -> String {
    format!("tls://localhost:{}", server.local_addr().port())
}

#[tokio::test]
async fn info_announces_tls_and_clients_talk_over_it() {
    let pki = Pki::new();
    let server = start(pki.server_tls(), &[]).await;
    let mut raw = BufReader::new(TcpStream::connect(server.local_addr()).await.unwrap());
    let mut info = String::new();
    raw.read_line(&mut info).await.unwrap();
    assert!(info.contains("\"tls_required\":true"), "{info}");
    assert!(!info.contains("tls_verify"), "{info}");

    let client = pki
        .client()
        .connect(url(&server))
        .await
        .expect("TLS client connects");
    round_trip(&client).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_plain_text_client_is_told_tls_is_required() {
    let pki = Pki::new();
    let server = start(pki.server_tls(), &[]).await;
    let mut raw = BufReader::new(TcpStream::connect(server.local_addr()).await.unwrap());
    let mut info = String::new();
    raw.read_line(&mut info).await.unwrap();
    raw.get_mut()
        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, raw.read_to_end(&mut rest))
        .await
        .expect("closed in time")
        .unwrap();
    assert_eq!(rest, b"-ERR 'Secure Connection - TLS Required'\r\n");
    // The server still serves TLS clients.
    round_trip(&pki.client().connect(url(&server)).await.unwrap()).await;
    server.shutdown().await;
}

#[tokio::test]
async fn tls_first_clients_handshake_before_info() {
    let pki = Pki::new();
    let server = start(
        TlsOptions {
            handshake_first: true,
            ..pki.server_tls()
        },
        &[],
    )
    .await;
    let client = pki
        .client()
        .tls_first()
        .connect(url(&server))
        .await
        .expect("TLS-first client connects");
    round_trip(&client).await;
    server.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_requires_a_certificate_from_the_ca() {
    let pki = Pki::new();
    let server = start(pki.mutual_tls(), &[]).await;
    let mut raw = BufReader::new(TcpStream::connect(server.local_addr()).await.unwrap());
    let mut info = String::new();
    raw.read_line(&mut info).await.unwrap();
    assert!(info.contains("\"tls_verify\":true"), "{info}");

    let no_cert = pki.client().max_reconnects(0).connect(url(&server)).await;
    assert!(
        no_cert.is_err(),
        "a client without a certificate is refused"
    );
    round_trip(
        &pki.client_as("alice")
            .connect(url(&server))
            .await
            .expect("alice's certificate works"),
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn verify_and_map_logs_in_the_user_the_certificate_names() {
    let pki = Pki::new();
    let tls = TlsOptions {
        verify_and_map: true,
        ..pki.mutual_tls()
    };
    // alice is mapped by her email SAN, bob by his subject DN.
    let server = start(tls, &["alice@example.com", "CN=bob,O=Acme"]).await;
    for who in ["alice", "bob"] {
        let client = pki
            .client_as(who)
            .connect(url(&server))
            .await
            .unwrap_or_else(|e| panic!("{who}: {e}"));
        round_trip(&client).await;
    }
    let refused = pki
        .client_as("mallory")
        .max_reconnects(0)
        .connect(url(&server))
        .await;
    let err = refused.expect_err("an unmapped certificate is refused");
    assert_eq!(
        err.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation,
        "{err}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_cipher_suites_and_curves_are_refused_at_start() {
    let pki = Pki::new();
    for tls in [
        TlsOptions {
            cipher_suites: vec!["TLS_RSA_WITH_RC4_128_SHA".into()],
            ..pki.server_tls()
        },
        TlsOptions {
            curve_preferences: vec!["CurveP521".into()],
            ..pki.server_tls()
        },
        TlsOptions {
            min_version: Some("1.1".into()),
            ..pki.server_tls()
        },
        TlsOptions {
            cert_file: Some(Path::new("/nonexistent.pem").into()),
            ..pki.server_tls()
        },
    ] {
        let mut opts = Options::for_tests();
        opts.tls = Some(tls.clone());
        let err = Server::start(opts)
            .await
            .err()
            .unwrap_or_else(|| panic!("{tls:?} must be refused"));
        assert!(err.to_string().starts_with("tls:"), "{err}");
    }
    let mut opts = Options::for_tests();
    opts.tls = Some(TlsOptions {
        cipher_suites: vec!["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".into()],
        curve_preferences: vec!["X25519".into(), "CurveP256".into()],
        min_version: Some("1.2".into()),
        ..pki.server_tls()
    });
    Server::start(opts)
        .await
        .expect("Go names of supported suites and curves are accepted")
        .shutdown()
        .await;
}

/// The binary, started from a config file's `tls {}` block and from the
/// `--tls*` flags, serves TLS clients.
#[tokio::test]
async fn the_binary_takes_tls_from_the_config_file_and_from_flags() {
    let pki = Pki::new();
    let conf = pki.path("tls.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:-1\ntls {{\n  cert_file: {:?}\n  key_file: {:?}\n  timeout: 1.5\n}}\n",
            pki.path("server-cert.pem"),
            pki.path("server-key.pem")
        ),
    )
    .unwrap();
    let cert = pki.path("server-cert.pem");
    let key = pki.path("server-key.pem");
    let from_flags = [
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "--tls",
        "--tlscert",
        cert.to_str().unwrap(),
        "--tlskey",
        key.to_str().unwrap(),
    ];
    for args in [vec!["-c", conf.to_str().unwrap()], from_flags.to_vec()] {
        let ports = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_rnats-server"))
            .args(&args)
            .arg("--ports_file_dir")
            .arg(ports.path())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(KillOnDrop)
            .unwrap();
        let file = ports
            .path()
            .join(format!("rnats-server_{}.ports", child.0.id()));
        let deadline = std::time::Instant::now() + WAIT;
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&file)
                && let Some(port) = text
                    .split(':')
                    .next_back()
                    .and_then(|p| p.trim_end_matches("\"]}").parse::<u16>().ok())
            {
                break port;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no ports file for {args:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let client = pki
            .client()
            .connect(format!("tls://localhost:{port}"))
            .await;
        round_trip(&client.unwrap_or_else(|e| panic!("{args:?}: {e}"))).await;
        drop(child);
    }
}

/// A server process that ends with the test, however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIGHUP re-reads the config: new certificates for new connections, and
/// clients already connected keep going.
#[tokio::test]
async fn sighup_reloads_certificates_without_dropping_clients() {
    let (old, new) = (Pki::new(), Pki::new());
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let install = |pki: &Pki| {
        std::fs::copy(pki.path("server-cert.pem"), &cert).unwrap();
        std::fs::copy(pki.path("server-key.pem"), &key).unwrap();
    };
    install(&old);
    let conf = dir.path().join("tls.conf");
    std::fs::write(
        &conf,
        format!("listen: 127.0.0.1:-1\ntls {{\n  cert_file: {cert:?}\n  key_file: {key:?}\n}}\n"),
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rnats-server"))
        .args([
            "-c",
            conf.to_str().unwrap(),
            "--ports_file_dir",
            dir.path().to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(KillOnDrop)
        .unwrap();
    let ports = dir
        .path()
        .join(format!("rnats-server_{}.ports", child.0.id()));
    let deadline = std::time::Instant::now() + WAIT;
    let port = loop {
        if let Ok(text) = std::fs::read_to_string(&ports)
            && let Some(port) = text
                .split(':')
                .next_back()
                .and_then(|p| p.trim_end_matches("\"]}").parse::<u16>().ok())
        {
            break port;
        }
        assert!(std::time::Instant::now() < deadline, "no ports file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let url = format!("tls://localhost:{port}");
    let before = old
        .client()
        .connect(&url)
        .await
        .expect("the first certificate works");
    round_trip(&before).await;

    install(&new);
    let status = std::process::Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The reload is done when a client trusting only the new CA gets in.
    let deadline = std::time::Instant::now() + WAIT;
    let after = loop {
        if let Ok(client) = new.client().max_reconnects(0).connect(&url).await {
            break client;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new certificate never took effect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    round_trip(&after).await;
    round_trip(&before).await;
    assert!(
        old.client().max_reconnects(0).connect(&url).await.is_err(),
        "new connections get the new certificate"
    );
}

/// A user mapped from a certificate gets that user's permissions.
#[tokio::test]
async fn a_mapped_user_has_its_permissions() {
    use rnats_server::options::{PermissionsConfig, SubjectRuleConfig};
    let pki = Pki::new();
    let mut opts = Options::for_tests();
    opts.tls = Some(TlsOptions {
        verify_and_map: true,
        ..pki.mutual_tls()
    });
    let only = |subject: &str| SubjectRuleConfig {
        allow: Some(vec![subject.to_string()]),
        deny: Vec::new(),
    };
    opts.auth.users = vec![
        UserConfig {
            user: "alice@example.com".into(),
            password: String::new(),
            permissions: Some(PermissionsConfig {
                publish: Some(only("alice.>")),
                subscribe: Some(only("alice.>")),
                allow_responses: None,
            }),
        },
        UserConfig {
            user: "CN=bob,O=Acme".into(),
            password: String::new(),
            permissions: None,
        },
    ];
    let server = Server::start(opts).await.expect("server starts");
    let alice = pki.client_as("alice").connect(url(&server)).await.unwrap();
    let bob = pki.client_as("bob").connect(url(&server)).await.unwrap();
    let mut watch = bob.subscribe(">").await.unwrap();
    bob.flush().await.unwrap();
    // Make sure bob's subscription is in place: he hears himself.
    bob.publish("bob.ready", "ready".into()).await.unwrap();
    let ready = tokio::time::timeout(WAIT, watch.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ready.subject.as_str(), "bob.ready");

    alice.publish("other.x", "denied".into()).await.unwrap();
    alice.publish("alice.x", "allowed".into()).await.unwrap();
    let first = tokio::time::timeout(WAIT, watch.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.subject.as_str(),
        "alice.x",
        "the denied publish never arrived"
    );
    assert_eq!(first.payload, "allowed");
    server.shutdown().await;
}

/// A missing or broken certificate or key in the config file stops the
/// server at start with nats-server's message (which names a missing
/// file), at the `tls` key.
#[test]
fn bad_certificate_files_are_clear_start_up_errors() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let missing_message = format!(
        "bad.conf:2:1: error parsing X509 certificate/key pair: open {}: no such file or directory",
        missing.display()
    );
    let cases = [
        (
            missing.clone(),
            pki.path("server-key.pem"),
            missing_message.as_str(),
        ),
        (
            pki.path("server-cert.pem"),
            garbage.clone(),
            "bad.conf:2:1: error parsing X509 certificate/key pair: tls: failed to find any PEM data in key input",
        ),
        (
            garbage.clone(),
            pki.path("server-key.pem"),
            "bad.conf:2:1: error parsing X509 certificate/key pair: tls: failed to find any PEM data in certificate input",
        ),
        (
            pki.path("server-cert.pem"),
            pki.path("alice-key.pem"),
            "bad.conf:2:1: error parsing X509 certificate/key pair: tls: private key does not match public key",
        ),
    ];
    for (cert, key, expected) in cases {
        let conf = dir.path().join("bad.conf");
        std::fs::write(
            &conf,
            format!(
                "listen: 127.0.0.1:-1\ntls {{\n  cert_file: {cert:?}\n  key_file: {key:?}\n}}\n"
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rnats-server"))
            .args(["-c", conf.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in {err}");
    }
}

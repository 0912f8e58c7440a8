//! TLS on routes (`cluster { tls {} }`): rnats nodes routed over mutual
//! TLS, peers refused for a certificate from another CA or for speaking
//! plain text, and a mixed cluster with the reference nats-server where
//! each side is the TLS client once.
//!
//! Certificates are made with rcgen for each run: one CA, node
//! certificates for 127.0.0.1 and localhost usable as server and client
//! certificates, and a second CA with a node of its own.
//!
//! Refusals are proved by what the servers log (this binary captures the
//! log lines of its in-process servers; the reference logs to a file), by
//! route counts, and by raw TLS connections to a route port.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rnats_server::options::ClusterOptions;
use rnats_server::tls::TlsOptions;
use rnats_server::{Options, Server};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use support::cluster::{client, cluster, crosses_once, next, nothing_more, wait_routes, wait_subs};
use support::logs::{capture_logs, wait_for_log};
use support::{ReferenceServer, TIMEOUT, free_port, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

/// Two CAs and node certificates, as PEM files in a temporary directory:
/// `ca.pem` signs `node` and `other-name` (a certificate for
/// `node.example` only); `rogue-ca.pem` signs `rogue`.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let ca = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(DnType::CommonName, format!("rnats route test {name}"));
            let cert = params.self_signed(&key).unwrap();
            std::fs::write(path.join(format!("{name}.pem")), cert.pem()).unwrap();
            Issuer::new(params, key)
        };
        let issue = |name: &str, sans: &[&str], issuer: &Issuer<'_, KeyPair>| {
            let key = KeyPair::generate().unwrap();
            let mut params =
                CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            // Each node is the TLS server of the routes it accepts and
            // the TLS client of those it solicits.
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            let cert = params.signed_by(&key, issuer).unwrap();
            std::fs::write(path.join(format!("{name}-cert.pem")), cert.pem()).unwrap();
            std::fs::write(path.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
        };
        let good = ca("ca");
        issue("node", &["127.0.0.1", "localhost"], &good);
        issue("other-name", &["node.example"], &good);
        issue("named", &["localhost"], &good);
        let rogue = ca("rogue-ca");
        issue("rogue", &["127.0.0.1", "localhost"], &rogue);
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Route TLS with `who`'s certificate, trusting `ca`.
    fn tls(&self, who: &str, ca: &str) -> TlsOptions {
        TlsOptions {
            cert_file: Some(self.path(&format!("{who}-cert.pem"))),
            key_file: Some(self.path(&format!("{who}-key.pem"))),
            ca_file: Some(self.path(&format!("{ca}.pem"))),
            ..TlsOptions::default()
        }
    }

    fn node(&self) -> TlsOptions {
        self.tls("node", "ca")
    }

    /// A raw TLS client for a route port, presenting `who`'s certificate
    /// (or none).
    fn connector(&self, who: Option<&str>) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let config = match who {
            Some(who) => {
                let certs = CertificateDer::pem_file_iter(self.path(&format!("{who}-cert.pem")))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                let key =
                    PrivateKeyDer::from_pem_file(self.path(&format!("{who}-key.pem"))).unwrap();
                builder.with_client_auth_cert(certs, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

// ---------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------

async fn node_on(name: &str, port: i32, routes: Vec<String>, tls: Option<TlsOptions>) -> Server {
    capture_logs();
    let opts = Options {
        server_name: Some(name.into()),
        cluster: Some(ClusterOptions {
            name: Some("test".into()),
            host: "127.0.0.1".into(),
            port,
            routes,
            tls,
            ..Default::default()
        }),
        ..Options::for_tests()
    };
    start_server(opts).await
}

async fn node(name: &str, routes: Vec<String>, tls: TlsOptions) -> Server {
    node_on(name, -1, routes, Some(tls)).await
}

fn route_port(server: &Server) -> u16 {
    server.cluster_addr().expect("clustered").port()
}

fn route_to(server: &Server) -> String {
    format!("nats-route://127.0.0.1:{}", route_port(server))
}

/// How the log tags a route this server solicited to `server`.
fn tag_of_route_to(port: u16) -> String {
    format!("127.0.0.1:{port} - rid:")
}

// ---------------------------------------------------------------------------
// rnats nodes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn three_nodes_route_over_tls_and_exchange_messages() {
    let pki = Pki::new();
    let a = node("A", vec![], pki.node()).await;
    let b = node("B", vec![route_to(&a)], pki.node()).await;
    let c = node("C", vec![route_to(&a)], pki.node()).await;
    // B and C learn each other from A's gossip: implicit routes use TLS too.
    for s in [&a, &b, &c] {
        wait_routes(s, 2).await;
    }
    let (ca, cb, cc) = (client(&a).await, client(&b).await, client(&c).await);

    let mut on_c = cc.subscribe("secure.>").await.unwrap();
    cc.flush().await.unwrap();
    wait_subs(&a, 1).await;
    wait_subs(&b, 1).await;
    ca.publish("secure.a", "from A".into()).await.unwrap();
    // Larger than a TLS record (16 KiB): split and joined again.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    cb.publish("secure.b", big.clone().into()).await.unwrap();
    let mut got = [next(&mut on_c).await, next(&mut on_c).await];
    got.sort_by(|x, y| x.subject.cmp(&y.subject));
    assert_eq!(&got[0].payload[..], b"from A");
    assert_eq!(got[1].payload.len(), big.len());
    assert!(
        got[1].payload[..] == big[..],
        "the large payload arrived intact"
    );

    let mut on_a = ca.subscribe("back").await.unwrap();
    ca.flush().await.unwrap();
    wait_subs(&c, 2).await;
    cc.publish("back", "from C".into()).await.unwrap();
    assert_eq!(&next(&mut on_a).await.payload[..], b"from C");
    nothing_more(&mut on_a).await;
    nothing_more(&mut on_c).await;
}

/// Certificates that name the host only (no IP address): configured
/// routes say `localhost`, and routes learned from gossip, which come as IP
/// addresses, are checked against that name, as nats-server does.
#[tokio::test]
async fn gossiped_routes_check_certificates_against_the_configured_host_name() {
    let pki = Pki::new();
    let named = || pki.tls("named", "ca");
    let a = node("A", vec![], named()).await;
    let by_name = format!("nats-route://localhost:{}", route_port(&a));
    let b = node("B", vec![by_name.clone()], named()).await;
    let c = node("C", vec![by_name], named()).await;
    for s in [&a, &b, &c] {
        wait_routes(s, 2).await;
    }
    let (cb, cc) = (client(&b).await, client(&c).await);
    crosses_once(&cb, &b, 1, &cc, "by.name").await;
}

/// The wire: TLS right after TCP, then INFO inside it announcing TLS; a
/// client certificate is required and must come from the CA.
#[tokio::test]
async fn the_route_port_speaks_tls_first_and_requires_a_certificate_from_the_ca() {
    let pki = Pki::new();
    let a = node("A", vec![], pki.node()).await;
    let addr = a.cluster_addr().unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();

    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = timeout(
        TIMEOUT,
        pki.connector(Some("node")).connect(name.clone(), tcp),
    )
    .await
    .unwrap()
    .expect("the handshake with a certificate from the CA");
    let info = read_line(&mut tls).await;
    assert!(info.starts_with("INFO {"), "{info}");
    assert!(info.contains(r#""tls_required":true"#), "{info}");
    assert!(info.contains(r#""tls_verify":true"#), "{info}");

    for who in [None, Some("rogue")] {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let connected = timeout(TIMEOUT, pki.connector(who).connect(name.clone(), tcp))
            .await
            .expect("the handshake ends in time");
        // With TLS 1.3 the client finishes before the server has checked
        // its certificate: the refusal may show only on the first read.
        if let Ok(mut tls) = connected {
            let mut buf = [0u8; 256];
            match timeout(TIMEOUT, tls.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {}
                other => panic!("a client presenting {who:?} was not refused: {other:?}"),
            }
        }
    }
    assert_eq!(cluster(&a).route_count(), 0);
}

async fn read_line<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        let mut byte = [0u8; 1];
        match timeout(TIMEOUT, stream.read(&mut byte)).await {
            Ok(Ok(1)) => line.push(byte[0]),
            other => panic!(
                "the line ended early ({other:?}) after {:?}",
                String::from_utf8_lossy(&line)
            ),
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

#[tokio::test]
async fn a_node_with_a_certificate_from_another_ca_is_refused() {
    let pki = Pki::new();
    let a = node("A", vec![], pki.node()).await;
    // The rogue node trusts its own CA only; it solicits A, and B
    // solicits both: every handshake with it fails, on either side.
    let rogue = node("rogue", vec![route_to(&a)], pki.tls("rogue", "rogue-ca")).await;
    let b = node("B", vec![route_to(&a), route_to(&rogue)], pki.node()).await;
    wait_routes(&a, 1).await;
    wait_routes(&b, 1).await;
    // The rogue node rejected A's certificate (as TLS client) ...
    wait_for_log(&[
        &tag_of_route_to(route_port(&a)),
        "TLS route handshake error",
    ])
    .await;
    // ... and B rejected the rogue node's.
    wait_for_log(&[
        &tag_of_route_to(route_port(&rogue)),
        "TLS route handshake error",
        "invalid peer certificate",
    ])
    .await;
    wait_for_log(&[
        &tag_of_route_to(route_port(&rogue)),
        "Router connection closed: TLS Handshake Failure",
    ])
    .await;
    assert_eq!(cluster(&rogue).route_count(), 0);
    assert_eq!(cluster(&a).route_count(), 1);
    assert_eq!(cluster(&b).route_count(), 1);

    // A and B carry messages all the while.
    let (ca, cb) = (client(&a).await, client(&b).await);
    let mut on_b = cb.subscribe("still.working").await.unwrap();
    cb.flush().await.unwrap();
    wait_subs(&a, 1).await;
    ca.publish("still.working", "yes".into()).await.unwrap();
    assert_eq!(&next(&mut on_b).await.payload[..], b"yes");
    // And the rogue node never heard of that interest.
    assert_eq!(rogue.shared().subscription_count(), 0);
}

#[tokio::test]
async fn plain_text_routes_and_tls_ports_do_not_mix() {
    let pki = Pki::new();
    let a = node("A", vec![], pki.node()).await;

    // A plain-text peer on the TLS route port: closed without a word.
    let mut raw = TcpStream::connect(a.cluster_addr().unwrap()).await.unwrap();
    raw.write_all(b"CONNECT {\"name\":\"NPLAIN\",\"cluster\":\"test\"}\r\nPING\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let end = timeout(TIMEOUT, raw.read_to_end(&mut received))
        .await
        .expect("closed in time");
    assert!(
        matches!(end, Ok(0)) && received.is_empty(),
        "{end:?} {received:?}"
    );

    // A plain-text node soliciting the TLS node: closed, never registered.
    let plain = node_on("plain", -1, vec![route_to(&a)], None).await;
    wait_for_log(&[&tag_of_route_to(route_port(&a)), "Router connection closed"]).await;
    // The TLS node soliciting the plain one: the INFO that greets it is
    // not a TLS handshake.
    let t = node("T", vec![route_to(&plain)], pki.node()).await;
    wait_for_log(&[
        &tag_of_route_to(route_port(&plain)),
        "TLS route handshake error",
    ])
    .await;
    for s in [&a, &plain, &t] {
        assert_eq!(cluster(s).route_count(), 0);
    }
}

#[tokio::test]
async fn insecure_skips_checking_the_solicited_server_certificate() {
    let pki = Pki::new();
    // S's certificate is from the CA but names node.example, not 127.0.0.1.
    let s = node("S", vec![], pki.tls("other-name", "ca")).await;
    let strict = node("strict", vec![route_to(&s)], pki.node()).await;
    wait_for_log(&[
        &tag_of_route_to(route_port(&s)),
        "TLS route handshake error",
        "certificate not valid for name \"127.0.0.1\"",
    ])
    .await;
    assert_eq!(cluster(&strict).route_count(), 0);

    let insecure = TlsOptions {
        insecure: true,
        ..pki.node()
    };
    let lax = node("lax", vec![route_to(&s)], insecure).await;
    wait_routes(&lax, 1).await;
    // S still checked lax's certificate as a client certificate: a route.
    wait_routes(&s, 1).await;
    assert_eq!(cluster(&strict).route_count(), 0);
}

#[tokio::test]
async fn bad_route_tls_configurations_stop_the_server_at_start() {
    let pki = Pki::new();
    let start = |tls: TlsOptions| async move {
        let opts = Options {
            cluster: Some(ClusterOptions {
                host: "127.0.0.1".into(),
                port: -1,
                tls: Some(tls),
                ..Default::default()
            }),
            ..Options::for_tests()
        };
        Server::start(opts)
            .await
            .err()
            .expect("refused at start")
            .to_string()
    };
    let no_ca = TlsOptions {
        ca_file: None,
        ..pki.node()
    };
    assert!(start(no_ca).await.contains("cluster tls requires ca_file"));
    let missing = TlsOptions {
        ca_file: Some(pki.path("nowhere.pem")),
        ..pki.node()
    };
    let err = start(missing).await;
    assert!(
        err.contains("ca_file") && err.contains("nowhere.pem"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// With the reference nats-server
// ---------------------------------------------------------------------------

fn reference_config(pki: &Pki, route_port: u16, routes: &[String], who: (&str, &str)) -> String {
    let routes: Vec<String> = routes.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        "server_name: reference\ncluster {{\n  name: test\n  listen: 127.0.0.1:{route_port}\n  \
         tls {{\n    cert_file: \"{}\"\n    key_file: \"{}\"\n    ca_file: \"{}\"\n  }}\n  \
         routes: [ {} ]\n}}\n",
        pki.path(&format!("{}-cert.pem", who.0)).display(),
        pki.path(&format!("{}-key.pem", who.0)).display(),
        pki.path(&format!("{}.pem", who.1)).display(),
        routes.join(", ")
    )
}

/// R1 <- reference <- R2: starts the reference with `config` (which routes
/// it to `r1` and has it listen on `ref_route_port`) and a second rnats
/// node R2 that dials the reference, and waits until the three mesh. The
/// reference is the TLS client of its route to R1 and the TLS server of
/// R2's. `None` when the reference is missing and may be skipped.
async fn mesh_through_the_reference(
    pki: &Pki,
    r1: &Server,
    config: &str,
    ref_route_port: u16,
) -> Option<(ReferenceServer, Server)> {
    let reference = ReferenceServer::start_with_config(config).await?;
    wait_routes(r1, 1).await;
    let r2 = node(
        "R2",
        vec![format!("nats-route://127.0.0.1:{ref_route_port}")],
        pki.node(),
    )
    .await;
    wait_routes(&r2, 2).await;
    wait_routes(r1, 2).await;
    Some((reference, r2))
}

/// R1 <- reference <- R2: the reference is the TLS client of its route to
/// R1 and the TLS server of R2's; R1 and R2 then mesh through gossip.
#[tokio::test]
async fn mixed_cluster_with_the_reference_over_tls_both_ways() {
    let pki = Pki::new();
    let r1 = node("R1", vec![], pki.node()).await;
    let ref_route_port = free_port();
    let config = reference_config(&pki, ref_route_port, &[route_to(&r1)], ("node", "ca"));
    let Some((reference, r2)) =
        mesh_through_the_reference(&pki, &r1, &config, ref_route_port).await
    else {
        return;
    };

    let (c1, c2) = (client(&r1).await, client(&r2).await);
    let cn = async_nats::connect(format!("nats://{}", reference.addr()))
        .await
        .unwrap();

    // Reference -> rnats interest, rnats -> reference messages.
    let mut on_ref = cn.subscribe("to.ref").await.unwrap();
    let mut probe = cn.subscribe("probe.ref").await.unwrap();
    cn.flush().await.unwrap();
    wait_subs(&r1, 2).await;
    wait_subs(&r2, 2).await;
    c1.publish("to.ref", "from R1".into()).await.unwrap();
    c2.publish("to.ref", "from R2".into()).await.unwrap();
    let mut got = vec![
        next(&mut on_ref).await.payload,
        next(&mut on_ref).await.payload,
    ];
    got.sort();
    assert_eq!(got, [&b"from R1"[..], &b"from R2"[..]]);
    nothing_more(&mut on_ref).await;

    // rnats -> reference interest: a probe sent after the SUB, along the
    // same route, proves the reference has it.
    let mut on_r1 = c1.subscribe("to.r1").await.unwrap();
    let mut on_r2 = c2.subscribe("to.r2").await.unwrap();
    for c in [&c1, &c2] {
        c.flush().await.unwrap();
        c.publish("probe.ref", "sync".into()).await.unwrap();
        next(&mut probe).await;
    }
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Route", "tls");
    cn.publish_with_headers("to.r1", headers, "to R1".into())
        .await
        .unwrap();
    cn.publish("to.r2", "to R2".into()).await.unwrap();
    let m = next(&mut on_r1).await;
    assert_eq!(&m.payload[..], b"to R1");
    assert_eq!(m.headers.unwrap().get("X-Route").unwrap().as_str(), "tls");
    assert_eq!(&next(&mut on_r2).await.payload[..], b"to R2");

    // The reference created its route to R1 and accepted R2's, with no
    // handshake failure on the way.
    let log = reference.log();
    let to_r1 = format!("127.0.0.1:{} - rid:", route_port(&r1));
    assert!(
        log.lines()
            .any(|l| l.contains(&to_r1) && l.contains("Route connection created")),
        "{log}"
    );
    assert!(
        log.matches("Route connection created").count() >= 2,
        "{log}"
    );
    assert!(!log.contains("handshake error"), "{log}");
    drop(reference);
}

/// The reference refuses what rnats refuses: a certificate from another
/// CA, and a route in plain text; rnats refuses the reference's
/// certificate when it trusts another CA.
#[tokio::test]
async fn the_reference_refuses_rogue_and_plain_text_routes() {
    let pki = Pki::new();
    let ref_route_port = free_port();
    let config = reference_config(&pki, ref_route_port, &[], ("node", "ca"));
    let Some(reference) = ReferenceServer::start_with_config(&config).await else {
        return;
    };
    let to_ref = format!("nats-route://127.0.0.1:{ref_route_port}");
    let rogue = node("rogue", vec![to_ref.clone()], pki.tls("rogue", "rogue-ca")).await;
    wait_for_log(&[
        &tag_of_route_to(ref_route_port),
        "TLS route handshake error",
    ])
    .await;
    let plain = node_on("plain", -1, vec![to_ref], None).await;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let log = reference.log();
        if log
            .contains("TLS route handshake error: remote error: tls: unknown certificate authority")
            && log.contains("first record does not look like a TLS handshake")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reference did not refuse both:\n{log}"
        );
        sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cluster(&rogue).route_count(), 0);
    assert_eq!(cluster(&plain).route_count(), 0);
}

// ---------------------------------------------------------------------------
// verify_and_map: the certificate is the route's login
// ---------------------------------------------------------------------------

/// A node whose route TLS has `verify_and_map` and whose cluster user is
/// `user`: a peer logs in by presenting a certificate that names `user`.
async fn mapping_node(name: &str, pki: &Pki, user: &str, routes: Vec<String>) -> Server {
    capture_logs();
    let opts = Options {
        server_name: Some(name.into()),
        cluster: Some(ClusterOptions {
            name: Some("test".into()),
            host: "127.0.0.1".into(),
            port: -1,
            username: Some(user.into()),
            routes,
            tls: Some(TlsOptions {
                verify_and_map: true,
                ..pki.node()
            }),
            ..Default::default()
        }),
        ..Options::for_tests()
    };
    start_server(opts).await
}

/// With `verify_and_map`, as in nats-server, a route logs in with its
/// certificate: one that names the cluster user (a DNS name, or the
/// subject DN) is let in without a password, any other is refused with
/// `Authorization Violation`.
#[tokio::test]
async fn verify_and_map_takes_the_certificate_as_the_route_login() {
    let pki = Pki::new();
    // The `node` certificate names localhost (a DNS SAN) and CN=node.
    for user in ["localhost", "CN=node"] {
        let a = mapping_node("A", &pki, user, vec![]).await;
        let b = node("B", vec![route_to(&a)], pki.node()).await;
        wait_routes(&a, 1).await;
        wait_routes(&b, 1).await;
        let (ca, cb) = (client(&a).await, client(&b).await);
        crosses_once(&ca, &a, 1, &cb, "mapped").await;
    }
    // `named` names only localhost and CN=named.
    let a = mapping_node("A", &pki, "CN=node", vec![]).await;
    let stranger = node("stranger", vec![route_to(&a)], pki.tls("named", "ca")).await;
    wait_for_log(&[
        &tag_of_route_to(route_port(&a)),
        "Route Error 'Authorization Violation'",
    ])
    .await;
    assert_eq!(cluster(&a).route_count(), 0);
    assert_eq!(cluster(&stranger).route_count(), 0);
}

/// `verify_and_map` between rnats and the reference, each side mapping
/// the other's certificate to its cluster user: the route forms both ways
/// with no password anywhere, and a certificate that names another user
/// is refused by the reference as by rnats.
#[tokio::test]
async fn verify_and_map_routes_with_the_reference() {
    let pki = Pki::new();
    let rnats = mapping_node("rnats", &pki, "localhost", vec![]).await;
    let ref_route_port = free_port();
    let config = reference_config(&pki, ref_route_port, &[route_to(&rnats)], ("node", "ca"))
        .replace(
            "  tls {\n",
            "  authorization { user: localhost }\n  tls {\n    verify_and_map: true\n",
        );
    // The reference dials rnats (rnats maps its certificate); another
    // rnats node dials the reference (the reference maps that one's), and
    // then rnats after gossip.
    let Some((reference, spoke)) =
        mesh_through_the_reference(&pki, &rnats, &config, ref_route_port).await
    else {
        return;
    };
    let on_reference = async_nats::connect(format!("nats://{}", reference.addr()))
        .await
        .unwrap();
    for server in [&rnats, &spoke] {
        let on_rnats = client(server).await;
        let mut sub = on_rnats.subscribe("mapped.both.ways").await.unwrap();
        on_rnats.flush().await.unwrap();
        support::cluster::probe_until_received(&on_reference, "mapped.both.ways", &mut sub).await;
    }

    // A node whose certificate names other things dials the reference.
    let stranger = node(
        "stranger",
        vec![format!("nats-route://127.0.0.1:{ref_route_port}")],
        pki.tls("other-name", "ca"),
    )
    .await;
    let deadline = Instant::now() + TIMEOUT;
    while !reference.log().contains("authentication error") {
        assert!(Instant::now() < deadline, "{}", reference.log());
        sleep(Duration::from_millis(10)).await;
    }
    // The reference has refused it; the stranger sees its route close
    // when the reference's close reaches it, which may be a moment later.
    while cluster(&stranger).route_count() != 0 {
        assert!(
            Instant::now() < deadline,
            "the refused route stays up on the stranger"
        );
        sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(cluster(&rnats).route_count(), 2);
}

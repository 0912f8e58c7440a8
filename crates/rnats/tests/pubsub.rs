//! `rnats pub`, `sub`, `req` and `reply`: the built binary against an in-process rnats-server on
//! a random loopback port, with the logins it offers (URL credentials, token, `.creds`, NKey,
//! mutual TLS). A subscriber is known to be ready when it prints its "Listening on" line; every
//! wait is bounded.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use support::{TestServer, make_chain};

/// The longest any command may take.
const WAIT: Duration = Duration::from_secs(20);

/// A running `rnats`, its stderr read line by line as it comes.
struct Running {
    child: Child,
    stdout: mpsc::Receiver<Vec<u8>>,
    stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
    deadline: Instant,
}

/// How an `rnats` run ended.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn success(self, what: &str) -> Finished {
        assert!(
            self.status.success(),
            "{what}: {:?}\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Requires the run to have failed with exit code `code`.
    fn failure(self, code: i32) -> Finished {
        assert_eq!(
            self.status.code(),
            Some(code),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }
}

fn spawn(dir: Option<&Path>, args: &[&str], stdin: Option<&[u8]>) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rnats"));
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = command.spawn().expect("rnats runs");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input).unwrap();
    }
    let mut out = child.stdout.take().unwrap();
    let (out_tx, stdout) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = out.read_to_end(&mut bytes);
        let _ = out_tx.send(bytes);
    });
    let err = child.stderr.take().unwrap();
    let (err_tx, stderr) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if err_tx.send(line).is_err() {
                break;
            }
        }
    });
    Running {
        child,
        stdout,
        stderr,
        stderr_seen: Vec::new(),
        deadline: Instant::now() + WAIT,
    }
}

fn rnats(args: &[&str]) -> Finished {
    spawn(None, args, None).finish()
}

fn rnats_in(dir: &Path, args: &[&str]) -> Finished {
    spawn(Some(dir), args, None).finish()
}

impl Running {
    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Waits for a line on stderr that contains `text`.
    fn wait_for_stderr(&mut self, text: &str) -> String {
        loop {
            match self.stderr.recv_timeout(self.left()) {
                Ok(line) => {
                    self.stderr_seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no {text:?} on stderr within {WAIT:?}; stderr: {:?}",
                    self.stderr_seen
                ),
            }
        }
    }

    /// Waits for the end: stdout and stderr closed, then the exit status.
    fn finish(mut self) -> Finished {
        let stdout = match self.stdout.recv_timeout(self.left()) {
            Ok(bytes) => String::from_utf8(bytes).unwrap(),
            Err(_) => panic!(
                "rnats did not finish within {WAIT:?}; stderr: {:?}",
                self.stderr_seen
            ),
        };
        loop {
            match self.stderr.recv_timeout(self.left()) {
                Ok(line) => self.stderr_seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("stderr stays open"),
            }
        }
        let status = self.child.wait().unwrap();
        Finished {
            status,
            stdout,
            stderr: self.stderr_seen.join("\n"),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sub_prints_what_pub_sends_with_headers() {
    let server = TestServer::start();
    let url = server.url();
    let mut sub = spawn(None, &["sub", "greet.*", "--count", "1", "-s", &url], None);
    assert_eq!(
        sub.wait_for_stderr("Listening on"),
        r#"Listening on "greet.*""#
    );

    let publish = rnats(&[
        "pub",
        "greet.en",
        "hello world",
        "-H",
        "B: two",
        "-H",
        "A:1",
        "-s",
        &url,
    ])
    .success("pub");
    assert_eq!(publish.stderr, r#"Published 11 bytes to "greet.en""#);

    let sub = sub.finish().success("sub");
    assert_eq!(
        sub.stdout,
        "[#1] Received on \"greet.en\"\nA: 1\nB: two\n\nhello world\n\n"
    );
}

#[test]
fn pub_reads_the_body_from_stdin_and_sends_the_reply_subject() {
    let server = TestServer::start();
    let url = server.url();
    let mut sub = spawn(None, &["sub", "in", "--count", "1", "-s", &url], None);
    sub.wait_for_stderr("Listening on");
    spawn(
        None,
        &["pub", "in", "--reply", "back", "-s", &url],
        Some(b"from\nstdin"),
    )
    .finish()
    .success("pub");
    assert_eq!(
        sub.finish().success("sub").stdout,
        "[#1] Received on \"in\" with reply \"back\"\nfrom\nstdin\n\n"
    );
}

#[test]
fn pub_count_numbers_the_messages() {
    let server = TestServer::start();
    // A dead server first in the list: the live one is found.
    let urls = format!("nats://127.0.0.1:1,{}", server.url());
    let mut sub = spawn(
        None,
        &[
            "sub", "n", "--queue", "workers", "--count", "3", "-s", &urls,
        ],
        None,
    );
    assert_eq!(
        sub.wait_for_stderr("Listening on"),
        r#"Listening on "n" in queue group "workers""#
    );
    let publish = rnats(&[
        "pub",
        "n",
        "msg {{Count}}",
        "--count",
        "3",
        "-H",
        "Seq:{{Count}}",
        "-s",
        &urls,
    ])
    .success("pub");
    assert_eq!(publish.stderr, r#"Published 3 messages (15 bytes) to "n""#);
    let expected: String = (1..=3)
        .map(|n| format!("[#{n}] Received on \"n\"\nSeq: {n}\n\nmsg {n}\n\n"))
        .collect();
    assert_eq!(sub.finish().success("sub").stdout, expected);
}

#[test]
fn reply_answers_req() {
    let server = TestServer::start();
    let url = server.url();
    let mut reply = spawn(
        None,
        &["reply", "svc", "pong {{Count}}", "--count", "2", "-s", &url],
        None,
    );
    reply.wait_for_stderr(r#"Listening on "svc""#);

    for n in 1..=2 {
        let req = rnats(&[
            "req",
            "svc",
            "ping",
            "-H",
            "K:v",
            "--timeout",
            "5s",
            "-s",
            &url,
        ])
        .success("req");
        assert_eq!(req.stdout, format!("pong {n}\n"));
        assert!(req.stderr.contains("Received with rtt"), "{}", req.stderr);
    }
    let reply = reply.finish().success("reply");
    // Each request printed as `sub` prints messages.
    assert!(
        reply
            .stdout
            .starts_with("[#1] Received on \"svc\" with reply \"_INBOX.")
            && reply
                .stdout
                .contains("\n\n[#2] Received on \"svc\" with reply \"_INBOX.")
            && reply.stdout.matches("\nK: v\n\nping\n\n").count() == 2,
        "{}",
        reply.stdout
    );
}

#[test]
fn req_without_responders_fails_with_exit_code_1() {
    let server = TestServer::start();
    let req = rnats(&["req", "nobody.home", "hello", "-s", &server.url()]).failure(1);
    assert_eq!(
        req.stderr,
        "rnats req: error: no responders available for request"
    );
    assert_eq!(req.stdout, "");
}

#[test]
fn credentials_in_the_url_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_config(
        dir.path(),
        r#"authorization {
             users = [
               { user: alice, password: "s3cr%t@", permissions: {
                   publish: ["app.>", "_INBOX.>"], subscribe: ["app.>", "_INBOX.>"] } }
             ]
           }"#,
    );
    // The password percent-encoded in the URL, as URLs have it.
    let alice = server.url_with("alice:s3cr%25t%40");
    let mut sub = spawn(
        None,
        &["sub", "app.events", "--count", "1", "-s", &alice],
        None,
    );
    sub.wait_for_stderr("Listening on");
    rnats(&["pub", "app.events", "in", "-s", &alice]).success("pub with the URL's login");
    assert!(sub.finish().success("sub").stdout.ends_with("\nin\n\n"));

    // The flags do as well.
    rnats(&[
        "pub",
        "app.events",
        "x",
        "--user",
        "alice",
        "--password",
        "s3cr%t@",
        "-s",
        &server.url(),
    ])
    .success("pub with --user/--password");

    for url in [server.url(), server.url_with("alice:wrong")] {
        let refused = rnats(&["pub", "app.events", "x", "-s", &url]).failure(1);
        assert!(
            refused
                .stderr
                .starts_with("rnats pub: error: cannot connect to nats://127.0.0.1:")
                && refused.stderr.ends_with(": authorization violation")
                && !refused.stderr.contains("wrong"),
            "{}",
            refused.stderr
        );
    }

    // What the server refuses is an error, not a success.
    let denied = rnats(&["pub", "elsewhere", "x", "-s", &alice]).failure(1);
    assert_eq!(
        denied.stderr,
        r#"rnats pub: error: Permissions Violation for Publish to "elsewhere""#
    );
    let denied = rnats(&["sub", "elsewhere", "-s", &alice]).failure(1);
    assert_eq!(
        denied.stderr,
        r#"rnats sub: error: Permissions Violation for Subscription to "elsewhere""#
    );
}

#[test]
fn a_token_in_the_url_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_config(dir.path(), "authorization { token: t0ken }");
    rnats(&["pub", "x", "y", "-s", &server.url_with("t0ken")]).success("pub with the URL's token");
    rnats(&["pub", "x", "y", "--token", "t0ken", "-s", &server.url()]).success("pub with --token");
    rnats(&["pub", "x", "y", "-s", &server.url()]).failure(1);
}

#[test]
fn a_creds_file_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // alice may use `app.>` only.
    let resolver = make_chain(dir);
    let server = TestServer::with_config(dir, &resolver);
    let url = server.url();

    let mut sub = spawn(
        Some(dir),
        &[
            "sub",
            "app.orders",
            "--count",
            "1",
            "--creds",
            "alice.creds",
            "-s",
            &url,
        ],
        None,
    );
    sub.wait_for_stderr("Listening on");
    rnats_in(
        dir,
        &[
            "pub",
            "app.orders",
            "one",
            "--creds",
            "alice.creds",
            "-s",
            &url,
        ],
    )
    .success("pub");
    assert!(sub.finish().success("sub").stdout.ends_with("\none\n\n"));

    rnats_in(dir, &["pub", "app.orders", "x", "-s", &url]).failure(1);
    let missing = rnats_in(
        dir,
        &[
            "pub",
            "app.orders",
            "x",
            "--creds",
            "none.creds",
            "-s",
            &url,
        ],
    );
    assert!(
        missing
            .stderr
            .starts_with("rnats pub: error: cannot read none.creds: "),
        "{}",
        missing.stderr
    );
}

#[test]
fn an_nkey_seed_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let public = rnats_in(dir, &["nkey", "gen", "user", "--out", "u.nk"])
        .success("nkey gen")
        .stdout;
    let server = TestServer::with_config(
        dir,
        &format!(
            "authorization {{ users = [ {{ nkey: {} }} ] }}",
            public.trim()
        ),
    );
    rnats_in(
        dir,
        &["pub", "x", "y", "--nkey", "u.nk", "-s", &server.url()],
    )
    .success("pub --nkey");
    rnats_in(dir, &["pub", "x", "y", "-s", &server.url()]).failure(1);
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files in `dir`.
fn make_pki(dir: &Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "rnats test CA");
    std::fs::write(dir.join("ca.pem"), ca.self_signed(&ca_key).unwrap().pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    for (name, sans) in [
        ("server", vec!["127.0.0.1".to_string()]),
        ("client", vec![]),
    ] {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(sans)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        std::fs::write(dir.join(format!("{name}-cert.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
    }
}

#[test]
fn mutual_tls_with_tlsca_tlscert_tlskey() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    make_pki(dir);
    let server = TestServer::with_config(
        dir,
        &format!(
            "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true }}",
            dir.join("server-cert.pem"),
            dir.join("server-key.pem"),
            dir.join("ca.pem"),
        ),
    );
    let url = server.url();
    let tls = [
        "--tlsca",
        "ca.pem",
        "--tlscert",
        "client-cert.pem",
        "--tlskey",
        "client-key.pem",
        "-s",
        &url,
    ];
    let mut reply = spawn(
        Some(dir),
        &[&["reply", "tls.svc", "secure", "--count", "1"][..], &tls].concat(),
        None,
    );
    reply.wait_for_stderr("Listening on");
    let req =
        rnats_in(dir, &[&["req", "tls.svc", "hi"][..], &tls].concat()).success("req over TLS");
    assert_eq!(req.stdout, "secure\n");
    reply.finish().success("reply over TLS");

    // Without a client certificate the server says no.
    rnats_in(dir, &["pub", "x", "y", "--tlsca", "ca.pem", "-s", &url]).failure(1);
}

#[test]
fn bad_arguments_are_refused_clearly() {
    let header = rnats(&["pub", "x", "y", "-H", "no-colon"]).failure(2);
    assert!(
        header.stderr.contains("expected KEY:VALUE"),
        "{}",
        header.stderr
    );
    let url = rnats(&["pub", "x", "y", "-s", "http://127.0.0.1:4222"]).failure(1);
    assert!(
        url.stderr
            .starts_with(r#"rnats pub: error: bad server URL "http://127.0.0.1:4222": "#),
        "{}",
        url.stderr
    );
    rnats(&["sub", "x", "--count", "0"]).failure(2);
    let timeout = rnats(&["req", "x", "y", "--timeout", "soon"]).failure(2);
    assert!(
        timeout.stderr.contains("invalid duration"),
        "{}",
        timeout.stderr
    );
}

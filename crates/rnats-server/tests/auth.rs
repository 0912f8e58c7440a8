//! Authentication and authorization as clients meet them: the official Rust
//! client (`async-nats`) and raw sockets against an in-process rnats server
//! configured with users, tokens, bcrypt hashes, NKeys, permissions,
//! accounts and `no_auth_user`.
//!
//! Every login is proven by a message round trip; every refusal is checked
//! for its error (`-ERR 'Authorization Violation'` then a close) and is
//! followed by a correct client that the server still serves. Ordering is
//! proven by round trips (PING/PONG on raw sockets, a probe message through
//! the server for async-nats), never by sleeping.

use std::time::Duration;

use async_nats::{
    Client, ConnectError, ConnectErrorKind, ConnectOptions, Event, Message, ServerAddr,
    ServerError, Subscriber,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use futures::StreamExt;
use nkeys::KeyPair;
use rnats_server::options::{
    AccountConfig, AuthOptions, NkeyConfig, PermissionsConfig, ResponsePermissionConfig,
    SubjectRuleConfig, UserConfig,
};
use rnats_server::{Options, Server};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout, timeout_at};

/// How long any single expectation may wait.
const WAIT: Duration = Duration::from_secs(5);

/// What the server says to every refused login, on the wire.
const AUTH_VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";

/// The token of the spec's `nats-server -auth 'S3Cr3T0k3n!'` example.
const SPEC_TOKEN: &str = "S3Cr3T0k3n!";
/// Joe's password in the spec, set there through the variable `$PASS`.
const SPEC_PASS: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
/// The spec's `mkpasswd` output for the password `password` (cost 11).
const SPEC_BCRYPT: &str = "$2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba";

// ---------------------------------------------------------------------------
// Configuring the server
// ---------------------------------------------------------------------------

async fn start(auth: AuthOptions) -> Server {
    let mut opts = Options::for_tests();
    opts.auth = auth;
    Server::start(opts).await.expect("server starts")
}

/// `nats-server --user foo --pass bar`
fn single_user() -> AuthOptions {
    AuthOptions {
        username: Some("foo".into()),
        password: Some("bar".into()),
        ..AuthOptions::default()
    }
}

fn token(token: &str) -> AuthOptions {
    AuthOptions {
        token: Some(token.into()),
        ..AuthOptions::default()
    }
}

fn users(users: Vec<UserConfig>) -> AuthOptions {
    AuthOptions {
        users,
        ..AuthOptions::default()
    }
}

fn user(name: &str, password: &str) -> UserConfig {
    UserConfig {
        user: name.into(),
        password: password.into(),
        permissions: None,
    }
}

fn user_with(name: &str, password: &str, permissions: PermissionsConfig) -> UserConfig {
    UserConfig {
        permissions: Some(permissions),
        ..user(name, password)
    }
}

fn strings(subjects: &[&str]) -> Vec<String> {
    subjects.iter().map(|s| s.to_string()).collect()
}

/// A rule allowing `allow` except `deny`.
fn rule(allow: &[&str], deny: &[&str]) -> Option<SubjectRuleConfig> {
    Some(SubjectRuleConfig {
        allow: Some(strings(allow)),
        deny: strings(deny),
    })
}

/// A rule allowing everything but `deny`.
fn deny_only(deny: &[&str]) -> Option<SubjectRuleConfig> {
    Some(SubjectRuleConfig {
        allow: None,
        deny: strings(deny),
    })
}

/// May publish and subscribe on `public.>` except `public.secret`.
fn public_only() -> PermissionsConfig {
    PermissionsConfig {
        publish: rule(&["public.>"], &["public.secret"]),
        subscribe: rule(&["public.>"], &["public.secret"]),
        allow_responses: None,
    }
}

fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash_with_result(password, 4)
        .expect("bcrypt hashes")
        .format_for_version(bcrypt::Version::TwoA)
}

// ---------------------------------------------------------------------------
// async-nats clients
// ---------------------------------------------------------------------------

async fn try_login(server: &Server, options: ConnectOptions) -> Result<Client, ConnectError> {
    timeout(WAIT, options.connect(server.client_url()))
        .await
        .expect("the login attempt ends in time")
}

async fn login(server: &Server, options: ConnectOptions) -> Client {
    try_login(server, options)
        .await
        .unwrap_or_else(|e| panic!("the login must succeed, got: {e}"))
}

async fn login_as(server: &Server, name: &str, password: &str) -> Client {
    login(
        server,
        ConnectOptions::with_user_and_password(name.into(), password.into()),
    )
    .await
}

/// The server must refuse this login with `Authorization Violation`.
async fn assert_refused(server: &Server, options: ConnectOptions, what: &str) {
    match try_login(server, options).await {
        Ok(_) => panic!("{what}: the server let the client in"),
        Err(e) => assert_eq!(
            e.kind(),
            ConnectErrorKind::AuthorizationViolation,
            "{what}: expected an authorization violation, got: {e}"
        ),
    }
}

async fn next(sub: &mut Subscriber) -> Message {
    timeout(WAIT, sub.next())
        .await
        .expect("a message arrives in time")
        .expect("the subscription is still open")
}

/// Subscribes `client` to the literal `subject` and returns once the server
/// has registered the subscription: a probe the client publishes there
/// itself has come back. The client must be allowed to publish on it.
async fn subscribe_synced(client: &Client, subject: &str) -> Subscriber {
    subscribe_probed(client, subject, subject).await
}

/// Like [`subscribe_synced`] for a subject with wildcards: the probe goes
/// to `probe`, a literal subject inside it.
async fn subscribe_probed(client: &Client, subject: &str, probe: &str) -> Subscriber {
    let mut sub = client.subscribe(subject.to_string()).await.unwrap();
    client
        .publish(probe.to_string(), "probe".into())
        .await
        .unwrap();
    let probe = next(&mut sub).await;
    assert_eq!(probe.payload, "probe", "the probe is the first message");
    sub
}

/// `from` publishes on `subject` and `to`, subscribed there, receives it.
async fn exchange(from: &Client, to: &Client, subject: &str) {
    let mut sub = subscribe_synced(to, subject).await;
    from.publish(subject.to_string(), "hello".into())
        .await
        .unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.subject.as_str(), subject);
    assert_eq!(m.payload, "hello");
}

/// The server still serves a correct client: it logs in and a message
/// makes the round trip.
async fn assert_serves(server: &Server, options: ConnectOptions) {
    let client = login(server, options).await;
    exchange(&client, &client, "still.serving").await;
}

/// A login whose server errors (e.g. permission violations) arrive on the
/// returned channel.
async fn login_with_errors(
    server: &Server,
    options: ConnectOptions,
) -> (Client, mpsc::UnboundedReceiver<ServerError>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let options = options.event_callback(move |event| {
        let tx = tx.clone();
        async move {
            if let Event::ServerError(e) = event {
                let _ = tx.send(e);
            }
        }
    });
    (login(server, options).await, rx)
}

async fn next_error(errors: &mut mpsc::UnboundedReceiver<ServerError>) -> ServerError {
    timeout(WAIT, errors.recv())
        .await
        .expect("the server error arrives in time")
        .expect("the event callback is still registered")
}

/// What the Go, Java and Python clients do with credentials in a URL:
/// `user:pass@` logs in with a user and password, a lone `token@` with a
/// token. async-nats 0.51 parses them (`ServerAddr::username`/`password`)
/// but never puts them in its CONNECT, so the tests pass them on here.
fn credentials_from_url(url: &str) -> (ServerAddr, ConnectOptions) {
    let addr: ServerAddr = url.parse().expect("a valid NATS URL");
    let options = match (addr.username(), addr.password()) {
        (Some(user), Some(pass)) => {
            ConnectOptions::with_user_and_password(percent_decode(user), percent_decode(pass))
        }
        (Some(token), None) => ConnectOptions::with_token(percent_decode(token)),
        _ => ConnectOptions::new(),
    };
    (addr, options)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(byte) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8 credentials")
}

// ---------------------------------------------------------------------------
// Raw clients
// ---------------------------------------------------------------------------

/// A client speaking the protocol as bytes, checking every byte it gets.
struct Raw {
    stream: TcpStream,
    /// Received but not yet checked.
    pending: Vec<u8>,
    /// The INFO greeting's JSON.
    info: Value,
    closed: bool,
}

fn show(bytes: &[u8]) -> String {
    format!("b\"{}\"", bytes.escape_ascii())
}

/// `CONNECT <json>\r\n`
fn connect_line(fields: &Value) -> Vec<u8> {
    format!("CONNECT {fields}\r\n").into_bytes()
}

impl Raw {
    /// Connects and reads the INFO greeting.
    async fn connect(server: &Server) -> Raw {
        let stream = timeout(WAIT, TcpStream::connect(server.local_addr()))
            .await
            .expect("connecting in time")
            .expect("connecting");
        stream.set_nodelay(true).unwrap();
        let mut raw = Raw {
            stream,
            pending: Vec::new(),
            info: Value::Null,
            closed: false,
        };
        let deadline = Instant::now() + WAIT;
        let end = loop {
            if let Some(i) = raw.pending.windows(2).position(|w| w == b"\r\n") {
                break i + 2;
            }
            assert!(
                raw.fill(deadline).await,
                "no INFO line; got {}",
                show(&raw.pending)
            );
        };
        let line: Vec<u8> = raw.pending.drain(..end).collect();
        let json = line
            .strip_prefix(b"INFO ")
            .and_then(|l| l.strip_suffix(b" \r\n"))
            .unwrap_or_else(|| panic!("a greeting `INFO {{...}} \\r\\n`, got {}", show(&line)));
        raw.info = serde_json::from_slice(json).expect("INFO carries JSON");
        raw
    }

    /// Connects and sends a quiet (`verbose:false`) CONNECT with `fields`,
    /// which must be accepted.
    async fn login(server: &Server, mut fields: Value) -> Raw {
        fields["verbose"] = json!(false);
        let mut raw = Raw::connect(server).await;
        raw.send(&connect_line(&fields)).await;
        raw.assert_open().await;
        raw
    }

    /// The INFO's nonce for NKey signatures.
    fn nonce(&self) -> String {
        self.info["nonce"]
            .as_str()
            .unwrap_or_else(|| panic!("INFO must carry a nonce: {}", self.info))
            .to_string()
    }

    /// Reads once more. False when the connection closed or time is up.
    async fn fill(&mut self, deadline: Instant) -> bool {
        if self.closed {
            return false;
        }
        let mut buf = [0u8; 16 * 1024];
        match timeout_at(deadline, self.stream.read(&mut buf)).await {
            Err(_) => false,
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.closed = true;
                false
            }
            Ok(Ok(n)) => {
                self.pending.extend_from_slice(&buf[..n]);
                true
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.stream.write_all(bytes))
            .await
            .expect("sending in time")
            .unwrap_or_else(|e| panic!("sending {}: {e}", show(bytes)));
    }

    /// Like [`Raw::expect`], but a server PING first (a test that outlives
    /// the first one, 2 s after CONNECT) is answered and skipped.
    async fn expect_after_pings(&mut self, expected: &[u8]) {
        loop {
            let deadline = Instant::now() + WAIT;
            while self.pending.len() < 6 && self.fill(deadline).await {}
            if !self.pending.starts_with(b"PING\r\n") {
                return self.expect(expected).await;
            }
            self.pending.drain(..6);
            self.send(b"PONG\r\n").await;
        }
    }

    /// The next bytes from the server must be exactly `expected`.
    async fn expect(&mut self, expected: &[u8]) {
        let deadline = Instant::now() + WAIT;
        loop {
            let n = self.pending.len().min(expected.len());
            assert_eq!(
                show(&self.pending[..n]),
                show(&expected[..n]),
                "expected {} but received {}",
                show(expected),
                show(&self.pending)
            );
            if self.pending.len() >= expected.len() {
                self.pending.drain(..expected.len());
                return;
            }
            assert!(
                self.fill(deadline).await,
                "expected {} but the connection {} after {}",
                show(expected),
                if self.closed { "closed" } else { "went silent" },
                show(&self.pending)
            );
        }
    }

    /// The server must send exactly `expected`, then close the connection.
    async fn expect_closed_with(&mut self, expected: &[u8]) {
        let deadline = Instant::now() + WAIT;
        while self.fill(deadline).await {}
        assert!(
            self.closed,
            "expected a close after {}; still open after {}",
            show(expected),
            show(&self.pending)
        );
        assert_eq!(
            show(&self.pending),
            show(expected),
            "everything the server sent before closing"
        );
        self.pending.clear();
    }

    /// PING gets PONG as the very next bytes: the connection is open and
    /// everything sent before has been processed without a reply.
    async fn assert_open(&mut self) {
        self.send(b"PING\r\n").await;
        self.expect(b"PONG\r\n").await;
    }
}

/// Logs in with a raw `CONNECT` carrying `fields`, which must be refused
/// with exactly `-ERR 'Authorization Violation'` and a close.
async fn assert_raw_refused(server: &Server, fields: Value) {
    let mut raw = Raw::connect(server).await;
    raw.send(&connect_line(&fields)).await;
    raw.expect_closed_with(AUTH_VIOLATION).await;
}

// ---------------------------------------------------------------------------
// INFO
// ---------------------------------------------------------------------------

#[tokio::test]
async fn info_says_auth_required_only_when_auth_is_on() {
    let open = start(AuthOptions::default()).await;
    let raw = Raw::connect(&open).await;
    assert_eq!(
        raw.info.get("auth_required"),
        None,
        "no auth_required without auth: {}",
        raw.info
    );
    assert_eq!(raw.info.get("nonce"), None, "no nonce without NKeys");
    open.shutdown().await;

    let cases = [
        (
            single_user(),
            ConnectOptions::with_user_and_password("foo".into(), "bar".into()),
        ),
        (
            token(SPEC_TOKEN),
            ConnectOptions::with_token(SPEC_TOKEN.into()),
        ),
        (
            users(vec![user("alice", "foo")]),
            ConnectOptions::with_user_and_password("alice".into(), "foo".into()),
        ),
    ];
    for (auth, options) in cases {
        let server = start(auth).await;
        let raw = Raw::connect(&server).await;
        assert_eq!(raw.info["auth_required"], json!(true), "{}", raw.info);
        assert_eq!(raw.info.get("nonce"), None, "no nonce without NKeys");
        let client = login(&server, options).await;
        assert!(client.server_info().auth_required);
        server.shutdown().await;
    }
}

// ---------------------------------------------------------------------------
// Single user: `--user foo --pass bar`
// ---------------------------------------------------------------------------

#[tokio::test]
async fn single_user_logs_in_with_user_and_password() {
    let server = start(single_user()).await;
    let publisher = login_as(&server, "foo", "bar").await;
    let subscriber = login_as(&server, "foo", "bar").await;
    exchange(&publisher, &subscriber, "greet.joe").await;
    server.shutdown().await;
}

#[tokio::test]
async fn single_user_logs_in_with_credentials_from_the_url() {
    let server = start(single_user()).await;
    let url = format!("nats://foo:bar@{}", server.local_addr());
    let (addr, options) = credentials_from_url(&url);
    let client = timeout(WAIT, options.connect(addr))
        .await
        .expect("login in time")
        .expect("the URL's credentials log in");
    exchange(&client, &client, "greet.url").await;
    server.shutdown().await;
}

/// async-nats 0.51 ignores credentials embedded in the server URL: its
/// CONNECT carries only what `ConnectOptions` says. The server sees a
/// client without credentials and refuses it. (If this starts failing, the
/// client learned to send them: connect with the URL alone instead of
/// [`credentials_from_url`].)
#[tokio::test]
async fn async_nats_does_not_send_credentials_from_the_url() {
    let server = start(single_user()).await;
    let url = format!("nats://foo:bar@{}", server.local_addr());
    let err = timeout(WAIT, async_nats::connect(url))
        .await
        .expect("the attempt ends in time")
        .expect_err("async-nats 0.51 sends no URL credentials");
    assert_eq!(err.kind(), ConnectErrorKind::AuthorizationViolation);
    server.shutdown().await;
}

#[tokio::test]
async fn single_user_refuses_anything_else() {
    let server = start(single_user()).await;
    let cases = [
        (
            "wrong password",
            ConnectOptions::with_user_and_password("foo".into(), "baz".into()),
        ),
        (
            "wrong user",
            ConnectOptions::with_user_and_password("bob".into(), "bar".into()),
        ),
        (
            "empty password",
            ConnectOptions::with_user_and_password("foo".into(), "".into()),
        ),
        ("no credentials", ConnectOptions::new()),
        (
            "the password as a token",
            ConnectOptions::with_token("bar".into()),
        ),
        (
            "the user as a token",
            ConnectOptions::with_token("foo".into()),
        ),
    ];
    for (what, options) in cases {
        assert_refused(&server, options, what).await;
    }
    assert_serves(
        &server,
        ConnectOptions::with_user_and_password("foo".into(), "bar".into()),
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn refusal_on_the_wire_is_authorization_violation_then_close() {
    let server = start(single_user()).await;
    let mut watcher = Raw::login(&server, json!({"user": "foo", "pass": "bar"})).await;
    watcher.send(b"SUB > 1\r\n").await;
    watcher.assert_open().await;

    for fields in [
        json!({"user": "foo", "pass": "wrong"}),
        json!({"user": "foo"}),
        json!({"auth_token": "bar"}),
        json!({}),
        // verbose (the default) changes nothing: no +OK before the error.
        json!({"verbose": true, "user": "nobody", "pass": "bar"}),
    ] {
        assert_raw_refused(&server, fields).await;
    }

    // What a refused client pipelined after its CONNECT is never processed.
    let mut refused = Raw::connect(&server).await;
    let mut bytes = connect_line(&json!({"verbose": false, "user": "foo", "pass": "wrong"}));
    bytes.extend_from_slice(b"PUB leaked 6\r\nsneaky\r\nPING\r\n");
    refused.send(&bytes).await;
    refused.expect_closed_with(AUTH_VIOLATION).await;

    // A correct client gets +OK for its (verbose) CONNECT, and its message
    // is the first the watcher sees: nothing leaked before it.
    let mut good = Raw::connect(&server).await;
    good.send(b"CONNECT {\"user\":\"foo\",\"pass\":\"bar\"}\r\nPUB after 2\r\nok\r\nPING\r\n")
        .await;
    good.expect(b"+OK\r\n+OK\r\nPONG\r\n").await;
    watcher.expect_after_pings(b"MSG after 1 2\r\nok\r\n").await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// Token: `--auth 'S3Cr3T0k3n!'`
// ---------------------------------------------------------------------------

#[tokio::test]
async fn token_from_the_spec_logs_in() {
    let server = start(token(SPEC_TOKEN)).await;
    let a = login(&server, ConnectOptions::with_token(SPEC_TOKEN.into())).await;
    let b = login(&server, ConnectOptions::new().token(SPEC_TOKEN.into())).await;
    exchange(&a, &b, "tokens.work").await;
    let mut raw = Raw::login(&server, json!({"auth_token": SPEC_TOKEN})).await;
    raw.send(b"SUB raw.token 1\r\nPUB raw.token 2\r\nhi\r\n")
        .await;
    raw.expect(b"MSG raw.token 1 2\r\nhi\r\n").await;
    server.shutdown().await;
}

/// `nats://S3Cr3T0k3n!@host:port`: the `!` is legal in a URL's user info,
/// so the URL parses and yields the token unchanged.
#[tokio::test]
async fn token_from_the_url() {
    for token_value in [SPEC_TOKEN, "mytoken"] {
        let server = start(token(token_value)).await;
        let url = format!("nats://{token_value}@{}", server.local_addr());
        let (addr, options) = credentials_from_url(&url);
        assert_eq!(
            addr.username(),
            Some(token_value),
            "the URL keeps the token"
        );
        let client = timeout(WAIT, options.connect(addr))
            .await
            .expect("login in time")
            .unwrap_or_else(|e| panic!("the URL's token {token_value:?} logs in: {e}"));
        exchange(&client, &client, "tokens.url").await;
        server.shutdown().await;
    }
}

#[tokio::test]
async fn token_refuses_anything_else() {
    let server = start(token(SPEC_TOKEN)).await;
    let cases = [
        (
            "wrong token",
            ConnectOptions::with_token("S3Cr3T0k3n".into()),
        ),
        ("empty token", ConnectOptions::with_token("".into())),
        ("no credentials", ConnectOptions::new()),
        (
            "the token as a password",
            ConnectOptions::with_user_and_password("user".into(), SPEC_TOKEN.into()),
        ),
    ];
    for (what, options) in cases {
        assert_refused(&server, options, what).await;
    }
    assert_raw_refused(&server, json!({"verbose": false, "user": SPEC_TOKEN})).await;
    assert_serves(&server, ConnectOptions::with_token(SPEC_TOKEN.into())).await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// Multi-user: alice, bob and joe
// ---------------------------------------------------------------------------

fn spec_users() -> AuthOptions {
    users(vec![
        user("alice", "foo"),
        user("bob", "bar"),
        user("joe", SPEC_PASS),
    ])
}

#[tokio::test]
async fn each_user_logs_in_with_their_own_password() {
    let server = start(spec_users()).await;
    let alice = login_as(&server, "alice", "foo").await;
    let bob = login_as(&server, "bob", "bar").await;
    let joe = login_as(&server, "joe", SPEC_PASS).await;
    // Users of one account share its subjects.
    exchange(&alice, &bob, "chat").await;
    exchange(&bob, &joe, "chat").await;
    exchange(&joe, &alice, "chat").await;
    server.shutdown().await;
}

#[tokio::test]
async fn users_cannot_use_each_others_passwords() {
    let server = start(spec_users()).await;
    for (name, password) in [
        ("alice", "bar"),
        ("alice", SPEC_PASS),
        ("bob", "foo"),
        ("joe", "foo"),
        ("joe", "bar"),
        ("joe", "abcdefghijklmnopqrstuvwxyz012345678"),
        ("mallory", "foo"),
        ("", "foo"),
    ] {
        assert_refused(
            &server,
            ConnectOptions::with_user_and_password(name.into(), password.into()),
            &format!("user {name:?} with password {password:?}"),
        )
        .await;
    }
    assert_refused(&server, ConnectOptions::new(), "no credentials").await;
    assert_refused(&server, ConnectOptions::with_token("foo".into()), "a token").await;
    assert_serves(
        &server,
        ConnectOptions::with_user_and_password("joe".into(), SPEC_PASS.into()),
    )
    .await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// bcrypt
// ---------------------------------------------------------------------------

#[tokio::test]
async fn bcrypt_password_logs_in_with_the_plain_password() {
    let hash = bcrypt_hash("password");
    assert!(hash.starts_with("$2a$04$"), "{hash}");
    let server = start(users(vec![
        user("myname", &hash),
        user("plain", "password"),
    ]))
    .await;
    let a = login_as(&server, "myname", "password").await;
    let b = login_as(&server, "myname", "password").await;
    exchange(&a, &b, "hashed").await;

    for (name, password, what) in [
        ("myname", hash.as_str(), "the hash itself as the password"),
        ("myname", "Password", "a wrong password"),
        ("myname", "", "an empty password"),
        ("plain", hash.as_str(), "a hash of a plain-text password"),
    ] {
        assert_refused(
            &server,
            ConnectOptions::with_user_and_password(name.into(), password.into()),
            what,
        )
        .await;
    }
    assert_serves(
        &server,
        ConnectOptions::with_user_and_password("myname".into(), "password".into()),
    )
    .await;
    server.shutdown().await;
}

/// The spec's `mkpasswd` hash (cost 11, so one slow check of each kind).
#[tokio::test]
async fn bcrypt_hash_from_the_spec() {
    let server = start(users(vec![user("myname", SPEC_BCRYPT)])).await;
    let client = login_as(&server, "myname", "password").await;
    exchange(&client, &client, "spec.hash").await;
    assert_refused(
        &server,
        ConnectOptions::with_user_and_password("myname".into(), SPEC_BCRYPT.into()),
        "the hash itself as the password",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn bcrypt_single_user_password() {
    let server = start(AuthOptions {
        username: Some("derek".into()),
        password: Some(bcrypt_hash("T0pS3cr3t")),
        ..AuthOptions::default()
    })
    .await;
    let client = login_as(&server, "derek", "T0pS3cr3t").await;
    exchange(&client, &client, "derek").await;
    assert_refused(
        &server,
        ConnectOptions::with_user_and_password("derek".into(), "T0pS3cr3".into()),
        "a wrong password",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn bcrypt_token_logs_in_with_the_plain_token() {
    let hash = bcrypt_hash(SPEC_TOKEN);
    let server = start(token(&hash)).await;
    let client = login(&server, ConnectOptions::with_token(SPEC_TOKEN.into())).await;
    exchange(&client, &client, "hashed.token").await;
    assert_refused(
        &server,
        ConnectOptions::with_token(hash.clone()),
        "the hash itself as the token",
    )
    .await;
    assert_refused(
        &server,
        ConnectOptions::with_token("S3Cr3T0k3n?".into()),
        "a wrong token",
    )
    .await;
    assert_serves(&server, ConnectOptions::with_token(SPEC_TOKEN.into())).await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// Before CONNECT: the auth timeout and early operations
// ---------------------------------------------------------------------------

#[tokio::test]
async fn silent_client_gets_authentication_timeout() {
    let limit = Duration::from_millis(200);
    let server = start(AuthOptions {
        timeout: Some(limit),
        ..single_user()
    })
    .await;
    // Logged in first, so its own deadline passes before the silent one's.
    let mut authenticated = Raw::login(&server, json!({"user": "foo", "pass": "bar"})).await;

    let started = Instant::now();
    let mut silent = Raw::connect(&server).await;
    silent
        .expect_closed_with(b"-ERR 'Authentication Timeout'\r\n")
        .await;
    let waited = started.elapsed();
    assert!(
        waited >= limit,
        "closed after {waited:?}, before the {limit:?} timeout"
    );

    // The timeout applies only to clients that have not authenticated.
    authenticated.assert_open().await;
    assert_serves(
        &server,
        ConnectOptions::with_user_and_password("foo".into(), "bar".into()),
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn any_operation_before_connect_is_an_authorization_violation() {
    let server = start(single_user()).await;
    let good = connect_line(&json!({"verbose": false, "user": "foo", "pass": "bar"}));
    let mut ping_then_connect = b"PING\r\n".to_vec();
    ping_then_connect.extend_from_slice(&good);
    let early: [&[u8]; 5] = [
        b"PING\r\n",
        b"PONG\r\n",
        b"SUB foo 1\r\n",
        b"PUB foo 2\r\nhi\r\n",
        &ping_then_connect,
    ];
    for bytes in early {
        let mut raw = Raw::connect(&server).await;
        raw.send(bytes).await;
        raw.expect_closed_with(AUTH_VIOLATION).await;
    }
    assert_serves(
        &server,
        ConnectOptions::with_user_and_password("foo".into(), "bar".into()),
    )
    .await;
    server.shutdown().await;

    // Without auth the same PING is simply answered.
    let open = start(AuthOptions::default()).await;
    let mut raw = Raw::connect(&open).await;
    raw.assert_open().await;
    open.shutdown().await;
}

/// nats-server 2.9 checks the credentials of every CONNECT: a second one
/// with a wrong password closes a connection that had logged in.
#[tokio::test]
async fn a_second_connect_with_bad_credentials_is_refused() {
    let server = start(single_user()).await;
    let mut raw = Raw::login(&server, json!({"user": "foo", "pass": "bar"})).await;
    raw.send(&connect_line(
        &json!({"verbose": false, "user": "foo", "pass": "wrong"}),
    ))
    .await;
    raw.send(b"PING\r\n").await;
    raw.expect_closed_with(AUTH_VIOLATION).await;
    server.shutdown().await;
}

/// ...and a second CONNECT with other valid credentials logs in as that
/// user: `limited` becomes `any`, whose publishes are not restricted.
#[tokio::test]
async fn a_second_connect_logs_in_again() {
    let server = start(permission_users()).await;
    let mut raw = Raw::login(&server, as_limited()).await;
    let mut again = as_any();
    again["verbose"] = json!(false);
    raw.send(&connect_line(&again)).await;
    raw.send(b"PUB private.x 0\r\n\r\n").await;
    raw.assert_open().await;
    server.shutdown().await;
}

/// Credentials are checked before the rest of the CONNECT: a client with
/// bad credentials hears `Authorization Violation`, whatever else is wrong.
#[tokio::test]
async fn bad_credentials_are_refused_before_other_connect_errors() {
    let server = start(single_user()).await;
    assert_raw_refused(
        &server,
        json!({"verbose": false, "no_responders": true, "headers": false, "user": "x", "pass": "y"}),
    )
    .await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// NKeys
// ---------------------------------------------------------------------------

fn nkey_user(key: &KeyPair, permissions: Option<PermissionsConfig>) -> NkeyConfig {
    NkeyConfig {
        nkey: key.public_key(),
        permissions,
    }
}

fn sign(key: &KeyPair, bytes: &[u8]) -> Vec<u8> {
    key.sign(bytes).expect("a user key signs")
}

#[tokio::test]
async fn nkey_user_logs_in_by_signing_the_nonce() {
    let key = KeyPair::new_user();
    let server = start(AuthOptions {
        nkeys: vec![nkey_user(&key, None)],
        ..AuthOptions::default()
    })
    .await;
    let raw = Raw::connect(&server).await;
    assert_eq!(raw.info["auth_required"], json!(true));
    assert!(!raw.nonce().is_empty());

    let seed = key.seed().expect("a generated key has a seed");
    let a = login(&server, ConnectOptions::with_nkey(seed.clone())).await;
    let b = login(&server, ConnectOptions::new().nkey(seed)).await;
    assert!(!a.server_info().nonce.is_empty());
    exchange(&a, &b, "signed").await;

    // Raw clients may send the signature in URL-safe or standard base64.
    for encode in [
        |s: &[u8]| URL_SAFE_NO_PAD.encode(s),
        |s: &[u8]| STANDARD.encode(s),
    ] {
        let mut raw = Raw::connect(&server).await;
        let sig = encode(&sign(&key, raw.nonce().as_bytes()));
        raw.send(&connect_line(
            &json!({"verbose": false, "nkey": key.public_key(), "sig": sig}),
        ))
        .await;
        raw.assert_open().await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn nkey_refusals() {
    let key = KeyPair::new_user();
    let server = start(AuthOptions {
        nkeys: vec![nkey_user(&key, None)],
        ..AuthOptions::default()
    })
    .await;
    let stranger = KeyPair::new_user();
    assert_refused(
        &server,
        ConnectOptions::with_nkey(stranger.seed().unwrap()),
        "an unknown key",
    )
    .await;
    assert_refused(&server, ConnectOptions::new(), "no credentials").await;

    let public = key.public_key();
    let signed_by =
        |raw: &Raw, signer: &KeyPair| URL_SAFE_NO_PAD.encode(sign(signer, raw.nonce().as_bytes()));

    // Each connection gets its own nonce, so a signature can't be replayed.
    let first = Raw::connect(&server).await;
    let mut second = Raw::connect(&server).await;
    assert_ne!(first.nonce(), second.nonce(), "nonces are fresh");
    let replayed = signed_by(&first, &key);
    second
        .send(&connect_line(
            &json!({"verbose": false, "nkey": public, "sig": replayed}),
        ))
        .await;
    second.expect_closed_with(AUTH_VIOLATION).await;

    let mut raw = Raw::connect(&server).await;
    let by_stranger = signed_by(&raw, &stranger);
    raw.send(&connect_line(
        &json!({"verbose": false, "nkey": public, "sig": by_stranger}),
    ))
    .await;
    raw.expect_closed_with(AUTH_VIOLATION).await;

    let wrong_bytes = URL_SAFE_NO_PAD.encode(sign(&key, b"not the nonce"));
    for fields in [
        json!({"verbose": false, "nkey": public, "sig": wrong_bytes}),
        json!({"verbose": false, "nkey": public}),
        json!({"verbose": false, "nkey": public, "sig": "not base64!"}),
        json!({"verbose": false, "nkey": public, "sig": ""}),
    ] {
        assert_raw_refused(&server, fields).await;
    }
    assert_serves(&server, ConnectOptions::with_nkey(key.seed().unwrap())).await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------

/// `limited` may use `public.>` except `public.secret`; `any` may do all.
fn permission_users() -> AuthOptions {
    users(vec![
        user_with("limited", "l", public_only()),
        user("any", "a"),
    ])
}

fn as_limited() -> Value {
    json!({"user": "limited", "pass": "l"})
}

fn as_any() -> Value {
    json!({"user": "any", "pass": "a"})
}

#[tokio::test]
async fn denied_publish_is_reported_not_delivered_and_the_connection_stays() {
    let server = start(permission_users()).await;
    let mut watcher = Raw::login(&server, as_any()).await;
    watcher.send(b"SUB > 1\r\n").await;
    watcher.assert_open().await;

    let mut limited = Raw::login(&server, as_limited()).await;
    limited.send(b"PUB private.x 1\r\nx\r\n").await;
    limited
        .expect(b"-ERR 'Permissions Violation for Publish to \"private.x\"'\r\n")
        .await;
    limited.assert_open().await;
    // A deny inside an allowed pattern wins.
    limited.send(b"PUB public.secret 1\r\ny\r\n").await;
    limited
        .expect(b"-ERR 'Permissions Violation for Publish to \"public.secret\"'\r\n")
        .await;
    limited.assert_open().await;
    limited.send(b"PUB public.news 2\r\nok\r\n").await;
    limited.assert_open().await;

    // The first message the watcher sees is the allowed one.
    watcher.expect(b"MSG public.news 1 2\r\nok\r\n").await;
    watcher.assert_open().await;
    server.shutdown().await;
}

#[tokio::test]
async fn denied_subscription_is_reported_and_the_connection_stays() {
    let server = start(permission_users()).await;
    // verbose: a refused SUB gets its -ERR and no +OK; an allowed one +OK.
    let mut limited = Raw::connect(&server).await;
    limited.send(&connect_line(&as_limited())).await;
    limited.expect(b"+OK\r\n").await;
    limited.send(b"SUB private.x 1\r\n").await;
    limited
        .expect(b"-ERR 'Permissions Violation for Subscription to \"private.x\"'\r\n")
        .await;
    limited.send(b"SUB public.secret 2\r\n").await;
    limited
        .expect(b"-ERR 'Permissions Violation for Subscription to \"public.secret\"'\r\n")
        .await;
    limited.send(b"SUB > 3\r\n").await;
    limited
        .expect(b"-ERR 'Permissions Violation for Subscription to \">\"'\r\n")
        .await;
    limited.send(b"SUB private.x workers 4\r\n").await;
    limited
        .expect(
            b"-ERR 'Permissions Violation for Subscription to \"private.x\" using queue \"workers\"'\r\n",
        )
        .await;
    limited.send(b"SUB public.news 5\r\nPING\r\n").await;
    limited.expect(b"+OK\r\nPONG\r\n").await;

    // None of the refused subscriptions exists: only public.news delivers.
    let mut publisher = Raw::login(&server, as_any()).await;
    publisher
        .send(b"PUB private.x 1\r\nx\r\nPUB public.secret 1\r\ny\r\nPUB public.news 1\r\nz\r\nPING\r\n")
        .await;
    publisher.expect(b"PONG\r\n").await;
    limited.expect(b"MSG public.news 5 1\r\nz\r\n").await;
    limited.assert_open().await;
    server.shutdown().await;
}

#[tokio::test]
async fn wildcard_subscription_does_not_receive_denied_subjects() {
    let server = start(permission_users()).await;
    let mut limited = Raw::login(&server, as_limited()).await;
    // Allowed although public.secret falls inside it.
    limited.send(b"SUB public.> 1\r\nSUB public.* 2\r\n").await;
    limited.assert_open().await;

    let mut publisher = Raw::login(&server, as_any()).await;
    publisher
        .send(b"PUB public.secret 1\r\nx\r\nPUB public.news 1\r\ny\r\nPING\r\n")
        .await;
    publisher.expect(b"PONG\r\n").await;
    limited
        .expect(b"MSG public.news 1 1\r\ny\r\nMSG public.news 2 1\r\ny\r\n")
        .await;
    limited.assert_open().await;
    server.shutdown().await;
}

/// Issue 13, item 1: a wildcard that only partly overlaps a deny
/// (`foo.team.>` against `foo.*.admin`) still never receives a denied
/// subject, as current nats-server (2.15) filters it; 2.9.10 delivered it.
#[tokio::test]
async fn a_partly_overlapping_deny_is_filtered_too() {
    let team = PermissionsConfig {
        publish: None,
        subscribe: rule(&["foo.>"], &["foo.*.admin"]),
        allow_responses: None,
    };
    let server = start(users(vec![user_with("t", "t", team), user("any", "a")])).await;
    let as_team = || json!({"user": "t", "pass": "t"});
    let (mut deep, mut wide) = (
        Raw::login(&server, as_team()).await,
        Raw::login(&server, as_team()).await,
    );
    deep.send(b"SUB foo.team.> 1\r\n").await;
    deep.assert_open().await;
    wide.send(b"SUB foo.*.* 2\r\n").await;
    wide.assert_open().await;
    let mut publisher = Raw::login(&server, as_any()).await;
    publisher
        .send(b"PUB foo.team.admin 1\r\nx\r\nPUB foo.team.ok 1\r\ny\r\nPING\r\n")
        .await;
    publisher.expect(b"PONG\r\n").await;
    deep.expect(b"MSG foo.team.ok 1 1\r\ny\r\n").await;
    deep.assert_open().await;
    wide.expect(b"MSG foo.team.ok 2 1\r\ny\r\n").await;
    wide.assert_open().await;
    server.shutdown().await;
}

/// Issue 13, item 5: a second CONNECT that logs in as a user who may not
/// subscribe to what the first one did keeps none of those subscriptions.
/// As current nats-server (2.15) does, a second CONNECT drops every
/// subscription made before it (2.9.10 kept them).
#[tokio::test]
async fn a_second_connect_drops_the_subscriptions_of_the_first_login() {
    let server = start(permission_users()).await;
    let mut client = Raw::login(&server, as_any()).await;
    client
        .send(b"SUB private.x 1\r\nSUB public.news 2\r\n")
        .await;
    client.assert_open().await;
    client
        .send(&connect_line(
            &json!({"verbose": false, "user": "limited", "pass": "l"}),
        ))
        .await;
    client.assert_open().await;
    let mut publisher = Raw::login(&server, as_any()).await;
    publisher
        .send(b"PUB private.x 1\r\nx\r\nPUB public.news 1\r\ny\r\nPING\r\n")
        .await;
    publisher.expect(b"PONG\r\n").await;
    // Nothing arrived: the PONG is the next thing the client hears.
    client.assert_open().await;
    // What the new login may do, it may do afresh.
    client.send(b"SUB public.news 3\r\n").await;
    client.assert_open().await;
    publisher.send(b"PUB public.news 1\r\nz\r\n").await;
    client.expect(b"MSG public.news 3 1\r\nz\r\n").await;
    server.shutdown().await;
}

/// Issue 13, item 8: before it has logged in, a client cannot make the
/// server hold a message's payload: the line alone is refused.
#[tokio::test]
async fn a_publish_before_login_is_refused_at_its_line() {
    let server = start(users(vec![user("any", "a")])).await;
    let mut client = Raw::connect(&server).await;
    client.send(b"PUB foo 1000000\r\nonly the start").await;
    client
        .expect_closed_with(b"-ERR 'Authorization Violation'\r\n")
        .await;
    server.shutdown().await;
}

#[tokio::test]
async fn permitted_user_works_with_async_nats() {
    let server = start(permission_users()).await;
    let any = login_as(&server, "any", "a").await;
    let (limited, mut errors) = login_with_errors(
        &server,
        ConnectOptions::with_user_and_password("limited".into(), "l".into()),
    )
    .await;
    exchange(&any, &limited, "public.news").await;
    exchange(&limited, &any, "public.weather").await;

    limited.publish("private.x", "nope".into()).await.unwrap();
    assert_eq!(
        next_error(&mut errors).await,
        ServerError::Other("Permissions Violation for Publish to \"private.x\"".into())
    );
    let _refused = limited.subscribe("private.y").await.unwrap();
    assert_eq!(
        next_error(&mut errors).await,
        ServerError::Other("Permissions Violation for Subscription to \"private.y\"".into())
    );

    // Still connected and still filtered: a wildcard sees public.news but
    // not public.secret, published just before it.
    let mut wide = subscribe_probed(&limited, "public.>", "public.probe").await;
    any.publish("public.secret", "hidden".into()).await.unwrap();
    any.publish("public.news", "shown".into()).await.unwrap();
    let m = next(&mut wide).await;
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("public.news", &b"shown"[..])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn default_permissions_apply_to_users_and_nkeys_without_their_own() {
    let key = KeyPair::new_user();
    let server = start(AuthOptions {
        users: vec![
            user("plain", "p"),
            user_with(
                "admin",
                "adm",
                PermissionsConfig {
                    publish: deny_only(&["admin.locked"]),
                    ..PermissionsConfig::default()
                },
            ),
        ],
        nkeys: vec![nkey_user(&key, None)],
        default_permissions: Some(public_only()),
        ..AuthOptions::default()
    })
    .await;

    let mut plain = Raw::login(&server, json!({"user": "plain", "pass": "p"})).await;
    let mut signer = Raw::connect(&server).await;
    let sig = URL_SAFE_NO_PAD.encode(sign(&key, signer.nonce().as_bytes()));
    signer
        .send(&connect_line(
            &json!({"verbose": false, "nkey": key.public_key(), "sig": sig}),
        ))
        .await;
    signer.assert_open().await;
    for raw in [&mut plain, &mut signer] {
        raw.send(b"PUB private.x 0\r\n\r\n").await;
        raw.expect(b"-ERR 'Permissions Violation for Publish to \"private.x\"'\r\n")
            .await;
        raw.send(b"SUB public.a 1\r\nPUB public.a 2\r\nok\r\n")
            .await;
        raw.expect(b"MSG public.a 1 2\r\nok\r\n").await;
    }

    // Own permissions replace the defaults.
    let mut admin = Raw::login(&server, json!({"user": "admin", "pass": "adm"})).await;
    admin
        .send(b"SUB private.x 1\r\nPUB private.x 2\r\nok\r\nPUB admin.locked 0\r\n\r\n")
        .await;
    admin
        .expect(b"MSG private.x 1 2\r\nok\r\n-ERR 'Permissions Violation for Publish to \"admin.locked\"'\r\n")
        .await;
    admin.assert_open().await;
    server.shutdown().await;
}

/// A service that may publish only on `updates.>` but may answer requests.
fn service_users() -> AuthOptions {
    users(vec![
        user_with(
            "service",
            "s",
            PermissionsConfig {
                publish: rule(&["updates.>"], &[]),
                subscribe: rule(&["requests.>"], &[]),
                allow_responses: Some(ResponsePermissionConfig {
                    max: 1,
                    expires: None,
                }),
            },
        ),
        user("any", "a"),
    ])
}

#[tokio::test]
async fn allow_responses_lets_a_service_answer_requests() {
    let server = start(service_users()).await;
    let (service, mut errors) = login_with_errors(
        &server,
        ConnectOptions::with_user_and_password("service".into(), "s".into()),
    )
    .await;
    let requester = login_as(&server, "any", "a").await;
    let mut requests = service.subscribe("requests.time").await.unwrap();
    // A message on updates.> proves the SUB was processed: both go in order.
    let mut updates = subscribe_synced(&requester, "updates.ready").await;
    service.publish("updates.ready", "".into()).await.unwrap();
    next(&mut updates).await;

    let asking = tokio::spawn({
        let requester = requester.clone();
        async move { requester.request("requests.time", "now?".into()).await }
    });
    let request = next(&mut requests).await;
    let reply = request.reply.expect("a request has a reply subject");
    assert!(reply.as_str().starts_with("_INBOX."), "{reply}");
    service.publish(reply, "noon".into()).await.unwrap();
    let response = timeout(WAIT, asking)
        .await
        .expect("the reply arrives in time")
        .unwrap()
        .expect("the request is answered");
    assert_eq!(response.payload, "noon");

    // Its publish rule still holds everywhere else.
    service
        .publish("_INBOX.unsolicited", "".into())
        .await
        .unwrap();
    assert_eq!(
        next_error(&mut errors).await,
        ServerError::Other("Permissions Violation for Publish to \"_INBOX.unsolicited\"".into())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn allow_responses_allows_exactly_one_reply() {
    let server = start(service_users()).await;
    let mut service = Raw::login(&server, json!({"user": "service", "pass": "s"})).await;
    service.send(b"SUB requests.> 1\r\n").await;
    service.assert_open().await;
    // Without a request there is nothing to answer.
    service.send(b"PUB _INBOX.r1 0\r\n\r\n").await;
    service
        .expect(b"-ERR 'Permissions Violation for Publish to \"_INBOX.r1\"'\r\n")
        .await;

    let mut requester = Raw::login(&server, as_any()).await;
    requester
        .send(b"SUB _INBOX.r1 1\r\nSUB updates.done 2\r\nPUB requests.a _INBOX.r1 2\r\nhi\r\n")
        .await;
    service
        .expect(b"MSG requests.a 1 _INBOX.r1 2\r\nhi\r\n")
        .await;
    service
        .send(b"PUB _INBOX.r1 3\r\none\r\nPUB _INBOX.r1 3\r\ntwo\r\nPUB updates.done 0\r\n\r\n")
        .await;
    service
        .expect(b"-ERR 'Permissions Violation for Publish to \"_INBOX.r1\"'\r\n")
        .await;
    service.assert_open().await;
    // The requester gets the one reply, then the marker: no second reply.
    requester
        .expect(b"MSG _INBOX.r1 1 3\r\none\r\nMSG updates.done 2 0\r\n\r\n")
        .await;
    requester.assert_open().await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------

#[tokio::test]
async fn accounts_do_not_see_each_others_messages() {
    let key = KeyPair::new_user();
    let server = start(AuthOptions {
        accounts: vec![
            AccountConfig {
                name: "A".into(),
                users: vec![user("a1", "a1"), user("a2", "a2")],
                ..AccountConfig::default()
            },
            AccountConfig {
                name: "B".into(),
                users: vec![user("b1", "b1")],
                nkeys: vec![nkey_user(&key, None)],
                ..AccountConfig::default()
            },
        ],
        ..AuthOptions::default()
    })
    .await;
    let a1 = login_as(&server, "a1", "a1").await;
    let a2 = login_as(&server, "a2", "a2").await;
    let b1 = login_as(&server, "b1", "b1").await;
    let b_key = login(&server, ConnectOptions::with_nkey(key.seed().unwrap())).await;

    let mut in_a = subscribe_synced(&a2, "orders").await;
    let mut in_b = subscribe_synced(&b1, "orders").await;
    a1.publish("orders", "for A".into()).await.unwrap();
    let m = next(&mut in_a).await;
    assert_eq!(m.payload, "for A");
    // Had the message crossed, it would be queued for B before A got it;
    // B's own marker comes after, so it must be the next thing B sees.
    b1.publish("orders", "marker".into()).await.unwrap();
    let m = next(&mut in_b).await;
    assert_eq!(m.payload, "marker", "B saw a message published in A");

    // Users (and NKeys) of one account do share it.
    exchange(&b_key, &b1, "orders").await;
    exchange(&a2, &a1, "orders").await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// no_auth_user
// ---------------------------------------------------------------------------

fn guest_setup() -> AuthOptions {
    AuthOptions {
        accounts: vec![
            AccountConfig {
                name: "PUBLIC".into(),
                users: vec![user_with("guest", "g", public_only())],
                ..AccountConfig::default()
            },
            AccountConfig {
                name: "PRIVATE".into(),
                users: vec![user("admin", "adm")],
                ..AccountConfig::default()
            },
        ],
        no_auth_user: Some("guest".into()),
        ..AuthOptions::default()
    }
}

#[tokio::test]
async fn client_without_credentials_is_the_no_auth_user() {
    let server = start(guest_setup()).await;
    let anonymous = login(&server, ConnectOptions::new()).await;
    let guest = login_as(&server, "guest", "g").await;
    let admin = login_as(&server, "admin", "adm").await;
    // Same account as the guest user...
    exchange(&anonymous, &guest, "public.news").await;
    exchange(&guest, &anonymous, "public.news").await;

    // ...not the admin's: the admin, listening on the same subject, sees
    // only its own marker.
    let mut admin_news = subscribe_synced(&admin, "public.news").await;
    let mut guest_news = subscribe_synced(&guest, "public.news").await;
    anonymous
        .publish("public.news", "guests only".into())
        .await
        .unwrap();
    assert_eq!(next(&mut guest_news).await.payload, "guests only");
    admin.publish("public.news", "marker".into()).await.unwrap();
    assert_eq!(next(&mut admin_news).await.payload, "marker");

    // And the guest's permissions.
    let mut raw = Raw::login(&server, json!({})).await;
    raw.send(b"PUB private.x 0\r\n\r\nSUB private.x 1\r\n")
        .await;
    raw.expect(
        b"-ERR 'Permissions Violation for Publish to \"private.x\"'\r\n-ERR 'Permissions Violation for Subscription to \"private.x\"'\r\n",
    )
    .await;
    raw.assert_open().await;
    server.shutdown().await;
}

#[tokio::test]
async fn no_auth_user_does_not_rescue_wrong_credentials() {
    let server = start(guest_setup()).await;
    for (name, password) in [("guest", "wrong"), ("admin", "g"), ("nobody", "g")] {
        assert_refused(
            &server,
            ConnectOptions::with_user_and_password(name.into(), password.into()),
            &format!("user {name:?} with password {password:?}"),
        )
        .await;
    }
    assert_refused(&server, ConnectOptions::with_token("g".into()), "a token").await;
    assert_raw_refused(&server, json!({"verbose": false, "pass": "g"})).await;
    let anonymous = login(&server, ConnectOptions::new()).await;
    exchange(&anonymous, &anonymous, "public.still").await;
    server.shutdown().await;
}

/// Wrong credentials are answered late (issue 13: failures slowed down),
/// so a client guessing one password after another gets two tries a
/// second; a right one is not held back.
#[tokio::test]
async fn a_wrong_password_is_refused_only_after_a_delay() {
    let server = start(users(vec![user("alice", "secret")])).await;
    let started = std::time::Instant::now();
    assert_raw_refused(
        &server,
        serde_json::json!({"user": "alice", "pass": "guess"}),
    )
    .await;
    assert!(
        started.elapsed() >= rnats_server::client::session::FAILED_LOGIN_DELAY,
        "refused after {:?}",
        started.elapsed()
    );
    login_as(&server, "alice", "secret").await;
}

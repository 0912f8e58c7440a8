//! Raw-socket tests of rnats against malformed input and every protocol
//! error a client can provoke. Each case checks the exact bytes the server
//! sends back, whether it closes the connection or keeps it open, and that
//! afterwards the server still serves a new client and a bystander (a client
//! that subscribed before the misbehaving one arrived) lost nothing.
//!
//! The expected bytes are those of the reference nats-server 2.9.10, as
//! observed on the wire (see `reference_diff.rs`, which compares the two
//! servers directly, and shared/spec/reference-notes.md).

mod support;

use std::time::Duration;

use rnats_server::{Options, Server};
use support::{
    RawClient, ReferenceServer, TIMEOUT, count_occurrences, show, start_default_server,
    start_server, wait_for_client_count, wait_for_subscription_count,
};
use tokio::time::Instant;

const UNKNOWN_OP: &[u8] = b"-ERR 'Unknown Protocol Operation'\r\n";
const MAX_CONTROL_LINE: &[u8] = b"-ERR 'maximum control line exceeded'\r\n";
const MAX_PAYLOAD: &[u8] = b"-ERR 'Maximum Payload Violation'\r\n";

// ---------------------------------------------------------------------------
// The scene every case plays in
// ---------------------------------------------------------------------------

/// A server with a bystander: a quiet client subscribed to `bystander`
/// (sid 1) before the case's misbehaving client connects. After the case,
/// [`Scene::assert_healthy`] proves the server still serves new clients
/// and the bystander lost nothing and received nothing it should not have.
struct Scene {
    server: Server,
    bystander: RawClient,
}

impl Scene {
    async fn new() -> Scene {
        Scene::with(Options::for_tests()).await
    }

    async fn with(opts: Options) -> Scene {
        let server = start_server(opts).await;
        let mut bystander = RawClient::connect_quiet(server.local_addr()).await;
        bystander.send(b"SUB bystander 1\r\n").await;
        bystander.assert_open().await;
        let mut scene = Scene { server, bystander };
        scene.bystander_receives("before").await;
        scene
    }

    /// A new raw client (INFO read and checked).
    async fn client(&self) -> RawClient {
        RawClient::connect(self.server.local_addr()).await
    }

    /// A new client publishes `payload` to `bystander`; the bystander's next
    /// bytes must be exactly that message.
    async fn bystander_receives(&mut self, payload: &str) {
        let mut publisher = RawClient::connect_quiet(self.server.local_addr()).await;
        publisher
            .send(format!("PUB bystander {}\r\n{payload}\r\n", payload.len()).as_bytes())
            .await;
        publisher.assert_open().await;
        self.bystander
            .expect(format!("MSG bystander 1 {}\r\n{payload}\r\n", payload.len()).as_bytes())
            .await;
    }

    /// The server serves a new client, and the bystander's next bytes are
    /// the message that client publishes: nothing was lost or slipped in.
    async fn assert_healthy(&mut self) {
        self.bystander_receives("after").await;
        self.bystander.assert_open().await;
    }

    /// After the case's client was closed: the server let it go (only the
    /// bystander remains), and it is healthy.
    async fn assert_healthy_after_close(&mut self) {
        wait_for_client_count(&self.server, 1).await;
        self.assert_healthy().await;
    }

    async fn finish(self) {
        self.server.shutdown().await;
    }
}

/// A fresh client sends `input`; the server must answer exactly `reply`
/// and close the connection; then the scene must be healthy.
async fn assert_rejected(input: &[u8], reply: &[u8]) {
    let mut scene = Scene::new().await;
    let mut bad = scene.client().await;
    // The server may close before it has read everything: not an error.
    let _ = bad.try_send(input).await;
    bad.expect_closed_with(reply).await;
    scene.assert_healthy_after_close().await;
    scene.finish().await;
}

/// A fresh client sends `input`; the server must answer exactly `reply`
/// and keep the connection open; then the scene must be healthy.
async fn assert_answered_and_kept_open(input: &[u8], reply: &[u8]) {
    let mut scene = Scene::new().await;
    let mut client = scene.client().await;
    client.send(input).await;
    client.expect(reply).await;
    client.assert_open().await;
    scene.assert_healthy().await;
    client.assert_open().await;
    scene.finish().await;
}

// ---------------------------------------------------------------------------
// Unknown operations: -ERR 'Unknown Protocol Operation' and close
// ---------------------------------------------------------------------------

#[tokio::test]
async fn unknown_operation_is_rejected_and_closed() {
    assert_rejected(b"FOO bar\r\n", UNKNOWN_OP).await;
}

#[tokio::test]
async fn garbage_bytes_are_rejected_and_closed() {
    assert_rejected(b"\x00\x01\x02\xff\xfe garbage\r\n", UNKNOWN_OP).await;
}

#[tokio::test]
async fn empty_line_is_rejected_and_closed() {
    assert_rejected(b"\r\n", UNKNOWN_OP).await;
}

#[tokio::test]
async fn msg_sent_by_a_client_is_rejected_and_closed() {
    assert_rejected(b"MSG bystander 1 2\r\nhi\r\n", UNKNOWN_OP).await;
}

#[tokio::test]
async fn http_request_is_rejected_and_closed() {
    assert_rejected(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n",
        UNKNOWN_OP,
    )
    .await;
}

#[tokio::test]
async fn tls_client_hello_is_rejected_and_closed() {
    // The start of a TLS 1.2 ClientHello record: handshake (0x16), TLS 1.0
    // record version, length, ClientHello (0x01), ...
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03,
    ];
    hello.extend(std::iter::repeat_n(0x5a, 32));
    assert_rejected(&hello, UNKNOWN_OP).await;
}

#[tokio::test]
async fn bytes_after_a_payload_instead_of_crlf_are_rejected_and_nothing_is_delivered() {
    // The payload is longer than declared: `d` sits where `\r\n` must be.
    // The message never reaches the bystander, which is subscribed to it.
    assert_rejected(b"PUB bystander 3\r\nabcd\r\n", UNKNOWN_OP).await;
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

#[tokio::test]
async fn control_line_longer_than_4096_is_rejected_and_closed() {
    // The arguments ("aaa… 1") are 4097 bytes: one more than allowed.
    let line = [b"SUB ".as_slice(), &[b'a'; 4095], b" 1\r\n"].concat();
    assert_rejected(&line, MAX_CONTROL_LINE).await;
}

#[tokio::test]
async fn control_line_of_exactly_4096_is_accepted() {
    let line = [b"SUB ".as_slice(), &[b'a'; 4094], b" 1\r\n"].concat();
    assert_answered_and_kept_open(&line, b"+OK\r\n").await;
}

#[tokio::test]
async fn unterminated_5000_byte_line_is_rejected_and_closed() {
    // No newline ever comes. (It must start like a real operation: plain
    // garbage is an unknown operation from its first byte.)
    let line = [b"PUB ".as_slice(), &[b'a'; 5000]].concat();
    assert_rejected(&line, MAX_CONTROL_LINE).await;
}

#[tokio::test]
async fn payload_over_max_payload_is_rejected_and_closed() {
    assert_rejected(b"PUB bystander 2000000\r\n", MAX_PAYLOAD).await;
}

#[tokio::test]
async fn payload_of_exactly_max_payload_is_delivered_and_one_more_byte_is_rejected() {
    let mut opts = Options::for_tests();
    opts.max_payload = 16;
    let mut scene = Scene::with(opts).await;

    let mut client = RawClient::connect_quiet(scene.server.local_addr()).await;
    client
        .send(b"SUB big 1\r\nPUB big 16\r\n0123456789abcdef\r\n")
        .await;
    client.expect(b"MSG big 1 16\r\n0123456789abcdef\r\n").await;
    client.assert_open().await;

    client.send(b"PUB big 17\r\n").await;
    client.expect_closed_with(MAX_PAYLOAD).await;
    scene.assert_healthy_after_close().await;
    scene.finish().await;
}

/// Large payloads sent in one write, packed with small ones, reach every
/// subscriber intact: the first subscriber of each gets a copy, the others
/// share one (none keeps the publisher's read buffer; see
/// `delivery::large_payload`).
#[tokio::test]
async fn large_payloads_packed_in_one_read_reach_every_subscriber_intact() {
    let scene = Scene::new().await;
    let addr = scene.server.local_addr();
    let mut one = RawClient::connect_quiet(addr).await;
    one.send(b"SUB big 1\r\nSUB big.> 2\r\nSUB big 3\r\n").await;
    one.assert_open().await;
    let mut two = RawClient::connect_quiet(addr).await;
    two.send(b"SUB big 9\r\n").await;
    two.assert_open().await;
    let payloads: Vec<Vec<u8>> = [5000usize, 9000, 4096, 70_000]
        .iter()
        .enumerate()
        .map(|(i, &n)| (0..n).map(|j| b'a' + ((i * 7 + j) % 26) as u8).collect())
        .collect();
    let mut frames = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        frames.extend_from_slice(format!("PUB big {}\r\n", p.len()).as_bytes());
        frames.extend_from_slice(p);
        frames.extend_from_slice(format!("\r\nPUB big 1\r\n{i}\r\n").as_bytes());
    }
    let mut publisher = RawClient::connect_quiet(addr).await;
    publisher.send(&frames).await;
    publisher.assert_open().await;
    for (i, p) in payloads.iter().enumerate() {
        let small = i.to_string().into_bytes();
        for expected in [p, &small] {
            for sid in ["1", "3"] {
                let m = one.next_msg().await;
                assert_eq!((m.sid.as_str(), m.payload.len()), (sid, expected.len()));
                assert!(m.payload == *expected, "payload {i} to sid {sid} changed");
            }
            let m = two.next_msg().await;
            assert!(
                m.payload == *expected,
                "payload {i} to the second client changed"
            );
        }
    }
    one.assert_open().await;
    two.assert_open().await;
    scene.finish().await;
}

// ---------------------------------------------------------------------------
// Incomplete frames
// ---------------------------------------------------------------------------

#[tokio::test]
async fn half_sent_payload_then_close_delivers_nothing() {
    let mut scene = Scene::new().await;
    let mut client = scene.client().await;
    // Declares 10 bytes, sends 3, then hangs up.
    client.send(b"PUB bystander 10\r\nabc").await;
    client.shutdown_write().await;
    assert_eq!(
        show(&client.read_until_closed().await),
        show(b""),
        "the server says nothing to a client that hangs up mid-frame"
    );
    scene.assert_healthy_after_close().await;
    scene.finish().await;
}

#[tokio::test]
async fn half_sent_control_line_then_close_delivers_nothing() {
    let mut scene = Scene::new().await;
    let mut client = scene.client().await;
    client.send(b"PUB bystan").await;
    client.shutdown_write().await;
    assert_eq!(show(&client.read_until_closed().await), show(b""));
    scene.assert_healthy_after_close().await;
    scene.finish().await;
}

#[tokio::test]
async fn incomplete_payload_waits_for_the_rest() {
    let mut scene = Scene::new().await;
    let mut client = RawClient::connect_quiet(scene.server.local_addr()).await;
    client.send(b"PUB bystander 5\r\nhel").await;
    client.send(b"lo\r\nPING\r\n").await;
    client.expect(b"PONG\r\n").await;
    scene
        .bystander
        .expect(b"MSG bystander 1 5\r\nhello\r\n")
        .await;
    scene.assert_healthy().await;
    scene.finish().await;
}

// ---------------------------------------------------------------------------
// Operations before CONNECT, verbose and pedantic
// ---------------------------------------------------------------------------

#[tokio::test]
async fn pub_before_connect_is_processed_and_acknowledged() {
    // Before CONNECT the server acts as if verbose were on: +OK.
    let mut scene = Scene::new().await;
    let mut client = scene.client().await;
    client.send(b"PUB bystander 2\r\nhi\r\n").await;
    client.expect(b"+OK\r\n").await;
    client.assert_open().await;
    scene.bystander.expect(b"MSG bystander 1 2\r\nhi\r\n").await;
    scene.assert_healthy().await;
    scene.finish().await;
}

#[tokio::test]
async fn verbose_acknowledges_every_operation_but_ping() {
    // `CONNECT {}`: verbose defaults to true. Each of CONNECT, SUB, UNSUB
    // and PUB gets +OK; PING gets PONG alone.
    assert_answered_and_kept_open(
        b"CONNECT {}\r\nSUB a 1\r\nUNSUB 1\r\nPUB a 2\r\nhi\r\nPING\r\n",
        b"+OK\r\n+OK\r\n+OK\r\n+OK\r\nPONG\r\n",
    )
    .await;
}

#[tokio::test]
async fn verbose_acknowledges_a_publish_before_delivering_it() {
    assert_answered_and_kept_open(
        b"CONNECT {\"verbose\":true}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\n",
        b"+OK\r\n+OK\r\n+OK\r\nMSG a 1 2\r\nhi\r\n",
    )
    .await;
}

#[tokio::test]
async fn invalid_subject_is_reported_and_the_connection_stays_open() {
    // Even without pedantic; verbose is off, so no +OK follows.
    assert_answered_and_kept_open(
        b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB foo..bar 1\r\n",
        b"-ERR 'Invalid Subject'\r\n",
    )
    .await;
}

#[tokio::test]
async fn invalid_subject_is_not_subscribed() {
    let scene = Scene::new().await;
    let before = scene.server.shared().subscription_count();
    let mut client = RawClient::connect_quiet(scene.server.local_addr()).await;
    client.send(b"SUB foo..bar 1\r\nSUB .foo 2\r\n").await;
    client
        .expect(b"-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\n")
        .await;
    client.assert_open().await;
    assert_eq!(scene.server.shared().subscription_count(), before);
    scene.finish().await;
}

#[tokio::test]
async fn pedantic_publish_to_a_wildcard_is_reported_but_still_delivered() {
    let mut scene = Scene::new().await;
    let addr = scene.server.local_addr();
    let mut watcher = RawClient::connect_quiet(addr).await;
    watcher.send(b"SUB foo.* 7\r\n").await;
    watcher.assert_open().await;

    let mut client =
        RawClient::connect_quiet_with(addr, r#"{"verbose":false,"pedantic":true}"#).await;
    client.send(b"PUB foo.* 1\r\nx\r\n").await;
    client.expect(b"-ERR 'Invalid Publish Subject'\r\n").await;
    client.assert_open().await;
    watcher.expect(b"MSG foo.* 7 1\r\nx\r\n").await;
    watcher.assert_open().await;
    scene.assert_healthy().await;
    scene.finish().await;
}

#[tokio::test]
async fn pedantic_error_comes_before_the_ok_in_verbose_mode() {
    // Before CONNECT both verbose and pedantic are on.
    assert_answered_and_kept_open(
        b"PUB foo.* 1\r\nx\r\n",
        b"-ERR 'Invalid Publish Subject'\r\n+OK\r\n",
    )
    .await;
}

// ---------------------------------------------------------------------------
// Argument errors: closed without an -ERR
// ---------------------------------------------------------------------------

#[tokio::test]
async fn pub_without_size_closes_silently() {
    assert_rejected(b"PUB foo\r\n", b"").await;
}

#[tokio::test]
async fn pub_with_negative_size_closes_silently() {
    assert_rejected(b"PUB foo -1\r\n", b"").await;
}

#[tokio::test]
async fn pub_with_too_many_arguments_closes_silently() {
    assert_rejected(b"PUB foo bar baz 1\r\nx\r\n", b"").await;
}

#[tokio::test]
async fn sub_without_sid_closes_silently() {
    assert_rejected(b"SUB foo\r\n", b"").await;
}

#[tokio::test]
async fn connect_with_invalid_json_closes_silently() {
    assert_rejected(b"CONNECT {bad\r\n", b"").await;
}

#[tokio::test]
async fn connect_without_json_closes_silently() {
    assert_rejected(b"CONNECT\r\n", b"").await;
}

#[tokio::test]
async fn hpub_without_headers_in_connect_closes_silently() {
    assert_rejected(
        b"CONNECT {\"verbose\":false}\r\nHPUB bystander 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        b"",
    )
    .await;
}

#[tokio::test]
async fn hpub_before_connect_closes_silently() {
    assert_rejected(b"HPUB bystander 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", b"").await;
}

#[tokio::test]
async fn hpub_with_header_larger_than_total_closes_silently() {
    assert_rejected(
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB bystander 12 10\r\n",
        b"",
    )
    .await;
}

#[tokio::test]
async fn no_responders_without_headers_is_rejected_and_closed() {
    assert_rejected(
        b"CONNECT {\"verbose\":false,\"no_responders\":true}\r\n",
        b"-ERR 'no responders requires headers support'\r\n",
    )
    .await;
}

// ---------------------------------------------------------------------------
// Connection limits and liveness
// ---------------------------------------------------------------------------

#[tokio::test]
async fn connection_over_max_connections_gets_info_then_error_then_close() {
    let mut opts = Options::for_tests();
    opts.max_connections = 1;
    let server = start_server(opts).await;
    let addr = server.local_addr();

    let mut first = RawClient::connect_quiet(addr).await;
    // `connect` has already read and checked the INFO line.
    let mut second = RawClient::connect(addr).await;
    second
        .expect_closed_with(b"-ERR 'maximum connections exceeded'\r\n")
        .await;
    first.assert_open().await;

    drop(first);
    wait_for_client_count(&server, 0).await;
    let mut third = RawClient::connect_quiet(addr).await;
    third.assert_open().await;
    server.shutdown().await;
}

/// Options whose server pings every 50 ms and gives up after 2 unanswered.
fn fast_pings() -> Options {
    let mut opts = Options::for_tests();
    opts.ping_interval = Duration::from_millis(50);
    opts.ping_max = 2;
    opts
}

#[tokio::test]
async fn client_that_never_answers_pings_is_closed_as_stale() {
    let server = start_server(fast_pings()).await;
    let mut client = RawClient::connect_quiet(server.local_addr()).await;
    client
        .expect_closed_with(b"PING\r\nPING\r\n-ERR 'Stale Connection'\r\n")
        .await;
    wait_for_client_count(&server, 0).await;
    let mut next = RawClient::connect_quiet(server.local_addr()).await;
    next.assert_open().await;
    server.shutdown().await;
}

#[tokio::test]
async fn client_that_answers_pings_stays_open() {
    let server = start_server(fast_pings()).await;
    let mut client = RawClient::connect_quiet(server.local_addr()).await;
    // Six pings span three times what a silent client survives.
    for _ in 0..6 {
        client.expect(b"PING\r\n").await;
        client.send(b"PONG\r\n").await;
    }
    // Our own PING: its PONG may come after server PINGs, which we answer.
    client.send(b"PING\r\n").await;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let received = client
            .read_until(TIMEOUT, |b| b == b"PING\r\n" || b == b"PONG\r\n")
            .await;
        match received.bytes.as_slice() {
            b"PONG\r\n" => break,
            b"PING\r\n" => client.send(b"PONG\r\n").await,
            other => panic!(
                "expected PING or PONG, got {} ({:?})",
                show(other),
                received.end
            ),
        }
        assert!(Instant::now() < deadline, "no PONG within {TIMEOUT:?}");
    }
    assert_eq!(server.shared().client_count(), 1);
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// Slow consumers
// ---------------------------------------------------------------------------

/// The payload of message number `n`: its number, padded to `len` bytes.
fn numbered_payload(n: usize, len: usize) -> Vec<u8> {
    let mut payload = format!("{n:010}").into_bytes();
    payload.resize(len, b'.');
    payload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_closed_silently_while_others_keep_flowing() {
    const MAX_PENDING: usize = 64 * 1024;
    const PAYLOAD: usize = 512;
    const BATCH: usize = 32; // about 17 KB per batch, well under MAX_PENDING
    const MAX_BATCHES: usize = 4096; // about 70 MB: far more than any socket buffers
    const ROUND_TRIP_LIMIT: Duration = Duration::from_secs(2);

    let mut opts = Options::for_tests();
    opts.max_pending = MAX_PENDING;
    let server = start_server(opts).await;
    let addr = server.local_addr();

    // The slow consumer never reads; a tiny receive buffer makes the
    // server's writes to it block soon.
    let mut slow = RawClient::connect_with_recv_buffer(addr, 4096).await;
    slow.send(b"CONNECT {\"verbose\":false}\r\nSUB data 1\r\nPING\r\n")
        .await;
    slow.expect(b"PONG\r\n").await;

    let mut healthy = RawClient::connect_quiet(addr).await;
    healthy.send(b"SUB data 2\r\n").await;
    healthy.assert_open().await;
    wait_for_subscription_count(&server, 2).await;

    // The healthy subscriber reads as fast as it can, checking order,
    // until the end marker.
    let reader = tokio::spawn(async move {
        let mut received = 0usize;
        loop {
            let msg = healthy.next_msg().await;
            assert_eq!((msg.subject.as_str(), msg.sid.as_str()), ("data", "2"));
            if msg.payload == b"end" {
                return received;
            }
            assert_eq!(
                msg.payload,
                numbered_payload(received, PAYLOAD),
                "message {received} out of order or damaged"
            );
            received += 1;
        }
    });

    let mut publisher = RawClient::connect_quiet(addr).await;
    let mut sent = 0usize;
    let mut slowest = Duration::ZERO;
    let mut detected = false;
    for _ in 0..MAX_BATCHES {
        let mut batch = Vec::with_capacity(BATCH * (PAYLOAD + 24));
        for _ in 0..BATCH {
            batch.extend_from_slice(format!("PUB data {PAYLOAD}\r\n").as_bytes());
            batch.extend_from_slice(&numbered_payload(sent, PAYLOAD));
            batch.extend_from_slice(b"\r\n");
            sent += 1;
        }
        publisher.send(&batch).await;
        let started = Instant::now();
        publisher.assert_open().await;
        let round_trip = started.elapsed();
        slowest = slowest.max(round_trip);
        assert!(
            round_trip < ROUND_TRIP_LIMIT,
            "the publisher's PING took {round_trip:?} after {sent} messages: \
             deliveries to others must not wait for the slow consumer"
        );
        // Closing the slow consumer removes its subscription.
        if server.shared().subscription_count() == 1 {
            detected = true;
            break;
        }
    }
    assert!(
        detected,
        "the slow consumer was not disconnected after {sent} messages"
    );

    publisher.send(b"PUB data 3\r\nend\r\n").await;
    publisher.assert_open().await;
    let received = tokio::time::timeout(TIMEOUT * 4, reader)
        .await
        .expect("the healthy subscriber receives everything in time")
        .expect("the healthy subscriber's reader succeeds");
    assert_eq!(
        received, sent,
        "the healthy subscriber must get every message"
    );

    // What the slow consumer got: a prefix of the stream, then the close,
    // and no -ERR anywhere.
    let got = slow.read_until_closed().await;
    assert_eq!(
        count_occurrences(&got, b"-ERR"),
        0,
        "a slow consumer is closed without -ERR; it received {}",
        show(&got)
    );
    assert!(
        got.is_empty() || got.starts_with(b"MSG data 1 512\r\n"),
        "the slow consumer received something other than its messages: {}",
        show(&got)
    );
    eprintln!("slow consumer cut after {sent} messages; slowest publisher round trip {slowest:?}");
    wait_for_client_count(&server, 1).await;
    publisher.assert_open().await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------

#[tokio::test]
async fn unsub_with_max_delivers_exactly_max_messages() {
    let mut scene = Scene::new().await;
    let mut client = RawClient::connect_quiet(scene.server.local_addr()).await;
    client
        .send(
            b"SUB foo 1\r\nUNSUB 1 2\r\n\
              PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPING\r\n",
        )
        .await;
    client
        .expect(b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nPONG\r\n")
        .await;
    // The subscription is gone: only the bystander's remains.
    wait_for_subscription_count(&scene.server, 1).await;
    scene.assert_healthy().await;
    scene.finish().await;
}

#[tokio::test]
async fn unsub_with_max_zero_removes_at_once() {
    assert_answered_and_kept_open(
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 0\r\nPUB foo 1\r\nx\r\nPING\r\n",
        b"PONG\r\n",
    )
    .await;
}

#[tokio::test]
async fn duplicate_sid_is_ignored() {
    // The second SUB with sid 1 does not replace the first.
    assert_answered_and_kept_open(
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB bar 1\r\n\
          PUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\nPING\r\n",
        b"MSG foo 1 1\r\ny\r\nPONG\r\n",
    )
    .await;
}

#[tokio::test]
async fn echo_off_skips_own_messages_but_others_get_them() {
    let mut scene = Scene::new().await;
    let addr = scene.server.local_addr();
    let mut other = RawClient::connect_quiet(addr).await;
    other.send(b"SUB foo 5\r\n").await;
    other.assert_open().await;

    let mut client = RawClient::connect_quiet_with(addr, r#"{"verbose":false,"echo":false}"#).await;
    client.send(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n").await;
    client.assert_open().await;
    other.expect(b"MSG foo 5 2\r\nhi\r\n").await;
    other.assert_open().await;
    scene.assert_healthy().await;
    scene.finish().await;
}

// ---------------------------------------------------------------------------
// Frames split anywhere
// ---------------------------------------------------------------------------

/// A stream of many kinds of operation and what the server answers to it.
const STREAM: &[u8] = b"CONNECT {\"verbose\":false,\"headers\":true}\r\n\
SUB foo 1\r\n\
SUB bar q 2\r\n\
sub\tbaz\t3\r\n\
PUB foo reply 5\r\nhello\r\n\
HPUB bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
pub baz 0\r\n\r\n\
SUB bad..subject 4\r\n\
UNSUB 2\r\n\
PUB bar 1\r\nx\r\n\
PING\r\n";
const STREAM_REPLY: &[u8] = b"MSG foo 1 reply 5\r\nhello\r\n\
HMSG bar 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
MSG baz 3 0\r\n\r\n\
-ERR 'Invalid Subject'\r\n\
PONG\r\n";

#[tokio::test]
async fn stream_sent_whole_gets_the_expected_replies() {
    let server = start_server(Options::for_tests()).await;
    let mut client = RawClient::connect(server.local_addr()).await;
    client.send(STREAM).await;
    client.expect(STREAM_REPLY).await;
    client.assert_open().await;
    server.shutdown().await;
}

#[tokio::test]
async fn stream_sent_one_byte_at_a_time_gets_the_same_replies() {
    let mut scene = Scene::new().await;
    let mut client = scene.client().await;
    client.send_bytewise(STREAM).await;
    client.expect(STREAM_REPLY).await;
    client.assert_open().await;
    scene.assert_healthy().await;
    scene.finish().await;
}

#[tokio::test]
async fn stream_split_in_two_at_every_offset_gets_the_same_replies() {
    let server = start_server(Options::for_tests()).await;
    for split in 1..STREAM.len() {
        let mut client = RawClient::connect(server.local_addr()).await;
        client.send(&STREAM[..split]).await;
        client.send(&STREAM[split..]).await;
        let received = client
            .read_until(TIMEOUT, |b| b.len() >= STREAM_REPLY.len())
            .await;
        assert_eq!(
            show(&received.bytes),
            show(STREAM_REPLY),
            "split after byte {split} ({:?})",
            received.end
        );
    }
    server.shutdown().await;
}

/// Issue 13, item 2: a subscriber whose CONNECT did not ask for headers
/// gets a message published with headers as `MSG` with the payload alone,
/// byte for byte as the reference sends it; one that asked gets `HMSG`.
#[tokio::test]
async fn headers_are_stripped_for_clients_that_did_not_ask_for_them() {
    async fn observe(addr: std::net::SocketAddr) -> (Vec<u8>, Vec<u8>) {
        let mut plain = RawClient::connect_quiet(addr).await;
        plain.send(b"SUB foo 1\r\n").await;
        plain.assert_open().await;
        let mut modern =
            RawClient::connect_quiet_with(addr, r#"{"verbose":false,"headers":true}"#).await;
        modern.send(b"SUB foo 2\r\n").await;
        modern.assert_open().await;
        let mut publisher =
            RawClient::connect_quiet_with(addr, r#"{"verbose":false,"headers":true}"#).await;
        publisher
            .send(b"HPUB foo r 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n")
            .await;
        publisher.assert_open().await;
        let pong = |b: &[u8]| b.ends_with(b"PONG\r\n");
        plain.send(b"PING\r\n").await;
        modern.send(b"PING\r\n").await;
        (
            plain.read_until(TIMEOUT, pong).await.bytes,
            modern.read_until(TIMEOUT, pong).await.bytes,
        )
    }
    let server = start_default_server().await;
    let (plain, modern) = observe(server.local_addr()).await;
    assert_eq!(show(&plain), show(b"MSG foo 1 r 5\r\nhello\r\nPONG\r\n"));
    assert_eq!(
        show(&modern),
        show(b"HMSG foo 2 r 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\nPONG\r\n")
    );
    if let Some(reference) = ReferenceServer::start(&[]).await {
        assert_eq!(observe(reference.addr()).await, (plain, modern));
    }
}

/// Issue 13, item 3: `max_subscriptions` holds per connection, with
/// nats-server's error, the connection staying open; byte for byte as
/// the reference answers.
#[tokio::test]
async fn max_subscriptions_is_enforced_as_the_reference_enforces_it() {
    async fn observe(addr: std::net::SocketAddr) -> Vec<u8> {
        let mut client = RawClient::connect_quiet(addr).await;
        client
            .send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nSUB a 1\r\nUNSUB 1\r\nSUB d 4\r\nPING\r\n")
            .await;
        client
            .read_until(TIMEOUT, |b| b.ends_with(b"PONG\r\n"))
            .await
            .bytes
    }
    let server = start_server(Options {
        max_subscriptions: 2,
        ..Options::for_tests()
    })
    .await;
    let ours = observe(server.local_addr()).await;
    // The third SUB, and the repeated sid 1 at the limit, are refused;
    // after an UNSUB there is room again.
    assert_eq!(
        show(&ours),
        show(
            b"-ERR 'maximum subscriptions exceeded'\r\n-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n"
        )
    );
    if let Some(reference) = ReferenceServer::start_with_config("max_subscriptions: 2\n").await {
        assert_eq!(show(&observe(reference.addr()).await), show(&ours));
    }
}

/// Issue 13, item 4: queue-qualified permissions (`"work.> workers"`)
/// allow that queue group only, and a queue deny refuses that group only;
/// the same bytes get the same answers from the reference.
#[tokio::test]
async fn queue_qualified_permissions_answer_as_the_reference_does() {
    use rnats_server::options::{PermissionsConfig, SubjectRuleConfig, UserConfig};
    const CONFIG: &str = r#"authorization { users = [
        {user: w, password: w, permissions: {subscribe: {allow: ["work.> workers", "public.>"], deny: ["public.* nosy"]}}}
    ] }"#;
    async fn observe(addr: std::net::SocketAddr) -> Vec<u8> {
        let mut client =
            RawClient::connect_quiet_with(addr, r#"{"verbose":false,"user":"w","pass":"w"}"#).await;
        client
            .send(
                b"SUB work.a 1\r\nSUB work.a workers 2\r\nSUB work.a others 3\r\n\
                  SUB public.x 4\r\nSUB public.x nosy 5\r\nSUB public.x good 6\r\nPING\r\n",
            )
            .await;
        client
            .read_until(TIMEOUT, |b| b.ends_with(b"PONG\r\n"))
            .await
            .bytes
    }
    let mut opts = Options::for_tests();
    opts.auth.users = vec![UserConfig {
        user: "w".into(),
        password: "w".into(),
        permissions: Some(PermissionsConfig {
            publish: None,
            subscribe: Some(SubjectRuleConfig {
                allow: Some(vec!["work.> workers".into(), "public.>".into()]),
                deny: vec!["public.* nosy".into()],
            }),
            allow_responses: None,
        }),
    }];
    let server = start_server(opts).await;
    let ours = observe(server.local_addr()).await;
    assert_eq!(
        String::from_utf8_lossy(&ours),
        "-ERR 'Permissions Violation for Subscription to \"work.a\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"work.a\" using queue \"others\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"public.x\" using queue \"nosy\"'\r\n\
         PONG\r\n"
    );
    if let Some(reference) = ReferenceServer::start_with_config(CONFIG).await {
        assert_eq!(show(&observe(reference.addr()).await), show(&ours));
    }
}

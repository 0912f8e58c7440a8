//! Differential tests: the same bytes go to the reference nats-server 2.9
//! (the `nats-server` binary, started as a child process on a free loopback
//! port) and to rnats (in-process); both must answer byte for byte the same,
//! and both must close the connection or both keep it open.
//!
//! Each connection's INFO line is read (and checked for shape) before the
//! case's bytes are sent and is left out of the comparison: it carries ids
//! and ports that legitimately differ (its fields are compared on their
//! own in `info_has_the_reference_fields`). Nothing else is normalised.
//!
//! The reference binary is found on `$PATH` or at /usr/sbin/nats-server; if
//! it is missing the tests fail, unless `RNATS_SKIP_REFERENCE=1`.
//!
//! Every case of a table runs on its own fresh pair of servers (the
//! reference starts in milliseconds), so no case sees another's
//! subscriptions; a table-driven test reports every case that differs, not
//! only the first.

mod support;

use std::time::Duration;

use futures::{StreamExt, stream};
use rnats_server::Options;
use support::{End, RawClient, Received, ReferenceServer, count_occurrences, show, start_server};

/// How long a case may take on either server before it counts as "still
/// open" (for cases that should close) or "no answer" (for the rest).
/// Cases take milliseconds; the limit stays under the 2 s after which both
/// servers send their first PING, so a hanging case shows only its own bytes.
const CASE_LIMIT: Duration = Duration::from_millis(1500);

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/// How a case ends, which tells the driver when it has seen everything.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// The server closes the connection by itself: read until it does.
    Closes,
    /// The connection stays open. The driver appends `PING\r\n` and reads
    /// until the PONG that answers it: the case's own bytes produce
    /// `pongs` PONGs before it.
    Open { pongs: usize },
    /// The client hangs up (shuts down its sending side) after the input:
    /// read until the server closes in turn.
    ClientHangsUp,
}

struct Case {
    name: &'static str,
    input: Vec<u8>,
    ending: Ending,
}

fn closes(name: &'static str, input: impl AsRef<[u8]>) -> Case {
    Case {
        name,
        input: input.as_ref().to_vec(),
        ending: Ending::Closes,
    }
}

fn open(name: &'static str, input: impl AsRef<[u8]>, pongs: usize) -> Case {
    Case {
        name,
        input: input.as_ref().to_vec(),
        ending: Ending::Open { pongs },
    }
}

fn hangs_up(name: &'static str, input: impl AsRef<[u8]>) -> Case {
    Case {
        name,
        input: input.as_ref().to_vec(),
        ending: Ending::ClientHangsUp,
    }
}

/// `n` copies of `byte`, for long lines.
fn many(byte: u8, n: usize) -> Vec<u8> {
    vec![byte; n]
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Many kinds of operation in one stream (with one PING of its own).
const LONG_STREAM: &[u8] = b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n\
SUB bar q 2\r\nsub\tbaz\t3\r\nPUB foo reply 5\r\nhello\r\n\
HPUB bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\npub baz 0\r\n\r\nSUB bad..subject 4\r\n\
UNSUB 2\r\nPUB bar 1\r\nx\r\nPING\r\n";

/// Every error the protocol has, and malformed input of every kind.
fn error_cases() -> Vec<Case> {
    vec![
        closes("unknown operation", "FOO bar\r\n"),
        closes("garbage bytes", b"\x00\x01\x02\xff\xfe garbage\r\n"),
        closes("empty line", "\r\n"),
        closes("lone newline", "\nPING\r\n"),
        closes("client-sent MSG", "MSG foo 1 2\r\nhi\r\n"),
        closes("HTTP request", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        closes(
            "TLS ClientHello",
            b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03\x5a\x5a\x5a\x5a",
        ),
        closes("op with a leading tab", "\tPING\r\n"),
        closes("truncated op", "PI\r\n"),
        closes("op with a suffix", "PUBX foo 1\r\nx\r\n"),
        closes("op with no space", "PUBfoo 1\r\nx\r\n"),
        closes("SUB without arguments", "SUB\r\n"),
        closes("PUB without arguments", "PUB\r\n"),
        closes("UNSUB without arguments", "UNSUB\r\n"),
        closes(
            "control line of 4097",
            cat(&[b"SUB ", &many(b'a', 4095), b" 1\r\n"]),
        ),
        open(
            "control line of 4096",
            cat(&[b"SUB ", &many(b'a', 4094), b" 1\r\n"]),
            0,
        ),
        closes(
            "PUB control line of 4097",
            cat(&[b"PUB ", &many(b'a', 4095), b" 0\r\n\r\n"]),
        ),
        closes(
            "5000-byte PUB line, no newline",
            cat(&[b"PUB ", &many(b'a', 5000)]),
        ),
        closes(
            "5000-byte CONNECT, no newline",
            cat(&[b"CONNECT ", &many(b'a', 5000)]),
        ),
        closes("5000 bytes of garbage", many(b'x', 5000)),
        closes("payload longer than declared", "PUB foo 3\r\nabcd\r\n"),
        closes("CR alone after payload", "PUB foo 1\r\nx\rPING\r\n"),
        closes("LF alone after payload", "PUB foo 1\r\nx\nPING\r\n"),
        closes("empty line after a PUB", "PUB foo 1\r\nx\r\n\r\n"),
        closes("op after PING then garbage", "PING\r\nfoo\r\n"),
        hangs_up("payload shorter than declared", "PUB foo 10\r\nabc"),
        hangs_up("half a control line", "PUB fo"),
        hangs_up("PUB waiting for its payload", "PUB foo 1\r\n"),
        closes("payload over max_payload", "PUB foo 2000000\r\n"),
        closes("payload of max_payload + 1", "PUB foo 1048577\r\n"),
        closes("huge payload size", "PUB foo 99999999999999999999999\r\n"),
        closes("PUB without size", "PUB foo\r\n"),
        closes("PUB with negative size", "PUB foo -1\r\n"),
        closes("PUB with signed size", "PUB foo +1\r\nx\r\n"),
        closes("PUB with non-numeric size", "PUB foo 1a\r\nx\r\n"),
        closes("PUB with too many arguments", "PUB foo bar baz 1\r\nx\r\n"),
        closes("SUB without sid", "SUB foo\r\n"),
        closes("SUB with too many arguments", "SUB foo q 1 extra\r\n"),
        closes("UNSUB with too many arguments", "UNSUB 1 2 3\r\n"),
        closes("CONNECT with invalid JSON", "CONNECT {bad\r\n"),
        closes("CONNECT without JSON", "CONNECT\r\n"),
        closes(
            "CONNECT with trailing text",
            "CONNECT {\"verbose\":false} trailing\r\n",
        ),
        closes(
            "CONNECT with a string for a bool",
            "CONNECT {\"verbose\":\"yes\"}\r\n",
        ),
        closes(
            "HPUB before CONNECT",
            "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        ),
        closes(
            "HPUB without headers:true",
            "CONNECT {\"verbose\":false}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        ),
        closes(
            "HPUB header size over total",
            "CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB foo 12 10\r\n",
        ),
        closes(
            "HPUB with negative header size",
            "CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB foo -1 2\r\nhi\r\n",
        ),
        closes(
            "HPUB without total size",
            "CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB foo 2\r\nhi\r\n",
        ),
        closes(
            "no_responders without headers",
            "CONNECT {\"no_responders\":true}\r\n",
        ),
        open("invalid subject", "SUB foo..bar 1\r\n", 0),
        open("invalid subject, empty last token", "SUB foo. 1\r\n", 0),
        open("invalid subject, empty first token", "SUB .foo 1\r\n", 0),
        open("invalid subject, > not last", "SUB foo.>.bar 1\r\n", 0),
        open("pedantic: PUB to a wildcard", "PUB foo.* 1\r\nx\r\n", 0),
        open(
            "pedantic: PUB to an empty token",
            "PUB foo..bar 1\r\nx\r\n",
            0,
        ),
        open(
            "pedantic PUB to a wildcard is still delivered",
            "CONNECT {\"verbose\":false,\"pedantic\":true}\r\nSUB foo.> 1\r\nPUB foo.* 1\r\nx\r\n",
            0,
        ),
        open(
            "no pedantic: PUB to a wildcard is silent",
            "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB foo.* 1\r\nx\r\n",
            0,
        ),
    ]
}

/// Everyday protocol: every reply must be identical.
fn normal_cases() -> Vec<Case> {
    vec![
        open("PING", "PING\r\n", 1),
        open("PONG from the client", "PONG\r\n", 0),
        open("PING with a trailing space", "PING \r\n", 1),
        open("PING with LF only", "PING\n", 1),
        open("PINGX", "PINGX\r\n", 1),
        open("lower-case ping", "ping\r\n", 1),
        open("mixed-case PiNg", "PiNg\r\n", 1),
        open("PUB before CONNECT", "PUB foo 1\r\nx\r\n", 0),
        open("CONNECT {}", "CONNECT {}\r\n", 0),
        open(
            "verbose: +OK for each op, none for PING",
            "CONNECT {}\r\nSUB a 1\r\nUNSUB 1\r\nPUB a 0\r\n\r\nPING\r\n",
            1,
        ),
        open(
            "verbose: +OK before the MSG",
            "CONNECT {\"verbose\":true,\"pedantic\":false}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\n",
            0,
        ),
        open(
            "SUB, PUB, MSG",
            "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\n",
            0,
        ),
        open(
            "PUB with reply",
            "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo bar 2\r\nhi\r\n",
            0,
        ),
        open(
            "one connection's overlapping subscriptions, in the reference's order",
            "CONNECT {\"verbose\":false}\r\nSUB foo.* 1\r\nSUB foo.> 2\r\nSUB *.bar 3\r\n\
             SUB > 4\r\nSUB *.* 5\r\nSUB foo.*.baz 6\r\nSUB foo.bar 7\r\n\
             PUB foo.bar 1\r\nx\r\nPUB foo.x.baz 1\r\ny\r\n",
            0,
        ),
        open(
            "empty payload",
            "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 0\r\n\r\n",
            0,
        ),
        open(
            "binary payload",
            b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 4\r\n\x00\r\n\xff\r\n",
            0,
        ),
        open(
            "payload size with leading zero",
            "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 01\r\nx\r\n",
            0,
        ),
        open(
            "HPUB and HMSG",
            "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n\
             HPUB foo 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n",
            0,
        ),
        open(
            "HPUB with reply",
            "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n\
             HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            0,
        ),
        open(
            "HPUB with header size equal to total",
            "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nHPUB foo 2 2\r\nhi\r\n",
            0,
        ),
        open(
            "HPUB with header size 0",
            "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nHPUB foo 0 2\r\nhi\r\n",
            0,
        ),
        open(
            "UNSUB with max",
            "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 2\r\n\
             PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n",
            0,
        ),
        open(
            "UNSUB max counts messages already delivered",
            "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 1\r\na\r\n\
             UNSUB 1 1\r\nPUB foo 1\r\nb\r\n",
            0,
        ),
        open(
            "UNSUB max 0 removes at once",
            "SUB foo 1\r\nUNSUB 1 0\r\nPUB foo 1\r\nx\r\n",
            0,
        ),
        open(
            "UNSUB with an unreadable max",
            "SUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\nx\r\n",
            0,
        ),
        open("UNSUB of an unknown sid", "UNSUB 5\r\n", 0),
        open("UNSUB twice", "SUB foo 1\r\nUNSUB 1\r\nUNSUB 1\r\n", 0),
        open(
            "duplicate sid is ignored",
            "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB bar 1\r\n\
             PUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\n",
            0,
        ),
        open(
            "echo off",
            "CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\n",
            0,
        ),
        open(
            "no responders: 503 status",
            "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n\
             SUB r 1\r\nPUB foo r 1\r\nx\r\n",
            0,
        ),
        open(
            "no responders after HPUB",
            "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n\
             SUB r 1\r\nHPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            0,
        ),
        open(
            "no responders on a wildcard reply subscription",
            "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n\
             SUB r.* 1\r\nPUB foo r.x 1\r\nx\r\n",
            0,
        ),
        open(
            "no responders without a reply subscription",
            "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n\
             PUB foo r 1\r\nx\r\n",
            0,
        ),
        open(
            "queue subscription",
            "SUB foo q 1\r\nPUB foo 1\r\nx\r\n",
            0,
        ),
        open(
            "queue subscription and a plain one",
            "CONNECT {\"verbose\":false}\r\nSUB foo q 1\r\nSUB foo 2\r\nPUB foo 1\r\nx\r\n",
            0,
        ),
        open(
            "wildcards",
            "CONNECT {\"verbose\":false}\r\nSUB foo.* 1\r\nSUB foo.> 2\r\nSUB > 3\r\n\
             SUB foo.bar.* 4\r\nPUB foo.bar 1\r\nx\r\nPUB foo.bar.baz 1\r\ny\r\n",
            0,
        ),
        open("wildcard inside a token", "SUB fo*o 1\r\n", 0),
        open(
            "non-ASCII subject",
            b"CONNECT {\"verbose\":false}\r\nSUB \xc3\xa9t\xc3\xa9 1\r\nPUB \xc3\xa9t\xc3\xa9 1\r\nx\r\n",
            0,
        ),
        open("INFO from the client is ignored", "INFO {}\r\n", 0),
        open(
            "INFO with fields from the client is ignored",
            "INFO {\"server_id\":\"x\"}\r\n",
            0,
        ),
        open("lower-case info", "info {}\r\n", 0),
        open(
            "lower-case ops",
            "connect {\"verbose\":false}\r\nsub foo 1\r\npub foo 2\r\nhi\r\nunsub 1\r\npub foo 1\r\nx\r\n",
            0,
        ),
        open(
            "tabs between arguments",
            "sub\tfoo\t1\r\npub\tfoo\t2\r\nhi\r\n",
            0,
        ),
        open(
            "several blanks between arguments",
            "SUB foo \t 1\r\nPUB  foo  1 \r\nx\r\n",
            0,
        ),
        open(
            "LF-only line endings",
            "CONNECT {\"verbose\":false}\nSUB foo 1\nPUB foo 2\nhi\r\nPING\n",
            1,
        ),
        open("CONNECT with a tab", "CONNECT\t{}\r\n", 0),
        open("CONNECT with two spaces", "CONNECT  {}\r\n", 0),
        open(
            "CONNECT with unknown fields",
            "CONNECT {\"verbose\":false,\"unknown\":[1,2],\"protocol\":1}\r\n",
            0,
        ),
        open(
            "CONNECT twice",
            "CONNECT {}\r\nCONNECT {\"verbose\":false}\r\n",
            0,
        ),
        open("a long stream of many ops", LONG_STREAM, 1),
        // How a delivery's MSG line is built: from a literal subscription's
        // own line start or from its parts (a wildcard), and from the
        // publisher's frame as it is or from its parts (blanks to drop).
        open(
            "literal subscriptions, replies, odd blanks",
            "CONNECT {\"verbose\":false}\r\nSUB foo.bar 1\r\nSUB foo.bar q 333\r\n\
             PUB foo.bar r.1 2\r\nhi\r\npub\tfoo.bar\tr.2\t2\r\nhi\r\n\
             PUB  foo.bar   r.3  2\r\nhi\r\nPUB foo.bar 02 \r\nhi\r\n",
            0,
        ),
        open(
            "a wildcard subscription, replies, odd blanks",
            "CONNECT {\"verbose\":false}\r\nSUB foo.* 22\r\n\
             PUB foo.bar r.1 2\r\nhi\r\npub\tfoo.bar\tr.2\t2\r\nhi\r\n\
             PUB  foo.bar   r.3  2\r\nhi\r\nPUB foo.bar 02 \r\nhi\r\n",
            0,
        ),
        open(
            "headers to literal and wildcard subscriptions, with a reply, odd blanks",
            "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nSUB b.* 2\r\n\
             HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHPUB b.x r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
             HPUB\tfoo\tr\t12\t14\r\nNATS/1.0\r\n\r\nhi\r\n\
             HPUB\tb.x\tr\t12\t14\r\nNATS/1.0\r\n\r\nhi\r\n\
             HPUB foo 0 2\r\nhi\r\nHPUB b.x 0 2\r\nhi\r\n",
            0,
        ),
        open(
            "a shared payload with a reply, to literal and wildcard subscriptions",
            cat(&[
                b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB > 2\r\nPUB foo r 5000\r\n",
                &many(b'x', 5000),
                b"\r\nPUB\tfoo\t5000\r\n",
                &many(b'y', 5000),
                b"\r\n",
            ]),
            0,
        ),
    ]
}

/// Corners of the parser that clients do not normally reach.
fn edge_cases() -> Vec<Case> {
    vec![
        closes("payload with an extra byte, no CRLF yet", "PUB foo 1\r\nxy"),
        // The reference skips everything after PING/PONG up to the newline,
        // however long.
        open(
            "PING followed by 5000 bytes",
            cat(&[b"PING", &many(b'x', 5000), b"\r\n"]),
            1,
        ),
        open(
            "PING followed by 5000 bytes, no newline yet",
            cat(&[b"PING", &many(b'x', 5000)]),
            0,
        ),
        open(
            "PONG followed by 5000 bytes",
            cat(&[b"PONG", &many(b'x', 5000), b"\r\n"]),
            0,
        ),
        open("PING with CR CR LF", "PING\r\r\n", 1),
        open("PONGX", "PONGX\r\n", 0),
        closes("CONNECTX", "CONNECTX {}\r\n"),
        open("CONNECT with no space", "CONNECT{}\r\n", 0),
        closes("CONNECT with an array", "CONNECT []\r\n"),
        open("CONNECT null", "CONNECT null\r\n", 0),
        open(
            "a later CONNECT keeps fields it does not set",
            "CONNECT {\"verbose\":false}\r\nCONNECT {}\r\n",
            0,
        ),
        closes("INFO without JSON", "INFO\r\n"),
        closes("INFOX", "INFOX\r\n"),
        closes("INFO with invalid JSON", "INFO garbage\r\n"),
        closes("INFO with trailing text", "INFO {}x\r\n"),
        open("+OK from the client", "+OK\r\n", 0),
        closes("-ERR from the client", "-ERR 'x'\r\n"),
        open(
            "UNSUB with a huge max",
            "UNSUB 1 99999999999999999999999\r\n",
            0,
        ),
        open("UNSUB with a negative max", "UNSUB 1 -1\r\n", 0),
        hangs_up(
            "payload of exactly max_payload, not sent",
            "PUB foo 1048576\r\n",
        ),
    ]
}

// ---------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------

/// Sends one case to the server at `addr` and collects what comes back.
async fn observe(addr: std::net::SocketAddr, case: &Case) -> Received {
    let mut client = RawClient::connect(addr).await;
    // Sends may fail once the server has closed: what it said until then
    // is what counts.
    match case.ending {
        Ending::Closes => {
            let _ = client.try_send(&case.input).await;
            client.read_until(CASE_LIMIT, |_| false).await
        }
        Ending::Open { pongs } => {
            let _ = client.try_send(&cat(&[&case.input, b"PING\r\n"])).await;
            client
                .read_until(CASE_LIMIT, |b| count_occurrences(b, b"PONG\r\n") > pongs)
                .await
        }
        Ending::ClientHangsUp => {
            let _ = client.try_send(&case.input).await;
            client.shutdown_write().await;
            client.read_until(CASE_LIMIT, |_| false).await
        }
    }
}

fn describe(r: &Received) -> String {
    let end = match r.end {
        End::Closed => "then closed",
        End::Done => "and stayed open",
        End::TimedOut => "then nothing (still open, no PONG/close within the limit)",
    };
    format!("{} {end}", show(&r.bytes))
}

/// How many cases run at once (each on its own pair of servers).
const PARALLEL_CASES: usize = 8;

/// Runs one case on a fresh reference server and a fresh rnats server, so
/// that no case sees another's subscriptions or connections.
async fn run_case(case: &Case) -> (Received, Received) {
    let reference = ReferenceServer::start(&[])
        .await
        .expect("the reference binary was found before the cases ran");
    let rnats = start_server(Options::for_tests()).await;
    let (theirs, ours) = tokio::join!(
        observe(reference.addr(), case),
        observe(rnats.local_addr(), case)
    );
    rnats.shutdown().await;
    drop(reference);
    (theirs, ours)
}

/// Runs every case against both servers and fails listing all differences.
async fn assert_same_as_reference(cases: Vec<Case>) {
    if ReferenceServer::binary().is_none() {
        return;
    }
    let results: Vec<(Received, Received)> = stream::iter(cases.iter().map(run_case))
        .buffered(PARALLEL_CASES)
        .collect()
        .await;

    let mut problems = Vec::new();
    for (case, (theirs, ours)) in cases.iter().zip(&results) {
        let expected_end = match case.ending {
            Ending::Closes | Ending::ClientHangsUp => End::Closed,
            Ending::Open { .. } => End::Done,
        };
        if theirs.end != expected_end {
            problems.push(format!(
                "[{}] the table is wrong: the reference sent {}",
                case.name,
                describe(theirs)
            ));
        } else if theirs != ours {
            problems.push(format!(
                "[{}] input {}\n    reference: {}\n    rnats:     {}",
                case.name,
                show(&case.input),
                describe(theirs),
                describe(ours)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} cases differ from the reference nats-server:\n\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n\n")
    );
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_malformed_input_match_the_reference() {
    assert_same_as_reference(error_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_operations_match_the_reference() {
    assert_same_as_reference(normal_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parser_edge_cases_match_the_reference() {
    assert_same_as_reference(edge_cases()).await;
}

#[tokio::test]
async fn stream_sent_one_byte_at_a_time_matches_the_reference() {
    let Some(reference) = ReferenceServer::start(&[]).await else {
        return;
    };
    let rnats = start_server(Options::for_tests()).await;
    let bytewise = |addr| async move {
        let mut client = RawClient::connect(addr).await;
        client.send_bytewise(LONG_STREAM).await;
        client.send_bytewise(b"PING\r\n").await;
        client
            .read_until(CASE_LIMIT, |b| count_occurrences(b, b"PONG\r\n") == 2)
            .await
    };
    let (theirs, ours) = tokio::join!(bytewise(reference.addr()), bytewise(rnats.local_addr()));
    assert_eq!(theirs.end, End::Done, "reference: {}", describe(&theirs));
    assert_eq!(
        describe(&ours),
        describe(&theirs),
        "the stream sent bytewise"
    );
    rnats.shutdown().await;
}

/// The INFO greeting's fields, in order, with the values that may differ
/// blanked: ids, the port, the Go version, and the client id.
fn info_shape(info: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(info).expect("INFO is UTF-8");
    let json = text
        .strip_prefix("INFO ")
        .and_then(|t| t.strip_suffix(" \r\n"))
        .unwrap_or_else(|| panic!("malformed INFO line {}", show(info)));
    let value: serde_json::Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("INFO is not JSON ({e}): {}", show(info)));
    let object = value.as_object().expect("INFO holds a JSON object");
    let mut fields: Vec<(usize, String, String)> = object
        .iter()
        .map(|(key, value)| {
            let at = json
                .find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("key {key} not found in {json}"));
            let shown = match key.as_str() {
                // Legitimately different between two servers.
                "server_id" | "server_name" | "go" | "port" | "client_id" => "*".to_string(),
                _ => value.to_string(),
            };
            (at, key.clone(), shown)
        })
        .collect();
    fields.sort();
    fields.into_iter().map(|(_, k, v)| (k, v)).collect()
}

#[tokio::test]
async fn info_has_the_reference_fields() {
    let Some(reference) = ReferenceServer::start(&[]).await else {
        return;
    };
    let rnats = start_server(Options::for_tests()).await;
    let theirs = RawClient::connect(reference.addr()).await;
    let ours = RawClient::connect(rnats.local_addr()).await;
    assert_eq!(
        info_shape(ours.info()),
        info_shape(theirs.info()),
        "INFO differs:\n reference: {}\n rnats:     {}",
        show(theirs.info()),
        show(ours.info())
    );
    rnats.shutdown().await;
}

#[tokio::test]
async fn stale_connection_matches_the_reference() {
    let Some(reference) =
        ReferenceServer::start_with_config("ping_interval: \"100ms\"\nping_max: 2\n").await
    else {
        return;
    };
    let mut opts = Options::for_tests();
    opts.ping_interval = Duration::from_millis(100);
    opts.ping_max = 2;
    let rnats = start_server(opts).await;

    let silent = |addr| async move {
        let mut client = RawClient::connect(addr).await;
        client.send(b"CONNECT {\"verbose\":false}\r\n").await;
        client.read_until(CASE_LIMIT, |_| false).await
    };
    let (theirs, ours) = tokio::join!(silent(reference.addr()), silent(rnats.local_addr()));
    assert_eq!(theirs.end, End::Closed, "reference: {}", describe(&theirs));
    assert_eq!(
        describe(&ours),
        describe(&theirs),
        "a client that never answers PINGs"
    );
    rnats.shutdown().await;
}

/// The first client of a server limited to one connection, once the server
/// has let go of any earlier one: the reference's readiness probe may still
/// count for a moment after it closed, most often on a busy machine.
async fn first_client(addr: std::net::SocketAddr) -> RawClient {
    for _ in 0..100 {
        let mut client = RawClient::connect(addr).await;
        if client
            .try_send(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
            .await
            .is_ok()
        {
            let answer = client
                .read_until(Duration::from_secs(5), |b| b.ends_with(b"PONG\r\n"))
                .await;
            if answer.end == End::Done {
                return client;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{addr} never accepted a first client");
}

#[tokio::test]
async fn max_connections_matches_the_reference() {
    let Some(reference) = ReferenceServer::start_with_config("max_connections: 1\n").await else {
        return;
    };
    let mut opts = Options::for_tests();
    opts.max_connections = 1;
    let rnats = start_server(opts).await;

    let over_the_limit = |addr| async move {
        let mut first = first_client(addr).await;
        let mut second = RawClient::connect(addr).await;
        let refused = second.read_until(CASE_LIMIT, |_| false).await;
        first.assert_open().await;
        refused
    };
    let (theirs, ours) = tokio::join!(
        over_the_limit(reference.addr()),
        over_the_limit(rnats.local_addr())
    );
    assert_eq!(theirs.end, End::Closed, "reference: {}", describe(&theirs));
    assert_eq!(
        describe(&ours),
        describe(&theirs),
        "the connection over max_connections"
    );
    rnats.shutdown().await;
}

#[tokio::test]
async fn server_pings_start_like_the_reference() {
    let Some(reference) = ReferenceServer::start(&[]).await else {
        return;
    };
    let rnats = start_server(Options::for_tests()).await;

    // A client that has not sent CONNECT yet: the reference's first PING
    // waits for the full ping interval (2 minutes), so within 3 s it hears
    // nothing. Asserting an absence needs a wait; it is bounded.
    const SILENCE: Duration = Duration::from_secs(3);
    let before_connect = |addr| async move {
        let mut client = RawClient::connect(addr).await;
        client.read_until(SILENCE, |b| !b.is_empty()).await
    };
    // After CONNECT, the first PING comes about 2 s later.
    let after_connect = |addr| async move {
        let mut client = RawClient::connect(addr).await;
        client.send(b"CONNECT {\"verbose\":false}\r\n").await;
        client
            .read_until(Duration::from_secs(5), |b| b.ends_with(b"\r\n"))
            .await
    };
    let (theirs_before, ours_before, theirs_after, ours_after) = tokio::join!(
        before_connect(reference.addr()),
        before_connect(rnats.local_addr()),
        after_connect(reference.addr()),
        after_connect(rnats.local_addr()),
    );
    assert_eq!(
        describe(&theirs_after),
        describe(&Received {
            bytes: b"PING\r\n".to_vec(),
            end: End::Done
        }),
        "reference after CONNECT"
    );
    let mut problems = Vec::new();
    if describe(&ours_before) != describe(&theirs_before) {
        problems.push(format!(
            "before CONNECT, within {SILENCE:?}:\n    reference: {}\n    rnats:     {}",
            describe(&theirs_before),
            describe(&ours_before)
        ));
    }
    if describe(&ours_after) != describe(&theirs_after) {
        problems.push(format!(
            "after CONNECT:\n    reference: {}\n    rnats:     {}",
            describe(&theirs_after),
            describe(&ours_after)
        ));
    }
    rnats.shutdown().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Issue 13, item 3: configured limits hold as on the reference: a
/// control line over `max_control_line` and a payload over `max_payload`
/// get the same error and close (the defaults are among the cases above).
#[tokio::test]
async fn configured_control_line_and_payload_limits_match_the_reference() {
    const CONFIG: &str = "max_control_line: 64\nmax_payload: 10\n";
    async fn observe(addr: std::net::SocketAddr) -> Vec<String> {
        let mut seen = Vec::new();
        for input in [
            cat(&[b"SUB ", &many(b'a', 58), b" 1\r\nPING\r\n"]),
            cat(&[b"SUB ", &many(b'a', 70), b" 1\r\n"]),
            b"PUB foo 10\r\n0123456789\r\nPING\r\n".to_vec(),
            b"PUB foo 11\r\n01234567890\r\n".to_vec(),
        ] {
            let mut client = RawClient::connect_quiet(addr).await;
            let _ = client.try_send(&input).await;
            let got = client.read_until(CASE_LIMIT, |_| false).await;
            seen.push(describe(&got));
        }
        seen
    }
    let Some(reference) = ReferenceServer::start_with_config(CONFIG).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("rnats.conf");
    std::fs::write(&path, format!("{CONFIG}port: -1\nhost: 127.0.0.1\n"))
        .expect("writing the config");
    let (opts, _) = rnats_server::config::load(&path).expect("the config loads");
    let rnats = start_server(opts).await;
    let (ours, theirs) = tokio::join!(observe(rnats.local_addr()), observe(reference.addr()));
    assert_eq!(ours, theirs);
    assert!(
        ours[1].contains("maximum control line exceeded"),
        "{ours:?}"
    );
    assert!(ours[3].contains("Maximum Payload Violation"), "{ours:?}");
    rnats.shutdown().await;
}

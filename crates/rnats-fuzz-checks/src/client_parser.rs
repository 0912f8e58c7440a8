//! The client-protocol parser (`rnats_proto::parser`), fed as a connection feeds it: append
//! what a read brought, parse every complete frame, keep the rest, and drop the rest of an
//! over-long `PING`/`PONG`/`+OK` line (`Parsed::SkipLine`) as the client session does.
//!
//! Invariants, under the default limits and under tiny ones (so the limit paths are reached):
//! - no input panics;
//! - every operation lies inside its frame, its frame inside the buffer, and its sizes agree
//!   with its spans (a payload is as long as announced and followed by `\r\n`);
//! - `Incomplete { frame_len: Some(n) }` asks for more than the buffer holds;
//! - cutting the input into several reads gives the same operations, and the same error, as
//!   one read;
//! - whatever the fast path (`parser::parse_fast`) answers, the general path answers too.

use rnats_proto::parser::{self, ClientOp, Limits, Parsed, ProtocolError, Span};

use crate::{cut_sets, read_ends};

/// What came out of a stream: operations (their bytes, comparable across buffers) and at
/// most one error, last.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Op(Owned),
    Error(ProtocolError),
}

#[derive(Debug, PartialEq, Eq)]
enum Owned {
    Connect(Vec<u8>),
    Pub {
        subject: Vec<u8>,
        reply: Option<Vec<u8>>,
        size: Vec<u8>,
        payload: Vec<u8>,
    },
    HPub {
        subject: Vec<u8>,
        reply: Option<Vec<u8>>,
        header_len: usize,
        header_size: Vec<u8>,
        total_size: Vec<u8>,
        message: Vec<u8>,
    },
    Sub(Vec<u8>, Option<Vec<u8>>, Vec<u8>),
    Unsub(Vec<u8>, Option<u64>),
    Ping,
    Pong,
    Info(Vec<u8>),
    Ok,
}

const TINY: Limits = Limits {
    max_control_line: 32,
    max_payload: 64,
};

/// Runs the parser over `data` and panics if an invariant breaks (see the module).
pub fn check(data: &[u8]) {
    for limits in [Limits::default(), TINY] {
        let whole = feed(data, &[], &limits);
        for cuts in cut_sets(data) {
            let cut = feed(data, &cuts, &limits);
            assert_eq!(
                cut, whole,
                "reads cut at {cuts:?} parse differently from one read (limits {limits:?})"
            );
        }
    }
}

/// Feeds `data` in reads ending at `cuts`, like the client session's read loop.
fn feed(data: &[u8], cuts: &[usize], limits: &Limits) -> Vec<Event> {
    let mut events = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut skipping: Option<ClientOp> = None;
    let mut last = 0;
    for end in read_ends(data, cuts) {
        pending.extend_from_slice(&data[last..end]);
        last = end;
        let mut pos = 0;
        loop {
            if let Some(op) = skipping.take() {
                let (skipped, line_ended) = parser::skip_line(&pending[pos..]);
                assert!(skipped <= pending.len() - pos, "skip_line past the buffer");
                pos += skipped;
                if !line_ended {
                    skipping = Some(op);
                    break;
                }
                events.push(Event::Op(own(&op, &pending)));
            }
            if let Some(fast) = parser::parse_fast(&pending, pos, limits) {
                assert_eq!(
                    Ok(fast),
                    parser::parse_general(&pending, pos, limits),
                    "the fast path disagrees with the general one"
                );
            }
            match parser::parse(&pending, pos, limits) {
                Ok(Parsed::Op {
                    op,
                    control_line,
                    frame_len,
                }) => {
                    check_op(&pending, pos, &op, control_line, frame_len, limits);
                    events.push(Event::Op(own(&op, &pending)));
                    pos += frame_len;
                }
                Ok(Parsed::Incomplete { frame_len }) => {
                    if let Some(frame_len) = frame_len {
                        assert!(
                            frame_len > pending.len() - pos,
                            "Incomplete asks for {frame_len} bytes but {} are there",
                            pending.len() - pos
                        );
                    }
                    break;
                }
                Ok(Parsed::SkipLine { op, skipped }) => {
                    assert!(
                        matches!(op, ClientOp::Ping | ClientOp::Pong | ClientOp::Ok),
                        "only PING, PONG and +OK lines are skipped, not {op:?}"
                    );
                    assert!(skipped > 0 && skipped <= pending.len() - pos, "bad skip");
                    pos += skipped;
                    skipping = Some(op);
                }
                Err(error) => {
                    events.push(Event::Error(error));
                    return events;
                }
            }
        }
        pending.drain(..pos);
    }
    events
}

fn within(span: Span, start: usize, end: usize, what: &str) {
    assert!(
        start <= span.start && span.start <= span.end && span.end <= end,
        "{what} {span:?} is outside {start}..{end}"
    );
}

/// A non-empty argument of the control line, without blanks or line feeds (a stray `\r` is
/// an ordinary byte of an argument, as on nats-server).
fn argument(buf: &[u8], span: Span, line: Span, what: &str) {
    within(span, line.start, line.end, what);
    let bytes = span.of(buf);
    assert!(!bytes.is_empty(), "empty {what}");
    assert!(
        !bytes.iter().any(|b| matches!(b, b' ' | b'\t' | b'\n')),
        "{what} {bytes:?} holds a blank or a line feed"
    );
}

fn check_op(buf: &[u8], pos: usize, op: &ClientOp, line: Span, frame_len: usize, limits: &Limits) {
    assert!(frame_len > 0, "an empty frame");
    let end = pos + frame_len;
    assert!(end <= buf.len(), "frame {pos}..{end} past the buffer");
    assert_eq!(line.start, pos, "the control line starts the frame");
    within(line, pos, end, "control line");
    let size = |span: Span| parser::parse_size(span.of(buf));
    match *op {
        ClientOp::Pub {
            subject,
            reply,
            size: size_text,
            payload,
        } => {
            argument(buf, subject, line, "subject");
            if let Some(reply) = reply {
                argument(buf, reply, line, "reply");
            }
            argument(buf, size_text, line, "size");
            within(payload, line.end, end, "payload");
            assert_eq!(size(size_text), Some(payload.len()), "payload size");
            assert!(
                payload.len() <= limits.max_payload,
                "payload over max_payload"
            );
            assert_eq!(
                &buf[payload.end..end],
                b"\r\n",
                "the payload ends the frame"
            );
        }
        ClientOp::HPub {
            subject,
            reply,
            header_len,
            header_size,
            total_size,
            message,
        } => {
            argument(buf, subject, line, "subject");
            if let Some(reply) = reply {
                argument(buf, reply, line, "reply");
            }
            argument(buf, header_size, line, "header size");
            argument(buf, total_size, line, "total size");
            within(message, line.end, end, "message");
            assert_eq!(size(header_size), Some(header_len), "header size");
            assert_eq!(size(total_size), Some(message.len()), "total size");
            assert!(
                header_len <= message.len(),
                "headers longer than the message"
            );
            assert!(
                message.len() <= limits.max_payload,
                "message over max_payload"
            );
            assert_eq!(
                &buf[message.end..end],
                b"\r\n",
                "the message ends the frame"
            );
        }
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => {
            argument(buf, subject, line, "subject");
            if let Some(queue) = queue {
                argument(buf, queue, line, "queue");
            }
            argument(buf, sid, line, "sid");
        }
        ClientOp::Unsub { sid, .. } => argument(buf, sid, line, "sid"),
        ClientOp::Connect { json } | ClientOp::Info { json } => {
            within(json, line.start, line.end, "JSON");
            assert!(!json.is_empty(), "empty JSON argument");
        }
        ClientOp::Ping | ClientOp::Pong | ClientOp::Ok => {}
    }
    if !matches!(op, ClientOp::Pub { .. } | ClientOp::HPub { .. }) {
        assert_eq!(
            buf[end - 1],
            b'\n',
            "a line operation ends at its line feed"
        );
    }
}

fn own(op: &ClientOp, buf: &[u8]) -> Owned {
    let b = |s: &Span| s.of(buf).to_vec();
    match op {
        ClientOp::Connect { json } => Owned::Connect(b(json)),
        ClientOp::Pub {
            subject,
            reply,
            size,
            payload,
        } => Owned::Pub {
            subject: b(subject),
            reply: reply.as_ref().map(b),
            size: b(size),
            payload: b(payload),
        },
        ClientOp::HPub {
            subject,
            reply,
            header_len,
            header_size,
            total_size,
            message,
        } => Owned::HPub {
            subject: b(subject),
            reply: reply.as_ref().map(b),
            header_len: *header_len,
            header_size: b(header_size),
            total_size: b(total_size),
            message: b(message),
        },
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => Owned::Sub(b(subject), queue.as_ref().map(b), b(sid)),
        ClientOp::Unsub { sid, max } => Owned::Unsub(b(sid), *max),
        ClientOp::Ping => Owned::Ping,
        ClientOp::Pong => Owned::Pong,
        ClientOp::Info { json } => Owned::Info(b(json)),
        ClientOp::Ok => Owned::Ok,
    }
}

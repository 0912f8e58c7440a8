//! The route-protocol parser (`rnats_proto::route`), fed as a route's read loop feeds it:
//! append what a read brought, parse every complete frame, keep the rest.
//!
//! Invariants, under the default limits and under tiny ones:
//! - no input panics;
//! - every operation lies inside its frame, its arguments inside the control line, its
//!   frame inside the buffer, and a message is as long as announced and ends with `\r\n`;
//! - `Incomplete { frame_len: Some(n) }` asks for more than the buffer holds;
//! - cutting the input into several reads gives the same operations, and the same error, as
//!   one read;
//! - whatever the fast path (`route::parse_fast`) answers, the general path answers too.

use rnats_proto::parser::Span;
use rnats_proto::route::{self, RouteError, RouteOp, RouteParsed};

use crate::{cut_sets, read_ends};

/// The limits a route is read with: control line, payload.
const LIMITS: [(usize, usize); 2] = [(4096, 1 << 20), (32, 64)];

/// An operation (its kind, the bytes of each of its spans, its numbers), comparable across
/// buffers.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Op(&'static str, Vec<Option<Vec<u8>>>, Vec<usize>),
    Error(RouteError),
}

/// Runs the parser over `data` and panics if an invariant breaks (see the module).
pub fn check(data: &[u8]) {
    for (max_line, max_payload) in LIMITS {
        let whole = feed(data, &[], max_line, max_payload);
        for cuts in cut_sets(data) {
            let cut = feed(data, &cuts, max_line, max_payload);
            assert_eq!(
                cut, whole,
                "reads cut at {cuts:?} parse differently from one read (limits {max_line}, {max_payload})"
            );
        }
    }
}

fn feed(data: &[u8], cuts: &[usize], max_line: usize, max_payload: usize) -> Vec<Event> {
    let mut events = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut last = 0;
    for end in read_ends(data, cuts) {
        pending.extend_from_slice(&data[last..end]);
        last = end;
        let mut pos = 0;
        while pos < pending.len() {
            if let Some(fast) = route::parse_fast(&pending, pos, max_line, max_payload) {
                assert_eq!(
                    Ok(fast),
                    route::parse_general(&pending, pos, max_line, max_payload),
                    "the fast path disagrees with the general one"
                );
            }
            match route::parse(&pending, pos, max_line, max_payload) {
                Ok(RouteParsed::Op {
                    op,
                    control_line,
                    frame_len,
                }) => {
                    check_op(&pending, pos, &op, control_line, frame_len, max_payload);
                    events.push(own(&op, &pending));
                    pos += frame_len;
                }
                Ok(RouteParsed::Incomplete { frame_len }) => {
                    if let Some(frame_len) = frame_len {
                        assert!(
                            frame_len > pending.len() - pos,
                            "Incomplete asks for {frame_len} bytes but {} are there",
                            pending.len() - pos
                        );
                    }
                    break;
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

/// A non-empty argument of the control line, without blanks or line feeds.
fn argument(buf: &[u8], span: Span, line: Span, what: &str) {
    within(span, line.start, line.end, what);
    let bytes = span.of(buf);
    assert!(!bytes.is_empty(), "empty {what}");
    assert!(
        !bytes.iter().any(|b| matches!(b, b' ' | b'\t' | b'\n')),
        "{what} {bytes:?} holds a blank or a line feed"
    );
}

fn number(buf: &[u8], span: Span) -> Option<usize> {
    let digits = span.of(buf);
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn check_op(
    buf: &[u8],
    pos: usize,
    op: &RouteOp,
    line: Span,
    frame_len: usize,
    max_payload: usize,
) {
    assert!(frame_len > 0, "an empty frame");
    let end = pos + frame_len;
    assert!(end <= buf.len(), "frame {pos}..{end} past the buffer");
    assert_eq!(line.start, pos, "the control line starts the frame");
    within(line, pos, end, "control line");
    match *op {
        RouteOp::Info { json: text } | RouteOp::Connect { json: text } | RouteOp::Err { text } => {
            within(text, line.start, line.end, "text")
        }
        RouteOp::Sub {
            account,
            subject,
            queue,
        } => {
            argument(buf, account, line, "account");
            argument(buf, subject, line, "subject");
            if let Some((queue, _)) = queue {
                argument(buf, queue, line, "queue");
            }
        }
        RouteOp::Unsub {
            account,
            subject,
            queue,
        } => {
            argument(buf, account, line, "account");
            argument(buf, subject, line, "subject");
            if let Some(queue) = queue {
                argument(buf, queue, line, "queue");
            }
        }
        RouteOp::Msg {
            account,
            subject,
            reply,
            queues,
            header_size,
            header_len,
            total_size,
            message,
        } => {
            argument(buf, account, line, "account");
            argument(buf, subject, line, "subject");
            if let Some(reply) = reply {
                argument(buf, reply, line, "reply");
            }
            if let Some(queues) = queues {
                within(queues, line.start, line.end, "queues");
                assert!(
                    route::queue_names(queues.of(buf)).next().is_some(),
                    "a queue list without a name"
                );
            }
            argument(buf, total_size, line, "total size");
            assert_eq!(number(buf, total_size), Some(message.len()), "total size");
            match header_size {
                Some(h) => {
                    argument(buf, h, line, "header size");
                    assert_eq!(number(buf, h), Some(header_len), "header size");
                }
                None => assert_eq!(header_len, 0, "headers without a header size"),
            }
            assert!(
                header_len <= message.len(),
                "headers longer than the message"
            );
            assert!(message.len() <= max_payload, "message over max_payload");
            within(message, line.end, end, "message");
            assert_eq!(
                &buf[message.end..end],
                b"\r\n",
                "the message ends the frame"
            );
        }
        RouteOp::Ping | RouteOp::Pong | RouteOp::Ok | RouteOp::Ignored => {}
    }
    if !matches!(op, RouteOp::Msg { .. } | RouteOp::Ignored) {
        assert_eq!(
            buf[end - 1],
            b'\n',
            "a line operation ends at its line feed"
        );
    }
}

fn own(op: &RouteOp, buf: &[u8]) -> Event {
    let b = |s: Span| Some(s.of(buf).to_vec());
    let ob = |s: Option<Span>| s.map(|s| s.of(buf).to_vec());
    match *op {
        RouteOp::Info { json } => Event::Op("INFO", vec![b(json)], vec![]),
        RouteOp::Connect { json } => Event::Op("CONNECT", vec![b(json)], vec![]),
        RouteOp::Ping => Event::Op("PING", vec![], vec![]),
        RouteOp::Pong => Event::Op("PONG", vec![], vec![]),
        RouteOp::Ok => Event::Op("+OK", vec![], vec![]),
        RouteOp::Err { text } => Event::Op("-ERR", vec![b(text)], vec![]),
        RouteOp::Sub {
            account,
            subject,
            queue,
        } => Event::Op(
            "RS+",
            vec![b(account), b(subject), ob(queue.map(|(q, _)| q))],
            queue.map(|(_, w)| w as usize).into_iter().collect(),
        ),
        RouteOp::Unsub {
            account,
            subject,
            queue,
        } => Event::Op("RS-", vec![b(account), b(subject), ob(queue)], vec![]),
        RouteOp::Msg {
            account,
            subject,
            reply,
            queues,
            header_size,
            header_len,
            total_size,
            message,
        } => Event::Op(
            "RMSG",
            vec![
                b(account),
                b(subject),
                ob(reply),
                ob(queues),
                ob(header_size),
                b(total_size),
                b(message),
            ],
            vec![header_len],
        ),
        RouteOp::Ignored => Event::Op("ignored", vec![], vec![]),
    }
}

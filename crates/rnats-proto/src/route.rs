//! The route protocol that servers of one cluster speak to each other, as
//! nats-server 2.9 speaks it: an incremental zero-copy parser ([`parse`]),
//! the encoders for interest (`RS+`/`RS-`) and messages (`RMSG`/`HMSG`),
//! and the `INFO`/`CONNECT` JSON bodies of a route.
//!
//! ```text
//! RS+ <account> <subject> [<queue> <weight>]
//! RS- <account> <subject> [<queue>]
//! RMSG <account> <subject> [<reply>] <size>
//! RMSG <account> <subject> + <reply> <queue>... <size>
//! RMSG <account> <subject> | <queue>... <size>
//! HMSG <account> <subject> [...as RMSG...] <header size> <total size>
//! ```
//!
//! A message without queue names goes to the plain subscriptions only; with
//! them, also to one member of each named queue group.

use bytes::{BufMut, BytesMut};
use serde::{Deserialize, Serialize};

use crate::parser::Span;

/// What a peer sends on a route. Every span points into the parsed buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOp {
    Info {
        json: Span,
    },
    Connect {
        json: Span,
    },
    Ping,
    Pong,
    Ok,
    /// `-ERR <text>`.
    Err {
        text: Span,
    },
    /// `RS+` (or `LS+`): interest in a subject, for a queue group with its
    /// weight (members on the sending server).
    Sub {
        account: Span,
        subject: Span,
        queue: Option<(Span, u32)>,
    },
    /// `RS-` (or `LS-`): interest withdrawn.
    Unsub {
        account: Span,
        subject: Span,
        queue: Option<Span>,
    },
    /// `RMSG`/`HMSG` with its payload. `queues` spans the space-separated
    /// queue names (see [`queue_names`]). `header_size` is set for `HMSG`.
    Msg {
        account: Span,
        subject: Span,
        reply: Option<Span>,
        queues: Option<Span>,
        header_size: Option<Span>,
        header_len: usize,
        total_size: Span,
        message: Span,
    },
    /// A client operation (`SUB`, `UNSUB`, `PUB`, `HPUB`, with its
    /// payload) sent on a route: nats-server reads it and does nothing.
    Ignored,
}

/// The outcome of a successful [`parse`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteParsed {
    /// A whole operation: `control_line` is its first line without the line
    /// ending; `frame_len` counts every byte of it from the start offset.
    Op {
        op: RouteOp,
        control_line: Span,
        frame_len: usize,
    },
    /// More bytes are needed (`frame_len` when the frame's size is known).
    Incomplete { frame_len: Option<usize> },
}

/// Why the route protocol could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    UnknownOperation,
    /// Known operation, wrong arguments; the text says which.
    BadArguments(&'static str),
    ControlLineTooLong,
    PayloadTooBig,
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteError::UnknownOperation => f.write_str("Unknown Protocol Operation"),
            RouteError::BadArguments(what) => write!(f, "processRoutedMsgArgs Parse Error: {what}"),
            RouteError::ControlLineTooLong => f.write_str("maximum control line exceeded"),
            RouteError::PayloadTooBig => f.write_str("Maximum Payload Violation"),
        }
    }
}

impl std::error::Error for RouteError {}

/// Most arguments a route control line may have (queue names included).
const MAX_ARGS: usize = 64;

/// Parses one operation starting at `pos` in `buf`. Lines longer than
/// `max_control_line` and payloads over `max_payload` are errors.
///
/// A whole `RMSG`/`HMSG` frame written the usual way is read by
/// [`parse_fast`]; everything else, and every error, by [`parse_general`].
#[inline]
pub fn parse(
    buf: &[u8],
    pos: usize,
    max_control_line: usize,
    max_payload: usize,
) -> Result<RouteParsed, RouteError> {
    match parse_fast(buf, pos, max_control_line, max_payload) {
        Some(parsed) => Ok(parsed),
        None => parse_general(buf, pos, max_control_line, max_payload),
    }
}

/// The fast path of [`parse`]: a whole `RMSG <account> <subject> [reply]
/// <size>\r\n` or `HMSG <account> <subject> [reply] <header size> <total
/// size>\r\n` frame (the name in any case) without queue names, its
/// arguments separated by single spaces, within the limits, its payload and
/// closing `\r\n` in the buffer: one scan for the spaces and the `\r`,
/// the sizes read in a short loop.
///
/// `None` for anything else — queue forms, `LMSG`, tabs, repeated blanks,
/// control characters, a frame not all there, any error — which
/// [`parse_general`] then decides. What it returns is exactly what
/// [`parse_general`] returns for the same input.
#[inline]
pub fn parse_fast(
    buf: &[u8],
    pos: usize,
    max_control_line: usize,
    max_payload: usize,
) -> Option<RouteParsed> {
    let rest = buf.get(pos..)?;
    let [a, b, c, d, e] = *rest.first_chunk::<5>()?;
    let hmsg = match a | 0x20 {
        b'r' => false,
        b'h' => true,
        _ => return None,
    };
    if b | 0x20 != b'm' || c | 0x20 != b's' || d | 0x20 != b'g' || e != b' ' {
        return None;
    }
    // Where each argument ends: at a single space, the last at `\r\n`.
    let mut ends = [0usize; 5];
    let mut count = 0;
    let mut at = 5;
    loop {
        let end = at + crate::scan::find_space_or_control(rest.get(at..)?)?;
        if end == at || count == ends.len() {
            return None;
        }
        ends[count] = end;
        count += 1;
        match rest[end] {
            b' ' => at = end + 1,
            b'\r' => break,
            _ => return None,
        }
    }
    let line_end = ends[count - 1];
    // The general path's limit counts up to the `\n`, the name included.
    if rest.get(line_end + 1) != Some(&b'\n') || line_end + 1 > max_control_line {
        return None;
    }
    let arg = |i: usize| {
        let s = if i == 0 { 5 } else { ends[i - 1] + 1 };
        Span {
            start: pos + s,
            end: pos + ends[i],
        }
    };
    let with_reply = match (hmsg, count) {
        (false, 3) | (true, 4) => false,
        (false, 4) | (true, 5) => true,
        _ => return None,
    };
    let total_size = arg(count - 1);
    let total = crate::scan::digits(total_size.of(buf))?;
    let (header_size, header_len) = if hmsg {
        let h = arg(count - 2);
        let len = crate::scan::digits(h.of(buf))?;
        if len > total {
            return None;
        }
        (Some(h), len)
    } else {
        (None, 0)
    };
    let after_line = line_end + 2;
    let frame_len = after_line + total + 2;
    if total > max_payload || rest.get(after_line + total..frame_len)? != b"\r\n" {
        return None;
    }
    Some(RouteParsed::Op {
        op: RouteOp::Msg {
            account: arg(0),
            subject: arg(1),
            reply: with_reply.then(|| arg(2)),
            queues: None,
            header_size,
            header_len,
            total_size,
            message: Span {
                start: pos + after_line,
                end: pos + after_line + total,
            },
        },
        control_line: Span {
            start: pos,
            end: pos + line_end,
        },
        frame_len,
    })
}

/// [`parse`] without its fast path: every operation, every incomplete
/// frame, every error. Public so tests and fuzzing can hold the fast path
/// to it.
pub fn parse_general(
    buf: &[u8],
    pos: usize,
    max_control_line: usize,
    max_payload: usize,
) -> Result<RouteParsed, RouteError> {
    let rest = &buf[pos..];
    let Some(nl) = memchr::memchr(b'\n', rest) else {
        if rest.len() > max_control_line {
            return Err(RouteError::ControlLineTooLong);
        }
        return Ok(RouteParsed::Incomplete { frame_len: None });
    };
    if nl > max_control_line {
        return Err(RouteError::ControlLineTooLong);
    }
    let line_end = if nl > 0 && rest[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let line = Span {
        start: pos,
        end: pos + line_end,
    };
    let after_line = nl + 1;
    let mut args = [Span { start: 0, end: 0 }; MAX_ARGS];
    let mut n = 0;
    let mut i = line.start;
    while i < line.end {
        while i < line.end && matches!(buf[i], b' ' | b'\t') {
            i += 1;
        }
        if i >= line.end {
            break;
        }
        let start = i;
        while i < line.end && !matches!(buf[i], b' ' | b'\t') {
            i += 1;
        }
        if n == MAX_ARGS {
            return Err(RouteError::BadArguments("too many arguments"));
        }
        args[n] = Span { start, end: i };
        n += 1;
    }
    if n == 0 {
        return Err(RouteError::UnknownOperation);
    }
    let name = args[0].of(buf);
    let args = &args[1..n];
    let done = |op| {
        Ok(RouteParsed::Op {
            op,
            control_line: line,
            frame_len: after_line,
        })
    };
    // The rest of the line after the operation name (JSON, error text).
    let rest_of_line = || Span {
        start: args.first().map_or(line.end, |a| a.start),
        end: line.end,
    };
    // nats-server's parser fails at an operation name that ends the line
    // where arguments must follow: `-ERR 'Unknown Protocol Operation'`.
    // Wrong arguments are found later, and only close the route.
    let needs_arguments = [
        &b"RS+"[..],
        b"LS+",
        b"RS-",
        b"LS-",
        b"RMSG",
        b"LMSG",
        b"HMSG",
    ]
    .iter()
    .any(|op| name.eq_ignore_ascii_case(op));
    if needs_arguments && args.is_empty() {
        return Err(RouteError::UnknownOperation);
    }
    if name.eq_ignore_ascii_case(b"RS+") || name.eq_ignore_ascii_case(b"LS+") {
        return match args {
            [account, subject] => done(RouteOp::Sub {
                account: *account,
                subject: *subject,
                queue: None,
            }),
            [account, subject, queue, weight] => {
                // nats-server takes a weight that is not a number too.
                let weight = parse_number(weight.of(buf)).unwrap_or(1);
                done(RouteOp::Sub {
                    account: *account,
                    subject: *subject,
                    queue: Some((*queue, weight.min(u32::MAX as usize) as u32)),
                })
            }
            // A queue without a weight counts as one member.
            [account, subject, queue] => done(RouteOp::Sub {
                account: *account,
                subject: *subject,
                queue: Some((*queue, 1)),
            }),
            _ => Err(RouteError::BadArguments(
                "wrong number of arguments for RS+",
            )),
        };
    }
    if name.eq_ignore_ascii_case(b"RS-") || name.eq_ignore_ascii_case(b"LS-") {
        return match args {
            [account, subject] => done(RouteOp::Unsub {
                account: *account,
                subject: *subject,
                queue: None,
            }),
            [account, subject, queue, ..] => done(RouteOp::Unsub {
                account: *account,
                subject: *subject,
                queue: Some(*queue),
            }),
            _ => Err(RouteError::BadArguments(
                "wrong number of arguments for RS-",
            )),
        };
    }
    let is_rmsg = name.eq_ignore_ascii_case(b"RMSG") || name.eq_ignore_ascii_case(b"LMSG");
    let is_hmsg = name.eq_ignore_ascii_case(b"HMSG");
    if is_rmsg || is_hmsg {
        let sizes = if is_hmsg { 2 } else { 1 };
        if args.len() < 2 + sizes {
            return Err(RouteError::BadArguments("too few arguments"));
        }
        let (account, subject) = (args[0], args[1]);
        let middle = &args[2..args.len() - sizes];
        let total_size = args[args.len() - 1];
        let header_size = is_hmsg.then(|| args[args.len() - 2]);
        let (reply, queues) = match middle {
            [] => (None, None),
            [reply] => (Some(*reply), None),
            [marker, rest @ ..] => {
                let span_of = |s: &[Span]| {
                    s.first().map(|first| Span {
                        start: first.start,
                        end: s[s.len() - 1].end,
                    })
                };
                match marker.of(buf) {
                    b"+" => match rest {
                        [reply, queues @ ..] => (Some(*reply), span_of(queues)),
                        [] => return Err(RouteError::BadArguments("missing reply")),
                    },
                    b"|" => (None, span_of(rest)),
                    _ => return Err(RouteError::BadArguments("bad reply indicator")),
                }
            }
        };
        let total =
            parse_number(total_size.of(buf)).ok_or(RouteError::BadArguments("bad message size"))?;
        let header_len = match header_size {
            Some(h) => {
                let h =
                    parse_number(h.of(buf)).ok_or(RouteError::BadArguments("bad header size"))?;
                if h > total {
                    return Err(RouteError::BadArguments("header size over total size"));
                }
                h
            }
            None => 0,
        };
        let Some(frame_len) = payload_frame(rest, after_line, total, max_payload)? else {
            return Ok(RouteParsed::Incomplete {
                frame_len: Some(after_line + total + 2),
            });
        };
        let message = Span {
            start: pos + after_line,
            end: pos + after_line + total,
        };
        return Ok(RouteParsed::Op {
            op: RouteOp::Msg {
                account,
                subject,
                reply,
                queues,
                header_size,
                header_len,
                total_size,
                message,
            },
            control_line: line,
            frame_len,
        });
    }
    if name.eq_ignore_ascii_case(b"SUB") || name.eq_ignore_ascii_case(b"UNSUB") {
        return done(RouteOp::Ignored);
    }
    let is_pub = name.eq_ignore_ascii_case(b"PUB");
    if is_pub || name.eq_ignore_ascii_case(b"HPUB") {
        let total = match args.last() {
            Some(size) if args.len() >= if is_pub { 2 } else { 3 } => {
                parse_number(size.of(buf)).ok_or(RouteError::BadArguments("bad message size"))?
            }
            _ => return Err(RouteError::BadArguments("too few arguments")),
        };
        let Some(frame_len) = payload_frame(rest, after_line, total, max_payload)? else {
            return Ok(RouteParsed::Incomplete {
                frame_len: Some(after_line + total + 2),
            });
        };
        return Ok(RouteParsed::Op {
            op: RouteOp::Ignored,
            control_line: line,
            frame_len,
        });
    }
    if name.eq_ignore_ascii_case(b"PING") {
        return done(RouteOp::Ping);
    }
    if name.eq_ignore_ascii_case(b"PONG") {
        return done(RouteOp::Pong);
    }
    if name.eq_ignore_ascii_case(b"+OK") {
        return done(RouteOp::Ok);
    }
    if name.eq_ignore_ascii_case(b"-ERR") {
        return done(RouteOp::Err {
            text: rest_of_line(),
        });
    }
    if name.eq_ignore_ascii_case(b"INFO") {
        return done(RouteOp::Info {
            json: rest_of_line(),
        });
    }
    if name.eq_ignore_ascii_case(b"CONNECT") {
        return done(RouteOp::Connect {
            json: rest_of_line(),
        });
    }
    Err(RouteError::UnknownOperation)
}

/// The length of a frame whose control line takes `after_line` bytes of
/// `rest` and whose payload `total` more and a CRLF; `None` until all of
/// it has arrived.
fn payload_frame(
    rest: &[u8],
    after_line: usize,
    total: usize,
    max_payload: usize,
) -> Result<Option<usize>, RouteError> {
    if total > max_payload {
        return Err(RouteError::PayloadTooBig);
    }
    let frame_len = after_line + total + 2;
    if rest.len() < frame_len {
        return Ok(None);
    }
    if &rest[after_line + total..frame_len] != b"\r\n" {
        // A payload longer than announced: nats-server's parser fails.
        return Err(RouteError::UnknownOperation);
    }
    Ok(Some(frame_len))
}

fn parse_number(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

/// The queue names of a `queues` span of [`RouteOp::Msg`].
pub fn queue_names(queues: &[u8]) -> impl Iterator<Item = &[u8]> {
    queues
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|q| !q.is_empty())
}

/// Appends `RS+ <account> <subject> [<queue> <weight>]\r\n`.
pub fn rs_plus(out: &mut BytesMut, account: &[u8], subject: &[u8], queue: Option<(&[u8], u32)>) {
    out.reserve(8 + account.len() + subject.len() + queue.map_or(0, |(q, _)| q.len() + 12));
    out.put_slice(b"RS+ ");
    out.put_slice(account);
    out.put_u8(b' ');
    out.put_slice(subject);
    if let Some((queue, weight)) = queue {
        out.put_u8(b' ');
        out.put_slice(queue);
        out.put_u8(b' ');
        out.put_slice(itoa::Buffer::new().format(weight).as_bytes());
    }
    out.put_slice(b"\r\n");
}

/// Appends `RS- <account> <subject> [<queue>]\r\n`.
pub fn rs_minus(out: &mut BytesMut, account: &[u8], subject: &[u8], queue: Option<&[u8]>) {
    out.reserve(8 + account.len() + subject.len() + queue.map_or(0, |q| q.len() + 1));
    out.put_slice(b"RS- ");
    out.put_slice(account);
    out.put_u8(b' ');
    out.put_slice(subject);
    if let Some(queue) = queue {
        out.put_u8(b' ');
        out.put_slice(queue);
    }
    out.put_slice(b"\r\n");
}

/// Appends the control line of a routed message: `RMSG` (or `HMSG` when
/// `header_size` is given) with the reply and queue forms of nats-server.
/// Sizes are given as text, repeated verbatim from the publisher.
pub fn rmsg_header<'q>(
    out: &mut BytesMut,
    account: &[u8],
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: impl IntoIterator<Item = &'q [u8]> + Clone,
    header_size: Option<&[u8]>,
    total_size: &[u8],
) {
    let has_queues = queues.clone().into_iter().next().is_some();
    out.put_slice(if header_size.is_some() {
        b"HMSG "
    } else {
        b"RMSG "
    });
    out.put_slice(account);
    out.put_u8(b' ');
    out.put_slice(subject);
    out.put_u8(b' ');
    match (reply, has_queues) {
        (Some(reply), true) => {
            out.put_slice(b"+ ");
            out.put_slice(reply);
            out.put_u8(b' ');
        }
        (None, true) => out.put_slice(b"| "),
        (Some(reply), false) => {
            out.put_slice(reply);
            out.put_u8(b' ');
        }
        (None, false) => {}
    }
    if has_queues {
        for q in queues {
            out.put_slice(q);
            out.put_u8(b' ');
        }
    }
    if let Some(h) = header_size {
        out.put_slice(h);
        out.put_u8(b' ');
    }
    out.put_slice(total_size);
    out.put_slice(b"\r\n");
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The `INFO` a server sends on a route (on connect, and to gossip a new
/// peer with `ip` set to that peer's route URL).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: u32,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    /// Routes verify each other's certificates (set with `tls_required`).
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    pub max_payload: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// A peer's route URL (`nats-route://host:port/`), in gossip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    pub cluster: String,
    /// The cluster name was made up (not configured): a peer with a
    /// configured name, or a greater made-up one, prevails.
    #[serde(rename = "cluster_dynamic", skip_serializing_if = "is_false")]
    pub dynamic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_urls: Option<Vec<String>>,
    /// The sender entered lame duck mode: it takes no new clients, so its
    /// client URLs are no longer to be advertised.
    #[serde(rename = "ldm", skip_serializing_if = "is_false")]
    pub lame_duck: bool,
    pub lnoc: bool,
    /// The sender's route permissions (informative: each server enforces
    /// its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<SubjectPermission>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<SubjectPermission>,
}

/// One direction of route permissions in a route INFO.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubjectPermission {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl RouteInfo {
    /// `INFO {...} \r\n` (the space before CRLF as nats-server).
    pub fn to_protocol_line(&self) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        serde_json::to_writer(&mut line, self).unwrap_or_default();
        line.extend_from_slice(b" \r\n");
        line
    }
}

/// The `CONNECT` a server sends on a route it solicited. `lang` is never
/// sent by servers: a CONNECT with it comes from a client on the wrong port.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteConnect {
    pub echo: bool,
    pub verbose: bool,
    pub pedantic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    pub tls_required: bool,
    pub headers: bool,
    /// The sending server's id.
    pub name: String,
    pub cluster: String,
    /// As in [`RouteInfo::dynamic`].
    #[serde(rename = "cluster_dynamic", skip_serializing_if = "is_false")]
    pub dynamic: bool,
    pub lnoc: bool,
    #[serde(skip_serializing)]
    pub lang: Option<String>,
}

impl RouteConnect {
    pub fn to_protocol_line(&self) -> Vec<u8> {
        let mut line = b"CONNECT ".to_vec();
        serde_json::to_writer(&mut line, self).unwrap_or_default();
        line.extend_from_slice(b"\r\n");
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(text: &[u8]) -> (RouteOp, usize) {
        match parse(text, 0, 4096, 1 << 20) {
            Ok(RouteParsed::Op { op, frame_len, .. }) => (op, frame_len),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(text)),
        }
    }

    fn s(buf: &[u8], span: Span) -> &str {
        std::str::from_utf8(&buf[span.start..span.end]).unwrap()
    }

    #[test]
    fn interest() {
        let buf = b"RS+ $G foo.* grp 3\r\n";
        let (
            RouteOp::Sub {
                account,
                subject,
                queue: Some((q, 3)),
            },
            20,
        ) = op(buf)
        else {
            panic!()
        };
        assert_eq!(
            (s(buf, account), s(buf, subject), s(buf, q)),
            ("$G", "foo.*", "grp")
        );
        let buf = b"RS- $G foo\r\n";
        assert!(matches!(op(buf).0, RouteOp::Unsub { queue: None, .. }));
        let buf = b"RS+ $G foo\r\n";
        assert!(matches!(op(buf).0, RouteOp::Sub { queue: None, .. }));
        assert!(matches!(
            parse(b"RS+ $G\r\n", 0, 4096, 1024),
            Err(RouteError::BadArguments(_))
        ));
        // Nothing after the name fails as nats-server's parser does.
        for line in [&b"RS+\r\n"[..], b"RS-\r\n", b"RMSG\r\n", b"HMSG \r\n"] {
            assert_eq!(
                parse(line, 0, 4096, 1024),
                Err(RouteError::UnknownOperation)
            );
        }
        // A weight that is not a number counts as one member.
        let (
            RouteOp::Sub {
                queue: Some((_, 1)),
                ..
            },
            _,
        ) = op(b"RS+ $G foo q x\r\n")
        else {
            panic!()
        };
    }

    #[test]
    fn message_forms() {
        let buf = b"RMSG $G foo 5\r\nhello\r\n";
        let (
            RouteOp::Msg {
                reply: None,
                queues: None,
                header_size: None,
                message,
                ..
            },
            n,
        ) = op(buf)
        else {
            panic!()
        };
        assert_eq!((s(buf, message), n), ("hello", buf.len()));
        let buf = b"RMSG $G foo rep 5\r\nhello\r\n";
        let (
            RouteOp::Msg {
                reply: Some(r),
                queues: None,
                ..
            },
            _,
        ) = op(buf)
        else {
            panic!()
        };
        assert_eq!(s(buf, r), "rep");
        let buf = b"RMSG $G foo + rep g1 g2 5\r\nhello\r\n";
        let (
            RouteOp::Msg {
                reply: Some(r),
                queues: Some(q),
                ..
            },
            _,
        ) = op(buf)
        else {
            panic!()
        };
        assert_eq!((s(buf, r), s(buf, q)), ("rep", "g1 g2"));
        let names: Vec<_> = queue_names(b"g1 g2").collect();
        assert_eq!(names, [&b"g1"[..], b"g2"]);
        let buf = b"RMSG $G foo | g1 5\r\nhello\r\n";
        let (
            RouteOp::Msg {
                reply: None,
                queues: Some(q),
                ..
            },
            _,
        ) = op(buf)
        else {
            panic!()
        };
        assert_eq!(s(buf, q), "g1");
        let buf = b"HMSG $G foo + rep grp 18 23\r\nNATS/1.0\r\nA: B\r\n\r\nhello\r\n";
        let (
            RouteOp::Msg {
                header_size: Some(h),
                header_len: 18,
                ..
            },
            _,
        ) = op(buf)
        else {
            panic!()
        };
        assert_eq!(s(buf, h), "18");
        assert_eq!(
            parse(b"RMSG $G foo 5\r\nhel", 0, 4096, 1024),
            Ok(RouteParsed::Incomplete {
                frame_len: Some(22)
            })
        );
        assert!(parse(b"RMSG $G foo x 5\r\nhelloXX", 0, 4096, 1024).is_err());
        assert!(parse(b"RMSG $G foo 5000\r\n", 0, 4096, 1024).is_err());
    }

    #[test]
    fn other_ops() {
        assert_eq!(op(b"PING\r\n").0, RouteOp::Ping);
        assert_eq!(op(b"pong\r\n").0, RouteOp::Pong);
        assert!(matches!(op(b"INFO {\"a\":1} \r\n").0, RouteOp::Info { .. }));
        assert_eq!(
            parse(b"GARBAGE\r\n", 0, 4096, 1024),
            Err(RouteError::UnknownOperation)
        );
        assert_eq!(
            parse(b"PIN", 0, 4096, 1024),
            Ok(RouteParsed::Incomplete { frame_len: None })
        );
        // Client operations are read, payload and all, and ignored.
        assert_eq!(op(b"SUB foo 1\r\n"), (RouteOp::Ignored, 11));
        assert_eq!(op(b"PUB foo 5\r\nhello\r\n"), (RouteOp::Ignored, 18));
        assert_eq!(
            op(b"HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
            (RouteOp::Ignored, 30)
        );
        assert_eq!(
            parse(b"PUB foo 5\r\nhel", 0, 4096, 1024),
            Ok(RouteParsed::Incomplete {
                frame_len: Some(18)
            })
        );
    }

    #[test]
    fn encoders_match_nats_server() {
        let mut out = BytesMut::new();
        rs_plus(&mut out, b"$G", b"q.*", Some((b"grp", 2)));
        rs_plus(&mut out, b"$G", b"foo", None);
        rs_minus(&mut out, b"$G", b"q.*", Some(b"grp"));
        let none: [&[u8]; 0] = [];
        rmsg_header(&mut out, b"$G", b"foo", Some(b"r"), none, None, b"2");
        rmsg_header(&mut out, b"$G", b"q.x", None, [&b"grp"[..]], None, b"2");
        rmsg_header(
            &mut out,
            b"$G",
            b"q.x",
            Some(b"rr"),
            [&b"a"[..], b"b"],
            Some(b"18"),
            b"23",
        );
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "RS+ $G q.* grp 2\r\nRS+ $G foo\r\nRS- $G q.* grp\r\nRMSG $G foo r 2\r\n\
             RMSG $G q.x | grp 2\r\nHMSG $G q.x + rr a b 18 23\r\n"
        );
    }
}

//! Incremental, zero-copy parser for what a client sends to the server.
//!
//! [`parse`] looks at a buffer that starts on a frame boundary and either
//! returns one complete operation (as [`Span`]s into that buffer, so nothing
//! is copied), says how many bytes it still needs, or names the protocol
//! error. It keeps no state between calls: the caller appends what it reads
//! and calls again, so a frame split anywhere across reads parses exactly as
//! if it had arrived whole. Re-scanning an incomplete control line is cheap
//! because control lines are capped (4 KB by default); an incomplete payload
//! is never re-scanned because [`Parsed::Incomplete`] tells the caller how
//! long the whole frame is.
//!
//! The accepted syntax and the error for each malformed input follow
//! nats-server 2.9 as observed on the wire (see `tests/` and
//! `shared/spec/reference-notes.md`).

use memchr::memchr;

use crate::scan;

/// A byte range of the buffer given to [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The bytes this span covers in `buf` (the buffer that was parsed).
    #[inline]
    pub fn of<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start..self.end]
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// One operation sent by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT <json>`: the JSON text is not interpreted here.
    Connect {
        json: Span,
    },
    /// `PUB <subject> [reply] <size>` and its payload. `size` is the size
    /// as written: nats-server repeats it verbatim in the `MSG` it sends.
    Pub {
        subject: Span,
        reply: Option<Span>,
        size: Span,
        payload: Span,
    },
    /// `HPUB <subject> [reply] <header size> <total size>`; `message` holds
    /// headers followed by payload, `header_len` bytes of it are headers.
    HPub {
        subject: Span,
        reply: Option<Span>,
        header_len: usize,
        header_size: Span,
        total_size: Span,
        message: Span,
    },
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        subject: Span,
        queue: Option<Span>,
        sid: Span,
    },
    /// `UNSUB <sid> [max]`. An unreadable `max` means no limit, as on nats-server.
    Unsub {
        sid: Span,
        max: Option<u64>,
    },
    Ping,
    Pong,
    /// `INFO <json>` from a client: accepted and ignored, as nats-server does.
    Info {
        json: Span,
    },
    /// `+OK` from a client: ignored, as nats-server does.
    Ok,
}

/// The outcome of a successful [`parse`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole operation. `control_line` is the first line without its line
    /// ending (for protocol traces); `frame_len` counts every byte of the
    /// frame, payload included, from the start offset.
    Op {
        op: ClientOp,
        control_line: Span,
        frame_len: usize,
    },
    /// More bytes are needed. When the size of the frame is already known,
    /// `frame_len` says how long it is, so the caller can wait for it all.
    Incomplete { frame_len: Option<usize> },
    /// A PING, PONG or +OK whose line runs on past the control-line limit
    /// with no end in sight. nats-server ignores the rest of such a line,
    /// so the caller drops the `skipped` bytes, keeps dropping input up to
    /// the next `\n` (see [`skip_line`]), and then carries out `op`.
    SkipLine { op: ClientOp, skipped: usize },
}

/// While a [`Parsed::SkipLine`] is pending: how many bytes of `rest` to
/// drop, and whether that reached the end of the line.
pub fn skip_line(rest: &[u8]) -> (usize, bool) {
    match memchr(b'\n', rest) {
        Some(nl) => (nl + 1, true),
        None => (rest.len(), false),
    }
}

/// Why the input is not valid protocol. Every variant closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// Unknown or misplaced operation, or bytes where a frame must end.
    UnknownOperation,
    /// A control line longer than the configured maximum.
    MaxControlLine,
    /// A payload larger than max_payload.
    MaxPayload,
    /// Well-formed operation with unusable arguments. nats-server closes
    /// these without sending an `-ERR`; the text is for the log only.
    InvalidArguments(&'static str),
}

impl ProtocolError {
    /// The text nats-server sends in `-ERR '...'` before closing, if any.
    pub fn client_error(&self) -> Option<&'static str> {
        match self {
            ProtocolError::UnknownOperation => Some(crate::errors::UNKNOWN_PROTOCOL_OPERATION),
            ProtocolError::MaxControlLine => Some(crate::errors::MAX_CONTROL_LINE_EXCEEDED),
            ProtocolError::MaxPayload => Some(crate::errors::MAX_PAYLOAD_VIOLATION),
            ProtocolError::InvalidArguments(_) => None,
        }
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtocolError::InvalidArguments(why) => write!(f, "processing error: {why}"),
            other => f.write_str(other.client_error().unwrap_or("protocol error")),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Limits the parser enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_control_line: usize,
    pub max_payload: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_control_line: 4096,
            max_payload: 1024 * 1024,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Pub,
    HPub,
    Sub,
    Unsub,
}

const VERBS: [(&[u8], Verb); 4] = [
    (b"PUB", Verb::Pub),
    (b"HPUB", Verb::HPub),
    (b"SUB", Verb::Sub),
    (b"UNSUB", Verb::Unsub),
];
const LONGEST_VERB: usize = 5;

/// Operations nats-server recognises by their first letters alone: what
/// follows on the line is their argument (CONNECT, INFO) or is ignored.
const PREFIXED: [&[u8]; 6] = [b"PING", b"PONG", b"CONNECT", b"INFO", b"+OK", b"-ERR"];

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

#[inline]
fn ends_name(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Parses the frame that starts at `buf[start]`.
///
/// A whole `PUB`/`HPUB` frame written the usual way is read by
/// [`parse_fast`]; everything else, and every error, by [`parse_general`].
/// The two agree on every input the fast path takes (property-tested).
#[inline]
pub fn parse(buf: &[u8], start: usize, limits: &Limits) -> Result<Parsed, ProtocolError> {
    match parse_fast(buf, start, limits) {
        Some(parsed) => Ok(parsed),
        None => parse_general(buf, start, limits),
    }
}

/// The fast path of [`parse`]: a whole `PUB <subject> [reply] <size>\r\n`
/// or `HPUB <subject> [reply] <header size> <total size>\r\n` frame (the
/// verb in any case), its arguments separated by single spaces, within the
/// limits, its payload and closing `\r\n` in the buffer. One scan finds
/// the spaces and the `\r`, the sizes are read in a short loop.
///
/// `None` for anything else — other operations, tabs, repeated blanks,
/// control characters, a bare `\n`, a frame not all there, any error — so
/// [`parse_general`] decides those and its errors stay the only ones. What
/// it returns is exactly what [`parse_general`] returns for the same input.
#[inline]
pub fn parse_fast(buf: &[u8], start: usize, limits: &Limits) -> Option<Parsed> {
    let rest = buf.get(start..)?;
    let &[a, b, c, d, e, ..] = rest else {
        return None;
    };
    let hpub = if a | 0x20 == b'p' && b | 0x20 == b'u' && c | 0x20 == b'b' && d == b' ' {
        false
    } else if a | 0x20 == b'h'
        && b | 0x20 == b'p'
        && c | 0x20 == b'u'
        && d | 0x20 == b'b'
        && e == b' '
    {
        true
    } else {
        return None;
    };
    let args_start = if hpub { 5 } else { 4 };
    // The arguments, each ended by a single space or, the last, by `\r`.
    let (subject_end, sep) = scan::token(rest, args_start)?;
    if sep != b' ' {
        return None;
    }
    let (second_end, sep) = scan::token(rest, subject_end + 1)?;
    let (third_end, sep) = match sep {
        b' ' => scan::token(rest, second_end + 1)?,
        _ => (second_end, sep),
    };
    let (fourth_end, sep) = match sep {
        b' ' if hpub => scan::token(rest, third_end + 1)?,
        _ => (third_end, sep),
    };
    let line_end = fourth_end;
    if sep != b'\r'
        || rest.get(line_end + 1) != Some(&b'\n')
        || line_end - args_start > limits.max_control_line
    {
        return None;
    }
    let span = |from: usize, to: usize| Span::new(start + from, start + to);
    let subject = span(args_start, subject_end);
    // Arguments after the subject: the second, third and fourth ends tell
    // how many there were (an end equal to the one before means none).
    let second = span(subject_end + 1, second_end);
    let third = span(second_end + 1, third_end);
    let fourth = span(third_end + 1, fourth_end);
    let line_len = line_end + 2;
    let body = start + line_len;
    let (op, body_len) = if hpub {
        let (reply, hsize, tsize) = if fourth_end != third_end {
            (Some(second), third, fourth)
        } else if third_end != second_end {
            (None, second, third)
        } else {
            return None;
        };
        let header_len = scan::digits(hsize.of(buf))?;
        let total = scan::digits(tsize.of(buf))?;
        if header_len > total || total > limits.max_payload {
            return None;
        }
        let op = ClientOp::HPub {
            subject,
            reply,
            header_len,
            header_size: hsize,
            total_size: tsize,
            message: Span::new(body, body + total),
        };
        (op, total)
    } else {
        let (reply, size) = if third_end != second_end {
            (Some(second), third)
        } else {
            (None, second)
        };
        let len = scan::digits(size.of(buf))?;
        if len > limits.max_payload {
            return None;
        }
        let op = ClientOp::Pub {
            subject,
            reply,
            size,
            payload: Span::new(body, body + len),
        };
        (op, len)
    };
    let frame_len = line_len + body_len + 2;
    if rest.get(line_len + body_len..frame_len)? != b"\r\n" {
        return None;
    }
    Some(Parsed::Op {
        op,
        control_line: Span::new(start, start + line_end),
        frame_len,
    })
}

/// [`parse`] without its fast path: every operation, every incomplete
/// frame, every error. Public so tests and fuzzing can hold the fast path
/// to it.
pub fn parse_general(buf: &[u8], start: usize, limits: &Limits) -> Result<Parsed, ProtocolError> {
    let rest = &buf[start..];
    if rest.is_empty() {
        return Ok(Parsed::Incomplete { frame_len: None });
    }

    // The common case first: `PUB ` (any case) goes straight to its arguments.
    let (verb, name_len) = if is_pub(rest) {
        (Verb::Pub, 3)
    } else {
        match verb_or_prefixed(buf, start, limits)? {
            Start::Verb(verb, name_len) => (verb, name_len),
            Start::Done(parsed) => return Ok(parsed),
        }
    };

    let args_start = name_len + 1;
    let Some(nl) = memchr(b'\n', &rest[args_start..]).map(|i| i + args_start) else {
        return if unfinished_line_len(rest, args_start) > limits.max_control_line {
            Err(ProtocolError::MaxControlLine)
        } else {
            Ok(Parsed::Incomplete { frame_len: None })
        };
    };
    let line_end = trim_cr(rest, nl);
    if line_end.saturating_sub(args_start) > limits.max_control_line {
        return Err(ProtocolError::MaxControlLine);
    }
    let control_line = Span::new(start, start + line_end);
    let line_len = nl + 1;
    let args = Args::new(buf, start + args_start, start + line_end);

    let (op, body_len) = match verb {
        Verb::Sub => {
            let a = args.split::<3>();
            match a.count {
                2 => (
                    ClientOp::Sub {
                        subject: a.take(0),
                        queue: None,
                        sid: a.take(1),
                    },
                    0,
                ),
                3 => (
                    ClientOp::Sub {
                        subject: a.take(0),
                        queue: Some(a.take(1)),
                        sid: a.take(2),
                    },
                    0,
                ),
                _ => {
                    return Err(ProtocolError::InvalidArguments(
                        "SUB needs a subject and a sid",
                    ));
                }
            }
        }
        Verb::Unsub => {
            let a = args.split::<2>();
            match a.count {
                1 => (
                    ClientOp::Unsub {
                        sid: a.take(0),
                        max: None,
                    },
                    0,
                ),
                2 => (
                    ClientOp::Unsub {
                        sid: a.take(0),
                        max: parse_size(a.take(1).of(buf)).map(|n| n as u64),
                    },
                    0,
                ),
                _ => return Err(ProtocolError::InvalidArguments("UNSUB needs a sid")),
            }
        }
        Verb::Pub => {
            let a = args.split::<3>();
            let (subject, reply, size) = match a.count {
                2 => (a.take(0), None, a.take(1)),
                3 => (a.take(0), Some(a.take(1)), a.take(2)),
                _ => {
                    return Err(ProtocolError::InvalidArguments(
                        "PUB needs a subject and a size",
                    ));
                }
            };
            let size_text = size;
            let size = parse_size(size.of(buf))
                .ok_or(ProtocolError::InvalidArguments("PUB size is not a number"))?;
            if size > limits.max_payload {
                return Err(ProtocolError::MaxPayload);
            }
            let body = start + line_len;
            (
                ClientOp::Pub {
                    subject,
                    reply,
                    size: size_text,
                    payload: Span::new(body, body + size),
                },
                size,
            )
        }
        Verb::HPub => {
            let a = args.split::<4>();
            let (subject, reply, hsize, tsize) = match a.count {
                3 => (a.take(0), None, a.take(1), a.take(2)),
                4 => (a.take(0), Some(a.take(1)), a.take(2), a.take(3)),
                _ => {
                    return Err(ProtocolError::InvalidArguments(
                        "HPUB needs a subject, a header size and a total size",
                    ));
                }
            };
            let header_len = parse_size(hsize.of(buf)).ok_or(ProtocolError::InvalidArguments(
                "HPUB header size is not a number",
            ))?;
            let total = parse_size(tsize.of(buf)).ok_or(ProtocolError::InvalidArguments(
                "HPUB total size is not a number",
            ))?;
            if header_len > total {
                return Err(ProtocolError::InvalidArguments(
                    "HPUB header size is larger than the total size",
                ));
            }
            if total > limits.max_payload {
                return Err(ProtocolError::MaxPayload);
            }
            let body = start + line_len;
            (
                ClientOp::HPub {
                    subject,
                    reply,
                    header_len,
                    header_size: hsize,
                    total_size: tsize,
                    message: Span::new(body, body + total),
                },
                total,
            )
        }
    };

    if matches!(verb, Verb::Pub | Verb::HPub) {
        let frame_len = line_len + body_len + 2;
        if rest.len() < frame_len {
            // Whatever part of the closing CRLF has arrived must be right.
            let trailer = rest.get(line_len + body_len..).unwrap_or_default();
            if !b"\r\n".starts_with(trailer) {
                return Err(ProtocolError::UnknownOperation);
            }
            return Ok(Parsed::Incomplete {
                frame_len: Some(frame_len),
            });
        }
        if &rest[line_len + body_len..frame_len] != b"\r\n" {
            return Err(ProtocolError::UnknownOperation);
        }
        return Ok(Parsed::Op {
            op,
            control_line,
            frame_len,
        });
    }
    Ok(Parsed::Op {
        op,
        control_line,
        frame_len: line_len,
    })
}

/// `PUB` followed by a blank, in any case.
#[inline]
fn is_pub(rest: &[u8]) -> bool {
    rest.len() > 3
        && rest[0] | 0x20 == b'p'
        && rest[1] | 0x20 == b'u'
        && rest[2] | 0x20 == b'b'
        && is_blank(rest[3])
}

/// How a frame starts.
enum Start {
    /// A verb with arguments, and the length of its name.
    Verb(Verb, usize),
    /// The whole outcome already: an operation recognised by its prefix
    /// (PING, CONNECT, ...), or input still too short to tell.
    Done(Parsed),
}

/// Finds which operation starts at `buf[start]`.
fn verb_or_prefixed(buf: &[u8], start: usize, limits: &Limits) -> Result<Start, ProtocolError> {
    let rest = &buf[start..];
    if let Some(word) = PREFIXED.iter().find(|w| starts_with_ignore_case(rest, w)) {
        let takes_arguments = matches!(word[0], b'C' | b'c' | b'I' | b'i' | b'-');
        let Some(nl) = memchr(b'\n', rest) else {
            return if unfinished_line_len(rest, word.len()) <= limits.max_control_line {
                Ok(Start::Done(Parsed::Incomplete { frame_len: None }))
            } else if takes_arguments {
                Err(ProtocolError::MaxControlLine)
            } else {
                let op = if word[0] == b'+' {
                    ClientOp::Ok
                } else if word[1].eq_ignore_ascii_case(&b'I') {
                    ClientOp::Ping
                } else {
                    ClientOp::Pong
                };
                Ok(Start::Done(Parsed::SkipLine {
                    op,
                    skipped: rest.len(),
                }))
            };
        };
        let line_end = trim_cr(rest, nl).max(word.len());
        if takes_arguments && line_end - word.len() > limits.max_control_line {
            return Err(ProtocolError::MaxControlLine);
        }
        let args = Args::new(buf, start + word.len(), start + line_end);
        let op = match word.first().map(u8::to_ascii_uppercase) {
            Some(b'P') if word[1].eq_ignore_ascii_case(&b'I') => ClientOp::Ping,
            Some(b'P') => ClientOp::Pong,
            Some(b'C') => ClientOp::Connect { json: args.rest()? },
            Some(b'I') => ClientOp::Info { json: args.rest()? },
            Some(b'+') => ClientOp::Ok,
            _ => return Err(ProtocolError::InvalidArguments("-ERR from a client")),
        };
        return Ok(Start::Done(Parsed::Op {
            op,
            control_line: Span::new(start, start + line_end),
            frame_len: nl + 1,
        }));
    }

    let name_len = rest
        .iter()
        .take(LONGEST_VERB + 1)
        .position(|&b| ends_name(b));
    let Some(name_len) = name_len else {
        // No separator yet: fail at once if no operation can start like this.
        let could_be = VERBS.iter().any(|(w, _)| starts_with_ignore_case(w, rest))
            || PREFIXED.iter().any(|w| starts_with_ignore_case(w, rest));
        return if could_be {
            Ok(Start::Done(Parsed::Incomplete { frame_len: None }))
        } else {
            Err(ProtocolError::UnknownOperation)
        };
    };
    let name = &rest[..name_len];
    let verb = VERBS
        .iter()
        .find(|(w, _)| name.eq_ignore_ascii_case(w))
        .map(|&(_, v)| v)
        .ok_or(ProtocolError::UnknownOperation)?;
    if !is_blank(rest[name_len]) {
        return Err(ProtocolError::UnknownOperation);
    }
    Ok(Start::Verb(verb, name_len))
}

/// Index of the end of a line whose `\n` is at `nl`, without a trailing `\r`.
fn trim_cr(rest: &[u8], nl: usize) -> usize {
    if nl > 0 && rest[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    }
}

/// How much of a line whose `\n` has not arrived yet counts against the control-line limit,
/// from `from`: a `\r` that ends what has arrived may be the start of the line's `\r\n`, so it
/// is not counted, as it is not once the line is whole (nats-server leaves it out too). Without
/// this, a line exactly at the limit would be refused or not depending on where a read ended.
fn unfinished_line_len(rest: &[u8], from: usize) -> usize {
    let end = match rest.last() {
        Some(b'\r') => rest.len() - 1,
        _ => rest.len(),
    };
    end.saturating_sub(from)
}

/// Parses a decimal size as nats-server does: digits only, no sign.
pub fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + (d - b'0') as usize)
    })
}

/// The argument part of a control line.
struct Args<'a> {
    buf: &'a [u8],
    start: usize,
    end: usize,
}

/// Up to `N` blank-separated arguments; `count` may exceed `N` (too many).
struct Split<const N: usize> {
    spans: [Span; N],
    count: usize,
}

impl<const N: usize> Split<N> {
    fn take(&self, i: usize) -> Span {
        self.spans[i]
    }
}

impl<'a> Args<'a> {
    fn new(buf: &'a [u8], start: usize, end: usize) -> Self {
        Args { buf, start, end }
    }

    /// Everything after the leading blanks, trailing blanks removed.
    fn rest_or_empty(&self) -> Span {
        let mut s = self.start;
        let mut e = self.end;
        while s < e && is_blank(self.buf[s]) {
            s += 1;
        }
        while e > s && is_blank(self.buf[e - 1]) {
            e -= 1;
        }
        Span::new(s, e)
    }

    fn rest(&self) -> Result<Span, ProtocolError> {
        let span = self.rest_or_empty();
        if span.is_empty() {
            Err(ProtocolError::InvalidArguments("missing arguments"))
        } else {
            Ok(span)
        }
    }

    fn split<const N: usize>(&self) -> Split<N> {
        let mut out = Split {
            spans: [Span::new(0, 0); N],
            count: 0,
        };
        let mut i = self.start;
        while i < self.end {
            while i < self.end && is_blank(self.buf[i]) {
                i += 1;
            }
            if i == self.end {
                break;
            }
            let s = i;
            while i < self.end && !is_blank(self.buf[i]) {
                i += 1;
            }
            if out.count < N {
                out.spans[out.count] = Span::new(s, i);
            }
            out.count += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &str) -> Result<Parsed, ProtocolError> {
        parse(input.as_bytes(), 0, &Limits::default())
    }

    fn op(input: &str) -> ClientOp {
        match one(input) {
            Ok(Parsed::Op { op, .. }) => op,
            other => panic!("expected an operation from {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn pub_with_and_without_reply() {
        let input = "PUB foo.bar 05\r\nhello\r\n";
        let ClientOp::Pub {
            subject,
            reply,
            size,
            payload,
        } = op(input)
        else {
            panic!()
        };
        assert_eq!(subject.of(input.as_bytes()), b"foo.bar");
        assert_eq!(
            size.of(input.as_bytes()),
            b"05",
            "the size is kept as written"
        );
        assert_eq!(reply, None);
        assert_eq!(payload.of(input.as_bytes()), b"hello");

        let input = "pub\tfoo  INBOX.1\t 2\r\nhi\r\n";
        let ClientOp::Pub { reply, payload, .. } = op(input) else {
            panic!()
        };
        assert_eq!(reply.map(|r| r.of(input.as_bytes())), Some(&b"INBOX.1"[..]));
        assert_eq!(payload.of(input.as_bytes()), b"hi");
    }

    #[test]
    fn hpub_splits_headers_from_payload() {
        let input = "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
        let ClientOp::HPub {
            header_len,
            message,
            ..
        } = op(input)
        else {
            panic!()
        };
        assert_eq!(header_len, 12);
        assert_eq!(message.of(input.as_bytes()), b"NATS/1.0\r\n\r\nhi");
    }

    #[test]
    fn sub_unsub_ping_pong_connect() {
        let input = "SUB foo q 7\r\n";
        let ClientOp::Sub { queue, sid, .. } = op(input) else {
            panic!()
        };
        assert_eq!(queue.map(|q| q.of(input.as_bytes())), Some(&b"q"[..]));
        assert_eq!(sid.of(input.as_bytes()), b"7");
        assert!(matches!(
            op("UNSUB 7 10\r\n"),
            ClientOp::Unsub { max: Some(10), .. }
        ));
        assert!(matches!(
            op("UNSUB 7 x\r\n"),
            ClientOp::Unsub { max: None, .. }
        ));
        assert_eq!(op("PING\r\n"), ClientOp::Ping);
        assert_eq!(op("ping\n"), ClientOp::Ping);
        assert_eq!(op("PINGX\r\n"), ClientOp::Ping);
        assert_eq!(op("PONG\r\n"), ClientOp::Pong);
        let input = "CONNECT {\"verbose\":false}\r\n";
        let ClientOp::Connect { json } = op(input) else {
            panic!()
        };
        assert_eq!(json.of(input.as_bytes()), br#"{"verbose":false}"#);
    }

    #[test]
    fn incomplete_frames_ask_for_more() {
        for partial in [
            "",
            "P",
            "PU",
            "PUB",
            "PUB foo",
            "PUB foo 5\r",
            "PUB foo 5\r\nhel",
            "SUB foo 1",
        ] {
            assert!(
                matches!(one(partial), Ok(Parsed::Incomplete { .. })),
                "{partial:?} should be incomplete"
            );
        }
        assert_eq!(
            one("PUB foo 5\r\nhel"),
            Ok(Parsed::Incomplete {
                frame_len: Some(18)
            })
        );
    }

    #[test]
    fn errors_match_the_reference() {
        use ProtocolError::*;
        assert_eq!(one("\r\n"), Err(UnknownOperation));
        assert_eq!(one("GET / HTTP/1.1\r\n"), Err(UnknownOperation));
        assert_eq!(one("MSG foo 1 1\r\n"), Err(UnknownOperation));
        assert_eq!(one("PUB\r\n"), Err(UnknownOperation));
        assert_eq!(one("PUBX foo 1\r\n"), Err(UnknownOperation));
        assert_eq!(one("xyz"), Err(UnknownOperation));
        assert_eq!(one("PUB foo 3\r\nabcd\r\n"), Err(UnknownOperation));
        assert!(matches!(one("PUB foo -1\r\n"), Err(InvalidArguments(_))));
        assert!(matches!(one("SUB foo\r\n"), Err(InvalidArguments(_))));
        assert!(matches!(one("CONNECT\r\n"), Err(InvalidArguments(_))));
        assert!(matches!(
            one("HPUB foo 12 10\r\n"),
            Err(InvalidArguments(_))
        ));
        assert_eq!(one("PUB foo 2000000\r\n"), Err(MaxPayload));
        let long = format!("PUB {} 1\r\n", "x".repeat(5000));
        assert_eq!(one(&long), Err(MaxControlLine));
        assert_eq!(one(&long[..4500]), Err(MaxControlLine));
    }

    #[test]
    fn control_line_limit_counts_the_arguments() {
        let at_limit = format!("PUB {} 1\r\na\r\n", "y".repeat(4094));
        assert!(matches!(one(&at_limit), Ok(Parsed::Op { .. })));
        let over = format!("PUB {} 1\r\na\r\n", "y".repeat(4095));
        assert_eq!(one(&over), Err(ProtocolError::MaxControlLine));
    }

    /// Found by the `client_parser` fuzzer: a line exactly at the limit, cut by a read right
    /// after its `\r`, was refused as too long, although it parses when it comes whole.
    #[test]
    fn a_line_at_the_limit_cut_after_its_cr_waits_for_its_lf() {
        for line in [
            format!("PUB {} 1\r\na\r\n", "y".repeat(4094)),
            format!("SUB {} 1\r\n", "y".repeat(4094)),
            format!("CONNECT {}\r\n", "y".repeat(4095)),
            format!("INFO {}\r\n", "y".repeat(4095)),
        ] {
            let cr = line.find('\r').expect("a line end");
            assert!(matches!(one(&line), Ok(Parsed::Op { .. })), "{line:.12}");
            assert_eq!(
                one(&line[..=cr]),
                Ok(Parsed::Incomplete { frame_len: None }),
                "{line:.12} cut after its \\r"
            );
            let over = line.replacen('y', "yy", 1);
            let cr = over.find('\r').expect("a line end");
            assert_eq!(one(&over[..=cr]), Err(ProtocolError::MaxControlLine));
        }
    }
}

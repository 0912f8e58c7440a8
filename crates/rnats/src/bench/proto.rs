//! The server's side of the NATS client protocol, as a benchmark client reads it: `MSG`,
//! `HMSG`, `PING`, `PONG`, `+OK`, `-ERR` and `INFO`.
//!
//! [`parse`] looks at the start of a buffer and returns one complete operation and how many
//! bytes it took, or `None` when the buffer holds only part of one. It allocates nothing and
//! touches each byte of a control line about twice (one `memchr` for the line end, one scan
//! back for the size), so a subscriber can count millions of messages a second on one core.
//! The arguments of a `MSG` are split only when asked ([`Msg::reply`]), which a counting
//! subscriber never does.

use memchr::memchr;

/// The longest control line accepted (`MSG` arguments, `-ERR` text, `INFO` JSON).
pub const MAX_CONTROL_LINE: usize = 1024 * 1024;

/// A protocol error: the server sent something this client cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable data from the server: {0}")]
pub struct ProtoError(pub String);

/// One operation sent by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// `MSG` or `HMSG`.
    Msg(Msg<'a>),
    Ping,
    Pong,
    /// `+OK` (only in verbose mode).
    Ok,
    /// `-ERR` with its text, quotes removed.
    Err(&'a [u8]),
    /// `INFO` with its JSON body.
    Info(&'a [u8]),
}

/// A delivered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg<'a> {
    /// The control line's arguments: `subject sid [reply] [hdr_len] len`.
    pub args: &'a [u8],
    /// `HMSG` (with headers) rather than `MSG`.
    pub has_headers: bool,
    /// The header block (`NATS/1.0…\r\n\r\n`), empty for `MSG`.
    pub headers: &'a [u8],
    /// The payload, without the headers.
    pub payload: &'a [u8],
}

impl<'a> Msg<'a> {
    /// The reply subject, if the message carries one.
    pub fn reply(&self) -> Option<&'a [u8]> {
        let mut tokens = [&[][..]; 5];
        let mut n = 0;
        for token in self.args.split(|&b| b == b' ' || b == b'\t') {
            if token.is_empty() {
                continue;
            }
            if n == tokens.len() {
                return None;
            }
            tokens[n] = token;
            n += 1;
        }
        // MSG: subject sid [reply] len; HMSG: subject sid [reply] hdr_len len.
        let with_reply = if self.has_headers { 5 } else { 4 };
        (n == with_reply).then(|| tokens[2])
    }

    /// The status code of a header-only status message (`NATS/1.0 503`), as sent for "no
    /// responders".
    pub fn status(&self) -> Option<&'a [u8]> {
        let rest = self.headers.strip_prefix(b"NATS/1.0")?;
        let line_end = memchr(b'\r', rest).unwrap_or(rest.len());
        let status = rest[..line_end].trim_ascii_start();
        let end = status
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(status.len());
        (end > 0).then(|| &status[..end])
    }
}

/// Parses the operation at the start of `buf`: `Ok(Some((op, bytes_used)))`, `Ok(None)` when
/// `buf` holds only part of one.
pub fn parse(buf: &[u8]) -> Result<Option<(Op<'_>, usize)>, ProtoError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > MAX_CONTROL_LINE {
            return Err(ProtoError("control line too long".into()));
        }
        return Ok(None);
    };
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let line = &buf[..line_end];
    let after_line = nl + 1;
    match line.first() {
        Some(b'M') if line.starts_with(b"MSG ") => {
            let args = &line[4..];
            let (len, _) = last_number(args)?;
            frame(buf, after_line, len, 0, args, false)
        }
        Some(b'H') if line.starts_with(b"HMSG ") => {
            let args = &line[5..];
            let (len, rest) = last_number(args)?;
            let (hdr_len, _) = last_number(rest)?;
            if hdr_len > len {
                return Err(ProtoError(format!(
                    "HMSG header size {hdr_len} over total size {len}"
                )));
            }
            frame(buf, after_line, len, hdr_len, args, true)
        }
        Some(b'P') if line == b"PING" => Ok(Some((Op::Ping, after_line))),
        Some(b'P') if line == b"PONG" => Ok(Some((Op::Pong, after_line))),
        Some(b'+') if line == b"+OK" => Ok(Some((Op::Ok, after_line))),
        Some(b'-') if line.starts_with(b"-ERR") => {
            let text = line[4..].trim_ascii();
            let text = text
                .strip_prefix(b"'")
                .and_then(|t| t.strip_suffix(b"'"))
                .unwrap_or(text);
            Ok(Some((Op::Err(text), after_line)))
        }
        Some(b'I') if line.starts_with(b"INFO") => {
            Ok(Some((Op::Info(line[4..].trim_ascii()), after_line)))
        }
        _ => Err(ProtoError(format!(
            "unexpected line {:?}",
            String::from_utf8_lossy(&line[..line.len().min(80)])
        ))),
    }
}

/// The message frame whose payload starts at `start`, if the buffer holds all of it.
fn frame<'a>(
    buf: &'a [u8],
    start: usize,
    len: usize,
    hdr_len: usize,
    args: &'a [u8],
    has_headers: bool,
) -> Result<Option<(Op<'a>, usize)>, ProtoError> {
    let end = start + len;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(ProtoError("message payload not followed by CRLF".into()));
    }
    let msg = Msg {
        args,
        has_headers,
        headers: &buf[start..start + hdr_len],
        payload: &buf[start + hdr_len..end],
    };
    Ok(Some((Op::Msg(msg), end + 2)))
}

/// The decimal number that ends `args`, and what comes before it.
fn last_number(args: &[u8]) -> Result<(usize, &[u8]), ProtoError> {
    let args = args.trim_ascii_end();
    let start = args
        .iter()
        .rposition(|&b| b == b' ' || b == b'\t')
        .map_or(0, |i| i + 1);
    let digits = &args[start..];
    if digits.is_empty() || digits.len() > 12 {
        return Err(ProtoError(format!(
            "bad size in {:?}",
            String::from_utf8_lossy(args)
        )));
    }
    let mut n = 0usize;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(ProtoError(format!(
                "bad size in {:?}",
                String::from_utf8_lossy(args)
            )));
        }
        n = n * 10 + usize::from(d - b'0');
    }
    Ok((n, &args[..start]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(buf: &[u8]) -> (Op<'_>, usize) {
        parse(buf).unwrap().unwrap()
    }

    #[test]
    fn msg_without_and_with_reply() {
        let (op, used) = one(b"MSG foo 1 5\r\nhello\r\nPING\r\n");
        assert_eq!(used, 20);
        let Op::Msg(msg) = op else { panic!("{op:?}") };
        assert_eq!(msg.payload, b"hello");
        assert_eq!(msg.reply(), None);

        let (op, used) = one(b"MSG foo 1 _INBOX.x 0\r\n\r\n");
        assert_eq!(used, 24);
        let Op::Msg(msg) = op else { panic!("{op:?}") };
        assert_eq!(msg.payload, b"");
        assert_eq!(msg.reply(), Some(&b"_INBOX.x"[..]));
    }

    #[test]
    fn hmsg_splits_headers_and_reads_a_status() {
        let frame = b"HMSG _INBOX.a 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n";
        let (op, used) = one(frame);
        assert_eq!(used, frame.len());
        let Op::Msg(msg) = op else { panic!("{op:?}") };
        assert!(msg.has_headers);
        assert_eq!(msg.payload, b"");
        assert_eq!(msg.status(), Some(&b"503"[..]));
        assert_eq!(msg.reply(), None);

        let (op, _) = one(b"HMSG s 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        let Op::Msg(msg) = op else { panic!("{op:?}") };
        assert_eq!(msg.payload, b"hi");
        assert_eq!(msg.reply(), Some(&b"r"[..]));
        assert_eq!(msg.status(), None);
    }

    #[test]
    fn partial_frames_wait_for_more() {
        let frame = b"MSG foo 1 5\r\nhello\r\n";
        for cut in 0..frame.len() {
            assert_eq!(parse(&frame[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn control_ops() {
        assert_eq!(one(b"PING\r\n"), (Op::Ping, 6));
        assert_eq!(one(b"PONG\r\n"), (Op::Pong, 6));
        assert_eq!(one(b"+OK\r\n"), (Op::Ok, 5));
        assert_eq!(
            one(b"-ERR 'Authorization Violation'\r\n").0,
            Op::Err(b"Authorization Violation")
        );
        assert_eq!(one(b"INFO {\"a\":1}\r\n").0, Op::Info(b"{\"a\":1}"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(b"HELLO\r\n").is_err());
        assert!(parse(b"MSG foo 1 x\r\n").is_err());
        assert!(parse(b"MSG foo 1 2\r\nabcd\r\n").is_err());
        assert!(parse(b"HMSG foo 1 9 2\r\n").is_err());
    }
}

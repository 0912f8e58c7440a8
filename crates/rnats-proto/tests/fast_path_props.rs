//! The parsers' fast paths (`parser::parse_fast`, `route::parse_fast`) agree
//! with their general paths on arbitrary input: whenever a fast path answers,
//! the general path gives the very same answer (spans, sizes, frame length),
//! and `parse` — fast path first — gives what the general path gives, errors
//! included. The inputs are message frames written every way the protocol
//! allows and many ways it does not (cases, tabs, repeated blanks, odd bytes,
//! wrong sizes, bad trailers, cut anywhere), plus plain noise.

use proptest::prelude::*;
use rnats_proto::parser::{self, Limits};
use rnats_proto::route;

/// One argument of a control line: mostly well-formed, sometimes not.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => "[a-zA-Z0-9_.>*$-]{1,12}".prop_map(String::into_bytes),
        1 => Just(Vec::new()),
        1 => prop::collection::vec(
            prop_oneof![
                Just(b'a'),
                Just(b'\r'),
                Just(b'\n'),
                Just(b'\t'),
                Just(b' '),
                Just(0u8),
                Just(0x1f),
                Just(0x7f),
                Just(0x80),
                Just(0xff),
                Just(b'+'),
                Just(b'|'),
                Just(b'9'),
            ],
            1..6
        ),
    ]
}

/// A size as a client or a server may write it, or not.
fn size_text(n: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        16 => Just(n.to_string().into_bytes()),
        1 => Just(format!("00{n}").into_bytes()),
        1 => Just(b"1234567890123456789".to_vec()),
        1 => Just(b"-1".to_vec()),
        1 => (0usize..2000).prop_map(|m| m.to_string().into_bytes()),
        1 => token(),
    ]
}

fn separator() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![
        30 => Just(&b" "[..]),
        1 => Just(&b"\t"[..]),
        1 => Just(&b"  "[..]),
        1 => Just(&b" \t"[..]),
    ]
}

fn line_end() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![
        20 => Just(&b"\r\n"[..]),
        1 => Just(&b"\n"[..]),
        1 => Just(&b"\r"[..]),
        1 => Just(&b""[..]),
        1 => Just(&b" \r\n"[..]),
        1 => Just(&b"\r\r\n"[..]),
    ]
}

fn trailer() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![
        20 => Just(&b"\r\n"[..]),
        4 => Just(&b"\r\nPUB a 1\r\nb\r\n"[..]),
        1 => Just(&b"\n"[..]),
        1 => Just(&b"\r"[..]),
        1 => Just(&b""[..]),
        1 => Just(&b"xy"[..]),
    ]
}

/// A message frame: `verb` then `args` (the sizes last) joined by
/// separators, a line end, `payload_len` bytes, a trailer.
#[derive(Debug, Clone)]
struct Frame {
    verb: Vec<u8>,
    args: Vec<Vec<u8>>,
    seps: Vec<&'static [u8]>,
    end: &'static [u8],
    payload: Vec<u8>,
    trailer: &'static [u8],
}

impl Frame {
    fn bytes(&self) -> Vec<u8> {
        let mut out = self.verb.clone();
        for (arg, sep) in self.args.iter().zip(&self.seps) {
            out.extend_from_slice(sep);
            out.extend_from_slice(arg);
        }
        out.extend_from_slice(self.end);
        out.extend_from_slice(&self.payload);
        out.extend_from_slice(self.trailer);
        out
    }
}

/// A frame of one of the four message operations, `names` its possible
/// spellings, `lead` the arguments before the optional reply (subject, or
/// account and subject), `headers` whether it carries two sizes.
fn frame(
    names: &'static [&'static str],
    lead: usize,
    headers: bool,
) -> impl Strategy<Value = Frame> {
    (
        prop::sample::select(names),
        prop::collection::vec(token(), lead..=lead),
        prop::option::of(token()),
        prop::option::weighted(0.2, prop::collection::vec(token(), 1..3)),
        0usize..40,
        0usize..40,
        prop::collection::vec(separator(), 8),
        line_end(),
        trailer(),
        any::<prop::sample::Index>(),
    )
        .prop_flat_map(
            move |(verb, lead_args, reply, extra, h, n, seps, end, trailer, delta)| {
                // Sometimes one more than the total: an error.
                let h = h.min(n + 1);
                let sizes = if headers {
                    (size_text(h), size_text(n))
                        .prop_map(|(a, b)| vec![a, b])
                        .boxed()
                } else {
                    size_text(n).prop_map(|a| vec![a]).boxed()
                };
                // Mostly the announced length, sometimes one off.
                let len = match delta.index(8) {
                    0 => n + 1,
                    1 => n.saturating_sub(1),
                    _ => n,
                };
                (sizes, prop::collection::vec(any::<u8>(), len..=len)).prop_map(
                    move |(sizes, payload)| {
                        let mut args = lead_args.clone();
                        args.extend(reply.clone());
                        args.extend(extra.clone().unwrap_or_default());
                        args.extend(sizes);
                        Frame {
                            verb: verb.as_bytes().to_vec(),
                            args,
                            seps: seps.clone(),
                            end,
                            payload,
                            trailer,
                        }
                    },
                )
            },
        )
}

fn client_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        frame(&["PUB", "pub", "Pub", "PUBX", "PU"], 1, false),
        frame(&["HPUB", "hpub", "HPub", "HPU"], 1, true),
    ]
}

fn route_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        frame(&["RMSG", "rmsg", "LMSG", "RMS"], 2, false),
        frame(&["HMSG", "hmsg", "HMS"], 2, true),
    ]
}

/// How the limits of a case are chosen: the defaults, at the frame's own
/// control-line length and payload size give or take one (where an
/// off-by-one in a fast path would show), or anything small.
#[derive(Debug, Clone, Copy)]
enum LimitMode {
    Default,
    Near(i8, i8),
    Small(usize, usize),
}

fn limit_mode() -> impl Strategy<Value = LimitMode> {
    prop_oneof![
        2 => Just(LimitMode::Default),
        3 => (-1i8..=1, -1i8..=1).prop_map(|(l, p)| LimitMode::Near(l, p)),
        1 => (0usize..50, 0usize..40).prop_map(|(l, p)| LimitMode::Small(l, p)),
    ]
}

fn near(n: usize, d: i8) -> usize {
    n.saturating_add_signed(isize::from(d))
}

/// `(max_control_line, max_payload)` for a frame, `line` the length its
/// control line counts against the limit.
fn limits(mode: LimitMode, line: usize, f: &Frame) -> (usize, usize) {
    match mode {
        LimitMode::Default => (4096, 1 << 20),
        LimitMode::Near(l, p) => (near(line, l), near(f.payload.len(), p)),
        LimitMode::Small(l, p) => (l, p),
    }
}

fn client_limits(mode: LimitMode, f: &Frame) -> Limits {
    // The client parser counts the arguments: the line after `VERB `.
    let line = f.bytes().iter().position(|&b| b == b'\n').unwrap_or(0);
    let (max_control_line, max_payload) = limits(mode, line.saturating_sub(f.verb.len() + 2), f);
    Limits {
        max_control_line,
        max_payload,
    }
}

fn route_limits(mode: LimitMode, f: &Frame) -> (usize, usize) {
    // The route parser counts the whole line up to its `\n`.
    let line = f.bytes().iter().position(|&b| b == b'\n').unwrap_or(0);
    limits(mode, line, f)
}

/// A prefix so frames are parsed from an offset, as in a read buffer.
fn prefix() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![Just(&b""[..]), Just(&b"PING\r\n"[..])]
}

fn client_agrees(buf: &[u8], start: usize, limits: &Limits) -> Result<(), TestCaseError> {
    let general = parser::parse_general(buf, start, limits);
    if let Some(fast) = parser::parse_fast(buf, start, limits) {
        prop_assert_eq!(
            Ok(fast),
            general.clone(),
            "fast path on {:?}",
            String::from_utf8_lossy(buf)
        );
    }
    prop_assert_eq!(parser::parse(buf, start, limits), general);
    Ok(())
}

fn route_agrees(
    buf: &[u8],
    start: usize,
    (line, payload): (usize, usize),
) -> Result<(), TestCaseError> {
    let general = route::parse_general(buf, start, line, payload);
    if let Some(fast) = route::parse_fast(buf, start, line, payload) {
        prop_assert_eq!(
            Ok(fast),
            general.clone(),
            "fast path on {:?}",
            String::from_utf8_lossy(buf)
        );
    }
    prop_assert_eq!(route::parse(buf, start, line, payload), general);
    Ok(())
}

/// Every prefix of `bytes` after `pre` (frames cut by a read anywhere).
fn cuts(pre: &[u8], bytes: &[u8]) -> impl Iterator<Item = Vec<u8>> {
    (0..=bytes.len()).map(move |cut| [pre, &bytes[..cut]].concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn client_fast_path_agrees(f in client_frame(), pre in prefix(), mode in limit_mode()) {
        let limits = client_limits(mode, &f);
        for buf in cuts(pre, &f.bytes()) {
            client_agrees(&buf, pre.len(), &limits)?;
        }
    }

    #[test]
    fn client_fast_path_agrees_on_flipped_bytes(
        f in client_frame(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        mode in limit_mode(),
    ) {
        let limits = client_limits(mode, &f);
        let mut buf = f.bytes();
        for (at, byte) in flips {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        client_agrees(&buf, 0, &limits)?;
    }

    #[test]
    fn client_fast_path_agrees_on_noise(
        verb in prop::sample::select(&["PUB ", "HPUB ", "pub ", ""][..]),
        noise in prop::collection::vec(any::<u8>(), 0..64),
        limits in (0usize..70, 0usize..64),
    ) {
        let limits = Limits { max_control_line: limits.0, max_payload: limits.1 };
        let buf = [verb.as_bytes(), &noise].concat();
        client_agrees(&buf, 0, &limits)?;
    }

    #[test]
    fn route_fast_path_agrees(f in route_frame(), pre in prefix(), mode in limit_mode()) {
        let limits = route_limits(mode, &f);
        for buf in cuts(pre, &f.bytes()) {
            route_agrees(&buf, pre.len(), limits)?;
        }
    }

    #[test]
    fn route_fast_path_agrees_on_flipped_bytes(
        f in route_frame(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        mode in limit_mode(),
    ) {
        let limits = route_limits(mode, &f);
        let mut buf = f.bytes();
        for (at, byte) in flips {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        route_agrees(&buf, 0, limits)?;
    }

    #[test]
    fn route_fast_path_agrees_on_noise(
        verb in prop::sample::select(&["RMSG ", "HMSG ", "hmsg ", ""][..]),
        noise in prop::collection::vec(any::<u8>(), 0..64),
        limits in (0usize..70, 0usize..64),
    ) {
        let buf = [verb.as_bytes(), &noise].concat();
        route_agrees(&buf, 0, limits)?;
    }
}

/// The fast paths do take the frames real clients and servers send (the
/// properties above would hold, uselessly, if they never answered).
#[test]
fn the_usual_frames_take_the_fast_paths() {
    let limits = Limits::default();
    for frame in [
        &b"PUB bench 16\r\n0123456789abcdef\r\n"[..],
        b"pub foo.bar _INBOX.x.y 2\r\nhi\r\n",
        b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        b"HPUB foo _INBOX.1 12 12\r\nNATS/1.0\r\n\r\n\r\n",
        b"PUB foo 0\r\n\r\n",
    ] {
        assert!(
            parser::parse_fast(frame, 0, &limits).is_some(),
            "{}",
            String::from_utf8_lossy(frame)
        );
    }
    for frame in [
        &b"RMSG $G bench 16\r\n0123456789abcdef\r\n"[..],
        b"RMSG $G foo _INBOX.x 2\r\nhi\r\n",
        b"HMSG $G foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        b"HMSG $G foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
    ] {
        assert!(
            route::parse_fast(frame, 0, 4096, 1 << 20).is_some(),
            "{}",
            String::from_utf8_lossy(frame)
        );
    }
    // And leave the rest to the general path.
    for frame in [
        &b"PUB\tfoo 2\r\nhi\r\n"[..],
        b"PUB foo  2\r\nhi\r\n",
        b"PUB foo 2\nhi\r\n",
        b"PUB foo 2\r\nhi",
        b"PUB foo 3\r\nhi\r\n",
        b"PUB foo x\r\nhi\r\n",
        b"SUB foo 1\r\n",
    ] {
        assert!(parser::parse_fast(frame, 0, &limits).is_none());
    }
    assert!(route::parse_fast(b"RMSG $G foo + r q 2\r\nhi\r\n", 0, 4096, 1 << 20).is_none());
    assert!(route::parse_fast(b"RMSG $G foo | q 2\r\nhi\r\n", 0, 4096, 1 << 20).is_none());
}

//! Properties of the client-protocol parser: a valid stream parses to the
//! same operations however it is cut into reads, and no input, however
//! hostile, makes it panic.

use proptest::prelude::*;
use rnats_proto::parser::{ClientOp, Limits, Parsed, parse};

/// An operation with the bytes each of its spans covered, so results from
/// different buffers can be compared.
#[derive(Debug, PartialEq, Eq)]
enum Owned {
    Connect(Vec<u8>),
    Pub(Vec<u8>, Option<Vec<u8>>, Vec<u8>),
    HPub(Vec<u8>, Option<Vec<u8>>, usize, Vec<u8>),
    Sub(Vec<u8>, Option<Vec<u8>>, Vec<u8>),
    Unsub(Vec<u8>, Option<u64>),
    Ping,
    Pong,
    Info(Vec<u8>),
    Ok,
}

fn own(op: &ClientOp, buf: &[u8]) -> Owned {
    let b = |s: &rnats_proto::Span| s.of(buf).to_vec();
    match op {
        ClientOp::Connect { json } => Owned::Connect(b(json)),
        ClientOp::Pub {
            subject,
            reply,
            payload,
            ..
        } => Owned::Pub(b(subject), reply.as_ref().map(b), b(payload)),
        ClientOp::HPub {
            subject,
            reply,
            header_len,
            message,
            ..
        } => Owned::HPub(b(subject), reply.as_ref().map(b), *header_len, b(message)),
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

/// Feeds `input` in reads cut at `cuts`, the way a connection does: append
/// what arrived, parse every complete frame, keep the rest.
fn parse_in_reads(input: &[u8], cuts: &[usize]) -> Vec<Owned> {
    let limits = Limits::default();
    let mut pending = Vec::new();
    let mut out = Vec::new();
    let mut last = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    for cut in cuts {
        pending.extend_from_slice(&input[last..cut]);
        last = cut;
        let mut pos = 0;
        while let Parsed::Op { op, frame_len, .. } =
            parse(&pending, pos, &limits).expect("valid input never errors")
        {
            out.push(own(&op, &pending));
            pos += frame_len;
        }
        pending.drain(..pos);
    }
    assert!(pending.is_empty(), "the whole stream was consumed");
    out
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_-]{1,8}"
}

fn subject() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 1..4).prop_map(|t| t.join("."))
}

fn frame() -> impl Strategy<Value = Vec<u8>> {
    let blank = prop_oneof![Just(" "), Just("\t"), Just("  ")];
    prop_oneof![
        (
            subject(),
            prop::option::of(subject()),
            prop::collection::vec(any::<u8>(), 0..300),
            blank.clone()
        )
            .prop_map(|(s, r, p, sp)| {
                let reply = r.map(|r| format!("{r}{sp}")).unwrap_or_default();
                let mut f = format!("PUB{sp}{s}{sp}{reply}{}\r\n", p.len()).into_bytes();
                f.extend_from_slice(&p);
                f.extend_from_slice(b"\r\n");
                f
            }),
        (subject(), prop::collection::vec(any::<u8>(), 0..100)).prop_map(|(s, p)| {
            let headers = b"NATS/1.0\r\nA: b\r\n\r\n";
            let mut f =
                format!("hpub {s} {} {}\r\n", headers.len(), headers.len() + p.len()).into_bytes();
            f.extend_from_slice(headers);
            f.extend_from_slice(&p);
            f.extend_from_slice(b"\r\n");
            f
        }),
        (subject(), prop::option::of(token()), 1u32..1000).prop_map(|(s, q, sid)| match q {
            Some(q) => format!("SUB {s} {q} {sid}\r\n").into_bytes(),
            None => format!("sub {s} {sid}\n").into_bytes(),
        }),
        (1u32..1000, prop::option::of(0u64..10)).prop_map(|(sid, max)| match max {
            Some(m) => format!("UNSUB {sid} {m}\r\n").into_bytes(),
            None => format!("UNSUB {sid}\r\n").into_bytes(),
        }),
        Just(b"PING\r\n".to_vec()),
        Just(b"pong\r\n".to_vec()),
        Just(br#"CONNECT {"verbose":false,"name":"x y"}"#.iter().chain(b"\r\n").copied().collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_chunking_gives_the_same_operations(
        frames in prop::collection::vec(frame(), 1..20),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
    ) {
        let input: Vec<u8> = frames.concat();
        let whole = parse_in_reads(&input, &[]);
        prop_assert_eq!(whole.len(), frames.len());
        prop_assert_eq!(parse_in_reads(&input, &cuts), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..2000)) {
        let limits = Limits { max_control_line: 64, max_payload: 256 };
        let mut pos = 0;
        while let Ok(Parsed::Op { frame_len, .. }) = parse(&input, pos, &limits) {
            prop_assert!(frame_len > 0);
            pos += frame_len;
            prop_assert!(pos <= input.len());
        }
    }

    #[test]
    fn mutated_valid_streams_never_panic(
        frames in prop::collection::vec(frame(), 1..10),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..10),
    ) {
        let mut input: Vec<u8> = frames.concat();
        let len = input.len();
        for (at, byte) in flips {
            input[at % len] = byte;
        }
        let mut pos = 0;
        while let Ok(Parsed::Op { frame_len, .. }) = parse(&input, pos, &Limits::default()) {
            pos += frame_len;
            prop_assert!(pos <= input.len());
        }
    }
}

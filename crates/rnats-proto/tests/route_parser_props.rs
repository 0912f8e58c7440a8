//! Properties of the route-protocol parser: a valid stream from a peer
//! parses to the same operations however it is cut into reads, and no
//! input, however hostile, makes it panic or read past its buffer.

use proptest::prelude::*;
use rnats_proto::route::{RouteOp, RouteParsed, parse};

const MAX_LINE: usize = 4096;
const MAX_PAYLOAD: usize = 1 << 20;

/// Each operation as its kind and the bytes of its frame, comparable
/// across buffers.
fn parse_in_reads(input: &[u8], cuts: &[usize]) -> Vec<(String, Vec<u8>)> {
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
        while let RouteParsed::Op { op, frame_len, .. } =
            parse(&pending, pos, MAX_LINE, MAX_PAYLOAD).expect("valid input never errors")
        {
            out.push((kind(&op), pending[pos..pos + frame_len].to_vec()));
            pos += frame_len;
        }
        pending.drain(..pos);
    }
    assert!(pending.is_empty(), "the whole stream was consumed");
    out
}

/// The operation's variant name (its spans differ from buffer to buffer).
fn kind(op: &RouteOp) -> String {
    format!("{op:?}")
        .split([' ', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_-]{1,8}"
}

fn subject() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 1..4).prop_map(|t| t.join("."))
}

/// One operation a peer may send, as bytes.
fn operation() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (token(), subject()).prop_map(|(a, s)| format!("RS+ {a} {s}\r\n").into_bytes()),
        (token(), subject(), token(), 1u32..100)
            .prop_map(|(a, s, q, w)| format!("RS+ {a} {s} {q} {w}\r\n").into_bytes()),
        (token(), subject()).prop_map(|(a, s)| format!("RS- {a} {s}\r\n").into_bytes()),
        (
            token(),
            subject(),
            prop::option::of(subject()),
            prop::collection::vec(token(), 0..3),
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(a, s, reply, queues, payload)| {
                let mut line = format!("RMSG {a} {s} ");
                match (&reply, queues.is_empty()) {
                    (Some(r), false) => line.push_str(&format!("+ {r} {} ", queues.join(" "))),
                    (None, false) => line.push_str(&format!("| {} ", queues.join(" "))),
                    (Some(r), true) => line.push_str(&format!("{r} ")),
                    (None, true) => {}
                }
                let mut bytes = format!("{line}{}\r\n", payload.len()).into_bytes();
                bytes.extend_from_slice(&payload);
                bytes.extend_from_slice(b"\r\n");
                bytes
            }),
        (
            token(),
            subject(),
            prop::collection::vec(any::<u8>(), 0..32)
        )
            .prop_map(|(a, s, body)| {
                let header = b"NATS/1.0\r\nK: V\r\n\r\n";
                let mut bytes = format!(
                    "HMSG {a} {s} {} {}\r\n",
                    header.len(),
                    header.len() + body.len()
                )
                .into_bytes();
                bytes.extend_from_slice(header);
                bytes.extend_from_slice(&body);
                bytes.extend_from_slice(b"\r\n");
                bytes
            }),
        Just(b"PING\r\n".to_vec()),
        Just(b"PONG\r\n".to_vec()),
        Just(b"INFO {\"server_id\":\"N1\"}\r\n".to_vec()),
        (subject(), prop::collection::vec(any::<u8>(), 0..16)).prop_map(|(s, payload)| {
            let mut bytes = format!("PUB {s} {}\r\n", payload.len()).into_bytes();
            bytes.extend_from_slice(&payload);
            bytes.extend_from_slice(b"\r\n");
            bytes
        }),
    ]
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_operations(
        ops in prop::collection::vec(operation(), 1..12),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let input = ops.concat();
        let whole = parse_in_reads(&input, &[]);
        prop_assert_eq!(whole.len(), ops.len());
        prop_assert_eq!(parse_in_reads(&input, &cuts), whole);
    }

    #[test]
    fn hostile_bytes_never_panic(
        prefix in prop::collection::vec(operation(), 0..3),
        noise in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut input = prefix.concat();
        input.extend_from_slice(&noise);
        let mut pos = 0;
        while pos < input.len() {
            match parse(&input, pos, MAX_LINE, MAX_PAYLOAD) {
                Ok(RouteParsed::Op { frame_len, control_line, .. }) => {
                    prop_assert!(frame_len > 0 && pos + frame_len <= input.len());
                    prop_assert!(control_line.end <= input.len());
                    pos += frame_len;
                }
                Ok(RouteParsed::Incomplete { .. }) | Err(_) => break,
            }
        }
    }
}

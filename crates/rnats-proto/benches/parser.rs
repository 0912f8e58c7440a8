//! The client-protocol parser: a read buffer of small PUBs, of PUBs with a
//! reply and a 256-byte payload, and a mixed stream, parsed frame by frame
//! as a connection does. `cargo bench -p rnats-proto`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rnats_proto::parser::{Limits, Parsed, parse};

fn stream(frame: &[u8], count: usize) -> Vec<u8> {
    frame.repeat(count)
}

/// Parses every frame of `buf`; returns how many there were.
fn parse_all(buf: &[u8]) -> usize {
    let limits = Limits::default();
    let (mut pos, mut frames) = (0, 0);
    while let Ok(Parsed::Op { frame_len, .. }) = parse(buf, pos, &limits) {
        pos += frame_len;
        frames += 1;
    }
    frames
}

fn parser(c: &mut Criterion) {
    let mut payload_256 = b"PUB orders.eu.new _INBOX.abcdef.1 256\r\n".to_vec();
    payload_256.extend(std::iter::repeat_n(b'x', 256));
    payload_256.extend_from_slice(b"\r\n");
    let cases = [
        ("pub_16b", stream(b"PUB bench 16\r\n0123456789abcdef\r\n", 2000)),
        ("pub_reply_256b", stream(&payload_256, 500)),
        (
            "mixed",
            stream(b"SUB a.* 1\r\nPUB a.b 2\r\nhi\r\nPING\r\nHPUB a.c 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1\r\n", 500),
        ),
    ];
    let mut group = c.benchmark_group("parse");
    for (name, buf) in &cases {
        let frames = parse_all(buf);
        group.throughput(Throughput::Elements(frames as u64));
        group.bench_function(*name, |b| b.iter(|| parse_all(black_box(buf))));
    }
    group.finish();
}

criterion_group!(benches, parser);
criterion_main!(benches);

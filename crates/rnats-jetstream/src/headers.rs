//! Reading a NATS header block (`NATS/1.0\r\nKey: Value\r\n...\r\n\r\n`)
//! for the `Nats-*` headers JetStream acts on, and writing the blocks it
//! sends (direct gets, republished messages).
//!
//! Names are compared exactly, as nats-server compares them.

pub const MSG_ID: &str = "Nats-Msg-Id";
pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
pub const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
pub const EXPECTED_LAST_SUBJECT_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
pub const EXPECTED_LAST_SUBJECT_SEQ_SUBJECT: &str = "Nats-Expected-Last-Subject-Sequence-Subject";
pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
pub const ROLLUP: &str = "Nats-Rollup";
pub const TTL: &str = "Nats-TTL";
pub const STREAM: &str = "Nats-Stream";
pub const SUBJECT: &str = "Nats-Subject";
pub const SEQUENCE: &str = "Nats-Sequence";
pub const LAST_SEQUENCE: &str = "Nats-Last-Sequence";
pub const TIME_STAMP: &str = "Nats-Time-Stamp";
pub const NUM_PENDING: &str = "Nats-Num-Pending";
pub const UP_TO_SEQUENCE: &str = "Nats-UpTo-Sequence";
pub const MARKER_REASON: &str = "Nats-Marker-Reason";
pub const STREAM_SOURCE: &str = "Nats-Stream-Source";

/// The value of header `name` in `block` (the first one), trimmed.
pub fn get<'a>(block: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(block).ok()?;
    text.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == name).then(|| value.trim())
    })
}

/// A header block being written.
#[derive(Debug, Default)]
pub struct Builder {
    buf: Vec<u8>,
}

impl Builder {
    /// Starts a block with the status line `NATS/1.0` and, if given, a
    /// status code and description (`NATS/1.0 404 Message Not Found`).
    pub fn new(status: Option<(u16, &str)>) -> Self {
        let mut buf = b"NATS/1.0".to_vec();
        if let Some((code, text)) = status {
            buf.extend_from_slice(format!(" {code}").as_bytes());
            if !text.is_empty() {
                buf.push(b' ');
                buf.extend_from_slice(text.as_bytes());
            }
        }
        buf.extend_from_slice(b"\r\n");
        Builder { buf }
    }

    pub fn add(mut self, name: &str, value: &str) -> Self {
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
        self
    }

    /// Appends the `Key: Value` lines of another block (its status line
    /// and final blank line left out).
    pub fn add_all(mut self, block: &[u8]) -> Self {
        if let Some(start) = block.windows(2).position(|w| w == b"\r\n") {
            let body = &block[start + 2..];
            let body = body.strip_suffix(b"\r\n").unwrap_or(body);
            self.buf.extend_from_slice(body);
        }
        self
    }

    /// Appends the lines of another block but those `keep` refuses (by
    /// header name).
    pub fn add_all_but(mut self, block: &[u8], keep: impl Fn(&str) -> bool) -> Self {
        let Ok(text) = std::str::from_utf8(block) else {
            return self;
        };
        for line in text.split("\r\n").skip(1) {
            let Some((key, _)) = line.split_once(':') else {
                continue;
            };
            if keep(key) {
                self.buf.extend_from_slice(line.as_bytes());
                self.buf.extend_from_slice(b"\r\n");
            }
        }
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(b"\r\n");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes() {
        let block = b"NATS/1.0\r\nNats-Msg-Id: a1 \r\nX: y:z\r\n\r\n";
        assert_eq!(get(block, MSG_ID), Some("a1"));
        assert_eq!(get(block, "X"), Some("y:z"));
        assert_eq!(get(block, "nats-msg-id"), None);
        let out = Builder::new(None).add("A", "1").add_all(block).finish();
        assert_eq!(
            out,
            b"NATS/1.0\r\nA: 1\r\nNats-Msg-Id: a1 \r\nX: y:z\r\n\r\n"
        );
        assert_eq!(
            Builder::new(Some((404, "Message Not Found"))).finish(),
            b"NATS/1.0 404 Message Not Found\r\n\r\n"
        );
    }
}

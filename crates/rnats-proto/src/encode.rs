//! Encoders for what the server sends to clients. They append to a caller's
//! buffer and format numbers with `itoa` on the stack, so producing a
//! message header allocates nothing once the buffer has grown.

use bytes::{BufMut, BytesMut};

/// The `HMSG` a requester gets when nobody is subscribed to the subject it
/// asked (its header block, 16 bytes).
pub const NO_RESPONDERS_HEADER: &[u8] = b"NATS/1.0 503\r\n\r\n";

/// Appends `MSG <subject> <sid> [reply] <size>\r\n`. The size is given
/// as text: a relayed message repeats the publisher's digits verbatim, as
/// nats-server does, and no number is formatted per delivery.
// Always: the delivery path relies on it being inlined, whatever the
// number of its callers.
#[inline(always)]
pub fn msg_header(
    out: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    size: &[u8],
) {
    out.reserve(8 + subject.len() + sid.len() + reply.map_or(0, |r| r.len() + 1) + size.len());
    out.put_slice(b"MSG ");
    subject_sid_reply(out, subject, sid, reply);
    out.put_slice(size);
    out.put_slice(b"\r\n");
}

/// Appends `HMSG <subject> <sid> [reply] <header size> <total size>\r\n`.
#[inline]
pub fn hmsg_header(
    out: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_size: &[u8],
    total_size: &[u8],
) {
    out.reserve(
        10 + subject.len()
            + sid.len()
            + reply.map_or(0, |r| r.len() + 1)
            + header_size.len()
            + total_size.len(),
    );
    out.put_slice(b"HMSG ");
    subject_sid_reply(out, subject, sid, reply);
    out.put_slice(header_size);
    out.put_u8(b' ');
    out.put_slice(total_size);
    out.put_slice(b"\r\n");
}

#[inline(always)]
fn subject_sid_reply(out: &mut BytesMut, subject: &[u8], sid: &[u8], reply: Option<&[u8]>) {
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if let Some(reply) = reply {
        out.put_slice(reply);
        out.put_u8(b' ');
    }
}

/// Appends `-ERR '<text>'\r\n`.
pub fn err(out: &mut BytesMut, text: &str) {
    out.put_slice(b"-ERR '");
    out.put_slice(text.as_bytes());
    out.put_slice(b"'\r\n");
}

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_like_the_reference() {
        let mut out = BytesMut::new();
        msg_header(&mut out, b"foo", b"2", None, b"2");
        msg_header(&mut out, b"foo", b"2", Some(b"r"), b"0");
        hmsg_header(&mut out, b"foo", b"2", Some(b"r"), b"12", b"14");
        hmsg_header(&mut out, b"_INBOX.x.y", b"1", None, b"16", b"16");
        err(&mut out, "Invalid Subject");
        assert_eq!(
            &out[..],
            &b"MSG foo 2 2\r\nMSG foo 2 r 0\r\nHMSG foo 2 r 12 14\r\nHMSG _INBOX.x.y 1 16 16\r\n-ERR 'Invalid Subject'\r\n"[..]
        );
    }
}

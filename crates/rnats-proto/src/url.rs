//! The user and password written in a NATS URL (`nats://user:pass@host`,
//! `nats-route://…`): percent-escapes undone, as clients and servers read
//! them. Works on bytes, so a `%` before a multi-byte character is kept.

/// `%XX` escapes decoded; a `%` not followed by two hex digits is kept.
pub fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|c| (*c as char).to_digit(16));
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn escapes_are_decoded_and_stray_percent_signs_kept() {
        assert_eq!(percent_decode("p%40ss%21"), b"p@ss!");
        assert_eq!(percent_decode("%aé%zz%4"), "%aé%zz%4".as_bytes());
        assert_eq!(percent_decode("%F0%9F%A6%80"), "🦀".as_bytes());
    }
}

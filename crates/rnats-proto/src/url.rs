//! The user and password written in a NATS URL (`nats://user:pass@host`,
//! `nats-route://…`): percent-escapes undone, as clients and servers read
//! them. Works on bytes, so a `%` before a multi-byte character is kept.

/// The URL with its password replaced by `xxxxx`, as Go's
/// `url.Redacted` (and so nats-server) writes it, for logs and errors:
/// `nats://ru:secret@h:6222` becomes `nats://ru:xxxxx@h:6222`. Text with no
/// `user:password@` part is returned as it is.
pub fn redact_password(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    // The user information ends at the last `@` before the path.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}{user}:xxxxx{}", &rest[at..]),
        None => url.to_string(),
    }
}

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
    use super::{percent_decode, redact_password};

    #[test]
    fn passwords_are_redacted_as_go_redacts_them() {
        assert_eq!(
            redact_password("nats-route://ru:T0p!@h:6222"),
            "nats-route://ru:xxxxx@h:6222"
        );
        assert_eq!(
            redact_password("nats://u:p@w@h:1/x"),
            "nats://u:xxxxx@h:1/x"
        );
        assert_eq!(redact_password("nats://user@h:1"), "nats://user@h:1");
        assert_eq!(redact_password("nats://h:1"), "nats://h:1");
        assert_eq!(redact_password("u:p@h"), "u:xxxxx@h");
        assert_eq!(redact_password("nats://h:1/a:b@c"), "nats://h:1/a:b@c");
    }

    #[test]
    fn escapes_are_decoded_and_stray_percent_signs_kept() {
        assert_eq!(percent_decode("p%40ss%21"), b"p@ss!");
        assert_eq!(percent_decode("%aé%zz%4"), "%aé%zz%4".as_bytes());
        assert_eq!(percent_decode("%F0%9F%A6%80"), "🦀".as_bytes());
    }
}

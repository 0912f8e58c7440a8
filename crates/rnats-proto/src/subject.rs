//! Subject validation, matching nats-server 2.9 (`IsValidSubject` and
//! `IsValidLiteralSubject` in its `server/sublist.go`).
//!
//! A subject is a sequence of non-empty tokens separated by `.`. Two tokens
//! are wildcards, and only when they make up a whole token: `*` matches
//! exactly one token and `>` matches one or more trailing tokens (so it may
//! only be the last token). A `*` or `>` inside a longer token, as in `foo*`
//! or `a.>b`, is an ordinary character.
//!
//! What the reference server (v2.9.10) does on the wire, for the record:
//!
//! * `SUB` runs [`is_valid_subject`]-equivalent checks and answers
//!   `-ERR 'Invalid Subject'` on failure.
//! * `PUB` is not validated at all unless the client asked for `pedantic`;
//!   then [`is_valid_literal_subject`] failing yields
//!   `-ERR 'Invalid Publish Subject'` (and the message is still routed).
//!   A non-pedantic publish to `foo.*` is delivered to the subscriptions
//!   that match the tokens `foo` and `*`, the latter taken as a plain token.
//! * Queue group names have no rules beyond being a protocol argument:
//!   `q.a`, `*`, `>`, `..` and non-UTF-8 bytes are all accepted, which is why
//!   this module has no queue-name validator.
//!
//! Whitespace (space, tab, CR, LF) can never reach a subject through the
//! protocol parser, since it separates arguments there; it is rejected here
//! so that subjects coming from elsewhere (configuration, headers) obey the
//! same rules. Other control bytes (`\f`, NUL, ...) and arbitrary non-UTF-8
//! bytes are accepted, as nats-server 2.9 accepts them.
//!
//! Everything here works on bytes and never allocates.

/// The token separator.
pub const TOKEN_SEPARATOR: u8 = b'.';
/// The single-token wildcard.
pub const PARTIAL_WILDCARD: &[u8] = b"*";
/// The trailing multi-token wildcard.
pub const FULL_WILDCARD: &[u8] = b">";

/// Whether `b` is a byte that may not appear anywhere in a subject.
#[inline]
fn is_forbidden_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Iterates over the `.`-separated tokens of `s` (including empty ones).
#[inline]
fn tokens(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| b == TOKEN_SEPARATOR)
}

/// Whether `s` is a valid subject for a subscription: non-empty, no empty
/// token, no whitespace, and `>` (as a whole token) only as the last token.
///
/// ```
/// use rnats_proto::subject::is_valid_subject;
///
/// assert!(is_valid_subject(b"orders.eu.created"));
/// assert!(is_valid_subject(b"orders.*.created"));
/// assert!(is_valid_subject(b"orders.>"));
/// assert!(is_valid_subject(b"orders.eu*")); // `*` inside a token is literal
///
/// assert!(!is_valid_subject(b""));
/// assert!(!is_valid_subject(b"orders..created"));
/// assert!(!is_valid_subject(b".orders"));
/// assert!(!is_valid_subject(b"orders.>.created"));
/// assert!(!is_valid_subject(b"orders created"));
/// ```
pub fn is_valid_subject(s: &[u8]) -> bool {
    if s.is_empty() {
        return false;
    }
    let mut after_full_wildcard = false;
    for token in tokens(s) {
        if token.is_empty() || after_full_wildcard {
            return false;
        }
        if token.iter().any(|&b| is_forbidden_byte(b)) {
            return false;
        }
        if token == FULL_WILDCARD {
            after_full_wildcard = true;
        }
    }
    true
}

/// Whether `s` is a valid subject to publish to: a valid subject with no
/// wildcard token. This is what nats-server checks for pedantic clients.
///
/// ```
/// use rnats_proto::subject::is_valid_literal_subject;
///
/// assert!(is_valid_literal_subject(b"orders.eu.created"));
/// assert!(is_valid_literal_subject(b"orders.eu*.>x")); // literal characters
///
/// assert!(!is_valid_literal_subject(b"orders.*.created"));
/// assert!(!is_valid_literal_subject(b"orders.>"));
/// assert!(!is_valid_literal_subject(b"orders..created"));
/// ```
pub fn is_valid_literal_subject(s: &[u8]) -> bool {
    if s.is_empty() {
        return false;
    }
    for token in tokens(s) {
        if token.is_empty() || token == PARTIAL_WILDCARD || token == FULL_WILDCARD {
            return false;
        }
        if token.iter().any(|&b| is_forbidden_byte(b)) {
            return false;
        }
    }
    true
}

/// Whether `s` has no wildcard token (`*` or `>` as a whole token). This
/// does not validate `s`; it is the cheap test to use on a subject already
/// known to be valid, for example to tell literal subscriptions from
/// wildcard ones.
///
/// ```
/// use rnats_proto::subject::is_literal;
///
/// assert!(is_literal(b"a.b.c"));
/// assert!(is_literal(b"a.b*"));
/// assert!(!is_literal(b"a.*.c"));
/// assert!(!is_literal(b">"));
/// ```
pub fn is_literal(s: &[u8]) -> bool {
    tokens(s).all(|t| t != PARTIAL_WILDCARD && t != FULL_WILDCARD)
}

/// Whether the subject `subject` is matched by the subscription pattern
/// `pattern` (`*` one token, `>` one or more trailing tokens). Tokens of
/// `subject` are taken literally, so this also answers "does pattern cover
/// this (possibly wildcard) subject token by token".
///
/// ```
/// use rnats_proto::subject::pattern_matches;
///
/// assert!(pattern_matches(b"foo.*", b"foo.bar"));
/// assert!(pattern_matches(b"foo.>", b"foo.bar.baz"));
/// assert!(!pattern_matches(b"foo.>", b"foo"));
/// assert!(!pattern_matches(b"foo.*", b"foo.bar.baz"));
/// ```
pub fn pattern_matches(pattern: &[u8], subject: &[u8]) -> bool {
    let mut subject_tokens = tokens(subject);
    for p in tokens(pattern) {
        if p == FULL_WILDCARD {
            return subject_tokens.next().is_some();
        }
        match subject_tokens.next() {
            Some(s) if p == PARTIAL_WILDCARD || p == s => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

/// Whether every subject that `subject` (a subscription, possibly with
/// wildcards) can match is also matched by `pattern`.
///
/// ```
/// use rnats_proto::subject::is_subset;
///
/// assert!(is_subset(b"foo.bar", b"foo.*"));
/// assert!(is_subset(b"foo.*", b"foo.>"));
/// assert!(!is_subset(b"foo.>", b"foo.*"));
/// assert!(!is_subset(b"foo.*", b"foo.bar"));
/// ```
pub fn is_subset(subject: &[u8], pattern: &[u8]) -> bool {
    let mut subject_tokens = tokens(subject);
    for p in tokens(pattern) {
        if p == FULL_WILDCARD {
            return subject_tokens.next().is_some();
        }
        match subject_tokens.next() {
            Some(s) if s == FULL_WILDCARD => return false,
            Some(s) if p == PARTIAL_WILDCARD || (p == s && s != PARTIAL_WILDCARD) => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

/// Whether some literal subject matches both patterns.
///
/// ```
/// use rnats_proto::subject::subjects_collide;
/// assert!(subjects_collide(b"foo.*", b"*.bar"));
/// assert!(subjects_collide(b"foo.>", b"foo.bar.baz"));
/// assert!(!subjects_collide(b"foo.*", b"foo.bar.baz"));
/// assert!(!subjects_collide(b"foo.bar", b"foo.baz"));
/// assert!(!subjects_collide(b"foo.>", b"foo"));
/// ```
pub fn subjects_collide(a: &[u8], b: &[u8]) -> bool {
    let (mut a_tokens, mut b_tokens) = (tokens(a), tokens(b));
    loop {
        match (a_tokens.next(), b_tokens.next()) {
            (None, None) => return true,
            // `>` takes the rest, but at least one token.
            (Some(x), Some(y)) if x == FULL_WILDCARD || y == FULL_WILDCARD => return true,
            (Some(x), Some(y)) if x == y || x == PARTIAL_WILDCARD || y == PARTIAL_WILDCARD => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn subscription_subjects_accepted_by_nats_server() {
        for s in [
            "foo",
            "foo.bar",
            "foo.*",
            "foo.>",
            "*",
            ">",
            "*.*",
            "*.>",
            "foo.*.baz",
            "foo*",
            "*foo",
            "foo.*bar",
            "foo.>bar",
            "foo.**",
            "foo.>>",
            "a\x0cb",
            "a\x00b",
            "caf\u{e9}",
        ] {
            assert!(is_valid_subject(s.as_bytes()), "{s:?} should be valid");
        }
        assert!(is_valid_subject(b"a\xffb"), "non-UTF-8 bytes are accepted");
    }

    #[test]
    fn subscription_subjects_rejected_by_nats_server() {
        for s in [
            "",
            ".",
            "..",
            ".foo",
            "foo.",
            "foo..bar",
            "foo.>.bar",
            ">.foo",
            ">.>",
            "> ",
        ] {
            assert!(!is_valid_subject(s.as_bytes()), "{s:?} should be invalid");
        }
    }

    #[test]
    fn whitespace_is_rejected_anywhere() {
        for s in [
            "foo bar", " foo", "foo ", "foo\tbar", "foo\rbar", "foo\nbar", "a. .b", "*.\t",
        ] {
            assert!(!is_valid_subject(s.as_bytes()), "{s:?}");
            assert!(!is_valid_literal_subject(s.as_bytes()), "{s:?}");
        }
    }

    #[test]
    fn publish_subjects() {
        assert!(is_valid_literal_subject(b"foo"));
        assert!(is_valid_literal_subject(b"foo.bar.baz"));
        assert!(is_valid_literal_subject(b"foo*.*bar.>baz.b>"));
        assert!(is_valid_literal_subject(b"_INBOX.abc123.1"));

        for s in [
            "*",
            ">",
            "foo.*",
            "foo.>",
            "*.foo",
            "foo.*.bar",
            "foo.>.bar",
            "",
            "foo.",
            ".foo",
            "a..b",
        ] {
            assert!(
                !is_valid_literal_subject(s.as_bytes()),
                "{s:?} should be invalid"
            );
        }
    }

    #[test]
    fn literal_check_does_not_validate() {
        assert!(is_literal(b""));
        assert!(is_literal(b"a..b"));
        assert!(!is_literal(b"a..*"));
        assert!(!is_literal(b">.a"));
    }

    /// A straightforward model of the rules, allocating freely.
    fn model_valid(s: &[u8], literal: bool) -> bool {
        let toks: Vec<&[u8]> = s.split(|&b| b == b'.').collect();
        if s.is_empty() || s.iter().any(|b| b" \t\r\n".contains(b)) {
            return false;
        }
        toks.iter().enumerate().all(|(i, t)| {
            !t.is_empty()
                && !(literal && (*t == b"*" || *t == b">"))
                && !(*t == b">" && i + 1 != toks.len())
        })
    }

    fn subject_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![
                b'a', b'b', b'.', b'*', b'>', b' ', b'\t', b'\r', b'\n', 0xff,
            ]),
            0..12,
        )
    }

    proptest! {
        #[test]
        fn validators_agree_with_model(s in subject_bytes()) {
            prop_assert_eq!(is_valid_subject(&s), model_valid(&s, false));
            prop_assert_eq!(is_valid_literal_subject(&s), model_valid(&s, true));
        }

        #[test]
        fn literal_means_valid_without_wildcards(s in subject_bytes()) {
            prop_assert_eq!(
                is_valid_literal_subject(&s),
                is_valid_subject(&s) && is_literal(&s)
            );
        }

        #[test]
        fn joined_plain_tokens_are_valid_literals(
            toks in prop::collection::vec("[a-zA-Z0-9_$*>-]{1,6}", 1..6)
        ) {
            let s = toks.join(".");
            let has_wildcard = toks.iter().any(|t| t == "*" || t == ">");
            let misplaced_fwc = toks[..toks.len() - 1].iter().any(|t| t == ">");
            prop_assert_eq!(is_valid_subject(s.as_bytes()), !misplaced_fwc);
            prop_assert_eq!(is_valid_literal_subject(s.as_bytes()), !has_wildcard);
        }

        /// Two patterns collide exactly when some literal subject over the
        /// same tokens matches both (checked by trying them all).
        #[test]
        fn collide_means_a_common_literal(a in small_pattern(), b in small_pattern()) {
            let common = small_literals().any(|l| {
                pattern_matches(a.as_bytes(), l.as_bytes()) && pattern_matches(b.as_bytes(), l.as_bytes())
            });
            prop_assert_eq!(subjects_collide(a.as_bytes(), b.as_bytes()), common, "{} {}", a, b);
            prop_assert_eq!(subjects_collide(b.as_bytes(), a.as_bytes()), common);
        }
    }

    /// Patterns of up to 4 tokens over `x`, `y`, `*` and a final `>`.
    fn small_pattern() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(prop::sample::select(vec!["x", "y", "*"]), 0..4),
            any::<bool>(),
        )
            .prop_filter_map("not empty", |(mut toks, tail)| {
                if tail {
                    toks.push(">");
                }
                (!toks.is_empty()).then(|| toks.join("."))
            })
    }

    /// Every literal of 1 to 5 tokens over `x` and `y` (enough for any two
    /// small patterns to share one when they collide).
    fn small_literals() -> impl Iterator<Item = String> {
        (1..=5u32).flat_map(|n| {
            (0..1u32 << n).map(move |bits| {
                (0..n)
                    .map(|i| if bits >> i & 1 == 1 { "y" } else { "x" })
                    .collect::<Vec<_>>()
                    .join(".")
            })
        })
    }
}

//! Malformed configs: every message starts with `file:line:col` and says what was expected.

use rnats_conf::{Error, ParseOptions};

fn error(text: &str) -> String {
    match ParseOptions::new()
        .without_environment()
        .parse_str(text, "nats.conf")
    {
        Ok(value) => panic!("parsed, but should not have: {value:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn unclosed_map() {
    assert_eq!(
        error("authorization {\n  user: derek\n  password: x\n"),
        "nats.conf:4:1: expected '}' to close the map opened at 1:15, found end of file"
    );
    assert_eq!(
        error("a {\n  b {\n    c: 1\n  }\n"),
        "nats.conf:5:1: expected '}' to close the map opened at 1:3, found end of file"
    );
}

#[test]
fn unclosed_array() {
    assert_eq!(
        error("routes = [\n  nats-route://a:6222\n"),
        "nats.conf:3:1: expected ']' to close the array opened at 1:10, found end of file"
    );
    assert_eq!(
        error("cluster {\n  routes = [\n    nats-route://a:6222\n}\n"),
        "nats.conf:4:1: expected ']' to close the array opened at 2:12, found '}'"
    );
}

#[test]
fn unclosed_strings() {
    assert_eq!(
        error("server_name: \"abc\n"),
        "nats.conf:2:1: expected '\"' to close the string opened at 1:14, found end of file"
    );
    assert_eq!(
        error("server_name: 'abc"),
        "nats.conf:1:18: expected \"'\" to close the string opened at 1:14, found end of file"
    );
    assert_eq!(
        error("token: (\nsecret\n  )\n"),
        "nats.conf:4:1: expected a line holding only ')' to close the block string opened at 1:8, found end of file"
    );
}

#[test]
fn bad_escapes() {
    assert_eq!(
        error("s: \"a\\qb\""),
        "nats.conf:1:6: invalid escape sequence '\\q' in a double-quoted string \
         (allowed: \\xXX with two hex digits, \\t, \\n, \\r, \\\", \\\\)"
    );
    assert!(error("s: \"\\x4g\"").starts_with("nats.conf:1:5: invalid escape sequence '\\x4g'"));
    assert!(error("s: \"\\u0041\"").starts_with("nats.conf:1:5: invalid escape sequence '\\u'"));
    assert_eq!(
        error("s: \"\\xff\""),
        "nats.conf:1:4: the \\x escapes in this string do not form valid UTF-8"
    );
}

#[test]
fn undefined_variable() {
    assert_eq!(
        error("authorization {\n  users = [{user: joe, password: $PASS}]\n}\n"),
        "nats.conf:2:34: variable $PASS is not defined in this block, an enclosing block or the environment"
    );
}

#[test]
fn variable_cycle() {
    assert_eq!(
        error("A: $A\n"),
        "nats.conf:1:4: variable reference cycle: $A -> $A"
    );
}

#[test]
fn missing_values() {
    assert_eq!(
        error("port:\n"),
        "nats.conf:1:6: expected a value for 'port', found end of line"
    );
    assert_eq!(
        error("port = # later\n"),
        "nats.conf:1:8: expected a value for 'port', found a comment"
    );
    assert_eq!(
        error("a { user }"),
        "nats.conf:1:10: expected a value for 'user', found '}'"
    );
    assert_eq!(
        error("port"),
        "nats.conf:1:5: expected a value for 'port', found end of file"
    );
}

#[test]
fn two_values_on_a_line() {
    assert_eq!(
        error("port: 4222 4333\n"),
        "nats.conf:1:12: expected a new line, ',' or ';' after the value of 'port', found '4'"
    );
    assert_eq!(
        error("a {user: x password: y}"),
        "nats.conf:1:12: expected a new line, ',', ';' or '}' after the value of 'user', found 'p'"
    );
}

#[test]
fn stray_closers() {
    assert_eq!(
        error("port: 1\n}\n"),
        "nats.conf:2:1: expected a key, found '}'"
    );
    assert_eq!(
        error("a {\n  b: 1\n]\n"),
        "nats.conf:3:1: expected a key or '}' to close the map opened at 1:3, found ']'"
    );
    assert_eq!(
        error("{ port: 1 }\nport: 2\n"),
        "nats.conf:2:1: expected end of file after the '}' closing the map opened at 1:1, found 'p'"
    );
}

#[test]
fn empty_array_elements() {
    assert_eq!(
        error("a: [1,,2]"),
        "nats.conf:1:7: expected an array element or ']', found ','"
    );
    assert_eq!(
        error("a: [,1]"),
        "nats.conf:1:5: expected an array element or ']', found ','"
    );
    assert_eq!(
        error("a: [1 2]"),
        "nats.conf:1:7: expected ',', a new line or ']' after an array element, found '2'"
    );
}

#[test]
fn empty_entries() {
    assert_eq!(
        error("a: 1,,\n"),
        "nats.conf:1:6: expected a key, found ','"
    );
    assert_eq!(
        error("a { ; }"),
        "nats.conf:1:5: expected a key or '}' to close the map opened at 1:3, found ';'"
    );
}

#[test]
fn integer_out_of_range() {
    assert_eq!(
        error("max_payload: 99999999999999999999\n"),
        "nats.conf:1:14: integer 99999999999999999999 is out of range (it must fit in a signed 64-bit integer)"
    );
    assert!(error("max_payload: 10e\n").starts_with("nats.conf:1:14: integer 10e is out of range"));
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let arrays = format!("a: {}", "[".repeat(100_000));
    assert_eq!(
        error(&arrays),
        "nats.conf:1:132: nesting is deeper than 128 levels (maps, arrays, includes and environment variables count)"
    );
    let maps = "a {\n".repeat(1000);
    assert!(error(&maps).starts_with("nats.conf:129:3: nesting is deeper than 128 levels"));
    // 128 levels are fine.
    let ok = format!("a: {}1{}", "[".repeat(128), "]".repeat(128));
    assert!(ParseOptions::new().parse_str(&ok, "nats.conf").is_ok());
}

#[test]
fn columns_count_characters_and_tabs_as_one() {
    assert_eq!(
        error("\tnom: \"é\\q\""),
        "nats.conf:1:9: invalid escape sequence '\\q' in a double-quoted string (allowed: \\xXX with two hex digits, \\t, \\n, \\r, \\\", \\\\)"
    );
}

#[test]
fn errors_expose_their_position() {
    let parsed = ParseOptions::new().parse_str("a {", "nats.conf");
    let Err(error @ Error::Unclosed { .. }) = parsed else {
        panic!("expected Unclosed, got {parsed:?}")
    };
    assert_eq!(
        error.pos().map(ToString::to_string).as_deref(),
        Some("nats.conf:1:4")
    );
}

#[test]
fn a_file_that_is_not_utf8_is_a_read_error() {
    let path = std::env::temp_dir().join(format!("rnats-conf-{}-latin1.conf", std::process::id()));
    std::fs::write(&path, b"server_name: caf\xe9\n").expect("write");
    let result = rnats_conf::parse_file(&path);
    let _ = std::fs::remove_file(&path);
    assert!(matches!(result, Err(Error::Read { .. })), "{result:?}");
}

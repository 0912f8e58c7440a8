//! Variables: `NAME: value` defines, an unquoted `$NAME` refers; blocks are scopes, searched from
//! the innermost outwards, then the environment.

use std::collections::HashMap;

use rnats_conf::{Map, ParseOptions, Value, ValueKind};

/// Parses with a fake environment, so tests do not depend on (or change) the process's.
fn parse_with_env(text: &str, env: &[(&str, &str)]) -> Result<Map, String> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ParseOptions::new()
        .environment(move |name| env.get(name).cloned())
        .parse_str(text, "nats.conf")
        .and_then(Value::into_map)
        .map_err(|error| error.to_string())
}

fn parse(text: &str) -> Map {
    parse_with_env(text, &[]).unwrap_or_else(|error| panic!("{error}"))
}

fn error(text: &str) -> String {
    parse_with_env(text, &[]).expect_err("should not parse")
}

fn get<'a>(map: &'a Map, key: &str) -> &'a Value {
    map.get(key).unwrap_or_else(|| panic!("no key {key}"))
}

fn kind(map: &Map, key: &str) -> ValueKind {
    get(map, key).kind.clone()
}

fn string(text: &str) -> ValueKind {
    ValueKind::String(text.to_owned())
}

#[test]
fn a_variable_defined_at_the_top_is_visible_in_nested_blocks() {
    let config = parse("PORT: 4222\nport: $PORT\ncluster { authorization { timeout: $PORT } }\n");
    assert_eq!(kind(&config, "port"), ValueKind::Integer(4222));
    let cluster = get(&config, "cluster").as_map().expect("a map");
    let authorization = get(cluster, "authorization").as_map().expect("a map");
    assert_eq!(kind(authorization, "timeout"), ValueKind::Integer(4222));
}

#[test]
fn the_innermost_definition_wins() {
    let config = parse("X: outer\na { X: inner, seen: $X }\nseen: $X\n");
    assert_eq!(
        kind(get(&config, "a").as_map().expect("a map"), "seen"),
        string("inner")
    );
    assert_eq!(kind(&config, "seen"), string("outer"));
}

#[test]
fn a_block_s_variables_are_not_visible_outside_it() {
    assert_eq!(
        error("a { X: 1 }\nport: $X\n"),
        "nats.conf:2:7: variable $X is not defined in this block, an enclosing block or the environment"
    );
}

#[test]
fn a_variable_must_be_defined_before_it_is_used() {
    assert_eq!(
        error("port: $X\nX: 1\n"),
        "nats.conf:1:7: variable $X is not defined in this block, an enclosing block or the environment"
    );
}

#[test]
fn variable_names_are_case_sensitive() {
    // Keys are looked up ignoring case, but the reference matches variable names exactly.
    assert!(error("x: 1\nport: $X\n").contains("variable $X is not defined"));
}

#[test]
fn variables_may_hold_maps_and_arrays() {
    let config = parse("USERS: [{user: a, password: b}]\nauthorization { users: $USERS }\n");
    let authorization = get(&config, "authorization").as_map().expect("a map");
    let users = get(authorization, "users").as_array().expect("an array");
    assert_eq!(users.len(), 1);
    // The copy is located where it is used; its insides where they were written.
    assert_eq!(
        get(authorization, "users").pos.to_string(),
        "nats.conf:2:24"
    );
    assert_eq!(users[0].pos.to_string(), "nats.conf:1:9");
}

#[test]
fn only_unquoted_dollars_at_the_start_are_references() {
    let config = parse("X: 1\na: \"$X\"\nb: '$X'\nc: a$X\n");
    assert_eq!(kind(&config, "a"), string("$X"));
    assert_eq!(kind(&config, "b"), string("$X"));
    assert_eq!(kind(&config, "c"), string("a$X"));
    assert!(!config.get_entry("X").expect("X").used_as_variable);
}

#[test]
fn bcrypt_hashes_are_literals() {
    for hash in [
        "$2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba",
        "$2b$10$abcdefghijklmnopqrstuv",
        "$2y$10$abcdefghijklmnopqrstuv",
    ] {
        let config = parse(&format!("password: {hash}\n"));
        assert_eq!(kind(&config, "password"), string(hash));
    }
}

#[test]
fn definitions_stay_keys_and_say_whether_they_were_used() {
    let config = parse("USED: 1\nUNUSED: 2\nport: $USED\n");
    let flags: Vec<_> = config
        .iter()
        .map(|e| (e.key.as_str(), e.used_as_variable))
        .collect();
    assert_eq!(flags, [("USED", true), ("UNUSED", false), ("port", false)]);
}

#[test]
fn undefined_variables_fall_back_to_the_environment() {
    let config = parse_with_env(
        "port: $PORT\nhost: $HOST\n",
        &[("PORT", "4333"), ("HOST", "0.0.0.0")],
    )
    .expect("parses");
    assert_eq!(kind(&config, "port"), ValueKind::Integer(4333));
    assert_eq!(kind(&config, "host"), string("0.0.0.0"));
    assert_eq!(get(&config, "port").pos.to_string(), "nats.conf:1:7");
}

#[test]
fn the_file_s_definitions_come_before_the_environment() {
    let config = parse_with_env("PORT: 1\nport: $PORT\n", &[("PORT", "2")]).expect("parses");
    assert_eq!(kind(&config, "port"), ValueKind::Integer(1));
}

#[test]
fn environment_values_are_parsed_as_config_values() {
    let env = [
        ("USERS", "[{user: a, password: b}]"),
        ("QUOTED", "\"4222\""),
        ("WITH_COMMENT", "4222 # the port"),
        ("EMPTY", ""),
        ("SIZE", "1MB"),
        ("CHAINED", "$SIZE"),
    ];
    let config = parse_with_env(
        "users: $USERS\nquoted: $QUOTED\nwith_comment: $WITH_COMMENT\nempty: $EMPTY\nchained: $CHAINED\n",
        &env,
    )
    .expect("parses");
    assert_eq!(
        get(&config, "users").as_array().map(<[Value]>::len).ok(),
        Some(1)
    );
    assert_eq!(kind(&config, "quoted"), string("4222"));
    assert_eq!(kind(&config, "with_comment"), ValueKind::Integer(4222));
    assert_eq!(kind(&config, "empty"), string(""));
    assert_eq!(kind(&config, "chained"), ValueKind::Integer(1 << 20));
}

#[test]
fn environment_values_do_not_see_the_file_s_variables() {
    let message = parse_with_env("X: 1\nport: $E\n", &[("E", "$X")]).expect_err("X is not visible");
    assert_eq!(
        message,
        "nats.conf:2:7: environment variable $E could not be parsed as a config value: \
         $E:1:1: variable $X is not defined in this block, an enclosing block or the environment"
    );
}

#[test]
fn an_environment_value_that_is_not_a_config_value_is_an_error() {
    let message = parse_with_env("port: $E\n", &[("E", "two words")]).expect_err("bad value");
    assert_eq!(
        message,
        "nats.conf:1:7: environment variable $E could not be parsed as a config value: \
         $E:1:5: expected the end of the value, found 'w'"
    );
}

#[test]
fn the_process_environment_is_the_default() {
    // Cargo sets CARGO_PKG_NAME for the tests it runs.
    let config = rnats_conf::parse_str("name: $CARGO_PKG_NAME\n", "nats.conf").expect("parses");
    assert_eq!(
        config
            .as_map()
            .ok()
            .and_then(|m| m.get("name"))
            .map(|v| v.kind.clone()),
        Some(string("rnats-conf"))
    );
    let without = ParseOptions::new()
        .without_environment()
        .parse_str("name: $CARGO_PKG_NAME\n", "nats.conf");
    assert!(without.is_err());
}

#[test]
fn a_variable_used_in_its_own_definition_is_a_cycle() {
    assert_eq!(
        error("X: $X\n"),
        "nats.conf:1:4: variable reference cycle: $X -> $X"
    );
    assert_eq!(
        error("X: { a: [$X] }\n"),
        "nats.conf:1:10: variable reference cycle: $X -> $X"
    );
    // ...unless an enclosing block defines it: then that one is meant.
    let config = parse("X: 1\na { X: $X }\n");
    assert_eq!(
        kind(get(&config, "a").as_map().expect("a map"), "X"),
        ValueKind::Integer(1)
    );
}

#[test]
fn environment_cycles_are_errors_not_stack_overflows() {
    // The reference nats-server v2.9.10 overflows its stack on these.
    let self_reference = parse_with_env("port: $E\n", &[("E", "$E")]).expect_err("cycle");
    assert_eq!(
        self_reference,
        "nats.conf:1:7: variable reference cycle: $E -> $E"
    );
    let cycle = parse_with_env(
        "port: $A\n",
        &[("A", "$B"), ("B", "[$C]"), ("C", "{x: $A}")],
    )
    .expect_err("cycle");
    assert_eq!(
        cycle,
        "nats.conf:1:7: variable reference cycle: $A -> $B -> $C -> $A"
    );
}

#[test]
fn a_dollar_needs_a_name() {
    assert_eq!(
        error("port: $\n"),
        "nats.conf:1:8: expected a variable name after '$', found end of line"
    );
}

#[test]
fn copies_through_variables_cannot_nest_without_bound() {
    // Each line nests the previous variable 100 levels deeper; the limit stops it.
    let mut text = format!("A0: {}1{}\n", "[".repeat(100), "]".repeat(100));
    for i in 1..5 {
        text.push_str(&format!(
            "A{i}: {}$A{}{}\n",
            "[".repeat(100),
            i - 1,
            "]".repeat(100)
        ));
    }
    let message = error(&text);
    assert!(
        message.contains("nesting is deeper than 128 levels"),
        "{message}"
    );
}

#[test]
fn long_environment_chains_are_bounded() {
    // E0 -> E1 -> … -> E999: no cycle, but the nesting limit stops it before the stack suffers.
    let lookup = |name: &str| {
        let index: usize = name.strip_prefix('E')?.parse().ok()?;
        Some(if index < 999 {
            format!("[$E{}]", index + 1)
        } else {
            "1".to_owned()
        })
    };
    let error = ParseOptions::new()
        .environment(lookup)
        .parse_str("port: $E0\n", "nats.conf")
        .expect_err("too deep");
    assert!(error.to_string().starts_with("nats.conf:1:7: "), "{error}");
    assert!(
        error
            .to_string()
            .contains("nesting is deeper than 128 levels"),
        "{error}"
    );
}

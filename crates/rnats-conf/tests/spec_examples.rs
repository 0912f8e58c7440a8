//! The config examples of the NATS documentation page "NATS Server Authentication"
//! (`/work/shared/spec/server-authentication.md` and the older rendering
//! `server-authentication-older-page.txt`), as a user would paste them into `nats.conf`.
//!
//! The `.md` copy has its code blocks flattened onto one line and the older page lost the
//! closing braces; the examples below have the line breaks of the older page and the braces of
//! the `.md` page. Both damaged forms are checked too: the reference nats-server rejects them,
//! and so does rnats, with a message that says where and why.

use rnats_conf::{Map, ParseOptions, Value, ValueKind};

fn parse(text: &str) -> Map {
    match ParseOptions::new()
        .without_environment()
        .parse_str(text, "nats.conf")
    {
        Ok(value) => value.into_map().expect("the root is a map"),
        Err(error) => panic!("{error}"),
    }
}

fn parse_error(text: &str) -> String {
    match ParseOptions::new()
        .without_environment()
        .parse_str(text, "nats.conf")
    {
        Ok(value) => panic!("parsed, but should not have: {value:?}"),
        Err(error) => error.to_string(),
    }
}

fn get<'a>(map: &'a Map, key: &str) -> &'a Value {
    map.get(key).unwrap_or_else(|| panic!("no key {key}"))
}

fn str_of<'a>(map: &'a Map, key: &str) -> &'a str {
    get(map, key).as_str().expect("a string")
}

fn users(authorization: &Map) -> Vec<(String, String)> {
    let users = get(authorization, "users").as_array().expect("an array");
    users
        .iter()
        .map(|user| {
            let user = user.as_map().expect("a map");
            (
                str_of(user, "user").to_owned(),
                str_of(user, "password").to_owned(),
            )
        })
        .collect()
}

#[test]
fn single_user() {
    let config = parse(
        "authorization {
  user:     derek
  password: T0pS3cr3t
  timeout:  1
}
",
    );
    let authorization = get(&config, "authorization").as_map().expect("a map");
    assert_eq!(str_of(authorization, "user"), "derek");
    assert_eq!(str_of(authorization, "password"), "T0pS3cr3t");
    assert_eq!(get(authorization, "timeout").kind, ValueKind::Integer(1));
}

#[test]
fn route_authorization_inside_cluster() {
    let config = parse(
        "cluster {
  authorization {
    user: route_user
    password: T0pS3cr3tT00!
    timeout: 0.5
  }
}
",
    );
    let cluster = get(&config, "cluster").as_map().expect("a map");
    let authorization = get(cluster, "authorization").as_map().expect("a map");
    assert_eq!(str_of(authorization, "user"), "route_user");
    assert_eq!(str_of(authorization, "password"), "T0pS3cr3tT00!");
    assert_eq!(get(authorization, "timeout").kind, ValueKind::Float(0.5));
}

#[test]
fn multi_user() {
    let config = parse(
        "authorization {
  users = [
    {user: alice, password: foo}
    {user: bob,   password: bar}
  ]
}
",
    );
    let authorization = get(&config, "authorization").as_map().expect("a map");
    assert_eq!(
        users(authorization),
        [("alice".into(), "foo".into()), ("bob".into(), "bar".into())]
    );
}

#[test]
fn password_from_a_variable() {
    let config = parse(
        "authorization {
  PASS: abcdefghijklmnopqrstuvwxyz0123456789
  users = [
    {user: alice, password: foo}
    {user: bob,   password: bar}
    {user: joe,   password: $PASS}
  ]
}
",
    );
    let authorization = get(&config, "authorization").as_map().expect("a map");
    assert_eq!(
        users(authorization),
        [
            ("alice".into(), "foo".into()),
            ("bob".into(), "bar".into()),
            ("joe".into(), "abcdefghijklmnopqrstuvwxyz0123456789".into()),
        ]
    );
    // The definition stays a key, marked so that the server does not report it as unknown.
    let pass = authorization.get_entry("PASS").expect("PASS is kept");
    assert!(pass.used_as_variable);
    assert_eq!(pass.key_pos.to_string(), "nats.conf:2:3");
    // The substituted value is located where `$PASS` was written.
    let joe = &get(authorization, "users").as_array().expect("an array")[2];
    let joe_password = get(joe.as_map().expect("a map"), "password");
    assert_eq!(joe_password.pos.to_string(), "nats.conf:6:29");
}

#[test]
fn bcrypt_hash_from_mkpasswd_unquoted_and_quoted() {
    let hash = "$2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba";
    let config = parse(
        "authorization {
  users = [
    {user: alice, password: $2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba}
    {user: bob,   password: \"$2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba\"}
  ]
}
",
    );
    let authorization = get(&config, "authorization").as_map().expect("a map");
    assert_eq!(
        users(authorization),
        [("alice".into(), hash.into()), ("bob".into(), hash.into())]
    );
}

#[test]
fn the_md_page_flattened_onto_one_line_needs_separators() {
    // `authorization { user: derek password: T0pS3cr3t timeout: 1 }`: the reference says
    // "Expected a map value terminator "," or a map terminator "}", but got 'p' instead."
    assert_eq!(
        parse_error("authorization { user: derek password: T0pS3cr3t timeout: 1 }"),
        "nats.conf:1:29: expected a new line, ',', ';' or '}' after the value of 'user', found 'p'"
    );
    assert_eq!(
        parse_error(
            "authorization { users = [ {user: alice, password: foo} {user: bob, password: bar} ] }"
        ),
        "nats.conf:1:56: expected ',', a new line or ']' after an array element, found '{'"
    );
}

#[test]
fn the_older_page_lost_its_closing_braces() {
    // The reference says "Unexpected EOF processing map."
    assert_eq!(
        parse_error(
            "authorization {
  user:     derek
  password: T0pS3cr3t
  timeout:  1
"
        ),
        "nats.conf:5:1: expected '}' to close the map opened at 1:15, found end of file"
    );
    assert_eq!(
        parse_error(
            "authorization {
  PASS: abcdefghijklmnopqrstuvwxyz0123456789
  users = [
    {user: alice, password: foo}
    {user: bob,   password: bar}
    {user: joe,   password: $PASS}
"
        ),
        "nats.conf:7:1: expected ']' to close the array opened at 3:11, found end of file"
    );
}

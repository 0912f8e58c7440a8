//! The syntax of the language, shown on nats-server style configs.
//! The configs were also run through the reference (`nats-server -t -c`). One difference: the
//! reference v2.9.10 rejects a number or boolean written right before `]` (`[1, 2, 3]`), a bug
//! rnats does not copy.

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

fn get<'a>(map: &'a Map, key: &str) -> &'a Value {
    map.get(key).unwrap_or_else(|| panic!("no key {key}"))
}

fn kind(map: &Map, key: &str) -> ValueKind {
    get(map, key).kind.clone()
}

fn string(text: &str) -> ValueKind {
    ValueKind::String(text.to_owned())
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| item.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn a_typical_server_config() {
    let config = parse(
        r#"# A typical server config
server_name: "hub-1"
listen: 127.0.0.1:4222
http = 8222          // monitoring
max_payload: 1MB
max_pending: 64MB
max_connections: 64K
write_deadline: "10s"
ping_interval: "2m"
ping_max: 2
debug: false
trace: off
logtime: yes

tls {
  cert_file: "./x.pem"
  key_file:  './x-key.pem'
  timeout: 2
}

cluster {
  name: hub
  listen: 0.0.0.0:6222
  routes = [
    nats-route://a:b@host:6222
    nats-route://other:6222
  ]
}

accounts {
  A: {
    users: [{user: a, password: b}]
    exports: [{stream: "foo.>"}]
  }
  B: {
    users: [
      {user: c, password: d}
    ]
    imports: [
      {stream: {account: A, subject: "foo.>"}},
    ]
  }
}
"#,
    );
    assert_eq!(kind(&config, "server_name"), string("hub-1"));
    assert_eq!(kind(&config, "listen"), string("127.0.0.1:4222"));
    assert_eq!(kind(&config, "http"), ValueKind::Integer(8222));
    assert_eq!(
        kind(&config, "max_payload"),
        ValueKind::Integer(1024 * 1024)
    );
    assert_eq!(
        kind(&config, "max_pending"),
        ValueKind::Integer(64 * 1024 * 1024)
    );
    assert_eq!(kind(&config, "max_connections"), ValueKind::Integer(64_000));
    assert_eq!(kind(&config, "write_deadline"), string("10s"));
    assert_eq!(kind(&config, "ping_max"), ValueKind::Integer(2));
    assert_eq!(kind(&config, "debug"), ValueKind::Bool(false));
    assert_eq!(kind(&config, "trace"), ValueKind::Bool(false));
    assert_eq!(kind(&config, "logtime"), ValueKind::Bool(true));

    let tls = get(&config, "tls").as_map().expect("a map");
    assert_eq!(kind(tls, "cert_file"), string("./x.pem"));
    assert_eq!(kind(tls, "key_file"), string("./x-key.pem"));

    let cluster = get(&config, "cluster").as_map().expect("a map");
    assert_eq!(kind(cluster, "listen"), string("0.0.0.0:6222"));
    assert_eq!(
        strings(get(cluster, "routes")),
        ["nats-route://a:b@host:6222", "nats-route://other:6222"]
    );

    let accounts = get(&config, "accounts").as_map().expect("a map");
    assert_eq!(accounts.keys().collect::<Vec<_>>(), ["A", "B"]);
    let a = get(accounts, "a").as_map().expect("a map");
    let export = get(a, "exports").as_array().expect("an array")[0]
        .as_map()
        .expect("a map");
    assert_eq!(kind(export, "stream"), string("foo.>"));
    let b = get(accounts, "B").as_map().expect("a map");
    let import = get(b, "imports").as_array().expect("an array")[0]
        .as_map()
        .expect("a map");
    let stream = get(import, "stream").as_map().expect("a map");
    assert_eq!(kind(stream, "account"), string("A"));
    assert_eq!(kind(stream, "subject"), string("foo.>"));
}

#[test]
fn keys_and_values_are_separated_by_colon_equals_or_blanks() {
    let config = parse("a: 1\nb = 2\nc 3\nd:4\ne=5\nf\t6\n");
    let numbers: Vec<_> = config
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_i64().ok()))
        .collect();
    assert_eq!(
        numbers,
        [
            ("a", Some(1)),
            ("b", Some(2)),
            ("c", Some(3)),
            ("d", Some(4)),
            ("e", Some(5)),
            ("f", Some(6))
        ]
    );
}

#[test]
fn entries_may_end_with_semicolons_or_commas() {
    let config = parse(
        "port: 4222; server_name: x, debug: true;\nauthorization { user: a; password: b; }\n",
    );
    assert_eq!(
        config.keys().collect::<Vec<_>>(),
        ["port", "server_name", "debug", "authorization"]
    );
    let authorization = get(&config, "authorization").as_map().expect("a map");
    assert_eq!(kind(authorization, "password"), string("b"));
}

#[test]
fn the_whole_file_may_be_wrapped_in_braces() {
    let config = parse("{\n  port = 4222;\n  \"server_name\": 'quoted-key';\n}\n");
    assert_eq!(kind(&config, "port"), ValueKind::Integer(4222));
    assert_eq!(kind(&config, "server_name"), string("quoted-key"));
}

#[test]
fn a_map_may_open_on_the_next_line() {
    let config = parse("authorization\n{\n  user: a\n}\n");
    let authorization = get(&config, "authorization").as_map().expect("a map");
    assert_eq!(kind(authorization, "user"), string("a"));
}

#[test]
fn keys_are_looked_up_ignoring_case_but_keep_their_spelling_and_order() {
    let config = parse("Authorization { User: a }\nPORT: 1\nlisten: x\n");
    assert!(config.contains_key("authorization"));
    assert_eq!(
        kind(
            get(&config, "AUTHORIZATION").as_map().expect("a map"),
            "user"
        ),
        string("a")
    );
    assert_eq!(
        config.keys().collect::<Vec<_>>(),
        ["Authorization", "PORT", "listen"]
    );
}

#[test]
fn a_repeated_key_takes_the_last_value() {
    let config = parse("port: 1\nhost: h\nport: 2\n");
    assert_eq!(kind(&config, "port"), ValueKind::Integer(2));
    assert_eq!(config.keys().collect::<Vec<_>>(), ["port", "host"]);
    // Spelled differently, both entries stay (for variables), and lookup finds the last one.
    let config = parse("PORT: 1\nport: 2\n");
    assert_eq!(kind(&config, "Port"), ValueKind::Integer(2));
    assert_eq!(config.len(), 2);
}

#[test]
fn comments_start_with_hash_or_double_slash() {
    let config = parse(
        "# full line\n// also full line\nport: 4222 # trailing\nauthorization { # after brace\n  users = [ # after bracket\n    # inside\n    {user: a, password: b} // after element\n  ]\n}\n",
    );
    assert_eq!(kind(&config, "port"), ValueKind::Integer(4222));
    assert_eq!(config.len(), 2);
}

#[test]
fn a_hash_inside_an_unquoted_word_is_not_a_comment() {
    let config = parse("token: abc#def\nurl: http://host/path\n");
    assert_eq!(kind(&config, "token"), string("abc#def"));
    assert_eq!(kind(&config, "url"), string("http://host/path"));
}

#[test]
fn double_quoted_strings_have_escapes() {
    let config = parse(r#"s: "tab\there \"quoted\" back\\slash \x41\x42 new\nline \r""#);
    assert_eq!(
        kind(&config, "s"),
        string("tab\there \"quoted\" back\\slash AB new\nline \r")
    );
}

#[test]
fn quoted_strings_may_span_lines() {
    let config = parse("a: \"one\ntwo\"\nb: 'three\nfour'\n");
    assert_eq!(kind(&config, "a"), string("one\ntwo"));
    assert_eq!(kind(&config, "b"), string("three\nfour"));
}

#[test]
fn single_quoted_strings_are_raw() {
    let config = parse(r"s: 'C:\new\table $HOME'");
    assert_eq!(kind(&config, "s"), string(r"C:\new\table $HOME"));
}

#[test]
fn quoted_numbers_and_booleans_stay_strings() {
    let config = parse("a: \"4222\"\nb: 'true'\n");
    assert_eq!(kind(&config, "a"), string("4222"));
    assert_eq!(kind(&config, "b"), string("true"));
}

#[test]
fn block_strings_run_to_a_line_holding_only_a_paren() {
    let config = parse("authorization {\n  token: (\nsome\nmulti-line (text)\n)\n}\nport: 1\n");
    let authorization = get(&config, "authorization").as_map().expect("a map");
    assert_eq!(
        kind(authorization, "token"),
        string("\nsome\nmulti-line (text)\n")
    );
    assert_eq!(kind(&config, "port"), ValueKind::Integer(1));
}

#[test]
fn unquoted_strings_end_at_blanks_commas_semicolons_and_closers() {
    let config = parse("a { b: x,y: z}\nc: w;d: v\n");
    let a = get(&config, "a").as_map().expect("a map");
    assert_eq!(kind(a, "b"), string("x"));
    assert_eq!(kind(a, "y"), string("z"));
    assert_eq!(kind(&config, "c"), string("w"));
    assert!(
        parse("list: [one,two]")
            .get("list")
            .is_some_and(|v| strings(v) == ["one", "two"])
    );
}

#[test]
fn sizes_take_decimal_and_binary_suffixes_in_any_case() {
    let config = parse(
        "k: 1k\nkb: 1kb\nki: 1Ki\nkib: 1KIB\nm: 1m\nmb: 1MB\ng: 2g\ngib: 2GiB\nt: 1T\ntb: 1tb\np: 1p\ne: 1e\neb: 1EB\n",
    );
    let expected = [
        ("k", 1_000),
        ("kb", 1 << 10),
        ("ki", 1 << 10),
        ("kib", 1 << 10),
        ("m", 1_000_000),
        ("mb", 1 << 20),
        ("g", 2_000_000_000),
        ("gib", 2 << 30),
        ("t", 1_000_000_000_000),
        ("tb", 1 << 40),
        ("p", 1_000_000_000_000_000),
        ("e", 1_000_000_000_000_000_000),
        ("eb", 1 << 60),
    ];
    for (key, number) in expected {
        assert_eq!(kind(&config, key), ValueKind::Integer(number), "{key}");
    }
    assert_eq!(get(&config, "mb").size_suffix.as_deref(), Some("MB"));
}

#[test]
fn numbers_may_be_negative_or_fractional() {
    let config = parse("a: -1\nb: 0.5\nc: -2.25\nd: 0\n");
    assert_eq!(kind(&config, "a"), ValueKind::Integer(-1));
    assert_eq!(kind(&config, "b"), ValueKind::Float(0.5));
    assert_eq!(kind(&config, "c"), ValueKind::Float(-2.25));
    assert_eq!(kind(&config, "d"), ValueKind::Integer(0));
    assert_eq!(get(&config, "a").size_suffix, None);
}

#[test]
fn booleans_have_several_spellings() {
    let config = parse("a: true\nb: FALSE\nc: yes\nd: No\ne: on\nf: OFF\n");
    let flags: Vec<_> = config.iter().map(|e| e.value.as_bool().ok()).collect();
    assert_eq!(
        flags,
        [
            Some(true),
            Some(false),
            Some(true),
            Some(false),
            Some(true),
            Some(false)
        ]
    );
}

#[test]
fn words_starting_with_digits_that_are_not_numbers_are_strings() {
    let config =
        parse("a: 127.0.0.1:4222\nb: 10.0.0.1\nc: 2016-05-04T18:53:41Z\nd: 1m30s\ne: 100ms\n");
    assert_eq!(kind(&config, "a"), string("127.0.0.1:4222"));
    assert_eq!(kind(&config, "b"), string("10.0.0.1"));
    assert_eq!(kind(&config, "c"), string("2016-05-04T18:53:41Z"));
    assert_eq!(kind(&config, "d"), string("1m30s"));
    assert_eq!(kind(&config, "e"), string("100ms"));
}

#[test]
fn arrays_separate_elements_with_commas_or_new_lines() {
    let config = parse(
        "a: [1, 2, 3]\nb: [\n  1\n  2,\n  3,\n]\nc: []\nd: [[1, 2], [3]]\ne: [x, \"y\", 'z', 1, true, {k: v}]\n",
    );
    let numbers = |key| {
        get(&config, key)
            .as_array()
            .expect("an array")
            .iter()
            .map(|v| v.as_i64().ok())
            .collect::<Vec<_>>()
    };
    assert_eq!(numbers("a"), [Some(1), Some(2), Some(3)]);
    assert_eq!(numbers("b"), [Some(1), Some(2), Some(3)]);
    assert!(numbers("c").is_empty());
    let nested = get(&config, "d").as_array().expect("an array");
    assert_eq!(nested[0].as_array().map(<[Value]>::len).ok(), Some(2));
    let mixed = get(&config, "e").as_array().expect("an array");
    assert_eq!(
        mixed.iter().map(|v| v.kind.type_name()).collect::<Vec<_>>(),
        [
            "a string",
            "a string",
            "a string",
            "an integer",
            "a boolean",
            "a map"
        ]
    );
}

#[test]
fn every_key_and_value_knows_its_position() {
    let config = parse("port: 4222\nauthorization {\n  user: derek\n}\n");
    let port = config.get_entry("port").expect("port");
    assert_eq!(
        (port.key_pos.to_string(), port.value.pos.to_string()),
        ("nats.conf:1:1".into(), "nats.conf:1:7".into())
    );
    let authorization = get(&config, "authorization");
    assert_eq!(authorization.pos.to_string(), "nats.conf:2:15");
    let user = authorization
        .as_map()
        .expect("a map")
        .get_entry("user")
        .expect("user");
    assert_eq!(
        (user.key_pos.line, user.key_pos.col, user.value.pos.col),
        (3, 3, 9)
    );
}

#[test]
fn empty_and_comment_only_files_are_empty_maps() {
    assert!(parse("").is_empty());
    assert!(parse("\n# nothing here\n\n").is_empty());
    assert!(parse("{}").is_empty());
}

#[test]
fn windows_line_endings_are_fine() {
    let config = parse("port: 4222\r\nauthorization {\r\n  user: a\r\n}\r\ns: (\r\ntext\r\n)\r\n");
    assert_eq!(kind(&config, "port"), ValueKind::Integer(4222));
    assert_eq!(kind(&config, "s"), string("\r\ntext\r\n"));
}

#[test]
fn keys_may_be_quoted() {
    let config = parse("\"a key\": 1\n'b.key': 2\n");
    assert_eq!(config.keys().collect::<Vec<_>>(), ["a key", "b.key"]);
}

//! `include file.conf`: the keys of another file, relative to the including file, merged into
//! the current block.

use std::path::{Path, PathBuf};

use rnats_conf::{Map, ParseOptions, Value, ValueKind};

/// A scratch directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rnats-conf-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.0.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(&path, text).expect("write file");
        path
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parse_file(path: &Path) -> Map {
    match ParseOptions::new().without_environment().parse_file(path) {
        Ok(value) => value.into_map().expect("the root is a map"),
        Err(error) => panic!("{error}"),
    }
}

fn parse_file_error(path: &Path) -> String {
    match ParseOptions::new().without_environment().parse_file(path) {
        Ok(value) => panic!("parsed, but should not have: {value:?}"),
        Err(error) => error.to_string(),
    }
}

fn get<'a>(map: &'a Map, key: &str) -> &'a Value {
    map.get(key).unwrap_or_else(|| panic!("no key {key}"))
}

#[test]
fn included_keys_merge_into_the_current_block() {
    let dir = TempDir::new("merge");
    dir.write("auth.conf", "user: a\npassword: b\n");
    dir.write("port.conf", "port: 4333\n");
    let main = dir.write(
        "main.conf",
        "include ./port.conf\nauthorization {\n  timeout: 2\n  include auth.conf\n}\nserver_name: x\n",
    );
    let config = parse_file(&main);
    assert_eq!(
        config.keys().collect::<Vec<_>>(),
        ["port", "authorization", "server_name"]
    );
    let authorization = get(&config, "authorization").as_map().expect("a map");
    assert_eq!(
        authorization.keys().collect::<Vec<_>>(),
        ["timeout", "user", "password"]
    );
}

#[test]
fn the_file_name_may_be_quoted_and_the_keyword_in_any_case() {
    let dir = TempDir::new("quoted");
    dir.write("a b.conf", "a: 1\n");
    dir.write("c.conf", "c: 3\n");
    dir.write("d.conf", "d: 4\n");
    let main = dir.write(
        "main.conf",
        "include \"a b.conf\"\nInclude 'c.conf'; INCLUDE d.conf # comment\n",
    );
    assert_eq!(
        parse_file(&main).keys().collect::<Vec<_>>(),
        ["a", "c", "d"]
    );
}

#[test]
fn includes_are_relative_to_the_including_file() {
    let dir = TempDir::new("relative");
    dir.write("conf/main.conf", "include sub/accounts.conf\n");
    dir.write(
        "conf/sub/accounts.conf",
        "accounts { include ../../shared/users.conf }\n",
    );
    dir.write(
        "shared/users.conf",
        "A: { users: [{user: a, password: b}] }\n",
    );
    let config = parse_file(&dir.path().join("conf/main.conf"));
    let accounts = get(&config, "accounts").as_map().expect("a map");
    assert!(accounts.contains_key("a"));
}

#[test]
fn positions_name_the_included_file() {
    let dir = TempDir::new("positions");
    let port = dir.write("port.conf", "\n  port: 4222\n");
    let main = dir.write("main.conf", "include port.conf\n");
    let config = parse_file(&main);
    let entry = config.get_entry("port").expect("port");
    assert_eq!(entry.key_pos.to_string(), format!("{}:2:3", port.display()));
}

#[test]
fn variables_defined_in_an_included_file_are_visible_after_it() {
    let dir = TempDir::new("variables");
    dir.write(
        "vars.conf",
        "PASS: s3cr3t\nBASE_PORT: 4222\nUSER_PORT: $BASE_PORT\n",
    );
    let main = dir.write(
        "main.conf",
        "include vars.conf\nport: $USER_PORT\nauthorization { user: a, password: $PASS }\n",
    );
    let config = parse_file(&main);
    assert_eq!(get(&config, "port").kind, ValueKind::Integer(4222));
    let authorization = get(&config, "authorization").as_map().expect("a map");
    assert_eq!(get(authorization, "password").as_str().ok(), Some("s3cr3t"));
    assert!(config.get_entry("PASS").is_some_and(|e| e.used_as_variable));
    assert!(
        config
            .get_entry("BASE_PORT")
            .is_some_and(|e| e.used_as_variable)
    );
}

#[test]
fn an_included_file_does_not_see_the_including_file_s_variables() {
    // As in the reference: "error parsing include file 'usebase.conf', variable reference for
    // 'BASE' on line 1 can not be found". Only the environment is shared.
    let dir = TempDir::new("isolated");
    let used = dir.write("usebase.conf", "port: $BASE\n");
    let main = dir.write("main.conf", "BASE: 4444\ninclude usebase.conf\n");
    assert_eq!(
        parse_file_error(&main),
        format!(
            "{}:1:7: variable $BASE is not defined in this block, an enclosing block or the environment",
            used.display()
        )
    );
    let with_env = ParseOptions::new()
        .environment(|name| (name == "BASE").then(|| "5555".to_owned()))
        .parse_file(&main)
        .expect("parses");
    let port = with_env
        .as_map()
        .ok()
        .and_then(|m| m.get("port"))
        .map(|v| v.kind.clone());
    assert_eq!(port, Some(ValueKind::Integer(5555)));
}

#[test]
fn an_included_file_may_be_wrapped_in_braces() {
    let dir = TempDir::new("braces");
    dir.write("tls.conf", "{\n  cert_file: \"./x.pem\"\n}\n");
    let main = dir.write("main.conf", "tls { include tls.conf }\n");
    let tls = parse_file(&main);
    let tls = get(&tls, "tls").as_map().expect("a map");
    assert_eq!(get(tls, "cert_file").as_str().ok(), Some("./x.pem"));
}

#[test]
fn include_followed_by_a_colon_is_an_ordinary_key() {
    let config = ParseOptions::new()
        .parse_str("include: file.conf\n", "nats.conf")
        .expect("parses");
    let config = config.as_map().expect("a map");
    assert_eq!(get(config, "include").as_str().ok(), Some("file.conf"));
}

#[test]
fn include_cycles_are_errors() {
    let dir = TempDir::new("cycle");
    let a = dir.write("a.conf", "x: 1\ninclude b.conf\n");
    let b = dir.write("b.conf", "\ninclude   a.conf\n");
    assert_eq!(
        parse_file_error(&a),
        format!(
            "{b}:2:11: include cycle: {a} -> {b} -> {a}",
            a = a.display(),
            b = b.display()
        )
    );
    let myself = dir.write("self.conf", "include self.conf\n");
    assert!(parse_file_error(&myself).contains("include cycle"));
}

#[test]
fn a_missing_include_names_the_file_and_the_line() {
    let dir = TempDir::new("missing");
    let main = dir.write("main.conf", "port: 1\ninclude nothere.conf\n");
    let message = parse_file_error(&main);
    let expected = format!(
        "{}:2:9: cannot read include file '{}': ",
        main.display(),
        dir.path().join("nothere.conf").display()
    );
    assert!(message.starts_with(&expected), "{message}");
}

#[test]
fn include_needs_a_file_name() {
    let error = ParseOptions::new()
        .parse_str("include  # nothing\n", "nats.conf")
        .expect_err("no name");
    assert_eq!(
        error.to_string(),
        "nats.conf:1:10: expected a file name after 'include', found a comment"
    );
}

#[test]
fn parse_str_includes_are_relative_to_the_include_dir_option() {
    let dir = TempDir::new("parse-str");
    dir.write("port.conf", "port: 4333\n");
    let config = ParseOptions::new()
        .include_dir(dir.path())
        .parse_str("include port.conf\n", "inline")
        .expect("parses");
    assert_eq!(
        config
            .as_map()
            .ok()
            .and_then(|m| m.get("port"))
            .map(|v| v.kind.clone()),
        Some(ValueKind::Integer(4333))
    );
    // Without it, they are relative to the current directory.
    let error =
        rnats_conf::parse_str("include no-such-rnats-file.conf\n", "inline").expect_err("missing");
    assert!(
        error
            .to_string()
            .starts_with("inline:1:9: cannot read include file 'no-such-rnats-file.conf': "),
        "{error}"
    );
}

#[test]
fn a_missing_config_file_is_a_read_error() {
    let error = rnats_conf::parse_file("/no/such/dir/nats.conf").expect_err("missing");
    assert!(
        error
            .to_string()
            .starts_with("cannot read config file '/no/such/dir/nats.conf': "),
        "{error}"
    );
    assert!(error.pos().is_none());
}

#[test]
fn long_include_chains_are_bounded() {
    let dir = TempDir::new("chain");
    for i in 0..200 {
        dir.write(&format!("f{i}.conf"), &format!("include f{}.conf\n", i + 1));
    }
    dir.write("f200.conf", "port: 1\n");
    let message = parse_file_error(&dir.path().join("f0.conf"));
    assert!(
        message.contains("nesting is deeper than 128 levels"),
        "{message}"
    );
}

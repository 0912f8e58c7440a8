//! Property tests: no input makes the parser panic or overflow the stack — arbitrary text,
//! text from the language's own characters, and random edits of valid configs.

use proptest::prelude::*;
use rnats_conf::{ParseOptions, Value, ValueKind};

const VALID_CONFIGS: &[&str] = &[
    "authorization {\n  user:     derek\n  password: T0pS3cr3t\n  timeout:  1\n}\n",
    "authorization {\n  PASS: abcdefghijklmnopqrstuvwxyz0123456789\n  users = [\n    {user: alice, password: foo}\n    {user: bob,   password: bar}\n    {user: joe,   password: $PASS}\n  ]\n}\n",
    "listen: 127.0.0.1:4222\nmax_payload: 1MB\nping_interval: \"2m\"\ndebug: on\n",
    "cluster {\n  listen: 0.0.0.0:6222\n  routes = [\n    nats-route://a:b@host:6222\n  ]\n}\n",
    "accounts {\n  A: {\n    users: [{user: a, password: $2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba}]\n    exports: [{stream: \"foo.>\"}]\n  }\n}\n",
    "{\n  s: \"tab\\there \\x41\"\n  r: 'raw'\n  b: (\nblock\n)\n  n: [-1, 0.5, 1k, 2KiB, true]\n}\n",
    "X: 1\na { X: 2, y: $X, z: [$X, {w: $X}] }\nv: $ENV_A\n",
    "include missing.conf\n# comment\n// comment\nport = 4222;\n",
];

/// Characters that matter to the grammar, plus a few others.
const ALPHABET: &[&str] = &[
    "{", "}", "[", "]", "(", ")", "\n", ")\n", "\n)\n", " ", "\t", "\r\n", ":", "=", ",", ";", "#",
    "//", "\"", "'", "\\", "\\x", "\\x4", "$", "$A", "$ENV_A", "$ENV_B", "$2a$", "include ", "a",
    "key", "1", "-", ".", "1m", "1.5", "e", "true", "é", "\u{feff}", "\0",
];

fn environment(name: &str) -> Option<String> {
    match name {
        "ENV_A" => Some("[$ENV_B]".to_owned()),
        "ENV_B" => Some("{x: $ENV_A}".to_owned()),
        "ENV_C" => Some("4222".to_owned()),
        _ => None,
    }
}

fn parse(text: &str) {
    let options = ParseOptions::new()
        .environment(environment)
        .include_dir("/nonexistent-rnats-conf-dir");
    match options.parse_str(text, "fuzz.conf") {
        Ok(value) => exercise(&value),
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.starts_with("fuzz.conf:") || message.starts_with("$ENV_"),
                "{message}"
            );
        }
    }
}

/// Uses every accessor on every value, as the server layer would.
fn exercise(value: &Value) {
    let _ = value.as_duration();
    let _ = (
        value.as_str(),
        value.as_i64(),
        value.as_f64(),
        value.as_bool(),
    );
    match &value.kind {
        ValueKind::Map(map) => {
            for entry in map {
                let _ = map.get(&entry.key.to_uppercase());
                exercise(&entry.value);
            }
        }
        ValueKind::Array(items) => items.iter().for_each(exercise),
        _ => {}
    }
}

fn from_alphabet() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..200).prop_map(|pieces| pieces.concat())
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, &'static str),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), prop::sample::select(ALPHABET))
            .prop_map(|(at, text)| Edit::Insert(at, text)),
        (any::<usize>(), 1..20usize).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<usize>(), 1..40usize).prop_map(|(at, len)| Edit::Duplicate(at, len)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// The nearest char boundary at or before `at % (len + 1)`.
fn boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &mut String, edit: &Edit) {
    match *edit {
        Edit::Insert(at, piece) => {
            let at = boundary(text, at);
            text.insert_str(at, piece);
        }
        Edit::Delete(at, len) => {
            let start = boundary(text, at);
            let end = boundary(text, start + len.min(text.len() - start));
            text.replace_range(start..end.max(start), "");
        }
        Edit::Duplicate(at, len) => {
            let start = boundary(text, at);
            let end = boundary(text, start + len.min(text.len() - start)).max(start);
            let copy = text[start..end].to_owned();
            text.insert_str(end, &copy);
        }
        Edit::Truncate(at) => {
            let at = boundary(text, at);
            text.truncate(at);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        parse(&text);
    }

    #[test]
    fn text_made_of_the_grammar_s_characters_never_panics(text in from_alphabet()) {
        parse(&text);
    }

    #[test]
    fn edited_valid_configs_never_panic(
        base in prop::sample::select(VALID_CONFIGS),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let mut text = base.to_owned();
        for edit in &edits {
            apply(&mut text, edit);
        }
        parse(&text);
    }

    #[test]
    fn deep_prefixes_never_overflow(opener in prop::sample::select(&["[", "{a:", "{a ", "a {", "[{a: "][..]), count in 0..2000usize) {
        parse(&opener.repeat(count));
    }
}

#[test]
fn the_valid_configs_are_valid() {
    for text in VALID_CONFIGS
        .iter()
        .filter(|t| !t.contains("include") && !t.contains("$ENV_A"))
    {
        let parsed = ParseOptions::new()
            .without_environment()
            .parse_str(text, "fuzz.conf");
        assert!(parsed.is_ok(), "{text}: {parsed:?}");
    }
}

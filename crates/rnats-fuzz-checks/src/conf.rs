//! The configuration language (`rnats_conf`): the input, read as UTF-8 (invalid sequences
//! replaced), is parsed as a config file with a fixed, self-referring environment and an
//! include directory that does not exist, so nothing outside the input is read. What parses
//! is then mapped onto the server's options (`rnats_server::config::apply`, which loads no
//! TLS file), unless it names an operator (an operator may be a file to read).
//!
//! Invariants:
//! - no input panics or exhausts the stack;
//! - an error names the file it is about (or the environment variable it came from);
//! - every value's position is inside the text (line and column from 1, at most one line
//!   past the last);
//! - every accessor works on every value, as the server's config layer uses them, and a
//!   duration it reads prints in Go's form (`format_duration`) and reads back the same;
//! - every problem the server's config layer finds says where it is.

use rnats_conf::{ParseOptions, Value, ValueKind, format_duration, parse_duration};
use rnats_server::Options;

/// The name the input is parsed under.
const FILE: &str = "fuzz.conf";

fn environment(name: &str) -> Option<String> {
    match name {
        "ENV_A" => Some("[$ENV_B]".to_owned()),
        "ENV_B" => Some("{x: $ENV_A}".to_owned()),
        "ENV_C" => Some("4222".to_owned()),
        "ENV_D" => Some("\"2s\"".to_owned()),
        _ => None,
    }
}

/// Parses `data` as a config file and panics if an invariant breaks (see the module).
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let options = ParseOptions::new()
        .environment(environment)
        .include_dir("/nonexistent-rnats-fuzz-dir");
    match options.parse_str(&text, FILE) {
        Ok(value) => {
            let lines = text.split('\n').count() + 1;
            exercise(&value, lines);
            map_onto_options(&value);
        }
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.starts_with(FILE) || message.starts_with("$ENV_"),
                "an error that does not say where: {message}"
            );
        }
    }
}

/// Uses every accessor on every value, and checks its position.
fn exercise(value: &Value, lines: usize) {
    let pos = &value.pos;
    if &*pos.file == FILE {
        assert!(
            pos.line >= 1 && (pos.line as usize) <= lines && pos.col >= 1,
            "position {pos} outside the text"
        );
    }
    let _ = (
        value.as_str(),
        value.as_i64(),
        value.as_f64(),
        value.as_bool(),
        value.kind.type_name(),
        value.height(),
    );
    if let Ok((duration, _)) = value.as_duration() {
        let printed = format_duration(duration);
        assert_eq!(
            parse_duration(&printed),
            Ok(duration),
            "{duration:?} printed as {printed:?} does not read back"
        );
    }
    match &value.kind {
        ValueKind::Map(map) => {
            for entry in map {
                assert!(
                    map.contains_key(&entry.key),
                    "key {:?} not found",
                    entry.key
                );
                exercise(&entry.value, lines);
            }
        }
        ValueKind::Array(items) => items.iter().for_each(|v| exercise(v, lines)),
        _ => {}
    }
}

/// Maps a parsed config onto default options, as `rnats-server -c` does.
fn map_onto_options(root: &Value) {
    let names_an_operator = root.as_map().is_ok_and(|map| {
        map.keys().any(|key| {
            key.chars()
                .flat_map(char::to_lowercase)
                .collect::<String>()
                .contains("operator")
        })
    });
    if names_an_operator {
        return;
    }
    if let Err(error) = rnats_server::config::apply(&mut Options::default(), root) {
        for problem in &error.problems {
            assert!(
                problem.pos.is_some(),
                "a problem that does not say where: {problem}"
            );
        }
    }
}

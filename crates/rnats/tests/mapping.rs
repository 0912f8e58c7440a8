//! Runs the built `rnats` binary's `mapping` subcommand: subjects given as
//! arguments or on standard input, errors for subjects that do not match,
//! and a mapping the server would refuse.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn mapping(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .arg("mapping")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rnats runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("stdin is written");
    child.wait_with_output().expect("rnats finishes")
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("utf-8 output")
}

#[test]
fn prints_each_subject_mapped_or_its_error() {
    let out = mapping(
        &[
            "orders.*.*",
            "shard.{{partition(3,2)}}.{{wildcard(1)}}.{{splitFromLeft(2,1)}}",
            "orders.eu.42",
            "orders.eu",
            "orders.*.1",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "shard.2.eu.4.2\n\n\
         Error: no matching transforms available\n\n\n\
         Error: invalid subject\n\n\n"
    );
}

#[test]
fn reads_subjects_from_stdin_until_an_empty_line() {
    let out = mapping(&["a.>", "b.>"], "a.x\na.y.z\n\na.never\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Enter subjects to test, empty subject terminates.\n\n\
         NOTE: This only tests mappings, it does not add them to the server\n\n\
         b.x\n\nb.y.z\n\n"
    );
}

#[test]
fn a_mapping_that_cannot_be_made_is_an_error() {
    for (source, destination, error) in [
        (
            "a.*",
            "b.$2",
            "invalid mapping destination: wildcard index out of range in $2: [2]",
        ),
        (
            "a.*",
            "b.{{nope(1)}}",
            "invalid mapping destination: unknown function in {{nope(1)}}",
        ),
        ("a.*", "b.*", "invalid subject"),
    ] {
        let out = mapping(&[source, destination, "a.1"], "");
        assert!(!out.status.success());
        assert_eq!(text(&out.stdout), "");
        assert_eq!(
            text(&out.stderr),
            format!("rnats mapping: error: {error}\n"),
            "{source} -> {destination}"
        );
    }
}

//! Runs the built `rnats` binary's `passwd` subcommand and checks that what it prints verifies
//! with bcrypt: generated (`pass:` + `bcrypt hash:`) and entered on standard input (`-p`).

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `rnats passwd <args>` with `stdin` as its standard input.
fn passwd(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .arg("passwd")
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

fn stdout(output: &Output) -> &str {
    assert!(
        output.status.success(),
        "status {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    std::str::from_utf8(&output.stdout).expect("utf-8 output")
}

#[test]
fn generates_a_password_and_its_hash() {
    let output = passwd(&["--cost", "4"], "");
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let password = lines[0].strip_prefix("pass: ").expect("pass: line");
    let hash = lines[1].strip_prefix("bcrypt hash: ").expect("hash line");
    assert_eq!(password.len(), 22, "{password}");
    assert!(hash.starts_with("$2a$04$"), "{hash}");
    assert!(bcrypt::verify(password, hash).unwrap());
}

#[test]
fn hashes_a_password_read_twice_from_stdin() {
    let output = passwd(&["-p", "--cost", "4"], "T0pS3cr3t!\nT0pS3cr3t!\n");
    let text = stdout(&output);
    let hash = text
        .strip_prefix("bcrypt hash: ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("only a hash line: {text:?}"));
    assert!(hash.starts_with("$2a$04$"), "{hash}");
    assert!(bcrypt::verify("T0pS3cr3t!", hash).unwrap());
    assert!(!bcrypt::verify("T0pS3cr3t", hash).unwrap());

    let output = passwd(&["--password", "-c", "4"], "pw\r\npw\r\n");
    let hash = stdout(&output)
        .trim_end()
        .strip_prefix("bcrypt hash: ")
        .unwrap();
    assert!(bcrypt::verify("pw", hash).unwrap());
}

#[test]
fn refuses_mismatched_entries() {
    let output = passwd(&["-p", "--cost", "4"], "one\ntwo\n");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("passwords do not match"), "{stderr}");
}

#[test]
fn refuses_an_out_of_range_cost() {
    for cost in ["3", "32"] {
        let output = passwd(&["--cost", cost], "");
        assert!(!output.status.success());
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("between 4 and 31"), "{stderr}");
    }
}

/// The whole point: the printed hash, pasted into a server's users, lets a
/// client that sends the printed password log in (and no other password).
#[tokio::test]
async fn the_printed_hash_logs_a_client_in() {
    let output = passwd(&["--cost", "4"], "");
    let text = stdout(&output).to_string();
    let field = |label: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label:?} line in {text:?}"))
            .trim()
            .to_string()
    };
    let (password, hash) = (field("pass:"), field("bcrypt hash:"));
    let mut opts = rnats_server::Options::for_tests();
    opts.auth.users = vec![rnats_server::options::UserConfig {
        user: "derek".into(),
        password: hash,
        permissions: None,
    }];
    let server = rnats_server::Server::start(opts)
        .await
        .expect("server starts");
    let login = |pass: String| {
        async_nats::ConnectOptions::new()
            .user_and_password("derek".into(), pass)
            .max_reconnects(0)
            .connect(server.client_url())
    };
    let client = login(password.clone())
        .await
        .expect("the printed password logs in");
    client.flush().await.expect("the connection works");
    assert!(
        login(format!("{password}x")).await.is_err(),
        "another password is refused"
    );
    server.shutdown().await;
}

//! The whole chain made with the `rnats` binary alone — keys, operator,
//! accounts, a user, its `.creds` file, the server's resolver config — and
//! the real `async-nats` client logging in with that credentials file.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use support::{account_a, make_chain, mode, rnats, write_config};

fn rnats_fails(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("rnats runs");
    assert!(!out.status.success(), "rnats {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

/// A server with the chain's resolver config, in this test's runtime.
async fn start(dir: &Path, config: &str) -> rnats_server::Server {
    let (mut opts, _) =
        rnats_server::config::load(&write_config(dir, config)).expect("the generated config loads");
    opts.host = "127.0.0.1".into();
    rnats_server::Server::start(opts)
        .await
        .expect("the server starts")
}

#[tokio::test]
async fn async_nats_logs_in_with_a_creds_file_made_by_rnats() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config = make_chain(dir);
    assert_eq!(mode(dir.join("alice.creds")), 0o600);
    let creds = std::fs::read_to_string(dir.join("alice.creds")).unwrap();
    assert!(creds.starts_with("-----BEGIN NATS USER JWT-----\n"));
    assert!(creds.contains("\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\nNKEYs are sensitive and should be treated as secrets.\n\n-----BEGIN USER NKEY SEED-----\nSU"));
    assert!(creds.ends_with("\n------END USER NKEY SEED------\n\n*************************************************************\n"));

    let server = start(dir, &config).await;
    let url = server.client_url();
    let nc = async_nats::ConnectOptions::with_credentials_file(dir.join("alice.creds"))
        .await
        .expect("the creds file reads")
        .connect(&url)
        .await
        .expect("alice logs in");
    let mut sub = nc.subscribe("app.events").await.unwrap();
    nc.publish("app.events", "hello".into()).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&msg.payload[..], b"hello");
    nc.flush().await.unwrap();

    // The system account user pushes a new account JWT that revokes alice:
    // her connection is told and closed.
    let sys = async_nats::ConnectOptions::with_credentials_file(dir.join("sys.creds"))
        .await
        .unwrap()
        .connect(&url)
        .await
        .expect("the system user logs in");
    account_a(dir, &["--revoke", "alice.nk"], "a2.jwt");
    let update = std::fs::read_to_string(dir.join("a2.jwt")).unwrap();
    let answer = sys
        .request("$SYS.REQ.CLAIMS.UPDATE", update.trim().to_string().into())
        .await
        .expect("the server answers the update");
    let answer: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
    assert_eq!(answer["data"]["code"], 200, "{answer}");
    // Her connection is closed (and her reconnects are refused).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while nc.connection_state() == async_nats::connection::State::Connected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "alice is still connected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = tokio::time::timeout(
        Duration::from_secs(3),
        async_nats::ConnectOptions::with_credentials_file(dir.join("alice.creds"))
            .await
            .unwrap()
            .connect(&url),
    )
    .await
    .expect("a refusal, not a hang");
    assert!(refused.is_err(), "alice is revoked");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_creds_files_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config = make_chain(dir);
    let server = start(dir, &config).await;
    let url = server.client_url();
    let creds = std::fs::read_to_string(dir.join("alice.creds")).unwrap();
    // Truncated before the seed: the client cannot even read it.
    let cut = &creds[..creds.find("-----BEGIN USER NKEY SEED").unwrap()];
    std::fs::write(dir.join("cut.creds"), cut).unwrap();
    assert!(
        async_nats::ConnectOptions::with_credentials_file(dir.join("cut.creds"))
            .await
            .is_err()
    );
    // A JWT damaged in transit: the server refuses the login.
    let jwt_start = creds.find("eyJ").unwrap();
    let mut damaged = creds.clone();
    damaged.replace_range(jwt_start + 40..jwt_start + 41, "A");
    if damaged == creds {
        damaged.replace_range(jwt_start + 40..jwt_start + 41, "B");
    }
    std::fs::write(dir.join("damaged.creds"), damaged).unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(3),
        async_nats::ConnectOptions::with_credentials_file(dir.join("damaged.creds"))
            .await
            .unwrap()
            .connect(&url),
    )
    .await
    .expect("a refusal, not a hang");
    assert!(result.is_err());
    // The server is fine.
    async_nats::ConnectOptions::with_credentials_file(dir.join("alice.creds"))
        .await
        .unwrap()
        .connect(&url)
        .await
        .expect("alice still logs in");
    server.shutdown().await;
}

/// A base64url signature starts with `-` once in 64 signatures (its first
/// byte's top six bits are 62); `verify --sig` takes it as a value, not a
/// flag.
#[test]
fn a_signature_that_starts_with_a_hyphen_verifies() {
    use rnats_jwt::nkeys::{KeyPair, KeyPairType};
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let key = KeyPair::new_from_raw(KeyPairType::User, [7; 32]).unwrap();
    std::fs::write(dir.join("u.nk"), key.seed().unwrap()).unwrap();
    let data = (0..10_000)
        .map(|i| format!("nonce-{i}"))
        .find(|d| key.sign(d.as_bytes()).unwrap()[0] >> 2 == 62)
        .expect("one in 64 signatures starts with '-'");
    let sig = rnats(dir, &["nkey", "sign", "u.nk", "--data", &data]);
    assert!(sig.starts_with('-'), "{sig}");
    let public = key.public_key();
    rnats(
        dir,
        &[
            "nkey",
            "verify",
            &public,
            "--sig",
            sig.trim(),
            "--data",
            &data,
        ],
    );
}

#[test]
fn nkey_sign_and_verify_and_tool_errors() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let printed = rnats(dir, &["nkey", "gen", "user"]);
    let mut lines = printed.lines();
    let (seed, public) = (lines.next().unwrap(), lines.next().unwrap());
    assert!(seed.starts_with("SU") && public.starts_with('U'));
    std::fs::write(dir.join("u.nk"), seed).unwrap();
    assert_eq!(rnats(dir, &["nkey", "pub", "u.nk"]).trim(), public);
    let sig = rnats(dir, &["nkey", "sign", "u.nk", "--data", "nonce-123"]);
    rnats(
        dir,
        &[
            "nkey",
            "verify",
            public,
            "--sig",
            sig.trim(),
            "--data",
            "nonce-123",
        ],
    );
    let err = rnats_fails(
        dir,
        &[
            "nkey",
            "verify",
            public,
            "--sig",
            sig.trim(),
            "--data",
            "other",
        ],
    );
    assert!(err.contains("verification failed"), "{err}");
    // A user JWT cannot be signed by a user key; a creds file needs the matching seed.
    rnats(dir, &["nkey", "gen", "user", "--out", "v.nk"]);
    let err = rnats_fails(dir, &["jwt", "user", "--user", "v.nk", "--signer", "u.nk"]);
    assert!(err.contains("cannot be signed"), "{err}");
    rnats(dir, &["nkey", "gen", "account", "--out", "a.nk"]);
    rnats(
        dir,
        &[
            "jwt", "user", "--user", "v.nk", "--signer", "a.nk", "-o", "v.jwt",
        ],
    );
    let err = rnats_fails(
        dir,
        &[
            "creds", "--jwt", "v.jwt", "--seed", "u.nk", "--out", "x.creds",
        ],
    );
    assert!(err.contains("the seed is for"), "{err}");
    // `jwt show` verifies and prints the claims.
    let shown = rnats(dir, &["jwt", "show", "v.jwt"]);
    let claims: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(claims["nats"]["type"], "user");
    std::fs::write(dir.join("bad.jwt"), "eyJ0eXAiOiJKV1QifQ.e30.AAAA").unwrap();
    rnats_fails(dir, &["jwt", "show", "bad.jwt"]);
}

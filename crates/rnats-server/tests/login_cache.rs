//! The bcrypt login cache: a repeated login with the same credentials is
//! not verified with bcrypt again; wrong secrets are never cached; the
//! cache can be turned off.

use async_nats::ConnectOptions;
use rnats_server::options::UserConfig;
use rnats_server::{Options, Server};

async fn server(no_login_cache: bool) -> Server {
    let hash = bcrypt::hash_with_result("s3cret", 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    let mut opts = Options::for_tests();
    opts.auth.users = vec![UserConfig {
        user: "alice".into(),
        password: hash,
        permissions: None,
    }];
    opts.auth.no_login_cache = no_login_cache;
    Server::start(opts).await.expect("server starts")
}

async fn login(server: &Server, pass: &str) -> bool {
    ConnectOptions::new()
        .user_and_password("alice".into(), pass.into())
        .max_reconnects(0)
        .connect(server.client_url())
        .await
        .is_ok()
}

#[tokio::test]
async fn successful_bcrypt_logins_are_remembered_by_a_keyed_hash() {
    let server = server(false).await;
    let auth = server.shared().auth();
    assert!(!login(&server, "wrong").await);
    assert_eq!(auth.cached_logins(), 0, "a failed login is never cached");
    assert!(login(&server, "s3cret").await);
    assert_eq!(auth.cached_logins(), 1);
    assert!(login(&server, "s3cret").await);
    assert_eq!(auth.cached_logins(), 1, "the second login was a cache hit");
    assert!(
        !login(&server, "s3cret ").await,
        "only the exact secret matches"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let server = server(true).await;
    assert!(login(&server, "s3cret").await);
    assert!(login(&server, "s3cret").await);
    assert_eq!(server.shared().auth().cached_logins(), 0);
    server.shutdown().await;
}

/// A reload keeps the remembered logins, so re-checking connected bcrypt
/// clients costs no bcrypt; a rotated password (a new hash) matches none
/// of them, and its client is refused.
#[tokio::test]
async fn a_reload_keeps_the_cache_and_a_new_hash_matches_nothing_in_it() {
    let server = server(false).await;
    let client = async_nats::ConnectOptions::new()
        .user_and_password("alice".into(), "s3cret".into())
        .max_reconnects(0)
        .connect(server.client_url())
        .await
        .unwrap();
    assert_eq!(server.shared().auth().cached_logins(), 1);
    let mut same = server.shared().opts().as_ref().clone();
    same.auth.users.push(UserConfig {
        user: "bob".into(),
        password: "b".into(),
        permissions: None,
    });
    server.reload(&same).unwrap();
    assert_eq!(server.shared().auth().cached_logins(), 1, "kept");
    client.flush().await.expect("alice is still connected");

    let rotated = bcrypt::hash_with_result("n3w", 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    same.auth.users[0].password = rotated;
    server.reload(&same).unwrap();
    assert!(!login(&server, "s3cret").await, "the old secret is refused");
    assert!(login(&server, "n3w").await);
    server.shutdown().await;
}

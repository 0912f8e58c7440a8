//! Decentralized authentication: operator, account and user JWTs.
//!
//! Each test builds its own chain of keys and JWTs with `rnats-jwt`, starts
//! an in-process server that trusts the operator, and speaks the protocol
//! as raw bytes, so every `-ERR` text and every close is checked exactly.

mod support;

use std::time::Duration;

use rnats_jwt::nkeys::KeyPair;
use rnats_jwt::{
    AccountClaims, Export, ExportType, Import, SigningKey, TimeRange, UserClaims, UserScope,
};
use rnats_server::options::{ClusterOptions, ResolverOptions, TrustOptions};
use rnats_server::{Options, Server};
use support::{RawClient, start_server, wait_for_client_count};

const AUTH_VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";

fn now() -> i64 {
    rnats_jwt::now_unix()
}

/// An operator, a system account and any number of accounts.
struct Chain {
    op: KeyPair,
    op_jwt: String,
    sys: KeyPair,
    preload: Vec<(String, String)>,
}

impl Chain {
    fn new() -> Chain {
        let op = KeyPair::new_operator();
        let sys = KeyPair::new_account();
        let mut oc = rnats_jwt::OperatorClaims::new(op.public_key());
        oc.name = "OP".into();
        oc.nats.system_account = sys.public_key();
        let op_jwt = rnats_jwt::encode(&mut oc, &op, now()).unwrap();
        let mut chain = Chain {
            op,
            op_jwt,
            sys,
            preload: Vec::new(),
        };
        let sys = chain.sys.clone_seed();
        chain.add_account(&sys, |_| {});
        chain
    }

    /// Signs and preloads an account.
    fn add_account(&mut self, acc: &KeyPair, f: impl FnOnce(&mut AccountClaims)) -> String {
        let jwt = account_jwt(&self.op, acc, f);
        self.preload.push((acc.public_key(), jwt.clone()));
        jwt
    }

    fn trust(&self) -> TrustOptions {
        TrustOptions {
            operators: vec![self.op_jwt.clone()],
            system_account: Some(self.sys.public_key()),
            resolver: ResolverOptions::Memory,
            preload: self.preload.clone(),
        }
    }

    fn options(&self) -> Options {
        let mut opts = Options::for_tests();
        opts.auth.trust = Some(self.trust());
        opts
    }

    /// [`Chain::options`] with a full resolver directory instead of preloads
    /// only (what is preloaded is still read).
    fn options_with_full_resolver(&self, dir: &std::path::Path) -> Options {
        let mut opts = self.options();
        opts.auth.trust.as_mut().unwrap().resolver = ResolverOptions::Dir {
            dir: dir.to_path_buf(),
            full: true,
            allow_delete: false,
        };
        opts
    }

    async fn start(&self) -> Server {
        start_server(self.options()).await
    }

    /// The same trust as a nats-server config file (MEMORY resolver).
    fn reference_config(&self) -> String {
        let mut config = format!(
            "operator: {}\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{\n",
            self.op_jwt,
            self.sys.public_key()
        );
        for (key, jwt) in &self.preload {
            config.push_str(&format!("  {key}: {jwt}\n"));
        }
        config.push_str("}\n");
        config
    }
}

trait CloneSeed {
    fn clone_seed(&self) -> KeyPair;
}

impl CloneSeed for KeyPair {
    fn clone_seed(&self) -> KeyPair {
        KeyPair::from_seed(&self.seed().unwrap()).unwrap()
    }
}

fn account_jwt(signer: &KeyPair, acc: &KeyPair, f: impl FnOnce(&mut AccountClaims)) -> String {
    let mut c = AccountClaims::new_account(acc.public_key());
    f(&mut c);
    rnats_jwt::encode(&mut c, signer, now()).unwrap()
}

fn user_jwt(signer: &KeyPair, user: &KeyPair, f: impl FnOnce(&mut UserClaims)) -> String {
    let mut c = UserClaims::new_user(user.public_key());
    c.name = "tester".into();
    f(&mut c);
    rnats_jwt::encode(&mut c, signer, now()).unwrap()
}

fn nonce_of(client: &RawClient) -> String {
    let info = std::str::from_utf8(client.info()).unwrap();
    let json: serde_json::Value = serde_json::from_str(info[5..].trim()).unwrap();
    json["nonce"]
        .as_str()
        .expect("INFO carries a nonce in operator mode")
        .to_string()
}

/// Connects, sends CONNECT with `jwt` (signing the nonce with `key` when
/// given) and a PING.
async fn connect_jwt(server: &Server, jwt: &str, key: Option<&KeyPair>) -> RawClient {
    connect_jwt_at(server.local_addr(), jwt, key).await
}

/// [`connect_jwt`] to any server's address (the reference's too).
async fn connect_jwt_at(addr: std::net::SocketAddr, jwt: &str, key: Option<&KeyPair>) -> RawClient {
    let mut c = RawClient::connect(addr).await;
    let mut connect = serde_json::json!({
        "verbose": false, "pedantic": false, "headers": true, "jwt": jwt,
    });
    if let Some(key) = key {
        let sig = key.sign(nonce_of(&c).as_bytes()).unwrap();
        use base64::Engine;
        connect["sig"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sig)
            .into();
    }
    c.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
        .await;
    c
}

async fn login(server: &Server, jwt: &str, key: &KeyPair) -> RawClient {
    let mut c = connect_jwt(server, jwt, Some(key)).await;
    c.expect(b"PONG\r\n").await;
    c
}

async fn refused(server: &Server, jwt: &str, key: Option<&KeyPair>) {
    let mut c = connect_jwt(server, jwt, key).await;
    c.expect_closed_with(AUTH_VIOLATION).await;
}

#[tokio::test]
async fn info_asks_for_auth_with_a_nonce() {
    let server = Chain::new().start().await;
    let c = RawClient::connect(server.local_addr()).await;
    let info = String::from_utf8_lossy(c.info()).to_string();
    assert!(info.contains(r#""auth_required":true"#), "{info}");
    assert!(!nonce_of(&c).is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn users_log_in_and_are_bound_to_their_account() {
    let mut chain = Chain::new();
    let (a, b) = (KeyPair::new_account(), KeyPair::new_account());
    chain.add_account(&a, |c| c.name = "A".into());
    chain.add_account(&b, |c| c.name = "B".into());
    let server = chain.start().await;
    let (ua, ua2, ub) = (
        KeyPair::new_user(),
        KeyPair::new_user(),
        KeyPair::new_user(),
    );
    let mut sub_a = login(&server, &user_jwt(&a, &ua, |_| {}), &ua).await;
    let mut sub_b = login(&server, &user_jwt(&b, &ub, |_| {}), &ub).await;
    sub_a.send(b"SUB x 1\r\n").await;
    sub_a.assert_open().await;
    sub_b.send(b"SUB x 1\r\n").await;
    sub_b.assert_open().await;
    let mut pubber = login(&server, &user_jwt(&a, &ua2, |_| {}), &ua2).await;
    pubber.send(b"PUB x 2\r\nhi\r\n").await;
    pubber.assert_open().await;
    sub_a.expect(b"MSG x 1 2\r\nhi\r\n").await;
    sub_b.assert_open().await; // nothing crossed into account B
    server.shutdown().await;
}

/// In operator mode too, every account imports the system account's
/// services for its own users: a user asks who it is.
#[tokio::test]
async fn a_jwt_user_asks_the_system_account_who_it_is() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |c| c.name = "A".into());
    let server = chain.start().await;
    let ua = KeyPair::new_user();
    let mut client = login(&server, &user_jwt(&a, &ua, |_| {}), &ua).await;
    client
        .send(b"SUB _INBOX.me 1\r\nPUB $SYS.REQ.USER.INFO _INBOX.me 0\r\n\r\n")
        .await;
    let account = a.public_key();
    let received = client
        .read_until(Duration::from_secs(5), |b| {
            std::str::from_utf8(b).is_ok_and(|t| t.contains(&account) && t.ends_with("}\r\n"))
        })
        .await;
    let text = String::from_utf8_lossy(&received.bytes);
    assert!(
        text.contains(&format!(r#""user":"{}""#, ua.public_key()))
            && text.contains(&format!(r#""account":"{account}""#)),
        "{text}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn every_bad_jwt_is_refused_with_authorization_violation() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    let u = KeyPair::new_user();
    let revoked_at = now();
    chain.add_account(&a, |c| {
        c.nats.revocations.insert(u.public_key(), revoked_at);
    });
    let stranger = KeyPair::new_account();
    let server = chain.start().await;
    let fresh = KeyPair::new_user();

    // Expired, not yet valid.
    refused(
        &server,
        &user_jwt(&a, &fresh, |c| c.expires = now() - 5),
        Some(&fresh),
    )
    .await;
    refused(
        &server,
        &user_jwt(&a, &fresh, |c| c.not_before = now() + 3600),
        Some(&fresh),
    )
    .await;
    // Revoked: issued before the revocation.
    let old = user_jwt(&a, &u, |c| c.issued_at = revoked_at - 10);
    refused(&server, &old, Some(&u)).await;
    // Signed by an account the operator never signed (unknown account).
    refused(&server, &user_jwt(&stranger, &fresh, |_| {}), Some(&fresh)).await;
    // Claims to be of account A but signed by a key that is not A's signing key.
    let wrong = user_jwt(&stranger, &fresh, |c| {
        c.nats.issuer_account = a.public_key()
    });
    refused(&server, &wrong, Some(&fresh)).await;
    // The nonce signed by someone else, or not signed.
    let good = user_jwt(&a, &fresh, |_| {});
    refused(&server, &good, Some(&KeyPair::new_user())).await;
    refused(&server, &good, None).await;
    // Tampered: claims changed after signing (made a bearer token).
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["nats"]["bearer_token"] = true.into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    refused(&server, &tampered, None).await;
    // An unknown algorithm, garbage, an account JWT instead of a user JWT.
    let hs256 = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"HS256"}"#);
    refused(
        &server,
        &format!("{hs256}.{}.{}", parts[1], parts[2]),
        Some(&fresh),
    )
    .await;
    refused(&server, "not.a.jwt", Some(&fresh)).await;
    refused(&server, &good[..good.len() / 2], Some(&fresh)).await;
    refused(&server, &chain.preload[1].1, Some(&fresh)).await;
    // No JWT at all, or user/password in operator mode.
    let mut c = RawClient::connect(server.local_addr()).await;
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"b\"}\r\nPING\r\n")
        .await;
    c.expect_closed_with(AUTH_VIOLATION).await;
    // A JWT that is not a string is a malformed CONNECT: closed, no -ERR.
    let mut c = RawClient::connect(server.local_addr()).await;
    c.send(b"CONNECT {\"verbose\":false,\"jwt\":42}\r\nPING\r\n")
        .await;
    c.expect_closed_with(b"").await;
    // And the server is fine.
    login(&server, &good, &fresh).await;
    server.shutdown().await;
}

#[tokio::test]
async fn expired_account_refuses_its_users() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |c| c.expires = now() + 1);
    let server = chain.start().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let u = KeyPair::new_user();
    refused(&server, &user_jwt(&a, &u, |_| {}), Some(&u)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn bearer_tokens_need_no_signature_unless_the_account_disallows_them() {
    let mut chain = Chain::new();
    let (a, strict) = (KeyPair::new_account(), KeyPair::new_account());
    chain.add_account(&a, |_| {});
    chain.add_account(&strict, |c| c.nats.limits.disallow_bearer = true);
    let server = chain.start().await;
    let u = KeyPair::new_user();
    let bearer = user_jwt(&a, &u, |c| c.nats.limits.bearer_token = true);
    let mut c = connect_jwt(&server, &bearer, None).await;
    c.expect(b"PONG\r\n").await;
    let strict_bearer = user_jwt(&strict, &u, |c| c.nats.limits.bearer_token = true);
    refused(&server, &strict_bearer, None).await;
    refused(&server, &strict_bearer, Some(&u)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn account_signing_keys_and_scoped_templates() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    let (sk, scoped) = (KeyPair::new_account(), KeyPair::new_account());
    chain.add_account(&a, |c| {
        c.nats.signing_keys.push(SigningKey::Plain(sk.public_key()));
        let mut scope = UserScope {
            kind: "user_template".into(),
            key: scoped.public_key(),
            ..UserScope::default()
        };
        scope.template.permissions.publish.allow = vec!["only.this".into()];
        scope.template.limits = rnats_jwt::NatsLimits::UNLIMITED;
        c.nats
            .signing_keys
            .push(SigningKey::Scoped(Box::new(scope)));
    });
    let server = chain.start().await;
    let u = KeyPair::new_user();
    // Signed by a signing key, with issuer_account naming the account.
    let jwt = user_jwt(&sk, &u, |c| c.nats.issuer_account = a.public_key());
    let mut c = login(&server, &jwt, &u).await;
    c.send(b"PUB anything 0\r\n\r\n").await;
    c.assert_open().await;
    // A scoped key: the template's permissions, not the user's.
    let jwt = user_jwt(&scoped, &u, |c| c.nats.issuer_account = a.public_key());
    let mut c = login(&server, &jwt, &u).await;
    c.send(b"PUB anything 0\r\n\r\nPUB only.this 0\r\n\r\n")
        .await;
    c.expect(b"-ERR 'Permissions Violation for Publish to \"anything\"'\r\n")
        .await;
    c.assert_open().await;
    server.shutdown().await;
}

#[tokio::test]
async fn permissions_come_from_the_user_claims_or_the_account_defaults() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |c| {
        c.nats.default_permissions.publish.deny = vec!["default.denied".into()];
    });
    let server = chain.start().await;
    let u = KeyPair::new_user();
    let jwt = user_jwt(&a, &u, |c| {
        let p = &mut c.nats.limits.permissions;
        p.publish.allow = vec!["pub.>".into()];
        p.publish.deny = vec!["pub.secret".into()];
        p.subscribe.allow = vec!["sub.*".into(), "q.> workers".into()];
    });
    let mut c = login(&server, &jwt, &u).await;
    c.send(b"PUB pub.ok 0\r\n\r\nPUB pub.secret 0\r\n\r\nPUB other 0\r\n\r\n")
        .await;
    c.expect(b"-ERR 'Permissions Violation for Publish to \"pub.secret\"'\r\n-ERR 'Permissions Violation for Publish to \"other\"'\r\n").await;
    c.send(b"SUB sub.x 1\r\nSUB sub.x.y 2\r\nSUB q.a workers 3\r\n")
        .await;
    c.expect(b"-ERR 'Permissions Violation for Subscription to \"sub.x.y\"'\r\n")
        .await;
    c.assert_open().await;
    // No permissions in the JWT: the account's default permissions.
    let plain = user_jwt(&a, &u, |_| {});
    let mut c = login(&server, &plain, &u).await;
    c.send(b"PUB default.denied 0\r\n\r\nPUB fine 0\r\n\r\n")
        .await;
    c.expect(b"-ERR 'Permissions Violation for Publish to \"default.denied\"'\r\n")
        .await;
    c.assert_open().await;
    server.shutdown().await;
}

#[tokio::test]
async fn response_permission_lets_a_service_reply() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |_| {});
    let server = chain.start().await;
    let (svc, req) = (KeyPair::new_user(), KeyPair::new_user());
    let svc_jwt = user_jwt(&a, &svc, |c| {
        let p = &mut c.nats.limits.permissions;
        p.publish.allow = vec!["nothing".into()];
        p.response = Some(rnats_jwt::ResponsePermission {
            max_msgs: 1,
            ttl_nanos: 0,
        });
    });
    let mut service = login(&server, &svc_jwt, &svc).await;
    service.send(b"SUB help 1\r\n").await;
    service.assert_open().await;
    let mut requester = login(&server, &user_jwt(&a, &req, |_| {}), &req).await;
    requester
        .send(b"SUB _INBOX.r 9\r\nPUB help _INBOX.r 1\r\n?\r\n")
        .await;
    requester.assert_open().await;
    service.expect(b"MSG help 1 _INBOX.r 1\r\n?\r\n").await;
    service
        .send(b"PUB _INBOX.r 2\r\nok\r\nPUB _INBOX.r 2\r\nno\r\n")
        .await;
    service
        .expect(b"-ERR 'Permissions Violation for Publish to \"_INBOX.r\"'\r\n")
        .await;
    requester.expect(b"MSG _INBOX.r 9 2\r\nok\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn subscription_and_payload_limits_from_user_and_account() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |c| c.nats.limits.nats.subs = 3);
    let server = chain.start().await;
    let u = KeyPair::new_user();
    let jwt = user_jwt(&a, &u, |c| {
        c.nats.limits.limits.subs = 2;
        c.nats.limits.limits.payload = 4;
    });
    let mut c = login(&server, &jwt, &u).await;
    c.send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n").await;
    c.expect(b"-ERR 'maximum subscriptions exceeded'\r\n").await;
    c.assert_open().await;
    c.send(b"UNSUB 1\r\nSUB c 3\r\nPUB a 4\r\nfour\r\n").await;
    c.assert_open().await;
    c.send(b"PUB a 5\r\nfive!\r\n").await;
    c.expect_closed_with(b"-ERR 'Maximum Payload Violation'\r\n")
        .await;
    // The account's limit applies when the user sets none.
    let jwt = user_jwt(&a, &u, |_| {});
    let mut c = login(&server, &jwt, &u).await;
    c.send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nSUB d 4\r\n")
        .await;
    c.expect(b"-ERR 'maximum subscriptions exceeded'\r\n").await;
    c.assert_open().await;
    server.shutdown().await;
}

#[tokio::test]
async fn account_connection_limit() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |c| c.nats.limits.conn = 1);
    let server = chain.start().await;
    let u = KeyPair::new_user();
    let jwt = user_jwt(&a, &u, |_| {});
    let mut first = login(&server, &jwt, &u).await;
    let mut second = connect_jwt(&server, &jwt, Some(&u)).await;
    second
        .expect_closed_with(b"-ERR 'maximum account active connections exceeded'\r\n")
        .await;
    // A second CONNECT on the same connection does not count twice.
    let sig = u.sign(nonce_of(&first).as_bytes()).unwrap();
    use base64::Engine;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig);
    first
        .send(
            format!("CONNECT {{\"verbose\":false,\"jwt\":\"{jwt}\",\"sig\":\"{sig}\"}}\r\n")
                .as_bytes(),
        )
        .await;
    first.assert_open().await;
    first.send(b"QUIT-NOW\r\n").await; // unknown op: the server closes it
    first.read_until_closed().await;
    wait_for_client_count(&server, 0).await;
    login(&server, &jwt, &u).await;
    server.shutdown().await;
}

#[tokio::test]
async fn source_networks_and_time_windows() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |_| {});
    let server = chain.start().await;
    let u = KeyPair::new_user();
    refused(
        &server,
        &user_jwt(&a, &u, |c| c.nats.limits.src = vec!["10.0.0.0/8".into()]),
        Some(&u),
    )
    .await;
    login(
        &server,
        &user_jwt(&a, &u, |c| {
            c.nats.limits.src = vec!["10.0.0.0/8".into(), "127.0.0.0/8".into()]
        }),
        &u,
    )
    .await;
    // Windows in UTC around now (an hour either side) and far from now.
    let t = |secs: i64| {
        let s = secs.rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    };
    let n = now();
    let inside = TimeRange {
        start: t(n - 3600),
        end: t(n + 3600),
    };
    let outside = TimeRange {
        start: t(n + 3 * 3600),
        end: t(n + 4 * 3600),
    };
    let with = |r: TimeRange| {
        user_jwt(&a, &u, |c| {
            c.nats.limits.times = vec![r];
            c.nats.limits.locale = "UTC".into();
        })
    };
    login(&server, &with(inside), &u).await;
    refused(&server, &with(outside), Some(&u)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_jwt_that_expires_while_connected_ends_the_connection() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |_| {});
    let server = chain.start().await;
    let u = KeyPair::new_user();
    let jwt = user_jwt(&a, &u, |c| c.expires = now() + 2);
    let mut c = login(&server, &jwt, &u).await;
    let got = c
        .read_until(Duration::from_secs(5), |b| b.ends_with(b"\r\n"))
        .await;
    assert_eq!(got.bytes, b"-ERR 'User Authentication Expired'\r\n");
    c.read_until_closed().await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_account_that_expires_while_its_users_are_connected_ends_them() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |c| c.expires = now() + 2);
    let server = chain.start().await;
    let u = KeyPair::new_user();
    let mut c = login(&server, &user_jwt(&a, &u, |_| {}), &u).await;
    let got = c
        .read_until(Duration::from_secs(5), |b| b.ends_with(b"\r\n"))
        .await;
    assert_eq!(got.bytes, b"-ERR 'Account Authentication Expired'\r\n");
    c.read_until_closed().await;
    server.shutdown().await;
}

#[tokio::test]
async fn exports_and_imports_between_jwt_accounts() {
    let mut chain = Chain::new();
    let (a, b) = (KeyPair::new_account(), KeyPair::new_account());
    chain.add_account(&a, |c| {
        for (subject, kind) in [
            ("news.>", ExportType::Stream),
            ("help", ExportType::Service),
        ] {
            c.nats.exports.push(Export {
                subject: subject.into(),
                kind,
                ..Export::default()
            });
        }
    });
    let a_key = a.public_key();
    chain.add_account(&b, |c| {
        c.nats.imports.push(Import {
            subject: "news.>".into(),
            account: a_key.clone(),
            to: "a".into(),
            kind: ExportType::Stream,
            ..Import::default()
        });
        c.nats.imports.push(Import {
            subject: "help".into(),
            account: a_key.clone(),
            local_subject: "ask.a".into(),
            kind: ExportType::Service,
            ..Import::default()
        });
        // Not exported: skipped with a warning, the account still loads.
        c.nats.imports.push(Import {
            subject: "private".into(),
            account: a_key.clone(),
            kind: ExportType::Stream,
            ..Import::default()
        });
    });
    let server = chain.start().await;
    let (ua, ub) = (KeyPair::new_user(), KeyPair::new_user());
    let mut in_a = login(&server, &user_jwt(&a, &ua, |_| {}), &ua).await;
    let mut in_b = login(&server, &user_jwt(&b, &ub, |_| {}), &ub).await;
    in_b.send(b"SUB a.news.> 1\r\nSUB _INBOX.1 2\r\n").await;
    in_b.assert_open().await;
    in_a.send(b"SUB help 7\r\nPUB news.today 3\r\nyes\r\n")
        .await;
    in_a.assert_open().await;
    in_b.expect(b"MSG a.news.today 1 3\r\nyes\r\n").await;
    in_b.send(b"PUB ask.a _INBOX.1 1\r\n?\r\n").await;
    let msg = in_a.next_msg().await;
    assert_eq!(msg.subject, "help");
    let reply = msg.reply.expect("a reply subject");
    in_a.send(format!("PUB {reply} 2\r\nok\r\n").as_bytes())
        .await;
    in_b.expect(b"MSG _INBOX.1 2 2\r\nok\r\n").await;
    server.shutdown().await;
}

/// Imports and exports follow account JWTs that arrive or change at run
/// time, as nats-server applies new claims: an update that adds an import
/// reaches the account's subscriptions already there, an account pushed
/// later may import at once, and an export taken away takes its imports
/// with it. The same steps run against rnats and nats-server 2.15.1, each
/// with a full resolver directory.
#[tokio::test]
async fn imports_and_exports_follow_account_updates() {
    let mut chain = Chain::new();
    let accounts = UpdatedAccounts::new(&mut chain);
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(chain.options_with_full_resolver(dir.path())).await;
    accounts.run(server.local_addr(), &chain).await;
    server.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    for (key, jwt) in &chain.preload {
        std::fs::write(dir.path().join(format!("{key}.jwt")), jwt).unwrap();
    }
    let config = format!(
        "operator: {}\nsystem_account: {}\nresolver: {{ type: full, dir: {:?} }}\n",
        chain.op_jwt,
        chain.sys.public_key(),
        dir.path()
    );
    let Some(reference) = support::ReferenceServer::start_latest_with_config(&config).await else {
        return;
    };
    accounts.run(reference.addr(), &chain).await;
}

/// The accounts of [`imports_and_exports_follow_account_updates`]: A
/// exports a service and a stream, B imports nothing at first, C comes
/// later.
struct UpdatedAccounts {
    a: KeyPair,
    b: KeyPair,
    c: KeyPair,
}

impl UpdatedAccounts {
    fn new(chain: &mut Chain) -> UpdatedAccounts {
        let accounts = UpdatedAccounts {
            a: KeyPair::new_account(),
            b: KeyPair::new_account(),
            c: KeyPair::new_account(),
        };
        chain.add_account(&accounts.a, |c| accounts.a_claims(c, true));
        chain.add_account(&accounts.b, |_| {});
        accounts
    }

    fn a_claims(&self, c: &mut AccountClaims, stream: bool) {
        let export = |subject: &str, kind| Export {
            subject: subject.into(),
            kind,
            ..Export::default()
        };
        c.nats.exports.push(export("help", ExportType::Service));
        if stream {
            c.nats.exports.push(export("news.>", ExportType::Stream));
        }
    }

    /// An import from A: a stream's prefix is `to`, a service's local
    /// subject `local_subject` (a service's `to` names the subject in the
    /// exporter).
    fn import(&self, subject: &str, to: &str, kind: ExportType) -> Import {
        let (prefix, local) = match kind {
            ExportType::Stream => (to, ""),
            _ => ("", to),
        };
        Import {
            subject: subject.into(),
            account: self.a.public_key(),
            to: prefix.into(),
            local_subject: local.into(),
            kind,
            ..Import::default()
        }
    }

    async fn run(&self, addr: std::net::SocketAddr, chain: &Chain) {
        let user = |account: &KeyPair| {
            let key = KeyPair::new_user();
            (user_jwt(account, &key, |_| {}), key)
        };
        let login = |(jwt, key): (String, KeyPair)| async move {
            let mut c = connect_jwt_at(addr, &jwt, Some(&key)).await;
            c.expect(b"PONG\r\n").await;
            c
        };
        let mut in_a = login(user(&self.a)).await;
        let mut in_b = login(user(&self.b)).await;
        in_b.send(b"SUB a.news.> 1\r\n").await;
        in_b.assert_open().await;
        in_a.send(b"SUB help 7\r\nPUB news.before 1\r\n1\r\n").await;
        in_a.assert_open().await;
        in_b.assert_open().await; // B imports nothing yet

        // B now imports A's news under the prefix "a".
        let update = account_jwt(&chain.op, &self.b, |c| {
            c.nats
                .imports
                .push(self.import("news.>", "a", ExportType::Stream));
            c.issued_at = now() + 1;
        });
        let answer = push_update_at(addr, chain, &update).await;
        assert_eq!(answer["data"]["code"], 200, "{answer}");
        in_a.send(b"PUB news.after 1\r\n2\r\n").await;
        in_b.expect(b"MSG a.news.after 1 1\r\n2\r\n").await;

        // C, pushed now, asks A's service through its imports: one with
        // `local_subject`, one with the old `to`, which names the subject
        // in the exporter (C publishes to the import's `subject`).
        let c_jwt = account_jwt(&chain.op, &self.c, |c| {
            c.nats
                .imports
                .push(self.import("help", "ask.a", ExportType::Service));
            c.nats.imports.push(Import {
                subject: "ask.legacy".into(),
                account: self.a.public_key(),
                to: "help".into(),
                kind: ExportType::Service,
                ..Import::default()
            });
        });
        let answer = push_update_at(addr, chain, &c_jwt).await;
        assert_eq!(answer["data"]["code"], 200, "{answer}");
        let mut in_c = login(user(&self.c)).await;
        in_c.send(b"SUB _INBOX.c 1\r\n").await;
        for asked in ["ask.a", "ask.legacy"] {
            in_c.send(format!("PUB {asked} _INBOX.c 1\r\n?\r\n").as_bytes())
                .await;
            let request = in_a.next_msg().await;
            assert_eq!(request.subject, "help", "asked on {asked}");
            let reply = request.reply.expect("a reply subject");
            in_a.send(format!("PUB {reply} 2\r\nok\r\n").as_bytes())
                .await;
            in_c.expect(b"MSG _INBOX.c 1 2\r\nok\r\n").await;
        }

        // A stops exporting its news: B's import goes with it.
        let update = account_jwt(&chain.op, &self.a, |c| {
            self.a_claims(c, false);
            c.issued_at = now() + 2;
        });
        let answer = push_update_at(addr, chain, &update).await;
        assert_eq!(answer["data"]["code"], 200, "{answer}");
        in_a.send(b"PUB news.gone 1\r\n3\r\n").await;
        in_a.assert_open().await;
        in_b.assert_open().await;
    }
}

/// A system account user pushes an account JWT to `$SYS.REQ.CLAIMS.UPDATE`.
async fn push_update(server: &Server, chain: &Chain, jwt: &str) -> serde_json::Value {
    push_update_at(server.local_addr(), chain, jwt).await
}

/// [`push_update`] to any server's address (the reference's too).
async fn push_update_at(addr: std::net::SocketAddr, chain: &Chain, jwt: &str) -> serde_json::Value {
    let su = KeyPair::new_user();
    let mut sys = connect_jwt_at(addr, &user_jwt(&chain.sys, &su, |_| {}), Some(&su)).await;
    sys.expect(b"PONG\r\n").await;
    sys.send(b"SUB _INBOX.upd 1\r\n").await;
    sys.send(
        format!(
            "PUB $SYS.REQ.CLAIMS.UPDATE _INBOX.upd {}\r\n{jwt}\r\n",
            jwt.len()
        )
        .as_bytes(),
    )
    .await;
    let msg = sys.next_msg().await;
    serde_json::from_slice(&msg.payload).unwrap()
}

#[tokio::test]
async fn claims_update_revokes_connected_users_and_changes_limits() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |c| c.name = "A".into());
    let server = chain.start().await;
    let u = KeyPair::new_user();
    let jwt = user_jwt(&a, &u, |c| c.issued_at = now() - 10);
    let mut victim = login(&server, &jwt, &u).await;
    let other = KeyPair::new_user();
    let mut bystander = login(&server, &user_jwt(&a, &other, |_| {}), &other).await;

    let update = account_jwt(&chain.op, &a, |c| {
        c.name = "A".into();
        c.nats.revocations.insert(u.public_key(), now() - 5);
        c.nats.limits.conn = 2;
        c.issued_at = now() + 1;
    });
    let answer = push_update(&server, &chain, &update).await;
    assert_eq!(answer["data"]["code"], 200, "{answer}");
    assert_eq!(answer["data"]["account"], a.public_key());
    assert_eq!(answer["data"]["message"], "jwt updated");
    assert!(answer["server"]["id"].is_string());
    victim
        .expect_closed_with(b"-ERR 'User Authentication Revoked'\r\n")
        .await;
    bystander.assert_open().await;
    refused(&server, &jwt, Some(&u)).await;
    // The new connection limit: the bystander and the system user (in
    // another account) are connected; one more fits in A, not two.
    let third = KeyPair::new_user();
    let third_jwt = user_jwt(&a, &third, |_| {});
    let _kept = login(&server, &third_jwt, &third).await;
    connect_jwt(&server, &third_jwt, Some(&third))
        .await
        .expect_closed_with(b"-ERR 'maximum account active connections exceeded'\r\n")
        .await;

    // A JWT the operator did not sign is refused with nats-server's error shape.
    let forged = account_jwt(&KeyPair::new_operator(), &a, |_| {});
    let answer = push_update(&server, &chain, &forged).await;
    assert_eq!(answer["error"]["code"], 500, "{answer}");
    assert!(
        answer["error"]["description"]
            .as_str()
            .unwrap()
            .contains("not a trusted operator"),
        "{answer}"
    );
    // A new account pushed at run time can be used at once.
    let n = KeyPair::new_account();
    let answer = push_update(&server, &chain, &account_jwt(&chain.op, &n, |_| {})).await;
    assert_eq!(answer["data"]["code"], 200, "{answer}");
    let nu = KeyPair::new_user();
    login(&server, &user_jwt(&n, &nu, |_| {}), &nu).await;
    server.shutdown().await;
}

#[tokio::test]
async fn directory_resolver_reads_and_stores_account_jwts() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::new();
    let a = KeyPair::new_account();
    // Only the system account is preloaded; A is a file in the directory.
    std::fs::write(
        dir.path().join(format!("{}.jwt", a.public_key())),
        account_jwt(&chain.op, &a, |_| {}),
    )
    .unwrap();
    std::fs::write(dir.path().join("junk.jwt"), "not a jwt").unwrap();
    let server = start_server(chain.options_with_full_resolver(dir.path())).await;
    let u = KeyPair::new_user();
    login(&server, &user_jwt(&a, &u, |_| {}), &u).await;
    // An account added to the directory later is found at its first login.
    let b = KeyPair::new_account();
    std::fs::write(
        dir.path().join(format!("{}.jwt", b.public_key())),
        account_jwt(&chain.op, &b, |_| {}),
    )
    .unwrap();
    login(&server, &user_jwt(&b, &u, |_| {}), &u).await;
    // An update is stored.
    let c = KeyPair::new_account();
    let jwt = account_jwt(&chain.op, &c, |_| {});
    let answer = push_update(&server, &chain, &jwt).await;
    assert_eq!(answer["data"]["code"], 200, "{answer}");
    let stored =
        std::fs::read_to_string(dir.path().join(format!("{}.jwt", c.public_key()))).unwrap();
    assert_eq!(stored, jwt);
    server.shutdown().await;
}

/// Tokens made by the standard NATS tooling (see rnats-jwt's
/// `tests/fixtures/README.md` for where each comes from): nats-server's test
/// operator (JWT v1) with its system account, and an account signed by one
/// of the operator's published signing keys.
#[tokio::test]
async fn the_nats_server_test_operator_is_trusted() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../rnats-jwt/tests/fixtures");
    let op_jwt = std::fs::read_to_string(format!("{fixtures}/op.jwt")).unwrap();
    let sys_jwt = std::fs::read_to_string(format!("{fixtures}/sys_account.jwt")).unwrap();
    let signing_seed = std::fs::read_to_string(format!("{fixtures}/op_signing_seeds.txt")).unwrap();
    let op_signer = KeyPair::from_seed(signing_seed.lines().next().unwrap()).unwrap();
    let a = KeyPair::new_account();
    let a_jwt = account_jwt(&op_signer, &a, |_| {});
    let sys_key = "AD2VB6C25DQPEUUQ7KJBUFX2J4ZNVBPOHSCBISC7VFZXVWXZA7VASQZG";
    let mut opts = Options::for_tests();
    opts.auth.trust = Some(TrustOptions {
        operators: vec![op_jwt],
        system_account: Some(sys_key.into()),
        resolver: ResolverOptions::Memory,
        preload: vec![
            (sys_key.into(), sys_jwt.trim().into()),
            (a.public_key(), a_jwt),
        ],
    });
    let server = start_server(opts).await;
    let u = KeyPair::new_user();
    login(&server, &user_jwt(&a, &u, |_| {}), &u).await;
    server.shutdown().await;
}

#[test]
fn config_files_with_operators() {
    use rnats_server::config;
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::new();
    let op_path = dir.path().join("op.jwt");
    std::fs::write(&op_path, rnats_jwt::decorate_jwt("operator", &chain.op_jwt)).unwrap();
    let (sys_key, sys_jwt) = &chain.preload[0];
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let good = write(
        "good.conf",
        &format!(
            "operator: \"{}\"\nsystem_account: {sys_key}\nresolver: MEMORY\nresolver_preload: {{\n  {sys_key}: {sys_jwt}\n}}\n",
            op_path.display()
        ),
    );
    let (opts, _) = config::load(&good).unwrap();
    let trust = opts.auth.trust.unwrap();
    assert_eq!(trust.operators, vec![chain.op_jwt.clone()]);
    assert_eq!(trust.preload.len(), 1);
    assert_eq!(trust.resolver, ResolverOptions::Memory);

    let error = |text: &str| {
        config::load(&write("bad.conf", text))
            .unwrap_err()
            .to_string()
    };
    let op_line = format!("operator: {}\n", chain.op_jwt);
    assert!(
        error(&format!(
            "{op_line}resolver: MEMORY\nauthorization {{ users: [{{user: a, password: b}}] }}\n"
        ))
        .contains("operators do not allow users to be configured directly")
    );
    assert!(
        error(&format!(
            "{op_line}resolver: MEMORY\naccounts {{ A: {{}} }}\n"
        ))
        .contains("operators do not allow Accounts to be configured directly")
    );
    assert!(
        error(&format!(
            "{op_line}resolver: MEMORY\nresolver_preload: {{ {sys_key}: \"garbage\" }}\n"
        ))
        .contains("invalid account JWT")
    );
    assert!(
        error(&format!(
            "{op_line}resolver: {{ type: full, dir: \"/tmp/x\" }}\nsystem_account: \"\"\n"
        ))
        .contains("will only fetch valid account keys")
    );
    assert!(
        error("operator: \"./missing.jwt\"\nresolver: MEMORY\n")
            .contains("error parsing operator JWT")
    );
    assert!(error(&format!("{op_line}\n")).contains("needs a resolver"));
    assert!(error(&format!("{op_line}resolver: URL(\"http://x/\")\n")).contains("not supported"));
    assert!(
        error(&format!("{op_line}resolver: MEMORY\nno_auth_user: x\n"))
            .contains("no_auth_user not compatible with Trusted Operator")
    );
}

/// One login and what follows it, as raw bytes: CONNECT (with the nonce
/// signed by `key`) and PING, then `after` and a PING. Returns everything
/// the server sent until a PONG answered the last PING, or it closed.
/// When `after` is expected to end the connection (`closes`) no PING follows it: a
/// server that closes with unread input resets the connection, and the
/// reset can discard what it sent before.
async fn script(
    addr: std::net::SocketAddr,
    jwt: &str,
    key: Option<&KeyPair>,
    after: &[u8],
    closes: bool,
) -> Vec<u8> {
    use base64::Engine;
    let mut c = RawClient::connect(addr).await;
    let mut connect = serde_json::json!({"verbose": false, "pedantic": false, "jwt": jwt});
    if let Some(key) = key {
        let sig = key.sign(nonce_of(&c).as_bytes()).unwrap();
        connect["sig"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sig)
            .into();
    }
    c.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
        .await;
    let first = c
        .read_until(Duration::from_secs(3), |b| b.ends_with(b"PONG\r\n"))
        .await;
    let mut all = first.bytes;
    if first.end == support::End::Done && !after.is_empty() {
        // A separate read, so that limits set by the CONNECT apply.
        c.send(after).await;
        if !closes {
            c.send(b"PING\r\n").await;
        }
        let rest = c
            .read_until(Duration::from_secs(3), |b| b.ends_with(b"PONG\r\n"))
            .await;
        all.extend(rest.bytes);
    }
    all
}

/// The same logins against rnats and the reference nats-server, byte for byte.
#[tokio::test]
async fn jwt_logins_match_the_reference_server() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    let revoked = KeyPair::new_user();
    let revoked_at = now();
    chain.add_account(&a, |c| {
        c.nats.revocations.insert(revoked.public_key(), revoked_at);
        c.nats.default_permissions.publish.deny = vec!["nope".into()];
    });
    let config = chain.reference_config();
    let Some(reference) = support::ReferenceServer::start_with_config(&config).await else {
        return;
    };
    let server = chain.start().await;
    let u = KeyPair::new_user();
    let cases: Vec<(&str, String, Option<&KeyPair>, &[u8])> = vec![
        (
            "valid",
            user_jwt(&a, &u, |_| {}),
            Some(&u),
            b"PUB nope 0\r\n\r\n",
        ),
        ("wrong key", user_jwt(&a, &u, |_| {}), Some(&revoked), b""),
        ("no signature", user_jwt(&a, &u, |_| {}), None, b""),
        (
            "expired",
            user_jwt(&a, &u, |c| c.expires = now() - 5),
            Some(&u),
            b"",
        ),
        (
            "not yet valid",
            user_jwt(&a, &u, |c| c.not_before = now() + 600),
            Some(&u),
            b"",
        ),
        (
            "revoked",
            user_jwt(&a, &revoked, |c| c.issued_at = revoked_at - 5),
            Some(&revoked),
            b"",
        ),
        (
            "unknown account",
            user_jwt(&KeyPair::new_account(), &u, |_| {}),
            Some(&u),
            b"",
        ),
        (
            "bearer",
            user_jwt(&a, &u, |c| c.nats.limits.bearer_token = true),
            None,
            b"",
        ),
        (
            "subs limit",
            user_jwt(&a, &u, |c| c.nats.limits.limits.subs = 1),
            Some(&u),
            b"SUB a 1\r\nSUB b 2\r\n",
        ),
        (
            "payload limit",
            user_jwt(&a, &u, |c| c.nats.limits.limits.payload = 3),
            Some(&u),
            b"PUB a 3\r\nabc\r\nPUB a 4\r\nabcd\r\n",
        ),
        (
            "permissions",
            user_jwt(&a, &u, |c| {
                c.nats.limits.permissions.publish.allow = vec!["ok".into()];
                c.nats.limits.permissions.subscribe.deny = vec!["secret.>".into()];
            }),
            Some(&u),
            b"PUB ok 0\r\n\r\nPUB other 0\r\n\r\nSUB secret.x 1\r\nSUB fine 2\r\n",
        ),
    ];
    for (name, jwt, key, after) in cases {
        let closes = name == "payload limit";
        let ours = script(server.local_addr(), &jwt, key, after, closes).await;
        let theirs = script(reference.addr(), &jwt, key, after, closes).await;
        assert_eq!(
            support::show(&ours),
            support::show(&theirs),
            "{name}: rnats and nats-server differ"
        );
    }
    server.shutdown().await;
}

/// Two clustered servers sharing a resolver directory. Account A is added
/// to the directory after both started; a user of A subscribes on one
/// server before any user of A has logged in to the other, which must then
/// find A when the interest arrives and forward A's messages.
#[tokio::test]
async fn interest_in_an_account_not_yet_loaded_crosses_routes() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::new();
    let clustered = |routes: Vec<String>| {
        let mut opts = chain.options();
        opts.auth.trust.as_mut().unwrap().resolver = ResolverOptions::Dir {
            dir: dir.path().to_path_buf(),
            full: true,
            allow_delete: false,
        };
        opts.cluster = Some(ClusterOptions {
            name: Some("jwt".into()),
            host: "127.0.0.1".into(),
            port: -1,
            routes,
            ..Default::default()
        });
        opts
    };
    let s1 = start_server(clustered(vec![])).await;
    let route = format!("nats-route://{}", s1.cluster_addr().unwrap());
    let s2 = start_server(clustered(vec![route])).await;

    let a = KeyPair::new_account();
    std::fs::write(
        dir.path().join(format!("{}.jwt", a.public_key())),
        account_jwt(&chain.op, &a, |_| {}),
    )
    .unwrap();
    let (ua, us) = (KeyPair::new_user(), KeyPair::new_user());
    let mut subscriber = login(&s2, &user_jwt(&a, &ua, |_| {}), &ua).await;
    subscriber.send(b"SUB x 1\r\n").await;
    subscriber.assert_open().await;

    // The system account's interest, announced after A's on the same
    // route, shows when s1 has taken in A's.
    let mut sys_on_s2 = login(&s2, &user_jwt(&chain.sys, &us, |_| {}), &us).await;
    sys_on_s2.send(b"SUB probe 1\r\n").await;
    sys_on_s2.assert_open().await;
    let mut sys_on_s1 = login(&s1, &user_jwt(&chain.sys, &us, |_| {}), &us).await;
    for attempt in 0.. {
        assert!(attempt < 500, "the system account's interest never crossed");
        sys_on_s1.send(b"PUB probe 1\r\n.\r\n").await;
        let got = sys_on_s2
            .read_until(Duration::from_millis(10), |b| !b.is_empty())
            .await;
        if !got.bytes.is_empty() {
            break;
        }
    }

    let mut publisher = login(&s1, &user_jwt(&a, &ua, |_| {}), &ua).await;
    publisher.send(b"PUB x 5\r\nhello\r\n").await;
    subscriber.expect(b"MSG x 1 5\r\nhello\r\n").await;
    s2.shutdown().await;
    s1.shutdown().await;
}

/// An account update sent to one server of a cluster reaches every server
/// (each with its own resolver directory), as with nats-server's full
/// resolver: every server answers, and stores and applies the JWT.
#[tokio::test]
async fn a_claims_update_sent_to_one_server_reaches_the_cluster() {
    let chain = Chain::new();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let clustered = |dir: &std::path::Path, routes: Vec<String>| {
        let mut opts = chain.options();
        opts.auth.trust.as_mut().unwrap().resolver = ResolverOptions::Dir {
            dir: dir.to_path_buf(),
            full: true,
            allow_delete: false,
        };
        opts.cluster = Some(ClusterOptions {
            name: Some("jwt".into()),
            host: "127.0.0.1".into(),
            port: -1,
            routes,
            ..Default::default()
        });
        opts
    };
    let s1 = start_server(clustered(dirs[0].path(), vec![])).await;
    let route = format!("nats-route://{}", s1.cluster_addr().unwrap());
    let s2 = start_server(clustered(dirs[1].path(), vec![route])).await;
    // s1 holds its own two request subscriptions and, once the route is
    // up, s2's.
    let sys = s1
        .shared()
        .accounts
        .get(&chain.sys.public_key())
        .unwrap()
        .clone();
    let deadline = tokio::time::Instant::now() + support::TIMEOUT;
    while sys.sublist.count() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "s2's interest never came"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let b = KeyPair::new_account();
    let jwt = account_jwt(&chain.op, &b, |_| {});
    let su = KeyPair::new_user();
    let mut requester = login(&s1, &user_jwt(&chain.sys, &su, |_| {}), &su).await;
    requester.send(b"SUB _INBOX.upd 1\r\n").await;
    requester
        .send(
            format!(
                "PUB $SYS.REQ.CLAIMS.UPDATE _INBOX.upd {}\r\n{jwt}\r\n",
                jwt.len()
            )
            .as_bytes(),
        )
        .await;
    let mut answered_by = Vec::new();
    for _ in 0..2 {
        let answer: serde_json::Value =
            serde_json::from_slice(&requester.next_msg().await.payload).unwrap();
        assert_eq!(answer["data"]["code"], 200, "{answer}");
        answered_by.push(answer["server"]["id"].as_str().unwrap().to_string());
    }
    answered_by.sort();
    let mut servers = vec![s1.shared().id.clone(), s2.shared().id.clone()];
    servers.sort();
    assert_eq!(answered_by, servers, "each server answers once");
    // s2 stored the account and lets its users in.
    let stored = dirs[1].path().join(format!("{}.jwt", b.public_key()));
    assert_eq!(std::fs::read_to_string(stored).unwrap(), jwt);
    let u = KeyPair::new_user();
    login(&s2, &user_jwt(&b, &u, |_| {}), &u).await;
    s2.shutdown().await;
    s1.shutdown().await;
}

/// rnats and the reference nats-server trusting `chain`'s operator,
/// routed to each other (None without the reference).
async fn mixed_cluster(chain: &Chain) -> Option<(Server, support::ReferenceServer)> {
    let mut opts = chain.options();
    opts.cluster = Some(ClusterOptions {
        name: Some("jwt".into()),
        host: "127.0.0.1".into(),
        port: -1,
        ..Default::default()
    });
    let rnats = start_server(opts).await;
    let mut config = chain.reference_config();
    config.push_str(&format!(
        "cluster {{\n  name: jwt\n  listen: 127.0.0.1:{}\n  routes: [ \"nats-route://{}\" ]\n}}\n",
        support::free_port(),
        rnats.cluster_addr().unwrap()
    ));
    let reference = support::ReferenceServer::start_with_config(&config).await?;
    Some((rnats, reference))
}

/// A JWT account's connection limit holds across a mixed cluster: each
/// server counts the account's connections on the others from their
/// `$SYS.ACCOUNT.<acc>.SERVER.CONNS` events, rnats and nats-server alike.
#[tokio::test]
async fn account_connection_limit_holds_across_a_mixed_cluster() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |c| c.nats.limits.conn = 1);
    let Some((rnats, reference)) = mixed_cluster(&chain).await else {
        return;
    };
    support::cluster::wait_routes(&rnats, 1).await;
    let u = KeyPair::new_user();
    let jwt = user_jwt(&a, &u, |_| {});
    let (on_rnats, on_ref) = (rnats.local_addr(), reference.addr());
    for (first_at, then_at) in [(on_ref, on_rnats), (on_rnats, on_ref)] {
        // The first login's event crosses once the other server's interest
        // has: until then the second login gets in, and both go again.
        let mut refused = false;
        for _ in 0..100 {
            // A count from an earlier round may still stand on first_at:
            // then this login is refused until the update arrives.
            let mut first = connect_jwt_at(first_at, &jwt, Some(&u)).await;
            let answer = first
                .read_until(Duration::from_secs(2), |b| {
                    b.ends_with(b"PONG\r\n") || b.ends_with(b"exceeded'\r\n")
                })
                .await;
            if !answer.bytes.ends_with(b"PONG\r\n") {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut second = connect_jwt_at(then_at, &jwt, Some(&u)).await;
            let answer = second
                .read_until(Duration::from_secs(2), |b| {
                    b.ends_with(b"PONG\r\n") || b.ends_with(b"exceeded'\r\n")
                })
                .await;
            if answer
                .bytes
                .ends_with(b"-ERR 'maximum account active connections exceeded'\r\n")
            {
                refused = true;
                break;
            }
            drop(second);
            drop(first);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            refused,
            "a second connection got in at {then_at} while one was at {first_at} \
             (rnats is {on_rnats}); the reference's log:\n{}",
            reference.log()
        );
    }
    drop(reference);
    rnats.shutdown().await;
}

/// Logins that raced on different servers can leave a cluster over an
/// account's limit (here: the limit is lowered while two users are on
/// each server). When another server's count arrives, rnats closes its
/// newest logins until the cluster fits, as nats-server does.
#[tokio::test]
async fn a_cluster_over_an_accounts_limit_closes_the_newest_logins() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |c| c.nats.limits.conn = 4);
    let Some((rnats, reference)) = mixed_cluster(&chain).await else {
        return;
    };
    support::cluster::wait_routes(&rnats, 1).await;
    let account = rnats.shared().accounts.get(&a.public_key()).unwrap();
    // Two users on the reference, counted by rnats.
    let mut theirs = Vec::new();
    for _ in 0..2 {
        let u = KeyPair::new_user();
        let mut c = connect_jwt_at(reference.addr(), &user_jwt(&a, &u, |_| {}), Some(&u)).await;
        c.expect(b"PONG\r\n").await;
        theirs.push(c);
    }
    let deadline = tokio::time::Instant::now() + support::TIMEOUT;
    while account.remote_connection_count() != 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reference's count never came"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Two here: the first older than the second.
    let (u1, u2) = (KeyPair::new_user(), KeyPair::new_user());
    let mut older = login(&rnats, &user_jwt(&a, &u1, |_| {}), &u1).await;
    let mut newer = login(&rnats, &user_jwt(&a, &u2, |_| {}), &u2).await;
    // The limit drops to 2 here: each server alone is within it.
    let lowered = account_jwt(&chain.op, &a, |c| c.nats.limits.conn = 2);
    rnats
        .shared()
        .auth()
        .trust()
        .unwrap()
        .update(&lowered)
        .expect("the update applies");
    older.assert_open().await;
    newer.assert_open().await;
    // One leaves the reference: its new count (1) tells rnats the cluster
    // holds 3, one over; the newest login here goes.
    drop(theirs.pop());
    newer
        .expect_closed_with(b"-ERR 'maximum account active connections exceeded'\r\n")
        .await;
    older.assert_open().await;
    drop(reference);
    rnats.shutdown().await;
}

/// `/accountz` of a JWT account shows the JWT, its issuer, its decoded
/// claims and its revoked users, in nats-server 2.15.1's shape.
#[tokio::test]
async fn accountz_shows_an_accounts_jwt_like_nats_server() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    let revoked = KeyPair::new_user();
    chain.add_account(&a, |c| {
        c.name = "A".into();
        c.nats.revocations.insert(revoked.public_key(), 1000);
        c.nats.limits.conn = 10;
    });
    let mut opts = chain.options();
    opts.monitor.host = "127.0.0.1".into();
    opts.monitor.port = -1;
    let server = start_server(opts).await;
    let (http, _) = server.shared().monitor_addrs();
    let path = format!("/accountz?acc={}", a.public_key());
    let (status, body) = support::http_get(http.unwrap(), &path).await;
    assert_eq!(status, 200, "{body}");
    let ours: serde_json::Value = serde_json::from_str(&body).unwrap();
    let detail = &ours["account_detail"];
    let jwt = &chain
        .preload
        .iter()
        .find(|(k, _)| *k == a.public_key())
        .unwrap()
        .1;
    assert_eq!(detail["jwt"], jwt.as_str(), "{ours}");
    assert_eq!(detail["issuer_key"], chain.op.public_key(), "{ours}");
    assert_eq!(detail["decoded_jwt"]["sub"], a.public_key(), "{ours}");
    assert_eq!(
        detail["decoded_jwt"]["nats"]["limits"]["conn"], 10,
        "{ours}"
    );
    assert!(
        detail["revoked_user"][revoked.public_key()].is_string(),
        "{ours}"
    );
    let port = support::free_port().to_string();
    let Some(reference) =
        support::ReferenceServer::start_latest(&chain.reference_config(), &["-m", &port]).await
    else {
        return;
    };
    // The reference loads a preloaded account when it is first used.
    let u = KeyPair::new_user();
    let mut user = connect_jwt_at(reference.addr(), &user_jwt(&a, &u, |_| {}), Some(&u)).await;
    user.expect(b"PONG\r\n").await;
    let http: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (status, body) = support::http_get(http, &path).await;
    assert_eq!(status, 200, "{body}");
    let theirs: serde_json::Value = serde_json::from_str(&body).unwrap();
    // Our build has no JetStream or gateways: their keys for those go.
    let problems = support::shape::differences("accountz", &theirs, &ours, &[], true);
    assert!(problems.is_empty(), "{}\n{theirs}", problems.join("\n"));
    drop(reference);
    server.shutdown().await;
}

/// Operator mode in a mixed cluster: rnats and the reference nats-server
/// trust the same operator and route to each other; users of one account
/// reach each other across the route both ways, and another account on
/// the same subject hears nothing.
#[tokio::test]
async fn operator_mode_accounts_cross_a_mixed_cluster() {
    let mut chain = Chain::new();
    let (a, b) = (KeyPair::new_account(), KeyPair::new_account());
    chain.add_account(&a, |_| {});
    chain.add_account(&b, |_| {});
    let Some((rnats, reference)) = mixed_cluster(&chain).await else {
        return;
    };
    let user_of = |account: &KeyPair| {
        let u = KeyPair::new_user();
        (user_jwt(account, &u, |_| {}), u)
    };
    let login_at = |addr: std::net::SocketAddr, (jwt, key): (String, KeyPair)| async move {
        let mut c = connect_jwt_at(addr, &jwt, Some(&key)).await;
        c.expect(b"PONG\r\n").await;
        c
    };
    let (on_rnats, on_ref) = (rnats.local_addr(), reference.addr());
    for (sub_at, pub_at) in [(on_ref, on_rnats), (on_rnats, on_ref)] {
        let mut subscriber = login_at(sub_at, user_of(&a)).await;
        let mut other_account = login_at(sub_at, user_of(&b)).await;
        let mut publisher = login_at(pub_at, user_of(&a)).await;
        subscriber.send(b"SUB x 1\r\n").await;
        subscriber.assert_open().await;
        other_account.send(b"SUB x 1\r\n").await;
        other_account.assert_open().await;
        // Until the subscriber's interest has crossed, messages vanish.
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts < 200, "account A's interest never crossed");
            publisher.send(b"PUB x 5\r\nhello\r\nPING\r\n").await;
            publisher.expect(b"PONG\r\n").await;
            let got = subscriber
                .read_until(Duration::from_millis(20), |b| b.ends_with(b"hello\r\n"))
                .await;
            if got.bytes.ends_with(b"hello\r\n") {
                break;
            }
        }
        // Account B subscribes to the same subject and hears nothing.
        other_account.assert_open().await;
    }
    drop(reference);
    rnats.shutdown().await;
}

/// A reload with a new `resolver_preload` account lets its users in at
/// once; users of the other accounts stay connected. Changing the
/// operator is refused, as nats-server refuses it.
#[tokio::test]
async fn reloaded_preloads_add_accounts_and_operators_stay() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |c| c.name = "A".into());
    let server = chain.start().await;
    let ua = KeyPair::new_user();
    let mut connected = login(&server, &user_jwt(&a, &ua, |_| {}), &ua).await;

    let b = KeyPair::new_account();
    let ub = KeyPair::new_user();
    refused(&server, &user_jwt(&b, &ub, |_| {}), Some(&ub)).await;
    chain.add_account(&b, |c| c.name = "B".into());
    server.reload(&chain.options()).unwrap();
    login(&server, &user_jwt(&b, &ub, |_| {}), &ub).await;
    connected.assert_open().await;

    let other = Chain::new();
    let mut moved = chain.options();
    moved.auth.trust.as_mut().unwrap().operators = other.trust().operators;
    assert_eq!(
        server.reload(&moved),
        Err("config reload not supported for TrustedOperators".into())
    );
    connected.assert_open().await;
    server.shutdown().await;
}

/// Issue 13, item 14: an account update re-checks connected users as a
/// login would: a user signed by a signing key the account dropped is
/// closed, and past a lowered connection limit the newest login goes.
#[tokio::test]
async fn account_updates_recheck_signing_keys_and_the_connection_limit() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    let sk = KeyPair::new_account();
    let with = |keep_key: bool, conn: i64| {
        let sk = sk.public_key();
        move |c: &mut AccountClaims| {
            if keep_key {
                c.nats.signing_keys.push(SigningKey::Plain(sk.clone()));
            }
            c.nats.limits.conn = conn;
        }
    };
    chain.add_account(&a, with(true, -1));
    let server = chain.start().await;
    let (u1, u2, u3) = (
        KeyPair::new_user(),
        KeyPair::new_user(),
        KeyPair::new_user(),
    );
    let mut by_key = login(
        &server,
        &user_jwt(&sk, &u1, |c| c.nats.issuer_account = a.public_key()),
        &u1,
    )
    .await;
    let mut older = login(&server, &user_jwt(&a, &u2, |_| {}), &u2).await;
    let mut newer = login(&server, &user_jwt(&a, &u3, |_| {}), &u3).await;

    // The signing key goes: its user is closed; the others stay.
    chain.preload.pop();
    chain.add_account(&a, with(false, -1));
    server.reload(&chain.options()).unwrap();
    by_key
        .expect_closed_with(b"-ERR 'User Authentication Revoked'\r\n")
        .await;
    older.assert_open().await;
    newer.assert_open().await;

    // One connection at most: the newer login goes.
    chain.preload.pop();
    chain.add_account(&a, with(false, 1));
    server.reload(&chain.options()).unwrap();
    newer
        .expect_closed_with(b"-ERR 'maximum account active connections exceeded'\r\n")
        .await;
    older.assert_open().await;
    server.shutdown().await;
}

/// Issue 13, item 14: an account's `exp` is the account's timer, moved
/// by every update as on nats-server: an update with an earlier `exp`
/// ends the connected users then, one with a later `exp` keeps them past
/// the old one.
#[tokio::test]
async fn an_account_update_moves_the_end_of_its_connected_users() {
    let mut chain = Chain::new();
    let (early, late) = (KeyPair::new_account(), KeyPair::new_account());
    chain.add_account(&early, |c| c.expires = now() + 3600);
    chain.add_account(&late, |c| c.expires = now() + 3);
    let server = chain.start().await;
    let (u1, u2) = (KeyPair::new_user(), KeyPair::new_user());
    let mut ends_sooner = login(&server, &user_jwt(&early, &u1, |_| {}), &u1).await;
    let mut ends_later = login(&server, &user_jwt(&late, &u2, |_| {}), &u2).await;
    let old_end = now() + 3;

    let sooner = account_jwt(&chain.op, &early, |c| {
        c.expires = now() + 2;
        c.issued_at = now() + 1;
    });
    let later = account_jwt(&chain.op, &late, |c| {
        c.expires = now() + 3600;
        c.issued_at = now() + 1;
    });
    for update in [&sooner, &later] {
        let answer = push_update(&server, &chain, update).await;
        assert_eq!(answer["data"]["code"], 200, "{answer}");
    }
    // The server's first PING may come before.
    let without_pings = |b: &[u8]| String::from_utf8_lossy(b).replace("PING\r\n", "");
    let got = ends_sooner
        .read_until(Duration::from_secs(10), |b| {
            b.windows(5).any(|w| w == b"-ERR ") && b.ends_with(b"\r\n")
        })
        .await;
    assert_eq!(
        without_pings(&got.bytes),
        "-ERR 'Account Authentication Expired'\r\n"
    );
    ends_sooner.read_until_closed().await;
    // Past the old `exp` of the other account, its user is still there.
    while now() <= old_end {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ends_later.send(b"PING\r\n").await;
    let got = ends_later
        .read_until(Duration::from_secs(5), |b| b.ends_with(b"PONG\r\n"))
        .await;
    assert_eq!(got.end, support::End::Done);
    assert_eq!(without_pings(&got.bytes), "PONG\r\n");
    server.shutdown().await;
}

/// An account JWT's `mappings` map its users' messages (a weight left out
/// is 100%), as on nats-server; a mapping nats-server could not add is
/// skipped, the others stay.
#[tokio::test]
async fn account_jwt_mappings_map_published_subjects() {
    let mut chain = Chain::new();
    let a = KeyPair::new_account();
    chain.add_account(&a, |c| {
        let to = |subject: &str| rnats_jwt::WeightedMapping {
            subject: subject.into(),
            ..Default::default()
        };
        c.nats.mappings.insert("a.*".into(), vec![to("b.$1")]);
        c.nats.mappings.insert("bad.*".into(), vec![to("x.$2")]);
    });
    let server = chain.start().await;
    let u = KeyPair::new_user();
    let jwt = user_jwt(&a, &u, |_| {});
    let mut c = login(&server, &jwt, &u).await;
    c.send(b"SUB > 1\r\nPUB a.x 2\r\nhi\r\nPUB bad.y 0\r\n\r\n")
        .await;
    c.expect(b"MSG b.x 1 2\r\nhi\r\nMSG bad.y 1 0\r\n\r\n")
        .await;

    // The reference maps the same.
    let Some(reference) =
        support::ReferenceServer::start_with_config(&chain.reference_config()).await
    else {
        server.shutdown().await;
        return;
    };
    let mut r = connect_jwt_at(reference.addr(), &jwt, Some(&u)).await;
    r.expect(b"PONG\r\n").await;
    r.send(b"SUB > 1\r\nPUB a.x 2\r\nhi\r\nPUB bad.y 0\r\n\r\n")
        .await;
    r.expect(b"MSG b.x 1 2\r\nhi\r\nMSG bad.y 1 0\r\n\r\n")
        .await;
    server.shutdown().await;
}

/// An account JWT's JetStream limits turn JetStream on in that account
/// only, with those limits; one pushed at run time gets it too.
#[tokio::test]
async fn jetstream_follows_the_account_jwt_limits() {
    let mut chain = Chain::new();
    let (with, without, later) = (
        KeyPair::new_account(),
        KeyPair::new_account(),
        KeyPair::new_account(),
    );
    chain.add_account(&with, |c| {
        c.nats.limits.jetstream.disk_storage = 1 << 20;
        c.nats.limits.jetstream.mem_storage = -1;
        c.nats.limits.jetstream.streams = 2;
    });
    chain.add_account(&without, |_| {});
    let dir = tempfile::tempdir().unwrap();
    let mut opts = chain.options();
    opts.jetstream = Some(rnats_jetstream::JetStreamConfig {
        store_dir: dir.path().to_path_buf(),
        ..Default::default()
    });
    let server = start_server(opts).await;
    let uw = KeyPair::new_user();
    let mut c = login(&server, &user_jwt(&with, &uw, |_| {}), &uw).await;
    let info = js_account_info(&mut c).await;
    let info: serde_json::Value = serde_json::from_slice(&info.payload).unwrap();
    assert_eq!(info["limits"]["max_storage"], 1 << 20, "{info}");
    assert_eq!(info["limits"]["max_streams"], 2, "{info}");

    // No JetStream limits: no JetStream there.
    let js = server.shared().jetstream.get().expect("JetStream runs");
    assert!(js.is_enabled(&with.public_key()));
    assert!(!js.is_enabled(&without.public_key()));
    assert!(!js.is_enabled(&later.public_key()));

    // An account pushed at run time with limits gets JetStream.
    let jwt = account_jwt(&chain.op, &later, |c| {
        c.nats.limits.jetstream.disk_storage = -1;
    });
    let answer = push_update(&server, &chain, &jwt).await;
    assert_eq!(answer["data"]["code"], 200, "{answer}");
    let ul = KeyPair::new_user();
    let mut c = login(&server, &user_jwt(&later, &ul, |_| {}), &ul).await;
    let info = js_account_info(&mut c).await;
    let info: serde_json::Value = serde_json::from_slice(&info.payload).unwrap();
    assert_eq!(info["limits"]["max_storage"], -1, "{info}");

    // An update changes the limits of an account that has JetStream.
    let jwt = account_jwt(&chain.op, &with, |c| {
        c.nats.limits.jetstream.disk_storage = 1 << 10;
        c.nats.limits.jetstream.mem_storage = -1;
        c.nats.limits.jetstream.streams = 1;
    });
    assert_eq!(
        push_update(&server, &chain, &jwt).await["data"]["code"],
        200
    );
    let uw = KeyPair::new_user();
    let mut c = login(&server, &user_jwt(&with, &uw, |_| {}), &uw).await;
    let info = js_account_info(&mut c).await;
    let info: serde_json::Value = serde_json::from_slice(&info.payload).unwrap();
    assert_eq!(info["limits"]["max_storage"], 1 << 10, "{info}");
    assert_eq!(info["limits"]["max_streams"], 1, "{info}");
    // And one without JetStream limits takes JetStream away, as nats-server.
    let jwt = account_jwt(&chain.op, &with, |_| {});
    assert_eq!(
        push_update(&server, &chain, &jwt).await["data"]["code"],
        200
    );
    assert!(!js.is_enabled(&with.public_key()));
    let uw = KeyPair::new_user();
    let mut c = login(&server, &user_jwt(&with, &uw, |_| {}), &uw).await;
    let info = js_account_info(&mut c).await;
    let info: serde_json::Value = serde_json::from_slice(&info.payload).unwrap();
    assert_eq!(info["error"]["err_code"], 10039, "{info}");
    server.shutdown().await;
}

/// Asks `$JS.API.INFO` over a raw connection.
async fn js_account_info(client: &mut RawClient) -> support::Msg {
    client
        .send(b"SUB _INBOX.js 1\r\nPUB $JS.API.INFO _INBOX.js 0\r\n\r\n")
        .await;
    client.next_msg().await
}

//! Accounts with the real client: isolation between accounts, and what
//! crosses it on purpose — stream and service exports/imports.

mod support;

use std::time::Duration;

use async_nats::{ConnectOptions, Message, Subscriber};
use futures::{FutureExt, StreamExt};
use rnats_server::options::{
    AccountConfig, ClusterOptions, ExportConfig, ExportKind, ImportConfig, UserConfig,
};
use rnats_server::{Options, Server};
use support::cluster::sync;

const WAIT: Duration = Duration::from_secs(10);

fn user(name: &str) -> UserConfig {
    UserConfig {
        user: name.into(),
        password: format!("{name}-pw"),
        permissions: None,
    }
}

async fn login(server: &Server, name: &str) -> async_nats::Client {
    ConnectOptions::new()
        .user_and_password(name.into(), format!("{name}-pw"))
        .connect(server.client_url())
        .await
        .expect("login works")
}

async fn next(sub: &mut Subscriber) -> Message {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("a message in time")
        .expect("subscription open")
}

/// Account A exports a stream (`events.>`) and a service (`help`); B imports
/// the stream under the prefix `from_a` and the service as `ask`.
async fn two_accounts() -> Server {
    Server::start(two_accounts_options())
        .await
        .expect("server starts")
}

fn two_accounts_options() -> Options {
    let mut opts = Options::for_tests();
    opts.auth.accounts = vec![
        AccountConfig {
            name: "A".into(),
            users: vec![user("alice")],
            exports: vec![
                ExportConfig::new(ExportKind::Stream, "events.>"),
                ExportConfig {
                    accounts: vec!["B".into()],
                    ..ExportConfig::new(ExportKind::Service, "help")
                },
            ],
            ..AccountConfig::default()
        },
        AccountConfig {
            name: "B".into(),
            users: vec![user("bob")],
            imports: vec![
                ImportConfig {
                    kind: ExportKind::Stream,
                    account: "A".into(),
                    subject: "events.>".into(),
                    prefix: Some("from_a".into()),
                    to: None,
                    share: false,
                },
                ImportConfig {
                    kind: ExportKind::Service,
                    account: "A".into(),
                    subject: "help".into(),
                    prefix: None,
                    to: Some("ask".into()),
                    share: false,
                },
            ],
            ..AccountConfig::default()
        },
        AccountConfig {
            name: "C".into(),
            users: vec![user("carol")],
            ..AccountConfig::default()
        },
    ];
    opts
}

#[tokio::test]
async fn accounts_do_not_see_each_others_messages() {
    let server = two_accounts().await;
    let (alice, carol) = (login(&server, "alice").await, login(&server, "carol").await);
    let mut in_a = alice.subscribe("news").await.unwrap();
    let mut in_c = carol.subscribe("news").await.unwrap();
    sync(&alice).await;
    sync(&carol).await;
    carol.publish("news", "for C only".into()).await.unwrap();
    alice.publish("news", "for A only".into()).await.unwrap();
    assert_eq!(next(&mut in_a).await.payload, "for A only");
    assert_eq!(next(&mut in_c).await.payload, "for C only");
    server.shutdown().await;
}

#[tokio::test]
async fn an_imported_stream_arrives_under_its_prefix() {
    let server = two_accounts().await;
    let (alice, bob, carol) = (
        login(&server, "alice").await,
        login(&server, "bob").await,
        login(&server, "carol").await,
    );
    let mut imported = bob.subscribe("from_a.events.>").await.unwrap();
    let mut unprefixed = bob.subscribe("events.>").await.unwrap();
    let mut not_importing = carol.subscribe(">").await.unwrap();
    sync(&bob).await;
    sync(&carol).await;
    // `>` also saw carol's own sync probe.
    assert!(
        next(&mut not_importing)
            .await
            .subject
            .starts_with("_INBOX.")
    );
    alice
        .publish("events.login", "alice logged in".into())
        .await
        .unwrap();
    alice
        .publish("private.stuff", "not exported".into())
        .await
        .unwrap();
    let m = next(&mut imported).await;
    assert_eq!(m.subject.as_str(), "from_a.events.login");
    assert_eq!(m.payload, "alice logged in");
    // Neither the unprefixed subject in B nor account C got anything.
    bob.publish("events.mine", "B's own".into()).await.unwrap();
    assert_eq!(next(&mut unprefixed).await.payload, "B's own");
    carol.publish("c.marker", "marker".into()).await.unwrap();
    assert_eq!(next(&mut not_importing).await.payload, "marker");
    server.shutdown().await;
}

#[tokio::test]
async fn an_imported_service_answers_across_accounts() {
    let server = two_accounts().await;
    let (alice, bob) = (login(&server, "alice").await, login(&server, "bob").await);
    let mut requests = alice.subscribe("help").await.unwrap();
    sync(&alice).await;
    let responder = tokio::spawn(async move {
        for _ in 0..3 {
            let req = next(&mut requests).await;
            let reply = req.reply.expect("requests carry a reply");
            assert!(
                reply.starts_with("_R_."),
                "the requester's inbox is not exposed: {reply}"
            );
            let answer = format!("help with {}", String::from_utf8_lossy(&req.payload));
            alice.publish(reply, answer.into()).await.unwrap();
        }
        alice.flush().await.unwrap();
    });
    for topic in ["a", "b", "c"] {
        let answer = bob
            .request("ask", topic.to_string().into())
            .await
            .expect("service answers");
        assert_eq!(answer.payload, format!("help with {topic}"));
    }
    responder.await.unwrap();
    // Carol's account imports nothing: nobody answers her.
    let carol = login(&server, "carol").await;
    let err = carol.request("ask", "?".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    server.shutdown().await;
}

#[tokio::test]
async fn importing_what_is_not_exported_is_refused_at_start() {
    let mut opts = Options::for_tests();
    opts.auth.accounts = vec![
        AccountConfig {
            name: "A".into(),
            users: vec![user("alice")],
            ..AccountConfig::default()
        },
        AccountConfig {
            name: "B".into(),
            users: vec![user("bob")],
            imports: vec![ImportConfig {
                kind: ExportKind::Stream,
                account: "A".into(),
                subject: "secrets.>".into(),
                prefix: None,
                to: None,
                share: false,
            }],
            ..AccountConfig::default()
        },
    ];
    let err = Server::start(opts).await.err().expect("start fails");
    assert!(err.to_string().contains("does not export it"), "{err}");
}

/// The same accounts on two clustered servers, with the importer's client
/// on one and the exporter's on the other: requests cross into the
/// exporting account and their answers come back; the stream arrives once.
#[tokio::test]
async fn imports_work_across_a_cluster() {
    let clustered = |routes: Vec<String>| {
        let mut opts = two_accounts_options();
        opts.cluster = Some(ClusterOptions {
            name: Some("accounts".into()),
            host: "127.0.0.1".into(),
            port: -1,
            routes,
            ..Default::default()
        });
        Server::start(opts)
    };
    let s1 = clustered(vec![]).await.expect("server starts");
    let route = format!("nats-route://{}", s1.cluster_addr().unwrap());
    let s2 = clustered(vec![route]).await.expect("server starts");
    let (alice, bob) = (login(&s2, "alice").await, login(&s1, "bob").await);

    let mut service = alice.subscribe("help").await.unwrap();
    sync(&alice).await;
    let responder = alice.clone();
    tokio::spawn(async move {
        while let Some(m) = service.next().await {
            if let Some(reply) = m.reply {
                let answer = format!("A answers {}", String::from_utf8_lossy(&m.payload));
                responder.publish(reply, answer.into()).await.unwrap();
            }
        }
    });
    // Until the service's interest has crossed, bob hears "no responders".
    let deadline = tokio::time::Instant::now() + WAIT;
    let answer = loop {
        match tokio::time::timeout(WAIT, bob.request("ask", "bob".into())).await {
            Ok(Ok(answer)) => break answer,
            Ok(Err(e)) if tokio::time::Instant::now() < deadline => {
                assert_eq!(e.kind(), async_nats::RequestErrorKind::NoResponders, "{e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => panic!("no answer across the cluster: {other:?}"),
        }
    };
    assert_eq!(answer.payload, "A answers bob");

    let mut imported = bob.subscribe("from_a.events.>").await.unwrap();
    sync(&bob).await;
    // Probes until bob's interest has reached s2.
    loop {
        alice.publish("events.probe", "".into()).await.unwrap();
        let got = tokio::time::timeout(Duration::from_millis(20), imported.next()).await;
        if let Ok(Some(m)) = got {
            assert_eq!(m.subject.as_str(), "from_a.events.probe");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream never crossed"
        );
    }
    alice.publish("events.login", "once".into()).await.unwrap();
    let m = loop {
        let m = next(&mut imported).await;
        if m.subject.as_str() != "from_a.events.probe" {
            break m;
        }
    };
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("from_a.events.login", &b"once"[..])
    );
    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), imported.next()).await {
        panic!("a second message: {}", m.subject);
    }
    drop(imported);

    // A queue group of the importing account with a member on each
    // server: each message of the stream, published on either, once.
    let bob2 = login(&s2, "bob").await;
    let account_a = |server: &Server| server.shared().accounts.get("A").unwrap().clone();
    let before = [
        account_a(&s1).sublist.count(),
        account_a(&s2).sublist.count(),
    ];
    let mut members = Vec::new();
    for client in [&bob, &bob2] {
        members.push(
            client
                .queue_subscribe("from_a.events.>", "workers".into())
                .await
                .unwrap(),
        );
        sync(client).await;
    }
    // Each server holds, in account A, the other's interest for the group.
    for (server, before) in [&s1, &s2].into_iter().zip(before) {
        let a = account_a(server);
        let deadline = tokio::time::Instant::now() + WAIT;
        while a.sublist.count() < before + 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "interest never crossed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    const N: usize = 50;
    let alice1 = login(&s1, "alice").await;
    for publisher in [&alice, &alice1] {
        for i in 0..N {
            publisher
                .publish("events.q", i.to_string().into())
                .await
                .unwrap();
        }
        sync(publisher).await;
    }
    let mut got = 0;
    for member in &mut members {
        while let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(300), member.next()).await
        {
            got += 1;
        }
    }
    assert_eq!(
        got,
        2 * N,
        "each message to exactly one member of the group"
    );
    s2.shutdown().await;
    s1.shutdown().await;
}

/// Issue 13, item 6: a wildcard service import renamed with `to` maps the
/// requested subject token by token into the export (`local.admin` asked
/// in B arrives as `svc.admin` in A), never as a subject A did not export;
/// and an import whose wildcards cannot be mapped is refused at start.
#[tokio::test]
async fn wildcard_service_imports_map_tokens_into_the_export() {
    let accounts = |to: &str| {
        vec![
            AccountConfig {
                name: "A".into(),
                users: vec![user("alice")],
                exports: vec![ExportConfig::new(ExportKind::Service, "svc.>")],
                ..AccountConfig::default()
            },
            AccountConfig {
                name: "B".into(),
                users: vec![user("bob")],
                imports: vec![ImportConfig {
                    kind: ExportKind::Service,
                    account: "A".into(),
                    subject: "svc.>".into(),
                    prefix: None,
                    to: Some(to.into()),
                    share: false,
                }],
                ..AccountConfig::default()
            },
        ]
    };
    let mut opts = Options::for_tests();
    opts.auth.accounts = accounts("local.>");
    let server = Server::start(opts).await.unwrap();
    let (alice, bob) = (login(&server, "alice").await, login(&server, "bob").await);
    let mut anything = alice.subscribe(">").await.unwrap();
    sync(&alice).await;
    bob.publish("local.admin", "hi".into()).await.unwrap();
    bob.flush().await.unwrap();
    // The first message that is not alice's own sync probe.
    let got = loop {
        let m = next(&mut anything).await;
        if !m.subject.starts_with("_INBOX.") {
            break m;
        }
    };
    assert_eq!(got.subject.as_str(), "svc.admin");
    server.shutdown().await;

    let mut opts = Options::for_tests();
    opts.auth.accounts = accounts("local.*");
    let refused = Server::start(opts).await.err().expect("refused");
    assert!(
        refused
            .to_string()
            .contains("failed to create mapping transform for service import subject"),
        "{refused}"
    );
}

/// A service exported with `response_type: stream` passes every answer
/// back to the requester (a singleton only the first), and
/// `account_token_position` lets an account import only the subject that
/// names it. Counted the same on current nats-server.
#[tokio::test]
async fn streamed_services_pass_every_answer_and_token_positions_name_the_importer() {
    const CONFIG: &str = r#"
accounts {
  A {
    users [{user: alice, password: alice-pw}]
    exports [
      {service: "status.*", account_token_position: 2, response_type: stream}
      {service: "once.*", account_token_position: 2}
    ]
  }
  B {
    users [{user: bob, password: bob-pw}]
    imports [
      {service: {account: A, subject: "status.B"}, to: status}
      {service: {account: A, subject: "once.B"}, to: once}
    ]
  }
}
"#;
    async fn answers(url: String) -> (usize, usize) {
        let connect = |name: &'static str| {
            ConnectOptions::new()
                .user_and_password(name.into(), format!("{name}-pw"))
                .connect(url.clone())
        };
        let (alice, bob) = (
            connect("alice").await.unwrap(),
            connect("bob").await.unwrap(),
        );
        // Two responders, each answering every request once and saying so.
        let (answered, mut answered_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for n in 0..2 {
            let mut requests = alice.subscribe("*.B").await.unwrap();
            let (alice, answered) = (alice.clone(), answered.clone());
            tasks.push(tokio::spawn(async move {
                while let Some(req) = requests.next().await {
                    if let Some(reply) = req.reply {
                        alice.publish(reply, format!("{n}").into()).await.unwrap();
                        answered.send(()).unwrap();
                    }
                }
            }));
        }
        sync(&alice).await;
        let mut counts = Vec::new();
        for subject in ["status", "once"] {
            let inbox = bob.new_inbox();
            let mut replies = bob.subscribe(inbox.clone()).await.unwrap();
            bob.publish_with_reply(subject, inbox, "?".into())
                .await
                .unwrap();
            bob.flush().await.unwrap();
            // Both answers sent and through the server (alice's PONG),
            // then whatever passed is ahead of bob's PONG.
            for _ in 0..2 {
                answered_rx.recv().await.unwrap();
            }
            sync(&alice).await;
            sync(&bob).await;
            let mut n = 0;
            while let Some(Some(_)) = replies.next().now_or_never() {
                n += 1;
            }
            counts.push(n);
        }
        for t in tasks {
            t.abort();
        }
        (counts[0], counts[1])
    }
    let mut opts = Options::for_tests();
    let root = rnats_conf::parse_str(CONFIG, "test.conf").expect("the config parses");
    rnats_server::config::apply(&mut opts, &root).expect("the config applies");
    let server = Server::start(opts).await.expect("server starts");
    assert_eq!(answers(server.client_url()).await, (2, 1));
    if let Some(reference) = support::ReferenceServer::start_latest(CONFIG, &[]).await {
        assert_eq!(
            answers(format!("nats://{}", reference.addr())).await,
            (2, 1)
        );
    }
    // An account importing a subject that names another is refused.
    let stolen = CONFIG.replace("\"once.B\"", "\"once.C\"");
    let root = rnats_conf::parse_str(&stolen, "test.conf").expect("the config parses");
    let err = rnats_server::config::apply(&mut Options::for_tests(), &root).expect_err("refused");
    assert!(
        err.to_string().contains("service import not authorized"),
        "{err}"
    );
    server.shutdown().await;
}

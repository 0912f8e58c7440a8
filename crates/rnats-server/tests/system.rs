//! Internal clients (`rnats_server::system`) with real servers and real
//! clients: services answering requests, internal subscribers receiving
//! clients' messages, internal publishes crossing a cluster and account
//! imports, and the flood limit.

mod support;

use std::time::Duration;

use async_nats::ConnectOptions;
use bytes::Bytes;
use rnats_server::options::{AccountConfig, ExportConfig, ExportKind, ImportConfig, UserConfig};
use rnats_server::system::{
    InboundMessage, OutboundMessage, PendingLimits, PublishError, SubscribeError, Subscriber,
    SystemClient,
};
use rnats_server::{Options, Server};
use support::cluster::{
    client, next, node, nothing_more, request_until_answered, route_to, sync, wait_routes,
    wait_subs, wait_until,
};
use support::{TIMEOUT, start_default_server, start_server};
use tokio::time::timeout;

fn system(server: &Server) -> SystemClient {
    SystemClient::new(server.shared().cluster.clone())
}

async fn recv(sub: &mut Subscriber) -> InboundMessage {
    timeout(TIMEOUT, sub.recv())
        .await
        .expect("a message in time")
        .expect("subscription open")
}

#[tokio::test]
async fn a_clients_request_is_answered_by_an_internal_service() {
    let server = start_default_server().await;
    let global = server.shared().accounts.global().clone();
    let internal = system(&server);
    let service = internal
        .serve(&global, "svc.*.upper", None, |msg| {
            let name = String::from_utf8_lossy(&msg.subject).into_owned();
            let payload = String::from_utf8_lossy(&msg.payload).to_uppercase();
            Some(Bytes::from(format!("{name}: {payload}")))
        })
        .expect("subscribed");
    let nc = client(&server).await;
    let answer = timeout(TIMEOUT, nc.request("svc.a.upper", "hello".into()))
        .await
        .expect("in time")
        .expect("answered");
    assert_eq!(&answer.payload[..], b"svc.a.upper: HELLO");

    // Closing the client ends the service and withdraws its interest: the
    // requester is told there are no responders.
    let subs = server.shared().subscription_count();
    internal.close();
    timeout(TIMEOUT, service).await.expect("ends").expect("ran");
    assert_eq!(server.shared().subscription_count(), subs - 1);
    let gone = nc.request("svc.a.upper", "again".into()).await;
    assert!(gone.is_err(), "{gone:?}");
    assert_eq!(
        internal.subscribe(&global, "x", None).err(),
        Some(SubscribeError::Closed)
    );
}

#[tokio::test]
async fn an_internal_subscriber_gets_subject_reply_headers_and_payload() {
    let server = start_default_server().await;
    let global = server.shared().accounts.global().clone();
    let internal = system(&server);
    let mut sub = internal
        .subscribe(&global, "in.>", None)
        .expect("subscribed");
    let nc = client(&server).await;

    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Test", "1");
    nc.publish_with_reply_and_headers("in.a.b", "reply.here", headers, "small".into())
        .await
        .unwrap();
    // A payload large enough to be shared with the publisher's read buffer.
    let big = Bytes::from(vec![b'z'; 64 * 1024]);
    nc.publish_with_reply("in.big", "r2", big.clone())
        .await
        .unwrap();
    nc.publish("not.in", "x".into()).await.unwrap();

    let m = recv(&mut sub).await;
    assert_eq!(&m.subject[..], b"in.a.b");
    assert_eq!(m.reply.as_deref(), Some(&b"reply.here"[..]));
    let block = m.headers.expect("headers");
    assert!(block.starts_with(b"NATS/1.0\r\n"), "{block:?}");
    assert!(block.ends_with(b"\r\n\r\n"), "{block:?}");
    let text = String::from_utf8_lossy(&block).to_ascii_lowercase();
    assert!(text.contains("x-test: 1\r\n"), "{text}");
    assert_eq!(&m.payload[..], b"small");

    let m = recv(&mut sub).await;
    assert_eq!(
        (&m.subject[..], m.reply.as_deref(), m.headers),
        (&b"in.big"[..], Some(&b"r2"[..]), None)
    );
    assert_eq!(m.payload, big);
    sync(&nc).await;
    assert!(sub.try_recv().is_none());

    // Unsubscribing removes it from the index.
    let subs = server.shared().subscription_count();
    sub.unsubscribe();
    assert_eq!(server.shared().subscription_count(), subs - 1);
}

#[tokio::test]
async fn internal_queue_subscribers_share_the_work() {
    let server = start_default_server().await;
    let global = server.shared().accounts.global().clone();
    let internal = system(&server);
    let mut one = internal
        .subscribe(&global, "work.*", Some("workers"))
        .expect("subscribed");
    let mut two = internal
        .subscribe(&global, "work.*", Some("workers"))
        .expect("subscribed");
    let nc = client(&server).await;
    for i in 0..40 {
        nc.publish(format!("work.{i}"), "job".into()).await.unwrap();
    }
    sync(&nc).await;
    let (mut a, mut b) = (0, 0);
    while one.try_recv().is_some() {
        a += 1;
    }
    while two.try_recv().is_some() {
        b += 1;
    }
    // Each message went to one member; both had some (a random pick, all
    // 40 on one side has a chance of 2^-39).
    assert_eq!(a + b, 40);
    assert!(a > 0 && b > 0, "{a} / {b}");
}

#[tokio::test]
async fn publishing_validates_and_reaches_clients_with_headers() {
    let server = start_default_server().await;
    let global = server.shared().accounts.global().clone();
    let internal = system(&server);
    let nc = client(&server).await;
    let mut sub = nc.subscribe("out.*").await.unwrap();
    sync(&nc).await;

    let headers = Bytes::from_static(b"NATS/1.0\r\nX-From: rnats\r\n\r\n");
    internal
        .publish(
            &global,
            OutboundMessage::new("out.one", "payload")
                .with_reply("answer.here")
                .with_headers(headers),
        )
        .expect("published");
    let m = next(&mut sub).await;
    assert_eq!(m.subject.as_str(), "out.one");
    assert_eq!(m.reply.as_deref(), Some("answer.here"));
    assert_eq!(
        m.headers.expect("headers").get("X-From").unwrap().as_str(),
        "rnats"
    );
    assert_eq!(&m.payload[..], b"payload");

    let bad = |msg| internal.publish(&global, msg).err();
    assert_eq!(
        bad(OutboundMessage::new("out.*", "x")),
        Some(PublishError::InvalidSubject)
    );
    assert_eq!(
        bad(OutboundMessage::new("out.x", "x").with_reply("a b")),
        Some(PublishError::InvalidReply)
    );
    assert_eq!(
        bad(OutboundMessage::new("out.x", "x").with_headers("X: y\r\n\r\n")),
        Some(PublishError::InvalidHeaders)
    );
    nothing_more(&mut sub).await;
}

#[tokio::test]
async fn a_flood_is_dropped_and_counted_and_the_subscription_goes_on() {
    let server = start_default_server().await;
    let global = server.shared().accounts.global().clone();
    let internal = system(&server);
    let limits = PendingLimits {
        messages: 10,
        bytes: 1024 * 1024,
    };
    let mut sub = internal
        .subscribe_with(&global, "flood", None, limits)
        .expect("subscribed");
    let nc = client(&server).await;
    for _ in 0..100 {
        nc.publish("flood", "x".into()).await.unwrap();
    }
    sync(&nc).await;
    assert_eq!((sub.pending(), sub.dropped()), (10, 90));
    for _ in 0..10 {
        recv(&mut sub).await;
    }
    // Room again: the next message is taken.
    nc.publish("flood", "after".into()).await.unwrap();
    assert_eq!(&recv(&mut sub).await.payload[..], b"after");
    assert_eq!(sub.dropped(), 90);

    // The byte limit counts too.
    let limits = PendingLimits {
        messages: 1000,
        bytes: 4096,
    };
    let bytes = internal
        .subscribe_with(&global, "big", None, limits)
        .expect("subscribed");
    for _ in 0..4 {
        nc.publish("big", Bytes::from(vec![b'b'; 1500]))
            .await
            .unwrap();
    }
    sync(&nc).await;
    assert_eq!((bytes.pending(), bytes.dropped()), (2, 2));
}

#[tokio::test]
async fn internal_clients_work_across_a_cluster() {
    let a = node("A", vec![]).await;
    let b = node("B", vec![route_to(&a)]).await;
    wait_routes(&a, 1).await;
    wait_routes(&b, 1).await;
    let (on_a, on_b) = (system(&a), system(&b));
    let (global_a, global_b) = (
        a.shared().accounts.global().clone(),
        b.shared().accounts.global().clone(),
    );

    // An internal publish on A reaches a client of B, headers and all.
    let cb = client(&b).await;
    let mut sub = cb.subscribe("to.b").await.unwrap();
    sync(&cb).await;
    wait_subs(&a, 1).await;
    let headers = Bytes::from_static(b"NATS/1.0\r\nX-Hop: 1\r\n\r\n");
    on_a.publish(
        &global_a,
        OutboundMessage::new("to.b", "across")
            .with_reply("back.to.a")
            .with_headers(headers),
    )
    .expect("published");
    let m = next(&mut sub).await;
    assert_eq!(&m.payload[..], b"across");
    assert_eq!(m.reply.as_deref(), Some("back.to.a"));
    assert_eq!(m.headers.unwrap().get("X-Hop").unwrap().as_str(), "1");

    // A service on B answers a client of A: its interest crossed the route,
    // and its answer crosses back to the requester's server.
    let service = on_b
        .serve(&global_b, "where", None, |_| Some(Bytes::from_static(b"B")))
        .expect("subscribed");
    let ca = client(&a).await;
    let answer = request_until_answered(&ca, "where", "?").await;
    assert_eq!(&answer.payload[..], b"B");

    // An internal subscriber on A gets a message a client of B publishes.
    let before = b.shared().subscription_count();
    let mut internal = on_a
        .subscribe(&global_a, "from.b", None)
        .expect("subscribed");
    wait_subs(&b, before + 1).await;
    cb.publish("from.b", "hi".into()).await.unwrap();
    let m = recv(&mut internal).await;
    assert_eq!(&m.payload[..], b"hi");

    // Closing B's internal client withdraws its interest from A.
    let before = a.shared().subscription_count();
    on_b.close();
    timeout(TIMEOUT, service).await.expect("ends").expect("ran");
    wait_until("the service's interest to leave A", || {
        a.shared().subscription_count() == before - 1
    })
    .await;
}

fn user(name: &str) -> UserConfig {
    UserConfig {
        user: name.into(),
        password: format!("{name}-pw"),
        permissions: None,
    }
}

#[tokio::test]
async fn an_internal_service_answers_through_a_service_import() {
    // Account SVC exports `help`; account B imports it as `ask`. The
    // internal service lives in SVC; a client of B asks.
    let mut opts = Options::for_tests();
    opts.auth.accounts = vec![
        AccountConfig {
            name: "SVC".into(),
            users: vec![user("svc")],
            exports: vec![ExportConfig::new(ExportKind::Service, "help")],
            ..AccountConfig::default()
        },
        AccountConfig {
            name: "B".into(),
            users: vec![user("bob")],
            imports: vec![ImportConfig {
                kind: ExportKind::Service,
                account: "SVC".into(),
                subject: "help".into(),
                prefix: None,
                to: Some("ask".into()),
                share: false,
            }],
            ..AccountConfig::default()
        },
    ];
    let server = start_server(opts).await;
    let svc = server
        .shared()
        .accounts
        .get("SVC")
        .expect("account")
        .clone();
    let internal = system(&server);
    let _service = internal
        .serve(&svc, "help", None, |msg| {
            // The reply is one the server made up in SVC.
            let reply = msg.reply.as_deref().unwrap_or_default();
            assert!(reply.starts_with(b"_R_."), "{reply:?}");
            Some(Bytes::from_static(b"helped"))
        })
        .expect("subscribed");
    let bob = ConnectOptions::new()
        .user_and_password("bob".into(), "bob-pw".into())
        .connect(server.client_url())
        .await
        .expect("login");
    let answer = timeout(Duration::from_secs(5), bob.request("ask", "?".into()))
        .await
        .expect("in time")
        .expect("answered");
    assert_eq!(&answer.payload[..], b"helped");
}

//! The official Rust client, `async-nats`, against a real rnats-server on a
//! random loopback port: the things every application does.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use async_nats::{ConnectOptions, HeaderMap, Message, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use rnats_server::{Options, Server};
use support::cluster::sync;

const WAIT: Duration = Duration::from_secs(10);

async fn start() -> Server {
    start_with(Options::for_tests()).await
}

async fn start_with(opts: Options) -> Server {
    Server::start(opts).await.expect("server starts")
}

async fn connect(server: &Server) -> async_nats::Client {
    async_nats::connect(server.client_url())
        .await
        .expect("client connects")
}

async fn next(sub: &mut Subscriber) -> Message {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("a message arrives in time")
        .expect("subscription still open")
}

/// Proves nothing more is queued for `sub`: a marker published after
/// everything else must be the next thing it sees.
async fn assert_nothing_before_marker(
    client: &async_nats::Client,
    sub: &mut Subscriber,
    subject: &str,
) {
    client
        .publish(subject.to_string(), "marker".into())
        .await
        .unwrap();
    let m = next(sub).await;
    assert_eq!(
        m.payload, "marker",
        "unexpected message {:?} on {}",
        m.payload, m.subject
    );
}

#[tokio::test]
async fn publish_and_subscribe() {
    let server = start().await;
    let client = connect(&server).await;
    let mut sub = client.subscribe("greet.joe").await.unwrap();
    client.publish("greet.joe", "hello".into()).await.unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.subject.as_str(), "greet.joe");
    assert_eq!(m.payload, "hello");

    let info = client.server_info();
    assert!(info.headers);
    assert_eq!(info.max_payload, 1024 * 1024);
    assert_eq!(info.port, server.local_addr().port());
    server.shutdown().await;
}

#[tokio::test]
async fn wildcards_match_by_token() {
    let server = start().await;
    let client = connect(&server).await;
    let mut star = client.subscribe("time.*.east").await.unwrap();
    let mut full = client.subscribe("time.us.>").await.unwrap();
    let mut all = client.subscribe(">").await.unwrap();
    for subject in [
        "time.us.east",
        "time.us.east.atlanta",
        "time.eu.east",
        "time.us",
    ] {
        client.publish(subject, subject.into()).await.unwrap();
    }
    sync(&client).await;

    assert_eq!(next(&mut star).await.subject.as_str(), "time.us.east");
    assert_eq!(next(&mut star).await.subject.as_str(), "time.eu.east");
    assert_eq!(next(&mut full).await.subject.as_str(), "time.us.east");
    assert_eq!(
        next(&mut full).await.subject.as_str(),
        "time.us.east.atlanta"
    );
    for expected in [
        "time.us.east",
        "time.us.east.atlanta",
        "time.eu.east",
        "time.us",
    ] {
        assert_eq!(next(&mut all).await.subject.as_str(), expected);
    }
    // `time.us` has no third token: neither wildcard subscription saw it.
    assert_nothing_before_marker(&client, &mut star, "time.marker.east").await;
    assert_nothing_before_marker(&client, &mut full, "time.us.marker").await;
    server.shutdown().await;
}

#[tokio::test]
async fn queue_groups_deliver_once_per_group_and_spread() {
    const MESSAGES: usize = 2000;
    let server = start().await;
    let publisher = connect(&server).await;
    let mut workers = Vec::new();
    for _ in 0..4 {
        let c = connect(&server).await;
        let sub = c.queue_subscribe("jobs", "workers".into()).await.unwrap();
        sync(&c).await;
        workers.push((c, sub));
    }
    let auditor_client = connect(&server).await;
    let mut auditors = auditor_client
        .queue_subscribe("jobs", "auditors".into())
        .await
        .unwrap();
    let mut plain = auditor_client.subscribe("jobs").await.unwrap();
    sync(&auditor_client).await;

    for i in 0..MESSAGES {
        publisher
            .publish("jobs", i.to_string().into())
            .await
            .unwrap();
    }
    sync(&publisher).await;

    // Merge the members' streams, remembering who got what.
    let streams = workers
        .iter_mut()
        .enumerate()
        .map(|(i, (_, sub))| sub.map(move |m| (i, m)));
    let mut merged = futures::stream::select_all(streams);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut per_worker = [0usize; 4];
    for _ in 0..MESSAGES {
        let (i, m) = tokio::time::timeout(WAIT, merged.next())
            .await
            .expect("every message reaches the group")
            .expect("subscriptions stay open");
        *seen
            .entry(String::from_utf8_lossy(&m.payload).into_owned())
            .or_default() += 1;
        per_worker[i] += 1;
    }
    drop(merged);
    assert_eq!(
        seen.len(),
        MESSAGES,
        "each message went to exactly one worker"
    );
    for n in &per_worker {
        assert!(
            *n > MESSAGES / 10,
            "work is spread across members: {per_worker:?}"
        );
    }
    for i in 0..MESSAGES {
        assert_eq!(next(&mut auditors).await.payload, i.to_string());
        assert_eq!(next(&mut plain).await.payload, i.to_string());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn request_reply() {
    let server = start().await;
    let service = connect(&server).await;
    let mut requests = service.subscribe("math.double").await.unwrap();
    sync(&service).await;
    let responder = tokio::spawn(async move {
        for _ in 0..10 {
            let req = next(&mut requests).await;
            let n: u64 = std::str::from_utf8(&req.payload).unwrap().parse().unwrap();
            let reply = req.reply.expect("requests carry a reply subject");
            service
                .publish(reply, (n * 2).to_string().into())
                .await
                .unwrap();
        }
        sync(&service).await;
    });
    let client = connect(&server).await;
    for n in 0..10u64 {
        let answer = client
            .request("math.double", n.to_string().into())
            .await
            .unwrap();
        assert_eq!(answer.payload, (n * 2).to_string());
    }
    responder.await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn headers_travel_with_the_message() {
    let server = start().await;
    let client = connect(&server).await;
    let mut sub = client.subscribe("orders").await.unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Order-Id", "42");
    headers.append("Tag", "a");
    headers.append("Tag", "b");
    client
        .publish_with_headers("orders", headers, "body".into())
        .await
        .unwrap();
    let m = next(&mut sub).await;
    let got = m.headers.expect("headers arrive");
    assert_eq!(got.get("Order-Id").map(|v| v.as_str()), Some("42"));
    assert_eq!(
        got.get_all("Tag").map(|v| v.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(m.payload, "body");
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_nobody_serves_fails_fast_with_no_responders() {
    let server = start().await;
    let client = connect(&server).await;
    let started = std::time::Instant::now();
    let err = client.request("nobody.home", "?".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    // The client's own request timeout is 10 s: the 503 must come well before.
    assert!(started.elapsed() < Duration::from_secs(5));
    server.shutdown().await;
}

#[tokio::test]
async fn echo_off_skips_own_messages_only() {
    let server = start().await;
    let quiet = ConnectOptions::new()
        .no_echo()
        .connect(server.client_url())
        .await
        .unwrap();
    let other = connect(&server).await;
    let mut own = quiet.subscribe("chat").await.unwrap();
    let mut theirs = other.subscribe("chat").await.unwrap();
    sync(&other).await;
    // `quiet` cannot hear itself, so it syncs through a request `other` answers.
    let mut echo_service = other.subscribe("echo.service").await.unwrap();
    sync(&other).await;
    let answer = {
        let other = other.clone();
        tokio::spawn(async move {
            let req = next(&mut echo_service).await;
            other
                .publish(req.reply.unwrap(), "ready".into())
                .await
                .unwrap();
        })
    };
    quiet.request("echo.service", Bytes::new()).await.unwrap();
    answer.await.unwrap();
    quiet.publish("chat", "from quiet".into()).await.unwrap();
    assert_eq!(next(&mut theirs).await.payload, "from quiet");
    other.publish("chat", "from other".into()).await.unwrap();
    // The first thing `own` sees is the other client's message, not its own.
    assert_eq!(next(&mut own).await.payload, "from other");
    server.shutdown().await;
}

#[tokio::test]
async fn unsubscribe_after_n_messages() {
    let server = start().await;
    let client = connect(&server).await;
    let mut sub = client.subscribe("ticks").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    let mut watcher = client.subscribe("ticks").await.unwrap();
    for i in 0..10 {
        client.publish("ticks", i.to_string().into()).await.unwrap();
    }
    sync(&client).await;
    for i in 0..10 {
        assert_eq!(next(&mut watcher).await.payload, i.to_string());
    }
    let mut got = Vec::new();
    while let Some(m) = tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("stream ends in time")
    {
        got.push(m.payload);
    }
    assert_eq!(got, ["0", "1", "2"]);
    server.shutdown().await;
}

#[tokio::test]
async fn many_subscriptions_each_get_their_subject() {
    const SUBS: usize = 2000;
    let server = start().await;
    let client = connect(&server).await;
    let mut subs = Vec::with_capacity(SUBS);
    for i in 0..SUBS {
        subs.push(client.subscribe(format!("many.{i}")).await.unwrap());
    }
    sync(&client).await;
    for i in 0..SUBS {
        client
            .publish(format!("many.{i}"), i.to_string().into())
            .await
            .unwrap();
    }
    sync(&client).await;
    for (i, sub) in subs.iter_mut().enumerate() {
        assert_eq!(next(sub).await.payload, i.to_string());
    }
    assert_nothing_before_marker(&client, &mut subs[7], "many.7").await;
    server.shutdown().await;
}

#[tokio::test]
async fn payloads_up_to_max_payload() {
    let server = start().await;
    let client = connect(&server).await;
    let mut subs = [
        client.subscribe("big").await.unwrap(),
        client.subscribe("big").await.unwrap(),
    ];
    let max = client.server_info().max_payload;
    let sizes = [0, 1, 4095, 4096, 65_536, 300_001, max];
    for size in sizes {
        let payload: Bytes = (0..size)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<_>>()
            .into();
        client.publish("big", payload).await.unwrap();
    }
    sync(&client).await;
    for sub in subs.iter_mut() {
        for size in sizes {
            let m = next(sub).await;
            assert_eq!(m.payload.len(), size);
            assert!(
                m.payload
                    .iter()
                    .enumerate()
                    .all(|(i, &b)| b == (i % 251) as u8)
            );
        }
    }
    // One byte over the limit is refused by the client library itself.
    let too_big = Bytes::from(vec![0u8; max + 1]);
    assert!(client.publish("big", too_big).await.is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn subscriptions_end_with_their_connection() {
    let server = start().await;
    let leaving = connect(&server).await;
    let staying = connect(&server).await;
    let _sub = leaving.subscribe("room").await.unwrap();
    sync(&leaving).await;
    assert_eq!(server.shared().accounts.global().sublist.count(), 1);
    drop(_sub);
    drop(leaving);
    // The client library closes asynchronously: wait for the server to notice.
    let deadline = std::time::Instant::now() + WAIT;
    while server.shared().client_count() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the closed client was never removed"
        );
        sync(&staying).await;
    }
    assert_eq!(server.shared().accounts.global().sublist.count(), 0);
    server.shutdown().await;
}

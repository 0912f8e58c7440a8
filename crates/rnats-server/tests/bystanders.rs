//! Issue 13's bystander tests: while one client overloads the server in
//! some way, a healthy publisher/subscriber pair keeps its messages flowing
//! and loses nothing. The tests assert no loss; the longest gap between
//! two messages is printed (timing is for benchmarks, not assertions).
//! They run the server on two worker threads, as a server runs.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use support::cluster::{cluster_opts, route_to, wait_routes};
use support::*;
use tokio::io::AsyncWriteExt;

/// Publishes `count` numbered messages on `subject` from `publisher`,
/// spaced a little, while `subscriber` takes them all in order; returns
/// the longest gap the subscriber saw.
async fn flow(
    publisher: async_nats::Client,
    mut subscriber: async_nats::Subscriber,
    count: u32,
) -> Duration {
    let sender = tokio::spawn(async move {
        for i in 0..count {
            publisher
                .publish("healthy", i.to_string().into())
                .await
                .expect("publishes");
            if i % 50 == 0 {
                publisher.flush().await.expect("flushes");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        publisher.flush().await.expect("flushes");
    });
    let mut longest = Duration::ZERO;
    let mut last = Instant::now();
    for expected in 0..count {
        let msg = tokio::time::timeout(Duration::from_secs(20), subscriber.next())
            .await
            .unwrap_or_else(|_| panic!("message {expected} never came"))
            .expect("the subscription stays");
        assert_eq!(
            std::str::from_utf8(&msg.payload).unwrap(),
            expected.to_string(),
            "lost or out of order"
        );
        longest = longest.max(last.elapsed());
        last = Instant::now();
    }
    sender.await.expect("the publisher finished");
    longest
}

/// A client with 300 000 subscriptions on one subject disconnects: removing
/// them must not stall everyone else's publishing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_with_300000_subscriptions_stalls_nobody() {
    let server = start_default_server().await;
    const SUBS: usize = 300_000;
    let mut heavy = RawClient::connect_quiet(server.local_addr()).await;
    let mut batch = Vec::with_capacity(SUBS * 16);
    for sid in 0..SUBS {
        batch.extend_from_slice(format!("SUB crowd {sid}\r\n").as_bytes());
    }
    batch.extend_from_slice(b"PING\r\n");
    heavy.send(&batch).await;
    // The server's own first PING may come before the PONG, or after it.
    let has_pong = |b: &[u8]| b.windows(6).any(|w| w == b"PONG\r\n");
    let answer = heavy.read_until(Duration::from_secs(60), has_pong).await;
    assert!(has_pong(&answer.bytes), "{}", show(&answer.bytes));
    wait_for_subscription_count(&server, SUBS).await;

    let publisher = async_nats::connect(server.client_url()).await.unwrap();
    let receiver = async_nats::connect(server.client_url()).await.unwrap();
    let subscriber = receiver.subscribe("healthy").await.unwrap();
    // async-nats's flush writes, it does not wait for the server: the
    // subscription is known to be in place once the server counts it.
    wait_for_subscription_count(&server, SUBS + 1).await;
    let healthy = tokio::spawn(flow(publisher, subscriber, 2_000));
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(heavy);
    let longest = healthy.await.expect("the healthy pair finished");
    wait_for_subscription_count(&server, 0).await;
    eprintln!("bystander: longest gap while 300000 subscriptions left: {longest:?}");
}

/// A storm of logins with wrong bcrypt passwords: the healthy pair (logged
/// in before) loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_wrong_bcrypt_passwords_stalls_nobody() {
    let hash = bcrypt::hash("right", 10).unwrap();
    let mut opts = rnats_server::Options::for_tests();
    let root = rnats_conf::parse_str(
        &format!("authorization {{ users = [ {{user: u, password: \"{hash}\"}} ] }}"),
        "storm.conf",
    )
    .unwrap();
    rnats_server::config::apply(&mut opts, &root).unwrap();
    let server = start_server(opts).await;
    let login = || {
        async_nats::ConnectOptions::new()
            .user_and_password("u".into(), "right".into())
            .connect(server.client_url())
    };
    let publisher = login().await.unwrap();
    let receiver = login().await.unwrap();
    let subscriber = receiver.subscribe("healthy").await.unwrap();
    wait_for_subscription_count(&server, 1).await;
    let addr = server.local_addr();
    let storm = tokio::spawn(async move {
        for _ in 0..40 {
            let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                continue;
            };
            let _ = s
                .write_all(
                    b"CONNECT {\"user\":\"u\",\"pass\":\"wrong\",\"verbose\":false}\r\nPING\r\n",
                )
                .await;
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = tokio::time::timeout(
                    Duration::from_secs(10),
                    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut sink),
                )
                .await;
            });
        }
    });
    let longest = flow(publisher, subscriber, 2_000).await;
    storm.await.unwrap();
    eprintln!("bystander: longest gap during a wrong-password bcrypt storm: {longest:?}");
}

/// A client subscribing as fast as it can (a new subject each time, so
/// every SUB grows the index), for as long as the healthy pair runs or
/// until 400 000 subscriptions: the pair loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_flooding_subscriptions_stalls_nobody() {
    let server = start_default_server().await;
    let publisher = async_nats::connect(server.client_url()).await.unwrap();
    let receiver = async_nats::connect(server.client_url()).await.unwrap();
    let subscriber = receiver.subscribe("healthy").await.unwrap();
    wait_for_subscription_count(&server, 1).await;

    const MOST: usize = 400_000;
    let done = Arc::new(AtomicBool::new(false));
    let mut flooder = RawClient::connect_quiet(server.local_addr()).await;
    let flood = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut sent = 0;
            let mut batch = Vec::with_capacity(64 * 1024);
            while sent < MOST && !done.load(Ordering::Relaxed) {
                batch.clear();
                for _ in 0..2_000 {
                    batch.extend_from_slice(format!("SUB flood.{sent} {sent}\r\n").as_bytes());
                    sent += 1;
                }
                flooder.send(&batch).await;
            }
            (flooder, sent)
        })
    };
    // The flood is under way before the pair starts.
    let deadline = Instant::now() + TIMEOUT;
    while server.shared().subscription_count() < 20_000 {
        assert!(Instant::now() < deadline, "the flood never got going");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let longest = flow(publisher, subscriber, 2_000).await;
    done.store(true, Ordering::Relaxed);
    let (flooder, sent) = flood.await.expect("the flood ends");
    eprintln!(
        "bystander: longest gap while a client sent {sent} SUBs as fast as it could: {longest:?}"
    );
    drop(flooder);
    // The healthy subscriber is gone with `flow`: nothing is left.
    wait_for_subscription_count(&server, 0).await;
}

/// A subscriber of the healthy subject that stops reading while a flood
/// on another of its subjects fills its outbound: it is closed as a slow
/// consumer at `max_pending`, and the healthy pair (whose publisher fed it
/// too) loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_stalls_nobody() {
    let mut opts = rnats_server::Options::for_tests();
    opts.max_pending = 4 * 1024 * 1024;
    let server = start_server(opts).await;
    let publisher = async_nats::connect(server.client_url()).await.unwrap();
    let receiver = async_nats::connect(server.client_url()).await.unwrap();
    let subscriber = receiver.subscribe("healthy").await.unwrap();
    let mut stuck = RawClient::connect_with_recv_buffer(server.local_addr(), 16 * 1024).await;
    stuck
        .send(b"CONNECT {\"verbose\":false}\r\nSUB healthy 1\r\nSUB flood 2\r\nPING\r\n")
        .await;
    stuck.expect(b"PONG\r\n").await;
    wait_for_subscription_count(&server, 3).await;
    // From here on the stuck client reads nothing.

    let flooder = async_nats::connect(server.client_url()).await.unwrap();
    let slow = || server.shared().stats.slow_consumers.clients.get();
    let flood = tokio::spawn(async move {
        let payload = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
        // Far more than max_pending and any socket buffers, and no more
        // once the stuck client is gone.
        for _ in 0..1_000 {
            flooder.publish("flood", payload.clone()).await.unwrap();
        }
        flooder.flush().await.unwrap();
    });
    let longest = flow(publisher, subscriber, 2_000).await;
    flood.await.expect("the flood was sent");
    let deadline = Instant::now() + Duration::from_secs(20);
    while slow() == 0 {
        assert!(
            Instant::now() < deadline,
            "the client that stopped reading was never closed as a slow consumer"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The stuck client's subscriptions went with it (and the healthy
    // subscriber's with `flow`).
    wait_for_subscription_count(&server, 0).await;
    eprintln!("bystander: longest gap while a subscriber stopped reading: {longest:?}");
}

/// Across a route: on node B one subscriber stops reading while a flood
/// from node A fills its outbound. B's route reader must not wait for it
/// (it carries everyone's messages); the healthy pair, publisher on A and
/// subscriber on B, loses nothing, and the stuck client is closed as a
/// slow consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_behind_a_route_stalls_nobody_on_that_route() {
    let a = start_server(rnats_server::Options {
        server_name: Some("A".into()),
        cluster: Some(cluster_opts(-1, vec![], true)),
        ..rnats_server::Options::for_tests()
    })
    .await;
    let b = start_server(rnats_server::Options {
        server_name: Some("B".into()),
        cluster: Some(cluster_opts(-1, vec![route_to(&a)], true)),
        max_pending: 4 * 1024 * 1024,
        ..rnats_server::Options::for_tests()
    })
    .await;
    wait_routes(&a, 1).await;
    wait_routes(&b, 1).await;

    let receiver = async_nats::connect(b.client_url()).await.unwrap();
    let subscriber = receiver.subscribe("healthy").await.unwrap();
    let mut stuck = RawClient::connect_with_recv_buffer(b.local_addr(), 16 * 1024).await;
    stuck
        .send(b"CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n")
        .await;
    stuck.expect(b"PONG\r\n").await;
    // A knows both subscriptions of B (its route's), so both subjects cross.
    let deadline = Instant::now() + TIMEOUT;
    while a.shared().subscription_count() < 2 {
        assert!(Instant::now() < deadline, "A never heard of B's interest");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    let publisher = async_nats::connect(a.client_url()).await.unwrap();
    let flooder = async_nats::connect(a.client_url()).await.unwrap();
    let flood = tokio::spawn(async move {
        let payload = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
        for _ in 0..1_000 {
            flooder.publish("flood", payload.clone()).await.unwrap();
        }
        flooder.flush().await.unwrap();
    });
    let longest = flow(publisher, subscriber, 2_000).await;
    flood.await.expect("the flood was sent");
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.shared().stats.slow_consumers.clients.get() == 0 {
        assert!(
            Instant::now() < deadline,
            "the client that stopped reading was never closed as a slow consumer"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(b.shared().stats.slow_consumers.routes.get(), 0);
    wait_routes(&b, 1).await;
    eprintln!(
        "bystander: longest gap across a route while a subscriber behind it stopped reading: {longest:?}"
    );
}

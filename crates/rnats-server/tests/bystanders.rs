//! Issue 13's bystander tests: while one client overloads the server in
//! some way, a healthy publisher/subscriber pair keeps its messages flowing
//! and loses nothing. The tests assert no loss; the longest gap between
//! two messages is printed (timing is for benchmarks, not assertions).
//! They run the server on two worker threads, as a server runs.

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
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

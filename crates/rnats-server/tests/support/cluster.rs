//! Helpers for the clustering tests: waiting for routes and interest to
//! settle, and reading messages with a bound.

use std::time::Duration;

use futures::StreamExt;
use rnats_server::options::ClusterOptions;
use rnats_server::{Options, Server};
use tokio::time::{Instant, sleep, timeout};

use super::{TIMEOUT, start_server};

/// The route credentials of the test clusters (a `!` to check that URLs
/// carry it percent-encoded).
pub const USER: &str = "ru";
pub const PASS: &str = "T0pS3cr3tT00!";

/// A test cluster's `cluster {}`: name `test`, on loopback, with the route
/// credentials when `auth`.
pub fn cluster_opts(port: i32, routes: Vec<String>, auth: bool) -> ClusterOptions {
    ClusterOptions {
        name: Some("test".into()),
        host: "127.0.0.1".into(),
        port,
        username: auth.then(|| USER.into()),
        password: auth.then(|| PASS.into()),
        routes,
        ..Default::default()
    }
}

/// A node named `name`, on any free route port, with route credentials,
/// dialling `routes`.
pub async fn node(name: &str, routes: Vec<String>) -> Server {
    node_on(name, -1, routes, true).await
}

pub async fn node_on(name: &str, port: i32, routes: Vec<String>, auth: bool) -> Server {
    let opts = Options {
        server_name: Some(name.into()),
        cluster: Some(cluster_opts(port, routes, auth)),
        ..Options::for_tests()
    };
    start_server(opts).await
}

/// The URL that routes to `server` with the credentials.
pub fn route_to(server: &Server) -> String {
    let addr = server.cluster_addr().expect("clustered");
    format!("nats-route://{USER}:{}@{addr}", PASS.replace('!', "%21"))
}

/// The server's side of its cluster.
pub fn cluster(server: &Server) -> &rnats_server::route::Cluster {
    server.shared().cluster.as_deref().expect("clustered")
}

/// Polls `cond` until it holds; fails after [`TIMEOUT`] naming `what`.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `server` has exactly `n` registered routes.
pub async fn wait_routes(server: &Server, n: usize) {
    wait_until(&format!("{n} routes"), || {
        cluster(server).route_count() == n
    })
    .await;
}

/// Waits until `server` indexes at least `n` subscriptions (local and remote).
pub async fn wait_subs(server: &Server, n: usize) {
    wait_until(&format!("{n} subscriptions"), || {
        server.shared().subscription_count() >= n
    })
    .await;
}

/// An async-nats client of `server`.
pub async fn client(server: &Server) -> async_nats::Client {
    async_nats::connect(server.client_url()).await.unwrap()
}

/// The next message, within [`TIMEOUT`].
pub async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    timeout(TIMEOUT, sub.next())
        .await
        .expect("a message in time")
        .expect("subscription open")
}

/// Fails if a message arrives within 200 ms (after a probe or a flush has
/// shown that anything sent before would have arrived first).
pub async fn nothing_more(sub: &mut async_nats::Subscriber) {
    if let Ok(Some(m)) = timeout(Duration::from_millis(200), sub.next()).await {
        panic!("unexpected message on {}", m.subject);
    }
}

/// A message crosses from `publisher`'s server to `subscriber`'s exactly
/// once: `subscriber` subscribes to `subject`, and once the publisher's
/// server (`via`) holds at least `interest` subscriptions (so the new one
/// has arrived), `publisher` sends one message.
pub async fn crosses_once(
    publisher: &async_nats::Client,
    via: &Server,
    interest: usize,
    subscriber: &async_nats::Client,
    subject: &str,
) {
    let mut sub = subscriber.subscribe(subject.to_string()).await.unwrap();
    subscriber.flush().await.unwrap();
    wait_subs(via, interest).await;
    publisher
        .publish(subject.to_string(), "once".into())
        .await
        .unwrap();
    assert_eq!(&next(&mut sub).await.payload[..], b"once");
    nothing_more(&mut sub).await;
}

/// Publishes `probe` on `subject` every 50 ms until `sub` receives a
/// message (interest crosses routes asynchronously; until it has, messages
/// vanish), and returns that message. Fails after [`TIMEOUT`].
pub async fn probe_until_received(
    publisher: &async_nats::Client,
    subject: &str,
    sub: &mut async_nats::Subscriber,
) -> async_nats::Message {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        publisher
            .publish(subject.to_string(), "probe".into())
            .await
            .unwrap();
        publisher.flush().await.unwrap();
        if let Ok(Some(m)) = timeout(Duration::from_millis(50), sub.next()).await {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "nothing published on {subject} arrived"
        );
    }
}

/// Sends `request` on `subject` until it is answered (a responder's
/// interest crosses routes asynchronously; until it has, requests go
/// unanswered or get no-responders), and returns the answer. Fails after
/// [`TIMEOUT`].
pub async fn request_until_answered(
    asker: &async_nats::Client,
    subject: &str,
    request: &'static str,
) -> async_nats::Message {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let attempt = timeout(
            Duration::from_secs(1),
            asker.request(subject.to_string(), request.into()),
        );
        match attempt.await {
            Ok(Ok(answer)) => return answer,
            _ if Instant::now() < deadline => sleep(Duration::from_millis(20)).await,
            other => panic!("no answer on {subject}: {other:?}"),
        }
    }
}

/// Returns once the server has processed everything `client` sent before:
/// a message to its own fresh inbox comes back only after that.
/// (`Client::flush` only empties the client's buffer; it does not wait.)
pub async fn sync(client: &async_nats::Client) {
    let inbox = client.new_inbox();
    let mut probe = client.subscribe(inbox.clone()).await.unwrap();
    // The server drops the probe as it delivers it: no subscription is left.
    probe.unsubscribe_after(1).await.unwrap();
    client.publish(inbox, bytes::Bytes::new()).await.unwrap();
    next(&mut probe).await;
}

//! `kill -9` under load: the real `rnats-server` binary stores what
//! async-nats publishes into a file stream, is killed without warning
//! while PubAcks are in flight, and is started again on the same store
//! directory. Every message that got a PubAck must be there, at the
//! sequence the PubAck gave, once.

mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};

const BIN: &str = env!("CARGO_BIN_EXE_rnats-server");

/// A server process, killed when the test ends, failed or not.
struct Running(Child);

impl Running {
    /// `kill -9`, and wait for it to be gone.
    fn kill(&mut self) {
        self.0.kill().expect("kill -9");
        self.0.wait().expect("the killed server is reaped");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary on `port` with JetStream in `dir`; returns once it takes
/// connections.
async fn start(dir: &std::path::Path, port: u16) -> Running {
    let child = Running(
        Command::new(BIN)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts"),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never listened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child
}

#[tokio::test]
async fn no_acknowledged_message_is_lost_to_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let mut server = start(dir.path(), port).await;
    let client = async_nats::ConnectOptions::new()
        .max_reconnects(Some(0))
        .connect(&url)
        .await
        .unwrap();
    let js = jetstream::new(client);
    js.create_stream(stream::Config {
        name: "CRASH".into(),
        subjects: vec!["crash.>".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .unwrap();

    // Publish with up to 256 PubAcks outstanding; kill the server once
    // 5 000 are in, so later ones are in flight when it dies.
    let mut acked: HashMap<u64, String> = HashMap::new();
    let mut in_flight = FuturesUnordered::new();
    let mut sent = 0u64;
    let mut killed = false;
    loop {
        while !killed && in_flight.len() < 256 {
            let payload = format!("message {sent}");
            sent += 1;
            let Ok(ack) = js
                .publish(format!("crash.{}", sent % 7), Bytes::from(payload.clone()))
                .await
            else {
                break;
            };
            in_flight.push(async move { (payload, ack.await) });
        }
        let Some((payload, result)) = in_flight.next().await else {
            break;
        };
        if let Ok(ack) = result {
            assert!(
                acked.insert(ack.sequence, payload).is_none(),
                "a sequence acknowledged twice"
            );
        }
        if !killed && acked.len() >= 5_000 {
            server.kill();
            killed = true;
        }
    }
    assert!(killed && acked.len() >= 5_000);

    let server = start(dir.path(), port).await;
    let client = async_nats::connect(&url).await.unwrap();
    let js = jetstream::new(client);
    let stream = js.get_stream("CRASH").await.unwrap();
    let info = stream.get_info().await.unwrap();
    let last = info.state.last_sequence;
    assert!(
        last >= *acked.keys().max().unwrap(),
        "acknowledged sequences are gone: last is {last}"
    );
    let mut seen = HashMap::new();
    for seq in 1..=last {
        let msg = stream
            .get_raw_message(seq)
            .await
            .unwrap_or_else(|e| panic!("seq {seq}: {e}"));
        let payload = String::from_utf8(msg.payload.to_vec()).unwrap();
        if let Some(expected) = acked.get(&seq) {
            assert_eq!(&payload, expected, "seq {seq} holds another message");
        }
        assert!(
            seen.insert(payload, seq).is_none(),
            "a message stored twice"
        );
    }
    // Sequences go on from where the store ended.
    let ack = js
        .publish("crash.after", Bytes::new())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, last + 1);
    drop(server);
}

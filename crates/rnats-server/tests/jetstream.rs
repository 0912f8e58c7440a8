//! JetStream streams as a user of the async-nats client sees them: create,
//! publish with acknowledgements and de-duplication, read back, manage,
//! restart; and the API's JSON next to nats-server 2.15.1's.

mod support;

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use rnats_server::{Options, Server};
use support::start_server;

fn js_options(dir: &std::path::Path) -> Options {
    let mut opts = Options::for_tests();
    opts.jetstream = Some(rnats_jetstream::JetStreamConfig {
        store_dir: dir.to_path_buf(),
        ..Default::default()
    });
    opts
}

async fn connect(server: &Server) -> (async_nats::Client, jetstream::Context) {
    let client = async_nats::connect(server.client_url()).await.unwrap();
    let js = jetstream::new(client.clone());
    (client, js)
}

fn config(name: &str, subjects: &[&str], storage: stream::StorageType) -> stream::Config {
    stream::Config {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        storage,
        ..Default::default()
    }
}

#[tokio::test]
async fn streams_store_acknowledge_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(js_options(dir.path())).await;
    let (_client, js) = connect(&server).await;
    for storage in [stream::StorageType::File, stream::StorageType::Memory] {
        let name = format!("ORDERS_{storage:?}");
        let subject = format!("orders.{storage:?}.>").to_lowercase();
        let mut stream = js
            .create_stream(config(&name, &[&subject], storage))
            .await
            .unwrap();
        assert_eq!(stream.info().await.unwrap().config.storage, storage);
        let base = subject.trim_end_matches(".>");
        for i in 1..=5u64 {
            let ack = js
                .publish(format!("{base}.{i}"), Bytes::from(format!("order {i}")))
                .await
                .unwrap()
                .await
                .unwrap();
            assert_eq!((ack.stream.as_str(), ack.sequence), (name.as_str(), i));
            assert!(!ack.duplicate);
        }
        let msg = stream.get_raw_message(3).await.unwrap();
        assert_eq!(msg.subject.as_str(), format!("{base}.3"));
        assert_eq!(&msg.payload[..], b"order 3");
        let last = stream
            .get_last_raw_message_by_subject(&format!("{base}.5"))
            .await
            .unwrap();
        assert_eq!(last.sequence, 5);
        let info = stream.info().await.unwrap();
        assert_eq!(
            (
                info.state.messages,
                info.state.first_sequence,
                info.state.last_sequence
            ),
            (5, 1, 5)
        );
        assert!(stream.delete_message(2).await.unwrap());
        let info = stream.get_info().await.unwrap();
        assert_eq!(
            (info.state.messages, info.state.deleted_count),
            (4, Some(1))
        );
        let purged = stream.purge().filter(format!("{base}.4")).await.unwrap();
        assert_eq!(purged.purged, 1);
        let err = stream.get_raw_message(2).await.unwrap_err();
        assert!(err.to_string().contains("no message found"), "{err}");
    }
    let mut names: Vec<String> = Vec::new();
    let mut listed = js.stream_names();
    use futures::TryStreamExt;
    while let Some(name) = listed.try_next().await.unwrap() {
        names.push(name);
    }
    // (async-nats hands the page out last first.)
    names.sort();
    assert_eq!(
        names,
        vec!["ORDERS_File".to_string(), "ORDERS_Memory".to_string()]
    );
    assert!(js.delete_stream("ORDERS_File").await.unwrap().success);
    let err = js.get_stream("ORDERS_File").await.unwrap_err();
    assert!(err.to_string().contains("stream not found"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn duplicates_and_expectations_are_nats_servers() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(js_options(dir.path())).await;
    let (_client, js) = connect(&server).await;
    js.create_stream(config("EVENTS", &["events.*"], stream::StorageType::File))
        .await
        .unwrap();
    let publish = |id: &str| {
        jetstream::message::PublishMessage::build()
            .message_id(id)
            .payload(Bytes::from_static(b"e"))
    };
    let first = js
        .send_publish("events.a", publish("id-1"))
        .await
        .unwrap()
        .await
        .unwrap();
    let again = js
        .send_publish("events.a", publish("id-1"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((first.sequence, again.sequence), (1, 1));
    assert!(again.duplicate && !first.duplicate);

    let wrong = jetstream::message::PublishMessage::build()
        .expected_last_sequence(7)
        .payload(Bytes::from_static(b"x"));
    let err = js
        .send_publish("events.b", wrong)
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("wrong last sequence: 1"), "{err}");

    let mut headers = HeaderMap::new();
    headers.insert("Nats-Expected-Stream", "OTHER");
    let err = js
        .publish_with_headers("events.b", headers, Bytes::new())
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("expected stream does not match"),
        "{err}"
    );

    let right = jetstream::message::PublishMessage::build()
        .expected_last_subject_sequence(0)
        .payload(Bytes::from_static(b"x"));
    let ack = js
        .send_publish("events.c", right)
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn limits_direct_get_and_updates() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(js_options(dir.path())).await;
    let (_client, js) = connect(&server).await;
    let mut cfg = config("KV", &["kv.>"], stream::StorageType::File);
    cfg.max_messages_per_subject = 2;
    cfg.allow_direct = true;
    let stream = js.create_stream(cfg.clone()).await.unwrap();
    for i in 0..5 {
        js.publish("kv.a", Bytes::from(format!("a{i}")))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    js.publish("kv.b", Bytes::from_static(b"b0"))
        .await
        .unwrap()
        .await
        .unwrap();
    let info = stream.get_info().await.unwrap();
    assert_eq!((info.state.messages, info.state.first_sequence), (3, 4));
    let last = stream.direct_get_last_for_subject("kv.a").await.unwrap();
    assert_eq!((&last.payload[..], last.sequence), (&b"a4"[..], 5));
    let err = stream
        .direct_get_last_for_subject("kv.zz")
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("not found"),
        "{err}"
    );

    cfg.max_messages_per_subject = 1;
    cfg.subjects = vec!["kv.>".into(), "more.>".into()];
    js.update_stream(cfg).await.unwrap();
    let info = stream.get_info().await.unwrap();
    assert_eq!(info.state.messages, 2);
    let ack = js
        .publish("more.x", Bytes::new())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 7);

    let err = js
        .create_stream(config("CLASH", &["kv.a"], stream::StorageType::Memory))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("subjects overlap with an existing stream"),
        "{err}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn file_streams_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(js_options(dir.path())).await;
    let (client, js) = connect(&server).await;
    js.create_stream(config("KEEP", &["keep.>"], stream::StorageType::File))
        .await
        .unwrap();
    for i in 0..100u64 {
        let ack = js
            .publish(format!("keep.{}", i % 3), Bytes::from(i.to_string()))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.sequence, i + 1);
    }
    drop(client);
    server.shutdown().await;

    let server = start_server(js_options(dir.path())).await;
    let (_client, js) = connect(&server).await;
    let stream = js.get_stream("KEEP").await.unwrap();
    let info = stream.get_info().await.unwrap();
    assert_eq!((info.state.messages, info.state.last_sequence), (100, 100));
    assert_eq!(
        &stream.get_raw_message(42).await.unwrap().payload[..],
        b"41"
    );
    let ack = js
        .publish("keep.x", Bytes::new())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 101);
    server.shutdown().await;
}

#[tokio::test]
async fn jetstream_off_is_refused_like_nats_server() {
    let server = start_server(Options::for_tests()).await;
    let client = async_nats::connect(server.client_url()).await.unwrap();
    let js = jetstream::new(client);
    let js = {
        let mut js = js;
        js.set_timeout(Duration::from_millis(500));
        js
    };
    // No one answers $JS.API without JetStream: the client hears so at
    // once (no responders), as with nats-server.
    let err = js.query_account().await.unwrap_err();
    assert!(err.to_string().contains("JetStream unavailable"), "{err}");
    server.shutdown().await;
}

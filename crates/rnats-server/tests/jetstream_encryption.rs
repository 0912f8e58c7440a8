//! Encryption at rest and S2 compression of file streams, as a client and
//! the disk see them: an encrypted stream survives restarts and leaves no
//! plaintext in its files, a wrong key starts nothing, and encrypted
//! stores move between rnats and nats-server 2.15.1 both ways.

mod support;

use std::path::Path;

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use rnats_jetstream::config::Cipher;
use rnats_server::{Server, config};
use support::{http_get, start_server};

const KEY: &str = "a-very-secret-test-key";

/// rnats with JetStream in `dir`, encryption `cipher` with `key`, and
/// monitoring on a free port.
async fn rnats(dir: &Path, cipher: &str, key: &str) -> Server {
    let conf = dir.join("rnats.conf");
    std::fs::write(
        &conf,
        format!(
            "port: -1\nhost: 127.0.0.1\nhttp_port: -1\njetstream {{ store_dir: {:?}, cipher: {cipher}, key: {key:?} }}\n",
            dir.join("store").display().to_string()
        ),
    )
    .unwrap();
    let (opts, _) = config::load(&conf).expect("the config loads");
    let js = opts.jetstream.as_ref().expect("jetstream on");
    assert_eq!(js.key.as_deref(), Some(key));
    assert!(!format!("{opts:?}").contains(key), "Debug shows the key");
    start_server(opts).await
}

fn stream_config(name: &str, compression: bool) -> stream::Config {
    stream::Config {
        name: name.into(),
        subjects: vec![format!("{}.>", name.to_lowercase())],
        storage: stream::StorageType::File,
        compression: compression.then_some(stream::Compression::S2),
        ..Default::default()
    }
}

fn payload(i: u64) -> Bytes {
    Bytes::from(format!("top-secret-payload-{i:05}"))
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_none_or(|e| e != "conf") {
                let bytes = std::fs::read(&path).unwrap();
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    out.push(path.display().to_string());
                }
            }
        }
    }
    out
}

async fn publish(js: &jetstream::Context, subject: &str, from: u64, to: u64) {
    for i in from..=to {
        let ack = js
            .publish(subject.to_string(), payload(i))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.sequence, i);
    }
}

/// A compressed stream `name` (subject `<name in lower case>.x`) of 32 kB
/// blocks (from `max_bytes`), with 200 messages of 300 `byte`s: several
/// blocks are sealed, so compressed.
async fn fill_compressed(js: &jetstream::Context, name: &str, byte: u8) {
    js.create_stream(stream::Config {
        max_bytes: 120_000,
        ..stream_config(name, true)
    })
    .await
    .unwrap();
    let subject = format!("{}.x", name.to_lowercase());
    for _ in 0..200 {
        js.publish(subject.clone(), Bytes::from(vec![byte; 300]))
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

/// What [`fill_compressed`] stored is all there.
async fn read_compressed(js: &jetstream::Context, name: &str, byte: u8) {
    let stream = js.get_stream(name).await.unwrap();
    assert_eq!(stream.get_info().await.unwrap().state.messages, 200);
    for seq in [1, 100, 200] {
        let msg = stream.get_raw_message(seq).await.unwrap();
        assert_eq!(&msg.payload[..], &[byte; 300][..], "{name} seq {seq}");
    }
}

async fn read_back(js: &jetstream::Context, name: &str, n: u64) {
    let stream = js.get_stream(name).await.unwrap();
    let info = stream.get_info().await.unwrap();
    assert_eq!((info.state.messages, info.state.last_sequence), (n, n));
    for seq in [1, n / 2, n] {
        let msg = stream.get_raw_message(seq).await.unwrap();
        assert_eq!(msg.payload, payload(seq), "seq {seq}");
    }
}

#[tokio::test]
async fn an_encrypted_file_stream_survives_restarts_and_keeps_no_plaintext() {
    for (cipher, compression) in [("chachapoly", false), ("aes", true)] {
        let dir = tempfile::tempdir().unwrap();
        let server = rnats(dir.path(), cipher, KEY).await;
        let client = async_nats::connect(server.client_url()).await.unwrap();
        let js = jetstream::new(client.clone());
        js.create_stream(stream_config("SECRET", compression))
            .await
            .unwrap();
        publish(&js, "secret.orders", 1, 300).await;
        // The key is in no monitoring answer.
        let http = server.monitor_addr().unwrap();
        for path in ["/varz", "/jsz?accounts=true&streams=true&config=true"] {
            let (status, body) = http_get(http, path).await;
            assert_eq!(status, 200, "{path}");
            assert!(!body.contains(KEY), "{path} shows the key");
        }
        drop(client);
        server.shutdown().await;

        let store = dir.path().join("store");
        for needle in [&b"top-secret-payload"[..], b"secret.orders", b"SECRET"] {
            assert_eq!(
                files_holding(&store, needle),
                Vec::<String>::new(),
                "{cipher}"
            );
        }
        let sdir = store.join("jetstream/$G/streams/SECRET");
        assert!(sdir.join("meta.key").exists());
        assert!(sdir.join("msgs/1.key").exists());

        let server = rnats(dir.path(), cipher, KEY).await;
        let client = async_nats::connect(server.client_url()).await.unwrap();
        let js = jetstream::new(client.clone());
        read_back(&js, "SECRET", 300).await;
        publish(&js, "secret.orders", 301, 310).await;
        drop(client);
        server.shutdown().await;

        // A wrong key starts nothing and changes nothing.
        let server = rnats(dir.path(), cipher, "not-the-key").await;
        let client = async_nats::connect(server.client_url()).await.unwrap();
        let js = jetstream::new(client.clone());
        assert!(js.get_stream("SECRET").await.is_err(), "{cipher}");
        drop(client);
        server.shutdown().await;

        let server = rnats(dir.path(), cipher, KEY).await;
        let client = async_nats::connect(server.client_url()).await.unwrap();
        read_back(&jetstream::new(client.clone()), "SECRET", 310).await;
        drop(client);
        server.shutdown().await;
    }
}

/// The config of nats-server 2.15.1 with the same store and key.
fn reference_config(dir: &Path, cipher: &str) -> String {
    format!(
        "jetstream {{ store_dir: {:?}, cipher: {cipher}, key: {KEY:?} }}\n",
        dir.join("store").display().to_string()
    )
}

#[tokio::test]
async fn encrypted_stores_move_between_nats_server_and_rnats() {
    for cipher in ["chachapoly", "aes"] {
        // nats-server writes, rnats reads and goes on.
        let dir = tempfile::tempdir().unwrap();
        let Some(reference) = support::ReferenceServer::start_latest_with_config(
            &reference_config(dir.path(), cipher),
        )
        .await
        else {
            return;
        };
        let client = async_nats::connect(format!("nats://{}", reference.addr()))
            .await
            .unwrap();
        let js = jetstream::new(client.clone());
        js.create_stream(stream_config("FROMGO", false))
            .await
            .unwrap();
        publish(&js, "fromgo.x", 1, 50).await;
        // And compressed by nats-server (S2 with its extensions): 32 kB
        // blocks, each compressed once the next one takes over.
        fill_compressed(&js, "GOZIP", b'g').await;
        let first = dir
            .path()
            .join("store/jetstream/$G/streams/GOZIP/msgs/1.blk");
        let mut compressed = false;
        for _ in 0..200 {
            if std::fs::metadata(&first).is_ok_and(|m| m.len() < 8_000) {
                compressed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(compressed, "nats-server compressed its sealed block");
        drop(client);
        drop(reference);
        assert!(files_holding(&dir.path().join("store"), b"top-secret-payload").is_empty());
        let server = rnats(dir.path(), cipher, KEY).await;
        let client = async_nats::connect(server.client_url()).await.unwrap();
        let js = jetstream::new(client.clone());
        read_back(&js, "FROMGO", 50).await;
        publish(&js, "fromgo.x", 51, 60).await;
        read_compressed(&js, "GOZIP", b'g').await;
        drop(client);
        server.shutdown().await;

        // rnats writes, nats-server reads (rnats's blocks, its index.db
        // rebuilt by nats-server from them).
        let dir = tempfile::tempdir().unwrap();
        let server = rnats(dir.path(), cipher, KEY).await;
        let client = async_nats::connect(server.client_url()).await.unwrap();
        let js = jetstream::new(client.clone());
        js.create_stream(stream_config("FROMRS", false))
            .await
            .unwrap();
        publish(&js, "fromrs.x", 1, 50).await;
        // And compressed: 32 kB blocks (from max_bytes), several sealed.
        fill_compressed(&js, "ZIPPED", b'z').await;
        drop(client);
        server.shutdown().await;
        let reference = support::ReferenceServer::start_latest_with_config(&reference_config(
            dir.path(),
            cipher,
        ))
        .await
        .expect("started before");
        let client = async_nats::connect(format!("nats://{}", reference.addr()))
            .await
            .unwrap();
        let js = jetstream::new(client.clone());
        read_back(&js, "FROMRS", 50).await;
        publish(&js, "fromrs.x", 51, 55).await;
        let zipped = dir
            .path()
            .join("store/jetstream/$G/streams/ZIPPED/msgs/1.blk");
        let size = std::fs::metadata(&zipped).unwrap().len();
        assert!(size < 8_000, "1.blk was compressed: {size} bytes");
        read_compressed(&js, "ZIPPED", b'z').await;
        drop(client);
        drop(reference);
    }
}

#[test]
fn the_cipher_is_read_as_nats_server_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.conf");
    for (text, cipher) in [
        ("key: k", Some(Cipher::ChaCha)),
        ("key: k, cipher: aes", Some(Cipher::Aes)),
        ("key: k, cipher: chacha", Some(Cipher::ChaCha)),
        ("cipher: aes", None),
    ] {
        std::fs::write(
            &conf,
            format!("jetstream {{ store_dir: /tmp/x, {text} }}\n"),
        )
        .unwrap();
        let (opts, _) = config::load(&conf).unwrap();
        assert_eq!(
            opts.jetstream.unwrap().encryption_cipher(),
            cipher,
            "{text}"
        );
    }
}

/// `compression` changed by a stream update applies from the next start,
/// as nats-server's file store (configured once, when opened) does: the
/// blocks sealed after it are compressed, the earlier ones stay as they
/// are, and every message reads back.
#[tokio::test]
async fn compression_turned_on_by_an_update_applies_from_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let msgs = dir.path().join("store/jetstream/$G/streams/LOGS/msgs");
    let server = rnats(dir.path(), "aes", KEY).await;
    let client = async_nats::connect(server.client_url()).await.unwrap();
    let js = jetstream::new(client.clone());
    // 32 kB blocks (from max_bytes).
    let config = stream::Config {
        max_bytes: 120_000,
        ..stream_config("LOGS", false)
    };
    js.create_stream(config.clone()).await.unwrap();
    let line = Bytes::from(vec![b'l'; 300]);
    for _ in 0..150 {
        js.publish("logs.x", line.clone())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let info = js
        .update_stream(stream::Config {
            compression: Some(stream::Compression::S2),
            ..config
        })
        .await
        .unwrap();
    assert_eq!(info.config.compression, Some(stream::Compression::S2));
    drop(client);
    server.shutdown().await;
    let plain_first = std::fs::metadata(msgs.join("1.blk")).unwrap().len();
    assert!(plain_first > 30_000, "not compressed before: {plain_first}");

    let server = rnats(dir.path(), "aes", KEY).await;
    let client = async_nats::connect(server.client_url()).await.unwrap();
    let js = jetstream::new(client.clone());
    for _ in 0..150 {
        js.publish("logs.x", line.clone())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let stream = js.get_stream("LOGS").await.unwrap();
    let state = stream.get_info().await.unwrap().state;
    assert_eq!(state.last_sequence, 300);
    for seq in [state.first_sequence, 150, 151, 300] {
        assert_eq!(stream.get_raw_message(seq).await.unwrap().payload, line);
    }
    drop(client);
    server.shutdown().await;
    let mut sizes: Vec<(u32, u64)> = std::fs::read_dir(&msgs)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let n = name.strip_suffix(".blk")?.parse().ok()?;
            Some((n, e.metadata().unwrap().len()))
        })
        .collect();
    sizes.sort();
    let (last, sealed) = sizes.split_last().unwrap();
    assert!(
        sealed.iter().any(|(_, len)| *len < 8_000),
        "a block sealed after the restart is compressed: {sizes:?}"
    );
    assert!(last.1 > 0, "{sizes:?}");
}

/// A key configured for a store of plain streams encrypts them in place at
/// the next start, as nats-server does; the messages stay, and are then
/// in no file as plaintext.
#[tokio::test]
async fn a_plain_stream_is_encrypted_when_a_key_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("plain.conf");
    std::fs::write(
        &conf,
        format!(
            "port: -1\nhost: 127.0.0.1\njetstream {{ store_dir: {:?} }}\n",
            dir.path().join("store").display().to_string()
        ),
    )
    .unwrap();
    let (opts, _) = config::load(&conf).unwrap();
    let server = start_server(opts).await;
    let client = async_nats::connect(server.client_url()).await.unwrap();
    let js = jetstream::new(client.clone());
    js.create_stream(stream_config("WAS", false)).await.unwrap();
    publish(&js, "was.plain", 1, 100).await;
    drop(client);
    server.shutdown().await;
    let store = dir.path().join("store");
    assert!(!files_holding(&store, b"top-secret-payload").is_empty());

    let server = rnats(dir.path(), "chachapoly", KEY).await;
    let client = async_nats::connect(server.client_url()).await.unwrap();
    let js = jetstream::new(client.clone());
    read_back(&js, "WAS", 100).await;
    publish(&js, "was.plain", 101, 110).await;
    drop(client);
    server.shutdown().await;
    for needle in [&b"top-secret-payload"[..], b"was.plain", b"\"WAS\""] {
        assert_eq!(files_holding(&store, needle), Vec::<String>::new());
    }
    let server = rnats(dir.path(), "chachapoly", KEY).await;
    let client = async_nats::connect(server.client_url()).await.unwrap();
    read_back(&jetstream::new(client.clone()), "WAS", 110).await;
    drop(client);
    server.shutdown().await;
}

/// A change of `cipher` (same key) converts the streams at the next start,
/// as nats-server does.
#[tokio::test]
async fn a_change_of_cipher_converts_the_streams() {
    let dir = tempfile::tempdir().unwrap();
    let server = rnats(dir.path(), "aes", KEY).await;
    let client = async_nats::connect(server.client_url()).await.unwrap();
    let js = jetstream::new(client.clone());
    js.create_stream(stream_config("TURN", false))
        .await
        .unwrap();
    publish(&js, "turn.x", 1, 40).await;
    drop(client);
    server.shutdown().await;
    for round in 0..2 {
        let server = rnats(dir.path(), "chachapoly", KEY).await;
        let client = async_nats::connect(server.client_url()).await.unwrap();
        let js = jetstream::new(client.clone());
        read_back(&js, "TURN", 40 + round).await;
        publish(&js, "turn.x", 41 + round, 41 + round).await;
        drop(client);
        server.shutdown().await;
    }
    assert!(files_holding(&dir.path().join("store"), b"top-secret-payload").is_empty());
}

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
    let with_id = || {
        jetstream::message::PublishMessage::build()
            .message_id("once")
            .payload(Bytes::from_static(b"id"))
    };
    let ack = js
        .send_publish("keep.id", with_id())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 101);
    drop(client);
    server.shutdown().await;

    let server = start_server(js_options(dir.path())).await;
    let (_client, js) = connect(&server).await;
    let stream = js.get_stream("KEEP").await.unwrap();
    let info = stream.get_info().await.unwrap();
    assert_eq!((info.state.messages, info.state.last_sequence), (101, 101));
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
    assert_eq!(ack.sequence, 102);
    // The duplicate window outlives the restart.
    let ack = js
        .send_publish("keep.id", with_id())
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(ack.duplicate && ack.sequence == 101, "{ack:?}");
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

/// One answer of the API, as the comparison sees it.
#[derive(Debug)]
struct Answer {
    status: Option<u16>,
    header_names: Vec<String>,
    json: Option<serde_json::Value>,
}

/// A request: its label, subject, headers and body.
type Step = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    &'static str,
);

/// The same requests, in order, against a server: the answers.
async fn api_scenario(url: &str) -> Vec<(String, Answer)> {
    let client = async_nats::connect(url).await.unwrap();
    let steps: Vec<Step> = vec![
        ("account info", "$JS.API.INFO", vec![], ""),
        (
            "create",
            "$JS.API.STREAM.CREATE.S",
            vec![],
            r#"{"name":"S","subjects":["s.>"],"storage":"memory","allow_direct":true,"max_msgs_per_subject":3}"#,
        ),
        (
            "create again",
            "$JS.API.STREAM.CREATE.S",
            vec![],
            r#"{"name":"S","subjects":["s.>"],"storage":"memory","allow_direct":true,"max_msgs_per_subject":3}"#,
        ),
        (
            "create, other config",
            "$JS.API.STREAM.CREATE.S",
            vec![],
            r#"{"name":"S","subjects":["x.>"],"storage":"memory"}"#,
        ),
        (
            "create, overlapping subjects",
            "$JS.API.STREAM.CREATE.B",
            vec![],
            r#"{"name":"B","subjects":["a.>","a.b"]}"#,
        ),
        (
            "create, name mismatch",
            "$JS.API.STREAM.CREATE.C",
            vec![],
            r#"{"name":"D"}"#,
        ),
        (
            "create, bad json",
            "$JS.API.STREAM.CREATE.C",
            vec![],
            r#"{"name":"#,
        ),
        (
            "create, unknown field (strict)",
            "$JS.API.STREAM.CREATE.C",
            vec![],
            r#"{"name":"C","subjects":["c"],"bogus_field":1}"#,
        ),
        (
            "create, unknown nested field (strict)",
            "$JS.API.STREAM.CREATE.C",
            vec![],
            r#"{"name":"C","subjects":["c"],"consumer_limits":{"bogus":1}}"#,
        ),
        (
            "purge, unknown field (strict)",
            "$JS.API.STREAM.PURGE.S",
            vec![],
            r#"{"filtr":"s.a"}"#,
        ),
        ("publish", "s.a", vec![], "one"),
        ("publish with id", "s.b", vec![("Nats-Msg-Id", "m1")], "two"),
        (
            "publish duplicate",
            "s.b",
            vec![("Nats-Msg-Id", "m1")],
            "two",
        ),
        (
            "publish, wrong last seq",
            "s.c",
            vec![("Nats-Expected-Last-Sequence", "9")],
            "x",
        ),
        (
            "publish, wrong last id",
            "s.c",
            vec![("Nats-Expected-Last-Msg-Id", "zz")],
            "x",
        ),
        (
            "publish, wrong stream",
            "s.c",
            vec![("Nats-Expected-Stream", "T")],
            "x",
        ),
        (
            "publish, rollup not allowed",
            "s.c",
            vec![("Nats-Rollup", "sub")],
            "x",
        ),
        (
            "publish, ttl disabled",
            "s.c",
            vec![("Nats-TTL", "5s")],
            "x",
        ),
        (
            "publish with headers",
            "s.a",
            vec![("X-Extra", "yes")],
            "three",
        ),
        ("info", "$JS.API.STREAM.INFO.S", vec![], ""),
        (
            "info with details",
            "$JS.API.STREAM.INFO.S",
            vec![],
            r#"{"subjects_filter":">","deleted_details":true}"#,
        ),
        (
            "msg get",
            "$JS.API.STREAM.MSG.GET.S",
            vec![],
            r#"{"seq":1}"#,
        ),
        (
            "msg get with headers",
            "$JS.API.STREAM.MSG.GET.S",
            vec![],
            r#"{"seq":3}"#,
        ),
        (
            "msg get last",
            "$JS.API.STREAM.MSG.GET.S",
            vec![],
            r#"{"last_by_subj":"s.b"}"#,
        ),
        (
            "msg get missing",
            "$JS.API.STREAM.MSG.GET.S",
            vec![],
            r#"{"seq":99}"#,
        ),
        (
            "msg get, two keys",
            "$JS.API.STREAM.MSG.GET.S",
            vec![],
            r#"{"seq":1,"last_by_subj":"s.b"}"#,
        ),
        ("direct get", "$JS.API.DIRECT.GET.S", vec![], r#"{"seq":1}"#),
        (
            "direct get with headers",
            "$JS.API.DIRECT.GET.S",
            vec![],
            r#"{"seq":3}"#,
        ),
        (
            "direct get last for subject",
            "$JS.API.DIRECT.GET.S.s.b",
            vec![],
            "",
        ),
        (
            "direct get missing",
            "$JS.API.DIRECT.GET.S",
            vec![],
            r#"{"seq":99}"#,
        ),
        (
            "direct get, bad request",
            "$JS.API.DIRECT.GET.S",
            vec![],
            r#"{"seq":1,"last_by_subj":"s.b"}"#,
        ),
        (
            "direct get, malformed",
            "$JS.API.DIRECT.GET.S",
            vec![],
            r#"{"#,
        ),
        (
            "msg delete",
            "$JS.API.STREAM.MSG.DELETE.S",
            vec![],
            r#"{"seq":1}"#,
        ),
        (
            "msg delete again",
            "$JS.API.STREAM.MSG.DELETE.S",
            vec![],
            r#"{"seq":1}"#,
        ),
        (
            "purge subject",
            "$JS.API.STREAM.PURGE.S",
            vec![],
            r#"{"filter":"s.b"}"#,
        ),
        (
            "purge, seq and keep",
            "$JS.API.STREAM.PURGE.S",
            vec![],
            r#"{"seq":2,"keep":1}"#,
        ),
        (
            "create file",
            "$JS.API.STREAM.CREATE.F",
            vec![],
            r#"{"name":"F","subjects":["f.>"],"storage":"file"}"#,
        ),
        ("publish to file", "f.a", vec![], "payload"),
        (
            "publish to file with headers",
            "f.b",
            vec![("X-Y", "z")],
            "payload",
        ),
        ("info file", "$JS.API.STREAM.INFO.F", vec![], ""),
        ("delete file", "$JS.API.STREAM.DELETE.F", vec![], ""),
        ("names", "$JS.API.STREAM.NAMES", vec![], ""),
        ("list", "$JS.API.STREAM.LIST", vec![], ""),
        (
            "update, storage change",
            "$JS.API.STREAM.UPDATE.S",
            vec![],
            r#"{"name":"S","subjects":["s.>"],"storage":"file"}"#,
        ),
        (
            "update",
            "$JS.API.STREAM.UPDATE.S",
            vec![],
            r#"{"name":"S","subjects":["s.>","t.>"],"storage":"memory","allow_direct":true,"max_msgs_per_subject":1}"#,
        ),
        (
            "update missing",
            "$JS.API.STREAM.UPDATE.NOPE",
            vec![],
            r#"{"name":"NOPE","subjects":["n"]}"#,
        ),
        ("info missing", "$JS.API.STREAM.INFO.NOPE", vec![], ""),
        (
            "delete with a body",
            "$JS.API.STREAM.DELETE.S",
            vec![],
            r#"{"a":1}"#,
        ),
        (
            "delete with null",
            "$JS.API.STREAM.DELETE.S",
            vec![],
            "null",
        ),
        ("delete", "$JS.API.STREAM.DELETE.S", vec![], "{}"),
        ("delete again", "$JS.API.STREAM.DELETE.S", vec![], ""),
        ("account info after", "$JS.API.INFO", vec![], ""),
    ];
    let mut out = Vec::new();
    for (label, subject, headers, payload) in steps {
        let mut map = HeaderMap::new();
        for (k, v) in &headers {
            map.insert(*k, *v);
        }
        let request = async_nats::Request::new()
            .payload(Bytes::from(payload.to_string()))
            .headers(map)
            .timeout(Some(Duration::from_secs(5)));
        let reply = client
            .send_request(subject.to_string(), request)
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let header_names = reply
            .headers
            .as_ref()
            .map(|h| {
                let mut names: Vec<String> = h.iter().map(|(k, _)| k.to_string()).collect();
                names.sort();
                names
            })
            .unwrap_or_default();
        let answer = Answer {
            status: reply.status.map(|s| s.as_u16()),
            header_names,
            json: serde_json::from_slice(&reply.payload).ok(),
        };
        out.push((label.to_string(), answer));
    }
    out
}

/// Values that name the server or the moment, not the behaviour.
const VOLATILE: &[&str] = &[
    "created", "ts", "time", "first_ts", "last_ts", "leader", "metadata", "level",
];

fn values_differ(
    path: &str,
    theirs: &serde_json::Value,
    ours: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (theirs, ours) {
        (Value::Object(t), Value::Object(o)) => {
            for (k, tv) in t {
                if VOLATILE.contains(&k.as_str()) {
                    continue;
                }
                if let Some(ov) = o.get(k) {
                    values_differ(&format!("{path}.{k}"), tv, ov, out);
                }
            }
        }
        (Value::Array(t), Value::Array(o)) if t.len() == o.len() => {
            for (i, (tv, ov)) in t.iter().zip(o).enumerate() {
                values_differ(&format!("{path}[{i}]"), tv, ov, out);
            }
        }
        (t, o) if t != o => out.push(format!("{path}: nats-server {t}, rnats {o}")),
        _ => {}
    }
}

#[tokio::test]
async fn api_answers_match_nats_server_2_15() {
    let ref_dir = tempfile::tempdir().unwrap();
    let config = format!(
        "jetstream {{ store_dir: {:?} }}\n",
        ref_dir.path().display().to_string()
    );
    let Some(reference) = support::ReferenceServer::start_latest_with_config(&config).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(js_options(dir.path())).await;
    let theirs = api_scenario(&format!("nats://{}", reference.addr())).await;
    let ours = api_scenario(&server.client_url()).await;
    let mut problems = Vec::new();
    for ((label, t), (_, o)) in theirs.iter().zip(&ours) {
        if t.status != o.status {
            problems.push(format!(
                "{label}: status nats-server {:?}, rnats {:?}",
                t.status, o.status
            ));
        }
        if t.header_names != o.header_names {
            problems.push(format!(
                "{label}: headers nats-server {:?}, rnats {:?}",
                t.header_names, o.header_names
            ));
        }
        match (&t.json, &o.json) {
            (Some(tj), Some(oj)) => {
                for d in support::shape::differences(label, tj, oj, &["metadata"], true) {
                    problems.push(d);
                }
                values_differ(label, tj, oj, &mut problems);
            }
            (None, None) => {}
            (t, o) => problems.push(format!("{label}: JSON nats-server {t:?}, rnats {o:?}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn jsz_and_varz_have_nats_server_keys() {
    let ref_dir = tempfile::tempdir().unwrap();
    let http_port = support::free_port();
    let config = format!(
        "jetstream {{ store_dir: {:?} }}\n",
        ref_dir.path().display().to_string()
    );
    let Some(reference) =
        support::ReferenceServer::start_latest(&config, &["-m", &http_port.to_string()]).await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut opts = js_options(dir.path());
    opts.monitor.port = -1;
    let server = start_server(opts).await;
    let theirs_http = std::net::SocketAddr::from(([127, 0, 0, 1], http_port));
    let ours_http = server.monitor_addr().unwrap();
    for url in [format!("nats://{}", reference.addr()), server.client_url()] {
        let client = async_nats::connect(url).await.unwrap();
        let js = jetstream::new(client);
        js.create_stream(config_with("M", stream::StorageType::Memory))
            .await
            .unwrap();
        js.publish("m.1", Bytes::from_static(b"x"))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut problems = Vec::new();
    for path in [
        "/jsz",
        "/jsz?accounts=true",
        "/jsz?streams=true&config=true",
        "/jsz?acc=$G&accounts=1",
    ] {
        let (_, theirs) = support::http_get(theirs_http, path).await;
        let (status, ours) = support::http_get(ours_http, path).await;
        assert_eq!(status, 200, "{path}");
        let theirs: serde_json::Value = serde_json::from_str(&theirs).unwrap();
        let ours: serde_json::Value = serde_json::from_str(&ours).unwrap();
        problems.extend(support::shape::differences(
            path,
            &theirs,
            &ours,
            &["metadata"],
            true,
        ));
        for key in ["streams", "messages", "accounts", "total"] {
            if theirs[key] != ours[key] {
                problems.push(format!(
                    "{path}.{key}: nats-server {}, rnats {}",
                    theirs[key], ours[key]
                ));
            }
        }
    }
    let (_, theirs) = support::http_get(theirs_http, "/varz").await;
    let (_, ours) = support::http_get(ours_http, "/varz").await;
    let theirs: serde_json::Value = serde_json::from_str(&theirs).unwrap();
    let ours: serde_json::Value = serde_json::from_str(&ours).unwrap();
    problems.extend(support::shape::differences(
        "/varz.jetstream",
        &theirs["jetstream"],
        &ours["jetstream"],
        &[],
        true,
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    server.shutdown().await;
}

fn config_with(name: &str, storage: stream::StorageType) -> stream::Config {
    config(name, &["m.>"], storage)
}

#[tokio::test]
async fn stream_actions_are_advised() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(js_options(dir.path())).await;
    let (client, js) = connect(&server).await;
    let mut advisories = client
        .subscribe("$JS.EVENT.ADVISORY.STREAM.>")
        .await
        .unwrap();
    support::wait_for_subscription_count(&server, 1).await;
    let mut cfg = config("ADV", &["adv"], stream::StorageType::Memory);
    js.create_stream(cfg.clone()).await.unwrap();
    cfg.max_messages = 10;
    js.update_stream(cfg).await.unwrap();
    js.delete_stream("ADV").await.unwrap();
    for (subject, action) in [
        ("$JS.EVENT.ADVISORY.STREAM.CREATED.ADV", "create"),
        ("$JS.EVENT.ADVISORY.STREAM.UPDATED.ADV", "modify"),
        ("$JS.EVENT.ADVISORY.STREAM.DELETED.ADV", "delete"),
    ] {
        let msg = tokio::time::timeout(support::TIMEOUT, advisories.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(msg.subject.as_str(), subject);
        let event: serde_json::Value = serde_json::from_slice(&msg.payload).unwrap();
        assert_eq!(event["type"], "io.nats.jetstream.advisory.v1.stream_action");
        assert_eq!(
            (event["stream"].as_str(), event["action"].as_str()),
            (Some("ADV"), Some(action))
        );
        assert_eq!(event["id"].as_str().map(str::len), Some(22));
    }
    server.shutdown().await;
}

/// Every API request is audited on `$JS.EVENT.ADVISORY.API` with who
/// asked and the answer, in nats-server 2.15.1's shape.
#[tokio::test]
async fn api_requests_are_audited_like_nats_server() {
    use futures::StreamExt;
    async fn audit_of_a_create(url: String) -> serde_json::Value {
        let client = async_nats::ConnectOptions::new()
            .name("auditor")
            .connect(url)
            .await
            .unwrap();
        let mut audits = client.subscribe("$JS.EVENT.ADVISORY.API").await.unwrap();
        client.flush().await.unwrap();
        let js = jetstream::new(client.clone());
        js.create_stream(config("AUD", &["aud"], stream::StorageType::Memory))
            .await
            .unwrap();
        let msg = tokio::time::timeout(support::TIMEOUT, audits.next())
            .await
            .expect("an audit advisory")
            .unwrap();
        serde_json::from_slice(&msg.payload).unwrap()
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(js_options(dir.path())).await;
    let ours = audit_of_a_create(server.client_url()).await;
    assert_eq!(ours["type"], "io.nats.jetstream.advisory.v1.api_audit");
    assert_eq!(ours["subject"], "$JS.API.STREAM.CREATE.AUD");
    assert_eq!(ours["client"]["name"], "auditor", "{ours}");
    let response: serde_json::Value =
        serde_json::from_str(ours["response"].as_str().unwrap()).unwrap();
    assert_eq!(response["did_create"], true, "{ours}");
    let ref_dir = tempfile::tempdir().unwrap();
    let conf = format!(
        "jetstream {{ store_dir: {:?} }}\n",
        ref_dir.path().display().to_string()
    );
    if let Some(reference) = support::ReferenceServer::start_latest_with_config(&conf).await {
        let theirs = audit_of_a_create(format!("nats://{}", reference.addr())).await;
        // The client's fields are what each knows of it; the rest alike.
        let problems = support::shape::differences("audit", &theirs, &ours, &["client"], false);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
    server.shutdown().await;
}

/// One account's JetStream API imported into another, as nats-server's
/// docs set it up: the importer reaches it under its own prefix.
#[tokio::test]
async fn the_api_of_one_account_imported_into_another() {
    let dir = tempfile::tempdir().unwrap();
    let conf = format!(
        r#"
        listen: "127.0.0.1:-1"
        jetstream {{ store_dir: {:?} }}
        accounts {{
            A {{
                jetstream: enabled
                users: [{{user: a, password: a}}]
                exports: [{{service: "$JS.API.>"}}]
            }}
            B {{
                users: [{{user: b, password: b}}]
                imports: [{{service: {{account: A, subject: "$JS.API.>"}}, to: "JS.A.API.>"}}]
            }}
        }}
        "#,
        dir.path().display().to_string()
    );
    let path = dir.path().join("nats.conf");
    std::fs::write(&path, conf).unwrap();
    let (opts, _) = rnats_server::config::load(&path).unwrap();
    let server = start_server(opts).await;
    let url = server.client_url();
    let b = async_nats::ConnectOptions::with_user_and_password("b".into(), "b".into())
        .connect(&url)
        .await
        .unwrap();
    let js_b = jetstream::with_prefix(b, "JS.A.API");
    js_b.create_stream(config("SHARED", &["shared.>"], stream::StorageType::File))
        .await
        .unwrap();
    let a = async_nats::ConnectOptions::with_user_and_password("a".into(), "a".into())
        .connect(&url)
        .await
        .unwrap();
    let js_a = jetstream::new(a);
    let ack = js_a
        .publish("shared.x", Bytes::from_static(b"hi"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((ack.stream.as_str(), ack.sequence), ("SHARED", 1));
    let stream = js_b.get_stream("SHARED").await.unwrap();
    assert_eq!(&stream.get_raw_message(1).await.unwrap().payload[..], b"hi");
    server.shutdown().await;
}

/// Every message a direct get answers with, until the end-of-batch
/// status or (for a single get) the first message.
async fn direct_get_all(client: &async_nats::Client, subject: &str, body: &str) -> Vec<String> {
    use futures::StreamExt;
    let inbox = client.new_inbox();
    let mut answers = client.subscribe(inbox.clone()).await.unwrap();
    client
        .publish_with_reply(subject.to_string(), inbox, Bytes::from(body.to_string()))
        .await
        .unwrap();
    let mut out = Vec::new();
    loop {
        let Ok(Some(msg)) = tokio::time::timeout(support::TIMEOUT, answers.next()).await else {
            panic!("{subject} {body}: no end of batch after {out:?}");
        };
        let mut line = format!("status={:?}", msg.status.map(|s| s.as_u16()));
        if let Some(h) = &msg.headers {
            let mut pairs: Vec<String> = h
                .iter()
                .filter(|(k, _)| k.to_string() != "Nats-Time-Stamp")
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.iter()
                            .map(|v| v.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                })
                .collect();
            pairs.sort();
            line.push_str(&format!(" {}", pairs.join(" ")));
        }
        line.push_str(&format!(
            " payload={:?}",
            String::from_utf8_lossy(&msg.payload)
        ));
        let end = msg.status.is_some() || !body.contains("batch") && !body.contains("multi_last");
        out.push(line);
        if end {
            return out;
        }
    }
}

#[tokio::test]
async fn batched_direct_gets_match_nats_server_2_15() {
    let ref_dir = tempfile::tempdir().unwrap();
    let config = format!(
        "jetstream {{ store_dir: {:?} }}\n",
        ref_dir.path().display().to_string()
    );
    let Some(reference) = support::ReferenceServer::start_latest_with_config(&config).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(js_options(dir.path())).await;
    let mut results = Vec::new();
    for url in [format!("nats://{}", reference.addr()), server.client_url()] {
        let client = async_nats::connect(url).await.unwrap();
        let js = jetstream::new(client.clone());
        let mut cfg = config_with("D", stream::StorageType::Memory);
        cfg.allow_direct = true;
        js.create_stream(cfg).await.unwrap();
        for (subject, payload) in [
            ("m.a", "1"),
            ("m.b", "2"),
            ("m.a", "3"),
            ("m.c", "4"),
            ("m.b", "5"),
        ] {
            js.publish(subject, Bytes::from(payload))
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let mut answers = Vec::new();
        for body in [
            r#"{"seq":2,"batch":3}"#,
            r#"{"seq":1,"batch":10}"#,
            r#"{"next_by_subj":"m.a","batch":5}"#,
            r#"{"seq":2,"next_by_subj":"m.b","batch":1}"#,
            r#"{"multi_last":["m.*"]}"#,
            r#"{"multi_last":["m.a","m.c"],"batch":1}"#,
            r#"{"multi_last":["m.*"],"up_to_seq":3}"#,
            r#"{"seq":1,"batch":5,"up_to_seq":2}"#,
            r#"{"seq":9,"batch":2}"#,
            r#"{"seq":3}"#,
        ] {
            answers.push((
                body,
                direct_get_all(&client, "$JS.API.DIRECT.GET.D", body).await,
            ));
        }
        results.push(answers);
    }
    let (theirs, ours) = (&results[0], &results[1]);
    let mut problems = Vec::new();
    for ((body, t), (_, o)) in theirs.iter().zip(ours) {
        if t != o {
            problems.push(format!("{body}:\n  nats-server {t:#?}\n  rnats {o:#?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    server.shutdown().await;
}

#[tokio::test]
async fn accounts_without_jetstream_are_told_so() {
    let dir = tempfile::tempdir().unwrap();
    let conf = format!(
        r#"
        listen: "127.0.0.1:-1"
        jetstream {{ store_dir: {:?} }}
        accounts {{
            A {{ jetstream: enabled, users: [{{user: a, password: a}}] }}
            B {{ users: [{{user: b, password: b}}] }}
        }}
        "#,
        dir.path().display().to_string()
    );
    let path = dir.path().join("nats.conf");
    std::fs::write(&path, conf).unwrap();
    let (opts, _) = rnats_server::config::load(&path).unwrap();
    let server = start_server(opts).await;
    let b = async_nats::ConnectOptions::with_user_and_password("b".into(), "b".into())
        .connect(server.client_url())
        .await
        .unwrap();
    for (subject, kind) in [
        (
            "$JS.API.INFO",
            "io.nats.jetstream.api.v1.account_info_response",
        ),
        (
            "$JS.API.STREAM.NAMES",
            "io.nats.jetstream.api.v1.stream_names_response",
        ),
    ] {
        let reply = b.request(subject, Bytes::new()).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(json["type"], kind, "{json}");
        assert_eq!(json["error"]["err_code"], 10039, "{json}");
        assert_eq!(
            json["error"]["description"],
            "JetStream not enabled for account"
        );
    }
    server.shutdown().await;
}

/// An exhausted `max_file_store`: the publisher is told "insufficient
/// resources" at the same message as by nats-server, nothing stored is
/// lost, and the stream takes messages again once a purge frees room.
#[tokio::test]
async fn a_full_max_file_store_refuses_like_nats_server_and_recovers() {
    let ref_dir = tempfile::tempdir().unwrap();
    let config = format!(
        "jetstream {{ store_dir: {:?}, max_file_store: 2KB }}\n",
        ref_dir.path().display().to_string()
    );
    let Some(reference) = support::ReferenceServer::start_latest_with_config(&config).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut opts = js_options(dir.path());
    if let Some(js) = &mut opts.jetstream {
        js.max_store = 2048;
    }
    let server = start_server(opts).await;
    let mut outcomes = Vec::new();
    for url in [format!("nats://{}", reference.addr()), server.client_url()] {
        let client = async_nats::connect(url).await.unwrap();
        let js = jetstream::new(client.clone());
        let stream = js
            .create_stream(config_with("FULL", stream::StorageType::File))
            .await
            .unwrap();
        let mut refused_at = None;
        for i in 0..40 {
            let reply = client
                .request("m.x", Bytes::from(vec![b'x'; 100]))
                .await
                .unwrap();
            let ack: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
            if ack.get("error").is_some() {
                refused_at = Some((i, ack));
                break;
            }
        }
        let (at, ack) = refused_at.expect("the store fills up");
        let kept = stream.get_info().await.unwrap().state.messages;
        assert_eq!(kept, at, "everything acknowledged is kept");
        let purged = stream.purge().await.unwrap().purged;
        let after = js
            .publish("m.x", Bytes::from_static(b"again"))
            .await
            .unwrap()
            .await;
        outcomes.push((at, ack, purged, after.map(|a| a.sequence).ok()));
    }
    assert_eq!(outcomes[0], outcomes[1], "nats-server, then rnats");
    assert_eq!(outcomes[1].1["error"]["err_code"], 10023);
    server.shutdown().await;
}

/// What a scenario of mirrors and sources leaves, as a client reads it:
/// the mirror's messages (sequence, subject, payload), its deleted
/// sequences, the sourced messages (subject, payload, `Nats-Stream-Source`)
/// and the mirror's stream info.
async fn mirror_and_source_scenario(
    url: &str,
) -> (
    Vec<(u64, String, String)>,
    Vec<u64>,
    Vec<(String, String, String)>,
    serde_json::Value,
) {
    let client = async_nats::connect(url).await.unwrap();
    let ask = |subject: &str, body: &str| {
        let (client, subject, body) = (client.clone(), subject.to_string(), body.to_string());
        async move {
            let reply = client.request(subject.clone(), body.into()).await.unwrap();
            let json: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
            assert!(json.get("error").is_none(), "{subject}: {json}");
            json
        }
    };
    ask(
        "$JS.API.STREAM.CREATE.O",
        r#"{"name":"O","subjects":["o.*"],"storage":"memory","allow_direct":true}"#,
    )
    .await;
    for (subject, payload) in [("o.a", "1"), ("o.b", "2"), ("o.a", "3")] {
        ask(subject, payload).await;
    }
    ask("$JS.API.STREAM.MSG.DELETE.O", r#"{"seq":2}"#).await;
    ask(
        "$JS.API.STREAM.CREATE.M",
        r#"{"name":"M","storage":"memory","mirror":{"name":"O"}}"#,
    )
    .await;
    ask(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","storage":"memory","sources":[{"name":"O","filter_subject":"o.a"}]}"#,
    )
    .await;
    // Both follow what comes later too.
    ask("o.a", "4").await;
    let caught_up = |name: &'static str, last: u64| {
        let ask = &ask;
        async move {
            for _ in 0..200 {
                let info = ask(&format!("$JS.API.STREAM.INFO.{name}"), "").await;
                if info["state"]["last_seq"] == last {
                    return info;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("{name} never reached sequence {last}");
        }
    };
    let info = caught_up("M", 4).await;
    caught_up("S", 3).await;
    let get = |name: &'static str, seq: u64| {
        let client = client.clone();
        async move {
            let reply = client
                .request(
                    format!("$JS.API.STREAM.MSG.GET.{name}"),
                    format!(r#"{{"seq":{seq}}}"#).into(),
                )
                .await
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&reply.payload).unwrap()
        }
    };
    let decode = |v: &serde_json::Value| {
        use base64::Engine as _;
        let text = |key: &str| {
            v["message"][key]
                .as_str()
                .map(|b| {
                    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap())
                        .unwrap()
                })
                .unwrap_or_default()
        };
        (text("data"), text("hdrs"))
    };
    let mut mirrored = Vec::new();
    for seq in 1..=4 {
        let m = get("M", seq).await;
        if m.get("error").is_none() {
            let (data, _) = decode(&m);
            mirrored.push((
                seq,
                m["message"]["subject"].as_str().unwrap().to_string(),
                data,
            ));
        }
    }
    let details = ask("$JS.API.STREAM.INFO.M", r#"{"deleted_details":true}"#).await;
    let deleted = details["state"]["deleted"]
        .as_array()
        .map(|d| d.iter().filter_map(|s| s.as_u64()).collect())
        .unwrap_or_default();
    let mut sourced = Vec::new();
    for seq in 1..=3 {
        let m = get("S", seq).await;
        let (data, hdrs) = decode(&m);
        let source = hdrs
            .split("\r\n")
            .find_map(|l| l.strip_prefix("Nats-Stream-Source: "))
            .unwrap_or_default()
            .to_string();
        sourced.push((
            m["message"]["subject"].as_str().unwrap().to_string(),
            data,
            source,
        ));
    }
    (mirrored, deleted, sourced, info)
}

/// A mirror keeps its origin's sequences (a deleted one stays a gap) and a
/// source takes what its filter selects, naming where each message came
/// from, both following what the origin stores later: as nats-server 2.15.1.
#[tokio::test]
async fn mirrors_and_sources_follow_their_origin_like_nats_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(js_options(dir.path())).await;
    let (mirrored, deleted, sourced, info) = mirror_and_source_scenario(&server.client_url()).await;
    assert_eq!(
        mirrored,
        [
            (1, "o.a".to_string(), "1".to_string()),
            (3, "o.a".to_string(), "3".to_string()),
            (4, "o.a".to_string(), "4".to_string()),
        ]
    );
    assert_eq!(deleted, [2]);
    assert_eq!(
        sourced
            .iter()
            .map(|(s, d, _)| (s.as_str(), d.as_str()))
            .collect::<Vec<_>>(),
        [("o.a", "1"), ("o.a", "3"), ("o.a", "4")]
    );
    assert_eq!(sourced[1].2, "O 3 o.a > o.a");
    assert_eq!(info["mirror"]["name"], "O", "{info}");
    assert_eq!(info["config"]["mirror_direct"], true, "{info}");
    let ref_dir = tempfile::tempdir().unwrap();
    let conf = format!(
        "jetstream {{ store_dir: {:?} }}\n",
        ref_dir.path().display().to_string()
    );
    if let Some(reference) = support::ReferenceServer::start_latest_with_config(&conf).await {
        let theirs = mirror_and_source_scenario(&format!("nats://{}", reference.addr())).await;
        assert_eq!((&theirs.0, &theirs.1), (&mirrored, &deleted));
        let theirs_sourced: Vec<_> = theirs
            .2
            .iter()
            .map(|(s, d, h)| {
                // nats-server adds its consumer's identity after the subject.
                (
                    s.clone(),
                    d.clone(),
                    h.splitn(6, ' ').take(5).collect::<Vec<_>>().join(" "),
                )
            })
            .collect();
        assert_eq!(theirs_sourced, sourced);
        assert_eq!(
            theirs.3["config"]["mirror_direct"],
            info["config"]["mirror_direct"]
        );
        let problems = support::shape::differences(
            "mirror info",
            &theirs.3,
            &info,
            &["cluster", "metadata"],
            false,
        );
        assert!(problems.is_empty(), "{}\n{}", problems.join("\n"), theirs.3);
    }
    server.shutdown().await;
}

/// After a restart a source picks up where it left off (from the
/// `Nats-Stream-Source` headers it wrote) and a mirror from its last
/// sequence: nothing is taken twice.
#[tokio::test]
async fn sources_and_mirrors_resume_after_a_restart_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let ask = |client: async_nats::Client, subject: String, body: &'static str| async move {
        let reply = client.request(subject.clone(), body.into()).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert!(json.get("error").is_none(), "{subject}: {json}");
        json
    };
    let wait_for = |client: async_nats::Client, name: &'static str, msgs: u64| async move {
        for _ in 0..200 {
            let reply = client
                .request(format!("$JS.API.STREAM.INFO.{name}"), "".into())
                .await
                .unwrap();
            let info: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
            if info["state"]["messages"] == msgs {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{name} never held {msgs} messages");
    };
    {
        let server = start_server(js_options(dir.path())).await;
        let client = async_nats::connect(server.client_url()).await.unwrap();
        ask(
            client.clone(),
            "$JS.API.STREAM.CREATE.O".into(),
            r#"{"name":"O","subjects":["o"]}"#,
        )
        .await;
        ask(
            client.clone(),
            "$JS.API.STREAM.CREATE.S".into(),
            r#"{"name":"S","sources":[{"name":"O"}]}"#,
        )
        .await;
        ask(
            client.clone(),
            "$JS.API.STREAM.CREATE.M".into(),
            r#"{"name":"M","mirror":{"name":"O"}}"#,
        )
        .await;
        for _ in 0..3 {
            ask(client.clone(), "o".into(), "x").await;
        }
        wait_for(client.clone(), "S", 3).await;
        wait_for(client.clone(), "M", 3).await;
        server.shutdown().await;
    }
    let server = start_server(js_options(dir.path())).await;
    let client = async_nats::connect(server.client_url()).await.unwrap();
    ask(client.clone(), "o".into(), "y").await;
    wait_for(client.clone(), "S", 4).await;
    wait_for(client.clone(), "M", 4).await;
    // And nothing more arrives: after a round trip through the origin, the
    // counts stand.
    ask(client.clone(), "$JS.API.STREAM.INFO.O".into(), "").await;
    let s = ask(client.clone(), "$JS.API.STREAM.INFO.S".into(), "").await;
    assert_eq!(s["state"]["messages"], 4, "{s}");
    server.shutdown().await;
}

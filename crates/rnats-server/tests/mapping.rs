//! Subject mapping (issue 17), against the current nats-server (2.15.1,
//! see `support/latest.rs`): the same config file on both, the same
//! subjects published, and the subject a `>` subscriber receives compared
//! one by one, for every mapping function; the same config errors; the
//! weighted split within statistical bounds; cluster-scoped weights; and a
//! mapping applied once in a cluster, also a mixed one.

mod support;

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use rnats_server::options::MappingConfig;
use rnats_server::{Options, Server, config};
use support::cluster::{cluster_opts, next, route_to, sync, wait_routes};
use support::{ReferenceServer, TIMEOUT, free_port, start_server};

/// An rnats server started from a config file with this text.
async fn rnats_with(text: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(&path, text).unwrap();
    let (mut opts, _) = config::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
    opts.host = "127.0.0.1".into();
    opts.port = -1;
    start_server(opts).await
}

/// Publishes each subject on `url` and returns the subject each arrived
/// as, to a `>` subscriber of the same connection, in order.
async fn received(url: &str, subjects: &[String]) -> Vec<String> {
    received_as(url, None, subjects).await
}

/// [`received`] with a user's login (its password is its name).
async fn received_as(url: &str, user: Option<&str>, subjects: &[String]) -> Vec<String> {
    let options = match user {
        Some(u) => async_nats::ConnectOptions::with_user_and_password(u.into(), u.into()),
        None => async_nats::ConnectOptions::new(),
    };
    let client = options.connect(url).await.unwrap();
    let mut all = client.subscribe(">").await.unwrap();
    sync(&client).await;
    for s in subjects {
        client.publish(s.clone(), "m".into()).await.unwrap();
    }
    client.publish("zz.done", "end".into()).await.unwrap();
    let mut got = Vec::new();
    loop {
        let m = tokio::time::timeout(TIMEOUT, all.next())
            .await
            .expect("messages in time")
            .expect("subscription open");
        if m.subject.starts_with("_INBOX.") {
            continue;
        }
        if m.subject.as_str() == "zz.done" {
            break;
        }
        got.push(m.subject.to_string());
    }
    got
}

/// The same config on rnats and on the reference, the same subjects
/// published to both: what each delivered, as (rnats, reference). None
/// when the reference is missing and may be skipped.
async fn both(config: &str, subjects: &[String]) -> Option<(Vec<String>, Vec<String>)> {
    // Each its own route port, where the config has one.
    let port = |c: &str| c.replace("{PORT}", &free_port().to_string());
    let reference = ReferenceServer::start_latest_with_config(&port(config)).await?;
    let rnats = rnats_with(&port(config)).await;
    let ours = received(&rnats.client_url(), subjects).await;
    let theirs = received(&format!("nats://{}", reference.addr()), subjects).await;
    rnats.shutdown().await;
    Some((ours, theirs))
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Every function, the old `$n` style and `{{wildcard(n)}}`, `>` tails,
/// out-of-range arguments that leave a token whole, and spacing and case
/// in function names, as nats-server maps them; and weights that leave a
/// message no destination drop it. Each source starts with
/// its own token, so only one mapping matches each subject.
#[tokio::test]
async fn every_function_maps_as_nats_server_maps() {
    let config = r#"
mappings {
  "wc.*.*": "wc2.$2.{{wildcard(1)}}.{{ Wildcard( 2 ) }}"
  "zero.*": "zero2.$0.{{wildcard(-1)}}"
  "dollar.*": "dollar2.$x.$1"
  "full.>": "full2.>"
  "mid.*.>": "mid2.$1.>"
  "tail.>": ">"
  "pa.*.*": "pa2.{{partition(10,1,2)}}.$1.$2"
  "pb.*": "pb2.{{partition(7)}}.$1"
  "pc.*.*": "pc2.{{partition(3,2)}}"
  "pd.*": "pd2.{{partition(-1,1)}}"
  "pe.*": "pe2.{{partition(0,1)}}"
  "sp.*": "sp2.{{split(1,-)}}"
  "sq.*": "sq2.{{split(1,--)}}"
  "sl.*": "sl2.{{splitFromLeft(1,2)}}"
  "sr.*": "sr2.{{SplitFromRight(1,2)}}"
  "xl.*": "xl2.{{sliceFromLeft(1,2)}}"
  "xr.*": "xr2.{{sliceFromRight(1,3)}}"
  "le.*": "le2.{{left(1,2)}}"
  "ri.*": "ri2.{{right(1,2)}}"
  "big.*": "big2.{{splitFromLeft(1,99)}}.{{sliceFromRight(1,0)}}.{{left(1,-1)}}"
  "lit": "lit2"
  "drop": [{destination: "drop", weight: 0}, {destination: "never", weight: 0}]
}
"#;
    let mut subjects = strings(&[
        "wc.a.b",
        "zero.q",
        "dollar.v",
        "full.a",
        "full.a.b.c",
        "mid.a.b",
        "mid.a.b.c",
        "tail.x.y",
        "sp.a-b--c-",
        "sp.-a",
        "sp.abc",
        "sq.a--b----c",
        "sl.abcdef",
        "sl.a",
        "sr.abcdef",
        "xl.abcde",
        "xl.abcdef",
        "xr.abcdefg",
        "xr.ab",
        "le.abcd",
        "ri.abcd",
        "ri.a",
        "big.abc",
        "lit",
        "drop",
        "unmapped.subject",
    ]);
    for i in 0..40 {
        subjects.push(format!("pa.k{i}.{}", i * 7919));
        subjects.push(format!("pb.order-{i}"));
        subjects.push(format!("pc.x.{i}"));
        subjects.push(format!("pd.{i}"));
        subjects.push(format!("pe.{i}"));
    }
    let Some((ours, theirs)) = both(config, &subjects).await else {
        return;
    };
    // `drop` maps to no destination: nobody receives it.
    assert_eq!(ours.len(), subjects.len() - 1);
    for ((sent, ours), theirs) in subjects
        .iter()
        .filter(|s| *s != "drop")
        .zip(&ours)
        .zip(&theirs)
    {
        assert_eq!(ours, theirs, "published {sent}");
    }
    assert_eq!(ours, theirs);
}

/// `{{random(n)}}` gives a number below `n` on both; the numbers are
/// random, so only their range is compared.
#[tokio::test]
async fn random_stays_in_range_as_on_nats_server() {
    let config = r#"mappings { "r.*": "r2.{{random(4)}}.$1" }"#;
    let subjects: Vec<String> = (0..100).map(|i| format!("r.{i}")).collect();
    let Some((ours, theirs)) = both(config, &subjects).await else {
        return;
    };
    for got in [&ours, &theirs] {
        let mut seen = [false; 4];
        for (sent, mapped) in subjects.iter().zip(got.iter()) {
            let parts: Vec<&str> = mapped.split('.').collect();
            let n: usize = parts[1].parse().unwrap();
            seen[n] = true;
            assert_eq!(parts[2], &sent[2..]);
        }
        assert_eq!(seen, [true; 4], "{got:?}");
    }
}

/// Partitions equal nats-server's for many subjects, so a mixed cluster
/// partitions alike; and they are the same after a restart.
#[tokio::test]
async fn partitions_equal_nats_servers() {
    let config = r#"mappings { "orders.*.*": "shard.{{partition(17,1,2)}}.$1.$2" }"#;
    let subjects: Vec<String> = (0..300)
        .map(|i| format!("orders.region{}.{}", i % 7, i * 31 + 5))
        .collect();
    let Some((ours, theirs)) = both(config, &subjects).await else {
        return;
    };
    assert_eq!(ours, theirs);
    let again = rnats_with(config).await;
    assert_eq!(received(&again.client_url(), &subjects).await, ours);
    again.shutdown().await;
}

/// A literal source matched by the first mapping partitions the empty
/// subject on nats-server (it splits the subject only when a mapping did
/// not match it literally); rnats does the same.
#[tokio::test]
async fn a_lone_literal_mapping_partitions_as_nats_server() {
    let config = r#"mappings { "lit": "lit2.{{partition(10)}}" }"#;
    let Some((ours, theirs)) = both(config, &strings(&["lit"])).await else {
        return;
    };
    assert_eq!(ours, theirs);
    assert_eq!(ours, ["lit2.1"]);
}

/// Account mappings apply in their account only; the global account has
/// the top-level ones. Users of each see what nats-server delivers.
#[tokio::test]
async fn account_mappings_stay_in_their_account() {
    let config = r#"
authorization { users: [{user: g, password: g}] }
mappings { "m.*": "global.$1" }
accounts {
  A: { users: [{user: a, password: a}], mappings: { "m.*": "in-a.$1", "n": "n2" } }
  B: { users: [{user: b, password: b}] }
}
"#;
    let Some(reference) = ReferenceServer::start_latest_with_config(config).await else {
        return;
    };
    let rnats = rnats_with(config).await;
    let subjects = strings(&["m.1", "n", "other"]);
    for user in ["g", "a", "b"] {
        let ours = received_as(&rnats.client_url(), Some(user), &subjects).await;
        let theirs = received_as(
            &format!("nats://{}", reference.addr()),
            Some(user),
            &subjects,
        )
        .await;
        assert_eq!(ours, theirs, "user {user}");
    }
    rnats.shutdown().await;
}

/// A service import lands in the exporting account under that account's
/// mappings, as on nats-server: a request to `svc` from B reaches A's
/// responder on `svc.v2`.
#[tokio::test]
async fn service_imports_take_the_exporters_mappings() {
    let config = r#"
accounts {
  A: { users: [{user: a, password: a}], exports: [{service: "svc"}], mappings: { "svc": "svc.v2" } }
  B: { users: [{user: b, password: b}], imports: [{service: {account: A, subject: "svc"}}] }
}
"#;
    let Some(reference) = ReferenceServer::start_latest_with_config(config).await else {
        return;
    };
    let rnats = rnats_with(config).await;
    for url in [rnats.client_url(), format!("nats://{}", reference.addr())] {
        let login =
            |u: &str| async_nats::ConnectOptions::with_user_and_password(u.into(), u.into());
        let a = login("a").connect(&url).await.unwrap();
        let mut responder = a.subscribe("svc.v2").await.unwrap();
        sync(&a).await;
        let b = login("b").connect(&url).await.unwrap();
        let asking = tokio::spawn(async move { b.request("svc", "q".into()).await });
        let request = next(&mut responder).await;
        a.publish(request.reply.unwrap(), "answer".into())
            .await
            .unwrap();
        let answer = asking.await.unwrap().unwrap();
        assert_eq!(&answer.payload[..], b"answer", "{url}");
    }
    rnats.shutdown().await;
}

/// The messages of `nats-server -t` and of rnats's config check, without
/// the positions (`file:line:col: `), which the two config languages'
/// lexers count differently.
fn messages(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_start_matches("nats-server: "))
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(": ") {
            Some((pos, rest)) if pos.contains(".conf:") => rest.to_owned(),
            _ => l.to_owned(),
        })
        .collect()
}

fn reference_check(binary: &Path, path: &Path) -> Vec<String> {
    let out = std::process::Command::new(binary)
        .arg("-t")
        .arg("-c")
        .arg(path)
        .output()
        .unwrap();
    assert!(!out.status.success(), "nats-server accepted {path:?}");
    messages(&String::from_utf8_lossy(&out.stderr))
}

/// Configs with a bad mapping are refused with nats-server's message.
#[test]
fn config_errors_are_nats_servers() {
    let Some(binary) = support::ReferenceServer::latest_binary() else {
        return;
    };
    let cases = [
        r#""foo.*": "bar.$2""#,
        r#""foo": "bar.$1""#,
        r#""foo.*": "bar.*""#,
        r#""foo.>": "bar""#,
        r#""foo.*": "bar.{{nope(1)}}""#,
        r#""foo.*": "bar.{{SPLIT(1,-)}}""#,
        r#""foo.*": "{{splitFromLeft(1)}}""#,
        r#""foo.*": "{{splitFromLeft(1,2,3)}}""#,
        r#""foo.*": "{{sliceFromRight(1,x)}}""#,
        r#""foo.*": "{{wildcard()}}""#,
        r#""foo.*": "{{wildcard(x)}}""#,
        r#""foo.*": "{{wildcard(1,2)}}""#,
        r#""foo.*": "{{partition(2147483648,1)}}""#,
        r#""foo.*": "{{partition(3,2)}}""#,
        r#""foo.*": "{{random()}}""#,
        r#""foo.*": "{{random(1,2)}}""#,
        r#""foo.*": "{{split(1,a b)}}""#,
        r#""foo.*": "x y.$1""#,
        r#""foo.>": "x.>.y""#,
        r#""foo.*": "x..$1""#,
        r#""a..b": "x""#,
        r#""a": [{destination: "x", weight: 60}, {destination: "y", weight: 50}]"#,
        r#""a": [{destination: "x", weight: 60}, {destination: "x", weight: 10}]"#,
        r#""a": [{destination: "x", weight: 60, cluster: c}, {destination: "y", weight: 50, cluster: c}]"#,
        r#""a": {destination: "x", weight: 101}"#,
        r#""a": {destination: "x", weight: "ten%"}"#,
        r#""a": {destination: "x", size: 1}"#,
        r#""a": {destination: "x"}"#,
        r#""a": [{destination: "x.$1", weight: 50}]"#,
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, mapping) in cases.iter().enumerate() {
        for text in [
            format!("mappings {{ {mapping} }}\n"),
            format!("accounts {{ A {{ mappings {{ {mapping} }} }} }}\n"),
        ] {
            let path = dir.path().join(format!("case{i}.conf"));
            std::fs::write(&path, &text).unwrap();
            let theirs = reference_check(&binary, &path);
            let ours = match config::load(&path) {
                Ok(_) => panic!("rnats accepted {text}"),
                Err(e) => messages(&e.to_string()),
            };
            assert_eq!(ours, theirs, "{text}");
        }
    }
}

/// Weighted destinations: each gets its share of many messages, within
/// 6 standard deviations, and the rest keeps its subject.
#[tokio::test]
async fn weighted_destinations_split_the_messages() {
    let rnats = rnats_with(
        r#"mappings { "w.*": [{destination: "a.$1", weight: 30%}, {destination: "b.$1", weight: 50}] }"#,
    )
    .await;
    const N: usize = 10_000;
    let subjects = vec!["w.x".to_owned(); N];
    let got = received(&rnats.client_url(), &subjects).await;
    assert_eq!(got.len(), N);
    let count = |s: &str| got.iter().filter(|g| *g == s).count() as f64;
    for (subject, p) in [("a.x", 0.3), ("b.x", 0.5), ("w.x", 0.2)] {
        let n = N as f64;
        let (mean, sd) = (n * p, (n * p * (1.0 - p)).sqrt());
        let c = count(subject);
        assert!(
            (c - mean).abs() < 6.0 * sd,
            "{subject}: {c} of {N}, expected {mean} ± {sd}"
        );
    }
    rnats.shutdown().await;
}

/// Cluster-scoped weights pick the list of the server's cluster, and the
/// unscoped list elsewhere, on rnats as on nats-server.
#[tokio::test]
async fn cluster_scoped_weights_follow_the_cluster_name() {
    let mappings = r#"mappings { "cl.*": [{destination: "east.$1", weight: 100, cluster: east}, {destination: "elsewhere.$1", weight: 100}] }"#;
    let subjects = strings(&["cl.1"]);
    for name in ["east", "west"] {
        let config =
            format!("{mappings}\ncluster {{ name: {name}, listen: \"127.0.0.1:{{PORT}}\" }}\n");
        let Some((ours, theirs)) = both(&config, &subjects).await else {
            return;
        };
        assert_eq!(ours, theirs, "cluster {name}");
        let expected = if name == "east" {
            "east.1"
        } else {
            "elsewhere.1"
        };
        assert_eq!(ours, [expected]);
    }
}

/// In a cluster, a message is mapped once, by the server its publisher is
/// on: the next server does not map it again, though a mapping there would
/// match the mapped subject. Two rnats nodes, then rnats and nats-server.
#[tokio::test]
async fn a_cluster_maps_each_message_once() {
    let chain = vec![
        MappingConfig::simple("a.*", "b.$1"),
        MappingConfig::simple("b.*", "c.$1"),
    ];
    let node = |name: &str, routes: Vec<String>| Options {
        server_name: Some(name.into()),
        cluster: Some(cluster_opts(-1, routes, true)),
        mappings: chain.clone(),
        ..Options::for_tests()
    };
    let one = start_server(node("one", vec![])).await;
    let two = start_server(node("two", vec![route_to(&one)])).await;
    wait_routes(&one, 1).await;
    wait_routes(&two, 1).await;
    let publisher = async_nats::connect(one.client_url()).await.unwrap();
    let subscriber = async_nats::connect(two.client_url()).await.unwrap();
    crosses_mapped(&publisher, &subscriber).await;
    two.shutdown().await;

    // The same with nats-server (2.9: its route protocol is rnats's) as the
    // subscriber's server, and as the publisher's.
    let config = format!(
        "server_name: reference\nmappings {{ \"a.*\": \"b.$1\", \"b.*\": \"c.$1\" }}\n\
         cluster {{\n  name: test\n  listen: 127.0.0.1:{}\n  \
         authorization {{ user: {u}, password: \"{p}\" }}\n  routes: [ \"{r}\" ]\n}}\n",
        free_port(),
        u = support::cluster::USER,
        p = support::cluster::PASS,
        r = route_to(&one),
    );
    let Some(reference) = ReferenceServer::start_with_config(&config).await else {
        return;
    };
    wait_routes(&one, 1).await;
    let on_reference = async_nats::connect(format!("nats://{}", reference.addr()))
        .await
        .unwrap();
    crosses_mapped(&publisher, &on_reference).await;
    crosses_mapped(&on_reference, &publisher).await;
    one.shutdown().await;
}

/// `publisher` sends `a.N` until `subscriber` (on another server) has
/// interest; every message must arrive as `b.N`, never `c.N` or `a.N`.
async fn crosses_mapped(publisher: &async_nats::Client, subscriber: &async_nats::Client) {
    let mut all = subscriber.subscribe("*.*").await.unwrap();
    sync(subscriber).await;
    // Interest crosses the route asynchronously: send until one arrives.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let first = loop {
        publisher.publish("a.probe", "p".into()).await.unwrap();
        publisher.flush().await.unwrap();
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), all.next()).await
            && !m.subject.starts_with("_INBOX.")
        {
            break m;
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing crossed");
    };
    assert_eq!(first.subject.as_str(), "b.probe");
    publisher.publish("a.last", "l".into()).await.unwrap();
    loop {
        let m = next(&mut all).await;
        if m.subject.starts_with("_INBOX.") {
            continue;
        }
        assert_eq!(m.subject.split('.').next(), Some("b"), "got {}", m.subject);
        if m.subject.as_str() == "b.last" {
            break;
        }
    }
}

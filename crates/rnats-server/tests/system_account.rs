//! The system account's services and events, compared with current
//! nats-server (2.15.1) on the same requests, and in a mixed cluster with
//! nats-server 2.9.10: every server answers `$SYS.REQ.SERVER.PING`.

mod support;

use std::time::Duration;

use futures::StreamExt;
use rnats_server::{Options, Server, config};
use serde_json::Value;
use support::cluster::*;
use support::*;

const ACCOUNTS: &str = r#"
accounts {
  SYS { users = [{user: sys, password: sys}] }
  A { users = [{user: a, password: a}] }
}
system_account: SYS
"#;

fn options(text: &str) -> Options {
    let mut opts = Options::for_tests();
    let root = rnats_conf::parse_str(text, "test.conf").expect("the config parses");
    config::apply(&mut opts, &root).expect("the config applies");
    opts
}

async fn login(url: String, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .user_and_password(user.into(), user.into())
        .connect(url)
        .await
        .expect("logs in")
}

/// Sends a request and gathers the answers that come within `wait`.
async fn ask_all(
    client: &async_nats::Client,
    subject: &str,
    body: &str,
    wait: Duration,
) -> Vec<Value> {
    let inbox = client.new_inbox();
    let mut answers = client.subscribe(inbox.clone()).await.expect("subscribes");
    client
        .publish_with_reply(subject.to_string(), inbox, body.to_string().into())
        .await
        .expect("publishes");
    client.flush().await.expect("flushes");
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, answers.next()).await {
        out.push(serde_json::from_slice(&m.payload).unwrap_or_else(|e| {
            panic!("{subject}: {e} in {}", String::from_utf8_lossy(&m.payload))
        }));
    }
    out
}

/// Asks once and waits for the first answer.
async fn ask(client: &async_nats::Client, subject: &str, body: &str) -> Value {
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .unwrap_or_else(|_| panic!("{subject}: no answer"))
    .unwrap_or_else(|e| panic!("{subject}: {e}"));
    serde_json::from_slice(&reply.payload).unwrap_or_else(|e| {
        panic!(
            "{subject}: {e} in {}",
            String::from_utf8_lossy(&reply.payload)
        )
    })
}

/// nats-server 2.15's fields that rnats has no value for: JetStream's,
/// build information, its internal queues.
const SKIP: &[&str] = &[
    "git_commit",
    "feature_flags",
    "jetstream",
    "gomemlimit",
    "domain",
    "tags",
    "metadata",
];

#[tokio::test]
async fn server_requests_answer_like_nats_server() {
    let Some(reference) = ReferenceServer::start_latest(ACCOUNTS, &[]).await else {
        return;
    };
    let server = start_server(options(ACCOUNTS)).await;
    let theirs = login(format!("nats://{}", reference.addr()), "sys").await;
    let ours = login(server.client_url(), "sys").await;
    let a_theirs = login(format!("nats://{}", reference.addr()), "a").await;
    let a_ours = login(server.client_url(), "a").await;
    let _subs = (
        a_theirs.subscribe("foo").await.unwrap(),
        a_ours.subscribe("foo").await.unwrap(),
    );
    a_theirs.flush().await.unwrap();
    a_ours.flush().await.unwrap();
    let id_theirs = ask(&theirs, "$SYS.REQ.SERVER.PING.IDZ", "").await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let id_ours = &server.shared().id;
    let mut problems = Vec::new();
    for (subject, body) in [
        ("$SYS.REQ.SERVER.PING", ""),
        ("$SYS.REQ.SERVER.PING.STATSZ", ""),
        ("$SYS.REQ.SERVER.PING.VARZ", ""),
        (
            "$SYS.REQ.SERVER.PING.CONNZ",
            r#"{"auth":true,"subscriptions":true}"#,
        ),
        ("$SYS.REQ.SERVER.PING.SUBSZ", r#"{"subscriptions":true}"#),
        ("$SYS.REQ.SERVER.PING.ROUTEZ", ""),
        ("$SYS.REQ.SERVER.PING.GATEWAYZ", ""),
        ("$SYS.REQ.SERVER.PING.LEAFZ", ""),
        ("$SYS.REQ.SERVER.PING.ACCOUNTZ", ""),
        ("$SYS.REQ.SERVER.PING.HEALTHZ", ""),
        ("$SYS.REQ.SERVER.PING.IDZ", ""),
        ("$SYS.REQ.SERVER.PING.JSZ", ""),
        ("$SYS.REQ.SERVER.PING.RAFTZ", ""),
        ("$SYS.REQ.SERVER.PING.PROFILEZ", ""),
        ("$SYS.REQ.SERVER.<id>.VARZ", ""),
        ("$SYS.REQ.SERVER.<id>.CONNZ", ""),
        ("$SYS.REQ.ACCOUNT.A.CONNZ", ""),
        ("$SYS.REQ.ACCOUNT.A.SUBSZ", ""),
        ("$SYS.REQ.ACCOUNT.A.INFO", ""),
        ("$SYS.REQ.ACCOUNT.A.CONNS", ""),
        ("$SYS.REQ.ACCOUNT.A.STATZ", ""),
        ("$SYS.REQ.ACCOUNT.PING.STATZ", ""),
        ("$SYS.REQ.USER.INFO", ""),
    ] {
        let t = ask(&theirs, &subject.replace("<id>", &id_theirs), body).await;
        let o = ask(&ours, &subject.replace("<id>", id_ours), body).await;
        problems.extend(shape::differences(subject, &t, &o, SKIP, false));
    }
    assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
}

#[tokio::test]
async fn user_info_tells_the_asker_who_it_is() {
    let server = start_server(options(ACCOUNTS)).await;
    let sys = login(server.client_url(), "sys").await;
    let info = ask(&sys, "$SYS.REQ.USER.INFO", "").await;
    assert_eq!(info["data"]["user"], "sys", "{info}");
    assert_eq!(info["data"]["account"], "SYS", "{info}");
}

/// Every account imports the system account's services for its own
/// users (nats-server's `registerSystemImports`): who am I, and my
/// account's connections and statistics.
#[tokio::test]
async fn a_user_of_any_account_asks_for_itself_like_nats_server() {
    let Some(reference) = ReferenceServer::start_latest(ACCOUNTS, &[]).await else {
        return;
    };
    let server = start_server(options(ACCOUNTS)).await;
    let urls = [format!("nats://{}", reference.addr()), server.client_url()];
    let mut answers: Vec<Vec<Value>> = Vec::new();
    for url in &urls {
        // A system user is connected too: it must not show in A's answers.
        let _sys = login(url.clone(), "sys").await;
        let a = login(url.clone(), "a").await;
        let mut got = Vec::new();
        for (subject, body) in [
            ("$SYS.REQ.USER.INFO", ""),
            ("$SYS.REQ.ACCOUNT.PING.CONNZ", r#"{"auth":true}"#),
            ("$SYS.REQ.SERVER.PING.CONNZ", r#"{"auth":true}"#),
            ("$SYS.REQ.ACCOUNT.PING.STATZ", ""),
        ] {
            let answer = ask(&a, subject, body).await;
            assert!(answer.get("error").is_none(), "{url} {subject}: {answer}");
            got.push(answer);
        }
        answers.push(got);
    }
    let (theirs, ours) = (&answers[0], &answers[1]);
    let mut problems = Vec::new();
    for (t, o) in theirs.iter().zip(ours) {
        problems.extend(shape::differences("a's request", t, o, SKIP, false));
    }
    assert!(problems.is_empty(), "differences:\n{}", problems.join("\n"));
    let info = &ours[0]["data"];
    assert_eq!(
        (&info["user"], &info["account"]),
        (&"a".into(), &"A".into())
    );
    for connz in &ours[1..3] {
        let conns = connz["data"]["connections"]
            .as_array()
            .expect("connections");
        assert_eq!(conns.len(), 1, "only A's connection: {connz}");
        assert_eq!(conns[0]["account"], "A", "{connz}");
        assert_eq!(conns[0]["authorized_user"], "a", "{connz}");
    }
    let statz = ours[3]["data"]["account_statz"].as_array().expect("statz");
    assert_eq!(statz.len(), 1, "{statz:?}");
    assert_eq!(statz[0]["acc"], "A");
}

/// The system services an account imports are its own: no account may
/// import another's (the configuration refuses it, as nats-server does).
#[test]
fn no_account_may_import_another_accounts_system_services() {
    let text = ACCOUNTS.replace(
        "A { users",
        r#"B { imports [{service: {account: SYS, subject: "$SYS.REQ.ACCOUNT.A.CONNZ"}, to: spy}] }
  A { users"#,
    );
    let mut opts = Options::for_tests();
    let root = rnats_conf::parse_str(&text, "test.conf").expect("the config parses");
    let err = config::apply(&mut opts, &root).expect_err("refused");
    assert!(
        err.to_string()
            .contains("Error adding service import \"$SYS.REQ.ACCOUNT.A.CONNZ\": service import not authorized"),
        "{err}"
    );
}

#[tokio::test]
async fn a_request_filtered_to_another_server_gets_no_answer() {
    let server = start_server(options(ACCOUNTS)).await;
    let sys = login(server.client_url(), "sys").await;
    let name = server.shared().name.clone();
    let answered = ask_all(
        &sys,
        "$SYS.REQ.SERVER.PING.VARZ",
        &format!(r#"{{"server_name":"{name}"}}"#),
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["data"]["server_name"], name.as_str());
    let silent = ask_all(
        &sys,
        "$SYS.REQ.SERVER.PING.VARZ",
        r#"{"server_name":"someone-else"}"#,
        Duration::from_millis(500),
    )
    .await;
    assert!(silent.is_empty(), "{silent:?}");
}

#[tokio::test]
async fn logins_and_logouts_are_announced_in_the_system_account() {
    let server = start_server(options(ACCOUNTS)).await;
    let sys = login(server.client_url(), "sys").await;
    let mut events = sys.subscribe("$SYS.ACCOUNT.A.>").await.unwrap();
    let mut auth_errors = sys
        .subscribe(format!(
            "$SYS.SERVER.{}.CLIENT.AUTH.ERR",
            server.shared().id
        ))
        .await
        .unwrap();
    sys.flush().await.unwrap();

    let a = async_nats::ConnectOptions::new()
        .user_and_password("a".into(), "a".into())
        .name("audited")
        .connect(server.client_url())
        .await
        .unwrap();
    a.publish("x", "12345".into()).await.unwrap();
    a.flush().await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let m = next(&mut events).await;
        seen.push((
            m.subject.to_string(),
            serde_json::from_slice::<Value>(&m.payload).unwrap(),
        ));
    }
    let connect = seen
        .iter()
        .find(|(s, _)| s == "$SYS.ACCOUNT.A.CONNECT")
        .expect("CONNECT");
    assert_eq!(
        connect.1["type"],
        "io.nats.server.advisory.v1.client_connect"
    );
    assert_eq!(connect.1["client"]["acc"], "A");
    assert_eq!(connect.1["client"]["user"], "a");
    assert_eq!(connect.1["client"]["name"], "audited");
    assert_eq!(connect.1["server"]["id"], server.shared().id.as_str());
    assert!(seen.iter().any(|(s, _)| s == "$SYS.ACCOUNT.A.SERVER.CONNS"));

    drop(a);
    let disconnect = loop {
        let m = next(&mut events).await;
        if m.subject.as_str() == "$SYS.ACCOUNT.A.DISCONNECT" {
            break serde_json::from_slice::<Value>(&m.payload).unwrap();
        }
    };
    assert_eq!(
        disconnect["type"],
        "io.nats.server.advisory.v1.client_disconnect"
    );
    assert_eq!(disconnect["reason"], "Client Closed");
    assert_eq!(disconnect["received"]["msgs"], 1);
    assert_eq!(disconnect["received"]["bytes"], 5);

    let refused = async_nats::ConnectOptions::new()
        .user_and_password("a".into(), "wrong".into())
        .max_reconnects(1)
        .connect(server.client_url())
        .await;
    assert!(refused.is_err());
    let m = next(&mut auth_errors).await;
    let event: Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(event["reason"], "Authentication Failure");
}

#[tokio::test]
async fn the_system_account_exists_by_default_and_can_be_turned_off() {
    let server = start_server(Options::for_tests()).await;
    assert!(server.shared().accounts.get("$SYS").is_some());
    let off = start_server(options("no_system_account: true")).await;
    assert!(off.shared().accounts.get("$SYS").is_none());
}

/// In a mixed cluster (rnats and nats-server 2.9.10), `user` asks
/// `subject` on each server in turn: every server answers, both ways.
async fn every_server_answers(user: &str, subject: &str) {
    let mut opts = options(ACCOUNTS);
    opts.cluster = Some(cluster_opts(-1, vec![], false));
    let rnats: Server = start_server(opts).await;
    let config = format!(
        "{ACCOUNTS}\ncluster {{\n  name: test\n  listen: 127.0.0.1:{}\n  routes: [ \"nats-route://{}\" ]\n}}\n",
        free_port(),
        rnats.cluster_addr().unwrap()
    );
    let Some(reference) = ReferenceServer::start_with_config(&config).await else {
        return;
    };
    wait_routes(&rnats, 1).await;
    for url in [rnats.client_url(), format!("nats://{}", reference.addr())] {
        let client = login(url.clone(), user).await;
        // Interest crosses the route shortly after it is up: ask until both answer.
        let mut servers = Vec::new();
        for _ in 0..50 {
            let answers = ask_all(&client, subject, "", Duration::from_millis(300)).await;
            servers = answers
                .iter()
                .filter_map(|a| a["server"]["id"].as_str().map(String::from))
                .collect();
            if servers.len() >= 2 {
                break;
            }
        }
        servers.sort();
        assert_eq!(servers.len(), 2, "{subject} asked on {url}: {servers:?}");
        servers.dedup();
        assert_eq!(servers.len(), 2, "{subject} asked on {url}: {servers:?}");
        assert!(servers.contains(&rnats.shared().id), "{servers:?}");
    }
}

#[tokio::test]
async fn every_server_of_a_mixed_cluster_answers_ping() {
    every_server_answers("sys", "$SYS.REQ.SERVER.PING").await;
}

/// A user's request for its own account's connections crosses the
/// cluster through the system account and every server answers (the
/// export streams its answers back), rnats and nats-server alike.
#[tokio::test]
async fn every_server_of_a_mixed_cluster_tells_an_account_its_connections() {
    every_server_answers("a", "$SYS.REQ.ACCOUNT.PING.CONNZ").await;
}

//! The subscription index, the permission check and delivery, as the
//! publish path uses them: matching a subject among 10 000 subscriptions
//! (literal and wildcard) with and without the shared cache, a
//! publish-permission verdict, and queueing one message for ten
//! subscribers (plain, and one queue group). `cargo bench -p rnats-server`.

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use rnats_proto::parser::Span;
use rnats_server::accounts::Account;
use rnats_server::accounts::subscription::Subscription;
use rnats_server::auth::permissions::Permissions;
use rnats_server::connection::Client;
use rnats_server::connection::delivery::{Deliveries, Message, Sizes};
use rnats_server::options::{PermissionsConfig, SubjectRuleConfig};
use rnats_server::sublist::{Sublist, Subscriber};

struct Sub {
    subject: Vec<u8>,
    queue: Option<Vec<u8>>,
}

impl Subscriber for Sub {
    fn subject(&self) -> &[u8] {
        &self.subject
    }

    fn queue(&self) -> Option<&[u8]> {
        self.queue.as_deref()
    }
}

/// 10 000 subscriptions: per-device literals, region wildcards, a few `>`
/// and a queue group.
fn index() -> Sublist<Sub> {
    let sublist = Sublist::new();
    let add = |subject: String, queue: Option<&str>| {
        let sub = Sub {
            subject: subject.into_bytes(),
            queue: queue.map(|q| q.as_bytes().to_vec()),
        };
        sublist.insert(Arc::new(sub)).expect("valid subject");
    };
    for i in 0..9000 {
        add(format!("telemetry.eu.device{i}.temp"), None);
    }
    for i in 0..900 {
        add(format!("telemetry.region{i}.*.temp"), None);
    }
    for i in 0..90 {
        add(format!("audit{i}.>"), None);
    }
    for _ in 0..10 {
        add("telemetry.eu.*.temp".into(), Some("workers"));
    }
    sublist
}

fn sublist(c: &mut Criterion) {
    let sublist = index();
    let subjects: Vec<Vec<u8>> = (0..64)
        .map(|i| format!("telemetry.eu.device{}.temp", i * 97).into_bytes())
        .collect();
    let mut group = c.benchmark_group("sublist_10k");
    group.bench_function("match_cached", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % subjects.len();
            black_box(sublist.matches(black_box(&subjects[i])).plain.len())
        })
    });
    group.bench_function("match_uncached", |b| {
        // A subject never seen before each time: every lookup walks the trie.
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let subject = format!("telemetry.eu.device{n}x.temp");
            black_box(sublist.matches(subject.as_bytes()).queues.len())
        })
    });
    group.finish();
}

fn permissions(c: &mut Criterion) {
    let rule = |allow: &[&str], deny: &[&str]| SubjectRuleConfig {
        allow: Some(allow.iter().map(|s| s.to_string()).collect()),
        deny: deny.iter().map(|s| s.to_string()).collect(),
    };
    let perms = Permissions::from_config(&PermissionsConfig {
        publish: Some(rule(
            &["telemetry.>", "orders.*.new", "_INBOX.>"],
            &["telemetry.secret.>"],
        )),
        subscribe: None,
        allow_responses: None,
    });
    let publish = perms.publish.as_ref().expect("a publish rule");
    c.bench_function("permission_publish_verdict", |b| {
        b.iter(|| black_box(publish.allows_publish(black_box(b"orders.eu.new"))))
    });
}

/// Ten connections subscribed to `orders.new` (plain, or as one queue
/// group), with room for every message a run queues.
fn subscribers(queue: Option<&str>) -> (Arc<Account>, Vec<Arc<Client>>) {
    let account = Account::new("bench");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 4222));
    let clients: Vec<_> = (0..10)
        .map(|id| Arc::new(Client::new(id, addr, 1 << 30, None)))
        .collect();
    for client in &clients {
        let sub = Subscription::new(
            client.clone(),
            account.clone(),
            Bytes::from_static(b"orders.new"),
            queue.map(|q| Bytes::copy_from_slice(q.as_bytes())),
            Bytes::from_static(b"1"),
        );
        account
            .sublist
            .insert(Arc::new(sub))
            .expect("valid subject");
    }
    (account, clients)
}

fn delivery(c: &mut Criterion) {
    let chunk = Bytes::from_static(b"0123456789abcdef0123456789abcdef");
    let msg = Message {
        chunk: &chunk,
        subject: b"orders.new",
        reply: Some(b"_INBOX.abc.1"),
        sizes: Sizes::Msg(b"32"),
        body: Span { start: 0, end: 32 },
        // Built from its parts (a frame that is the line's end as it is
        // takes one copy less).
        tail: None,
    };
    let mut group = c.benchmark_group("deliver");
    for (name, queue) in [("fanout_10", None), ("queue_of_10", Some("workers"))] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                // Fresh subscribers every 10 000 messages, so queues stay small.
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(10_000);
                    let (account, clients) = subscribers(queue);
                    let matches = account.sublist.matches(b"orders.new");
                    let mut out = Deliveries::new(1);
                    let start = Instant::now();
                    for _ in 0..n {
                        out.deliver_all(black_box(&matches), black_box(&msg), None, &[]);
                    }
                    total += start.elapsed();
                    left -= n;
                    drop(clients);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sublist, permissions, delivery);
criterion_main!(benches);

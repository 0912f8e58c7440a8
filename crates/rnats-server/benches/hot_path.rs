//! The subscription index and the permission check, as the publish path
//! uses them: matching a subject among 10 000 subscriptions (literal and
//! wildcard) with and without the shared cache, and a publish-permission
//! verdict. `cargo bench -p rnats-server`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use rnats_server::auth::permissions::Permissions;
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

criterion_group!(benches, sublist, permissions);
criterion_main!(benches);

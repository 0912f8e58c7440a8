//! The subscription index (`rnats_server::sublist::Sublist`), driven by a little program read
//! from the input and checked against the obvious matcher after every step.
//!
//! Each step is a byte saying what to do, then the bytes it needs:
//! - subscribe: a subject of 1 to 4 tokens from a small set (with `*`, `>`, an empty token,
//!   so invalid subjects come up too) and no queue or one of two queues;
//! - unsubscribe one of the live subscriptions, or one twice;
//! - publish: match a subject built the same way;
//! - publish or subscribe on raw bytes from the input;
//! - unsubscribe everything at once.
//!
//! Invariants:
//! - no program panics;
//! - a subscription is refused exactly when its subject is invalid;
//! - every match (cached or not) equals the naive matcher's answer over the live
//!   subscriptions: plain ones each, queue members grouped by queue, no group empty or twice;
//! - `count()` is the number of live subscriptions, and the generation grows with every
//!   change and only then.

use std::collections::BTreeMap;
use std::sync::Arc;

use rnats_proto::subject::is_valid_subject;
use rnats_server::sublist::{Matches, Sublist, Subscriber};

#[derive(Debug)]
struct Sub {
    id: usize,
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

const TOKENS: [&[u8]; 8] = [b"a", b"b", b"c", b"foo", b"*", b">", b"", b"a*"];
const QUEUES: [Option<&[u8]>; 3] = [None, Some(b"q1"), Some(b"q2")];

/// Sorted plain ids, and queue name to sorted member ids.
type Flat = (Vec<usize>, BTreeMap<Vec<u8>, Vec<usize>>);

/// The input, read a byte at a time (zeros once it runs out).
struct Program<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Program<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn subject(&mut self) -> Vec<u8> {
        let n = 1 + usize::from(self.byte() % 4);
        let tokens: Vec<&[u8]> = (0..n)
            .map(|_| TOKENS[usize::from(self.byte()) % TOKENS.len()])
            .collect();
        tokens.join(&b'.')
    }

    fn raw(&mut self) -> Vec<u8> {
        let n = usize::from(self.byte() % 16);
        (0..n).map(|_| self.byte()).collect()
    }
}

/// Runs the program in `data` and panics if an invariant breaks (see the module).
pub fn check(data: &[u8]) {
    let index: Sublist<Sub> = Sublist::new();
    let mut live: Vec<Arc<Sub>> = Vec::new();
    let mut program = Program { data, pos: 0 };
    let mut next_id = 0;
    while !program.done() {
        let generation = index.generation();
        let changed = match program.byte() % 6 {
            0 | 1 => {
                let subject = program.subject();
                let queue = QUEUES[usize::from(program.byte()) % QUEUES.len()];
                subscribe(&index, &mut live, &mut next_id, subject, queue)
            }
            2 => {
                if live.is_empty() {
                    false
                } else {
                    let i = usize::from(program.byte()) % live.len();
                    let sub = live.swap_remove(i);
                    assert!(index.remove(&sub), "a live subscription was not removed");
                    assert!(!index.remove(&sub), "a subscription was removed twice");
                    true
                }
            }
            3 => {
                let subject = program.subject();
                publish(&index, &live, &subject);
                false
            }
            4 => {
                let raw = program.raw();
                publish(&index, &live, &raw);
                if program.byte().is_multiple_of(2) {
                    subscribe(&index, &mut live, &mut next_id, raw, None)
                } else {
                    false
                }
            }
            _ => {
                let mut all = live.clone();
                index.remove_all(&mut all);
                assert_eq!(all.len(), live.len(), "remove_all missed some");
                let changed = !live.is_empty();
                live.clear();
                changed
            }
        };
        let now = index.generation();
        if changed {
            assert!(now > generation, "a change left the generation at {now}");
        } else {
            assert_eq!(now, generation, "the generation moved without a change");
        }
        assert_eq!(index.count(), live.len(), "count");
    }
    for subject in [&b"a"[..], b"a.b", b"foo.a.b", b"*", b"a.*"] {
        publish(&index, &live, subject);
    }
    index.remove_all(&mut live.clone());
    assert_eq!(index.count(), 0);
    assert!(index.matches(b"a").is_empty() && index.matches(b"a.b.c").is_empty());
}

fn subscribe(
    index: &Sublist<Sub>,
    live: &mut Vec<Arc<Sub>>,
    next_id: &mut usize,
    subject: Vec<u8>,
    queue: Option<&[u8]>,
) -> bool {
    let valid = is_valid_subject(&subject);
    let sub = Arc::new(Sub {
        id: *next_id,
        subject,
        queue: queue.map(<[u8]>::to_vec),
    });
    *next_id += 1;
    let inserted = index.insert(sub.clone()).is_ok();
    assert_eq!(inserted, valid, "insert of {:?}", sub.subject);
    if inserted {
        assert!(index.insert(sub.clone()).is_ok(), "a second insert fails");
        live.push(sub);
    }
    inserted
}

/// Matches `subject` twice (the second from the cache) against the naive answer.
fn publish(index: &Sublist<Sub>, live: &[Arc<Sub>], subject: &[u8]) {
    let expected = naive(live, subject);
    for _ in 0..2 {
        assert_eq!(flatten(&index.matches(subject)), expected, "{subject:?}");
    }
}

fn flatten(m: &Matches<Sub>) -> Flat {
    let mut plain: Vec<usize> = m.plain.iter().map(|s| s.id).collect();
    plain.sort_unstable();
    let mut queues = BTreeMap::new();
    for group in &m.queues {
        assert!(!group.members.is_empty(), "an empty queue group");
        let mut ids: Vec<usize> = group.members.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        assert!(
            group
                .members
                .iter()
                .all(|s| s.queue.as_deref() == Some(&*group.name)),
            "a member in the wrong group"
        );
        let twice = queues.insert(group.name.to_vec(), ids);
        assert!(twice.is_none(), "queue group {:?} listed twice", group.name);
    }
    (plain, queues)
}

/// The obvious matcher, token by token. A subject with an empty token matches nothing; a
/// `*` or `>` in a published subject is an ordinary token.
fn naive_match(pattern: &[u8], subject: &[u8]) -> bool {
    let p: Vec<&[u8]> = pattern.split(|&b| b == b'.').collect();
    let s: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
    if s.iter().any(|t| t.is_empty()) {
        return false;
    }
    let token_matches = |(p, s): (&&[u8], &&[u8])| *p == b"*" || p == s;
    if p.last() == Some(&&b">"[..]) {
        let fixed = p.len() - 1;
        s.len() > fixed && p[..fixed].iter().zip(&s).all(token_matches)
    } else {
        p.len() == s.len() && p.iter().zip(&s).all(token_matches)
    }
}

fn naive(live: &[Arc<Sub>], subject: &[u8]) -> Flat {
    let mut plain = Vec::new();
    let mut queues: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
    for s in live.iter().filter(|s| naive_match(&s.subject, subject)) {
        match &s.queue {
            None => plain.push(s.id),
            Some(q) => queues.entry(q.clone()).or_default().push(s.id),
        }
    }
    plain.sort_unstable();
    queues.values_mut().for_each(|v| v.sort_unstable());
    (plain, queues)
}

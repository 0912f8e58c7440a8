//! Checks every [`Store`] must pass, run by each implementation's tests:
//! fixed scenarios for the invariants in the module doc, and a property
//! test that drives a store and a naive model (a vector of messages) with
//! the same random operations and compares every answer.
//!
//! A store under test comes from a factory; a store that persists also
//! passes a `reopen` closure so the model check can close and reopen it
//! between operations (what it holds must survive).

use bytes::Bytes;
use proptest::prelude::*;

use super::{Purge, Store, StoreError, filter_matches};

pub type Factory<'a> = &'a mut dyn FnMut() -> Box<dyn Store>;

pub fn check_all(factory: Factory<'_>) {
    sequences_and_state(factory());
    removal_keeps_the_counts(factory());
    subjects_are_indexed(factory());
    matching(factory());
    purges(factory);
    expiry(factory());
}

fn put(store: &mut dyn Store, subject: &str, payload: &str, time: i64) -> u64 {
    store
        .append(subject.as_bytes(), b"", payload.as_bytes(), time, 0)
        .expect("append")
}

fn sequences_and_state(mut store: Box<dyn Store>) {
    let fresh = store.state();
    assert_eq!((fresh.msgs, fresh.first_seq, fresh.last_seq), (0, 0, 0));
    for i in 1..=5 {
        assert_eq!(
            put(store.as_mut(), "a.b", &format!("m{i}"), i as i64 * 10),
            i
        );
    }
    let headers = b"NATS/1.0\r\nX: y\r\n\r\n";
    assert_eq!(store.append(b"h", headers, b"p", 60, 0).unwrap(), 6);
    store.flush().unwrap();
    let state = store.state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (6, 1, 6));
    assert_eq!((state.first_time, state.last_time), (10, 60));
    assert_eq!(state.num_subjects, 2);
    let msg = store.get(3).unwrap();
    assert_eq!(
        (msg.seq, &msg.subject[..], &msg.payload[..], msg.time),
        (3, &b"a.b"[..], &b"m3"[..], 30)
    );
    assert!(msg.headers.is_empty());
    let msg = store.get(6).unwrap();
    assert_eq!(&msg.headers[..], &headers[..]);
    assert!(matches!(store.get(7), Err(StoreError::NotFound)));
    assert!(matches!(store.get(0), Err(StoreError::NotFound)));
}

fn removal_keeps_the_counts(mut store: Box<dyn Store>) {
    for i in 1..=5 {
        put(store.as_mut(), "s", "x", i);
    }
    let before = store.state().bytes;
    assert!(store.remove(3, false).unwrap());
    assert!(!store.remove(3, false).unwrap());
    let state = store.state();
    assert_eq!((state.msgs, state.num_deleted), (4, 1));
    assert_eq!(state.bytes, before / 5 * 4);
    assert_eq!(store.deleted(), vec![3]);
    assert!(store.remove(1, true).unwrap());
    let state = store.state();
    assert_eq!(
        (state.first_seq, state.first_time, state.num_deleted),
        (2, 2, 1)
    );
    for seq in [2, 4, 5] {
        store.remove(seq, false).unwrap();
    }
    let state = store.state();
    assert_eq!(
        (state.msgs, state.bytes, state.first_seq, state.last_seq),
        (0, 0, 6, 5)
    );
    assert_eq!(state.num_deleted, 0);
    assert_eq!(
        put(store.as_mut(), "s", "x", 9),
        6,
        "sequences are never reused"
    );
}

fn subjects_are_indexed(mut store: Box<dyn Store>) {
    for (i, subject) in ["k.a", "k.b", "k.a", "k.a", "k.b"].iter().enumerate() {
        put(store.as_mut(), subject, "v", i as i64);
    }
    let a = store.subject_info(b"k.a").unwrap();
    assert_eq!((a.msgs, a.first_seq, a.last_seq), (3, 1, 4));
    store.remove(1, false).unwrap();
    let a = store.subject_info(b"k.a").unwrap();
    assert_eq!((a.msgs, a.first_seq, a.last_seq), (2, 3, 4));
    store.remove(4, false).unwrap();
    let a = store.subject_info(b"k.a").unwrap();
    assert_eq!((a.msgs, a.first_seq, a.last_seq), (1, 3, 3));
    store.remove(3, false).unwrap();
    assert_eq!(store.subject_info(b"k.a"), None);
    assert_eq!(store.state().num_subjects, 1);
    assert_eq!(store.subjects(">"), vec![(Bytes::from_static(b"k.b"), 2)]);
}

fn matching(mut store: Box<dyn Store>) {
    for (i, subject) in ["a.1", "b.1", "a.2", "b.2", "a.1"].iter().enumerate() {
        put(store.as_mut(), subject, "v", i as i64);
    }
    assert_eq!(store.next_matching(1, "b.*").unwrap().seq, 2);
    assert_eq!(store.next_matching(3, "b.*").unwrap().seq, 4);
    assert_eq!(store.next_matching(2, "a.1").unwrap().seq, 5);
    // Past a subject's last message, or past the end: nothing (no panic).
    assert!(matches!(
        store.next_matching(3, "b.1"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.next_matching(u64::MAX, "a.1"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.next_matching(u64::MAX, ">"),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.next_matching(1, ">").unwrap().seq, 1);
    assert_eq!(store.next_matching(4, "").unwrap().seq, 4);
    assert!(matches!(
        store.next_matching(6, ">"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.next_matching(1, "c.>"),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.last_matching("a.*").unwrap().seq, 5);
    assert_eq!(store.last_matching("b.1").unwrap().seq, 2);
    assert_eq!(store.last_matching(">").unwrap().seq, 5);
    assert!(matches!(
        store.last_matching("zz"),
        Err(StoreError::NotFound)
    ));
    let mut subjects = store.subjects("a.*");
    subjects.sort();
    assert_eq!(
        subjects,
        vec![
            (Bytes::from_static(b"a.1"), 2),
            (Bytes::from_static(b"a.2"), 1)
        ]
    );
}

fn purges(factory: Factory<'_>) {
    let fill = |store: &mut dyn Store| {
        for (i, subject) in ["a", "b", "a", "b", "a", "b"].iter().enumerate() {
            put(store, subject, "v", i as i64);
        }
    };
    let mut store = factory();
    fill(store.as_mut());
    assert_eq!(store.purge(&Purge::default()).unwrap(), 6);
    let state = store.state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (0, 7, 6));

    let mut store = factory();
    fill(store.as_mut());
    let filter = Some("a".to_string());
    assert_eq!(
        store
            .purge(&Purge {
                filter: filter.clone(),
                ..Purge::default()
            })
            .unwrap(),
        3
    );
    assert_eq!(store.state().msgs, 3);
    assert_eq!(store.state().first_seq, 2);

    let mut store = factory();
    fill(store.as_mut());
    assert_eq!(
        store
            .purge(&Purge {
                seq: Some(4),
                ..Purge::default()
            })
            .unwrap(),
        3
    );
    assert_eq!(store.state().first_seq, 4);

    let mut store = factory();
    fill(store.as_mut());
    assert_eq!(
        store
            .purge(&Purge {
                keep: Some(2),
                ..Purge::default()
            })
            .unwrap(),
        4
    );
    assert_eq!(store.state().first_seq, 5);

    let mut store = factory();
    fill(store.as_mut());
    let purge = Purge {
        filter,
        keep: Some(1),
        seq: None,
    };
    assert_eq!(store.purge(&purge).unwrap(), 2);
    assert_eq!(store.subject_info(b"a").unwrap().first_seq, 5);

    let mut store = factory();
    fill(store.as_mut());
    assert_eq!(
        store
            .purge(&Purge {
                seq: Some(100),
                ..Purge::default()
            })
            .unwrap(),
        6
    );
    let state = store.state();
    assert_eq!((state.msgs, state.first_seq, state.last_seq), (0, 100, 99));
    assert_eq!(put(store.as_mut(), "a", "v", 9), 100);

    // A new store's first sequence is set the same way.
    let mut store = factory();
    store
        .purge(&Purge {
            seq: Some(50),
            ..Purge::default()
        })
        .unwrap();
    assert_eq!(put(store.as_mut(), "a", "v", 9), 50);
}

fn expiry(mut store: Box<dyn Store>) {
    for t in 1..=5 {
        put(store.as_mut(), "s", "x", t * 1_000_000_000);
    }
    assert_eq!(store.expire_before(3_000_000_000).unwrap(), 2);
    assert_eq!(store.state().first_seq, 3);
    let ttl_headers = b"NATS/1.0\r\nNats-TTL: 2\r\n\r\n";
    let seq = store
        .append(b"t", ttl_headers, b"x", 10_000_000_000, 2)
        .unwrap();
    assert_eq!(store.next_ttl_expiry(), Some(12_000_000_000));
    assert_eq!(store.expire_ttls(11_999_999_999).unwrap(), 0);
    assert_eq!(store.expire_ttls(12_000_000_000).unwrap(), 1);
    assert!(matches!(store.get(seq), Err(StoreError::NotFound)));
    assert_eq!(store.next_ttl_expiry(), None);
}

/// One step of the model check.
#[derive(Debug, Clone)]
pub enum Op {
    Append {
        subject: u8,
        len: usize,
    },
    Remove(u64),
    Purge {
        subject: Option<u8>,
        seq: Option<u64>,
        keep: Option<u64>,
    },
    Expire(i64),
    Reopen,
}

pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0u8..4, 0usize..300).prop_map(|(subject, len)| Op::Append { subject, len }),
        2 => (0u64..40).prop_map(Op::Remove),
        1 => (proptest::option::of(0u8..4), proptest::option::weighted(0.3, 0u64..50), proptest::option::weighted(0.3, 0u64..5))
            .prop_map(|(subject, seq, keep)| Op::Purge { subject, seq, keep }),
        1 => (0i64..40).prop_map(Op::Expire),
        1 => Just(Op::Reopen),
    ];
    proptest::collection::vec(op, 1..60)
}

fn subject_of(n: u8) -> String {
    format!("s.{n}")
}

/// Runs `ops` on a store and on a model and compares them after each step.
/// `reopen` closes and reopens the store (identity for memory).
pub fn check_model(
    mut store: Box<dyn Store>,
    reopen: &mut dyn FnMut(Box<dyn Store>) -> Box<dyn Store>,
    ops: &[Op],
) {
    // The model: (seq, subject, payload, time) of every live message.
    let mut model: Vec<(u64, String, Vec<u8>, i64)> = Vec::new();
    let mut last_seq = 0u64;
    let mut clock = 0i64;
    for op in ops {
        match op {
            Op::Append { subject, len } => {
                clock += 1;
                let subject = subject_of(*subject);
                let payload: Vec<u8> = (0..*len).map(|i| (i as u8).wrapping_mul(31)).collect();
                let seq = store
                    .append(subject.as_bytes(), b"", &payload, clock, 0)
                    .unwrap();
                last_seq += 1;
                assert_eq!(seq, last_seq);
                model.push((seq, subject, payload, clock));
            }
            Op::Remove(seq) => {
                let had = model.iter().any(|m| m.0 == *seq);
                assert_eq!(
                    store.remove(*seq, seq % 2 == 0).unwrap(),
                    had,
                    "remove {seq}"
                );
                model.retain(|m| m.0 != *seq);
            }
            Op::Purge { subject, seq, keep } => {
                let filter = subject.map(subject_of);
                let purge = Purge {
                    filter: filter.clone(),
                    seq: *seq,
                    keep: *keep,
                };
                let matching: Vec<u64> = model
                    .iter()
                    .filter(|m| {
                        filter
                            .as_deref()
                            .is_none_or(|f| filter_matches(f, m.1.as_bytes()))
                    })
                    .map(|m| m.0)
                    .collect();
                let gone: Vec<u64> = if let Some(below) = seq {
                    matching.into_iter().filter(|s| s < below).collect()
                } else if let Some(keep) = keep {
                    let n = matching.len().saturating_sub(*keep as usize);
                    matching[..n].to_vec()
                } else {
                    matching
                };
                assert_eq!(store.purge(&purge).unwrap(), gone.len() as u64, "{purge:?}");
                model.retain(|m| !gone.contains(&m.0));
                if filter.is_none()
                    && let Some(next) = seq
                    && *next > last_seq
                {
                    last_seq = next - 1;
                }
            }
            Op::Expire(t) => {
                let gone = model.iter().filter(|m| m.3 < *t).count();
                assert_eq!(store.expire_before(*t).unwrap(), gone as u64);
                model.retain(|m| m.3 >= *t);
            }
            Op::Reopen => {
                store.flush().unwrap();
                store = reopen(store);
            }
        }
        let state = store.state();
        assert_eq!(state.msgs, model.len() as u64, "after {op:?}");
        assert_eq!(state.last_seq, last_seq, "after {op:?}");
        match model.first() {
            Some(first) => {
                assert_eq!(state.first_seq, first.0, "after {op:?}");
                let span = last_seq - first.0 + 1;
                assert_eq!(state.num_deleted, span - model.len() as u64);
            }
            None if last_seq > 0 => assert_eq!(state.first_seq, last_seq + 1, "after {op:?}"),
            None => {}
        }
        let mut subjects: Vec<&str> = model.iter().map(|m| m.1.as_str()).collect();
        subjects.sort();
        subjects.dedup();
        assert_eq!(state.num_subjects, subjects.len() as u64);
    }
    // Every live message reads back whole; every other sequence is gone.
    for seq in 1..=last_seq {
        match model.iter().find(|m| m.0 == seq) {
            Some((_, subject, payload, time)) => {
                let msg = store.get(seq).unwrap();
                assert_eq!(&msg.subject[..], subject.as_bytes());
                assert_eq!(&msg.payload[..], &payload[..]);
                assert_eq!(msg.time, *time);
            }
            None => assert!(matches!(store.get(seq), Err(StoreError::NotFound))),
        }
    }
    for n in 0..4 {
        let subject = subject_of(n);
        let seqs: Vec<u64> = model
            .iter()
            .filter(|m| m.1 == subject)
            .map(|m| m.0)
            .collect();
        let info = store.subject_info(subject.as_bytes());
        match (seqs.first(), seqs.last()) {
            (Some(first), Some(last)) => {
                let info = info.expect("subject info");
                assert_eq!(
                    (info.msgs, info.first_seq, info.last_seq),
                    (seqs.len() as u64, *first, *last)
                );
                assert_eq!(store.last_matching(&subject).unwrap().seq, *last);
            }
            _ => assert_eq!(info, None),
        }
    }
    assert_eq!(
        store.deleted(),
        match model.first() {
            Some(first) => (first.0..=last_seq)
                .filter(|s| !model.iter().any(|m| m.0 == *s))
                .collect(),
            None => Vec::new(),
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    proptest! {
        #[test]
        fn memory_store_matches_the_model(ops in ops()) {
            check_model(Box::new(MemoryStore::new()), &mut |s| s, &ops);
        }
    }
}

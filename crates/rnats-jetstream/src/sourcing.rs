//! Mirrors and sources: a stream fed from other streams of its account
//! on this server.
//!
//! One task per mirror or source follows its origin: it reads the origin's
//! messages from where the stream left off (a mirror: its own last
//! sequence, since it keeps the origin's; a source: the origin sequence in
//! the newest `Nats-Stream-Source` header it wrote), stores them, and waits
//! for the origin's next stored batch ([`StreamHandle::appended`]). A
//! mirror keeps the origin's sequences and times and applies only its
//! limits; a sourced message goes through the publish rules with a
//! `Nats-Stream-Source` header, as nats-server writes it.
//!
//! nats-server builds these on consumers, which also reach other accounts
//! and domains; rnats reads the origin's store directly, so only streams
//! of the same account on this server can be followed (others are refused
//! when the stream is created).
//!
//! **Owns**: the following tasks and what they report (lag, last
//! activity, error). **May not touch**: the API (it only reads and stores
//! through [`Stream`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rnats_proto::transform::SubjectTransform;

use crate::api::errors::ApiError;
use crate::engine::{Engine, JsAccount, StreamHandle, lock};
use crate::host::Host;
use crate::store::StoredMsg;
use crate::stream::Stream;
use crate::stream::config::StreamSource;
use crate::time::now_nanos;

/// Messages read from the origin and stored under one hold of each lock.
const BATCH: usize = 256;
/// How often a missing origin is looked for again, and a failed store
/// retried.
const RETRY: Duration = Duration::from_secs(1);

/// What `stream info` reports of one mirror or source.
#[derive(Debug, Clone)]
pub(crate) struct SourceState {
    pub source: StreamSource,
    /// Origin messages not yet taken.
    pub lag: u64,
    /// When the origin was last heard from.
    pub active: Option<Instant>,
    pub error: Option<ApiError>,
}

impl SourceState {
    pub fn new(source: StreamSource) -> Self {
        SourceState {
            source,
            lag: 0,
            active: None,
            error: None,
        }
    }
}

/// Follows `target`'s mirror (`index` None) or its source number `index`
/// until the task is aborted (the stream deleted or updated).
pub(crate) async fn follow<H: Host>(
    engine: Arc<Engine<H>>,
    acc: Arc<JsAccount<H>>,
    target: Arc<StreamHandle>,
    slot: usize,
    mirror: bool,
) {
    let Some(source) = lock(&target.sources).get(slot).map(|s| s.source.clone()) else {
        return;
    };
    let index_name = source.index_name();
    let filters = source.filters();
    let transforms: Vec<SubjectTransform> = source
        .subject_transforms
        .iter()
        .filter(|t| !t.destination.is_empty())
        .filter_map(|t| {
            let from = if t.source.is_empty() { ">" } else { &t.source };
            SubjectTransform::new(from, &t.destination).ok()
        })
        .collect();
    let mut next: Option<u64> = None;
    loop {
        let origin = lock(&acc.streams).get(&source.name).cloned();
        let Some(origin) = origin else {
            report(&target, slot, |s| {
                s.error = Some(ApiError::stream_not_found());
            });
            tokio::time::sleep(RETRY).await;
            continue;
        };
        let appended = origin.appended.notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        let start = match next {
            Some(seq) => seq,
            None => {
                let seq = start_at(&source, mirror, &index_name, &origin, &target);
                next = Some(seq);
                seq
            }
        };
        let (batch, origin_last) = {
            let mut stream = lock(&origin.stream);
            let mut batch = Vec::new();
            let mut seq = start;
            while batch.len() < BATCH {
                match next_of(&mut stream, seq, &filters) {
                    Some(m) => {
                        seq = m.seq + 1;
                        batch.push(m);
                    }
                    None => break,
                }
            }
            (batch, stream.state().last_seq)
        };
        if batch.is_empty() {
            report(&target, slot, |s| {
                s.lag = 0;
                s.active = Some(Instant::now());
                s.error = None;
            });
            // The origin's next stored batch, or a look now and then (it
            // may have been deleted and made again).
            let _ = tokio::time::timeout(RETRY, appended).await;
            continue;
        }
        let mut republish = Vec::new();
        let mut failed = None;
        {
            let mut stream = lock(&target.stream);
            let now = now_nanos();
            for m in &batch {
                let stored = if mirror {
                    stream.store_mirrored(m, &mut republish)
                } else {
                    let subject = transformed(&transforms, &m.subject);
                    stream
                        .accept_sourced(m, &subject, &index_name, now, &mut republish)
                        .map(|_| ())
                };
                match stored {
                    Ok(()) => next = Some(m.seq + 1),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Err(e) = stream.flush() {
                failed = Some(ApiError::stream_store_failed(e.to_string()));
            }
        }
        engine.count_usage(&acc, &target);
        target.appended.notify_waiters();
        target.wake.notify_one();
        for msg in republish {
            if let Err(e) = engine.host.publish(&acc.account, msg) {
                tracing::debug!("JetStream: could not republish: {e}");
            }
        }
        let taken = next.unwrap_or(start).saturating_sub(1);
        report(&target, slot, |s| {
            s.lag = origin_last.saturating_sub(taken);
            s.active = Some(Instant::now());
            s.error = failed.clone();
        });
        if let Some(e) = failed {
            tracing::warn!(
                "JetStream: stream '{} > {}' could not take from '{}': {}",
                acc.name,
                target.name,
                source.name,
                e.description
            );
            tokio::time::sleep(RETRY).await;
        }
    }
}

fn report(target: &StreamHandle, slot: usize, f: impl FnOnce(&mut SourceState)) {
    if let Some(state) = lock(&target.sources).get_mut(slot) {
        f(state);
    }
}

/// The origin sequence to start from.
fn start_at(
    source: &StreamSource,
    mirror: bool,
    index_name: &str,
    origin: &StreamHandle,
    target: &StreamHandle,
) -> u64 {
    let done = {
        let mut stream = lock(&target.stream);
        if mirror {
            stream.state().last_seq
        } else {
            stream.sourced_up_to(index_name)
        }
    };
    if done > 0 {
        return done + 1;
    }
    if source.opt_start_seq > 0 {
        return source.opt_start_seq;
    }
    let mut stream = lock(&origin.stream);
    let first = stream.state().first_seq.max(1);
    match source
        .opt_start_time
        .as_deref()
        .and_then(crate::time::parse_time)
    {
        Some(time) => {
            let mut seq = first;
            while let Ok(m) = stream.next_matching(seq, ">") {
                if m.time >= time {
                    return m.seq;
                }
                seq = m.seq + 1;
            }
            seq
        }
        None => first,
    }
}

/// The origin's first message at or after `seq` that one of `filters`
/// takes.
fn next_of(stream: &mut Stream, seq: u64, filters: &[String]) -> Option<StoredMsg> {
    filters
        .iter()
        .filter_map(|f| stream.next_matching(seq, f).ok())
        .min_by_key(|m| m.seq)
}

/// The subject a sourced message takes: the first transform that matches.
fn transformed(transforms: &[SubjectTransform], subject: &[u8]) -> Vec<u8> {
    transforms
        .iter()
        .find(|t| t.matches(subject))
        .and_then(|t| t.apply(subject).ok())
        .unwrap_or_else(|| subject.to_vec())
}

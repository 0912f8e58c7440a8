//! A stream: its configuration, its store, and what happens to a message
//! published to one of its subjects (nats-server's checks in its order,
//! de-duplication, storing, then the limits and the retention policy).
//!
//! A [`Stream`] is plain state, driven by its owner (`crate::engine`),
//! which holds it under a mutex, feeds it the messages of its subjects in
//! batches and calls [`Stream::flush`] before it acknowledges a batch, so
//! an acknowledged message is in the store's files when the
//! acknowledgement leaves.
//!
//! **Owns**: the publish rules and the limits. **May not touch**: the
//! server (it returns what to send; the engine sends it).

pub mod config;

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use rnats_proto::transform::SubjectTransform;

use crate::api::errors::ApiError;
use crate::headers;
use crate::host::Msg;
use crate::store::{Purge, Store, StoreError, StoreState, StoredMsg};
use crate::time::go_time;

pub use config::StreamConfig;
use config::{Discard, Retention};

/// nats-server's largest header block on a stored message.
const MAX_HEADER_LEN: usize = 64 * 1024;

/// What a publish got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub seq: u64,
    pub duplicate: bool,
}

pub struct Stream {
    config: StreamConfig,
    /// When it was created (ns since the epoch).
    pub created: i64,
    store: Box<dyn Store>,
    /// Message ids seen within the duplicate window: id -> (seq, time).
    dedupe: HashMap<String, (u64, i64)>,
    dedupe_order: VecDeque<(i64, String)>,
    last_msg_id: String,
    /// The ids of a reopened store are read from its messages when a
    /// publish first needs them (one with `Nats-Msg-Id` or expecting the
    /// last id), not at start: a restart is not slowed by reading the
    /// whole duplicate window.
    dedupe_loaded: bool,
    transform: Option<SubjectTransform>,
    republish: Option<(SubjectTransform, bool)>,
    /// Scratch for the transformed subject (no allocation per message).
    subject_buf: Vec<u8>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("name", &self.config.name)
            .field("state", &self.store.state())
            .finish()
    }
}

fn store_failed(e: StoreError) -> ApiError {
    match e {
        StoreError::InsufficientResources => ApiError::insufficient_resources(),
        other => ApiError::stream_store_failed(other.to_string()),
    }
}

/// A source's index name (`StreamSource::index_name`) in its parts:
/// stream, filter, destination.
fn index_parts(index_name: &str) -> (&str, &str, &str) {
    let mut parts = index_name.splitn(3, ' ');
    (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or(">"),
        parts.next().unwrap_or(">"),
    )
}

/// Whether a stored message said `Nats-TTL: never`: `max_age` spares it.
fn lives_forever(hdrs: &[u8]) -> bool {
    !hdrs.is_empty() && headers::get(hdrs, headers::TTL).and_then(parse_ttl) == Some(-1)
}

/// `Nats-TTL`: seconds, a Go duration (`1m30s`), or `never` (-1).
fn parse_ttl(value: &str) -> Option<i64> {
    if value == "never" {
        return Some(-1);
    }
    if let Ok(secs) = value.parse::<i64>() {
        return (secs >= 1).then_some(secs);
    }
    let d = rnats_conf::parse_duration(value).ok()?;
    (d.as_secs() >= 1).then_some(d.as_secs() as i64)
}

impl Stream {
    /// A stream over `store` (new or reopened).
    pub fn new(config: StreamConfig, store: Box<dyn Store>, created: i64) -> Self {
        let mut stream = Stream {
            transform: None,
            republish: None,
            config,
            created,
            store,
            dedupe: HashMap::new(),
            dedupe_order: VecDeque::new(),
            last_msg_id: String::new(),
            dedupe_loaded: false,
            subject_buf: Vec::new(),
        };
        stream.compile();
        stream
    }

    fn compile(&mut self) {
        self.transform = self.config.subject_transform.as_ref().and_then(|t| {
            let source = if t.source.is_empty() { ">" } else { &t.source };
            SubjectTransform::new(source, &t.destination).ok()
        });
        self.republish = self.config.republish.as_ref().and_then(|r| {
            let source = if r.source.is_empty() { ">" } else { &r.source };
            SubjectTransform::new(source, &r.destination)
                .ok()
                .map(|t| (t, r.headers_only))
        });
    }

    fn rebuild_dedupe(&mut self, now: i64) {
        self.dedupe_loaded = true;
        let window = self.config.duplicate_window;
        let state = self.store.state();
        if window <= 0 || state.msgs == 0 {
            return;
        }
        let mut found = Vec::new();
        let mut seq = state.last_seq;
        while seq >= state.first_seq && seq > 0 {
            match self.store.get(seq) {
                Ok(msg) if msg.time < now - window => break,
                Ok(msg) => {
                    if let Some(id) = headers::get(&msg.headers, headers::MSG_ID) {
                        found.push((id.to_string(), msg.seq, msg.time));
                    }
                }
                Err(_) => {}
            }
            seq -= 1;
        }
        for (id, seq, time) in found.into_iter().rev() {
            self.last_msg_id.clone_from(&id);
            self.dedupe.insert(id.clone(), (seq, time));
            self.dedupe_order.push_back((time, id));
        }
    }

    /// Forgets the message ids (after appends the store had to drop); they
    /// are read again from the store when a publish next needs them.
    pub fn reset_dedupe(&mut self) {
        self.dedupe.clear();
        self.dedupe_order.clear();
        self.last_msg_id.clear();
        self.dedupe_loaded = false;
    }

    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn state(&self) -> StoreState {
        self.store.state()
    }

    /// Applies an update already checked with
    /// [`StreamConfig::check_update`], then the new limits.
    pub fn update(&mut self, config: StreamConfig, now: i64) -> Result<(), ApiError> {
        self.config = config;
        self.compile();
        self.enforce_limits(None, now).map_err(store_failed)
    }

    fn forget_old_ids(&mut self, now: i64) {
        let window = self.config.duplicate_window;
        while let Some((time, _)) = self.dedupe_order.front() {
            if *time >= now - window {
                break;
            }
            if let Some((_, id)) = self.dedupe_order.pop_front()
                && self.dedupe.get(&id).is_some_and(|(_, t)| *t < now - window)
            {
                self.dedupe.remove(&id);
            }
        }
    }

    /// A message published to one of the stream's subjects: checked,
    /// stored (buffered until [`Stream::flush`]), and the limits applied.
    /// Messages to republish are added to `out`.
    pub fn accept(
        &mut self,
        subject: &[u8],
        hdrs: &[u8],
        payload: &[u8],
        now: i64,
        out: &mut Vec<Msg>,
    ) -> Result<Ack, ApiError> {
        let config = &self.config;
        if config.sealed {
            return Err(ApiError::stream_sealed());
        }
        if hdrs.len() > MAX_HEADER_LEN {
            return Err(ApiError::stream_header_exceeds_maximum());
        }
        if config.max_msg_size >= 0 && (hdrs.len() + payload.len()) as i64 > config.max_msg_size {
            return Err(ApiError::stream_message_exceeds_maximum());
        }
        let mut msg_id = None;
        let mut ttl = 0;
        let mut rollup = None;
        if !hdrs.is_empty() {
            if let Some(expected) = headers::get(hdrs, headers::EXPECTED_STREAM)
                && expected != config.name
            {
                return Err(ApiError::stream_not_match());
            }
            msg_id = headers::get(hdrs, headers::MSG_ID).filter(|id| !id.is_empty());
            if !self.dedupe_loaded
                && (msg_id.is_some() || headers::get(hdrs, headers::EXPECTED_LAST_MSG_ID).is_some())
            {
                self.rebuild_dedupe(now);
            }
            if let Some(id) = msg_id {
                self.forget_old_ids(now);
                if let Some((seq, _)) = self.dedupe.get(id) {
                    return Ok(Ack {
                        seq: *seq,
                        duplicate: true,
                    });
                }
            }
            let state = self.store.state();
            if let Some(expected) = headers::get(hdrs, headers::EXPECTED_LAST_MSG_ID)
                && expected != self.last_msg_id
            {
                return Err(ApiError::stream_wrong_last_msg_id(&self.last_msg_id));
            }
            if let Some(expected) = headers::get(hdrs, headers::EXPECTED_LAST_SEQ) {
                match expected.parse::<u64>() {
                    Ok(seq) if seq == state.last_seq => {}
                    _ => return Err(ApiError::stream_wrong_last_sequence(state.last_seq)),
                }
            }
            if let Some(expected) = headers::get(hdrs, headers::EXPECTED_LAST_SUBJECT_SEQ) {
                let Ok(expected) = expected.parse::<u64>() else {
                    return Err(ApiError::stream_expected_last_seq_per_subject_invalid());
                };
                let on = headers::get(hdrs, headers::EXPECTED_LAST_SUBJECT_SEQ_SUBJECT)
                    .map(str::as_bytes)
                    .unwrap_or(subject);
                let last = self.store.subject_info(on).map_or(0, |i| i.last_seq);
                if last != expected {
                    return Err(ApiError::stream_wrong_last_sequence(last));
                }
            }
            if let Some(value) = headers::get(hdrs, headers::ROLLUP) {
                if !self.config.allow_rollup_hdrs {
                    return Err(ApiError::stream_rollup_failed("rollup not permitted"));
                }
                match value {
                    "sub" | "all" => rollup = Some(value == "all"),
                    other => {
                        return Err(ApiError::stream_rollup_failed(format!(
                            "rollup value invalid: {other}"
                        )));
                    }
                }
            }
            if let Some(value) = headers::get(hdrs, headers::TTL) {
                if !self.config.allow_msg_ttl {
                    return Err(ApiError::message_ttl_disabled());
                }
                ttl = parse_ttl(value).ok_or_else(ApiError::message_ttl_invalid)?;
            }
        }
        let config = &self.config;
        let state = self.store.state();
        let size = (subject.len() + hdrs.len() + payload.len()) as i64;
        if config.discard == Discard::New {
            if config.max_msgs > 0 && state.msgs as i64 >= config.max_msgs {
                return Err(ApiError::stream_store_failed("maximum messages exceeded"));
            }
            if config.max_bytes > 0 && state.bytes as i64 + size > config.max_bytes {
                return Err(ApiError::stream_store_failed("maximum bytes exceeded"));
            }
            if config.discard_new_per_subject
                && config.max_msgs_per_subject > 0
                && self
                    .store
                    .subject_info(subject)
                    .is_some_and(|i| i.msgs as i64 >= config.max_msgs_per_subject)
            {
                return Err(ApiError::stream_store_failed(
                    "maximum messages per subject exceeded",
                ));
            }
        }
        // The transformed subject is written into a buffer kept between
        // publishes (taken out while `self` is borrowed mutably).
        let mut buf = std::mem::take(&mut self.subject_buf);
        let transformed = self
            .transform
            .as_ref()
            .is_some_and(|t| t.apply_into(subject, &mut buf).is_ok());
        let stored_subject: &[u8] = if transformed { &buf } else { subject };
        let result =
            self.store_checked(stored_subject, hdrs, payload, now, ttl, msg_id, rollup, out);
        self.subject_buf = buf;
        result
    }

    /// The second half of [`Stream::accept`]: the checks passed, store.
    #[allow(clippy::too_many_arguments)]
    fn store_checked(
        &mut self,
        stored_subject: &[u8],
        hdrs: &[u8],
        payload: &[u8],
        now: i64,
        ttl: i64,
        msg_id: Option<&str>,
        rollup: Option<bool>,
        out: &mut Vec<Msg>,
    ) -> Result<Ack, ApiError> {
        let seq = self
            .store
            .append(stored_subject, hdrs, payload, now, ttl.max(0))
            .map_err(store_failed)?;
        if let Some(id) = msg_id {
            self.dedupe.insert(id.to_string(), (seq, now));
            self.dedupe_order.push_back((now, id.to_string()));
            self.last_msg_id.clear();
            self.last_msg_id.push_str(id);
        }
        if let Some(all) = rollup {
            let purge = Purge {
                filter: (!all).then(|| String::from_utf8_lossy(stored_subject).into_owned()),
                seq: Some(seq),
                keep: None,
            };
            self.store.purge(&purge).map_err(store_failed)?;
        }
        self.enforce_limits(Some(stored_subject), now)
            .map_err(store_failed)?;
        if let Some((t, headers_only)) = &self.republish
            && t.matches(stored_subject)
        {
            out.push(self.republished(t, *headers_only, stored_subject, hdrs, payload, seq, now));
        }
        if self.config.retention == Retention::Interest {
            // No consumer is interested yet (consumers come with part 2):
            // the message is acknowledged and not kept.
            self.store.remove(seq, false).map_err(store_failed)?;
        }
        Ok(Ack {
            seq,
            duplicate: false,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn republished(
        &self,
        t: &SubjectTransform,
        headers_only: bool,
        subject: &[u8],
        hdrs: &[u8],
        payload: &[u8],
        seq: u64,
        now: i64,
    ) -> Msg {
        let mut dest = Vec::new();
        t.transform_into(subject, &mut dest);
        let subject_text = String::from_utf8_lossy(subject);
        let last = self.store.state().last_seq.saturating_sub(1).to_string();
        let mut block = headers::Builder::new(None)
            .add_all(hdrs)
            .add(headers::STREAM, &self.config.name)
            .add(headers::SUBJECT, &subject_text)
            .add(headers::SEQUENCE, &seq.to_string())
            .add(headers::TIME_STAMP, &go_time(now))
            .add(headers::LAST_SEQUENCE, &last);
        if headers_only {
            block = block.add("Nats-Msg-Size", &payload.len().to_string());
        }
        let block = block.finish();
        Msg {
            subject: dest.into(),
            reply: None,
            headers: Some(block.into()),
            payload: if headers_only {
                Bytes::new()
            } else {
                Bytes::copy_from_slice(payload)
            },
            publisher: 0,
        }
    }

    /// Discard-old limits and work-queue/limits retention after a store or
    /// an update; `subject` is the subject just stored, if any.
    fn enforce_limits(&mut self, subject: Option<&[u8]>, now: i64) -> Result<(), StoreError> {
        let config = &self.config;
        let (max_msgs, max_bytes, per_subject) = (
            config.max_msgs,
            config.max_bytes,
            config.max_msgs_per_subject,
        );
        if per_subject > 0 {
            match subject {
                Some(subject) => {
                    while let Some(info) = self.store.subject_info(subject)
                        && info.msgs as i64 > per_subject
                    {
                        self.store.remove(info.first_seq, false)?;
                    }
                }
                None => {
                    for (subject, count) in self.store.subjects(">") {
                        if count as i64 > per_subject {
                            let purge = Purge {
                                filter: Some(String::from_utf8_lossy(&subject).into_owned()),
                                keep: Some(per_subject as u64),
                                seq: None,
                            };
                            self.store.purge(&purge)?;
                        }
                    }
                }
            }
        }
        while max_msgs > 0 && self.store.state().msgs as i64 > max_msgs {
            let first = self.store.state().first_seq;
            self.store.remove(first, false)?;
        }
        while max_bytes > 0 && self.store.state().bytes as i64 > max_bytes {
            let first = self.store.state().first_seq;
            if !self.store.remove(first, false)? {
                break;
            }
        }
        // With delete markers, ageing out is the housekeeping's (markers are
        // publishes of their own, not made from inside one); so it is where
        // messages may live forever (`Nats-TTL: never`), which the ageing
        // walks past.
        if self.config.max_age > 0
            && self.config.subject_delete_marker_ttl == 0
            && !self.config.allow_msg_ttl
        {
            self.store.expire_before(now - self.config.max_age)?;
        }
        Ok(())
    }

    /// A message of the stream this one mirrors: stored under its origin's
    /// sequence (a gap before it skipped) and time, with no publish rule
    /// but the limits. One already held is ignored.
    pub fn store_mirrored(&mut self, m: &StoredMsg, out: &mut Vec<Msg>) -> Result<(), ApiError> {
        let state = self.store.state();
        if m.seq <= state.last_seq {
            return Ok(());
        }
        if m.seq > state.last_seq + 1 {
            if state.msgs == 0 {
                let skip = Purge {
                    filter: None,
                    seq: Some(m.seq),
                    keep: None,
                };
                self.store.purge(&skip).map_err(store_failed)?;
            } else {
                // Deleted on the origin: held here as deleted too.
                for _ in state.last_seq + 1..m.seq {
                    let seq = self
                        .store
                        .append(b"_rnats.skipped", b"", b"", m.time, 0)
                        .map_err(store_failed)?;
                    self.store.remove(seq, false).map_err(store_failed)?;
                }
            }
        }
        self.store_checked(
            &m.subject, &m.headers, &m.payload, m.time, 0, None, None, out,
        )?;
        Ok(())
    }

    /// A message of a stream this one sources, through the publish rules:
    /// its expectations and any earlier `Nats-Stream-Source` dropped, and
    /// a `Nats-Stream-Source` naming where it comes from (`origin` is the
    /// source's index name: stream, filter, destination).
    pub fn accept_sourced(
        &mut self,
        m: &StoredMsg,
        subject: &[u8],
        index_name: &str,
        now: i64,
        out: &mut Vec<Msg>,
    ) -> Result<Ack, ApiError> {
        let (stream, filter, destination) = index_parts(index_name);
        let source = format!(
            "{stream} {} {filter} {destination} {}",
            m.seq,
            String::from_utf8_lossy(&m.subject)
        );
        let hdrs = headers::Builder::new(None)
            .add_all_but(&m.headers, |k| {
                k != headers::STREAM_SOURCE && !k.starts_with("Nats-Expected-")
            })
            .add(headers::STREAM_SOURCE, &source)
            .finish();
        self.accept(subject, &hdrs, &m.payload, now, out)
    }

    /// Where this stream left off in the source with `index_name`: the
    /// origin sequence of the last message it took from there (from the
    /// `Nats-Stream-Source` headers, newest first), 0 when none.
    pub fn sourced_up_to(&mut self, index_name: &str) -> u64 {
        let state = self.store.state();
        let mut seq = state.last_seq;
        let (stream, filter, destination) = index_parts(index_name);
        while seq >= state.first_seq && seq > 0 {
            if let Ok(m) = self.store.get(seq)
                && let Some(source) = headers::get(&m.headers, headers::STREAM_SOURCE)
            {
                let fields: Vec<&str> = source.split(' ').collect();
                if fields.len() >= 4
                    && fields[0] == stream
                    && fields[2] == filter
                    && fields[3] == destination
                {
                    return fields[1].parse().unwrap_or(0);
                }
            }
            seq -= 1;
        }
        0
    }

    /// Hands what was stored since the last flush to the store's files;
    /// called before the batch is acknowledged.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.store.flush()
    }

    pub fn sync_to_disk(&mut self) -> Result<(), StoreError> {
        self.store.sync_to_disk()
    }

    /// Removes what `max_age` and per-message TTLs say is gone by `now`;
    /// returns when to look again (ns since the epoch), if ever.
    pub fn expire(&mut self, now: i64) -> Result<Option<i64>, StoreError> {
        let mut by_age = None;
        if self.config.max_age > 0 {
            if self.config.subject_delete_marker_ttl > 0 {
                by_age = self.expire_with_markers(now)?;
            } else if self.config.allow_msg_ttl {
                by_age = self.expire_sparing_the_immortal(now)?;
            } else {
                self.store.expire_before(now - self.config.max_age)?;
                let state = self.store.state();
                by_age = (state.msgs > 0).then(|| state.first_time + self.config.max_age);
            }
        }
        self.store.expire_ttls(now)?;
        self.store.flush()?;
        let by_ttl = self.store.next_ttl_expiry();
        Ok(match (by_age, by_ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Calls `each`, oldest first, with every message `max_age` has aged
    /// out by `now` but those that live forever (`Nats-TTL: never`, kept
    /// however old, as on nats-server). Returns when the oldest message
    /// still young will age out, if any.
    fn aged_out(&mut self, now: i64, mut each: impl FnMut(StoredMsg)) -> Option<i64> {
        let cutoff = now - self.config.max_age;
        let mut seq = self.store.state().first_seq;
        while let Ok(m) = self.store.next_matching(seq, ">") {
            if m.time >= cutoff {
                return Some(m.time + self.config.max_age);
            }
            seq = m.seq + 1;
            if !lives_forever(&m.headers) {
                each(m);
            }
        }
        None
    }

    /// `max_age` with `subject_delete_marker_ttl`: a subject whose last
    /// message ages out is not left without a trace; a marker takes its
    /// place (`Nats-Marker-Reason: MaxAge`, its own `Nats-TTL`, and a
    /// subject rollup that removes what is older), stored like any publish.
    /// Returns when the oldest message that may still age out will.
    fn expire_with_markers(&mut self, now: i64) -> Result<Option<i64>, StoreError> {
        let mut old = Vec::new();
        let next = self.aged_out(now, |m| {
            let marker = headers::get(&m.headers, headers::MARKER_REASON).is_some();
            old.push((m.seq, m.subject, marker));
        });
        let ttl = std::time::Duration::from_nanos(self.config.subject_delete_marker_ttl as u64);
        let marker_headers = headers::Builder::new(None)
            .add(headers::MARKER_REASON, "MaxAge")
            .add(headers::TTL, &rnats_conf::format_duration(ttl))
            .add(headers::ROLLUP, "sub")
            .finish();
        let mut scratch = Vec::new();
        for (seq, subject, is_marker) in old {
            let last = self
                .store
                .subject_info(&subject)
                .is_some_and(|i| i.msgs == 1 && i.last_seq == seq);
            if last && !is_marker {
                if let Err(e) = self.accept(&subject, &marker_headers, b"", now, &mut scratch) {
                    tracing::warn!("JetStream: no delete marker on {subject:?}: {e}");
                    self.store.remove(seq, false)?;
                }
            } else {
                self.store.remove(seq, false)?;
            }
        }
        Ok(next)
    }

    /// `max_age` where a message may say `Nats-TTL: never`: the others
    /// older than the cutoff go. Returns when the oldest message that may
    /// still age out will.
    fn expire_sparing_the_immortal(&mut self, now: i64) -> Result<Option<i64>, StoreError> {
        let mut doomed = Vec::new();
        let next = self.aged_out(now, |m| doomed.push(m.seq));
        for seq in doomed {
            self.store.remove(seq, false)?;
        }
        Ok(next)
    }

    pub fn purge(&mut self, purge: &Purge) -> Result<u64, ApiError> {
        if self.config.sealed || self.config.deny_purge {
            return Err(ApiError::stream_purge_failed("stream purge not permitted"));
        }
        let purged = self
            .store
            .purge(purge)
            .map_err(|e| ApiError::stream_purge_failed(e.to_string()))?;
        self.store
            .flush()
            .map_err(|e| ApiError::stream_purge_failed(e.to_string()))?;
        Ok(purged)
    }

    pub fn delete_msg(&mut self, seq: u64, no_erase: bool) -> Result<(), ApiError> {
        if self.config.sealed {
            return Err(ApiError::stream_sealed());
        }
        if self.config.deny_delete {
            return Err(ApiError::stream_msg_delete_failed(
                "message delete not permitted",
            ));
        }
        let removed = self
            .store
            .remove(seq, !no_erase)
            .and_then(|removed| self.store.flush().map(|()| removed))
            .map_err(|e| ApiError::stream_msg_delete_failed(e.to_string()))?;
        if removed {
            Ok(())
        } else {
            Err(ApiError::sequence_not_found(seq))
        }
    }

    pub fn get(&mut self, seq: u64) -> Result<StoredMsg, StoreError> {
        self.store.get(seq)
    }

    pub fn next_matching(&mut self, start: u64, filter: &str) -> Result<StoredMsg, StoreError> {
        self.store.next_matching(start, filter)
    }

    pub fn last_matching(&mut self, filter: &str) -> Result<StoredMsg, StoreError> {
        self.store.last_matching(filter)
    }

    pub fn subjects(&mut self, filter: &str) -> Vec<(Bytes, u64)> {
        self.store.subjects(filter)
    }

    pub fn deleted(&mut self) -> Vec<u64> {
        self.store.deleted()
    }

    pub fn close(&mut self) -> Result<(), StoreError> {
        self.store.close()
    }

    /// Ends the stream and removes its messages.
    pub fn destroy(self) -> Result<(), StoreError> {
        self.store.destroy()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn stream(json: &str) -> Stream {
        let config: StreamConfig = serde_json::from_str(json).unwrap();
        let config = config.checked("test").unwrap();
        Stream::new(config, Box::new(MemoryStore::new()), 1)
    }

    fn publish(s: &mut Stream, subject: &str, hdrs: &str) -> Result<Ack, ApiError> {
        s.accept(
            subject.as_bytes(),
            hdrs.as_bytes(),
            b"x",
            10,
            &mut Vec::new(),
        )
    }

    #[test]
    fn dedupes_and_checks_expectations() {
        let mut s = stream(r#"{"name":"S","subjects":["a.*"]}"#);
        let id = "NATS/1.0\r\nNats-Msg-Id: 1\r\n\r\n";
        assert_eq!(
            publish(&mut s, "a.b", id).unwrap(),
            Ack {
                seq: 1,
                duplicate: false
            }
        );
        assert_eq!(
            publish(&mut s, "a.b", id).unwrap(),
            Ack {
                seq: 1,
                duplicate: true
            }
        );
        let e = publish(
            &mut s,
            "a.b",
            "NATS/1.0\r\nNats-Expected-Last-Sequence: 5\r\n\r\n",
        );
        assert_eq!(e.unwrap_err().description, "wrong last sequence: 1");
        let e = publish(
            &mut s,
            "a.c",
            "NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 1\r\n\r\n",
        );
        assert_eq!(e.unwrap_err().description, "wrong last sequence: 0");
        let e = publish(
            &mut s,
            "a.c",
            "NATS/1.0\r\nNats-Expected-Last-Msg-Id: 2\r\n\r\n",
        );
        assert_eq!(e.unwrap_err().description, "wrong last msg ID: 1");
        let e = publish(&mut s, "a.c", "NATS/1.0\r\nNats-Expected-Stream: T\r\n\r\n");
        assert_eq!(e.unwrap_err().err_code, 10060);
    }

    #[test]
    fn limits_discard_old_and_new() {
        let mut s = stream(r#"{"name":"S","max_msgs":2,"max_msgs_per_subject":1}"#);
        for _ in 0..3 {
            publish(&mut s, "S", "").unwrap();
        }
        assert_eq!((s.state().msgs, s.state().first_seq), (1, 3));
        let mut s = stream(r#"{"name":"S","max_msgs":2,"discard":"new"}"#);
        publish(&mut s, "S", "").unwrap();
        publish(&mut s, "S", "").unwrap();
        let e = publish(&mut s, "S", "").unwrap_err();
        assert_eq!(
            (e.err_code, e.description.as_str()),
            (10077, "maximum messages exceeded")
        );
    }

    #[test]
    fn rollups() {
        let mut s = stream(r#"{"name":"S","subjects":["k.*"],"allow_rollup_hdrs":true}"#);
        publish(&mut s, "k.a", "").unwrap();
        publish(&mut s, "k.b", "").unwrap();
        publish(&mut s, "k.a", "").unwrap();
        publish(&mut s, "k.a", "NATS/1.0\r\nNats-Rollup: sub\r\n\r\n").unwrap();
        assert_eq!(s.state().msgs, 2);
        publish(&mut s, "k.b", "NATS/1.0\r\nNats-Rollup: all\r\n\r\n").unwrap();
        assert_eq!((s.state().msgs, s.state().first_seq), (1, 5));
        let e = publish(&mut s, "k.b", "NATS/1.0\r\nNats-Rollup: x\r\n\r\n").unwrap_err();
        assert_eq!(e.description, "rollup value invalid: x");
    }

    #[test]
    fn aged_out_subjects_leave_a_delete_marker() {
        let mut s = stream(
            r#"{"name":"S","subjects":["k.*"],"max_age":1000000000,"allow_msg_ttl":true,
                "allow_rollup_hdrs":true,"subject_delete_marker_ttl":5000000000}"#,
        );
        for subject in ["k.a", "k.a", "k.b"] {
            publish(&mut s, subject, "").unwrap();
        }
        // Published at t=10; just over a second later all three are old.
        let next = s.expire(11 + 1_000_000_000).unwrap();
        let a = s.last_matching("k.a").unwrap();
        assert_eq!(a.seq, 4);
        assert_eq!(
            headers::get(&a.headers, headers::MARKER_REASON),
            Some("MaxAge")
        );
        assert_eq!(headers::get(&a.headers, headers::TTL), Some("5s"));
        assert_eq!(s.last_matching("k.b").unwrap().seq, 5);
        assert_eq!(s.state().msgs, 2);
        // The markers go when their own TTL runs out; no marker for a marker.
        assert!(next.is_some());
        s.expire(11 + 1_000_000_000 + 5_000_000_000).unwrap();
        assert_eq!(s.state().msgs, 0);
    }

    #[test]
    fn a_message_that_lives_forever_outlasts_max_age() {
        let mut s =
            stream(r#"{"name":"S","subjects":["k.*"],"max_age":1000000000,"allow_msg_ttl":true}"#);
        publish(&mut s, "k.a", "").unwrap();
        publish(&mut s, "k.b", "NATS/1.0\r\nNats-TTL: never\r\n\r\n").unwrap();
        publish(&mut s, "k.c", "").unwrap();
        // Past max_age, all are old: the immortal one stays, and nothing is
        // left to age out (no busy wake-ups for it).
        let next = s.expire(11 + 1_000_000_000).unwrap();
        assert_eq!((s.state().msgs, s.state().first_seq), (1, 2));
        assert_eq!(next, None);
        // With delete markers too.
        let mut s = stream(
            r#"{"name":"S","subjects":["k.*"],"max_age":1000000000,"allow_msg_ttl":true,
                "allow_rollup_hdrs":true,"subject_delete_marker_ttl":5000000000}"#,
        );
        publish(&mut s, "k.b", "NATS/1.0\r\nNats-TTL: never\r\n\r\n").unwrap();
        s.expire(11 + 1_000_000_000).unwrap();
        assert_eq!(s.last_matching("k.b").unwrap().seq, 1);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_ttl("1m30s"), Some(90));
        assert_eq!(parse_ttl("2"), Some(2));
        assert_eq!(parse_ttl("never"), Some(-1));
        assert_eq!(parse_ttl("500ms"), None);
        assert_eq!(parse_ttl("x"), None);
    }
}

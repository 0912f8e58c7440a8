//! The JetStream API: requests on `$JS.API.>` (and `$JS.<domain>.API.>`)
//! in each account where JetStream is enabled, answered with nats-server's
//! JSON.
//!
//! One task per account takes its requests in order ([`serve`]); each is
//! routed by its subject to a handler that returns the answer. A request
//! without a reply subject gets no answer (nats-server's behaviour).
//!
//! **Owns**: request parsing, the answers' JSON, the API counters.
//! **May not touch**: stores (it goes through [`Stream`]).

pub mod errors;
pub mod types;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;
use tracing::debug;

use crate::advisory;
use crate::engine::{Engine, JsAccount, StreamHandle, lock};
use crate::headers;
use crate::host::{Host, Msg, Subscription};
use crate::store::{Purge, StoreError, StoredMsg};
use crate::stream::config::Storage;
use crate::stream::{Stream, StreamConfig};
use crate::time::{go_time, now_nanos};
use errors::ApiError;
use types::*;

/// `STREAM.NAMES` and `STREAM.LIST` page sizes.
const NAMES_LIMIT: usize = 1024;
const LIST_LIMIT: usize = 256;
/// Subjects `STREAM.INFO` lists at most.
const MAX_SUBJECT_DETAILS: usize = 100_000;

/// An answer: a JSON body, or a message with headers (direct gets).
pub(crate) struct Answer {
    headers: Option<Vec<u8>>,
    payload: Vec<u8>,
    /// Counted in the account's API errors.
    error: bool,
    /// Counted in the account's API requests at all (nats-server leaves
    /// out direct gets and messages got successfully).
    counted: bool,
}

fn json<T: Serialize>(value: &T, error: bool) -> Answer {
    Answer {
        headers: None,
        payload: serde_json::to_vec(value).unwrap_or_default(),
        error,
        counted: true,
    }
}

fn status(code: u16, text: &str) -> Answer {
    Answer {
        headers: Some(headers::Builder::new(Some((code, text))).finish()),
        payload: Vec::new(),
        error: false,
        counted: false,
    }
}

/// Answers the account's API requests until the subscription ends.
pub(crate) async fn serve<H: Host>(
    engine: Arc<Engine<H>>,
    acc: Arc<JsAccount<H>>,
    mut requests: H::Subscription,
    prefix: String,
) {
    while let Some(request) = requests.recv().await {
        let Some(reply) = request.reply.clone() else {
            continue;
        };
        let Some(rest) = request.subject.strip_prefix(prefix.as_bytes()) else {
            continue;
        };
        let rest = String::from_utf8_lossy(rest).into_owned();
        // A bug in one handler must not end the account's API: the
        // request goes unanswered and is logged.
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle(&engine, &acc, &rest, &request)
        }));
        let answers = match handled {
            Ok(Some(answers)) => answers,
            Ok(None) => continue,
            Err(_) => {
                tracing::error!(
                    "JetStream API: the request on {rest:?} failed (a bug: please report it)"
                );
                continue;
            }
        };
        // nats-server audits every request answered with JSON, not the
        // direct gets' messages.
        let audited = !rest.starts_with("DIRECT.")
            && engine.host.has_interest(&acc.account, advisory::API_AUDIT);
        for answer in answers {
            if answer.counted {
                acc.api_total.fetch_add(1, Ordering::Relaxed);
            }
            if answer.error {
                acc.api_errors.fetch_add(1, Ordering::Relaxed);
            }
            if audited {
                audit(&engine, &acc, &request, &answer.payload);
            }
            let msg = Msg {
                subject: reply.clone(),
                reply: None,
                headers: answer.headers.map(Bytes::from),
                payload: Bytes::from(answer.payload),
                publisher: 0,
            };
            if let Err(e) = engine.host.publish(&acc.account, msg) {
                debug!("JetStream API: could not answer: {e}");
            }
        }
    }
}

/// `$JS.EVENT.ADVISORY.API`: the request, who sent it, and the answer.
fn audit<H: Host>(engine: &Engine<H>, acc: &JsAccount<H>, request: &Msg, response: &[u8]) {
    let body = advisory::api_audit(
        &engine.server.name,
        engine.host.client_info(request.publisher),
        &String::from_utf8_lossy(&request.subject),
        &request.payload,
        response,
        engine.config.domain.as_deref(),
    );
    let msg = Msg::new(advisory::API_AUDIT, body);
    if let Err(e) = engine.host.publish(&acc.account, msg) {
        debug!("JetStream API: no audit advisory: {e}");
    }
}

/// Reads a request's JSON as Go's `encoding/json` does: a `null` leaves a
/// field at its zero value (clients send `null` for unset fields).
///
/// `strict` (the `jetstream { strict }` setting, on by default as in
/// nats-server) refuses a field the request type does not have, with Go's
/// words for it.
pub(crate) fn go_json<T: serde::de::DeserializeOwned>(
    payload: &[u8],
    strict: bool,
) -> Result<T, ApiError> {
    fn strip_nulls(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(strip_nulls);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
            _ => {}
        }
    }
    let mut value: serde_json::Value = serde_json::from_slice(payload).map_err(|e| {
        if e.is_eof() {
            // Go's decoder's words for a document cut short.
            ApiError::invalid_json("unexpected EOF")
        } else {
            ApiError::invalid_json(e)
        }
    })?;
    strip_nulls(&mut value);
    if !strict {
        return serde_json::from_value(value).map_err(ApiError::invalid_json);
    }
    let mut unknown = None;
    let decoded = serde_ignored::deserialize(value, |path| {
        if unknown.is_none()
            && let serde_ignored::Path::Map { key, .. } = path
            && !NOT_MODELLED.contains(&key.as_str())
        {
            unknown = Some(key);
        }
    })
    .map_err(ApiError::invalid_json)?;
    match unknown {
        Some(field) => Err(ApiError::invalid_json(format!(
            "json: unknown field {field:?}"
        ))),
        None => Ok(decoded),
    }
}

/// Fields nats-server's requests have that rnats does not act on yet: not
/// unknown, so a strict server takes them (and ignores them).
const NOT_MODELLED: &[&str] = &[
    "template_owner",
    "allow_msg_counter",
    "allow_atomic",
    "allow_msg_schedules",
    "persist_mode",
    "pedantic",
];

/// Nothing, or a JSON object with no keys (nats-server's `isEmptyRequest`).
fn is_empty_request(payload: &[u8]) -> bool {
    payload.is_empty()
        || serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(payload)
            .is_ok_and(|m| m.is_empty())
}

/// Answers every `$JS.API` request of an account without JetStream (on a
/// server with JetStream) with nats-server's "not enabled for account".
pub(crate) async fn refuse<H: Host>(
    engine: Arc<Engine<H>>,
    account: H::Account,
    mut requests: H::Subscription,
) {
    while let Some(request) = requests.recv().await {
        let Some(reply) = request.reply else {
            continue;
        };
        let answer = Head {
            kind: response_type(&request.subject),
            error: Some(ApiError::not_enabled_for_account()),
        };
        let payload = serde_json::to_vec(&answer).unwrap_or_default();
        if let Err(e) = engine
            .host
            .publish(&account, Msg::new(reply, Bytes::from(payload)))
        {
            debug!("JetStream API: could not answer: {e}");
        }
    }
}

/// The response type of the request on `subject` (`$JS.API.<what>`).
fn response_type(subject: &[u8]) -> &'static str {
    let what = subject.strip_prefix(b"$JS.API.").unwrap_or(subject);
    let table: [(&[u8], &'static str); 10] = [
        (b"INFO", ACCOUNT_INFO),
        (b"STREAM.CREATE.", STREAM_CREATE),
        (b"STREAM.UPDATE.", STREAM_UPDATE),
        (b"STREAM.DELETE.", STREAM_DELETE),
        (b"STREAM.INFO.", STREAM_INFO),
        (b"STREAM.NAMES", STREAM_NAMES),
        (b"STREAM.LIST", STREAM_LIST),
        (b"STREAM.PURGE.", STREAM_PURGE),
        (b"STREAM.MSG.GET.", STREAM_MSG_GET),
        (b"STREAM.MSG.DELETE.", STREAM_MSG_DELETE),
    ];
    table
        .iter()
        .find(|(prefix, _)| what.starts_with(prefix))
        .map_or(ERROR_RESPONSE, |(_, kind)| kind)
}

/// A request body, or the defaults when there is none.
fn body<T: serde::de::DeserializeOwned + Default>(
    payload: &[u8],
    strict: bool,
) -> Result<T, ApiError> {
    if payload.iter().all(u8::is_ascii_whitespace) || payload.trim_ascii() == b"null" {
        return Ok(T::default());
    }
    go_json(payload, strict)
}

fn handle<H: Host>(
    engine: &Arc<Engine<H>>,
    acc: &Arc<JsAccount<H>>,
    subject: &str,
    request: &Msg,
) -> Option<Vec<Answer>> {
    let payload = &request.payload[..];
    let (verb, name) = match subject.split_once('.') {
        Some(("STREAM", rest)) => match rest.split_once('.') {
            Some(("MSG", rest)) => match rest.split_once('.') {
                Some((op, name)) => (format!("STREAM.MSG.{op}"), name),
                None => return None,
            },
            Some((op, name)) => (format!("STREAM.{op}"), name),
            None => (format!("STREAM.{rest}"), ""),
        },
        Some(("DIRECT", rest)) => {
            let (_, rest) = rest.split_once('.')?;
            return direct_get(acc, rest, request);
        }
        _ => (subject.to_string(), ""),
    };
    Some(vec![match verb.as_str() {
        "INFO" => account_info(engine, acc),
        "STREAM.CREATE" => create(engine, acc, name, payload),
        "STREAM.UPDATE" => update(engine, acc, name, payload),
        "STREAM.DELETE" if !is_empty_request(payload) => {
            success(STREAM_DELETE, Err(ApiError::not_empty_request()))
        }
        "STREAM.DELETE" => delete(engine, acc, name),
        "STREAM.INFO" => info(engine, acc, name, payload),
        "STREAM.NAMES" => names(engine, acc, payload),
        "STREAM.LIST" => list(engine, acc, payload),
        "STREAM.PURGE" => purge(engine, acc, name, payload),
        "STREAM.MSG.GET" => msg_get(engine, acc, name, payload),
        "STREAM.MSG.DELETE" => msg_delete(engine, acc, name, payload),
        _ => return None,
    }])
}

fn account_info<H: Host>(engine: &Engine<H>, acc: &JsAccount<H>) -> Answer {
    let streams = lock(&acc.streams);
    let (mut reserved_memory, mut reserved_storage) = (0u64, 0u64);
    for handle in streams.values() {
        let max_bytes = lock(&handle.stream).config().max_bytes;
        if max_bytes > 0 {
            match handle.storage {
                Storage::Memory => reserved_memory += max_bytes as u64,
                Storage::File => reserved_storage += max_bytes as u64,
            }
        }
    }
    let l = acc.limits();
    json(
        &AccountInfo {
            head: Head::ok(ACCOUNT_INFO),
            memory: acc.memory_used.load(Ordering::Relaxed),
            storage: acc.store_used.load(Ordering::Relaxed),
            reserved_memory,
            reserved_storage,
            streams: streams.len(),
            consumers: 0,
            limits: Limits {
                max_memory: l.max_memory,
                max_storage: l.max_store,
                max_streams: l.max_streams,
                max_consumers: l.max_consumers,
                max_ack_pending: l.max_ack_pending,
                memory_max_stream_bytes: l.memory_max_stream_bytes,
                storage_max_stream_bytes: l.storage_max_stream_bytes,
                max_bytes_required: l.max_bytes_required,
            },
            domain: engine.config.domain.clone(),
            api: ApiStats {
                level: crate::API_LEVEL,
                total: acc.api_total.load(Ordering::Relaxed),
                errors: acc.api_errors.load(Ordering::Relaxed),
            },
        },
        false,
    )
}

/// A stream's state as the API reports it (without subject or deleted
/// details).
pub(crate) fn state_of(stream: &mut Stream) -> types::StreamState {
    let s = stream.state();
    types::StreamState {
        messages: s.msgs,
        bytes: s.bytes,
        first_seq: s.first_seq,
        first_ts: go_time(s.first_time),
        last_seq: s.last_seq,
        last_ts: go_time(s.last_time),
        num_subjects: s.num_subjects,
        subjects: None,
        num_deleted: s.num_deleted,
        deleted: None,
        consumer_count: 0,
    }
}

/// A stream's info as the API reports it.
fn stream_info_of<H: Host>(
    engine: &Engine<H>,
    stream: &mut Stream,
    request: &StreamInfoRequest,
    cluster: bool,
) -> Result<StreamInfo, ApiError> {
    let s = stream.state();
    let subjects = if request.subjects_filter.is_empty() {
        None
    } else {
        let all = stream.subjects(&request.subjects_filter);
        if all.len() > MAX_SUBJECT_DETAILS {
            return Err(ApiError::stream_info_max_subjects());
        }
        Some(
            all.into_iter()
                .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    let deleted = (request.deleted_details && s.num_deleted > 0).then(|| stream.deleted());
    let state = types::StreamState {
        subjects,
        deleted,
        ..state_of(stream)
    };
    Ok(StreamInfo {
        config: stream.config().clone(),
        created: go_time(stream.created),
        state,
        cluster: cluster.then(|| ClusterInfo {
            name: None,
            leader: engine.server.name.clone(),
        }),
        ts: go_time(now_nanos()),
        mirror: None,
        sources: Vec::new(),
    })
}

/// A stream's info, with what its mirror or sources report.
fn stream_info<H: Host>(
    engine: &Engine<H>,
    handle: &StreamHandle,
    request: &StreamInfoRequest,
    cluster: bool,
) -> Result<StreamInfo, ApiError> {
    let info = stream_info_of(engine, &mut lock(&handle.stream), request, cluster)?;
    Ok(with_sources(info, handle))
}

fn with_sources(mut info: StreamInfo, handle: &StreamHandle) -> StreamInfo {
    let report = |s: &crate::sourcing::SourceState| types::StreamSourceInfo {
        name: s.source.name.clone(),
        lag: s.lag,
        active: s.active.map_or(-1, |t| {
            i64::try_from(t.elapsed().as_nanos()).unwrap_or(i64::MAX)
        }),
        error: s.error.clone(),
        filter_subject: s.source.filter_subject.clone(),
        subject_transforms: s.source.subject_transforms.clone(),
    };
    let states = lock(&handle.sources);
    if info.config.mirror.is_some() {
        info.mirror = states.first().map(report);
    } else {
        info.sources = states.iter().map(report).collect();
    }
    info
}

fn find<H: Host>(acc: &JsAccount<H>, name: &str) -> Result<Arc<StreamHandle>, ApiError> {
    lock(&acc.streams)
        .get(name)
        .cloned()
        .ok_or_else(ApiError::stream_not_found)
}

/// The configuration in a create or update request, checked.
fn requested_config<H: Host>(
    engine: &Engine<H>,
    name: &str,
    payload: &[u8],
) -> Result<StreamConfig, ApiError> {
    if payload.is_empty() {
        return Err(ApiError::invalid_json("unexpected end of JSON input"));
    }
    let mut config: StreamConfig = go_json(payload, engine.config.strict)?;
    if config.name.is_empty() {
        config.name = name.to_string();
    }
    if config.name != name {
        return Err(ApiError::stream_mismatch());
    }
    config.checked(&engine.server.version)
}

/// Another stream of the account already takes one of these subjects.
fn overlaps<H: Host>(acc: &JsAccount<H>, config: &StreamConfig) -> bool {
    lock(&acc.streams).values().any(|handle| {
        handle.name != config.name && {
            let other = lock(&handle.stream);
            other.config().subjects.iter().any(|a| {
                config
                    .subjects
                    .iter()
                    .any(|b| rnats_proto::subject::subjects_collide(a.as_bytes(), b.as_bytes()))
            })
        }
    })
}

fn check_account_limits<H: Host>(
    engine: &Engine<H>,
    acc: &JsAccount<H>,
    config: &StreamConfig,
    existing: Option<&StreamConfig>,
) -> Result<(), ApiError> {
    let l = acc.limits();
    if existing.is_none() && l.max_streams > 0 && lock(&acc.streams).len() as i64 >= l.max_streams {
        return Err(ApiError::maximum_streams_limit());
    }
    if l.max_bytes_required && config.max_bytes <= 0 {
        return Err(ApiError::stream_max_bytes_required());
    }
    let per_stream = match config.storage {
        Storage::Memory => l.memory_max_stream_bytes,
        Storage::File => l.storage_max_stream_bytes,
    };
    if per_stream > 0 && config.max_bytes > per_stream {
        return Err(ApiError::stream_max_stream_bytes_exceeded());
    }
    if config.max_bytes > 0 {
        let reserved: i64 = lock(&acc.streams)
            .values()
            .filter(|h| h.name != config.name && h.storage == config.storage)
            .map(|h| lock(&h.stream).config().max_bytes.max(0))
            .sum();
        let (account_max, server_max) = match config.storage {
            Storage::Memory => (l.max_memory, engine.max_memory),
            Storage::File => (l.max_store, engine.max_store),
        };
        let wanted = reserved + config.max_bytes;
        let over_account = account_max >= 0 && wanted > account_max;
        if over_account || wanted as u64 > server_max {
            return Err(match config.storage {
                Storage::Memory => ApiError::memory_resources_exceeded(),
                Storage::File => ApiError::storage_resources_exceeded(),
            });
        }
    }
    Ok(())
}

/// A create or update request refused.
fn config_refused(kind: &'static str, error: ApiError) -> Answer {
    json(
        &StreamCreateResponse {
            head: Head {
                kind,
                error: Some(error),
            },
            info: None,
            did_create: false,
        },
        true,
    )
}

fn create<H: Host>(
    engine: &Arc<Engine<H>>,
    acc: &Arc<JsAccount<H>>,
    name: &str,
    payload: &[u8],
) -> Answer {
    let failed = |error| config_refused(STREAM_CREATE, error);
    let mut config = match requested_config(engine, name, payload) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    // A mirror serves direct gets when its origin does (nats-server).
    if let Some(mirror) = &config.mirror
        && let Ok(origin) = find(acc, &mirror.name)
    {
        config.mirror_direct = lock(&origin.stream).config().allow_direct;
    }
    if let Ok(existing) = find(acc, name) {
        let mut stream = lock(&existing.stream);
        if !stream.config().same_as(&config) {
            return failed(ApiError::stream_name_exist());
        }
        let info = stream_info_of(engine, &mut stream, &StreamInfoRequest::default(), false);
        drop(stream);
        return match info.map(|i| with_sources(i, &existing)) {
            Ok(info) => json(
                &StreamCreateResponse {
                    head: Head::ok(STREAM_CREATE),
                    info: Some(info),
                    // nats-server says so for an identical stream too.
                    did_create: true,
                },
                false,
            ),
            Err(e) => failed(e),
        };
    }
    if overlaps(acc, &config) {
        return failed(ApiError::stream_subject_overlap());
    }
    if let Err(e) = check_account_limits(engine, acc, &config, None) {
        return failed(e);
    }
    let created = now_nanos();
    let dir = (config.storage == Storage::File).then(|| engine.streams_dir(&acc.name).join(name));
    let store = match engine.open_store(&acc.name, &config, dir.as_ref()) {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    if let Some(dir) = &dir
        && let Err(e) = engine.write_meta(&acc.name, dir, &config, created)
    {
        return failed(e);
    }
    let mut stream = Stream::new(config.clone(), store, created);
    if config.first_seq > 1 {
        let purge = Purge {
            seq: Some(config.first_seq),
            ..Purge::default()
        };
        if let Err(e) = stream.purge(&purge) {
            return failed(e);
        }
    }
    let handle = match engine.launch(acc, stream, dir) {
        Ok(h) => h,
        Err(e) => return failed(e),
    };
    let info = stream_info(engine, &handle, &StreamInfoRequest::default(), false);
    lock(&acc.streams).insert(name.to_string(), handle);
    engine.advise(acc, name, crate::advisory::Action::Create);
    match info {
        Ok(info) => json(
            &StreamCreateResponse {
                head: Head::ok(STREAM_CREATE),
                info: Some(info),
                did_create: true,
            },
            false,
        ),
        Err(e) => failed(e),
    }
}

fn update<H: Host>(
    engine: &Arc<Engine<H>>,
    acc: &Arc<JsAccount<H>>,
    name: &str,
    payload: &[u8],
) -> Answer {
    let failed = |error| config_refused(STREAM_UPDATE, error);
    let config = match requested_config(engine, name, payload) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let handle = match find(acc, name) {
        Ok(h) => h,
        Err(e) => return failed(e),
    };
    let old = lock(&handle.stream).config().clone();
    if let Err(e) = old.check_update(&config) {
        return failed(e);
    }
    if overlaps(acc, &config) {
        return failed(ApiError::stream_subject_overlap());
    }
    if let Err(e) = check_account_limits(engine, acc, &config, Some(&old)) {
        return failed(e);
    }
    let created = {
        let mut stream = lock(&handle.stream);
        if let Err(e) = stream.update(config.clone(), now_nanos()) {
            return failed(e);
        }
        stream.created
    };
    if let Some(dir) = &handle.dir
        && let Err(e) = engine.write_meta(&acc.name, dir, &config, created)
    {
        return failed(ApiError::stream_update(e.description));
    }
    if old.subjects != config.subjects
        && let Err(e) = engine.subscribe_stream(acc, &handle)
    {
        return failed(ApiError::stream_update(e.description));
    }
    if old.sources != config.sources {
        engine.follow_sources(acc, &handle);
    }
    engine.count_usage(acc, &handle);
    handle.wake.notify_one();
    engine.advise(acc, name, crate::advisory::Action::Modify);
    let info = stream_info(engine, &handle, &StreamInfoRequest::default(), false);
    match info {
        Ok(info) => json(
            &StreamCreateResponse {
                head: Head::ok(STREAM_UPDATE),
                info: Some(info),
                did_create: false,
            },
            false,
        ),
        Err(e) => failed(e),
    }
}

fn success(kind: &'static str, result: Result<(), ApiError>) -> Answer {
    let error = result.err();
    let failed = error.is_some();
    json(
        &SuccessResponse {
            success: !failed,
            head: Head { kind, error },
        },
        failed,
    )
}

fn delete<H: Host>(engine: &Engine<H>, acc: &JsAccount<H>, name: &str) -> Answer {
    let Some(handle) = lock(&acc.streams).remove(name) else {
        return success(STREAM_DELETE, Err(ApiError::stream_not_found()));
    };
    handle.abort_tasks();
    engine.set_counted(acc, &handle, 0);
    let dir = handle.dir.clone();
    let stream = {
        let mut guard = lock(&handle.stream);
        // Leave an empty placeholder behind the handle (tasks are gone).
        let placeholder = Stream::new(
            guard.config().clone(),
            Box::new(crate::store::memory::MemoryStore::new()),
            0,
        );
        std::mem::replace(&mut *guard, placeholder)
    };
    let result = stream
        .destroy()
        .map_err(|e| ApiError::stream_delete(e.to_string()));
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    engine.advise(acc, name, crate::advisory::Action::Delete);
    success(STREAM_DELETE, result)
}

fn info<H: Host>(engine: &Engine<H>, acc: &JsAccount<H>, name: &str, payload: &[u8]) -> Answer {
    let failed = |error: ApiError| {
        json(
            &StreamInfoResponse {
                head: Head {
                    kind: STREAM_INFO,
                    error: Some(error),
                },
                paged: Paged::default(),
                info: None,
            },
            true,
        )
    };
    let request: StreamInfoRequest = match body(payload, engine.config.strict) {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let handle = match find(acc, name) {
        Ok(h) => h,
        Err(e) => return failed(e),
    };
    let info = stream_info(engine, &handle, &request, true);
    match info {
        Ok(info) => {
            let total = info.state.subjects.as_ref().map_or(0, BTreeMap::len);
            json(
                &StreamInfoResponse {
                    head: Head::ok(STREAM_INFO),
                    paged: Paged {
                        total,
                        offset: 0,
                        limit: if total > 0 { MAX_SUBJECT_DETAILS } else { 0 },
                    },
                    info: Some(info),
                },
                false,
            )
        }
        Err(e) => failed(e),
    }
}

fn names<H: Host>(engine: &Engine<H>, acc: &JsAccount<H>, payload: &[u8]) -> Answer {
    let request: NamesRequest = match body(payload, engine.config.strict) {
        Ok(r) => r,
        Err(e) => {
            return json(
                &NamesResponse {
                    head: Head {
                        kind: STREAM_NAMES,
                        error: Some(e),
                    },
                    paged: Paged::default(),
                    streams: Vec::new(),
                },
                true,
            );
        }
    };
    let streams = lock(&acc.streams);
    let all: Vec<String> = streams
        .iter()
        .filter(|(_, h)| {
            request.subject.is_empty()
                || lock(&h.stream).config().subjects.iter().any(|s| {
                    rnats_proto::subject::subjects_collide(s.as_bytes(), request.subject.as_bytes())
                })
        })
        .map(|(name, _)| name.clone())
        .collect();
    let total = all.len();
    let page = all
        .into_iter()
        .skip(request.offset)
        .take(NAMES_LIMIT)
        .collect();
    json(
        &NamesResponse {
            head: Head::ok(STREAM_NAMES),
            paged: Paged {
                total,
                offset: request.offset,
                limit: NAMES_LIMIT,
            },
            streams: page,
        },
        false,
    )
}

fn list<H: Host>(engine: &Engine<H>, acc: &JsAccount<H>, payload: &[u8]) -> Answer {
    let request: PagedRequest = match body(payload, engine.config.strict) {
        Ok(r) => r,
        Err(e) => {
            return json(
                &ListResponse {
                    head: Head {
                        kind: STREAM_LIST,
                        error: Some(e),
                    },
                    paged: Paged::default(),
                    streams: Vec::new(),
                },
                true,
            );
        }
    };
    let handles: Vec<Arc<StreamHandle>> = lock(&acc.streams).values().cloned().collect();
    let total = handles.len();
    let streams = handles
        .iter()
        .skip(request.offset)
        .take(LIST_LIMIT)
        .filter_map(|h| stream_info(engine, h, &StreamInfoRequest::default(), false).ok())
        .collect();
    json(
        &ListResponse {
            head: Head::ok(STREAM_LIST),
            paged: Paged {
                total,
                offset: request.offset,
                limit: LIST_LIMIT,
            },
            streams,
        },
        false,
    )
}

fn purge<H: Host>(engine: &Engine<H>, acc: &JsAccount<H>, name: &str, payload: &[u8]) -> Answer {
    let answer = |result: Result<u64, ApiError>| {
        let failed = result.is_err();
        let (purged, error) = match result {
            Ok(n) => (n, None),
            Err(e) => (0, Some(e)),
        };
        json(
            &PurgeResponse {
                head: Head {
                    kind: STREAM_PURGE,
                    error,
                },
                success: !failed,
                purged,
            },
            failed,
        )
    };
    let request: PurgeRequest = match body(payload, engine.config.strict) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    if request.seq > 0 && request.keep > 0 {
        return answer(Err(ApiError::bad_request()));
    }
    let handle = match find(acc, name) {
        Ok(h) => h,
        Err(e) => return answer(Err(e)),
    };
    let purge = Purge {
        filter: (!request.filter.is_empty()).then_some(request.filter),
        seq: (request.seq > 0).then_some(request.seq),
        keep: (request.keep > 0).then_some(request.keep),
    };
    let result = lock(&handle.stream).purge(&purge);
    engine.count_usage(acc, &handle);
    answer(result)
}

fn msg_delete<H: Host>(
    engine: &Engine<H>,
    acc: &JsAccount<H>,
    name: &str,
    payload: &[u8],
) -> Answer {
    let result = body::<MsgDeleteRequest>(payload, engine.config.strict).and_then(|request| {
        let handle = find(acc, name)?;
        if request.seq == 0 {
            return Err(ApiError::bad_request());
        }
        let result = lock(&handle.stream).delete_msg(request.seq, request.no_erase);
        engine.count_usage(acc, &handle);
        result
    });
    let not_found = matches!(&result, Err(e) if e.err_code == 10043);
    let mut answer = success(STREAM_MSG_DELETE, result);
    // nats-server answers a missing sequence without counting an error.
    answer.error &= !not_found;
    answer
}

/// The message a get request names, by its one key.
fn lookup(stream: &mut Stream, request: &MsgGetRequest) -> Result<StoredMsg, StoreError> {
    if !request.next_by_subj.is_empty() {
        stream.next_matching(request.seq, &request.next_by_subj)
    } else if !request.last_by_subj.is_empty() {
        stream.last_matching(&request.last_by_subj)
    } else {
        stream.get(request.seq)
    }
}

fn msg_get<H: Host>(engine: &Engine<H>, acc: &JsAccount<H>, name: &str, payload: &[u8]) -> Answer {
    let result = body::<MsgGetRequest>(payload, engine.config.strict).and_then(|request| {
        let handle = find(acc, name)?;
        let keys = [
            request.seq > 0 && request.next_by_subj.is_empty(),
            !request.last_by_subj.is_empty(),
            !request.next_by_subj.is_empty(),
        ];
        if keys.iter().filter(|k| **k).count() != 1 {
            return Err(ApiError::bad_request());
        }
        let found = lookup(&mut lock(&handle.stream), &request);
        found.map_err(|e| match e {
            StoreError::NotFound => ApiError::no_message_found(),
            other => ApiError::stream_general(other.to_string()),
        })
    });
    let b64 = base64::engine::general_purpose::STANDARD;
    match result {
        Ok(m) => Answer {
            counted: false,
            ..json(
                &MsgGetResponse {
                    head: Head::ok(STREAM_MSG_GET),
                    message: Some(StoredMessage {
                        subject: String::from_utf8_lossy(&m.subject).into_owned(),
                        seq: m.seq,
                        hdrs: (!m.headers.is_empty()).then(|| b64.encode(&m.headers)),
                        data: (!m.payload.is_empty()).then(|| b64.encode(&m.payload)),
                        time: go_time(m.time),
                    }),
                },
                false,
            )
        },
        Err(e) => json(
            &MsgGetResponse {
                head: Head {
                    kind: STREAM_MSG_GET,
                    error: Some(e),
                },
                message: None,
            },
            true,
        ),
    }
}

/// `$JS.API.DIRECT.GET.<stream>` (a JSON request) and
/// `$JS.API.DIRECT.GET.<stream>.<subject>` (the last message on a subject):
/// the message itself with `Nats-*` headers, or a status. A request with
/// `batch` or `multi_last` gets several messages, each with
/// `Nats-Num-Pending` and `Nats-Last-Sequence`, then a `204 EOB` status.
fn direct_get<H: Host>(acc: &JsAccount<H>, rest: &str, request: &Msg) -> Option<Vec<Answer>> {
    let (name, last_for) = match rest.split_once('.') {
        Some((name, subject)) => (name, Some(subject)),
        None => (rest, None),
    };
    let handle = lock(&acc.streams).get(name).cloned()?;
    let mut stream = lock(&handle.stream);
    if !stream.config().allow_direct {
        return None;
    }
    let one = |answer| Some(vec![answer]);
    let mut req = MsgGetRequest::default();
    match last_for {
        Some(subject) => req.last_by_subj = subject.to_string(),
        None => {
            if request.payload.is_empty() {
                return one(status(408, "Empty Request"));
            }
            req = match go_json(&request.payload, false) {
                Ok(r) => r,
                Err(_) => return one(status(408, "Malformed Request")),
            };
            let nothing = req.seq == 0
                && req.last_by_subj.is_empty()
                && req.next_by_subj.is_empty()
                && req.multi_last.is_empty()
                && req.start_time.is_none();
            if nothing {
                return one(status(408, "Empty Request"));
            }
            let last = !req.last_by_subj.is_empty();
            let next = !req.next_by_subj.is_empty();
            let multi = !req.multi_last.is_empty();
            let by_seq = req.seq > 0;
            let by_time = req.start_time.is_some();
            // nats-server's combinations that make no sense together.
            let conflicting = (last && (by_seq || by_time || next || multi || req.batch > 0))
                || (by_seq && by_time)
                || (next && multi)
                || (req.up_to_seq > 0 && req.up_to_time.is_some());
            if conflicting {
                return one(status(408, "Bad Request"));
            }
        }
    }
    let name = stream.name().to_string();
    let answer = |m: &StoredMsg, batch: Option<(u64, u64)>| {
        let subject = String::from_utf8_lossy(&m.subject);
        let mut block = headers::Builder::new(None)
            .add_all(&m.headers)
            .add(headers::STREAM, &name)
            .add(headers::SUBJECT, &subject)
            .add(headers::SEQUENCE, &m.seq.to_string())
            .add(headers::TIME_STAMP, &go_time(m.time));
        if let Some((pending, last)) = batch {
            block = block
                .add(headers::NUM_PENDING, &pending.to_string())
                .add(headers::LAST_SEQUENCE, &last.to_string());
        }
        Answer {
            headers: Some(block.finish()),
            payload: m.payload.to_vec(),
            error: false,
            counted: false,
        }
    };
    let eob = |pending: u64, last: u64, up_to: Option<u64>| Answer {
        headers: Some({
            let mut block = headers::Builder::new(Some((204, "EOB")))
                .add(headers::NUM_PENDING, &pending.to_string())
                .add(headers::LAST_SEQUENCE, &last.to_string());
            if let Some(up_to) = up_to {
                block = block.add(headers::UP_TO_SEQUENCE, &up_to.to_string());
            }
            block.finish()
        }),
        payload: Vec::new(),
        error: false,
        counted: false,
    };
    let up_to = match (&req.up_to_time, req.up_to_seq) {
        (Some(t), _) => {
            let t = crate::time::parse_time(t).unwrap_or(i64::MAX);
            Some(last_seq_before(&mut stream, t))
        }
        (None, 0) => None,
        (None, n) => Some(n),
    };
    let max_bytes = if req.max_bytes > 0 {
        req.max_bytes
    } else {
        usize::MAX
    };
    if !req.multi_last.is_empty() {
        let mut found: Vec<StoredMsg> = Vec::new();
        for filter in &req.multi_last {
            for (subject, _) in stream.subjects(filter) {
                let subject = String::from_utf8_lossy(&subject).into_owned();
                if let Some(m) = last_at_or_before(&mut stream, &subject, up_to) {
                    found.push(m);
                }
            }
        }
        found.sort_by_key(|m| m.seq);
        found.dedup_by_key(|m| m.seq);
        if found.is_empty() {
            return one(status(404, "Message Not Found"));
        }
        let limit = if req.batch > 0 {
            req.batch
        } else {
            found.len()
        };
        let mut out = Vec::new();
        let mut last = 0;
        let mut pending = found.len() as u64;
        let mut sent = 0;
        for m in found.iter().take(limit) {
            pending -= 1;
            out.push(answer(m, Some((pending, last))));
            last = m.seq;
            sent += m.subject.len() + m.headers.len() + m.payload.len();
            if sent >= max_bytes {
                break;
            }
        }
        let up_to = up_to.unwrap_or(stream.state().last_seq);
        out.push(eob(pending, last, Some(up_to)));
        return Some(out);
    }
    let mut seq = match &req.start_time {
        Some(t) => first_seq_at_or_after(&mut stream, crate::time::parse_time(t).unwrap_or(0)),
        None => req.seq,
    };
    let is_batch = req.batch > 0;
    let batch = req.batch.max(1);
    let filter = if req.next_by_subj.is_empty() {
        ">"
    } else {
        req.next_by_subj.as_str()
    };
    // `up_to_seq` and `up_to_time` bound multi-last gets only.
    let mut pending = if is_batch {
        count_from(&mut stream, seq, filter, None)
    } else {
        0
    };
    let mut out = Vec::new();
    let mut last = 0;
    let mut sent = 0;
    for i in 0..batch {
        let found = if seq > 0 && req.next_by_subj.is_empty() && i == 0 && !is_batch {
            stream.get(seq)
        } else if seq > 0 || !req.next_by_subj.is_empty() {
            stream.next_matching(seq, filter)
        } else {
            stream.last_matching(&req.last_by_subj)
        };
        let Ok(m) = found else {
            if i > 0 {
                break;
            }
            return one(status(404, "Message Not Found"));
        };
        seq = m.seq + 1;
        pending = pending.saturating_sub(1);
        out.push(answer(&m, is_batch.then_some((pending, last))));
        last = m.seq;
        sent += m.subject.len() + m.headers.len() + m.payload.len();
        if sent >= max_bytes || !req.last_by_subj.is_empty() {
            break;
        }
    }
    if is_batch {
        out.push(eob(pending, last, None));
    }
    Some(out)
}

/// Messages at or after `start` matching `filter` (up to `up_to`).
fn count_from(stream: &mut Stream, start: u64, filter: &str, up_to: Option<u64>) -> u64 {
    let state = stream.state();
    if up_to.is_none() && start <= state.first_seq {
        return if filter == ">" {
            state.msgs
        } else {
            stream.subjects(filter).iter().map(|(_, n)| n).sum()
        };
    }
    let mut count = 0;
    let mut seq = start;
    while let Ok(m) = stream.next_matching(seq, filter) {
        if up_to.is_some_and(|u| m.seq > u) {
            break;
        }
        count += 1;
        seq = m.seq + 1;
    }
    count
}

/// The first sequence stored at or after `time` (ns), or past the end.
fn first_seq_at_or_after(stream: &mut Stream, time: i64) -> u64 {
    let mut seq = stream.state().first_seq;
    while let Ok(m) = stream.next_matching(seq, ">") {
        if m.time >= time {
            return m.seq;
        }
        seq = m.seq + 1;
    }
    seq
}

/// The last sequence stored at or before `time` (ns).
fn last_seq_before(stream: &mut Stream, time: i64) -> u64 {
    let first = first_seq_at_or_after(stream, time.saturating_add(1));
    first.saturating_sub(1)
}

/// The last message on `subject` at or before `up_to`.
fn last_at_or_before(stream: &mut Stream, subject: &str, up_to: Option<u64>) -> Option<StoredMsg> {
    let last = stream.last_matching(subject).ok()?;
    let Some(up_to) = up_to else {
        return Some(last);
    };
    if last.seq <= up_to {
        return Some(last);
    }
    let mut best = None;
    let mut seq = 0;
    while let Ok(m) = stream.next_matching(seq, subject) {
        if m.seq > up_to {
            break;
        }
        seq = m.seq + 1;
        best = Some(m);
    }
    best
}

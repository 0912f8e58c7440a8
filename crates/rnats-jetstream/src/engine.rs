//! The running JetStream: its accounts, their streams, and the tasks that
//! feed each stream the messages of its subjects.
//!
//! Each stream has one ingest task per subject: it takes the messages
//! waiting in its subscription in one batch, stores them under the
//! stream's lock, flushes the store once, and only then publishes the
//! PubAcks, so an acknowledged message is in the store's files (and
//! survives the process being killed). A housekeeping task per stream
//! expires messages (`max_age`, per-message TTLs) and syncs the files
//! every `sync_interval`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::api::errors::ApiError;
use crate::api::types::PubAck;
use crate::config::{AccountLimits, JetStreamConfig};
use crate::host::{Host, Msg, Subscription};
use crate::sourcing::SourceState;
use crate::store::Store;
use crate::store::StoreError;
use crate::store::file::{self, Encryption, FileStore, FileStoreConfig};
use crate::store::memory::MemoryStore;
use crate::stream::config::{Compression, Retention, Storage};
use crate::stream::{Stream, StreamConfig};
use crate::time::{go_time, now_nanos, parse_time};

/// Messages one ingest task takes from its subscription at once.
const MAX_BATCH: usize = 256;
/// Messages that may wait for a stream's ingest task before the server
/// drops them (the publisher then gets no PubAck and retries).
const INGEST_PENDING: usize = 512 * 1024;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Who this server is, for the API's answers.
#[derive(Debug, Clone)]
pub struct ServerMeta {
    pub name: String,
    pub id: String,
    /// The nats-server version it is compatible with (`_nats.ver`).
    pub version: String,
}

pub(crate) struct Engine<H: Host> {
    pub host: H,
    pub config: JetStreamConfig,
    pub server: ServerMeta,
    pub accounts: Mutex<BTreeMap<String, Arc<JsAccount<H>>>>,
    /// Accounts without JetStream whose requests are answered with
    /// "not enabled for account": the task answering them.
    pub refused: Mutex<BTreeMap<String, JoinHandle<()>>>,
    /// Bytes held by memory and by file streams, server-wide.
    pub memory_used: AtomicU64,
    pub store_used: AtomicU64,
    pub max_memory: u64,
    pub max_store: u64,
}

pub(crate) struct JsAccount<H: Host> {
    pub name: String,
    pub account: H::Account,
    /// Replaced when the account's limits change (a JWT update).
    pub limits: Mutex<AccountLimits>,
    pub streams: Mutex<BTreeMap<String, Arc<StreamHandle>>>,
    pub memory_used: AtomicU64,
    pub store_used: AtomicU64,
    pub api_total: AtomicU64,
    pub api_errors: AtomicU64,
    pub tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl<H: Host> JsAccount<H> {
    pub fn limits(&self) -> AccountLimits {
        *lock(&self.limits)
    }

    /// Stops serving it: its API and its streams' tasks end, and its
    /// streams are flushed and closed (their files stay).
    pub fn stop(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        for handle in std::mem::take(&mut *lock(&self.streams)).into_values() {
            handle.abort_tasks();
            let mut stream = lock(&handle.stream);
            if let Err(e) = stream.flush().and_then(|()| stream.close()) {
                tracing::error!("JetStream: closing stream '{}': {e}", handle.name);
            }
        }
    }
}

pub(crate) struct StreamHandle {
    pub stream: Mutex<Stream>,
    pub name: String,
    pub storage: Storage,
    /// Where a file stream keeps its files.
    pub dir: Option<PathBuf>,
    /// Its bytes as last counted into the account's and server's usage.
    pub counted_bytes: AtomicU64,
    pub tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Wakes the housekeeping task when expiry times may have moved.
    pub wake: Notify,
    /// Told after each stored batch: wakes the streams that mirror or
    /// source this one ([`crate::sourcing`]).
    pub appended: Notify,
    /// Its mirror (alone) or sources, as followed now.
    pub sources: Mutex<Vec<SourceState>>,
    /// The tasks following them.
    pub following: Mutex<Vec<JoinHandle<()>>>,
}

impl StreamHandle {
    pub fn abort_tasks(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        for task in lock(&self.following).drain(..) {
            task.abort();
        }
    }
}

/// What `meta.inf` holds: the stream's creation time and configuration.
#[derive(Serialize, Deserialize)]
struct Meta {
    /// nats-server writes `Created`.
    #[serde(alias = "Created", default)]
    created: String,
    #[serde(flatten)]
    config: StreamConfig,
}

impl<H: Host> Engine<H> {
    pub fn streams_dir(&self, account: &str) -> PathBuf {
        self.config
            .store_dir
            .join("jetstream")
            .join(account)
            .join("streams")
    }

    /// Encryption at rest for the streams of `account`, when configured.
    pub fn encryption(&self, account: &str) -> Option<Encryption> {
        let cipher = self.config.encryption_cipher()?;
        let key = self.config.key.as_deref()?;
        Some(Encryption::new(cipher, key, account))
    }

    /// Opens the store for a stream of `account` (creating it when new).
    pub fn open_store(
        &self,
        account: &str,
        config: &StreamConfig,
        dir: Option<&PathBuf>,
    ) -> Result<Box<dyn Store>, ApiError> {
        match (config.storage, dir) {
            (Storage::File, Some(dir)) => {
                let encryption = self.encryption(account);
                let block_size = file::block_size_for(
                    config.retention == Retention::Limits,
                    config.max_bytes,
                    encryption.is_some(),
                );
                let store_config = FileStoreConfig {
                    name: config.name.clone(),
                    block_size,
                    sync_always: self.config.sync_always,
                    encryption,
                    compress: config.compression == Compression::S2,
                };
                let store = FileStore::open(dir, store_config)
                    .map_err(|e| ApiError::stream_create(e.to_string()))?;
                Ok(Box::new(store))
            }
            _ => Ok(Box::new(MemoryStore::new())),
        }
    }

    pub fn write_meta(
        &self,
        account: &str,
        dir: &std::path::Path,
        config: &StreamConfig,
        created: i64,
    ) -> Result<(), ApiError> {
        let meta = Meta {
            created: go_time(created),
            config: config.clone(),
        };
        let json = serde_json::to_vec(&meta).map_err(|e| ApiError::stream_create(e.to_string()))?;
        file::write_meta(dir, &json, self.encryption(account).as_ref())
            .map_err(|e| ApiError::stream_create(e.to_string()))
    }

    /// Starts a stream: its subscriptions and housekeeping.
    pub fn launch(
        self: &Arc<Self>,
        acc: &Arc<JsAccount<H>>,
        stream: Stream,
        dir: Option<PathBuf>,
    ) -> Result<Arc<StreamHandle>, ApiError> {
        let handle = Arc::new(StreamHandle {
            name: stream.name().to_string(),
            storage: stream.config().storage,
            counted_bytes: AtomicU64::new(0),
            stream: Mutex::new(stream),
            dir,
            tasks: Mutex::new(Vec::new()),
            wake: Notify::new(),
            appended: Notify::new(),
            sources: Mutex::new(Vec::new()),
            following: Mutex::new(Vec::new()),
        });
        self.count_usage(acc, &handle);
        self.subscribe_stream(acc, &handle)?;
        let housekeeping = tokio::spawn(housekeeping(self.clone(), acc.clone(), handle.clone()));
        lock(&handle.tasks).push(housekeeping);
        self.follow_sources(acc, &handle);
        Ok(handle)
    }

    /// (Re)starts following the stream's mirror or sources.
    pub fn follow_sources(self: &Arc<Self>, acc: &Arc<JsAccount<H>>, handle: &Arc<StreamHandle>) {
        for task in lock(&handle.following).drain(..) {
            task.abort();
        }
        let (mirror, sources) = {
            let stream = lock(&handle.stream);
            let config = stream.config();
            (
                config.mirror.clone(),
                config.sources.clone().unwrap_or_default(),
            )
        };
        let is_mirror = mirror.is_some();
        let all: Vec<_> = mirror.into_iter().chain(sources).collect();
        *lock(&handle.sources) = all.iter().cloned().map(SourceState::new).collect();
        let mut following = lock(&handle.following);
        for slot in 0..all.len() {
            following.push(tokio::spawn(crate::sourcing::follow(
                self.clone(),
                acc.clone(),
                handle.clone(),
                slot,
                is_mirror,
            )));
        }
    }

    /// (Re)subscribes a stream's subjects, ending earlier ingest tasks.
    pub fn subscribe_stream(
        self: &Arc<Self>,
        acc: &Arc<JsAccount<H>>,
        handle: &Arc<StreamHandle>,
    ) -> Result<(), ApiError> {
        let subjects = lock(&handle.stream).config().subjects.clone();
        let mut tasks = lock(&handle.tasks);
        // Housekeeping is the first task; ingest tasks follow it.
        let keep = tasks.len().min(1);
        for task in tasks.drain(keep..) {
            task.abort();
        }
        for subject in subjects {
            let sub = self
                .host
                .subscribe(&acc.account, &subject, None, INGEST_PENDING)
                .map_err(|e| ApiError::stream_create(e.to_string()))?;
            tasks.push(tokio::spawn(ingest(
                self.clone(),
                acc.clone(),
                handle.clone(),
                sub,
            )));
        }
        Ok(())
    }

    /// Brings the account's and the server's usage up to date with the
    /// stream's bytes.
    pub fn count_usage(&self, acc: &JsAccount<H>, handle: &StreamHandle) {
        let now = lock(&handle.stream).state().bytes;
        self.set_counted(acc, handle, now);
    }

    pub fn set_counted(&self, acc: &JsAccount<H>, handle: &StreamHandle, now: u64) {
        let before = handle.counted_bytes.swap(now, Ordering::Relaxed);
        let (account, server) = match handle.storage {
            Storage::Memory => (&acc.memory_used, &self.memory_used),
            Storage::File => (&acc.store_used, &self.store_used),
        };
        if now >= before {
            account.fetch_add(now - before, Ordering::Relaxed);
            server.fetch_add(now - before, Ordering::Relaxed);
        } else {
            account.fetch_sub(before - now, Ordering::Relaxed);
            server.fetch_sub(before - now, Ordering::Relaxed);
        }
    }

    /// The account stopped: its bytes no longer count in the server's.
    pub fn forget_usage(&self, acc: &JsAccount<H>) {
        let memory = acc.memory_used.swap(0, Ordering::Relaxed);
        let store = acc.store_used.swap(0, Ordering::Relaxed);
        self.memory_used.fetch_sub(memory, Ordering::Relaxed);
        self.store_used.fetch_sub(store, Ordering::Relaxed);
    }

    /// Why a stream of this account and storage can take no more now.
    fn over_limits(&self, acc: &JsAccount<H>, storage: Storage) -> Option<ApiError> {
        let (account_used, account_max, server_used, server_max) = match storage {
            Storage::Memory => (
                &acc.memory_used,
                acc.limits().max_memory,
                &self.memory_used,
                self.max_memory,
            ),
            Storage::File => (
                &acc.store_used,
                acc.limits().max_store,
                &self.store_used,
                self.max_store,
            ),
        };
        if account_max >= 0 && account_used.load(Ordering::Relaxed) >= account_max as u64 {
            return Some(ApiError::account_resources_exceeded());
        }
        if server_used.load(Ordering::Relaxed) >= server_max {
            return Some(ApiError::insufficient_resources());
        }
        None
    }

    /// Publishes a stream action advisory in the account.
    pub fn advise(&self, acc: &JsAccount<H>, stream: &str, action: crate::advisory::Action) {
        let (subject, body) =
            crate::advisory::stream_action(stream, action, self.config.domain.as_deref());
        if let Err(e) = self
            .host
            .publish(&acc.account, Msg::new(subject, Bytes::from(body)))
        {
            debug!("JetStream: could not publish an advisory: {e}");
        }
    }

    /// Reopens the account's streams from `store_dir`.
    pub fn restore(self: &Arc<Self>, acc: &Arc<JsAccount<H>>) {
        let dir = self.streams_dir(&acc.name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let encryption = self.encryption(&acc.name);
            let dir_name = entry.file_name().to_string_lossy().into_owned();
            let (meta, sealed) = match file::read_meta(&path, encryption.as_ref()) {
                Ok(m) => m,
                Err(StoreError::Encryption(e)) => {
                    // nats-server's words, and the stream's name; never the key.
                    warn!(
                        "  Error decrypting our stream metafile: {e} (stream '{} > {dir_name}' not started)",
                        acc.name
                    );
                    continue;
                }
                Err(e) => {
                    warn!("JetStream: no stream metadata in {}: {e}", path.display());
                    continue;
                }
            };
            let meta: Meta = match serde_json::from_slice(&meta) {
                Ok(m) => m,
                Err(e) => {
                    error!(
                        "JetStream: cannot read stream metadata in {}: {e}",
                        path.display()
                    );
                    continue;
                }
            };
            let created = parse_time(&meta.created).unwrap_or(0);
            let name = meta.config.name.clone();
            let store = match self.open_store(&acc.name, &meta.config, Some(&path)) {
                Ok(s) => s,
                Err(e) => {
                    error!("JetStream: cannot open stream '{} > {name}': {e}", acc.name);
                    continue;
                }
            };
            if encryption.is_some()
                && !sealed
                && let Err(e) = self.write_meta(&acc.name, &path, &meta.config, created)
            {
                warn!(
                    "JetStream: could not encrypt the metafile of stream '{} > {name}': {}",
                    acc.name, e.description
                );
            }
            let stream = Stream::new(meta.config, store, created);
            let state = stream.state();
            match self.launch(acc, stream, Some(path)) {
                Ok(handle) => {
                    info!(
                        "  Restored {} messages for stream '{} > {name}'",
                        state.msgs, acc.name
                    );
                    lock(&acc.streams).insert(name, handle);
                }
                Err(e) => error!(
                    "JetStream: cannot start stream '{} > {name}': {e}",
                    acc.name
                ),
            }
        }
    }
}

async fn ingest<H: Host>(
    engine: Arc<Engine<H>>,
    acc: Arc<JsAccount<H>>,
    handle: Arc<StreamHandle>,
    mut sub: H::Subscription,
) {
    let mut batch: Vec<Msg> = Vec::with_capacity(64);
    let mut outcomes = Vec::with_capacity(64);
    let mut republish = Vec::new();
    let domain = engine.config.domain.clone();
    // A PubAck is `{"stream":..,"seq":N[,"domain":..][,"duplicate":true]}`:
    // everything but the number is the same for every message of this
    // stream, so it is written once.
    let head = format!(
        "{{\"stream\":{},\"seq\":",
        serde_json::to_string(&handle.name).unwrap_or_default()
    );
    let tail = match &domain {
        Some(d) => format!(
            ",\"domain\":{}",
            serde_json::to_string(d).unwrap_or_default()
        ),
        None => String::new(),
    };
    while let Some(first) = sub.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match sub.try_recv() {
                Some(m) => batch.push(m),
                None => break,
            }
        }
        let (no_ack, wake, bytes) = {
            let mut stream = lock(&handle.stream);
            let now = now_nanos();
            let was_empty = stream.state().msgs == 0;
            let over = engine.over_limits(&acc, handle.storage);
            for msg in &batch {
                let outcome = match &over {
                    Some(e) => Err(e.clone()),
                    None => stream.accept(
                        &msg.subject,
                        msg.headers.as_deref().unwrap_or(&[]),
                        &msg.payload,
                        now,
                        &mut republish,
                    ),
                };
                outcomes.push(outcome);
            }
            if let Err(e) = stream.flush() {
                warn!(
                    "JetStream: stream '{} > {}' could not store: {e}",
                    acc.name, handle.name
                );
                let refusal = match e {
                    crate::store::StoreError::InsufficientResources => {
                        ApiError::insufficient_resources()
                    }
                    other => ApiError::stream_store_failed(other.to_string()),
                };
                for outcome in outcomes.iter_mut() {
                    if outcome.as_ref().is_ok_and(|a| !a.duplicate) {
                        *outcome = Err(refusal.clone());
                    }
                }
                republish.clear();
                stream.reset_dedupe();
            }
            let config = stream.config();
            let wake = (config.max_age > 0 && was_empty) || config.allow_msg_ttl;
            (config.no_ack, wake, stream.state().bytes)
        };
        engine.set_counted(&acc, &handle, bytes);
        handle.appended.notify_waiters();
        if wake {
            handle.wake.notify_one();
        }
        for (msg, outcome) in batch.drain(..).zip(outcomes.drain(..)) {
            let Some(reply) = msg.reply.filter(|_| !no_ack) else {
                continue;
            };
            let json = match outcome {
                Ok(ack) => {
                    let mut json = Vec::with_capacity(head.len() + tail.len() + 40);
                    json.extend_from_slice(head.as_bytes());
                    json.extend_from_slice(itoa::Buffer::new().format(ack.seq).as_bytes());
                    json.extend_from_slice(tail.as_bytes());
                    if ack.duplicate {
                        json.extend_from_slice(b",\"duplicate\":true");
                    }
                    json.push(b'}');
                    json
                }
                Err(error) => serde_json::to_vec(&PubAck {
                    error: Some(error),
                    stream: &handle.name,
                    seq: 0,
                    domain: None,
                    duplicate: false,
                })
                .unwrap_or_default(),
            };
            if let Err(e) = engine
                .host
                .publish(&acc.account, Msg::new(reply, Bytes::from(json)))
            {
                debug!("JetStream: could not send a PubAck: {e}");
            }
        }
        for msg in republish.drain(..) {
            if let Err(e) = engine.host.publish(&acc.account, msg) {
                debug!("JetStream: could not republish: {e}");
            }
        }
    }
}

async fn housekeeping<H: Host>(
    engine: Arc<Engine<H>>,
    acc: Arc<JsAccount<H>>,
    handle: Arc<StreamHandle>,
) {
    let sync_every = engine.config.sync_interval;
    let mut next_sync = tokio::time::Instant::now() + sync_every;
    loop {
        let woken = handle.wake.notified();
        let next_expiry = {
            let mut stream = lock(&handle.stream);
            let next = match stream.expire(now_nanos()) {
                Ok(next) => next,
                Err(e) => {
                    warn!("JetStream: expiring messages of '{}': {e}", handle.name);
                    None
                }
            };
            if tokio::time::Instant::now() >= next_sync {
                if let Err(e) = stream.sync_to_disk() {
                    warn!("JetStream: syncing '{}' to disk: {e}", handle.name);
                }
                next_sync = tokio::time::Instant::now() + sync_every;
            }
            let bytes = stream.state().bytes;
            drop(stream);
            engine.set_counted(&acc, &handle, bytes);
            next
        };
        let mut deadline = next_sync;
        if let Some(at) = next_expiry {
            let wait = at.saturating_sub(now_nanos()).max(0) as u64;
            let at = tokio::time::Instant::now() + std::time::Duration::from_nanos(wait);
            deadline = deadline.min(at);
        }
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

//! JetStream for rnats: persistent streams on subjects.
//!
//! - [`host`]: the boundary with the server (find an account, subscribe,
//!   publish): JetStream reaches clients only through it.
//! - [`config`]: the server's and the accounts' JetStream settings.
//! - [`store`]: where a stream's messages are kept (memory or files).
//! - [`stream`]: a stream's configuration and its publish rules.
//! - [`api`]: the `$JS.API` requests and their JSON; [`advisory`]: the
//!   `$JS.EVENT.ADVISORY` events they cause.
//! - `engine`: the running streams and their tasks.
//!
//! Imports go one way: `store` knows nothing else; `stream` uses `store`;
//! `api` and `engine` use both; only `engine` and `api` know [`host`].

#![forbid(unsafe_code)]

pub mod advisory;
pub mod api;
pub mod config;
mod engine;
pub mod headers;
pub mod host;
mod sourcing;
pub mod store;
pub mod stream;
pub mod time;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::info;

pub use config::{AccountLimits, Cipher, JetStreamConfig};
pub use engine::ServerMeta;
use engine::{Engine, JsAccount, lock};
use host::Host;

/// The JetStream API level this implementation answers to (`_nats.level`,
/// `api.level`): the features of nats-server 2.11's level 1 that it has
/// (per-message TTLs) and none newer.
pub const API_LEVEL: u32 = 1;

/// A running JetStream. Dropping it does not stop it: call
/// [`JetStream::shutdown`].
pub struct JetStream<H: Host> {
    engine: Arc<Engine<H>>,
}

/// One account's JetStream, for monitoring (`/jsz?accounts=true`).
#[derive(Debug, Clone)]
pub struct AccountReport {
    pub name: String,
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub api_total: u64,
    pub api_errors: u64,
    pub streams: Vec<StreamReport>,
}

/// One stream, for monitoring.
#[derive(Debug, Clone)]
pub struct StreamReport {
    pub name: String,
    /// Nanoseconds since the epoch.
    pub created: i64,
    pub config: stream::StreamConfig,
    pub state: api::types::StreamState,
}

/// Usage numbers for monitoring (`/jsz`, `/varz`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: usize,
    pub streams: usize,
    pub consumers: usize,
    pub messages: u64,
    pub bytes: u64,
    pub api_total: u64,
    pub api_errors: u64,
    pub max_memory: u64,
    pub max_store: u64,
}

fn machine_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(4 << 30, |kb| kb * 1024)
}

impl<H: Host> JetStream<H> {
    /// Starts JetStream (inside a tokio runtime). Accounts are enabled one
    /// by one with [`JetStream::enable_account`].
    pub fn start(host: H, config: JetStreamConfig, server: ServerMeta) -> std::io::Result<Self> {
        let dir = config.store_dir.join("jetstream");
        std::fs::create_dir_all(&dir)?;
        let max_memory = match config.max_memory {
            m if m >= 0 => m as u64,
            _ => machine_memory() / 4 * 3,
        };
        let max_store = match config.max_store {
            m if m >= 0 => m as u64,
            _ => 1 << 40,
        };
        info!("Starting JetStream");
        info!("---------------- JETSTREAM ----------------");
        info!("  Strict:          {}", config.strict);
        info!("  Max Memory:      {}", human(max_memory));
        info!("  Max Storage:     {}", human(max_store));
        info!("  Store Directory: {:?}", dir.display().to_string());
        if let Some(cipher) = config.encryption_cipher() {
            info!(
                "  Encryption:      {}",
                match cipher {
                    config::Cipher::ChaCha => "ChaCha20-Poly1305",
                    config::Cipher::Aes => "AES-GCM",
                }
            );
        }
        if let Some(domain) = &config.domain {
            info!("  Domain:          {domain}");
        }
        info!("  API Level:       {API_LEVEL}");
        info!("-------------------------------------------");
        Ok(JetStream {
            engine: Arc::new(Engine {
                host,
                config,
                server,
                accounts: Mutex::new(BTreeMap::new()),
                refused: Mutex::new(BTreeMap::new()),
                memory_used: AtomicU64::new(0),
                store_used: AtomicU64::new(0),
                max_memory,
                max_store,
            }),
        })
    }

    /// Enables JetStream in an account: reopens its streams from the store
    /// directory and answers its `$JS.API` requests.
    pub fn enable_account(&self, name: &str, limits: AccountLimits) -> Result<(), String> {
        let engine = &self.engine;
        if let Some(acc) = lock(&engine.accounts).get(name) {
            // Enabled already: new limits (an account JWT update) hold
            // from the next message and request on; what is stored stays.
            *lock(&acc.limits) = limits;
            return Ok(());
        }
        if let Some(refusing) = lock(&engine.refused).remove(name) {
            refusing.abort();
        }
        let account = engine
            .host
            .account(name)
            .ok_or_else(|| format!("account {name:?} not found"))?;
        let acc = Arc::new(JsAccount {
            name: name.to_string(),
            account,
            limits: Mutex::new(limits),
            streams: Mutex::new(BTreeMap::new()),
            memory_used: AtomicU64::new(0),
            store_used: AtomicU64::new(0),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            tasks: Mutex::new(Vec::new()),
        });
        engine.restore(&acc);
        let mut prefixes = vec!["$JS.API.".to_string()];
        if let Some(domain) = &engine.config.domain {
            prefixes.push(format!("$JS.{domain}.API."));
        }
        for prefix in prefixes {
            let sub = engine
                .host
                .subscribe(&acc.account, &format!("{prefix}>"), None, 65_536)
                .map_err(|e| e.to_string())?;
            let task = tokio::spawn(api::serve(engine.clone(), acc.clone(), sub, prefix));
            lock(&acc.tasks).push(task);
        }
        lock(&engine.accounts).insert(name.to_string(), acc);
        Ok(())
    }

    /// Answers the `$JS.API` requests of an account that does not have
    /// JetStream with nats-server's "JetStream not enabled for account",
    /// until [`JetStream::enable_account`] enables it there.
    pub fn refuse_account(&self, name: &str) -> Result<(), String> {
        let engine = &self.engine;
        if lock(&engine.refused).contains_key(name) {
            return Ok(());
        }
        // Enabled until now (an account JWT update took JetStream away):
        // its streams stop, their files stay for when it comes back.
        let enabled = lock(&engine.accounts).remove(name);
        if let Some(acc) = enabled {
            tracing::info!("JetStream disabled for account '{name}'");
            acc.stop();
            engine.forget_usage(&acc);
        }
        let account = engine
            .host
            .account(name)
            .ok_or_else(|| format!("account {name:?} not found"))?;
        let sub = engine
            .host
            .subscribe(&account, "$JS.API.>", None, 1024)
            .map_err(|e| e.to_string())?;
        let task = tokio::spawn(api::refuse(engine.clone(), account, sub));
        lock(&engine.refused).insert(name.to_string(), task);
        Ok(())
    }

    /// Whether JetStream is enabled in `account`.
    pub fn is_enabled(&self, account: &str) -> bool {
        lock(&self.engine.accounts).contains_key(account)
    }

    pub fn config(&self) -> &JetStreamConfig {
        &self.engine.config
    }

    pub fn usage(&self) -> Usage {
        let engine = &self.engine;
        let accounts: Vec<_> = lock(&engine.accounts).values().cloned().collect();
        let mut usage = Usage {
            memory: engine.memory_used.load(Ordering::Relaxed),
            storage: engine.store_used.load(Ordering::Relaxed),
            accounts: accounts.len(),
            max_memory: engine.max_memory,
            max_store: engine.max_store,
            ..Usage::default()
        };
        for acc in accounts {
            usage.api_total += acc.api_total.load(Ordering::Relaxed);
            usage.api_errors += acc.api_errors.load(Ordering::Relaxed);
            for handle in lock(&acc.streams).values() {
                let stream = lock(&handle.stream);
                let state = stream.state();
                usage.streams += 1;
                usage.messages += state.msgs;
                usage.bytes += state.bytes;
                let reserve = stream.config().max_bytes.max(0) as u64;
                match handle.storage {
                    stream::config::Storage::Memory => usage.reserved_memory += reserve,
                    stream::config::Storage::File => usage.reserved_storage += reserve,
                }
            }
        }
        usage
    }

    /// Every account with JetStream (in name order), with its streams'
    /// reports when `streams`.
    pub fn account_reports(&self, streams: bool) -> Vec<AccountReport> {
        let accounts: Vec<_> = lock(&self.engine.accounts).values().cloned().collect();
        accounts
            .into_iter()
            .map(|acc| {
                let mut report = AccountReport {
                    name: acc.name.clone(),
                    memory: acc.memory_used.load(Ordering::Relaxed),
                    storage: acc.store_used.load(Ordering::Relaxed),
                    reserved_memory: 0,
                    reserved_storage: 0,
                    api_total: acc.api_total.load(Ordering::Relaxed),
                    api_errors: acc.api_errors.load(Ordering::Relaxed),
                    streams: Vec::new(),
                };
                for handle in lock(&acc.streams).values() {
                    let mut stream = lock(&handle.stream);
                    let reserve = stream.config().max_bytes.max(0) as u64;
                    match handle.storage {
                        stream::config::Storage::Memory => report.reserved_memory += reserve,
                        stream::config::Storage::File => report.reserved_storage += reserve,
                    }
                    if streams {
                        report.streams.push(StreamReport {
                            name: handle.name.clone(),
                            created: stream.created,
                            config: stream.config().clone(),
                            state: api::state_of(&mut stream),
                        });
                    }
                }
                report
            })
            .collect()
    }

    /// Stops every task and flushes and closes every store.
    pub fn shutdown(&self) {
        let accounts: Vec<_> = std::mem::take(&mut *lock(&self.engine.accounts))
            .into_values()
            .collect();
        for (_, task) in std::mem::take(&mut *lock(&self.engine.refused)) {
            task.abort();
        }
        for acc in accounts {
            acc.stop();
        }
    }
}

/// Bytes as nats-server logs them (`17.66 GB`).
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

//! JetStream's settings: the server's (`jetstream {}` in the config file,
//! `-js`, `-sd`) and each account's limits (`jetstream: enabled` or a
//! limits block in an account, or an account JWT's `limits`).
//!
//! Plain data: the server's config loader fills it, JetStream reads it.

use std::path::PathBuf;
use std::time::Duration;

/// `cipher` of encryption at rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    ChaCha,
    Aes,
}

impl Cipher {
    /// The other one (what a store written before a change of `cipher`
    /// is tried with).
    pub fn other(self) -> Cipher {
        match self {
            Cipher::ChaCha => Cipher::Aes,
            Cipher::Aes => Cipher::ChaCha,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// The directory under which `jetstream/` is kept (`store_dir`, `-sd`).
    pub store_dir: PathBuf,
    /// Bytes all memory streams may hold (`max_memory_store`); -1: 75% of
    /// the machine's memory, as nats-server.
    pub max_memory: i64,
    /// Bytes all file streams may hold (`max_file_store`); -1: as
    /// nats-server, 1 TB or what the disk has.
    pub max_store: i64,
    /// How often file stores are synced to disk (`sync_interval`).
    pub sync_interval: Duration,
    /// Sync every write (`sync_interval: always`).
    pub sync_always: bool,
    pub domain: Option<String>,
    /// Refuse API requests with unknown fields (`strict`, default true).
    pub strict: bool,
    pub unique_tag: Option<String>,
    pub compress_ok: bool,
    /// Encryption at rest: the cipher (`chachapoly` when only a key is
    /// given, as nats-server) and the key. The key is never shown (`Debug`
    /// prints `[REDACTED]`).
    pub cipher: Option<Cipher>,
    pub key: Option<String>,
    /// `limits {}`: server-wide caps on what accounts may configure.
    pub max_ack_pending: i64,
    pub max_ha_assets: i64,
    pub max_request_batch: i64,
    pub duplicate_window: Option<Duration>,
}

impl JetStreamConfig {
    /// The cipher in force: None without a key.
    pub fn encryption_cipher(&self) -> Option<Cipher> {
        self.key
            .as_deref()
            .is_some_and(|k| !k.is_empty())
            .then(|| self.cipher.unwrap_or(Cipher::ChaCha))
    }
}

impl std::fmt::Debug for JetStreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamConfig")
            .field("store_dir", &self.store_dir)
            .field("max_memory", &self.max_memory)
            .field("max_store", &self.max_store)
            .field("sync_interval", &self.sync_interval)
            .field("sync_always", &self.sync_always)
            .field("domain", &self.domain)
            .field("strict", &self.strict)
            .field("unique_tag", &self.unique_tag)
            .field("compress_ok", &self.compress_ok)
            .field("cipher", &self.cipher)
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("max_ack_pending", &self.max_ack_pending)
            .field("max_ha_assets", &self.max_ha_assets)
            .field("max_request_batch", &self.max_request_batch)
            .field("duplicate_window", &self.duplicate_window)
            .finish()
    }
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        JetStreamConfig {
            store_dir: std::env::temp_dir().join("nats"),
            max_memory: -1,
            max_store: -1,
            sync_interval: Duration::from_secs(120),
            sync_always: false,
            domain: None,
            strict: true,
            unique_tag: None,
            compress_ok: true,
            cipher: None,
            key: None,
            max_ack_pending: -1,
            max_ha_assets: -1,
            max_request_batch: -1,
            duplicate_window: None,
        }
    }
}

/// What one account may use. -1 is "no limit" for each number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    pub max_memory: i64,
    pub max_store: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            max_memory: -1,
            max_store: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

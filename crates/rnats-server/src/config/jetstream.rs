//! `jetstream` at the top level (`enabled`, `true`, or a block with
//! `store_dir`, `max_memory_store`, `max_file_store`, `sync_interval`,
//! `domain`, `strict`, `unique_tag`, `compress_ok`, `cipher`, `key`,
//! `limits {}`), the top-level `store_dir`, and `jetstream` in an account
//! (`enabled` or a limits block), with nats-server's key names and aliases.
//!
//! Reads through `values.rs` only.

use rnats_conf::{MapEntry, Value, ValueKind};
use rnats_jetstream::{AccountLimits, Cipher, JetStreamConfig};

use super::values::Reader;

/// A size: a number (suffixes like `1GB` are read by the lexer) or a
/// string such as `"512M"`.
fn storage_size(value: &Value) -> Result<i64, String> {
    match &value.kind {
        ValueKind::Integer(n) => Ok(*n),
        ValueKind::String(s) => {
            let s = s.trim();
            let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let number: i64 = s[..digits]
                .parse()
                .map_err(|_| format!("could not parse {s:?} as a size"))?;
            let suffix = s[digits..].trim();
            if suffix.is_empty() {
                return Ok(number);
            }
            let multiplier = rnats_conf::size_multiplier(suffix)
                .ok_or_else(|| format!("unknown size suffix in {s:?}"))?;
            number
                .checked_mul(multiplier)
                .ok_or_else(|| format!("{s:?} is too large"))
        }
        _ => Err(format!("expected a size, got {}", value.kind.type_name())),
    }
}

impl Reader {
    /// `true`/`false`, `enabled`/`disabled` (and `enable`/`disable`), as
    /// nats-server reads `jetstream: ...`; None, with its error, otherwise.
    fn on_off(&mut self, value: &Value) -> Option<bool> {
        match &value.kind {
            ValueKind::Bool(on) => Some(*on),
            ValueKind::String(s) => match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" => Some(true),
                "disabled" | "disable" => Some(false),
                _ => {
                    self.fail(
                        &value.pos,
                        format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
                    );
                    None
                }
            },
            _ => None,
        }
    }

    /// Top-level `jetstream`: the settings when enabled, None when
    /// disabled. `store_dir` given at the top level is passed in.
    pub(super) fn jetstream(&mut self, entry: &MapEntry) -> Option<JetStreamConfig> {
        let value = &entry.value;
        match &value.kind {
            ValueKind::Bool(_) | ValueKind::String(_) => self
                .on_off(value)
                .unwrap_or(false)
                .then(JetStreamConfig::default),
            ValueKind::Map(map) => {
                let mut config = JetStreamConfig::default();
                let mut enabled = true;
                for e in map {
                    let v = &e.value;
                    match e.key.to_ascii_lowercase().as_str() {
                        "strict" => {
                            if let Some(b) = self.ok(v.as_bool()) {
                                config.strict = b;
                            }
                        }
                        "store" | "store_dir" | "storedir" => {
                            if let Some(path) = self.path(v) {
                                config.store_dir = path;
                            }
                        }
                        "sync" | "sync_interval" => {
                            if v.as_str().is_ok_and(|s| s.eq_ignore_ascii_case("always")) {
                                config.sync_always = true;
                            } else if let Some(d) = self.duration(e) {
                                config.sync_interval = d;
                            }
                        }
                        "max_memory_store" | "max_mem_store" | "max_mem" => match storage_size(v) {
                            Ok(n) => config.max_memory = n,
                            Err(err) => self.fail(&v.pos, format!("max_mem_store {err}")),
                        },
                        "max_file_store" | "max_file" => match storage_size(v) {
                            Ok(n) => config.max_store = n,
                            Err(err) => self.fail(&v.pos, format!("max_file_store {err}")),
                        },
                        "domain" => config.domain = self.string(v).filter(|d| !d.is_empty()),
                        "enable" | "enabled" => {
                            if let Some(b) = self.ok(v.as_bool()) {
                                enabled = b;
                            }
                        }
                        "key" | "ek" | "encryption_key" => config.key = self.string(v),
                        "cipher" => match v.as_str().map(str::to_ascii_lowercase).as_deref() {
                            Ok("chacha" | "chachapoly") => config.cipher = Some(Cipher::ChaCha),
                            Ok("aes") => config.cipher = Some(Cipher::Aes),
                            _ => self.fail(
                                &v.pos,
                                "Unknown cipher type: expected 'chachapoly' or 'aes'".to_string(),
                            ),
                        },
                        "unique_tag" => config.unique_tag = self.string(v),
                        "compress_ok" => {
                            if let Some(b) = self.ok(v.as_bool()) {
                                config.compress_ok = b;
                            }
                        }
                        "limits" => self.jetstream_limits(v, &mut config),
                        // Settings of clustered JetStream and tuning knobs
                        // that change nothing for one server here.
                        "extension_hint"
                        | "max_outstanding_catchup"
                        | "max_buffered_size"
                        | "max_buffered_msgs"
                        | "request_queue_limit"
                        | "info_queue_limit"
                        | "meta_compact"
                        | "meta_compact_size"
                        | "meta_compact_sync"
                        | "max_concurrent_io" => {}
                        "prev_key" | "prev_ek" | "prev_encryption_key" | "tpm" => {
                            self.not_yet(e, "JetStream key rotation and TPM keys");
                        }
                        _ => self.unknown(e),
                    }
                }
                enabled.then_some(config)
            }
            _ => {
                self.expected(value, "a boolean, 'enabled'/'disabled' or a map");
                None
            }
        }
    }

    fn jetstream_limits(&mut self, value: &Value, config: &mut JetStreamConfig) {
        let Some(map) = self.map(value) else { return };
        for e in map {
            let v = &e.value;
            match e.key.to_ascii_lowercase().as_str() {
                "max_ack_pending" => config.max_ack_pending = self.ok(v.as_i64()).unwrap_or(-1),
                "max_ha_assets" => config.max_ha_assets = self.ok(v.as_i64()).unwrap_or(-1),
                "max_request_batch" => {
                    config.max_request_batch = self.ok(v.as_i64()).unwrap_or(-1);
                }
                "duplicate_window" => config.duplicate_window = self.duration(e),
                _ => self.unknown(e),
            }
        }
    }

    /// `jetstream` in an account: its limits when enabled.
    pub(super) fn account_jetstream(&mut self, entry: &MapEntry) -> Option<AccountLimits> {
        let value = &entry.value;
        match &value.kind {
            ValueKind::Bool(_) | ValueKind::String(_) => self
                .on_off(value)
                .unwrap_or(false)
                .then(AccountLimits::default),
            ValueKind::Map(map) => {
                let mut limits = AccountLimits::default();
                for e in map {
                    let v = &e.value;
                    let number = |reader: &mut Reader| reader.ok(v.as_i64());
                    match e.key.to_ascii_lowercase().as_str() {
                        "max_memory" | "max_mem" | "mem" | "memory" => match storage_size(v) {
                            Ok(n) => limits.max_memory = n,
                            Err(err) => self.fail(&v.pos, err),
                        },
                        "max_store" | "max_file" | "max_disk" | "store" | "disk" => {
                            match storage_size(v) {
                                Ok(n) => limits.max_store = n,
                                Err(err) => self.fail(&v.pos, err),
                            }
                        }
                        "max_streams" | "streams" => {
                            limits.max_streams = number(self).unwrap_or(-1);
                        }
                        "max_consumers" | "consumers" => {
                            limits.max_consumers = number(self).unwrap_or(-1);
                        }
                        "max_bytes_required" | "max_stream_bytes" | "max_bytes" => {
                            limits.max_bytes_required = self.ok(v.as_bool()).unwrap_or(false);
                        }
                        "mem_max_stream_bytes" | "memory_max_stream_bytes" => {
                            match storage_size(v) {
                                Ok(n) => limits.memory_max_stream_bytes = n,
                                Err(err) => self.fail(&v.pos, err),
                            }
                        }
                        "disk_max_stream_bytes" | "store_max_stream_bytes" => {
                            match storage_size(v) {
                                Ok(n) => limits.storage_max_stream_bytes = n,
                                Err(err) => self.fail(&v.pos, err),
                            }
                        }
                        "max_ack_pending" => {
                            limits.max_ack_pending = number(self).unwrap_or(-1);
                        }
                        "cluster_traffic" => {}
                        _ => self.unknown(e),
                    }
                }
                Some(limits)
            }
            _ => {
                self.expected(value, "a boolean, 'enabled'/'disabled' or a map");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use std::time::Duration;

    #[test]
    fn the_jetstream_block() {
        let opts = options(
            "jetstream {\n store_dir: /data\n max_memory_store: 1GB\n max_file_store: \"10G\"\n \
             sync_interval: always\n domain: hub\n strict: false\n limits { duplicate_window: 30s }\n}\n",
        );
        let js = opts.jetstream.expect("on");
        assert_eq!(js.store_dir, std::path::PathBuf::from("/data"));
        assert_eq!((js.max_memory, js.max_store), (1 << 30, 10_000_000_000));
        assert!(js.sync_always && !js.strict);
        assert_eq!(js.domain.as_deref(), Some("hub"));
        assert_eq!(js.duplicate_window, Some(Duration::from_secs(30)));
        assert!(options("jetstream: enabled\n").jetstream.is_some());
        assert!(options("jetstream: false\n").jetstream.is_none());
        assert!(
            options("jetstream { enabled: false }\n")
                .jetstream
                .is_none()
        );
        let opts = options("store_dir: /d\n");
        assert_eq!(opts.jetstream.map(|j| j.store_dir), Some("/d".into()));
        assert_eq!(
            error("jetstream: maybe\n"),
            "nats.conf:1:12: Expected 'enabled' or 'disabled' for string value, got 'maybe'"
        );
    }

    #[test]
    fn account_limits() {
        let opts = options(
            "accounts {\n A { jetstream: enabled }\n B { jetstream { max_mem: 1M, max_file: 2G, \
             max_streams: 3, max_consumers: 4, max_bytes_required: true } }\n C {}\n}\n",
        );
        let limits: Vec<_> = opts.auth.accounts.iter().map(|a| a.jetstream).collect();
        assert_eq!(limits[0], Some(rnats_jetstream::AccountLimits::default()));
        let b = limits[1].expect("B has JetStream");
        assert_eq!(
            (b.max_memory, b.max_store, b.max_streams, b.max_consumers),
            (1_000_000, 2_000_000_000, 3, 4)
        );
        assert!(b.max_bytes_required);
        assert_eq!(limits[2], None);
    }
}

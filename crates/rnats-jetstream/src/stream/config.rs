//! A stream's configuration as clients send it (`$JS.API.STREAM.CREATE`)
//! and as nats-server answers it: the same JSON field names, defaults,
//! omitted-when-empty fields and validation messages.
//!
//! [`StreamConfig::checked`] fills the defaults nats-server fills and
//! refuses what it refuses (with its error texts); [`StreamConfig::check_update`]
//! says which changes a running stream accepts.

use std::collections::BTreeMap;

use rnats_proto::subject;
use serde::{Deserialize, Serialize};

use crate::api::errors::ApiError;

/// Nanoseconds, as Go's `time.Duration` marshals.
pub type Nanos = i64;

const NANOS_PER_SEC: i64 = 1_000_000_000;
/// nats-server's default `duplicate_window`: two minutes.
pub const DEFAULT_DUPLICATE_WINDOW: Nanos = 120 * NANOS_PER_SEC;
const MIN_WINDOW: Nanos = 100_000_000;
pub const MAX_NAME_LEN: usize = 255;
const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
const MAX_METADATA_LEN: usize = 128 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    #[default]
    Limits,
    Interest,
    #[serde(rename = "workqueue")]
    WorkQueue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Discard {
    #[default]
    Old,
    New,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    #[default]
    File,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    S2,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectTransform {
    #[serde(rename = "src", default)]
    pub source: String,
    #[serde(rename = "dest", default)]
    pub destination: String,
}

/// A stream another stream is fed from (`mirror`, `sources`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSource {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    /// RFC 3339, as clients send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SubjectTransform>,
    /// Another account's or domain's stream, through its API prefix: not
    /// supported by rnats yet (refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<serde_json::Value>,
    /// A durable consumer to source through (nats-server 2.12+): refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<serde_json::Value>,
}

impl StreamSource {
    /// nats-server's index name: the stream, its filters and their
    /// destinations (`>` when none): what tells two sources apart, and
    /// what the `Nats-Stream-Source` header names.
    pub fn index_name(&self) -> String {
        let (source, destination) = if self.subject_transforms.is_empty() {
            let filter = if self.filter_subject.is_empty() {
                ">".to_string()
            } else {
                self.filter_subject.clone()
            };
            (filter, ">".to_string())
        } else {
            let or_all = |s: &str| {
                if s.is_empty() {
                    ">".to_string()
                } else {
                    s.to_string()
                }
            };
            let sources: Vec<_> = self
                .subject_transforms
                .iter()
                .map(|t| or_all(&t.source))
                .collect();
            let dests: Vec<_> = self
                .subject_transforms
                .iter()
                .map(|t| or_all(&t.destination))
                .collect();
            (sources.join("\u{c}"), dests.join("\u{c}"))
        };
        format!("{} {source} {destination}", self.name)
    }

    /// The filters it takes from the origin (`>` when none).
    pub fn filters(&self) -> Vec<String> {
        if !self.subject_transforms.is_empty() {
            return self
                .subject_transforms
                .iter()
                .map(|t| {
                    if t.source.is_empty() {
                        ">".into()
                    } else {
                        t.source.clone()
                    }
                })
                .collect();
        }
        if self.filter_subject.is_empty() {
            vec![">".into()]
        } else {
            vec![self.filter_subject.clone()]
        }
    }
}

fn valid_asset_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| matches!(c, '.' | '*' | '>' | '\\' | '/') || c.is_whitespace())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Republish {
    #[serde(rename = "src", default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(rename = "dest", default)]
    pub destination: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub headers_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConsumerLimits {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inactive_threshold: Nanos,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}
fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}
fn not(b: &bool) -> bool {
    !*b
}

/// `StreamConfig` of the JetStream API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StreamConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub max_consumers: i64,
    #[serde(default)]
    pub max_msgs: i64,
    #[serde(default)]
    pub max_bytes: i64,
    #[serde(default)]
    pub max_age: Nanos,
    #[serde(default, rename = "max_msgs_per_subject")]
    pub max_msgs_per_subject: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_msg_size: i64,
    #[serde(default)]
    pub discard: Discard,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default, rename = "num_replicas")]
    pub replicas: i64,
    #[serde(default, skip_serializing_if = "not")]
    pub no_ack: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicate_window: Nanos,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<StreamSource>>,
    #[serde(default)]
    pub compression: Compression,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub republish: Option<Republish>,
    #[serde(default)]
    pub allow_direct: bool,
    #[serde(default)]
    pub mirror_direct: bool,
    #[serde(default, skip_serializing_if = "not")]
    pub discard_new_per_subject: bool,
    #[serde(default)]
    pub sealed: bool,
    #[serde(default)]
    pub deny_delete: bool,
    #[serde(default)]
    pub deny_purge: bool,
    #[serde(default)]
    pub allow_rollup_hdrs: bool,
    #[serde(default)]
    pub consumer_limits: ConsumerLimits,
    #[serde(default)]
    pub allow_msg_ttl: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub subject_delete_marker_ttl: Nanos,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

fn invalid(text: &str) -> ApiError {
    ApiError::stream_invalid_config(text)
}

impl StreamConfig {
    /// The configuration with nats-server's defaults filled in, or the
    /// error nats-server gives for it. `server_version` goes in the
    /// `_nats.ver` metadata.
    pub fn checked(mut self, server_version: &str) -> Result<StreamConfig, ApiError> {
        if self.name.is_empty()
            || self
                .name
                .chars()
                .any(|c| matches!(c, '.' | '*' | '>' | '\\' | '/') || c.is_whitespace())
        {
            return Err(invalid(
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if self.name.len() > MAX_NAME_LEN {
            return Err(invalid(&format!(
                "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
            )));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(invalid(&format!(
                "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
            )));
        }
        let metadata_len: usize = self
            .metadata
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if metadata_len > MAX_METADATA_LEN {
            return Err(invalid(&format!(
                "stream metadata exceeds maximum size of {MAX_METADATA_LEN} bytes"
            )));
        }
        if self.replicas < 0 {
            return Err(ApiError::replicas_count_negative());
        }
        if self.replicas == 0 {
            self.replicas = 1;
        }
        if self.replicas > 5 {
            return Err(invalid("maximum replicas is 5"));
        }
        if self.replicas > 1 {
            return Err(ApiError::stream_replicas_not_supported());
        }
        for limit in [
            &mut self.max_msgs,
            &mut self.max_bytes,
            &mut self.max_msgs_per_subject,
            &mut self.max_consumers,
            &mut self.max_msg_size,
        ] {
            if *limit == 0 {
                *limit = -1;
            }
        }
        if self.max_age < 0 {
            return Err(invalid("max age can not be negative"));
        }
        if self.max_age > 0 && self.max_age < MIN_WINDOW {
            return Err(invalid("max age needs to be >= 100ms"));
        }
        if self.duplicate_window < 0 {
            return Err(invalid("duplicates window can not be negative"));
        }
        let sourced = self.sources.as_ref().is_some_and(|s| !s.is_empty());
        if self.duplicate_window == 0 && self.mirror.is_none() && !sourced {
            self.duplicate_window = if self.max_age > 0 && self.max_age < DEFAULT_DUPLICATE_WINDOW {
                self.max_age
            } else {
                DEFAULT_DUPLICATE_WINDOW
            };
        }
        if self.max_age > 0 && self.duplicate_window > self.max_age {
            return Err(invalid("duplicates window can not be larger then max age"));
        }
        if self.duplicate_window > 0 && self.duplicate_window < MIN_WINDOW {
            return Err(invalid("duplicates window needs to be >= 100ms"));
        }
        if self.deny_purge && self.allow_rollup_hdrs {
            return Err(invalid("roll-ups require the purge permission"));
        }
        if self.discard_new_per_subject {
            if self.discard != Discard::New {
                return Err(invalid(
                    "discard new per subject requires discard new policy to be set",
                ));
            }
            if self.max_msgs_per_subject <= 0 {
                return Err(invalid(
                    "discard new per subject requires max msgs per subject > 0",
                ));
            }
        }
        if self.subject_delete_marker_ttl != 0 {
            if self.subject_delete_marker_ttl < 0 {
                return Err(invalid("subject delete marker TTL must not be negative"));
            }
            if self.subject_delete_marker_ttl < NANOS_PER_SEC {
                return Err(invalid(
                    "subject delete marker TTL must be at least 1 second",
                ));
            }
            if !self.allow_msg_ttl {
                return Err(invalid(
                    "subject delete marker cannot be set if message TTLs are disabled",
                ));
            }
            if !self.allow_rollup_hdrs {
                return Err(invalid(
                    "subject delete marker cannot be set if roll-ups are disabled",
                ));
            }
        }
        if let Some(mirror) = &self.mirror {
            if self.first_seq > 0 {
                return Err(ApiError::mirror_with_first_seq());
            }
            if !self.subjects.is_empty() {
                return Err(ApiError::mirror_with_subjects());
            }
            if sourced {
                return Err(ApiError::mirror_with_sources());
            }
            if mirror.opt_start_seq > 0 && mirror.opt_start_time.is_some() {
                return Err(ApiError::mirror_with_start_seq_and_time());
            }
            if !mirror.filter_subject.is_empty() && !mirror.subject_transforms.is_empty() {
                return Err(ApiError::mirror_multiple_filters());
            }
            if mirror.external.is_none() && !valid_asset_name(&mirror.name) {
                return Err(ApiError::mirror_invalid_stream_name());
            }
        }
        let mut index_names = std::collections::BTreeSet::new();
        for source in self.sources.iter().flatten() {
            if !valid_asset_name(&source.name) {
                return Err(ApiError::source_invalid_stream_name());
            }
            if !index_names.insert(source.index_name()) {
                return Err(ApiError::source_duplicate());
            }
            if !source.filter_subject.is_empty() && !source.subject_transforms.is_empty() {
                return Err(ApiError::source_multiple_filters());
            }
            if source.name == self.name {
                return Err(invalid("detected cycle"));
            }
        }
        for source in self.mirror.iter().chain(self.sources.iter().flatten()) {
            if source.external.is_some() || source.consumer.is_some() {
                return Err(invalid(
                    "stream mirrors and sources from other accounts or domains, or through durable consumers, are not supported by rnats-server yet",
                ));
            }
        }
        if self.subjects.is_empty() && self.mirror.is_none() && !sourced {
            self.subjects.push(self.name.clone());
        }
        for (i, s) in self.subjects.iter().enumerate() {
            if !subject::is_valid_subject(s.as_bytes()) {
                return Err(invalid("invalid subject"));
            }
            if self.subjects[..i].contains(s) {
                return Err(invalid("duplicate subjects detected"));
            }
            if s == ">" && !self.no_ack {
                return Err(invalid("capturing all subjects requires no-ack to be true"));
            }
            if !self.no_ack && subject::subjects_collide(s.as_bytes(), b"$JS.API.>") {
                return Err(invalid(
                    "subjects that overlap with jetstream api require no-ack to be true",
                ));
            }
            if !self.no_ack && subject::subjects_collide(s.as_bytes(), b"$SYS.>") {
                return Err(invalid(
                    "subjects that overlap with system api require no-ack to be true",
                ));
            }
            for other in &self.subjects[i + 1..] {
                if subject::subjects_collide(other.as_bytes(), s.as_bytes()) {
                    return Err(invalid(&format!("subject {s:?} overlaps with {other:?}")));
                }
            }
        }
        if let Some(t) = &self.subject_transform {
            if !t.source.is_empty() && !subject::is_valid_subject(t.source.as_bytes()) {
                return Err(ApiError::stream_transform_invalid_source(format!(
                    "invalid subject {}",
                    t.source
                )));
            }
            let source = if t.source.is_empty() { ">" } else { &t.source };
            if let Err(e) = rnats_proto::transform::SubjectTransform::new(source, &t.destination) {
                return Err(ApiError::stream_transform_invalid_destination(e));
            }
        }
        if let Some(r) = &self.republish {
            let source = if r.source.is_empty() { ">" } else { &r.source };
            if !subject::is_valid_subject(source.as_bytes())
                || !subject::is_valid_subject(r.destination.as_bytes())
            {
                return Err(invalid(
                    "stream republish source or destination is not a valid subject",
                ));
            }
            if self
                .subjects
                .iter()
                .any(|s| subject::subjects_collide(r.destination.as_bytes(), s.as_bytes()))
            {
                return Err(invalid(
                    "stream configuration for republish destination forms a cycle",
                ));
            }
            if rnats_proto::transform::SubjectTransform::new(source, &r.destination).is_err() {
                return Err(invalid(&format!(
                    "stream configuration for republish with transform from '{}' to '{}' not valid",
                    r.source, r.destination
                )));
            }
        }
        let metadata = self.metadata.get_or_insert_with(BTreeMap::new);
        metadata.insert("_nats.level".into(), crate::API_LEVEL.to_string());
        metadata.insert("_nats.req.level".into(), "0".into());
        metadata.insert("_nats.ver".into(), server_version.into());
        Ok(self)
    }

    /// Whether a running stream may change from `self` to `new` (both
    /// checked): nats-server's update rules and texts.
    pub fn check_update(&self, new: &StreamConfig) -> Result<(), ApiError> {
        let update = |text: &str| Err(ApiError::stream_invalid_config(text));
        if self.name != new.name {
            return Err(ApiError::stream_mismatch());
        }
        if self.storage != new.storage {
            return update("stream configuration update can not change storage type");
        }
        if self.retention != new.retention {
            return update("stream configuration update can not change retention policy");
        }
        if self.sealed && !new.sealed {
            return update("stream configuration update can not unseal a sealed stream");
        }
        if self.deny_delete && !new.deny_delete {
            return update("stream configuration update can not cancel deny message deletes");
        }
        if self.deny_purge && !new.deny_purge {
            return update("stream configuration update can not cancel deny purge");
        }
        if self.first_seq != new.first_seq && new.first_seq != 0 {
            return update("stream configuration update can not change first sequence");
        }
        if self.allow_msg_ttl && !new.allow_msg_ttl {
            return update("stream configuration update can not disable message TTL");
        }
        if self.mirror != new.mirror {
            return Err(ApiError::mirror_not_updatable());
        }
        Ok(())
    }

    /// Same configuration, ignoring the metadata the server adds.
    pub fn same_as(&self, other: &StreamConfig) -> bool {
        let strip = |c: &StreamConfig| {
            let mut c = c.clone();
            if let Some(m) = &mut c.metadata {
                m.retain(|k, _| !k.starts_with("_nats."));
                if m.is_empty() {
                    c.metadata = None;
                }
            }
            c
        };
        strip(self) == strip(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> StreamConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_are_nats_servers() {
        let c = parse(r#"{"name":"S"}"#).checked("2.11.0").unwrap();
        assert_eq!(c.subjects, vec!["S".to_string()]);
        assert_eq!((c.max_msgs, c.max_bytes, c.max_msg_size), (-1, -1, -1));
        assert_eq!(c.duplicate_window, DEFAULT_DUPLICATE_WINDOW);
        assert_eq!(c.replicas, 1);
        let c = parse(r#"{"name":"S","max_age":1000000000}"#)
            .checked("x")
            .unwrap();
        assert_eq!(c.duplicate_window, 1_000_000_000);
    }

    #[test]
    fn refusals_have_nats_servers_texts() {
        let e = parse(r#"{"name":"a.b"}"#).checked("x").unwrap_err();
        assert_eq!(e.err_code, 10052);
        assert!(e.description.starts_with("stream name is required"));
        let e = parse(r#"{"name":"S","subjects":["a.>","a.b"]}"#)
            .checked("x")
            .unwrap_err();
        assert_eq!(e.description, "subject \"a.>\" overlaps with \"a.b\"");
        let e = parse(r#"{"name":"S","num_replicas":3}"#)
            .checked("x")
            .unwrap_err();
        assert_eq!(e.err_code, 10074);
    }
}

//! The JSON of the JetStream API's requests and responses, field for field
//! and in nats-server's order (Go marshals struct fields in order).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use crate::stream::StreamConfig;

pub const ACCOUNT_INFO: &str = "io.nats.jetstream.api.v1.account_info_response";
pub const STREAM_CREATE: &str = "io.nats.jetstream.api.v1.stream_create_response";
pub const STREAM_UPDATE: &str = "io.nats.jetstream.api.v1.stream_update_response";
pub const STREAM_DELETE: &str = "io.nats.jetstream.api.v1.stream_delete_response";
pub const STREAM_INFO: &str = "io.nats.jetstream.api.v1.stream_info_response";
pub const STREAM_NAMES: &str = "io.nats.jetstream.api.v1.stream_names_response";
pub const STREAM_LIST: &str = "io.nats.jetstream.api.v1.stream_list_response";
pub const STREAM_PURGE: &str = "io.nats.jetstream.api.v1.stream_purge_response";
pub const STREAM_MSG_GET: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";
pub const STREAM_MSG_DELETE: &str = "io.nats.jetstream.api.v1.stream_msg_delete_response";
pub const ERROR_RESPONSE: &str = "io.nats.jetstream.api.v1.error_response";

fn is_false(b: &bool) -> bool {
    !*b
}

/// `ApiResponse`: the type, and the error when there is one.
#[derive(Debug, Serialize)]
pub struct Head {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

impl Head {
    pub fn ok(kind: &'static str) -> Self {
        Head { kind, error: None }
    }
}

#[derive(Debug, Serialize, Default, Clone, Copy)]
pub struct Paged {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Serialize, Clone, Copy)]
pub struct Limits {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

#[derive(Debug, Serialize, Clone, Copy)]
pub struct ApiStats {
    pub level: u32,
    pub total: u64,
    pub errors: u64,
}

#[derive(Debug, Serialize)]
pub struct AccountInfo {
    #[serde(flatten)]
    pub head: Head,
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub streams: usize,
    pub consumers: usize,
    pub limits: Limits,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub api: ApiStats,
}

#[derive(Debug, Serialize, Clone)]
pub struct StreamState {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: String,
    pub last_seq: u64,
    pub last_ts: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_subjects: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_deleted: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Vec<u64>>,
    pub consumer_count: usize,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Serialize, Clone)]
pub struct ClusterInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub leader: String,
}

/// `StreamInfo`.
#[derive(Debug, Serialize, Clone)]
pub struct StreamInfo {
    pub config: StreamConfig,
    pub created: String,
    pub state: StreamState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSourceInfo>,
    pub ts: String,
}

/// nats-server's `StreamSourceInfo`: how a mirror or source is doing.
#[derive(Debug, Clone, Serialize)]
pub struct StreamSourceInfo {
    pub name: String,
    pub lag: u64,
    /// Nanoseconds since the origin was last heard from; -1 never.
    pub active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<crate::stream::config::SubjectTransform>,
}

#[derive(Debug, Serialize)]
pub struct StreamInfoResponse {
    #[serde(flatten)]
    pub head: Head,
    #[serde(flatten)]
    pub paged: Paged,
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
}

#[derive(Debug, Serialize)]
pub struct StreamCreateResponse {
    #[serde(flatten)]
    pub head: Head,
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
    #[serde(skip_serializing_if = "is_false")]
    pub did_create: bool,
}

#[derive(Debug, Serialize)]
pub struct SuccessResponse {
    #[serde(flatten)]
    pub head: Head,
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
}

#[derive(Debug, Serialize)]
pub struct PurgeResponse {
    #[serde(flatten)]
    pub head: Head,
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
    pub purged: u64,
}

#[derive(Debug, Serialize)]
pub struct NamesResponse {
    #[serde(flatten)]
    pub head: Head,
    #[serde(flatten)]
    pub paged: Paged,
    pub streams: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ListResponse {
    #[serde(flatten)]
    pub head: Head,
    #[serde(flatten)]
    pub paged: Paged,
    pub streams: Vec<StreamInfo>,
}

/// A stored message as `STREAM.MSG.GET` returns it.
#[derive(Debug, Serialize)]
pub struct StoredMessage {
    pub subject: String,
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hdrs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    pub time: String,
}

#[derive(Debug, Serialize)]
pub struct MsgGetResponse {
    #[serde(flatten)]
    pub head: Head,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<StoredMessage>,
}

#[derive(Debug, Serialize)]
pub struct PubAck<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    pub stream: &'a str,
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    pub duplicate: bool,
}

#[derive(Debug, Deserialize, Default)]
pub struct PagedRequest {
    #[serde(default)]
    pub offset: usize,
}

#[derive(Debug, Deserialize, Default)]
pub struct StreamInfoRequest {
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub deleted_details: bool,
    #[serde(default)]
    pub subjects_filter: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct NamesRequest {
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub subject: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct PurgeRequest {
    #[serde(default)]
    pub filter: String,
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub keep: u64,
}

#[derive(Debug, Deserialize, Default)]
pub struct MsgDeleteRequest {
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub no_erase: bool,
}

#[derive(Debug, Deserialize, Default)]
pub struct MsgGetRequest {
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub last_by_subj: String,
    #[serde(default)]
    pub next_by_subj: String,
    #[serde(default)]
    pub batch: usize,
    #[serde(default)]
    pub max_bytes: usize,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub multi_last: Vec<String>,
    #[serde(default)]
    pub up_to_seq: u64,
    #[serde(default)]
    pub up_to_time: Option<String>,
}

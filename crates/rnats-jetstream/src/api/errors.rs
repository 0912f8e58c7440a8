//! The errors the JetStream API answers with: nats-server's HTTP-like
//! `code`, its stable `err_code` and its `description`, exactly, because
//! clients match on `err_code` (and people on the text).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: u16,
    pub err_code: u16,
    pub description: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (err_code {})", self.description, self.err_code)
    }
}

impl std::error::Error for ApiError {}

fn err(code: u16, err_code: u16, description: impl Into<String>) -> ApiError {
    ApiError {
        code,
        err_code,
        description: description.into(),
    }
}

// One constructor per nats-server error this server answers with, named
// after nats-server's constant without its `JS` prefix and `Err` suffix.
impl ApiError {
    pub fn bad_request() -> Self {
        err(400, 10003, "bad request")
    }
    pub fn not_empty_request() -> Self {
        err(400, 10038, "expected an empty request payload")
    }
    pub fn invalid_json(e: impl std::fmt::Display) -> Self {
        err(400, 10025, format!("invalid JSON: {e}"))
    }
    pub fn not_enabled_for_account() -> Self {
        err(503, 10039, "JetStream not enabled for account")
    }
    pub fn not_enabled() -> Self {
        err(503, 10076, "JetStream not enabled")
    }
    pub fn insufficient_resources() -> Self {
        err(503, 10023, "insufficient resources")
    }
    pub fn storage_resources_exceeded() -> Self {
        err(500, 10047, "insufficient storage resources available")
    }
    pub fn memory_resources_exceeded() -> Self {
        err(500, 10028, "insufficient memory resources available")
    }
    pub fn account_resources_exceeded() -> Self {
        err(400, 10002, "resource limits exceeded for account")
    }
    pub fn maximum_streams_limit() -> Self {
        err(400, 10027, "maximum number of streams reached")
    }
    pub fn stream_not_found() -> Self {
        err(404, 10059, "stream not found")
    }
    pub fn stream_name_exist() -> Self {
        err(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }
    pub fn stream_mismatch() -> Self {
        err(400, 10056, "stream name in subject does not match request")
    }
    pub fn stream_subject_overlap() -> Self {
        err(400, 10065, "subjects overlap with an existing stream")
    }
    pub fn stream_invalid_config(e: impl Into<String>) -> Self {
        err(500, 10052, e)
    }
    pub fn stream_update(e: impl Into<String>) -> Self {
        err(500, 10069, e)
    }
    pub fn stream_create(e: impl Into<String>) -> Self {
        err(500, 10049, e)
    }
    pub fn stream_delete(e: impl Into<String>) -> Self {
        err(500, 10050, e)
    }
    pub fn stream_general(e: impl Into<String>) -> Self {
        err(500, 10051, e)
    }
    pub fn stream_replicas_not_supported() -> Self {
        err(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }
    pub fn replicas_count_negative() -> Self {
        err(400, 10133, "replicas count cannot be negative")
    }
    pub fn stream_max_bytes_required() -> Self {
        err(
            400,
            10113,
            "account requires a stream config to have max bytes set",
        )
    }
    pub fn stream_max_stream_bytes_exceeded() -> Self {
        err(
            400,
            10122,
            "stream max bytes exceeds account limit max stream bytes",
        )
    }
    pub fn stream_transform_invalid_source(e: impl std::fmt::Display) -> Self {
        err(400, 10155, format!("stream transform source: {e}"))
    }
    pub fn stream_transform_invalid_destination(e: impl std::fmt::Display) -> Self {
        err(400, 10156, format!("stream transform: {e}"))
    }
    pub fn stream_sealed() -> Self {
        err(400, 10109, "invalid operation on sealed stream")
    }
    pub fn stream_purge_failed(e: impl Into<String>) -> Self {
        err(500, 10110, e)
    }
    pub fn stream_rollup_failed(e: impl Into<String>) -> Self {
        err(500, 10111, e)
    }
    pub fn stream_msg_delete_failed(e: impl Into<String>) -> Self {
        err(500, 10057, e)
    }
    pub fn stream_store_failed(e: impl Into<String>) -> Self {
        err(503, 10077, e)
    }
    pub fn stream_message_exceeds_maximum() -> Self {
        err(400, 10054, "message size exceeds maximum allowed")
    }
    pub fn stream_header_exceeds_maximum() -> Self {
        err(400, 10097, "header size exceeds maximum allowed of 64k")
    }
    pub fn stream_not_match() -> Self {
        err(400, 10060, "expected stream does not match")
    }
    pub fn stream_wrong_last_sequence(seq: u64) -> Self {
        err(400, 10071, format!("wrong last sequence: {seq}"))
    }
    pub fn stream_wrong_last_msg_id(id: &str) -> Self {
        err(400, 10070, format!("wrong last msg ID: {id}"))
    }
    pub fn stream_expected_last_seq_per_subject_invalid() -> Self {
        err(
            400,
            10193,
            "missing sequence for expected last sequence per subject",
        )
    }
    pub fn message_ttl_invalid() -> Self {
        err(400, 10165, "invalid per-message TTL")
    }
    pub fn message_ttl_disabled() -> Self {
        err(400, 10166, "per-message TTL is disabled")
    }
    pub fn no_message_found() -> Self {
        err(404, 10037, "no message found")
    }
    pub fn sequence_not_found(seq: u64) -> Self {
        err(400, 10043, format!("sequence {seq} not found"))
    }
    pub fn stream_info_max_subjects() -> Self {
        err(500, 10117, "subject details would exceed maximum allowed")
    }
    pub fn required_api_level() -> Self {
        err(412, 10185, "JetStream minimum api level required")
    }
    pub fn mirror_with_subjects() -> Self {
        err(400, 10034, "stream mirrors can not contain subjects")
    }
    pub fn mirror_with_first_seq() -> Self {
        err(
            400,
            10143,
            "stream mirrors can not have first sequence configured",
        )
    }
    pub fn mirror_with_sources() -> Self {
        err(
            400,
            10031,
            "stream mirrors can not also contain other sources",
        )
    }
    pub fn mirror_with_start_seq_and_time() -> Self {
        err(
            400,
            10032,
            "stream mirrors can not have both start seq and start time configured",
        )
    }
    pub fn mirror_multiple_filters() -> Self {
        err(
            400,
            10150,
            "mirror with multiple subject transforms cannot also have a single subject filter",
        )
    }
    pub fn mirror_invalid_stream_name() -> Self {
        err(400, 10142, "mirrored stream name is invalid")
    }
    pub fn mirror_not_updatable() -> Self {
        err(400, 10055, "stream mirror configuration can not be updated")
    }
    pub fn source_invalid_stream_name() -> Self {
        err(400, 10141, "sourced stream name is invalid")
    }
    pub fn source_duplicate() -> Self {
        err(400, 10140, "duplicate source configuration detected")
    }
    pub fn source_multiple_filters() -> Self {
        err(
            400,
            10144,
            "source with multiple subject transforms cannot also have a single subject filter",
        )
    }
}

//! `$JS.EVENT.ADVISORY.*`: what JetStream tells an account about its
//! streams (created, updated, deleted), as nats-server's typed events.

use serde::Serialize;

use crate::time::{go_time, now_nanos};

pub const STREAM_CREATED: &str = "$JS.EVENT.ADVISORY.STREAM.CREATED";
pub const STREAM_UPDATED: &str = "$JS.EVENT.ADVISORY.STREAM.UPDATED";
pub const STREAM_DELETED: &str = "$JS.EVENT.ADVISORY.STREAM.DELETED";
const STREAM_ACTION: &str = "io.nats.jetstream.advisory.v1.stream_action";
/// Every API request and its answer, for auditing.
pub const API_AUDIT: &str = "$JS.EVENT.ADVISORY.API";
const API_AUDIT_TYPE: &str = "io.nats.jetstream.advisory.v1.api_audit";

#[derive(Debug, Serialize)]
struct ApiAudit<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    server: &'a str,
    client: Option<serde_json::Value>,
    subject: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    request: &'a str,
    response: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
}

/// The body of an API audit advisory: who asked what, and the answer.
pub fn api_audit(
    server: &str,
    client: Option<serde_json::Value>,
    subject: &str,
    request: &[u8],
    response: &[u8],
    domain: Option<&str>,
) -> Vec<u8> {
    let event = ApiAudit {
        kind: API_AUDIT_TYPE,
        id: event_id(),
        timestamp: go_time(now_nanos()),
        server,
        client,
        subject,
        request: &String::from_utf8_lossy(request),
        response: &String::from_utf8_lossy(response),
        domain,
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Modify,
    Delete,
}

impl Action {
    fn prefix(self) -> &'static str {
        match self {
            Action::Create => STREAM_CREATED,
            Action::Modify => STREAM_UPDATED,
            Action::Delete => STREAM_DELETED,
        }
    }
}

#[derive(Debug, Serialize)]
struct StreamAction<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    stream: &'a str,
    action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
}

/// A unique event id: 22 characters of base 62, like nats-server's NUIDs.
fn event_id() -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..22)
        .map(|_| DIGITS[rand::random_range(0..DIGITS.len())] as char)
        .collect()
}

/// The subject and body of a stream action advisory.
pub fn stream_action(stream: &str, action: Action, domain: Option<&str>) -> (String, Vec<u8>) {
    let event = StreamAction {
        kind: STREAM_ACTION,
        id: event_id(),
        timestamp: go_time(now_nanos()),
        stream,
        action,
        domain,
    };
    (
        format!("{}.{stream}", action.prefix()),
        serde_json::to_vec(&event).unwrap_or_default(),
    )
}

//! `/healthz`: whether the server is ready for clients, as nats-server
//! answers it (compact JSON, the status in the HTTP code). Without
//! JetStream its options only check that they are well formed: an account
//! and stream to check need naming in order (`stream` needs `account`,
//! `consumer` needs `stream`).

use hyper::StatusCode;
use serde::Serialize;

use super::Params;
use crate::server::ServerShared;

#[derive(Debug, Serialize)]
pub struct HealthzError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: String,
}

#[derive(Debug, Serialize)]
pub struct HealthStatus {
    pub status: &'static str,
    /// Only in answers over the system account (HTTP has it as its status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<HealthzError>,
}

/// The health status and its HTTP code.
pub fn health(params: &Params) -> (StatusCode, HealthStatus) {
    let details = params.bool("details").unwrap_or(false);
    for key in [
        "js-enabled",
        "js-enabled-only",
        "js-server-only",
        "js-meta-only",
        "details",
    ] {
        if let Err(e) = params.bool(key) {
            return (StatusCode::BAD_REQUEST, failed(details, "BAD_REQUEST", e));
        }
    }
    let problem = if params.get("account").is_empty() && !params.get("stream").is_empty() {
        Some("\"account\" must not be empty when checking stream health")
    } else if params.get("stream").is_empty() && !params.get("consumer").is_empty() {
        Some("\"stream\" must not be empty when checking consumer health")
    } else {
        None
    };
    match problem {
        Some(text) => (
            StatusCode::BAD_REQUEST,
            failed(details, "BAD_REQUEST", text.to_string()),
        ),
        None => (
            StatusCode::OK,
            HealthStatus {
                status: "ok",
                status_code: None,
                error: None,
                errors: Vec::new(),
            },
        ),
    }
}

fn failed(details: bool, kind: &'static str, text: String) -> HealthStatus {
    match details {
        false => HealthStatus {
            status: "error",
            status_code: None,
            error: Some(text),
            errors: Vec::new(),
        },
        true => HealthStatus {
            status: "error",
            status_code: None,
            error: None,
            errors: vec![HealthzError { kind, error: text }],
        },
    }
}

/// `/healthz`: the HTTP code and the compact JSON body.
pub fn healthz(_shared: &ServerShared, params: &Params) -> (StatusCode, Vec<u8>) {
    let (code, status) = health(params);
    (code, serde_json::to_vec(&status).unwrap_or_default())
}

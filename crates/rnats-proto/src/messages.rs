//! The JSON bodies of `INFO` (server to client) and `CONNECT` (client to
//! server), with nats-server's field names and defaults.

use serde::{Deserialize, Serialize};

/// What the server announces in `INFO`. Optional fields are left out of
/// the JSON when unset, as nats-server leaves them out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: u32,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    pub max_payload: usize,
    /// JetStream is enabled on the server.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub jetstream: bool,
    /// The JetStream domain, when one is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_available: bool,
    /// The cluster's name, when clustered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// The server is in lame duck mode: it takes no new clients and will
    /// close its connections (clients should move to `connect_urls`).
    #[serde(rename = "ldm", skip_serializing_if = "std::ops::Not::not")]
    pub lame_duck: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

impl ServerInfo {
    /// `INFO {...} \r\n`, with the space before CRLF that nats-server sends.
    pub fn to_protocol_line(&self) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        // Serializing a struct of strings, numbers and bools cannot fail.
        serde_json::to_writer(&mut line, self).unwrap_or_default();
        line.extend_from_slice(b" \r\n");
        line
    }
}

/// The options a client sends in `CONNECT`. Unknown fields are ignored.
/// Flags are optional: a field left out keeps its current value, so a
/// second CONNECT changes only what it names (nats-server unmarshals onto
/// the connection's options the same way). Before any CONNECT, `verbose`,
/// `pedantic` and `echo` are on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConnectInfo {
    pub verbose: Option<bool>,
    pub pedantic: Option<bool>,
    pub tls_required: Option<bool>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub protocol: Option<i32>,
    pub echo: Option<bool>,
    pub headers: Option<bool>,
    pub no_responders: Option<bool>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub auth_token: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
    pub jwt: Option<String>,
}

impl ConnectInfo {
    /// Reads the JSON of a CONNECT: an object, or `null` (which changes
    /// nothing, as on nats-server). Anything else is an error.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        let trimmed = json.trim_ascii();
        if trimmed == b"null" {
            return Ok(ConnectInfo::default());
        }
        if trimmed.first() != Some(&b'{') {
            // Let serde_json produce the error for a non-object.
            return serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(trimmed)
                .map(|_| ConnectInfo::default());
        }
        serde_json::from_slice(trimmed)
    }
}

/// Keys of `CONNECT` whose values are secrets and must never be logged.
const SECRET_KEYS: [&str; 5] = ["pass", "auth_token", "jwt", "sig", "nkey"];

/// The `CONNECT` JSON with every secret replaced by `[REDACTED]`, for traces.
/// Text that is not a JSON object is not echoed at all.
pub fn redact_connect(json: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(json) {
        Ok(mut map) => {
            for key in SECRET_KEYS {
                if let Some(v) = map.get_mut(key) {
                    *v = serde_json::Value::String("[REDACTED]".into());
                }
            }
            serde_json::to_string(&map).unwrap_or_default()
        }
        Err(_) => "[unparsable CONNECT]".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_fields_are_optional_and_only_objects_or_null_are_accepted() {
        let c = ConnectInfo::from_json(b"{}").unwrap();
        assert_eq!(
            (c.verbose, c.pedantic, c.echo, c.headers),
            (None, None, None, None)
        );
        let c = ConnectInfo::from_json(br#"{"verbose":false,"unknown":[1,2]}"#).unwrap();
        assert_eq!((c.verbose, c.pedantic), (Some(false), None));
        assert!(ConnectInfo::from_json(b" null ").is_ok());
        for bad in [&b"{bad"[..], b"[]", b"1", b"\"x\""] {
            assert!(
                ConnectInfo::from_json(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn redaction_hides_every_secret() {
        let line =
            redact_connect(br#"{"user":"u","pass":"p4ss","auth_token":"t0k","verbose":false}"#);
        assert!(!line.contains("p4ss") && !line.contains("t0k"));
        assert!(line.contains(r#""pass":"[REDACTED]""#));
        assert!(line.contains(r#""user":"u""#));
    }

    #[test]
    fn info_line_ends_with_space_crlf() {
        let line = ServerInfo {
            proto: 1,
            headers: true,
            ..Default::default()
        }
        .to_protocol_line();
        assert!(line.starts_with(b"INFO {\"server_id\""));
        assert!(line.ends_with(b"} \r\n"));
        assert!(!String::from_utf8(line).unwrap().contains("auth_required"));
    }
}

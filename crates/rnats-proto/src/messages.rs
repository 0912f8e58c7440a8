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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
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

fn yes() -> bool {
    true
}

/// The options a client sends in `CONNECT`. Unknown fields are ignored.
/// `verbose` and `pedantic` default to true when absent, as on nats-server.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectInfo {
    #[serde(default = "yes")]
    pub verbose: bool,
    #[serde(default = "yes")]
    pub pedantic: bool,
    #[serde(default)]
    pub tls_required: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub protocol: i32,
    #[serde(default = "yes")]
    pub echo: bool,
    #[serde(default)]
    pub headers: bool,
    #[serde(default)]
    pub no_responders: bool,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub pass: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
    #[serde(default)]
    pub nkey: Option<String>,
    #[serde(default)]
    pub sig: Option<String>,
    #[serde(default)]
    pub jwt: Option<String>,
}

impl ConnectInfo {
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
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
    fn connect_defaults_follow_the_reference() {
        let c = ConnectInfo::from_json(b"{}").unwrap();
        assert!(c.verbose && c.pedantic && c.echo);
        assert!(!c.headers && !c.no_responders);
        let c = ConnectInfo::from_json(br#"{"verbose":false,"unknown":[1,2]}"#).unwrap();
        assert!(!c.verbose && c.pedantic);
        assert!(ConnectInfo::from_json(b"{bad").is_err());
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

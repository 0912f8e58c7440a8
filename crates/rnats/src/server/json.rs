//! nats-server's monitoring JSON as the tool reads it: the `STATSZ` answer of
//! `$SYS.REQ.SERVER.PING`, `/varz` (over HTTP, or in the `data` of a `…VARZ` request) and
//! `/connz`. Only the fields the tool shows are declared; every one has a default, and
//! unknown fields are ignored, so servers older or newer than the one these were written
//! against (2.15) still decode.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Deserializer};

/// The answer to a system request: who answered, and its data or its error.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiResponse<T> {
    pub server: ServerInfo,
    pub data: Option<T>,
    pub error: Option<ApiError>,
}

/// An error a server returns to a system request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiError {
    pub code: i64,
    pub description: String,
}

/// A server's identity as its system messages carry it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ServerInfo {
    pub name: String,
    pub host: String,
    pub id: String,
    pub cluster: String,
    pub domain: String,
    #[serde(rename = "ver")]
    pub version: String,
    pub jetstream: bool,
    #[serde(deserialize_with = "time")]
    pub time: Option<DateTime<FixedOffset>>,
}

/// The answer to `$SYS.REQ.SERVER.PING` (a `STATSZ` message).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ServerStatsMsg {
    pub server: ServerInfo,
    #[serde(rename = "statsz")]
    pub stats: ServerStats,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ServerStats {
    #[serde(deserialize_with = "time")]
    pub start: Option<DateTime<FixedOffset>>,
    pub mem: i64,
    pub cores: i64,
    pub cpu: f64,
    pub connections: i64,
    pub total_connections: u64,
    pub active_accounts: i64,
    #[serde(rename = "subscriptions")]
    pub num_subs: u64,
    pub slow_consumers: i64,
    pub slow_consumer_stats: Option<SlowConsumersStats>,
    pub routes: Vec<serde_json::Value>,
    pub gateways: Vec<GatewayStat>,
    pub active_servers: i64,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct SlowConsumersStats {
    pub clients: u64,
    pub routes: u64,
    pub gateways: u64,
    pub leafs: u64,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct GatewayStat {
    pub name: String,
    #[serde(rename = "inbound_connections")]
    pub num_inbound: i64,
}

/// `/varz`: the server's settings and counters.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Varz {
    #[serde(rename = "server_id")]
    pub id: String,
    #[serde(rename = "server_name")]
    pub name: String,
    pub version: String,
    pub git_commit: String,
    #[serde(rename = "go")]
    pub go_version: String,
    pub host: String,
    pub port: i64,
    pub ip: String,
    pub connect_urls: Vec<String>,
    pub ws_connect_urls: Vec<String>,
    pub auth_required: bool,
    pub tls_required: bool,
    pub max_connections: i64,
    pub max_subscriptions: i64,
    pub max_payload: i64,
    /// Seconds (a float in nats-server's JSON).
    pub tls_timeout: f64,
    /// Nanoseconds.
    pub write_deadline: i64,
    #[serde(deserialize_with = "time")]
    pub start: Option<DateTime<FixedOffset>>,
    #[serde(deserialize_with = "time")]
    pub now: Option<DateTime<FixedOffset>>,
    pub uptime: String,
    #[serde(deserialize_with = "time")]
    pub config_load_time: Option<DateTime<FixedOffset>>,
    pub config_digest: String,
    pub mem: i64,
    pub cores: i64,
    pub gomaxprocs: i64,
    pub gomemlimit: i64,
    pub cpu: f64,
    pub connections: i64,
    pub total_connections: u64,
    pub routes: i64,
    pub remotes: i64,
    pub leafnodes: i64,
    pub in_msgs: i64,
    pub out_msgs: i64,
    pub in_bytes: i64,
    pub out_bytes: i64,
    pub slow_consumers: i64,
    pub subscriptions: u64,
    pub cluster: ClusterVarz,
    pub gateway: GatewayVarz,
    pub tags: Vec<String>,
    pub system_account: String,
    pub jetstream: JetStreamVarz,
}

/// `/varz`'s `jetstream`: empty when JetStream is off.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct JetStreamVarz {
    pub config: Option<JetStreamConfig>,
    pub stats: JetStreamStats,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct JetStreamConfig {
    pub max_memory: i64,
    pub max_storage: i64,
    pub store_dir: String,
    /// Nanoseconds.
    pub sync_interval: i64,
    pub sync_always: bool,
    pub domain: String,
    pub unique_tag: String,
    pub compress_ok: bool,
    pub strict: bool,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct JetStreamStats {
    pub memory: u64,
    pub storage: u64,
    pub accounts: i64,
    pub api: JetStreamApiStats,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct JetStreamApiStats {
    pub level: i64,
    pub total: u64,
    pub errors: u64,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ClusterVarz {
    pub name: String,
    #[serde(rename = "addr")]
    pub host: String,
    #[serde(rename = "cluster_port")]
    pub port: i64,
    pub urls: Vec<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct GatewayVarz {
    pub name: String,
    pub host: String,
    pub port: i64,
    pub gateways: Vec<RemoteGateway>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct RemoteGateway {
    pub name: String,
}

/// `/connz`: one page of connections.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Connz {
    pub server_id: String,
    #[serde(deserialize_with = "time")]
    pub now: Option<DateTime<FixedOffset>>,
    pub num_connections: i64,
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    pub connections: Vec<ConnInfo>,
}

/// One connection of `/connz`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ConnInfo {
    pub cid: u64,
    pub ip: String,
    pub port: u16,
    pub rtt: String,
    pub uptime: String,
    pub idle: String,
    #[serde(deserialize_with = "time")]
    pub last_activity: Option<DateTime<FixedOffset>>,
    pub pending_bytes: i64,
    pub in_msgs: i64,
    pub out_msgs: i64,
    pub in_bytes: i64,
    pub out_bytes: i64,
    #[serde(rename = "subscriptions")]
    pub num_subs: u64,
    pub subscriptions_list: Vec<String>,
    pub name: String,
    pub lang: String,
    pub version: String,
}

/// An RFC 3339 time (Go's `time.Time` in JSON), or none for a missing, null, empty or
/// unreadable one: a field the tool merely shows never fails the whole answer.
fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    Ok(text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statsz_answer_decodes() {
        let json = r#"{"server":{"name":"alpha","host":"127.0.0.1","id":"NBN2","ver":"2.15.1",
            "feature_flags":{"x":true},"jetstream":false,"flags":0,"seq":12,
            "time":"2026-12-03T11:41:14.452615234Z"},
            "statsz":{"start":"2026-12-03T11:41:09.41888346Z","mem":14700544,"cores":2,"cpu":0.5,
            "connections":1,"total_connections":1,"active_accounts":1,"subscriptions":65,
            "sent":{"msgs":0,"bytes":0},"slow_consumers":3,"active_servers":1,"gomaxprocs":2,
            "routes":[{"rid":1}],"something_new":[1,2]}}"#;
        let msg: ServerStatsMsg = serde_json::from_str(json).unwrap();
        assert_eq!(msg.server.name, "alpha");
        assert_eq!(msg.server.version, "2.15.1");
        assert_eq!(msg.stats.num_subs, 65);
        assert_eq!(msg.stats.routes.len(), 1);
        assert_eq!(msg.stats.active_servers, 1);
        let up = msg.server.time.unwrap() - msg.stats.start.unwrap();
        assert_eq!(up.num_milliseconds(), 5033);
    }

    #[test]
    fn missing_and_odd_fields_do_not_fail() {
        let varz: Varz = serde_json::from_str(r#"{"start":null,"now":"garbage","x":{}}"#).unwrap();
        assert!(varz.start.is_none() && varz.now.is_none());
        let answer: ApiResponse<Varz> = serde_json::from_str(
            r#"{"server":{"name":"a"},"error":{"code":404,"description":"x"}}"#,
        )
        .unwrap();
        assert!(answer.data.is_none());
        assert_eq!(answer.error.unwrap().code, 404);
        assert!(serde_json::from_str::<Varz>("42").is_err());
    }
}

//! `/varz`: the server's settings, counters and state, with nats-server's
//! keys (and `/gatewayz`, `/leafz`: well formed and empty, as rnats has
//! neither gateways nor leaf nodes yet).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::format;
use crate::server::{COMPATIBLE_VERSION, ServerShared, VERSION};
use crate::stats::Counts;
use crate::sync::lock;

/// Serializes a map that is empty in rnats as `{}`.
#[derive(Debug, Default, Serialize)]
pub struct Empty {}

#[derive(Debug, Default, Serialize)]
pub struct ClusterVarz {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "addr", skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(rename = "cluster_port", skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_timeout: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_timeout: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<i64>,
}

#[derive(Debug, Default, Serialize)]
pub struct KindCounts {
    pub clients: u64,
    pub routes: u64,
    pub gateways: u64,
    pub leafs: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct DiskIoWaitStats {
    pub waiters: i64,
    pub waits: u64,
    pub wait_time: u64,
    pub max_wait_time: u64,
}

/// nats-server's `Varz`, the fields rnats has a value for.
#[derive(Debug, Serialize)]
pub struct Varz {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: u32,
    pub go: String,
    pub host: String,
    pub port: u16,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    pub max_connections: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_subscriptions: usize,
    /// Nanoseconds.
    pub ping_interval: i64,
    pub ping_max: u32,
    pub http_host: String,
    pub http_port: u16,
    pub http_base_path: String,
    pub https_port: u16,
    /// Seconds.
    #[serde(serialize_with = "super::format::go_float")]
    pub auth_timeout: f64,
    pub max_control_line: usize,
    pub max_payload: usize,
    pub max_pending: usize,
    pub cluster: ClusterVarz,
    pub gateway: Empty,
    pub leaf: Empty,
    pub mqtt: Empty,
    pub websocket: Empty,
    pub jetstream: super::jsz::VarzJetStream,
    /// Seconds.
    #[serde(serialize_with = "super::format::go_float")]
    pub tls_timeout: f64,
    /// Nanoseconds.
    pub write_deadline: i64,
    pub start: String,
    pub now: String,
    pub uptime: String,
    pub mem: u64,
    pub cores: usize,
    pub gomaxprocs: usize,
    #[serde(serialize_with = "super::format::go_float")]
    pub cpu: f64,
    pub connections: usize,
    pub total_connections: u64,
    pub routes: usize,
    pub remotes: usize,
    pub leafnodes: usize,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub in_client_msgs: u64,
    pub in_client_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub out_client_msgs: u64,
    pub out_client_bytes: u64,
    pub slow_consumers: u64,
    pub stale_connections: u64,
    pub stalled_clients: u64,
    pub subscriptions: usize,
    pub http_req_stats: BTreeMap<String, u64>,
    pub config_load_time: String,
    pub config_digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_account: Option<String>,
    pub slow_consumer_stats: KindCounts,
    pub stale_connection_stats: KindCounts,
    pub disk_io_wait_stats: DiskIoWaitStats,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What the server has sent: (to every kind of connection, to clients).
/// Each connection counts its own (see [`crate::stats`]); closed ones left
/// theirs in the server's totals.
pub fn sent_totals(shared: &ServerShared) -> (Counts, Counts) {
    let stats = &shared.stats;
    let mut clients = stats.sent_to_closed_clients.get();
    for client in shared.clients() {
        let sent = client.sent();
        clients.msgs += sent.msgs;
        clients.bytes += sent.bytes;
    }
    let mut all = stats.sent_to_closed_routes.get();
    for route in shared
        .cluster
        .as_ref()
        .map(|c| c.routes())
        .unwrap_or_default()
    {
        let sent = route.client.sent();
        all.msgs += sent.msgs;
        all.bytes += sent.bytes;
    }
    all.msgs += clients.msgs;
    all.bytes += clients.bytes;
    (all, clients)
}

/// The server's `/varz`.
pub fn varz(shared: &ServerShared) -> Varz {
    let opts = shared.opts();
    let now = SystemTime::now();
    let stats = &shared.stats;
    let (received, from_clients) = (stats.received.get(), stats.received_from_clients.get());
    let (sent, to_clients) = sent_totals(shared);
    let monitor = shared.monitor_addrs();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cluster = match &shared.cluster {
        None => ClusterVarz::default(),
        Some(cluster) => {
            let c = cluster.opts();
            ClusterVarz {
                name: Some(cluster.name()),
                host: Some(c.host.clone()),
                port: cluster.listen_addr().map(|a| a.port()),
                auth_timeout: Some(
                    c.auth_timeout
                        .unwrap_or(Duration::from_secs(2))
                        .as_secs_f64(),
                ),
                urls: c.routes.clone(),
                tls_timeout: c.tls.as_ref().map(|t| t.timeout().as_secs_f64()),
                tls_required: c.tls.is_some(),
                tls_verify: c.tls.is_some(),
                pool_size: None,
            }
        }
    };
    Varz {
        server_id: shared.id.clone(),
        server_name: shared.name.clone(),
        version: COMPATIBLE_VERSION.to_string(),
        proto: 1,
        go: format!("rnats {VERSION}"),
        host: opts.host.clone(),
        port: shared.client_port(),
        auth_required: shared.auth().required(),
        tls_required: opts.tls.is_some(),
        tls_verify: opts.tls.as_ref().is_some_and(|t| t.verifies_clients()),
        connect_urls: shared
            .cluster
            .as_ref()
            .map(|c| c.connect_urls())
            .unwrap_or_default(),
        max_connections: opts.max_connections,
        max_subscriptions: opts.max_subscriptions,
        ping_interval: format::nanos(opts.ping_interval),
        ping_max: opts.ping_max,
        http_host: if opts.monitor.host.is_empty() {
            opts.host.clone()
        } else {
            opts.monitor.host.clone()
        },
        http_port: monitor.0.map_or(0, |a| a.port()),
        http_base_path: opts.monitor.base_path.clone(),
        https_port: monitor.1.map_or(0, |a| a.port()),
        auth_timeout: shared.auth().timeout().as_secs_f64(),
        max_control_line: opts.max_control_line,
        max_payload: opts.max_payload,
        max_pending: opts.max_pending,
        cluster,
        gateway: Empty {},
        leaf: Empty {},
        mqtt: Empty {},
        websocket: Empty {},
        jetstream: super::jsz::varz(shared),
        tls_timeout: opts.tls.as_ref().map_or(2.0, |t| t.timeout().as_secs_f64()),
        write_deadline: format::nanos(opts.write_deadline),
        start: format::time(shared.started),
        now: format::time(now),
        uptime: format::uptime(format::between(shared.started, now)),
        mem: format::resident_memory(),
        cores,
        gomaxprocs: cores,
        cpu: format::cpu_percent(),
        connections: shared.client_count(),
        total_connections: stats.total_connections.get(),
        routes: shared.cluster.as_ref().map_or(0, |c| c.route_count()),
        remotes: shared.cluster.as_ref().map_or(0, |c| c.route_count()),
        leafnodes: 0,
        in_msgs: received.msgs,
        in_bytes: received.bytes,
        in_client_msgs: from_clients.msgs,
        in_client_bytes: from_clients.bytes,
        out_msgs: sent.msgs,
        out_bytes: sent.bytes,
        out_client_msgs: to_clients.msgs,
        out_client_bytes: to_clients.bytes,
        slow_consumers: stats.slow_consumers.total(),
        stale_connections: stats.stale_connections.total(),
        stalled_clients: 0,
        subscriptions: shared
            .accounts
            .all()
            .iter()
            .map(|a| a.sublist.count())
            .sum(),
        http_req_stats: lock(&shared.http_requests).clone(),
        config_load_time: format::time(shared.config_loaded()),
        config_digest: config_digest(opts.config_file.as_deref()),
        system_account: shared.system_account_name(),
        slow_consumer_stats: KindCounts {
            clients: stats.slow_consumers.clients.get(),
            routes: stats.slow_consumers.routes.get(),
            ..KindCounts::default()
        },
        stale_connection_stats: KindCounts {
            clients: stats.stale_connections.clients.get(),
            routes: stats.stale_connections.routes.get(),
            ..KindCounts::default()
        },
        disk_io_wait_stats: DiskIoWaitStats::default(),
    }
}

/// `sha256:<hex>` of the configuration file, as nats-server reports it
/// (empty without a file).
fn config_digest(file: Option<&std::path::Path>) -> String {
    let Some(bytes) = file.and_then(|f| std::fs::read(f).ok()) else {
        return String::new();
    };
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[derive(Debug, Serialize)]
pub struct Gatewayz {
    pub server_id: String,
    pub now: String,
    pub outbound_gateways: Empty,
    pub inbound_gateways: Empty,
}

/// `/gatewayz`: rnats has no gateways yet.
pub fn gatewayz(shared: &ServerShared) -> Gatewayz {
    Gatewayz {
        server_id: shared.id.clone(),
        now: format::time(SystemTime::now()),
        outbound_gateways: Empty {},
        inbound_gateways: Empty {},
    }
}

#[derive(Debug, Serialize)]
pub struct Leafz {
    pub server_id: String,
    pub now: String,
    pub leafnodes: usize,
    pub leafs: Vec<Empty>,
}

/// `/leafz`: rnats has no leaf nodes yet.
pub fn leafz(shared: &ServerShared) -> Leafz {
    Leafz {
        server_id: shared.id.clone(),
        now: format::time(SystemTime::now()),
        leafnodes: 0,
        leafs: Vec::new(),
    }
}

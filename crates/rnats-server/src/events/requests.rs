//! The system account's request services: each `$SYS.REQ.*` subject, the
//! options its JSON body may carry, and the answer, wrapped as nats-server
//! wraps it (`{"server":{...},"data":...}`, or `"error"`).

use std::sync::{Arc, Weak};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ServerInfo, server_info};
use crate::accounts::Account;
use crate::monitor::accountz::{self, DataStats};
use crate::monitor::{Params, connz, format, healthz, jsz, routez, subsz, varz};
use crate::server::ServerShared;
use crate::system::{InboundMessage, SubscribeError};

/// The endpoints every server answers for a `PING.<X>` or `<id>.<X>`.
const SERVER_ENDPOINTS: &[&str] = &[
    "STATSZ",
    "VARZ",
    "CONNZ",
    "SUBSZ",
    "ROUTEZ",
    "GATEWAYZ",
    "LEAFZ",
    "ACCOUNTZ",
    "HEALTHZ",
    "IDZ",
    "ACCSTATZ",
    "JSZ",
    "RAFTZ",
    "IPQUEUESZ",
    "EXPVARZ",
    "PROFILEZ",
];

/// The endpoints asked of one account: `$SYS.REQ.ACCOUNT.<acc>.<Y>`.
const ACCOUNT_ENDPOINTS: &[&str] = &["CONNZ", "SUBSZ", "INFO", "CONNS", "STATZ"];

/// nats-server's `ServerAPIResponse`.
#[derive(Debug, Serialize)]
struct Response<T: Serialize> {
    server: ServerInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
}

#[derive(Debug, Serialize)]
struct ApiError {
    code: u16,
    description: String,
}

/// nats-server's `EventFilterOptions`: which servers should answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Filter {
    server_name: String,
    cluster: String,
    host: String,
    exact_match: bool,
}

impl Filter {
    /// Whether this server is among those the request asks.
    fn selects(&self, shared: &ServerShared) -> bool {
        let cluster = shared
            .cluster
            .as_ref()
            .map(|c| c.name())
            .unwrap_or_default();
        let host = shared.opts().host.clone();
        [
            (&self.server_name, &shared.name),
            (&self.cluster, &cluster),
            (&self.host, &host),
        ]
        .iter()
        .all(|(want, have)| {
            want.is_empty()
                || match self.exact_match {
                    true => want == have,
                    false => have.contains(want.as_str()),
                }
        })
    }
}

/// The JSON body of a request (empty is `{}`), or an error to answer with.
fn body(msg: &InboundMessage) -> Result<Value, String> {
    let text = msg.payload.as_ref();
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(text).map_err(|e| format!("Error unmarshalling request: {e}"))
}

fn field<'a>(body: &'a Value, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

fn text(body: &Value, key: &str) -> String {
    field(body, key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn flag(body: &Value, key: &str) -> bool {
    field(body, key).and_then(Value::as_bool).unwrap_or(false)
}

fn count(body: &Value, key: &str) -> usize {
    field(body, key)
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}

/// nats-server's `ConnzOptions` as JSON (state 0 open, 1 closed, 2 any).
fn connz_query(body: &Value) -> connz::Query {
    connz::Query {
        sort: text(body, "sort"),
        auth: flag(body, "auth"),
        subs: flag(body, "subscriptions"),
        subs_detail: flag(body, "subscriptions_detail"),
        offset: count(body, "offset"),
        limit: count(body, "limit"),
        cid: field(body, "cid").and_then(Value::as_u64).unwrap_or(0),
        state: match count(body, "state") {
            1 => connz::State::Closed,
            2 => connz::State::Any,
            _ => connz::State::Open,
        },
        user: text(body, "user"),
        account: text(body, "acc"),
        filter_subject: text(body, "filter_subject"),
    }
}

fn subsz_query(body: &Value) -> subsz::Query {
    subsz::Query {
        subs: flag(body, "subscriptions"),
        offset: count(body, "offset"),
        limit: count(body, "limit"),
        account: text(body, "account"),
        test: text(body, "test"),
    }
}

/// nats-server's `ServerStats` (the `statsz` of a `STATSZ`).
#[derive(Debug, Serialize)]
pub struct ServerStats {
    pub start: String,
    pub mem: u64,
    pub cores: usize,
    #[serde(serialize_with = "format::go_float")]
    pub cpu: f64,
    pub connections: usize,
    pub total_connections: u64,
    pub active_accounts: usize,
    pub subscriptions: usize,
    pub sent: DataStats,
    pub sent_to_clients: DataStats,
    pub received: DataStats,
    pub received_from_clients: DataStats,
    pub slow_consumers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_consumer_stats: Option<varz::KindCounts>,
    #[serde(skip_serializing_if = "is_zero")]
    pub stale_connections: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteStat>,
    pub active_servers: usize,
    pub gomaxprocs: usize,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
pub struct RouteStat {
    pub rid: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub sent: DataStats,
    pub received: DataStats,
    pub pending: usize,
}

/// nats-server's `ServerStatsMsg`, what `PING` and `STATSZ` answer.
#[derive(Debug, Serialize)]
pub struct ServerStatsMsg {
    pub server: ServerInfo,
    pub statsz: ServerStats,
}

/// This server's `STATSZ`.
pub fn statsz(shared: &ServerShared) -> ServerStatsMsg {
    let v = varz::varz(shared);
    let stats = &shared.stats;
    let routes: Vec<RouteStat> = shared
        .cluster
        .as_ref()
        .map(|c| c.routes())
        .unwrap_or_default()
        .into_iter()
        .map(|r| RouteStat {
            rid: r.client.id,
            name: r
                .client
                .details()
                .map(|d| d.name.clone())
                .unwrap_or_default(),
            sent: DataStats::from(r.client.sent()),
            received: DataStats::from(r.client.received.get()),
            pending: r.client.pending_bytes(),
        })
        .collect();
    let active_accounts = accountz::connections_by_account(shared).len();
    let (sent, sent_to_clients) = varz::sent_totals(shared);
    ServerStatsMsg {
        server: server_info(shared),
        statsz: ServerStats {
            start: v.start,
            mem: v.mem,
            cores: v.cores,
            cpu: v.cpu,
            connections: v.connections,
            total_connections: v.total_connections,
            active_accounts,
            subscriptions: v.subscriptions,
            sent: DataStats::from(sent),
            sent_to_clients: DataStats::from(sent_to_clients),
            received: DataStats::from(stats.received.get()),
            received_from_clients: DataStats::from(stats.received_from_clients.get()),
            slow_consumers: v.slow_consumers,
            slow_consumer_stats: (v.slow_consumers > 0).then_some(v.slow_consumer_stats),
            stale_connections: v.stale_connections,
            active_servers: routes.len() + 1,
            routes,
            gomaxprocs: v.gomaxprocs,
        },
    }
}

#[derive(Debug, Serialize)]
struct Idz {
    name: String,
    host: String,
    id: String,
}

/// Wraps `result` as nats-server answers a request.
fn respond<T: Serialize>(shared: &ServerShared, result: Result<T, (u16, String)>) -> Option<Bytes> {
    let (data, error) = match result {
        Ok(data) => (Some(data), None),
        Err((code, description)) => (None, Some(ApiError { code, description })),
    };
    let response = Response {
        server: server_info(shared),
        data,
        error,
    };
    serde_json::to_vec(&response).ok().map(Bytes::from)
}

/// The answer to `<X>` asked of this server (None: stay silent, the
/// request's filter does not select it).
fn server_request(
    shared: &Arc<ServerShared>,
    endpoint: &str,
    msg: &InboundMessage,
) -> Option<Bytes> {
    let body = match body(msg) {
        Ok(body) => body,
        Err(e) => return respond::<()>(shared, Err((400, e))),
    };
    let filter: Filter = serde_json::from_value(body.clone()).unwrap_or_default();
    if !filter.selects(shared) {
        return None;
    }
    let json = |v: Result<Value, String>| v.map_err(|e| (400, e));
    let answer = match endpoint {
        // `STATSZ` answers with the statistics message itself.
        "STATSZ" => return serde_json::to_vec(&statsz(shared)).ok().map(Bytes::from),
        "VARZ" => json(to_value(varz::varz(shared))),
        "CONNZ" => json(connz::connz(shared, &connz_query(&body)).and_then(to_value)),
        "SUBSZ" => json(to_value(subsz::subsz(shared, &subsz_query(&body)))),
        "ROUTEZ" => json(to_value(routez::routez(
            shared,
            flag(&body, "subscriptions"),
            flag(&body, "subscriptions_detail"),
        ))),
        "GATEWAYZ" => json(to_value(varz::gatewayz(shared))),
        "JSZ" => {
            let query = jsz::Query {
                accounts: flag(&body, "accounts") || flag(&body, "streams"),
                streams: flag(&body, "streams"),
                config: flag(&body, "config"),
                account: text(&body, "account"),
                offset: field(&body, "offset")
                    .and_then(Value::as_u64)
                    .map_or(0, |n| n as usize),
                limit: field(&body, "limit")
                    .and_then(Value::as_u64)
                    .filter(|n| *n > 0)
                    .map_or(1024, |n| n as usize),
            };
            json(to_value(jsz::jsz(shared, &query)))
        }
        "LEAFZ" => json(to_value(varz::leafz(shared))),
        "ACCOUNTZ" => json(to_value(accountz::accountz(
            shared,
            &text(&body, "account"),
            flag(&body, "include_unused"),
        ))),
        "ACCSTATZ" => {
            let only: Vec<String> = field(&body, "accounts")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            json(to_value(accountz::accstatz(
                shared,
                &only,
                flag(&body, "include_unused"),
            )))
        }
        "HEALTHZ" => {
            let query: Vec<(String, String)> = body
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), String::from),
                    )
                })
                .collect();
            let encoded: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            let (code, mut status) = healthz::health(&Params::parse(Some(&encoded)));
            status.status_code = Some(code.as_u16());
            json(to_value(status))
        }
        // `IDZ` answers with the identity alone, unwrapped.
        // No Raft groups: JetStream here is not clustered.
        "RAFTZ" => Ok(Value::Object(serde_json::Map::new())),
        // nats-server's internal queues are Go's; rnats's internal
        // inboxes are per subscription (their drops are logged).
        "IPQUEUESZ" => Ok(Value::Object(serde_json::Map::new())),
        // Go's runtime figures do not exist here; the command line does,
        // and the process's resident memory stands for Go's `Sys`.
        "EXPVARZ" => Ok(serde_json::json!({
            "memstats": { "Sys": format::resident_memory() },
            "cmdline": std::env::args().collect::<Vec<_>>(),
        })),
        "PROFILEZ" => {
            let error = if text(&body, "name").is_empty() {
                "Profile name not specified"
            } else {
                "profiles are Go's: rnats-server has none"
            };
            Ok(serde_json::json!({ "profile": null, "error": error }))
        }
        "IDZ" => {
            let idz = Idz {
                name: shared.name.clone(),
                host: shared.opts().host.clone(),
                id: shared.id.clone(),
            };
            return serde_json::to_vec(&idz).ok().map(Bytes::from);
        }
        _ => return None,
    };
    respond(shared, answer)
}

fn to_value<T: Serialize>(value: T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| e.to_string())
}

/// The answer to `$SYS.REQ.ACCOUNT.<acc>.<Y>`.
fn account_request(shared: &Arc<ServerShared>, msg: &InboundMessage) -> Option<Bytes> {
    let subject = std::str::from_utf8(&msg.subject).ok()?;
    let rest = subject.strip_prefix("$SYS.REQ.ACCOUNT.")?;
    let (account, endpoint) = rest.rsplit_once('.')?;
    let body = match body(msg) {
        Ok(body) => body,
        Err(e) => return respond::<()>(shared, Err((400, e))),
    };
    let filter: Filter = serde_json::from_value(body.clone()).unwrap_or_default();
    if !filter.selects(shared) {
        return None;
    }
    if account == "PING" {
        return match endpoint {
            "STATZ" => server_request(shared, "ACCSTATZ", msg),
            "CONNZ" => server_request(shared, "CONNZ", msg),
            _ => None,
        };
    }
    let known: Option<Arc<Account>> = shared.accounts.get(account);
    let json = |v: Result<Value, String>| v.map_err(|e| (400, e));
    let answer = match (endpoint, known) {
        // Only a server where the account has connections answers.
        ("CONNS", Some(_)) => {
            let conns = super::account_num_conns(shared, account)?;
            if conns.stat.conns == 0 {
                return None;
            }
            return serde_json::to_vec(&conns).ok().map(Bytes::from);
        }
        ("CONNZ", _) => {
            let mut query = connz_query(&body);
            query.account = account.to_string();
            json(connz::connz(shared, &query).and_then(to_value))
        }
        ("SUBSZ", _) => {
            let mut query = subsz_query(&body);
            query.account = account.to_string();
            query.subs = true;
            json(to_value(subsz::subsz(shared, &query)))
        }
        ("INFO", Some(_)) => {
            let accountz = accountz::accountz(shared, account, false);
            json(to_value(accountz.account_detail))
        }
        ("STATZ", _) => {
            let unused = flag(&body, "include_unused");
            let statz = accountz::accstatz(shared, &[account.to_string()], unused);
            // As nats-server: a server where the account is idle stays
            // silent unless asked for unused accounts.
            if statz.account_statz.is_empty() && !unused {
                return None;
            }
            json(to_value(statz))
        }
        (_, None) => Err((404, format!("account {account:?} not found"))),
        _ => return None,
    };
    respond(shared, answer)
}

#[derive(Debug, Serialize)]
struct RuleJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    allow: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deny: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ResponsesJson {
    max: usize,
    /// Nanoseconds.
    ttl: i64,
}

#[derive(Debug, Serialize)]
struct PermissionsJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    publish: Option<RuleJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscribe: Option<RuleJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    responses: Option<ResponsesJson>,
}

/// nats-server's `UserInfo`: who is asking.
#[derive(Debug, Serialize)]
struct UserInfo {
    user: String,
    account: String,
    /// The account's name tag (its name, for configured accounts).
    account_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<PermissionsJson>,
}

/// `$SYS.REQ.USER.INFO`: the login of the connection that asks.
fn user_info(shared: &ServerShared, msg: &InboundMessage) -> Option<Bytes> {
    let client = shared
        .clients()
        .into_iter()
        .find(|c| c.id == msg.publisher)?;
    let details = client.details()?;
    let rule = |r: &crate::auth::permissions::Rule| RuleJson {
        allow: r.allowed(),
        deny: r.denied(),
    };
    let permissions = client.permissions().map(|p| PermissionsJson {
        publish: p.publish.as_ref().map(rule),
        subscribe: p.subscribe.as_ref().map(rule),
        responses: p.responses.as_ref().map(|r| ResponsesJson {
            max: r.max,
            ttl: r.expires.map_or(0, format::nanos),
        }),
    });
    let account = details
        .account
        .clone()
        .unwrap_or_else(|| crate::accounts::GLOBAL_ACCOUNT.to_string());
    let info = UserInfo {
        user: details.user.clone().unwrap_or_default(),
        account_name: account.clone(),
        account,
        permissions,
    };
    respond(shared, Ok::<_, (u16, String)>(info))
}

/// Subscribes the services in the system account `sys`.
pub(super) fn serve(shared: &Arc<ServerShared>, sys: &Arc<Account>) -> Result<(), SubscribeError> {
    let system = &shared.system;
    let weak: Weak<ServerShared> = Arc::downgrade(shared);
    {
        let weak = weak.clone();
        system.serve(sys, "$SYS.REQ.SERVER.PING", None, move |msg| {
            let shared = weak.upgrade()?;
            server_request(&shared, "STATSZ", msg)
        })?;
    }
    for endpoint in SERVER_ENDPOINTS {
        for subject in [
            format!("$SYS.REQ.SERVER.PING.{endpoint}"),
            format!("$SYS.REQ.SERVER.{}.{endpoint}", shared.id),
        ] {
            let weak = weak.clone();
            system.serve(sys, &subject, None, move |msg| {
                let shared = weak.upgrade()?;
                server_request(&shared, endpoint, msg)
            })?;
        }
    }
    // Asked through each account's import (`$SYS.REQ.USER.INFO` mapped to
    // `$SYS.REQ.USER.<account>.INFO`, see `accounts::add_system_imports`),
    // and answered by the server the asking connection is on only: the
    // cluster does not hear of this subscription.
    // Without the import (a system account unknown at start), its own
    // users ask it directly.
    let imported = sys.routes().is_some_and(|r| {
        r.services
            .iter()
            .any(|s| &*s.local == b"$SYS.REQ.USER.INFO")
    });
    let direct = (!imported).then_some("$SYS.REQ.USER.INFO");
    for subject in std::iter::once("$SYS.REQ.USER.*.INFO").chain(direct) {
        let weak = weak.clone();
        shared.system_local.serve(sys, subject, None, move |msg| {
            let shared = weak.upgrade()?;
            user_info(&shared, msg)
        })?;
    }
    for endpoint in ACCOUNT_ENDPOINTS {
        let weak = weak.clone();
        system.serve(
            sys,
            &format!("$SYS.REQ.ACCOUNT.*.{endpoint}"),
            None,
            move |msg| {
                let shared = weak.upgrade()?;
                account_request(&shared, msg)
            },
        )?;
    }
    Ok(())
}

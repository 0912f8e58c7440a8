//! The system account's events and services, as nats-server has them
//! (its `events.go`): what `nats server ping|info|list|report`, surveyors
//! and audit tools subscribe to and ask, answered with nats-server's JSON.
//!
//! - **Requests** (in the system account): `$SYS.REQ.SERVER.PING` (every
//!   server answers with its `STATSZ`), `$SYS.REQ.SERVER.PING.<X>` and
//!   `$SYS.REQ.SERVER.<id>.<X>` for `X` in `STATSZ`, `VARZ`, `CONNZ`,
//!   `SUBSZ`, `ROUTEZ`, `GATEWAYZ`, `LEAFZ`, `ACCOUNTZ`, `HEALTHZ`, `IDZ`,
//!   `ACCSTATZ`; `$SYS.REQ.ACCOUNT.<acc>.<Y>` for `Y` in `CONNZ`, `SUBSZ`,
//!   `INFO`, `CONNS`, `STATZ`, and `$SYS.REQ.ACCOUNT.PING.{STATZ,CONNZ}`.
//!   Each answer is `{"server":{...},"data":...}` (or `"error"`), the
//!   data the very JSON of the monitoring endpoint (`crate::monitor`). A
//!   request's JSON body takes the endpoint's options and nats-server's
//!   server filters (`server_name`, `cluster`, `host`, `exact_match`): a
//!   server they do not select stays silent.
//! - **Events**: `$SYS.ACCOUNT.<acc>.CONNECT` and `.DISCONNECT` for every
//!   client login and logout, `$SYS.SERVER.<id>.CLIENT.AUTH.ERR` for every
//!   refused login, `$SYS.ACCOUNT.<acc>.SERVER.CONNS` (and the older
//!   `$SYS.SERVER.ACCOUNT.<acc>.CONNS`, which servers follow) when an
//!   account's connection count here changes, and `$SYS.SERVER.<id>.STATSZ` every
//!   [`STATSZ_INTERVAL`].
//!
//! Everything goes through the server's internal client (`crate::system`):
//! no socket, no protocol bytes. In a cluster the requests' interest is
//! announced to the routes like any subscription's, so one request reaches
//! every server, rnats and nats-server alike.
//!
//! **Owns**: the `$SYS` subjects and their JSON. **May not touch**:
//! connections (it reads what monitoring reads).

pub mod requests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::Serialize;
use tracing::debug;

use crate::accounts::Account;
use crate::connection::Client;
use crate::monitor::accountz::DataStats;
use crate::monitor::format;
use crate::server::{COMPATIBLE_VERSION, ServerShared};
use crate::system::OutboundMessage;

/// How often a server publishes its `STATSZ` (nats-server's default).
pub const STATSZ_INTERVAL: Duration = Duration::from_secs(10);

/// nats-server's `ServerInfo`: who sends an event or an answer.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    pub name: String,
    pub host: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub ver: String,
    pub jetstream: bool,
    pub flags: u64,
    pub seq: u64,
    pub time: String,
}

/// Numbers every event and answer of this server in turn.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// This server, stamped with the next sequence number and the time.
pub fn server_info(shared: &ServerShared) -> ServerInfo {
    ServerInfo {
        name: shared.name.clone(),
        host: shared.opts().host.clone(),
        id: shared.id.clone(),
        cluster: shared.cluster.as_ref().map(|c| c.name()),
        ver: COMPATIBLE_VERSION.to_string(),
        jetstream: false,
        flags: 0,
        seq: SEQUENCE.fetch_add(1, Ordering::Relaxed) + 1,
        time: format::time(SystemTime::now()),
    }
}

/// nats-server's `TypedEvent` header of an advisory.
#[derive(Debug, Serialize)]
pub struct TypedEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub timestamp: String,
}

impl TypedEvent {
    fn new(kind: &'static str) -> Self {
        TypedEvent {
            kind,
            id: event_id(),
            timestamp: format::time(SystemTime::now()),
        }
    }
}

/// A unique event id, in the shape of nats-server's (22 base62 characters).
fn event_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..22)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// nats-server's `ClientInfo` in events.
#[derive(Debug, Default, Serialize)]
pub struct ClientInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub id: u64,
    #[serde(rename = "acc", skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(rename = "ver", skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub rtt: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_type: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ClientInfo {
    pub(crate) fn of(shared: &ServerShared, client: &Client, stopped: Option<SystemTime>) -> Self {
        let details = client.details();
        let details = details.as_deref();
        let text = |f: fn(&crate::connection::Details) -> Option<&String>| {
            details.and_then(f).cloned().unwrap_or_default()
        };
        ClientInfo {
            start: Some(format::time(client.started)),
            host: client.addr.ip().to_string(),
            id: client.id,
            account: text(|d| d.account.as_ref()),
            user: text(|d| d.user.as_ref()),
            name: text(|d| Some(&d.name)),
            lang: text(|d| Some(&d.lang)),
            version: text(|d| Some(&d.version)),
            rtt: u64::try_from(client.rtt().as_nanos()).unwrap_or(u64::MAX),
            server: shared.name.clone(),
            cluster: shared
                .cluster
                .as_ref()
                .map(|c| c.name())
                .unwrap_or_default(),
            stop: stopped.map(format::time),
            name_tag: text(|d| d.account.as_ref()),
            kind: "Client".into(),
            client_type: "nats".into(),
        }
    }
}

#[derive(Debug, Serialize)]
struct ConnectEventMsg {
    #[serde(flatten)]
    event: TypedEvent,
    server: ServerInfo,
    client: ClientInfo,
}

#[derive(Debug, Serialize)]
struct DisconnectEventMsg {
    #[serde(flatten)]
    event: TypedEvent,
    server: ServerInfo,
    client: ClientInfo,
    sent: DataStats,
    received: DataStats,
    reason: &'static str,
}

/// The system account, if the server has one.
pub fn system_account(shared: &ServerShared) -> Option<Arc<Account>> {
    shared.accounts.get(&shared.system_account_name()?)
}

/// Publishes `payload` as JSON on `subject` in the system account.
fn publish<T: Serialize>(shared: &ServerShared, subject: String, payload: &T) {
    let Some(sys) = system_account(shared) else {
        return;
    };
    let Ok(json) = serde_json::to_vec(payload) else {
        return;
    };
    let msg = OutboundMessage::new(Bytes::from(subject), Bytes::from(json));
    if let Err(e) = shared.system.publish(&sys, msg) {
        debug!("System event not sent: {e}");
    }
}

/// Whether anyone could hear events in the system account: no JSON is
/// built for a server whose system account has no subscriber but its own
/// services (and no route that might carry it on).
fn anyone_listening(shared: &ServerShared, subject: &str) -> bool {
    let Some(sys) = system_account(shared) else {
        return false;
    };
    let matches = sys.sublist.matches(subject.as_bytes());
    let own = shared.system.id();
    matches.plain.iter().any(|s| s.client.id != own)
        || matches
            .queues
            .iter()
            .any(|q| q.members.iter().any(|s| s.client.id != own))
}

/// A client logged in: `$SYS.ACCOUNT.<acc>.CONNECT`, and its account's
/// new connection count.
pub fn client_connected(shared: &ServerShared, client: &Client, account: &str) {
    let subject = format!("$SYS.ACCOUNT.{account}.CONNECT");
    if anyone_listening(shared, &subject) {
        let msg = ConnectEventMsg {
            event: TypedEvent::new("io.nats.server.advisory.v1.client_connect"),
            server: server_info(shared),
            client: ClientInfo::of(shared, client, None),
        };
        publish(shared, subject, &msg);
    }
    account_connections_changed(shared, account);
    ask_for_remote_connections(shared, account);
}

/// The first login to an account in a cluster asks the other servers for
/// their counts of its connections (answered on the subject of their
/// events, which [`track_remote_connections`] follows); later changes come
/// as events.
fn ask_for_remote_connections(shared: &ServerShared, account: &str) {
    let Some(acc) = shared.accounts.get(account) else {
        return;
    };
    if shared.cluster.is_none() || acc.remote_connections_asked.swap(true, Ordering::AcqRel) {
        return;
    }
    let Some(sys) = system_account(shared) else {
        return;
    };
    let msg = OutboundMessage::new(
        Bytes::from(format!("$SYS.REQ.ACCOUNT.{account}.CONNS")),
        Bytes::new(),
    )
    .with_reply(Bytes::from(format!("$SYS.SERVER.ACCOUNT.{account}.CONNS")));
    if let Err(e) = shared.system.publish(&sys, msg) {
        debug!("Could not ask for the cluster's connection counts: {e}");
    }
}

/// A logged-in client left: `$SYS.ACCOUNT.<acc>.DISCONNECT` with what it
/// sent and received and why it left.
pub fn client_disconnected(shared: &ServerShared, client: &Client, account: &str) {
    let subject = format!("$SYS.ACCOUNT.{account}.DISCONNECT");
    if anyone_listening(shared, &subject) {
        let msg = disconnect_event(shared, client, client.close_reason().as_str());
        publish(shared, subject, &msg);
    }
    account_connections_changed(shared, account);
}

/// A login was refused: `$SYS.SERVER.<id>.CLIENT.AUTH.ERR`, a disconnect
/// advisory whose reason is nats-server's `Authentication Failure`.
pub fn authentication_failed(shared: &ServerShared, client: &Client) {
    let subject = format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", shared.id);
    if !anyone_listening(shared, &subject) {
        return;
    }
    let reason = crate::connection::CloseReason::AuthenticationViolation.as_str();
    publish(shared, subject, &disconnect_event(shared, client, reason));
}

/// The disconnect advisory of `client`, which left for `reason`.
fn disconnect_event(
    shared: &ServerShared,
    client: &Client,
    reason: &'static str,
) -> DisconnectEventMsg {
    DisconnectEventMsg {
        event: TypedEvent::new("io.nats.server.advisory.v1.client_disconnect"),
        server: server_info(shared),
        client: ClientInfo::of(shared, client, Some(SystemTime::now())),
        sent: client.sent().into(),
        received: client.received.get().into(),
        reason,
    }
}

/// nats-server's `AccountNumConns`: an account's connections here.
#[derive(Debug, Serialize)]
pub struct AccountNumConns {
    #[serde(flatten)]
    pub event: TypedEvent,
    pub server: ServerInfo,
    #[serde(flatten)]
    pub stat: crate::monitor::accountz::AccountStat,
}

/// `$SYS.ACCOUNT.<acc>.SERVER.CONNS`, for the other servers' count of an
/// account's connections in the cluster.
fn account_connections_changed(shared: &ServerShared, account: &str) {
    // Sent on nats-server's current subject and on the older one, which is
    // the one its servers (and these) follow.
    let mut msg = None;
    for subject in [
        format!("$SYS.ACCOUNT.{account}.SERVER.CONNS"),
        format!("$SYS.SERVER.ACCOUNT.{account}.CONNS"),
    ] {
        if !anyone_listening(shared, &subject) {
            continue;
        }
        if msg.is_none() {
            msg = account_num_conns(shared, account);
        }
        if let Some(msg) = &msg {
            publish(shared, subject, msg);
        }
    }
}

/// The account's connection count message (None if no such account).
pub fn account_num_conns(shared: &ServerShared, account: &str) -> Option<AccountNumConns> {
    shared.accounts.get(account)?;
    let mut stats = crate::monitor::accountz::accstatz(shared, &[account.to_string()], true);
    let stat = stats.account_statz.pop()?;
    Some(AccountNumConns {
        event: TypedEvent::new("io.nats.server.advisory.v1.account_connections"),
        server: server_info(shared),
        stat,
    })
}

/// Follows the other servers' `$SYS.SERVER.ACCOUNT.<acc>.CONNS` events
/// (the older subject of the two they are sent on, which nats-server follows),
/// so that an account's connection limit counts its connections on every
/// server of the cluster (nats-server's and rnats's alike).
fn track_remote_connections(
    shared: &Arc<ServerShared>,
    sys: &Arc<Account>,
) -> Result<(), crate::system::SubscribeError> {
    #[derive(serde::Deserialize)]
    struct Server {
        id: String,
    }
    #[derive(serde::Deserialize)]
    struct Conns {
        server: Server,
        acc: String,
        #[serde(default)]
        conns: usize,
    }
    let mut events = shared
        .system
        .subscribe(sys, "$SYS.SERVER.ACCOUNT.*.CONNS", None)?;
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        while let Some(msg) = events.recv().await {
            let Some(shared) = weak.upgrade() else { return };
            let Ok(update) = serde_json::from_slice::<Conns>(&msg.payload) else {
                continue;
            };
            if update.server.id == shared.id {
                continue;
            }
            if let Some(account) = shared.accounts.get(&update.acc) {
                account.set_remote_connections(&update.server.id, update.conns);
                if let Some(trust) = shared.auth().trust() {
                    trust.rebalance(&update.acc);
                }
            }
        }
    });
    Ok(())
}

/// Starts the services and the periodic `STATSZ` of the system account
/// (nothing without one). They end with the server's internal client.
pub(crate) fn start(shared: &Arc<ServerShared>) {
    let Some(sys) = system_account(shared) else {
        return;
    };
    if let Err(e) = requests::serve(shared, &sys) {
        tracing::error!("Could not start the system account's services: {e}");
        return;
    }
    if let Err(e) = track_remote_connections(shared, &sys) {
        tracing::error!("Could not follow the cluster's connection counts: {e}");
    }
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(STATSZ_INTERVAL);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let Some(shared) = weak.upgrade() else { return };
            if shared.system.is_closed() {
                return;
            }
            let subject = format!("$SYS.SERVER.{}.STATSZ", shared.id);
            if anyone_listening(&shared, &subject) {
                publish(&shared, subject, &requests::statsz(&shared));
            }
        }
    });
}

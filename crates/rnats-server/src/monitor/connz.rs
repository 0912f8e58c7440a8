//! `/connz`: the client connections, open and recently closed, with
//! nats-server's paging (`offset`, `limit`), sorting (`sort=` any of its
//! keys; by cid ascending, every other descending), filters (`cid`,
//! `state=open|closed|any`, `user`, `acc`, `filter_subject`) and details
//! (`subs=1|detail`, `auth=1`).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{Params, format};
use crate::accounts::GLOBAL_ACCOUNT;
use crate::connection::closed::{Closed, ClosedSub, Snapshot};
use crate::connection::{Client, Details};
use crate::server::ServerShared;

/// nats-server's default page size.
pub const DEFAULT_LIMIT: usize = 1024;

/// The sort keys nats-server accepts.
const SORT_KEYS: &[&str] = &[
    "cid",
    "start",
    "subs",
    "pending",
    "msgs_to",
    "msgs_from",
    "bytes_to",
    "bytes_from",
    "last",
    "idle",
    "uptime",
    "stop",
    "reason",
    "rtt",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    #[default]
    Open,
    Closed,
    Any,
}

/// What a `/connz` request asks for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub sort: String,
    pub auth: bool,
    pub subs: bool,
    pub subs_detail: bool,
    pub offset: usize,
    pub limit: usize,
    pub cid: u64,
    pub state: State,
    pub user: String,
    pub account: String,
    pub filter_subject: String,
}

impl Query {
    /// From the URL's parameters, with nats-server's errors.
    pub fn from_params(params: &Params) -> Result<Query, String> {
        let auth = params.bool("auth")?;
        let (subs, subs_detail) = params.subs()?;
        let offset = params.int("offset")?;
        let limit = params.int("limit")?;
        let cid = params.uint("cid")?;
        let state = match params.get("state").to_ascii_lowercase().as_str() {
            "" | "open" => State::Open,
            "closed" => State::Closed,
            "any" | "all" => State::Any,
            _ => return Err(format!("Error decoding state for {}", params.get("state"))),
        };
        Ok(Query {
            sort: params.get("sort").to_string(),
            auth,
            subs,
            subs_detail,
            offset: usize::try_from(offset).unwrap_or(0),
            limit: usize::try_from(limit).unwrap_or(0),
            cid,
            state,
            user: params.get("user").to_string(),
            account: params.get("acc").to_string(),
            filter_subject: params.get("filter_subject").to_string(),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_tag: Option<String>,
    pub subject: String,
    #[serde(rename = "qgroup", skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    pub sid: String,
    pub msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub cid: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SubDetail {
    pub fn of(sub: &ClosedSub, cid: u64) -> Self {
        SubDetail {
            account: None,
            account_tag: None,
            subject: String::from_utf8_lossy(&sub.subject).into_owned(),
            queue: sub
                .queue
                .as_ref()
                .map(|q| String::from_utf8_lossy(q).into_owned()),
            sid: String::from_utf8_lossy(&sub.sid).into_owned(),
            msgs: sub.msgs,
            max: 0,
            cid,
        }
    }
}

/// One connection, nats-server's `ConnInfo`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnInfo {
    pub cid: u64,
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub conn_type: &'static str,
    pub ip: String,
    pub port: u16,
    pub start: String,
    pub last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt: Option<String>,
    pub uptime: String,
    pub idle: String,
    pub pending_bytes: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cipher_suite: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorized_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(rename = "subscriptions_list", skip_serializing_if = "Vec::is_empty")]
    pub subs: Vec<String>,
    #[serde(
        rename = "subscriptions_list_detail",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subs_detail: Vec<SubDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_tag: Option<String>,
    /// For sorting, not shown.
    #[serde(skip)]
    sort: SortValues,
}

/// What connections are sorted by.
#[derive(Debug, Clone, Copy, Default)]
struct SortValues {
    started: Option<SystemTime>,
    last: Option<SystemTime>,
    stopped: Option<SystemTime>,
    rtt: Duration,
}

#[derive(Debug, Serialize)]
pub struct Connz {
    pub server_id: String,
    pub now: String,
    pub num_connections: usize,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub connections: Vec<ConnInfo>,
}

/// A connection, open or closed, as the listing needs it.
struct Entry {
    snapshot: Snapshot,
    stopped: Option<(SystemTime, &'static str)>,
}

impl Entry {
    fn open(client: &Client) -> Entry {
        let snapshot = Snapshot::of(client);
        // After the snapshot: the PING is not this look's pending bytes.
        client.measure_rtt_if_unknown();
        Entry {
            snapshot,
            stopped: None,
        }
    }

    fn closed(c: &Closed) -> Entry {
        Entry {
            snapshot: c.snapshot.clone(),
            stopped: Some((c.stopped, c.reason.as_str())),
        }
    }

    fn account(&self) -> &str {
        self.snapshot
            .details
            .as_ref()
            .and_then(|d| d.account.as_deref())
            .unwrap_or(GLOBAL_ACCOUNT)
    }

    fn user(&self) -> &str {
        self.snapshot
            .details
            .as_ref()
            .and_then(|d| d.user.as_deref())
            .unwrap_or("")
    }

    fn info(&self, now: SystemTime, query: &Query) -> ConnInfo {
        let details = self.snapshot.details.as_deref();
        let text = |f: fn(&Details) -> &String| details.map(f).cloned().unwrap_or_default();
        let end = self.stopped.map_or(now, |(t, _)| t);
        let mut info = ConnInfo {
            cid: self.snapshot.id,
            kind: "Client",
            conn_type: "nats",
            ip: self.snapshot.addr.ip().to_string(),
            port: self.snapshot.addr.port(),
            start: format::time(self.snapshot.started),
            last_activity: format::time(self.snapshot.last_activity),
            stop: self.stopped.map(|(t, _)| format::time(t)),
            reason: self.stopped.map(|(_, r)| r),
            rtt: Some(format::go_duration(self.snapshot.rtt)),
            uptime: format::uptime(format::between(self.snapshot.started, end)),
            idle: format::uptime(format::between(self.snapshot.last_activity, end)),
            pending_bytes: self.snapshot.pending,
            in_msgs: self.snapshot.received.msgs,
            out_msgs: self.snapshot.sent.msgs,
            in_bytes: self.snapshot.received.bytes,
            out_bytes: self.snapshot.sent.bytes,
            subscriptions: self.snapshot.subs.len(),
            name: text(|d| &d.name),
            lang: text(|d| &d.lang),
            version: text(|d| &d.version),
            tls_version: self.snapshot.tls.as_ref().map(|t| t.0.clone()),
            tls_cipher_suite: self.snapshot.tls.as_ref().map(|t| t.1.clone()),
            authorized_user: None,
            account: None,
            subs: Vec::new(),
            subs_detail: Vec::new(),
            jwt: None,
            issuer_key: None,
            name_tag: None,
            sort: SortValues {
                started: Some(self.snapshot.started),
                last: Some(self.snapshot.last_activity),
                stopped: self.stopped.map(|(t, _)| t),
                rtt: self.snapshot.rtt,
            },
        };
        if query.subs_detail {
            info.subs_detail = self
                .snapshot
                .subs
                .iter()
                .map(|s| SubDetail::of(s, self.snapshot.id))
                .collect();
        } else if query.subs {
            info.subs = self
                .snapshot
                .subs
                .iter()
                .map(|s| String::from_utf8_lossy(&s.subject).into_owned())
                .collect();
        }
        if query.auth {
            info.authorized_user = Some(self.user().to_string()).filter(|u| !u.is_empty());
            let account = self.account();
            if account != GLOBAL_ACCOUNT {
                info.account = Some(account.to_string());
                info.name_tag = Some(account.to_string());
            }
            info.jwt = details.and_then(|d| d.jwt.clone());
            info.issuer_key = details.and_then(|d| d.issuer_key.clone());
        }
        info
    }
}

/// The server's `/connz` for `query`; an error (for a 400) on a sort key
/// it does not know or one that needs closed connections.
pub fn connz(shared: &ServerShared, query: &Query) -> Result<Connz, String> {
    let sort = if query.sort.is_empty() {
        "cid"
    } else {
        query.sort.as_str()
    };
    if !SORT_KEYS.contains(&sort) {
        return Err(format!("invalid sorting option: {sort}"));
    }
    if sort == "stop" && query.state != State::Closed {
        return Err("sort by stop only valid on closed connections".into());
    }
    if sort == "reason" && query.state != State::Closed {
        return Err("sort by reason only valid on closed connections".into());
    }
    let filter = match query.filter_subject.as_str() {
        "" | ">" => None,
        _ if query.account.is_empty() => {
            return Err("filter by subject only valid with account filtering".into());
        }
        subject => Some(subject.as_bytes()),
    };
    let mut limit = if query.limit == 0 {
        DEFAULT_LIMIT
    } else {
        query.limit
    };
    if query.cid > 0 {
        limit = 1;
    }
    let now = SystemTime::now();
    let mut entries: Vec<Entry> = Vec::new();
    if matches!(query.state, State::Open | State::Any) {
        let mut clients = shared.clients();
        clients.retain(|c| !c.is_route && (query.cid == 0 || c.id == query.cid));
        entries.extend(clients.iter().map(|c| Entry::open(c)));
    }
    let found_open = query.cid > 0 && !entries.is_empty();
    if matches!(query.state, State::Closed | State::Any) && !found_open {
        let closed = shared.closed.list();
        entries.extend(
            closed
                .iter()
                .filter(|c| query.cid == 0 || c.snapshot.id == query.cid)
                .map(|c| Entry::closed(c)),
        );
    }
    entries.retain(|e| {
        (query.account.is_empty() || e.account() == query.account)
            && (query.user.is_empty() || e.user() == query.user)
            && filter.is_none_or(|f| {
                e.snapshot
                    .subs
                    .iter()
                    .any(|s| rnats_proto::subject::subjects_collide(f, &s.subject))
            })
    });
    let total = entries.len();
    let mut infos: Vec<ConnInfo> = entries.iter().map(|e| e.info(now, query)).collect();
    sort_infos(&mut infos, sort, now);
    let connections: Vec<ConnInfo> = infos.into_iter().skip(query.offset).take(limit).collect();
    Ok(Connz {
        server_id: shared.id.clone(),
        now: format::time(now),
        num_connections: connections.len(),
        total,
        offset: query.offset,
        limit,
        connections,
    })
}

/// By cid (or start) ascending; every other key descending, as
/// nats-server sorts.
fn sort_infos(infos: &mut [ConnInfo], sort: &str, now: SystemTime) {
    let age = |t: Option<SystemTime>| t.map_or(Duration::ZERO, |t| format::between(t, now));
    match sort {
        "cid" | "start" => infos.sort_by_key(|c| c.cid),
        "subs" => infos.sort_by_key(|c| std::cmp::Reverse(c.subscriptions)),
        "pending" => infos.sort_by_key(|c| std::cmp::Reverse(c.pending_bytes)),
        "msgs_to" => infos.sort_by_key(|c| std::cmp::Reverse(c.out_msgs)),
        "msgs_from" => infos.sort_by_key(|c| std::cmp::Reverse(c.in_msgs)),
        "bytes_to" => infos.sort_by_key(|c| std::cmp::Reverse(c.out_bytes)),
        "bytes_from" => infos.sort_by_key(|c| std::cmp::Reverse(c.in_bytes)),
        "last" => infos.sort_by_key(|c| std::cmp::Reverse(c.sort.last)),
        "idle" => infos.sort_by_key(|c| std::cmp::Reverse(age(c.sort.last))),
        "uptime" => infos.sort_by_key(|c| std::cmp::Reverse(age(c.sort.started))),
        "stop" => infos.sort_by_key(|c| std::cmp::Reverse(c.sort.stopped)),
        "reason" => infos.sort_by(|a, b| b.reason.cmp(&a.reason)),
        "rtt" => infos.sort_by_key(|c| std::cmp::Reverse(c.sort.rtt)),
        _ => {}
    }
}

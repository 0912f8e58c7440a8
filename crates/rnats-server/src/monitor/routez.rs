//! `/routez`: the cluster's routes, with their traffic and (`subs=1`,
//! `subs=detail`) the interest each peer registered here.

use std::collections::HashMap;
use std::time::SystemTime;

use serde::Serialize;

use super::connz::SubDetail;
use super::format;
use crate::connection::closed::ClosedSub;
use crate::options::SubjectRuleConfig;
use crate::server::ServerShared;

/// nats-server's `SubjectPermission`.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectPermission {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl From<&SubjectRuleConfig> for SubjectPermission {
    fn from(rule: &SubjectRuleConfig) -> Self {
        SubjectPermission {
            allow: rule.allow.clone(),
            deny: rule.deny.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RouteInfo {
    pub rid: u64,
    pub remote_id: String,
    pub remote_name: String,
    pub did_solicit: bool,
    pub is_configured: bool,
    pub ip: String,
    pub port: u16,
    pub start: String,
    pub last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt: Option<String>,
    pub uptime: String,
    pub idle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<SubjectPermission>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<SubjectPermission>,
    pub pending_size: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub subscriptions: usize,
    #[serde(rename = "subscriptions_list", skip_serializing_if = "Vec::is_empty")]
    pub subs: Vec<String>,
    #[serde(
        rename = "subscriptions_list_detail",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subs_detail: Vec<SubDetail>,
}

#[derive(Debug, Serialize)]
pub struct Routez {
    pub server_id: String,
    pub server_name: String,
    pub now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<SubjectPermission>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<SubjectPermission>,
    pub num_routes: usize,
    pub routes: Vec<RouteInfo>,
}

/// The server's `/routez`.
pub fn routez(shared: &ServerShared, subs: bool, detail: bool) -> Routez {
    let now = SystemTime::now();
    let mut routez = Routez {
        server_id: shared.id.clone(),
        server_name: shared.name.clone(),
        now: format::time(now),
        import: None,
        export: None,
        num_routes: 0,
        routes: Vec::new(),
    };
    let Some(cluster) = &shared.cluster else {
        return routez;
    };
    let opts = cluster.opts();
    if let Some(perms) = &opts.permissions {
        routez.import = perms.import.as_ref().map(SubjectPermission::from);
        routez.export = perms.export.as_ref().map(SubjectPermission::from);
    }
    let routes = cluster.routes();
    // A peer's interest is in the accounts' indexes, not in the route's
    // table of subscriptions: one walk finds it for every route.
    let mut interest: HashMap<u64, Vec<ClosedSub>> =
        routes.iter().map(|r| (r.client.id, Vec::new())).collect();
    for account in shared.accounts.all() {
        account.sublist.for_each(|sub| {
            if sub.is_route()
                && let Some(list) = interest.get_mut(&sub.client.id)
            {
                list.push(ClosedSub::of(sub));
            }
        });
    }
    for route in routes {
        let client = &route.client;
        let details = client.details();
        let route_subs = interest.remove(&client.id).unwrap_or_default();
        let last = client.last_activity();
        let received = client.received.get();
        let sent = client.sent();
        routez.routes.push(RouteInfo {
            rid: client.id,
            remote_id: route.remote_id.clone(),
            remote_name: details.map(|d| d.name.clone()).unwrap_or_default(),
            did_solicit: route.solicited,
            is_configured: route.configured,
            ip: client.addr.ip().to_string(),
            port: client.addr.port(),
            start: format::time(client.started),
            last_activity: format::time(last),
            rtt: Some(format::go_duration(client.rtt())),
            uptime: format::uptime(format::between(client.started, now)),
            idle: format::uptime(format::between(last, now)),
            import: routez.import.clone(),
            export: routez.export.clone(),
            pending_size: client.pending_bytes(),
            in_msgs: received.msgs,
            out_msgs: sent.msgs,
            in_bytes: received.bytes,
            out_bytes: sent.bytes,
            subscriptions: route_subs.len(),
            subs: match subs && !detail {
                true => route_subs
                    .iter()
                    .map(|s| String::from_utf8_lossy(&s.subject).into_owned())
                    .collect(),
                false => Vec::new(),
            },
            subs_detail: match detail {
                true => route_subs
                    .iter()
                    .map(|s| SubDetail::of(s, client.id))
                    .collect(),
                false => Vec::new(),
            },
        });
    }
    routez.num_routes = routez.routes.len();
    routez
}

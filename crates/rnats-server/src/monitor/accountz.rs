//! `/accountz` (the accounts, or one in detail with `acc=`) and
//! `/accstatz` (each account's connections and traffic on this server).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::format;
use super::subsz::SublistStats;
use crate::accounts::Account;
use crate::options::{AccountConfig, ExportKind};
use crate::server::ServerShared;
use crate::stats::Counts;

/// nats-server's `DataStats`: messages and bytes, with the part that went
/// over routes (and gateways and leaf nodes, which rnats has not).
#[derive(Debug, Default, Clone, Serialize)]
pub struct DataStats {
    pub msgs: u64,
    pub bytes: u64,
    /// Shown by `/accstatz`, left out of events and `STATSZ` (as
    /// nats-server leaves them out when it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateways: Option<MsgBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<MsgBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leafs: Option<MsgBytes>,
}

impl From<Counts> for DataStats {
    /// Messages and bytes alone, as events and `STATSZ` report them.
    fn from(counts: Counts) -> Self {
        DataStats {
            msgs: counts.msgs,
            bytes: counts.bytes,
            ..DataStats::default()
        }
    }
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct MsgBytes {
    pub msgs: u64,
    pub bytes: u64,
}

/// nats-server's `AccountStat`.
#[derive(Debug, Clone, Serialize)]
pub struct AccountStat {
    pub acc: String,
    pub name: String,
    pub conns: usize,
    pub leafnodes: usize,
    pub total_conns: usize,
    pub num_subscriptions: usize,
    pub sent: DataStats,
    pub received: DataStats,
    pub slow_consumers: u64,
}

#[derive(Debug, Serialize)]
pub struct AccountStatz {
    pub server_id: String,
    pub now: String,
    pub account_statz: Vec<AccountStat>,
}

/// Client connections per account name.
pub fn connections_by_account(shared: &ServerShared) -> HashMap<String, usize> {
    by_account(shared)
        .into_iter()
        .map(|(name, (conns, _))| (name, conns))
        .collect()
}

/// Per account name: its client connections here, and what was sent to
/// them since they connected.
fn by_account(shared: &ServerShared) -> HashMap<String, (usize, Counts)> {
    let mut counts: HashMap<String, (usize, Counts)> = HashMap::new();
    for client in shared.clients() {
        if let Some(account) = client.details().and_then(|d| d.account.clone()) {
            let entry = counts.entry(account).or_default();
            let sent = client.sent();
            entry.0 += 1;
            entry.1.msgs += sent.msgs;
            entry.1.bytes += sent.bytes;
        }
    }
    counts
}

/// An account's logged-in connections here and what was sent to them.
fn members_of(account: &Account) -> (usize, Counts) {
    let members = account.members();
    let mut sent = Counts::default();
    for client in &members {
        let s = client.sent();
        sent.msgs += s.msgs;
        sent.bytes += s.bytes;
    }
    (members.len(), sent)
}

/// One account's statistics; `conns` and `open_sent` are its open client
/// connections here and what was sent to them (see [`by_account`]).
/// `sent` counts the messages its clients were sent, `received` those they
/// published (their parts over routes, gateways and leaf nodes are not
/// counted per account: zero).
pub fn account_stat(account: &Account, conns: usize, open_sent: Counts) -> AccountStat {
    let stats = &account.stats;
    let mut sent = stats.sent_to_closed.get();
    sent.msgs += open_sent.msgs;
    sent.bytes += open_sent.bytes;
    let received = stats.received.get();
    AccountStat {
        acc: account.name.clone(),
        name: account.name.clone(),
        conns,
        leafnodes: 0,
        total_conns: conns,
        num_subscriptions: account.sublist.count(),
        sent: DataStats {
            msgs: sent.msgs,
            bytes: sent.bytes,
            gateways: Some(MsgBytes::default()),
            routes: Some(MsgBytes::default()),
            leafs: Some(MsgBytes::default()),
        },
        received: DataStats {
            msgs: received.msgs,
            bytes: received.bytes,
            gateways: Some(MsgBytes::default()),
            routes: Some(MsgBytes::default()),
            leafs: Some(MsgBytes::default()),
        },
        slow_consumers: stats.slow_consumers.get(),
    }
}

/// `/accstatz`: the accounts named in `only` (all when empty), those with
/// no connection here only with `unused`.
pub fn accstatz(shared: &ServerShared, only: &[String], unused: bool) -> AccountStatz {
    // All accounts: one walk of the connections. Named ones: only theirs
    // (a login's connection count event asks for one account).
    let here = only.is_empty().then(|| by_account(shared));
    let accounts = match only {
        [] => shared.accounts.all(),
        names => names
            .iter()
            .filter_map(|n| shared.accounts.get(n))
            .collect(),
    };
    let account_statz = accounts
        .iter()
        .filter_map(|a| {
            let (n, sent) = match &here {
                Some(here) => here.get(&a.name).copied().unwrap_or_default(),
                None => members_of(a),
            };
            (unused || n > 0).then(|| account_stat(a, n, sent))
        })
        .collect();
    AccountStatz {
        server_id: shared.id.clone(),
        now: format::time(SystemTime::now()),
        account_statz,
    }
}

#[derive(Debug, Serialize)]
pub struct Import {
    pub subject: String,
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_subject: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub invalid: bool,
    pub share: bool,
    pub tracking: bool,
}

#[derive(Debug, Serialize)]
pub struct Export {
    pub subject: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Services: `Singleton`, `Streamed` or `Chunked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approved_accounts: Vec<String>,
}

/// nats-server's `AccountInfo`, what rnats knows of it.
#[derive(Debug, Serialize)]
pub struct AccountInfo {
    pub account_name: String,
    pub update_time: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_system: bool,
    pub expired: bool,
    pub complete: bool,
    pub jetstream_enabled: bool,
    pub leafnode_connections: usize,
    pub client_connections: usize,
    pub subscriptions: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<Export>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<Import>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    /// Who signed its JWT: the operator or one of its signing keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_key: Option<String>,
    pub name_tag: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Its JWT's claims, decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded_jwt: Option<serde_json::Value>,
    /// Users its JWT revokes: who, and the time before which their JWTs
    /// are refused.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub revoked_user: BTreeMap<String, String>,
    pub sublist_stats: SublistStats,
}

#[derive(Debug, Serialize)]
pub struct Accountz {
    pub server_id: String,
    pub now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_account: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_detail: Option<AccountInfo>,
}

fn kind(kind: &ExportKind) -> &'static str {
    match kind {
        ExportKind::Stream => "stream",
        ExportKind::Service => "service",
    }
}

/// `/accountz`: every account's name, or with `acc` that account in detail
/// (with `unused`, the list includes accounts with no connection; rnats
/// lists every account it has, as nats-server does for configured ones).
pub fn accountz(shared: &ServerShared, acc: &str, _unused: bool) -> Accountz {
    let mut accountz = Accountz {
        server_id: shared.id.clone(),
        now: format::time(SystemTime::now()),
        system_account: shared.system_account_name(),
        accounts: Vec::new(),
        account_detail: None,
    };
    if acc.is_empty() {
        accountz.accounts = shared
            .accounts
            .all()
            .iter()
            .map(|a| a.name.clone())
            .collect();
        return accountz;
    }
    let Some(account) = shared.accounts.get(acc) else {
        return accountz;
    };
    let configs = shared.account_configs();
    let config = configs.iter().find(|c| c.name == acc);
    let conns = connections_by_account(shared);
    // An account of the operator's: what its JWT says.
    let trust = shared.auth().trust().cloned();
    let claims = trust
        .as_ref()
        .and_then(|t| t.known(acc))
        .map(|a| a.claims());
    let revoked_user = claims.as_ref().map_or_else(BTreeMap::new, |c| {
        c.nats
            .revocations
            .iter()
            .map(|(user, at)| {
                let at = SystemTime::UNIX_EPOCH + Duration::from_secs((*at).max(0) as u64);
                (user.clone(), format::time(at))
            })
            .collect()
    });
    accountz.account_detail = Some(AccountInfo {
        account_name: account.name.clone(),
        update_time: format::time(shared.config_loaded()),
        is_system: accountz.system_account.as_deref() == Some(acc),
        expired: claims
            .as_ref()
            .is_some_and(|c| c.is_expired_at(crate::auth::trust::now_unix())),
        complete: true,
        jetstream_enabled: shared.jetstream.get().is_some_and(|js| js.is_enabled(acc)),
        leafnode_connections: 0,
        client_connections: conns.get(acc).copied().unwrap_or(0),
        subscriptions: account.sublist.count(),
        exports: config.map_or_else(Vec::new, exports),
        imports: config.map_or_else(Vec::new, imports),
        jwt: trust
            .as_ref()
            .and_then(|t| t.jwt_of(acc))
            .map(|j| j.to_string()),
        issuer_key: claims.as_ref().map(|c| c.issuer.clone()),
        name_tag: claims
            .as_ref()
            .map(|c| c.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| account.name.clone()),
        tags: claims
            .as_ref()
            .map_or_else(Vec::new, |c| c.nats.generic.tags.clone()),
        decoded_jwt: claims.as_ref().and_then(|c| decoded(c)),
        revoked_user,
        sublist_stats: SublistStats::of(account.sublist.stats()),
    });
    accountz
}

/// An account's claims as nats-server shows them: as its Go JWT library
/// encodes them, which always writes the (here empty) external
/// authorization block.
fn decoded(claims: &rnats_jwt::AccountClaims) -> Option<serde_json::Value> {
    let mut value = serde_json::to_value(claims).ok()?;
    if let Some(nats) = value.get_mut("nats").and_then(|n| n.as_object_mut()) {
        nats.entry("authorization")
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
    }
    Some(value)
}

fn exports(config: &AccountConfig) -> Vec<Export> {
    config
        .exports
        .iter()
        .map(|e| Export {
            subject: e.subject.clone(),
            kind: kind(&e.kind),
            response_type: (e.kind == ExportKind::Service).then(|| e.response.name()),
            approved_accounts: e.accounts.clone(),
        })
        .collect()
}

fn imports(config: &AccountConfig) -> Vec<Import> {
    config
        .imports
        .iter()
        .map(|i| {
            let local = match i.kind {
                ExportKind::Stream => i.prefix.as_ref().map(|p| format!("{p}.{}", i.subject)),
                ExportKind::Service => i.to.clone(),
            };
            Import {
                subject: i.subject.clone(),
                account: i.account.clone(),
                to: i.to.clone(),
                local_subject: Some(local.unwrap_or_else(|| i.subject.clone())),
                kind: kind(&i.kind),
                invalid: false,
                share: i.share,
                tracking: false,
            }
        })
        .collect()
}

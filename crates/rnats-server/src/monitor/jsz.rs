//! `/jsz`: JetStream's usage on this server and, with `accounts=true`, per
//! account (with `streams=true` their streams, with `config=true` the
//! streams' configurations), narrowed by `acc=` and paged by `offset` and
//! `limit`; and the `jetstream` block of `/varz`. Without JetStream, `/jsz`
//! says `disabled` as nats-server does.

use serde::Serialize;

use super::{Params, format};
use crate::server::ServerShared;

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub accounts: bool,
    pub streams: bool,
    pub config: bool,
    pub account: String,
    pub offset: usize,
    pub limit: usize,
}

/// nats-server's default page of account details.
const DEFAULT_LIMIT: usize = 1024;

impl Query {
    pub fn from_params(params: &Params) -> Result<Query, String> {
        let accounts = params.bool("accounts")?;
        let streams = params.bool("streams")?;
        let consumers = params.bool("consumers")?;
        let config = params.bool("config")?;
        params.bool("leader-only")?;
        params.bool("raft")?;
        let offset = params.int("offset")?;
        let limit = params.int("limit")?;
        Ok(Query {
            // Asking for streams (or consumers) implies accounts.
            accounts: accounts || streams || consumers,
            streams: streams || consumers,
            config,
            account: params.get("acc").to_string(),
            offset: usize::try_from(offset).unwrap_or(0),
            limit: match usize::try_from(limit) {
                Ok(0) | Err(_) => DEFAULT_LIMIT,
                Ok(n) => n,
            },
        })
    }
}

#[derive(Debug, Serialize, Clone, Copy, Default)]
pub struct ApiStats {
    pub level: u32,
    pub total: u64,
    pub errors: u64,
}

#[derive(Debug, Serialize, Default)]
pub struct JsConfig {
    pub max_memory: u64,
    pub max_storage: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub store_dir: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub sync_interval: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sync_always: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub unique_tag: String,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
pub struct JsLimits {
    pub default_max_consumers: i64,
}

#[derive(Debug, Serialize)]
pub struct StreamDetail {
    pub name: String,
    pub created: String,
    pub cluster: Cluster,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<rnats_jetstream::stream::StreamConfig>,
    pub state: rnats_jetstream::api::types::StreamState,
}

#[derive(Debug, Serialize)]
pub struct Cluster {
    pub leader: String,
}

#[derive(Debug, Serialize)]
pub struct AccountDetail {
    pub name: String,
    pub id: String,
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: usize,
    pub ha_assets: usize,
    pub api: ApiStats,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stream_detail: Vec<StreamDetail>,
}

#[derive(Debug, Serialize)]
pub struct JsInfo {
    #[serde(flatten)]
    pub stats: VarzStats,
    pub server_id: String,
    pub now: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<JsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<JsLimits>,
    pub streams: usize,
    pub consumers: usize,
    pub messages: u64,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_details: Vec<AccountDetail>,
    pub total: usize,
}

/// `/varz`'s `jetstream`: empty without JetStream.
#[derive(Debug, Serialize, Default)]
pub struct VarzJetStream {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<JsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<VarzStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<JsLimits>,
}

/// The usage numbers `/varz` shows under `stats` and `/jsz` at its top.
#[derive(Debug, Serialize, Default)]
pub struct VarzStats {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: usize,
    pub ha_assets: usize,
    pub api: ApiStats,
}

fn config(js: &rnats_jetstream::JetStream<crate::jetstream::ServerHost>) -> JsConfig {
    let c = js.config();
    let usage = js.usage();
    JsConfig {
        max_memory: usage.max_memory,
        max_storage: usage.max_store,
        store_dir: c.store_dir.join("jetstream").display().to_string(),
        sync_interval: format::nanos(c.sync_interval),
        sync_always: c.sync_always,
        domain: c.domain.clone().unwrap_or_default(),
        strict: c.strict,
        unique_tag: c.unique_tag.clone().unwrap_or_default(),
    }
}

fn limits() -> JsLimits {
    JsLimits {
        default_max_consumers: 1000,
    }
}

fn stats(u: &rnats_jetstream::Usage) -> VarzStats {
    VarzStats {
        memory: u.memory,
        storage: u.storage,
        reserved_memory: u.reserved_memory,
        reserved_storage: u.reserved_storage,
        accounts: u.accounts,
        ha_assets: 0,
        api: ApiStats {
            level: rnats_jetstream::API_LEVEL,
            total: u.api_total,
            errors: u.api_errors,
        },
    }
}

pub fn varz(shared: &ServerShared) -> VarzJetStream {
    let Some(js) = shared.jetstream.get() else {
        return VarzJetStream::default();
    };
    VarzJetStream {
        config: Some(config(js)),
        stats: Some(stats(&js.usage())),
        limits: Some(limits()),
    }
}

pub fn jsz(shared: &ServerShared, query: &Query) -> JsInfo {
    let now = format::time(std::time::SystemTime::now());
    let Some(js) = shared.jetstream.get() else {
        return JsInfo {
            stats: VarzStats::default(),
            server_id: shared.id.clone(),
            now,
            disabled: true,
            config: Some(JsConfig::default()),
            limits: None,
            streams: 0,
            consumers: 0,
            messages: 0,
            bytes: 0,
            account_details: Vec::new(),
            total: 0,
        };
    };
    let u = js.usage();
    let mut account_details = Vec::new();
    let mut total = u.accounts;
    if query.accounts {
        let reports: Vec<_> = js
            .account_reports(query.streams)
            .into_iter()
            .filter(|a| query.account.is_empty() || a.name == query.account)
            .collect();
        total = reports.len();
        account_details = reports
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .map(|a| AccountDetail {
                id: a.name.clone(),
                name: a.name,
                memory: a.memory,
                storage: a.storage,
                reserved_memory: a.reserved_memory,
                reserved_storage: a.reserved_storage,
                accounts: 0,
                ha_assets: 0,
                api: ApiStats {
                    level: 0,
                    total: a.api_total,
                    errors: a.api_errors,
                },
                stream_detail: a
                    .streams
                    .into_iter()
                    .map(|s| StreamDetail {
                        name: s.name,
                        created: rnats_jetstream::time::go_time(s.created),
                        cluster: Cluster {
                            leader: shared.name.clone(),
                        },
                        config: query.config.then_some(s.config),
                        state: s.state,
                    })
                    .collect(),
            })
            .collect();
    }
    JsInfo {
        stats: stats(&u),
        server_id: shared.id.clone(),
        now,
        disabled: false,
        config: Some(config(js)),
        limits: Some(limits()),
        streams: u.streams,
        consumers: u.consumers,
        messages: u.messages,
        bytes: u.bytes,
        account_details,
        total,
    }
}

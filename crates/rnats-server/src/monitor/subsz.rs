//! `/subsz` (also `/subscriptionsz`): the subscription indexes' counts
//! and, with `subs=1`, the subscriptions themselves (paged with `offset`
//! and `limit`, narrowed to one account with `acc=`, to those matching a
//! subject with `test=`).

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::connz::{DEFAULT_LIMIT, SubDetail};
use super::{Params, format};
use crate::connection::closed::ClosedSub;
use crate::server::ServerShared;
use crate::sublist;

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub subs: bool,
    pub offset: usize,
    pub limit: usize,
    pub account: String,
    pub test: String,
}

impl Query {
    pub fn from_params(params: &Params) -> Result<Query, String> {
        let subs = params.bool("subs")?;
        let offset = params.int("offset")?;
        let limit = params.int("limit")?;
        let test = params.get("test").to_string();
        if !test.is_empty() && !rnats_proto::subject::is_valid_literal_subject(test.as_bytes()) {
            return Err(format!(
                "invalid test subject, must be valid publish subject: {test}"
            ));
        }
        Ok(Query {
            subs,
            offset: usize::try_from(offset).unwrap_or(0),
            limit: usize::try_from(limit).unwrap_or(0),
            account: params.get("acc").to_string(),
            test,
        })
    }
}

/// nats-server's `SublistStats`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SublistStats {
    pub num_subscriptions: usize,
    pub num_cache: usize,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    #[serde(serialize_with = "super::format::go_float")]
    pub cache_hit_rate: f64,
    pub max_fanout: usize,
    #[serde(serialize_with = "super::format::go_float")]
    pub avg_fanout: f64,
}

impl SublistStats {
    pub fn of(stats: sublist::Stats) -> Self {
        SublistStats {
            num_subscriptions: stats.subscriptions,
            num_cache: stats.cached,
            num_inserts: stats.inserts,
            num_removes: stats.removes,
            num_matches: stats.lookups,
            cache_hit_rate: match stats.lookups {
                0 => 0.0,
                n => stats.cache_hits as f64 / n as f64,
            },
            max_fanout: stats.max_fanout,
            avg_fanout: stats.avg_fanout,
        }
    }

    /// Sums the indexes of several accounts, as nats-server's global view.
    fn add(&mut self, other: &SublistStats) {
        let cached = self.num_cache + other.num_cache;
        if cached > 0 {
            self.avg_fanout = (self.avg_fanout * self.num_cache as f64
                + other.avg_fanout * other.num_cache as f64)
                / cached as f64;
        }
        let hits = self.cache_hit_rate * self.num_matches as f64
            + other.cache_hit_rate * other.num_matches as f64;
        self.num_subscriptions += other.num_subscriptions;
        self.num_cache = cached;
        self.num_inserts += other.num_inserts;
        self.num_removes += other.num_removes;
        self.num_matches += other.num_matches;
        self.cache_hit_rate = match self.num_matches {
            0 => 0.0,
            n => hits / n as f64,
        };
        self.max_fanout = self.max_fanout.max(other.max_fanout);
    }
}

#[derive(Debug, Serialize)]
pub struct Subsz {
    pub server_id: String,
    pub now: String,
    #[serde(flatten)]
    pub stats: SublistStats,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    #[serde(rename = "subscriptions_list", skip_serializing_if = "Vec::is_empty")]
    pub subs: Vec<SubDetail>,
}

/// The server's `/subsz`.
pub fn subsz(shared: &ServerShared, query: &Query) -> Subsz {
    let accounts: Vec<_> = match query.account.as_str() {
        "" => shared.accounts.all(),
        name => shared.accounts.get(name).into_iter().collect(),
    };
    let mut stats = SublistStats::default();
    for account in &accounts {
        stats.add(&SublistStats::of(account.sublist.stats()));
    }
    let limit = if query.limit == 0 {
        DEFAULT_LIMIT
    } else {
        query.limit
    };
    let mut subs = Vec::new();
    let mut total = stats.num_subscriptions;
    if query.subs {
        for account in &accounts {
            let mut push = |sub: &Arc<crate::accounts::subscription::Subscription>| {
                let mut detail = SubDetail::of(&ClosedSub::of(sub), sub.client.id);
                detail.account = Some(account.name.clone());
                detail.account_tag = Some(account.name.clone());
                subs.push(detail);
            };
            match query.test.as_str() {
                "" => account.sublist.for_each(&mut push),
                test => {
                    let matches = account.sublist.matches(test.as_bytes());
                    matches.plain.iter().for_each(&mut push);
                    for group in &matches.queues {
                        group.members.iter().for_each(&mut push);
                    }
                }
            }
        }
        total = subs.len();
        subs = subs.into_iter().skip(query.offset).take(limit).collect();
    }
    Subsz {
        server_id: shared.id.clone(),
        now: format::time(SystemTime::now()),
        stats,
        total,
        offset: query.offset,
        limit,
        subs,
    }
}

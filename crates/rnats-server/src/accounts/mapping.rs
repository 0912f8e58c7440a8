//! An account's subject mappings (`mappings {}`, account JWT `mappings`):
//! which destination a published subject goes to, picked as nats-server
//! picks it (`selectMappedSubject`): the first mapping whose source
//! matches, in the order they were written; among its destinations, one
//! by weight (a cluster's own list when the mapping has one for the
//! cluster this server is in); the rest of 100% keeps the subject, unless
//! the source is itself listed as a destination, then the rest is dropped.
//!
//! Applied once, where a message enters the server from a client
//! (`client/session.rs`), before permissions and routing; messages from
//! routes were mapped by the server their client is on. An account
//! without mappings has none of this: [`super::Account::mappings`] is
//! `None`, checked with one atomic load.

use rand::Rng;
use rnats_proto::transform::{SubjectTransform, subset_match};

use std::sync::Arc;

use super::Account;
use crate::options::{MapDestination, MappingConfig};

/// The mappings of one account, replaced whole when they change.
#[derive(Debug)]
pub struct Mappings {
    entries: Vec<Mapping>,
}

#[derive(Debug)]
struct Mapping {
    source: Box<[u8]>,
    wildcard: bool,
    destinations: Vec<Destination>,
    /// Destinations for one cluster only.
    by_cluster: Vec<(String, Vec<Destination>)>,
}

#[derive(Debug)]
struct Destination {
    /// None: the message keeps its subject.
    transform: Option<SubjectTransform>,
    /// Upper bound (exclusive) of the random percentage that picks it.
    until: u8,
}

/// What a mapping did to a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapped {
    /// No mapping matched.
    NoMatch,
    /// A mapping matched and picked the subject itself.
    Unchanged,
    /// The new subject is in the caller's buffer.
    To,
    /// The mapping's weights left this message no destination: nats-server
    /// then publishes it to an empty subject, which nobody receives.
    Dropped,
}

impl Mappings {
    /// The mappings of an account, each checked as nats-server adds them
    /// (`MappingConfig::check`). None when there are none.
    pub fn build(configs: &[MappingConfig]) -> Result<Option<Mappings>, String> {
        if configs.is_empty() {
            return Ok(None);
        }
        let mut entries: Vec<Mapping> = Vec::with_capacity(configs.len());
        for config in configs {
            let mapping = Mapping::build(config)
                .map_err(|e| format!("Error adding mapping for {:?} : {e}", config.source))?;
            // A later mapping of the same source replaces the earlier one.
            match entries.iter_mut().find(|m| m.source == mapping.source) {
                Some(existing) => *existing = mapping,
                None => entries.push(mapping),
            }
        }
        Ok(Some(Mappings { entries }))
    }

    /// Maps `subject`: writes the new subject into `out` (cleared) and says
    /// so. `cluster` gives the name of this server's cluster, if it has
    /// one; it is asked only for a mapping with cluster-scoped weights.
    pub fn map(
        &self,
        subject: &[u8],
        cluster: impl FnOnce() -> Option<String>,
        out: &mut Vec<u8>,
    ) -> Mapped {
        // nats-server splits the subject into tokens only once a mapping
        // did not match it literally; a literal mapping matched first sees
        // no tokens, which `partition(n)` hashes as the empty subject.
        let mut tokenized = false;
        let Some(mapping) = self.entries.iter().find(|m| {
            if !m.wildcard && *m.source == *subject {
                return true;
            }
            tokenized = true;
            subset_match(subject, &m.source)
        }) else {
            return Mapped::NoMatch;
        };
        let mut destinations = &mapping.destinations;
        if !mapping.by_cluster.is_empty()
            && let Some(name) = cluster()
            && let Some((_, scoped)) = mapping.by_cluster.iter().find(|(c, _)| *c == name)
        {
            destinations = scoped;
        }
        let picked = match destinations.as_slice() {
            [only] if only.until == 100 => Some(only),
            all => {
                let w: u8 = rand::rng().random_range(0..100);
                all.iter().find(|d| w < d.until)
            }
        };
        match picked {
            None => {
                out.clear();
                Mapped::Dropped
            }
            Some(Destination {
                transform: None, ..
            }) => Mapped::Unchanged,
            Some(Destination {
                transform: Some(t), ..
            }) => {
                t.transform_into(if tokenized { subject } else { b"" }, out);
                Mapped::To
            }
        }
    }
}

/// A connection's copy of its account's mappings, taken again only when
/// they change (no lock, no reference count per message), and the last
/// subject no mapping matched: a publisher repeating a subject that is not
/// mapped pays a comparison of bytes.
#[derive(Debug, Default)]
pub struct MappingCache {
    generation: u64,
    mappings: Option<Arc<Mappings>>,
    last_miss: Option<Vec<u8>>,
    out: Vec<u8>,
}

impl MappingCache {
    /// The subject `subject` is mapped to in `account`, or None when it
    /// keeps its own. Empty when the mapping dropped it.
    pub fn map(
        &mut self,
        account: &Account,
        subject: &[u8],
        cluster: impl FnOnce() -> Option<String>,
    ) -> Option<&[u8]> {
        let generation = account.mappings_generation();
        if generation != self.generation {
            self.generation = generation;
            self.mappings = account.mappings();
            self.last_miss = None;
        }
        let mappings = self.mappings.as_ref()?;
        if self.last_miss.as_deref() == Some(subject) {
            return None;
        }
        match mappings.map(subject, cluster, &mut self.out) {
            Mapped::NoMatch => {
                let miss = self.last_miss.get_or_insert_with(Vec::new);
                miss.clear();
                miss.extend_from_slice(subject);
                None
            }
            Mapped::Unchanged => None,
            Mapped::To | Mapped::Dropped => Some(&self.out),
        }
    }
}

impl Mapping {
    fn build(config: &MappingConfig) -> Result<Mapping, String> {
        config.check()?;
        let source = config.source.as_str();
        let wildcard = !rnats_proto::subject::is_literal(source.as_bytes());
        let listed_itself = config.destinations.iter().any(|d| d.subject == source);
        let mut main = Vec::new();
        let mut by_cluster: Vec<(String, Vec<&MapDestination>)> = Vec::new();
        for d in &config.destinations {
            match &d.cluster {
                None => main.push(d),
                Some(c) => match by_cluster.iter_mut().find(|(name, _)| name == c) {
                    Some((_, list)) => list.push(d),
                    None => by_cluster.push((c.clone(), vec![d])),
                },
            }
        }
        let weigh = |list: Vec<&MapDestination>| -> Result<Vec<Destination>, String> {
            let mut weighted: Vec<(Option<SubjectTransform>, u8)> = Vec::new();
            for d in &list {
                let transform =
                    SubjectTransform::new(source, &d.subject).map_err(|e| e.to_string())?;
                weighted.push((Some(transform), d.weight));
            }
            let total: u8 = list.iter().map(|d| d.weight).sum();
            if total != 100 && !listed_itself {
                // The rest keeps its subject (nats-server maps the source to itself).
                let rest = if list.is_empty() { 100 } else { 100 - total };
                weighted.push((None, rest));
            }
            weighted.sort_by_key(|(_, w)| *w);
            let mut until = 0u8;
            Ok(weighted
                .into_iter()
                .map(|(transform, w)| {
                    until += w;
                    Destination { transform, until }
                })
                .collect())
        };
        let mut clusters = Vec::with_capacity(by_cluster.len());
        for (name, list) in by_cluster {
            clusters.push((name, weigh(list)?));
        }
        Ok(Mapping {
            source: source.as_bytes().into(),
            wildcard,
            destinations: weigh(main)?,
            by_cluster: clusters,
        })
    }
}

/// An account JWT's `mappings` (a weight of 0 is 100, as in nats' jwt).
/// nats-server skips the ones it cannot add, and so does this, with a
/// warning naming the account.
pub fn from_jwt(
    account: &str,
    mappings: &std::collections::BTreeMap<String, Vec<rnats_jwt::WeightedMapping>>,
) -> Option<Mappings> {
    let configs: Vec<MappingConfig> = jwt_configs(mappings)
        .into_iter()
        .filter(|c| match c.check() {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("Account {account}: mapping for {:?} skipped: {e}", c.source);
                false
            }
        })
        .collect();
    Mappings::build(&configs).ok().flatten()
}

fn jwt_configs(
    mappings: &std::collections::BTreeMap<String, Vec<rnats_jwt::WeightedMapping>>,
) -> Vec<MappingConfig> {
    mappings
        .iter()
        .map(|(source, destinations)| MappingConfig {
            source: source.clone(),
            destinations: destinations
                .iter()
                .map(|d| MapDestination {
                    subject: d.subject.clone(),
                    weight: d.weight(),
                    cluster: (!d.cluster.is_empty()).then(|| d.cluster.clone()),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(subject: &str, weight: u8, cluster: Option<&str>) -> MapDestination {
        MapDestination {
            subject: subject.into(),
            weight,
            cluster: cluster.map(Into::into),
        }
    }

    fn map(m: &Mappings, subject: &str, cluster: Option<&str>) -> Option<String> {
        let mut out = Vec::new();
        match m.map(subject.as_bytes(), || cluster.map(str::to_owned), &mut out) {
            Mapped::NoMatch | Mapped::Unchanged => Some(subject.to_owned()),
            Mapped::To => Some(String::from_utf8(out).unwrap()),
            Mapped::Dropped => None,
        }
    }

    #[test]
    fn first_matching_mapping_wins() {
        let m = Mappings::build(&[
            MappingConfig::simple("a.b", "literal"),
            MappingConfig::simple("a.*", "star.$1"),
            MappingConfig::simple("a.>", "full.>"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(map(&m, "a.b", None).unwrap(), "literal");
        assert_eq!(map(&m, "a.c", None).unwrap(), "star.c");
        assert_eq!(map(&m, "a.c.d", None).unwrap(), "full.c.d");
        assert_eq!(map(&m, "b", None).unwrap(), "b");
        assert!(Mappings::build(&[]).unwrap().is_none());
    }

    #[test]
    fn a_literal_mapping_matched_first_partitions_the_empty_subject() {
        let m = Mappings::build(&[MappingConfig::simple("foo", "p.{{partition(10)}}")])
            .unwrap()
            .unwrap();
        // FNV-1a("") = 2166136261, nats-server's answer here.
        assert_eq!(map(&m, "foo", None).unwrap(), "p.1");
        let m = Mappings::build(&[
            MappingConfig::simple("bar", "x"),
            MappingConfig::simple("foo", "p.{{partition(10)}}"),
        ])
        .unwrap()
        .unwrap();
        // FNV-1a("foo") = 2851307223.
        assert_eq!(map(&m, "foo", None).unwrap(), "p.3");
    }

    #[test]
    fn weights_and_the_rest() {
        let weighted = |dests: Vec<MapDestination>| {
            Mappings::build(&[MappingConfig {
                source: "s.*".into(),
                destinations: dests,
            }])
            .unwrap()
            .unwrap()
        };
        let count = |m: &Mappings, cluster: Option<&str>| {
            let mut counts = std::collections::HashMap::<Option<String>, u32>::new();
            for _ in 0..4000 {
                *counts.entry(map(m, "s.1", cluster)).or_default() += 1;
            }
            counts
        };
        let m = weighted(vec![dest("x.$1", 30, None)]);
        let counts = count(&m, None);
        let x = counts[&Some("x.1".to_owned())];
        let same = counts[&Some("s.1".to_owned())];
        assert_eq!(x + same, 4000);
        assert!((900..1500).contains(&x), "{counts:?}");
        // The source listed itself (a literal one): the rest is dropped.
        let m = Mappings::build(&[MappingConfig {
            source: "s.1".into(),
            destinations: vec![dest("x", 30, None), dest("s.1", 20, None)],
        }])
        .unwrap()
        .unwrap();
        let counts = count(&m, None);
        assert_eq!(counts.values().sum::<u32>(), 4000);
        assert!((1600..2400).contains(&counts[&None]), "{counts:?}");
        assert!(
            (600..1000).contains(&counts[&Some("s.1".to_owned())]),
            "{counts:?}"
        );
        // Cluster-scoped weights, and the others' list elsewhere.
        let m = weighted(vec![
            dest("x.$1", 100, Some("east")),
            dest("y.$1", 100, None),
        ]);
        assert_eq!(count(&m, Some("east")).len(), 1);
        assert_eq!(map(&m, "s.1", Some("east")).unwrap(), "x.1");
        assert_eq!(map(&m, "s.1", Some("west")).unwrap(), "y.1");
        assert_eq!(map(&m, "s.1", None).unwrap(), "y.1");
        // Only a cluster's list: elsewhere the subject stays.
        let m = weighted(vec![dest("x.$1", 100, Some("east"))]);
        assert_eq!(map(&m, "s.1", Some("west")).unwrap(), "s.1");
    }

    #[test]
    fn a_connection_cache_follows_replaced_mappings() {
        let account = Account::new("A");
        let mut cache = MappingCache::default();
        let none = || None;
        assert_eq!(cache.map(&account, b"a.1", none), None);
        account.set_mappings(Mappings::build(&[MappingConfig::simple("a.*", "b.$1")]).unwrap());
        assert_eq!(cache.map(&account, b"a.1", none), Some(&b"b.1"[..]));
        // A miss is remembered, and forgotten when the mappings change.
        assert_eq!(cache.map(&account, b"x", none), None);
        assert_eq!(cache.map(&account, b"x", none), None);
        account.set_mappings(Mappings::build(&[MappingConfig::simple("x", "y")]).unwrap());
        assert_eq!(cache.map(&account, b"x", none), Some(&b"y"[..]));
        // The same account's mappings taken away, then another account.
        account.set_mappings(None);
        assert_eq!(cache.map(&account, b"x", none), None);
        let other = Account::new("B");
        other.set_mappings(Mappings::build(&[MappingConfig::simple("x", "z")]).unwrap());
        assert_eq!(cache.map(&other, b"x", none), Some(&b"z"[..]));
        // A weighted pick of the subject itself is not a miss: it is drawn
        // again for every message.
        let half = MappingConfig {
            source: "h".into(),
            destinations: vec![dest("k", 50, None)],
        };
        other.set_mappings(Mappings::build(&[half]).unwrap());
        let picks: std::collections::HashSet<Vec<u8>> = (0..200)
            .map(|_| cache.map(&other, b"h", none).unwrap_or(b"h").to_vec())
            .collect();
        assert_eq!(picks.len(), 2);
    }

    #[test]
    fn refused_as_nats_server_refuses() {
        let err = Mappings::build(&[MappingConfig {
            source: "a".into(),
            destinations: vec![dest("x", 60, None), dest("y", 50, None)],
        }])
        .unwrap_err();
        assert_eq!(
            err,
            "Error adding mapping for \"a\" : total weight needs to be <= 100"
        );
    }
}

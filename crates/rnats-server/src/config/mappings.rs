//! `mappings {}` (or `maps`), at the top level (the global account's) and
//! in an account: subject mappings, each `"source": "destination"`, one
//! `{destination, weight, cluster}` or a list of them, read and checked as
//! nats-server reads them (`parseAccountMappings`), with its messages,
//! each at the key it concerns.
//!
//! A shared layer: the top level (`mod.rs`) and `auth/accounts.rs` read
//! their `mappings` through it; it knows no block and reads through
//! `values.rs` only.

use rnats_conf::{MapEntry, Pos, Value, ValueKind};

use super::values::Reader;
use crate::options::{MapDestination, MappingConfig};

impl Reader {
    /// The `mappings` entry: its checked mappings (those with an error are
    /// reported and left out).
    pub(in crate::config) fn mappings(&mut self, entry: &MapEntry) -> Vec<MappingConfig> {
        let Some(map) = self.map(&entry.value) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in map {
            if e.used_as_variable {
                continue;
            }
            let source = &e.key;
            if !rnats_proto::subject::is_valid_subject(source.as_bytes()) {
                self.fail(
                    &entry.key_pos,
                    format!("Subject {source:?} is not a valid subject"),
                );
                continue;
            }
            let mapping = match &e.value.kind {
                ValueKind::String(destination) => {
                    let mapping = MappingConfig::simple(source.clone(), destination.clone());
                    if let Err(why) = check(&mapping) {
                        self.fail(
                            &e.key_pos,
                            format!(
                                "Error adding mapping for {source:?} to {destination:?} : {why}"
                            ),
                        );
                        continue;
                    }
                    mapping
                }
                kind => {
                    let items = match kind {
                        ValueKind::Array(items) => items.as_slice(),
                        _ => std::slice::from_ref(&e.value),
                    };
                    let destinations = items
                        .iter()
                        .filter_map(|item| self.map_destination(item, &e.key_pos))
                        .collect();
                    let mapping = MappingConfig {
                        source: source.clone(),
                        destinations,
                    };
                    if let Err(why) = check(&mapping) {
                        self.fail(
                            &e.key_pos,
                            format!("Error adding mapping for {source:?} : {why}"),
                        );
                        continue;
                    }
                    mapping
                }
            };
            out.push(mapping);
        }
        out
    }

    /// `{destination: "x.$1", weight: 80%, cluster: east}` (nats-server's
    /// `parseAccountMapDest`).
    fn map_destination(&mut self, item: &Value, source_pos: &Pos) -> Option<MapDestination> {
        let ValueKind::Map(map) = &item.kind else {
            self.fail(&item.pos, "Expected an entry for the mapping destination");
            return None;
        };
        let mut subject = String::new();
        let mut weight = None;
        let mut cluster = None;
        for e in map {
            match e.key.to_ascii_lowercase().as_str() {
                "dest" | "destination" => subject = self.string(&e.value)?,
                "weight" => weight = Some(self.weight(&e.value, &e.key_pos)?),
                "cluster" => cluster = Some(self.string(&e.value)?),
                _ => {
                    self.fail(
                        &e.key_pos,
                        format!("Unknown field {:?} for mapping destination", e.key),
                    );
                    return None;
                }
            }
        }
        let Some(weight) = weight else {
            self.fail(
                source_pos,
                format!("Missing weight for mapping destination {subject:?}"),
            );
            return None;
        };
        Some(MapDestination {
            subject,
            weight,
            cluster: cluster.filter(|c| !c.is_empty()),
        })
    }

    /// `weight: 80%`, `"80"` or `80`: a percentage from 0 to 100.
    fn weight(&mut self, value: &Value, at: &Pos) -> Option<u8> {
        let weight = match &value.kind {
            ValueKind::String(text) => {
                let digits = text.strip_suffix('%').unwrap_or(text);
                match go_atoi(digits) {
                    Some(n) => n,
                    None => {
                        self.fail(
                            at,
                            format!("Invalid weight {digits:?} for mapping destination"),
                        );
                        return None;
                    }
                }
            }
            ValueKind::Integer(n) => *n,
            _ => {
                self.fail(
                    at,
                    format!("Unknown entry type for weight of {}", go_value(value)),
                );
                return None;
            }
        };
        match u8::try_from(weight) {
            Ok(w) if w <= 100 => Some(w),
            _ => {
                self.fail(
                    at,
                    format!("Invalid weight {weight} for mapping destination"),
                );
                None
            }
        }
    }
}

/// nats-server's checks, and an empty destination refused: nats-server
/// takes it but cannot map a message with it.
fn check(mapping: &MappingConfig) -> Result<(), String> {
    if mapping.destinations.iter().any(|d| d.subject.is_empty()) {
        return Err("invalid mapping destination: invalid transform".into());
    }
    mapping.check()
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits.
fn go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.strip_prefix('+').unwrap_or(text).parse().ok()
}

/// A value as Go's `%v` prints it, for the one message that shows it.
fn go_value(value: &Value) -> String {
    match &value.kind {
        ValueKind::Bool(b) => b.to_string(),
        ValueKind::Float(f) => f.to_string(),
        ValueKind::Map(_) => "map[...]".into(),
        ValueKind::Array(_) => "[...]".into(),
        ValueKind::String(s) => s.clone(),
        ValueKind::Integer(n) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;
    use crate::options::{MapDestination, MappingConfig};

    fn dest(subject: &str, weight: u8, cluster: Option<&str>) -> MapDestination {
        MapDestination {
            subject: subject.into(),
            weight,
            cluster: cluster.map(Into::into),
        }
    }

    #[test]
    fn top_level_and_account_mappings() {
        let opts = options(
            r#"
            mappings {
              "foo": "bar"
              "a.*": [ {destination: "x.$1", weight: 80%}, {dest: "y.$1", weight: "15", cluster: c1} ]
              "b.*": {destination: "c.$1", weight: 50}
            }
            accounts { A { maps { "in.>": "out.>" } } }
            "#,
        );
        assert_eq!(
            opts.mappings,
            vec![
                MappingConfig::simple("foo", "bar"),
                MappingConfig {
                    source: "a.*".into(),
                    destinations: vec![dest("x.$1", 80, None), dest("y.$1", 15, Some("c1"))],
                },
                MappingConfig {
                    source: "b.*".into(),
                    destinations: vec![dest("c.$1", 50, None)],
                },
            ]
        );
        assert_eq!(
            opts.auth.accounts[0].mappings,
            vec![MappingConfig::simple("in.>", "out.>")]
        );
    }

    #[test]
    fn nats_server_messages() {
        for (text, message) in [
            (
                r#"mappings { "foo.*": "bar.$2" }"#,
                r#"nats.conf:1:12: Error adding mapping for "foo.*" to "bar.$2" : invalid mapping destination: wildcard index out of range in $2: [2]"#,
            ),
            (
                r#"mappings { "a": [{destination: "x", weight: 60}, {destination: "y", weight: 50}] }"#,
                r#"nats.conf:1:12: Error adding mapping for "a" : total weight needs to be <= 100"#,
            ),
            (
                r#"mappings { "a": [{destination: "x", weight: 60}, {destination: "x", weight: 10}] }"#,
                r#"nats.conf:1:12: Error adding mapping for "a" : duplicate entry for "x""#,
            ),
            (
                r#"mappings { "a": {destination: "x", weight: 101} }"#,
                "nats.conf:1:36: Invalid weight 101 for mapping destination",
            ),
            (
                r#"mappings { "a": {destination: "x", weight: "ten%"} }"#,
                r#"nats.conf:1:36: Invalid weight "ten" for mapping destination"#,
            ),
            (
                r#"mappings { "a": {destination: "x", size: 1} }"#,
                r#"nats.conf:1:36: Unknown field "size" for mapping destination"#,
            ),
            (
                r#"mappings { "a..b": "x" }"#,
                r#"nats.conf:1:1: Subject "a..b" is not a valid subject"#,
            ),
        ] {
            assert_eq!(error(text), message, "{text}");
        }
        assert_eq!(
            error(r#"mappings { "a": {destination: "x"} }"#),
            r#"nats.conf:1:12: Missing weight for mapping destination "x""#
        );
    }
}

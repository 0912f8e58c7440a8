//! `/metrics`: the monitoring data in the Prometheus text exposition
//! format (0.0.4), named as prometheus-nats-exporter names it, so the
//! dashboards and alerts written against that exporter keep working with
//! no exporter in between:
//!
//! - `gnatsd_varz_<field>{server_id}` for every numeric field of `/varz`,
//!   and `gnatsd_varz_{server_id,server_name,version}{server_id,value} 1`;
//! - `gnatsd_connz_{num_connections,total,offset,limit}` and the sums over
//!   connections `gnatsd_connz_{pending_bytes,subscriptions,in_msgs,
//!   out_msgs,in_bytes,out_bytes}`, as the exporter's `-connz` computes them;
//! - `gnatsd_routez_num_routes`, `gnatsd_subsz_<field>` for every numeric
//!   field of `/subsz`;
//! - per account, as the exporter's `-accstatz`:
//!   `gnatsd_accstatz_{current_connections,total_connections,subscriptions,
//!   leaf_nodes,sent_messages,sent_bytes,received_messages,received_bytes,
//!   slow_consumers}{server_id,account,account_id,account_name}`.
//!
//! Every family has `# HELP` and `# TYPE` lines (gauges, as the exporter
//! declares them, but the two named `..._total`, which are `untyped` since
//! they are not counters); label values are escaped as the format says.

use std::fmt::Write;

use serde_json::Value;

use super::{accountz, connz, routez, subsz, varz};
use crate::server::ServerShared;

/// Metric families in the order they are written.
struct Families {
    out: String,
}

impl Families {
    /// One family with its samples: each sample's labels and value.
    fn family(&mut self, name: &str, help: &str, samples: &[(Vec<(&str, String)>, f64)]) {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        // The exporter's `..._total` gauges (connz, subsz) are not counters;
        // typed as gauges the format's linters would object to the name.
        let kind = match name.ends_with("_total") {
            true => "untyped",
            false => "gauge",
        };
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            self.out.push_str(name);
            if !labels.is_empty() {
                self.out.push('{');
                for (i, (key, value)) in labels.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    let _ = write!(self.out, "{key}=\"{}\"", escape_label(value));
                }
                self.out.push('}');
            }
            let _ = writeln!(self.out, " {}", number(*value));
        }
    }

    /// A gauge per numeric top-level field of `json`, as the exporter's
    /// generic collector makes them.
    fn numeric_fields(&mut self, endpoint: &str, json: &Value, server_id: &str) {
        let Value::Object(fields) = json else { return };
        for (key, value) in fields {
            if let Some(n) = value.as_f64() {
                let name = format!("gnatsd_{endpoint}_{key}");
                self.family(
                    &name,
                    key,
                    &[(vec![("server_id", server_id.to_string())], n)],
                );
            }
        }
    }
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The whole exposition.
pub fn render(shared: &ServerShared) -> String {
    let id = shared.id.clone();
    let mut families = Families { out: String::new() };
    let server = || vec![("server_id", id.clone())];

    let varz = serde_json::to_value(varz::varz(shared)).unwrap_or_default();
    families.numeric_fields("varz", &varz, &id);
    for key in ["server_id", "server_name", "version"] {
        if let Some(text) = varz.get(key).and_then(Value::as_str) {
            families.family(
                &format!("gnatsd_varz_{key}"),
                key,
                &[(
                    vec![("server_id", id.clone()), ("value", text.to_string())],
                    1.0,
                )],
            );
        }
    }

    let query = connz::Query::default();
    if let Ok(connz) = connz::connz(shared, &query) {
        let sum = |f: fn(&connz::ConnInfo) -> f64| connz.connections.iter().map(f).sum::<f64>();
        let rows: [(&str, f64); 10] = [
            ("num_connections", connz.num_connections as f64),
            ("total", connz.total as f64),
            ("offset", connz.offset as f64),
            ("limit", connz.limit as f64),
            ("pending_bytes", sum(|c| c.pending_bytes as f64)),
            ("subscriptions", sum(|c| c.subscriptions as f64)),
            ("in_bytes", sum(|c| c.in_bytes as f64)),
            ("out_bytes", sum(|c| c.out_bytes as f64)),
            ("in_msgs", sum(|c| c.in_msgs as f64)),
            ("out_msgs", sum(|c| c.out_msgs as f64)),
        ];
        for (key, value) in rows {
            families.family(&format!("gnatsd_connz_{key}"), key, &[(server(), value)]);
        }
    }

    let routez = routez::routez(shared, false, false);
    families.family(
        "gnatsd_routez_num_routes",
        "num_routes",
        &[(server(), routez.num_routes as f64)],
    );

    let subsz =
        serde_json::to_value(subsz::subsz(shared, &subsz::Query::default())).unwrap_or_default();
    families.numeric_fields("subsz", &subsz, &id);

    let accounts = accountz::accstatz(shared, &[], true).account_statz;
    type Field = fn(&accountz::AccountStat) -> f64;
    let per_account: [(&str, Field); 9] = [
        ("current_connections", |a| a.conns as f64),
        ("total_connections", |a| a.total_conns as f64),
        ("subscriptions", |a| a.num_subscriptions as f64),
        ("leaf_nodes", |a| a.leafnodes as f64),
        ("sent_messages", |a| a.sent.msgs as f64),
        ("sent_bytes", |a| a.sent.bytes as f64),
        ("received_messages", |a| a.received.msgs as f64),
        ("received_bytes", |a| a.received.bytes as f64),
        ("slow_consumers", |a| a.slow_consumers as f64),
    ];
    for (key, field) in per_account {
        let samples: Vec<_> = accounts
            .iter()
            .map(|a| {
                let labels = vec![
                    ("server_id", id.clone()),
                    ("account", a.acc.clone()),
                    ("account_id", a.acc.clone()),
                    ("account_name", a.name.clone()),
                ];
                (labels, field(a))
            })
            .collect();
        families.family(&format!("gnatsd_accstatz_{key}"), key, &samples);
    }
    families.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn whole_numbers_have_no_fraction() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
    }
}

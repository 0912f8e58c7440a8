//! `rnats server list`: a table of every server that answers `$SYS.REQ.SERVER.PING`, with
//! totals, and a table of clusters when there are any, as `nats server list` prints them.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, ValueEnum};

use super::format::{Table, comma, human_duration, ibytes};
use super::json::ServerStatsMsg;
use super::{Common, PING_SUBJECT, decode, gather};
use crate::client::conn::Connection;
use crate::keys::Result;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Stop after this many servers have answered (default: as many as the first answer says
    /// the cluster has, else wait for --timeout).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,

    /// Sort the servers by this column.
    #[arg(long, value_enum, default_value = "rtt")]
    pub sort: SortKey,

    /// Reverse the sort.
    #[arg(short = 'R', long)]
    pub reverse: bool,

    /// Print the answers as JSON instead of a table.
    #[arg(short = 'j', long)]
    pub json: bool,

    #[command(flatten)]
    pub common: Common,
}

/// The columns `--sort` takes (largest first for counts, alphabetical for names, the
/// longest running first for uptime, the fastest first for rtt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortKey {
    Name,
    Cluster,
    #[value(alias = "conn")]
    Conns,
    #[value(alias = "sub")]
    Subs,
    #[value(alias = "route")]
    Routes,
    #[value(alias = "gw")]
    Gws,
    Mem,
    Cpu,
    Slow,
    Uptime,
    Rtt,
}

/// One server's answer.
struct Row {
    stats: ServerStatsMsg,
    rtt: Duration,
    /// The answer as it came, for `--json`.
    raw: serde_json::Value,
}

/// What the cluster table sums up per cluster.
#[derive(Default)]
struct Cluster {
    nodes: usize,
    gateways_out: usize,
    gateways_in: i64,
    connections: i64,
    route_counts: Vec<usize>,
}

pub fn run(args: &ListArgs) -> Result<()> {
    let rows = crate::client::block_on(async {
        let conn = Connection::open(&args.common.conn, "server list").await?;
        let mut expect = args.count.map(|n| n as usize);
        let answers = gather(
            &conn,
            PING_SUBJECT,
            Bytes::new(),
            args.common.timeout,
            |answers| {
                if let (None, [only]) = (expect, answers) {
                    let first: ServerStatsMsg = decode(&only.message)?;
                    if first.stats.active_servers > 0 {
                        expect = Some(first.stats.active_servers as usize);
                    }
                }
                Ok(expect == Some(answers.len()))
            },
        )
        .await?;
        answers
            .iter()
            .map(|a| {
                Ok(Row {
                    stats: decode(&a.message)?,
                    rtt: a.rtt,
                    raw: decode(&a.message)?,
                })
            })
            .collect::<Result<Vec<Row>>>()
    })?;
    if rows.is_empty() {
        return Err(super::NO_RESULTS.into());
    }
    if args.json {
        // Each answer as the server sent it, with the round-trip time in nanoseconds.
        let answers: Vec<serde_json::Value> = rows
            .into_iter()
            .map(|r| {
                let mut raw = r.raw;
                if let Some(object) = raw.as_object_mut() {
                    object.insert("rtt".into(), (r.rtt.as_nanos() as u64).into());
                }
                raw
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&answers).unwrap_or_default()
        );
        return Ok(());
    }
    print!("{}", render(rows, args.sort, args.reverse));
    Ok(())
}

/// The server table, then the cluster table if any server is in a cluster.
fn render(mut rows: Vec<Row>, sort: SortKey, reverse: bool) -> String {
    rows.sort_by(|a, b| {
        let order = compare(a, b, sort);
        if reverse { order.reverse() } else { order }
    });

    let mut clusters: BTreeMap<String, Cluster> = BTreeMap::new();
    let (mut connections, mut subs, mut memory, mut slow, mut js) = (0i64, 0u64, 0i64, 0i64, 0);
    for row in &rows {
        let (server, stats) = (&row.stats.server, &row.stats.stats);
        connections += stats.connections;
        subs += stats.num_subs;
        memory += stats.mem;
        slow += stats.slow_consumers;
        js += usize::from(server.jetstream);
        if !server.cluster.is_empty() {
            let cluster = clusters.entry(server.cluster.clone()).or_default();
            cluster.nodes += 1;
            cluster.connections += stats.connections;
            cluster.gateways_out += stats.gateways.len();
            cluster.gateways_in += stats.gateways.iter().map(|g| g.num_inbound).sum::<i64>();
            cluster.route_counts.push(stats.routes.len());
        }
    }

    let names = compact(rows.iter().map(|r| r.stats.server.name.clone()).collect());
    let hosts = compact(rows.iter().map(|r| r.stats.server.host.clone()).collect());
    let mark = |differs: bool| if differs { "X" } else { "" }.to_string();
    let Some(first) = rows.first().map(|r| &r.stats) else {
        return String::new();
    };
    let versions_differ = rows
        .iter()
        .any(|r| r.stats.server.version != first.server.version);
    let gateways_differ = rows
        .iter()
        .any(|r| r.stats.stats.gateways.len() != first.stats.gateways.len());
    let routes_differ = clusters
        .values()
        .any(|c| c.route_counts.iter().any(|&n| n != c.route_counts[0]));

    let mut table = Table::new(
        "Server Overview",
        &[
            "Name", "Cluster", "Host", "Version", "JS", "Conns", "Subs", "Routes", "GWs", "Mem",
            "CPU %", "Cores", "Slow", "Uptime", "RTT",
        ],
    );
    for (i, row) in rows.iter().enumerate() {
        let (server, stats) = (&row.stats.server, &row.stats.stats);
        let js = match (server.jetstream, server.domain.as_str()) {
            (false, _) => "no".to_string(),
            (true, "") => "yes".to_string(),
            (true, domain) => domain.to_string(),
        };
        let uptime = match (server.time, stats.start) {
            (Some(now), Some(start)) => human_duration((now - start).to_std().unwrap_or_default()),
            _ => String::new(),
        };
        table.row(vec![
            names[i].clone(),
            server.cluster.clone(),
            hosts[i].clone(),
            server.version.clone(),
            js,
            comma(stats.connections),
            comma(stats.num_subs),
            stats.routes.len().to_string(),
            stats.gateways.len().to_string(),
            ibytes(stats.mem),
            format!("{:.0}", stats.cpu),
            stats.cores.to_string(),
            slow_cell(&row.stats),
            uptime,
            human_duration(row.rtt),
        ]);
    }
    table.footer(vec![
        String::new(),
        clusters.len().to_string(),
        rows.len().to_string(),
        mark(versions_differ),
        js.to_string(),
        comma(connections),
        comma(subs),
        mark(routes_differ),
        mark(gateways_differ),
        ibytes(memory),
        String::new(),
        String::new(),
        comma(slow),
        String::new(),
        String::new(),
    ]);
    let mut out = table.render();

    if !clusters.is_empty() {
        let mut table = Table::new(
            "Cluster Overview",
            &[
                "Cluster",
                "Node Count",
                "Outgoing Gateways",
                "Incoming Gateways",
                "Connections",
            ],
        );
        let mut list: Vec<(&String, &Cluster)> = clusters.iter().collect();
        list.sort_by_key(|(_, c)| c.connections);
        let (mut nodes, mut out_gw, mut in_gw, mut conns) = (0, 0, 0, 0);
        for (name, c) in list {
            nodes += c.nodes;
            out_gw += c.gateways_out;
            in_gw += c.gateways_in;
            conns += c.connections;
            table.row(vec![
                name.clone(),
                c.nodes.to_string(),
                c.gateways_out.to_string(),
                c.gateways_in.to_string(),
                comma(c.connections),
            ]);
        }
        table.footer(vec![
            String::new(),
            nodes.to_string(),
            out_gw.to_string(),
            in_gw.to_string(),
            comma(conns),
        ]);
        out.push('\n');
        out += &table.render();
    }
    out
}

fn compare(a: &Row, b: &Row, key: SortKey) -> Ordering {
    let (sa, sb) = (&a.stats.stats, &b.stats.stats);
    let by_name = || a.stats.server.name.cmp(&b.stats.server.name);
    match key {
        SortKey::Name => by_name(),
        SortKey::Cluster => a
            .stats
            .server
            .cluster
            .cmp(&b.stats.server.cluster)
            .then_with(by_name),
        SortKey::Conns => sb.connections.cmp(&sa.connections),
        SortKey::Subs => sb.num_subs.cmp(&sa.num_subs),
        SortKey::Routes => sb.routes.len().cmp(&sa.routes.len()).then_with(by_name),
        SortKey::Gws => sb.gateways.len().cmp(&sa.gateways.len()).then_with(by_name),
        SortKey::Mem => sb.mem.cmp(&sa.mem),
        SortKey::Cpu => sb.cpu.total_cmp(&sa.cpu),
        SortKey::Slow => sb.slow_consumers.cmp(&sa.slow_consumers),
        SortKey::Uptime => sa.start.cmp(&sb.start),
        SortKey::Rtt => a.rtt.cmp(&b.rtt),
    }
}

/// The slow consumer count, with a breakdown when routes, gateways or leaf nodes had some.
fn slow_cell(msg: &ServerStatsMsg) -> String {
    let total = comma(msg.stats.slow_consumers);
    let Some(by_kind) = &msg.stats.slow_consumer_stats else {
        return total;
    };
    let parts: Vec<String> = [
        ("c", by_kind.clients),
        ("r", by_kind.routes),
        ("g", by_kind.gateways),
        ("l", by_kind.leafs),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(kind, n)| format!("{kind}: {}", comma(*n)))
    .collect();
    if parts.is_empty() || (parts.len() == 1 && by_kind.clients > 0) {
        total
    } else {
        format!("{total} ({})", parts.join(" "))
    }
}

/// Host names without the domain they all share (`n1.example.com`, `n2.example.com` →
/// `n1`, `n2`); the first label always stays, and IP addresses and a lone name are kept
/// whole.
fn compact(names: Vec<String>) -> Vec<String> {
    if names.len() < 2 || names.iter().any(|n| n.parse::<std::net::IpAddr>().is_ok()) {
        return names;
    }
    let split: Vec<Vec<&str>> = names.iter().map(|n| n.split('.').collect()).collect();
    let shortest = split.iter().map(Vec::len).min().unwrap_or(0);
    let mut common = 0;
    // Compare labels from the end, stopping before the first.
    for back in 1..shortest {
        let label = split[0][split[0].len() - back];
        if split.iter().all(|parts| parts[parts.len() - back] == label) {
            common = back;
        } else {
            break;
        }
    }
    split
        .iter()
        .map(|parts| parts[..parts.len() - common].join("."))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, cluster: &str, conns: i64, rtt_ms: u64) -> Row {
        let json = format!(
            r#"{{"server":{{"name":"{name}","host":"{name}.example.com","id":"N","ver":"2.15.1",
               "cluster":"{cluster}","time":"2026-01-01T00:01:05Z"}},
               "statsz":{{"start":"2026-01-01T00:00:00Z","mem":2048,"connections":{conns},
               "subscriptions":3,"slow_consumers":0,"cores":2,"cpu":1.4}}}}"#
        );
        Row {
            stats: serde_json::from_str(&json).unwrap(),
            rtt: Duration::from_millis(rtt_ms),
            raw: serde_json::Value::Null,
        }
    }

    #[test]
    fn host_names_are_compacted() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            compact(v(&["n1.example.com", "n2.example.com"])),
            v(&["n1", "n2"])
        );
        assert_eq!(compact(v(&["a.x", "b.y"])), v(&["a.x", "b.y"]));
        assert_eq!(
            compact(v(&["127.0.0.1", "127.0.0.2"])),
            v(&["127.0.0.1", "127.0.0.2"])
        );
        assert_eq!(compact(v(&["n1.example.com"])), v(&["n1.example.com"]));
        assert_eq!(compact(v(&["", "a"])), v(&["", "a"]));
    }

    #[test]
    fn the_table_sorts_and_sums() {
        let text = render(
            vec![
                row("b", "c1", 5, 2),
                row("a", "c1", 7, 9),
                row("c", "", 1, 1),
            ],
            SortKey::Conns,
            false,
        );
        let lines: Vec<&str> = text.lines().collect();
        let a = lines.iter().position(|l| l.starts_with("│ a ")).unwrap();
        let b = lines.iter().position(|l| l.starts_with("│ b ")).unwrap();
        let c = lines.iter().position(|l| l.starts_with("│ c ")).unwrap();
        assert!(a < b && b < c, "{text}");
        assert!(text.contains("│ 13    │"), "total connections: {text}");
        assert!(text.contains("1m5s"), "uptime: {text}");
        assert!(text.contains("Cluster Overview"), "{text}");
        assert!(text.contains("6 KiB") || text.contains("6.0 KiB"), "{text}");

        let text = render(
            vec![row("b", "", 5, 2), row("a", "", 7, 9)],
            SortKey::Rtt,
            true,
        );
        assert!(text.find("│ a ").unwrap() < text.find("│ b ").unwrap());
        assert!(!text.contains("Cluster Overview"));
        assert_eq!(render(Vec::new(), SortKey::Rtt, false), "");
    }
}

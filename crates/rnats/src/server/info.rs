//! `rnats server info [SERVER]`: one server's `VARZ`, in the sections `nats server info`
//! prints.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local};
use clap::Args;

use super::format::{Columns, comma, human_duration, ibytes};
use super::json::Varz;
use super::{Common, fetch_varz};
use crate::client::conn::Connection;
use crate::keys::Result;

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The server's name or ID (default: whichever server answers first).
    #[arg(value_name = "SERVER", default_value = "")]
    pub target: String,

    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: &InfoArgs) -> Result<()> {
    let varz = crate::client::block_on(async {
        let conn = Connection::open(&args.common.conn, "server info").await?;
        fetch_varz(&conn, &args.target, args.common.timeout).await
    })?
    .data
    .unwrap_or_default();
    print!("{}", render(&varz));
    Ok(())
}

/// A time as the `nats` CLI shows one: local, to the second.
fn local(time: Option<DateTime<FixedOffset>>) -> String {
    time.map(|t| {
        t.with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    })
    .unwrap_or_default()
}

fn render(v: &Varz) -> String {
    let heading = if v.id == v.name {
        format!("Server information for {}", v.id)
    } else {
        format!("Server information for {} ({})", v.name, v.id)
    };
    let mut c = Columns::new(heading);

    c.section("Process Details");
    c.row("Version", &v.version);
    c.row("Git Commit", &v.git_commit);
    c.row("Go Version", &v.go_version);
    c.row("Start Time", local(v.start));
    c.row("Configuration Load Time", local(v.config_load_time));
    if !v.config_digest.is_empty() {
        c.row("Configuration Digest", &v.config_digest);
    }
    c.row("Uptime", &v.uptime);

    c.section("Connection Details");
    c.row("Auth Required", v.auth_required);
    c.row("TLS Required", v.tls_required);
    if v.ip.is_empty() {
        c.row("Host", format!("{}:{}", v.host, v.port));
    } else {
        c.row("Host", format!("{}:{} ({})", v.host, v.port, v.ip));
    }
    c.rows("Client URLs", &v.connect_urls);
    c.rows("WebSocket URLs", &v.ws_connect_urls);

    if let Some(js) = v
        .jetstream
        .config
        .as_ref()
        .filter(|js| !js.store_dir.is_empty())
    {
        let stats = &v.jetstream.stats;
        c.section("JetStream");
        c.row("Domain", &js.domain);
        c.row("API Support Level", stats.api.level);
        c.row("Storage Directory", &js.store_dir);
        c.row("Active Accounts", comma(stats.accounts));
        c.row(
            "Memory In Use",
            ibytes(stats.memory.min(i64::MAX as u64) as i64),
        );
        c.row(
            "File In Use",
            ibytes(stats.storage.min(i64::MAX as u64) as i64),
        );
        c.row("API Requests", comma(stats.api.total));
        c.row("API Errors", comma(stats.api.errors));
        if js.sync_interval > 0 {
            c.row("Always sync writes to disk", js.sync_always);
            c.row(
                "Write sync Frequency",
                super::format::go_duration(Duration::from_nanos(js.sync_interval as u64)),
            );
        }
        c.row("Maximum Memory Storage", ibytes(js.max_memory));
        c.row("Maximum File Storage", ibytes(js.max_storage));
        if !js.unique_tag.is_empty() {
            c.row("Unique Tag", &js.unique_tag);
        }
        c.row("Cluster Message Compression", js.compress_ok);
        c.row("Strict API Parsing", js.strict);
    }

    c.section("Limits");
    c.row("Maximum Connections", comma(v.max_connections));
    c.row("Maximum Subscriptions", comma(v.max_subscriptions));
    c.row("Maximum Payload", ibytes(v.max_payload));
    c.row(
        "TLS Timeout",
        human_duration(Duration::try_from_secs_f64(v.tls_timeout).unwrap_or_default()),
    );
    let deadline_ms = v.write_deadline.max(0).saturating_add(500_000) / 1_000_000;
    c.row(
        "Write Deadline",
        human_duration(Duration::from_millis(deadline_ms as u64)),
    );

    c.section("Statistics");
    c.row("CPU Cores", format!("{} {:.2}%", v.cores, v.cpu));
    if v.gomaxprocs > 0 {
        c.row("GOMAXPROCS", v.gomaxprocs);
    }
    c.row("Memory", ibytes(v.mem));
    if v.gomemlimit > 0 {
        c.row("GOMEMLIMIT", v.gomemlimit);
    }
    c.row("Connections", comma(v.connections));
    c.row("Subscriptions", comma(v.subscriptions));
    c.row(
        "Messages",
        format!("{} in {} out", comma(v.in_msgs), comma(v.out_msgs)),
    );
    c.row(
        "Bytes",
        format!("{} in {} out", ibytes(v.in_bytes), ibytes(v.out_bytes)),
    );
    c.row("Slow Consumers", comma(v.slow_consumers));

    if !v.cluster.urls.is_empty() {
        c.section("Cluster");
        c.row("Name", &v.cluster.name);
        if !v.tags.is_empty() {
            c.row("Tags", v.tags.join(", "));
        }
        c.row("Host", format!("{}:{}", v.cluster.host, v.cluster.port));
        c.rows("URLs", &v.cluster.urls);
    }

    if !v.gateway.gateways.is_empty() {
        c.section("Super Cluster");
        c.row("Name", &v.gateway.name);
        c.row("Host", format!("{}:{}", v.gateway.host, v.gateway.port));
        let mut names: Vec<String> = v.gateway.gateways.iter().map(|g| g.name.clone()).collect();
        names.sort();
        c.rows("Clusters", &names);
    }
    c.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_of_a_varz() {
        let varz: Varz = serde_json::from_str(
            r#"{"server_id":"NID","server_name":"alpha","version":"2.15.1","host":"127.0.0.1",
                "port":4222,"max_connections":65536,"max_payload":1048576,"tls_timeout":2,
                "write_deadline":10000000000,"uptime":"5s","cores":2,"cpu":1.5,"mem":15000000,
                "connections":3,"in_msgs":1234,"out_msgs":5,"in_bytes":2048,"out_bytes":10,
                "cluster":{"name":"c","addr":"0.0.0.0","cluster_port":6222,"urls":["a:6222","b:6222"]}}"#,
        )
        .unwrap();
        let text = render(&varz);
        assert!(text.starts_with("Server information for alpha (NID)\n\nProcess Details:\n\n"));
        // Labels are right-aligned on the longest, "Configuration Load Time".
        let row = |label: &str, value: &str| format!("\n{label:>25}: {value}\n");
        for (label, value) in [
            ("Version", "2.15.1"),
            ("Host", "127.0.0.1:4222"),
            ("Maximum Connections", "65,536"),
            ("Maximum Payload", "1.0 MiB"),
            ("TLS Timeout", "2.00s"),
            ("Write Deadline", "10.00s"),
            ("CPU Cores", "2 1.50%"),
            ("Messages", "1,234 in 5 out"),
            ("Bytes", "2.0 KiB in 10 B out"),
            ("URLs", "a:6222"),
        ] {
            let expected = row(label, value);
            assert!(text.contains(&expected), "{expected:?} in:\n{text}");
        }
        assert!(text.contains("\nCluster:\n"));
        assert!(text.contains(&format!("a:6222\n{}b:6222\n", " ".repeat(27))));
        assert!(!text.contains("Super Cluster"));
        assert!(!text.contains("JetStream"));
    }

    #[test]
    fn a_jetstream_section_when_it_is_on() {
        let varz: Varz = serde_json::from_str(
            r#"{"server_id":"N","server_name":"js","jetstream":{"config":{"max_memory":1073741824,
                "max_storage":2147483648,"store_dir":"/data/jetstream","sync_interval":120000000000,
                "strict":true},"stats":{"memory":0,"storage":1536,"accounts":2,
                "api":{"level":5,"total":1234,"errors":1}},"limits":{}}}"#,
        )
        .unwrap();
        let text = render(&varz);
        let row = |label: &str, value: &str| format!("\n{label:>29}: {value}\n");
        for (label, value) in [
            ("Storage Directory", "/data/jetstream"),
            ("API Support Level", "5"),
            ("Active Accounts", "2"),
            ("File In Use", "1.5 KiB"),
            ("API Requests", "1,234"),
            ("Write sync Frequency", "2m0s"),
            ("Maximum Memory Storage", "1.0 GiB"),
            ("Strict API Parsing", "true"),
        ] {
            let expected = row(label, value);
            assert!(text.contains(&expected), "{expected:?} in:\n{text}");
        }
        assert!(text.contains("\nJetStream:\n"), "{text}");
    }
}

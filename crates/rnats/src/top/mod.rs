//! `rnats top`: a live view of a server's connections, like nats-top. Every `--delay` it
//! reads `/varz` and `/connz?limit=N&sort=KEY` from the server's HTTP monitoring port
//! (`http.rs`) and redraws the screen with plain ANSI escapes: a summary of the server
//! (version, uptime, CPU, memory, slow consumers, messages and bytes in and out with their
//! rates since the last frame) and a line per connection. `--once` prints one frame and
//! exits; Ctrl-C or `q` ends the live view. On a terminal, keys change the view (`keys.rs`):
//! `o`/`O` the next/previous sort key, `s` the subscriptions column, `b` raw numbers, space
//! each connection's traffic per second instead of its totals. The JSON types and number
//! formats are the server commands' (`crate::server`).

mod http;
mod keys;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local};
use clap::{Args, ValueEnum};

use crate::client::message::parse_timeout;
use crate::keys::Result;
use crate::server::json::{ConnInfo, Connz, Varz};

/// How long one request to the monitoring port may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct TopArgs {
    /// The host of the server's monitoring port.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// The server's HTTP monitoring port (`-m`/`http_port` of the server).
    #[arg(short = 'm', long, default_value_t = 8222)]
    pub port: u16,

    /// The server's `http_base_path`, if it has one (e.g. /nats).
    #[arg(long, value_name = "PATH", default_value = "")]
    pub base_path: String,

    /// The most connections to show.
    #[arg(short = 'n', long = "conns", value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub conns: u32,

    /// Time between refreshes (seconds, or e.g. 500ms).
    #[arg(short = 'd', long, value_name = "DELAY", default_value = "1", value_parser = parse_timeout)]
    pub delay: Duration,

    /// Sort the connections by (as the server's `/connz?sort=`).
    #[arg(short = 's', long, value_enum, default_value = "cid")]
    pub sort: SortKey,

    /// Print one frame without escapes and exit.
    #[arg(long)]
    pub once: bool,

    /// Stop after this many refreshes.
    #[arg(short = 'r', long = "max-refreshes", value_name = "N")]
    pub max_refreshes: Option<u64>,

    /// Show traffic in raw numbers instead of K/M/G.
    #[arg(short = 'b', long = "raw-bytes")]
    pub raw: bool,

    /// Show each connection's subscriptions.
    #[arg(short = 'u', long = "display-subscriptions-column")]
    pub subs: bool,

    /// The monitoring port is the server's HTTPS port (`https_port`, `-ms`).
    #[arg(long)]
    pub tls: bool,

    /// Do not verify the HTTPS port's certificate (nats-top's `-k`): for a
    /// test server's self-signed one; anyone between could read and change
    /// the answers (implies --tls).
    #[arg(short = 'k', long = "insecure", conflicts_with = "tlsca")]
    pub insecure: bool,

    /// Trust this CA certificate (PEM) for the HTTPS port's, instead of the system's (implies --tls).
    #[arg(long, value_name = "FILE")]
    pub tlsca: Option<PathBuf>,

    /// Client certificate (PEM) for the HTTPS port (implies --tls).
    #[arg(long, value_name = "FILE", requires = "tlskey")]
    pub tlscert: Option<PathBuf>,

    /// Private key (PEM) of --tlscert.
    #[arg(long, value_name = "FILE", requires = "tlscert")]
    pub tlskey: Option<PathBuf>,
}

/// nats-server's `/connz` sort keys (`stop` and `reason` apply to closed connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum SortKey {
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl SortKey {
    /// The key as `/connz?sort=` takes it.
    fn as_str(self) -> &'static str {
        match self {
            SortKey::Cid => "cid",
            SortKey::Start => "start",
            SortKey::Subs => "subs",
            SortKey::Pending => "pending",
            SortKey::MsgsTo => "msgs_to",
            SortKey::MsgsFrom => "msgs_from",
            SortKey::BytesTo => "bytes_to",
            SortKey::BytesFrom => "bytes_from",
            SortKey::Last => "last",
            SortKey::Idle => "idle",
            SortKey::Uptime => "uptime",
            SortKey::Stop => "stop",
            SortKey::Reason => "reason",
            SortKey::Rtt => "rtt",
        }
    }
}

/// What the screen shows, from the flags, changed by keys.
#[derive(Debug, Clone)]
struct View {
    conns: u32,
    sort: SortKey,
    subs: bool,
    raw: bool,
    /// Each connection's traffic per second instead of its totals.
    rates: bool,
    /// Whether keys work (a line about them is shown).
    interactive: bool,
}

/// What a key did.
#[derive(Debug, PartialEq, Eq)]
enum KeyAction {
    Quit,
    Changed,
    Ignored,
}

/// The sort keys of open connections, in the order `o` steps through them.
const SORT_CYCLE: [SortKey; 12] = [
    SortKey::Cid,
    SortKey::Start,
    SortKey::Subs,
    SortKey::Pending,
    SortKey::MsgsTo,
    SortKey::MsgsFrom,
    SortKey::BytesTo,
    SortKey::BytesFrom,
    SortKey::Last,
    SortKey::Idle,
    SortKey::Uptime,
    SortKey::Rtt,
];

impl View {
    fn new(args: &TopArgs) -> View {
        View {
            conns: args.conns,
            sort: args.sort,
            subs: args.subs,
            raw: args.raw,
            rates: false,
            interactive: false,
        }
    }

    fn key(&mut self, key: u8) -> KeyAction {
        let step = |sort: SortKey, forward: bool| {
            let at = SORT_CYCLE.iter().position(|&k| k == sort).unwrap_or(0);
            let n = SORT_CYCLE.len();
            SORT_CYCLE[if forward {
                (at + 1) % n
            } else {
                (at + n - 1) % n
            }]
        };
        match key {
            b'q' | b'Q' => return KeyAction::Quit,
            b'o' => self.sort = step(self.sort, true),
            b'O' => self.sort = step(self.sort, false),
            b's' => self.subs = !self.subs,
            b'b' => self.raw = !self.raw,
            b' ' => self.rates = !self.rates,
            _ => return KeyAction::Ignored,
        }
        KeyAction::Changed
    }
}

/// One poll of the server.
struct Stats {
    varz: Varz,
    connz: Connz,
}

/// Traffic per second since the previous poll: the server's, and each connection's that
/// was there then (by cid).
#[derive(Default)]
struct Rates {
    in_msgs: f64,
    out_msgs: f64,
    in_bytes: f64,
    out_bytes: f64,
    connections: HashMap<u64, Traffic>,
}

/// A connection's traffic per second.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Traffic {
    in_msgs: f64,
    out_msgs: f64,
    in_bytes: f64,
    out_bytes: f64,
}

pub fn run(args: &TopArgs) -> ExitCode {
    let result = endpoint(args).and_then(|endpoint| top(args, &endpoint));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rnats top: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where to ask, and how (TLS with --tls, --tlsca or --tlscert).
fn endpoint(args: &TopArgs) -> Result<http::Endpoint> {
    let tls = if args.tls || args.insecure || args.tlsca.is_some() || args.tlscert.is_some() {
        let cert_key = args.tlscert.as_deref().zip(args.tlskey.as_deref());
        let trust = match (&args.tlsca, args.insecure) {
            (_, true) => http::Trust::Anyone,
            (Some(ca), false) => http::Trust::Ca(ca),
            (None, false) => http::Trust::System,
        };
        Some(http::tls_config(trust, cert_key)?)
    } else {
        None
    };
    let base_path = args.base_path.trim_end_matches('/');
    if !base_path.is_empty() && !base_path.starts_with('/') {
        return Err(format!("--base-path {base_path:?} must start with /"));
    }
    if base_path
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!("--base-path {base_path:?} cannot hold spaces"));
    }
    Ok(http::Endpoint {
        host: args.host.clone(),
        port: args.port,
        base_path: base_path.to_string(),
        tls,
    })
}

fn fetch<T: serde::de::DeserializeOwned>(endpoint: &http::Endpoint, path: &str) -> Result<T> {
    let body = http::get(endpoint, path, HTTP_TIMEOUT)?;
    serde_json::from_slice(&body).map_err(|e| format!("could not decode {path}: {e}"))
}

fn poll(view: &View, endpoint: &http::Endpoint) -> Result<Stats> {
    let varz = fetch(endpoint, "/varz")?;
    let mut path = format!("/connz?limit={}&sort={}", view.conns, view.sort.as_str());
    if view.subs {
        path += "&subs=1";
    }
    let connz = fetch(endpoint, &path)?;
    Ok(Stats { varz, connz })
}

fn rates(now: &Stats, before: Option<&Stats>) -> Rates {
    let Some(before) = before else {
        return Rates::default();
    };
    let seconds = |a: Option<DateTime<FixedOffset>>, b: Option<DateTime<FixedOffset>>| match (a, b)
    {
        (Some(a), Some(b)) => (a - b).num_nanoseconds().unwrap_or(0) as f64 / 1e9,
        _ => 0.0,
    };
    let per_second = |a: i64, b: i64, seconds: f64| {
        if seconds > 0.0 {
            a.saturating_sub(b).max(0) as f64 / seconds
        } else {
            0.0
        }
    };
    let (v, w) = (&now.varz, &before.varz);
    let elapsed = seconds(v.now, w.now);
    let connz_elapsed = seconds(now.connz.now, before.connz.now);
    let earlier: HashMap<u64, &ConnInfo> = before
        .connz
        .connections
        .iter()
        .map(|c| (c.cid, c))
        .collect();
    let connections = now
        .connz
        .connections
        .iter()
        .filter_map(|c| {
            let b = earlier.get(&c.cid)?;
            Some((
                c.cid,
                Traffic {
                    in_msgs: per_second(c.in_msgs, b.in_msgs, connz_elapsed),
                    out_msgs: per_second(c.out_msgs, b.out_msgs, connz_elapsed),
                    in_bytes: per_second(c.in_bytes, b.in_bytes, connz_elapsed),
                    out_bytes: per_second(c.out_bytes, b.out_bytes, connz_elapsed),
                },
            ))
        })
        .collect();
    Rates {
        in_msgs: per_second(v.in_msgs, w.in_msgs, elapsed),
        out_msgs: per_second(v.out_msgs, w.out_msgs, elapsed),
        in_bytes: per_second(v.in_bytes, w.in_bytes, elapsed),
        out_bytes: per_second(v.out_bytes, w.out_bytes, elapsed),
        connections,
    }
}

fn top(args: &TopArgs, endpoint: &http::Endpoint) -> Result<()> {
    let mut view = View::new(args);
    // As nats-top does: a server that cannot be read at the start is an error, not a screen.
    let first = poll(&view, endpoint)?;
    if args.once {
        let frame = render(&view, &first, &Rates::default(), None);
        let mut out = std::io::stdout().lock();
        return match out.write_all(frame.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => Ok(()),
            Err(e) => crate::client::message::output_error(e).map_or(Ok(()), Err),
        };
    }
    let terminal = std::io::stdout().is_terminal();
    let raw_mode = terminal.then(keys::RawMode::enable).flatten();
    view.interactive = raw_mode.is_some();
    let mut pressed = if view.interactive {
        keys::reader()
    } else {
        // No keys: a channel already closed, whose branch below is never taken.
        tokio::sync::mpsc::unbounded_channel().1
    };
    let result = crate::client::block_on(async {
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        let mut out = std::io::stdout();
        let (mut last, mut error): (Option<Stats>, Option<String>) = (Some(first), None);
        let mut previous: Option<Stats> = None;
        let mut frames = 0u64;
        if terminal {
            let _ = write!(out, "\x1b[?25l");
        }
        let result = loop {
            if let Some(stats) = &last {
                let rates = rates(stats, previous.as_ref());
                let frame = render(&view, stats, &rates, error.as_deref());
                let written = if terminal {
                    write!(out, "\x1b[2J\x1b[H{frame}")
                } else {
                    writeln!(out, "{frame}")
                };
                if let Err(e) = written.and_then(|()| out.flush()) {
                    break crate::client::message::output_error(e).map_or(Ok(()), Err);
                }
            }
            frames += 1;
            if args.max_refreshes.is_some_and(|max| frames >= max) {
                break Ok(());
            }
            let delay = tokio::time::sleep(args.delay);
            tokio::pin!(delay);
            let quit = loop {
                tokio::select! {
                    _ = &mut interrupted => break true,
                    _ = &mut delay => break false,
                    Some(key) = pressed.recv() => match view.key(key) {
                        KeyAction::Quit => break true,
                        KeyAction::Changed => break false,
                        KeyAction::Ignored => {}
                    },
                }
            };
            if quit {
                break Ok(());
            }
            match poll(&view, endpoint) {
                Ok(stats) => {
                    previous = last.take();
                    last = Some(stats);
                    error = None;
                }
                // Keep showing the last frame, with the error in its first line.
                Err(e) => error = Some(e),
            }
        };
        if terminal {
            let _ = write!(out, "\x1b[?25h");
            let _ = out.flush();
        }
        result
    });
    drop(raw_mode);
    result
}

/// nats-top's sizes: bytes in powers of 1024 (`1.5K`, `2.0M`).
fn psize(raw: bool, n: i64) -> String {
    let size = n as f64;
    const K: f64 = 1024.0;
    if raw || size < K {
        format!("{size:.0}")
    } else if size < K * K {
        format!("{:.1}K", size / K)
    } else if size < K * K * K {
        format!("{:.1}M", size / (K * K))
    } else {
        format!("{:.1}G", size / (K * K * K))
    }
}

/// nats-top's counts: powers of 1000 (`1.5K`, `2.0M`, `3.0B`, `4.0T`).
fn nsize(raw: bool, n: i64) -> String {
    let size = n as f64;
    if raw || size < 1e3 {
        format!("{size:.0}")
    } else if size < 1e6 {
        format!("{:.1}K", size / 1e3)
    } else if size < 1e9 {
        format!("{:.1}M", size / 1e6)
    } else if size < 1e12 {
        format!("{:.1}B", size / 1e9)
    } else {
        format!("{:.1}T", size / 1e12)
    }
}

/// A cell padded on the right to `width` characters.
fn pad(s: &str, width: usize) -> String {
    let len = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(len)))
}

/// One screen: the server summary and the connections, in nats-top's layout.
fn render(view: &View, stats: &Stats, rates: &Rates, error: Option<&str>) -> String {
    let (v, raw) = (&stats.varz, view.raw);
    let name = if v.name != v.id { v.name.as_str() } else { "" };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "NATS server version {} (uptime: {}) {}",
        v.version,
        v.uptime,
        error.unwrap_or_default()
    );
    let _ = writeln!(text, "Server: {name}");
    let _ = writeln!(text, "  ID:   {}", v.id);
    let _ = writeln!(
        text,
        "  Load: CPU:  {:.1}%  Memory: {}  Slow Consumers: {}",
        v.cpu,
        psize(false, v.mem),
        v.slow_consumers
    );
    let _ = writeln!(
        text,
        "  In:   Msgs: {}  Bytes: {}  Msgs/Sec: {:.1}  Bytes/Sec: {}",
        nsize(raw, v.in_msgs),
        psize(raw, v.in_bytes),
        rates.in_msgs,
        psize(raw, rates.in_bytes as i64)
    );
    let _ = writeln!(
        text,
        "  Out:  Msgs: {}  Bytes: {}  Msgs/Sec: {:.1}  Bytes/Sec: {}",
        nsize(raw, v.out_msgs),
        psize(raw, v.out_bytes),
        rates.out_msgs,
        psize(raw, rates.out_bytes as i64)
    );
    let _ = writeln!(
        text,
        "\nConnections Polled: {}",
        stats.connz.num_connections
    );
    if view.interactive {
        let _ = writeln!(
            text,
            "  sorted by {} (o/O: next/previous)  s: subscriptions  b: raw numbers  \
             space: {}  q: quit",
            view.sort.as_str(),
            if view.rates {
                "totals"
            } else {
                "rates per second"
            }
        );
    }

    let conns = &stats.connz.connections;
    let host = |c: &ConnInfo| {
        if c.ip.contains(':') {
            format!("[{}]:{}", c.ip, c.port)
        } else {
            format!("{}:{}", c.ip, c.port)
        }
    };
    let mut host_width = 15;
    let mut name_width = 0;
    for c in conns {
        let len = host(c).chars().count();
        if len > host_width {
            host_width = len + 2;
        }
        let len = c.name.chars().count();
        if len > name_width {
            name_width = (len + 2).max(4);
        }
    }
    let widths = [6, 10, 10, 10, 10, 10, 7, 7, 7, 40];
    let row = |host: &str, cid: &str, name: &str, cells: [&str; 10], subs: Option<&str>| {
        let mut line = format!("  {}  {} ", pad(host, host_width), pad(cid, 6));
        if name_width > 0 {
            line += &pad(name, name_width);
            line.push(' ');
        }
        let cells: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| pad(cell, width))
            .collect();
        line += &cells.join("  ");
        if let Some(subs) = subs {
            line += subs;
        }
        line.trim_end().to_string() + "\n"
    };
    text += &row(
        "HOST",
        "CID",
        "NAME",
        [
            "SUBS",
            "PENDING",
            "MSGS_TO",
            "MSGS_FROM",
            "BYTES_TO",
            "BYTES_FROM",
            "LANG",
            "VERSION",
            "UPTIME",
            "LAST_ACTIVITY",
        ],
        view.subs.then_some("SUBSCRIPTIONS"),
    );
    for c in conns {
        let last = c
            .last_activity
            .map(|t| {
                t.with_timezone(&Local)
                    .format("%Y-%m-%d %H:%M:%S%.3f")
                    .to_string()
            })
            .unwrap_or_default();
        let subs = c.subscriptions_list.join(", ");
        let traffic = if view.rates {
            let t = rates.connections.get(&c.cid).copied().unwrap_or_default();
            [
                nsize(raw, t.out_msgs.round() as i64),
                nsize(raw, t.in_msgs.round() as i64),
                psize(raw, t.out_bytes.round() as i64),
                psize(raw, t.in_bytes.round() as i64),
            ]
        } else {
            [
                nsize(raw, c.out_msgs),
                nsize(raw, c.in_msgs),
                psize(raw, c.out_bytes),
                psize(raw, c.in_bytes),
            ]
        };
        text += &row(
            &host(c),
            &c.cid.to_string(),
            &c.name,
            [
                &c.num_subs.to_string(),
                &nsize(raw, c.pending_bytes),
                &traffic[0],
                &traffic[1],
                &traffic[2],
                &traffic[3],
                &c.lang,
                &c.version,
                &c.uptime,
                &last,
            ],
            view.subs.then_some(subs.as_str()),
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        top: TopArgs,
    }

    fn args(extra: &[&str]) -> TopArgs {
        Cli::try_parse_from([&["top"][..], extra].concat())
            .unwrap()
            .top
    }

    #[test]
    fn sizes() {
        assert_eq!(psize(false, 1023), "1023");
        assert_eq!(psize(false, 1536), "1.5K");
        assert_eq!(psize(false, 3 * 1024 * 1024), "3.0M");
        assert_eq!(psize(true, 3 * 1024 * 1024), "3145728");
        assert_eq!(nsize(false, 999), "999");
        assert_eq!(nsize(false, 1500), "1.5K");
        assert_eq!(nsize(false, 2_000_000_000), "2.0B");
    }

    #[test]
    fn sort_keys_are_the_servers() {
        assert_eq!(args(&["-s", "msgs_from"]).sort.as_str(), "msgs_from");
        assert_eq!(args(&[]).sort.as_str(), "cid");
        for key in SortKey::value_variants() {
            let name = key.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(key.as_str(), name);
        }
        assert!(Cli::try_parse_from(["top", "-s", "bogus"]).is_err());
    }

    #[test]
    fn a_frame() {
        let stats = Stats {
            varz: serde_json::from_str(
                r#"{"server_id":"NID","server_name":"alpha","version":"2.15.1","uptime":"5s",
                    "cpu":1.25,"mem":15000000,"in_msgs":1500,"in_bytes":2048}"#,
            )
            .unwrap(),
            connz: serde_json::from_str(
                r#"{"num_connections":1,"connections":[{"cid":6,"ip":"127.0.0.1","port":39180,
                    "name":"holder","lang":"go","version":"1.0","subscriptions":2,"in_msgs":7,
                    "uptime":"5s","last_activity":"2026-12-03T11:40:58.648548533Z"}]}"#,
            )
            .unwrap(),
        };
        let rates = Rates {
            in_msgs: 2.5,
            ..Rates::default()
        };
        let text = render(&View::new(&args(&[])), &stats, &rates, None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "NATS server version 2.15.1 (uptime: 5s) ");
        assert_eq!(lines[1], "Server: alpha");
        assert_eq!(
            lines[3],
            "  Load: CPU:  1.2%  Memory: 14.3M  Slow Consumers: 0"
        );
        assert_eq!(
            lines[4],
            "  In:   Msgs: 1.5K  Bytes: 2.0K  Msgs/Sec: 2.5  Bytes/Sec: 0"
        );
        assert_eq!(lines[7], "Connections Polled: 1");
        assert_eq!(
            lines[8],
            "  HOST             CID    NAME     SUBS    PENDING     MSGS_TO     MSGS_FROM   \
             BYTES_TO    BYTES_FROM  LANG     VERSION  UPTIME   LAST_ACTIVITY"
        );
        assert!(
            lines[9].starts_with(
                "  127.0.0.1:39180  6      holder   2       0           0           7           \
                 0           0           go       1.0      5s       20"
            ),
            "{text}"
        );
    }

    #[test]
    fn keys_change_the_view() {
        let mut view = View::new(&args(&["-s", "rtt"]));
        assert_eq!(view.key(b'o'), KeyAction::Changed);
        assert_eq!(view.sort, SortKey::Cid, "o wraps around");
        assert_eq!(view.key(b'O'), KeyAction::Changed);
        assert_eq!(view.sort, SortKey::Rtt);
        view.key(b'O');
        assert_eq!(view.sort, SortKey::Uptime);
        let mut closed = View::new(&args(&["-s", "reason"]));
        closed.key(b'o');
        assert_eq!(
            closed.sort,
            SortKey::Start,
            "from a closed-only key, the cycle starts over"
        );
        assert!(!view.subs && !view.raw);
        view.key(b's');
        view.key(b'b');
        assert!(view.subs && view.raw);
        assert_eq!(view.key(b'x'), KeyAction::Ignored);
        assert_eq!(view.key(b'q'), KeyAction::Quit);
    }

    #[test]
    fn rates_per_second() {
        let at = |t: &str, n: i64, conns: &[(u64, i64)]| -> Stats {
            let conns: Vec<String> = conns
                .iter()
                .map(|(cid, n)| format!(r#"{{"cid":{cid},"in_msgs":{n},"out_bytes":{n}}}"#))
                .collect();
            Stats {
                varz: serde_json::from_str(&format!(
                    r#"{{"now":"{t}","in_msgs":{n},"out_bytes":{n}}}"#
                ))
                .unwrap(),
                connz: serde_json::from_str(&format!(
                    r#"{{"now":"{t}","connections":[{}]}}"#,
                    conns.join(",")
                ))
                .unwrap(),
            }
        };
        let before = at("2026-01-01T00:00:00Z", 100, &[(1, 10), (2, 50)]);
        let now = at("2026-01-01T00:00:02Z", 300, &[(1, 30), (3, 7)]);
        let r = rates(&now, Some(&before));
        assert_eq!((r.in_msgs, r.out_bytes, r.out_msgs), (100.0, 100.0, 0.0));
        assert_eq!(r.connections[&1].in_msgs, 10.0);
        assert_eq!(r.connections[&1].out_bytes, 10.0);
        assert!(!r.connections.contains_key(&3), "new since the last poll");
        // No time passed, or counters that went back (a restarted server): no rates.
        let r = rates(&at("2026-01-01T00:00:00Z", 300, &[]), Some(&before));
        assert_eq!(r.in_msgs, 0.0);
        let r = rates(&at("2026-01-01T00:00:05Z", 1, &[(1, 1)]), Some(&before));
        assert_eq!((r.in_msgs, r.connections[&1].in_msgs), (0.0, 0.0));
        assert_eq!(rates(&before, None).in_msgs, 0.0);

        // The rates view: per second where known, 0 for a connection new since then.
        let mut view = View::new(&args(&[]));
        let fields = |view: &View, cid: &str| -> Vec<String> {
            let text = render(view, &now, &rates(&now, Some(&before)), None);
            let line = text
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some(cid))
                .unwrap_or_else(|| panic!("no cid {cid} in\n{text}"));
            line.split_whitespace().map(String::from).collect()
        };
        // HOST CID SUBS PENDING MSGS_TO MSGS_FROM BYTES_TO BYTES_FROM
        assert_eq!(fields(&view, "1")[4..8], ["0", "30", "30", "0"]);
        view.key(b' ');
        assert_eq!(fields(&view, "1")[4..8], ["0", "10", "10", "0"]);
        assert_eq!(fields(&view, "3")[4..8], ["0", "0", "0", "0"]);
    }
}

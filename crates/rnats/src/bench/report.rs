//! The results of a run: what `--json` prints as one object, and the summary table.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::sys::{MachineUsage, ServerUsage, Usage};

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `pubsub`, `request`, `reply`, `storm` or `idle`.
    pub mode: &'static str,
    pub server: String,
    /// True when the run did all it was asked (every message delivered, every login made).
    pub ok: bool,
    pub errors: Vec<String>,
    pub params: Params,
    /// The headline numbers, the same keys in every mode (what `bench/compare.sh` reads).
    pub summary: Summary,
    #[serde(rename = "pub", skip_serializing_if = "Option::is_none")]
    pub publishers: Option<Group>,
    #[serde(rename = "sub", skip_serializing_if = "Option::is_none")]
    pub subscribers: Option<Group>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<Latency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle: Option<IdleStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_process: Option<ServerUsage>,
    /// Where the machine's CPU went during the measured part (the noise from other processes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<MachineUsage>,
    /// JetStream mode's settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub js: Option<JsParams>,
}

/// How a JetStream publish run was made.
#[derive(Debug, Clone, Serialize)]
pub struct JsParams {
    pub stream: String,
    /// `file` or `memory` (of a stream the run created).
    pub storage: String,
    /// Each publish waited for its PubAck.
    pub sync: bool,
    /// The window of unacknowledged messages per publisher (async).
    pub max_pending: Option<u64>,
    /// The run created the stream.
    pub created: bool,
    /// The stream is still there after the run.
    pub kept: bool,
}

/// The options the run was made with.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Params {
    pub subject: String,
    pub size: usize,
    pub msgs: u64,
    pub pubs: usize,
    pub subs: usize,
    pub queue: Option<String>,
    pub connections: u64,
    pub concurrency: usize,
}

/// The headline numbers of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Operations a second: deliveries (pub/sub with subscribers), messages published
    /// (publish only), requests, logins, or connections opened.
    pub throughput: f64,
    /// What `throughput` counts.
    pub unit: &'static str,
    /// How many operations were measured.
    pub ops: u64,
    pub elapsed_s: f64,
    /// Payload megabytes (10^6 bytes) a second, where messages were sent.
    pub mb_per_s: f64,
    pub p50_us: Option<f64>,
    pub p90_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub p999_us: Option<f64>,
    /// The server's CPU microseconds per operation, with `--server-pid`.
    pub server_cpu_us_per_op: Option<f64>,
    /// The server's RSS after the run, KiB, with `--server-pid`.
    pub server_rss_kib: Option<u64>,
}

/// What one client did.
#[derive(Debug, Clone, Serialize)]
pub struct ClientStats {
    pub msgs: u64,
    pub bytes: u64,
    pub elapsed_s: f64,
    pub msgs_per_s: f64,
    pub mb_per_s: f64,
}

impl ClientStats {
    pub fn new(msgs: u64, size: usize, elapsed: Duration) -> ClientStats {
        let bytes = msgs * size as u64;
        let secs = elapsed.as_secs_f64();
        ClientStats {
            msgs,
            bytes,
            elapsed_s: secs,
            msgs_per_s: rate(msgs as f64, secs),
            mb_per_s: rate(bytes as f64 / 1e6, secs),
        }
    }
}

/// The publishers or the subscribers of a run together.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub clients: usize,
    pub msgs: u64,
    /// Messages the group should have seen (subscribers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<u64>,
    pub bytes: u64,
    /// From the start of publishing to the group's last message.
    pub elapsed_s: f64,
    pub msgs_per_s: f64,
    pub mb_per_s: f64,
    /// Per-client rates: min, mean, max and standard deviation.
    pub min_msgs_per_s: f64,
    pub avg_msgs_per_s: f64,
    pub max_msgs_per_s: f64,
    pub stddev_msgs_per_s: f64,
    pub per_client: Vec<ClientStats>,
}

impl Group {
    pub fn new(
        per_client: Vec<ClientStats>,
        size: usize,
        elapsed: Duration,
        expected: Option<u64>,
    ) -> Group {
        let msgs: u64 = per_client.iter().map(|c| c.msgs).sum();
        let bytes = msgs * size as u64;
        let secs = elapsed.as_secs_f64();
        let rates: Vec<f64> = per_client.iter().map(|c| c.msgs_per_s).collect();
        let n = rates.len().max(1) as f64;
        let avg = rates.iter().sum::<f64>() / n;
        let var = rates.iter().map(|r| (r - avg) * (r - avg)).sum::<f64>() / n;
        Group {
            clients: per_client.len(),
            msgs,
            expected,
            bytes,
            elapsed_s: secs,
            msgs_per_s: rate(msgs as f64, secs),
            mb_per_s: rate(bytes as f64 / 1e6, secs),
            min_msgs_per_s: rates.iter().copied().fold(f64::INFINITY, f64::min).min(avg),
            avg_msgs_per_s: avg,
            max_msgs_per_s: rates.iter().copied().fold(0.0, f64::max),
            stddev_msgs_per_s: var.sqrt(),
            per_client,
        }
    }
}

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub count: u64,
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Latency {
    /// From a histogram of nanoseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        Some(Latency {
            count: h.len(),
            min: us(h.min()),
            mean: h.mean() / 1000.0,
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
        })
    }
}

/// A histogram of nanoseconds from 1 ns to 100 s, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

/// The idle-connections mode's results.
#[derive(Debug, Clone, Serialize)]
pub struct IdleStats {
    pub requested: u64,
    pub opened: u64,
    pub failed: u64,
    pub open_s: f64,
    pub held_s: f64,
    /// Connections the server closed while they were held.
    pub dropped: u64,
    /// (RSS after opening − RSS before) / opened, with `--server-pid`.
    pub server_kib_per_conn: Option<f64>,
}

fn rate(amount: f64, secs: f64) -> f64 {
    if secs > 0.0 { amount / secs } else { 0.0 }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Report {
    /// Records what the measured part cost the server and the machine.
    pub fn set_usage(&mut self, usage: Usage) {
        self.summary.server_cpu_us_per_op = usage.server.as_ref().map(|u| u.cpu_us_per_op);
        self.summary.server_rss_kib = usage.server.as_ref().map(|u| u.rss_kib_after);
        self.server_process = usage.server;
        self.machine = usage.machine;
    }

    /// The human-readable summary.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let p = &self.params;
        let _ = writeln!(
            out,
            "rnats bench: {} mode against {}",
            self.mode, self.server
        );
        match self.mode {
            "storm" | "idle" => {
                let _ = writeln!(
                    out,
                    "  {} connections, {} at a time",
                    thousands(p.connections),
                    p.concurrency
                );
            }
            _ => {
                let (pubs, subs) = match self.mode {
                    "pubsub" | "jspub" => ("publisher", "subscriber"),
                    _ => ("requester", "replier"),
                };
                let plural =
                    |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
                let _ = writeln!(
                    out,
                    "  subject {:?}, {} B payloads, {} msgs, {}{}{}",
                    p.subject,
                    p.size,
                    thousands(p.msgs),
                    plural(p.pubs, pubs),
                    if self.mode == "jspub" {
                        String::new()
                    } else {
                        format!(", {}", plural(p.subs, subs))
                    },
                    p.queue
                        .as_ref()
                        .map(|q| format!(" in queue group {q:?}"))
                        .unwrap_or_default()
                );
            }
        }
        if let Some(js) = &self.js {
            let _ = writeln!(
                out,
                "  JetStream: stream {:?} ({} storage{}), {}",
                js.stream,
                js.storage,
                match (js.created, js.kept) {
                    (false, _) => ", already there",
                    (true, true) => ", created and kept",
                    (true, false) => ", created and deleted after",
                },
                match js.max_pending {
                    Some(n) => format!("async publish, at most {} unacknowledged", thousands(n)),
                    None => "sync publish (each waits for its PubAck)".to_string(),
                }
            );
        }
        out.push('\n');
        if self.publishers.is_some() || self.subscribers.is_some() {
            let _ = writeln!(
                out,
                "  {:<12} {:>7} {:>14} {:>14} {:>10} {:>10}",
                "", "clients", "msgs", "msgs/s", "MB/s", "elapsed"
            );
            for (name, group) in [
                (
                    if self.mode == "request" {
                        "requests"
                    } else {
                        "publish"
                    },
                    &self.publishers,
                ),
                (
                    if self.mode == "request" || self.mode == "reply" {
                        "replies"
                    } else {
                        "subscribe"
                    },
                    &self.subscribers,
                ),
            ] {
                let Some(g) = group else { continue };
                let _ = writeln!(
                    out,
                    "  {:<12} {:>7} {:>14} {:>14} {:>10.2} {:>9.3}s",
                    name,
                    g.clients,
                    thousands(g.msgs),
                    thousands(g.msgs_per_s.round() as u64),
                    g.mb_per_s,
                    g.elapsed_s
                );
                if g.clients > 1 {
                    if g.clients <= 16 {
                        for (i, c) in g.per_client.iter().enumerate() {
                            let _ = writeln!(
                                out,
                                "  {:<12} {:>7} {:>14} {:>14} {:>10.2} {:>9.3}s",
                                "",
                                format!("#{}", i + 1),
                                thousands(c.msgs),
                                thousands(c.msgs_per_s.round() as u64),
                                c.mb_per_s,
                                c.elapsed_s
                            );
                        }
                    }
                    let _ = writeln!(
                        out,
                        "  {:<12} per client msgs/s: min {} avg {} max {} stddev {}",
                        "",
                        thousands(g.min_msgs_per_s.round() as u64),
                        thousands(g.avg_msgs_per_s.round() as u64),
                        thousands(g.max_msgs_per_s.round() as u64),
                        thousands(g.stddev_msgs_per_s.round() as u64),
                    );
                }
                if let Some(expected) = g.expected
                    && expected != g.msgs
                {
                    let _ = writeln!(
                        out,
                        "  {:<12} expected {}, got {}",
                        "",
                        thousands(expected),
                        thousands(g.msgs)
                    );
                }
            }
            out.push('\n');
        }
        if matches!(self.mode, "storm" | "idle") {
            let s = &self.summary;
            let _ = writeln!(
                out,
                "  {} {} in {:.3}s: {} {}",
                thousands(s.ops),
                if self.mode == "storm" {
                    "logins"
                } else {
                    "connections opened"
                },
                s.elapsed_s,
                thousands(s.throughput.round() as u64),
                s.unit
            );
        }
        if let Some(idle) = &self.idle {
            let _ = writeln!(
                out,
                "  held {:.1}s; failed to open: {}; closed by the server while held: {}",
                idle.held_s, idle.failed, idle.dropped
            );
            if let Some(kib) = idle.server_kib_per_conn {
                let _ = writeln!(out, "  server memory per connection: {kib:.1} KiB");
            }
        }
        if let Some(l) = &self.latency_us {
            let _ = writeln!(
                out,
                "  latency (µs, {} samples): min {:.1}  p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  mean {:.1}",
                thousands(l.count),
                l.min,
                l.p50,
                l.p90,
                l.p99,
                l.p999,
                l.max,
                l.mean
            );
        }
        if let Some(u) = &self.server_process {
            let _ = writeln!(
                out,
                "  server pid {}: {:.3} CPU s ({:.3} µs per {}), RSS {:.1} → {:.1} MiB (peak {:.1} MiB)",
                u.pid,
                u.cpu_s,
                u.cpu_us_per_op,
                match self.mode {
                    "storm" => "login",
                    "idle" => "connection",
                    "request" | "reply" => "request",
                    "jspub" => "message stored",
                    _ => "message published",
                },
                u.rss_kib_before as f64 / 1024.0,
                u.rss_kib_after as f64 / 1024.0,
                u.hwm_kib as f64 / 1024.0
            );
        }
        if let Some(m) = &self.machine {
            let _ = write!(
                out,
                "  machine: {} cores busy {:.2} CPU s over {:.2}s; this client {:.2} s",
                m.cores, m.busy_cpu_s, m.elapsed_s, m.client_cpu_s
            );
            match m.other_cpu_s {
                Some(other) => {
                    let _ = writeln!(
                        out,
                        ", other processes {other:.2} s ({:.2} cores: {})",
                        m.other_cores.unwrap_or(0.0),
                        if m.other_cores.unwrap_or(0.0) > 0.2 {
                            "noisy, numbers are less reliable"
                        } else {
                            "quiet"
                        }
                    );
                }
                None => out.push('\n'),
            }
        }
        for e in &self.errors {
            let _ = writeln!(out, "  error: {e}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn group_rates() {
        let a = ClientStats::new(1000, 10, Duration::from_secs(1));
        let b = ClientStats::new(3000, 10, Duration::from_secs(1));
        let g = Group::new(vec![a, b], 10, Duration::from_secs(2), Some(4000));
        assert_eq!(g.msgs, 4000);
        assert_eq!(g.msgs_per_s, 2000.0);
        assert_eq!(g.mb_per_s, 0.02);
        assert_eq!(g.min_msgs_per_s, 1000.0);
        assert_eq!(g.max_msgs_per_s, 3000.0);
        assert_eq!(g.avg_msgs_per_s, 2000.0);
        assert_eq!(g.stddev_msgs_per_s, 1000.0);
    }

    #[test]
    fn latency_percentiles() {
        let mut h = new_histogram();
        for us in 1..=1000u64 {
            h.record(us * 1000).unwrap();
        }
        let l = Latency::from_histogram(&h).unwrap();
        assert!((l.p50 - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99 - 990.0).abs() < 1.0, "{l:?}");
        assert!(Latency::from_histogram(&new_histogram()).is_none());
    }
}

//! `rnats server check connection|server`: health checks for Nagios-style monitoring, as
//! `nats server check` makes them. A check collects OK, warning and critical findings and
//! measurements (perf data); it prints one line —
//! `OK Connection OK:connected to … | connect_time=0.0011s;0.5000;1.0000 …` — and exits 0
//! (OK), 1 (WARNING) or 2 (CRITICAL). `--format json` prints the result as JSON, `text` as
//! tables, and `prometheus` as gauges for a textfile collector (exit code 0: the status is
//! a gauge), written atomically to `--outfile` if given.
//!
//! * `connection`: the time to connect, the server round trip, and a message sent to itself
//!   and received back, each against `--*-warn`/`--*-critical` thresholds;
//! * `server --name NAME`: that server's `VARZ` over the system account: it must answer, and
//!   CPU, memory, connections, subscriptions and uptime are checked against thresholds (for
//!   connections and subscriptions, a critical threshold below the warning one checks for
//!   too few instead of too many), and optionally that it requires auth and TLS;
//! * `credential --credential FILE`: offline, how long the user JWT of a `.creds` file has
//!   left before it expires (and by default, that it expires at all).

use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, Subcommand, ValueEnum};
use futures::StreamExt;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;

use super::format::{go_duration, human_duration};
use super::{Common, fetch_varz};
use crate::client::conn::{Connection, shown_servers};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// How to print the result.
    #[arg(long, value_enum, default_value = "nagios", global = true)]
    pub format: Format,

    /// The prefix of the metric names of --format prometheus.
    #[arg(long, default_value = "nats_server_check", global = true)]
    pub namespace: String,

    /// Write the result to this file (replaced atomically) instead of stdout.
    #[arg(long, value_name = "FILE", global = true)]
    pub outfile: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub check: Check,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line: status, findings, then `|` and the perf data.
    Nagios,
    /// The result as a JSON document.
    Json,
    /// Tables of the findings and the measurements.
    Text,
    /// Prometheus gauges (exposition format), e.g. for node_exporter's textfile collector.
    Prometheus,
}

#[derive(Debug, Subcommand)]
pub enum Check {
    /// Connect, measure the round trip, and send a message to itself.
    #[command(visible_alias = "conn")]
    Connection(ConnectionArgs),
    /// Check one server's health (by --name) through the system account.
    Server(ServerCheckArgs),
    /// Check how long a credentials file's user JWT has left (offline).
    Credential(CredentialArgs),
}

#[derive(Debug, Args)]
pub struct CredentialArgs {
    /// The credentials file (or a file holding a user JWT).
    #[arg(long, value_name = "FILE")]
    pub credential: std::path::PathBuf,
    /// Warning when the credential expires within this.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = threshold)]
    pub validity_warn: Duration,
    /// Critical when the credential expires within this.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = threshold)]
    pub validity_critical: Duration,
    /// Critical for a credential that never expires (`--require-expiry false` to allow it).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub require_expiry: bool,
}

/// A threshold: a duration, with 0 for none.
fn threshold(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    crate::client::message::parse_timeout(s)
}

#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Warning threshold for the time to connect.
    #[arg(long, alias = "connect-warning", value_name = "DURATION", default_value = "500ms", value_parser = threshold)]
    pub connect_warn: Duration,
    /// Critical threshold for the time to connect.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = threshold)]
    pub connect_critical: Duration,
    /// Warning threshold for the round trip to the server.
    #[arg(long, alias = "rtt-warning", value_name = "DURATION", default_value = "500ms", value_parser = threshold)]
    pub rtt_warn: Duration,
    /// Critical threshold for the round trip to the server.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = threshold)]
    pub rtt_critical: Duration,
    /// Warning threshold for a message to come back.
    #[arg(long, alias = "req-warning", value_name = "DURATION", default_value = "500ms", value_parser = threshold)]
    pub req_warn: Duration,
    /// Critical threshold for a message to come back.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = threshold)]
    pub req_critical: Duration,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct ServerCheckArgs {
    /// The server that must answer (its name).
    #[arg(long)]
    pub name: String,
    /// Warning threshold for CPU use, in percent.
    #[arg(long, value_name = "PERCENT", default_value_t = 0)]
    pub cpu_warn: i64,
    /// Critical threshold for CPU use, in percent.
    #[arg(long, value_name = "PERCENT", default_value_t = 0)]
    pub cpu_critical: i64,
    /// Warning threshold for memory use, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub mem_warn: i64,
    /// Critical threshold for memory use, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub mem_critical: i64,
    /// Warning threshold for connections (below --conn-critical: too few).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub conn_warn: i64,
    /// Critical threshold for connections.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub conn_critical: i64,
    /// Warning threshold for subscriptions (below --subs-critical: too few).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub subs_warn: i64,
    /// Critical threshold for subscriptions.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub subs_critical: i64,
    /// Warning when the server has been up for less than this.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = threshold)]
    pub uptime_warn: Duration,
    /// Critical when the server has been up for less than this.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = threshold)]
    pub uptime_critical: Duration,
    /// Critical unless the server requires authentication.
    #[arg(long)]
    pub auth_required: bool,
    /// Critical unless the server requires TLS.
    #[arg(long)]
    pub tls_required: bool,

    #[command(flatten)]
    pub common: Common,
}

/// The result of a check.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    status: &'static str,
    check_suite: &'static str,
    check_name: String,
    #[serde(rename = "warning", skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(rename = "critical", skip_serializing_if = "Vec::is_empty")]
    criticals: Vec<String>,
    #[serde(rename = "ok", skip_serializing_if = "Vec::is_empty")]
    oks: Vec<String>,
    perf_data: Vec<PerfData>,
}

/// A measurement with its thresholds (0: none), as Nagios perf data.
#[derive(Debug, Serialize)]
pub struct PerfData {
    name: &'static str,
    value: f64,
    warning: f64,
    critical: f64,
    #[serde(skip_serializing_if = "str::is_empty")]
    unit: &'static str,
}

impl PerfData {
    fn new(
        name: &'static str,
        value: f64,
        warning: f64,
        critical: f64,
        unit: &'static str,
    ) -> Self {
        PerfData {
            name,
            value,
            warning,
            critical,
            unit,
        }
    }

    /// `name=value[unit][;warn[;crit]]`: seconds to 4 decimals, anything else whole.
    fn nagios(&self) -> String {
        let number = |v: f64| {
            if self.unit == "s" {
                format!("{v:.4}")
            } else {
                format!("{v:.0}")
            }
        };
        let mut out = format!("{}={}{}", self.name, number(self.value), self.unit);
        if self.warning != 0.0 || self.critical != 0.0 {
            out.push(';');
            if self.warning != 0.0 {
                out += &number(self.warning);
            }
            if self.critical != 0.0 {
                out.push(';');
                out += &number(self.critical);
            }
        }
        out
    }
}

impl Outcome {
    fn new(suite: &'static str, name: &str) -> Outcome {
        Outcome {
            check_suite: suite,
            check_name: name.into(),
            ..Outcome::default()
        }
    }

    fn ok(&mut self, s: String) {
        self.oks.push(s);
    }
    fn warn(&mut self, s: String) {
        self.warnings.push(s);
    }
    fn critical(&mut self, s: String) {
        self.criticals.push(s);
    }

    /// Critical at or above `critical`, warning at or above `warning` (each if set), else OK.
    fn grade(&self, value: Duration, warning: Duration, critical: Duration) -> u8 {
        if !critical.is_zero() && value >= critical {
            2
        } else if !warning.is_zero() && value >= warning {
            1
        } else {
            0
        }
    }

    /// 0 OK, 1 WARNING, 2 CRITICAL.
    fn code(&self) -> u8 {
        if !self.criticals.is_empty() {
            2
        } else if !self.warnings.is_empty() {
            1
        } else {
            0
        }
    }

    fn finish(&mut self) {
        self.status = ["OK", "WARNING", "CRITICAL"][usize::from(self.code())];
    }

    /// The findings and the measurements as tables, under `NAME: STATUS`.
    fn text(&self) -> String {
        use super::format::Table;
        let mut out = format!("{}: {}\n\n", self.check_name, self.status);
        let findings: Vec<(&str, &String)> = (self.oks.iter().map(|m| ("OK", m)))
            .chain(self.warnings.iter().map(|m| ("Warning", m)))
            .chain(self.criticals.iter().map(|m| ("Critical", m)))
            .collect();
        if !findings.is_empty() {
            let mut table = Table::new("", &["Status", "Message"]);
            for (status, message) in findings {
                table.row(vec![status.to_string(), message.clone()]);
            }
            out += "Status Detail\n\n";
            out += &table.render();
            out.push('\n');
        }
        if !self.perf_data.is_empty() {
            let mut table = Table::new(
                "",
                &[
                    "Metric",
                    "Value",
                    "Unit",
                    "Critical Threshold",
                    "Warning Threshold",
                    "Description",
                ],
            );
            for pd in &self.perf_data {
                table.row(vec![
                    pd.name.to_string(),
                    pd.value.to_string(),
                    pd.unit.to_string(),
                    pd.critical.to_string(),
                    pd.warning.to_string(),
                    help(self.check_suite, pd.name),
                ]);
            }
            out += "Check Metrics\n\n";
            out += &table.render();
        }
        out
    }

    /// One gauge per measurement and the status code, labelled with the check's name, in
    /// the Prometheus exposition format (families sorted by name).
    fn prometheus(&self, namespace: &str) -> String {
        let item = label(&self.check_name.replace('"', "."));
        let prefix = if namespace.is_empty() {
            self.check_suite.to_string()
        } else {
            format!("{namespace}_{}", self.check_suite)
        };
        let mut families: Vec<(String, String, String)> = self
            .perf_data
            .iter()
            .map(|pd| {
                (
                    format!("{prefix}_{}", pd.name),
                    help(self.check_suite, pd.name),
                    format!("{{item=\"{item}\"}} {}", pd.value),
                )
            })
            .collect();
        families.push((
            format!("{prefix}_status_code"),
            format!("Nagios compatible status code for {}", self.check_suite),
            format!(
                "{{item=\"{item}\",status=\"{}\"}} {}",
                self.status,
                self.code()
            ),
        ));
        families.sort();
        let mut out = String::new();
        for (name, help, sample) in families {
            out += &format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name}{sample}\n");
        }
        out
    }

    fn nagios(&self) -> String {
        let mut parts = vec![self.check_name.clone()];
        parts.extend(self.criticals.iter().map(|c| format!("Crit:{c}")));
        parts.extend(self.warnings.iter().map(|w| format!("Warn:{w}")));
        parts.extend(self.oks.iter().map(|o| format!("OK:{o}")));
        let line = format!("{} {}", self.status, parts.join(" "));
        if self.perf_data.is_empty() {
            line
        } else {
            let perf: Vec<String> = self.perf_data.iter().map(PerfData::nagios).collect();
            format!("{line} | {}", perf.join(" "))
        }
    }
}

/// Runs the check, prints its result and returns its exit code.
pub fn run(args: &CheckArgs) -> u8 {
    let mut outcome = match &args.check {
        Check::Connection(a) => {
            let mut outcome = Outcome::new("connections", "Connection");
            if let Err(e) = crate::client::block_on(check_connection(a, &mut outcome)) {
                outcome.critical(e);
            }
            outcome
        }
        Check::Server(a) => {
            let mut outcome = Outcome::new("server", &a.name);
            if let Err(e) = crate::client::block_on(check_server(a, &mut outcome)) {
                outcome.critical(e);
            }
            outcome
        }
        Check::Credential(a) => {
            let mut outcome = Outcome::new("credential", "Credential");
            if let Err(e) = check_credential(a, &mut outcome, rnats_jwt::now_unix()) {
                outcome.critical(e);
            }
            outcome
        }
    };
    outcome.finish();
    let text = match args.format {
        Format::Nagios => outcome.nagios() + "\n",
        Format::Json => serde_json::to_string_pretty(&outcome).unwrap_or_default() + "\n",
        Format::Text => outcome.text(),
        Format::Prometheus => outcome.prometheus(&args.namespace),
    };
    let written = match &args.outfile {
        None => {
            let mut out = std::io::stdout().lock();
            std::io::Write::write_all(&mut out, text.as_bytes())
                .map_err(|e| format!("cannot write to stdout: {e}"))
        }
        Some(path) => replace_file(path, &text),
    };
    if let Err(e) = written {
        eprintln!("rnats server check: error: {e}");
        return 3;
    }
    if args.format == Format::Prometheus {
        0
    } else {
        outcome.code()
    }
}

/// Writes `path` whole or not at all (a collector never reads half a file): a new file
/// next to it, then renamed over it.
fn replace_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} is not a file name", path.display()))?;
    let mut temporary = name.to_os_string();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary);
    let written = std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map_err(fail)
}

/// What a measurement is, for Prometheus' `# HELP`.
fn help(suite: &str, name: &str) -> String {
    match name {
        "connect_time" => "Time taken to connect to NATS",
        "rtt" => "The round-trip-time of the connection",
        "request_time" => "Time taken for a full Request-Reply operation",
        "uptime" => "NATS Server uptime in seconds",
        "cpu" => "NATS Server CPU usage in percentage",
        "mem" => "NATS Server memory usage in bytes",
        "connections" => "Active connections",
        "subscriptions" => "Active subscriptions",
        "expiry" => "Expiry time in seconds",
        _ => return format!("Data about the NATS CLI check {suite}"),
    }
    .to_string()
}

/// A Prometheus label value, escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Seconds as Go's `%v` prints a float64 (`0.5`, `1`).
fn secs(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

async fn check_connection(args: &ConnectionArgs, outcome: &mut Outcome) -> Result<(), String> {
    let url = shown_servers(&args.common.conn.server);
    let start = Instant::now();
    let mut conn = Connection::open(&args.common.conn, "server check")
        .await
        .map_err(|e| format!("connection failed: {e}"))?;
    let took = start.elapsed();
    outcome.perf_data.push(PerfData::new(
        "connect_time",
        took.as_secs_f64(),
        args.connect_warn.as_secs_f64(),
        args.connect_critical.as_secs_f64(),
        "s",
    ));
    match outcome.grade(took, args.connect_warn, args.connect_critical) {
        2 => outcome.critical(format!(
            "connected to {url}, connect time exceeded {}",
            secs(args.connect_critical)
        )),
        1 => outcome.warn(format!(
            "connected to {url}, connect time exceeded {}",
            secs(args.connect_warn)
        )),
        _ => outcome.ok(format!("connected to {url} in {}", go_duration(took))),
    }

    let start = Instant::now();
    conn.round_trip()
        .await
        .map_err(|e| format!("rtt failed: {e}"))?;
    let rtt = start.elapsed();
    outcome.perf_data.push(PerfData::new(
        "rtt",
        rtt.as_secs_f64(),
        args.rtt_warn.as_secs_f64(),
        args.rtt_critical.as_secs_f64(),
        "s",
    ));
    match outcome.grade(rtt, args.rtt_warn, args.rtt_critical) {
        2 => outcome.critical(format!("rtt time exceeded {}", secs(args.rtt_critical))),
        1 => outcome.warn(format!("rtt time exceeded {}", secs(args.rtt_warn))),
        _ => outcome.ok(format!("rtt time {}", go_duration(rtt))),
    }

    let client = &conn.client;
    let inbox = client.new_inbox();
    let body: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(100)
        .map(char::from)
        .collect();
    let mut sub = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| format!("could not subscribe to {inbox}: {e}"))?;
    let start = Instant::now();
    client
        .publish(inbox.clone(), Bytes::from(body.clone()))
        .await
        .map_err(|e| format!("could not publish to {inbox}: {e}"))?;
    let received = tokio::select! {
        received = tokio::time::timeout(args.common.timeout, sub.next()) => match received {
            Ok(Some(message)) => message,
            Ok(None) => return Err(format!("did not receive from {inbox}: the connection closed")),
            Err(_) => return Err(format!("did not receive from {inbox}: timeout")),
        },
        error = conn.server_error() => return Err(format!("did not receive from {inbox}: {error}")),
    };
    let took = start.elapsed();
    outcome.perf_data.push(PerfData::new(
        "request_time",
        took.as_secs_f64(),
        args.req_warn.as_secs_f64(),
        args.req_critical.as_secs_f64(),
        "s",
    ));
    if received.payload != body.as_bytes() {
        outcome.critical("did not receive expected message".into());
    }
    match outcome.grade(took, args.req_warn, args.req_critical) {
        0 => outcome.ok(format!("round trip took {:.6}s", took.as_secs_f64())),
        grade => {
            let text = format!("round trip request took {:.6}", took.as_secs_f64());
            if grade == 2 {
                outcome.critical(text)
            } else {
                outcome.warn(text)
            }
        }
    }
    Ok(())
}

async fn check_server(args: &ServerCheckArgs, outcome: &mut Outcome) -> Result<(), String> {
    let conn = Connection::open(&args.common.conn, "server check")
        .await
        .map_err(|e| format!("connection failed: {e}"))?;
    let answer = fetch_varz(&conn, &args.name, args.common.timeout)
        .await
        .map_err(|e| format!("varz failed: {e}"))?;
    let v = answer.data.unwrap_or_default();
    if v.name != args.name {
        return Err(format!("result from wrong server {:?}", v.name));
    }
    if args.tls_required {
        if v.tls_required {
            outcome.ok("TLS required".into());
        } else {
            outcome.critical("TLS not required".into());
        }
    }
    if args.auth_required {
        if v.auth_required {
            outcome.ok("Authentication required".into());
        } else {
            outcome.critical("Authentication not required".into());
        }
    }

    let up = match (v.now, v.start) {
        (Some(now), Some(start)) => (now - start).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    if !args.uptime_warn.is_zero() || !args.uptime_critical.is_zero() {
        if args.uptime_critical > args.uptime_warn {
            return Err("Up invalid thresholds".into());
        }
        if up <= args.uptime_critical {
            outcome.critical(format!("Up {}", human_duration(up)));
        } else if up <= args.uptime_warn {
            outcome.warn(format!("Up {}", human_duration(up)));
        } else {
            outcome.ok(format!("Up {}", human_duration(up)));
        }
    }
    let f = |n: i64| n as f64;
    outcome.perf_data.extend([
        PerfData::new(
            "uptime",
            up.as_secs_f64(),
            args.uptime_warn.as_secs_f64(),
            args.uptime_critical.as_secs_f64(),
            "s",
        ),
        PerfData::new("cpu", v.cpu, f(args.cpu_warn), f(args.cpu_critical), "%"),
        PerfData::new("mem", f(v.mem), f(args.mem_warn), f(args.mem_critical), ""),
        PerfData::new(
            "connections",
            f(v.connections),
            f(args.conn_warn),
            f(args.conn_critical),
            "",
        ),
        PerfData::new(
            "subscriptions",
            v.subscriptions as f64,
            f(args.subs_warn),
            f(args.subs_critical),
            "",
        ),
    ]);
    threshold_check(
        outcome,
        "CPU",
        args.cpu_critical,
        args.cpu_warn,
        v.cpu,
        false,
    );
    threshold_check(
        outcome,
        "Memory",
        args.mem_critical,
        args.mem_warn,
        f(v.mem),
        false,
    );
    threshold_check(
        outcome,
        "Connections",
        args.conn_critical,
        args.conn_warn,
        f(v.connections),
        true,
    );
    threshold_check(
        outcome,
        "Subscriptions",
        args.subs_critical,
        args.subs_warn,
        v.subscriptions as f64,
        true,
    );
    Ok(())
}

fn check_credential(args: &CredentialArgs, outcome: &mut Outcome, now: i64) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.credential)
        .map_err(|e| format!("credential not accessible: {e}"))?;
    let jwt = rnats_jwt::parse_decorated_jwt(&text);
    let claims = rnats_jwt::decode_user(&jwt).map_err(|e| format!("invalid credential: {e}"))?;
    let expires = claims.expires;
    let left = expires.saturating_sub(now);
    let (warn, crit) = (args.validity_warn, args.validity_critical);
    outcome.perf_data.push(PerfData::new(
        "expiry",
        if expires > 0 { left as f64 } else { 0.0 },
        warn.as_secs_f64(),
        crit.as_secs_f64(),
        "s",
    ));
    let within = |d: Duration| !d.is_zero() && left <= d.as_secs().min(i64::MAX as u64) as i64;
    let at = chrono::DateTime::from_timestamp(expires, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_else(|| expires.to_string());
    if expires == 0 {
        if args.require_expiry {
            outcome.critical("never expires".into());
        } else {
            outcome.ok("never expires".into());
        }
    } else if left <= 0 {
        outcome.critical(format!("expired at {at}"));
    } else if within(crit) {
        outcome.critical(format!("expires sooner than {}", human_duration(crit)));
    } else if within(warn) {
        outcome.warn(format!("expires sooner than {}", human_duration(warn)));
    } else {
        outcome.ok(format!("expires in {at}"));
    }
    Ok(())
}

/// A value against its thresholds (none when both are 0). Where `invertible`, a critical
/// threshold below the warning one means "too few" (at or below is bad); otherwise at or
/// above is bad, and such thresholds are a mistake.
fn threshold_check(
    outcome: &mut Outcome,
    name: &str,
    critical: i64,
    warning: i64,
    value: f64,
    invertible: bool,
) {
    if critical == 0 && warning == 0 {
        return;
    }
    let (crit, warn) = (critical as f64, warning as f64);
    if critical < warning && !invertible {
        outcome.critical(format!("{name} invalid thresholds"));
        return;
    }
    let text = format!("{name} {value:.2}");
    let (is_critical, is_warning) = if critical < warning {
        (value <= crit, value <= warn)
    } else {
        (value >= crit, value >= warn)
    };
    if is_critical {
        outcome.critical(text);
    } else if is_warning {
        outcome.warn(text);
    } else {
        outcome.ok(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nagios_lines() {
        let mut o = Outcome::new("connections", "Connection");
        o.ok("connected to nats://a:4222 in 1ms".into());
        o.perf_data
            .push(PerfData::new("connect_time", 0.00123, 0.5, 1.0, "s"));
        o.perf_data.push(PerfData::new("mem", 2048.0, 0.0, 0.0, ""));
        o.perf_data.push(PerfData::new("conns", 3.0, 0.0, 5.0, ""));
        o.finish();
        assert_eq!(o.code(), 0);
        assert_eq!(
            o.nagios(),
            "OK Connection OK:connected to nats://a:4222 in 1ms | \
             connect_time=0.0012s;0.5000;1.0000 mem=2048 conns=3;;5"
        );
        o.warn("slow".into());
        o.critical("down".into());
        o.finish();
        assert_eq!(o.code(), 2);
        assert!(
            o.nagios()
                .starts_with("CRITICAL Connection Crit:down Warn:slow OK:")
        );
        let json: serde_json::Value = serde_json::to_value(&o).unwrap();
        assert_eq!(json["status"], "CRITICAL");
        assert_eq!(json["critical"][0], "down");
    }

    #[test]
    fn prometheus_and_text() {
        let mut o = Outcome::new("connections", "Conn \"A\"");
        o.perf_data
            .push(PerfData::new("connect_time", 0.25, 0.5, 1.0, "s"));
        o.warn("slow".into());
        o.finish();
        assert_eq!(
            o.prometheus("nats_server_check"),
            "# HELP nats_server_check_connections_connect_time Time taken to connect to NATS\n\
             # TYPE nats_server_check_connections_connect_time gauge\n\
             nats_server_check_connections_connect_time{item=\"Conn .A.\"} 0.25\n\
             # HELP nats_server_check_connections_status_code Nagios compatible status code for connections\n\
             # TYPE nats_server_check_connections_status_code gauge\n\
             nats_server_check_connections_status_code{item=\"Conn .A.\",status=\"WARNING\"} 1\n"
        );
        assert_eq!(label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        let text = o.text();
        assert!(
            text.starts_with("Conn \"A\": WARNING\n\nStatus Detail\n\n"),
            "{text}"
        );
        assert!(text.contains("│ Warning │ slow    │"), "{text}");
        assert!(
            text.contains("│ connect_time │ 0.25  │ s    │ 1 "),
            "{text}"
        );
    }

    #[test]
    fn outfiles_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.prom");
        replace_file(&path, "one\n").unwrap();
        replace_file(&path, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no file left behind"
        );
        assert!(replace_file(&dir.path().join("no/such/dir/x"), "x").is_err());
    }

    #[test]
    fn thresholds_and_inversion() {
        let mut o = Outcome::new("server", "a");
        threshold_check(&mut o, "Connections", 10, 5, 7.0, true);
        assert_eq!(o.warnings, ["Connections 7.00"]);
        threshold_check(&mut o, "Connections", 1, 3, 2.0, true);
        assert_eq!(o.warnings.len(), 2, "2 is at or below the warning 3");
        threshold_check(&mut o, "Connections", 1, 3, 5.0, true);
        assert_eq!(o.oks, ["Connections 5.00"]);
        threshold_check(&mut o, "CPU", 1, 3, 5.0, false);
        assert_eq!(o.criticals, ["CPU invalid thresholds"]);
        threshold_check(&mut o, "CPU", 0, 0, 500.0, false);
        assert_eq!(o.criticals.len(), 1);
        assert_eq!(
            o.grade(
                Duration::from_millis(5),
                Duration::from_millis(1),
                Duration::ZERO
            ),
            1
        );
    }

    #[test]
    fn credential_expiry() {
        use rnats_jwt::nkeys::KeyPair;
        let dir = tempfile::tempdir().unwrap();
        let (account, user) = (KeyPair::new_account(), KeyPair::new_user());
        let write = |name: &str, expires: i64| {
            let mut claims = rnats_jwt::UserClaims::new_user(user.public_key());
            claims.expires = expires;
            let jwt = rnats_jwt::encode(&mut claims, &account, 1_000).unwrap();
            let path = dir.path().join(name);
            let seed = user.seed().unwrap();
            std::fs::write(&path, rnats_jwt::format_user_creds(&jwt, &seed)).unwrap();
            path
        };
        let check = |credential: std::path::PathBuf, warn: u64, crit: u64, require: bool| {
            let args = CredentialArgs {
                credential,
                validity_warn: Duration::from_secs(warn),
                validity_critical: Duration::from_secs(crit),
                require_expiry: require,
            };
            let mut outcome = Outcome::new("credential", "Credential");
            if let Err(e) = check_credential(&args, &mut outcome, 10_000) {
                outcome.critical(e);
            }
            outcome.finish();
            outcome.nagios()
        };
        let hour = write("hour.creds", 10_000 + 3600);
        assert_eq!(
            check(hour.clone(), 0, 0, true),
            "OK Credential OK:expires in 1970-01-01 03:46:40 +0000 UTC | expiry=3600.0000s"
        );
        assert!(
            check(hour.clone(), 7200, 600, true)
                .starts_with("WARNING Credential Warn:expires sooner than 2h0m0s |")
        );
        assert!(
            check(hour.clone(), 0, 7200, true)
                .starts_with("CRITICAL Credential Crit:expires sooner than 2h0m0s |")
        );
        let past = write("past.creds", 9_000);
        assert!(
            check(past, 0, 0, true)
                .starts_with("CRITICAL Credential Crit:expired at 1970-01-01 02:30:00 +0000 UTC")
        );
        let never = write("never.creds", 0);
        assert!(
            check(never.clone(), 0, 0, true).starts_with("CRITICAL Credential Crit:never expires")
        );
        assert!(check(never, 0, 0, false).starts_with("OK Credential OK:never expires"));
        let missing = check(dir.path().join("missing"), 0, 0, true);
        assert!(
            missing.starts_with("CRITICAL Credential Crit:credential not accessible: "),
            "{missing}"
        );
        std::fs::write(dir.path().join("junk"), "not a jwt").unwrap();
        let junk = check(dir.path().join("junk"), 0, 0, true);
        assert!(
            junk.starts_with("CRITICAL Credential Crit:invalid credential: "),
            "{junk}"
        );
    }

    #[test]
    fn thresholds_parse() {
        assert_eq!(threshold("0").unwrap(), Duration::ZERO);
        assert_eq!(threshold("1ns").unwrap(), Duration::from_nanos(1));
        assert!(threshold("soon").is_err());
    }
}

//! `rnats bench`: a NATS benchmark client, like `nats bench`, that speaks the client protocol
//! itself over plain TCP so it is never the bottleneck.
//!
//! Modes (one per run):
//! * publish/subscribe (default): `--pub N` publishers send `--msgs` messages of `--size`
//!   bytes in total to `--subject`; `--sub N` subscribers (optionally in `--queue` group) must
//!   each receive all of them (the group: all of them once). Subscriptions are confirmed with
//!   PING/PONG before publishing starts.
//! * `--request`: `--pub N` requesters send `--msgs` requests in total, one at a time each, to
//!   `--sub N` built-in repliers (default 1; 0 to use repliers running elsewhere, e.g.
//!   `rnats bench --reply`), and report latency percentiles.
//! * `--reply`: only the repliers, until Ctrl-C or `--hold`.
//! * `--conns-storm K`: K logins (connect, INFO, CONNECT + PING, PONG, close) as fast as
//!   `--concurrency` threads can make them; reports logins/s.
//! * `--idle K`: opens K connections, holds them until Ctrl-C or `--hold`, reports.
//! * `--js`: JetStream publish: `--pub N` publishers send `--msgs` messages to a stream
//!   (`--stream`, created if missing), each waiting for every PubAck (`--sync`, latency
//!   percentiles) or with up to `--max-pending` unacknowledged (`js.rs`).
//!
//! With `--server-pid` the server's CPU seconds and memory are read from `/proc` just before
//! and after the measured part. `--json` prints one JSON object ([`report::Report`]) instead
//! of the table; `bench/compare.sh` reads it.

mod conn;
mod idle;
mod js;
mod progress;
mod proto;
mod pubsub;
mod report;
mod request;
mod storm;
mod sys;
mod tls;

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;

use conn::Endpoint;
use report::Report;

/// `--subject`'s default (JetStream mode then uses `bench.js`).
pub const DEFAULT_SUBJECT: &str = "bench";

/// The `bench` subcommand's options.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The server URL: nats://[user:password@|token@]host[:port].
    #[arg(short = 's', long, value_name = "URL", default_value = conn::DEFAULT_SERVER)]
    pub server: String,

    /// User name to log in with.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Password to log in with.
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,

    /// Token to log in with.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Subscribers connect to this server instead (another node of the
    /// same cluster: measures delivery across a route).
    #[arg(long = "sub-server", value_name = "URL")]
    pub sub_server: Option<String>,

    /// Speak TLS, trusting this CA certificate (PEM) for the server's.
    #[arg(long = "tls-ca", value_name = "FILE")]
    pub tls_ca: Option<std::path::PathBuf>,

    /// Number of publishers (requesters with --request).
    #[arg(long = "pub", value_name = "N", default_value_t = 1)]
    pub pubs: usize,

    /// Number of subscribers (repliers with --request/--reply; default 0, or 1 for those).
    #[arg(long = "sub", value_name = "N")]
    pub subs: Option<usize>,

    /// Total number of messages (requests) to publish, shared among the publishers; accepts
    /// k/M suffixes (1k = 1000).
    #[arg(short = 'n', long, value_name = "N", default_value = "100000", value_parser = parse_count)]
    pub msgs: u64,

    /// Payload size in bytes; accepts K/KB/KiB and M/MB/MiB suffixes (1K = 1024).
    #[arg(long, value_name = "BYTES", default_value = "128", value_parser = parse_size)]
    pub size: usize,

    /// The subject to publish to and subscribe on (with --js: the stream's, default bench.js).
    #[arg(long, value_name = "SUBJECT", default_value = DEFAULT_SUBJECT)]
    pub subject: String,

    /// Subscribers join this queue group (each message then goes to one of them).
    #[arg(long, value_name = "NAME")]
    pub queue: Option<String>,

    /// Request/reply mode: requesters and built-in repliers, with latency percentiles.
    #[arg(long, conflicts_with_all = ["reply", "conns_storm", "idle"])]
    pub request: bool,

    /// JetStream publish mode: publish to a stream and count its PubAcks (async, or --sync).
    #[arg(long, conflicts_with_all = ["request", "reply", "conns_storm", "idle", "subs", "queue"])]
    pub js: bool,

    /// With --js: the stream (created if missing, and then deleted after unless --keep).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "benchstream",
        requires = "js"
    )]
    pub stream: String,

    /// With --js: the storage of a stream the run creates.
    #[arg(long, value_name = "TYPE", default_value = "file",
          value_parser = ["file", "memory"], requires = "js")]
    pub storage: String,

    /// With --js: wait for each PubAck before the next publish (and report latencies).
    #[arg(long, requires = "js")]
    pub sync: bool,

    /// With --js (async): at most this many messages without a PubAck, per publisher.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        requires = "js",
        conflicts_with = "sync"
    )]
    pub max_pending: u64,

    /// With --js: keep the stream the run created.
    #[arg(long, requires = "js")]
    pub keep: bool,

    /// Run only repliers (--sub N of them, in a queue group) until Ctrl-C or --hold.
    #[arg(long, conflicts_with_all = ["conns_storm", "idle"])]
    pub reply: bool,

    /// Connection storm: make K logins as fast as possible and report logins/s.
    #[arg(long, value_name = "K", value_parser = parse_count, conflicts_with = "idle")]
    pub conns_storm: Option<u64>,

    /// Open K idle connections and hold them until Ctrl-C or --hold.
    #[arg(long, value_name = "K", value_parser = parse_count)]
    pub idle: Option<u64>,

    /// With --idle and --reply: stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long, value_name = "SECS")]
    pub hold: Option<f64>,

    /// Connections opened at the same time by --conns-storm and --idle.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,

    /// Bytes of PUBs a publisher writes at once (each batch ends with a PING).
    #[arg(long, value_name = "BYTES", default_value = "64KiB", value_parser = parse_size)]
    pub batch: usize,

    /// Flow control: how many batches (PINGs) a publisher may have unanswered.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub pings_ahead: usize,

    /// Give up when nothing arrives for this many seconds (and report what is missing).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,

    /// Read the CPU time and memory of this server process (from /proc) before and after.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,

    /// Print the results as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,

    /// No progress bar (there is none either when standard error is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Protocol(String),
    #[error("server error: {0}")]
    Server(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("connection closed {0}")]
    Closed(String),
    /// The run finished but did not do all it was asked (the report says what).
    #[error("{0}")]
    Incomplete(String),
}

impl From<proto::ProtoError> for BenchError {
    fn from(e: proto::ProtoError) -> BenchError {
        BenchError::Protocol(e.0)
    }
}

/// What every mode needs.
pub struct Ctx {
    pub args: BenchArgs,
    pub endpoint: Endpoint,
    /// Where subscribers connect (`--sub-server`, else `endpoint`).
    pub sub_endpoint: Endpoint,
    pub timeout: Duration,
    pub progress: bool,
}

impl Ctx {
    /// The report's fixed part.
    fn report(&self, mode: &'static str, params: report::Params) -> Report {
        Report {
            mode,
            server: self.endpoint.display.clone(),
            ok: true,
            errors: Vec::new(),
            params,
            summary: report::Summary::default(),
            publishers: None,
            subscribers: None,
            latency_us: None,
            idle: None,
            server_process: None,
            machine: None,
            js: None,
        }
    }
}

/// Runs `rnats bench`.
pub fn run(args: &BenchArgs) -> Result<(), BenchError> {
    let mut endpoint = Endpoint::parse(
        &args.server,
        args.user.as_deref(),
        args.password.as_deref(),
        args.token.as_deref(),
    )?;
    if let Some(ca) = &args.tls_ca {
        endpoint.tls = Some(tls::client_config(ca)?);
    } else if args.server.starts_with("tls://") {
        return Err(BenchError::Usage("a tls:// server needs --tls-ca".into()));
    }
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return Err(BenchError::Usage("--timeout must be positive".into()));
    }
    if args.hold.is_some_and(|h| !(h >= 0.0 && h.is_finite())) {
        return Err(BenchError::Usage("--hold must be zero or more".into()));
    }
    if args.concurrency == 0 || args.pings_ahead == 0 || args.batch == 0 {
        return Err(BenchError::Usage(
            "--concurrency, --pings-ahead and --batch must be at least 1".into(),
        ));
    }
    let sub_endpoint = match &args.sub_server {
        Some(url) => {
            let mut sub = Endpoint::parse(
                url,
                args.user.as_deref(),
                args.password.as_deref(),
                args.token.as_deref(),
            )?;
            sub.tls = endpoint.tls.clone();
            sub
        }
        None => endpoint.clone(),
    };
    let ctx = Ctx {
        args: args.clone(),
        sub_endpoint,
        endpoint,
        timeout: Duration::from_secs_f64(args.timeout),
        progress: !args.no_progress && std::io::stderr().is_terminal(),
    };
    let report = if let Some(k) = args.conns_storm {
        storm::run(&ctx, k)?
    } else if let Some(k) = args.idle {
        idle::run(&ctx, k)?
    } else if args.js {
        js::run(&ctx)?
    } else if args.request || args.reply {
        request::run(&ctx)?
    } else {
        pubsub::run(&ctx)?
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("the report serializes")
        );
    } else {
        print!("{}", report.table());
    }
    if report.ok {
        Ok(())
    } else {
        Err(BenchError::Incomplete(report.errors.join("; ")))
    }
}

/// Splits `total` among `n` clients (the first ones get the remainder).
pub fn share(total: u64, n: usize, i: usize) -> u64 {
    let n = n as u64;
    let i = i as u64;
    total / n + u64::from(i < total % n)
}

/// A count with an optional k/M/G suffix (powers of 1000).
pub(crate) fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let (digits, mult) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let mult = match t[i..].to_ascii_lowercase().as_str() {
                "k" => 1_000,
                "m" => 1_000_000,
                "g" | "b" => 1_000_000_000,
                other => return Err(format!("unknown suffix {other:?} (k, M or G)")),
            };
            (&t[..i], mult)
        }
        None => (t.as_str(), 1),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a count"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// A size in bytes with an optional K/KB/KiB, M/MB/MiB suffix (powers of 1024, as nats bench).
pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (digits, mult) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let mult = match t[i..].to_ascii_lowercase().as_str() {
                "b" => 1,
                "k" | "kb" | "kib" => 1024,
                "m" | "mb" | "mib" => 1024 * 1024,
                other => return Err(format!("unknown suffix {other:?} (K, KB, KiB, M, MB, MiB)")),
            };
            (t[..i].trim(), mult)
        }
        None => (t, 1),
    };
    let n: usize = digits.parse().map_err(|_| format!("{s:?} is not a size"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sizes() {
        assert_eq!(parse_count("100"), Ok(100));
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("2M"), Ok(2_000_000));
        assert_eq!(parse_count("1_000"), Ok(1000));
        assert!(parse_count("x").is_err());
        assert!(parse_count("1q").is_err());
        assert_eq!(parse_size("16"), Ok(16));
        assert_eq!(parse_size("8KB"), Ok(8192));
        assert_eq!(parse_size("8k"), Ok(8192));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("1MB"), Ok(1 << 20));
        assert!(parse_size("1TB").is_err());
    }

    #[test]
    fn shares_add_up() {
        for (total, n) in [(10, 3), (3, 4), (1_000_001, 7), (0, 2)] {
            let sum: u64 = (0..n).map(|i| share(total, n, i)).sum();
            assert_eq!(sum, total);
        }
        assert_eq!(share(10, 3, 0), 4);
        assert_eq!(share(10, 3, 2), 3);
    }
}

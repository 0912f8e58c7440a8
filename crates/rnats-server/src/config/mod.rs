//! The config file (`nats-server.conf`): what its keys mean, mapped onto
//! [`Options`], with nats-server's rules, warnings and messages.
//!
//! ```no_run
//! use std::path::Path;
//! use rnats_server::config;
//!
//! match config::load(Path::new("nats.conf")) {
//!     Ok((options, warnings)) => {
//!         // e.g. `nats.conf:2:16: invalid use of field "ping_interval": a bare number ...`
//!         for warning in &warnings {
//!             eprintln!("{warning}");
//!         }
//!         println!("clients on {}:{}", options.host, options.port);
//!     }
//!     // Every problem found, one per line, each with its `file:line:col`.
//!     Err(error) => eprintln!("{error}"),
//! }
//! ```
//!
//! Supported keys (case-insensitive, synonyms as in nats-server):
//! `listen`, `host`/`net`, `port`, `server_name`, `max_payload`,
//! `max_connections`/`max_conn`, `max_control_line`, `max_pending`,
//! `write_deadline`, `ping_interval`, `ping_max`, `debug`, `trace`,
//! `logtime`, `log_file`/`logfile`, `pid_file`/`pidfile`, `ports_file_dir`,
//! `authorization {}`, `accounts {}`, `no_auth_user`, `tls {}`, `cluster {}`
//! (with its own `tls {}` for routes), and for
//! decentralized authentication `operator`, `system_account`, `resolver`
//! (`MEMORY` or `{ type: full|cache, dir }`) and `resolver_preload`. Every other key
//! nats-server knows is refused as not supported yet, naming the key, so
//! that no setting is silently dropped; a key nats-server does not know
//! either is an `unknown field`, as nats-server reports it. Keys that are
//! variable definitions (referenced as `$NAME`) are not unknown.
//!
//! Like nats-server, a `0` for a limit or a duration means its default.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use rnats_conf::{Map, Pos, Value};

pub use rnats_conf::Warning;

use crate::auth::is_bcrypt;
use crate::options::{AuthOptions, Options};

mod auth;
mod cluster;
mod operator;
mod permissions;
#[cfg(test)]
mod testing;
mod tls;
mod values;

use auth::{AccountBlock, AuthBlock};
use operator::TrustBlock;
use values::{At, Reader};

/// What nats-server logs at start when a password in the options is not a
/// bcrypt hash; see [`has_plaintext_passwords`].
pub const PLAINTEXT_PASSWORDS_WARNING: &str = "Plaintext passwords detected, use nkeys or bcrypt";

/// The largest `max_payload` / `max_control_line` nats-server accepts.
const MAX_INT32: i64 = i32::MAX as i64;

/// One thing wrong in a config file and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where; `None` only for a file that could not be read at all.
    pub pos: Option<Pos>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pos {
            Some(pos) => write!(f, "{pos}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl From<rnats_conf::Error> for Problem {
    fn from(error: rnats_conf::Error) -> Self {
        let text = error.to_string();
        match error.pos() {
            Some(pos) => {
                let prefix = format!("{pos}: ");
                let message = text.strip_prefix(&prefix).unwrap_or(&text).to_owned();
                Problem {
                    pos: Some(pos.clone()),
                    message,
                }
            }
            None => Problem {
                pos: None,
                message: text,
            },
        }
    }
}

/// A config file that cannot be used: every problem found, in the order
/// found (mostly file order). Displays one problem per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl From<rnats_conf::Error> for ConfigError {
    fn from(error: rnats_conf::Error) -> Self {
        ConfigError {
            problems: vec![error.into()],
        }
    }
}

/// Reads the config file at `path` into [`Options::default`] and returns
/// the options with the warnings to log (bare-number durations and such).
pub fn load(path: &Path) -> Result<(Options, Vec<Warning>), ConfigError> {
    let mut options = Options::default();
    let warnings = apply_file(&mut options, path)?;
    Ok((options, warnings))
}

/// Reads the config file at `path` onto `opts`: keys present in the file
/// replace what `opts` holds. Sets [`Options::config_file`].
pub fn apply_file(opts: &mut Options, path: &Path) -> Result<Vec<Warning>, ConfigError> {
    let root = rnats_conf::parse_file(path)?;
    let warnings = apply(opts, &root)?;
    opts.config_file = Some(path.to_path_buf());
    Ok(warnings)
}

/// Maps an already parsed config (the root map) onto `opts`.
pub fn apply(opts: &mut Options, root: &Value) -> Result<Vec<Warning>, ConfigError> {
    let mut reader = Reader::default();
    if let Some(map) = reader.map(root) {
        reader.top_level(opts, map);
    }
    if reader.problems.is_empty() {
        Ok(reader.warnings)
    } else {
        Err(ConfigError {
            problems: reader.problems,
        })
    }
}

/// Whether nats-server would warn [`PLAINTEXT_PASSWORDS_WARNING`] at start:
/// the single user's password, or any user's (of `authorization` or of an
/// account, an empty one included), is not a bcrypt hash.
pub fn has_plaintext_passwords(auth: &AuthOptions) -> bool {
    let single = auth
        .password
        .as_deref()
        .is_some_and(|p| !p.is_empty() && !is_bcrypt(p));
    let users = auth
        .users
        .iter()
        .chain(auth.accounts.iter().flat_map(|a| a.users.iter()))
        .any(|u| !is_bcrypt(&u.password));
    single || users
}

/// nats-server keys that rnats does not implement yet, and what they belong to.
const NOT_YET: &[(&[&str], &str)] = &[
    (
        &["allow_non_tls", "ocsp"],
        "TLS options beyond the tls block",
    ),
    (&["gateway", "leaf", "leafnodes"], "gateways and leaf nodes"),
    (&["server_tags"], "server tags"),
    (
        &[
            "http",
            "https",
            "http_port",
            "monitor_port",
            "https_port",
            "http_base_path",
            "prof_port",
        ],
        "monitoring",
    ),
    (
        &["jetstream", "store_dir", "storedir", "default_js_domain"],
        "JetStream",
    ),
    (&["syslog", "remote_syslog"], "syslog"),
    (
        &[
            "log_size_limit",
            "logfile_size_limit",
            "max_traced_msg_len",
            "trace_verbose",
        ],
        "log rotation and trace limits",
    ),
    (
        &[
            "root",
            "roots",
            "resolver_tls",
            "resolver_pinned_accounts",
            "trusted",
            "trusted_keys",
        ],
        "trusted keys without operator JWTs, URL resolvers",
    ),
    (
        &["no_system_account", "no_system", "no_sys_acc"],
        "turning the system account off",
    ),
    (&["websocket", "ws"], "WebSocket"),
    (&["mqtt"], "MQTT"),
    (&["mappings", "maps"], "subject mappings"),
    (
        &[
            "max_subscriptions",
            "max_subs",
            "max_sub_tokens",
            "max_subscription_tokens",
        ],
        "subscription limits",
    ),
    (&["no_header_support"], "turning headers off"),
    (
        &["disable_sublist_cache", "no_sublist_cache"],
        "sublist cache settings",
    ),
];

fn not_yet_supported(key: &str) -> Option<&'static str> {
    NOT_YET
        .iter()
        .find_map(|(keys, what)| keys.contains(&key).then_some(*what))
}

impl Reader {
    fn top_level(&mut self, opts: &mut Options, root: &Map) {
        let mut auth: Option<AuthBlock> = None;
        let mut accounts: Option<Vec<AccountBlock>> = None;
        let mut no_auth_user: Option<At<String>> = None;
        let mut no_login_cache: Option<bool> = None;
        let mut trust = TrustBlock::default();
        let mut payload_pos = None;
        let mut pending_pos = None;
        let mut lame_duck_pos = None;
        for entry in root {
            let value = &entry.value;
            match entry.key.to_ascii_lowercase().as_str() {
                "listen" => self.listen(value, opts),
                "port" => {
                    if let Some(port) = self.port(value) {
                        opts.port = port;
                    }
                }
                "host" | "net" => {
                    if let Some(host) = self.string(value).filter(|h| !h.is_empty()) {
                        opts.host = host;
                    }
                }
                "server_name" => {
                    if let Some(name) = self.string(value) {
                        opts.server_name = Some(name);
                    }
                }
                "debug" => {
                    if let Some(on) = self.ok(value.as_bool()) {
                        opts.logging.debug = on;
                    }
                }
                "trace" => {
                    if let Some(on) = self.ok(value.as_bool()) {
                        opts.logging.trace = on;
                    }
                }
                "logtime" => {
                    if let Some(on) = self.ok(value.as_bool()) {
                        opts.logging.logtime = on;
                    }
                }
                "logfile" | "log_file" => {
                    if let Some(path) = self.path(value) {
                        opts.logging.log_file = Some(path);
                    }
                }
                "pidfile" | "pid_file" => {
                    if let Some(path) = self.path(value) {
                        opts.pid_file = Some(path);
                    }
                }
                "ports_file_dir" => {
                    if let Some(path) = self.path(value) {
                        opts.ports_file_dir = Some(path);
                    }
                }
                "max_payload" => {
                    if let Some(n) = self.count(entry, MAX_INT32) {
                        payload_pos = Some(value.pos.clone());
                        if n > 0 {
                            opts.max_payload = n as usize;
                        }
                    }
                }
                "max_control_line" => {
                    if let Some(n) = self.count(entry, MAX_INT32).filter(|n| *n > 0) {
                        opts.max_control_line = n as usize;
                    }
                }
                "max_pending" => {
                    if let Some(n) = self.count(entry, i64::MAX) {
                        pending_pos = Some(value.pos.clone());
                        if n > 0 {
                            opts.max_pending = usize::try_from(n).unwrap_or(usize::MAX);
                        }
                    }
                }
                "max_connections" | "max_conn" => {
                    // nats-server: 0 is the default, a negative number no limit.
                    if let Some(n) = self.ok(value.as_i64()) {
                        match n {
                            0 => {}
                            n if n < 0 => opts.max_connections = usize::MAX,
                            n => opts.max_connections = usize::try_from(n).unwrap_or(usize::MAX),
                        }
                    }
                }
                "ping_interval" => {
                    if let Some(d) = self.duration(entry).filter(|d| !d.is_zero()) {
                        opts.ping_interval = d;
                    }
                }
                "write_deadline" => {
                    if let Some(d) = self.duration(entry).filter(|d| !d.is_zero()) {
                        opts.write_deadline = d;
                    }
                }
                "client_advertise" => opts.client_advertise = self.string(value),
                "lame_duck_duration" => {
                    if let Some(d) = self.duration(entry) {
                        if d < Duration::from_secs(30) {
                            self.fail(
                                &entry.key_pos,
                                format!(
                                    "invalid lame_duck_duration of {}, minimum is 30 seconds",
                                    go_duration(d)
                                ),
                            );
                        } else {
                            opts.lame_duck_duration = d;
                            lame_duck_pos = Some(entry.key_pos.clone());
                        }
                    }
                }
                "lame_duck_grace_period" => {
                    if let Some(d) = self.duration(entry) {
                        opts.lame_duck_grace_period = d;
                        lame_duck_pos = Some(entry.key_pos.clone());
                    }
                }
                "connect_error_reports" => {
                    if let Some(n) = self.count(entry, u32::MAX.into()).filter(|n| *n > 0) {
                        opts.connect_error_reports = n as u32;
                    }
                }
                "reconnect_error_reports" => {
                    if let Some(n) = self.count(entry, u32::MAX.into()).filter(|n| *n > 0) {
                        opts.reconnect_error_reports = n as u32;
                    }
                }
                "ping_max" => {
                    if let Some(n) = self.count(entry, u32::MAX.into()).filter(|n| *n > 0) {
                        opts.ping_max = n as u32;
                    }
                }
                "authorization" => auth = self.authorization(entry),
                "cluster" => opts.cluster = self.cluster(value),
                "tls" => opts.tls = self.tls(value),
                "accounts" => accounts = Some(self.accounts(value)),
                "no_auth_user" => no_auth_user = self.located_string(value),
                // rnats's own: verify every bcrypt login in full.
                "no_login_cache" => no_login_cache = self.ok(value.as_bool()),
                "operator" | "operators" | "root_operator" | "root_operators" => {
                    trust.operator_pos = Some(entry.key_pos.clone());
                    self.operators(value, &mut trust);
                }
                "system_account" | "system" => trust.system_account = self.located_string(value),
                "resolver" | "account_resolver" | "accounts_resolver" => {
                    trust.resolver = self.resolver(value);
                }
                "resolver_preload" => self.resolver_preload(value, &mut trust),
                key => match not_yet_supported(key) {
                    Some(what) => self.not_yet(entry, what),
                    None => self.unknown(entry),
                },
            }
        }
        if opts.max_payload > opts.max_pending {
            let pos = payload_pos.or(pending_pos);
            if let Some(pos) = pos {
                self.fail(
                    &pos,
                    format!(
                        "max_payload ({}) cannot be higher than max_pending ({})",
                        opts.max_payload, opts.max_pending
                    ),
                );
            }
        }
        if let Some(pos) = lame_duck_pos
            && opts.lame_duck_grace_period >= opts.lame_duck_duration
        {
            self.fail(
                &pos,
                format!(
                    "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                    go_duration(opts.lame_duck_grace_period),
                    go_duration(opts.lame_duck_duration)
                ),
            );
        }
        let no_auth_pos = no_auth_user.as_ref().map(|n| n.pos.clone());
        self.finish_auth(opts, auth, accounts, no_auth_user);
        self.finish_trust(opts, trust, no_auth_pos);
        if let Some(off) = no_login_cache {
            opts.auth.no_login_cache = off;
        }
    }
}

/// A duration as Go prints it in nats-server's messages (`30s`, `2m0s`,
/// `1h0m0s`, `500ms`).
fn go_duration(d: Duration) -> String {
    let total = d.as_secs();
    let nanos = d.subsec_nanos();
    if total == 0 {
        return match nanos {
            0 => "0s".into(),
            n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
            n if n % 1_000 == 0 => format!("{}µs", n / 1_000),
            n => format!("{n}ns"),
        };
    }
    let seconds = if nanos == 0 {
        format!("{}s", total % 60)
    } else {
        let fraction = format!("{:09}", nanos);
        format!("{}.{}s", total % 60, fraction.trim_end_matches('0'))
    };
    match (total / 3600, (total / 60) % 60) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn server_settings() {
        let opts = options(
            "listen: 127.0.0.1:4333
server_name: east
max_payload: 2MB
max_conn: 100
max_control_line: 8KB
max_pending: 128MB
write_deadline: \"5s\"
ping_interval: \"30s\"
ping_max: 3
debug: true
trace: true
logtime: false
log_file: /tmp/rnats.log
pid_file: /tmp/rnats.pid
ports_file_dir: /tmp
",
        );
        assert_eq!((opts.host.as_str(), opts.port), ("127.0.0.1", 4333));
        assert_eq!(opts.server_name.as_deref(), Some("east"));
        assert_eq!(opts.max_payload, 2 * 1024 * 1024);
        assert_eq!(opts.max_connections, 100);
        assert_eq!(opts.max_control_line, 8 * 1024);
        assert_eq!(opts.max_pending, 128 * 1024 * 1024);
        assert_eq!(opts.write_deadline, Duration::from_secs(5));
        assert_eq!(opts.ping_interval, Duration::from_secs(30));
        assert_eq!(opts.ping_max, 3);
        assert!(opts.logging.debug && opts.logging.trace && !opts.logging.logtime);
        assert_eq!(
            opts.logging.log_file.as_deref(),
            Some(Path::new("/tmp/rnats.log"))
        );
        assert_eq!(opts.pid_file.as_deref(), Some(Path::new("/tmp/rnats.pid")));
        assert_eq!(opts.ports_file_dir.as_deref(), Some(Path::new("/tmp")));
    }

    #[test]
    fn host_port_and_their_synonyms() {
        let opts = options("net: 10.0.0.1\nport: -1\n");
        assert_eq!((opts.host.as_str(), opts.port), ("10.0.0.1", -1));
        let opts = options("HOST: 10.0.0.2\nPort: 4444\n");
        assert_eq!((opts.host.as_str(), opts.port), ("10.0.0.2", 4444));
        let opts = options("listen: 4555\n");
        assert_eq!((opts.host.as_str(), opts.port), ("0.0.0.0", 4555));
        let opts = options("listen: \"[::1]:-1\"\n");
        assert_eq!((opts.host.as_str(), opts.port), ("::1", -1));
        // The later key wins.
        let opts = options("listen: 127.0.0.1:-1\nport: 4555\n");
        assert_eq!((opts.host.as_str(), opts.port), ("127.0.0.1", 4555));
    }

    #[test]
    fn zero_means_the_default_as_in_nats_server() {
        let opts = options(
            "max_payload: 0\nmax_connections: 0\nping_interval: \"0s\"\nping_max: 0\nwrite_deadline: \"0s\"\n",
        );
        let defaults = Options::default();
        assert_eq!(opts.max_payload, defaults.max_payload);
        assert_eq!(opts.max_connections, defaults.max_connections);
        assert_eq!(opts.ping_interval, defaults.ping_interval);
        assert_eq!(opts.ping_max, defaults.ping_max);
        assert_eq!(opts.write_deadline, defaults.write_deadline);
        assert_eq!(options("max_connections: -1").max_connections, usize::MAX);
    }

    #[test]
    fn bad_values_are_located() {
        assert_eq!(
            error("port: \"4222\""),
            "nats.conf:1:7: expected an integer, found a string"
        );
        assert_eq!(
            error("port: 70000"),
            "nats.conf:1:7: port 70000 is out of range (0 to 65535, or -1 for any free port)"
        );
        assert_eq!(
            error("listen: localhost"),
            "nats.conf:1:9: could not parse address string \"localhost\" (expected host:port)"
        );
        assert_eq!(
            error("listen: \"127.0.0.1:abc\""),
            "nats.conf:1:9: could not parse port \"abc\""
        );
        assert_eq!(
            error("listen: true"),
            "nats.conf:1:9: expected a port or host:port, found a boolean"
        );
        assert_eq!(
            error("max_payload: 3GB"),
            "nats.conf:1:14: max_payload value is too big (at most 2147483647)"
        );
        assert_eq!(
            error("max_pending: -5"),
            "nats.conf:1:14: max_pending cannot be negative, found -5"
        );
        assert_eq!(
            error("ping_interval: \"30x\""),
            format!(
                "nats.conf:1:16: invalid duration \"30x\": {}",
                rnats_conf::parse_duration("30x").expect_err("not a duration")
            )
        );
        assert_eq!(
            error("debug: 1"),
            "nats.conf:1:8: expected a boolean, found an integer"
        );
    }

    #[test]
    fn max_payload_cannot_exceed_max_pending() {
        assert_eq!(
            error("max_payload: 2MB\nmax_pending: 1MB\n"),
            "nats.conf:1:14: max_payload (2097152) cannot be higher than max_pending (1048576)"
        );
        assert_eq!(
            error("max_payload: 100MB\n"),
            "nats.conf:1:14: max_payload (104857600) cannot be higher than max_pending (67108864)"
        );
    }

    #[test]
    fn bare_number_durations_warn_like_nats_server() {
        let opts = apply_text("ping_interval: 60\nwrite_deadline: 1m\n")
            .expect("valid")
            .0;
        assert_eq!(opts.ping_interval, Duration::from_secs(60));
        assert_eq!(opts.write_deadline, Duration::from_secs(1_000_000));
        assert_eq!(
            warnings("ping_interval: 60\nwrite_deadline: 1m\n"),
            [
                "nats.conf:1:16: invalid use of field \"ping_interval\": a bare number as a duration \
                 is deprecated; 60 is read as seconds, write it as a string such as \"60s\"",
                "nats.conf:2:17: invalid use of field \"write_deadline\": unquoted 1m is the number \
                 1000000 ('m' is a size suffix), so it is read as 1000000 seconds; write \"1m\" in \
                 quotes for a duration",
            ]
        );
    }

    #[test]
    fn unsupported_keys_are_refused_by_name() {
        assert_eq!(
            error("port: 4222\n\nallow_non_tls: true\n"),
            "nats.conf:3:1: \"allow_non_tls\" is not supported by rnats-server yet (TLS options beyond the tls block)"
        );
        assert_eq!(
            error("Gateway { port: 6222 }\nhttp_port: 8222\njetstream: enabled\n"),
            "nats.conf:1:1: \"Gateway\" is not supported by rnats-server yet (gateways and leaf nodes)\n\
             nats.conf:2:1: \"http_port\" is not supported by rnats-server yet (monitoring)\n\
             nats.conf:3:1: \"jetstream\" is not supported by rnats-server yet (JetStream)"
        );
        assert_eq!(
            error(
                "authorization { users: [ {user: a, password: b, allowed_connection_types: [STANDARD]} ] }"
            ),
            "nats.conf:1:49: \"allowed_connection_types\" is not supported by rnats-server yet (allowed connection types)"
        );
    }

    #[test]
    fn lame_duck_settings_with_nats_server_rules() {
        let opts = options("lame_duck_duration: \"45s\"\nlame_duck_grace_period: \"5s\"\n");
        assert_eq!(opts.lame_duck_duration, Duration::from_secs(45));
        assert_eq!(opts.lame_duck_grace_period, Duration::from_secs(5));
        assert_eq!(
            error("lame_duck_duration: \"5s\"\n"),
            "nats.conf:1:1: invalid lame_duck_duration of 5s, minimum is 30 seconds"
        );
        assert_eq!(
            error("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1m\"\n"),
            "nats.conf:2:1: lame duck grace period (1m0s) should be strictly lower than lame duck duration (30s)"
        );
    }

    #[test]
    fn go_durations_print_as_in_go() {
        for (d, go) in [
            (Duration::from_secs(30), "30s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(3725), "1h2m5s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::ZERO, "0s"),
        ] {
            assert_eq!(go_duration(d), go);
        }
    }

    #[test]
    fn client_advertise_and_route_error_reports() {
        let opts = options(
            "client_advertise: \"nats.example.com:4333\"\nconnect_error_reports: 10\n\
             reconnect_error_reports: 5\n",
        );
        assert_eq!(
            opts.client_advertise.as_deref(),
            Some("nats.example.com:4333")
        );
        assert_eq!(
            (opts.connect_error_reports, opts.reconnect_error_reports),
            (10, 5)
        );
        let defaults = options("port: 4222");
        assert_eq!(
            (
                defaults.connect_error_reports,
                defaults.reconnect_error_reports
            ),
            (3600, 1)
        );
    }

    #[test]
    fn unknown_keys_are_errors_like_in_nats_server_but_variables_are_not() {
        assert_eq!(
            error("port: 4333\nfoo: bar\nauthorization {\n  bogus: 1\n}\n"),
            "nats.conf:2:1: unknown field \"foo\"\nnats.conf:4:3: unknown field \"bogus\""
        );
        let opts = options(
            "PORT: 4555\nport: $PORT\nauthorization {\n  PASS: s3cr3t\n  user: a\n  password: $PASS\n}\n",
        );
        assert_eq!(opts.port, 4555);
        assert_eq!(opts.auth.password.as_deref(), Some("s3cr3t"));
    }

    #[test]
    fn all_problems_are_reported_in_file_order() {
        assert_eq!(
            error("port: x\ndebug: 5\nbogus: 1\n"),
            "nats.conf:1:7: expected an integer, found a string\n\
             nats.conf:2:8: expected a boolean, found an integer\n\
             nats.conf:3:1: unknown field \"bogus\""
        );
    }

    #[test]
    fn plaintext_passwords_are_detected_as_nats_server_does() {
        let hash = "$2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba";
        let auth = |text: &str| options(text).auth;
        assert!(has_plaintext_passwords(&auth(
            "authorization { user: a, password: b }"
        )));
        assert!(!has_plaintext_passwords(&auth(&format!(
            "authorization {{ user: a, password: \"{hash}\" }}"
        ))));
        assert!(has_plaintext_passwords(&auth(
            "accounts { A: { users: [ {user: a, password: b} ] } }"
        )));
        // A user without a password counts, as in nats-server.
        assert!(has_plaintext_passwords(&auth(
            "authorization { users: [ {user: a} ] }"
        )));
        assert!(!has_plaintext_passwords(&auth(
            "authorization { token: t }"
        )));
        assert!(!has_plaintext_passwords(&auth(&format!(
            "authorization {{ users: [ {{nkey: {NKEY}}} ] }}"
        ))));
    }
}

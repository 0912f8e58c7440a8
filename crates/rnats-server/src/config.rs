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

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rnats_conf::{Map, MapEntry, Pos, Value, ValueKind};
use rnats_proto::subject::{is_subset, is_valid_subject};

pub use rnats_conf::Warning;

use crate::auth::is_bcrypt;
use crate::options::{
    AccountConfig, AuthOptions, DEFAULT_ALLOW_RESPONSE_EXPIRATION, ExportConfig, ExportKind,
    ImportConfig, NkeyConfig, Options, PermissionsConfig, ResolverOptions,
    ResponsePermissionConfig, SubjectRuleConfig, TrustOptions, UserConfig,
};
use crate::tls::TlsOptions;

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
    let warnings = read(opts, &root, true)?;
    opts.config_file = Some(path.to_path_buf());
    Ok(warnings)
}

/// Maps an already parsed config (the root map) onto `opts`, without
/// reading the files it names: [`apply_file`] also loads the TLS
/// certificates and keys, as nats-server does while reading its config.
pub fn apply(opts: &mut Options, root: &Value) -> Result<Vec<Warning>, ConfigError> {
    read(opts, root, false)
}

fn read(opts: &mut Options, root: &Value, load_files: bool) -> Result<Vec<Warning>, ConfigError> {
    let mut reader = Reader {
        load_files,
        ..Reader::default()
    };
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
    (&["max_traced_msg_len", "trace_verbose"], "trace limits"),
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

/// A value and where it was written.
#[derive(Debug, Clone)]
struct At<T> {
    value: T,
    pos: Pos,
}

/// Users and NKey users of an `authorization` block or an account.
#[derive(Default)]
struct UserList {
    users: Vec<At<UserConfig>>,
    nkeys: Vec<At<NkeyConfig>>,
}

impl UserList {
    fn is_empty(&self) -> bool {
        self.users.is_empty() && self.nkeys.is_empty()
    }

    fn apply_default_permissions(&mut self, default: &Option<PermissionsConfig>) {
        let Some(default) = default else { return };
        for user in &mut self.users {
            user.value
                .permissions
                .get_or_insert_with(|| default.clone());
        }
        for nkey in &mut self.nkeys {
            nkey.value
                .permissions
                .get_or_insert_with(|| default.clone());
        }
    }
}

#[derive(Default)]
struct AuthBlock {
    pos: Option<Pos>,
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
    timeout: Option<Duration>,
    /// `Some` as soon as a `users` array is written, even an empty one.
    users: Option<UserList>,
    default_permissions: Option<PermissionsConfig>,
}

/// `operator`, `system_account`, `resolver`, `resolver_preload`.
#[derive(Default)]
struct TrustBlock {
    operator_pos: Option<Pos>,
    operators: Vec<String>,
    system_account: Option<At<String>>,
    resolver: Option<At<ResolverOptions>>,
    preload: Vec<(String, String)>,
    preload_pos: Option<Pos>,
}

struct AccountBlock {
    name: At<String>,
    users: UserList,
    users_pos: Option<Pos>,
    /// Each export with where its `accounts` list was written.
    exports: Vec<(At<ExportConfig>, Option<Pos>)>,
    imports: Vec<At<ImportConfig>>,
}

impl AccountBlock {
    fn new(name: String, pos: Pos) -> Self {
        AccountBlock {
            name: At { value: name, pos },
            users: UserList::default(),
            users_pos: None,
            exports: Vec::new(),
            imports: Vec::new(),
        }
    }
}

fn kind_name(kind: &ExportKind) -> &'static str {
    match kind {
        ExportKind::Stream => "stream",
        ExportKind::Service => "service",
    }
}

/// Walks the parsed file, collecting problems and warnings as it goes.
#[derive(Default)]
struct Reader {
    problems: Vec<Problem>,
    warnings: Vec<Warning>,
    /// Load the certificates and keys `tls {}` blocks name.
    load_files: bool,
}

impl Reader {
    fn fail(&mut self, pos: &Pos, message: impl Into<String>) {
        self.problems.push(Problem {
            pos: Some(pos.clone()),
            message: message.into(),
        });
    }

    fn ok<T>(&mut self, result: Result<T, rnats_conf::Error>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.problems.push(error.into());
                None
            }
        }
    }

    fn string(&mut self, value: &Value) -> Option<String> {
        self.ok(value.as_str()).map(str::to_owned)
    }

    fn located_string(&mut self, value: &Value) -> Option<At<String>> {
        self.string(value).map(|s| At {
            value: s,
            pos: value.pos.clone(),
        })
    }

    fn path(&mut self, value: &Value) -> Option<PathBuf> {
        self.string(value).map(PathBuf::from)
    }

    fn map<'v>(&mut self, value: &'v Value) -> Option<&'v Map> {
        self.ok(value.as_map())
    }

    fn array<'v>(&mut self, value: &'v Value) -> Option<&'v [Value]> {
        self.ok(value.as_array())
    }

    /// A key nats-server does not know: refused as nats-server refuses it,
    /// unless it is a variable definition.
    fn unknown(&mut self, entry: &MapEntry) {
        if !entry.used_as_variable {
            self.fail(&entry.key_pos, format!("unknown field {:?}", entry.key));
        }
    }

    /// Where nats-server has its own wording for an unknown key.
    fn unknown_as(&mut self, entry: &MapEntry, message: String) {
        if !entry.used_as_variable {
            self.fail(&entry.key_pos, message);
        }
    }

    fn not_yet(&mut self, entry: &MapEntry, what: &str) {
        self.fail(
            &entry.key_pos,
            format!(
                "{:?} is not supported by rnats-server yet ({what})",
                entry.key
            ),
        );
    }

    /// A non-negative integer no larger than `max`.
    fn count(&mut self, entry: &MapEntry, max: i64) -> Option<i64> {
        let n = self.ok(entry.value.as_i64())?;
        if n < 0 {
            self.fail(
                &entry.value.pos,
                format!("{} cannot be negative, found {n}", entry.key),
            );
            None
        } else if n > max {
            self.fail(
                &entry.value.pos,
                format!("{} value is too big (at most {max})", entry.key),
            );
            None
        } else {
            Some(n)
        }
    }

    /// `ping_interval`, `write_deadline`: a duration string, or a bare
    /// number of seconds with nats-server's warning.
    fn duration(&mut self, entry: &MapEntry) -> Option<Duration> {
        let (duration, warning) = self.ok(entry.value.as_duration())?;
        if let Some(warning) = warning {
            self.warnings.push(Warning {
                pos: warning.pos,
                message: format!("invalid use of field {:?}: {}", entry.key, warning.message),
            });
        }
        Some(duration)
    }

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
                // Bytes (`10MB` works); 0 or less: no rotation, no limit.
                "logfile_size_limit" | "log_size_limit" => {
                    if let Some(n) = self.ok(value.as_i64()) {
                        opts.logging.size_limit = n;
                    }
                }
                "logfile_max_num" | "log_max_num" => {
                    if let Some(n) = self.ok(value.as_i64()) {
                        opts.logging.max_files = n;
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
                "tls" => opts.tls = self.tls(value).filter(|t| self.tls_files(entry, t)),
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

    /// `operator: <jwt or file>` or a list of them. A file may hold the JWT
    /// plain or between `-----BEGIN ... JWT-----` lines; a relative path is
    /// tried from the working directory, then from the config file's.
    fn operators(&mut self, value: &Value, trust: &mut TrustBlock) {
        let items: Vec<&Value> = match &value.kind {
            ValueKind::Array(items) => items.iter().collect(),
            _ => vec![value],
        };
        for item in items {
            let Some(text) = self.string(item) else {
                continue;
            };
            let jwt = if text.trim_start().starts_with("eyJ") {
                text
            } else {
                let path = PathBuf::from(&text);
                let from_config = Path::new(&*item.pos.file)
                    .parent()
                    .map(|dir| dir.join(&path));
                let read = std::fs::read_to_string(&path).or_else(|e| match &from_config {
                    Some(p) if path.is_relative() => std::fs::read_to_string(p),
                    _ => Err(e),
                });
                match read {
                    Ok(contents) => rnats_jwt::parse_decorated_jwt(&contents),
                    Err(e) => {
                        self.fail(
                            &item.pos,
                            format!("error parsing operator JWT: open {text}: {e}"),
                        );
                        continue;
                    }
                }
            };
            match rnats_jwt::decode_operator(&jwt) {
                Ok(_) => trust.operators.push(jwt),
                Err(e) => self.fail(&item.pos, format!("error parsing operator JWT: {e}")),
            }
        }
    }

    /// `resolver: MEMORY` or `resolver: { type: full|cache, dir: ..., allow_delete }`.
    fn resolver(&mut self, value: &Value) -> Option<At<ResolverOptions>> {
        let at = |r| {
            Some(At {
                value: r,
                pos: value.pos.clone(),
            })
        };
        if let ValueKind::String(text) = &value.kind {
            if text.eq_ignore_ascii_case("MEMORY") || text.eq_ignore_ascii_case("MEM") {
                return at(ResolverOptions::Memory);
            }
            self.fail(
                &value.pos,
                format!(
                    "resolver {text:?} is not supported by rnats-server yet (use MEMORY or {{ type: full|cache, dir: ... }})"
                ),
            );
            return None;
        }
        let map = self.map(value)?;
        let (mut kind, mut dir, mut allow_delete) = (None, None, false);
        for e in map {
            match e.key.to_ascii_lowercase().as_str() {
                "type" => kind = self.located_string(&e.value),
                "dir" => dir = self.path(&e.value),
                "allow_delete" => allow_delete = self.ok(e.value.as_bool()).unwrap_or(false),
                // Cluster synchronisation settings: nothing to synchronise with.
                "interval" | "limit" | "timeout" | "ttl" | "hard_delete" => {}
                _ => self.unknown(e),
            }
        }
        let full = match kind.as_ref().map(|k| k.value.to_ascii_lowercase()) {
            Some(k) if k == "full" => true,
            Some(k) if k == "cache" => false,
            Some(_) | None => {
                let pos = kind.as_ref().map_or(&value.pos, |k| &k.pos).clone();
                self.fail(&pos, "resolver type must be \"full\" or \"cache\"");
                return None;
            }
        };
        let Some(dir) = dir else {
            self.fail(&value.pos, "resolver needs a dir");
            return None;
        };
        at(ResolverOptions::Dir {
            dir,
            full,
            allow_delete,
        })
    }

    /// `resolver_preload { <account public key>: <account JWT> }`.
    fn resolver_preload(&mut self, value: &Value, trust: &mut TrustBlock) {
        let Some(map) = self.map(value) else { return };
        for e in map {
            let Some(jwt) = self.string(&e.value) else {
                continue;
            };
            match rnats_jwt::decode_account(jwt.trim()) {
                Ok(claims) if claims.subject == e.key => {
                    trust.preload.push((e.key.clone(), jwt.trim().to_string()));
                }
                Ok(_) | Err(_) => self.fail(&e.value.pos, "invalid account JWT"),
            }
        }
        trust.preload_pos = Some(value.pos.clone());
    }

    /// Operator mode's rules, with nats-server's messages.
    fn finish_trust(&mut self, opts: &mut Options, trust: TrustBlock, no_auth: Option<Pos>) {
        let Some(pos) = trust.operator_pos else {
            if let Some(p) = trust.preload_pos {
                self.warnings.push(Warning {
                    pos: p,
                    message: "resolver_preload is ignored without an operator".into(),
                });
            }
            return;
        };
        let auth = &opts.auth;
        if !auth.users.is_empty() || !auth.nkeys.is_empty() || auth.username.is_some() {
            self.fail(
                &pos,
                "operators do not allow users to be configured directly",
            );
        }
        if !auth.accounts.is_empty() {
            self.fail(
                &pos,
                "operators do not allow Accounts to be configured directly",
            );
        }
        if let Some(p) = no_auth {
            self.fail(&p, "no_auth_user not compatible with Trusted Operator");
        }
        if let Some(sys) = &trust.system_account
            && !rnats_jwt::is_public_key_of(&sys.value, rnats_jwt::nkeys::KeyPairType::Account)
        {
            self.fail(
                &sys.pos,
                "error resolving system account: will only fetch valid account keys",
            );
        }
        let Some(resolver) = trust.resolver else {
            self.fail(
                &pos,
                "operator needs a resolver: resolver: MEMORY, or resolver: { type: full, dir: ... }",
            );
            return;
        };
        let operator_sys = trust.operators.iter().any(|jwt| {
            rnats_jwt::decode_operator(jwt).is_ok_and(|o| !o.nats.system_account.is_empty())
        });
        if matches!(resolver.value, ResolverOptions::Dir { .. })
            && trust.system_account.is_none()
            && !operator_sys
        {
            self.fail(
                &resolver.pos,
                "using nats based account resolver - the system account needs to be specified in configuration or the operator jwt",
            );
        }
        opts.auth.trust = Some(TrustOptions {
            operators: trust.operators,
            system_account: trust.system_account.map(|s| s.value),
            resolver: resolver.value,
            preload: trust.preload,
        });
    }

    /// `tls { cert_file, key_file, ca_file, verify, verify_and_map, timeout,
    /// handshake_first, min_version, cipher_suites, curve_preferences,
    /// pinned_certs, insecure }`, for clients. Whether the files and names
    /// work is checked when the server builds its TLS configuration.
    fn tls(&mut self, value: &Value) -> Option<TlsOptions> {
        let tls = self.tls_block(value, false)?;
        if tls.cert_file.is_none() || tls.key_file.is_none() {
            self.fail(
                &value.pos,
                "tls requires cert_file and key_file".to_string(),
            );
            return None;
        }
        if tls.verifies_clients() && tls.ca_file.is_none() {
            self.fail(&value.pos, "tls verify requires ca_file".to_string());
            return None;
        }
        Some(tls)
    }

    /// Loads the files a `tls {}` block names, as nats-server does while
    /// it reads the file (so `-t` fails on a missing certificate), the
    /// error at the `tls` key.
    fn tls_files(&mut self, entry: &MapEntry, tls: &TlsOptions) -> bool {
        if !self.load_files {
            return true;
        }
        match crate::tls::load_files(tls) {
            Ok(()) => true,
            Err(message) => {
                self.fail(&entry.key_pos, message);
                false
            }
        }
    }

    /// `cluster { tls {} }`: the same keys, for routes. Routes always
    /// verify each other (as nats-server, whatever `verify` says), so
    /// `ca_file` is required as well as the certificate and key.
    fn cluster_tls(&mut self, value: &Value) -> Option<TlsOptions> {
        let tls = self.tls_block(value, true)?;
        if tls.cert_file.is_none() || tls.key_file.is_none() {
            self.fail(&value.pos, "cluster tls requires cert_file and key_file");
            return None;
        }
        if tls.ca_file.is_none() {
            self.fail(&value.pos, "cluster tls requires ca_file");
            return None;
        }
        Some(tls)
    }

    fn tls_block(&mut self, value: &Value, routes: bool) -> Option<TlsOptions> {
        let block = self.map(value)?;
        let mut tls = TlsOptions::default();
        for entry in block {
            let v = &entry.value;
            match entry.key.to_ascii_lowercase().as_str() {
                "cert_file" => tls.cert_file = self.path(v),
                "key_file" => tls.key_file = self.path(v),
                "ca_file" => tls.ca_file = self.path(v),
                "verify" => tls.verify = self.ok(v.as_bool()).unwrap_or(false),
                "verify_and_map" => tls.verify_and_map = self.ok(v.as_bool()).unwrap_or(false),
                "handshake_first" | "first" | "immediate" => {
                    let on = self.ok(v.as_bool()).unwrap_or(false);
                    if routes {
                        self.warnings.push(Warning {
                            pos: entry.key_pos.clone(),
                            message: format!(
                                "{:?} is ignored in cluster tls: routes always start with the TLS handshake",
                                entry.key
                            ),
                        });
                    } else {
                        tls.handshake_first = on;
                    }
                }
                // nats-server takes seconds, as a number (fractions allowed).
                "timeout" => match &v.kind {
                    ValueKind::Integer(n) if *n >= 0 => {
                        tls.timeout = Some(Duration::from_secs(*n as u64))
                    }
                    ValueKind::Float(f) if *f >= 0.0 && f.is_finite() => {
                        tls.timeout = Some(Duration::from_secs_f64(*f))
                    }
                    _ => {
                        tls.timeout = self.duration(entry);
                    }
                },
                "min_version" => tls.min_version = self.string(v),
                "cipher_suites" => tls.cipher_suites = self.string_list(v),
                "curve_preferences" => tls.curve_preferences = self.string_list(v),
                "pinned_certs" => tls.pinned_certs = self.string_list(v),
                // Only a server that connects out (a route) has a peer
                // certificate to skip checking; the client-facing block
                // takes it and ignores it, as nats-server does.
                "insecure" => tls.insecure = self.ok(v.as_bool()).unwrap_or(false),
                "verify_cert_and_check_known_urls" if routes => {
                    self.not_yet(entry, "this cluster TLS option")
                }
                "cert_store"
                | "cert_match"
                | "cert_match_by"
                | "ocsp_peer"
                | "certs"
                | "handshake_first_fallback" => self.not_yet(entry, "this TLS option"),
                _ => self.unknown(entry),
            }
        }
        Some(tls)
    }

    /// `listen: 4222`, `listen: 127.0.0.1:4222`, `listen: "[::1]:-1"`.
    fn listen(&mut self, value: &Value, opts: &mut Options) {
        match &value.kind {
            ValueKind::Integer(_) => {
                if let Some(port) = self.port(value) {
                    opts.port = port;
                }
            }
            ValueKind::String(text) => {
                let Some((host, port)) = crate::options::split_host_port(text) else {
                    self.fail(
                        &value.pos,
                        format!("could not parse address string {text:?} (expected host:port)"),
                    );
                    return;
                };
                let Ok(port) = port.parse::<i64>() else {
                    self.fail(&value.pos, format!("could not parse port {port:?}"));
                    return;
                };
                if let Some(port) = self.check_port(port, &value.pos) {
                    opts.port = port;
                    if !host.is_empty() {
                        opts.host = host.to_owned();
                    }
                }
            }
            _ => {
                let found = value.kind.type_name();
                self.fail(
                    &value.pos,
                    format!("expected a port or host:port, found {found}"),
                );
            }
        }
    }

    /// `cluster { name, listen | host + port, authorization { user,
    /// password, timeout, [permissions: deprecated] }, routes,
    /// connect_retries, no_advertise, cluster_advertise, permissions {
    /// import, export }, tls }`.
    fn cluster(&mut self, value: &Value) -> Option<crate::options::ClusterOptions> {
        let block = self.map(value)?;
        // No port, no clustering (as in nats-server: `cluster { name: x }`
        // alone neither listens nor dials); `listen` or `port` turn it on.
        let mut cluster = crate::options::ClusterOptions {
            host: "0.0.0.0".into(),
            port: 0,
            ..Default::default()
        };
        let mut legacy_permissions = None;
        for entry in block {
            let v = &entry.value;
            match entry.key.to_ascii_lowercase().as_str() {
                "name" => cluster.name = self.string(v).filter(|n| !n.is_empty()),
                "listen" => {
                    let mut listen = Options {
                        host: cluster.host.clone(),
                        port: cluster.port,
                        ..Options::default()
                    };
                    self.listen(v, &mut listen);
                    cluster.host = listen.host;
                    cluster.port = listen.port;
                }
                "host" | "net" => {
                    if let Some(host) = self.string(v).filter(|h| !h.is_empty()) {
                        cluster.host = host;
                    }
                }
                "port" => {
                    if let Some(port) = self.port(v) {
                        cluster.port = port;
                    }
                }
                "authorization" => {
                    let Some(map) = self.map(v) else { continue };
                    for e in map {
                        match e.key.to_ascii_lowercase().as_str() {
                            "user" | "username" => cluster.username = self.string(&e.value),
                            "pass" | "password" => cluster.password = self.string(&e.value),
                            "timeout" => cluster.auth_timeout = self.auth_timeout(&e.value),
                            // Routes log in with one user and password, in
                            // nats-server too (these are its messages).
                            "users" => self.fail(
                                &e.key_pos,
                                "Cluster authorization does not allow multiple users",
                            ),
                            "token" => self
                                .fail(&e.key_pos, "Cluster authorization does not support tokens"),
                            // The old place of route permissions: still
                            // honoured, with nats-server's warning, unless
                            // the cluster block has its own.
                            "permissions" | "default_permissions" => {
                                self.warnings.push(Warning {
                                    pos: e.key_pos.clone(),
                                    message: format!(
                                        "invalid use of field {:?}: setting \"permissions\" within \
                                         cluster authorization block is deprecated",
                                        entry.key
                                    ),
                                });
                                legacy_permissions = self.route_permissions(&e.value);
                            }
                            _ => self.unknown(e),
                        }
                    }
                }
                "routes" => {
                    cluster.routes = match &v.kind {
                        ValueKind::String(_) => self.string(v).into_iter().collect(),
                        _ => self.string_list(v),
                    }
                }
                "connect_retries" => {
                    if let Some(n) = self.count(entry, u32::MAX.into()) {
                        cluster.connect_retries = n as u32;
                    }
                }
                "no_advertise" => cluster.no_advertise = self.ok(v.as_bool()).unwrap_or(false),
                "cluster_advertise" | "advertise" => cluster.advertise = self.string(v),
                "permissions" => {
                    if let Some(perms) = self.route_permissions(v) {
                        cluster.permissions = Some(perms);
                    }
                }
                "tls" => cluster.tls = self.cluster_tls(v).filter(|t| self.tls_files(entry, t)),
                "pool_size" | "accounts" | "compression" => {
                    self.not_yet(entry, "this cluster option")
                }
                _ => self.unknown(entry),
            }
        }
        if cluster.permissions.is_none() {
            cluster.permissions = legacy_permissions;
        }
        Some(cluster)
    }

    /// Route permissions: `import` and `export` (or nats-server's aliases
    /// `publish` and `subscribe`), without `allow_responses`.
    fn route_permissions(&mut self, value: &Value) -> Option<crate::options::RoutePermissions> {
        let perms = self.permissions(value)?;
        if perms.allow_responses.is_some() {
            self.fail(
                &value.pos,
                "Cluster permissions do not support dynamic responses",
            );
            return None;
        }
        // The parser reads `import` as publish and `export` as subscribe.
        Some(crate::options::RoutePermissions {
            import: perms.publish,
            export: perms.subscribe,
        })
    }

    fn port(&mut self, value: &Value) -> Option<i32> {
        let port = self.ok(value.as_i64())?;
        self.check_port(port, &value.pos)
    }

    fn check_port(&mut self, port: i64, pos: &Pos) -> Option<i32> {
        if (-1..=i64::from(u16::MAX)).contains(&port) {
            Some(port as i32)
        } else {
            self.fail(
                pos,
                format!("port {port} is out of range (0 to 65535, or -1 for any free port)"),
            );
            None
        }
    }

    fn authorization(&mut self, entry: &MapEntry) -> Option<AuthBlock> {
        let map = self.map(&entry.value)?;
        let mut auth = AuthBlock {
            pos: Some(entry.key_pos.clone()),
            ..AuthBlock::default()
        };
        for e in map {
            let value = &e.value;
            match e.key.to_ascii_lowercase().as_str() {
                "user" | "username" => auth.user = self.string(value),
                "pass" | "password" => auth.password = self.string(value),
                "token" => auth.token = self.string(value),
                "timeout" => auth.timeout = self.auth_timeout(value),
                "users" => {
                    let mut users = UserList::default();
                    self.users(value, &mut users);
                    auth.users = Some(users);
                }
                "default_permission" | "default_permissions" | "permissions" => {
                    auth.default_permissions = self.permissions(value);
                }
                _ => self.unknown(e),
            }
        }
        if let Some(users) = &mut auth.users {
            users.apply_default_permissions(&auth.default_permissions);
        }
        Some(auth)
    }

    /// `timeout: 1`, `timeout: 0.5` (seconds, as nats-server documents it)
    /// or `timeout: "2s"`. Zero means the default.
    fn auth_timeout(&mut self, value: &Value) -> Option<Duration> {
        let duration = match &value.kind {
            ValueKind::Integer(_) | ValueKind::Float(_) => {
                let seconds = self.ok(value.as_f64())?;
                match Duration::try_from_secs_f64(seconds) {
                    Ok(d) => d,
                    Err(_) => {
                        self.fail(
                            &value.pos,
                            format!(
                                "invalid authorization timeout {seconds}: expected a non-negative number of seconds"
                            ),
                        );
                        return None;
                    }
                }
            }
            ValueKind::String(_) => self.ok(value.as_duration())?.0,
            other => {
                let found = other.type_name();
                self.fail(
                    &value.pos,
                    format!(
                        "expected a number of seconds or a duration such as \"2s\", found {found}"
                    ),
                );
                return None;
            }
        };
        (!duration.is_zero()).then_some(duration)
    }

    /// `users: [ {user: a, password: b, permissions: {...}}, {nkey: U...} ]`
    fn users(&mut self, value: &Value, out: &mut UserList) {
        let Some(items) = self.array(value) else {
            return;
        };
        for item in items {
            let Some(map) = self.map(item) else { continue };
            let mut name: Option<At<String>> = None;
            let mut password: Option<String> = None;
            let mut nkey: Option<At<String>> = None;
            let mut permissions = None;
            for e in map {
                let value = &e.value;
                match e.key.to_ascii_lowercase().as_str() {
                    "nkey" => nkey = self.located_string(value),
                    "user" | "username" => name = self.located_string(value),
                    "pass" | "password" => password = self.string(value),
                    "permission" | "permissions" | "authorization" => {
                        permissions = self.permissions(value);
                    }
                    "allowed_connection_types" | "connection_types" | "clients" => {
                        self.not_yet(e, "allowed connection types");
                    }
                    _ => self.unknown(e),
                }
            }
            let nkey = nkey.filter(|k| !k.value.is_empty());
            let name = name.filter(|n| !n.value.is_empty());
            match (nkey, name) {
                (Some(key), name) => {
                    if !is_public_user_nkey(&key.value) {
                        self.fail(&key.pos, "Not a valid public nkey for a user");
                    } else if name.is_some() || password.is_some() {
                        self.fail(&item.pos, "Nkey users do not take usernames or passwords");
                    } else {
                        out.nkeys.push(At {
                            value: NkeyConfig {
                                nkey: key.value,
                                permissions,
                            },
                            pos: key.pos,
                        });
                    }
                }
                (None, Some(name)) => out.users.push(At {
                    value: UserConfig {
                        user: name.value,
                        password: password.unwrap_or_default(),
                        permissions,
                    },
                    pos: name.pos,
                }),
                (None, None) => self.fail(&item.pos, "User entry requires a user"),
            }
        }
    }

    /// `{ publish: ..., subscribe: ..., allow_responses: ... }`
    fn permissions(&mut self, value: &Value) -> Option<PermissionsConfig> {
        let map = self.map(value)?;
        let mut permissions = PermissionsConfig::default();
        for e in map {
            let value = &e.value;
            match e.key.to_ascii_lowercase().as_str() {
                "pub" | "publish" | "import" => permissions.publish = self.subject_rule(value),
                "sub" | "subscribe" | "export" => permissions.subscribe = self.subject_rule(value),
                "publish_allow_responses" | "allow_responses" => {
                    permissions.allow_responses = self.allow_responses(value);
                }
                _ => self.unknown_as(e, format!("Unknown field {:?} parsing permissions", e.key)),
            }
        }
        // As nats-server: allowing responses turns off the blanket publish
        // allow, so that what a user may publish to is what replies open.
        if permissions.allow_responses.is_some() {
            permissions
                .publish
                .get_or_insert_with(SubjectRuleConfig::default)
                .allow
                .get_or_insert_with(Vec::new);
        }
        Some(permissions)
    }

    /// `"a.>"`, `["a", "b"]` (allow) or `{ allow: ..., deny: ... }`.
    fn subject_rule(&mut self, value: &Value) -> Option<SubjectRuleConfig> {
        let ValueKind::Map(map) = &value.kind else {
            return Some(SubjectRuleConfig {
                allow: self.subjects(value),
                deny: Vec::new(),
            });
        };
        if map.is_empty() {
            return None;
        }
        let mut rule = SubjectRuleConfig::default();
        for e in map {
            match e.key.to_ascii_lowercase().as_str() {
                "allow" => rule.allow = self.subjects(&e.value),
                "deny" => rule.deny = self.subjects(&e.value).unwrap_or_default(),
                _ => self.unknown_as(
                    e,
                    format!(
                        "Unknown field name {:?} parsing subject permissions, only 'allow' or 'deny' are permitted",
                        e.key
                    ),
                ),
            }
        }
        Some(rule)
    }

    /// A subject or an array of subjects; `"foo.* queue"` names a queue group.
    fn subjects(&mut self, value: &Value) -> Option<Vec<String>> {
        let values = match &value.kind {
            ValueKind::String(_) => std::slice::from_ref(value),
            ValueKind::Array(items) => items.as_slice(),
            other => {
                let found = other.type_name();
                self.fail(
                    &value.pos,
                    format!("expected a subject or an array of subjects, found {found}"),
                );
                return None;
            }
        };
        let mut subjects = Vec::with_capacity(values.len());
        for v in values {
            let subject = self.string(v)?;
            let mut fields = subject.split_whitespace();
            let valid = match (fields.next(), fields.next(), fields.next()) {
                _ if is_valid_subject(subject.as_bytes()) => true,
                (Some(s), Some(_queue), None) => is_valid_subject(s.as_bytes()),
                _ => false,
            };
            if !valid {
                self.fail(
                    &v.pos,
                    format!("subject {subject:?} is not a valid subject"),
                );
                return None;
            }
            subjects.push(subject);
        }
        Some(subjects)
    }

    /// `true`, `false` or `{ max: 1, expires: "1m" }`. As in nats-server, a
    /// missing or zero `max` is 1 and a missing or zero `expires` 2 minutes;
    /// negative ones mean no limit.
    fn allow_responses(&mut self, value: &Value) -> Option<ResponsePermissionConfig> {
        let default = ResponsePermissionConfig {
            max: 1,
            expires: Some(DEFAULT_ALLOW_RESPONSE_EXPIRATION),
        };
        let map = match &value.kind {
            ValueKind::Bool(true) => return Some(default),
            ValueKind::Bool(false) => return None,
            ValueKind::Map(map) => map,
            other => {
                let found = other.type_name();
                self.fail(
                    &value.pos,
                    format!(
                        "expected true, false or a map such as {{ max: 1, expires: \"1m\" }}, found {found}"
                    ),
                );
                return None;
            }
        };
        let mut permission = default;
        for e in map {
            let value = &e.value;
            match e.key.to_ascii_lowercase().as_str() {
                "max" | "max_msgs" | "max_messages" | "max_responses" => {
                    match self.ok(value.as_i64()) {
                        Some(n) if n < 0 => permission.max = usize::MAX,
                        Some(n) if n > 0 => {
                            permission.max = usize::try_from(n).unwrap_or(usize::MAX)
                        }
                        _ => {}
                    }
                }
                "expires" | "expiration" | "ttl" => {
                    let Some(text) = self.string(value) else {
                        continue;
                    };
                    let (negative, unsigned) = match text.strip_prefix('-') {
                        Some(rest) => (true, rest),
                        None => (false, text.as_str()),
                    };
                    match rnats_conf::parse_duration(unsigned) {
                        Ok(_) if negative => permission.expires = None,
                        Ok(d) if !d.is_zero() => permission.expires = Some(d),
                        Ok(_) => {}
                        Err(reason) => {
                            self.fail(&value.pos, format!("invalid duration {text:?}: {reason}"));
                        }
                    }
                }
                _ => self.unknown_as(e, format!("Unknown field {:?} parsing permissions", e.key)),
            }
        }
        Some(permission)
    }

    /// `accounts: [A, B]` or `accounts { A: { users, exports, imports } }`.
    fn accounts(&mut self, value: &Value) -> Vec<AccountBlock> {
        let mut accounts: Vec<AccountBlock> = Vec::new();
        match &value.kind {
            ValueKind::Array(names) => {
                for name in names {
                    let Some(name) = self.located_string(name) else {
                        continue;
                    };
                    if is_reserved_account(&name.value) {
                        self.fail(&name.pos, format!("{:?} is a Reserved Account", name.value));
                    } else if accounts.iter().any(|a| a.name.value == name.value) {
                        self.fail(
                            &name.pos,
                            format!("Duplicate Account Entry: {}", name.value),
                        );
                    } else {
                        accounts.push(AccountBlock::new(name.value, name.pos));
                    }
                }
            }
            ValueKind::Map(map) => {
                for entry in map {
                    if entry.used_as_variable {
                        continue;
                    }
                    if let Some(account) = self.account(entry) {
                        accounts.push(account);
                    }
                }
            }
            other => {
                let found = other.type_name();
                self.fail(
                    &value.pos,
                    format!(
                        "expected a map of accounts (or an array of account names), found {found}"
                    ),
                );
            }
        }
        accounts
    }

    fn account(&mut self, entry: &MapEntry) -> Option<AccountBlock> {
        let ValueKind::Map(map) = &entry.value.kind else {
            self.fail(&entry.value.pos, "Expected map entries for accounts");
            return None;
        };
        if is_reserved_account(&entry.key) {
            self.fail(
                &entry.key_pos,
                format!("{:?} is a Reserved Account", entry.key),
            );
            return None;
        }
        let mut account = AccountBlock::new(entry.key.clone(), entry.key_pos.clone());
        let mut default_permissions = None;
        for e in map {
            let value = &e.value;
            match e.key.to_ascii_lowercase().as_str() {
                "users" => {
                    account.users_pos = Some(e.key_pos.clone());
                    self.users(value, &mut account.users);
                }
                "default_permissions" => default_permissions = self.permissions(value),
                "exports" => self.exports(value, &mut account.exports),
                "imports" => self.imports(value, &mut account.imports),
                "nkey" => self.not_yet(e, "account NKeys, operators and JWT authentication"),
                "jetstream" => self.not_yet(e, "JetStream"),
                "mappings" | "maps" => self.not_yet(e, "subject mappings"),
                "limits" => self.not_yet(e, "account limits"),
                _ => self.unknown(e),
            }
        }
        account
            .users
            .apply_default_permissions(&default_permissions);
        Some(account)
    }

    /// `exports: [ {stream: "a.>"}, {service: "help", accounts: [B]} ]`
    fn exports(&mut self, value: &Value, out: &mut Vec<(At<ExportConfig>, Option<Pos>)>) {
        let Some(items) = self.array(value) else {
            return;
        };
        for item in items {
            let Some(map) = self.map(item) else { continue };
            let mut export: Option<(ExportKind, String)> = None;
            let mut subject_given = false;
            let mut accounts = Vec::new();
            let mut accounts_pos = None;
            for e in map {
                let value = &e.value;
                let key = e.key.to_ascii_lowercase();
                match key.as_str() {
                    "stream" | "service" => {
                        let kind = if key == "stream" {
                            ExportKind::Stream
                        } else {
                            ExportKind::Service
                        };
                        subject_given = true;
                        let Some(subject) = self.string(value) else {
                            continue;
                        };
                        if let Some((seen, _)) = &export
                            && *seen != kind
                        {
                            self.fail(
                                &e.key_pos,
                                format!(
                                    "Detected {} {subject:?} but already saw a {}",
                                    kind_name(&kind),
                                    kind_name(seen)
                                ),
                            );
                            continue;
                        }
                        if !is_valid_subject(subject.as_bytes()) {
                            self.fail(
                                &value.pos,
                                format!("subject {subject:?} is not a valid subject"),
                            );
                            continue;
                        }
                        export = Some((kind, subject));
                    }
                    "accounts" => {
                        accounts_pos = Some(value.pos.clone());
                        accounts = self.string_list(value);
                    }
                    "response" | "response_type" => {
                        self.not_yet(e, "service response types");
                    }
                    "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                        self.not_yet(e, "service response thresholds");
                    }
                    "latency" => self.not_yet(e, "service latency tracking"),
                    "account_token_position" => self.not_yet(e, "account token positions"),
                    _ => self.unknown(e),
                }
            }
            match export {
                Some((kind, subject)) => out.push((
                    At {
                        value: ExportConfig {
                            kind,
                            subject,
                            accounts,
                        },
                        pos: item.pos.clone(),
                    },
                    accounts_pos,
                )),
                None if subject_given => {} // reported already
                None => self.fail(&item.pos, "an export needs a \"stream\" or a \"service\""),
            }
        }
    }

    /// `imports: [ {stream: {account: A, subject: s}, prefix: p}, {service: {account: A, subject: s}, to: t} ]`
    fn imports(&mut self, value: &Value, out: &mut Vec<At<ImportConfig>>) {
        let Some(items) = self.array(value) else {
            return;
        };
        for item in items {
            let Some(map) = self.map(item) else { continue };
            let mut import: Option<(ExportKind, String, String)> = None;
            let mut source_given = false;
            let mut prefix: Option<At<String>> = None;
            let mut to: Option<At<String>> = None;
            for e in map {
                let value = &e.value;
                let key = e.key.to_ascii_lowercase();
                match key.as_str() {
                    "stream" | "service" => {
                        let kind = if key == "stream" {
                            ExportKind::Stream
                        } else {
                            ExportKind::Service
                        };
                        if let Some((seen, ..)) = &import
                            && *seen != kind
                        {
                            self.fail(
                                &e.key_pos,
                                format!(
                                    "Detected {} but already saw a {}",
                                    kind_name(&kind),
                                    kind_name(seen)
                                ),
                            );
                            continue;
                        }
                        source_given = true;
                        if let Some((account, subject)) = self.import_source(value) {
                            import = Some((kind, account, subject));
                        }
                    }
                    "prefix" => prefix = self.located_string(value),
                    "to" => to = self.located_string(value),
                    "share" => self.not_yet(e, "service import sharing"),
                    _ => self.unknown(e),
                }
            }
            let Some((kind, account, subject)) = import else {
                if source_given {
                    continue; // what is wrong with it is reported already
                }
                self.fail(
                    &item.pos,
                    "an import needs a \"stream\" or a \"service\" with an account and a subject",
                );
                continue;
            };
            for subject in prefix.iter().chain(to.iter()) {
                if !is_valid_subject(subject.value.as_bytes()) {
                    self.fail(
                        &subject.pos,
                        format!("subject {:?} is not a valid subject", subject.value),
                    );
                }
            }
            match (&kind, &prefix, &to) {
                (ExportKind::Stream, Some(_), Some(to)) => {
                    self.fail(
                        &to.pos,
                        "Stream import can not have a 'prefix' and a 'to' property",
                    );
                    continue;
                }
                (ExportKind::Service, Some(prefix), _) => {
                    self.fail(
                        &prefix.pos,
                        "\"prefix\" is for stream imports; a service import takes \"to\"",
                    );
                    continue;
                }
                _ => {}
            }
            out.push(At {
                value: ImportConfig {
                    kind,
                    account,
                    subject,
                    prefix: prefix.map(|p| p.value),
                    to: to.map(|t| t.value),
                },
                pos: item.pos.clone(),
            });
        }
    }

    /// `{account: A, subject: "a.>"}` of an import.
    fn import_source(&mut self, value: &Value) -> Option<(String, String)> {
        let map = self.map(value)?;
        let mut account = None;
        let mut subject = None;
        for e in map {
            match e.key.to_ascii_lowercase().as_str() {
                "account" => account = self.string(&e.value),
                "subject" => subject = self.located_string(&e.value),
                _ => self.unknown(e),
            }
        }
        match (account.filter(|a| !a.is_empty()), subject) {
            (Some(account), Some(subject)) if !subject.value.is_empty() => {
                if is_valid_subject(subject.value.as_bytes()) {
                    Some((account, subject.value))
                } else {
                    self.fail(
                        &subject.pos,
                        format!("subject {:?} is not a valid subject", subject.value),
                    );
                    None
                }
            }
            _ => {
                self.fail(&value.pos, "Expect an account name and a subject");
                None
            }
        }
    }

    /// A string or an array of strings.
    fn string_list(&mut self, value: &Value) -> Vec<String> {
        match &value.kind {
            ValueKind::Array(items) => items.iter().filter_map(|v| self.string(v)).collect(),
            _ => self.string(value).into_iter().collect(),
        }
    }

    /// The checks that need the whole file: conflicting ways to log in,
    /// duplicate users, accounts that imports and exports name,
    /// `no_auth_user`. Then stores the result in `opts.auth`.
    fn finish_auth(
        &mut self,
        opts: &mut Options,
        auth: Option<AuthBlock>,
        accounts: Option<Vec<AccountBlock>>,
        no_auth_user: Option<At<String>>,
    ) {
        let accounts_given = accounts.is_some();
        let accounts = accounts.unwrap_or_default();
        let mut auth_users = UserList::default();
        if let Some(auth) = &auth
            && let Some(pos) = &auth.pos
        {
            let has_user = auth.user.as_deref().is_some_and(|u| !u.is_empty());
            let has_password = auth.password.as_deref().is_some_and(|p| !p.is_empty());
            let has_token = auth.token.as_deref().is_some_and(|t| !t.is_empty());
            if (has_user || has_password) && has_token {
                self.fail(pos, "Cannot have a user/pass and token");
            } else if auth.users.is_some() && has_user {
                self.fail(pos, "Can not have a single user/pass and a users array");
            } else if auth.users.is_some() && has_token {
                self.fail(pos, "Can not have a token and a users array");
            }
            for account in &accounts {
                let Some(users_pos) = &account.users_pos else {
                    continue;
                };
                if account.users.is_empty() {
                    continue;
                }
                if has_user {
                    self.fail(users_pos, "Can not have a single user/pass and accounts");
                } else if has_token {
                    self.fail(users_pos, "Can not have a token and accounts");
                }
            }
        }
        if let Some(AuthBlock {
            users: Some(users), ..
        }) = &auth
        {
            auth_users.users.clone_from(&users.users);
            auth_users.nkeys.clone_from(&users.nkeys);
        }

        // User names and NKeys are unique across the whole file.
        let mut seen = HashSet::new();
        let lists = std::iter::once(&auth_users).chain(accounts.iter().map(|a| &a.users));
        for list in lists {
            for user in &list.users {
                if !seen.insert(user.value.user.as_str()) {
                    let name = &user.value.user;
                    self.fail(&user.pos, format!("Duplicate user {name:?} detected"));
                }
            }
            for nkey in &list.nkeys {
                if !seen.insert(nkey.value.nkey.as_str()) {
                    let key = &nkey.value.nkey;
                    self.fail(&nkey.pos, format!("Duplicate nkey {key:?} detected"));
                }
            }
        }

        self.check_imports_and_exports(&accounts);

        if let Some(no_auth) = &no_auth_user {
            let mut all_users = auth_users
                .users
                .iter()
                .chain(accounts.iter().flat_map(|a| a.users.users.iter()))
                .peekable();
            let name = &no_auth.value;
            if all_users.peek().is_none() {
                self.fail(
                    &no_auth.pos,
                    format!("no_auth_user: {name:?} present, but users are not defined"),
                );
            } else if !all_users.any(|u| &u.value.user == name) {
                self.fail(
                    &no_auth.pos,
                    format!(
                        "no_auth_user: {name:?} not present as user in authorization block or account configuration"
                    ),
                );
            }
        }

        let target = &mut opts.auth;
        if let Some(auth) = auth {
            target.username = auth.user;
            target.password = auth.password;
            target.token = auth.token;
            target.timeout = auth.timeout;
            target.default_permissions = auth.default_permissions;
            let users = auth.users.unwrap_or_default();
            target.users = users.users.into_iter().map(|u| u.value).collect();
            target.nkeys = users.nkeys.into_iter().map(|k| k.value).collect();
        }
        if accounts_given {
            target.accounts = accounts
                .into_iter()
                .map(|a| AccountConfig {
                    name: a.name.value,
                    users: a.users.users.into_iter().map(|u| u.value).collect(),
                    nkeys: a.users.nkeys.into_iter().map(|k| k.value).collect(),
                    exports: a.exports.into_iter().map(|(e, _)| e.value).collect(),
                    imports: a.imports.into_iter().map(|i| i.value).collect(),
                })
                .collect();
        }
        if let Some(no_auth) = no_auth_user {
            target.no_auth_user = Some(no_auth.value);
        }
    }

    /// What nats-server checks when it adds the imports and exports: the
    /// accounts they name exist, an import matches an export of the other
    /// account that lets this account in, and no import is there twice.
    fn check_imports_and_exports(&mut self, accounts: &[AccountBlock]) {
        let by_name: HashMap<&str, &AccountBlock> = accounts
            .iter()
            .map(|a| (a.name.value.as_str(), a))
            .collect();
        for account in accounts {
            for (export, accounts_pos) in &account.exports {
                for name in &export.value.accounts {
                    if !by_name.contains_key(name.as_str()) {
                        let pos = accounts_pos.as_ref().unwrap_or(&export.pos);
                        let kind = kind_name(&export.value.kind);
                        self.fail(
                            pos,
                            format!("{name:?} account not defined for {kind} export"),
                        );
                    }
                }
            }
        }
        for account in accounts {
            let mut streams: HashSet<(&str, &str)> = HashSet::new();
            let mut services: HashMap<&str, &ImportConfig> = HashMap::new();
            for import in &account.imports {
                let import_pos = &import.pos;
                let import = &import.value;
                let kind = kind_name(&import.kind);
                let Some(exporter) = by_name.get(import.account.as_str()) else {
                    let name = &import.account;
                    self.fail(
                        import_pos,
                        format!("{name:?} account not defined for {kind} import"),
                    );
                    continue;
                };
                let authorized = exporter.exports.iter().any(|(export, _)| {
                    let export = &export.value;
                    export.kind == import.kind
                        && is_subset(import.subject.as_bytes(), export.subject.as_bytes())
                        && (export.accounts.is_empty()
                            || export.accounts.contains(&account.name.value))
                });
                let subject = &import.subject;
                if !authorized {
                    self.fail(
                        import_pos,
                        format!(
                            "Error adding {kind} import {subject:?}: {kind} import not authorized"
                        ),
                    );
                    continue;
                }
                match import.kind {
                    ExportKind::Stream => {
                        if !streams.insert((import.account.as_str(), subject.as_str())) {
                            self.fail(
                                import_pos,
                                format!(
                                    "Error adding stream import {subject:?}: stream import already exists"
                                ),
                            );
                        }
                    }
                    ExportKind::Service => {
                        let to = import.to.as_deref().unwrap_or(subject);
                        if let Some(previous) = services.insert(to, import) {
                            self.fail(
                                import_pos,
                                format!(
                                    "Duplicate service import subject {to:?}, previously used in import for account {:?}, subject {:?}",
                                    previous.account, previous.subject
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
}

fn is_reserved_account(name: &str) -> bool {
    name == "$G"
}

/// A public user NKey: base32 of the `U` prefix, 32 key bytes and a CRC.
fn is_public_user_nkey(key: &str) -> bool {
    const USER_PREFIX: u8 = 20 << 3;
    matches!(nkeys::from_public_key(key), Ok((prefix, _)) if prefix == USER_PREFIX)
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
    use super::*;
    use rnats_conf::ParseOptions;

    fn apply_text(text: &str) -> Result<(Options, Vec<Warning>), ConfigError> {
        let root = ParseOptions::new()
            .without_environment()
            .parse_str(text, "nats.conf")?;
        let mut opts = Options::default();
        let warnings = apply(&mut opts, &root)?;
        Ok((opts, warnings))
    }

    fn options(text: &str) -> Options {
        match apply_text(text) {
            Ok((opts, warnings)) => {
                assert!(warnings.is_empty(), "unexpected warnings: {warnings:?}");
                opts
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn warnings(text: &str) -> Vec<String> {
        match apply_text(text) {
            Ok((_, warnings)) => warnings.iter().map(ToString::to_string).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    fn error(text: &str) -> String {
        match apply_text(text) {
            Ok((opts, _)) => panic!("accepted, but should not have: {opts:?}"),
            Err(e) => e.to_string(),
        }
    }

    const NKEY: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

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
    fn the_tls_block() {
        let (opts, _) = apply_text(
            "tls {\n  cert_file: \"./server.pem\"\n  key_file: './key.pem'\n  ca_file: ca.pem\n  verify: true\n  timeout: 0.5\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  curve_preferences: [X25519]\n  handshake_first: true\n}\n",
        )
        .unwrap();
        let tls = opts.tls.unwrap();
        assert_eq!(tls.cert_file.as_deref(), Some(Path::new("./server.pem")));
        assert_eq!(tls.key_file.as_deref(), Some(Path::new("./key.pem")));
        assert!(tls.verify && tls.handshake_first && !tls.verify_and_map);
        assert_eq!(tls.timeout, Some(Duration::from_millis(500)));
        assert_eq!(tls.cipher_suites, ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]);
        assert_eq!(
            error("tls {\n  cert_file: x\n}\n"),
            "nats.conf:1:5: tls requires cert_file and key_file"
        );
        assert_eq!(
            error("tls {\n  cert_file: x\n  key_file: y\n  verify: true\n}\n"),
            "nats.conf:1:5: tls verify requires ca_file"
        );
        assert_eq!(
            error("tls {\n  cert_file: x\n  key_file: y\n  verfy: true\n}\n"),
            "nats.conf:4:3: unknown field \"verfy\""
        );
    }

    #[test]
    fn the_cluster_tls_block() {
        let opts = options(
            "cluster {\n  listen: 127.0.0.1:-1\n  tls {\n    cert_file: node.pem\n    key_file: node-key.pem\n    \
             ca_file: ca.pem\n    timeout: 3\n    insecure: true\n    min_version: \"1.3\"\n    \
             pinned_certs: [abcd]\n  }\n  routes: [ nats-route://127.0.0.1:6223 ]\n}\n",
        );
        let c = opts.cluster.unwrap();
        let tls = c.tls.expect("cluster tls");
        assert_eq!(tls.cert_file.as_deref(), Some(Path::new("node.pem")));
        assert_eq!(tls.key_file.as_deref(), Some(Path::new("node-key.pem")));
        assert_eq!(tls.ca_file.as_deref(), Some(Path::new("ca.pem")));
        assert_eq!(tls.timeout(), Duration::from_secs(3));
        assert!(tls.insecure);
        assert_eq!(tls.min_version.as_deref(), Some("1.3"));
        assert_eq!(tls.pinned_certs, ["abcd"]);
        // The client-facing block is not affected by the cluster's.
        assert!(opts.tls.is_none());
        // The handshake timeout defaults to nats-server's 2 s.
        let c = options("cluster { tls { cert_file: a, key_file: b, ca_file: c, verify: true } }")
            .cluster
            .unwrap();
        assert_eq!(c.tls.unwrap().timeout(), crate::tls::DEFAULT_TLS_TIMEOUT);
        // Routes always verify each other: ca_file is required.
        assert_eq!(
            error("cluster {\n  port: 6222\n  tls {\n    cert_file: a\n    key_file: b\n  }\n}\n"),
            "nats.conf:3:7: cluster tls requires ca_file"
        );
        assert_eq!(
            error("cluster {\n  tls { ca_file: c, key_file: b }\n}\n"),
            "nats.conf:2:7: cluster tls requires cert_file and key_file"
        );
        let mapped = options(
            "cluster {\n  port: 6222\n  tls {\n    cert_file: a, key_file: b, ca_file: c\n    verify_and_map: true\n  }\n}\n",
        );
        assert!(mapped.cluster.unwrap().tls.unwrap().verify_and_map);
        assert_eq!(
            error(
                "cluster {\n  tls {\n    cert_file: a, key_file: b, ca_file: c\n    verfy: true\n  }\n}\n"
            ),
            "nats.conf:4:5: unknown field \"verfy\""
        );
        assert_eq!(
            warnings(
                "cluster { tls { cert_file: a, key_file: b, ca_file: c, handshake_first: true } }"
            ),
            [
                "nats.conf:1:56: \"handshake_first\" is ignored in cluster tls: routes always start with the TLS handshake"
            ]
        );
        // In the client-facing block `insecure` is taken and has no effect.
        let tls = options("tls { cert_file: a, key_file: b, insecure: true }")
            .tls
            .unwrap();
        assert!(tls.insecure);
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
    fn the_cluster_block() {
        let opts = options(
            "cluster {\n  name: c1\n  listen: 127.0.0.1:-1\n  authorization { user: ru, password: rp, timeout: 0.5 }\n  \
             routes: [ nats-route://ru:rp@127.0.0.1:6223 ]\n  connect_retries: 5\n  no_advertise: true\n}\n",
        );
        let c = opts.cluster.unwrap();
        assert_eq!(c.name.as_deref(), Some("c1"));
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", -1));
        assert_eq!(c.username.as_deref(), Some("ru"));
        assert_eq!(c.password.as_deref(), Some("rp"));
        assert_eq!(c.auth_timeout, Some(Duration::from_millis(500)));
        assert_eq!(c.routes, ["nats-route://ru:rp@127.0.0.1:6223"]);
        assert_eq!(c.connect_retries, 5);
        assert!(c.no_advertise);
        let c = options("cluster { port: 7244, host: 127.0.0.2 }")
            .cluster
            .unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.2", 7244));
        assert!(error("cluster { bogus: 1 }").contains("unknown field"));
    }

    #[test]
    fn cluster_permissions_are_import_and_export() {
        let opts = options(
            "cluster {\n  port: -1\n  permissions {\n    import: { allow: [\"a.>\"], deny: a.secret }\n    \
             export: \"b.*\"\n  }\n}\n",
        );
        let perms = opts.cluster.unwrap().permissions.unwrap();
        let import = perms.import.unwrap();
        assert_eq!(import.allow, Some(vec!["a.>".to_string()]));
        assert_eq!(import.deny, ["a.secret"]);
        assert_eq!(perms.export.unwrap().allow, Some(vec!["b.*".to_string()]));
        // nats-server's other names for the two directions work too.
        let perms = options("cluster { permissions { publish: x, subscribe: y } }")
            .cluster
            .unwrap()
            .permissions
            .unwrap();
        assert_eq!(perms.import.unwrap().allow, Some(vec!["x".to_string()]));
        assert_eq!(perms.export.unwrap().allow, Some(vec!["y".to_string()]));
        assert_eq!(
            error("cluster {\n  permissions { import: a, allow_responses: true }\n}\n"),
            "nats.conf:2:15: Cluster permissions do not support dynamic responses"
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
    fn cluster_authorization_is_one_user_as_in_nats_server() {
        assert_eq!(
            error("cluster {\n  authorization { users: [ {user: a, password: b} ] }\n}\n"),
            "nats.conf:2:19: Cluster authorization does not allow multiple users"
        );
        assert_eq!(
            error("cluster {\n  authorization { token: t0k3n }\n}\n"),
            "nats.conf:2:19: Cluster authorization does not support tokens"
        );
    }

    #[test]
    fn route_permissions_in_cluster_authorization_are_deprecated_but_kept() {
        let text = "cluster {\n  authorization { user: a, password: b, permissions { import: x, export: y } }\n}\n";
        assert_eq!(
            warnings(text),
            [
                "nats.conf:2:41: invalid use of field \"authorization\": setting \"permissions\" \
              within cluster authorization block is deprecated"
            ]
        );
        let (opts, _) = apply_text(text).unwrap();
        let perms = opts.cluster.unwrap().permissions.unwrap();
        assert_eq!(perms.import.unwrap().allow, Some(vec!["x".to_string()]));
        assert_eq!(perms.export.unwrap().allow, Some(vec!["y".to_string()]));
        // The cluster block's own permissions win, wherever they are written.
        let (opts, _) = apply_text(
            "cluster {\n  permissions { import: own }\n  \
             authorization { default_permissions { import: old } }\n}\n",
        )
        .unwrap();
        let perms = opts.cluster.unwrap().permissions.unwrap();
        assert_eq!(perms.import.unwrap().allow, Some(vec!["own".to_string()]));
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
    fn single_user_token_and_timeout() {
        let opts = options("authorization { username: derek, pass: T0pS3cr3t, timeout: 0.5 }");
        assert_eq!(opts.auth.username.as_deref(), Some("derek"));
        assert_eq!(opts.auth.password.as_deref(), Some("T0pS3cr3t"));
        assert_eq!(opts.auth.timeout, Some(Duration::from_millis(500)));
        let opts = options("Authorization { token: s3cr3t, timeout: \"3s\" }");
        assert_eq!(opts.auth.token.as_deref(), Some("s3cr3t"));
        assert_eq!(opts.auth.timeout, Some(Duration::from_secs(3)));
        assert_eq!(options("authorization { timeout: 0 }").auth.timeout, None);
        assert_eq!(
            error("authorization { timeout: true }"),
            "nats.conf:1:26: expected a number of seconds or a duration such as \"2s\", found a boolean"
        );
    }

    #[test]
    fn conflicting_ways_to_log_in_are_refused_with_nats_server_messages() {
        assert_eq!(
            error("authorization {\n  user: derek\n  password: x\n  token: abc\n}\n"),
            "nats.conf:1:1: Cannot have a user/pass and token"
        );
        assert_eq!(
            error("authorization {\n  token: abc\n  users = [ {user: a, password: b} ]\n}\n"),
            "nats.conf:1:1: Can not have a token and a users array"
        );
        assert_eq!(
            error("authorization {\n  user: x\n  password: y\n  users = []\n}\n"),
            "nats.conf:1:1: Can not have a single user/pass and a users array"
        );
        assert_eq!(
            error(
                "authorization { user: a, password: b }\naccounts { A: { users: [ {user: c, password: d} ] } }"
            ),
            "nats.conf:2:17: Can not have a single user/pass and accounts"
        );
        assert_eq!(
            error(
                "authorization { token: a }\naccounts { A: { users: [ {user: c, password: d} ] } }"
            ),
            "nats.conf:2:17: Can not have a token and accounts"
        );
    }

    #[test]
    fn duplicate_users_are_refused_across_authorization_and_accounts() {
        assert_eq!(
            error("authorization { users = [ {user: a, password: b}, {user: a, password: c} ] }"),
            "nats.conf:1:58: Duplicate user \"a\" detected"
        );
        assert_eq!(
            error(
                "authorization { users: [ {user: c, password: d} ] }\naccounts { A: { users: [ {user: c, password: e} ] } }"
            ),
            "nats.conf:2:33: Duplicate user \"c\" detected"
        );
        assert_eq!(
            error(&format!(
                "accounts {{ A: {{ users: [ {{nkey: {NKEY}}} ] }}, B: {{ users: [ {{nkey: {NKEY}}} ] }} }}"
            )),
            format!("nats.conf:1:117: Duplicate nkey \"{NKEY}\" detected")
        );
    }

    #[test]
    fn users_nkeys_and_permissions() {
        let opts = options(&format!(
            "authorization {{
  default_permissions: {{ subscribe: \"_INBOX.>\" }}
  users = [
    {{user: alice, password: foo, permissions: {{publish: \"a.>\", subscribe: [\"b\", \"c.* q\"]}}}}
    {{user: bob, password: \"$2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba\"}}
    {{nkey: {NKEY}, permissions: {{publish: {{allow: \"x\", deny: [\"x.secret\"]}}, allow_responses: true}}}}
  ]
}}"
        ));
        let auth = &opts.auth;
        let inbox = SubjectRuleConfig {
            allow: Some(vec!["_INBOX.>".into()]),
            deny: vec![],
        };
        assert_eq!(
            auth.default_permissions,
            Some(PermissionsConfig {
                subscribe: Some(inbox.clone()),
                ..PermissionsConfig::default()
            })
        );
        assert_eq!(
            auth.users[0],
            UserConfig {
                user: "alice".into(),
                password: "foo".into(),
                permissions: Some(PermissionsConfig {
                    publish: Some(SubjectRuleConfig {
                        allow: Some(vec!["a.>".into()]),
                        deny: vec![]
                    }),
                    subscribe: Some(SubjectRuleConfig {
                        allow: Some(vec!["b".into(), "c.* q".into()]),
                        deny: vec![]
                    }),
                    allow_responses: None,
                }),
            }
        );
        // Users without permissions of their own get the defaults.
        assert_eq!(
            auth.users[1]
                .permissions
                .as_ref()
                .and_then(|p| p.subscribe.clone()),
            Some(inbox)
        );
        assert_eq!(
            auth.nkeys,
            [NkeyConfig {
                nkey: NKEY.into(),
                permissions: Some(PermissionsConfig {
                    publish: Some(SubjectRuleConfig {
                        allow: Some(vec!["x".into()]),
                        deny: vec!["x.secret".into()]
                    }),
                    subscribe: None,
                    allow_responses: Some(ResponsePermissionConfig {
                        max: 1,
                        expires: Some(DEFAULT_ALLOW_RESPONSE_EXPIRATION)
                    }),
                }),
            }]
        );
    }

    #[test]
    fn allow_responses_forms() {
        let responses = |text: &str| {
            let opts = options(&format!(
                "authorization {{ users: [ {{user: a, password: b, permissions: {{allow_responses: {text}}}}} ] }}"
            ));
            opts.auth.users[0].permissions.clone().expect("permissions")
        };
        let p = responses("{max: 5, expires: \"1m\"}");
        assert_eq!(
            p.allow_responses,
            Some(ResponsePermissionConfig {
                max: 5,
                expires: Some(Duration::from_secs(60))
            })
        );
        // Allowing responses turns off the blanket publish allow.
        assert_eq!(
            p.publish,
            Some(SubjectRuleConfig {
                allow: Some(vec![]),
                deny: vec![]
            })
        );
        assert_eq!(
            responses("{max: -1, expires: \"-1s\"}").allow_responses,
            Some(ResponsePermissionConfig {
                max: usize::MAX,
                expires: None
            })
        );
        assert_eq!(responses("false"), PermissionsConfig::default());
        assert_eq!(
            error(
                "authorization { users: [ {user: a, password: b, permissions: {allow_responses: 5}} ] }"
            ),
            "nats.conf:1:80: expected true, false or a map such as { max: 1, expires: \"1m\" }, found an integer"
        );
    }

    #[test]
    fn bad_users_and_permissions_are_located() {
        assert_eq!(
            error("authorization { users: [ {password: b} ] }"),
            "nats.conf:1:26: User entry requires a user"
        );
        assert_eq!(
            error("authorization { users: [ {nkey: bad} ] }"),
            "nats.conf:1:33: Not a valid public nkey for a user"
        );
        assert_eq!(
            error(&format!(
                "authorization {{ users: [ {{nkey: {NKEY}, user: x}} ] }}"
            )),
            "nats.conf:1:26: Nkey users do not take usernames or passwords"
        );
        assert_eq!(
            error("authorization { users: \"x\" }"),
            "nats.conf:1:24: expected an array, found a string"
        );
        assert_eq!(
            error(
                "authorization { users: [ {user: a, password: b, permissions: { publish: \"foo..bar\" }} ] }"
            ),
            "nats.conf:1:73: subject \"foo..bar\" is not a valid subject"
        );
        assert_eq!(
            error(
                "authorization { users: [ {user: a, password: b, permissions: { publish: 1 }} ] }"
            ),
            "nats.conf:1:73: expected a subject or an array of subjects, found an integer"
        );
        assert_eq!(
            error("authorization { users: [ {user: a, password: b, permissions: { bogus: x }} ] }"),
            "nats.conf:1:64: Unknown field \"bogus\" parsing permissions"
        );
        assert_eq!(
            error(
                "authorization { users: [ {user: a, password: b, permissions: { publish: { allow: a, bogus: 1 } }} ] }"
            ),
            "nats.conf:1:85: Unknown field name \"bogus\" parsing subject permissions, only 'allow' or 'deny' are permitted"
        );
    }

    #[test]
    fn accounts_with_users_exports_and_imports() {
        let opts = options(&format!(
            "accounts {{
  A: {{
    users: [ {{user: a, password: pa}}, {{nkey: {NKEY}}} ]
    exports: [ {{stream: \"a.>\", accounts: [B]}}, {{service: help}} ]
  }}
  B: {{
    default_permissions: {{ publish: \"b.>\" }}
    users: [ {{user: b, password: pb}} ]
    imports: [
      {{stream: {{account: A, subject: \"a.x\"}}, prefix: from_a}}
      {{service: {{account: A, subject: help}}, to: a_help}}
    ]
  }}
}}
no_auth_user: b
"
        ));
        let accounts = &opts.auth.accounts;
        assert_eq!(accounts.len(), 2);
        let (a, b) = (&accounts[0], &accounts[1]);
        assert_eq!(a.name, "A");
        assert_eq!(a.users[0].user, "a");
        assert_eq!(a.nkeys[0].nkey, NKEY);
        assert_eq!(
            a.exports,
            [
                ExportConfig {
                    kind: ExportKind::Stream,
                    subject: "a.>".into(),
                    accounts: vec!["B".into()]
                },
                ExportConfig {
                    kind: ExportKind::Service,
                    subject: "help".into(),
                    accounts: vec![]
                },
            ]
        );
        assert_eq!(
            b.imports,
            [
                ImportConfig {
                    kind: ExportKind::Stream,
                    account: "A".into(),
                    subject: "a.x".into(),
                    prefix: Some("from_a".into()),
                    to: None
                },
                ImportConfig {
                    kind: ExportKind::Service,
                    account: "A".into(),
                    subject: "help".into(),
                    prefix: None,
                    to: Some("a_help".into())
                },
            ]
        );
        let b_user = &b.users[0];
        assert_eq!(
            b_user.permissions.as_ref().and_then(|p| p.publish.clone()),
            Some(SubjectRuleConfig {
                allow: Some(vec!["b.>".into()]),
                deny: vec![]
            })
        );
        assert_eq!(opts.auth.no_auth_user.as_deref(), Some("b"));
        assert!(opts.auth.users.is_empty());

        let opts = options("accounts: [A, B]");
        let names: Vec<_> = opts.auth.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn account_errors_use_nats_server_messages() {
        assert_eq!(
            error("accounts { \"$G\": {} }"),
            "nats.conf:1:12: \"$G\" is a Reserved Account"
        );
        assert_eq!(
            error("accounts [ A, B, A ]"),
            "nats.conf:1:18: Duplicate Account Entry: A"
        );
        assert_eq!(
            error("accounts { A: 1 }"),
            "nats.conf:1:15: Expected map entries for accounts"
        );
        assert_eq!(
            error("accounts { A: { exports: [ {stream: \"a.>\", accounts: [C]} ] } }"),
            "nats.conf:1:54: \"C\" account not defined for stream export"
        );
        assert_eq!(
            error("accounts { B: { imports: [ {stream: {account: Z, subject: \"a.>\"}} ] } }"),
            "nats.conf:1:28: \"Z\" account not defined for stream import"
        );
        assert_eq!(
            error("accounts { A: {}, B: { imports: [ {service: {account: A, subject: help}} ] } }"),
            "nats.conf:1:35: Error adding service import \"help\": service import not authorized"
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {service: \"a.b\"} ] }, B: { imports: [ {service: {account: A, subject: \"a.*\"}} ] } }"
            ),
            "nats.conf:1:66: Error adding service import \"a.*\": service import not authorized"
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {stream: \"a.>\", accounts: [C]} ] }, B: { imports: [ {stream: {account: A, subject: \"a.b\"}} ] }, C: {} }"
            ),
            "nats.conf:1:80: Error adding stream import \"a.b\": stream import not authorized"
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {stream: \"a.b\"} ] }, B: { imports: [ {stream: {account: A, subject: \"a.b\"}, prefix: p, to: q} ] } }"
            ),
            "nats.conf:1:119: Stream import can not have a 'prefix' and a 'to' property"
        );
        assert_eq!(
            error("accounts { A: { exports: [ {stream: \"a.b\", service: c} ] } }"),
            "nats.conf:1:44: Detected service \"c\" but already saw a stream"
        );
        // One problem, one message.
        assert_eq!(
            error("accounts { A: { exports: [ {stream: \"a..b\"} ] } }"),
            "nats.conf:1:37: subject \"a..b\" is not a valid subject"
        );
        assert_eq!(
            error("accounts { A: { exports: [ {accounts: [A]} ] } }"),
            "nats.conf:1:28: an export needs a \"stream\" or a \"service\""
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {stream: \"a.>\"} ] }, B: { imports: [ {stream: {account: A}} ] } }"
            ),
            "nats.conf:1:74: Expect an account name and a subject"
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {stream: \"a.b\"} ] }, B: { imports: [ {stream: {account: A, subject: \"a.b\"}, prefix: x}, {stream: {account: A, subject: \"a.b\"}, prefix: y} ] } }"
            ),
            "nats.conf:1:116: Error adding stream import \"a.b\": stream import already exists"
        );
        assert_eq!(
            error(
                "accounts { A: { exports: [ {service: \"a.b\"} ] }, B: { imports: [ {service: {account: A, subject: \"a.b\"}, to: \"x.y\"}, {service: {account: A, subject: \"a.b\"}, to: \"x.y\"} ] } }"
            ),
            "nats.conf:1:118: Duplicate service import subject \"x.y\", previously used in import for account \"A\", subject \"a.b\""
        );
        assert_eq!(
            error("accounts { A: { limits: { max_conn: 1 } } }"),
            "nats.conf:1:17: \"limits\" is not supported by rnats-server yet (account limits)"
        );
    }

    #[test]
    fn no_auth_user_must_name_a_user() {
        assert_eq!(
            error("no_auth_user: bob\nauthorization { users = [ {user: a, password: b} ] }"),
            "nats.conf:1:15: no_auth_user: \"bob\" not present as user in authorization block or account configuration"
        );
        assert_eq!(
            error("no_auth_user: bob"),
            "nats.conf:1:15: no_auth_user: \"bob\" present, but users are not defined"
        );
        let opts = options("no_auth_user: a\nauthorization { users = [ {user: a, password: b} ] }");
        assert_eq!(opts.auth.no_auth_user.as_deref(), Some("a"));
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

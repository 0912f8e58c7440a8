//! Everything that configures a server, with nats-server's defaults. The
//! config file (`config.rs`) and then the command line (`cli.rs`) fill this
//! in; the server reads it at start and again on each reload
//! (see `reload.rs` for what may change).

use std::path::PathBuf;
use std::time::Duration;

/// Default client port.
pub const DEFAULT_PORT: u16 = 4222;
/// `-p -1` asks for any free port.
pub const RANDOM_PORT: i32 = -1;

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Address to listen on for clients.
    pub host: String,
    /// Port for clients; 0 means the default, -1 any free port.
    pub port: i32,
    /// Name announced in INFO; the server id when empty.
    pub server_name: Option<String>,
    pub max_payload: usize,
    pub max_control_line: usize,
    pub max_connections: usize,
    /// Subscriptions one connection may hold (`max_subscriptions`); 0: no
    /// limit. A user JWT's limit may lower it.
    pub max_subscriptions: usize,
    /// Bytes that may wait for a slow client before it is disconnected.
    pub max_pending: usize,
    /// How long one flush to a client may take before it is disconnected.
    pub write_deadline: Duration,
    pub ping_interval: Duration,
    /// Unanswered server PINGs before the connection is stale.
    pub ping_max: u32,
    pub logging: LogOptions,
    pub pid_file: Option<PathBuf>,
    pub ports_file_dir: Option<PathBuf>,
    pub auth: AuthOptions,
    /// TLS for clients (`tls {}` or `--tls*`).
    pub tls: Option<crate::tls::TlsOptions>,
    /// The config file this came from, if any (for reloads and messages).
    pub config_file: Option<PathBuf>,
    /// Clustering (`cluster {}` or `--cluster`/`--routes`); `None` = alone.
    pub cluster: Option<ClusterOptions>,
    /// `client_advertise`: the `host[:port]` clients are told to use (in
    /// INFO and in other servers' `connect_urls`) instead of the listen
    /// address, for servers behind NAT or in containers.
    pub client_advertise: Option<String>,
    /// Before a route's first connection, one failed dial in this many is
    /// logged as an error (the rest at debug level).
    pub connect_error_reports: u32,
    /// After a route was connected, one failed dial in this many is logged
    /// as an error.
    pub reconnect_error_reports: u32,
    /// Lame duck mode (SIGUSR2): how long closing the clients is spread
    /// over, and how long to wait before the first is closed.
    pub lame_duck_duration: Duration,
    pub lame_duck_grace_period: Duration,
    /// Top-level `mappings {}`: the global account's subject mappings.
    pub mappings: Vec<MappingConfig>,
    /// HTTP(S) monitoring (`http_port`, `https_port`, `http`, `https`,
    /// `http_base_path`; `-m`, `-ms`).
    pub monitor: MonitorOptions,
    /// The system account's name (`system_account`): `$SYS` unless
    /// configured, none with `no_system_account`.
    pub system_account: Option<String>,
    /// JetStream (`jetstream {}`, `store_dir`, `-js`, `-sd`); None: off.
    pub jetstream: Option<rnats_jetstream::JetStreamConfig>,
}

/// The name of the system account nats-server creates by default.
pub const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";

/// Where monitoring is served. A port of 0 is off, -1 any free port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorOptions {
    /// The address to listen on; the client `host` when empty.
    pub host: String,
    pub port: i32,
    /// HTTPS, with the certificates of `tls {}`.
    pub https_port: i32,
    /// A path prefix for every endpoint (`/nats` serves `/nats/varz`).
    pub base_path: String,
}

impl MonitorOptions {
    /// Whether plain HTTP or HTTPS monitoring is on.
    pub fn enabled(&self) -> bool {
        self.port != 0 || self.https_port != 0
    }
}

/// nats-server's default for `connect_error_reports`.
pub const DEFAULT_CONNECT_ERROR_REPORTS: u32 = 3600;
/// nats-server's default for `reconnect_error_reports`.
pub const DEFAULT_RECONNECT_ERROR_REPORTS: u32 = 1;

/// Default route port.
pub const DEFAULT_CLUSTER_PORT: u16 = 6222;

/// `cluster { name, listen/host/port, authorization, routes,
/// connect_retries, no_advertise, tls }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterOptions {
    /// The cluster's name; when unset, one is made up (or taken from peers).
    pub name: Option<String>,
    pub host: String,
    /// Route port; 0 means the default, -1 any free port.
    pub port: i32,
    /// Credentials routes must present (`authorization { user, password }`).
    pub username: Option<String>,
    pub password: Option<String>,
    /// How long a route has to send CONNECT.
    pub auth_timeout: Option<Duration>,
    /// Routes to solicit: `nats-route://[user:pass@]host:port`.
    pub routes: Vec<String>,
    /// Further attempts at a route learned from gossip before giving up
    /// (configured routes are tried for as long as the server runs).
    pub connect_retries: u32,
    /// Do not advertise other servers' client URLs to clients.
    pub no_advertise: bool,
    /// Route URL announced to peers instead of the listen address.
    pub advertise: Option<String>,
    /// `permissions { import, export }`: which subjects' interest this
    /// server sends to routes, and accepts from them.
    pub permissions: Option<RoutePermissions>,
    /// TLS on every route, accepted and solicited (`cluster { tls {} }`):
    /// mutual, with `ca_file` trusted both ways.
    pub tls: Option<crate::tls::TlsOptions>,
}

/// Route permissions, as nats-server has them: `import` limits the
/// interest this server announces to its routes (so what it receives),
/// `export` the interest it accepts from them (so what it sends).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePermissions {
    pub import: Option<SubjectRuleConfig>,
    pub export: Option<SubjectRuleConfig>,
}

impl ClusterOptions {
    /// The port to bind: the default for 0, the OS's choice for -1.
    pub fn bind_port(&self) -> u16 {
        match self.port {
            0 => DEFAULT_CLUSTER_PORT,
            p if p < 0 => 0,
            p => p as u16,
        }
    }
}

/// Who may connect and what they may do: the `authorization {}` and
/// `accounts {}` blocks, `no_auth_user`, and `--user/--pass/--auth`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthOptions {
    /// Single user (`--user`/`--pass` or `authorization { user, password }`).
    pub username: Option<String>,
    pub password: Option<String>,
    /// `--auth` or `authorization { token }`.
    pub token: Option<String>,
    /// `authorization { users = [...] }`: users of the global account.
    pub users: Vec<UserConfig>,
    /// `authorization { users = [ {nkey: U...} ] }`.
    pub nkeys: Vec<NkeyConfig>,
    /// How long a client has to send CONNECT (`authorization { timeout }`).
    pub timeout: Option<Duration>,
    /// `authorization { default_permissions }`: for users without their own.
    pub default_permissions: Option<PermissionsConfig>,
    /// `accounts { NAME: { users: [...] } }`.
    pub accounts: Vec<AccountConfig>,
    /// A user that clients presenting no credentials are logged in as.
    pub no_auth_user: Option<String>,
    /// Verify every bcrypt login in full, with no cache of successful ones
    /// (see `login_cache.rs` for the trade-off).
    pub no_login_cache: bool,
    /// Decentralized authentication: trusted operators and where account
    /// JWTs come from (`operator`, `system_account`, `resolver`).
    pub trust: Option<TrustOptions>,
}

/// `operator`, `system_account`, `resolver`, `resolver_preload`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustOptions {
    /// Operator JWTs (the text, already read from their files).
    pub operators: Vec<String>,
    /// The system account's public key.
    pub system_account: Option<String>,
    pub resolver: ResolverOptions,
    /// `resolver_preload`: account public key -> account JWT.
    pub preload: Vec<(String, String)>,
}

/// Where account JWTs are looked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ResolverOptions {
    /// `resolver: MEMORY`: only the preloaded accounts (and updates).
    #[default]
    Memory,
    /// `resolver: { type: full|cache, dir: ... }`: `<pubkey>.jwt` files.
    Dir {
        dir: PathBuf,
        /// `full` keeps every account; `cache` is the same here (no
        /// cluster to fetch from).
        full: bool,
        allow_delete: bool,
    },
}

/// Default time a client has to authenticate (nats-server's 2 s).
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConfig {
    pub user: String,
    /// Plain text, or a bcrypt hash (`$2a$...`).
    pub password: String,
    pub permissions: Option<PermissionsConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NkeyConfig {
    /// The user's public NKey (`U...`).
    pub nkey: String,
    pub permissions: Option<PermissionsConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionsConfig {
    pub publish: Option<SubjectRuleConfig>,
    pub subscribe: Option<SubjectRuleConfig>,
    pub allow_responses: Option<ResponsePermissionConfig>,
}

/// `publish`/`subscribe` rules: a bare list means `allow`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectRuleConfig {
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
}

/// `allow_responses`: `true` is `{ max: 1, expires: "2m" }` as in
/// nats-server (missing or zero values take these defaults); `expires:
/// None` means no expiry (a negative `expires` in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponsePermissionConfig {
    pub max: usize,
    pub expires: Option<Duration>,
}

/// How long a reply subject opened by `allow_responses` stays open by
/// default (nats-server's `DEFAULT_ALLOW_RESPONSE_EXPIRATION`).
pub const DEFAULT_ALLOW_RESPONSE_EXPIRATION: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountConfig {
    pub name: String,
    pub users: Vec<UserConfig>,
    pub nkeys: Vec<NkeyConfig>,
    pub exports: Vec<ExportConfig>,
    pub imports: Vec<ImportConfig>,
    /// Its subject mappings (`mappings {}` in the account, or the JWT's).
    pub mappings: Vec<MappingConfig>,
    /// JetStream in this account: its limits when enabled.
    pub jetstream: Option<rnats_jetstream::AccountLimits>,
}

/// One subject mapping: messages published to `source` go to one of the
/// destinations, picked by weight (the rest of 100% keeps its subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfig {
    pub source: String,
    pub destinations: Vec<MapDestination>,
}

/// A destination of a mapping: a transform destination (`x.$1`), its
/// weight in percent, and the cluster it is limited to, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDestination {
    pub subject: String,
    pub weight: u8,
    pub cluster: Option<String>,
}

impl MappingConfig {
    /// A mapping to one destination, all of the messages.
    pub fn simple(source: impl Into<String>, destination: impl Into<String>) -> Self {
        MappingConfig {
            source: source.into(),
            destinations: vec![MapDestination {
                subject: destination.into(),
                weight: 100,
                cluster: None,
            }],
        }
    }

    /// What nats-server checks when it adds a mapping
    /// (`AddWeightedMappings`), in its words: a valid source, no
    /// destination twice, weights of at most 100% per cluster, and each
    /// destination a transform of the source.
    pub fn check(&self) -> Result<(), String> {
        if !rnats_proto::subject::is_valid_subject(self.source.as_bytes()) {
            return Err("invalid subject".into());
        }
        let mut seen = std::collections::HashSet::new();
        let mut totals: std::collections::HashMap<Option<&str>, u32> = Default::default();
        for d in &self.destinations {
            if !seen.insert(d.subject.as_str()) {
                return Err(format!("duplicate entry for {:?}", d.subject));
            }
            if d.weight > 100 {
                return Err("individual weights need to be <= 100".into());
            }
            let total = totals.entry(d.cluster.as_deref()).or_default();
            *total += u32::from(d.weight);
            if *total > 100 {
                return Err("total weight needs to be <= 100".into());
            }
            rnats_proto::transform::validate_mapping(&self.source, &d.subject)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportKind {
    Stream,
    Service,
}

/// `exports: [ {stream: "a.>"}, {service: "help", accounts: [B]} ]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    pub kind: ExportKind,
    pub subject: String,
    /// Accounts allowed to import it; empty means every account.
    pub accounts: Vec<String>,
    /// Services: how many answers a request may get.
    pub response: ResponseType,
    /// `account_token_position`: the subject's token (counted from 1, a
    /// `*` in the export) that must be the importing account's name; when
    /// set, it alone decides who may import.
    pub account_token_position: Option<usize>,
}

impl ExportConfig {
    /// Whether `import`, by account `importer`, takes (part of) this
    /// export and is allowed to: the same kind, a subject inside the
    /// export's, and the importer named at the account token position if
    /// the export has one, else listed (or the export public).
    pub fn allows(&self, importer: &str, import: &ImportConfig) -> bool {
        if self.kind != import.kind
            || !rnats_proto::subject::is_subset(import.subject.as_bytes(), self.subject.as_bytes())
        {
            return false;
        }
        match self.account_token_position {
            Some(n) => import.subject.split('.').nth(n.saturating_sub(1)) == Some(importer),
            None => self.accounts.is_empty() || self.accounts.iter().any(|a| a == importer),
        }
    }

    /// A public export of `subject`, answering once if a service.
    pub fn new(kind: ExportKind, subject: impl Into<String>) -> Self {
        ExportConfig {
            kind,
            subject: subject.into(),
            accounts: Vec::new(),
            response: ResponseType::Singleton,
            account_token_position: None,
        }
    }
}

/// A service export's `response_type`: whether the path back to the
/// requester closes after the first answer (`Singleton`) or stays open
/// for more until it expires (`Streamed`, `Chunked`: a request every server
/// of a cluster answers, or an answer in parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    #[default]
    Singleton,
    Streamed,
    Chunked,
}

impl ResponseType {
    /// nats-server's names in `/accountz`.
    pub fn name(self) -> &'static str {
        match self {
            ResponseType::Singleton => "Singleton",
            ResponseType::Streamed => "Streamed",
            ResponseType::Chunked => "Chunked",
        }
    }

    /// An account JWT's `response_type` (`Singleton`, `Stream`, `Chunked`;
    /// empty is a singleton).
    pub fn from_jwt(name: &str) -> Option<Self> {
        match name {
            "" | "Singleton" => Some(ResponseType::Singleton),
            "Stream" => Some(ResponseType::Streamed),
            "Chunked" => Some(ResponseType::Chunked),
            _ => None,
        }
    }

    /// Whether more than one answer may pass.
    pub fn is_streamed(self) -> bool {
        self != ResponseType::Singleton
    }
}

/// `imports: [ {stream: {account: A, subject: "a.>"}, prefix: p}, {service: {account: A, subject: help}, to: h} ]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportConfig {
    pub kind: ExportKind,
    pub account: String,
    pub subject: String,
    /// Streams: a prefix put before the subject in the importing account.
    pub prefix: Option<String>,
    /// Services: the subject the importing account publishes requests to.
    pub to: Option<String>,
    /// Services: the exporter is told who asks (nats-server's `share`;
    /// only the server's own services, which know the asking connection,
    /// use it for now).
    pub share: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    pub debug: bool,
    pub trace: bool,
    pub logtime: bool,
    pub log_file: Option<PathBuf>,
    /// `logfile_size_limit` / `--log_size_limit`: the log file is rotated
    /// when it grows past this many bytes (0 or less: never).
    pub size_limit: i64,
    /// `logfile_max_num`: how many log files to keep, the current one
    /// included, when rotating (0 or less: all).
    pub max_files: i64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            debug: false,
            trace: false,
            logtime: true,
            log_file: None,
            size_limit: 0,
            max_files: 0,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: "0.0.0.0".into(),
            port: DEFAULT_PORT as i32,
            server_name: None,
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            max_connections: 64 * 1024,
            max_subscriptions: 0,
            max_pending: 64 * 1024 * 1024,
            write_deadline: Duration::from_secs(10),
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            logging: LogOptions::default(),
            pid_file: None,
            ports_file_dir: None,
            auth: AuthOptions::default(),
            tls: None,
            config_file: None,
            cluster: None,
            client_advertise: None,
            connect_error_reports: DEFAULT_CONNECT_ERROR_REPORTS,
            reconnect_error_reports: DEFAULT_RECONNECT_ERROR_REPORTS,
            lame_duck_duration: Duration::from_secs(120),
            lame_duck_grace_period: Duration::from_secs(10),
            mappings: Vec::new(),
            monitor: MonitorOptions::default(),
            system_account: Some(DEFAULT_SYSTEM_ACCOUNT.to_string()),
            jetstream: None,
        }
    }
}

impl Options {
    /// Options for a test server: loopback, any free port.
    pub fn for_tests() -> Self {
        Options {
            host: "127.0.0.1".into(),
            port: RANDOM_PORT,
            ..Options::default()
        }
    }

    /// The port to bind: the default for 0, the OS's choice for -1.
    pub fn bind_port(&self) -> u16 {
        match self.port {
            0 => DEFAULT_PORT,
            p if p < 0 => 0,
            p => p as u16,
        }
    }
}

/// Go's `net.SplitHostPort`, enough for the addresses of the config and
/// the command line: `host:port`, `:port`, `[v6]:port`.
pub(crate) fn split_host_port(text: &str) -> Option<(&str, &str)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        Some((host, port))
    } else {
        let (host, port) = text.rsplit_once(':')?;
        (!host.contains(':')).then_some((host, port))
    }
}

//! The command line, compatible with nats-server's: the same flag names,
//! Go-style single-dash long flags (`-port 4222`, `-DV`), `-p -1` for a
//! random port, `-c FILE` for a config file and `-t` to check one. A flag
//! wins over the same setting in the config file. A nats-server flag that
//! rnats does not implement yet is refused by name instead of being
//! silently ignored.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{ArgAction, CommandFactory, Parser};

use crate::config::{self, ConfigError, Problem, Warning};
use crate::options::Options;
use crate::tls::TlsOptions;

#[derive(Parser, Debug)]
#[command(
    name = "rnats-server",
    about = "A NATS server: a drop-in replacement for nats-server",
    long_about = "A NATS server: a drop-in replacement for nats-server.\n\n\
        Flags may be written Go-style (-port 4222, -DV) or GNU-style (--port 4222). \
        Flags win over the same settings in the configuration file (-c). \
        SIGHUP reloads the configuration, SIGUSR2 enters lame duck mode, \
        SIGINT and SIGTERM shut down.",
    disable_version_flag = true
)]
struct Args {
    /// Bind to host address (default: 0.0.0.0)
    #[arg(short = 'a', long = "addr", visible_alias = "net", value_name = "host")]
    addr: Option<String>,
    /// Use port for clients (default: 4222; -1 for any free port)
    #[arg(
        short = 'p',
        long = "port",
        value_name = "port",
        allow_negative_numbers = true
    )]
    port: Option<i32>,
    /// Server name (default: the server id)
    #[arg(
        short = 'n',
        long = "name",
        visible_alias = "server_name",
        value_name = "name"
    )]
    name: Option<String>,
    /// Use port for HTTP monitoring (-1 for any free port)
    #[arg(
        short = 'm',
        long = "http_port",
        value_name = "port",
        allow_negative_numbers = true
    )]
    http_port: Option<i32>,
    /// Use port for HTTPS monitoring (with the certificates of tls {})
    #[arg(
        long = "https_port",
        visible_alias = "ms",
        value_name = "port",
        allow_negative_numbers = true
    )]
    https_port: Option<i32>,
    /// Enable JetStream functionality
    #[arg(long = "jetstream", visible_alias = "js")]
    jetstream: bool,
    /// Set the storage directory (enables JetStream)
    #[arg(long = "store_dir", visible_alias = "sd", value_name = "dir")]
    store_dir: Option<PathBuf>,
    /// File to store PID
    #[arg(short = 'P', long = "pid", value_name = "file")]
    pid: Option<PathBuf>,
    /// Creates a ports file in the specified directory (<executable_name>_<pid>.ports)
    #[arg(long = "ports_file_dir", value_name = "dir")]
    ports_file_dir: Option<PathBuf>,
    /// File to redirect log output
    #[arg(short = 'l', long = "log", value_name = "file")]
    log: Option<PathBuf>,
    /// Timestamp log entries (default: true)
    #[arg(
        short = 'T',
        long = "logtime",
        value_name = "bool",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    logtime: Option<bool>,
    /// Enable debugging output (-DV: debug and trace)
    #[arg(short = 'D', long = "debug", action = ArgAction::Count)]
    debug: u8,
    /// Trace the raw protocol
    #[arg(short = 'V', long = "trace", action = ArgAction::Count)]
    trace: u8,
    /// Configuration file
    #[arg(short = 'c', long = "config", value_name = "file")]
    config: Option<PathBuf>,
    /// Test configuration and exit
    #[arg(short = 't')]
    check_config: bool,
    /// Send signal to rnats-server process (ldm, stop, quit, term, reopen, reload);
    /// <pid> can be a PID (e.g. 1) or the path to a PID file
    #[arg(long = "signal", visible_alias = "sl", value_name = "signal[=pid]")]
    signal: Option<String>,
    /// Logfile size limit in bytes; past it the file is rotated (default: none)
    #[arg(
        long = "log_size_limit",
        value_name = "limit",
        allow_negative_numbers = true
    )]
    log_size_limit: Option<i64>,
    /// User required for connections
    #[arg(long = "user", value_name = "user")]
    user: Option<String>,
    /// Password required for connections
    #[arg(long = "pass", value_name = "password")]
    pass: Option<String>,
    /// Authorization token required for connections
    #[arg(long = "auth", value_name = "token")]
    auth: Option<String>,
    /// Enable TLS, do not verify clients (default: false)
    #[arg(
        long = "tls",
        value_name = "bool",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    tls: Option<bool>,
    /// Server certificate file
    #[arg(long = "tlscert", value_name = "file")]
    tlscert: Option<PathBuf>,
    /// Private key for server certificate
    #[arg(long = "tlskey", value_name = "file")]
    tlskey: Option<PathBuf>,
    /// Enable TLS, verify client certificates
    #[arg(
        long = "tlsverify",
        value_name = "bool",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    tlsverify: Option<bool>,
    /// Client certificate CA for verification
    #[arg(long = "tlscacert", value_name = "file")]
    tlscacert: Option<PathBuf>,
    /// Verify every bcrypt login in full (no cache of successful logins)
    #[arg(long = "no_login_cache")]
    no_login_cache: bool,
    /// Show version
    #[arg(short = 'v', long = "version")]
    version: bool,
    /// Cluster URL for solicited routes (nats://[user:pass@]host:port; port -1 for any)
    #[arg(
        long = "cluster",
        visible_alias = "cluster_listen",
        value_name = "cluster-url"
    )]
    cluster: Option<String>,
    /// Cluster name (default: made up, or learned from peers)
    #[arg(long = "cluster_name", value_name = "name")]
    cluster_name: Option<String>,
    /// Routes to solicit and connect, comma separated
    #[arg(long = "routes", value_name = "rurl-1, rurl-2")]
    routes: Option<String>,
    /// Do not advertise known cluster information to clients
    #[arg(long = "no_advertise", value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    no_advertise: Option<bool>,
    /// Cluster URL to advertise to other servers
    #[arg(long = "cluster_advertise", value_name = "url")]
    cluster_advertise: Option<String>,
    /// For implicit routes, number of connect retries
    #[arg(long = "connect_retries", value_name = "number")]
    connect_retries: Option<u32>,
    /// Client URL to advertise to other servers (host[:port])
    #[arg(long = "client_advertise", value_name = "host:port")]
    client_advertise: Option<String>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run a server (or, with `-t`, check its config file).
    Run(Box<Flags>),
    Version,
    /// `-sl COMMAND[=PID]`: signal a running server and exit; the pid
    /// file of `-P`, if given, names the server.
    Signal {
        value: String,
        pid_file: Option<PathBuf>,
    },
}

/// The command line, parsed: the config file to read and the settings
/// given as flags, which win over the file.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    config: Option<PathBuf>,
    check_config: bool,
    host: Option<String>,
    port: Option<i32>,
    http_port: Option<i32>,
    https_port: Option<i32>,
    server_name: Option<String>,
    jetstream: bool,
    store_dir: Option<PathBuf>,
    pid_file: Option<PathBuf>,
    ports_file_dir: Option<PathBuf>,
    log_file: Option<PathBuf>,
    log_size_limit: Option<i64>,
    logtime: Option<bool>,
    debug: bool,
    trace: bool,
    user: Option<String>,
    pass: Option<String>,
    token: Option<String>,
    no_login_cache: bool,
    tls: Option<bool>,
    tls_verify: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_ca: Option<PathBuf>,
    cluster: Option<String>,
    cluster_name: Option<String>,
    routes: Option<String>,
    no_advertise: Option<bool>,
    cluster_advertise: Option<String>,
    connect_retries: Option<u32>,
    client_advertise: Option<String>,
}

impl Flags {
    /// `-c FILE`.
    pub fn config_file(&self) -> Option<&Path> {
        self.config.as_deref()
    }

    /// `-t`: check the config file and exit (a config file is then given).
    pub fn check_config(&self) -> bool {
        self.check_config
    }

    /// The options to run with: the defaults, then the config file, then
    /// the flags. The warnings are about the config file, to be logged.
    pub fn options(&self) -> Result<(Options, Vec<Warning>), ConfigError> {
        let mut opts = Options::default();
        let warnings = match &self.config {
            Some(path) => config::apply_file(&mut opts, path)?,
            None => Vec::new(),
        };
        self.apply(&mut opts).map_err(|message| ConfigError {
            problems: vec![Problem { pos: None, message }],
        })?;
        // A cluster block without a port is not a cluster, in nats-server
        // too: it neither listens for routes nor dials them.
        if opts.cluster.as_ref().is_some_and(|c| c.port == 0) {
            opts.cluster = None;
        }
        Ok((opts, warnings))
    }

    /// Puts the settings given on the command line over `opts`. As in
    /// nats-server, `--user/--pass` and `--auth` may be given together
    /// (the token wins when clients log in); only the config file refuses
    /// that combination.
    /// Fails, with nats-server's message, on a `--cluster` URL that does
    /// not name a port, or on `--routes` with no cluster to route from.
    pub fn apply(&self, opts: &mut Options) -> Result<(), String> {
        if let Some(host) = &self.host {
            opts.host.clone_from(host);
        }
        if let Some(port) = self.port {
            opts.port = port;
        }
        if let Some(port) = self.http_port {
            opts.monitor.port = port;
        }
        if let Some(port) = self.https_port {
            opts.monitor.https_port = port;
        }
        if let Some(name) = &self.server_name {
            opts.server_name = Some(name.clone());
        }
        if self.jetstream || self.store_dir.is_some() {
            let js = opts.jetstream.get_or_insert_with(Default::default);
            if let Some(dir) = &self.store_dir {
                js.store_dir.clone_from(dir);
            }
        }
        if let Some(path) = &self.pid_file {
            opts.pid_file = Some(path.clone());
        }
        if let Some(dir) = &self.ports_file_dir {
            opts.ports_file_dir = Some(dir.clone());
        }
        if let Some(path) = &self.log_file {
            opts.logging.log_file = Some(path.clone());
        }
        if let Some(limit) = self.log_size_limit {
            opts.logging.size_limit = limit;
        }
        if let Some(logtime) = self.logtime {
            opts.logging.logtime = logtime;
        }
        opts.logging.debug |= self.debug;
        opts.logging.trace |= self.trace;
        if let Some(user) = &self.user {
            opts.auth.username = Some(user.clone());
        }
        if let Some(pass) = &self.pass {
            opts.auth.password = Some(pass.clone());
        }
        if let Some(token) = &self.token {
            opts.auth.token = Some(token.clone());
        }
        opts.auth.no_login_cache |= self.no_login_cache;
        if let Some(advertise) = &self.client_advertise {
            opts.client_advertise = Some(advertise.clone());
        }
        self.apply_tls(opts)?;
        self.apply_cluster(opts)
    }

    /// `--cluster` (where routes are accepted, and the credentials they
    /// must present) turns clustering on, as a cluster block with a port
    /// does; `--cluster_name`, `--routes`, `--no_advertise`,
    /// `--cluster_advertise` and `--connect_retries` shape it.
    fn apply_cluster(&self, opts: &mut Options) -> Result<(), String> {
        if self.routes.is_some() && self.cluster.is_none() && opts.cluster.is_none() {
            return Err("solicited routes require cluster capabilities, e.g. --cluster".into());
        }
        let given = self.cluster.is_some()
            || self.cluster_name.is_some()
            || self.routes.is_some()
            || self.no_advertise.is_some()
            || self.cluster_advertise.is_some()
            || self.connect_retries.is_some();
        if !given {
            return Ok(());
        }
        let cluster = opts
            .cluster
            .get_or_insert_with(|| crate::options::ClusterOptions {
                host: "0.0.0.0".into(),
                port: 0,
                ..Default::default()
            });
        if let Some(url) = &self.cluster {
            let listen = cluster_listen_url(url)?;
            cluster.host = listen.host;
            cluster.port = listen.port;
            if listen.user.is_some() {
                cluster.username = listen.user;
                cluster.password = listen.pass;
            }
        }
        if let Some(name) = &self.cluster_name {
            cluster.name = Some(name.clone());
        }
        if let Some(routes) = &self.routes {
            cluster.routes = routes
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(no) = self.no_advertise {
            cluster.no_advertise = no;
        }
        if let Some(advertise) = &self.cluster_advertise {
            cluster.advertise = Some(advertise.clone());
        }
        if let Some(n) = self.connect_retries {
            cluster.connect_retries = n;
        }
        Ok(())
    }

    /// Any TLS flag turns TLS on, as in nats-server, and then the flags
    /// alone say which certificate, key and CA are used (a config file's
    /// `tls {}` keeps only its timeout, handshake_first, pinned_certs and
    /// verify_and_map); the certificate and key must both be given, and
    /// are loaded now. `--tls=false` turns TLS off, whatever else is
    /// given, the config file's included.
    fn apply_tls(&self, opts: &mut Options) -> Result<(), String> {
        if self.tls == Some(false) {
            opts.tls = None;
            return Ok(());
        }
        let given = self.tls.is_some()
            || self.tls_verify.is_some()
            || self.tls_cert.is_some()
            || self.tls_key.is_some()
            || self.tls_ca.is_some();
        if !given {
            return Ok(());
        }
        let Some(cert) = &self.tls_cert else {
            return Err("TLS Server certificate must be present and valid".into());
        };
        let Some(key) = &self.tls_key else {
            return Err("TLS Server private key must be present and valid".into());
        };
        let from_file = opts.tls.take().unwrap_or_default();
        let tls = TlsOptions {
            cert_file: Some(cert.clone()),
            key_file: Some(key.clone()),
            ca_file: self.tls_ca.clone(),
            verify: self.tls_verify == Some(true),
            verify_and_map: from_file.verify_and_map,
            timeout: from_file.timeout,
            handshake_first: from_file.handshake_first,
            pinned_certs: from_file.pinned_certs,
            ..TlsOptions::default()
        };
        crate::tls::load_files(&tls)?;
        opts.tls = Some(tls);
        Ok(())
    }
}

/// nats-server flags that rnats does not implement yet, and where each is
/// tracked. Refusing them beats running with a setting silently dropped.
const NOT_YET: &[(&[&str], &str)] = &[
    (&["--help_tls"], "TLS help"),
    (&["-s", "--syslog", "-r", "--remote_syslog"], "syslog"),
    (&["--max_traced_msg_len"], "trace limits"),
];

/// Short flags and flag bundles that Go's flag package would also read as
/// one flag each; every other single-dash word is a long flag.
const SHORT_FORMS: &[&str] = &["-DV", "-VV", "-DVV"];

/// Rewrites Go-style `-flag`/`-flag=value` into `--flag`, leaving single
/// letters, bundles and negative numbers alone.
fn normalize(arg: OsString) -> OsString {
    let Some(s) = arg.to_str() else { return arg };
    let is_single_dash_word = s.len() > 2
        && s.starts_with('-')
        && !s.starts_with("--")
        && !s[1..].starts_with(|c: char| c.is_ascii_digit())
        && !SHORT_FORMS.contains(&s)
        && !s[2..].starts_with('=');
    if is_single_dash_word {
        format!("-{s}").into()
    } else {
        arg
    }
}

fn not_yet_supported(arg: &str) -> Option<(&'static str, &'static str)> {
    let name = arg.split('=').next().unwrap_or(arg);
    NOT_YET
        .iter()
        .find_map(|(flags, what)| flags.iter().find(|f| **f == name).map(|f| (*f, *what)))
}

/// The clap definition of the command line, for generating the man page
/// and shell completions. [`parse`] is what the binary runs: it also reads
/// Go-style single-dash long flags and refuses unimplemented nats-server
/// flags, neither of which clap describes.
pub fn command() -> clap::Command {
    Args::command().version(crate::server::VERSION)
}

/// Parses the command line (without the program name) into [`Command`].
/// Errors are ready to print; `--help` comes back as a clap "error" too.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Command, clap::Error> {
    let mut argv: Vec<OsString> = vec!["rnats-server".into()];
    for arg in args {
        let arg = normalize(arg);
        if let Some((flag, what)) = arg.to_str().and_then(not_yet_supported) {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "the nats-server option '{flag}' is not supported by rnats-server yet ({what})\n"
                ),
            ));
        }
        argv.push(arg);
    }
    let args = Args::try_parse_from(argv)?;
    if args.version {
        return Ok(Command::Version);
    }
    // As in nats-server, a signal is sent before the config file is read
    // or `-t` is looked at.
    if let Some(value) = args.signal {
        return Ok(Command::Signal {
            value,
            pid_file: args.pid,
        });
    }
    if args.check_config && args.config.is_none() {
        return Err(clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            "must specify [-c, --config] option to check configuration file syntax\n",
        ));
    }
    Ok(Command::Run(Box::new(Flags {
        config: args.config,
        check_config: args.check_config,
        host: args.addr,
        port: args.port,
        http_port: args.http_port,
        https_port: args.https_port,
        server_name: args.name,
        jetstream: args.jetstream,
        store_dir: args.store_dir,
        pid_file: args.pid,
        ports_file_dir: args.ports_file_dir,
        log_file: args.log,
        log_size_limit: args.log_size_limit,
        logtime: args.logtime,
        debug: args.debug > 0,
        trace: args.trace > 0,
        user: args.user,
        pass: args.pass,
        token: args.auth,
        no_login_cache: args.no_login_cache,
        tls: args.tls,
        tls_verify: args.tlsverify,
        tls_cert: args.tlscert,
        tls_key: args.tlskey,
        tls_ca: args.tlscacert,
        cluster: args.cluster,
        cluster_name: args.cluster_name,
        routes: args.routes,
        no_advertise: args.no_advertise,
        cluster_advertise: args.cluster_advertise,
        connect_retries: args.connect_retries,
        client_advertise: args.client_advertise,
    })))
}

/// `--cluster nats://[user:pass@]host:port`: unlike a route URL, the port
/// must be written (`-1` for any free one), and a user needs a password.
fn cluster_listen_url(url: &str) -> Result<crate::route::RouteUrl, String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let hostport = rest.trim_end_matches('/');
    let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, hp)| hp);
    let Some((_, port)) = crate::options::split_host_port(hostport) else {
        return Err(format!("address {hostport}: missing port in address"));
    };
    // Errors name the URL with its password hidden.
    let shown = rnats_proto::url::redact_password(url);
    if port.parse::<i32>().is_err() {
        return Err(format!(
            "parse {shown:?}: invalid port \":{port}\" after host"
        ));
    }
    let parsed = crate::route::RouteUrl::parse(url)
        .ok_or_else(|| format!("could not parse cluster URL {shown:?}"))?;
    if parsed.user.is_some() && parsed.pass.is_none() {
        return Err("Expected cluster password to be set.".into());
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate, its key and a CA file, written into `dir`.
    fn pem_files(dir: &Path) -> (String, String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
        std::fs::write(path("c.pem"), cert.pem()).unwrap();
        std::fs::write(path("k.pem"), key.serialize_pem()).unwrap();
        std::fs::write(path("ca.pem"), cert.pem()).unwrap();
        (path("c.pem"), path("k.pem"), path("ca.pem"))
    }

    /// nats-server's rules: any TLS flag turns TLS on and then needs both
    /// `--tlscert` and `--tlskey`; `--tls=false` turns it off.
    #[test]
    fn tls_flags_turn_tls_on() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, ca) = pem_files(dir.path());
        let (cert, key, ca) = (cert.as_str(), key.as_str(), ca.as_str());
        let opts = |args: &[&str]| flags(args).options().unwrap().0;
        let refused = |args: &[&str]| match flags(args).options() {
            Ok((opts, _)) => panic!("{args:?} accepted: {:?}", opts.tls),
            Err(e) => e.to_string(),
        };
        for args in [
            &["--tls", "--tlscert", cert, "--tlskey", key][..],
            &["--tlscert", cert, "--tlskey", key],
            &["-tlscert", cert, "-tlskey", key, "-tlscacert", ca],
            &["--tlsverify=false", "--tlscert", cert, "--tlskey", key],
        ] {
            let tls = opts(args).tls.expect("TLS on");
            assert_eq!(tls.cert_file.as_deref(), Some(Path::new(cert)));
            assert_eq!(tls.key_file.as_deref(), Some(Path::new(key)));
            assert!(!tls.verify, "{args:?}");
        }
        let tls = opts(&[
            "-tlsverify",
            "-tlscert",
            cert,
            "-tlskey",
            key,
            "-tlscacert",
            ca,
        ])
        .tls
        .unwrap();
        assert!(tls.verify);
        assert_eq!(tls.ca_file.as_deref(), Some(Path::new(ca)));

        let no_cert = "TLS Server certificate must be present and valid";
        let no_key = "TLS Server private key must be present and valid";
        assert_eq!(refused(&["--tlscert", cert]), no_key);
        assert_eq!(refused(&["--tlscert", cert, "--tlscacert", ca]), no_key);
        assert_eq!(refused(&["--tlskey", key]), no_cert);
        assert_eq!(refused(&["--tlscacert", ca]), no_cert);
        assert_eq!(refused(&["--tls"]), no_cert);
        assert_eq!(refused(&["--tlsverify"]), no_cert);
        assert_eq!(refused(&["--tls=true", "--tlskey", key]), no_cert);
        let missing = dir.path().join("missing.pem");
        let missing = missing.to_str().unwrap();
        assert_eq!(
            refused(&["--tlscert", missing, "--tlskey", key]),
            format!(
                "error parsing X509 certificate/key pair: open {missing}: no such file or directory"
            )
        );
        assert_eq!(
            refused(&["--tlscert", cert, "--tlskey", missing]),
            format!(
                "error parsing X509 certificate/key pair: open {missing}: no such file or directory"
            )
        );
        assert_eq!(
            refused(&[
                "--tlsverify",
                "--tlscert",
                cert,
                "--tlskey",
                key,
                "--tlscacert",
                missing
            ]),
            format!("open {missing}: no such file or directory")
        );
        // The key of another certificate.
        let other = tempfile::tempdir().unwrap();
        let (_, other_key, _) = pem_files(other.path());
        assert_eq!(
            refused(&["--tlscert", cert, "--tlskey", &other_key]),
            "error parsing X509 certificate/key pair: tls: private key does not match public key"
        );
        assert!(opts(&[]).tls.is_none());
        assert!(opts(&["--tls=false", "--tlscert", cert]).tls.is_none());
        assert!(opts(&["--tlscert", cert, "--tls=false"]).tls.is_none());
    }

    /// With a `tls {}` block in the config file, the flags replace its
    /// certificate, key, CA and verify; `--tls=false` turns it off.
    #[test]
    fn tls_flags_replace_the_config_files_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, ca) = pem_files(dir.path());
        let path = dir.path().join("nats.conf");
        std::fs::write(
            &path,
            format!(
                "tls {{ cert_file: {cert:?}, key_file: {key:?}, ca_file: {ca:?}, verify: true, timeout: 3 }}\n"
            ),
        )
        .unwrap();
        let config = path.to_str().unwrap();
        let tls = run(&["-c", config]).tls.unwrap();
        assert!(tls.verify && tls.ca_file.is_some());
        let tls = run(&["-c", config, "--tlscert", &cert, "--tlskey", &key])
            .tls
            .unwrap();
        assert!(!tls.verify && tls.ca_file.is_none());
        assert_eq!(tls.timeout, Some(std::time::Duration::from_secs(3)));
        assert!(run(&["-c", config, "--tls=false"]).tls.is_none());
        match flags(&["-c", config, "--tls"]).options() {
            Err(e) => assert_eq!(
                e.to_string(),
                "TLS Server certificate must be present and valid"
            ),
            Ok(_) => panic!("--tls without --tlscert accepted"),
        }
    }

    /// nats-server's names for the rotation keys, and the flag over them.
    #[test]
    fn log_rotation_keys_and_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nats.conf");
        let config = path.to_str().unwrap();
        for (text, limit, max) in [
            ("logfile_size_limit: 10KB\nlogfile_max_num: 5\n", 10_240, 5),
            ("log_size_limit: 2000\nlog_max_num: 2\n", 2000, 2),
        ] {
            std::fs::write(&path, text).unwrap();
            let opts = run(&["-c", config]);
            assert_eq!(
                (opts.logging.size_limit, opts.logging.max_files),
                (limit, max)
            );
        }
        let opts = run(&["-c", config, "--log_size_limit", "100"]);
        assert_eq!((opts.logging.size_limit, opts.logging.max_files), (100, 2));
        std::fs::write(&path, "logfile_size_limit: big\n").unwrap();
        assert!(flags(&["-c", config]).options().is_err());
    }

    #[test]
    fn signal_and_log_size_limit_flags() {
        for args in [
            &["-sl", "reload=12"][..],
            &["--signal", "reload=12"],
            &["-signal=reload=12"],
        ] {
            match parse(args.iter().map(OsString::from)) {
                Ok(Command::Signal { value, pid_file }) => {
                    assert_eq!((value.as_str(), pid_file), ("reload=12", None), "{args:?}")
                }
                other => panic!("{args:?} gave {other:?}"),
            }
        }
        match parse(["-sl", "quit", "-P", "x.pid"].map(OsString::from)) {
            Ok(Command::Signal { value, pid_file }) => {
                assert_eq!(value, "quit");
                assert_eq!(pid_file.as_deref(), Some(Path::new("x.pid")));
            }
            other => panic!("gave {other:?}"),
        }
        // A signal is sent before `-t` would ask for a config file.
        assert!(matches!(
            parse(["-t", "-sl", "quit"].map(OsString::from)),
            Ok(Command::Signal { .. })
        ));
        assert_eq!(run(&["--log_size_limit", "1000"]).logging.size_limit, 1000);
        assert_eq!(run(&["-log_size_limit=-1"]).logging.size_limit, -1);
    }

    fn flags(args: &[&str]) -> Flags {
        match parse(args.iter().map(OsString::from)) {
            Ok(Command::Run(flags)) => *flags,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    fn run(args: &[&str]) -> Options {
        match flags(args).options() {
            Ok((opts, _warnings)) => opts,
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    #[test]
    fn go_style_and_gnu_style_flags_agree() {
        for args in [
            &["-p", "4333", "-a", "127.0.0.1"][..],
            &["--port", "4333", "--addr", "127.0.0.1"],
            &["-port", "4333", "-addr", "127.0.0.1"],
            &["--port=4333", "--net=127.0.0.1"],
        ] {
            let opts = run(args);
            assert_eq!(opts.port, 4333, "{args:?}");
            assert_eq!(opts.host, "127.0.0.1", "{args:?}");
        }
    }

    #[test]
    fn random_port_debug_trace_and_logtime() {
        let opts = run(&["-p", "-1", "-DV", "-T=false", "-n", "east"]);
        assert_eq!(opts.port, -1);
        assert!(opts.logging.debug && opts.logging.trace);
        assert!(!opts.logging.logtime);
        assert_eq!(opts.server_name.as_deref(), Some("east"));
        let opts = run(&["-V"]);
        assert!(opts.logging.trace && !opts.logging.debug);
    }

    #[test]
    fn jetstream_flags() {
        let opts = run(&["-js"]);
        assert!(opts.jetstream.is_some());
        let opts = run(&["-sd", "/tmp/x"]);
        assert_eq!(
            opts.jetstream.map(|js| js.store_dir),
            Some(std::path::PathBuf::from("/tmp/x"))
        );
        assert!(run(&[]).jetstream.is_none());
    }

    #[test]
    fn unimplemented_flags_are_refused_by_name() {
        for flag in ["--help_tls", "--syslog"] {
            let err = parse([OsString::from(flag)]).unwrap_err().to_string();
            assert!(
                err.contains("not supported by rnats-server yet"),
                "{flag}: {err}"
            );
        }
        assert!(parse([OsString::from("--no-such-flag")]).is_err());
    }

    #[test]
    fn monitoring_flags() {
        let opts = run(&["-m", "8222", "-ms", "-1"]);
        assert_eq!((opts.monitor.port, opts.monitor.https_port), (8222, -1));
        let opts = run(&["--http_port=1", "--https_port", "2"]);
        assert_eq!((opts.monitor.port, opts.monitor.https_port), (1, 2));
    }

    #[test]
    fn cluster_flags() {
        let opts = run(&[
            "-cluster",
            "nats://ru:rp@127.0.0.1:-1",
            "-cluster_name",
            "c1",
            "-routes",
            "nats-route://ru:rp@127.0.0.1:6223, nats://127.0.0.1:6224",
            "-no_advertise",
            "-connect_retries",
            "3",
        ]);
        let c = opts.cluster.unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", -1));
        assert_eq!(c.username.as_deref(), Some("ru"));
        assert_eq!(c.password.as_deref(), Some("rp"));
        assert_eq!(c.name.as_deref(), Some("c1"));
        assert_eq!(c.routes.len(), 2);
        assert!(c.no_advertise);
        assert_eq!(c.connect_retries, 3);
        assert!(run(&[]).cluster.is_none());
    }

    #[test]
    fn client_advertise_flag() {
        let opts = run(&["-client_advertise", "10.0.0.1:4333"]);
        assert_eq!(opts.client_advertise.as_deref(), Some("10.0.0.1:4333"));
    }

    /// nats-server's rules: `--cluster` must name a port; without it (or a
    /// cluster block with a port) there is no cluster, and `--routes` is
    /// an error.
    #[test]
    fn clustering_needs_a_port() {
        let refused = |args: &[&str]| match flags(args).options() {
            Ok((opts, _)) => panic!("{args:?} accepted: {:?}", opts.cluster),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            refused(&["--routes", "nats://127.0.0.1:6223"]),
            "solicited routes require cluster capabilities, e.g. --cluster"
        );
        assert_eq!(
            refused(&["--cluster", "nats://127.0.0.1"]),
            "address 127.0.0.1: missing port in address"
        );
        assert_eq!(
            refused(&["--cluster", "nats://h:bar"]),
            "parse \"nats://h:bar\": invalid port \":bar\" after host"
        );
        assert_eq!(
            refused(&["--cluster", "nats://ru@127.0.0.1:6222"]),
            "Expected cluster password to be set."
        );
        // Issue 13, item 11: a password never shows in an error.
        assert_eq!(
            refused(&["--cluster", "nats://ru:s3cret@h:bar"]),
            "parse \"nats://ru:xxxxx@h:bar\": invalid port \":bar\" after host"
        );
        let c = run(&["--cluster", "nats://[::1]:-1"]).cluster.unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", -1));
        for args in [
            &["--cluster_name", "c1"][..],
            &["--no_advertise", "--connect_retries", "3"],
            &["--cluster", "nats://127.0.0.1:0"],
        ] {
            assert!(run(args).cluster.is_none(), "{args:?} made a cluster");
        }
    }

    #[test]
    fn a_cluster_block_without_a_port_is_no_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nats.conf");
        let config = path.to_str().unwrap();
        std::fs::write(
            &path,
            "cluster { name: c1, routes: [nats://127.0.0.1:6223] }\n",
        )
        .unwrap();
        assert!(run(&["-c", config]).cluster.is_none());
        // It still allows --routes; --cluster supplies the port.
        let c = run(&["-c", config, "--cluster", "nats://127.0.0.1:7000"])
            .cluster
            .unwrap();
        assert_eq!((c.name.as_deref(), c.port), (Some("c1"), 7000));
        assert!(
            run(&["-c", config, "--routes", "nats://127.0.0.1:1"])
                .cluster
                .is_none()
        );
    }

    #[test]
    fn user_pass_and_token_flags() {
        let opts = run(&["--user", "derek", "-pass", "T0pS3cr3t"]);
        assert_eq!(opts.auth.username.as_deref(), Some("derek"));
        assert_eq!(opts.auth.password.as_deref(), Some("T0pS3cr3t"));
        assert_eq!(opts.auth.token, None);
        // nats-server starts with both; the token wins when clients log in.
        let opts = run(&["-auth", "S3Cr3T0k3n!", "--user", "a", "--pass", "b"]);
        assert_eq!(opts.auth.token.as_deref(), Some("S3Cr3T0k3n!"));
        assert_eq!(opts.auth.username.as_deref(), Some("a"));
    }

    #[test]
    fn config_file_then_flags_on_top() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nats.conf");
        std::fs::write(
            &path,
            "listen: 127.0.0.1:4333\nserver_name: from_file\ndebug: true\nlogtime: false\n\
             authorization { user: file_user, password: file_pass }\n",
        )
        .unwrap();
        let path_arg = path.to_str().unwrap();

        let opts = run(&["-c", path_arg]);
        assert_eq!((opts.host.as_str(), opts.port), ("127.0.0.1", 4333));
        assert_eq!(opts.server_name.as_deref(), Some("from_file"));
        assert!(opts.logging.debug && !opts.logging.logtime);
        assert_eq!(opts.config_file.as_deref(), Some(path.as_path()));

        let opts = run(&[
            "-config",
            path_arg,
            "-p",
            "-1",
            "-n",
            "from_flag",
            "-T",
            "--user",
            "flag_user",
        ]);
        assert_eq!((opts.host.as_str(), opts.port), ("127.0.0.1", -1));
        assert_eq!(opts.server_name.as_deref(), Some("from_flag"));
        assert!(opts.logging.debug && opts.logging.logtime);
        assert_eq!(opts.auth.username.as_deref(), Some("flag_user"));
        assert_eq!(opts.auth.password.as_deref(), Some("file_pass"));
    }

    #[test]
    fn check_needs_a_config_file() {
        let f = flags(&["-t", "-c", "nats.conf"]);
        assert!(f.check_config());
        assert_eq!(f.config_file(), Some(Path::new("nats.conf")));
        let err = parse([OsString::from("-t")]).unwrap_err().to_string();
        assert!(
            err.contains("must specify [-c, --config] option to check configuration file syntax"),
            "{err}"
        );
    }

    /// The definition the man page and completions are made from is valid
    /// clap, keeps `-v` as nats-server's version flag (no clap `-V`, which
    /// is `--trace`), and carries the version for the man page header.
    #[test]
    fn command_for_docs() {
        let cmd = command();
        cmd.clone().debug_assert();
        assert_eq!(cmd.get_version(), Some(crate::server::VERSION));
        let long = |name: &str| cmd.get_arguments().find(|a| a.get_long() == Some(name));
        assert_eq!(long("version").and_then(|a| a.get_short()), Some('v'));
        assert_eq!(long("trace").and_then(|a| a.get_short()), Some('V'));
        assert!(long("cluster").is_some() && long("tlscert").is_some());
    }

    #[test]
    fn version_flag() {
        assert!(matches!(
            parse([OsString::from("-v")]),
            Ok(Command::Version)
        ));
        assert!(matches!(
            parse([OsString::from("--version")]),
            Ok(Command::Version)
        ));
    }
}

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
//! `authorization {}`, `accounts {}`, `mappings {}`/`maps`, `no_auth_user`, `tls {}`, `cluster {}`
//! (with its own `tls {}` for routes), and for
//! decentralized authentication `operator`, `system_account`, `resolver`
//! (`MEMORY` or `{ type: full|cache, dir }`) and `resolver_preload`. Every other key
//! nats-server knows is refused as not supported yet, naming the key, so
//! that no setting is silently dropped; a key nats-server does not know
//! either is an `unknown field`, as nats-server reports it. Keys that are
//! variable definitions (referenced as `$NAME`) are not unknown.
//!
//! Like nats-server, a `0` for a limit or a duration means its default.
//!
//! # Layout
//!
//! This file owns the entry points ([`load`], [`apply_file`], [`apply`]),
//! the error and warning types, [`has_plaintext_passwords`], the table of
//! keys refused as not supported yet, and the walk of the top level that
//! hands each key to its block and then runs the checks that need the
//! whole file, in this order: the server's, auth's, operator mode's. It
//! reads no value itself. The blocks, each with its unit tests:
//!
//! - `server.rs`: the server's own settings (ports, limits, timeouts,
//!   logging, lame duck, files);
//! - `auth/`: `authorization {}`, users, `accounts {}` (`auth/accounts.rs`)
//!   and `no_auth_user`;
//! - `cluster.rs`: `cluster {}`;
//! - `operator.rs`: `operator`, `system_account`, `resolver`,
//!   `resolver_preload`.
//!
//! They read through shared layers that know no block: `values.rs` (the
//! `Reader` with its typed values, located problems and refusals), and
//! three readers of nested blocks that more than one block writes the same
//! way: `permissions.rs` (users' and routes' permissions), `tls.rs`
//! (clients' and routes' `tls {}`) and `mappings.rs` (the top level's and
//! accounts' `mappings {}`). Imports go one way: `mod.rs` uses the
//! blocks, the blocks use the shared layers, no block uses another.
//! `testing.rs` holds what the unit tests share.

use std::fmt;
use std::path::Path;

use rnats_conf::{Map, Pos, Value};

pub use rnats_conf::Warning;

use crate::auth::is_bcrypt;
use crate::options::{AuthOptions, Options};

mod auth;
mod cluster;
mod jetstream;
mod mappings;
mod operator;
mod permissions;
mod server;
#[cfg(test)]
mod testing;
mod tls;
mod values;

use auth::{AccountBlock, AuthBlock};
use operator::TrustBlock;
use server::ServerChecks;
use values::{At, Reader};

/// What nats-server logs at start when a password in the options is not a
/// bcrypt hash; see [`has_plaintext_passwords`].
pub const PLAINTEXT_PASSWORDS_WARNING: &str = "Plaintext passwords detected, use nkeys or bcrypt";

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
    (&["prof_port"], "profiling"),
    (&["default_js_domain"], "JetStream domains of leaf nodes"),
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
    (&["websocket", "ws"], "WebSocket"),
    (&["mqtt"], "MQTT"),
    (
        &["max_sub_tokens", "max_subscription_tokens"],
        "subscription token limits",
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
        let mut server = ServerChecks::default();
        let mut auth: Option<AuthBlock> = None;
        let mut accounts: Option<Vec<AccountBlock>> = None;
        let mut no_auth_user: Option<At<String>> = None;
        let mut no_login_cache: Option<bool> = None;
        let mut no_system_account: Option<bool> = None;
        let mut trust = TrustBlock::default();
        let mut jetstream: Option<Option<rnats_jetstream::JetStreamConfig>> = None;
        let mut store_dir = None;
        for entry in root {
            let value = &entry.value;
            match entry.key.to_ascii_lowercase().as_str() {
                "authorization" => auth = self.authorization(entry),
                "cluster" => opts.cluster = self.cluster(value),
                "tls" => opts.tls = self.tls(value).filter(|t| self.tls_files(entry, t)),
                "accounts" => accounts = Some(self.accounts(value)),
                "mappings" | "maps" => opts.mappings = self.mappings(entry),
                "jetstream" => jetstream = Some(self.jetstream(entry)),
                "store_dir" | "storedir" => store_dir = self.path(value),
                "no_auth_user" => no_auth_user = self.located_string(value),
                // rnats's own: verify every bcrypt login in full.
                "no_login_cache" => no_login_cache = self.ok(value.as_bool()),
                "no_system_account" | "no_system" | "no_sys_acc" => {
                    no_system_account = self.ok(value.as_bool());
                }
                "operator" | "operators" | "root_operator" | "root_operators" => {
                    trust.operator_pos = Some(entry.key_pos.clone());
                    self.operators(value, &mut trust);
                }
                "system_account" | "system" => trust.system_account = self.located_string(value),
                "resolver" | "account_resolver" | "accounts_resolver" => {
                    trust.resolver = self.resolver(value);
                }
                "resolver_preload" => self.resolver_preload(value, &mut trust),
                // The server's own settings (`server.rs`), or refused.
                key => {
                    if self.server_setting(entry, opts, &mut server) {
                        continue;
                    }
                    match not_yet_supported(key) {
                        Some(what) => self.not_yet(entry, what),
                        None => self.unknown(entry),
                    }
                }
            }
        }
        self.finish_server(opts, server);
        // A top-level `store_dir` alone enables JetStream, as in nats-server.
        opts.jetstream = match (jetstream, store_dir) {
            (Some(Some(mut js)), Some(dir)) => {
                js.store_dir = dir;
                Some(js)
            }
            (Some(js), _) => js,
            (None, Some(dir)) => Some(rnats_jetstream::JetStreamConfig {
                store_dir: dir,
                ..Default::default()
            }),
            (None, None) => None,
        };
        let no_auth_pos = no_auth_user.as_ref().map(|n| n.pos.clone());
        self.finish_auth(opts, auth, accounts, no_auth_user);
        if let Some(sys) = &trust.system_account {
            opts.system_account = Some(sys.value.clone());
        }
        if no_system_account == Some(true) {
            opts.system_account = None;
        }
        self.finish_trust(opts, trust, no_auth_pos);
        if let Some(off) = no_login_cache {
            opts.auth.no_login_cache = off;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn unsupported_keys_are_refused_by_name() {
        assert_eq!(
            error("port: 4222\n\nallow_non_tls: true\n"),
            "nats.conf:3:1: \"allow_non_tls\" is not supported by rnats-server yet (TLS options beyond the tls block)"
        );
        assert_eq!(
            error("Gateway { port: 6222 }\nprof_port: 8222\ndefault_js_domain: {}\n"),
            "nats.conf:1:1: \"Gateway\" is not supported by rnats-server yet (gateways and leaf nodes)\n\
             nats.conf:2:1: \"prof_port\" is not supported by rnats-server yet (profiling)\n\
             nats.conf:3:1: \"default_js_domain\" is not supported by rnats-server yet (JetStream domains of leaf nodes)"
        );
        assert_eq!(
            error(
                "authorization { users: [ {user: a, password: b, allowed_connection_types: [STANDARD]} ] }"
            ),
            "nats.conf:1:49: \"allowed_connection_types\" is not supported by rnats-server yet (allowed connection types)"
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

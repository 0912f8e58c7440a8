//! The shared reading layer of the config file: [`Reader`], which walks the
//! parsed file and collects every problem (located, in file order) and
//! warning, and its readers of typed values: strings, paths, maps, arrays,
//! counts, durations, ports, `listen` addresses, authorization timeouts.
//! It also refuses keys: `unknown field` as nats-server says it, or not
//! supported yet, naming the key.
//!
//! Every block of the config (`server.rs`, `auth/`, `cluster.rs`, `tls.rs`,
//! `operator.rs`, `permissions.rs`) reads through these helpers. This file
//! knows no block: it may not use any other file of `config/`, except the
//! error and warning types of `mod.rs`.

use std::path::PathBuf;
use std::time::Duration;

use rnats_conf::{Map, MapEntry, Pos, Value, ValueKind};

use super::{Problem, Warning};
use crate::options::Options;

/// A value and where it was written.
#[derive(Debug, Clone)]
pub(super) struct At<T> {
    pub(super) value: T,
    pub(super) pos: Pos,
}

/// Walks the parsed file, collecting problems and warnings as it goes.
#[derive(Default)]
pub(super) struct Reader {
    pub(super) problems: Vec<Problem>,
    pub(super) warnings: Vec<Warning>,
    /// Load the certificates and keys `tls {}` blocks name.
    pub(super) load_files: bool,
}

impl Reader {
    pub(super) fn fail(&mut self, pos: &Pos, message: impl Into<String>) {
        self.problems.push(Problem {
            pos: Some(pos.clone()),
            message: message.into(),
        });
    }

    pub(super) fn ok<T>(&mut self, result: Result<T, rnats_conf::Error>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.problems.push(error.into());
                None
            }
        }
    }

    pub(super) fn string(&mut self, value: &Value) -> Option<String> {
        self.ok(value.as_str()).map(str::to_owned)
    }

    pub(super) fn located_string(&mut self, value: &Value) -> Option<At<String>> {
        self.string(value).map(|s| At {
            value: s,
            pos: value.pos.clone(),
        })
    }

    pub(super) fn path(&mut self, value: &Value) -> Option<PathBuf> {
        self.string(value).map(PathBuf::from)
    }

    pub(super) fn map<'v>(&mut self, value: &'v Value) -> Option<&'v Map> {
        self.ok(value.as_map())
    }

    pub(super) fn array<'v>(&mut self, value: &'v Value) -> Option<&'v [Value]> {
        self.ok(value.as_array())
    }

    /// A string or an array of strings.
    pub(super) fn string_list(&mut self, value: &Value) -> Vec<String> {
        match &value.kind {
            ValueKind::Array(items) => items.iter().filter_map(|v| self.string(v)).collect(),
            _ => self.string(value).into_iter().collect(),
        }
    }

    /// A value of a type the key does not take: `expected <what>, found
    /// <its type>`, worded as `rnats_conf` words its own type errors.
    pub(super) fn expected(&mut self, value: &Value, what: &str) {
        let found = value.kind.type_name();
        self.fail(&value.pos, format!("expected {what}, found {found}"));
    }

    /// A key nats-server does not know: refused as nats-server refuses it,
    /// unless it is a variable definition.
    pub(super) fn unknown(&mut self, entry: &MapEntry) {
        if !entry.used_as_variable {
            self.fail(&entry.key_pos, format!("unknown field {:?}", entry.key));
        }
    }

    /// Where nats-server has its own wording for an unknown key.
    pub(super) fn unknown_as(&mut self, entry: &MapEntry, message: String) {
        if !entry.used_as_variable {
            self.fail(&entry.key_pos, message);
        }
    }

    pub(super) fn not_yet(&mut self, entry: &MapEntry, what: &str) {
        self.fail(
            &entry.key_pos,
            format!(
                "{:?} is not supported by rnats-server yet ({what})",
                entry.key
            ),
        );
    }

    /// A non-negative integer no larger than `max`.
    pub(super) fn count(&mut self, entry: &MapEntry, max: i64) -> Option<i64> {
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
    pub(super) fn duration(&mut self, entry: &MapEntry) -> Option<Duration> {
        let (duration, warning) = self.ok(entry.value.as_duration())?;
        if let Some(warning) = warning {
            self.warnings.push(Warning {
                pos: warning.pos,
                message: format!("invalid use of field {:?}: {}", entry.key, warning.message),
            });
        }
        Some(duration)
    }

    pub(super) fn port(&mut self, value: &Value) -> Option<i32> {
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

    /// `listen: 4222`, `listen: 127.0.0.1:4222`, `listen: "[::1]:-1"`.
    pub(super) fn listen(&mut self, value: &Value, opts: &mut Options) {
        if let Some((host, port)) = self.host_port(value) {
            opts.port = port;
            if !host.is_empty() {
                opts.host = host;
            }
        }
    }

    /// A port alone (the host empty) or `host:port`, as `listen` and
    /// `http` take them.
    pub(super) fn host_port(&mut self, value: &Value) -> Option<(String, i32)> {
        match &value.kind {
            ValueKind::Integer(_) => self.port(value).map(|port| (String::new(), port)),
            ValueKind::String(text) => {
                let Some((host, port)) = crate::options::split_host_port(text) else {
                    self.fail(
                        &value.pos,
                        format!("could not parse address string {text:?} (expected host:port)"),
                    );
                    return None;
                };
                let Ok(port) = port.parse::<i64>() else {
                    self.fail(&value.pos, format!("could not parse port {port:?}"));
                    return None;
                };
                let port = self.check_port(port, &value.pos)?;
                Some((host.to_owned(), port))
            }
            _ => {
                self.expected(value, "a port or host:port");
                None
            }
        }
    }

    /// `timeout: 1`, `timeout: 0.5` (seconds, as nats-server documents it)
    /// or `timeout: "2s"`. Zero means the default.
    pub(super) fn auth_timeout(&mut self, value: &Value) -> Option<Duration> {
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
            _ => {
                self.expected(value, "a number of seconds or a duration such as \"2s\"");
                return None;
            }
        };
        (!duration.is_zero()).then_some(duration)
    }
}

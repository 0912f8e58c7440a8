//! The server's own top-level settings: where clients connect (`listen`,
//! `host`/`net`, `port`, `client_advertise`), `server_name`, limits
//! (`max_payload`, `max_control_line`, `max_pending`, `max_connections`),
//! timeouts (`ping_interval`, `ping_max`, `write_deadline`), lame duck mode,
//! route error reports, logging (`debug`, `trace`, `logtime`, `logfile`)
//! and files (`pid_file`, `ports_file_dir`), with nats-server's rules
//! between them. Owns those fields of `Options`; every block `{}` belongs
//! to another file.
//!
//! Reads through `values.rs` only and may not use any block.

use std::time::Duration;

use rnats_conf::{MapEntry, Pos};

use super::values::Reader;
use crate::options::Options;

/// The largest `max_payload` / `max_control_line` nats-server accepts.
const MAX_INT32: i64 = i32::MAX as i64;

/// Where the settings that are checked against each other were written.
#[derive(Default)]
pub(super) struct ServerChecks {
    payload_pos: Option<Pos>,
    pending_pos: Option<Pos>,
    lame_duck_pos: Option<Pos>,
}

impl Reader {
    /// A top-level key that is a setting of the server itself: applies it
    /// to `opts` and returns true; returns false for any other key.
    pub(super) fn server_setting(
        &mut self,
        entry: &MapEntry,
        opts: &mut Options,
        checks: &mut ServerChecks,
    ) -> bool {
        let value = &entry.value;
        match entry.key.to_ascii_lowercase().as_str() {
            "listen" => self.listen(value, opts),
            "http_port" | "monitor_port" => {
                if let Some(port) = self.port(value) {
                    opts.monitor.port = port;
                }
            }
            "https_port" => {
                if let Some(port) = self.port(value) {
                    opts.monitor.https_port = port;
                }
            }
            "http" | "https" => {
                if let Some((host, port)) = self.host_port(value) {
                    opts.monitor.host = host;
                    match entry.key.eq_ignore_ascii_case("http") {
                        true => opts.monitor.port = port,
                        false => opts.monitor.https_port = port,
                    }
                }
            }
            "http_base_path" => {
                if let Some(path) = self.ok(value.as_str()) {
                    opts.monitor.base_path = path.to_string();
                }
            }
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
                    checks.payload_pos = Some(value.pos.clone());
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
                    checks.pending_pos = Some(value.pos.clone());
                    if n > 0 {
                        opts.max_pending = usize::try_from(n).unwrap_or(usize::MAX);
                    }
                }
            }
            // Subscriptions per connection; 0 or less: no limit.
            "max_subscriptions" | "max_subs" => {
                if let Some(n) = self.ok(value.as_i64()) {
                    opts.max_subscriptions = usize::try_from(n).unwrap_or(0);
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
                        checks.lame_duck_pos = Some(entry.key_pos.clone());
                    }
                }
            }
            "lame_duck_grace_period" => {
                if let Some(d) = self.duration(entry) {
                    opts.lame_duck_grace_period = d;
                    checks.lame_duck_pos = Some(entry.key_pos.clone());
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
            _ => return false,
        }
        true
    }

    /// The rules between settings, checked once the whole file is read,
    /// with nats-server's messages.
    pub(super) fn finish_server(&mut self, opts: &Options, checks: ServerChecks) {
        if opts.max_payload > opts.max_pending {
            let pos = checks.payload_pos.or(checks.pending_pos);
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
        if let Some(pos) = checks.lame_duck_pos
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
    use std::path::Path;
    use std::time::Duration;

    use super::go_duration;
    use crate::config::testing::*;
    use crate::options::Options;

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
}

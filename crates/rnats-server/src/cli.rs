//! The command line, compatible with nats-server's: the same flag names,
//! Go-style single-dash long flags (`-port 4222`, `-DV`), `-p -1` for a
//! random port. A nats-server flag that rnats does not implement yet is
//! refused by name instead of being silently ignored.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Parser};

use crate::options::Options;

#[derive(Parser, Debug)]
#[command(
    name = "rnats-server",
    about = "A NATS server: a drop-in replacement for nats-server",
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
    /// Show version
    #[arg(short = 'v', long = "version")]
    version: bool,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Box<Options>),
    Version,
}

/// nats-server flags that rnats does not implement yet, and where each is
/// tracked. Refusing them beats running with a setting silently dropped.
const NOT_YET: &[(&[&str], &str)] = &[
    (&["-c", "--config", "-t"], "configuration files (issue 3)"),
    (&["--user", "--pass", "--auth"], "authentication (issue 3)"),
    (
        &[
            "--tls",
            "--tlscert",
            "--tlskey",
            "--tlsverify",
            "--tlscacert",
            "--help_tls",
        ],
        "TLS (issue 5)",
    ),
    (
        &[
            "--routes",
            "--cluster",
            "--cluster_name",
            "--no_advertise",
            "--cluster_advertise",
            "--connect_retries",
            "--cluster_listen",
            "--client_advertise",
        ],
        "clustering (issue 6)",
    ),
    (&["-m", "--http_port", "--ms", "--https_port"], "monitoring"),
    (
        &["-js", "--js", "--jetstream", "--sd", "--store_dir"],
        "JetStream",
    ),
    (&["-s", "--syslog", "-r", "--remote_syslog"], "syslog"),
    (&["--sl", "--signal"], "signalling a running server"),
    (
        &["--log_size_limit", "--max_traced_msg_len"],
        "log rotation and trace limits",
    ),
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
    let mut opts = Options::default();
    if let Some(addr) = args.addr {
        opts.host = addr;
    }
    if let Some(port) = args.port {
        opts.port = port;
    }
    opts.server_name = args.name;
    opts.pid_file = args.pid;
    opts.ports_file_dir = args.ports_file_dir;
    opts.logging.log_file = args.log;
    if let Some(logtime) = args.logtime {
        opts.logging.logtime = logtime;
    }
    opts.logging.debug = args.debug > 0;
    opts.logging.trace = args.trace > 0;
    Ok(Command::Run(Box::new(opts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args.iter().map(OsString::from)) {
            Ok(Command::Run(opts)) => *opts,
            other => panic!("{args:?} gave {other:?}"),
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
    fn unimplemented_flags_are_refused_by_name() {
        for flag in ["--tls", "-routes", "--cluster=nats://x:1", "-m", "--auth"] {
            let err = parse([OsString::from(flag)]).unwrap_err().to_string();
            assert!(
                err.contains("not supported by rnats-server yet"),
                "{flag}: {err}"
            );
        }
        assert!(parse([OsString::from("--no-such-flag")]).is_err());
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

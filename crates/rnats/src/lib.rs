//! `rnats`: the command-line companion of the rnats server.
//!
//! Each tool is a subcommand with its own module: `passwd` (nats-server's `mkpasswd`: make a
//! bcrypt hash for a config file's `password`/`token`), `nkey` (nats' `nk`), `jwt` and `creds`
//! (the offline part of `nsc`: operator, account and user JWTs, credentials files and the
//! server's resolver config), `bench`, in `client` the `nats` CLI's basic commands `pub`,
//! `sub`, `req` and `reply` (on the official `async-nats` client), in `server` what
//! `nats server ping|list|info|check` show over the system account, `top` (nats-top),
//! `mapping` (`nats server mapping`: test a subject mapping), and in `stream` the `nats`
//! CLI's `stream add|info|ls|rm|purge|get|view` (JetStream streams).
//!
//! The binary (`main.rs`) only calls [`main`]. This is a library so that the workspace's
//! `xtask` can make the man page and shell completions from [`command`]; it is not an API.

// Unsafe code only where a system call has no safe wrapper here, each
// place allowed by name with its SAFETY note.
#![deny(unsafe_code)]

mod bench;
mod client;
mod creds;
mod jwt;
mod keys;
mod mapping;
mod nkey;
mod passwd;
mod server;
mod stream;
mod top;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// The rnats tool.
#[derive(Debug, Parser)]
#[command(name = "rnats", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Make a bcrypt hash of a password or token for the server config (nats-server's mkpasswd).
    ///
    /// Without -p, generates a strong random password and prints it with its hash.
    Passwd(passwd::PasswdArgs),
    /// Benchmark a NATS server: publish/subscribe, queue groups, request/reply latency,
    /// connection storms and idle connections (like `nats bench`).
    Bench(Box<bench::BenchArgs>),
    /// NKeys: generate (user, account, operator), show the public key, sign, verify (like `nk`).
    Nkey(nkey::NkeyArgs),
    /// Make and sign operator, account and user JWTs; show one; print a resolver config.
    Jwt(jwt::JwtArgs),
    /// Write a user credentials file (.creds) from a user JWT and the user's seed.
    Creds(creds::CredsArgs),
    /// Publish a message (the body from the argument or stdin), or --count of them.
    #[command(visible_alias = "publish")]
    Pub(client::PubArgs),
    /// Subscribe and print each message received.
    #[command(visible_alias = "subscribe")]
    Sub(client::SubArgs),
    /// Send a request and print the reply.
    #[command(visible_alias = "request")]
    Req(client::ReqArgs),
    /// Answer requests with a fixed body.
    Reply(client::ReplyArgs),
    /// Ask the servers of a cluster about themselves over the system account: ping, list,
    /// info, and health checks (like `nats server`).
    Server(server::ServerArgs),
    /// A live view of a server's connections from its monitoring port (like nats-top).
    Top(top::TopArgs),
    /// Test a subject mapping: print what each subject maps to (like `nats server mapping`).
    #[command(visible_alias = "mappings")]
    Mapping(mapping::MappingArgs),
    /// Manage JetStream streams: add, info, ls, rm, purge, get, view (like `nats stream`).
    Stream(stream::StreamArgs),
}

/// The clap definition of the command line, for the man pages and shell completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs the tool on the process's command line; the binary's `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let (name, result) = match &cli.command {
        // Their exit codes say more than success or failure (a check's status).
        Command::Server(args) => return server::run(args),
        Command::Top(args) => return top::run(args),
        Command::Stream(args) => return stream::run(args),
        Command::Passwd(args) => ("passwd", passwd::run(args).map_err(|e| e.to_string())),
        Command::Bench(args) => ("bench", bench::run(args).map_err(|e| e.to_string())),
        Command::Nkey(args) => ("nkey", nkey::run(args)),
        Command::Jwt(args) => ("jwt", jwt::run(args)),
        Command::Creds(args) => ("creds", creds::run(args)),
        Command::Pub(args) => ("pub", client::run_pub(args)),
        Command::Sub(args) => ("sub", client::run_sub(args)),
        Command::Req(args) => ("req", client::run_req(args)),
        Command::Reply(args) => ("reply", client::run_reply(args)),
        Command::Mapping(args) => ("mapping", mapping::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rnats {name}: error: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn passwd_flags_parse() {
        let cli = Cli::try_parse_from(["rnats", "passwd", "-p", "--cost", "4"]).unwrap();
        let Command::Passwd(args) = cli.command else {
            panic!("not passwd")
        };
        assert!(args.password);
        assert_eq!(args.cost, 4);

        let cli = Cli::try_parse_from(["rnats", "passwd"]).unwrap();
        let Command::Passwd(args) = cli.command else {
            panic!("not passwd")
        };
        assert!(!args.password);
        assert_eq!(args.cost, passwd::DEFAULT_COST);
    }

    #[test]
    fn client_flags_parse() {
        let cli = Cli::try_parse_from([
            "rnats", "pub", "s", "b", "-H", "a:1", "-H", "b:2", "--count", "3", "--reply", "r",
        ])
        .unwrap();
        let Command::Pub(args) = cli.command else {
            panic!("not pub")
        };
        assert_eq!((args.headers.len(), args.count), (2, 3));
        assert_eq!(args.conn.server, "nats://127.0.0.1:4222");

        let cli = Cli::try_parse_from(["rnats", "req", "s", "--timeout", "250ms"]).unwrap();
        let Command::Req(args) = cli.command else {
            panic!("not req")
        };
        assert_eq!(args.timeout, std::time::Duration::from_millis(250));
        assert_eq!(args.body, None);

        for bad in [
            &["rnats", "sub", "s", "--password", "p"][..],
            &["rnats", "sub", "s", "--user", "u", "--token", "t"],
            &["rnats", "sub", "s", "--creds", "c", "--nkey", "n"],
            &["rnats", "sub", "s", "--tlscert", "c"],
            &["rnats", "reply", "s"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn out_of_range_cost_is_refused_by_the_parser() {
        for cost in ["3", "32", "-1", "eleven"] {
            let error = Cli::try_parse_from(["rnats", "passwd", "--cost", cost]).unwrap_err();
            assert!(
                error.to_string().contains("between 4 and 31"),
                "{cost}: {error}"
            );
        }
    }
}

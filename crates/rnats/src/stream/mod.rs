//! `rnats stream add|info|ls|rm|purge|get|view`: manage JetStream streams, like the `nats`
//! CLI's `nats stream …`.
//!
//! Every command is one or a few requests to the JetStream API (`$JS.API.STREAM.*`), sent with
//! the async-nats JetStream [`Context`] (its API prefix and request timeout) and read as JSON
//! values: `--json` prints what the server said, and a field this tool does not know is
//! neither lost nor an error. An answer with an `error` becomes the command's error, with the
//! server's description and codes (nats-server's texts). No command prompts except `rm` and
//! `purge` on a terminal without `-f`.
//!
//! * `add.rs`: the stream configuration from flags or a JSON file;
//! * `show.rs`: `info` and `ls` in the `nats` CLI's layout;
//! * `msg.rs`: `get` and `view`, messages read with `STREAM.MSG.GET` (any stream, no
//!   consumer needed).
//!
//! The connection is the client commands' (`client::conn`: `-s`, `--user`, `--creds`, TLS…).

mod add;
mod msg;
mod show;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use async_nats::jetstream::context::RequestErrorKind;
use async_nats::jetstream::{self, Context};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::client::conn::{ConnArgs, Connection};
use crate::client::message::{output_error, parse_timeout};
use crate::keys::Result;

#[derive(Debug, Args)]
pub struct StreamArgs {
    #[command(subcommand)]
    pub command: StreamCommand,
}

#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// Create a stream from flags (defaults: file storage, limits retention, no limits) or from
    /// a StreamConfig JSON file (--config).
    #[command(visible_alias = "create")]
    Add(add::AddArgs),
    /// Show a stream's configuration and state (--json: the server's JSON).
    #[command(visible_alias = "i")]
    Info(show::InfoArgs),
    /// List the streams: a table, or only their names (--names).
    #[command(visible_alias = "list")]
    Ls(show::LsArgs),
    /// Delete a stream and all its messages (asks first on a terminal, unless -f).
    #[command(visible_alias = "delete")]
    Rm(RmArgs),
    /// Remove messages from a stream: all, those on --subject, up to --seq, or all but the
    /// last --keep (asks first on a terminal, unless -f).
    Purge(PurgeArgs),
    /// Print one message: by sequence, or the last one on a subject (--last-for).
    Get(msg::GetArgs),
    /// Print a stream's messages in order, from --since, at most --count.
    View(msg::ViewArgs),
}

/// The flags every `stream` subcommand takes: the connection and how long to wait.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// How long to wait for each answer of the JetStream API (e.g. 5s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_timeout)]
    pub timeout: Duration,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The stream.
    pub name: String,

    /// Delete without asking.
    #[arg(short = 'f', long)]
    pub force: bool,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The stream.
    pub name: String,

    /// Purge only the messages on this subject (wildcards allowed).
    #[arg(long, value_name = "SUBJECT")]
    pub subject: Option<String>,

    /// Purge the messages below this sequence.
    #[arg(long, value_name = "N", conflicts_with = "keep",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub seq: Option<u64>,

    /// Keep this many of the newest messages.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep: Option<u64>,

    /// Purge without asking.
    #[arg(short = 'f', long)]
    pub force: bool,

    #[command(flatten)]
    pub common: Common,
}

/// Runs `rnats stream …`.
pub fn run(args: &StreamArgs) -> ExitCode {
    let (name, result) = match &args.command {
        StreamCommand::Add(a) => ("add", add::run(a)),
        StreamCommand::Info(a) => ("info", show::run_info(a)),
        StreamCommand::Ls(a) => ("ls", show::run_ls(a)),
        StreamCommand::Rm(a) => ("rm", run_rm(a)),
        StreamCommand::Purge(a) => ("purge", run_purge(a)),
        StreamCommand::Get(a) => ("get", msg::run_get(a)),
        StreamCommand::View(a) => ("view", msg::run_view(a)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rnats stream {name}: error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The JetStream API over one connection.
pub struct Api {
    /// Kept for the server's `-ERR`s (a permissions violation explains a missing answer).
    conn: Connection,
    js: Context,
}

impl Api {
    /// Connects as `common` says; `command` names the subcommand in messages.
    pub async fn connect(common: &Common, command: &'static str) -> Result<Api> {
        let conn = Connection::open(&common.conn, command).await?;
        let mut js = jetstream::new(conn.client.clone());
        js.set_timeout(common.timeout);
        Ok(Api { conn, js })
    }

    /// Sends `$JS.API.<subject>` with `body` and returns the answer, or the server's error
    /// (its `description` and codes) as this command's error.
    pub async fn request(&self, subject: &str, body: &Value) -> Result<Value> {
        self.try_request(subject, body)
            .await?
            .map_err(|error| api_error(&error))
    }

    /// Sends `$JS.API.<subject>` with `body`: the answer, or the `error` object of an answer
    /// that has one; the outer error is a request that got no answer.
    pub async fn try_request(
        &self,
        subject: &str,
        body: &Value,
    ) -> Result<std::result::Result<Value, Value>> {
        let request = self.js.request::<_, _, Value>(subject.to_string(), body);
        let answer = tokio::select! {
            answer = request => answer,
            error = self.conn.server_error() => return Err(format!("server error: {error}")),
        };
        let mut answer = answer.map_err(|e| match e.kind() {
            RequestErrorKind::NoResponders => format!(
                "JetStream not enabled: nothing answers $JS.API.{subject} (start the server with \
                 -js, or enable JetStream in this account)"
            ),
            RequestErrorKind::TimedOut => format!("no answer to $JS.API.{subject}: timed out"),
            _ => format!("$JS.API.{subject}: {e}"),
        })?;
        if let Some(error) = answer.as_object_mut().and_then(|a| a.remove("error"))
            && !error.is_null()
        {
            return Ok(Err(error));
        }
        Ok(Ok(answer))
    }
}

/// The `err_code` of an API error.
fn err_code(error: &Value) -> Option<u64> {
    error.get("err_code").and_then(Value::as_u64)
}

/// An API error as the server wrote it: its description, then its codes.
fn api_error(error: &Value) -> String {
    let description = error
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("unknown error");
    let code = error.get("code").and_then(Value::as_u64).unwrap_or(0);
    match err_code(error) {
        Some(err_code) => format!("{description} (code {code}, error code {err_code})"),
        None => format!("{description} (code {code})"),
    }
}

/// A stream name as nats-server takes one: not empty, no whitespace, `.`, `*`, `>`, path
/// separators. Checked here too, so a bad name never becomes a wrong API subject.
pub fn check_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'));
    if bad {
        return Err(format!(
            "invalid stream name {name:?}: a name may not be empty or contain spaces, '.', '*', \
             '>', '/' or '\\'"
        ));
    }
    Ok(())
}

/// Writes `text` to stdout; a closed pipe (`| head`) just ends the output.
pub fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) => output_error(e).map_or(Ok(()), Err),
    }
}

/// Whether to go ahead with a destructive `action`: yes with `force`; otherwise asked on a
/// terminal, refused elsewhere.
fn confirm(force: bool, action: &str) -> Result<bool> {
    if force {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!("{action}: add -f to do it without being asked"));
    }
    eprint!("Really {action}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

fn run_rm(args: &RmArgs) -> Result<()> {
    check_name(&args.name)?;
    if !confirm(args.force, &format!("delete stream {}", args.name))? {
        return Ok(());
    }
    crate::client::block_on(async {
        let api = Api::connect(&args.common, "stream rm").await?;
        api.request(&format!("STREAM.DELETE.{}", args.name), &json!({}))
            .await?;
        emit(&format!("Deleted stream {}\n", args.name))
    })
}

fn run_purge(args: &PurgeArgs) -> Result<()> {
    check_name(&args.name)?;
    let what = match (&args.subject, args.seq, args.keep) {
        (None, None, None) => format!("purge all messages of stream {}", args.name),
        _ => format!("purge messages of stream {}", args.name),
    };
    if !confirm(args.force, &what)? {
        return Ok(());
    }
    let mut body = serde_json::Map::new();
    if let Some(subject) = &args.subject {
        body.insert("filter".into(), json!(subject));
    }
    if let Some(seq) = args.seq {
        body.insert("seq".into(), json!(seq));
    }
    if let Some(keep) = args.keep {
        body.insert("keep".into(), json!(keep));
    }
    crate::client::block_on(async {
        let api = Api::connect(&args.common, "stream purge").await?;
        let answer = api
            .request(&format!("STREAM.PURGE.{}", args.name), &Value::Object(body))
            .await?;
        let purged = answer.get("purged").and_then(Value::as_u64).unwrap_or(0);
        emit(&format!(
            "Purged {} message{} from stream {}\n",
            crate::server::format::comma(purged),
            if purged == 1 { "" } else { "s" },
            args.name
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        check_name("ORDERS").unwrap();
        check_name("a-b_c").unwrap();
        for bad in ["", "a.b", "a b", "a*", ">", "a/b", "a\tb"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn api_errors_read_as_the_server_wrote_them() {
        let error = json!({"code": 404, "err_code": 10059, "description": "stream not found"});
        assert_eq!(
            api_error(&error),
            "stream not found (code 404, error code 10059)"
        );
        assert_eq!(api_error(&json!({"code": 500})), "unknown error (code 500)");
    }
}

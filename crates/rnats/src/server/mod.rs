//! `rnats server ping|list|info|check`: what `nats server …` shows of a running cluster,
//! asked over the system account.
//!
//! * `ping` and `list` send `$SYS.REQ.SERVER.PING` (a `STATSZ` request every server of the
//!   cluster answers) and gather the answers until `--count` servers (by default as many as
//!   the first answer says are active) or `--timeout`;
//! * `info [SERVER]` asks `$SYS.REQ.SERVER.PING.VARZ` filtered by server name, or
//!   `$SYS.REQ.SERVER.<ID>.VARZ` for a server ID, and prints the answer in sections;
//! * `check connection|server` are the Nagios-style checks (`check.rs`).
//!
//! The connection is the client commands' (`client::conn`: `-s`, `--user`, `--creds`, TLS…),
//! and must log in to the system account. The JSON is decoded by `json.rs`, printed with
//! `format.rs` (also used by `rnats top`).

mod check;
pub mod format;
mod info;
pub mod json;
mod list;
mod ping;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use async_nats::{Message, StatusCode};
use bytes::Bytes;
use clap::{Args, Subcommand};
use futures::StreamExt;

use crate::client::conn::{ConnArgs, Connection};
use crate::client::message::parse_timeout;
use crate::keys::Result;

/// The request every server of a cluster answers with its `STATSZ`.
pub const PING_SUBJECT: &str = "$SYS.REQ.SERVER.PING";

/// What a refused or unanswered system request means, in the `nats` CLI's words.
const NO_RESULTS: &str = "no results received, ensure the account used has system privileges and appropriate permissions";

#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub command: ServerCommand,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Ping all servers: one line per server that answers, with its round-trip time.
    Ping(ping::PingArgs),
    /// List known servers: a table of each server's load, with totals.
    #[command(visible_alias = "ls")]
    List(list::ListArgs),
    /// Show information about a single server (by name or ID, or whichever answers first).
    #[command(visible_alias = "i")]
    Info(info::InfoArgs),
    /// Health checks for monitoring systems (Nagios): OK, WARNING or CRITICAL, exit code 0, 1 or 2.
    Check(check::CheckArgs),
}

/// The flags every `server` subcommand takes: the connection and how long to wait.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// How long to wait for answers (e.g. 2s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_timeout)]
    pub timeout: Duration,

    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Runs `rnats server …`; the exit code is a check's status, or 0/1.
pub fn run(args: &ServerArgs) -> ExitCode {
    let (name, result) = match &args.command {
        ServerCommand::Ping(a) => ("ping", ping::run(a).map(|()| 0)),
        ServerCommand::List(a) => ("list", list::run(a).map(|()| 0)),
        ServerCommand::Info(a) => ("info", info::run(a).map(|()| 0)),
        ServerCommand::Check(a) => ("check", Ok(check::run(a))),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("rnats server {name}: error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// An answer to a system request, and how long after the request it came.
pub struct Answer {
    pub message: Message,
    pub rtt: Duration,
}

/// Sends `subject` with `body` and a reply inbox, and gathers the answers until `enough`
/// says so, `timeout` passes, or Ctrl-C. `enough` sees the answers so far (the newest
/// last) and may print them as they come. A "no responders" status means the request did
/// not reach the system account (wrong account, or no permission).
pub async fn gather(
    conn: &Connection,
    subject: &str,
    body: Bytes,
    timeout: Duration,
    mut enough: impl FnMut(&[Answer]) -> Result<bool>,
) -> Result<Vec<Answer>> {
    let client = &conn.client;
    let inbox = client.new_inbox();
    let mut answers_sub = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| format!("cannot subscribe to {inbox}: {e}"))?;
    let start = Instant::now();
    client
        .publish_with_reply(subject.to_string(), inbox, body)
        .await
        .map_err(|e| format!("cannot send {subject}: {e}"))?;
    client
        .flush()
        .await
        .map_err(|e| format!("cannot send {subject}: {e}"))?;
    let deadline = tokio::time::Instant::from_std(start + timeout);
    let mut answers = Vec::new();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let message = tokio::select! {
            message = tokio::time::timeout_at(deadline, answers_sub.next()) => match message {
                Ok(Some(message)) => message,
                Ok(None) | Err(_) => break,
            },
            error = conn.server_error() => return Err(error),
            _ = &mut interrupted => break,
        };
        if let Some(status) = message.status {
            if status == StatusCode::NO_RESPONDERS {
                return Err(format!(
                    "{status} status from {subject}, ensure a system account is used with \
                     appropriate permissions"
                ));
            }
            // Other statuses (flow control, a timeout) are not answers.
            continue;
        }
        answers.push(Answer {
            message,
            rtt: start.elapsed(),
        });
        if enough(&answers)? {
            break;
        }
    }
    Ok(answers)
}

/// Decodes an answer's JSON, or says which server sent what could not be read.
pub fn decode<T: serde::de::DeserializeOwned>(answer: &Message) -> Result<T> {
    serde_json::from_slice(&answer.payload).map_err(|e| {
        format!(
            "could not decode the answer ({e}): {}",
            String::from_utf8_lossy(&answer.payload[..answer.payload.len().min(200)])
        )
    })
}

/// The body of a request filtered to one server by its exact name (`{}`: any server).
fn name_filter(name: &str) -> Bytes {
    let filter = if name.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::json!({ "server_name": name, "exact_match": true })
    };
    Bytes::from(filter.to_string())
}

/// Whether a server argument is a server ID (56 upper-case characters) rather than a name.
fn is_server_id(s: &str) -> bool {
    s.len() == 56
        && s.starts_with('N')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A server's `VARZ` by name or ID (or the first to answer, for an empty `server`).
pub async fn fetch_varz(
    conn: &Connection,
    server: &str,
    timeout: Duration,
) -> Result<json::ApiResponse<json::Varz>> {
    let (subject, body) = if is_server_id(server) {
        (format!("$SYS.REQ.SERVER.{server}.VARZ"), Bytes::from("{}"))
    } else {
        (format!("{PING_SUBJECT}.VARZ"), name_filter(server))
    };
    let answers = gather(conn, &subject, body, timeout, |_| Ok(true)).await?;
    let Some(answer) = answers.first() else {
        return Err(if server.is_empty() {
            NO_RESULTS.to_string()
        } else {
            format!("no answer from a server named {server:?} within {timeout:?}; {NO_RESULTS}")
        });
    };
    let response: json::ApiResponse<json::Varz> = decode(&answer.message)?;
    if let Some(error) = &response.error {
        return Err(format!(
            "invalid response received: {} (code {})",
            error.description, error.code
        ));
    }
    if response.data.is_none() {
        return Err("no data received in the response".into());
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ids_and_names() {
        assert!(is_server_id(
            "NBN2M7IXTZUQQYYAT3F3H5M3PECIN726W6RMH2XAQK5HPDXJYMC7NG7N"
        ));
        assert!(!is_server_id("alpha"));
        assert!(!is_server_id(
            "nbn2m7ixtzuqqyyat3f3h5m3pecin726w6rmh2xaqk5hpdxjymc7ng7n"
        ));
        assert_eq!(&name_filter("")[..], b"{}");
        let filter: serde_json::Value = serde_json::from_slice(&name_filter("a\"b")).unwrap();
        assert_eq!(filter["server_name"], "a\"b");
        assert_eq!(filter["exact_match"], true);
    }
}

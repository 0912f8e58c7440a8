//! `rnats stream get` and `rnats stream view`: stored messages read with
//! `$JS.API.STREAM.MSG.GET.<stream>`, which every stream answers (direct gets need
//! `allow_direct`, and there are no consumers yet).
//!
//! `get` asks for one sequence (`{"seq":N}`) or the last message on a subject
//! (`{"last_by_subj":S}`); `view` walks the stream with `{"seq":N,"next_by_subj":">"}` (the
//! first message at or after `N`), so deleted sequences are skipped, until the stream has no
//! more ("no message found") or `--count` were printed.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::{Value, json};

use super::{Api, Common, check_name};
use crate::client::message::output_error;
use crate::keys::Result;

/// nats-server's `err_code` for "no message found".
const NO_MESSAGE_FOUND: u64 = 10037;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The stream.
    pub name: String,

    /// The message's sequence.
    #[arg(required_unless_present = "last_for", conflicts_with = "last_for",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub seq: Option<u64>,

    /// The last message on this subject instead.
    #[arg(long, value_name = "SUBJECT")]
    pub last_for: Option<String>,

    /// Print the server's JSON (payload and headers base64-encoded).
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// The stream.
    pub name: String,

    /// Start at this sequence (default: the first message).
    #[arg(long, value_name = "SEQ", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub since: u64,

    /// Print at most this many messages (default: up to the last one).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Only the messages on this subject (wildcards allowed).
    #[arg(long, value_name = "SUBJECT", default_value = ">")]
    pub subject: String,

    #[command(flatten)]
    pub common: Common,
}

/// A stored message, decoded.
#[derive(Debug, PartialEq, Eq)]
pub struct Stored {
    pub subject: String,
    pub seq: u64,
    pub time: String,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

impl Stored {
    /// From the `message` of a `STREAM.MSG.GET` answer.
    pub fn from_json(message: &Value) -> Result<Stored> {
        let text = |key: &str| message.get(key).and_then(Value::as_str).unwrap_or("");
        let decode = |key: &str| {
            STANDARD
                .decode(text(key))
                .map_err(|e| format!("the server sent a message whose {key:?} is not base64: {e}"))
        };
        let headers = decode("hdrs")?;
        Ok(Stored {
            subject: text("subject").to_string(),
            seq: message.get("seq").and_then(Value::as_u64).unwrap_or(0),
            time: text("time").to_string(),
            headers: parse_headers(&headers),
            payload: decode("data")?,
        })
    }
}

/// The `Key: value` lines of a `NATS/1.0` header block (the status line left out).
pub fn parse_headers(block: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(block);
    text.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// `2026-12-03 14:56:18.123456789 UTC`, or the text as given.
fn show_time(text: &str) -> String {
    DateTime::parse_from_rfc3339(text).map_or_else(
        |_| text.to_string(),
        |t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%S%.f UTC")
                .to_string()
        },
    )
}

/// What `get` prints: where the message is, when it came, its headers and payload.
pub fn write_get(out: &mut impl Write, stream: &str, m: &Stored) -> std::io::Result<()> {
    writeln!(
        out,
        "Item: {stream}#{} received {} on Subject {}\n",
        m.seq,
        show_time(&m.time),
        m.subject
    )?;
    if !m.headers.is_empty() {
        writeln!(out, "Headers:\n")?;
        for (k, v) in &m.headers {
            writeln!(out, "  {k}: {v}")?;
        }
        writeln!(out)?;
    }
    out.write_all(&m.payload)?;
    writeln!(out)
}

/// What `view` prints of each message.
pub fn write_view(out: &mut impl Write, m: &Stored) -> std::io::Result<()> {
    writeln!(
        out,
        "[{}] Subject: {} Received: {}",
        m.seq,
        m.subject,
        show_time(&m.time)
    )?;
    for (k, v) in &m.headers {
        writeln!(out, "  {k}: {v}")?;
    }
    writeln!(out)?;
    out.write_all(&m.payload)?;
    writeln!(out, "\n")
}

pub fn run_get(args: &GetArgs) -> Result<()> {
    check_name(&args.name)?;
    let body = match (&args.last_for, args.seq) {
        (Some(subject), _) => json!({ "last_by_subj": subject }),
        (None, Some(seq)) => json!({ "seq": seq }),
        (None, None) => return Err("give a sequence or --last-for SUBJECT".into()),
    };
    crate::client::block_on(async {
        let api = Api::connect(&args.common, "stream get").await?;
        let answer = api
            .request(&format!("STREAM.MSG.GET.{}", args.name), &body)
            .await?;
        let message = answer.get("message").cloned().unwrap_or(Value::Null);
        if args.json {
            return super::show::print_json(&message);
        }
        let stored = Stored::from_json(&message)?;
        let mut out = std::io::stdout().lock();
        match write_get(&mut out, &args.name, &stored).and_then(|()| out.flush()) {
            Err(e) => output_error(e).map_or(Ok(()), Err),
            Ok(()) => Ok(()),
        }
    })
}

pub fn run_view(args: &ViewArgs) -> Result<()> {
    check_name(&args.name)?;
    crate::client::block_on(async {
        let api = Api::connect(&args.common, "stream view").await?;
        let subject = format!("STREAM.MSG.GET.{}", args.name);
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut next = args.since;
        let mut shown = 0u64;
        while args.count.is_none_or(|count| shown < count) {
            let body = json!({ "seq": next, "next_by_subj": args.subject });
            let answer = match api.try_request(&subject, &body).await? {
                Ok(answer) => answer,
                Err(error) if super::err_code(&error) == Some(NO_MESSAGE_FOUND) => break,
                Err(error) => return Err(super::api_error(&error)),
            };
            let stored = Stored::from_json(answer.get("message").unwrap_or(&Value::Null))?;
            if stored.seq < next {
                return Err(format!(
                    "the server answered sequence {} when asked for {next} or later",
                    stored.seq
                ));
            }
            next = stored.seq + 1;
            shown += 1;
            if let Err(e) = write_view(&mut out, &stored) {
                return output_error(e).map_or(Ok(()), Err);
            }
        }
        if shown == 0 {
            eprintln!(
                "No messages in stream {} from sequence {}",
                args.name, args.since
            );
        }
        match out.flush() {
            Err(e) => output_error(e).map_or(Ok(()), Err),
            Ok(()) => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_decode_and_print() {
        let message = json!({
            "subject": "orders.1", "seq": 7, "time": "2026-12-03T14:00:00.5Z",
            "hdrs": STANDARD.encode("NATS/1.0\r\nA: 1\r\nNats-Msg-Id: x\r\n\r\n"),
            "data": STANDARD.encode("hello"),
        });
        let m = Stored::from_json(&message).unwrap();
        assert_eq!(m.seq, 7);
        assert_eq!(
            m.headers,
            vec![("A".into(), "1".into()), ("Nats-Msg-Id".into(), "x".into())]
        );
        let mut out = Vec::new();
        write_get(&mut out, "ORDERS", &m).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Item: ORDERS#7 received 2026-12-03 14:00:00.500 UTC on Subject orders.1\n\n\
             Headers:\n\n  A: 1\n  Nats-Msg-Id: x\n\nhello\n"
        );
        let mut out = Vec::new();
        write_view(&mut out, &m).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[7] Subject: orders.1 Received: 2026-12-03 14:00:00.500 UTC\n  A: 1\n  \
             Nats-Msg-Id: x\n\nhello\n\n"
        );
    }

    #[test]
    fn no_headers_and_no_data_are_empty() {
        let m = Stored::from_json(&json!({"subject": "s", "seq": 1, "time": "x"})).unwrap();
        assert!(m.headers.is_empty() && m.payload.is_empty());
        assert!(Stored::from_json(&json!({"data": "%%%"})).is_err());
    }
}

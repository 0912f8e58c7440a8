//! `rnats stream info` and `rnats stream ls`: a stream's configuration and state in the `nats`
//! CLI's `Label: value` sections, the streams in a table, or the server's JSON as it came.
//!
//! The JSON is read leniently (a missing field shows as its default), so a server that adds
//! fields, or leaves some out, still prints.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use clap::Args;
use serde_json::{Value, json};

use super::{Api, Common, check_name, emit};
use crate::keys::Result;
use crate::server::format::{Columns, Table, comma, go_duration, human_duration, ibytes};

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The stream.
    pub name: String,

    /// Print the server's JSON answer instead.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print only the names, one a line, sorted.
    #[arg(short = 'n', long)]
    pub names: bool,

    /// Print the server's JSON (the stream infos, or the names) as one array.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub common: Common,
}

pub fn run_info(args: &InfoArgs) -> Result<()> {
    check_name(&args.name)?;
    crate::client::block_on(async {
        let api = Api::connect(&args.common, "stream info").await?;
        let info = api
            .request(&format!("STREAM.INFO.{}", args.name), &json!({}))
            .await?;
        if args.json {
            print_json(&info)
        } else {
            emit(&info_text(&info))
        }
    })
}

pub fn run_ls(args: &LsArgs) -> Result<()> {
    crate::client::block_on(async {
        let api = Api::connect(&args.common, "stream ls").await?;
        let (subject, key) = if args.names {
            ("STREAM.NAMES", "streams")
        } else {
            ("STREAM.LIST", "streams")
        };
        let items = paged(&api, subject, key).await?;
        if args.json {
            return print_json(&Value::Array(items));
        }
        if args.names {
            let mut names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            names.sort_unstable();
            let lines: String = names.iter().map(|n| format!("{n}\n")).collect();
            return emit(&lines);
        }
        if items.is_empty() {
            return emit("No Streams defined\n");
        }
        emit(&list_table(items, Utc::now()))
    })
}

/// Every item of a paged list answer (`total`, `offset`, `limit`, and the items under `key`).
async fn paged(api: &Api, subject: &str, key: &str) -> Result<Vec<Value>> {
    let mut items = Vec::new();
    loop {
        let answer = api
            .request(subject, &json!({ "offset": items.len() }))
            .await?;
        let page = match answer.get(key) {
            Some(Value::Array(page)) => page.clone(),
            // nats-server writes `null` for an empty list.
            Some(Value::Null) | None => Vec::new(),
            Some(other) => return Err(format!("unexpected {key} in the answer: {other}")),
        };
        let total = answer.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
        let got = page.len();
        items.extend(page);
        if got == 0 || items.len() >= total {
            return Ok(items);
        }
    }
}

/// The answer without its `type` (what the `nats` CLI's `--json` shows), pretty-printed.
pub fn print_json(answer: &Value) -> Result<()> {
    let mut answer = answer.clone();
    if let Some(object) = answer.as_object_mut() {
        object.remove("type");
    }
    let text = serde_json::to_string_pretty(&answer).map_err(|e| e.to_string())?;
    emit(&format!("{text}\n"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn i64_of(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn bool_of(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A word the way the CLI capitalizes it: `file` → `File`, `workqueue` → `WorkQueue`.
fn title(word: &str) -> String {
    match word {
        "workqueue" => "WorkQueue".into(),
        "" => "-".into(),
        _ => {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// A limit: `unlimited` for -1 (or 0, where the server takes that to mean none).
fn limit(n: i64, show: impl Fn(i64) -> String) -> String {
    if n <= 0 { "unlimited".into() } else { show(n) }
}

fn nanos(n: i64) -> Duration {
    Duration::from_nanos(n.max(0) as u64)
}

/// An RFC 3339 time, or `None` for Go's zero time or something else.
fn time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .filter(|t| t.timestamp() > 0)
}

/// `2026-12-03 14:56:18 UTC`, or the text as given when it is not a time.
fn show_time(text: &str) -> String {
    match time(text) {
        Some(t) => t
            .with_timezone(&Utc)
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        None => text.to_string(),
    }
}

/// What `nats stream info` prints of a `STREAM.INFO` (or `CREATE`) answer.
pub fn info_text(info: &Value) -> String {
    let empty = json!({});
    let config = info.get("config").unwrap_or(&empty);
    let state = info.get("state").unwrap_or(&empty);
    let name = str_of(config, "name");
    let mut c = Columns::new(format!(
        "Information for Stream {name} created {}",
        show_time(str_of(info, "created"))
    ));
    let description = str_of(config, "description");
    if !description.is_empty() {
        c.row("Description", description);
    }
    let subjects: Vec<String> = config
        .get("subjects")
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    c.rows("Subjects", &subjects);
    c.row("Replicas", i64_of(config, "num_replicas").max(1));
    c.row("Storage", title(str_of(config, "storage")));

    c.section("Options");
    c.row("Retention", title(str_of(config, "retention")));
    c.row("Acknowledgments", !bool_of(config, "no_ack"));
    c.row("Discard Policy", title(str_of(config, "discard")));
    c.row(
        "Duplicate Window",
        go_duration(nanos(i64_of(config, "duplicate_window"))),
    );
    c.row("Direct Get", bool_of(config, "allow_direct"));
    c.row("Allows Msg Delete", !bool_of(config, "deny_delete"));
    c.row("Allows Purge", !bool_of(config, "deny_purge"));
    c.row("Allows Rollups", bool_of(config, "allow_rollup_hdrs"));
    if bool_of(config, "sealed") {
        c.row("Sealed", true);
    }

    c.section("Limits");
    c.row("Maximum Messages", limit(i64_of(config, "max_msgs"), comma));
    c.row(
        "Maximum Per Subject",
        limit(i64_of(config, "max_msgs_per_subject"), comma),
    );
    c.row("Maximum Bytes", limit(i64_of(config, "max_bytes"), ibytes));
    c.row(
        "Maximum Age",
        limit(i64_of(config, "max_age"), |n| human_duration(nanos(n))),
    );
    c.row(
        "Maximum Message Size",
        limit(i64_of(config, "max_msg_size"), ibytes),
    );
    c.row(
        "Maximum Consumers",
        limit(i64_of(config, "max_consumers"), comma),
    );

    c.section("State");
    c.row("Messages", comma(i64_of(state, "messages")));
    c.row("Bytes", ibytes(i64_of(state, "bytes")));
    let at = |ts: &str| match time(ts) {
        Some(_) => format!(" @ {}", show_time(ts)),
        None => String::new(),
    };
    c.row(
        "First Sequence",
        format!(
            "{}{}",
            comma(i64_of(state, "first_seq")),
            at(str_of(state, "first_ts"))
        ),
    );
    c.row(
        "Last Sequence",
        format!(
            "{}{}",
            comma(i64_of(state, "last_seq")),
            at(str_of(state, "last_ts"))
        ),
    );
    let deleted = i64_of(state, "num_deleted");
    if deleted > 0 {
        c.row("Deleted Messages", comma(deleted));
    }
    c.row("Active Consumers", comma(i64_of(state, "consumer_count")));
    c.row("Number of Subjects", comma(i64_of(state, "num_subjects")));
    c.render()
}

/// The table of `nats stream ls`.
fn list_table(mut infos: Vec<Value>, now: DateTime<Utc>) -> String {
    infos.sort_by(|a, b| {
        let name = |v: &Value| str_of(v.get("config").unwrap_or(&Value::Null), "name").to_string();
        name(a).cmp(&name(b))
    });
    let mut table = Table::new(
        "Streams",
        &[
            "Name",
            "Description",
            "Created",
            "Messages",
            "Size",
            "Last Message",
        ],
    );
    let null = Value::Null;
    for info in &infos {
        let config = info.get("config").unwrap_or(&null);
        let state = info.get("state").unwrap_or(&null);
        let last = match time(str_of(state, "last_ts")) {
            Some(t) if i64_of(state, "messages") > 0 => {
                let ago = now.signed_duration_since(t.with_timezone(&Utc));
                human_duration(ago.to_std().unwrap_or_default())
            }
            _ => "never".into(),
        };
        table.row(vec![
            str_of(config, "name").to_string(),
            str_of(config, "description").to_string(),
            show_time(str_of(info, "created")),
            comma(i64_of(state, "messages")),
            ibytes(i64_of(state, "bytes")),
            last,
        ]);
    }
    let mut out = table.render();
    let _ = writeln!(out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        json!({
            "type": "io.nats.jetstream.api.v1.stream_info_response",
            "created": "2026-12-03T14:00:00.123456789Z",
            "config": {
                "name": "ORDERS", "subjects": ["orders.>", "returns.*"], "storage": "file",
                "retention": "workqueue", "discard": "old", "num_replicas": 1,
                "duplicate_window": 120_000_000_000u64, "max_msgs": -1, "max_bytes": 1048576,
                "max_age": 3_600_000_000_000u64, "max_msg_size": -1, "max_msgs_per_subject": 10,
                "max_consumers": -1, "allow_direct": true, "description": "all orders"
            },
            "state": {
                "messages": 1234, "bytes": 5000, "first_seq": 2,
                "first_ts": "2026-12-03T14:00:01Z", "last_seq": 1236,
                "last_ts": "2026-12-03T14:00:02Z", "num_deleted": 1, "num_subjects": 3,
                "consumer_count": 0
            }
        })
    }

    #[test]
    fn info_reads_like_the_cli() {
        let text = info_text(&sample());
        for line in [
            "Information for Stream ORDERS created 2026-12-03 14:00:00 UTC",
            "         Description: all orders",
            "            Subjects: orders.>",
            "                      returns.*",
            "           Retention: WorkQueue",
            "    Duplicate Window: 2m0s",
            "          Direct Get: true",
            "    Maximum Messages: unlimited",
            " Maximum Per Subject: 10",
            "       Maximum Bytes: 1.0 MiB",
            "         Maximum Age: 1h0m0s",
            "            Messages: 1,234",
            "      First Sequence: 2 @ 2026-12-03 14:00:01 UTC",
            "       Last Sequence: 1,236 @ 2026-12-03 14:00:02 UTC",
            "    Deleted Messages: 1",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
    }

    #[test]
    fn an_empty_answer_still_prints() {
        let text = info_text(&json!({}));
        assert!(text.contains("Messages: 0"), "{text}");
    }

    #[test]
    fn list_rows() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T14:00:12Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = list_table(vec![sample()], now);
        assert!(text.contains("│ ORDERS │ all orders"), "{text}");
        assert!(text.contains("1,234"), "{text}");
        assert!(text.contains("10.00s"), "{text}");
    }
}

//! `rnats stream add`: a stream configuration from flags or from a StreamConfig JSON file, sent
//! as `$JS.API.STREAM.CREATE.<name>`.
//!
//! Only what a flag sets is sent besides the name, storage, retention, discard policy and
//! replicas, so the server fills in the rest with its own defaults (subjects: the name;
//! duplicate window: 2 minutes; no limits), as nats-server does for any client.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

use super::{Api, Common, check_name, show};
use crate::keys::Result;

/// The flags that describe a stream, which `--config` replaces.
const CONFIG_FLAGS: [&str; 15] = [
    "subjects",
    "storage",
    "retention",
    "max_msgs",
    "max_bytes",
    "max_age",
    "max_msg_size",
    "max_msgs_per_subject",
    "discard",
    "dupe_window",
    "allow_rollup",
    "deny_delete",
    "deny_purge",
    "allow_direct",
    "description",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Storage {
    File,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Retention {
    Limits,
    Interest,
    #[value(alias = "work")]
    Workqueue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Discard {
    Old,
    New,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The stream's name (with --config: instead of the file's).
    #[arg(required_unless_present = "config")]
    pub name: Option<String>,

    /// A StreamConfig JSON file (as `rnats stream info --json` shows under "config", or
    /// nats-server's API takes), instead of the flags.
    #[arg(long, value_name = "FILE", conflicts_with_all = CONFIG_FLAGS)]
    pub config: Option<PathBuf>,

    /// The subjects the stream stores, comma separated (wildcards allowed; default: the name).
    #[arg(long, value_name = "SUBJECTS", value_delimiter = ',')]
    pub subjects: Vec<String>,

    /// Where messages are kept.
    #[arg(long, value_enum, default_value = "file")]
    pub storage: Storage,

    /// When messages are removed: past the limits, once every consumer had them (interest),
    /// or once one consumer acknowledged them (workqueue).
    #[arg(long, value_enum, default_value = "limits")]
    pub retention: Retention,

    /// At most this many messages (-1: no limit; k/M/G suffixes).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_count_limit)]
    pub max_msgs: Option<i64>,

    /// At most this many bytes (-1: no limit; K/M/G suffixes, powers of 1024).
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true, value_parser = parse_size_limit)]
    pub max_bytes: Option<i64>,

    /// Remove messages older than this (e.g. 1h, 30m, 7d, 1y; 0: keep for ever).
    #[arg(long, value_name = "DURATION", value_parser = parse_age)]
    pub max_age: Option<Duration>,

    /// Refuse messages larger than this (-1: no limit; K/M suffixes).
    #[arg(long, value_name = "BYTES", allow_negative_numbers = true, value_parser = parse_size_limit)]
    pub max_msg_size: Option<i64>,

    /// At most this many messages on each subject (-1: no limit).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_count_limit)]
    pub max_msgs_per_subject: Option<i64>,

    /// At a limit: remove the oldest messages (old) or refuse new ones (new).
    #[arg(long, value_enum, default_value = "old")]
    pub discard: Discard,

    /// How long a Nats-Msg-Id is remembered to drop duplicates (default: the server's, 2m).
    #[arg(long, value_name = "DURATION", value_parser = parse_age)]
    pub dupe_window: Option<Duration>,

    /// Allow a Nats-Rollup header to replace a subject's or the stream's messages.
    #[arg(long)]
    pub allow_rollup: bool,

    /// Refuse deleting single messages.
    #[arg(long)]
    pub deny_delete: bool,

    /// Refuse purging the stream.
    #[arg(long)]
    pub deny_purge: bool,

    /// Allow direct gets ($JS.API.DIRECT.GET).
    #[arg(long)]
    pub allow_direct: bool,

    /// A description of the stream.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// Print the new stream's information as the server's JSON.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: &AddArgs) -> Result<()> {
    let (name, config) = match &args.config {
        Some(path) => from_file(path, args.name.as_deref())?,
        None => {
            let name = args.name.clone().unwrap_or_default();
            let config = from_flags(&name, args);
            (name, config)
        }
    };
    check_name(&name)?;
    crate::client::block_on(async {
        let api = Api::connect(&args.common, "stream add").await?;
        let info = api
            .request(&format!("STREAM.CREATE.{name}"), &config)
            .await
            .map_err(|e| format!("could not create stream {name}: {e}"))?;
        if args.json {
            show::print_json(&info)
        } else {
            super::emit(&format!(
                "Stream {name} was created\n\n{}",
                show::info_text(&info)
            ))
        }
    })
}

/// The configuration the flags describe.
fn from_flags(name: &str, args: &AddArgs) -> Value {
    let mut config = Map::new();
    config.insert("name".into(), json!(name));
    if !args.subjects.is_empty() {
        let subjects: Vec<&str> = args
            .subjects
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        config.insert("subjects".into(), json!(subjects));
    }
    let storage = match args.storage {
        Storage::File => "file",
        Storage::Memory => "memory",
    };
    let retention = match args.retention {
        Retention::Limits => "limits",
        Retention::Interest => "interest",
        Retention::Workqueue => "workqueue",
    };
    let discard = match args.discard {
        Discard::Old => "old",
        Discard::New => "new",
    };
    config.insert("storage".into(), json!(storage));
    config.insert("retention".into(), json!(retention));
    config.insert("discard".into(), json!(discard));
    config.insert("num_replicas".into(), json!(1));
    let limits = [
        ("max_msgs", args.max_msgs),
        ("max_bytes", args.max_bytes),
        ("max_msg_size", args.max_msg_size),
        ("max_msgs_per_subject", args.max_msgs_per_subject),
    ];
    for (key, value) in limits {
        config.insert(key.into(), json!(value.unwrap_or(-1)));
    }
    config.insert("max_consumers".into(), json!(-1));
    config.insert(
        "max_age".into(),
        json!(nanos(args.max_age.unwrap_or_default())),
    );
    if let Some(window) = args.dupe_window {
        config.insert("duplicate_window".into(), json!(nanos(window)));
    }
    for (key, on) in [
        ("allow_rollup_hdrs", args.allow_rollup),
        ("deny_delete", args.deny_delete),
        ("deny_purge", args.deny_purge),
        ("allow_direct", args.allow_direct),
    ] {
        if on {
            config.insert(key.into(), json!(true));
        }
    }
    if let Some(description) = &args.description {
        config.insert("description".into(), json!(description));
    }
    Value::Object(config)
}

/// A configuration file's JSON object and the stream's name: `name` if given (it is written
/// into the configuration), else the file's.
fn from_file(path: &std::path::Path, name: Option<&str>) -> Result<(String, Value)> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut config: Value = serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
    let Some(object) = config.as_object_mut() else {
        return Err(format!(
            "{} must hold a JSON object (a stream configuration)",
            path.display()
        ));
    };
    let name = match name {
        Some(name) => name.to_string(),
        None => match object.get("name").and_then(Value::as_str) {
            Some(name) => name.to_string(),
            None => {
                return Err(format!(
                    "{} has no \"name\": give the stream's name as an argument",
                    path.display()
                ));
            }
        },
    };
    object.insert("name".into(), json!(name));
    Ok((name, config))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `-1` or `unlimited`, else what `parse` reads (which must fit an `i64`).
fn limit(
    s: &str,
    parse: impl Fn(&str) -> std::result::Result<u64, String>,
) -> std::result::Result<i64, String> {
    let t = s.trim();
    if t == "-1" || t.eq_ignore_ascii_case("unlimited") {
        return Ok(-1);
    }
    let n = parse(t)?;
    i64::try_from(n).map_err(|_| format!("{s:?} is too large"))
}

fn parse_count_limit(s: &str) -> std::result::Result<i64, String> {
    limit(s, crate::bench::parse_count)
}

fn parse_size_limit(s: &str) -> std::result::Result<i64, String> {
    limit(s, |t| crate::bench::parse_size(t).map(|n| n as u64))
}

/// A Go duration (`1h30m`, `500ms`), or a whole number of `d`ays, `w`eeks or `y`ears; `0`.
pub fn parse_age(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    if let Ok(d) = rnats_conf::parse_duration(t) {
        return Ok(d);
    }
    match crate::keys::parse_duration(t) {
        Ok(secs) if secs >= 0 => Ok(Duration::from_secs(secs as u64)),
        _ => Err(format!(
            "invalid duration {s:?} (e.g. 500ms, 90s, 15m, 12h, 7d, 2w, 1y)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        add: AddArgs,
    }

    fn parse(args: &[&str]) -> AddArgs {
        Cli::try_parse_from([&["add"][..], args].concat())
            .unwrap()
            .add
    }

    #[test]
    fn defaults_leave_the_rest_to_the_server() {
        let args = parse(&["ORDERS"]);
        let config = from_flags("ORDERS", &args);
        assert_eq!(
            config,
            json!({
                "name": "ORDERS", "storage": "file", "retention": "limits", "discard": "old",
                "num_replicas": 1, "max_msgs": -1, "max_bytes": -1, "max_msg_size": -1,
                "max_msgs_per_subject": -1, "max_consumers": -1, "max_age": 0,
            })
        );
    }

    #[test]
    fn every_flag_lands_in_the_config() {
        let args = parse(&[
            "S",
            "--subjects",
            "a.*,b.>",
            "--storage",
            "memory",
            "--retention",
            "workqueue",
            "--max-msgs",
            "10k",
            "--max-bytes",
            "1MiB",
            "--max-age",
            "1h",
            "--max-msg-size",
            "-1",
            "--max-msgs-per-subject",
            "5",
            "--discard",
            "new",
            "--dupe-window",
            "30s",
            "--allow-rollup",
            "--deny-delete",
            "--deny-purge",
            "--allow-direct",
            "--description",
            "a stream",
        ]);
        let c = from_flags("S", &args);
        assert_eq!(c["subjects"], json!(["a.*", "b.>"]));
        assert_eq!(c["storage"], "memory");
        assert_eq!(c["retention"], "workqueue");
        assert_eq!(c["max_msgs"], 10_000);
        assert_eq!(c["max_bytes"], 1 << 20);
        assert_eq!(c["max_age"], 3_600_000_000_000u64);
        assert_eq!(c["max_msg_size"], -1);
        assert_eq!(c["max_msgs_per_subject"], 5);
        assert_eq!(c["discard"], "new");
        assert_eq!(c["duplicate_window"], 30_000_000_000u64);
        for key in [
            "allow_rollup_hdrs",
            "deny_delete",
            "deny_purge",
            "allow_direct",
        ] {
            assert_eq!(c[key], true, "{key}");
        }
        assert_eq!(c["description"], "a stream");
    }

    #[test]
    fn config_file_excludes_the_flags() {
        assert!(Cli::try_parse_from(["add", "--config", "f.json", "--storage", "memory"]).is_err());
        assert!(Cli::try_parse_from(["add"]).is_err());
        let args = parse(&["--config", "f.json"]);
        assert!(args.name.is_none());
    }

    #[test]
    fn config_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, r#"{"name":"A","subjects":["x"],"future_field":1}"#).unwrap();
        let (name, config) = from_file(&path, None).unwrap();
        assert_eq!(name, "A");
        assert_eq!(config["future_field"], 1);
        let (name, config) = from_file(&path, Some("B")).unwrap();
        assert_eq!((name.as_str(), &config["name"]), ("B", &json!("B")));
        std::fs::write(&path, "[1]").unwrap();
        assert!(from_file(&path, None).is_err());
        std::fs::write(&path, "{").unwrap();
        assert!(from_file(&path, None).is_err());
        std::fs::write(&path, "{}").unwrap();
        assert!(from_file(&path, None).unwrap_err().contains("no \"name\""));
    }

    #[test]
    fn limits_and_ages() {
        assert_eq!(parse_count_limit("unlimited"), Ok(-1));
        assert_eq!(parse_count_limit("2M"), Ok(2_000_000));
        assert!(parse_count_limit("-2").is_err());
        assert_eq!(parse_size_limit("1K"), Ok(1024));
        assert_eq!(parse_age("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("0"), Ok(Duration::ZERO));
        assert!(parse_age("soon").is_err());
    }
}

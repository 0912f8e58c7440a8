//! Reading durations with `Value::as_duration`, as the server does for `ping_interval`,
//! `write_deadline`, `authorization { timeout }`…

use std::time::Duration;

use rnats_conf::{Map, ParseOptions, Value, Warning};

fn parse(text: &str) -> Map {
    match ParseOptions::new()
        .without_environment()
        .parse_str(text, "nats.conf")
    {
        Ok(value) => value.into_map().expect("the root is a map"),
        Err(error) => panic!("{error}"),
    }
}

fn duration_of(text: &str) -> Result<(Duration, Option<Warning>), String> {
    let config = parse(&format!("d: {text}\n"));
    let value: &Value = config.get("d").expect("d");
    value.as_duration().map_err(|error| error.to_string())
}

#[test]
fn go_style_strings_are_durations() {
    let cases = [
        ("\"2s\"", Duration::from_secs(2)),
        ("\"1m30s\"", Duration::from_secs(90)),
        ("\"100ms\"", Duration::from_millis(100)),
        ("\"1.5h\"", Duration::from_secs(90 * 60)),
        ("\"500us\"", Duration::from_micros(500)),
        ("'2m'", Duration::from_secs(120)),
        // Unquoted words that are not numbers are strings too.
        ("1m30s", Duration::from_secs(90)),
        ("100ms", Duration::from_millis(100)),
        ("2h", Duration::from_secs(7200)),
    ];
    for (text, expected) in cases {
        assert_eq!(duration_of(text), Ok((expected, None)), "{text}");
    }
}

#[test]
fn a_bare_number_means_seconds_with_a_warning() {
    let (duration, warning) = duration_of("2").expect("a duration");
    assert_eq!(duration, Duration::from_secs(2));
    assert_eq!(
        warning.map(|w| w.to_string()).as_deref(),
        Some(
            "nats.conf:1:4: a bare number as a duration is deprecated; 2 is read as seconds, write it as a string such as \"2s\""
        )
    );
    let (duration, warning) = duration_of("0.5").expect("a duration");
    assert_eq!(duration, Duration::from_millis(500));
    assert!(warning.is_some());
}

#[test]
fn an_unquoted_1m_is_a_million_seconds_and_the_warning_says_so() {
    let (duration, warning) = duration_of("1m").expect("a duration");
    assert_eq!(duration, Duration::from_secs(1_000_000));
    assert_eq!(
        warning.map(|w| w.message).as_deref(),
        Some(
            "unquoted 1m is the number 1000000 ('m' is a size suffix), so it is read as 1000000 seconds; \
             write \"1m\" in quotes for a duration"
        )
    );
}

#[test]
fn bad_durations_are_located_errors() {
    assert_eq!(
        duration_of("\"abc\""),
        Err("nats.conf:1:4: invalid duration \"abc\": expected a number at \"abc\"".to_owned())
    );
    assert_eq!(
        duration_of("\"10\""),
        Err(
            "nats.conf:1:4: invalid duration \"10\": a unit is missing (ns, us, ms, s, m or h)"
                .to_owned()
        )
    );
    assert_eq!(
        duration_of("-1"),
        Err("nats.conf:1:4: invalid duration -1: durations cannot be negative".to_owned())
    );
    assert_eq!(
        duration_of("\"-5s\""),
        Err("nats.conf:1:4: invalid duration \"-5s\": durations cannot be negative".to_owned())
    );
    assert_eq!(
        duration_of("true"),
        Err("nats.conf:1:4: expected a duration (a string such as \"2s\" or a number of seconds), found a boolean".to_owned())
    );
}

#[test]
fn the_parser_is_available_for_command_line_flags() {
    assert_eq!(
        rnats_conf::parse_duration("2m"),
        Ok(Duration::from_secs(120))
    );
    assert!(rnats_conf::parse_duration("2 minutes").is_err());
}

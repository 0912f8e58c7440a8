//! Times as JetStream's JSON writes them: Go's `time.Time` marshalled
//! (RFC 3339, nanoseconds with trailing zeros trimmed, UTC as `Z`), and
//! its zero value for "never".

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Now, in nanoseconds since the Unix epoch.
pub fn now_nanos() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Go's `time.Time{}` as JSON.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `nanos` since the epoch as Go marshals a `time.Time` in UTC; 0 is the
/// zero time.
pub fn go_time(nanos: i64) -> String {
    if nanos == 0 {
        return ZERO_TIME.to_string();
    }
    let t = DateTime::<Utc>::from_timestamp_nanos(nanos);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let frac = t.nanosecond() % 1_000_000_000;
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The inverse of [`go_time`] (any RFC 3339 time), in nanoseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if s == ZERO_TIME {
        return Some(0);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()?
        .with_timezone(&Utc)
        .timestamp_nanos_opt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go() {
        assert_eq!(go_time(0), ZERO_TIME);
        assert_eq!(
            go_time(1_764_772_904_650_779_330),
            "2025-12-03T14:41:44.65077933Z"
        );
        assert_eq!(go_time(1_764_772_904_000_000_000), "2025-12-03T14:41:44Z");
        assert_eq!(
            parse_time("2025-12-03T14:41:44.65077933Z"),
            Some(1_764_772_904_650_779_330)
        );
    }
}

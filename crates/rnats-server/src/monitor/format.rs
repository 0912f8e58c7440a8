//! Values as nats-server's JSON writes them: times as Go's RFC 3339 with
//! nanoseconds (trailing zeros trimmed, UTC `Z`), uptimes as its
//! `1d2h3m4s`, round trips as Go's `time.Duration` strings, and the
//! process's memory and CPU as `/varz` reports them.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};

/// A time as Go's `time.Time` marshals to JSON, in UTC:
/// `2026-12-03T11:40:58.9487132Z`.
pub fn time(t: SystemTime) -> String {
    let text = DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Nanos, true);
    // Go's RFC3339Nano drops trailing zeros of the fraction, and the dot
    // when nothing is left.
    match text.strip_suffix('Z').and_then(|t| t.split_once('.')) {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            match fraction.is_empty() {
                true => format!("{whole}Z"),
                false => format!("{whole}.{fraction}Z"),
            }
        }
        None => text,
    }
}

/// nats-server's uptime format: whole seconds, with minutes, hours, days
/// and years only when there are some (`45s`, `3m2s`, `1d0h0m5s`).
pub fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hours, days) = (secs / 60, secs / 3600, secs / 86_400);
    let years = days / 365;
    if years > 0 {
        format!(
            "{}y{}d{}h{}m{}s",
            years,
            days % 365,
            hours % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{}d{}h{}m{}s", days, hours % 24, mins % 60, secs % 60)
    } else if hours > 0 {
        format!("{}h{}m{}s", hours, mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{}m{}s", mins, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// How long from `from` to `to` (zero if `to` is earlier).
pub fn between(from: SystemTime, to: SystemTime) -> Duration {
    to.duration_since(from).unwrap_or_default()
}

/// A Go `time.Duration` string (`610µs`, `1.5s`).
pub fn go_duration(d: Duration) -> String {
    rnats_conf::format_duration(d)
}

/// Writes a float as Go's `encoding/json` does: a whole number without a
/// fraction (`2`, not `2.0`). For `#[serde(serialize_with = ...)]`.
pub fn go_float<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

/// A duration as Go marshals `time.Duration`: nanoseconds.
pub fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The process's resident memory in bytes (`VmRSS`; 0 where unknown).
pub fn resident_memory() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Clock ticks per second of `/proc/self/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// The CPU the process used since the previous call (since its start on
/// the first), in percent of one core, as `/varz` reports it.
pub fn cpu_percent() -> f64 {
    static LAST: Mutex<Option<(Instant, u64)>> = Mutex::new(None);
    let Some(ticks) = cpu_ticks() else {
        return 0.0;
    };
    let now = Instant::now();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let (since, used) = match *last {
        Some((then, before)) => (now.duration_since(then), ticks.saturating_sub(before)),
        None => (process_age().unwrap_or_default(), ticks),
    };
    *last = Some((now, ticks));
    if since.is_zero() {
        return 0.0;
    }
    let percent = used as f64 / TICKS_PER_SECOND / since.as_secs_f64() * 100.0;
    (percent * 100.0).round() / 100.0
}

/// User and system CPU ticks of this process.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line; 12 and 13
    // counted from the state field that follows ')'.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The process's total CPU time (user and system).
pub fn cpu_time() -> Duration {
    cpu_ticks().map_or(Duration::ZERO, |t| {
        Duration::from_secs_f64(t as f64 / TICKS_PER_SECOND)
    })
}

fn process_age() -> Option<Duration> {
    let meta = std::fs::metadata("/proc/self").ok()?;
    meta.modified().ok()?.elapsed().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_go_rfc3339_nano_in_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_796_297_458, 948_713_200);
        assert_eq!(time(t), "2026-12-03T11:30:58.9487132Z");
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_297_458);
        assert_eq!(time(whole), "2026-12-03T11:30:58Z");
    }

    #[test]
    fn uptimes_are_nats_server_s() {
        assert_eq!(uptime(Duration::from_millis(900)), "0s");
        assert_eq!(uptime(Duration::from_secs(62)), "1m2s");
        assert_eq!(uptime(Duration::from_secs(3600 * 25 + 5)), "1d1h0m5s");
        assert_eq!(uptime(Duration::from_secs(86_400 * 366)), "1y1d0h0m0s");
    }
}

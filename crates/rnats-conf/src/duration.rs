//! Durations: Go-style strings (`"2s"`, `"1m30s"`, `"1.5h"`, `"500us"`) and, with a warning,
//! bare numbers of seconds.

use std::time::Duration;

use crate::error::{Error, Warning};
use crate::scalar::size_multiplier;
use crate::value::{Value, ValueKind};

/// The longest duration Go can represent (and so the longest nats-server accepts): 2⁶³-1 ns.
const MAX_NANOS: u128 = i64::MAX as u128;

impl Value {
    /// Reads a duration: a string in Go syntax (`"2s"`, `"1m30s"`, `"100ms"`), or a number of
    /// seconds (`2`, `0.5`) together with a warning that bare numbers are deprecated.
    ///
    /// The warning is sharper for an unquoted `1m`: the language reads it as the size 1,000,000
    /// (`m` = million), so it means 1,000,000 seconds, not one minute.
    pub fn as_duration(&self) -> Result<(Duration, Option<Warning>), Error> {
        match &self.kind {
            ValueKind::String(text) => parse_duration(text)
                .map(|duration| (duration, None))
                .map_err(|reason| self.invalid_duration(format!("{text:?}"), reason)),
            ValueKind::Integer(seconds) => {
                let duration = u64::try_from(*seconds)
                    .ok()
                    .map(Duration::from_secs)
                    .filter(|d| d.as_nanos() <= MAX_NANOS)
                    .ok_or_else(|| {
                        self.invalid_duration(seconds.to_string(), out_of_range(*seconds))
                    })?;
                Ok((duration, Some(self.bare_seconds_warning(*seconds))))
            }
            ValueKind::Float(seconds) => {
                let duration = Duration::try_from_secs_f64(*seconds)
                    .ok()
                    .filter(|d| d.as_nanos() <= MAX_NANOS)
                    .ok_or_else(|| {
                        let reason = if *seconds < 0.0 {
                            "durations cannot be negative".to_owned()
                        } else {
                            "it is too large".to_owned()
                        };
                        self.invalid_duration(seconds.to_string(), reason)
                    })?;
                let warning = Warning {
                    pos: self.pos.clone(),
                    message: format!(
                        "a bare number as a duration is deprecated; {seconds} is read as seconds, \
                         write it as a string such as \"{seconds}s\""
                    ),
                };
                Ok((duration, Some(warning)))
            }
            _ => {
                Err(self.wrong_type("a duration (a string such as \"2s\" or a number of seconds)"))
            }
        }
    }

    fn bare_seconds_warning(&self, seconds: i64) -> Warning {
        let message = match self.size_suffix.as_deref() {
            Some(suffix) => {
                let written = size_multiplier(suffix).map_or(0, |m| seconds / m);
                format!(
                    "unquoted {written}{suffix} is the number {seconds} ('{suffix}' is a size suffix), \
                     so it is read as {seconds} seconds; write \"{written}{suffix}\" in quotes for a duration"
                )
            }
            None => format!(
                "a bare number as a duration is deprecated; {seconds} is read as seconds, \
                 write it as a string such as \"{seconds}s\""
            ),
        };
        Warning {
            pos: self.pos.clone(),
            message,
        }
    }

    fn invalid_duration(&self, text: String, reason: String) -> Error {
        Error::InvalidDuration {
            pos: self.pos.clone(),
            text,
            reason,
        }
    }
}

fn out_of_range(seconds: i64) -> String {
    if seconds < 0 {
        "durations cannot be negative".to_owned()
    } else {
        "it is too large".to_owned()
    }
}

/// Writes a duration as Go's `time.Duration.String()` does, the inverse of
/// [`parse_duration`]: `0s`, `500ms`, `1.5s`, `2m0s`, `1h0m0s`. Servers
/// print their settings this way in log lines users compare with
/// nats-server's.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        let (unit, size) = match nanos {
            n if n < 1_000 => ("ns", 1),
            n if n < 1_000_000 => ("\u{b5}s", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{}{unit}", fraction(nanos, size));
    }
    let (hours, rest) = (nanos / 3_600_000_000_000, nanos % 3_600_000_000_000);
    let (minutes, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let seconds = fraction(rest, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// `value / size` with its fraction, without trailing zeros.
fn fraction(value: u128, size: u128) -> String {
    let (whole, part) = (value / size, value % size);
    if part == 0 {
        return whole.to_string();
    }
    let width = size.ilog10() as usize;
    let digits = format!("{part:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Parses a Go duration string: an optional sign, then one or more `number unit` pairs, where the
/// number may have a fraction and the unit is `ns`, `us` (or `µs`), `ms`, `s`, `m` or `h`; `"0"`
/// alone is also accepted. Negative durations are refused. The error is the reason, for messages.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(unsigned) => (true, unsigned),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err("it is empty; write a number and a unit such as \"2s\"".to_owned());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after_whole) = rest.split_at(whole_len);
        let (fraction, after_number) = match after_whole.strip_prefix('.') {
            Some(after_dot) => {
                let len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
                after_dot.split_at(len)
            }
            None => ("", after_whole),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(format!("expected a number at {rest:?}"));
        }
        let unit_len = after_number
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        let unit_nanos = unit_nanos(unit).ok_or_else(|| {
            if unit.is_empty() {
                "a unit is missing (ns, us, ms, s, m or h)".to_owned()
            } else {
                format!("unknown unit {unit:?} (use ns, us, ms, s, m or h)")
            }
        })?;
        total = total
            .checked_add(component_nanos(whole, fraction, unit_nanos)?)
            .filter(|n| *n <= MAX_NANOS)
            .ok_or_else(|| "it is too large".to_owned())?;
        rest = after_unit;
    }
    if negative && total > 0 {
        return Err("durations cannot be negative".to_owned());
    }
    let seconds = u64::try_from(total / 1_000_000_000).map_err(|_| "it is too large".to_owned())?;
    let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| "it is too large".to_owned())?;
    Ok(Duration::new(seconds, nanos))
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        _ => return None,
    })
}

/// `whole.fraction` units in nanoseconds (fractions of a nanosecond are dropped, as in Go).
fn component_nanos(whole: &str, fraction: &str, unit_nanos: u128) -> Result<u128, String> {
    let too_large = || "it is too large".to_owned();
    let mut nanos: u128 = 0;
    for digit in whole.bytes() {
        nanos = nanos
            .checked_mul(10)
            .and_then(|n| n.checked_add(u128::from(digit - b'0')))
            .filter(|n| *n <= MAX_NANOS)
            .ok_or_else(too_large)?;
    }
    nanos = nanos.checked_mul(unit_nanos).ok_or_else(too_large)?;
    let mut scale = unit_nanos;
    for digit in fraction.bytes() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        nanos += u128::from(digit - b'0') * scale;
    }
    Ok(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_prints_them() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(3), "3ns"),
            (Duration::from_micros(2), "2\u{b5}s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_secs(3), "3s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(3723), "1h2m3s"),
        ];
        for (d, text) in cases {
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Ok(d), "{text} reads back");
        }
    }

    #[test]
    fn go_duration_strings() {
        let cases = [
            ("2s", Duration::from_secs(2)),
            ("1m30s", Duration::from_secs(90)),
            ("100ms", Duration::from_millis(100)),
            ("1.5h", Duration::from_secs(5400)),
            ("500us", Duration::from_micros(500)),
            ("500µs", Duration::from_micros(500)),
            ("10ns", Duration::from_nanos(10)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("2h45m", Duration::from_secs(2 * 3600 + 45 * 60)),
            ("0", Duration::ZERO),
            ("-0s", Duration::ZERO),
            ("+3s", Duration::from_secs(3)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn bad_duration_strings_say_why() {
        assert_eq!(
            parse_duration("5").err().as_deref(),
            Some("a unit is missing (ns, us, ms, s, m or h)")
        );
        assert_eq!(
            parse_duration("1x").err().as_deref(),
            Some("unknown unit \"x\" (use ns, us, ms, s, m or h)")
        );
        assert_eq!(
            parse_duration("-1s").err().as_deref(),
            Some("durations cannot be negative")
        );
        assert_eq!(
            parse_duration("").err().as_deref(),
            Some("it is empty; write a number and a unit such as \"2s\"")
        );
        assert_eq!(
            parse_duration("s").err().as_deref(),
            Some("expected a number at \"s\"")
        );
        assert_eq!(
            parse_duration("3000000h").err().as_deref(),
            Some("it is too large")
        );
        assert!(parse_duration("99999999999999999999999999999999999999999s").is_err());
        assert!(parse_duration("1.2.3").is_err());
    }
}

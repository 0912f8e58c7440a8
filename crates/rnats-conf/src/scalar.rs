//! What an unquoted word means: a boolean, an integer (optionally with a size suffix), a float,
//! or else a string (`127.0.0.1:4222`, `nats-route://h:6222`, `2016-05-04T18:53:41Z`, `1m30s`).

use crate::error::Error;
use crate::pos::Pos;
use crate::value::{Value, ValueKind};

/// Reads an unquoted word (not starting with `$`) as the value it denotes.
pub(crate) fn classify_word(word: &str, pos: Pos) -> Result<Value, Error> {
    if let Some(flag) = boolean(word) {
        return Ok(Value::new(ValueKind::Bool(flag), pos));
    }
    let unsigned = word.strip_prefix('-').unwrap_or(word);
    let digit_count = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    if digit_count == 0 {
        return Ok(string(word, pos));
    }
    let number_len = word.len() - unsigned.len() + digit_count;
    let (integer_text, rest) = word.split_at(number_len);
    if rest.is_empty() {
        let number = parse_integer(integer_text, word, &pos)?;
        return Ok(Value::new(ValueKind::Integer(number), pos));
    }
    if let Some(fraction) = rest.strip_prefix('.')
        && !fraction.is_empty()
        && fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return match word.parse::<f64>() {
            Ok(number) => Ok(Value::new(ValueKind::Float(number), pos)),
            Err(_) => Ok(string(word, pos)),
        };
    }
    if let Some(multiplier) = size_multiplier(rest) {
        let base = parse_integer(integer_text, word, &pos)?;
        let number = base
            .checked_mul(multiplier)
            .ok_or_else(|| Error::IntegerOutOfRange {
                pos: pos.clone(),
                literal: word.to_owned(),
            })?;
        return Ok(Value {
            kind: ValueKind::Integer(number),
            pos,
            size_suffix: Some(rest.into()),
        });
    }
    Ok(string(word, pos))
}

/// `true/false/yes/no/on/off`, in any case.
fn boolean(word: &str) -> Option<bool> {
    const TRUE: [&str; 3] = ["true", "yes", "on"];
    const FALSE: [&str; 3] = ["false", "no", "off"];
    if TRUE.iter().any(|t| word.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| word.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

/// The factor a size suffix stands for, ignoring case: `k` = 1000, `kb`/`ki`/`kib` = 1024,
/// and likewise `m g t p e` for the higher powers. `None` if `suffix` is not one.
pub fn size_multiplier(suffix: &str) -> Option<i64> {
    let lower = suffix.to_ascii_lowercase();
    let mut chars = lower.chars();
    let power = match chars.next()? {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let base: i64 = match chars.as_str() {
        "" => 1000,
        "b" | "i" | "ib" => 1024,
        _ => return None,
    };
    base.checked_pow(power)
}

fn parse_integer(text: &str, word: &str, pos: &Pos) -> Result<i64, Error> {
    text.parse::<i64>().map_err(|_| Error::IntegerOutOfRange {
        pos: pos.clone(),
        literal: word.to_owned(),
    })
}

fn string(word: &str, pos: Pos) -> Value {
    Value::new(ValueKind::String(word.to_owned()), pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(word: &str) -> ValueKind {
        match classify_word(word, Pos::new("t", 1, 1)) {
            Ok(value) => value.kind,
            Err(error) => panic!("{word}: {error}"),
        }
    }

    #[test]
    fn booleans_in_any_case() {
        for word in ["true", "TRUE", "Yes", "on", "ON"] {
            assert_eq!(kind(word), ValueKind::Bool(true), "{word}");
        }
        for word in ["false", "No", "off", "OFF"] {
            assert_eq!(kind(word), ValueKind::Bool(false), "{word}");
        }
    }

    #[test]
    fn integers_floats_and_size_suffixes() {
        assert_eq!(kind("4222"), ValueKind::Integer(4222));
        assert_eq!(kind("-5"), ValueKind::Integer(-5));
        assert_eq!(kind("007"), ValueKind::Integer(7));
        assert_eq!(kind("0.5"), ValueKind::Float(0.5));
        assert_eq!(kind("-1.25"), ValueKind::Float(-1.25));
        assert_eq!(kind("1k"), ValueKind::Integer(1000));
        assert_eq!(kind("1KB"), ValueKind::Integer(1024));
        assert_eq!(kind("2ki"), ValueKind::Integer(2048));
        assert_eq!(kind("1KiB"), ValueKind::Integer(1024));
        assert_eq!(kind("1m"), ValueKind::Integer(1_000_000));
        assert_eq!(kind("64MB"), ValueKind::Integer(64 << 20));
        assert_eq!(kind("1g"), ValueKind::Integer(1_000_000_000));
        assert_eq!(kind("1gib"), ValueKind::Integer(1 << 30));
        assert_eq!(kind("1t"), ValueKind::Integer(1_000_000_000_000));
        assert_eq!(kind("1pb"), ValueKind::Integer(1 << 50));
        assert_eq!(kind("1e"), ValueKind::Integer(1_000_000_000_000_000_000));
        assert_eq!(kind("-1k"), ValueKind::Integer(-1000));
    }

    #[test]
    fn other_words_are_strings() {
        for word in [
            "127.0.0.1:4222",
            "10.0.0.1",
            "1m30s",
            "100ms",
            "1.5s",
            "1x",
            "1e3",
            "0x10",
            "+5",
            "-abc",
            "2016-05-04T18:53:41Z",
            "nats-route://a:b@host:6222",
        ] {
            assert_eq!(kind(word), ValueKind::String(word.to_owned()), "{word}");
        }
    }

    #[test]
    fn out_of_range_integers_are_errors() {
        let error = classify_word("16e", Pos::new("t.conf", 1, 7))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "t.conf:1:7: integer 16e is out of range (it must fit in a signed 64-bit integer)"
            )
        );
        assert!(classify_word("99999999999999999999", Pos::new("t", 1, 1)).is_err());
        assert_eq!(kind("-9223372036854775808"), ValueKind::Integer(i64::MIN));
    }
}

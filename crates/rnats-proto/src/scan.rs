//! The byte scans of the parsers' fast paths ([`crate::parser::parse_fast`],
//! [`crate::route::parse_fast`]): finding where an argument ends, eight bytes
//! at a time, and reading a size in a short loop. Nothing here decides what
//! is valid protocol; a fast path that meets anything unusual hands the
//! frame to its parser's general path.

/// Eight copies of a byte.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// Whether any of the eight bytes of `x` is a space or below it, as a mask
/// whose lowest set bit is in the first such byte.
///
/// A word-at-a-time "has a byte less than n" test: a byte below `0x21`
/// borrows when `0x21` is taken from it, and only bytes below `0x80` keep
/// their top bit clear; bytes above the first hit may be flagged wrongly by
/// its borrow, never the bytes below it, so the lowest flag is exact.
#[inline(always)]
fn space_or_control_mask(x: u64) -> u64 {
    x.wrapping_sub(splat(0x21)) & !x & splat(0x80)
}

/// The index of the first byte of `s` that is a space or below it: the
/// argument separators (space, tab), the line end (`\r`, `\n`) and the
/// other control characters, which the fast paths leave to the general one.
/// Eight bytes are looked at in one step.
#[inline]
pub(crate) fn find_space_or_control(s: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(word) = s.get(at..at + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let hit = space_or_control_mask(u64::from_le_bytes(bytes));
        if hit != 0 {
            return Some(at + (hit.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = s.get(at..)?;
    tail.iter().position(|&b| b <= b' ').map(|p| at + p)
}

/// The argument of `line` that starts at `from`: where it ends and the
/// byte that ends it (a space or a control character). `None` if it is
/// empty (a repeated blank) or nothing ends it in `line` yet.
#[inline(always)]
pub(crate) fn token(line: &[u8], from: usize) -> Option<(usize, u8)> {
    let end = from + find_space_or_control(line.get(from..)?)?;
    if end == from {
        return None;
    }
    Some((end, *line.get(end)?))
}

/// A size written in decimal: 1 to 18 digits, nothing else (the rule of
/// both parsers' general paths, so a fast path never accepts what they
/// refuse).
#[inline]
pub(crate) fn digits(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 18 {
        return None;
    }
    let mut n = 0usize;
    for &d in s {
        let v = d.wrapping_sub(b'0');
        if v > 9 {
            return None;
        }
        n = n * 10 + v as usize;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_space_or_control_at_every_offset() {
        for len in 0..40 {
            for at in 0..=len {
                for special in [b' ', b'\t', b'\r', b'\n', 0, 0x1f, 0x20] {
                    let mut s = vec![b'a'; len];
                    // Bytes above 0x80 and just above the space never count.
                    for (i, b) in s.iter_mut().enumerate() {
                        *b = [b'a', 0x21, 0xff, 0x80, 0xa1, b'~'][i % 6];
                    }
                    if at < len {
                        s[at] = special;
                        // A second hit after the first must not move it.
                        if at + 1 < len {
                            s[at + 1] = 0;
                        }
                    }
                    let want = s.iter().position(|&b| b <= b' ');
                    assert_eq!(find_space_or_control(&s), want, "{s:?}");
                }
            }
        }
    }

    #[test]
    fn digits_as_the_general_paths_read_them() {
        assert_eq!(digits(b"0"), Some(0));
        assert_eq!(digits(b"0016"), Some(16));
        assert_eq!(digits(b"999999999999999999"), Some(999_999_999_999_999_999));
        for bad in [
            &b""[..],
            b"1234567890123456789",
            b"-1",
            b"+1",
            b"1a",
            b"1 ",
            b"/",
            b":",
        ] {
            assert_eq!(digits(bad), None, "{bad:?}");
        }
    }
}

//! Subject transforms: the one engine behind subject mappings (`mappings {}`,
//! account JWT `mappings`), wildcard service imports and `rnats mapping`,
//! with nats-server's syntax, semantics and error texts (its
//! `server/subject_transform.go`, as of 2.15).
//!
//! A transform has a source pattern and a destination. The destination's
//! tokens are literal text or references to what the source's `*` wildcards
//! took: `$1` (old style) or `{{wildcard(1)}}`, and the mapping functions
//! `{{partition(n, 1, 2…)}}`, `{{split(1, -)}}`, `{{splitFromLeft(1, 2)}}`,
//! `{{splitFromRight(1, 2)}}`, `{{sliceFromLeft(1, 2)}}`,
//! `{{sliceFromRight(1, 2)}}`, `{{left(1, 2)}}`, `{{right(1, 2)}}` and
//! `{{random(n)}}`. A `>` in the source must be matched by a `>` at the end
//! of the destination, which takes what the source's `>` took.
//!
//! Some of nats-server's edges are kept on purpose, because a mixed cluster
//! must map the same way:
//!
//! * Function names are found as nats-server's regular expressions find
//!   them: only the first letter of each word ignores case
//!   (`{{SplitFromLeft(…)}}`, not `{{SPLIT(…)}}`), spaces are allowed around
//!   the name and after commas, and a token that starts with `{{` and ends
//!   with `}}` but names no function is refused.
//! * A wildcard number of 0 or less takes the subject's first token.
//! * `partition(n, …)` hashes the referenced tokens, concatenated without
//!   separators (or the whole subject for `partition(n)`) with 32-bit FNV-1a
//!   and takes the remainder by `n`, so it gives nats-server's partition for
//!   the same subject. A negative `n` is taken as the unsigned 32-bit number
//!   of the same bits, and 0 gives partition 0, as there.
//!
//! Nothing here does I/O; [`SubjectTransform::transform_into`] writes into a
//! caller's buffer, so a mapped message costs no allocation of its own.

use std::fmt;

use crate::subject::{FULL_WILDCARD, PARTIAL_WILDCARD, TOKEN_SEPARATOR};

/// Why a transform cannot be made, or cannot be applied to a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformError {
    /// A source or destination that is not a valid subject (or a `*` in the
    /// destination, or a `>` in only one of them), or a subject given to
    /// [`SubjectTransform::apply`] that is not a literal subject.
    BadSubject,
    /// The subject given to [`SubjectTransform::apply`] does not match the
    /// source.
    NoMatch,
    /// The destination cannot be made from the source.
    Destination {
        kind: DestinationError,
        /// The destination token at fault ("" when nats-server names none).
        token: String,
    },
}

/// What is wrong with a destination, in nats-server's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationError {
    InvalidTransform,
    NotUsingAllWildcards,
    UnknownFunction,
    IndexOutOfRange,
    NotEnoughArgs,
    InvalidArg,
    TooManyArgs,
    NotSupportedForImport,
}

impl DestinationError {
    fn text(self) -> &'static str {
        match self {
            DestinationError::InvalidTransform => "invalid transform",
            DestinationError::NotUsingAllWildcards => "not using all of the token wildcard(s)",
            DestinationError::UnknownFunction => "unknown function",
            DestinationError::IndexOutOfRange => "wildcard index out of range",
            DestinationError::NotEnoughArgs => "not enough arguments passed to the function",
            DestinationError::InvalidArg => "function argument is invalid or in the wrong format",
            DestinationError::TooManyArgs => "too many arguments passed to the function",
            DestinationError::NotSupportedForImport => {
                "the only mapping function allowed for import transforms is {{Wildcard()}}"
            }
        }
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransformError::BadSubject => f.write_str("invalid subject"),
            TransformError::NoMatch => f.write_str("no matching transforms available"),
            TransformError::Destination { kind, token } if token.is_empty() => {
                write!(f, "invalid mapping destination: {}", kind.text())
            }
            TransformError::Destination { kind, token } => {
                write!(f, "invalid mapping destination: {} in {token}", kind.text())
            }
        }
    }
}

impl std::error::Error for TransformError {}

fn dest_err(kind: DestinationError, token: &str) -> TransformError {
    TransformError::Destination {
        kind,
        token: token.to_owned(),
    }
}

/// One token of the destination: what is written there.
#[derive(Debug, Clone)]
enum Part {
    /// Written as is; a `>` ends the written tokens (the tail follows).
    Literal(Box<[u8]>),
    /// The source token at this index (nothing when the subject is shorter).
    Wildcard(usize),
    /// FNV-1a of the tokens at these indexes (the whole subject when none).
    Partition {
        buckets: i32,
        tokens: Box<[usize]>,
    },
    SplitFromLeft(usize, i32),
    SplitFromRight(usize, i32),
    SliceFromLeft(usize, i32),
    SliceFromRight(usize, i32),
    Split(usize, Box<[u8]>),
    Left(usize, i32),
    Right(usize, i32),
    Random(i32),
}

/// A compiled source → destination transform.
#[derive(Debug, Clone)]
pub struct SubjectTransform {
    source: String,
    destination: String,
    source_tokens: usize,
    /// `>` → `>`: every subject maps to itself.
    identity: bool,
    parts: Box<[Part]>,
    /// The destination ends in `>`: the subject's tokens from the source's
    /// `>` on are appended.
    tail: bool,
}

/// The kinds of `{{…}}` functions, in the order nats-server tries them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Func {
    Wildcard,
    Partition,
    SplitFromLeft,
    SplitFromRight,
    SliceFromLeft,
    SliceFromRight,
    Right,
    Left,
    Split,
    Random,
}

/// Each function's name as nats-server's expression spells it: a capital
/// letter stands for either case of it, a small letter for itself.
const FUNCS: [(Func, &[u8]); 10] = [
    (Func::Wildcard, b"Wildcard"),
    (Func::Partition, b"Partition"),
    (Func::SplitFromLeft, b"SplitFromLeft"),
    (Func::SplitFromRight, b"SplitFromRight"),
    (Func::SliceFromLeft, b"SliceFromLeft"),
    (Func::SliceFromRight, b"SliceFromRight"),
    (Func::Right, b"Right"),
    (Func::Left, b"Left"),
    (Func::Split, b"Split"),
    (Func::Random, b"Random"),
];

/// Go's `\s` in regular expressions.
fn is_go_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

fn skip_spaces(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_go_space(s[i]) {
        i += 1;
    }
    i
}

/// The argument text of `{{\s*name\s*\((.*)\)\s*}}` found anywhere in
/// `token` (leftmost match, greedy `.*` that stops at a newline), as Go's
/// `FindStringSubmatch` gives it.
fn function_args<'t>(token: &'t [u8], name: &[u8]) -> Option<&'t [u8]> {
    let mut start = 0;
    while let Some(found) = find(&token[start..], b"{{") {
        let p = start + found;
        start = p + 1;
        let mut i = skip_spaces(token, p + 2);
        let named = name.iter().all(|&c| {
            let ok = token.get(i).is_some_and(|&b| {
                if c.is_ascii_uppercase() {
                    b.eq_ignore_ascii_case(&c)
                } else {
                    b == c
                }
            });
            i += 1;
            ok
        });
        if !named {
            continue;
        }
        i = skip_spaces(token, i);
        if token.get(i) != Some(&b'(') {
            continue;
        }
        let open = i + 1;
        // `.` does not cross a newline.
        let limit = token[open..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(token.len(), |n| open + n);
        // The greedy group: the last `)` (before any newline) that `\s*}}` follows.
        let close = (open..limit).rev().find(|&q| {
            token[q] == b')' && {
                let after = skip_spaces(token, q + 1);
                token[after..].starts_with(b"}}")
            }
        });
        if let Some(q) = close {
            return Some(&token[open..q]);
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// The arguments split as nats-server splits them (on `,\s*`).
fn split_args(args: &[u8]) -> Vec<&[u8]> {
    args.split(|&b| b == b',')
        .enumerate()
        .map(|(i, a)| if i == 0 { a } else { &a[skip_spaces(a, 0)..] })
        .collect()
}

/// `strings.Trim(s, " ")`.
fn trim_spaces(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ').unwrap_or(s.len());
    let end = s.iter().rposition(|&b| b != b' ').map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// Go's `strconv.Atoi` (a 64-bit `int`): an optional sign and decimal digits.
fn go_atoi(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        let d = i64::from(d - b'0');
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(d)?
        } else {
            value.checked_add(d)?
        };
    }
    Some(value)
}

fn arg_int(s: &[u8]) -> Option<i64> {
    go_atoi(trim_spaces(s))
}

/// `strconv.ParseInt(s, 10, 32)`.
fn arg_i32(s: &[u8]) -> Option<i32> {
    arg_int(s).and_then(|v| i32::try_from(v).ok())
}

/// A function's count argument (`partition`, `random`): nats-server refuses
/// only values above `MaxInt32`, then keeps the low 32 bits.
fn arg_count(s: &[u8]) -> Option<i32> {
    let v = arg_int(s)?;
    (v <= i64::from(i32::MAX)).then_some(v as i32)
}

/// A destination token as nats-server reads it, before wildcard numbers are
/// turned into source token indexes.
enum Placeholder {
    Literal,
    /// The function, the wildcard numbers it takes, its number and text.
    Function(Func, Vec<i64>, i32, Box<[u8]>),
}

fn placeholder(token: &str) -> Result<Placeholder, TransformError> {
    use DestinationError::*;
    let t = token.as_bytes();
    if t.len() <= 1 {
        return Ok(Placeholder::Literal);
    }
    if t[0] == b'$' {
        // Other things use tokens starting with `$`: not a number, not a reference.
        return Ok(match go_atoi(&t[1..]) {
            Some(n) => Placeholder::Function(Func::Wildcard, vec![n], -1, Box::default()),
            None => Placeholder::Literal,
        });
    }
    if !(t.len() > 4 && t.starts_with(b"{{") && t.ends_with(b"}}")) {
        return Ok(Placeholder::Literal);
    }
    let err = |kind| Err(dest_err(kind, token));
    for (func, name) in FUNCS {
        let Some(args) = function_args(t, name) else {
            continue;
        };
        let args = split_args(args);
        return match func {
            Func::Wildcard => match args.as_slice() {
                [b""] => err(NotEnoughArgs),
                [a] => match arg_int(a) {
                    Some(n) => Ok(Placeholder::Function(func, vec![n], -1, Box::default())),
                    None => err(InvalidArg),
                },
                _ => err(TooManyArgs),
            },
            Func::Partition => {
                let Some(buckets) = arg_count(args[0]) else {
                    return err(InvalidArg);
                };
                let mut indexes = Vec::with_capacity(args.len() - 1);
                for a in &args[1..] {
                    match arg_int(a) {
                        Some(n) => indexes.push(n),
                        None => return err(InvalidArg),
                    }
                }
                Ok(Placeholder::Function(
                    func,
                    indexes,
                    buckets,
                    Box::default(),
                ))
            }
            Func::Split => match args.as_slice() {
                [_] => err(NotEnoughArgs),
                [index, separator] => {
                    let Some(index) = arg_int(index) else {
                        return err(InvalidArg);
                    };
                    if separator.contains(&b' ') || separator.contains(&TOKEN_SEPARATOR) {
                        return err(InvalidArg);
                    }
                    Ok(Placeholder::Function(
                        func,
                        vec![index],
                        -1,
                        (*separator).into(),
                    ))
                }
                _ => err(TooManyArgs),
            },
            Func::Random => match args.as_slice() {
                [n] => match arg_count(n) {
                    Some(n) => Ok(Placeholder::Function(func, Vec::new(), n, Box::default())),
                    None => err(InvalidArg),
                },
                _ => err(NotEnoughArgs),
            },
            _ => match args.as_slice() {
                [_] => err(NotEnoughArgs),
                [index, number] => match (arg_int(index), arg_i32(number)) {
                    (Some(index), Some(number)) => Ok(Placeholder::Function(
                        func,
                        vec![index],
                        number,
                        Box::default(),
                    )),
                    _ => err(InvalidArg),
                },
                _ => err(TooManyArgs),
            },
        };
    }
    err(UnknownFunction)
}

/// nats-server's `subjectInfo`: valid (non-empty tokens, nothing after a
/// `>`), the tokens, the number of `*`, whether there is a `>`.
fn subject_info(subject: &str) -> Option<(Vec<&str>, usize, bool)> {
    if subject.is_empty() {
        return None;
    }
    let (mut stars, mut full) = (0, false);
    let tokens: Vec<&str> = subject.split('.').collect();
    for t in &tokens {
        if t.is_empty() || full {
            return None;
        }
        match t.as_bytes() {
            b">" => full = true,
            b"*" => stars += 1,
            _ => {}
        }
    }
    Some((tokens, stars, full))
}

impl SubjectTransform {
    /// A transform as subject mappings make it (nats-server's
    /// `NewSubjectTransform`). An empty source means `>`.
    pub fn new(source: &str, destination: &str) -> Result<Self, TransformError> {
        Self::build(source, destination, false)
    }

    /// A transform that must be reversible, as imports need: only wildcard
    /// references, and every wildcard of the source used.
    pub fn new_strict(source: &str, destination: &str) -> Result<Self, TransformError> {
        Self::build(source, destination, true)
    }

    fn build(source: &str, destination: &str, strict: bool) -> Result<Self, TransformError> {
        use DestinationError::*;
        let source = if source.is_empty() { ">" } else { source };
        let (Some((source_tokens, stars, full)), Some((dest_tokens, dest_stars, dest_full))) =
            (subject_info(source), subject_info(destination))
        else {
            return Err(TransformError::BadSubject);
        };
        if dest_stars > 0 || full != dest_full {
            return Err(TransformError::BadSubject);
        }
        // Wildcard number (from 1) → source token index.
        let star_index: Vec<usize> = source_tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == "*")
            .map(|(i, _)| i)
            .collect();
        let mut parts = Vec::with_capacity(dest_tokens.len());
        let mut used = 0;
        for token in &dest_tokens {
            let (func, numbers, int, text) = match placeholder(token)? {
                Placeholder::Literal => {
                    parts.push(Part::Literal(token.as_bytes().into()));
                    continue;
                }
                Placeholder::Function(func, numbers, int, text) => (func, numbers, int, text),
            };
            if stars == 0 && !full {
                // A literal source: nothing to reference.
                parts.push(match func {
                    Func::Random => Part::Random(int),
                    Func::Partition => Part::Partition {
                        buckets: int,
                        tokens: Box::default(),
                    },
                    _ => return Err(dest_err(IndexOutOfRange, token)),
                });
                continue;
            }
            if strict && func != Func::Wildcard {
                return Err(dest_err(NotSupportedForImport, token));
            }
            if func == Func::Random {
                parts.push(Part::Random(int));
                continue;
            }
            used += numbers.len();
            let mut indexes = Vec::with_capacity(numbers.len());
            for n in numbers {
                if n > stars as i64 {
                    return Err(dest_err(IndexOutOfRange, &format!("{token}: [{n}]")));
                }
                // nats-server looks 0 and below up in a map that lacks them: token 0.
                indexes.push(if n >= 1 {
                    star_index[(n - 1) as usize]
                } else {
                    0
                });
            }
            let at = indexes.first().copied().unwrap_or(0);
            parts.push(match func {
                Func::Wildcard => Part::Wildcard(at),
                Func::Partition => Part::Partition {
                    buckets: int,
                    tokens: indexes.into(),
                },
                Func::SplitFromLeft => Part::SplitFromLeft(at, int),
                Func::SplitFromRight => Part::SplitFromRight(at, int),
                Func::SliceFromLeft => Part::SliceFromLeft(at, int),
                Func::SliceFromRight => Part::SliceFromRight(at, int),
                Func::Split => Part::Split(at, text),
                Func::Left => Part::Left(at, int),
                Func::Right => Part::Right(at, int),
                Func::Random => Part::Random(int),
            });
        }
        if strict && (stars > 0 || full) && used < stars {
            return Err(dest_err(NotUsingAllWildcards, destination));
        }
        Ok(SubjectTransform {
            source: source.to_owned(),
            destination: destination.to_owned(),
            source_tokens: source_tokens.len(),
            identity: source == ">" && destination == ">",
            tail: dest_tokens.last() == Some(&">"),
            parts: parts.into(),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// Whether the destination takes nothing from the subject (no wildcard
    /// reference, no function, no `>`): every subject maps to the destination.
    pub fn is_constant(&self) -> bool {
        !self.tail && self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// Whether `subject` is one the source matches, compared as nats-server
    /// compares them (`isSubsetMatch`: a `*` in the subject matches only a
    /// `*` of the source).
    pub fn matches(&self, subject: &[u8]) -> bool {
        self.identity || subset_match(subject, self.source.as_bytes())
    }

    /// nats-server's `Match`: the mapped subject when `subject` is a literal
    /// subject that the source matches.
    ///
    /// ```
    /// use rnats_proto::transform::SubjectTransform;
    /// let t = SubjectTransform::new("orders.*.*", "shard.{{partition(3,2)}}.$1").unwrap();
    /// assert_eq!(t.apply(b"orders.eu.42").unwrap(), b"shard.2.eu");
    /// assert!(t.apply(b"orders.eu").is_err());
    /// ```
    pub fn apply(&self, subject: &[u8]) -> Result<Vec<u8>, TransformError> {
        let mut out = Vec::with_capacity(self.destination.len() + subject.len());
        self.apply_into(subject, &mut out)?;
        Ok(out)
    }

    /// [`apply`](Self::apply), writing into `out` (cleared first).
    pub fn apply_into(&self, subject: &[u8], out: &mut Vec<u8>) -> Result<(), TransformError> {
        out.clear();
        if self.identity {
            out.extend_from_slice(subject);
            return Ok(());
        }
        let literal = subject
            .split(|&b| b == TOKEN_SEPARATOR)
            .all(|t| !t.is_empty() && t != PARTIAL_WILDCARD && t != FULL_WILDCARD);
        if !literal {
            return Err(TransformError::BadSubject);
        }
        if !subset_match(subject, self.source.as_bytes()) {
            return Err(TransformError::NoMatch);
        }
        self.transform_into(subject, out);
        Ok(())
    }

    /// Writes the destination for `subject` into `out` (cleared first),
    /// without checking that the source matches it (nats-server's
    /// `TransformSubject`). Never panics: a reference past the subject's
    /// end takes an empty token.
    pub fn transform_into(&self, subject: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let last = self.parts.len().saturating_sub(1);
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(text) if **text == *FULL_WILDCARD => break,
                Part::Literal(text) => out.extend_from_slice(text),
                Part::Wildcard(at) => out.extend_from_slice(token(subject, *at)),
                Part::Partition { buckets, tokens } => {
                    let mut hash = Fnv1a::new();
                    if tokens.is_empty() {
                        hash.write(subject);
                    } else {
                        for &at in tokens.iter() {
                            hash.write(token(subject, at));
                        }
                    }
                    let partition = match *buckets {
                        0 => 0,
                        n => hash.finish() % (n as u32),
                    };
                    write_number(out, u64::from(partition));
                }
                Part::SplitFromLeft(at, position) => {
                    let t = token(subject, *at);
                    match usize::try_from(*position) {
                        Ok(p) if p > 0 && p < t.len() => {
                            out.extend_from_slice(&t[..p]);
                            out.push(TOKEN_SEPARATOR);
                            out.extend_from_slice(&t[p..]);
                        }
                        _ => out.extend_from_slice(t),
                    }
                }
                Part::SplitFromRight(at, position) => {
                    let t = token(subject, *at);
                    match usize::try_from(*position) {
                        Ok(p) if p > 0 && p < t.len() => {
                            out.extend_from_slice(&t[..t.len() - p]);
                            out.push(TOKEN_SEPARATOR);
                            out.extend_from_slice(&t[t.len() - p..]);
                        }
                        _ => out.extend_from_slice(t),
                    }
                }
                Part::SliceFromLeft(at, size) => {
                    let t = token(subject, *at);
                    match usize::try_from(*size) {
                        Ok(n) if n > 0 && n < t.len() => {
                            for (j, chunk) in t.chunks(n).enumerate() {
                                if j > 0 {
                                    out.push(TOKEN_SEPARATOR);
                                }
                                out.extend_from_slice(chunk);
                            }
                        }
                        _ => out.extend_from_slice(t),
                    }
                }
                Part::SliceFromRight(at, size) => {
                    let t = token(subject, *at);
                    match usize::try_from(*size) {
                        Ok(n) if n > 0 && n < t.len() => {
                            let remainder = t.len() % n;
                            if remainder > 0 {
                                out.extend_from_slice(&t[..remainder]);
                                out.push(TOKEN_SEPARATOR);
                            }
                            for (j, chunk) in t[remainder..].chunks(n).enumerate() {
                                if j > 0 {
                                    out.push(TOKEN_SEPARATOR);
                                }
                                out.extend_from_slice(chunk);
                            }
                        }
                        _ => out.extend_from_slice(t),
                    }
                }
                Part::Split(at, separator) => {
                    write_split(out, token(subject, *at), separator);
                }
                Part::Left(at, size) => {
                    let t = token(subject, *at);
                    match usize::try_from(*size) {
                        Ok(n) if n > 0 && n < t.len() => out.extend_from_slice(&t[..n]),
                        _ => out.extend_from_slice(t),
                    }
                }
                Part::Right(at, size) => {
                    let t = token(subject, *at);
                    match usize::try_from(*size) {
                        Ok(n) if n > 0 && n < t.len() => out.extend_from_slice(&t[t.len() - n..]),
                        _ => out.extend_from_slice(t),
                    }
                }
                Part::Random(ceiling) => {
                    let value = match *ceiling {
                        0 => 0,
                        // Go's `rand.Int31() % ceiling`: never negative.
                        n => (i64::from(rand::random::<u32>() >> 1) % i64::from(n)).unsigned_abs(),
                    };
                    write_number(out, value);
                }
            }
            if i < last {
                out.push(TOKEN_SEPARATOR);
            }
        }
        if self.tail {
            out.extend_from_slice(tail(subject, self.source_tokens.saturating_sub(1)));
        }
    }
}

/// The token at `index` (empty past the end).
fn token(subject: &[u8], index: usize) -> &[u8] {
    subject
        .split(|&b| b == TOKEN_SEPARATOR)
        .nth(index)
        .unwrap_or_default()
}

/// The subject from the token at `index` on (empty past the end).
fn tail(subject: &[u8], index: usize) -> &[u8] {
    let mut start = 0;
    for _ in 0..index {
        match subject[start..].iter().position(|&b| b == TOKEN_SEPARATOR) {
            Some(dot) => start += dot + 1,
            None => return &[],
        }
    }
    &subject[start..]
}

fn write_number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `split`: the pieces of `t` around `separator` joined with `.`, empty
/// pieces dropped, as nats-server writes them.
fn write_split(out: &mut Vec<u8>, t: &[u8], separator: &[u8]) {
    let mut pieces = Pieces::new(t, separator).peekable();
    let mut first = true;
    while let Some(piece) = pieces.next() {
        out.extend_from_slice(piece);
        let next_is_empty = pieces.peek().is_none_or(|p| p.is_empty());
        if !(next_is_empty || first && piece.is_empty()) {
            out.push(TOKEN_SEPARATOR);
        }
        first = false;
    }
}

/// Go's `strings.Split`: around each `separator`, or into UTF-8 characters
/// (each invalid byte alone) when it is empty.
struct Pieces<'a> {
    rest: Option<&'a [u8]>,
    separator: &'a [u8],
}

impl<'a> Pieces<'a> {
    fn new(s: &'a [u8], separator: &'a [u8]) -> Self {
        let rest = if separator.is_empty() && s.is_empty() {
            None
        } else {
            Some(s)
        };
        Pieces { rest, separator }
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        if self.separator.is_empty() {
            let len = utf8_char_len(rest);
            self.rest = (len < rest.len()).then(|| &rest[len..]);
            return Some(&rest[..len]);
        }
        match find(rest, self.separator) {
            Some(at) => {
                self.rest = Some(&rest[at + self.separator.len()..]);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// The length of the UTF-8 character at the start of `s` (1 for an invalid byte).
fn utf8_char_len(s: &[u8]) -> usize {
    let want = match s.first() {
        Some(0xc2..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf4) => 4,
        _ => 1,
    };
    if want > 1 && s.len() >= want && std::str::from_utf8(&s[..want]).is_ok() {
        want
    } else {
        1
    }
}

/// 32-bit FNV-1a, Go's `hash/fnv.New32a`.
struct Fnv1a(u32);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0x811c_9dc5)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u32::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }

    fn finish(&self) -> u32 {
        self.0
    }
}

/// nats-server's `isSubsetMatch(tokens(subject), pattern)`: `pattern`'s `*`
/// takes any token of the subject except `>`; a `*` in the subject matches
/// only a `*`; `pattern`'s `>` takes the rest.
pub fn subset_match(subject: &[u8], pattern: &[u8]) -> bool {
    let mut subject_tokens = subject.split(|&b| b == TOKEN_SEPARATOR);
    for p in pattern.split(|&b| b == TOKEN_SEPARATOR) {
        let Some(s) = subject_tokens.next() else {
            return false;
        };
        if p.is_empty() {
            return false;
        }
        if p == FULL_WILDCARD {
            return true;
        }
        if s.is_empty() || s == FULL_WILDCARD {
            return false;
        }
        if s == PARTIAL_WILDCARD {
            if p != PARTIAL_WILDCARD {
                return false;
            }
            continue;
        }
        if p != PARTIAL_WILDCARD && p != s {
            return false;
        }
    }
    subject_tokens.next().is_none()
}

/// The check nats-server runs on a mapping's destination before it makes
/// the transform (`ValidateMapping`): every token non-empty and nothing
/// after a `>`, a `{{…}}` token names a function, no whitespace in a plain
/// token; then [`SubjectTransform::new`]. An empty destination passes.
pub fn validate_mapping(source: &str, destination: &str) -> Result<(), TransformError> {
    if destination.is_empty() {
        return Ok(());
    }
    let mut full = false;
    for t in destination.split('.') {
        if t.is_empty() || full {
            return Err(dest_err(DestinationError::InvalidTransform, t));
        }
        let b = t.as_bytes();
        if b.len() > 4 && b.starts_with(b"{{") && b.ends_with(b"}}") {
            if !FUNCS
                .iter()
                .any(|(_, name)| function_args(b, name).is_some())
            {
                return Err(dest_err(DestinationError::UnknownFunction, t));
            }
            continue;
        }
        if t == ">" {
            full = true;
        } else if b.iter().copied().any(is_go_space) {
            return Err(dest_err(DestinationError::InvalidTransform, ""));
        }
    }
    SubjectTransform::new(source, destination).map(|_| ())
}

/// `foo.*.*` → `foo.$1.$2`: the destination that maps a pattern to itself
/// (nats-server's `transformTokenize`).
pub fn tokenize_wildcards(pattern: &str) -> String {
    let mut n = 0;
    pattern
        .split('.')
        .map(|t| {
            if t == "*" {
                n += 1;
                format!("${n}")
            } else {
                t.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// `foo.$2.{{wildcard(1)}}` → (`foo.*.*`, [`$2`, `{{wildcard(1)}}`]): the
/// pattern a destination's references stand in, and the references in
/// order (nats-server's `transformUntokenize`).
pub fn untokenize_wildcards(destination: &str) -> (String, Vec<String>) {
    let mut references = Vec::new();
    let pattern = destination
        .split('.')
        .map(|t| {
            let b = t.as_bytes();
            let dollar = b.len() > 1 && b[0] == b'$' && (b'1'..=b'9').contains(&b[1]);
            let wildcard = function_args(b, b"Wildcard")
                .is_some_and(|args| !args.is_empty() && !args.contains(&b','));
            if dollar || wildcard {
                references.push(t.to_owned());
                "*"
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join(".");
    (pattern, references)
}

/// The transform a service import renamed with `to` applies, as
/// nats-server makes it: subjects published to `local` (the import's
/// `to`) are written in the exported `remote` pattern, the `n`th wildcard
/// of one taking the `n`th of the other (or as `$n` references in `local`
/// say). Both must have as many `*` and a `>` alike.
pub fn import_transform(local: &str, remote: &str) -> Result<SubjectTransform, TransformError> {
    let (remote, _) = untokenize_wildcards(remote);
    // nats-server checks the transform from the export to the import...
    SubjectTransform::new_strict(&remote, &tokenize_wildcards(local))?;
    // ...and uses its reverse.
    let (local_pattern, mut references) = untokenize_wildcards(&tokenize_wildcards(local));
    references.reverse();
    let destination = remote
        .split('.')
        .map(|t| {
            if t == "*" {
                references.pop().unwrap_or_else(|| t.to_owned())
            } else {
                t.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(".");
    SubjectTransform::new_strict(&local_pattern, &destination)
}

#[cfg(test)]
mod tests;

//! Errors and warnings. Every error names the `file:line:col` it is about and what was expected there.

use std::fmt;
use std::path::PathBuf;

use crate::pos::{LineCol, Pos};

/// Everything that can go wrong while reading a config file or converting one of its values.
///
/// The `Display` text always starts with the position (`file:line:col: …`), except for
/// [`Error::Read`], which is about a file that could not be opened at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text does not follow the grammar at this point.
    #[error("{pos}: expected {expected}, found {found}")]
    Unexpected {
        pos: Pos,
        expected: String,
        found: String,
    },

    /// A map, array, quoted string or block string runs to the end of the file.
    #[error(
        "{pos}: expected {closer} to close the {what} opened at {opened_at}, found end of file"
    )]
    Unclosed {
        pos: Pos,
        what: &'static str,
        closer: &'static str,
        opened_at: LineCol,
    },

    /// A backslash sequence other than `\xXX \t \n \r \" \\` in a double-quoted string.
    #[error(
        "{pos}: invalid escape sequence '{sequence}' in a double-quoted string \
         (allowed: \\xXX with two hex digits, \\t, \\n, \\r, \\\", \\\\)"
    )]
    InvalidEscape { pos: Pos, sequence: String },

    /// `\xXX` escapes that do not add up to valid UTF-8.
    #[error("{pos}: the \\x escapes in this string do not form valid UTF-8")]
    InvalidUtf8 { pos: Pos },

    /// An integer (after applying its size suffix) that does not fit in 64 bits.
    #[error("{pos}: integer {literal} is out of range (it must fit in a signed 64-bit integer)")]
    IntegerOutOfRange { pos: Pos, literal: String },

    /// `$NAME` with no definition in scope nor in the environment.
    #[error(
        "{pos}: variable ${name} is not defined in this block, an enclosing block or the environment"
    )]
    UndefinedVariable { pos: Pos, name: String },

    /// A variable whose value (directly or through environment variables) refers back to itself.
    #[error("{pos}: variable reference cycle: {chain}")]
    VariableCycle { pos: Pos, chain: String },

    /// An environment variable whose text is not a valid config value.
    #[error("{pos}: environment variable ${name} could not be parsed as a config value: {cause}")]
    InvalidEnvironmentValue {
        pos: Pos,
        name: String,
        cause: Box<Error>,
    },

    /// An `include` whose file cannot be found or read.
    #[error("{pos}: cannot read include file '{}': {cause}", path.display())]
    Include {
        pos: Pos,
        path: PathBuf,
        cause: std::io::Error,
    },

    /// A file that includes itself, directly or through other files.
    #[error("{pos}: include cycle: {chain}")]
    IncludeCycle { pos: Pos, chain: String },

    /// Maps, arrays, includes and environment variables nested deeper than the limit.
    #[error(
        "{pos}: nesting is deeper than {limit} levels (maps, arrays, includes and environment variables count)"
    )]
    TooDeep { pos: Pos, limit: usize },

    /// The top-level config file cannot be read.
    #[error("cannot read config file '{}': {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// A value of another type than the one asked for (see the `as_*` helpers of [`crate::Value`]).
    #[error("{pos}: expected {expected}, found {found}")]
    WrongType {
        pos: Pos,
        expected: &'static str,
        found: &'static str,
    },

    /// A string that is not a duration, or a negative or too large duration.
    #[error("{pos}: invalid duration {text}: {reason}")]
    InvalidDuration {
        pos: Pos,
        text: String,
        reason: String,
    },
}

impl Error {
    /// The position the error is about, if it has one.
    pub fn pos(&self) -> Option<&Pos> {
        match self {
            Error::Unexpected { pos, .. }
            | Error::Unclosed { pos, .. }
            | Error::InvalidEscape { pos, .. }
            | Error::InvalidUtf8 { pos }
            | Error::IntegerOutOfRange { pos, .. }
            | Error::UndefinedVariable { pos, .. }
            | Error::VariableCycle { pos, .. }
            | Error::InvalidEnvironmentValue { pos, .. }
            | Error::Include { pos, .. }
            | Error::IncludeCycle { pos, .. }
            | Error::TooDeep { pos, .. }
            | Error::WrongType { pos, .. }
            | Error::InvalidDuration { pos, .. } => Some(pos),
            Error::Read { .. } => None,
        }
    }
}

/// Something legal but probably not what the author meant, e.g. a bare number used as a duration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Where the questionable value was written.
    pub pos: Pos,
    /// What is questionable and how to write it instead.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

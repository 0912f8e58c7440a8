//! Source positions: the file, line and column a key or value was read from.

use std::fmt;
use std::sync::Arc;

/// Where something was written: file name, 1-based line, 1-based column (counted in characters).
///
/// Displays as `file:line:col`, the form editors and compilers use.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    /// The file name as given to the parser (for an environment variable, `$NAME`).
    pub file: Arc<str>,
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number in characters, starting at 1.
    pub col: u32,
}

impl Pos {
    /// A position in `file` at `line:col`.
    pub fn new(file: impl Into<Arc<str>>, line: u32, col: u32) -> Self {
        Self {
            file: file.into(),
            line,
            col,
        }
    }

    /// Only the `line:col` part, for messages that point back into the same file.
    pub fn line_col(&self) -> LineCol {
        LineCol {
            line: self.line,
            col: self.col,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A `line:col` pair without the file name (see [`Pos::line_col`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LineCol {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number in characters, starting at 1.
    pub col: u32,
}

impl fmt::Display for LineCol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_file_line_col() {
        let pos = Pos::new("nats.conf", 3, 14);
        assert_eq!(pos.to_string(), "nats.conf:3:14");
        assert_eq!(pos.line_col().to_string(), "3:14");
    }
}

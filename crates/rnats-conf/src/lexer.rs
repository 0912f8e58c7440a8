//! Reading the pieces of the language from text: whitespace, comments, keys, unquoted words,
//! quoted, raw and block strings, while keeping track of line and column.
//!
//! The parser drives it, because what ends a piece depends on where it is: a key ends at `:`,
//! a value does not (`listen: 127.0.0.1:4222`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::pos::Pos;

/// A cursor over one text (a file, or the value of an environment variable).
pub(crate) struct Lexer<'a> {
    text: &'a str,
    offset: usize,
    line: u32,
    col: u32,
    file: Arc<str>,
    /// Directory that relative `include` paths in this text start from.
    include_dir: PathBuf,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(text: &'a str, file: Arc<str>, include_dir: &Path) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Self {
            text,
            offset: 0,
            line: 1,
            col: 1,
            file,
            include_dir: include_dir.to_path_buf(),
        }
    }

    pub(crate) fn pos(&self) -> Pos {
        Pos {
            file: Arc::clone(&self.file),
            line: self.line,
            col: self.col,
        }
    }

    pub(crate) fn include_dir(&self) -> &Path {
        &self.include_dir
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.offset..).unwrap_or("")
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.offset += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }

    /// The next character after any spaces and tabs, without moving.
    pub(crate) fn peek_past_spaces(&self) -> Option<char> {
        self.rest()
            .trim_start_matches([' ', '\t', '\r'])
            .chars()
            .next()
    }

    /// What is next, for "found …" in messages.
    pub(crate) fn describe_next(&self) -> String {
        if self.at_comment() {
            return "a comment".to_owned();
        }
        match self.peek() {
            None => "end of file".to_owned(),
            Some('\n') => "end of line".to_owned(),
            Some(c) => format!("'{}'", c.escape_debug()),
        }
    }

    /// A `#` or `//` comment starts here.
    pub(crate) fn at_comment(&self) -> bool {
        let rest = self.rest();
        rest.starts_with('#') || rest.starts_with("//")
    }

    /// Skips spaces, tabs and carriage returns, staying on the line.
    pub(crate) fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\r')) {
            self.bump();
        }
    }

    /// Skips spaces and a trailing comment, stopping before the newline.
    pub(crate) fn skip_spaces_and_comment(&mut self) {
        self.skip_spaces();
        if self.at_comment() {
            while !matches!(self.peek(), None | Some('\n')) {
                self.bump();
            }
        }
    }

    /// Skips whitespace, newlines and comments.
    pub(crate) fn skip_blank(&mut self) {
        loop {
            self.skip_spaces_and_comment();
            if self.peek() != Some('\n') {
                return;
            }
            self.bump();
        }
    }

    /// A bare key: ends at whitespace or any of `: = { } [ ] , ; # " '`. May be empty.
    pub(crate) fn read_bare_key(&mut self) -> &'a str {
        self.read_while(|c| {
            !c.is_whitespace()
                && !matches!(
                    c,
                    ':' | '=' | '{' | '}' | '[' | ']' | ',' | ';' | '#' | '"' | '\''
                )
        })
    }

    /// An unquoted value: ends at whitespace, `,`, `;`, `]` or `}`. May be empty.
    pub(crate) fn read_word(&mut self) -> &'a str {
        self.read_while(|c| !c.is_whitespace() && !matches!(c, ',' | ';' | ']' | '}'))
    }

    fn read_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.offset;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        self.text.get(start..self.offset).unwrap_or("")
    }

    /// A `"…"` string with `\xXX \t \n \r \" \\` escapes. The cursor is on the opening quote.
    pub(crate) fn read_double_quoted(&mut self) -> Result<String, Error> {
        let opened_at = self.pos();
        self.bump();
        let mut bytes = Vec::new();
        loop {
            let escape_pos = self.pos();
            match self.bump() {
                None => return Err(self.unclosed("string", "'\"'", &opened_at)),
                Some('"') => break,
                Some('\\') => match self.bump() {
                    None => return Err(self.unclosed("string", "'\"'", &opened_at)),
                    Some('t') => bytes.push(b'\t'),
                    Some('n') => bytes.push(b'\n'),
                    Some('r') => bytes.push(b'\r'),
                    Some('"') => bytes.push(b'"'),
                    Some('\\') => bytes.push(b'\\'),
                    Some('x') => bytes.push(self.read_hex_byte(escape_pos)?),
                    Some(other) => {
                        return Err(Error::InvalidEscape {
                            pos: escape_pos,
                            sequence: format!("\\{other}"),
                        });
                    }
                },
                Some(c) => {
                    let mut buffer = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
                }
            }
        }
        String::from_utf8(bytes).map_err(|_| Error::InvalidUtf8 { pos: opened_at })
    }

    fn read_hex_byte(&mut self, escape_pos: Pos) -> Result<u8, Error> {
        let mut value = 0u8;
        let mut seen = String::from("\\x");
        for _ in 0..2 {
            let digit = self.peek().and_then(|c| c.to_digit(16));
            match (digit, self.peek()) {
                (Some(digit), Some(c)) => {
                    seen.push(c);
                    self.bump();
                    value = value * 16 + digit as u8;
                }
                (_, next) => {
                    if let Some(c) = next.filter(|c| *c != '"' && *c != '\n') {
                        seen.push(c);
                    }
                    return Err(Error::InvalidEscape {
                        pos: escape_pos,
                        sequence: seen,
                    });
                }
            }
        }
        Ok(value)
    }

    /// A `'…'` string taken literally. The cursor is on the opening quote.
    pub(crate) fn read_single_quoted(&mut self) -> Result<String, Error> {
        let opened_at = self.pos();
        self.bump();
        let text = self.read_while(|c| c != '\'');
        if self.bump().is_none() {
            return Err(self.unclosed("string", "\"'\"", &opened_at));
        }
        Ok(text.to_owned())
    }

    /// A block string: from after `(` up to and including the newline before a line holding
    /// only `)` (trailing spaces allowed). The cursor is on the `(`; it ends after the `)`.
    pub(crate) fn read_block_string(&mut self) -> Result<String, Error> {
        let opened_at = self.pos();
        self.bump();
        let start = self.offset;
        loop {
            match self.bump() {
                None => {
                    return Err(self.unclosed(
                        "block string",
                        "a line holding only ')'",
                        &opened_at,
                    ));
                }
                Some('\n') if is_block_end(self.rest()) => {
                    let text = self.text.get(start..self.offset).unwrap_or("").to_owned();
                    self.bump();
                    return Ok(text);
                }
                Some(_) => {}
            }
        }
    }

    pub(crate) fn unclosed(
        &self,
        what: &'static str,
        closer: &'static str,
        opened_at: &Pos,
    ) -> Error {
        Error::Unclosed {
            pos: self.pos(),
            what,
            closer,
            opened_at: opened_at.line_col(),
        }
    }
}

/// The line starting `rest` is `)` with nothing but blanks after it.
fn is_block_end(rest: &str) -> bool {
    match rest.strip_prefix(')') {
        Some(after) => {
            let line = after.split('\n').next().unwrap_or("");
            line.chars().all(|c| matches!(c, ' ' | '\t' | '\r'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexer(text: &str) -> Lexer<'_> {
        Lexer::new(text, Arc::from("t.conf"), Path::new("."))
    }

    #[test]
    fn double_quoted_strings_decode_escapes() {
        let mut l = lexer(r#""a\x41\t\n\r\"\\b\xc3\xa9" rest"#);
        assert_eq!(
            l.read_double_quoted().ok().as_deref(),
            Some("aA\t\n\r\"\\bé")
        );
        assert_eq!(l.peek(), Some(' '));
    }

    #[test]
    fn bad_escapes_name_the_sequence() {
        let message = |text: &str| {
            lexer(text)
                .read_double_quoted()
                .err()
                .map(|e| e.to_string())
        };
        assert!(
            message(r#""a\qb""#)
                .is_some_and(|m| m.starts_with("t.conf:1:3: invalid escape sequence '\\q'"))
        );
        assert!(
            message(r#""\x4g""#)
                .is_some_and(|m| m.starts_with("t.conf:1:2: invalid escape sequence '\\x4g'"))
        );
        assert_eq!(
            message(r#""\xff""#).as_deref(),
            Some("t.conf:1:1: the \\x escapes in this string do not form valid UTF-8")
        );
    }

    #[test]
    fn single_quoted_strings_are_raw() {
        let mut l = lexer(r"'a\nb $X'");
        assert_eq!(l.read_single_quoted().ok().as_deref(), Some(r"a\nb $X"));
    }

    #[test]
    fn block_strings_end_at_a_line_holding_only_a_paren() {
        let mut l = lexer("(\nline one\n  ) not yet\n)\nnext");
        assert_eq!(
            l.read_block_string().ok().as_deref(),
            Some("\nline one\n  ) not yet\n")
        );
        assert_eq!((l.line, l.col), (4, 2));
    }

    #[test]
    fn words_end_at_separators_but_keep_colons_and_hashes() {
        let mut l = lexer("127.0.0.1:4222,x");
        assert_eq!(l.read_word(), "127.0.0.1:4222");
        let mut l = lexer("abc#def}");
        assert_eq!(l.read_word(), "abc#def");
        let mut l = lexer("port:4222");
        assert_eq!(l.read_bare_key(), "port");
    }

    #[test]
    fn columns_count_characters() {
        let mut l = lexer("é\tx\ny");
        l.bump();
        l.bump();
        assert_eq!(l.pos().to_string(), "t.conf:1:3");
        l.bump();
        l.bump();
        assert_eq!(l.pos().to_string(), "t.conf:2:1");
    }
}

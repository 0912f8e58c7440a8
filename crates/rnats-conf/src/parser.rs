//! Building the [`Value`] tree from text: maps and arrays, variables and their scopes, includes,
//! environment variables, and the nesting limit that keeps any input from exhausting the stack.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::lexer::Lexer;
use crate::options::ParseOptions;
use crate::pos::Pos;
use crate::scalar::classify_word;
use crate::value::{Map, MapEntry, Value, ValueKind};

/// How deep maps, arrays, includes and environment variables may nest.
pub const MAX_DEPTH: usize = 128;

/// The state of one parse: the blocks being built (which are also the variable scopes) and the
/// stacks that detect cycles.
pub(crate) struct Parser<'o, 'e> {
    options: &'o ParseOptions<'e>,
    /// Maps being built, outermost first; `$NAME` is looked up from the last one backwards.
    blocks: Vec<Map>,
    /// Keys whose values are being parsed, to explain `X: $X`.
    defining: Vec<String>,
    /// Files being parsed, outermost first, to detect include cycles.
    files: Vec<OpenFile>,
    /// Environment variables being expanded, to detect reference cycles.
    env_chain: Vec<String>,
    /// Maps, arrays, includes and environment variables currently open.
    depth: usize,
}

struct OpenFile {
    canonical: PathBuf,
    shown: String,
}

impl<'o, 'e> Parser<'o, 'e> {
    pub(crate) fn new(options: &'o ParseOptions<'e>) -> Self {
        Self {
            options,
            blocks: Vec::new(),
            defining: Vec::new(),
            files: Vec::new(),
            env_chain: Vec::new(),
            depth: 0,
        }
    }

    /// Parses a whole file (or string) into its top-level map.
    ///
    /// `canonical` is the file's canonical path when it is a real file, for include cycles.
    pub(crate) fn parse_document(
        &mut self,
        text: &str,
        file: Arc<str>,
        include_dir: &Path,
        canonical: Option<PathBuf>,
    ) -> Result<Value, Error> {
        if let Some(canonical) = canonical {
            self.files.push(OpenFile {
                canonical,
                shown: file.to_string(),
            });
        }
        let mut lexer = Lexer::new(text, file, include_dir);
        let root_pos = lexer.pos();
        self.blocks.push(Map::new());
        let result = self.parse_body(&mut lexer);
        let map = self.blocks.pop().unwrap_or_default();
        result?;
        Ok(Value::new(ValueKind::Map(map), root_pos))
    }

    /// The entries of a file, optionally wrapped in `{ }`, added to the current block.
    fn parse_body(&mut self, lexer: &mut Lexer<'_>) -> Result<(), Error> {
        lexer.skip_blank();
        if lexer.peek() != Some('{') {
            return self.parse_entries(lexer, None);
        }
        let opened_at = lexer.pos();
        lexer.bump();
        self.parse_entries(lexer, Some(&opened_at))?;
        lexer.skip_blank();
        if lexer.peek().is_some() {
            return Err(Error::Unexpected {
                pos: lexer.pos(),
                expected: format!(
                    "end of file after the '}}' closing the map opened at {}",
                    opened_at.line_col()
                ),
                found: lexer.describe_next(),
            });
        }
        Ok(())
    }

    // The functions on the recursion path (parse_entries, parse_value, parse_map, parse_array,
    // parse_array_items) are kept small; everything else is in separate functions, so that the
    // stack used per nesting level stays small even in debug builds.

    /// `key: value` entries up to the `}` closing the map opened at `closing` (or to end of file).
    fn parse_entries(&mut self, lexer: &mut Lexer<'_>, closing: Option<&Pos>) -> Result<(), Error> {
        while let Some((key, key_pos)) = self.next_key(lexer, closing)? {
            self.defining.push(key);
            let value = self.parse_value(lexer, Expecting::ValueOfKey);
            let key = self.defining.pop().unwrap_or_default();
            self.finish_entry(lexer, closing, key, key_pos, value?)?;
        }
        Ok(())
    }

    /// Reads up to the start of the next value: the key and its separator. Handles `include`s
    /// on the way. `None` at the end of the map.
    #[inline(never)]
    fn next_key(
        &mut self,
        lexer: &mut Lexer<'_>,
        closing: Option<&Pos>,
    ) -> Result<Option<(String, Pos)>, Error> {
        loop {
            lexer.skip_blank();
            let key_pos = lexer.pos();
            let key = match lexer.peek() {
                None => {
                    return match closing {
                        None => Ok(None),
                        Some(opened_at) => Err(lexer.unclosed("map", "'}'", opened_at)),
                    };
                }
                Some('}') if closing.is_some() => {
                    lexer.bump();
                    return Ok(None);
                }
                Some('"') => lexer.read_double_quoted()?,
                Some('\'') => lexer.read_single_quoted()?,
                Some(_) => {
                    let key = lexer.read_bare_key();
                    if key.is_empty() {
                        return Err(expected_key(lexer, closing));
                    }
                    if key.eq_ignore_ascii_case("include") && is_include_directive(lexer) {
                        self.include(lexer)?;
                        end_of_entry(lexer, closing, "the include")?;
                        continue;
                    }
                    key.to_owned()
                }
            };
            lexer.skip_spaces();
            if matches!(lexer.peek(), Some(':' | '=')) {
                lexer.bump();
                lexer.skip_spaces();
            } else {
                lexer.skip_blank();
            }
            return Ok(Some((key, key_pos)));
        }
    }

    /// Stores the entry and checks what follows its value.
    #[inline(never)]
    fn finish_entry(
        &mut self,
        lexer: &mut Lexer<'_>,
        closing: Option<&Pos>,
        key: String,
        key_pos: Pos,
        value: Value,
    ) -> Result<(), Error> {
        let what = format!("the value of '{key}'");
        self.current_block().insert(MapEntry {
            key,
            key_pos,
            value,
            used_as_variable: false,
        });
        end_of_entry(lexer, closing, &what)
    }

    fn current_block(&mut self) -> &mut Map {
        if self.blocks.is_empty() {
            self.blocks.push(Map::new());
        }
        let last = self.blocks.len() - 1;
        &mut self.blocks[last]
    }

    /// One value.
    fn parse_value(&mut self, lexer: &mut Lexer<'_>, expecting: Expecting) -> Result<Value, Error> {
        match lexer.peek() {
            Some('{') => self.parse_map(lexer),
            Some('[') => self.parse_array(lexer),
            _ => self.parse_scalar(lexer, expecting),
        }
    }

    /// A value that is not a map or an array (but may be a variable holding one).
    #[inline(never)]
    fn parse_scalar(
        &mut self,
        lexer: &mut Lexer<'_>,
        expecting: Expecting,
    ) -> Result<Value, Error> {
        let pos = lexer.pos();
        if lexer.at_comment() || matches!(lexer.peek(), None | Some('\n' | '}' | ']' | ',' | ';')) {
            return Err(Error::Unexpected {
                pos,
                expected: self.describe(expecting),
                found: lexer.describe_next(),
            });
        }
        match lexer.peek() {
            Some('"') => Ok(string(lexer.read_double_quoted()?, pos)),
            Some('\'') => Ok(string(lexer.read_single_quoted()?, pos)),
            Some('(') => Ok(string(lexer.read_block_string()?, pos)),
            Some('$') => {
                let word = lexer.read_word();
                if is_bcrypt_hash(word) {
                    return Ok(string(word.to_owned(), pos));
                }
                let name = word.strip_prefix('$').unwrap_or(word);
                if name.is_empty() {
                    return Err(Error::Unexpected {
                        pos: lexer.pos(),
                        expected: "a variable name after '$'".to_owned(),
                        found: lexer.describe_next(),
                    });
                }
                self.resolve_variable(name, pos)
            }
            _ => classify_word(lexer.read_word(), pos),
        }
    }

    /// What was expected, for messages: "a value for 'port'", …
    fn describe(&self, expecting: Expecting) -> String {
        match expecting {
            Expecting::ValueOfKey => {
                let key = self.defining.last().map_or("", String::as_str);
                format!("a value for '{key}'")
            }
            Expecting::ArrayElement => "an array element or ']'".to_owned(),
            Expecting::EnvironmentValue => "a value".to_owned(),
        }
    }

    fn enter(&mut self, pos: &Pos) -> Result<(), Error> {
        if self.depth >= MAX_DEPTH {
            return Err(Error::TooDeep {
                pos: pos.clone(),
                limit: MAX_DEPTH,
            });
        }
        self.depth += 1;
        Ok(())
    }

    fn parse_map(&mut self, lexer: &mut Lexer<'_>) -> Result<Value, Error> {
        let opened_at = lexer.pos();
        self.enter(&opened_at)?;
        lexer.bump();
        self.blocks.push(Map::new());
        let result = self.parse_entries(lexer, Some(&opened_at));
        let map = self.blocks.pop().unwrap_or_default();
        self.depth -= 1;
        result?;
        Ok(Value::new(ValueKind::Map(map), opened_at))
    }

    fn parse_array(&mut self, lexer: &mut Lexer<'_>) -> Result<Value, Error> {
        let opened_at = lexer.pos();
        self.enter(&opened_at)?;
        lexer.bump();
        let items = self.parse_array_items(lexer, &opened_at);
        self.depth -= 1;
        Ok(Value::new(ValueKind::Array(items?), opened_at))
    }

    /// Elements separated by `,` or new lines (a trailing `,` is fine), up to `]`.
    fn parse_array_items(
        &mut self,
        lexer: &mut Lexer<'_>,
        opened_at: &Pos,
    ) -> Result<Vec<Value>, Error> {
        let mut items = Vec::new();
        while !at_array_end(lexer, opened_at)? {
            items.push(self.parse_value(lexer, Expecting::ArrayElement)?);
            after_array_element(lexer, opened_at)?;
        }
        Ok(items)
    }

    /// `$name`: the innermost block defining `name` (spelled exactly), then the environment.
    fn resolve_variable(&mut self, name: &str, pos: Pos) -> Result<Value, Error> {
        for block in self.blocks.iter_mut().rev() {
            if let Some(entry) = block.variable_entry_mut(name) {
                entry.used_as_variable = true;
                if self.depth + entry.value.height() > MAX_DEPTH {
                    return Err(Error::TooDeep {
                        pos,
                        limit: MAX_DEPTH,
                    });
                }
                let mut value = entry.value.clone();
                value.pos = pos;
                return Ok(value);
            }
        }
        if let Some(text) = self.options.lookup_env(name) {
            return self.expand_env(name, &text, pos);
        }
        if self.defining.iter().any(|key| key == name) {
            return Err(Error::VariableCycle {
                pos,
                chain: format!("${name} -> ${name}"),
            });
        }
        Err(Error::UndefinedVariable {
            pos,
            name: name.to_owned(),
        })
    }

    /// The value of an environment variable, parsed as a config value on its own: it sees other
    /// environment variables but not the variables of the file.
    fn expand_env(&mut self, name: &str, text: &str, pos: Pos) -> Result<Value, Error> {
        if let Some(first) = self.env_chain.iter().position(|n| n == name) {
            let chain = self.env_chain[first..]
                .iter()
                .map(String::as_str)
                .chain([name])
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(" -> ");
            return Err(Error::VariableCycle { pos, chain });
        }
        self.enter(&pos)?;
        self.env_chain.push(name.to_owned());
        let outer_blocks = std::mem::take(&mut self.blocks);
        let outer_defining = std::mem::take(&mut self.defining);
        let result = self.parse_env_text(name, text);
        self.blocks = outer_blocks;
        self.defining = outer_defining;
        self.env_chain.pop();
        self.depth -= 1;
        match result {
            Ok(mut value) => {
                value.pos = pos;
                Ok(value)
            }
            Err(Error::VariableCycle { chain, .. }) => Err(Error::VariableCycle { pos, chain }),
            Err(Error::TooDeep { limit, .. }) => Err(Error::TooDeep { pos, limit }),
            Err(cause) => Err(Error::InvalidEnvironmentValue {
                pos,
                name: name.to_owned(),
                cause: Box::new(cause),
            }),
        }
    }

    fn parse_env_text(&mut self, name: &str, text: &str) -> Result<Value, Error> {
        let mut lexer = Lexer::new(text, Arc::from(format!("${name}")), Path::new(""));
        lexer.skip_blank();
        if lexer.peek().is_none() {
            return Ok(string(String::new(), lexer.pos()));
        }
        let value = self.parse_value(&mut lexer, Expecting::EnvironmentValue)?;
        lexer.skip_spaces_and_comment();
        if matches!(lexer.peek(), Some(',' | ';')) {
            lexer.bump();
        }
        lexer.skip_blank();
        if lexer.peek().is_some() {
            return Err(Error::Unexpected {
                pos: lexer.pos(),
                expected: "the end of the value".to_owned(),
                found: lexer.describe_next(),
            });
        }
        Ok(value)
    }

    /// `include path`: the entries of the file (relative to the including file's directory) are
    /// added to the current block, where later entries may use them as variables.
    /// The cursor is after the word `include`.
    fn include(&mut self, lexer: &mut Lexer<'_>) -> Result<(), Error> {
        lexer.skip_spaces();
        let pos = lexer.pos();
        let name = match lexer.peek() {
            Some('"') => lexer.read_double_quoted()?,
            Some('\'') => lexer.read_single_quoted()?,
            _ if lexer.at_comment() => String::new(),
            _ => lexer.read_word().to_owned(),
        };
        if name.is_empty() {
            return Err(Error::Unexpected {
                pos,
                expected: "a file name after 'include'".to_owned(),
                found: lexer.describe_next(),
            });
        }
        let path = lexer.include_dir().join(&name);
        let cannot_read = |cause| Error::Include {
            pos: pos.clone(),
            path: path.clone(),
            cause,
        };
        let canonical = std::fs::canonicalize(&path).map_err(cannot_read)?;
        let shown = path.display().to_string();
        if let Some(first) = self.files.iter().position(|f| f.canonical == canonical) {
            let chain = self.files[first..]
                .iter()
                .map(|f| f.shown.as_str())
                .chain([shown.as_str()])
                .collect::<Vec<_>>()
                .join(" -> ");
            return Err(Error::IncludeCycle { pos, chain });
        }
        let text = std::fs::read_to_string(&path).map_err(cannot_read)?;
        self.enter(&pos)?;
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        self.files.push(OpenFile {
            canonical,
            shown: shown.clone(),
        });
        let mut included = Lexer::new(&text, Arc::from(shown), &dir);
        // Like the reference, the included file is parsed on its own (it sees its own variables
        // and the environment, not the including file's); its entries then join the current block.
        let outer_blocks = std::mem::replace(&mut self.blocks, vec![Map::new()]);
        let outer_defining = std::mem::take(&mut self.defining);
        let result = self.parse_body(&mut included);
        let entries = self.blocks.pop().unwrap_or_default();
        self.blocks = outer_blocks;
        self.defining = outer_defining;
        self.files.pop();
        self.depth -= 1;
        result?;
        let block = self.current_block();
        for entry in entries {
            block.insert(entry);
        }
        Ok(())
    }
}

/// What `parse_value` was looking for, to say so when it finds something else.
#[derive(Clone, Copy)]
enum Expecting {
    /// The value of the key on top of `Parser::defining`.
    ValueOfKey,
    ArrayElement,
    EnvironmentValue,
}

/// Before an array element: skips blanks; `true` (after consuming it) at the closing `]`.
#[inline(never)]
fn at_array_end(lexer: &mut Lexer<'_>, opened_at: &Pos) -> Result<bool, Error> {
    lexer.skip_blank();
    match lexer.peek() {
        None => Err(lexer.unclosed("array", "']'", opened_at)),
        Some(']') => {
            lexer.bump();
            Ok(true)
        }
        Some('}') => Err(unclosed_array_at_brace(lexer, opened_at)),
        Some(_) => Ok(false),
    }
}

/// After an array element: a comment, then `,`, a new line or `]`.
#[inline(never)]
fn after_array_element(lexer: &mut Lexer<'_>, opened_at: &Pos) -> Result<(), Error> {
    lexer.skip_spaces_and_comment();
    match lexer.peek() {
        Some(',') => {
            lexer.bump();
            Ok(())
        }
        None | Some('\n' | ']') => Ok(()),
        Some('}') => Err(unclosed_array_at_brace(lexer, opened_at)),
        Some(_) => Err(Error::Unexpected {
            pos: lexer.pos(),
            expected: "',', a new line or ']' after an array element".to_owned(),
            found: lexer.describe_next(),
        }),
    }
}

fn string(text: String, pos: Pos) -> Value {
    Value::new(ValueKind::String(text), pos)
}

/// A bcrypt hash (`$2a$…`, `$2b$…`, `$2x$…`, `$2y$…`) is a literal, not a variable.
fn is_bcrypt_hash(word: &str) -> bool {
    matches!(
        word.as_bytes(),
        [b'$', b'2', b'a' | b'b' | b'x' | b'y', b'$', ..]
    )
}

/// After the bare word `include`: a blank, then something other than `:` or `=`.
fn is_include_directive(lexer: &Lexer<'_>) -> bool {
    matches!(lexer.peek(), Some(' ' | '\t')) && !matches!(lexer.peek_past_spaces(), Some(':' | '='))
}

/// What may follow a value in a map: a comment, a new line, `,`, `;`, or the closing `}`.
fn end_of_entry(lexer: &mut Lexer<'_>, closing: Option<&Pos>, what: &str) -> Result<(), Error> {
    lexer.skip_spaces_and_comment();
    match lexer.peek() {
        None | Some('\n') => Ok(()),
        Some(',' | ';') => {
            lexer.bump();
            Ok(())
        }
        Some('}') if closing.is_some() => Ok(()),
        Some(_) => Err(Error::Unexpected {
            pos: lexer.pos(),
            expected: match closing {
                Some(_) => format!("a new line, ',', ';' or '}}' after {what}"),
                None => format!("a new line, ',' or ';' after {what}"),
            },
            found: lexer.describe_next(),
        }),
    }
}

fn expected_key(lexer: &Lexer<'_>, closing: Option<&Pos>) -> Error {
    Error::Unexpected {
        pos: lexer.pos(),
        expected: match closing {
            Some(opened_at) => format!(
                "a key or '}}' to close the map opened at {}",
                opened_at.line_col()
            ),
            None => "a key".to_owned(),
        },
        found: lexer.describe_next(),
    }
}

fn unclosed_array_at_brace(lexer: &Lexer<'_>, opened_at: &Pos) -> Error {
    Error::Unexpected {
        pos: lexer.pos(),
        expected: format!("']' to close the array opened at {}", opened_at.line_col()),
        found: "'}'".to_owned(),
    }
}

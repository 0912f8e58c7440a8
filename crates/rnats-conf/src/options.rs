//! [`ParseOptions`]: where `$NAME` looks in the environment and where `include` starts from,
//! plus the `parse_str` / `parse_file` entry points that use them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::parser::Parser;
use crate::value::Value;

type EnvLookup<'e> = Box<dyn Fn(&str) -> Option<String> + 'e>;

/// How to parse: the environment variables `$NAME` falls back to, and the directory `include`
/// is relative to when parsing a string. [`crate::parse_str`] and [`crate::parse_file`] use the
/// defaults (the process environment, the current directory).
pub struct ParseOptions<'e> {
    environment: Environment<'e>,
    include_dir: PathBuf,
}

enum Environment<'e> {
    Process,
    Empty,
    Custom(EnvLookup<'e>),
}

impl Default for ParseOptions<'_> {
    fn default() -> Self {
        Self {
            environment: Environment::Process,
            include_dir: PathBuf::new(),
        }
    }
}

impl<'e> ParseOptions<'e> {
    /// The defaults: the process environment, includes of `parse_str` relative to the current directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks environment variables up with `lookup` instead of in the process environment.
    pub fn environment(mut self, lookup: impl Fn(&str) -> Option<String> + 'e) -> Self {
        self.environment = Environment::Custom(Box::new(lookup));
        self
    }

    /// No environment: `$NAME` must be defined in the file.
    pub fn without_environment(mut self) -> Self {
        self.environment = Environment::Empty;
        self
    }

    /// The directory `include` paths of [`ParseOptions::parse_str`] are relative to.
    /// ([`ParseOptions::parse_file`] always uses the directory of the file.)
    pub fn include_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.include_dir = dir.into();
        self
    }

    /// Parses config text; `file_name` is only used in positions and messages.
    pub fn parse_str(&self, text: &str, file_name: &str) -> Result<Value, Error> {
        Parser::new(self).parse_document(text, Arc::from(file_name), &self.include_dir, None)
    }

    /// Reads and parses a config file; its includes are relative to its directory.
    pub fn parse_file(&self, path: impl AsRef<Path>) -> Result<Value, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|cause| Error::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let canonical = std::fs::canonicalize(path).ok();
        let dir = path.parent().unwrap_or(Path::new(""));
        let file = Arc::from(path.display().to_string());
        Parser::new(self).parse_document(&text, file, dir, canonical)
    }

    pub(crate) fn lookup_env(&self, name: &str) -> Option<String> {
        match &self.environment {
            // `std::env::var` may panic on such names; no variable can have them anyway.
            Environment::Process if name.is_empty() || name.contains(['=', '\0']) => None,
            Environment::Process => std::env::var(name).ok(),
            Environment::Empty => None,
            Environment::Custom(lookup) => lookup(name),
        }
    }
}

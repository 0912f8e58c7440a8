//! The NATS server configuration language (the format of `nats-server.conf`), as a library.
//!
//! It turns text into a tree of [`Value`]s that remember where they were written, so the server
//! layer can say `nats.conf:12:5: unknown key "prot"` or `nats.conf:3:9: expected an integer`.
//! There is no server code here: what the keys mean is the server's business.
//!
//! ```
//! use std::time::Duration;
//! use rnats_conf::{Value, parse_str};
//!
//! let config = parse_str(
//!     r#"
//!     listen: 127.0.0.1:4222
//!     max_payload: 1MB          # k = 1000, kb/ki/kib = 1024, likewise m g t p e
//!     PASS: abcdefghijklmnopqrstuvwxyz0123456789
//!     authorization {
//!       users = [
//!         {user: alice, password: foo}
//!         {user: joe,   password: $PASS}
//!       ]
//!       timeout: "2s"
//!     }
//!     "#,
//!     "nats.conf",
//! )?;
//!
//! // How a server layer reads it: walk the entries, match keys ignoring case, convert values.
//! let (mut listen, mut max_payload, mut users, mut timeout) = (None, None, Vec::new(), None);
//! for entry in config.as_map()? {
//!     match entry.key.to_ascii_lowercase().as_str() {
//!         "listen" => listen = Some(entry.value.as_str()?),
//!         "max_payload" => max_payload = Some(entry.value.as_i64()?),
//!         "authorization" => {
//!             let authorization = entry.value.as_map()?;
//!             for user in authorization.get("users").map(Value::as_array).transpose()?.unwrap_or_default() {
//!                 let user = user.as_map()?;
//!                 let name = user.get("user").map(Value::as_str).transpose()?;
//!                 let password = user.get("password").map(Value::as_str).transpose()?;
//!                 users.push((name, password));
//!             }
//!             if let Some(value) = authorization.get("timeout") {
//!                 let (duration, warning) = value.as_duration()?;
//!                 assert!(warning.is_none(), "a bare number would have given a warning");
//!                 timeout = Some(duration);
//!             }
//!         }
//!         // PASS is a variable definition: not an unknown key.
//!         _ if entry.used_as_variable => {}
//!         unknown => panic!("{}: unknown key {unknown}", entry.key_pos),
//!     }
//! }
//! assert_eq!(listen, Some("127.0.0.1:4222"));
//! assert_eq!(max_payload, Some(1024 * 1024));
//! assert_eq!(users[1], (Some("joe"), Some("abcdefghijklmnopqrstuvwxyz0123456789")));
//! assert_eq!(timeout, Some(Duration::from_secs(2)));
//!
//! // Every value knows where it was written, for messages.
//! let wrong = parse_str("port: \"4222\"", "nats.conf")?;
//! let port = wrong.as_map()?.get("port").map(Value::as_i64);
//! assert_eq!(
//!     port.and_then(Result::err).map(|e| e.to_string()).as_deref(),
//!     Some("nats.conf:1:7: expected an integer, found a string")
//! );
//! # Ok::<(), rnats_conf::Error>(())
//! ```
//!
//! # The language
//!
//! - `key: value`, `key = value` or `key value`; `;` or `,` may end an entry; the whole file may
//!   be wrapped in `{ }`. Keys may be quoted and are looked up ignoring case.
//! - Maps `{ }`, arrays `[ ]` (elements separated by `,` or new lines), `#` and `//` comments.
//! - Strings: `"…"` with `\xXX \t \n \r \" \\`, `'…'` taken literally, unquoted words (ending at
//!   blanks, `,`, `;`, `]`, `}`), and block strings from `(` to a line holding only `)`.
//! - Integers with size suffixes, floats, booleans `true/false/yes/no/on/off`.
//! - Variables: `NAME: value` defines, an unquoted `$NAME` refers (innermost block first, then
//!   the environment, whose value is parsed as a config value). `$2a$…` bcrypt hashes are strings.
//!   Definitions stay ordinary keys; [`MapEntry::used_as_variable`] tells which were referenced.
//! - `include file.conf` adds the file's keys to the current block, relative to the including file.
//!
//! Words that start with a digit but are not numbers (`1m30s`, `10.0.0.1`, `2016-05-04T18:53:41Z`)
//! are strings. Nesting is limited to [`MAX_DEPTH`] levels, so no input can exhaust the stack.

#![forbid(unsafe_code)]

mod duration;
mod error;
mod lexer;
mod options;
mod parser;
mod pos;
mod scalar;
mod value;

use std::path::Path;

pub use duration::{format_duration, parse_duration};
pub use error::{Error, Warning};
pub use options::ParseOptions;
pub use parser::MAX_DEPTH;
pub use pos::{LineCol, Pos};
pub use scalar::size_multiplier;
pub use value::{Map, MapEntry, Value, ValueKind, keys_match};

/// Parses config text with the default [`ParseOptions`]; `file_name` names it in positions.
/// Includes are relative to the current directory.
pub fn parse_str(text: &str, file_name: &str) -> Result<Value, Error> {
    ParseOptions::new().parse_str(text, file_name)
}

/// Reads and parses a config file with the default [`ParseOptions`]; includes are relative to
/// the file's directory.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Value, Error> {
    ParseOptions::new().parse_file(path)
}

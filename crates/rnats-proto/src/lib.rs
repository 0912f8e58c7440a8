//! The NATS client protocol, without I/O: an incremental zero-copy parser
//! for what clients send ([`parser`]), encoders for what the server sends
//! ([`encode`]), the `INFO`/`CONNECT` JSON bodies ([`messages`]), subject
//! validation ([`subject`]), the reference server's error texts
//! ([`errors`]) and the credentials of NATS URLs ([`url`]).

#![forbid(unsafe_code)]

pub mod encode;
pub mod errors;
pub mod messages;
pub mod parser;
pub mod route;
mod scan;
pub mod subject;
pub mod transform;
pub mod url;

pub use parser::{ClientOp, Limits, Parsed, ProtocolError, Span, parse};

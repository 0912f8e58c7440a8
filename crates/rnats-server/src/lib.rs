//! rnats-server: a NATS message server, a drop-in replacement for
//! nats-server. See ARCHITECTURE.md for how the pieces fit.

// Unsafe code only where a system call has no safe wrapper here, each
// place allowed by name with its SAFETY note.
#![deny(unsafe_code)]

pub mod accounts;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod connection;
pub mod events;
mod gostyle;
pub mod jetstream;
pub mod log;
pub mod monitor;
pub mod options;
pub mod route;
pub mod server;
pub mod signal;
pub mod stats;
pub mod sublist;
mod sync;
pub mod system;
pub mod tls;

pub use options::Options;
pub use server::Server;

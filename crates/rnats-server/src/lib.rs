//! rnats-server: a NATS message server, a drop-in replacement for
//! nats-server. See ARCHITECTURE.md for how the pieces fit.

pub mod account;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod delivery;
pub mod log;
pub mod login_cache;
pub mod options;
pub mod outbound;
pub mod permissions;
pub mod route;
pub mod server;
pub mod session;
pub mod sublist;
pub mod subscription;
pub mod system;
pub mod tls;
pub mod trust;

pub use options::Options;
pub use server::Server;

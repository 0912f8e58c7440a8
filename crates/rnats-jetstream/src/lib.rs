//! JetStream for rnats: persistent streams on subjects.
//!
//! - [`store`]: where a stream's messages are kept (memory or files).
//!
//! The crate talks to the server only through the internal-client API
//! (subscribe and publish in an account); see ARCHITECTURE.md.

#![forbid(unsafe_code)]

pub mod store;

//! The NATS configuration language (placeholder; see issue 3).

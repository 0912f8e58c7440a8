//! `rnats pub`, `sub`, `req` and `reply`: the basic commands of the `nats` CLI, to try a server
//! by hand or from a script, built on the official `async-nats` client (which brings `.creds`,
//! NKey and TLS logins).
//!
//! * `rnats pub SUBJECT [BODY]`: publish (the body from stdin when absent; `--count N` times,
//!   with `{{Count}}` in the body or a header becoming the message's number; `-H key:value`;
//!   `--reply SUBJECT`).
//! * `rnats sub SUBJECT [--queue Q] [--count N]`: print each message received.
//! * `rnats req SUBJECT [BODY] [--timeout 2s]`: send a request and print the reply.
//! * `rnats reply SUBJECT BODY [--queue Q] [--count N]`: answer requests with the body.
//!
//! All take `-s URL[,URL...]` (credentials in the URL are honoured), `--user`/`--password`,
//! `--token`, `--creds`, `--nkey`, `--tlsca`, `--tlscert`/`--tlskey`. `sub` and `reply` print
//! `Listening on "SUBJECT"` to stderr once the server has their subscription, so a script can
//! wait for that line before publishing. Each command runs on a current-thread tokio runtime
//! of its own; messages go to stdout, everything else to stderr.

pub(crate) mod conn;
pub(crate) mod message;
mod publish;
mod subscribe;

use std::future::Future;

pub use publish::{PubArgs, ReqArgs, run_pub, run_req};
pub use subscribe::{ReplyArgs, SubArgs, run_reply, run_sub};

use crate::keys::Result;

/// Runs a command's future on a current-thread runtime.
pub(crate) fn block_on<T>(command: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?
        .block_on(command)
}

//! What the `rnats` integration tests share: the operator chain made with the `rnats` binary
//! alone (keys, an operator with a system account, an account `A`, a user `alice` with her
//! `.creds` file, the server's resolver config), the runner that makes it, and a server on a
//! random loopback port on its own tokio runtime. Each test binary uses only part of it.

#![allow(dead_code)]

pub mod latest;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use rnats_server::{Options, Server};

/// Runs the built `rnats` in `dir`, requires success and returns its stdout.
pub fn rnats(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("rnats runs");
    assert!(
        out.status.success(),
        "rnats {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The permission bits of a file.
pub fn mode(path: PathBuf) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Makes, in `dir`, the keys and JWTs for an operator `OP` (`op.nk`, `op.jwt`) with a system
/// account `SYS` (`sys.nk`, `sys.jwt`), an account `A` allowed 5 connections (`a.nk`,
/// `a.jwt`), a user `alice` of `A` allowed `app.>` and `_INBOX.>` only, for an hour
/// (`alice.nk`, `alice.jwt`, `alice.creds`), and a system user (`sys-user.nk`,
/// `sys-user.jwt`, `sys.creds`). Every seed file is checked to be private (mode 0600).
///
/// Returns the resolver config for a server that trusts `OP` and preloads `SYS` and `A`.
pub fn make_chain(dir: &Path) -> String {
    for (kind, file) in [
        ("operator", "op.nk"),
        ("account", "sys.nk"),
        ("account", "a.nk"),
        ("user", "alice.nk"),
        ("user", "sys-user.nk"),
    ] {
        let public = rnats(dir, &["nkey", "gen", kind, "--out", file]);
        assert_eq!(public.trim().len(), 56);
        assert_eq!(mode(dir.join(file)), 0o600, "{file} holds a seed");
    }
    let steps: &[&[&str]] = &[
        &[
            "jwt",
            "operator",
            "--seed",
            "op.nk",
            "--name",
            "OP",
            "--system-account",
            "sys.nk",
            "-o",
            "op.jwt",
        ],
        &[
            "jwt",
            "account",
            "--account",
            "sys.nk",
            "--signer",
            "op.nk",
            "--name",
            "SYS",
            "-o",
            "sys.jwt",
        ],
        &[
            "jwt",
            "user",
            "--user",
            "alice.nk",
            "--signer",
            "a.nk",
            "--name",
            "alice",
            "--pub-allow",
            "app.>",
            "--pub-allow",
            "_INBOX.>",
            "--sub-allow",
            "app.>",
            "--sub-allow",
            "_INBOX.>",
            "--expires",
            "1h",
            "-o",
            "alice.jwt",
        ],
        &[
            "jwt",
            "user",
            "--user",
            "sys-user.nk",
            "--signer",
            "sys.nk",
            "-o",
            "sys-user.jwt",
        ],
        &[
            "creds",
            "--jwt",
            "alice.jwt",
            "--seed",
            "alice.nk",
            "--out",
            "alice.creds",
        ],
        &[
            "creds",
            "--jwt",
            "sys-user.jwt",
            "--seed",
            "sys-user.nk",
            "--out",
            "sys.creds",
        ],
    ];
    for step in steps {
        rnats(dir, step);
    }
    account_a(dir, &["--conn", "5"], "a.jwt");
    rnats(
        dir,
        &[
            "jwt",
            "resolver",
            "--operator",
            "op.jwt",
            "--account",
            "sys.jwt",
            "--account",
            "a.jwt",
        ],
    )
}

/// Signs a JWT for account `A` (`a.nk`) with the operator key, with these further flags,
/// into `out`.
pub fn account_a(dir: &Path, flags: &[&str], out: &str) {
    let args = [
        &[
            "jwt",
            "account",
            "--account",
            "a.nk",
            "--signer",
            "op.nk",
            "--name",
            "A",
        ][..],
        flags,
        &["-o", out],
    ]
    .concat();
    rnats(dir, &args);
}

/// Writes `dir/server.conf`: a random loopback port, then `config`. Returns its path.
pub fn write_config(dir: &Path, config: &str) -> PathBuf {
    let path = dir.join("server.conf");
    std::fs::write(&path, format!("port: -1\nhost: 127.0.0.1\n{config}")).unwrap();
    path
}

/// A server on a random loopback port, running on its own tokio runtime; shut down on drop.
pub struct TestServer {
    runtime: tokio::runtime::Runtime,
    server: Server,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with_options(Options::for_tests())
    }

    /// A server with this configuration (written to `dir/server.conf`).
    pub fn with_config(dir: &Path, config: &str) -> TestServer {
        let path = write_config(dir, config);
        let (opts, _warnings) = rnats_server::config::load(&path).expect("the config loads");
        TestServer::with_options(opts)
    }

    pub fn with_options(opts: Options) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let server = runtime
            .block_on(Server::start(opts))
            .expect("server starts");
        TestServer { runtime, server }
    }

    pub fn url(&self) -> String {
        self.server.client_url()
    }

    /// The URL with `login@` after the scheme.
    pub fn url_with(&self, login: &str) -> String {
        self.url().replacen("://", &format!("://{login}@"), 1)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.runtime.block_on(self.server.shutdown());
    }
}

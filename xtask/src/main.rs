//! Workspace chores that are not part of any shipped binary (the cargo "xtask" convention), so
//! the release builds of `rnats-server` and `rnats` carry no documentation generators.
//!
//! `cargo xtask dist-docs OUT_DIR` (an alias, in `.cargo/config.toml`, of
//! `cargo run -p xtask -- dist-docs OUT_DIR`) writes, from the binaries' own clap definitions:
//!
//! - `OUT_DIR/man/man1/`: `rnats-server.1`, `rnats.1` and a page per `rnats` subcommand
//!   (`rnats-bench.1`, ...; `rnats server`'s is `rnats-server-commands.1`); read one with `man -M OUT_DIR/man rnats-server`;
//! - `OUT_DIR/completions/{bash,zsh,fish}/`: the completion scripts of both binaries.

#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clap_complete::Shell;

#[derive(Debug, Parser)]
#[command(name = "xtask", about = "Workspace chores for rnats")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Write the man pages and shell completions of rnats-server and rnats into OUT_DIR.
    DistDocs {
        /// Where to write `man/man1/` and `completions/{bash,zsh,fish}/` (created if missing).
        out_dir: PathBuf,
    },
}

/// The shells completions are written for.
const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// The binaries documented, by name, with their command-line definitions.
fn binaries() -> [(&'static str, clap::Command); 2] {
    [
        ("rnats-server", rnats_server::cli::command()),
        ("rnats", rnats::command()),
    ]
}

/// Writes the man pages and completions under `out_dir`; returns the files written.
fn dist_docs(out_dir: &Path) -> io::Result<Vec<PathBuf>> {
    let man_dir = out_dir.join("man").join("man1");
    std::fs::create_dir_all(&man_dir)?;
    // `rnats server`'s page would be `rnats-server.1`, the server's own
    // name: the tool's pages are written first and that one is renamed
    // `rnats-server-commands.1`, so the server's page is not overwritten.
    let [server, tool] = binaries();
    clap_mangen::generate_to(tool.1, &man_dir)?;
    std::fs::rename(
        man_dir.join("rnats-server.1"),
        man_dir.join("rnats-server-commands.1"),
    )?;
    clap_mangen::generate_to(server.1, &man_dir)?;
    let mut written = sorted_files(&man_dir)?;
    for shell in SHELLS {
        let dir = out_dir.join("completions").join(shell.to_string());
        std::fs::create_dir_all(&dir)?;
        for (name, mut cmd) in binaries() {
            written.push(clap_complete::generate_to(shell, &mut cmd, name, &dir)?);
        }
    }
    Ok(written)
}

fn sorted_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()?;
    files.sort();
    Ok(files)
}

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::DistDocs { out_dir } => match dist_docs(&out_dir) {
            Ok(files) => {
                for file in files {
                    println!("{}", file.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("xtask dist-docs: {}: {e}", out_dir.display());
                ExitCode::FAILURE
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A man page or completion script, with roff's escaped hyphens (`\-`) made plain.
    fn read(path: PathBuf) -> String {
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .replace("\\-", "-")
    }

    #[test]
    fn dist_docs_writes_man_pages_and_completions_naming_real_flags() {
        let out = tempfile::tempdir().unwrap();
        let written = dist_docs(out.path()).unwrap();
        assert!(written.iter().all(|f| f.is_file()), "{written:?}");

        let man = out.path().join("man/man1");
        let server = read(man.join("rnats-server.1"));
        assert!(server.starts_with(".ie"), "not roff: {server:.80}");
        for flag in ["--cluster", "--tlscert", "--port", "--config", "Go-style"] {
            assert!(server.contains(flag), "rnats-server.1 lacks {flag}");
        }
        let commands = read(man.join("rnats-server-commands.1"));
        assert!(
            commands.contains("ping"),
            "rnats-server-commands.1: {commands:.200}"
        );
        assert!(server.contains(rnats_server::server::VERSION));
        let tool = read(man.join("rnats.1"));
        for name in ["bench", "passwd", "rnats-pub(1)"] {
            assert!(tool.contains(name), "rnats.1 lacks {name}");
        }
        assert!(read(man.join("rnats-bench.1")).contains("--max-pending"));
        assert!(read(man.join("rnats-stream-add.1")).contains("--max-msgs-per-subject"));
        assert!(read(man.join("rnats-stream.1")).contains("rnats-stream-view(1)"));

        let completions = out.path().join("completions");
        for (file, needle) in [
            ("bash/rnats-server.bash", "--cluster"),
            ("zsh/_rnats-server", "--tlscert"),
            ("fish/rnats-server.fish", "tlscert"),
            ("bash/rnats.bash", "bench"),
            ("zsh/_rnats", "bench"),
            ("fish/rnats.fish", "bench"),
        ] {
            assert!(
                read(completions.join(file)).contains(needle),
                "{file} lacks {needle}"
            );
        }
    }
}

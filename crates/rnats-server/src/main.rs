//! The `rnats-server` binary: parse the command line, read the config
//! file, start the server, run until SIGINT/SIGTERM, then shut down cleanly
//! and exit 0. `-t` checks the config file and exits.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rnats_server::cli::{self, Command};
use rnats_server::config;
use rnats_server::server::{COMPATIBLE_VERSION, VERSION};
use rnats_server::signal::{self, SignalRequest};
use rnats_server::{Options, Server, log};
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    let flags = match cli::parse(std::env::args_os().skip(1)) {
        Ok(Command::Run(flags)) => flags,
        Ok(Command::Version) => {
            println!("rnats-server: v{VERSION} (nats-server {COMPATIBLE_VERSION} compatible)");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Signal { value, pid_file }) => {
            let sent = SignalRequest::parse(&value, pid_file.as_deref())
                .and_then(|request| request.send(&signal::process_name()));
            return match sent {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("rnats-server: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let (true, Some(path)) = (flags.check_config(), flags.config_file()) {
        return check_config(path);
    }
    // Logging is not set up yet (the file may say where it goes): errors
    // in the config file go to stderr.
    let (opts, warnings) = match flags.options() {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("rnats-server: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = log::init(&opts.logging) {
        eprintln!("rnats-server: cannot open log: {e}");
        return ExitCode::from(1);
    }
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    if config::has_plaintext_passwords(&opts.auth) {
        tracing::warn!("{}", config::PLAINTEXT_PASSWORDS_WARNING);
    }
    if let Some(path) = &opts.config_file {
        tracing::info!("Using configuration file: {}", path.display());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rnats-server: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(opts, &flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("rnats-server: {e}");
            ExitCode::from(1)
        }
    }
}

/// `-t -c FILE`, as nats-server does it: report on stderr, exit 0 only for
/// a file without errors or warnings (nats-server's `-t` fails on warnings
/// such as a bare number for a duration, though it starts with them).
fn check_config(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok((_, warnings)) if warnings.is_empty() => {
            eprintln!(
                "rnats-server: configuration file {} is valid",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Ok((_, warnings)) => {
            let lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
            eprintln!("rnats-server: {}", lines.join("\n"));
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("rnats-server: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(opts: Options, flags: &cli::Flags) -> std::io::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut lame_duck = signal(SignalKind::user_defined2())?;
    let mut reopen = signal(SignalKind::user_defined1())?;
    let mut pid_file = opts.pid_file.clone();
    let mut ports_dir = opts.ports_file_dir.clone();
    let server = std::sync::Arc::new(Server::start(opts).await?);
    if let Some(path) = &pid_file {
        std::fs::write(path, std::process::id().to_string())?;
    }
    let mut ports_file = match &ports_dir {
        Some(dir) => Some(write_ports_file(dir, &server)?),
        None => None,
    };
    // Lame duck mode runs beside the signal loop, which a SIGINT or
    // SIGTERM still ends at once; it reports here when it has shut down.
    let (drained, mut drain_done) = tokio::sync::mpsc::channel::<()>(1);
    let name = loop {
        tokio::select! {
            _ = interrupt.recv() => break Some("interrupt"),
            _ = terminate.recv() => break Some("terminated"),
            _ = drain_done.recv() => break None,
            _ = lame_duck.recv() => {
                tracing::info!("Trapped \"user defined signal 2\" signal");
                let (server, drained) = (server.clone(), drained.clone());
                tokio::spawn(async move {
                    server.lame_duck().await;
                    let _ = drained.send(()).await;
                });
            }
            _ = reopen.recv() => {
                tracing::info!("Trapped \"user defined signal 1\" signal");
                log::reopen();
            }
            _ = hangup.recv() => {
                tracing::info!("Trapped \"hangup\" signal");
                match reload(&server, flags) {
                    Ok(opts) => {
                        // As nats-server: a new pid file or ports file
                        // directory is written at once.
                        if opts.pid_file != pid_file {
                            pid_file = opts.pid_file;
                            if let Some(path) = &pid_file {
                                if let Err(e) = std::fs::write(path, std::process::id().to_string()) {
                                    tracing::error!("Failed to write pidfile: {e}");
                                }
                                tracing::info!("Reloaded: pid_file = {}", path.display());
                            }
                        }
                        if opts.ports_file_dir != ports_dir {
                            ports_dir = opts.ports_file_dir;
                            if let Some(old) = ports_file.take() {
                                let _ = std::fs::remove_file(old);
                            }
                            if let Some(dir) = &ports_dir {
                                match write_ports_file(dir, &server) {
                                    Ok(path) => ports_file = Some(path),
                                    Err(e) => tracing::error!("Error writing ports file: {e}"),
                                }
                                tracing::info!("Reloaded: ports_file_dir = {}", dir.display());
                            }
                        }
                    }
                    Err(e) => tracing::error!("Failed to reload server configuration: {e}"),
                }
            }
        }
    };
    if let Some(name) = name {
        tracing::info!("Trapped \"{name}\" signal");
    }
    server.shutdown().await;
    if let Some(path) = ports_file {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// SIGHUP: the same config file and flags as at start, read again. The
/// logging settings are checked first but applied only once the server
/// took the rest, so a refused reload changes nothing.
fn reload(server: &Server, flags: &cli::Flags) -> Result<Options, String> {
    let (opts, _) = flags.options().map_err(|e| e.to_string())?;
    let logging = log::prepare_reload(&opts.logging)?;
    server.reload(&opts)?;
    logging.apply();
    Ok(opts)
}

/// Writes `<dir>/rnats-server_<pid>.ports` the way nats-server writes its
/// ports file, so tools that find the server through it keep working.
fn write_ports_file(dir: &Path, server: &Server) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("rnats-server_{}.ports", std::process::id()));
    let ports = serde_json::json!({ "nats": [server.client_url()] });
    std::fs::write(&path, ports.to_string())?;
    Ok(path)
}

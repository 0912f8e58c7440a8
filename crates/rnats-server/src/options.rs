//! Everything that configures a server, with nats-server's defaults. The
//! command line (and, later, the config file) fill this in; the server
//! reads it once at start.

use std::path::PathBuf;
use std::time::Duration;

/// Default client port.
pub const DEFAULT_PORT: u16 = 4222;
/// `-p -1` asks for any free port.
pub const RANDOM_PORT: i32 = -1;

#[derive(Debug, Clone)]
pub struct Options {
    /// Address to listen on for clients.
    pub host: String,
    /// Port for clients; 0 means the default, -1 any free port.
    pub port: i32,
    /// Name announced in INFO; the server id when empty.
    pub server_name: Option<String>,
    pub max_payload: usize,
    pub max_control_line: usize,
    pub max_connections: usize,
    /// Bytes that may wait for a slow client before it is disconnected.
    pub max_pending: usize,
    /// How long one flush to a client may take before it is disconnected.
    pub write_deadline: Duration,
    pub ping_interval: Duration,
    /// Unanswered server PINGs before the connection is stale.
    pub ping_max: u32,
    pub logging: LogOptions,
    pub pid_file: Option<PathBuf>,
    pub ports_file_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct LogOptions {
    pub debug: bool,
    pub trace: bool,
    pub logtime: bool,
    pub log_file: Option<PathBuf>,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            debug: false,
            trace: false,
            logtime: true,
            log_file: None,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: "0.0.0.0".into(),
            port: DEFAULT_PORT as i32,
            server_name: None,
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            max_connections: 64 * 1024,
            max_pending: 64 * 1024 * 1024,
            write_deadline: Duration::from_secs(10),
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            logging: LogOptions::default(),
            pid_file: None,
            ports_file_dir: None,
        }
    }
}

impl Options {
    /// Options for a test server: loopback, any free port.
    pub fn for_tests() -> Self {
        Options {
            host: "127.0.0.1".into(),
            port: RANDOM_PORT,
            ..Options::default()
        }
    }

    /// The port to bind: the default for 0, the OS's choice for -1.
    pub fn bind_port(&self) -> u16 {
        match self.port {
            0 => DEFAULT_PORT,
            p if p < 0 => 0,
            p => p as u16,
        }
    }
}

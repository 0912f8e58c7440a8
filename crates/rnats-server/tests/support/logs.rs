//! The log lines of the in-process servers of one test binary, captured
//! so that a test can wait for what a server says (a refusal, a failed
//! handshake) instead of for time to pass. Tests tell their servers' lines
//! apart by port.

use std::io::Write;
use std::sync::{Mutex, Once};

use super::cluster::wait_until;

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOG.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends every server's INFO, WARN and ERROR lines to the capture (once
/// per test binary).
pub fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| Capture)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    });
}

/// Whether some captured line contains every one of `parts`.
pub fn logged(parts: &[&str]) -> bool {
    let log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&log)
        .lines()
        .any(|line| parts.iter().all(|p| line.contains(p)))
}

/// Waits until a captured line contains every one of `parts`.
pub async fn wait_for_log(parts: &[&str]) {
    wait_until(&format!("a log line with {parts:?}"), || logged(parts)).await;
}
